package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// bodyRoutes are the admin routes that read a body, with {mid}, {lid} and {uid} standing for a
// merchant's ids. The first eight change merchants' records (FuzzAdminBody fuzzes those).
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/admin/v1/merchants"},
	{"PUT", "/admin/v1/merchants/{mid}/allowed-origins"},
	{"POST", "/admin/v1/merchants/{mid}/locations"},
	{"PUT", "/admin/v1/merchants/{mid}/locations/{lid}/allowed-origins"},
	{"POST", "/admin/v1/merchants/{mid}/users"},
	{"PUT", "/admin/v1/merchants/{mid}/users/{uid}"},
	{"POST", "/admin/v1/merchants/{mid}/product-transactions"},
	{"POST", "/admin/v1/mandates/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee/status"},
	{"POST", "/admin/v1/batch"},
	{"POST", "/admin/v1/keys/rotate"},
	{"POST", "/admin/v1/keys/{kid}/retire"},
	{"POST", "/admin/v1/keys/{kid}/destroy"},
}

// MustMerchant creates a merchant through the core and returns a replacer of {mid}, {lid}
// (its default location), {uid} (its user) and {kid} (the primary data key).
func MustMerchant(tb testing.TB, e *env) (*vault.MerchantCredentials, *strings.Replacer) {
	tb.Helper()
	c, err := e.svc.CreateMerchant(context.Background(), vault.NewMerchant{Name: "Shop"})
	if err != nil {
		tb.Fatal(err)
	}
	e.logs.Forbid(c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret, c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
	return c, strings.NewReplacer("{mid}", c.MerchantID, "{lid}", c.Fortis.LocationID, "{uid}", c.Fortis.UserID,
		"{kid}", strconv.FormatUint(uint64(e.kr.PrimaryKeyID()), 10))
}

// raw sends a request written by hand over TCP and validates the answer; body is what the
// request's body holds once decoded, for the validation. A wire cut short needs hangUp: the
// sending side is closed, so the server sees the end of the body early. (The server then
// also cancels the request's context, as for any client that hangs up.)
func (e *env) raw(tb testing.TB, method, path, head, wire, body string, hangUp bool) reply {
	tb.Helper()
	u, _ := url.Parse(e.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := method + " " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + adminToken +
		"\r\nContent-Type: application/json\r\nConnection: close\r\n" + head + "\r\n" + wire
	if _, err := io.WriteString(conn, msg); err != nil {
		tb.Fatal(err)
	}
	if hangUp {
		conn.(*net.TCPConn).CloseWrite()
	}
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return e.check(tb, req, body, resp)
}

// failingBody is a request body that ends with err after its text.
type failingBody struct {
	io.Reader
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		err = b.err
	}
	return n, err
}

// TestBodyUnreadable: a body cut off before its Content-Length, with a bad chunk, or whose
// reading fails is 400 bad_json on every route that reads one, logs no internal error and
// changes nothing; a whole chunked body is read.
func TestBodyUnreadable(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	watch := storetest.MustWatch(t, e.store.DB())
	type answer struct {
		Status int
		Code   string
	}
	for _, rt := range bodyRoutes {
		path := rep.Replace(rt.path)
		for _, tt := range []struct {
			name, head, wire string
			hangUp           bool
		}{
			{"fail/cut-off", "Content-Length: 100\r\n", `{"na`, true},
			{"fail/cut-off-idempotent", "Content-Length: 100\r\nIdempotency-Key: cut-off-" + rt.method + rt.path + "\r\n", `{"na`, true},
			{"fail/bad-chunk-length", "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n", false},
			{"fail/cut-off-chunk", "Transfer-Encoding: chunked\r\n", "10\r\n{\"na", true},
		} {
			t.Run(tt.name+"/"+rt.method+rt.path, func(t *testing.T) {
				before := watch.Snapshot(t)
				r := e.raw(t, rt.method, path, tt.head, tt.wire, `{"na`, tt.hangUp)
				if d := cmp.Diff(answer{400, "bad_json"}, answer{r.status, r.code()}); d != "" {
					t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
				}
				if ch := before.Changed(watch.Snapshot(t)); len(ch) > 0 {
					t.Errorf("changed %v", ch)
				}
			})
		}
		t.Run("fail/read-error/"+rt.method+rt.path, func(t *testing.T) {
			before := watch.Snapshot(t)
			req := httptest.NewRequest(rt.method, "http://vault.test"+path, &failingBody{strings.NewReader(`{"na`), io.ErrUnexpectedEOF})
			req.Header.Set("Authorization", "Bearer "+adminToken)
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			vreq, _ := http.NewRequest(rt.method, e.url+path, strings.NewReader(`{"na`))
			r := e.check(t, vreq, `{"na`, rec.Result())
			if d := cmp.Diff(answer{400, "bad_json"}, answer{r.status, r.code()}); d != "" {
				t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
			}
			if ch := before.Changed(watch.Snapshot(t)); len(ch) > 0 {
				t.Errorf("changed %v", ch)
			}
		})
	}
	t.Run("ok/chunked", func(t *testing.T) {
		body := `{"name":"Chunked"}`
		r := e.raw(t, "POST", "/admin/v1/merchants", "Transfer-Encoding: chunked\r\n", "5\r\n"+body[:5]+"\r\nd\r\n"+body[5:]+"\r\n0\r\n\r\n", body, false)
		if d := cmp.Diff(answer{201, ""}, answer{r.status, r.code()}); d != "" {
			t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
		}
	})
	if s := e.logs.String(); strings.Contains(s, "internal error") {
		t.Errorf("an unreadable body was logged as an internal error:\n%s", s)
	}
}

// errAnswer is the part of an answer the body tests compare.
type errAnswer struct {
	Status      int
	Code, Field string
}

func (r reply) answer() errAnswer {
	e, _ := r.body["error"].(map[string]any)
	f, _ := e["field"].(string)
	return errAnswer{r.status, r.code(), f}
}

// TestBodyShape: a body must be one JSON object. Where a body is required (every route but
// the batch and key routes) an empty one is 400 bad_json; another JSON value than an object is
// 400 invalid; a required field (openapi.yaml) absent, null, or named in another case is 400
// invalid on that field; none changes anything.
func TestBodyShape(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	watch := storetest.MustWatch(t, e.store.DB())
	optional := map[string]bool{"/admin/v1/batch": true, "/admin/v1/keys/rotate": true, "/admin/v1/keys/{kid}/retire": true, "/admin/v1/keys/{kid}/destroy": true}
	required := map[string]string{
		"/admin/v1/merchants":                                            "name",
		"/admin/v1/merchants/{mid}/allowed-origins":                      "allowed_origins",
		"/admin/v1/merchants/{mid}/locations":                            "name",
		"/admin/v1/merchants/{mid}/locations/{lid}/allowed-origins":      "allowed_origins",
		"/admin/v1/merchants/{mid}/users":                                "username",
		"/admin/v1/merchants/{mid}/product-transactions":                 "payment_method",
		"/admin/v1/mandates/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee/status": "status",
	}
	// A value of the right type for each required field, to name it in another case.
	good := map[string]string{"name": `"x"`, "allowed_origins": `[]`, "username": `"x"`, "payment_method": `"cc"`, "status": `"ACTIVE"`}
	for _, rt := range bodyRoutes {
		type bodyCase struct {
			name, body string
			want       errAnswer
		}
		cases := []bodyCase{
			{"fail/null", `null`, errAnswer{400, "invalid", ""}},
			{"fail/array", `[]`, errAnswer{400, "invalid", ""}},
			{"fail/number", `1`, errAnswer{400, "invalid", ""}},
			{"fail/string", `"x"`, errAnswer{400, "invalid", ""}},
			{"fail/trailing-brace", `{} }`, errAnswer{400, "bad_json", ""}},
			{"fail/trailing-value", `{} 1`, errAnswer{400, "bad_json", ""}},
		}
		if !optional[rt.path] {
			cases = append(cases, bodyCase{"fail/empty", ``, errAnswer{400, "bad_json", ""}},
				bodyCase{"fail/blank", " \r\n\t", errAnswer{400, "bad_json", ""}})
		}
		if f := required[rt.path]; f != "" {
			cases = append(cases,
				bodyCase{"fail/missing-" + f, `{}`, errAnswer{400, "invalid", f}},
				bodyCase{"fail/null-" + f, `{"` + f + `":null}`, errAnswer{400, "invalid", f}},
				bodyCase{"fail/upper-case-" + f, `{"` + strings.ToUpper(f) + `":` + good[f] + `}`, errAnswer{400, "invalid", strings.ToUpper(f)}},
				bodyCase{"fail/null-after-" + f, `{"` + f + `":` + good[f] + `,"` + strings.ToUpper(f) + `":null}`, errAnswer{400, "invalid", strings.ToUpper(f)}},
			)
		}
		for _, tt := range cases {
			t.Run(tt.name+"/"+rt.method+rt.path, func(t *testing.T) {
				refusedUnchanged(t, e, watch, rt.method, rep.Replace(rt.path), tt.body, tt.want)
			})
		}
	}
}

// refusedUnchanged sends body and checks that the answer is want and that the store did not
// change.
func refusedUnchanged(t *testing.T, e *env, watch *storetest.Watch, method, path, body string, want errAnswer) {
	t.Helper()
	before := watch.Snapshot(t)
	r := e.do(t, method, path, body, "")
	if d := cmp.Diff(want, r.answer()); d != "" {
		t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
	}
	if ch := before.Changed(watch.Snapshot(t)); len(ch) > 0 {
		t.Errorf("changed %v", ch)
	}
}

// TestBodyNullField: no field is nullable, so null for an optional field is 400 invalid on
// that field, not the field left out ({"merchant_id":null} would otherwise batch every
// merchant, {"keyset":null} rotate the data key); nothing changes.
func TestBodyNullField(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	watch := storetest.MustWatch(t, e.store.DB())
	optional := map[string]string{
		"/admin/v1/merchants":                                            `{"name":"x","live":null}`,
		"/admin/v1/merchants/{mid}/locations":                            `{"name":"x","tz":null}`,
		"/admin/v1/merchants/{mid}/users":                                `{"username":"x","email":null}`,
		"/admin/v1/merchants/{mid}/users/{uid}":                          `{"status":null}`,
		"/admin/v1/merchants/{mid}/product-transactions":                 `{"payment_method":"cc","title":null}`,
		"/admin/v1/mandates/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee/status": `{"status":"ACTIVE","reason":null}`,
		"/admin/v1/batch":                                                `{"merchant_id":null}`,
		"/admin/v1/keys/rotate":                                          `{"keyset":null}`,
		"/admin/v1/keys/{kid}/retire":                                    `{"keyset":null}`,
		"/admin/v1/keys/{kid}/destroy":                                   `{"keyset":null}`,
	}
	for _, rt := range bodyRoutes {
		body, ok := optional[rt.path]
		if !ok {
			continue // only required fields
		}
		t.Run("fail/"+rt.method+rt.path, func(t *testing.T) {
			var v map[string]any
			json.Unmarshal([]byte(body), &v)
			field := ""
			for k, val := range v {
				if val == nil {
					field = k
				}
			}
			refusedUnchanged(t, e, watch, rt.method, rep.Replace(rt.path), rep.Replace(body), errAnswer{400, "invalid", field})
		})
	}
}

// TestBatchMerchantID: {} batches every merchant and a merchant_id one merchant; an empty
// merchant_id (an unset variable in a script) is 400 invalid, not every merchant.
func TestBatchMerchantID(t *testing.T) {
	e := MustEnv(t)
	c, _ := MustMerchant(t, e)
	for _, tt := range []struct {
		name, body string
		want       errAnswer
	}{
		{"ok/every-merchant", `{}`, errAnswer{Status: 200}},
		{"ok/one-merchant", `{"merchant_id":"` + c.MerchantID + `"}`, errAnswer{Status: 200}},
		{"fail/unknown-merchant", `{"merchant_id":"0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"}`, errAnswer{404, "not_found", ""}},
		{"fail/empty-merchant-id", `{"merchant_id":""}`, errAnswer{400, "invalid", "merchant_id"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "POST", "/admin/v1/batch", tt.body, "")
			if d := cmp.Diff(tt.want, r.answer()); d != "" {
				t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
			}
		})
	}
}

// TestBodyOptional: the batch and key routes take an empty body as {} (every merchant, the
// data keyset); a key to retire that the keyset does not hold is 404.
func TestBodyOptional(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	unknown := uint32(1)
	for slices.ContainsFunc(e.kr.Status().Keys, func(k keys.KeyInfo) bool { return k.ID == unknown }) {
		unknown++
	}
	for _, tt := range []struct {
		name, path string
		want       errAnswer
	}{
		{"ok/batch", "/admin/v1/batch", errAnswer{Status: 200}},
		// The primary data key cannot be retired: the empty body named the data keyset.
		{"ok/retire", "/admin/v1/keys/{kid}/retire", errAnswer{409, "conflict", ""}},
		{"ok/rotate", "/admin/v1/keys/rotate", errAnswer{Status: 200}},
		// The old primary is no longer primary, but the merchant's sealed records still use it.
		{"fail/retire-key-in-use", "/admin/v1/keys/{kid}/retire", errAnswer{409, "conflict", ""}},
		{"fail/retire-unknown-key", "/admin/v1/keys/{unknown}/retire", errAnswer{404, "not_found", ""}},
		// A key is retired before it is destroyed.
		{"fail/destroy-not-retired", "/admin/v1/keys/{kid}/destroy", errAnswer{409, "conflict", ""}},
		{"fail/destroy-unknown-key", "/admin/v1/keys/{unknown}/destroy", errAnswer{404, "not_found", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := strings.ReplaceAll(rep.Replace(tt.path), "{unknown}", strconv.FormatUint(uint64(unknown), 10))
			r := e.do(t, "POST", path, "", "")
			if d := cmp.Diff(tt.want, r.answer()); d != "" {
				t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
			}
			if tt.name == "ok/rotate" && r.str("keyset") != "data" {
				t.Errorf("rotated %s", r.raw)
			}
		})
	}
}

// TestKeyDestroy: a key no record uses is retired, then destroyed, and is gone from the key
// list; destroying it again is 404.
func TestKeyDestroy(t *testing.T) {
	e := MustEnv(t)
	MustMerchant(t, e)
	unused := e.must(t, 200, "POST", "/admin/v1/keys/rotate", `{}`).body["primary_key_id"]
	e.must(t, 200, "POST", "/admin/v1/keys/rotate", `{}`)
	path := fmt.Sprintf("/admin/v1/keys/%d/", int64(unused.(float64)))
	if r := e.must(t, 200, "POST", path+"retire", `{"keyset":"data"}`); r.str("status") != "disabled" {
		t.Errorf("retire = %s", r.raw)
	}
	if r := e.must(t, 200, "POST", path+"destroy", `{"keyset":"data"}`); r.str("status") != "destroyed" {
		t.Errorf("destroy = %s", r.raw)
	}
	if r := e.do(t, "POST", path+"destroy", `{"keyset":"data"}`, ""); r.status != 404 {
		t.Errorf("destroy again = %d %s", r.status, r.raw)
	}
	if slices.ContainsFunc(e.kr.Status().Keys, func(k keys.KeyInfo) bool { return float64(k.ID) == unused.(float64) }) {
		t.Errorf("the keyring still holds the destroyed key %v", unused)
	}
}

// TestOriginsRequired: an allowed-origins PUT without a list of origins is refused and leaves
// the origins as they were; an explicit empty list removes them.
func TestOriginsRequired(t *testing.T) {
	e := MustEnv(t)
	_, rep := MustMerchant(t, e)
	for _, rec := range []struct{ name, path string }{{"merchant", "/admin/v1/merchants/{mid}"}, {"location", "/admin/v1/merchants/{mid}/locations/{lid}"}} {
		path := rep.Replace(rec.path)
		e.must(t, 200, "PUT", path+"/allowed-origins", `{"allowed_origins":["https://shop.example"]}`)
		origins := func(t *testing.T) any { return e.must(t, 200, "GET", path, "").body["allowed_origins"] }
		for _, tt := range []struct {
			name, body string
			want       errAnswer
			origins    []any
		}{
			{"fail/empty", ``, errAnswer{400, "bad_json", ""}, []any{"https://shop.example"}},
			{"fail/null", `null`, errAnswer{400, "invalid", ""}, []any{"https://shop.example"}},
			{"fail/no-field", `{}`, errAnswer{400, "invalid", "allowed_origins"}, []any{"https://shop.example"}},
			{"fail/null-field", `{"allowed_origins":null}`, errAnswer{400, "invalid", "allowed_origins"}, []any{"https://shop.example"}},
			{"fail/null-in-other-case", `{"allowed_origins":["https://pos.example"],"Allowed_Origins":null}`, errAnswer{400, "invalid", "Allowed_Origins"}, []any{"https://shop.example"}},
			{"ok/empty-list", `{"allowed_origins":[]}`, errAnswer{Status: 200}, []any{}},
		} {
			t.Run(tt.name+"/"+rec.name, func(t *testing.T) {
				r := e.do(t, "PUT", path+"/allowed-origins", tt.body, "")
				if d := cmp.Diff(tt.want, r.answer()); d != "" {
					t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
				}
				if d := cmp.Diff(tt.origins, origins(t)); d != "" {
					t.Errorf("origins (-want +got)\n%s", d)
				}
			})
		}
	}
}
