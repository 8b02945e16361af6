package paysafe

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/vault"
)

// codeInfo is one row of the Paysafe error table (§1.8): its HTTP status and exact message.
type codeInfo struct {
	status  int
	message string
}

// codeTable holds every Paysafe error code the product answers with, vault and card payments
// alike. It is read-only.
var codeTable = map[string]codeInfo{
	"1000": {500, "An internal error occurred."},
	"1007": {500, "An internal error occurred."},
	// 1200 is the product's rate-limit code (the reference has none; see README).
	"1200": {429, "You have exceeded the maximum number of allowed API calls."},
	"3002": {400, "You submitted an invalid card number or brand or combination of card number and brand with your request."},
	"3006": {400, "You submitted an expired credit card number with your request."},
	"3007": {402, "Your request has failed the AVS check. Note that the amount has still been reserved on the customer's card and will be released in 3–5 business days. Please ensure the billing address is accurate before retrying the transaction."},
	"3009": {402, "Your request has been declined by the issuing bank."},
	"3015": {402, "The bank has requested that you process the transaction manually by calling the cardholder's credit card company."},
	"3022": {402, "The card has been declined due to insufficient funds."},
	"3023": {402, "Your request has been declined by the issuing bank due to its proprietary card activity regulations."},
	"3024": {402, "Your request has been declined because the issuing bank does not permit the transaction for this card."},
	"3031": {400, "The confirmation number you submitted with your request references a transaction that is not on hold."},
	"3060": {402, "Strong Customer Authentication is required for this transaction."},
	"3203": {402, "The Authorization is either fully settled or cancelled."},
	"3204": {402, "The requested Settlement amount exceeds the remaining Authorization amount."},
	"3402": {402, "The requested Refund amount exceeds the remaining Settlement amount."},
	"3404": {402, "The Settlement has already been fully refunded."},
	"3415": {402, "You cannot cancel this transaction as it is no longer in a pending state."},
	"3501": {402, "The requested Authorization Reversal amount exceeds the remaining Authorization amount."},
	"3502": {402, "You cannot process an Authorization Reversal transaction against an Authorization that has been settled."},
	"4001": {402, "The card number or email address associated with this transaction is in our negative database."},
	"4002": {402, "The transaction was declined by our Risk Management department."},
	"5023": {400, "You submitted a request that is not parseable."},
	"5031": {409, "The transaction you have submitted has already been processed."},
	"5040": {400, "Your merchant account is not configured for the transaction you attempted."},
	"5068": {400, "Either you submitted a request that is missing a mandatory field or the value of a field does not match the format expected."},
	"5269": {404, "The ID(s) specified in the URL do not correspond to the values in the system."},
	"5270": {403, "The credentials provided with the request do not have permission to access the requested data."},
	"5273": {404, "Your client reached our application but we were unable to service your request due to an invalid URL."},
	"5279": {401, "The authentication credentials are invalid."},
	"5280": {401, "The required authentication credentials were not provided."},
	"5281": {405, "The request uses an action (e.g., GET, POST, or PUT) that is not supported by the resource."},
	"5500": {400, "Either the payment token is invalid or the corresponding profile or credit card is not active."},
	"5501": {400, "The profile does not have an active credit card."},
	"7503": {409, "Card number already in use"},
	"7505": {409, "The merchantCustomerId provided for this profile has already been used for another profile"},
	"7508": {400, "You submitted an invalid card number or brand or combination of card number and brand with your request."},
	"7511": {400, "The billing address specified could not be found in this profile."},
	"7521": {409, "The merchantCustomerId provided is used in the following number of profiles"},
}

// Field-error texts shared by several rules (§3).
const (
	msgEmpty        = "may not be empty"
	msgNull         = "may not be null"
	msgInvalidValue = "Invalid value"
	msgNotInSystem  = "The specified value does not exist in the system."
	msgInvalidCard  = "Invalid card number or brand"
	msgCardNumber   = "must not contain a card number" // msgCardNumber is the product's own (README).
)

// apiError is a Paysafe error ready to render. Its text never holds request data.
type apiError struct {
	Code        string
	Status      int    // Status is the HTTP status; the table's when 0.
	Message     string // Message is the text; the table's when empty.
	Details     []string
	FieldErrors []fieldError
	Links       []link // Links are top-level links, such as existing_entity on conflicts.
}

// Error returns the code, for logs.
func (e *apiError) Error() string { return "paysafe error " + e.Code }

// status returns the HTTP status of e.
func (e *apiError) status() int {
	if e.Status != 0 {
		return e.Status
	}
	if c, ok := codeTable[e.Code]; ok {
		return c.status
	}
	return http.StatusInternalServerError
}

// message returns the message of e.
func (e *apiError) message() string {
	if e.Message != "" {
		return e.Message
	}
	return codeTable[e.Code].message
}

// fieldError is one entry of fieldErrors; Field is a dotted path such as card.billingAddress.country.
type fieldError struct {
	Field string `json:"field"`
	Error string `json:"error"`
}

// link is a Paysafe hypermedia link.
type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// errorObject is the "error" member of every Paysafe error body.
type errorObject struct {
	Code        string       `json:"code"`
	Message     string       `json:"message"`
	Details     []string     `json:"details,omitempty"`
	FieldErrors []fieldError `json:"fieldErrors,omitempty"`
	Links       []link       `json:"links"`
}

// errorEnvelope is the plain error body: {"error":{…}} plus conflict links.
type errorEnvelope struct {
	Error errorObject `json:"error"`
	Links []link      `json:"links,omitempty"`
}

// newError returns the error for code with the table's status and message.
func newError(code string) *apiError { return &apiError{Code: code} }

// invalid returns a 5068 with field errors.
func invalid(fes ...fieldError) *apiError { return &apiError{Code: "5068", FieldErrors: fes} }

// notFound returns the 404/5269 for the first unresolved path id. An id that holds a long
// digit run (a card number sent by mistake), or is a bank account number or an IBAN, is
// echoed masked (httpx.RedactID).
func notFound(id string) *apiError {
	return &apiError{Code: "5269", Message: codeTable["5269"].message + ": " + httpx.RedactID(id)}
}

// refNotFound is the 404/5269 of a merchantCustomerId that a lookup does not find: a
// customer reference, often a number, echoed as sent but for a long digit run or a valid
// IBAN (httpx.RedactValue).
func refNotFound(ref string) *apiError {
	return &apiError{Code: "5269", Message: codeTable["5269"].message + ": " + httpx.RedactValue(ref)}
}

// errorInfoHref is the errorinfo link of code for the API the request addressed (§1.7).
func errorInfoHref(r *http.Request, code string) string {
	if strings.HasPrefix(r.URL.Path, "/cardpayments") {
		return "https://developer.paysafe.com/en/rest-api/cards/test-and-go-live/card-errors/#ErrorCode" + code
	}
	return "https://developer.paysafe.com/en/rest-api/vault/test-and-go-live/vault-errors/#ErrorCode" + code
}

// errorObject renders e for the request, with its errorinfo link.
func (e *apiError) object(r *http.Request) errorObject {
	return errorObject{
		Code: e.Code, Message: e.message(), Details: e.Details, FieldErrors: e.FieldErrors,
		Links: []link{{Rel: "errorinfo", Href: errorInfoHref(r, e.Code)}},
	}
}

// writeError answers err in the Paysafe envelope with X-Application-Status-Code. Every
// error path of the package ends here; the card-payment envelope builds on toAPIError and
// apiError.object instead.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	idempotency.KeepIfStored(r.Context(), err)
	e := a.toAPIError(r, err)
	if e.Code == "5279" || e.Code == "5280" {
		w.Header().Set("WWW-Authenticate", `Basic realm="authSecurity"`)
	}
	if ra := httpx.RetryAfter(err); ra != "" {
		w.Header().Set("Retry-After", ra)
	} else if e.status() == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", httpx.RetryAfterUnavailable)
	}
	w.Header().Set("X-Application-Status-Code", e.Code)
	writeJSON(w, e.status(), errorEnvelope{Error: e.object(r), Links: e.Links})
}

// ctxError carries the wire context of a core error: which instrument kind "number" means
// and the dotted prefix of nested fields.
type ctxError struct {
	wire wireCtx
	err  error
}

func (e *ctxError) Error() string { return e.err.Error() }
func (e *ctxError) Unwrap() error { return e.err }

// wireCtx says how the core's field names read on the wire for one part of a request.
type wireCtx struct {
	kind    string // kind is the instrument kind, for "number" and "holder_name".
	prefix  string // prefix is the dotted path of the part, e.g. "card.".
	profile string // profile is the dotted path of the customer's names, e.g. "profile." in a bank token.
}

// wrap attaches c to a core error.
func (c wireCtx) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &ctxError{wire: c, err: err}
}

// wireField is the Paysafe name of a core field: the one place core names meet wire names.
func (c wireCtx) wireField(core string) string {
	var f string
	switch core {
	case "number":
		switch c.kind {
		case vault.KindCard:
			f = "cardNum"
		case vault.KindSEPA:
			f = "iban"
		default:
			f = "accountNumber"
		}
	case "expiry":
		f = "cardExpiry"
	case "routing_number":
		f = "routingNumber"
	case "account_type":
		f = "accountType"
	case "sort_code":
		f = "sortCode"
	case "transit_number":
		f = "transitNumber"
	case "institution_id":
		f = "institutionId"
	case "billing_address_id":
		f = "billingAddressId"
	case "token":
		f = "singleUseToken"
	case "merchant_customer_id":
		f = "merchantCustomerId"
	case "holder_name":
		f = "accountHolderName"
		if c.kind == vault.KindCard {
			f = "holderName"
		}
	case "nick_name":
		f = "nickName"
	case "recipient_name":
		f = "recipientName"
	case "first_name", "middle_name", "last_name":
		// The customer's names are never inside the instrument part of a request (a
		// profile created with its card has them beside the card).
		return c.profile + map[string]string{"first_name": "firstName", "middle_name": "middleName", "last_name": "lastName"}[core]
	case "":
		return strings.TrimSuffix(c.prefix, ".")
	default:
		f = core // bic, cvv, status, reference, mandates…
	}
	return c.prefix + f
}

// reasonText is the fieldErrors text for a core reason on a wire field.
func reasonText(field string, reason error) string {
	base := field[strings.LastIndexByte(field, '.')+1:]
	switch {
	case errors.Is(reason, vault.ErrRequired):
		return msgEmpty
	case errors.Is(reason, vault.ErrUnusable):
		return msgNotInSystem
	case errors.Is(reason, vault.ErrLuhn):
		return "Luhn checksum failed"
	case errors.Is(reason, vault.ErrRouting):
		return "Invalid routing number"
	case errors.Is(reason, vault.ErrBadStatus):
		return "Invalid Status"
	case errors.Is(reason, vault.ErrBrand):
		return msgInvalidCard
	case errors.Is(reason, vault.ErrCardNumber):
		return msgCardNumber
	}
	switch base {
	case "cardNum":
		if errors.Is(reason, vault.ErrLength) {
			return "size must be between 12 and 20"
		}
		return "must contain only digits"
	case "accountNumber":
		return "Invalid account number"
	case "routingNumber":
		return "Invalid routing number"
	case "accountType":
		return "Invalid Account Type"
	case "sortCode":
		return "Invalid sort code"
	case "transitNumber":
		return "Invalid transit number"
	case "institutionId":
		return "Invalid institution ID"
	case "iban":
		return "Invalid IBAN"
	case "bic":
		return "Invalid BIC"
	case "cvv":
		return "size must be between 3 and 4"
	}
	return msgInvalidValue
}

// toAPIError maps any error to a Paysafe error: an *apiError as is, a core error by its Kind,
// Field and reason, anything else to 500/1000, logged with the request id.
func (a *API) toAPIError(r *http.Request, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var wc wireCtx
	var ce *ctxError
	if errors.As(err, &ce) {
		wc = ce.wire
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	}
	ve := vault.AsError(err)
	if ve == nil {
		return a.internal(r, err)
	}
	switch ve.Kind {
	case vault.NotFound, vault.Gone:
		return notFound(ve.ID)
	case vault.Invalid:
		field := wc.wireField(ve.Field)
		switch {
		case ve.Field == "profile_id":
			return notFound(ve.ID)
		case ve.Field == "billing_address_id" && errors.Is(ve, vault.ErrNotInProfile):
			return &apiError{Code: "7511", FieldErrors: []fieldError{{Field: "billingAddressId", Error: msgNotInSystem}}}
		case ve.Field == "number" && wc.kind == vault.KindCard && errors.Is(ve, vault.ErrBrand):
			return &apiError{Code: "7508", FieldErrors: []fieldError{{Field: field, Error: msgInvalidCard}}}
		case ve.Field == "location_id":
			return newError("5270")
		}
		return invalid(fieldError{Field: field, Error: reasonText(field, ve.Err)})
	case vault.Conflict:
		if ve.Field == "number" && ve.ID != "" {
			return &apiError{Code: "7503", Message: codeTable["7503"].message + " - " + ve.ID,
				Links: []link{{Rel: "existing_entity", Href: httpx.BaseURL(r, a.cfg.PublicBaseURL) + "/customervault/v1/cards/" + ve.ID}}}
		}
		if ve.Field == "merchant_customer_id" && ve.ID != "" {
			return &apiError{Code: "7505", Message: codeTable["7505"].message + " - " + ve.ID,
				Links: []link{{Rel: "existing_entity", Href: httpx.BaseURL(r, a.cfg.PublicBaseURL) + "/customervault/v1/profiles/" + ve.ID}}}
		}
		return a.internal(r, err)
	case vault.Unauthenticated:
		return newError("5279")
	case vault.Forbidden:
		return newError("5270")
	case vault.RateLimited:
		return newError("1200")
	case vault.Unavailable:
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "paysafe: service unavailable", slog.String("id", httpx.InfoFrom(r.Context()).ID), slog.String("err", err.Error()))
		return errUnavailable()
	}
	return a.internal(r, err)
}

// errUnavailable is the answer while the database cannot serve: 503/1000.
func errUnavailable() *apiError {
	return &apiError{Code: "1000", Status: http.StatusServiceUnavailable, Message: "The service is temporarily unavailable; retry later."}
}

// internal logs an unexpected error with the request id and returns the generic 500/1000.
func (a *API) internal(r *http.Request, err error) *apiError {
	a.log.LogAttrs(r.Context(), slog.LevelError, "paysafe: internal error",
		slog.String("id", httpx.InfoFrom(r.Context()).ID), slog.String("err", err.Error()))
	return newError("1000")
}

// tooLarge is the answer to a body over the limit: 413 with the 5023 envelope.
func tooLarge(limit int64) *apiError {
	return &apiError{Code: "5023", Status: http.StatusRequestEntityTooLarge,
		Details: []string{"The request body is larger than the limit of " + itoa(limit) + " bytes."}}
}
