package app

import (
	"context"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/payvault/payvault/internal/api/admin"
	"github.com/payvault/payvault/internal/api/fortis"
	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/api/paysafe"
)

// routes composes the HTTP surface: each API package owns its prefix, and everything else
// answers JSON, because the Paysafe Python SDK crashes on non-JSON bodies.
func (m *Main) routes() http.Handler {
	ready := &readiness{check: m.Store.Ready}
	m.ready = ready.Ready
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", httpx.Route("/healthz", http.HandlerFunc(m.handleHealthz)))
	mux.Handle("GET /bench/noop", httpx.Route("/bench/noop", http.HandlerFunc(handleBenchNoop)))
	mux.Handle("GET /metrics", httpx.Route("/metrics", m.Metrics.Handler()))
	// One set of rate limits serves every API: a credential's bucket is its own whichever
	// API it calls, and a client's failed authentications count across APIs.
	limits := httpx.NewLimits(httpx.LimitsConfig{
		Rate: m.Config.RateLimit, Burst: m.Config.RateBurst,
		PublicRate: m.Config.PublicRateLimit, PublicBurst: m.Config.PublicRateBurst,
		FailureRate: m.Config.AuthFailureRate, FailureBurst: m.Config.AuthFailureBurst,
		TrustedProxy: m.Config.TLSTerminatedUpstream, Now: m.Config.Now,
	})
	ft := fortis.New(m.Vault, fortis.Options{
		Logger: m.Config.Logger, PublicBaseURL: m.Config.PublicBaseURL, TrustedUpstream: m.Config.TLSTerminatedUpstream,
		Idempotency: m.fortisIdempotency, Payments: m.Payments, Limits: limits,
	})
	ps := paysafe.New(paysafe.Config{
		Vault: m.Vault, Logger: m.Config.Logger, PublicBaseURL: m.Config.PublicBaseURL,
		TrustedUpstream: m.Config.TLSTerminatedUpstream, Now: m.Config.Now,
		Payments: m.Payments, Idempotency: m.Idempotency, Limits: limits, Ready: m.ready,
		DescriptorName: m.Config.DescriptorName, DescriptorPhone: m.Config.DescriptorPhone,
		ListLimitDefault: m.Config.ListLimitDefault, ListLimitMax: m.Config.ListLimitMax,
	})
	adm := admin.New(admin.Config{Vault: m.Vault, CheckToken: m.CheckAdminToken, Logger: m.Config.Logger, Idempotency: m.Idempotency, Limits: limits})
	adm.BatchRoutes(m.Payments)
	adm.KeyRoutes(keyOps{m})
	hs := m.hostedHandler()
	// Each API owns its subtree; the Paysafe API owns /customervault, /cardpayments and every
	// unknown path (5273 JSON). The admin API owns all of /admin (its own JSON 404 not_found
	// outside /admin/v1/...), so that an operator who tries /admin is answered by it. The
	// Fortis API also owns a path whose first segment is v2 in any case, after any empty ones
	// (//v2/..., /V2/...): a Fortis client that builds such a URL reads Fortis's 404.
	owners := prefixOwners{{"/v2/", ft, true}, {"/admin/", adm, false}, {"/hosted/", hs, false}, {"/demo/", hs, false}, {"/", ps, false}}
	for _, own := range owners {
		mux.Handle(own.prefix, own.h)
	}
	return httpx.Wrap(httpx.Recover(owners.unredirected(mux), m.Config.Logger, handleUnknownPanic), httpx.Options{
		Logger: m.Config.Logger, Metrics: m.Metrics,
	})
}

// prefixOwners are the path prefixes of the mux's subtrees and the API that owns each; the
// last one owns every other path, whatever its prefix.
type prefixOwners []prefixOwner

// prefixOwner is a path prefix and the API that owns it. A loose owner also owns every path
// whose first non-empty segment is its prefix's in any case.
type prefixOwner struct {
	prefix string
	h      http.Handler
	loose  bool
}

// looseOwner returns the loose owner of path p, or nil.
func (o prefixOwners) looseOwner(p string) http.Handler {
	first, _, _ := strings.Cut(strings.TrimLeft(p, "/"), "/")
	for _, own := range o {
		if own.loose && strings.EqualFold(first, strings.Trim(own.prefix, "/")) {
			return own.h
		}
	}
	return nil
}

// unredirected serves through mux every path that mux would serve itself, and hands a path
// it would redirect, and the stand-in for a request net/http could not parse
// (httpx.UnparsedListener), to the API that owns its prefix. ServeMux answers a path with an empty,
// "." or ".." segment, and a subtree's prefix without its last slash ("/v2"), with a redirect
// and an HTML body. Every client of these APIs expects JSON (the Paysafe Python SDK crashes on
// anything else), and one that follows a 307 would send its POST to another path; the owner
// matches no route there and answers its own JSON 404.
func (o prefixOwners) unredirected(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if h := o.looseOwner(p); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		if httpx.UnparsedFrom(r.Context()) == nil && !o.redirects(p) && !o.redirects(r.URL.EscapedPath()) {
			mux.ServeHTTP(w, r)
			return
		}
		for _, own := range o[:len(o)-1] {
			if strings.HasPrefix(p+"/", own.prefix) {
				own.h.ServeHTTP(w, r)
				return
			}
		}
		o[len(o)-1].h.ServeHTTP(w, r) // every other path, "*" among them
	})
}

// redirects reports whether ServeMux would redirect path p: it is not clean, or it is one of
// the subtrees' prefixes without its trailing slash.
func (o prefixOwners) redirects(p string) bool {
	if p == "" || p[0] != '/' {
		return true
	}
	if clean := path.Clean(p); clean != p && clean+"/" != p {
		return true
	}
	return p != "/" && slices.ContainsFunc(o, func(own prefixOwner) bool { return own.prefix == p+"/" })
}

// handleHealthz answers GET /healthz: 200 once the store answers within 2 s and takes
// writes (a PostgreSQL database set read-only does not).
func (m *Main) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := m.ready(r.Context()); err != nil {
		w.Header().Set("Retry-After", httpx.RetryAfterUnavailable)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"UNAVAILABLE"}`))
		return
	}
	w.Write([]byte(`{"status":"READY"}`))
}

// readiness runs the store's readiness check for /healthz and the Paysafe monitors, which
// need no credentials: callers within readyFor of a check share its answer, so that a flood
// of them costs the database one check per interval, and never holds SQLite's one write
// connection from the committer for long.
type readiness struct {
	check func(context.Context) error
	mu    sync.Mutex
	at    time.Time
	err   error
}

// readyFor is how long a readiness answer is reused; readyTimeout bounds one check.
const (
	readyFor     = 500 * time.Millisecond
	readyTimeout = 2 * time.Second
)

// Ready answers from the last check if it is recent, and checks again otherwise. The check
// runs on a context of its own, so that a caller that leaves does not make it fail.
func (r *readiness) Ready(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && time.Since(r.at) < readyFor {
		return r.err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	r.err, r.at = r.check(cctx), time.Now()
	return r.err
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
