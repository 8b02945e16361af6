// Package payments runs money movements on vaulted and raw payment data: authorizations,
// settlements, voids, refunds, verifications, sales and the like. It is the vendor-neutral
// core that both vendor APIs (Paysafe card payments, Fortis transactions) translate to.
//
// A transaction is recorded RECEIVED in its own short write transaction before its processor
// is called, the processor is called with no database transaction open, and a second write
// transaction completes it. Money rules (what is left to settle, void or refund) are checked
// inside the writing transaction on locked rows, never check-then-act.
//
// The package imports no net/http, no database/sql and no vendor package.
package payments

import (
	"encoding/json"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// Type is what a transaction does.
type Type string

// The transaction types.
const (
	TypeAuth         Type = "auth"         // TypeAuth reserves an amount on a card.
	TypeSettlement   Type = "settlement"   // TypeSettlement captures (part of) an auth.
	TypeVoid         Type = "void"         // TypeVoid releases (part of) an auth's unsettled amount.
	TypeRefund       Type = "refund"       // TypeRefund returns (part of) a settlement or sale.
	TypeVerification Type = "verification" // TypeVerification checks a card without an amount.
	TypeSale         Type = "sale"         // TypeSale authorizes and captures in one step (Fortis sale).
	TypeAVSOnly      Type = "avsonly"      // TypeAVSOnly checks the billing address only (Fortis avsonly).
	TypeDebit        Type = "debit"        // TypeDebit pulls money from a bank account (Fortis ach debit).
)

// Status is where a transaction stands.
type Status string

// The statuses. A transaction is RECEIVED only between its first write and its completion.
const (
	StatusReceived  Status = "RECEIVED"
	StatusPending   Status = "PENDING"
	StatusCompleted Status = "COMPLETED"
	StatusFailed    Status = "FAILED"
	StatusCancelled Status = "CANCELLED"
)

// Payment methods.
const (
	MethodCard = "cc"  // MethodCard is a card payment.
	MethodACH  = "ach" // MethodACH is a US bank account payment.
)

// Transaction is one money movement. Its account number, when it has one, is held only sealed
// (AEAD bound to merchant|transaction id|"number"); every other field is safe to show.
type Transaction struct {
	ID            string
	MerchantID    string
	LocationID    string
	AccountNumber string // AccountNumber is the location's payment account (the Paysafe {acct}).
	API           string // API names the vendor API that created it ("paysafe", "fortis").
	Type          Type
	Status        Status
	ParentID      string // ParentID is the auth a settlement or void draws on, or the settlement or sale a refund draws on.

	MerchantRefNum string // MerchantRefNum is the merchant's reference (Paysafe).
	APIID          string // APIID is the merchant's unique reference in the location (Fortis transaction_api_id).
	OrderNum       string // OrderNum is the Fortis order number.

	Amount   int64  // Amount is in minor units of Currency.
	Currency string // Currency is the ISO 4217 code.
	// Available is what is left: to settle on an auth, to refund on a settlement or a sale;
	// zero on every other type.
	Available int64
	// SettleWithAuth marks an auth that was settled when it was approved, and the settlement
	// that approval created.
	SettleWithAuth bool

	PaymentMethod string // PaymentMethod is MethodCard or MethodACH.
	// InstrumentID is the vaulted card or bank account used, if any, or the one an approval
	// created from the transaction's account data (AuthRequest.AfterApproval).
	InstrumentID         string
	ProfileID            string // ProfileID is the payer's profile: the request's or the instrument's, if any.
	ProductTransactionID string // ProductTransactionID is the Fortis merchant service used.
	CreatedUserID        string

	Card          CardSnapshot // Card is the card as it was when the transaction ran.
	RoutingNumber string       // RoutingNumber is the bank account's (ach).
	AccountType   string       // AccountType is the bank account's type (ach).
	ACHSecCode    string       // ACHSecCode is the ach SEC code.
	Sealed        vault.Sealed // Sealed holds the account number for later reuse (a vault from a transaction).

	Billing  *Billing        // Billing is the effective billing address.
	Customer *vault.Customer // Customer is the profile's names and e-mail, for vault and profile tokens.
	// Extras holds request and response fields of the vendor API that the core does not
	// interpret; each API reads back only what it wrote.
	Extras json.RawMessage

	Decision  Decision  // Decision is the processor's verdict; empty until it answered.
	AuthCode  string    // AuthCode is the approval code.
	AVS       AVSResult // AVS is the address check result, empty when none ran.
	CVV       CVVResult // CVV is the card security code check result, empty when none ran.
	Code      string    // Code is the processor's reason code, in the vocabulary of its trigger table.
	Message   string    // Message is the processor's text (Fortis verbiage).
	ErrorCode string    // ErrorCode is the error an API reported for a FAILED transaction.
	Reason    string    // Reason says why a transaction failed without a processor answer (e.g. ReasonInterrupted).

	// Node is the node that recorded the transaction RECEIVED and completes it ("" when
	// unknown). Recover resolves a RECEIVED transaction at once when its node is gone.
	Node string

	TxnTime     time.Time // TxnTime is when the transaction was received.
	CompletesAt time.Time // CompletesAt is when a PENDING settlement or refund is batched (COMPLETED).
	Created     time.Time
	Modified    time.Time

	// Settled is, on an auth that Authorize returns approved with SettleWithAuth, the
	// settlement its approval created, as Settlement would return it. It is not stored: a
	// transaction read back has none.
	Settled *Transaction
}

// CardSnapshot is a card's safe-to-show data as it was when a transaction ran.
type CardSnapshot struct {
	Brand      string // Brand is a card.Brand value.
	BIN        string // BIN is the first six digits.
	LastFour   string
	PANLength  int
	ExpMonth   int
	ExpYear    int
	HolderName string
}

// Billing is a billing address as a transaction used it.
type Billing struct {
	Street  string `json:"street,omitempty"`
	Street2 string `json:"street2,omitempty"`
	City    string `json:"city,omitempty"`
	State   string `json:"state,omitempty"`
	Country string `json:"country,omitempty"`
	Zip     string `json:"zip,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// Reasons a transaction failed without a processor answer.
const (
	// ReasonInterrupted marks a transaction left RECEIVED by a crash and failed by Recover.
	ReasonInterrupted = "interrupted"
	// ReasonProcessorError marks a transaction whose processor could not be reached.
	ReasonProcessorError = "processor error"
	// ReasonRejected marks a transaction an API recorded after refusing the request.
	ReasonRejected = "rejected"
)

// Approved reports whether the processor approved the transaction and it was not cancelled
// or failed since.
func (t *Transaction) Approved() bool {
	return t.Status == StatusCompleted || t.Status == StatusPending
}

// EffectiveStatus returns the status at now: a PENDING settlement, refund or debit whose
// batch time has come is COMPLETED. Batching is applied lazily, whenever a transaction is
// read, and persisted by the next write to it or by Service.Batch.
func (t *Transaction) EffectiveStatus(now time.Time) Status {
	if t.Status == StatusPending && !t.CompletesAt.IsZero() && !now.Before(t.CompletesAt) {
		return StatusCompleted
	}
	return t.Status
}

// applyBatch applies EffectiveStatus to t.
func (t *Transaction) applyBatch(now time.Time) {
	t.Status = t.EffectiveStatus(now)
}

// hasAmount reports whether a transaction of type ty moves an amount that must be positive.
func (ty Type) hasAmount() bool {
	return ty != TypeVerification && ty != TypeAVSOnly
}

// isAuthorization reports whether ty is sent to a processor against an account (not against a
// parent transaction).
func (ty Type) isAuthorization() bool {
	switch ty {
	case TypeAuth, TypeSale, TypeVerification, TypeAVSOnly, TypeDebit:
		return true
	}
	return false
}

// EncodeExtras returns a vendor API's own fields of a transaction (a struct of that API) as the
// Extras blob the core keeps without reading it.
func EncodeExtras(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// DecodeExtras reads t's Extras as T, a vendor API's extras struct; a transaction another API
// made, or one without extras, gives T's zero value.
func DecodeExtras[T any](t *Transaction) T {
	var x T
	if len(t.Extras) > 0 {
		json.Unmarshal(t.Extras, &x)
	}
	return x
}
