// Package admin serves payvault's own operator API under /admin/v1: merchants, locations,
// allowed browser origins, Fortis users, product transactions and the mandate status control.
// It is the one home of the operator endpoints that both vendor specifications sketch; their
// /admin routes and adminKey scheme are superseded.
//
// Every request but the OpenAPI document needs the admin token as a Bearer credential.
// Errors are {"error":{"code","message"[,"field"]}} with a matching HTTP status.
package admin

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/vault"
)

// Config configures the admin API.
type Config struct {
	Vault *vault.Service // Vault is the domain core.
	// CheckToken reports whether a bearer token is the admin token (app.Main.CheckAdminToken);
	// an error says it could not tell (the store is down): 503, not 401.
	CheckToken func(ctx context.Context, token string) (bool, error)
	// Logger receives internal errors with the request id.
	Logger *slog.Logger
	// Idempotency, when set, runs every POST under the Idempotency-Key discipline; answers
	// that carry secrets are never kept.
	Idempotency *idempotency.Keeper
	// Limits, when set, rate-limits requests with the admin token and failed authentications
	// per client address: 429 rate_limited with Retry-After.
	Limits *httpx.Limits
}

// API serves /admin/v1.
type API struct {
	cfg     Config
	vault   *vault.Service
	log     *slog.Logger
	router  *httpx.Router
	handler http.Handler
}

//go:embed openapi.yaml
var openAPIFS embed.FS

// OpenAPI returns the admin API's OpenAPI document.
func OpenAPI() []byte {
	b, _ := openAPIFS.ReadFile("openapi.yaml")
	return b
}

// New returns the admin API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, vault: cfg.Vault, log: cfg.Logger}
	a.router = &httpx.Router{
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "not_found", "No such route.", "")
		},
		MethodNotAllowed: func(w http.ResponseWriter, r *http.Request, allow []string) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The route does not support this method.", "")
		},
		Unparsed: func(w http.ResponseWriter, r *http.Request, u *httpx.Unparsed) {
			writeError(w, u.Status, "bad_request", u.Message(), "")
		},
	}
	a.routes()
	a.handler = httpx.Recover(a.router, a.log, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusInternalServerError, "internal", "An internal error occurred.", "")
	})
	return a
}

// Handle registers a route behind the admin token, for other packages' operator endpoints
// (the payments package adds POST /admin/v1/batch). h returns an error for writeError.
func (a *API) Handle(method, pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	a.router.Handle(method, pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := a.cfg.Limits.CheckClient(r); err != nil {
			writeRateLimited(w, err)
			return
		}
		ok, err := a.authorized(r)
		if err != nil {
			writeUnavailable(w)
			return
		}
		if !ok {
			a.cfg.Limits.Failed(r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="payvault-admin"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "A valid admin token is required (Authorization: Bearer).", "")
			return
		}
		if err := a.cfg.Limits.CheckCredential("admin"); err != nil {
			writeRateLimited(w, err)
			return
		}
		r = r.WithContext(vault.WithActor(r.Context(), "admin"))
		run := func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				a.writeErr(w, r, err)
			}
		}
		if method == http.MethodPost && a.cfg.Idempotency != nil {
			a.cfg.Idempotency.Serve(w, r, "", "admin", writeIdempotencyConflict, nil, run)
			return
		}
		run(w, r)
	})
}

// writeRateLimited answers a request over the rate limits: 429 with Retry-After.
func writeRateLimited(w http.ResponseWriter, err error) {
	if ra := httpx.RetryAfter(err); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests; retry after the number of seconds in Retry-After.", "")
}

// writeUnavailable answers 503 unavailable with Retry-After.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", httpx.RetryAfterUnavailable)
	writeError(w, http.StatusServiceUnavailable, "unavailable", "The service is unavailable; retry later.", "")
}

// writeIdempotencyConflict answers a refused Idempotency-Key repeat with 409.
func writeIdempotencyConflict(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
	if why == idempotency.Unavailable {
		writeUnavailable(w)
		return
	}
	msg := "The Idempotency-Key was already used with a different request."
	switch why {
	case idempotency.InProgress:
		msg = "A request with this Idempotency-Key is still being processed."
	case idempotency.NotReplayable:
		msg = "The request with this Idempotency-Key was already processed; its answer held secrets and was not kept."
	}
	writeError(w, http.StatusConflict, "idempotency_conflict", msg, "")
}

// ServeHTTP answers a request under /admin/v1.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpx.InfoFrom(r.Context()).API = "admin"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	a.handler.ServeHTTP(w, r)
}

// authorized checks the Bearer admin token.
func (a *API) authorized(r *http.Request) (bool, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" || a.cfg.CheckToken == nil {
		return false, nil
	}
	if ok, err := a.cfg.CheckToken(r.Context(), strings.TrimSpace(tok)); !ok || err != nil {
		return false, err
	}
	httpx.InfoFrom(r.Context()).Cred = "admin"
	return true, nil
}

// errorBody is the admin error envelope.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// apiError is an admin error ready to render.
type apiError struct {
	status        int
	code, message string
	field         string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(code, message, field string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message, field: field}
}

func writeError(w http.ResponseWriter, status int, code, message, field string) {
	writeJSON(w, status, errorBody{Error: errorObject{Code: code, Message: message, Field: field}})
}

// writeErr maps an error to the admin envelope: core Kinds to statuses, internal errors to a
// generic 500 logged with the request id.
func (a *API) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, ae.status, ae.code, ae.message, ae.field)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "The request body is too large.", "")
		return
	}
	ve := vault.AsError(err)
	kind := vault.KindOf(err)
	field := ""
	if ve != nil {
		field = ve.Field
	}
	switch kind {
	case vault.Invalid:
		msg := "The value is invalid."
		if why := reason(err); why != "" {
			msg = "The value is invalid: " + why + "."
		}
		writeError(w, http.StatusBadRequest, "invalid", msg, field)
	case vault.NotFound, vault.Gone:
		writeError(w, http.StatusNotFound, "not_found", "No such record.", "")
	case vault.Conflict:
		writeError(w, http.StatusConflict, "conflict", "The value is already in use.", field)
	case vault.RateLimited:
		writeRateLimited(w, err)
	case vault.Unavailable:
		idempotency.KeepIfStored(r.Context(), err)
		writeUnavailable(w)
	default:
		a.log.LogAttrs(r.Context(), slog.LevelError, "admin: internal error",
			slog.String("id", httpx.InfoFrom(r.Context()).ID), slog.String("err", err.Error()))
		writeError(w, http.StatusInternalServerError, "internal", "An internal error occurred.", "")
	}
}

// reasons are the core's fixed reasons an invalid value is given with: texts without any
// value from the request.
var reasons = []error{vault.ErrRequired, vault.ErrFormat, vault.ErrLength, vault.ErrUnusable, vault.ErrDuplicate,
	vault.ErrImmutable, vault.ErrWrongMerchant, vault.ErrBadStatus, vault.ErrNotInProfile}

// reason returns the text of err's innermost cause below its *vault.Errors when that is one
// of reasons, else "". Neither an *vault.Error's own text (which names the record id, and so
// may repeat what the client sent, and repeats the kind) nor any other cause is shown; what
// it returns is masked (httpx.RedactDigits) all the same.
func reason(err error) string {
	for {
		var e *vault.Error
		if !errors.As(err, &e) || e.Err == nil {
			break
		}
		err = e.Err
	}
	for _, r := range reasons {
		if err == r {
			return httpx.RedactDigits(r.Error())
		}
	}
	return ""
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"An internal error occurred."}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// decode reads a strict JSON object body into v, a pointer to a struct whose json tags name
// every field the body may hold. A body cut off, empty, not JSON or followed by more data is
// 400 bad_json; another JSON value than an object (null, [], 1, "x"), an unknown field (names
// match exactly, not ignoring case), a wrong type (null included: no field is nullable), a
// NUL in a string, or a required field absent or null is 400 invalid.
func decode(r *http.Request, v any, required ...string) error {
	return decodeBody(r, v, false, required)
}

// decodeOptional is decode for a route whose body may be left out: an empty body is {}.
func decodeOptional(r *http.Request, v any) error {
	return decodeBody(r, v, true, nil)
}

func decodeBody(r *http.Request, v any, optional bool, required []string) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err // 413 too_large
		}
		// A body cut off before its Content-Length, or with a bad chunk, is not one JSON value.
		return badRequest("bad_json", "The body could not be read in full.", "")
	}
	if len(bytes.Trim(b, " \t\r\n")) == 0 {
		if !optional {
			return badRequest("bad_json", "The body is empty; it must be a JSON object.", "")
		}
		b = []byte("{}")
	}
	if !utf8.Valid(b) {
		// JSON text is UTF-8 (RFC 8259); the decoder would silently replace bad bytes.
		return badRequest("bad_json", "The body is not valid UTF-8.", "")
	}
	// One JSON value and nothing after it. Numbers stay text here: one too large for its
	// field is that field's wrong type, below.
	var all any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&all); err != nil {
		return badRequest("bad_json", "The body is not valid JSON.", "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("bad_json", "The body has data after the JSON value.", "")
	}
	obj, ok := all.(map[string]any)
	if !ok {
		return badRequest("invalid", "The body must be a JSON object.", "")
	}
	if holdsNUL(all) {
		return badRequest("invalid", "A string holds a NUL character.", "")
	}
	// encoding/json matches names ignoring case, so {"allowed_origins":[…],"Allowed_Origins":null}
	// would pass the required check below and still clear the field: names must match exactly.
	known := jsonNames(v)
	names := slices.Sorted(maps.Keys(obj))
	for _, k := range names {
		if !known[k] {
			// The name is repeated back, masked as a path id is (httpx.RedactID): a client may
			// have sent a card number, a bank account number or an IBAN as one.
			return badRequest("invalid", "Unknown field.", httpx.RedactID(k))
		}
	}
	// No field is nullable (openapi.yaml): encoding/json would read null as the field left
	// out, so {"merchant_id":null} would batch every merchant. A required one is missing
	// (below); any other is the wrong type.
	for _, k := range names {
		if obj[k] == nil && !slices.Contains(required, k) {
			return badRequest("invalid", k+" may not be null; leave it out instead.", k)
		}
	}
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest("invalid", "The field has the wrong type.", ute.Field)
		}
		return badRequest("invalid", "The body does not fit the request.", "")
	}
	for _, f := range required {
		if obj[f] == nil {
			return badRequest("invalid", f+" is required.", f)
		}
	}
	return nil
}

// jsonNames returns the json names of the fields of the struct v points to.
func jsonNames(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}

// holdsNUL reports whether any string (or key) in a decoded JSON value holds a NUL, which no
// stored value may (PostgreSQL text cannot).
func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, e := range v {
			if holdsNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.IndexByte(k, 0) >= 0 || holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// routes registers the admin routes.
func (a *API) routes() {
	a.router.Handle(http.MethodGet, "/admin/v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI())
	})
	a.Handle(http.MethodPost, "/admin/v1/merchants", a.handleMerchantCreate)
	a.Handle(http.MethodGet, "/admin/v1/merchants", a.handleMerchantList)
	a.Handle(http.MethodGet, "/admin/v1/merchants/{mid}", a.handleMerchantGet)
	a.Handle(http.MethodPut, "/admin/v1/merchants/{mid}/allowed-origins", a.handleMerchantOrigins)
	a.Handle(http.MethodPost, "/admin/v1/merchants/{mid}/locations", a.handleLocationCreate)
	a.Handle(http.MethodGet, "/admin/v1/merchants/{mid}/locations", a.handleLocationList)
	a.Handle(http.MethodGet, "/admin/v1/merchants/{mid}/locations/{lid}", a.handleLocationGet)
	a.Handle(http.MethodPut, "/admin/v1/merchants/{mid}/locations/{lid}/allowed-origins", a.handleLocationOrigins)
	a.Handle(http.MethodPost, "/admin/v1/merchants/{mid}/users", a.handleUserCreate)
	a.Handle(http.MethodGet, "/admin/v1/merchants/{mid}/users", a.handleUserList)
	a.Handle(http.MethodGet, "/admin/v1/merchants/{mid}/users/{uid}", a.handleUserGet)
	a.Handle(http.MethodPut, "/admin/v1/merchants/{mid}/users/{uid}", a.handleUserUpdate)
	a.Handle(http.MethodPost, "/admin/v1/merchants/{mid}/product-transactions", a.handleProductTransactionCreate)
	a.Handle(http.MethodGet, "/admin/v1/merchants/{mid}/product-transactions", a.handleProductTransactionList)
	a.Handle(http.MethodGet, "/admin/v1/merchants/{mid}/product-transactions/{id}", a.handleProductTransactionGet)
	a.Handle(http.MethodPost, "/admin/v1/mandates/{id}/status", a.handleMandateStatus)
}
