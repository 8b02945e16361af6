package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Unparsed is what Go's HTTP server found wrong with a request it could not parse. Such a
// request never reaches a handler: net/http answers it itself, in plain text, straight on the
// connection. UnparsedListener puts a handler's JSON answer in its place; the handler sees a
// stand-in request (the method and path of the request line, when they could be read) whose
// context carries the Unparsed.
type Unparsed struct {
	// Status is the status to answer: 400, 417 (an Expect header other than 100-continue)
	// or 431 (a header block over the limit). net/http's 501 (a transfer coding it does not
	// implement) and 505 (an HTTP version it does not speak) become 400: they are the
	// client's error, and a malformed request never gets a 5xx here.
	Status int
	// Reason says what was wrong, in net/http's fixed words ("missing required Host header");
	// it never holds request data.
	Reason string
}

// Message is the sentence an error body gives for u.
func (u *Unparsed) Message() string { return "The request could not be parsed: " + u.Reason + "." }

type unparsedKey struct{}

// UnparsedFrom returns the Unparsed of a stand-in request, or nil for every real request.
func UnparsedFrom(ctx context.Context) *Unparsed {
	u, _ := ctx.Value(unparsedKey{}).(*Unparsed)
	return u
}

// UnparsedListener wraps ln so that net/http's own answers to requests it cannot parse (a
// malformed request line, header or Host, two Content-Length headers, an unknown transfer
// coding or HTTP version, a header block over the limit, an unknown Expect, plain HTTP sent
// to the TLS port) are replaced, on the wire, by h's answer to a stand-in request carrying
// the Unparsed. h is the server's handler: the API that owns the request line's path answers
// in its envelope, through the same access log and metrics as every other request.
//
// Serve the result with an http.Server whose ConnContext is UnparsedConnContext: net/http
// sets r.TLS only on a *tls.Conn, and a TLS connection here is wrapped, so Wrap restores
// r.TLS from the connection.
//
// log, when not nil, takes the TLS handshake failures net/http would have logged.
func UnparsedListener(ln net.Listener, h http.Handler, log *slog.Logger) net.Listener {
	return &unparsedListener{Listener: ln, h: h, log: log}
}

type unparsedListener struct {
	net.Listener
	h   http.Handler
	log *slog.Logger
}

func (l *unparsedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &unparsedConn{Conn: c, h: l.h, log: l.log}, nil
}

// unparsedConn watches one connection. It keeps the first bytes of the request being read
// (from the first read after the last answer written) to find the request line's method and
// path, and it recognises net/http's plain-text error answers by their fixed header block.
type unparsedConn struct {
	net.Conn
	h   http.Handler
	log *slog.Logger

	mu       sync.Mutex
	head     [headSize]byte
	n        int
	answered bool // a stand-in answer was written; the connection is closing
}

// headSize is how much of a request's start is kept: enough for a request line's method and
// the path prefix that picks its API.
const headSize = 512

func (c *unparsedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.n < headSize {
			c.n += copy(c.head[c.n:], p[:n])
		}
		c.mu.Unlock()
	}
	if err != nil {
		c.readFailed(err)
	}
	return n, err
}

// readFailed handles a read error of a TLS connection whose handshake failed. net/http, which
// does not see a *tls.Conn under the wrapper, takes it for an unparsable request and answers
// on the TLS connection, which cannot carry an answer: that answer is dropped, and the failure
// is logged as net/http logs it. Plain HTTP sent to the TLS port is answered on the raw
// connection in JSON, where net/http would answer in plain text; its request line is not
// readable (the TLS layer holds its first bytes), so the default API answers.
func (c *unparsedConn) readFailed(err error) {
	tc, ok := c.Conn.(*tls.Conn)
	if !ok || tc.ConnectionState().HandshakeComplete {
		return
	}
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
	reason := err.Error()
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
		reason = "client sent an HTTP request to an HTTPS server"
		re.Conn.Write(c.answer(&Unparsed{Status: http.StatusBadRequest, Reason: "plain HTTP sent to the HTTPS port"}, "", "/"))
	}
	if c.log != nil {
		c.log.Warn("http: TLS handshake error", "remote", c.RemoteAddr().String(), "err", reason)
	}
}

// looksLikeHTTP reports whether a TLS record header is the start of a plain HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

func (c *unparsedConn) Write(p []byte) (int, error) {
	u := parseUnparsedAnswer(p)
	c.mu.Lock()
	if u == nil {
		c.n = 0 // an answer: the next bytes read start the next request
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	if c.answered {
		c.mu.Unlock()
		return len(p), nil
	}
	c.answered = true
	method, target := requestLine(c.head[:c.n])
	c.mu.Unlock()
	if _, err := c.Conn.Write(c.answer(u, method, target)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite half-closes the connection when the one underneath can, as net/http does after
// a 431 so that the client reads the answer before the connection goes.
func (c *unparsedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// errorHeaders is the fixed header block of every plain-text answer net/http writes for a
// request it could not parse (net/http/server.go, conn.serve). A handler's answer never
// starts this way: net/http writes a handler's headers sorted, with a Date, so Connection
// comes before Content-Type.
const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// reasons are net/http's fixed texts for the requests it refuses, as they appear after the
// status text in its answer's status line.
var reasons = []string{
	"missing required Host header", "malformed Host header", "invalid header name",
	"invalid header value", "unsupported protocol version",
}

// parseUnparsedAnswer recognises a write of net/http's own answer to an unparsed request and
// returns the Unparsed it stands for, or nil for any other write.
func parseUnparsedAnswer(p []byte) *Unparsed {
	if len(p) < 12 || !bytes.HasPrefix(p, []byte("HTTP/1.")) || p[8] != ' ' {
		return nil
	}
	status, err := strconv.Atoi(string(p[9:12]))
	if err != nil {
		return nil
	}
	if status == http.StatusExpectationFailed {
		// net/http refuses an Expect other than 100-continue (any Expect from an HTTP/1.0
		// client, whose answer's status line says HTTP/1.0) with a handler-less answer and no
		// body; no handler of payvault answers 417.
		return &Unparsed{Status: status, Reason: "unsupported Expect header"}
	}
	eol := bytes.Index(p, []byte("\r\n"))
	if p[7] != '1' || eol < 0 || !bytes.HasPrefix(p[eol:], []byte(errorHeaders)) {
		return nil
	}
	u := &Unparsed{Status: http.StatusBadRequest, Reason: "the request is not valid HTTP/1.1"}
	line := string(p[:eol])
	switch status {
	case http.StatusBadRequest:
	case http.StatusRequestHeaderFieldsTooLarge:
		u.Status, u.Reason = status, "the request's headers are over the size limit"
	case http.StatusNotImplemented:
		u.Reason = "unsupported Transfer-Encoding"
	case http.StatusHTTPVersionNotSupported:
	default:
		return nil
	}
	for _, r := range reasons {
		if strings.HasSuffix(line, ": "+r) {
			u.Reason = r
		}
	}
	return u
}

// requestLine reads the method and target of the request line at the start of head, as far
// as they can be read; either may be empty.
func requestLine(head []byte) (method, target string) {
	head = bytes.TrimLeft(head, "\r\n")
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
		head = head[:i]
	}
	m, rest, _ := bytes.Cut(head, []byte(" "))
	t, _, _ := bytes.Cut(rest, []byte(" "))
	return string(m), string(t)
}

// standInURL is the stand-in request's URL: the target's when it parses, else its path up to
// the first byte that stopped it. A target that is not a path stands in as "/".
func standInURL(target string) *url.URL {
	if u, err := url.ParseRequestURI(target); err == nil && strings.HasPrefix(u.Path, "/") {
		return u
	}
	p := target
	if i := strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("?#%", r) }); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		p = "/"
	}
	return &url.URL{Path: p}
}

// validMethod reports whether m is a plausible method token (letters, at most 16).
func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// answer renders h's answer to the stand-in request as a complete HTTP/1.1 response that
// closes the connection.
func (c *unparsedConn) answer(u *Unparsed, method, target string) []byte {
	if !validMethod(method) {
		method = http.MethodGet
	}
	r := (&http.Request{
		Method: method, URL: standInURL(target), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, RemoteAddr: c.RemoteAddr().String(),
	}).WithContext(context.WithValue(context.Background(), unparsedKey{}, u))
	rec := &recorder{header: http.Header{}}
	c.h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(rec.status) + " " + http.StatusText(rec.status) + "\r\n")
	for _, k := range []string{"Connection", "Content-Length", "Transfer-Encoding"} {
		rec.header.Del(k)
	}
	rec.header.Write(&b)
	b.WriteString("Content-Length: " + strconv.Itoa(rec.body.Len()) + "\r\nConnection: close\r\n\r\n")
	b.Write(rec.body.Bytes())
	return b.Bytes()
}

// recorder is the ResponseWriter of a stand-in request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

type tlsConnKey struct{}

// UnparsedConnContext is the http.Server ConnContext for UnparsedListener: it keeps a TLS
// connection under the wrapper where Wrap finds it to restore r.TLS.
func UnparsedConnContext(ctx context.Context, c net.Conn) context.Context {
	if uc, ok := c.(*unparsedConn); ok {
		if tc, ok := uc.Conn.(*tls.Conn); ok {
			return context.WithValue(ctx, tlsConnKey{}, tc)
		}
	}
	return ctx
}

// restoreTLS sets r.TLS from the connection when net/http could not (the connection is
// wrapped). r is the middleware's own copy.
func restoreTLS(r *http.Request) {
	if r.TLS != nil {
		return
	}
	if tc, ok := r.Context().Value(tlsConnKey{}).(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.TLS = &st
	}
}
