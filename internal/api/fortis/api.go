package fortis

import (
	_ "embed"
	"log/slog"
	"net/http"
	"strings"
	_ "time/tzdata" // users' time zones, for the timestamp keywords of lists

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the package's OpenAPI document, as served at /v2/openapi.yaml.
func OpenAPI() []byte { return openAPI }

// Options configure the Fortis API.
type Options struct {
	// Logger receives internal errors; it never sees request bodies or credentials.
	Logger *slog.Logger
	// PublicBaseURL is the scheme and host of every link; the request's own when empty.
	PublicBaseURL string
	// TrustedUpstream says a trusted proxy terminates TLS, so live credentials are accepted
	// over its plain HTTP.
	TrustedUpstream bool
	// Idempotency, when set, wraps every POST once the caller is authenticated and before
	// the body is read: it may replay a stored answer for a repeated key (refreshing, through
	// refresh, one left open by idempotency.Made) or call next. scope names the route
	// ("accountvaults", "contacts", "cardtickets", "transactions").
	Idempotency func(w http.ResponseWriter, r *http.Request, p *vault.Principal, scope string, refresh idempotency.Refresh, next http.HandlerFunc)
	// Payments is the payments core that runs /v2/transactions and run_avs. Without it those
	// routes are not served and run_avs is not applied.
	Payments *payments.Service
	// OrderNum returns a generated order_num; twelve crypto/rand digits when nil. Tests set it.
	OrderNum func() string
	// Limits, when set, rate-limits requests per user (per merchant, and per merchant and
	// client address, for browser credentials) and failed authentications per client
	// address: 429 "Rate limit exceeded." with Retry-After.
	Limits *httpx.Limits
}

// API serves the Fortis (Zeamster) v2 API under /v2 over the vault core.
type API struct {
	svc    *vault.Service
	opt    Options
	log    *slog.Logger
	router *httpx.Router
}

// New returns the Fortis API over svc.
func New(svc *vault.Service, opt Options) *API {
	a := &API{svc: svc, opt: opt, log: opt.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	rt := &httpx.Router{AutoOptions: true}
	rt.NotFound = func(w http.ResponseWriter, r *http.Request) { writeStatus(w, http.StatusNotFound, msgPageNotFound) }
	rt.Unparsed = func(w http.ResponseWriter, r *http.Request, u *httpx.Unparsed) { writeStatus(w, u.Status, u.Message()) }
	rt.MethodNotAllowed = func(w http.ResponseWriter, r *http.Request, allow []string) {
		if strings.TrimSuffix(r.URL.Path, "/") == "/v2/cardtickets" {
			// §3.6: this route's responses send CORS; a 405, like a 401, comes before the
			// location is known, so the page may read it.
			httpx.ExposeError(w, r)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeStatus(w, http.StatusMethodNotAllowed, "Method Not Allowed. This URL can only handle the following request methods: "+strings.Join(allow, ", ")+".")
	}

	rt.Handle(http.MethodGet, "/v2/accountvaults", a.handleAccountVaultList)
	rt.Handle(http.MethodPost, "/v2/accountvaults", a.handleAccountVaultCreate)
	rt.Handle(http.MethodGet, "/v2/accountvaults/{id}", a.handleAccountVaultGet)
	rt.Handle(http.MethodPut, "/v2/accountvaults/{id}", a.handleAccountVaultUpdate)
	rt.Handle(http.MethodDelete, "/v2/accountvaults/{id}", a.handleAccountVaultDelete)
	rt.Handle(http.MethodGet, "/v2/accountvaults/{id}/bininfo", a.handleAccountVaultBINInfo)

	rt.Handle(http.MethodGet, "/v2/contacts", a.handleContactList)
	rt.Handle(http.MethodPost, "/v2/contacts", a.handleContactCreate)
	rt.Handle(http.MethodGet, "/v2/contacts/{id}", a.handleContactGet)
	rt.Handle(http.MethodPut, "/v2/contacts/{id}", a.handleContactUpdate)
	rt.Handle(http.MethodDelete, "/v2/contacts/{id}", a.handleContactDelete)

	rt.Handle(http.MethodGet, "/v2/locations", a.handleLocationList)
	rt.Handle(http.MethodGet, "/v2/locations/{id}", a.handleLocationGet)
	rt.Handle(http.MethodGet, "/v2/users", a.handleUserList)
	rt.Handle(http.MethodGet, "/v2/users/{id}", a.handleUserGet)
	rt.Handle(http.MethodGet, "/v2/producttransactions", a.handleProductTransactionList)
	rt.Handle(http.MethodGet, "/v2/producttransactions/{id}", a.handleProductTransactionGet)

	rt.Handle(http.MethodPost, "/v2/cardtickets", a.handleCardTicketCreate)
	rt.Handle(http.MethodOptions, "/v2/cardtickets", a.handleCardTicketPreflight)

	if opt.Payments != nil {
		rt.Handle(http.MethodGet, "/v2/transactions", a.handleTransactionList)
		rt.Handle(http.MethodPost, "/v2/transactions", a.handleTransactionCreate)
		rt.Handle(http.MethodGet, "/v2/transactions/{id}", a.handleTransactionGet)
		rt.Handle(http.MethodGet, "/v2/transactions/{id}/bininfo", a.handleTransactionBINInfo)
	}

	rt.Handle(http.MethodGet, "/v2/openapi.yaml", a.handleOpenAPI)
	a.router = rt
	return a
}

// ServeHTTP serves a request under /v2. A panic is logged and answered with the Fortis 500.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpx.InfoFrom(r.Context()).API = "fortis"
	httpx.Recover(a.router, a.log, func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusInternalServerError, msgInternal)
	}).ServeHTTP(w, r)
}

// handleOpenAPI serves GET /v2/openapi.yaml, the package's OpenAPI document; it needs no auth.
func (a *API) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml; charset=UTF-8")
	w.Write(openAPI)
}

// post runs a POST handler for an authenticated principal through the idempotency hook.
func (a *API) post(w http.ResponseWriter, r *http.Request, p *vault.Principal, scope string, next http.HandlerFunc) {
	if a.opt.Idempotency == nil {
		next(w, r)
		return
	}
	var refresh idempotency.Refresh
	if scope == "transactions" { // only a transaction's answer is a transaction's
		refresh = func(w http.ResponseWriter, r *http.Request, id string) bool { return a.refreshTxn(w, r, p, id) }
	}
	a.opt.Idempotency(w, r, p, scope, refresh, next)
}

// baseURL is the scheme and host of links.
func (a *API) baseURL(r *http.Request) string { return httpx.BaseURL(r, a.opt.PublicBaseURL) }

// href is a record's self link.
func (a *API) href(r *http.Request, collection, id string) string {
	return a.baseURL(r) + "/v2/" + collection + "/" + id
}

// pathID returns the {id} path segment as sent: an api id keeps its case (§1.8), and each
// lookup by id lower-cases it (§1.5), while a 404 echoes it as it came.
func pathID(r *http.Request) string { return r.PathValue("id") }

// apiIDLocation reports whether the request addresses a record by api id (?api_id=1 or
// true), and then the location whose api ids it means: the query's location_id, or the
// principal's primary location. ok is false for a location the principal cannot reach, or
// location_id[]= (a PHP array, which names no location): the record is then not found.
func apiIDLocation(r *http.Request, p *vault.Principal) (byAPIID bool, loc string, ok bool) {
	q := query(r)
	if v := strings.ToLower(q.get("api_id")); v != "1" && v != "true" {
		return false, "", true
	}
	loc = strings.ToLower(q.get("location_id"))
	if loc == "" {
		loc = p.DefaultLocation()
	}
	return true, loc, p.CanReach(loc) && !q.array("location_id")
}
