// Package e2e holds end-to-end tests: each starts the real payvault (app.Main) on
// 127.0.0.1:0 with its logs checked by logtest, and talks to it over HTTP as a client would.
// TestReadmeTour instead runs the built binary as the README says, and the tour's own curl
// commands against it.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
)

func TestMain(m *testing.M) { storetest.RunMain(m) }

// server is a running payvault.
type server struct {
	main  *app.Main
	url   string
	logs  *logtest.Capture
	admin string // admin is the admin token.
}

// adminToken is the admin API's token on every MustServer.
const adminToken = "e2e-admin-token-0123456789abcdef"

// MustServer starts payvault on a fresh data dir and stops it when the test ends. The sandbox
// merchant's secrets and the admin token are forbidden in the logs.
// Options, when given, adjust the configuration before the start.
func MustServer(tb testing.TB, options ...func(*app.Config)) *server {
	tb.Helper()
	log, capture := logtest.New(tb)
	cfg := app.Config{Listen: "127.0.0.1:0", DataDir: tb.TempDir(), Logger: log, AdminToken: adminToken, Out: io.Discard}
	for _, o := range options {
		o(&cfg)
	}
	m, err := app.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Listen(); err != nil {
		m.Close()
		tb.Fatal(err)
	}
	c := m.Credentials
	capture.Forbid(adminToken, c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret, c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
		if n := m.Store.WriteStats().Unfenced; n != 0 {
			tb.Errorf("%d writes stored sealed data without the keys they sealed under (vault.Sealing): the key fence did not judge them", n)
		}
		m.Close()
	})
	return &server{main: m, url: m.URL(), logs: capture, admin: adminToken}
}

// basic is an HTTP Basic credential.
type basic struct{ user, pass string }

func (b basic) header() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(b.user+":"+b.pass))
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(name string) string { s, _ := r.body[name].(string); return s }

func (r response) code() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// sendRaw makes a request without credentials and does not decode the body.
func (s *server) sendRaw(tb testing.TB, method, path string) response {
	tb.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// send makes one request as the Paysafe SDKs do: JSON Content-Type on every request, the
// body exactly as given.
func (s *server) send(tb testing.TB, auth string, method, path, body string) response {
	tb.Helper()
	return s.sendWith(tb, auth, method, path, body, nil)
}

// sendWith is send with extra headers.
func (s *server) sendWith(tb testing.TB, auth string, method, path, body string, header map[string]string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range header {
		req.Header.Set(k, v)
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
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			tb.Fatalf("%s %s: body is not a JSON object", method, path)
		}
	}
	return r
}
