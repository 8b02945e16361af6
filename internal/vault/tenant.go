package vault

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
)

// NewMerchant is the input of CreateMerchant.
type NewMerchant struct {
	Name          string
	Live          bool
	AccountNumber string // AccountNumber is the default location's payment account; random when empty.
}

// MerchantCredentials are a new merchant's secrets. They are returned once and never stored
// in the clear.
type MerchantCredentials struct {
	MerchantID string             `json:"merchant_id"`
	Paysafe    PaysafeCredentials `json:"paysafe"`
	Fortis     FortisCredentials  `json:"fortis"`
}

// PaysafeCredentials are the Paysafe-API half of MerchantCredentials.
type PaysafeCredentials struct {
	APIKeyID           string `json:"api_key_id"`
	APIKeySecret       string `json:"api_key_secret"`
	SingleUseKeyID     string `json:"single_use_key_id"`
	SingleUseKeySecret string `json:"single_use_key_secret"`
	AccountNumber      string `json:"account_number"`
}

// FortisCredentials are the Fortis-API half of MerchantCredentials.
type FortisCredentials struct {
	DeveloperID    string `json:"developer_id"`
	UserID         string `json:"user_id"`
	UserAPIKey     string `json:"user_api_key"`
	LocationID     string `json:"location_id"`
	LocationAPIKey string `json:"location_api_key"`
	TicketHashKey  string `json:"ticket_hash_key"`
}

// sandboxProcessor is the Processor of a sandbox merchant: the payments core's simulator
// (payments.SandboxName).
const sandboxProcessor = "sandbox"

// MaxMerchantName is the most characters a merchant's name may hold.
const MaxMerchantName = 200

// Check applies CreateMerchant's checks of in, so that a tool may refuse it before it opens a
// store: Invalid, with the field at fault ("name" ErrRequired or ErrLength, "account_number"
// ErrFormat).
func (in NewMerchant) Check() error { return in.check("vault.NewMerchant.Check") }

func (in NewMerchant) check(op string) error {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return E(op, Invalid, Field("name"), ErrRequired)
	}
	if utf8.RuneCountInString(name) > MaxMerchantName {
		return E(op, Invalid, Field("name"), ErrLength)
	}
	if in.AccountNumber != "" && !validAccountNumber(in.AccountNumber) {
		return E(op, Invalid, Field("account_number"), ErrFormat)
	}
	return nil
}

// CreateMerchant makes a merchant with a default location (its account number, location api
// key and ticket hash key), default cc and ach product transactions, a Paysafe API key and
// single-use key, and a Fortis developer id and user. Kinds: Invalid, Conflict (account number).
func (s *Service) CreateMerchant(ctx context.Context, in NewMerchant) (*MerchantCredentials, error) {
	const op = "vault.CreateMerchant"
	if err := in.check(op); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	for attempt := 0; ; attempt++ {
		creds, err := s.createMerchant(ctx, op, name, in)
		if err == nil {
			return creds, nil
		}
		// A random account number that collides is drawn again; a chosen one is the caller's conflict.
		if in.AccountNumber == "" && KindOf(err) == Conflict && attempt < 5 {
			continue
		}
		return nil, err
	}
}

func (s *Service) createMerchant(ctx context.Context, op, name string, in NewMerchant) (*MerchantCredentials, error) {
	ctx = s.sealing(ctx) // before newMerchantWrite seals the location's ticket key
	w, err := s.newMerchantWrite(op, name, in)
	if err != nil {
		return nil, err
	}
	if err := s.write(ctx, func(tx Tx) error { return w.insert(ctx, tx) }); err != nil {
		return nil, E(op, err)
	}
	return w.creds, nil
}

// SettingSandboxMerchant is the setting that holds the id of the sandbox merchant Bootstrap
// created: the demo checkout's merchant.
const SettingSandboxMerchant = "sandbox_merchant"

// Bootstrap creates the sandbox merchant on a store's first start, together with extra, in one
// transaction, and records its id (SettingSandboxMerchant). When several nodes start together
// only one of them does; the others (and every later start) get nil credentials. Kinds:
// Internal.
func (s *Service) Bootstrap(ctx context.Context, name string, extra func(Tx) error) (*MerchantCredentials, error) {
	const op = "vault.Bootstrap"
	ctx = s.sealing(ctx) // before newMerchantWrite seals the location's ticket key
	w, err := s.newMerchantWrite(op, name, NewMerchant{Name: name})
	if err != nil {
		return nil, err
	}
	claimed := false
	err = s.write(ctx, func(tx Tx) error {
		claimed = false
		ok, err := tx.ClaimSetting(ctx, "bootstrapped", s.Now().Format(time.RFC3339))
		if err != nil || !ok {
			return err
		}
		claimed = true
		if err := w.insert(ctx, tx); err != nil {
			return err
		}
		if err := tx.SetSetting(ctx, SettingSandboxMerchant, w.m.ID); err != nil {
			return err
		}
		return extra(tx)
	})
	if err != nil {
		return nil, E(op, err)
	}
	if !claimed {
		return nil, nil
	}
	return w.creds, nil
}

// merchantWrite is a new merchant's records, ready to insert.
type merchantWrite struct {
	m        *Merchant
	loc      *Location
	sealed   Sealed
	products []*ProductTransaction
	apiKeys  []*APIKey
	dev      *Developer
	user     *User
	creds    *MerchantCredentials
}

func (s *Service) newMerchantWrite(op, name string, in NewMerchant) (*merchantWrite, error) {
	now := s.Now()
	m := &Merchant{ID: newID(), Name: name, Live: in.Live, Created: now}
	if !in.Live {
		m.Processor = sandboxProcessor
	}
	acct := in.AccountNumber
	if acct == "" {
		acct = "1" + keys.RandomDigits(9)
	}
	loc := &Location{
		ID: newID(), MerchantID: m.ID, Name: name, AccountNumber: acct, Currency: "USD",
		APIKey: keys.RandomString(36, keys.Alnum), TZ: "America/New_York", Created: now, Modified: now,
	}
	ticketKey := keys.RandomString(36, keys.Alnum)
	ct, kid, err := s.seal(op, ticketKeyAD(loc), []byte(ticketKey))
	if err != nil {
		return nil, err
	}
	m.DefaultLocationID = loc.ID
	cc := &ProductTransaction{ID: newID(), MerchantID: m.ID, LocationID: loc.ID, PaymentMethod: "cc", Processor: m.Processor,
		Title: "Default cc", IndustryType: "ecommerce", Active: true, Created: now, Modified: now}
	ach := &ProductTransaction{ID: newID(), MerchantID: m.ID, LocationID: loc.ID, PaymentMethod: "ach", Processor: m.Processor,
		Title: "Default ach", IndustryType: "ecommerce", Active: true, Created: now, Modified: now}
	loc.DefaultCC, loc.DefaultACH = cc.ID, ach.ID

	creds := &MerchantCredentials{MerchantID: m.ID}
	creds.Paysafe = PaysafeCredentials{
		APIKeyID: "key_" + keys.RandomString(16, keys.Alnum), APIKeySecret: keys.RandomString(40, keys.Alnum),
		SingleUseKeyID: "sut_" + keys.RandomString(16, keys.Alnum), SingleUseKeySecret: keys.RandomString(40, keys.Alnum),
		AccountNumber: acct,
	}
	user := &User{
		ID: newID(), MerchantID: m.ID, Username: "api-" + strings.ToLower(keys.RandomString(8, keys.Alnum)),
		Status: 1, UserTypeID: 200, Locale: "en-US", TZ: "America/New_York",
		PrimaryLocationID: loc.ID, LocationIDs: []string{loc.ID}, Created: now, Modified: now,
	}
	userKey := keys.RandomHex(16)
	user.KeyHash = keys.HashSecret(userKey)
	creds.Fortis = FortisCredentials{
		DeveloperID: "dev" + keys.RandomString(12, keys.Alnum), UserID: user.ID, UserAPIKey: userKey,
		LocationID: loc.ID, LocationAPIKey: loc.APIKey, TicketHashKey: ticketKey,
	}
	return &merchantWrite{
		m: m, loc: loc, sealed: Sealed{KeyID: kid, Extra: ct}, products: []*ProductTransaction{cc, ach},
		apiKeys: []*APIKey{
			{ID: creds.Paysafe.APIKeyID, MerchantID: m.ID, Kind: CredServer, SecretHash: keys.HashSecret(creds.Paysafe.APIKeySecret), Created: now},
			{ID: creds.Paysafe.SingleUseKeyID, MerchantID: m.ID, Kind: CredSUT, SecretHash: keys.HashSecret(creds.Paysafe.SingleUseKeySecret), Created: now},
		},
		dev:  &Developer{ID: creds.Fortis.DeveloperID, MerchantID: m.ID, Created: now},
		user: user, creds: creds,
	}, nil
}

// insert writes the merchant's records in tx.
func (w *merchantWrite) insert(ctx context.Context, tx Tx) error {
	if err := tx.InsertMerchant(ctx, w.m); err != nil {
		return err
	}
	if err := tx.InsertLocation(ctx, w.loc, w.sealed); err != nil {
		return err
	}
	for _, p := range w.products {
		if err := tx.InsertProductTransaction(ctx, p); err != nil {
			return err
		}
	}
	for _, k := range w.apiKeys {
		if err := tx.InsertAPIKey(ctx, k); err != nil {
			return err
		}
	}
	if err := tx.InsertDeveloper(ctx, w.dev); err != nil {
		return err
	}
	return tx.InsertUser(ctx, w.user)
}

// Principal is an authenticated caller: a merchant and what its credential may reach.
type Principal struct {
	Merchant *Merchant
	Kind     string   // Kind is CredServer, CredSUT, "user" (Fortis) or "browser" (a location's browser HMAC).
	CredID   string   // CredID is the key id or user id, safe to log.
	User     *User    // User is the Fortis user, for Kind "user".
	Location string   // Location is the browser credential's location.
	Allowed  []string // Allowed are the reachable location ids; nil means every location of the merchant.
}

// MerchantID returns the principal's merchant id.
func (p *Principal) MerchantID() string { return p.Merchant.ID }

// IdempotencyScope is the partition of p's Idempotency-Key values on api ("paysafe",
// "fortis"). A public credential (a Paysafe single-use-token key, a Fortis location's browser
// HMAC), which a merchant puts into its web pages, has keys apart from the merchant's server
// credentials: it never replays an answer stored for them, nor they one of its.
//
// A Fortis user's keys are its own, and so are a Fortis location's browser's: what their
// requests mean depends on who sends them (a transaction, contact or ticket without
// location_id runs in the user's primary location or the browser's location, and a user may
// reach only some locations), so a request with the same key and body from another user or
// location is another request. They are partitioned by the user's id and the location's id,
// which stay when the user's key changes. A merchant's Paysafe keys share its partition: they
// all mean the same (the account is in the path), and a retry made with a new key after a
// rotation must find the answer stored under the old one.
func (p *Principal) IdempotencyScope(api string) string {
	switch {
	case p.Kind == "browser" && p.Location != "":
		return api + ":public:" + p.Location
	case p.Kind == CredSUT || p.Kind == "browser":
		return api + ":public"
	case p.Kind == "user" && p.User != nil:
		return api + ":user:" + p.User.ID
	}
	return api
}

// LegacyIdempotencyScope returns the scope under which payvault kept a key of scope before a
// Fortis user's and a location's browser's keys became their own (then every user of a
// merchant shared api, and every browser api+":public"), or "" when it was the same scope. A
// retry sent across that upgrade is found under it (idempotency.Keeper.Serve).
func LegacyIdempotencyScope(scope string) string {
	if i := strings.Index(scope, ":user:"); i >= 0 {
		return scope[:i]
	}
	if i := strings.Index(scope, ":public:"); i >= 0 {
		return scope[:i+len(":public")]
	}
	return ""
}

// CanReach reports whether the principal may use location id.
func (p *Principal) CanReach(locationID string) bool {
	if p.Allowed == nil {
		return true
	}
	return slices.Contains(p.Allowed, locationID)
}

// errBadCredentials is the one answer to every authentication failure, whatever its cause.
var errBadCredentials = errors.New("invalid credentials")

// AuthenticateAPIKey checks a Paysafe key id and secret. Kinds: Unauthenticated.
func (s *Service) AuthenticateAPIKey(ctx context.Context, keyID, secret string) (*Principal, error) {
	const op = "vault.AuthenticateAPIKey"
	ck := s.creds.mac("paysafe", keyID, secret)
	if p, ok := s.creds.get(ck); ok {
		return p, nil
	}
	gen := s.creds.generation()
	k, err := s.store.GetAPIKey(ctx, keyID)
	if err != nil {
		s.verifySecret(dummyHash, secret) // an unknown key id costs the hash comparison a wrong secret does
		if KindOf(err) == NotFound {
			return nil, E(op, Unauthenticated, errBadCredentials)
		}
		return nil, E(op, err)
	}
	if !s.verifySecret(k.SecretHash, secret) {
		return nil, E(op, Unauthenticated, errBadCredentials)
	}
	m, err := s.store.GetMerchant(ctx, k.MerchantID)
	if err != nil {
		return nil, E(op, err)
	}
	p := &Principal{Merchant: m, Kind: k.Kind, CredID: k.ID}
	s.creds.put(ck, gen, p)
	return p, nil
}

// AuthenticateUser checks a Fortis developer id, user id and user api key. Kinds: Unauthenticated.
func (s *Service) AuthenticateUser(ctx context.Context, developerID, userID, apiKey string) (*Principal, error) {
	const op = "vault.AuthenticateUser"
	fail := E(op, Unauthenticated, errBadCredentials)
	ck := s.creds.mac("fortis", developerID, userID, apiKey)
	if p, ok := s.creds.get(ck); ok {
		return p, nil
	}
	gen := s.creds.generation()
	// Both records are read and one hash compared whichever part of the credential is
	// wrong, so that the work (and the time) of a failure does not tell whether the
	// developer id or the user id exists.
	dev, devErr := s.store.GetDeveloper(ctx, developerID)
	u, userErr := s.store.GetUser(ctx, userID)
	hash := dummyHash
	if userErr == nil {
		hash = u.KeyHash
	}
	keyOK := s.verifySecret(hash, apiKey)
	for _, err := range []error{devErr, userErr} {
		if err != nil && KindOf(err) != NotFound {
			return nil, E(op, err)
		}
	}
	if devErr != nil || userErr != nil || !keyOK || u.Status != 1 || u.MerchantID != dev.MerchantID {
		return nil, fail
	}
	m, err := s.store.GetMerchant(ctx, u.MerchantID)
	if err != nil {
		return nil, E(op, err)
	}
	allowed := u.LocationIDs
	if !slices.Contains(allowed, u.PrimaryLocationID) {
		allowed = append(slices.Clip(allowed), u.PrimaryLocationID)
	}
	p := &Principal{Merchant: m, Kind: "user", CredID: u.ID, User: u, Allowed: allowed}
	s.creds.put(ck, gen, p)
	return p, nil
}

// dummyHash is what a secret is compared with when its credential's id is unknown, so that an
// unknown id costs the same hash work as a wrong secret.
var dummyHash = keys.HashSecret("payvault-no-such-credential")

// RevealTicketHashKey returns a location's ticket hash key in the clear. Kinds: Internal.
func (s *Service) RevealTicketHashKey(l *Location) (string, error) {
	return s.open("vault.RevealTicketHashKey", ticketKeyAD(l), 0, l.SealedTicketKey.Extra)
}

// ticketKeyAD is the associated data a location's ticket hash key is sealed with.
func ticketKeyAD(l *Location) keys.AD {
	return keys.AD{Merchant: l.MerchantID, Record: l.ID, Field: "ticket_hash_key"}
}

// constantEqual compares two strings in constant time.
func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// maxAccountDigits is the longest Paysafe account number ({acct}) a merchant or location may
// take: shorter than the shortest card number (12 digits), since every card-payment URL and
// link payvault builds holds it, and the logs mask a run of 12 digits or more as a card number.
const maxAccountDigits = 11

// validAccountNumber reports whether s may be a Paysafe account number: 1 to maxAccountDigits
// ASCII digits.
func validAccountNumber(s string) bool {
	return len(s) <= maxAccountDigits && card.Digits(s)
}
