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
	"time"
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

// net/http answers a request it could not parse with one Write on the connection of one of a
// few fixed texts (net/http/server.go, conn.serve); unparsedAnswers holds them, whole, with
// the Unparsed each stands for. A write is taken for one of them only when it is that whole
// text: a handler's answer always has a Date header, and a piece of a longer answer that is
// written on its own (net/http writes through a 4 KiB buffer) holds the end of its body, which
// for every answer of payvault is JSON (no raw CR or LF) or a fixed file.
var unparsedAnswers = func() map[string]*Unparsed {
	const headers = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	m := map[string]*Unparsed{}
	add := func(line, body string, status int, reason string) {
		m["HTTP/1.1 "+line+headers+body] = &Unparsed{Status: status, Reason: reason}
	}
	add("400 Bad Request", "400 Bad Request", http.StatusBadRequest, "the request is not valid HTTP/1.1")
	add("431 Request Header Fields Too Large", "431 Request Header Fields Too Large",
		http.StatusRequestHeaderFieldsTooLarge, "the request's headers are over the size limit")
	// net/http's 501 and 505 are the client's error: 400 here, never a 5xx.
	add("501 Not Implemented", "Unsupported transfer encoding", http.StatusBadRequest, "unsupported Transfer-Encoding")
	for _, e := range []struct {
		status int
		text   string
	}{
		{400, "missing required Host header"}, {400, "malformed Host header"}, {400, "invalid header name"},
		{400, "invalid header value"}, {505, "unsupported protocol version"},
	} {
		line := strconv.Itoa(e.status) + " " + http.StatusText(e.status) + ": " + e.text
		add(line, line, http.StatusBadRequest, e.text)
	}
	return m
}()

// maxUnparsedAnswer is the length of the longest of net/http's answers.
var maxUnparsedAnswer = func() int {
	n := len("HTTP/1.x") + len(expectFailedStart) + len(http.TimeFormat) + len(expectFailedEnd)
	for k := range unparsedAnswers {
		n = max(n, len(k))
	}
	return n
}()

// expectFailed is net/http's whole answer to an Expect other than 100-continue (any Expect
// from an HTTP/1.0 client, whose answer says HTTP/1.0), around its Date; no handler of
// payvault answers 417.
const (
	expectFailedStart = " 417 Expectation Failed\r\nConnection: close\r\nDate: "
	expectFailedEnd   = "\r\nContent-Length: 0\r\n\r\n"
)

// parseUnparsedAnswer recognises a write of net/http's own answer to an unparsed request and
// returns the Unparsed it stands for, or nil for any other write.
func parseUnparsedAnswer(p []byte) *Unparsed {
	if len(p) > maxUnparsedAnswer || !bytes.HasPrefix(p, []byte("HTTP/1.")) {
		return nil
	}
	if u, ok := unparsedAnswers[string(p)]; ok {
		return u
	}
	const lead = len("HTTP/1.x")
	date := len(p) - lead - len(expectFailedStart) - len(expectFailedEnd)
	if date == len(http.TimeFormat) && (p[7] == '0' || p[7] == '1') &&
		bytes.HasPrefix(p[lead:], []byte(expectFailedStart)) && bytes.HasSuffix(p, []byte(expectFailedEnd)) {
		if _, err := http.ParseTime(string(p[lead+len(expectFailedStart) : len(p)-len(expectFailedEnd)])); err == nil {
			return &Unparsed{Status: http.StatusExpectationFailed, Reason: "unsupported Expect header"}
		}
	}
	return nil
}

// requestLine reads the method and target of the request line at the start of head, as far
// as they can be read; either may be empty.
// A target cut off by the end of head loses its query, or without one its last, partial
// segment: their end is unknown, and a card number cut short there is too short to be masked
// in the log.
func requestLine(head []byte) (method, target string) {
	head = bytes.TrimLeft(head, "\r\n")
	whole := false
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
		head, whole = head[:i], true
	}
	m, rest, _ := bytes.Cut(head, []byte(" "))
	t, _, cut := bytes.Cut(rest, []byte(" "))
	if !whole && !cut {
		if path, _, query := bytes.Cut(t, []byte("?")); query {
			t = path
		} else {
			t = t[:bytes.LastIndexByte(t, '/')+1]
		}
	}
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
	rec.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	rec.header.Write(&b)
	b.WriteString("Content-Length: " + strconv.Itoa(rec.body.Len()) + "\r\nConnection: close\r\n\r\n")
	if method != http.MethodHead {
		b.Write(rec.body.Bytes())
	}
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
