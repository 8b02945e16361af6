package vault

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
)

// Keyring seals account data and fingerprints numbers. *keys.Keyring implements it.
type Keyring interface {
	KeyHolder
	// Seal encrypts plaintext bound to ad under the primary data key.
	Seal(plaintext []byte, ad keys.AD) ([]byte, error)
	// Open decrypts a ciphertext made by Seal with the same ad.
	Open(ciphertext []byte, ad keys.AD) ([]byte, error)
	// Fingerprints returns the number's fingerprints under every enabled MAC key, primary first.
	Fingerprints(merchantID, normalized string) []string
	// FingerprintsOf is Fingerprints of a value in a byte slice, which the caller can clear
	// afterwards: the re-encryption job and the verifier, which open every number.
	FingerprintsOf(merchantID string, normalized []byte) []string
}

// BINs looks up issuer data for a card number. *card.BINTable implements it.
type BINs interface {
	// Lookup returns the most specific range matching pan.
	Lookup(pan string) (card.BINInfo, bool)
}

// Config holds the core's tunables.
type Config struct {
	SUTTTL    time.Duration // SUTTTL is a single-use token's life (899 s by default).
	TicketTTL time.Duration // TicketTTL is a Fortis ticket's life (15 min by default).
	// BACSMandateActivation is how long a new BACS mandate stays PENDING (7 days by default).
	BACSMandateActivation time.Duration
	Now                   func() time.Time // Now is the clock; time.Now by default.
	// CredentialCacheTTL is how long a verified API credential is remembered (credcache.go):
	// DefaultCredentialCacheTTL when 0, never when negative. A change to a merchant or user
	// made through another Service (another node, a CLI tool) reaches this one within it.
	CredentialCacheTTL time.Duration
}

// Service owns every business rule of the vault. It is safe for concurrent use.
type Service struct {
	store Store
	keys  Keyring
	bins  BINs
	cfg   Config

	txSource TransactionSource
	creds    *credCache

	// verifySecret compares a secret with its stored hash: keys.VerifySecret, counted by
	// the tests.
	verifySecret func(hash []byte, secret string) bool

	// decoy is the location whose sealed ticket hash key an unknown location api key is
	// checked with (AuthenticateBrowser, decoyCheck).
	decoy struct {
		mu  sync.Mutex
		loc *Location
	}
}

// NewService returns a Service over store.
func NewService(store Store, kr Keyring, bins BINs, cfg Config) *Service {
	if cfg.SUTTTL == 0 {
		cfg.SUTTTL = 899 * time.Second
	}
	if cfg.TicketTTL == 0 {
		cfg.TicketTTL = 15 * time.Minute
	}
	if cfg.BACSMandateActivation == 0 {
		cfg.BACSMandateActivation = DefaultBACSMandateActivation
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CredentialCacheTTL == 0 {
		cfg.CredentialCacheTTL = DefaultCredentialCacheTTL
	}
	return &Service{store: store, keys: kr, bins: bins, cfg: cfg, creds: newCredCache(cfg.CredentialCacheTTL, time.Now),
		verifySecret: keys.VerifySecret}
}

// Store returns the service's store, for read paths that need no rule.
func (s *Service) Store() Store { return s.store }

// Now returns the service clock's current time in UTC, truncated to milliseconds as stored.
func (s *Service) Now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// Config returns the service configuration.
func (s *Service) Config() Config { return s.cfg }

// newID returns a fresh record id (a UUIDv7).
func newID() string { return keys.NewUUIDv7() }

// NewID returns a fresh record id for packages that store records through the core.
func NewID() string { return newID() }

// seal encrypts one field of a record, bound to ad.
func (s *Service) seal(op string, ad keys.AD, plaintext []byte) ([]byte, uint32, error) {
	if len(plaintext) == 0 {
		return nil, 0, nil
	}
	ct, err := s.keys.Seal(plaintext, ad)
	if err != nil {
		return nil, 0, E(op, Internal, err)
	}
	id, _ := keys.KeyID(ct)
	return ct, id, nil
}

// sealedField is one field of a record for sealRecord: its AD and plaintext, and where its
// ciphertext goes.
type sealedField struct {
	ad keys.AD
	pt []byte
	ct *[]byte
}

// sealTries bounds sealRecord's attempts: a data key rotated between two seals is rare, two
// in a row rarer still.
const sealTries = 3

// sealRecord seals a record's fields (an empty plaintext stays nil) and returns the data key
// id all of them are under (0 when every plaintext is empty). Each seal uses the primary key
// of its moment, so a rotation between two of them (on another node, say) would leave the
// record's fields under two keys while its key column names one, and keys retire, which
// counts a key's records by that column, could then retire a key a field still needs. So
// sealRecord seals them all again when their keys differ.
func (s *Service) sealRecord(op string, fields ...sealedField) (uint32, error) {
	var kid uint32
	err := untilOneKey(op, func() (bool, error) {
		kid = 0
		mixed := false
		for _, f := range fields {
			ct, id, err := s.seal(op, f.ad, f.pt)
			if err != nil {
				return false, err
			}
			*f.ct = ct
			if id != 0 {
				mixed = mixed || (kid != 0 && id != kid)
				kid = id
			}
		}
		return mixed, nil
	})
	if err != nil {
		return 0, err
	}
	return kid, nil
}

// untilOneKey runs seal, which seals one record's fields and reports whether they came out
// under different data keys, until they do not, at most sealTries times: sealRecord's and the
// re-encryption job's guard against a rotation between two seals of one record.
func untilOneKey(op string, seal func() (mixed bool, err error)) error {
	for range sealTries {
		if mixed, err := seal(); err != nil || !mixed {
			return err
		}
	}
	return E(op, Unavailable, errors.New("the primary data key changed while a record was sealed, three times"))
}

// open decrypts one field of a record sealed with ad, of AD version version (see
// OpenSealed). A field that does not open is Internal, wrapping keys.ErrDecrypt, whose text
// names the key and never the data.
func (s *Service) open(op string, ad keys.AD, version int, ct []byte) (string, error) {
	if len(ct) == 0 {
		return "", nil
	}
	pt, _, err := OpenSealed(s.keys, ct, ad, version)
	if err != nil {
		return "", E(op, Internal, err)
	}
	return string(pt), nil
}

// openInstrument decrypts the sealed field ct of in (see open).
func (s *Service) openInstrument(op string, in *Instrument, field string, ct []byte) (string, error) {
	return s.open(op, instrumentAD(in, field), in.Sealed.ADVersion, ct)
}

// Versions of the associated data an instrument's sealed fields are bound to
// (Sealed.ADVersion).
const (
	// ADv1 binds merchant, record and field only (keys.AD without a token): what every
	// instrument was sealed with before tokens were bound. Re-encryption re-seals it as ADv2.
	ADv1 = 1
	// ADv2 binds the record's payment token as well (keys.AD.Token).
	ADv2 = 2
)

// OpenSealed opens ct under ad and, only when ad names a token, that fails and the record is
// not marked ADv2, under ad without the token: the v1 associated data of a record sealed
// before tokens were bound. version is the record's Sealed.ADVersion (0 where its table keeps
// none). legacy reports that the v1 one opened it. The fallback unbinds nothing that was
// sealed with its token, as a ciphertext sealed with a token never opens without it, and one
// whose record's token was changed opens under neither. A record marked ADv2 gets no
// fallback: every write that marks it so seals all its fields with their token, so a v1
// ciphertext there was put back or relabelled by a database writer (to hide it from
// re-encryption, or to swap it), and it stays unreadable instead. The error is the first
// Open's.
func OpenSealed(kr Keyring, ct []byte, ad keys.AD, version int) (pt []byte, legacy bool, err error) {
	pt, err = kr.Open(ct, ad)
	if err == nil || ad.Token == "" || version == ADv2 {
		return pt, false, err
	}
	v1 := ad
	v1.Token = ""
	if pt, err1 := kr.Open(ct, v1); err1 == nil {
		return pt, true, nil
	}
	return nil, false, err
}

// instrumentAD is the associated data of an instrument's field: its merchant, id, the field
// and its payment token.
func instrumentAD(in *Instrument, field string) keys.AD {
	return keys.AD{Merchant: in.MerchantID, Record: in.ID, Field: field, Token: in.Token}
}

// write runs fn in a store transaction. It carries the keys fn seals under (Sealing): a
// method that sealed before it calls write set them before its first seal.
func (s *Service) write(ctx context.Context, fn func(Tx) error) error {
	return s.store.Write(s.sealing(ctx), fn)
}
