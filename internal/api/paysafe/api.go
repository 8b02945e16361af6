package paysafe

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// Config configures the Paysafe API.
type Config struct {
	Vault *vault.Service // Vault is the domain core.
	// Logger receives internal errors, with the request id; never request data.
	Logger *slog.Logger
	// PublicBaseURL is the scheme and host of every Location and href; the request's own when empty.
	PublicBaseURL string
	// TrustedUpstream says a proxy terminates TLS in front of payvault, so that live
	// credentials are accepted over its plain HTTP.
	TrustedUpstream bool
	// Now is the clock for what the API computes itself (a token's time to live); the vault's
	// clock when nil.
	Now func() time.Time
	// Payments is the payments core; the /cardpayments/v1 routes are served only when it is set.
	Payments *payments.Service
	// Idempotency, when set, runs every authenticated POST under the Idempotency-Key
	// discipline, scoped to the credential's merchant.
	Idempotency *idempotency.Keeper
	// Limits, when set, rate-limits requests per credential (per merchant, and per merchant
	// and client address, for the single-use-token key) and failed authentications per
	// client address: 429/1200.
	Limits *httpx.Limits
	// Ready, when set, says whether the store serves: the monitors answer 503 while it fails.
	// It bounds its own time (the app's answers within about 2 s).
	Ready func(context.Context) error
	// DescriptorName and DescriptorPhone are the merchantDescriptor (dynamicDescriptor, at
	// most 20 characters; phone, at most 13) shown on a transaction whose request sent none
	// (§1.10); the reference's "DD Line 1" and "000-111000099" when both are empty.
	DescriptorName, DescriptorPhone string
	// ListLimitDefault and ListLimitMax are a transaction list's limit when the request asks
	// for none, and the largest it may ask for (§2.12); 10 and 50 when 0.
	ListLimitDefault, ListLimitMax int
}

// API serves the Paysafe Customer Vault API (and, from the cardpayments files, the Card
// Payments API) over the vault core.
type API struct {
	cfg     Config
	vault   *vault.Service
	log     *slog.Logger
	router  *httpx.Router
	handler http.Handler
	brands  card.Table // brands is the Paysafe cardType table.
}

// openAPIFS holds the OpenAPI document served at /customervault/openapi.yaml.
//
//go:embed openapi.yaml
var openAPIFS embed.FS

// OpenAPI returns the package's OpenAPI document.
func OpenAPI() []byte {
	b, _ := openAPIFS.ReadFile("openapi.yaml")
	return b
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = cfg.Vault.Now
	}
	if cfg.DescriptorName == "" && cfg.DescriptorPhone == "" {
		cfg.DescriptorName, cfg.DescriptorPhone = "DD Line 1", "000-111000099"
	}
	if cfg.ListLimitDefault <= 0 {
		cfg.ListLimitDefault = 10
	}
	if cfg.ListLimitMax <= 0 {
		cfg.ListLimitMax = 50
	}
	a := &API{cfg: cfg, vault: cfg.Vault, log: cfg.Logger, brands: brandTable()}
	a.router = &httpx.Router{NotFound: a.handleUnknownRoute, MethodNotAllowed: a.handleWrongMethod, Unparsed: a.handleUnparsed}
	a.routes()
	a.handler = httpx.Recover(a.router, a.log, a.handlePanic)
	return a
}

// routes registers every route of the package. Each resource file registers its own routes
// in a method named for it; the card payments add theirs here the same way.
func (a *API) routes() {
	a.monitorRoutes()
	a.profileRoutes()
	a.addressRoutes()
	a.cardRoutes()
	a.bankAccountRoutes()
	a.mandateRoutes()
	a.singleUseTokenRoutes()
	if a.cfg.Payments != nil {
		a.cardPaymentRoutes()
	}
}

// ServeHTTP answers a request under /customervault, /cardpayments or any unknown path.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpx.InfoFrom(r.Context()).API = "paysafe"
	setCommonHeaders(w, r)
	a.handler.ServeHTTP(w, r)
}

// handlerFunc is a route's handler: it writes the success answer itself and returns any
// error for writeError. p is nil on public routes.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error

// handle registers h for method and pattern behind the credential check acc requires.
func (a *API) handle(method, pattern string, acc access, h handlerFunc) {
	a.router.Handle(method, pattern, func(w http.ResponseWriter, r *http.Request) {
		var p *vault.Principal
		if acc != public {
			var err error
			if p, err = a.authenticate(r, acc); err != nil {
				if acc == tokenCreation {
					httpx.ExposeError(w, r) // a page's token request reads its 401 or 429
				}
				a.writeError(w, r, err)
				return
			}
			r = r.WithContext(vault.WithActor(withPrincipal(r.Context(), p), "paysafe:"+p.CredID))
		}
		run := func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r, p); err != nil {
				a.writeError(w, r, err)
			}
		}
		if method == http.MethodPost && p != nil && a.cfg.Idempotency != nil {
			refresh := func(w http.ResponseWriter, r *http.Request, id string) bool { return a.refreshTxn(w, r, p, id) }
			a.cfg.Idempotency.Serve(w, r, p.MerchantID(), p.IdempotencyScope("paysafe"), a.writeIdempotencyConflict, refresh, run)
			return
		}
		run(w, r)
	})
}

// handleUnknownRoute answers a path no route matches: 404/5273.
func (a *API) handleUnknownRoute(w http.ResponseWriter, r *http.Request) {
	a.writeError(w, r, newError("5273"))
}

// handleUnparsed answers a request net/http could not parse: 400/5023 (431 for headers over
// the limit) with what was wrong in details, as for a body that is not parseable.
func (a *API) handleUnparsed(w http.ResponseWriter, r *http.Request, u *httpx.Unparsed) {
	a.writeError(w, r, &apiError{Code: "5023", Status: u.Status, Details: []string{u.Message()}})
}

// handleWrongMethod answers a known path with a method it lacks: 405/5281 with Allow.
func (a *API) handleWrongMethod(w http.ResponseWriter, r *http.Request, allow []string) {
	// HEAD is answered wherever GET is, so it is allowed there too.
	if i := slices.Index(allow, http.MethodGet); i >= 0 && !slices.Contains(allow, http.MethodHead) {
		allow = slices.Insert(allow, i+1, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	a.writeError(w, r, newError("5281"))
}

// handlePanic answers a panic: 500/1000 (Recover has logged it with the request id).
func (a *API) handlePanic(w http.ResponseWriter, r *http.Request) {
	setCommonHeaders(w, r)
	a.writeError(w, r, newError("1000"))
}

// monitorRoutes registers the monitors and the OpenAPI document.
func (a *API) monitorRoutes() {
	a.handle(http.MethodGet, "/customervault/monitor", public, a.handleMonitor)
	a.handle(http.MethodGet, "/cardpayments/monitor", public, a.handleMonitor)
	a.handle(http.MethodGet, "/customervault/openapi.yaml", public, a.handleOpenAPI)
}

// handleMonitor answers GET /customervault/monitor and GET /cardpayments/monitor: 200
// {"status":"READY"} whatever the credentials, once the store answers within 2 s (as
// /healthz). Otherwise it answers 503 with {"status":"UNAVAILABLE"} and the error envelope
// (1000) together, so that a client that tests status and one that reads the error both see it.
func (a *API) handleMonitor(w http.ResponseWriter, r *http.Request, _ *vault.Principal) error {
	if a.cfg.Ready != nil {
		if err := a.cfg.Ready(r.Context()); err != nil {
			// Not logged: health checks poll the monitor, and the access log has each answer.
			e := errUnavailable()
			w.Header().Set("Retry-After", httpx.RetryAfterUnavailable)
			w.Header().Set("X-Application-Status-Code", e.Code)
			writeJSON(w, e.status(), struct {
				Status string      `json:"status"`
				Error  errorObject `json:"error"`
			}{"UNAVAILABLE", e.object(r)})
			return nil
		}
	}
	writeOK(w, map[string]string{"status": "READY"})
	return nil
}

// handleOpenAPI answers GET /customervault/openapi.yaml with the embedded document.
func (a *API) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ *vault.Principal) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Header().Del("Pragma")
	w.Write(OpenAPI())
	return nil
}
