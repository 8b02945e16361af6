package vault

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked against the IANA database linked in, not the host's
	"unicode/utf8"

	"github.com/payvault/payvault/internal/keys"
)

// This file holds the operator's provisioning: locations, Fortis users, product transactions
// and allowed browser origins. The admin API and the CLI call it; neither vendor API writes
// these records.

// Limits of the operator's provisioning fields, in characters. The Fortis API gives a
// location name 1–64 and a contact's names and email at most 64 (its email at least 5); the
// others follow them.
const (
	MaxLocationName = 64 // MaxLocationName bounds a location's name.
	MaxAPIID        = 64 // MaxAPIID bounds a location api id.
	MaxUsername     = 64 // MaxUsername bounds a Fortis user's username.
	MaxPersonName   = 64 // MaxPersonName bounds a user's first and last name.
	MinEmail        = 5  // MinEmail is the shortest user email.
	MaxEmail        = 64 // MaxEmail bounds a user's email.
	MaxTitle        = 64 // MaxTitle bounds a product transaction's title.
	MaxProcessor    = 32 // MaxProcessor bounds a product transaction's processor name.
)

// emailPattern is the email rule of the Fortis API (Yii's EmailValidator), for its users
// here and its contacts (ValidEmail).
var emailPattern = regexp.MustCompile(`^[a-zA-Z0-9!#$%&'*+/=?^_{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_{|}~-]+)*@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`)

// ValidEmail reports whether s is an email address as the Fortis API takes one (Yii's
// EmailValidator pattern).
func ValidEmail(s string) bool { return emailPattern.MatchString(s) }

// processorPattern is the form of a processor name.
var processorPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// merchantLockOrder is the lock-order key of writes that lock a merchant (LockMerchant)
// before any other row.
func merchantLockOrder(ctx context.Context, merchantID string) context.Context {
	return WithLockOrder(ctx, "merchant|"+merchantID)
}

// NewLocation is the input of CreateLocation.
type NewLocation struct {
	Name          string
	AccountNumber string // AccountNumber is the Paysafe {acct}; random when empty, unique server-wide.
	Currency      string // Currency defaults to USD.
	APIID         string
	ParentID      string
	TZ            string
}

// LocationCredentials are a new location's secrets, shown once.
type LocationCredentials struct {
	Location      *Location
	TicketHashKey string
}

// CreateLocation adds a location to a merchant with its own account number, location api key,
// ticket hash key and default cc and ach product transactions. A parent must be another
// location of the merchant, and a time zone an IANA name. A location api id, when given, is at
// most MaxAPIID characters and unique among the merchant's locations (the Fortis API finds
// locations by it), checked under the merchant's row lock. Kinds: Invalid (parent_id with
// ErrUnusable, tz, ...), NotFound (merchant), Conflict (account_number, location_api_id).
func (s *Service) CreateLocation(ctx context.Context, merchantID string, in NewLocation) (*LocationCredentials, error) {
	const op = "vault.CreateLocation"
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > MaxLocationName {
		return nil, E(op, Invalid, Field("name"), ErrLength)
	}
	if in.AccountNumber != "" && !validAccountNumber(in.AccountNumber) {
		return nil, E(op, Invalid, Field("account_number"), ErrFormat)
	}
	if utf8.RuneCountInString(in.APIID) > MaxAPIID {
		return nil, E(op, Invalid, Field("location_api_id"), ErrLength)
	}
	if in.Currency == "" {
		in.Currency = "USD"
	}
	if len(in.Currency) != 3 {
		return nil, E(op, Invalid, Field("currency"), ErrFormat)
	}
	if err := checkTZ(in.TZ); err != nil {
		return nil, E(op, err)
	}
	if in.TZ == "" {
		in.TZ = "America/New_York"
	}
	for attempt := 0; ; attempt++ {
		out, err := s.createLocation(ctx, op, merchantID, in)
		if err == nil || in.AccountNumber != "" || KindOf(err) != Conflict || attempt >= 5 {
			return out, err
		}
	}
}

func (s *Service) createLocation(ctx context.Context, op, merchantID string, in NewLocation) (*LocationCredentials, error) {
	ctx = s.sealing(ctx) // before the ticket key is sealed
	now := s.Now()
	acct := in.AccountNumber
	if acct == "" {
		acct = "1" + keys.RandomDigits(9)
	}
	loc := &Location{
		ID: newID(), MerchantID: merchantID, Name: in.Name, AccountNumber: acct, Currency: strings.ToUpper(in.Currency),
		APIKey: keys.RandomString(36, keys.Alnum), APIID: in.APIID, ParentID: in.ParentID, TZ: in.TZ,
		Created: now, Modified: now,
	}
	ticketKey := keys.RandomString(36, keys.Alnum)
	ct, kid, err := s.seal(op, ticketKeyAD(loc), []byte(ticketKey))
	if err != nil {
		return nil, err
	}
	err = s.write(merchantLockOrder(ctx, merchantID), func(tx Tx) error {
		m, err := tx.LockMerchant(ctx, merchantID)
		if err != nil {
			return err
		}
		if loc.APIID != "" {
			// Under the merchant's lock: of two creates with one api id, the second sees the first.
			taken, _, err := tx.ListLocations(ctx, merchantID, Query{Filters: []Filter{{Field: "api_id", Op: OpIn, Values: []string{loc.APIID}}}, Limit: 1})
			if err != nil {
				return err
			}
			if len(taken) > 0 {
				return E(Conflict, Field("location_api_id"), ErrDuplicate)
			}
		}
		if loc.ParentID != "" {
			// A parent is another location of the merchant, checked in the write that links it.
			if _, err := tx.GetLocation(ctx, merchantID, loc.ParentID); KindOf(err) == NotFound {
				return E(Invalid, Field("parent_id"), ErrUnusable, ID(loc.ParentID))
			} else if err != nil {
				return err
			}
		}
		var products []*ProductTransaction
		for _, method := range []string{"cc", "ach"} {
			products = append(products, &ProductTransaction{ID: newID(), MerchantID: merchantID, LocationID: loc.ID,
				PaymentMethod: method, Processor: m.Processor, Title: "Default " + method, IndustryType: "ecommerce",
				Active: true, Created: now, Modified: now})
		}
		loc.DefaultCC, loc.DefaultACH = products[0].ID, products[1].ID
		if err := tx.InsertLocation(ctx, loc, Sealed{KeyID: kid, Extra: ct}); err != nil {
			return err
		}
		for _, p := range products {
			if err := tx.InsertProductTransaction(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, E(op, err)
	}
	loc.SealedTicketKey = Sealed{KeyID: kid, Extra: ct}
	return &LocationCredentials{Location: loc, TicketHashKey: ticketKey}, nil
}

// NewProductTransaction is the input of CreateProductTransaction.
type NewProductTransaction struct {
	LocationID      string
	PaymentMethod   string // "cc" or "ach"
	Title           string
	Processor       string
	RunAVSOnCreate  bool
	AutoDeclineCVV  int
	VTRequireZip    bool
	VTRequireStreet bool
	MakeDefault     bool // MakeDefault makes it the location's default service for its method.
}

// CreateProductTransaction adds a merchant service to a location. A title is at most
// MaxTitle characters. A processor, when given, is a lower-case name of at most MaxProcessor
// characters: "sandbox" and only it on a sandbox merchant, any other on a live one (which
// the payments core refuses at use unless it is configured); when empty it is the merchant's.
// Kinds: Invalid, NotFound.
func (s *Service) CreateProductTransaction(ctx context.Context, merchantID string, in NewProductTransaction) (*ProductTransaction, error) {
	const op = "vault.CreateProductTransaction"
	if in.PaymentMethod != "cc" && in.PaymentMethod != "ach" {
		return nil, E(op, Invalid, Field("payment_method"), ErrFormat)
	}
	if in.AutoDeclineCVV != 0 && in.AutoDeclineCVV != 1 {
		return nil, E(op, Invalid, Field("auto_decline_cvv"), ErrFormat)
	}
	if utf8.RuneCountInString(in.Title) > MaxTitle {
		return nil, E(op, Invalid, Field("title"), ErrLength)
	}
	if in.Processor != "" && (len(in.Processor) > MaxProcessor || !processorPattern.MatchString(in.Processor)) {
		return nil, E(op, Invalid, Field("processor"), ErrFormat)
	}
	now := s.Now()
	p := &ProductTransaction{ID: newID(), MerchantID: merchantID, LocationID: in.LocationID, PaymentMethod: in.PaymentMethod,
		Processor: in.Processor, Title: in.Title, IndustryType: "ecommerce", RunAVSOnCreate: in.RunAVSOnCreate,
		AutoDeclineCVV: in.AutoDeclineCVV, VTRequireZip: in.VTRequireZip, VTRequireStreet: in.VTRequireStreet,
		Active: true, Created: now, Modified: now}
	err := s.write(ctx, func(tx Tx) error {
		loc, err := tx.GetLocation(ctx, merchantID, in.LocationID)
		if err != nil {
			if KindOf(err) == NotFound {
				return E(Invalid, Field("location_id"), ErrUnusable)
			}
			return err
		}
		m, err := tx.GetMerchant(ctx, merchantID)
		if err != nil {
			return err
		}
		switch {
		case p.Processor == "":
			p.Processor = m.Processor
		case !m.Live && p.Processor != sandboxProcessor, m.Live && p.Processor == sandboxProcessor:
			// A sandbox merchant's services are simulated, and a live one's never are.
			return E(Invalid, Field("processor"), ErrUnusable)
		}
		if err := tx.InsertProductTransaction(ctx, p); err != nil {
			return err
		}
		cur := &loc.DefaultCC
		if p.PaymentMethod == "ach" {
			cur = &loc.DefaultACH
		}
		if in.MakeDefault || *cur == "" {
			*cur = p.ID
			loc.Modified = now
			return tx.UpdateLocation(ctx, loc)
		}
		return nil
	})
	s.creds.invalidate() // the location's default service may have changed (LocationByAccount)
	if err != nil {
		return nil, E(op, err)
	}
	return p, nil
}

// LocationByAccount returns the location with a payment account number (the Paysafe {acct}),
// without its ticket key. A location found is remembered like a verified credential: for the
// credential cache's time (2 s by default), forgotten at once when this Service changes a
// merchant, location or user; a change made elsewhere (another node, a CLI tool) is seen
// within that time. Kinds: NotFound.
func (s *Service) LocationByAccount(ctx context.Context, accountNumber string) (*Location, error) {
	return s.cachedLocation(ctx, "a\x00"+accountNumber, func() (*Location, error) {
		return s.store.GetLocationByAccount(ctx, accountNumber)
	})
}

// Location returns a merchant's location by id, without its ticket key, remembered as
// LocationByAccount's are. Kinds: NotFound.
func (s *Service) Location(ctx context.Context, merchantID, id string) (*Location, error) {
	return s.cachedLocation(ctx, "i\x00"+merchantID+"\x00"+id, func() (*Location, error) {
		return s.store.GetLocation(ctx, merchantID, id)
	})
}

func (s *Service) cachedLocation(ctx context.Context, key string, read func() (*Location, error)) (*Location, error) {
	if l, ok := s.creds.location(key); ok {
		return l, nil
	}
	gen := s.creds.generation()
	l, err := read()
	if err != nil {
		return nil, E("vault.Location", err)
	}
	s.creds.putLocation(key, gen, l)
	l.SealedTicketKey, l.TicketHashKey = Sealed{}, ""
	return l, nil
}

// ProductTransaction returns a merchant's product transaction (merchant service) by id,
// remembered as LocationByAccount's locations are. Kinds: NotFound.
func (s *Service) ProductTransaction(ctx context.Context, merchantID, id string) (*ProductTransaction, error) {
	key := merchantID + "\x00" + id
	if pt, ok := s.creds.productTransaction(key); ok {
		return pt, nil
	}
	gen := s.creds.generation()
	pt, err := s.store.GetProductTransaction(ctx, merchantID, id)
	if err != nil {
		return nil, E("vault.ProductTransaction", err)
	}
	s.creds.putProductTransaction(key, gen, pt)
	return pt, nil
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Username          string
	Email             string
	FirstName         string
	LastName          string
	PrimaryLocationID string
	LocationIDs       []string // LocationIDs are the accessible locations; the primary is added.
	APIKey            string   // APIKey is chosen by the operator; 32 random hex characters when empty.
	TZ                string
}

// CreateUser adds a Fortis API user to a merchant and returns it with its api key in the
// clear, the only time it is shown. A username (trimmed) is 1–MaxUsername characters and
// unique among the merchant's users, ignoring case, checked under the merchant's row lock;
// first and last names are at most MaxPersonName characters; an email, when given, is
// MinEmail–MaxEmail characters and a valid address; a time zone is an IANA name. Kinds:
// Invalid, NotFound, Conflict (username).
func (s *Service) CreateUser(ctx context.Context, merchantID string, in NewUser) (*User, string, error) {
	const op = "vault.CreateUser"
	in.Username = strings.TrimSpace(in.Username)
	if in.Username == "" {
		return nil, "", E(op, Invalid, Field("username"), ErrRequired)
	}
	if utf8.RuneCountInString(in.Username) > MaxUsername {
		return nil, "", E(op, Invalid, Field("username"), ErrLength)
	}
	if utf8.RuneCountInString(in.FirstName) > MaxPersonName {
		return nil, "", E(op, Invalid, Field("first_name"), ErrLength)
	}
	if utf8.RuneCountInString(in.LastName) > MaxPersonName {
		return nil, "", E(op, Invalid, Field("last_name"), ErrLength)
	}
	if in.Email != "" {
		if n := utf8.RuneCountInString(in.Email); n < MinEmail || n > MaxEmail {
			return nil, "", E(op, Invalid, Field("email"), ErrLength)
		}
		if !ValidEmail(in.Email) {
			return nil, "", E(op, Invalid, Field("email"), ErrFormat)
		}
	}
	key := in.APIKey
	if key == "" {
		key = keys.RandomHex(16)
	} else if len(key) < 16 || len(key) > 128 {
		return nil, "", E(op, Invalid, Field("user_api_key"), ErrLength)
	}
	if err := checkTZ(in.TZ); err != nil {
		return nil, "", E(op, err)
	}
	if in.TZ == "" {
		in.TZ = "America/New_York"
	}
	now := s.Now()
	u := &User{ID: newID(), MerchantID: merchantID, Username: in.Username, Email: in.Email, FirstName: in.FirstName,
		LastName: in.LastName, KeyHash: keys.HashSecret(key), Status: 1, UserTypeID: 200, Locale: "en-US", TZ: in.TZ,
		PrimaryLocationID: in.PrimaryLocationID, Created: now, Modified: now}
	err := s.write(merchantLockOrder(ctx, merchantID), func(tx Tx) error {
		if _, err := tx.LockMerchant(ctx, merchantID); err != nil {
			return err
		}
		// Under the merchant's lock: of two creates with one username, the second sees the first.
		taken, _, err := tx.ListUsers(ctx, merchantID, Query{Filters: []Filter{{Field: "username", Op: OpIn, Values: []string{u.Username}, Fold: true}}, Limit: 1})
		if err != nil {
			return err
		}
		if len(taken) > 0 {
			return E(Conflict, Field("username"), ErrDuplicate)
		}
		ids, err := s.checkLocations(ctx, tx, merchantID, in.PrimaryLocationID, in.LocationIDs)
		if err != nil {
			return err
		}
		u.LocationIDs = ids
		return tx.InsertUser(ctx, u)
	})
	if err != nil {
		return nil, "", E(op, err)
	}
	return u, key, nil
}

// UserUpdate changes a user; nil fields keep their value.
type UserUpdate struct {
	PrimaryLocationID *string
	LocationIDs       *[]string
	Status            *int
	APIKey            *string
}

// UpdateUser changes a user's locations, status or api key. Kinds: Invalid, NotFound.
func (s *Service) UpdateUser(ctx context.Context, merchantID, id string, up UserUpdate) (*User, error) {
	const op = "vault.UpdateUser"
	var out *User
	err := s.write(ctx, func(tx Tx) error {
		u, err := tx.GetUser(ctx, id)
		if err != nil {
			return err
		}
		if u.MerchantID != merchantID {
			return E(NotFound, ID(id))
		}
		primary, locs := u.PrimaryLocationID, u.LocationIDs
		if up.PrimaryLocationID != nil {
			primary = *up.PrimaryLocationID
		}
		if up.LocationIDs != nil {
			locs = *up.LocationIDs
		}
		if u.LocationIDs, err = s.checkLocations(ctx, tx, merchantID, primary, locs); err != nil {
			return err
		}
		u.PrimaryLocationID = primary
		if up.Status != nil {
			if *up.Status != 0 && *up.Status != 1 {
				return E(Invalid, Field("status"), ErrFormat)
			}
			u.Status = *up.Status
		}
		if up.APIKey != nil {
			if len(*up.APIKey) < 16 || len(*up.APIKey) > 128 {
				return E(Invalid, Field("user_api_key"), ErrLength)
			}
			u.KeyHash = keys.HashSecret(*up.APIKey)
		}
		u.Modified = s.Now()
		out = u
		return tx.UpdateUser(ctx, u)
	})
	s.creds.invalidate()
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// checkTZ refuses a time zone that is not an IANA name, such as America/New_York or UTC
// ("Local" is the server's own, not a zone); empty is the default. The Fortis API computes a
// user's date keywords in the zone, from the IANA database linked into the binary.
func checkTZ(tz string) error {
	if tz == "" {
		return nil
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		return E(Invalid, Field("tz"), ErrFormat)
	}
	return nil
}

// checkLocations verifies that every location belongs to the merchant and returns the set
// with the primary first. A primary that is not one is Invalid on primary_location_id, any
// other on location_ids.
func (s *Service) checkLocations(ctx context.Context, tx Tx, merchantID, primary string, ids []string) ([]string, error) {
	if primary == "" {
		return nil, E(Invalid, Field("primary_location_id"), ErrRequired)
	}
	out := []string{primary}
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for i, id := range out {
		if _, err := tx.GetLocation(ctx, merchantID, id); err != nil {
			if KindOf(err) == NotFound {
				field := Field("location_ids")
				if i == 0 {
					field = "primary_location_id"
				}
				return nil, E(Invalid, field, ErrUnusable, ID(id))
			}
			return nil, err
		}
	}
	return out, nil
}

// SetAllowedOrigins sets the browser origins allowed to embed hosted fields and call the
// token endpoints: the merchant's when locationID is empty, else one location's. Each origin
// is scheme://host[:port]. Kinds: Invalid, NotFound.
func (s *Service) SetAllowedOrigins(ctx context.Context, merchantID, locationID string, origins []string) ([]string, error) {
	const op = "vault.SetAllowedOrigins"
	clean := make([]string, 0, len(origins))
	for _, o := range origins {
		n, ok := NormalizeOrigin(o)
		if !ok {
			return nil, E(op, Invalid, Field("allowed_origins"), ErrFormat)
		}
		if !slices.Contains(clean, n) {
			clean = append(clean, n)
		}
	}
	err := s.write(ctx, func(tx Tx) error {
		if locationID == "" {
			m, err := tx.GetMerchant(ctx, merchantID)
			if err != nil {
				return err
			}
			m.AllowedOrigins = clean
			return tx.UpdateMerchant(ctx, m)
		}
		l, err := tx.GetLocation(ctx, merchantID, locationID)
		if err != nil {
			return err
		}
		l.AllowedOrigins = clean
		l.Modified = s.Now()
		return tx.UpdateLocation(ctx, l)
	})
	s.creds.invalidate() // a merchant's origins are part of what a verified credential resolved to
	if err != nil {
		return nil, E(op, err)
	}
	return clean, nil
}

// NormalizeOrigin returns an origin in canonical form (lower-case scheme and host, no path,
// no default port), and false when s is not an http(s) origin. A browser's Origin never
// carries the scheme's default port (RFC 6454 §6.2), so a configured "https://shop:443"
// would otherwise never match.
func NormalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if !originHost(strings.ToLower(u.Hostname()), strings.HasPrefix(u.Host, "[")) || !originPort(u.Host, u.Port()) {
		return "", false
	}
	if p := u.Port(); (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme + "://" + host, true
}

// originHost reports whether h could be the host of a browser's Origin: an IP literal
// (bracketed, for IPv6), or a host name of labels of at most 63 letters, digits, hyphens
// and underscores, with a trailing dot at most (which browsers keep, as another origin).
func originHost(h string, bracketed bool) bool {
	if bracketed || strings.Contains(h, ":") {
		return bracketed && net.ParseIP(h) != nil
	}
	if len(h) > 254 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}

// originPort reports whether port, the port of the host:port hostport, is absent or 1 to
// 65535 (a colon with no port after it is refused).
func originPort(hostport, port string) bool {
	if port == "" {
		return !strings.HasSuffix(hostport, ":")
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// containsOrigin reports whether the configured origins hold n (normalized). Stored origins
// are normalized when set; only one stored before NormalizeOrigin dropped default ports may
// still carry one, so the others are parsed again only when the plain match fails.
func containsOrigin(origins []string, n string) bool {
	if slices.Contains(origins, n) {
		return true
	}
	return slices.ContainsFunc(origins, func(o string) bool {
		c, ok := NormalizeOrigin(o)
		return ok && c == n
	})
}

// OriginAllowed reports whether a browser origin may use a merchant's (and optionally a
// location's) browser endpoints. A sandbox merchant with no origins on the merchant and none on
// that location allows every origin (another location's origins do not count: to restrict every
// location, set the merchant's); otherwise the origin must be listed on the merchant or the
// location.
func OriginAllowed(m *Merchant, l *Location, origin string) bool {
	n, ok := NormalizeOrigin(origin)
	if !ok {
		return false
	}
	configured := len(m.AllowedOrigins) > 0 || (l != nil && len(l.AllowedOrigins) > 0)
	if !configured {
		return !m.Live
	}
	if containsOrigin(m.AllowedOrigins, n) {
		return true
	}
	return l != nil && containsOrigin(l.AllowedOrigins, n)
}
