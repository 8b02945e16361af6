package vault

import "time"

// Instrument kinds. A card is a Paysafe card and a Fortis cc account vault; an ach account is a
// Paysafe ACH bank account and a Fortis ach account vault.
const (
	KindCard = "card"
	KindACH  = "ach"
	KindBACS = "bacs"
	KindEFT  = "eft"
	KindSEPA = "sepa"
)

// Instrument is a stored payment instrument: a card or a bank account. Its account data (PAN,
// account number, IBAN, ssn4, driver's licence number) is only ever held sealed; the plain
// fields are safe to show.
type Instrument struct {
	ID         string
	MerchantID string
	LocationID string
	ProfileID  string // ProfileID is empty for a Fortis vault without a contact.
	Token      string // Token is the payment token (C… or B…).
	Kind       string
	Status     string // Status is "ACTIVE".

	// Card fields.
	BIN                    string // BIN is the first six digits.
	LastFour               string
	PANLength              int
	Brand                  string // Brand is a card.Brand value.
	Category               string // Category is "debit", "credit" or "" from BIN data.
	ExpMonth, ExpYear      int
	HolderName             string
	StoredCredentialStatus string // StoredCredentialStatus is "UNVERIFIED" or "VERIFIED".
	DefaultCard            bool

	// Bank fields.
	RoutingNumber string
	AccountType   string // AccountType is CHECKING, SAVINGS or LOAN.
	SortCode      string
	TransitNumber string
	InstitutionID string
	IBANMasked    string
	BIC           string
	IsCompany     bool
	ACHSecCode    string

	// Common fields.
	NickName         string
	MerchantRefNum   string
	BillingAddressID string
	Title            string
	APIID            string // APIID is the Fortis account_vault_api_id, unique among a location's active vaults.
	BillingStreet    string
	BillingCity      string
	BillingState     string
	BillingZip       string
	BillingPhone     string
	CustomerID       string
	DLState          string
	DOBYear          string
	C1, C2, C3       string
	TermsAgree       int
	TermsAgreeIP     string
	CreatedUserID    string

	// Presence of sealed values (never their content).
	HasSSN4     bool
	HasDLNumber bool

	Sealed      Sealed // Sealed holds the ciphertexts; only the Service opens them.
	Fingerprint string // Fingerprint is the keyed HMAC of the number under the primary MAC key.

	Created  time.Time
	Modified time.Time
	Deleted  time.Time // Deleted is zero while the instrument is active.
}

// Active reports whether the instrument has not been deleted.
func (in *Instrument) Active() bool { return in.Deleted.IsZero() }

// UsableBy reports whether in may be the account source of p's payment or new instrument of
// kind in locationID: it is active, in a location p reaches, of kind, and in locationID. An
// empty kind or locationID is any (a payment API whose vault tokens work in all of a
// merchant's accounts; a check that does not know the request's kind or location).
func (in *Instrument) UsableBy(p *Principal, kind, locationID string) bool {
	return in.Active() && p.CanReach(in.LocationID) && (kind == "" || in.Kind == kind) &&
		(locationID == "" || in.LocationID == locationID)
}

// Verified reports whether the card passed an approved authorization or verification
// (MarkCardVerified). The mark is never taken back.
func (in *Instrument) Verified() bool { return in.StoredCredentialStatus == "VERIFIED" }

// Sealed holds a record's AEAD ciphertexts, all under one data key.
type Sealed struct {
	KeyID    uint32
	Number   []byte // Number is the PAN, the account number or the IBAN.
	SSN4     []byte
	DLNumber []byte
	CVV      []byte // CVV exists only on single-use tokens, for their short life.
	Extra    []byte // Extra is any other secret (e.g. a ticket hash key).

	// ADVersion is, for an instrument, the associated data its fields are bound to: ADv2 (its
	// token too) for everything sealed now, ADv1 for what was sealed before and is not yet
	// re-encrypted. It only lets re-encryption find the ADv1 records: opening never trusts it
	// (OpenSealed). It is 0 on other records.
	ADVersion int
}

// Mandate is a BACS or SEPA direct-debit mandate on a bank account.
type Mandate struct {
	ID               string
	MerchantID       string
	ProfileID        string
	InstrumentID     string
	Token            string // Token is the mandate's payment token (M…).
	Reference        string
	Status           string
	StatusChanged    time.Time
	StatusReasonCode string
	StatusReason     string
	Created          time.Time
}

// One-time token kinds.
const (
	TokenCard   = "card"   // TokenCard is a Paysafe card single-use token (SC…).
	TokenACH    = "ach"    // TokenACH is a Paysafe ACH single-use token (SA…).
	TokenEFT    = "eft"    // TokenEFT is a Paysafe EFT single-use token (SE…).
	TokenTicket = "ticket" // TokenTicket is a Fortis card ticket.
)

// OneTimeToken is a single-use token or ticket: account data captured (usually in a browser)
// for one later use. Its CVV is sealed and destroyed when it is consumed or expires.
type OneTimeToken struct {
	ID         string
	MerchantID string
	LocationID string
	Token      string
	Kind       string
	Meta       TokenMeta // Meta is the non-secret part.
	Sealed     Sealed
	Created    time.Time
	Expires    time.Time
	Consumed   time.Time
}

// Fits reports whether t's account data suits an instrument or payment of kind: a card token
// or ticket a card, an ACH token a US bank account, an EFT token a Canadian one.
func (t *OneTimeToken) Fits(kind string) bool {
	switch t.Kind {
	case TokenCard, TokenTicket:
		return kind == KindCard
	case TokenACH:
		return kind == KindACH
	case TokenEFT:
		return kind == KindEFT
	}
	return false
}

// TokenMeta is the non-secret data a one-time token carries.
type TokenMeta struct {
	BIN           string    `json:"bin,omitempty"`
	LastFour      string    `json:"last4,omitempty"`
	PANLength     int       `json:"panLength,omitempty"`
	Brand         string    `json:"brand,omitempty"`
	Category      string    `json:"category,omitempty"`
	ExpMonth      int       `json:"expMonth,omitempty"`
	ExpYear       int       `json:"expYear,omitempty"`
	HolderName    string    `json:"holderName,omitempty"`
	HasCVV        bool      `json:"hasCvv,omitempty"`
	Billing       *Address  `json:"billing,omitempty"`
	BillingZip    string    `json:"billingZip,omitempty"`
	Profile       *Customer `json:"profile,omitempty"`
	AccountHolder string    `json:"accountHolder,omitempty"`
	AccountType   string    `json:"accountType,omitempty"`
	RoutingNumber string    `json:"routing,omitempty"`
	TransitNumber string    `json:"transit,omitempty"`
	InstitutionID string    `json:"institution,omitempty"`
}

// Customer is the small customer block a bank token carries.
type Customer struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	Email     string `json:"email,omitempty"`
}
