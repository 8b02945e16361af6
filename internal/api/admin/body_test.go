package admin_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// bodyRoutes are the admin routes that read a body, with {mid}, {lid} and {uid} standing for a
// merchant's ids.
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
	{"POST", "/admin/v1/keys/1/retire"},
}

// MustMerchant creates a merchant through the core and returns a replacer of {mid}, {lid}
// (its default location) and {uid} (its user).
func MustMerchant(tb testing.TB, e *env) (*vault.MerchantCredentials, *strings.Replacer) {
	tb.Helper()
	c, err := e.svc.CreateMerchant(context.Background(), vault.NewMerchant{Name: "Shop"})
	if err != nil {
		tb.Fatal(err)
	}
	e.logs.Forbid(c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret, c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
	return c, strings.NewReplacer("{mid}", c.MerchantID, "{lid}", c.Fortis.LocationID, "{uid}", c.Fortis.UserID)
}

// raw sends a request written by hand over TCP, closes the sending side and validates the
// answer; body is what the request's body holds once decoded, for the validation.
func (e *env) raw(tb testing.TB, method, path, head, wire, body string) reply {
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
	conn.(*net.TCPConn).CloseWrite()
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
		}{
			{"fail/cut-off", "Content-Length: 100\r\n", `{"na`},
			{"fail/cut-off-idempotent", "Content-Length: 100\r\nIdempotency-Key: cut-off-" + rt.method + rt.path + "\r\n", `{"na`},
			{"fail/bad-chunk-length", "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"},
			{"fail/cut-off-chunk", "Transfer-Encoding: chunked\r\n", "10\r\n{\"na"},
		} {
			t.Run(tt.name+"/"+rt.method+rt.path, func(t *testing.T) {
				before := watch.Snapshot(t)
				r := e.raw(t, rt.method, path, tt.head, tt.wire, `{"na`)
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
		r := e.raw(t, "POST", "/admin/v1/merchants", "Transfer-Encoding: chunked\r\n", "5\r\n"+body[:5]+"\r\nd\r\n"+body[5:]+"\r\n0\r\n\r\n", body)
		if d := cmp.Diff(answer{201, ""}, answer{r.status, r.code()}); d != "" {
			t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
		}
	})
	if s := e.logs.String(); strings.Contains(s, "internal error") {
		t.Errorf("an unreadable body was logged as an internal error:\n%s", s)
	}
}
