package httpx

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/logtest"
)

// unparsedServer serves a router behind UnparsedListener, as app.Main does; its stand-in
// answers echo what they were given. With tlsConfig it serves HTTPS, the wrapper above TLS.
func unparsedServer(t *testing.T, tlsConfig *tls.Config, log *slog.Logger) string {
	t.Helper()
	rt := &Router{Unparsed: func(w http.ResponseWriter, r *http.Request, u *Unparsed) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(u.Status)
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "reason": u.Reason})
	}}
	rt.Handle(http.MethodGet, "/ok", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok tls="+map[bool]string{true: "yes", false: "no"}[r.TLS != nil])
	})
	h := Wrap(rt, Options{Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	srv := &http.Server{Handler: h, ConnContext: UnparsedConnContext, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(UnparsedListener(ln, h, log))
	t.Cleanup(func() { srv.Close() })
	return addr
}

// rawAnswer is one answer read off the wire.
type rawAnswer struct {
	Status int
	Type   string
	Close  bool
	Body   map[string]any
}

// readAnswer reads one answer from br.
func readAnswer(t *testing.T, br *bufio.Reader) rawAnswer {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := rawAnswer{Status: resp.StatusCode, Type: resp.Header.Get("Content-Type"), Close: resp.Close}
	if err := json.Unmarshal(b, &a.Body); err != nil {
		a.Body = map[string]any{"raw": string(b)}
	}
	return a
}

func TestUnparsedAnswersJSON(t *testing.T) {
	addr := unparsedServer(t, nil, nil)
	stand := func(status int, method, path, reason string) rawAnswer {
		return rawAnswer{Status: status, Type: "application/json", Close: true,
			Body: map[string]any{"method": method, "path": path, "reason": reason}}
	}
	tests := []struct {
		name, req string
		want      rawAnswer
	}{
		{"fail/space-in-target", "GET /v2/a b c HTTP/1.1\r\nHost: x\r\n\r\n",
			stand(400, "GET", "/v2/a", "the request is not valid HTTP/1.1")},
		{"fail/bad-escape", "POST /customervault/v1/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
			stand(400, "POST", "/customervault/v1/", "the request is not valid HTTP/1.1")},
		{"fail/no-host", "GET /v2/contacts HTTP/1.1\r\n\r\n",
			stand(400, "GET", "/v2/contacts", "missing required Host header")},
		{"fail/bad-host", "GET /v2/contacts HTTP/1.1\r\nHost: a b\r\n\r\n",
			stand(400, "GET", "/v2/contacts", "malformed Host header")},
		{"fail/bad-header-name", "GET /x HTTP/1.1\r\nHost: a\r\nBad Header: 1\r\n\r\n",
			stand(400, "GET", "/x", "invalid header name")},
		{"fail/two-content-lengths", "POST /v2/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
			stand(400, "POST", "/v2/x", "the request is not valid HTTP/1.1")},
		// net/http's 501 and 505 are the client's error: 400, never a 5xx.
		{"fail/unknown-transfer-coding", "POST /v2/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
			stand(400, "POST", "/v2/x", "unsupported Transfer-Encoding")},
		{"fail/http-version", "GET /v2/x HTTP/9.9\r\nHost: a\r\n\r\n",
			stand(400, "GET", "/v2/x", "unsupported protocol version")},
		{"fail/expect", "PUT /admin/v1/x HTTP/1.1\r\nHost: a\r\nExpect: coffee\r\n\r\n",
			stand(417, "PUT", "/admin/v1/x", "unsupported Expect header")},
		{"fail/headers-too-large", "GET /hosted/v1/x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n",
			stand(431, "GET", "/hosted/v1/x", "the request's headers are over the size limit")},
		{"fail/not-http", "\x16\x03\x01\x00\x05hello\r\n\r\n",
			stand(400, "GET", "/", "the request is not valid HTTP/1.1")},
		// A target cut off by the 512 bytes kept loses its partial last segment, which may
		// hold a card number too short to mask.
		{"fail/long-target", "GET /v2/accountvaults/" + strings.Repeat("A", 479) + "4111111111111111 HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
			stand(400, "GET", "/v2/accountvaults/", "invalid header name")},
		{"fail/long-query", "GET /v2/accountvaults?q=" + strings.Repeat("A", 483) + "4111111111111111 HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
			stand(400, "GET", "/v2/accountvaults", "invalid header name")},
		{"fail/absolute-target", "GET http://h/v2/x y HTTP/1.1\r\nHost: a\r\n\r\n",
			stand(400, "GET", "/v2/x", "the request is not valid HTTP/1.1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			go io.WriteString(c, tt.req)
			if d := cmp.Diff(tt.want, readAnswer(t, bufio.NewReader(c))); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
		})
	}
}

// TestUnparsedAfterKeepAlive: on a kept-alive connection, a malformed request after good
// ones is answered for its own request line, and the good ones are untouched.
func TestUnparsedAfterKeepAlive(t *testing.T) {
	addr := unparsedServer(t, nil, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for range 3 {
		io.WriteString(c, "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
		if got := readAnswer(t, br); got.Status != 200 || got.Close || got.Body["raw"] != "ok tls=no" {
			t.Fatalf("good request: %+v", got)
		}
	}
	io.WriteString(c, "DELETE /v2/accountvaults/1 HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n")
	want := rawAnswer{Status: 400, Type: "application/json", Close: true,
		Body: map[string]any{"method": "DELETE", "path": "/v2/accountvaults/1", "reason": "the request is not valid HTTP/1.1"}}
	if d := cmp.Diff(want, readAnswer(t, br)); d != "" {
		t.Errorf("answer (-want +got):\n%s", d)
	}
}

// TestUnparsedTLS: over TLS the wrapper sits above the TLS connection, handlers still see
// r.TLS, a malformed request gets the JSON answer, and plain HTTP sent to the HTTPS port gets
// a JSON 400 in plain text.
func TestUnparsedTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	cfg, client := ts.TLS.Clone(), ts.Client()
	ts.Close()
	cfg.NextProtos = nil
	log, logs := logtest.New(t)
	addr := unparsedServer(t, cfg, log)

	resp, err := client.Get("https://" + addr + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok tls=yes" {
		t.Errorf("GET /ok over TLS = %q; want r.TLS set", b)
	}

	c, err := tls.Dial("tcp", addr, client.Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /v2/x HTTP/1.1\r\n\r\n")
	want := rawAnswer{Status: 400, Type: "application/json", Close: true,
		Body: map[string]any{"method": "GET", "path": "/v2/x", "reason": "missing required Host header"}}
	if d := cmp.Diff(want, readAnswer(t, bufio.NewReader(c))); d != "" {
		t.Errorf("malformed over TLS (-want +got):\n%s", d)
	}

	p, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(p, "GET /v2/x HTTP/1.1\r\nHost: a\r\n\r\n")
	want = rawAnswer{Status: 400, Type: "application/json", Close: true,
		Body: map[string]any{"method": "GET", "path": "/", "reason": "plain HTTP sent to the HTTPS port"}}
	if d := cmp.Diff(want, readAnswer(t, bufio.NewReader(p))); d != "" {
		t.Errorf("plain HTTP to the TLS port (-want +got):\n%s", d)
	}

	// A failed handshake (the client does not trust the certificate) is logged as net/http
	// logs it, and is no request: nothing is answered on the broken TLS connection, nothing
	// enters the access log.
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "example.com"}); err == nil {
		c.Close()
		t.Fatal("handshake with an untrusted certificate succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "certificate") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	text := logs.String()
	if n := strings.Count(text, `"msg":"request"`); n != 3 {
		t.Errorf("%d access-log entries; want 3 (GET /ok, the malformed request, the plain HTTP):\n%s", n, text)
	}
	for _, w := range []string{`"msg":"http: TLS handshake error"`, `"err":"client sent an HTTP request to an HTTPS server"`, "bad certificate"} {
		if !strings.Contains(text, w) {
			t.Errorf("log lacks %s:\n%s", w, text)
		}
	}
}

func TestParseUnparsedAnswer(t *testing.T) {
	// A handler's own answers are never taken for net/http's.
	for _, p := range []string{
		"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n", // not an error status
		"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 ", "{\"a\":1}", "",
		// A stored value that lands at a 4 KiB boundary of a long answer starts a write of
		// its own: it is no answer of net/http's unless it is one whole.
		"HTTP/1.1 417 Expectation Failed" + strings.Repeat("b", 100) + "\"}]}",
		"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: Mon, 23 Nov 2026 12:16:35 GMT\r\nContent-Length: 0\r\n\r\n{",
		"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: Xon, 23 Nov 2026 12:16:35 GMT\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request and more",
	} {
		if u := parseUnparsedAnswer([]byte(p)); u != nil {
			t.Errorf("parseUnparsedAnswer(%q) = %+v; want nil", p, u)
		}
	}
	for _, p := range []string{
		"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: Mon, 23 Nov 2026 12:16:35 GMT\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.0 417 Expectation Failed\r\nConnection: close\r\nDate: Mon, 23 Nov 2026 12:16:35 GMT\r\nContent-Length: 0\r\n\r\n",
	} {
		if u := parseUnparsedAnswer([]byte(p)); u == nil || u.Status != 417 {
			t.Errorf("parseUnparsedAnswer(%q) = %+v; want the 417", p, u)
		}
	}
}

// FuzzRawRequest sends arbitrary bytes to a server behind UnparsedListener, then half-closes:
// whatever comes back is a sequence of well-formed HTTP answers (or nothing), none a 5xx, and
// every answer but the one route's 200 is JSON.
func FuzzRawRequest(f *testing.F) {
	for _, s := range []string{
		"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /v2/x y HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /v2/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"GET /x HTTP/9.9\r\nHost: a\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET / HTTP/1.0\r\n\r\n",
		"PUT /ok HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	} {
		f.Add([]byte(s))
	}
	addr := unparsedServerFor(f)
	f.Fuzz(func(t *testing.T, req []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			c.Write(req)
			c.(*net.TCPConn).CloseWrite()
		}()
		br := bufio.NewReader(c)
		for {
			if _, err := br.Peek(1); err != nil {
				return // the server closed: nothing more to read
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("not an HTTP answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("answer %d %s", resp.StatusCode, b)
			}
			if resp.StatusCode != 200 && resp.StatusCode != 100 && !json.Valid(b) {
				t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
			}
		}
	})
}

// unparsedServerFor is unparsedServer for a fuzz target, whose server lives until its end.
func unparsedServerFor(f *testing.F) string {
	rt := &Router{
		NotFound: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404); io.WriteString(w, `{"nf":1}`) },
		MethodNotAllowed: func(w http.ResponseWriter, r *http.Request, allow []string) {
			w.WriteHeader(405)
			io.WriteString(w, `{"m":1}`)
		},
		Unparsed: func(w http.ResponseWriter, r *http.Request, u *Unparsed) {
			w.WriteHeader(u.Status)
			io.WriteString(w, `{"u":1}`)
		},
	}
	rt.Handle(http.MethodGet, "/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	rt.Handle(http.MethodPut, "/ok", func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	h := Wrap(rt, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := &http.Server{Handler: h, ConnContext: UnparsedConnContext, ReadHeaderTimeout: 2 * time.Second}
	go srv.Serve(UnparsedListener(ln, h, nil))
	f.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
