package paysafe_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a Paysafe API over a real SQLite store, served by httptest through the shared
// middleware, with logs checked by logtest and every exchange checked against openapi.yaml.
type env struct {
	url    string
	h      http.Handler // h is the served handler, for in-process calls (fuzzing).
	svc    *vault.Service
	store  *sqlstore.Store
	creds  *vault.MerchantCredentials
	clock  *clock
	logs   *logtest.Capture
	router routers.Router
	doc    *openapi3.T
}

// MustEnv starts a test server with one sandbox merchant; opts adjust the API's Config.
func MustEnv(tb testing.TB, opts ...func(*paysafe.Config)) *env {
	tb.Helper()
	return MustEnvStore(tb, nil, opts...)
}

// MustEnvStore is MustEnv with the service's store wrapped by wrap (nil: unwrapped), for
// tests that make the database fail at a chosen moment.
func MustEnvStore(tb testing.TB, wrap func(*sqlstore.Store) vault.Store, opts ...func(*paysafe.Config)) *env {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var mk keys.MasterKey
	copy(mk[:], "paysafe-test-master-key-0123456789")
	kr, err := keys.Open(ctx, st, mk, keys.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	bins, err := card.LoadBINs()
	if err != nil {
		tb.Fatal(err)
	}
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	var vs vault.Store = st
	if wrap != nil {
		vs = wrap(st)
	}
	svc := vault.NewService(vs, kr, bins, vault.Config{Now: clk.Now, BACSMandateActivation: time.Hour})
	log, capture := logtest.New(tb)
	e := &env{svc: svc, store: st, clock: clk, logs: capture, doc: MustOpenAPI(tb)}
	if e.router, err = legacy.NewRouter(e.doc); err != nil {
		tb.Fatal(err)
	}
	e.creds = e.MustMerchant(tb, false)
	cfg := paysafe.Config{Vault: svc, Logger: log}
	for _, o := range opts {
		o(&cfg)
	}
	api := paysafe.New(cfg)
	e.h = httpx.Wrap(api, httpx.Options{Logger: log})
	srv := httptest.NewServer(e.h)
	tb.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// MustOpenAPI loads and validates the package's OpenAPI document (without servers, so that
// any test host matches).
func MustOpenAPI(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(paysafe.OpenAPI())
	if err != nil {
		tb.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("openapi.yaml is invalid: %v", err)
	}
	doc.Servers = nil
	return doc
}

// MustMerchant creates a merchant whose secrets must never be logged.
func (e *env) MustMerchant(tb testing.TB, live bool) *vault.MerchantCredentials {
	tb.Helper()
	c, err := e.svc.CreateMerchant(context.Background(), vault.NewMerchant{Name: "Merchant", Live: live})
	if err != nil {
		tb.Fatal(err)
	}
	e.logs.Forbid(c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret, c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
	return c
}

// call is one request.
type call struct {
	method, path string
	body         string            // body is raw text, sent as is ("" sends none).
	user, pass   string            // user and pass override the server credentials.
	noAuth       bool              // noAuth sends no Authorization header.
	header       map[string]string // header adds headers (Content-Type is application/json;charset=utf-8 unless set).
	// loose skips request validation, for requests that are malformed on purpose.
	loose bool
}

// reply is one response.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// str returns a top-level string member.
func (r reply) str(name string) string { s, _ := r.body[name].(string); return s }

// code returns the error code, or "".
func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// do sends c, checks the response headers every Paysafe answer has, and validates the
// request (unless loose) and the response against openapi.yaml.
func (e *env) do(tb testing.TB, c call) reply {
	tb.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, e.url+c.path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	if !c.noAuth {
		user, pass := e.creds.Paysafe.APIKeyID, e.creds.Paysafe.APIKeySecret
		if c.user != "" {
			user, pass = c.user, c.pass
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil && c.path != "/customervault/openapi.yaml" {
			tb.Fatalf("%s %s: body is not a JSON object: %v", c.method, c.path, err)
		}
	}
	e.checkHeaders(tb, c, r)
	e.validate(tb, c, req, r)
	return r
}

// checkHeaders checks the headers of §1.5.
func (e *env) checkHeaders(tb testing.TB, c call, r reply) {
	tb.Helper()
	if c.path == "/customervault/openapi.yaml" {
		return
	}
	h := r.header
	if got := h.Get("Content-Type"); got != "application/json" {
		tb.Errorf("%s %s: Content-Type = %q", c.method, c.path, got)
	}
	if got := h.Get("X-Applicationuid"); !strings.HasPrefix(got, "GUID=") || len(got) != 41 {
		tb.Errorf("%s %s: X-Applicationuid = %q", c.method, c.path, got)
	}
	if h.Get("Cache-Control") != "max-age=0, no-cache, no-store" || h.Get("Pragma") != "no-cache" {
		tb.Errorf("%s %s: cache headers = %q, %q", c.method, c.path, h.Get("Cache-Control"), h.Get("Pragma"))
	}
	if r.status >= 400 {
		if got := h.Get("X-Application-Status-Code"); got == "" || got != r.code() {
			tb.Errorf("%s %s: X-Application-Status-Code = %q, body code %q", c.method, c.path, got, r.code())
		}
		if r.status == 401 && h.Get("WWW-Authenticate") != `Basic realm="authSecurity"` {
			tb.Errorf("%s %s: WWW-Authenticate = %q", c.method, c.path, h.Get("WWW-Authenticate"))
		}
	}
}

// validate checks the exchange against openapi.yaml. Requests to unknown routes or with a
// wrong method are checked only for the error envelope.
func (e *env) validate(tb testing.TB, c call, req *http.Request, r reply) {
	tb.Helper()
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.URL.Path = strings.TrimSuffix(vreq.URL.Path, "/")
	if vreq.URL.Path == "" {
		vreq.URL.Path = "/"
	}
	vreq.Body = io.NopCloser(strings.NewReader(c.body))
	// The server never checks Content-Type; the document describes bodies as JSON.
	vreq.Header.Set("Content-Type", "application/json")
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		e.checkErrorBody(tb, c, r)
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if !c.loose {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tb.Errorf("%s %s: request does not match openapi.yaml: %v", c.method, c.path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Body: io.NopCloser(bytes.NewReader(r.raw)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Errorf("%s %s: response %d does not match openapi.yaml: %v\n%s", c.method, c.path, r.status, err, r.raw)
	}
}

// checkErrorBody validates an error answer against the ErrorBody schema.
func (e *env) checkErrorBody(tb testing.TB, c call, r reply) {
	tb.Helper()
	var v any
	if err := json.Unmarshal(r.raw, &v); err != nil {
		tb.Errorf("%s %s: error body is not JSON", c.method, c.path)
		return
	}
	if err := e.doc.Components.Schemas["ErrorBody"].Value.VisitJSON(v); err != nil {
		tb.Errorf("%s %s: error body does not match ErrorBody: %v", c.method, c.path, err)
	}
}

// must sends c and fails unless the status is want; it returns the reply.
func (e *env) must(tb testing.TB, want int, c call) reply {
	tb.Helper()
	r := e.do(tb, c)
	if r.status != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, r.status, want, r.raw)
	}
	return r
}

// MustProfile creates a profile and returns its id.
func (e *env) MustProfile(tb testing.TB, mcid string) string {
	tb.Helper()
	return e.must(tb, 201, call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"` + mcid + `","locale":"en_US"}`}).str("id")
}

// MustAddress creates an address on a profile and returns its id.
func (e *env) MustAddress(tb testing.TB, pid string) string {
	tb.Helper()
	return e.must(tb, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/addresses", body: `{"country":"US","zip":"10014"}`}).str("id")
}
