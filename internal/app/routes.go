package app

import (
	"net/http"

	"github.com/payvault/payvault/internal/api/admin"
	"github.com/payvault/payvault/internal/api/fortis"
	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/api/paysafe"
)

// routes composes the HTTP surface: each API package owns its prefix, and everything else
// answers JSON, because the Paysafe Python SDK crashes on non-JSON bodies.
func (m *Main) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", m.handleHealthz)
	mux.HandleFunc("GET /bench/noop", handleBenchNoop)
	mux.Handle("GET /metrics", m.Metrics.Handler())
	// One set of rate limits serves every API: a credential's bucket is its own whichever
	// API it calls, and a client's failed authentications count across APIs.
	limits := httpx.NewLimits(httpx.LimitsConfig{
		Rate: m.Config.RateLimit, Burst: m.Config.RateBurst,
		FailureRate: m.Config.AuthFailureRate, FailureBurst: m.Config.AuthFailureBurst,
		TrustedProxy: m.Config.TLSTerminatedUpstream, Now: m.Config.Now,
	})
	mux.Handle("/v2/", fortis.New(m.Vault, fortis.Options{
		Logger: m.Config.Logger, PublicBaseURL: m.Config.PublicBaseURL, TrustedUpstream: m.Config.TLSTerminatedUpstream,
		Idempotency: m.fortisIdempotency, Payments: m.Payments, Limits: limits,
	}))
	ps := paysafe.New(paysafe.Config{
		Vault: m.Vault, Logger: m.Config.Logger, PublicBaseURL: m.Config.PublicBaseURL,
		TrustedUpstream: m.Config.TLSTerminatedUpstream, Now: m.Config.Now,
		Payments: m.Payments, Idempotency: m.Idempotency, Limits: limits,
	})
	// The Paysafe API owns /customervault, /cardpayments and every unknown path (5273 JSON).
	mux.Handle("/", ps)
	adm := admin.New(admin.Config{Vault: m.Vault, CheckToken: m.CheckAdminToken, Logger: m.Config.Logger, Idempotency: m.Idempotency, Limits: limits})
	adm.BatchRoutes(m.Payments)
	adm.KeyRoutes(keyOps{m})
	mux.Handle("/admin/v1/", adm)
	mux.Handle("/admin/v1", adm)
	hs := m.hostedHandler()
	mux.Handle("/hosted/", hs)
	mux.Handle("/demo/", hs)
	return httpx.Wrap(httpx.Recover(mux, m.Config.Logger, handleUnknownPanic), httpx.Options{
		Logger: m.Config.Logger, Metrics: m.Metrics,
	})
}

// handleHealthz answers GET /healthz: 200 once the store answers.
func (m *Main) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := m.Store.DB().PingContext(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"UNAVAILABLE"}`))
		return
	}
	w.Write([]byte(`{"status":"READY"}`))
}

// handleBenchNoop answers GET /bench/noop: a constant JSON body, no credentials, no store.
// It is `payvault bench`'s ceiling: what this machine's HTTP stack and the shared middleware
// serve when a handler does nothing.
func handleBenchNoop(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(`{"status":"OK"}`))
}

// handleUnknownPanic answers a panic outside every API package.
func handleUnknownPanic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Application-Status-Code", "1000")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write([]byte(`{"error":{"code":"1000","message":"An internal error occurred.","links":[{"rel":"errorinfo","href":"https://developer.paysafe.com/en/rest-api/vault/test-and-go-live/vault-errors/#ErrorCode1000"}]}}`))
}
