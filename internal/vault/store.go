package vault

import (
	"context"
	"time"
)

// Store is the persistence the core needs. Reads outside a transaction see committed data.
// Every write goes through Write, so that a caller's checks and writes share one transaction
// and a successful return means the transaction committed durably.
//
// Methods that look up one record return an *Error of Kind NotFound when it does not exist
// for that merchant; they never return (nil, nil).
type Store interface {
	Reader
	// Write runs fn in a read-write transaction and commits it durably before it returns.
	// When fn returns an error nothing fn wrote is kept and the error is returned unchanged.
	// The store may run fn more than once (a retried serialisation failure, a re-run batch),
	// so fn must not have side effects outside tx. The store may run fn in a transaction
	// shared with other callers' fns (group commit), one after another: fn sees their writes
	// and they wait for it, so fn must only touch the store through tx and never wait on
	// anything slow (a processor, the network, a lock or channel of its own), nor call Write.
	// Kinds: whatever fn returns, Unavailable, Internal.
	Write(ctx context.Context, fn func(Tx) error) error
}

// Reader holds the lookups. Every lookup is scoped to a merchant unless its comment says
// otherwise. Kinds: NotFound, Internal.
type Reader interface {
	// GetMerchant returns a merchant by id.
	GetMerchant(ctx context.Context, id string) (*Merchant, error)
	// ListMerchants returns every merchant, oldest first.
	ListMerchants(ctx context.Context) ([]*Merchant, error)
	// CountMerchants returns the number of merchants.
	CountMerchants(ctx context.Context) (int, error)

	// GetLocation returns one of a merchant's locations.
	GetLocation(ctx context.Context, merchantID, id string) (*Location, error)
	// GetLocationByAccount returns the location owning a payment account number, server-wide.
	GetLocationByAccount(ctx context.Context, accountNumber string) (*Location, error)
	// GetLocationByAPIKey returns the location with this location_api_key, server-wide.
	GetLocationByAPIKey(ctx context.Context, apiKey string) (*Location, error)
	// ListLocations returns a merchant's locations matching q, and the total count.
	ListLocations(ctx context.Context, merchantID string, q Query) ([]*Location, int, error)

	// GetProductTransaction returns one of a merchant's product transactions.
	GetProductTransaction(ctx context.Context, merchantID, id string) (*ProductTransaction, error)
	// ListProductTransactions returns a merchant's product transactions matching q.
	ListProductTransactions(ctx context.Context, merchantID string, q Query) ([]*ProductTransaction, int, error)

	// GetAPIKey returns a Paysafe credential by its key id, server-wide.
	GetAPIKey(ctx context.Context, keyID string) (*APIKey, error)
	// GetDeveloper returns a Fortis developer id, server-wide.
	GetDeveloper(ctx context.Context, id string) (*Developer, error)
	// GetUser returns a Fortis user by id, server-wide (for authentication).
	GetUser(ctx context.Context, id string) (*User, error)
	// ListUsers returns a merchant's users matching q.
	ListUsers(ctx context.Context, merchantID string, q Query) ([]*User, int, error)

	// GetProfile returns an active profile.
	GetProfile(ctx context.Context, merchantID, id string) (*Profile, error)
	// GetProfileLocation returns an active profile's location: GetProfile for callers that
	// need only to know it exists and where.
	GetProfileLocation(ctx context.Context, merchantID, id string) (string, error)
	// GetProfileBy returns the active profile whose field (merchant_customer_id, token,
	// or contact_api_id within locationID) equals value.
	GetProfileBy(ctx context.Context, merchantID, field, value, locationID string) (*Profile, error)
	// ListProfiles returns a merchant's active profiles matching q.
	ListProfiles(ctx context.Context, merchantID string, q Query) ([]*Profile, int, error)

	// GetAddress returns an address of a profile.
	GetAddress(ctx context.Context, merchantID, profileID, id string) (*Address, error)
	// ListAddresses returns a profile's addresses, oldest first.
	ListAddresses(ctx context.Context, merchantID, profileID string) ([]*Address, error)

	// GetInstrument returns an instrument, deleted or not; callers check Active.
	GetInstrument(ctx context.Context, merchantID, id string) (*Instrument, error)
	// GetInstrumentByToken returns the active instrument with this payment token.
	GetInstrumentByToken(ctx context.Context, merchantID, token string) (*Instrument, error)
	// GetInstrumentByTokenWithCustomer is GetInstrumentByToken with, in the same statement,
	// the names of the instrument's profile (zero when it has none, or none active).
	GetInstrumentByTokenWithCustomer(ctx context.Context, merchantID, token string) (*Instrument, Customer, error)
	// GetInstrumentByAPIID returns the active instrument with this api id in a location or,
	// failing that, the most recently deleted one.
	GetInstrumentByAPIID(ctx context.Context, merchantID, locationID, apiID string) (*Instrument, error)
	// ListInstruments returns a merchant's instruments matching q.
	ListInstruments(ctx context.Context, merchantID string, q Query) ([]*Instrument, int, error)
	// ListProfileInstruments returns a profile's active instruments of one kind ("" for all), oldest first.
	ListProfileInstruments(ctx context.Context, merchantID, profileID, kind string) ([]*Instrument, error)

	// GetMandate returns a mandate.
	GetMandate(ctx context.Context, merchantID, id string) (*Mandate, error)
	// GetMandateByID returns a mandate by id, server-wide (for the operator's controls).
	GetMandateByID(ctx context.Context, id string) (*Mandate, error)
	// ListMandates returns an instrument's mandates, oldest first.
	ListMandates(ctx context.Context, merchantID, instrumentID string) ([]*Mandate, error)

	// GetOneTimeToken returns a single-use token or ticket by its token value, in any state.
	GetOneTimeToken(ctx context.Context, merchantID, token string) (*OneTimeToken, error)

	// GetSetting returns a server setting; NotFound when unset.
	GetSetting(ctx context.Context, name string) (string, error)
}

// Tx is a read-write transaction. Its reads see its own writes.
type Tx interface {
	Reader

	// InsertMerchant stores a new merchant.
	InsertMerchant(ctx context.Context, m *Merchant) error
	// UpdateMerchant replaces a merchant's mutable fields.
	UpdateMerchant(ctx context.Context, m *Merchant) error
	// LockMerchant returns a merchant and takes its row lock for the rest of the transaction,
	// so that writes that check a merchant-wide rule (a unique location api id or username)
	// are serialised across nodes. Kinds: NotFound.
	LockMerchant(ctx context.Context, id string) (*Merchant, error)
	// InsertLocation stores a location; Conflict when its account number or api key is taken.
	InsertLocation(ctx context.Context, l *Location, sealed Sealed) error
	// UpdateLocation replaces a location's mutable fields.
	UpdateLocation(ctx context.Context, l *Location) error
	// InsertProductTransaction stores a product transaction.
	InsertProductTransaction(ctx context.Context, p *ProductTransaction) error
	// UpdateProductTransaction replaces a product transaction's settings.
	UpdateProductTransaction(ctx context.Context, p *ProductTransaction) error
	// InsertAPIKey stores a Paysafe credential.
	InsertAPIKey(ctx context.Context, k *APIKey) error
	// InsertDeveloper stores a Fortis developer id.
	InsertDeveloper(ctx context.Context, d *Developer) error
	// InsertUser stores a Fortis user.
	InsertUser(ctx context.Context, u *User) error
	// UpdateUser replaces a user's mutable fields.
	UpdateUser(ctx context.Context, u *User) error

	// LockProfile takes the profile's row lock for the rest of the transaction, so that
	// operations on one profile are serialised across nodes. NotFound when absent.
	LockProfile(ctx context.Context, merchantID, id string) (*Profile, error)
	// LockProfileLocation is LockProfile for callers that need no more of the profile than its
	// location: it reads one column rather than the whole row. Kinds: NotFound.
	LockProfileLocation(ctx context.Context, merchantID, id string) (string, error)
	// InsertProfile stores a profile; Conflict (Field merchant_customer_id or contact_api_id)
	// when a unique value is taken.
	InsertProfile(ctx context.Context, p *Profile) error
	// UpdateProfile replaces a profile's mutable fields; Conflict as for InsertProfile.
	UpdateProfile(ctx context.Context, p *Profile) error
	// DeleteProfile marks a profile deleted.
	DeleteProfile(ctx context.Context, merchantID, id string, at time.Time) error

	// InsertAddress stores an address.
	InsertAddress(ctx context.Context, a *Address) error
	// UpdateAddress replaces an address's mutable fields.
	UpdateAddress(ctx context.Context, a *Address) error
	// DeleteAddress removes an address and unlinks it from the profile's instruments.
	DeleteAddress(ctx context.Context, merchantID, profileID, id string) error
	// ClearDefaultShipping clears the default-shipping flag on a profile's other addresses.
	ClearDefaultShipping(ctx context.Context, merchantID, profileID, exceptID string) error

	// InsertInstrument stores an instrument with its sealed data; Conflict (Field api_id)
	// when its api id is taken in the location.
	InsertInstrument(ctx context.Context, in *Instrument) error
	// UpdateInstrument replaces an instrument's mutable fields and its sealed data. The
	// stored-credential status is not one of them: only SetCardVerified changes it, so an
	// update that read the card before an approval marked it cannot undo the mark.
	UpdateInstrument(ctx context.Context, in *Instrument) error
	// DeleteInstrument marks an instrument deleted.
	DeleteInstrument(ctx context.Context, merchantID, id string, at time.Time) error
	// SetCardVerified marks id VERIFIED if it is still an active card not marked yet; it
	// changes no other column.
	SetCardVerified(ctx context.Context, merchantID, id string) error
	// CheckProfileInstruments answers, in one statement, what a new instrument of a kind on a
	// profile needs to know: the id of the profile's oldest active instrument of that kind
	// whose fingerprint is one of fps ("" when none, or when fps is empty), and whether the
	// profile has any active instrument of that kind.
	CheckProfileInstruments(ctx context.Context, merchantID, profileID, kind string, fps []string) (dupID string, has bool, err error)
	// InsertProfileCard is CheckProfileInstruments for a card in (on a profile, kind card)
	// followed, when it finds no duplicate, by InsertInstrument; it returns the duplicate's id
	// (nothing inserted). With defaultIfFirst the card becomes the default when the profile
	// had no card before it, and in.DefaultCard says so.
	//
	// A store may do both in one statement, and may send that statement after
	// InsertProfileCard returns, before the fn's next statement or the COMMIT: in.DefaultCard
	// is then set by the time Write returns, so fn itself must not rely on it. A duplicate
	// found that late makes the store run fn again, and this time InsertProfileCard returns it.
	InsertProfileCard(ctx context.Context, in *Instrument, fps []string, defaultIfFirst bool) (dupID string, err error)
	// SetDefaultCard makes id the profile's only default card ("" clears every default).
	SetDefaultCard(ctx context.Context, merchantID, profileID, id string) error
	// DetachProfileInstruments removes the profile link from its instruments (contact delete).
	DetachProfileInstruments(ctx context.Context, merchantID, profileID string) error
	// DeleteProfileInstruments marks every active instrument of the profile deleted.
	DeleteProfileInstruments(ctx context.Context, merchantID, profileID string, at time.Time) error

	// InsertMandate stores a mandate.
	InsertMandate(ctx context.Context, m *Mandate) error
	// UpdateMandate replaces a mandate's status fields.
	UpdateMandate(ctx context.Context, m *Mandate) error
	// DeleteMandate removes a mandate.
	DeleteMandate(ctx context.Context, merchantID, id string) error
	// DeleteMandatesOf removes an instrument's mandates, or a profile's when instrumentID is empty.
	DeleteMandatesOf(ctx context.Context, merchantID, profileID, instrumentID string) error

	// InsertOneTimeToken stores a single-use token or ticket.
	InsertOneTimeToken(ctx context.Context, t *OneTimeToken) error
	// ConsumeOneTimeToken marks the token consumed and destroys its CVV, if it is unconsumed
	// and unexpired at now. It returns false when it was not (already used, or expired).
	ConsumeOneTimeToken(ctx context.Context, merchantID, id string, now time.Time) (bool, error)
	// SweepOneTimeTokens deletes tokens that expired before now, with their sealed data,
	// and returns how many went. It may stop after some, so that one write stays short;
	// the caller calls again until it returns 0.
	SweepOneTimeTokens(ctx context.Context, now time.Time) (int, error)

	// SetSetting stores a server setting.
	SetSetting(ctx context.Context, name, value string) error
	// ClaimSetting stores a setting only when it is unset, and reports whether it did.
	ClaimSetting(ctx context.Context, name, value string) (bool, error)
}

// Query is a list request: filters, sort keys and a page. Field names are the store's
// column names for that entity; each store whitelists them.
type Query struct {
	Filters []Filter
	Sort    []SortKey // Sort defaults to id descending.
	Limit   int       // Limit 0 means no limit.
	Offset  int
}

// FilterOp is how a filter compares.
type FilterOp uint8

// The filter operators.
const (
	OpIn       FilterOp = iota + 1 // OpIn matches any of Values exactly (case-insensitively when Fold).
	OpRange                        // OpRange matches Lo <= v <= Hi on a numeric column.
	OpContains                     // OpContains matches Values[0] anywhere, case-insensitively.
	OpNull                         // OpNull matches an unset value.
)

// Filter is one condition; conditions combine with AND.
type Filter struct {
	Field  string
	Op     FilterOp
	Values []string
	Fold   bool // Fold compares case-insensitively.
	Lo, Hi int64
}

// SortKey orders a list by one field.
type SortKey struct {
	Field string
	Desc  bool
	// Rank, when set, orders by the field's rank instead of its value: a value in Rank[i]
	// ranks i, and any other value after them all (a vendor's status codes in their order).
	Rank [][]string
}
