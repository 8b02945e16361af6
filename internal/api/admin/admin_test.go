package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/payvault/payvault/internal/api/admin"
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

const adminToken = "admin-test-token-0123456789abcdef"

// env is the admin API over a real SQLite store; every exchange is validated against the
// package's openapi.yaml.
type env struct {
	url    string
	h      http.Handler // h is the served handler, for in-process calls (fuzzing).
	store  *sqlstore.Store
	kr     *keys.Keyring
	svc    *vault.Service
	logs   *logtest.Capture
	router routers.Router
}

// MustEnv starts the admin API; opts adjust its Config.
func MustEnv(tb testing.TB, opts ...func(*admin.Config)) *env {
	tb.Helper()
	return MustEnvStore(tb, nil, opts...)
}

// MustEnvStore is MustEnv with the store the vault and payments cores use wrapped by wrap
// (nil: unwrapped), for tests that make the database fail at a chosen moment.
func MustEnvStore(tb testing.TB, wrap func(storetest.Store) storetest.Store, opts ...func(*admin.Config)) *env {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var mk keys.MasterKey
	copy(mk[:], "admin-test-master-key-0123456789ab")
	kr, err := keys.Open(ctx, st, mk, keys.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	st.SetAuditMAC(kr)
	bins, _ := card.LoadBINs()
	var vst storetest.Store = st
	if wrap != nil {
		vst = wrap(st)
	}
	svc := vault.NewService(vst, kr, bins, vault.Config{})
	log, capture := logtest.New(tb)
	capture.Forbid(adminToken)
	doc, err := openapi3.NewLoader().LoadFromData(admin.OpenAPI())
	if err != nil {
		tb.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		tb.Fatalf("openapi.yaml is invalid: %v", err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	// As in app.Main: POSTs run under the Idempotency-Key discipline, and the batch and key
	// routes are served.
	cfg := admin.Config{Vault: svc, Logger: log, CheckToken: func(_ context.Context, t string) (bool, error) { return t == adminToken, nil },
		Idempotency: idempotency.New(st, kr, idempotency.Config{})}
	for _, o := range opts {
		o(&cfg)
	}
	api := admin.New(cfg)
	api.BatchRoutes(payments.NewService(vst, svc, kr, payments.Config{}))
	api.KeyRoutes(keyOps{st: st, kr: kr})
	h := httpx.Wrap(api, httpx.Options{Logger: log})
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &env{url: srv.URL, h: h, store: st, kr: kr, svc: svc, logs: capture, router: router}
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// do sends one request with the admin token (unless token is "-") and header's name, value
// pairs, and validates the exchange.
func (e *env) do(tb testing.TB, method, path, body, token string, header ...string) reply {
	tb.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if token == "" {
		token = adminToken
	}
	if token != "-" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	return e.check(tb, req, body, resp)
}

// check reads an answer to req, whose body was body, and validates the exchange against
// openapi.yaml.
func (e *env) check(tb testing.TB, req *http.Request, body string, resp *http.Response) reply {
	tb.Helper()
	method, path := req.Method, req.URL.Path
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if path != "/admin/v1/openapi.yaml" {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			tb.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			tb.Errorf("%s %s: Cache-Control = %q", method, path, resp.Header.Get("Cache-Control"))
		}
	}
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.URL.Path = strings.TrimSuffix(vreq.URL.Path, "/")
	vreq.Body = io.NopCloser(strings.NewReader(body))
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		if r.code() == "" {
			tb.Errorf("%s %s: unrouted answer without an error body: %s", method, path, raw)
		}
		return r
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if r.status < 400 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tb.Errorf("%s %s: request does not match openapi.yaml: %v", method, path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(raw)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		tb.Errorf("%s %s: response %d does not match openapi.yaml: %v\n%s", method, path, r.status, err, raw)
	}
	return r
}

func (e *env) must(tb testing.TB, want int, method, path, body string) reply {
	tb.Helper()
	r := e.do(tb, method, path, body, "")
	if r.status != want {
		tb.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

func TestAdminFlow(t *testing.T) {
	e := MustEnv(t)
	ctx := context.Background()
	m := e.must(t, 201, "POST", "/admin/v1/merchants", `{"name":"Shop","account_number":"8998720101"}`)
	mid := m.str("merchant_id")
	ps := m.body["paysafe"].(map[string]any)
	e.logs.Forbid(ps["api_key_secret"].(string), ps["single_use_key_secret"].(string))
	// The new credentials work: the same code path as `payvault merchant create`.
	p, err := e.svc.AuthenticateAPIKey(ctx, ps["api_key_id"].(string), ps["api_key_secret"].(string))
	if err != nil || p.MerchantID() != mid || ps["account_number"] != "8998720101" {
		t.Fatalf("credentials: %v", err)
	}
	if m.header.Get("Cache-Control") != "no-store" {
		t.Error("merchant credentials must not be cached")
	}
	list := e.must(t, 200, "GET", "/admin/v1/merchants", "")
	if list.body["total"] != float64(1) {
		t.Errorf("list = %s", list.raw)
	}
	mer := e.must(t, 200, "GET", "/admin/v1/merchants/"+mid, "")
	def := mer.str("default_location_id")

	loc := e.must(t, 201, "POST", "/admin/v1/merchants/"+mid+"/locations", `{"name":"Second","currency":"CAD"}`)
	if loc.str("ticket_hash_key") == "" || loc.str("currency") != "CAD" {
		t.Errorf("location = %s", loc.raw)
	}
	e.logs.Forbid(loc.str("ticket_hash_key"))
	lid := loc.str("id")
	if g := e.must(t, 200, "GET", "/admin/v1/merchants/"+mid+"/locations/"+lid, ""); g.str("ticket_hash_key") != "" {
		t.Error("the ticket hash key is shown again")
	}
	if l := e.must(t, 200, "GET", "/admin/v1/merchants/"+mid+"/locations", ""); l.body["total"] != float64(2) {
		t.Errorf("locations = %s", l.raw)
	}

	o := e.must(t, 200, "PUT", "/admin/v1/merchants/"+mid+"/allowed-origins", `{"allowed_origins":["https://Shop.example/","https://shop.example"]}`)
	if got := o.body["allowed_origins"].([]any); len(got) != 1 || got[0] != "https://shop.example" {
		t.Errorf("origins = %s", o.raw)
	}
	e.must(t, 200, "PUT", "/admin/v1/merchants/"+mid+"/locations/"+lid+"/allowed-origins", `{"allowed_origins":["https://pos.example:8443"]}`)
	if r := e.do(t, "PUT", "/admin/v1/merchants/"+mid+"/allowed-origins", `{"allowed_origins":["javascript:alert(1)"]}`, ""); r.status != 400 || r.code() != "invalid" {
		t.Errorf("bad origin = %s", r.raw)
	}

	u := e.must(t, 201, "POST", "/admin/v1/merchants/"+mid+"/users", `{"username":"clerk","location_ids":["`+lid+`"]}`)
	if len(u.str("user_api_key")) != 32 || u.str("primary_location_id") != def {
		t.Errorf("user = %s", u.raw)
	}
	e.logs.Forbid(u.str("user_api_key"))
	uid := u.str("id")
	up := e.must(t, 200, "PUT", "/admin/v1/merchants/"+mid+"/users/"+uid, `{"status":0}`)
	if up.body["status"] != float64(0) || up.str("user_api_key") != "" {
		t.Errorf("user update = %s", up.raw)
	}
	e.must(t, 200, "GET", "/admin/v1/merchants/"+mid+"/users/"+uid, "")
	if l := e.must(t, 200, "GET", "/admin/v1/merchants/"+mid+"/users", ""); l.body["total"].(float64) < 2 {
		t.Errorf("users = %s", l.raw)
	}

	pt := e.must(t, 201, "POST", "/admin/v1/merchants/"+mid+"/product-transactions", `{"location_id":"`+lid+`","payment_method":"ach","title":"ACH 2","make_default":true}`)
	e.must(t, 200, "GET", "/admin/v1/merchants/"+mid+"/product-transactions/"+pt.str("id"), "")
	if l := e.must(t, 200, "GET", "/admin/v1/merchants/"+mid+"/product-transactions", ""); l.body["total"].(float64) != 5 {
		t.Errorf("product transactions = %s", l.raw)
	}
	if g := e.must(t, 200, "GET", "/admin/v1/merchants/"+mid+"/locations/"+lid, ""); g.str("default_ach_product_transaction_id") != pt.str("id") {
		t.Errorf("make_default did not apply: %s", g.raw)
	}

	// The mandate status control.
	prof, err := e.svc.CreateProfile(ctx, p, &vault.Profile{MerchantCustomerID: "m", Locale: "en_US"})
	if err != nil {
		t.Fatal(err)
	}
	bacs, err := e.svc.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindBACS, ProfileID: prof.ID, SortCode: "207405", HolderName: "S"},
		vault.Source{Number: "12345678"}, vault.CreateOptions{Mandates: []string{"SUBSCRIP45"}})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := e.svc.ListMandates(ctx, p, bacs.ID)
	st := e.must(t, 200, "POST", "/admin/v1/mandates/"+ms[0].ID+"/status", `{"status":"ACTIVE"}`)
	if st.str("status") != "ACTIVE" || st.str("bank_account_id") != bacs.ID {
		t.Errorf("mandate = %s", st.raw)
	}
	e.must(t, 200, "POST", "/admin/v1/mandates/"+ms[0].ID+"/status", `{"status":"DISPUTED","reason":"DISPUTED"}`)
	if r := e.do(t, "POST", "/admin/v1/mandates/"+ms[0].ID+"/status", `{"status":"PENDING"}`, ""); r.status != 400 || r.code() != "invalid" || r.body["error"].(map[string]any)["field"] != "status" {
		t.Errorf("bad transition = %s", r.raw)
	}
}

// TestAdminUnknownFieldMasked: the error names an unknown field, but a card number sent as a
// field name is masked there like anywhere else a request's text is repeated.
func TestAdminUnknownFieldMasked(t *testing.T) {
	e := MustEnv(t)
	r := e.do(t, "POST", "/admin/v1/merchants", `{"name":"x","4111111111111111":"y"}`, "")
	if r.status != 400 || r.code() != "invalid" || r.body["error"].(map[string]any)["field"] != "************1111" {
		t.Errorf("unknown field = %d %s", r.status, r.raw)
	}
	if strings.Contains(string(r.raw), "4111111111111111") {
		t.Errorf("body repeats the number: %s", r.raw)
	}
	// So are a bank account number and an IBAN (no field name is either), as RedactID masks a
	// path id.
	for name, want := range map[string]string{"988948193": "*****8193", "NL91ABNA0417164300": "NL91**********4300"} {
		r := e.do(t, "POST", "/admin/v1/merchants", `{"name":"x","`+name+`":"y"}`, "")
		if r.status != 400 || r.code() != "invalid" || r.body["error"].(map[string]any)["field"] != want {
			t.Errorf("unknown field %s = %d %s", want, r.status, r.raw)
		}
	}
}

func TestAdminErrors(t *testing.T) {
	e := MustEnv(t)
	m := e.must(t, 201, "POST", "/admin/v1/merchants/", `{"name":"Shop"}`)
	mid := m.str("merchant_id")
	for _, tt := range []struct {
		name, method, path, body, token string
		status                          int
		code                            string
	}{
		{"fail/no-token", "GET", "/admin/v1/merchants", "", "-", 401, "unauthorized"},
		{"fail/wrong-token", "GET", "/admin/v1/merchants", "", "nope", 401, "unauthorized"},
		{"fail/unknown-route", "GET", "/admin/v1/nothing", "", "", 404, "not_found"},
		{"fail/wrong-method", "DELETE", "/admin/v1/merchants", "", "", 405, "method_not_allowed"},
		{"fail/bad-json", "POST", "/admin/v1/merchants", `{"name":`, "", 400, "bad_json"},
		{"fail/unknown-field", "POST", "/admin/v1/merchants", `{"name":"x","colour":"red"}`, "", 400, "invalid"},
		{"fail/invalid-utf8", "POST", "/admin/v1/merchants", "{\"name\":\"a\xffb\"}", "", 400, "bad_json"},
		{"fail/nul-in-string", "POST", "/admin/v1/merchants", `{"name":"a\u0000b"}`, "", 400, "invalid"},
		{"fail/nul-in-path", "GET", "/admin/v1/merchants/%00", "", "", 404, "not_found"},
		{"fail/wrong-type", "POST", "/admin/v1/merchants", `{"name":"x","live":"yes"}`, "", 400, "invalid"},
		{"fail/missing-name", "POST", "/admin/v1/merchants", `{}`, "", 400, "invalid"},
		{"fail/taken-account", "POST", "/admin/v1/merchants", `{"name":"x","account_number":"` + m.body["paysafe"].(map[string]any)["account_number"].(string) + `"}`, "", 409, "conflict"},
		// An account number is in every card-payment URL: one as long as a card number (12
		// digits and more) would be masked in logs like one, so none is taken.
		{"fail/card-long-account", "POST", "/admin/v1/merchants", `{"name":"x","account_number":"4111111111111111"}`, "", 400, "invalid"},
		{"fail/12-digit-account", "POST", "/admin/v1/merchants", `{"name":"x","account_number":"100000000000"}`, "", 400, "invalid"},
		{"fail/card-long-location-account", "POST", "/admin/v1/merchants/" + mid + "/locations", `{"name":"x","account_number":"4111111111111111"}`, "", 400, "invalid"},
		{"fail/unknown-merchant", "GET", "/admin/v1/merchants/nope", "", "", 404, "not_found"},
		{"fail/unknown-merchant-location", "POST", "/admin/v1/merchants/nope/locations", `{"name":"x"}`, "", 404, "not_found"},
		{"fail/unknown-location", "GET", "/admin/v1/merchants/" + mid + "/locations/nope", "", "", 404, "not_found"},
		{"fail/foreign-location-user", "POST", "/admin/v1/merchants/" + mid + "/users", `{"username":"x","primary_location_id":"nope"}`, "", 400, "invalid"},
		{"fail/unknown-user", "GET", "/admin/v1/merchants/" + mid + "/users/nope", "", "", 404, "not_found"},
		{"fail/bad-payment-method", "POST", "/admin/v1/merchants/" + mid + "/product-transactions", `{"payment_method":"cash"}`, "", 400, "invalid"},
		{"fail/unknown-mandate", "POST", "/admin/v1/mandates/nope/status", `{"status":"ACTIVE"}`, "", 404, "not_found"},
		{"fail/mandate-no-status", "POST", "/admin/v1/mandates/nope/status", `{}`, "", 400, "invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, tt.body, tt.token)
			if r.status != tt.status || r.code() != tt.code {
				t.Errorf("got %d %s", r.status, r.raw)
			}
			if tt.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// The document itself is public.
	if r := e.do(t, "GET", "/admin/v1/openapi.yaml", "", "-"); r.status != 200 || !bytes.HasPrefix(r.raw, []byte("openapi: 3")) {
		t.Errorf("openapi.yaml = %d", r.status)
	}
}

// keyOps serves the key routes over the test's keyring and store, as app.Main does.
type keyOps struct {
	st *sqlstore.Store
	kr *keys.Keyring
}

func (k keyOps) KeyStatus(ctx context.Context) (any, error) { return k.kr.Status(), nil }
func (k keyOps) RekeyStatus(ctx context.Context) (any, error) {
	return k.st.CountSealedByKey(ctx)
}
func (k keyOps) RotateKey(ctx context.Context, keyset string) (uint32, error) {
	return k.kr.Rotate(ctx, keyset)
}
func (k keyOps) RetireKey(ctx context.Context, keyset string, id uint32) error {
	if err := k.unused(ctx, keyset, id); err != nil {
		return err
	}
	return k.kr.Disable(ctx, keyset, id)
}
func (k keyOps) DestroyKey(ctx context.Context, keyset string, id uint32) error {
	if err := k.unused(ctx, keyset, id); err != nil {
		return err
	}
	return k.kr.Destroy(ctx, keyset, id)
}
func (k keyOps) unused(ctx context.Context, keyset string, id uint32) error {
	counts, err := k.st.CountSealedByKey(ctx)
	if err != nil {
		return err
	}
	if keyset == "data" && counts[id] > 0 {
		return fmt.Errorf("%w: key %d still protects records", keys.ErrKeyInUse, id)
	}
	return nil
}
func (k keyOps) ListAudit(ctx context.Context, merchantID string, after int64, limit int) ([]vault.AuditRecord, error) {
	return k.st.ListAudit(ctx, merchantID, after, limit)
}
func (k keyOps) VerifyAudit(ctx context.Context) ([]vault.AuditProblem, error) {
	return k.st.VerifyAudit(ctx, k.kr)
}
