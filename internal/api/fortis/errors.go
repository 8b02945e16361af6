package fortis

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// The fixed error texts of §1.4.
const (
	msgBadJSON       = "Invalid JSON data in request body: Syntax error."
	msgUnauthorized  = "Your request was made with invalid credentials."
	msgNoACH         = "You are not signed up for the ACH service."
	msgPageNotFound  = "Page not found."
	msgGone          = "The record has been deleted."
	msgInternal      = "An internal server error occurred."
	msgLocation      = "location_id provided is not valid"
	msgTooLarge      = "Request body is too large."
	msgOriginRefused = "This origin may not create card tickets for this location."
	msgBINForACH     = "BIN info is not available for ach accounts."
)

// httpError is an error answered with the {"name","message","code","status"} body.
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string { return fmt.Sprintf("fortis: %d %s", e.status, e.message) }

func errStatus(status int, message string) error { return &httpError{status: status, message: message} }

// errNotFound is the 404 of a missing record. An id that holds a long digit run (a card
// number sent by mistake), or is a bank account number or an IBAN, is echoed masked
// (httpx.RedactID).
func errNotFound(id string) error {
	return errStatus(http.StatusNotFound, "Object not found: "+httpx.RedactID(id))
}

// fieldErrors collects 422 messages: one per field, the first rule it fails. The keys are
// written in the order of the resource's field table.
type fieldErrors struct {
	order []string // order is the field table; unknown fields follow in insertion order.
	msgs  map[string]string
	added []string
	// fault is a lookup's failure for another reason than the value it looked up (the
	// database cannot serve): the request is answered with it (a 503), not with a 422 that
	// would tell the client its value is wrong.
	fault error
}

func newFieldErrors(order []string) *fieldErrors {
	return &fieldErrors{order: order, msgs: map[string]string{}}
}

// add records msg for field unless the field already has a message.
func (e *fieldErrors) add(field, msg string) {
	if _, ok := e.msgs[field]; ok {
		return
	}
	e.msgs[field] = msg
	e.added = append(e.added, field)
}

// lookupFailed records the failure of a lookup a field's value needed (a location, a contact,
// a service): msg on field when the record is missing or refused, the error itself
// (answered as a 503 or 500) when the database failed.
func (e *fieldErrors) lookupFailed(field, msg string, err error) {
	if k := vault.KindOf(err); k == vault.Unavailable || k == vault.Internal {
		if e.fault == nil {
			e.fault = err
		}
		return
	}
	e.add(field, msg)
}

// failed reports whether field has a message.
func (e *fieldErrors) failed(field string) bool { _, ok := e.msgs[field]; return ok }

// any reports whether any field failed, or a lookup.
func (e *fieldErrors) any() bool { return len(e.msgs) > 0 || e.fault != nil }

// err returns the errors as an error, or nil when there are none: a failed lookup's fault
// before any field's message.
func (e *fieldErrors) err() error {
	if e.fault != nil {
		return e.fault
	}
	if !e.any() {
		return nil
	}
	return &validationError{e}
}

// body returns {"errors":{…}} with the keys in field-table order.
func (e *fieldErrors) body() object {
	keys := slices.Clone(e.added)
	rank := func(k string) int {
		if i := slices.Index(e.order, k); i >= 0 {
			return i
		}
		return len(e.order) + slices.Index(e.added, k)
	}
	slices.SortStableFunc(keys, func(a, b string) int { return rank(a) - rank(b) })
	errs := make(object, 0, len(keys))
	for _, k := range keys {
		errs = append(errs, member{k, []string{e.msgs[k]}})
	}
	return object{{"errors", errs}}
}

// validationError is a 422.
type validationError struct{ fe *fieldErrors }

func (e *validationError) Error() string {
	return "fortis: validation failed on " + strings.Join(e.fe.added, ", ")
}

// invalid returns a one-field 422.
func invalid(order []string, field, msg string) error {
	fe := newFieldErrors(order)
	fe.add(field, msg)
	return fe.err()
}

// cardNumberFields is the 422 of a core refusal of names or labels that hold a card number
// (vault.ErrCardNumber): each field it names, on its wire name and in the order of the
// resource's field table, with "{Label} is invalid.". It is nil for any other error.
func cardNumberFields(err error, order []string) error {
	if !errors.Is(err, vault.ErrCardNumber) {
		return nil
	}
	fe := newFieldErrors(order)
	for _, f := range vault.Fields(err) {
		f = wireName(f)
		fe.add(f, msgInvalid(f))
	}
	return fe.err()
}

// wireName is a vault resource's wire name for a core field the checks of names report: the
// core's holder_name is account_holder_name; the others are named alike.
func wireName(core string) string {
	if core == "holder_name" {
		return "account_holder_name"
	}
	return core
}

// label turns a field name into its Yii2 label: "account_vault_api_id" is "Account Vault Api Id".
func label(field string) string {
	words := strings.Split(field, "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// The Yii2 message templates of §1.4.
func msgRequired(f string) string { return label(f) + " cannot be blank." }
func msgMin(f string, n int) string {
	return fmt.Sprintf("%s should contain at least %d characters.", label(f), n)
}
func msgMax(f string, n int) string {
	return fmt.Sprintf("%s should contain at most %d characters.", label(f), n)
}
func msgExact(f string, n int) string {
	return fmt.Sprintf("%s should contain %d characters.", label(f), n)
}
func msgString(f string) string  { return label(f) + " must be a string." }
func msgBool(f string) string    { return label(f) + ` must be either "1" or "0".` }
func msgInteger(f string) string { return label(f) + " must be an integer." }
func msgNumber(f string) string  { return label(f) + " must be a number." }
func msgInvalid(f string) string { return label(f) + " is invalid." }
func msgEmail(f string) string   { return label(f) + " is not a valid email address." }
func msgDate(f string) string    { return "The format of " + label(f) + " is invalid." }
func msgLocked(f string) string  { return label(f) + " cannot be changed." }

// msgTaken repeats the api id the request sent, masked as a path id is in "Object not found"
// (httpx.RedactValue): a reference may hold a card number sent by mistake.
func msgTaken(f, v string) string {
	return fmt.Sprintf("%s %q has already been taken.", label(f), httpx.RedactValue(v))
}

// statusNames are the names of the statuses this API answers.
var statusNames = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
	410: "Gone", 413: "Payload Too Large", 417: "Expectation Failed", 422: "Unprocessable entity",
	429: "Too Many Requests", 431: "Request Header Fields Too Large",
	500: "Internal Server Error", 503: "Service Unavailable",
}

// writeUnavailable answers 503 with Retry-After.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", httpx.RetryAfterUnavailable)
	writeStatus(w, http.StatusServiceUnavailable, "The service is temporarily unavailable.")
}

// writeStatus writes the {"name","message","code","status"} body.
func writeStatus(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, object{{"name", statusNames[status]}, {"message", message}, {"code", 0}, {"status", status}})
}

// writeError answers err in the Fortis envelope: a 422 with its field errors, a status error
// as it says, and a core error by its Kind. Internal errors are logged with the request id and
// answered with a generic message.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, payments.ErrInFlight) {
		// A retry must not reach the processor again: it gets this answer until recovery
		// completes the transaction, and the transaction's own answer after (the core said
		// idempotency.Made; refreshTxn).
		idempotency.Keep(r.Context())
	}
	idempotency.KeepIfStored(r.Context(), err)
	var ve *validationError
	if errors.As(err, &ve) {
		writeJSON(w, http.StatusUnprocessableEntity, ve.fe.body())
		return
	}
	var he *httpError
	if errors.As(err, &he) {
		writeStatus(w, he.status, he.message)
		return
	}
	e := vault.AsError(err)
	kind := vault.KindOf(err)
	switch kind {
	case vault.NotFound:
		id := ""
		if e != nil {
			id = e.ID
		}
		writeStatus(w, http.StatusNotFound, "Object not found: "+httpx.RedactID(id))
	case vault.Gone:
		writeStatus(w, http.StatusGone, msgGone)
	case vault.Unauthenticated:
		writeStatus(w, http.StatusUnauthorized, msgUnauthorized)
	case vault.Forbidden:
		writeStatus(w, http.StatusForbidden, msgNoACH)
	case vault.RateLimited:
		if ra := httpx.RetryAfter(err); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		writeStatus(w, http.StatusTooManyRequests, "Rate limit exceeded.")
	case vault.Invalid, vault.Conflict:
		field := "id"
		if e != nil && e.Field != "" {
			field = e.Field
		}
		writeJSON(w, http.StatusUnprocessableEntity, object{{"errors", object{{field, []string{msgInvalid(field)}}}}})
	case vault.Unavailable:
		a.log.Warn("fortis: dependency unavailable", "id", httpx.InfoFrom(r.Context()).ID, "err", err)
		writeUnavailable(w)
	default:
		a.log.Error("fortis: internal error", "id", httpx.InfoFrom(r.Context()).ID, "err", err)
		writeStatus(w, http.StatusInternalServerError, msgInternal)
	}
}
