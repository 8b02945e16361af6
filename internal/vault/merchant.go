package vault

import "time"

// Merchant is a tenant of payvault. Every record belongs to exactly one merchant.
type Merchant struct {
	ID                string
	Name              string
	Live              bool     // Live merchants enforce strict checks and have no sandbox processor.
	DefaultLocationID string   // DefaultLocationID is where Paysafe records are created.
	AllowedOrigins    []string // AllowedOrigins may embed hosted fields and call token endpoints from a browser.
	Processor         string   // Processor names the configured processor; "sandbox" or "" (none).
	Created           time.Time
}

// Location is a merchant's place of business. It owns one payment account number, which is
// the Paysafe {acct} and the Fortis location at once.
type Location struct {
	ID            string
	MerchantID    string
	Name          string
	AccountNumber string // AccountNumber is unique server-wide.
	Currency      string // Currency is the ISO 4217 code of the account, USD by default.
	APIKey        string // APIKey is the public location_api_key, an identifier.
	APIID         string // APIID is the merchant's own reference (location_api_id).
	TicketHashKey string // TicketHashKey is the HMAC key for browser tickets, filled in only by Service.RevealLocation.
	// SealedTicketKey is the ticket hash key as stored (Extra holds the ciphertext).
	SealedTicketKey Sealed
	ParentID        string
	Address1        string
	Address2        string
	City            string
	State           string
	ZipCode         string
	OfficePhone     string
	OfficeExtPhone  string
	Fax             string
	TZ              string
	DefaultCC       string // DefaultCC is the default cc product transaction id.
	DefaultACH      string // DefaultACH is the default ach product transaction id.
	EmailReplyTo    string
	C1, C2, C3      string
	AllowedOrigins  []string
	Created         time.Time
	Modified        time.Time
}

// ProductTransaction is a location's merchant service for one payment method.
type ProductTransaction struct {
	ID                string
	MerchantID        string
	LocationID        string
	PaymentMethod     string // "cc" or "ach"
	Processor         string
	Title             string
	IndustryType      string
	RunAVSOnCreate    bool
	AutoDeclineCVV    int
	VTRequireZip      bool
	VTRequireStreet   bool
	Active            bool
	Created, Modified time.Time
}

// Credential kinds.
const (
	CredServer = "server" // CredServer is a Paysafe server API key.
	CredSUT    = "sut"    // CredSUT is a Paysafe single-use-token key, for browsers.
)

// APIKey is a Paysafe-style credential. Its secret is kept only as a hash.
type APIKey struct {
	ID         string // ID is the public key id (the Basic user name).
	MerchantID string
	Kind       string // CredServer or CredSUT
	SecretHash []byte
	Created    time.Time
}

// Developer is a registered Fortis developer id.
type Developer struct {
	ID         string
	MerchantID string
	Created    time.Time
}

// User is a Fortis API user. Its api key is kept only as a hash.
type User struct {
	ID                string
	MerchantID        string
	Username          string
	Email             string
	FirstName         string
	LastName          string
	KeyHash           []byte
	Status            int
	UserTypeID        int
	Locale            string
	TZ                string
	PrimaryLocationID string
	LocationIDs       []string // LocationIDs are the accessible locations; they include the primary.
	ContactID         string
	DomainID          string
	CreatedUserID     string
	Created           time.Time
	Modified          time.Time
}
