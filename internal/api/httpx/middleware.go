package httpx

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/keys"
)

// Info is the per-request record the middleware and handlers share. Handlers may set API,
// Merchant and Cred; logs and metrics read them. It never holds request data.
type Info struct {
	ID       string // ID is the request id.
	API      string // API is "paysafe", "fortis", "admin", "hosted" or "".
	Pattern  string // Pattern is the matched route pattern.
	Merchant string // Merchant is the authenticated merchant id.
	Cred     string // Cred is the credential id (never a secret).
	Status   int
}

type infoKey struct{}

// InfoFrom returns the request's Info; a detached one when the middleware did not run.
func InfoFrom(ctx context.Context) *Info {
	if i, ok := ctx.Value(infoKey{}).(*Info); ok {
		return i
	}
	return &Info{}
}

func setPattern(r *http.Request, p string) { InfoFrom(r.Context()).Pattern = p }

// Route serves h with pattern as the request's route in its metrics and log line: for an
// endpoint outside every API's Router (/healthz, /metrics), which would otherwise count as
// unmatched, among the requests for unknown paths.
func Route(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPattern(r, pattern)
		h.ServeHTTP(w, r)
	})
}

// statusWriter records the status code.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Options configure the shared middleware.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics
	// MaxBody is the request body limit in bytes (1 MiB when 0).
	MaxBody int64
}

// Wrap applies the shared middleware: request id, body limit, access log and metrics, and
// X-Content-Type-Options: nosniff on every answer (a browser calls the token endpoints with a
// publishable key, and must never read a JSON answer as a script or a page). The access log
// records method, path, status and timing, never a body, a credential header or a credential
// query parameter.
//
// A request with a Transfer-Encoding closes its connection after the answer: net/http drops a
// Content-Length sent beside it and keeps the connection, where RFC 9112 (6.1) asks for the
// close, since such a request may be smuggled past a proxy that read the Content-Length.
func Wrap(h http.Handler, o Options) http.Handler {
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 20
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &Info{ID: keys.NewUUIDv7()}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		restoreTLS(r)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, o.MaxBody)
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		info.Status = status
		d := time.Since(start)
		method := methodLabel(r.Method)
		if o.Metrics != nil {
			o.Metrics.observe(info, method, status, d)
		}
		if o.Logger != nil {
			o.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("id", info.ID), slog.String("method", method),
				slog.String("path", SafePath(r.URL)), slog.Int("status", status),
				slog.Duration("duration", d), slog.String("api", info.API),
				slog.String("route", info.Pattern), slog.String("merchant", info.Merchant),
				slog.String("cred", info.Cred))
		}
	})
}

// RetryAfterUnavailable is the Retry-After, in seconds, of every 503: a database that is down,
// restarting or refusing writes usually answers again within seconds.
const RetryAfterUnavailable = "2"

// methodLabel is a request's method as logs and metrics show it: a standard method, or
// "OTHER". A method is any token the client sends (a card number, a megabyte of letters); as a
// metrics label every distinct one would be kept for good.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// Recover turns a panic into onPanic's answer (each API writes its own 500 envelope) and logs
// the stack with the request id.
func Recover(h http.Handler, log *slog.Logger, onPanic func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				if log != nil {
					log.Error("panic", "id", InfoFrom(r.Context()).ID, "panic", panicText(v), "stack", string(debug.Stack()))
				}
				onPanic(w, r)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// panicText describes a panic without risking request data: a runtime error's message
// (which never holds values) or just the panic's type.
func panicText(v any) string {
	if re, ok := v.(runtime.Error); ok {
		return re.Error()
	}
	return fmtType(v)
}

// credentialParams are query parameters that carry credentials; they never reach logs or
// links. Names are matched as paramBase reads them, so user_api_key and User.Api.Key are
// user-api-key: a credential sent under a misspelt name is still kept out.
var credentialParams = map[string]bool{
	"userapikey": true, "userid": true, "developerid": true, "hashkey": true,
	"locationapikey": true, "timestamp": true, "apikey": true, "apisecret": true,
	"token": true, "secret": true, "password": true, "accesstoken": true, "authorization": true,
}

// IsCredentialParam reports whether a query parameter name carries a credential. A name
// with brackets is read by the name before them (user-api-key[]=, as a PHP service reads
// an array), so that a credential sent that way is still kept out of logs and links.
func IsCredentialParam(name string) bool {
	var buf [paramBaseMax]byte
	return credentialParams[string(paramBase(name, &buf))]
}

// paramBaseMax bounds the names paramBase reads: every name in the tables is shorter.
const paramBaseMax = 32

// paramBase is a query parameter's name as the tables hold it: lower-cased, without a
// bracketed suffix (cvv[0] is cvv) and without the separators '-', '_', '.' and ' ' (PHP
// reads '.' and ' ' as '_'), so that cc-number, cc_number and CC.Number are one name. A
// longer name than any in the tables gives nil. It writes into buf, so that the lookups
// (map[string(b)]) allocate nothing.
func paramBase(name string, buf *[paramBaseMax]byte) []byte {
	if i := strings.IndexByte(name, '['); i > 0 {
		name = name[:i]
	}
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n == len(buf) {
			return nil
		}
		buf[n] = c
		n++
	}
	return buf[:n]
}

// accountParams are query parameters named for account data or identity numbers (no route
// takes one; a client may still send one, e.g. as a list filter): a log line keeps the name
// and never the value, whatever its length. Names are matched as paramBase reads them.
var accountParams = map[string]bool{
	"accountnumber": true, "cardnum": true, "cardnumber": true, "cvv": true, "cvv2": true,
	"iban": true, "dlnumber": true, "ssn4": true, "ssn": true, "trackdata": true,
	// The hosted fields' input names, should a browser ever send its form as a query.
	"ccnumber": true, "cvc": true, "cccsc": true, "ccexp": true, "exp": true,
	"account": true, "routing": true, "transit": true, "institution": true,
}

// SafePath returns the path and the query for a log line: credential parameters are left
// out, the values of parameters named for account data are replaced, long digit runs (a
// card number a client put into the URL) are masked, and so is a path segment that is a bank
// account number or an IBAN (RedactID).
func SafePath(u *url.URL) string {
	path := redactPath(u.Path)
	if u.RawQuery == "" {
		return path
	}
	var kept []string
	for _, seg := range strings.Split(u.RawQuery, "&") {
		name := seg
		if i := strings.IndexByte(seg, '='); i >= 0 {
			name = seg[:i]
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if IsCredentialParam(name) {
			continue
		}
		if raw, _, ok := strings.Cut(seg, "="); ok && IsAccountParam(name) {
			kept = append(kept, RedactQuerySegment(raw)+"=[redacted]")
			continue
		}
		kept = append(kept, RedactQuerySegment(seg))
	}
	if len(kept) == 0 {
		return path
	}
	return path + "?" + strings.Join(kept, "&")
}

// IsAccountParam reports whether a query parameter is named for account data or an identity
// number (see accountParams): its value is never repeated, in a log line or a link.
// A name with brackets (cvv[]) is read by the name before them.
func IsAccountParam(name string) bool {
	var buf [paramBaseMax]byte
	return accountParams[string(paramBase(name, &buf))]
}

// Secure reports whether a request arrived over TLS, from loopback, or through a trusted
// TLS-terminating proxy. Live credentials are refused otherwise.
func Secure(r *http.Request, trustedUpstream bool) bool {
	if r.TLS != nil || trustedUpstream {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BaseURL returns the scheme and host used in links: the configured public base URL, or the
// request's own, with a card number or an IBAN in its Host masked (RedactValue).
func BaseURL(r *http.Request, public string) string {
	if public != "" {
		return strings.TrimSuffix(public, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + RedactValue(r.Host)
}
