package fortis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/fortis"
	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

func TestMain(m *testing.M) { storetest.RunMain(m) }

// testNow is the tests' clock: November 2026, as in the spec's expiring_in_months example.
var testNow = time.Date(2026, 11, 18, 15, 30, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// server is the Fortis API over a fresh SQLite store, with one sandbox merchant.
type server struct {
	svc    *vault.Service
	ps     *payments.Service
	store  *sqlstore.Store
	h      http.Handler
	creds  *vault.MerchantCredentials
	user   userCreds
	clock  *clock
	logs   *logtest.Capture
	doc    *openapi3.T
	router routers.Router
}

// userCreds are a Fortis user's credentials.
type userCreds struct{ dev, id, key string }

// testAuthCode is the sandbox's approval code in tests.
const testAuthCode = "123456"

// mustServer starts a test server on SQLite. Its logs are checked for account data and secrets.
func mustServer(tb testing.TB) *server {
	tb.Helper()
	return mustServerOn(tb, sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")}, serverOpts{})
}

// mustServerWith is mustServer with the payments core adjusted by o.
func mustServerWith(tb testing.TB, o serverOpts) *server {
	tb.Helper()
	return mustServerOn(tb, sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")}, o)
}

// mustServerPG starts a test server on a fresh PostgreSQL database.
func mustServerPG(tb testing.TB) *server {
	tb.Helper()
	return mustServerOn(tb, sqlstore.Config{DSN: storetest.PostgresDSN(tb)}, serverOpts{})
}

// engines runs fn on a server over SQLite and on one over PostgreSQL.
func engines(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, mustServer(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, mustServerPG(t)) })
}

// serverOpts adjust the payments core of a test server: over, if set, wraps the store it
// writes and reads transactions through (to fail its writes), and wrap, if set, the sandbox
// processor (to act around a call).
type serverOpts struct {
	over func(storetest.Store) payments.Store
	wrap func(payments.Processor) payments.Processor
	// store, if set, wraps the store both cores use (over then wraps it for payments).
	store func(storetest.Store) storetest.Store
	// completeRetry is payments.Config.CompleteRetry (50ms when 0).
	completeRetry time.Duration
}

// mustServerOn starts a test server over a store opened with cfg: the vault core, the
// payments core with the sandbox running the Fortis trigger table (delays scaled down a
// thousandfold and capped), and the Fortis API with its POSTs under Idempotency-Key, as the
// app serves them.
func mustServerOn(tb testing.TB, cfg sqlstore.Config, o serverOpts) *server {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var mk keys.MasterKey
	copy(mk[:], "fortis-test-master-key-0123456789")
	kr, err := keys.Open(ctx, st, mk, keys.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	bins, err := card.LoadBINs()
	if err != nil {
		tb.Fatal(err)
	}
	c := &clock{now: testNow}
	var vst storetest.Store = st
	if o.store != nil {
		vst = o.store(st)
	}
	svc := vault.NewService(vst, kr, bins, vault.Config{Now: c.Now})
	creds, err := svc.CreateMerchant(ctx, vault.NewMerchant{Name: "Fortis test"})
	if err != nil {
		tb.Fatal(err)
	}
	log, logs := logtest.New(tb)
	logs.Forbid(creds.Fortis.UserAPIKey, creds.Fortis.TicketHashKey, creds.Paysafe.APIKeySecret, creds.Paysafe.SingleUseKeySecret)
	sandbox := payments.NewSandbox(map[string]*payments.Triggers{"fortis": fortis.SandboxTriggers()}, payments.SandboxConfig{
		DelayScale: 0.001, MaxDelay: 20 * time.Millisecond, AuthCode: func() string { return testAuthCode },
	})
	var proc payments.Processor = sandbox
	if o.wrap != nil {
		proc = o.wrap(proc)
	}
	var pst payments.Store = vst
	if o.over != nil {
		pst = o.over(vst)
	}
	retry := o.completeRetry
	if retry == 0 {
		retry = 50 * time.Millisecond // a store a test takes away stays away: do not wait long for it
	}
	ps := payments.NewService(pst, svc, kr, payments.Config{
		Processors: map[string]payments.Processor{payments.SandboxName: proc}, Now: c.Now, CompleteRetry: retry,
	})
	keeper := idempotency.New(st, kr, idempotency.Config{Now: c.Now, Logger: log})
	idem := func(w http.ResponseWriter, r *http.Request, p *vault.Principal, _ string, refresh idempotency.Refresh, next http.HandlerFunc) {
		keeper.Serve(w, r, p.MerchantID(), p.IdempotencyScope("fortis"), fortis.WriteIdempotencyConflict, refresh, next)
	}
	h := httpx.Wrap(fortis.New(svc, fortis.Options{Logger: log, PublicBaseURL: "https://vault.example", Payments: ps,
		Idempotency: idem}), httpx.Options{Logger: log})
	doc := mustOpenAPI(tb)
	doc.Servers = nil // match any host
	router, err := legacy.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return &server{svc: svc, ps: ps, store: st, h: h, creds: creds, clock: c, logs: logs, doc: doc, router: router,
		user: userCreds{creds.Fortis.DeveloperID, creds.Fortis.UserID, creds.Fortis.UserAPIKey}}
}

// mustOpenAPI loads and validates the package's OpenAPI document.
func mustOpenAPI(tb testing.TB) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(fortis.OpenAPI())
	if err != nil {
		tb.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("openapi.yaml: %v", err)
	}
	return doc
}

// call is one request.
type call struct {
	Method, Path, Body string
	Header             map[string]string
	As                 *userCreds // As authenticates as another user; nil is the merchant's user.
	NoAuth             bool       // NoAuth sends no user credentials.
	Malformed          bool       // Malformed skips request validation (a deliberately bad request).
}

// result is a response.
type result struct {
	Status int
	Header http.Header
	Body   []byte
}

// json decodes the body.
func (r *result) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// record returns the object under key.
func (r *result) record(tb testing.TB, key string) map[string]any {
	tb.Helper()
	m, ok := r.json(tb)[key].(map[string]any)
	if !ok {
		tb.Fatalf("no %q in %s", key, r.Body)
	}
	return m
}

// do sends c through the handler, validating the request and the response against the
// OpenAPI document (a deliberately malformed request is not validated, its response is).
func (s *server) do(tb testing.TB, c call) *result {
	tb.Helper()
	build := func() *http.Request { return s.request(c) }
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, build())
	res := &result{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	s.validate(tb, build(), c, res)
	return res
}

// request builds the HTTP request of c.
func (s *server) request(c call) *http.Request {
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req := httptest.NewRequest(c.Method, "https://vault.example"+c.Path, body)
	req.RemoteAddr = "127.0.0.1:5555"
	if c.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.NoAuth {
		u := s.user
		if c.As != nil {
			u = *c.As
		}
		req.Header.Set("developer-id", u.dev)
		req.Header.Set("user-id", u.id)
		req.Header.Set("user-api-key", u.key)
	}
	for k, v := range c.Header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return req
}

var errNoOperation = errors.New("no operation")

// validate checks an exchange against the OpenAPI document.
func (s *server) validate(tb testing.TB, req *http.Request, c call, res *result) {
	tb.Helper()
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	route, params, err := s.router.FindRoute(req)
	if res.Status == http.StatusMethodNotAllowed {
		err = errNoOperation // the route has no such operation, whatever the router matched
	}
	if err != nil {
		// Unknown routes and methods: the body must still be the documented Error.
		if len(res.Body) == 0 && c.Method == http.MethodOptions {
			return
		}
		var v any
		if err := json.Unmarshal(res.Body, &v); err != nil {
			tb.Fatalf("%s %s: non-JSON answer %d: %s", c.Method, c.Path, res.Status, res.Body)
		}
		if err := s.doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
			tb.Fatalf("%s %s: answer %d is not an Error: %v", c.Method, c.Path, res.Status, err)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if !c.Malformed {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tb.Fatalf("%s %s: request does not match openapi.yaml: %v", c.Method, c.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.Status, Header: res.Header, Options: opts}
	out.SetBodyBytes(res.Body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Fatalf("%s %s: response %d does not match openapi.yaml: %v\n%s", c.Method, c.Path, res.Status, err, res.Body)
	}
}

func (s *server) get(tb testing.TB, path string) *result {
	tb.Helper()
	return s.do(tb, call{Method: http.MethodGet, Path: path})
}

func (s *server) post(tb testing.TB, path, body string) *result {
	tb.Helper()
	return s.do(tb, call{Method: http.MethodPost, Path: path, Body: body})
}

func (s *server) put(tb testing.TB, path, body string) *result {
	tb.Helper()
	return s.do(tb, call{Method: http.MethodPut, Path: path, Body: body})
}

func (s *server) del(tb testing.TB, path string) *result {
	tb.Helper()
	return s.do(tb, call{Method: http.MethodDelete, Path: path})
}

// must fails unless the result has status want, and returns it.
func must(tb testing.TB, r *result, want int) *result {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
	return r
}

// mustVault creates a vault from body fields (wrapped, with the primary location added) and
// returns its representation.
func (s *server) mustVault(tb testing.TB, fields string) map[string]any {
	tb.Helper()
	body := `{"accountvault":{"location_id":"` + s.creds.Fortis.LocationID + `",` + fields + `}}`
	return must(tb, s.post(tb, "/v2/accountvaults", body), http.StatusCreated).record(tb, "accountvault")
}

// mustContact creates a contact in the primary location.
func (s *server) mustContact(tb testing.TB, fields string) map[string]any {
	tb.Helper()
	body := `{"contact":{"location_id":"` + s.creds.Fortis.LocationID + `",` + fields + `}}`
	return must(tb, s.post(tb, "/v2/contacts", body), http.StatusCreated).record(tb, "contact")
}

// mustOtherMerchant creates another merchant and returns its credentials and its Fortis
// user's. Its secrets are checked for in the logs too.
func (s *server) mustOtherMerchant(tb testing.TB, name string) (*vault.MerchantCredentials, userCreds) {
	tb.Helper()
	other, err := s.svc.CreateMerchant(context.Background(), vault.NewMerchant{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	s.logs.Forbid(other.Fortis.UserAPIKey, other.Fortis.TicketHashKey, other.Paysafe.APIKeySecret, other.Paysafe.SingleUseKeySecret)
	return other, userCreds{other.Fortis.DeveloperID, other.Fortis.UserID, other.Fortis.UserAPIKey}
}

// mustLocation provisions another location of the merchant, as the admin API does.
func (s *server) mustLocation(tb testing.TB, name string) *vault.LocationCredentials {
	tb.Helper()
	lc, err := s.svc.CreateLocation(context.Background(), s.creds.MerchantID, vault.NewLocation{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	s.logs.Forbid(lc.TicketHashKey)
	return lc
}

// mustUser provisions a user of the merchant.
func (s *server) mustUser(tb testing.TB, nu vault.NewUser) (*vault.User, userCreds) {
	tb.Helper()
	u, key, err := s.svc.CreateUser(context.Background(), s.creds.MerchantID, nu)
	if err != nil {
		tb.Fatal(err)
	}
	s.logs.Forbid(key)
	return u, userCreds{s.creds.Fortis.DeveloperID, u.ID, key}
}

// diff fails the test with a go-cmp diff when want and got differ.
func diff(tb testing.TB, want, got any) {
	tb.Helper()
	if d := cmp.Diff(want, got); d != "" {
		tb.Errorf("(-want +got)\n%s", d)
	}
}

// compactJSON returns b compacted, keeping key order.
func compactJSON(tb testing.TB, b []byte) string {
	tb.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		tb.Fatalf("bad JSON: %v: %s", err, b)
	}
	return out.String()
}

// doParallel sends the calls at once, then validates every exchange against the OpenAPI
// document on the test's goroutine.
func (s *server) doParallel(tb testing.TB, calls []call) []*result {
	tb.Helper()
	out := make([]*result, len(calls))
	reqs := make([]*http.Request, len(calls))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range calls {
		reqs[i] = s.request(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := httptest.NewRecorder()
			s.h.ServeHTTP(rec, reqs[i])
			out[i] = &result{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		}()
	}
	close(start)
	wg.Wait()
	for i, c := range calls {
		s.validate(tb, s.request(c), c, out[i])
	}
	return out
}

// keyOrder returns the keys of the object under key, in the order the body has them.
func keyOrder(tb testing.TB, body []byte, key string) []string {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		tb.Fatal(err)
	}
	dec = json.NewDecoder(bytes.NewReader(top[key]))
	if _, err := dec.Token(); err != nil {
		tb.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

// serveRaw sends a request straight to the handler with the merchant user's credentials,
// without OpenAPI validation (benchmarks).
func (s *server) serveRaw(method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://vault.example/", strings.NewReader(body))
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(target, "?")
	req.Header.Set("developer-id", s.user.dev)
	req.Header.Set("user-id", s.user.id)
	req.Header.Set("user-api-key", s.user.key)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}
