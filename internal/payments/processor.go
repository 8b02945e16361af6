package payments

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Processor sends transactions to a payment network and reports what happened, in
// vendor-neutral terms. The built-in Sandbox is one Processor; a live adapter would be another.
// A Processor is called with no database transaction open.
type Processor interface {
	// Process sends r and returns its outcome. A decline or a processor fault is an Outcome,
	// not an error; an error means no answer was obtained (the network is unreachable, ctx
	// ended) and the transaction fails with ReasonProcessorError.
	Process(ctx context.Context, r *Request) (*Outcome, error)
}

// Querier is implemented by processors that can say what became of a transaction sent before
// a crash. Recover uses it for RECEIVED transactions; without it they are failed.
type Querier interface {
	// Query returns the outcome of the transaction with r.TransactionID. It returns
	// ErrNotReceived when the processor never saw it.
	Query(ctx context.Context, r *Request) (*Outcome, error)
}

// ErrNotReceived is returned by Querier.Query for a transaction the processor never saw.
var ErrNotReceived = errors.New("the processor has no record of the transaction")

// Request is what a processor is asked to do. Number and CVV are secrets: Request's LogValue
// and String leave them out, and they must never be logged by other means.
type Request struct {
	API           string // API names the calling vendor API; the Sandbox picks its trigger table by it.
	TransactionID string
	Type          Type
	Amount        int64 // Amount is in minor units.
	Currency      string
	PaymentMethod string
	Brand         string // Brand is a card.Brand value.
	Number        string // Number is the PAN or bank account number.
	ExpMonth      int
	ExpYear       int
	CVV           string // CVV is the card security code, when the payer gave one.
	RoutingNumber string
	Billing       Billing
	// AutoDeclineCVV asks the processor to decline when the CVV check fails (a Fortis
	// merchant service setting).
	AutoDeclineCVV bool
}

// LogValue implements slog.LogValuer without the account number and the CVV.
func (r *Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api", r.API), slog.String("id", r.TransactionID), slog.String("type", string(r.Type)),
		slog.Int64("amount", r.Amount), slog.String("currency", r.Currency), slog.String("brand", r.Brand),
	)
}

// String describes r without its secrets.
func (r *Request) String() string { return r.LogValue().String() }

// Decision is a processor's verdict.
type Decision string

// The decisions.
const (
	Approved Decision = "approved" // Approved means the transaction went through.
	Declined Decision = "declined" // Declined means the issuer or the processor refused it; Code says why.
	Fault    Decision = "fault"    // Fault means the processor failed (Paysafe 1007); Code says how.
)

// AVSResult is the address verification result, in neutral terms.
type AVSResult string

// The AVS results. Each API names them in its own vocabulary.
const (
	AVSMatch        AVSResult = "match"         // AVSMatch means street and zip match.
	AVSAddressOnly  AVSResult = "address-only"  // AVSAddressOnly means the street matches, the zip does not.
	AVSZipOnly      AVSResult = "zip-only"      // AVSZipOnly means the zip matches, the street does not.
	AVSNoMatch      AVSResult = "no-match"      // AVSNoMatch means neither matches.
	AVSUnknown      AVSResult = "unknown"       // AVSUnknown means the issuer gave no usable answer.
	AVSNotProcessed AVSResult = "not-processed" // AVSNotProcessed means no check was made.
)

// CVVResult is the card security code check result, in neutral terms.
type CVVResult string

// The CVV results.
const (
	CVVMatch           CVVResult = "match"             // CVVMatch: M.
	CVVNoMatch         CVVResult = "no-match"          // CVVNoMatch: N.
	CVVNotProcessed    CVVResult = "not-processed"     // CVVNotProcessed: P.
	CVVShouldBePresent CVVResult = "should-be-present" // CVVShouldBePresent: S, the issuer says the card has a CVV.
	CVVIssuerUnable    CVVResult = "issuer-unable"     // CVVIssuerUnable: U, the issuer is not certified.
	CVVUnknown         CVVResult = "unknown"           // CVVUnknown: X, no answer.
	// CVVNotGiven: no CVV was sent, so none was checked. Each API says it in its own words
	// (Fortis N, as for a mismatch; Paysafe NOT_PROCESSED), so a transaction made through one
	// API reads right through the other.
	CVVNotGiven CVVResult = "not-given"
)

// Outcome is a processor's answer.
type Outcome struct {
	Decision Decision
	// Code is the reason code (an approval's or a decline's), in the vocabulary of the trigger
	// table or of the processor; the API that reads it knows that vocabulary.
	Code     string
	Message  string        // Message is the processor's text (Fortis verbiage).
	AuthCode string        // AuthCode is the approval code.
	AVS      AVSResult     // AVS is empty when no address check ran.
	CVV      CVVResult     // CVV is empty when no CVV check ran.
	Delay    time.Duration // Delay is how long the processor deliberately waited (sandbox delays).
	// Pending marks an approval whose money moves later (an ach debit); the transaction stays
	// PENDING until its batch time.
	Pending bool
}

// ProcessorFunc adapts a function to a Processor (a test's processor, or a wrapper of one).
type ProcessorFunc func(ctx context.Context, r *Request) (*Outcome, error)

// Process calls f.
func (f ProcessorFunc) Process(ctx context.Context, r *Request) (*Outcome, error) {
	return f(ctx, r)
}
