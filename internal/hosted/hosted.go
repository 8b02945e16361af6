// Package hosted serves payvault's browser side: payvault.js, the hosted payment-field pages
// that merchant pages embed in iframes, and the sandbox demo checkout.
//
// A merchant page includes /hosted/v1/payvault.js and mounts a form; the form is an iframe on
// payvault's origin (/hosted/v1/fields/{card,ach,eft}) that holds the card or bank-account
// inputs, checks them as they are typed, and creates a single-use token (Paysafe mode, POST
// /customervault/v1/singleusetokens with the single-use key) or a card ticket (Fortis mode,
// POST /v2/cardtickets with the location's browser HMAC) itself. The merchant page only ever
// receives the token and masked data (brand, last four, expiry) through postMessage, and both
// sides check the other's origin.
//
// The package holds no business rules: which origins may frame the fields is
// vault.OriginAllowed, tokens are made by the vendor APIs, and the demo's payment is
// payments.Service.Authorize.
package hosted

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// Authorizer runs an authorization; *payments.Service implements it.
type Authorizer interface {
	// Authorize runs an authorization-like transaction; see payments.Service.Authorize.
	Authorize(ctx context.Context, p *vault.Principal, req payments.AuthRequest) (*payments.Transaction, error)
}

// Config configures the hosted pages.
type Config struct {
	Vault *vault.Service // Vault is the domain core.
	// Payments authorizes the demo checkout's payments; the demo is off when it is nil.
	Payments Authorizer
	// Demo serves /demo/checkout for sandbox merchants (serve --demo).
	Demo bool
	// PaymentsAPI names the vendor API the demo's authorizations are recorded under; it picks
	// the sandbox processor's trigger table ("paysafe").
	PaymentsAPI string
	// DeclineMessage returns the text of a processor decline code, shown by the demo; the
	// code itself is shown when it returns false or is nil.
	DeclineMessage func(code string) (string, bool)
	// PublicBaseURL is payvault's scheme and host as browsers see it; the request's when empty.
	PublicBaseURL string
	// TrustedUpstream says a proxy terminates TLS in front of payvault, so that a live
	// merchant's fields may be served over its plain HTTP.
	TrustedUpstream bool
	// Logger receives internal errors with the request id; never request data.
	Logger *slog.Logger
}

// Handler serves /hosted/ and /demo/.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	router *httpx.Router
	pages  *template.Template
	brands string // brands is the browser's brand table, as JSON.
	// demoLimit paces the demo's POSTs per client address: they are anonymous, and each
	// payment writes a transaction and an audit record.
	demoLimit *httpx.Limiter
}

//go:embed static templates
var files embed.FS

// New returns the handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		cfg:       cfg,
		log:       cfg.Logger,
		pages:     template.Must(template.ParseFS(files, "templates/*.html")),
		brands:    brandTableJSON(),
		demoLimit: httpx.NewLimiter(demoRate, demoBurst, nil),
	}
	h.router = &httpx.Router{NotFound: h.handleUnknownRoute, MethodNotAllowed: h.handleWrongMethod, Unparsed: h.handleUnparsed}
	h.routes()
	return h
}

// routes registers every route of the package.
func (h *Handler) routes() {
	rt := h.router
	rt.Handle(http.MethodGet, "/hosted/v1/payvault.js", h.handleStatic("payvault.js", "cross-origin"))
	rt.Handle(http.MethodGet, "/hosted/v1/fields.js", h.handleStatic("fields.js", "same-origin"))
	rt.Handle(http.MethodGet, "/hosted/v1/fields.css", h.handleStatic("fields.css", "same-origin"))
	rt.Handle(http.MethodGet, "/hosted/v1/fields/card", h.handleFields(formCard))
	rt.Handle(http.MethodGet, "/hosted/v1/fields/ach", h.handleFields(formACH))
	rt.Handle(http.MethodGet, "/hosted/v1/fields/eft", h.handleFields(formEFT))
	rt.Handle(http.MethodGet, "/demo/checkout", h.handleDemoCheckout)
	rt.Handle(http.MethodGet, "/demo/checkout.js", h.demoOnly(h.handleStatic("checkout.js", "same-origin")))
	rt.Handle(http.MethodGet, "/demo/checkout.css", h.demoOnly(h.handleStatic("checkout.css", "same-origin")))
	rt.Handle(http.MethodPost, "/demo/checkout/credentials", h.handleDemoCredentials)
	rt.Handle(http.MethodPost, "/demo/checkout/pay", h.handleDemoPay)
}

// ServeHTTP answers a request under /hosted/ or /demo/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpx.InfoFrom(r.Context()).API = "hosted"
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	h.router.ServeHTTP(w, r)
}

// contentTypes are the static files' media types by extension.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// handleStatic serves one embedded static file: GET /hosted/v1/payvault.js, the field pages'
// fields.js and fields.css, and the demo's checkout.js and checkout.css. corp is its
// Cross-Origin-Resource-Policy: payvault.js is loaded by merchant pages, the rest only by
// payvault's own pages.
func (h *Handler) handleStatic(name, corp string) http.HandlerFunc {
	b, err := files.ReadFile("static/" + name)
	if err != nil {
		panic("hosted: missing static file " + name)
	}
	ct := contentTypes[name[strings.LastIndexByte(name, '.'):]]
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Type", ct)
		hd.Set("Cache-Control", "public, max-age=300")
		hd.Set("Cross-Origin-Resource-Policy", corp)
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		w.Write(b)
	}
}

// errorBody is the hosted pages' JSON error envelope, the same shape as the admin API's.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError writes a JSON error. Its page may not be framed anywhere.
func writeError(w http.ResponseWriter, status int, code, message, field string) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, errorBody{Error: errorObject{Code: code, Message: message, Field: field}})
}

// writeInternal logs err with the request id and answers a generic 500.
func (h *Handler) writeInternal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.LogAttrs(r.Context(), slog.LevelError, "hosted: internal error",
		slog.String("id", httpx.InfoFrom(r.Context()).ID), slog.String("err", err.Error()))
	writeError(w, http.StatusInternalServerError, "internal", "An internal error occurred.", "")
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"An internal error occurred."}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(b)
}

// handleUnknownRoute answers a path under /hosted/ or /demo/ that no route matches: 404 JSON.
func (h *Handler) handleUnknownRoute(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "not_found", "No such page.", "")
}

// handleUnparsed answers a request net/http could not parse: its status, JSON.
func (h *Handler) handleUnparsed(w http.ResponseWriter, r *http.Request, u *httpx.Unparsed) {
	writeError(w, u.Status, "bad_request", u.Message(), "")
}

// handleWrongMethod answers a known path with a method it lacks: 405 JSON with Allow.
func (h *Handler) handleWrongMethod(w http.ResponseWriter, r *http.Request, allow []string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The method is not allowed here.", "")
}
