package httpx

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/logtest"
)

func TestRouter(t *testing.T) {
	rt := &Router{
		NotFound: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404); io.WriteString(w, "nf") },
		MethodNotAllowed: func(w http.ResponseWriter, r *http.Request, allow []string) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			w.WriteHeader(405)
		},
		AutoOptions: true,
	}
	echo := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name+":"+r.PathValue("id")+":"+InfoFrom(r.Context()).Pattern)
		}
	}
	rt.Handle("GET", "/v2/things", echo("list"))
	rt.Handle("POST", "/v2/things", echo("create"))
	rt.Handle("GET", "/v2/things/{id}", echo("get"))
	rt.Handle("PUT", "/v2/things/{id}", echo("put"))
	rt.Handle("GET", "/v2/things/special", echo("special"))
	h := Wrap(rt, Options{})
	tests := []struct {
		name, method, path string
		code               int
		body, allow        string
	}{
		{"ok/list", "GET", "/v2/things", 200, "list::/v2/things", ""},
		{"ok/trailing-slash", "POST", "/v2/things/", 200, "create::/v2/things", ""},
		{"ok/capture", "GET", "/v2/things/abc", 200, "get:abc:/v2/things/{id}", ""},
		{"ok/literal-wins", "GET", "/v2/things/special", 200, "special::/v2/things/special", ""},
		{"ok/head-as-get", "HEAD", "/v2/things/abc", 200, "", ""},
		{"ok/options", "OPTIONS", "/v2/things/abc", 200, "", "GET, PUT"},
		{"fail/unknown", "GET", "/v2/nope", 404, "nf", ""},
		{"fail/too-deep", "GET", "/v2/things/a/b", 404, "nf", ""},
		{"fail/method", "DELETE", "/v2/things/abc", 405, "", "GET, PUT"},
		{"ok/escaped-slash-stays-in-its-segment", "GET", "/v2/things/%2F", 200, "get:/:/v2/things/{id}", ""},
		{"ok/escaped-slash-in-an-id", "GET", "/v2/things/a%2Fb", 200, "get:a/b:/v2/things/{id}", ""},
		{"ok/escaped-letters", "GET", "/v2/th%69ngs/%61bc", 200, "get:abc:/v2/things/{id}", ""},
		// A path with an empty, "." or ".." segment names nothing.
		{"fail/double-slash", "GET", "/v2//things", 404, "nf", ""},
		{"fail/leading-double-slash", "GET", "//v2/things", 404, "nf", ""},
		{"fail/dot", "GET", "/v2/./things", 404, "nf", ""},
		{"fail/dot-dot", "GET", "/v2/things/abc/..", 404, "nf", ""},
		{"fail/dot-dot-inside", "PUT", "/v2/things/x/../abc", 404, "nf", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			got := struct {
				Code        int
				Body, Allow string
			}{w.Code, w.Body.String(), w.Header().Get("Allow")}
			want := struct {
				Code        int
				Body, Allow string
			}{tt.code, tt.body, tt.allow}
			if tt.method == "HEAD" {
				got.Body = ""
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestSafePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/v2/accountvaults", "/v2/accountvaults"},
		{"/v2/x?page=2&user-api-key=abc&user-id=u&developer-id=d", "/v2/x?page=2"},
		{"/v2/cardtickets?hash-key=ff&timestamp=1&location-api-key=k", "/v2/cardtickets"},
		{"/v2/x?User-Api-Key=abc&a=1", "/v2/x?a=1"},
		{"/v2/x?user%2Dapi%2Dkey=abc&a=1", "/v2/x?a=1"},
		{"/customervault/v1/profiles/4111111111111111", "/customervault/v1/profiles/************1111"},
		{"/v2/accountvaults?title=4111%201111%201111%201111&page=2", "/v2/accountvaults?title=%2A%2A%2A%2A+%2A%2A%2A%2A+%2A%2A%2A%2A+1111&page=2"},
		{"/v2/accountvaults?title=4111-1111-1111-1111", "/v2/accountvaults?title=%2A%2A%2A%2A-%2A%2A%2A%2A-%2A%2A%2A%2A-1111"},
		{"/v2/accountvaults/a4111111-1111-1111-1abc-abcdefabcdef", "/v2/accountvaults/a4111111-1111-1111-1abc-abcdefabcdef"},
		{"/cardpayments/v1/accounts/1234567890/auths?merchantRefNum=12345678901", "/cardpayments/v1/accounts/1234567890/auths?merchantRefNum=12345678901"},
		{"/customervault/v1/profiles/4000.0566.5566.5556", "/customervault/v1/profiles/****.****.****.5556"},
		{"/customervault/v1/profiles/4000/0566/5566/5556", "/customervault/v1/profiles/****/****/****/5556"},
		// A number used as a parameter's name is masked too.
		{"/customervault/v1/profiles?4000056655665556=x&a=1", "/customervault/v1/profiles?%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A5556=x&a=1"},
		// A parameter named for account data keeps its name and loses its value.
		{"/v2/accountvaults?dl_number=D123&title=x&SSN4=1234&account_number=4111&cvv", "/v2/accountvaults?dl_number=[redacted]&title=x&SSN4=[redacted]&account_number=[redacted]&cvv"},
		// A bracketed name (a PHP array) is read by the name before the brackets.
		{"/v2/accountvaults?cvv[]=123&CVV%5B0%5D=456&ssn4[x]=1234&user-api-key[]=abc123&developer-id%5B%5D=d&title[]=x", "/v2/accountvaults?cvv[]=[redacted]&CVV%5B0%5D=[redacted]&ssn4[x]=[redacted]&title[]=x"},
		// A credential or account parameter under a misspelt name: '_', '.', ' ' and '-' are one
		// separator, and none is needed.
		{"/v2/accountvaults?user_api_key=k1&USER.API.KEY=k2&userapikey=k3&developer_id=d&page=1", "/v2/accountvaults?page=1"},
		{"/v2/accountvaults?api-secret=s&access_token=t&Authorization=Basic%20eA&a=1", "/v2/accountvaults?a=1"},
		{"/v2/accountvaults?account-number=4111&cc_number=4111&card.number=4111&CVV-2=123&a=1", "/v2/accountvaults?account-number=[redacted]&cc_number=[redacted]&card.number=[redacted]&CVV-2=[redacted]&a=1"},
		{"/hosted/v1/fields/card?cc-exp=1230&cvc=737&account=31926819", "/hosted/v1/fields/card?cc-exp=[redacted]&cvc=[redacted]&account=[redacted]"},
		{"/customervault/v1/profiles?merchantCustomerId=4000/0566/5566/5556", "/customervault/v1/profiles?merchantCustomerId=%2A%2A%2A%2A%2F%2A%2A%2A%2A%2F%2A%2A%2A%2A%2F5556"},
		// A segment that is a bank account number or an IBAN, sent by mistake as an id.
		{"/customervault/v1/profiles/p/achbankaccounts/988948193", "/customervault/v1/profiles/p/achbankaccounts/*****8193"},
		{"/customervault/v1/profiles/p/sepabankaccounts/NL91ABNA0417164300/x", "/customervault/v1/profiles/p/sepabankaccounts/NL91**********4300/x"},
		{"/v2/accountvaults/gb82west12345698765432", "/v2/accountvaults/GB82**************5432"},
		{"/v2/accountvaults/31926819?id_type=api_id", "/v2/accountvaults/****6819?id_type=api_id"},
		// A four-digit segment and a Paysafe merchant account number are no account data.
		{"/v2/accountvaults/1234", "/v2/accountvaults/1234"},
		{"/cardpayments/v1/accounts/1001234567/auths/98894819", "/cardpayments/v1/accounts/1001234567/auths/****4819"},
		// An IBAN in a query value (whose digit runs may all be short, as a Dutch one's are) or
		// after /accounts/ (where a merchant account number is all digits) is masked too.
		{"/v2/accountvaults?title=NL91ABNA0417164300&page=2", "/v2/accountvaults?title=NL91%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A4300&page=2"},
		{"/v2/accountvaults?title=nl91%20abna%200417%201643%2000", "/v2/accountvaults?title=NL91%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A4300"},
		{"/v2/accountvaults?NL91ABNA0417164300=1", "/v2/accountvaults?NL91%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A4300=1"},
		{"/cardpayments/v1/accounts/NL91ABNA0417164300/auths", "/cardpayments/v1/accounts/NL91**********4300/auths"},
		// A short all-digit value is no IBAN and stays: order numbers and ids are often numbers.
		{"/v2/transactions?order_num=988948193", "/v2/transactions?order_num=988948193"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.in)
		if got := SafePath(u); got != tt.want {
			t.Errorf("SafePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactDigits(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ok/short-runs-kept", "order 12345678901 and 2024-05-01", "order 12345678901 and 2024-05-01"},
		{"ok/pan", "x4111111111111111y", "x************1111y"},
		{"ok/spaced-pan", "4111 1111 1111 1111", "**** **** **** 1111"},
		{"ok/uuid-kept", "01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19 4111111111111111", "01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19 ************1111"},
		// Only a whole UUID is kept: a card number glued to UUID-shaped text is masked.
		{"ok/pan-before-uuid-shape", "4111111111111111-1111-1111-1111-111111111111", "****************-****-****-****-********1111"},
		{"ok/pan-after-uuid", "01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b194111111111111111", "01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b**************1111"},
		{"ok/uuid-in-path-kept", "/v2/x/01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19/y", "/v2/x/01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19/y"},
		{"ok/two-runs", "4111111111111111 and 5200400000000009", "************1111 and ************0009"},
		{"ok/joined-runs-are-one", "4111111111111111/5200400000000009", "****************/************0009"},
		{"ok/dots", "4000.0566.5566.5556", "****.****.****.5556"},
		{"ok/underscores", "4000_0566_5566_5556", "****_****_****_5556"},
		{"ok/double-dashes", "4000--0566--5566--5556", "****--****--****--5556"},
		{"ok/commas", "4000,0566,5566,5556", "****,****,****,5556"},
		{"ok/spaced-dash", "4000 - 0566 - 5566 - 5556", "**** - **** - **** - 5556"},
		{"ok/line-breaks", "4000\n0566\n5566\n5556", "****\n****\n****\n5556"},
		{"ok/four-separators-split", "40000566556....65556", "40000566556....65556"},
		{"ok/wide-blanks", "4111    1111\t\t1111 \t  1111", "****    ****\t\t**** \t  1111"},
		{"ok/nine-blanks-split", "40000566556         65556", "40000566556         65556"},
		{"ok/letters-split", "order 4000056655 item 665556", "order 4000056655 item 665556"},
		{"ok/date-kept", "startDate=2026-11-23T07:50:47Z", "startDate=2026-11-23T07:50:47Z"},
		// Separators and digits beyond ASCII: a card number pasted from a formatted document
		// or typed on another keyboard is still one.
		{"ok/no-break-spaces", "4111\u00a01111\u00a01111\u00a01111", "****\u00a0****\u00a0****\u00a01111"},
		{"ok/thin-spaces", "4111\u20091111\u20091111\u20091111", "****\u2009****\u2009****\u20091111"},
		{"ok/zero-width-spaces", "4111\u200b1111\u200b1111\u200b1111", "****\u200b****\u200b****\u200b1111"},
		{"ok/soft-hyphens", "4111\u00ad1111\u00ad1111\u00ad1111", "****\u00ad****\u00ad****\u00ad1111"},
		{"ok/spaced-em-dashes", "4000 \u2014 0566 \u2014 5566 \u2014 5556", "**** \u2014 **** \u2014 **** \u2014 5556"},
		{"ok/full-width-digits", "x\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11y", "x************\uff11\uff11\uff11\uff11y"},
		{"ok/arabic-indic-digits", "\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661", "************\u0661\u0661\u0661\u0661"},
		{"ok/mixed-digits", "4111\uff11\uff11\uff11\uff111111\u00a01111", "************\u00a01111"},
		{"ok/non-ascii-letters-split", "order 4000056655 \u00e9 665556", "order 4000056655 \u00e9 665556"},
		{"ok/four-non-ascii-separators-split", "40000566556\u00a0\u00a0\u00a0\u00a065556", "40000566556\u00a0\u00a0\u00a0\u00a065556"},
		{"ok/empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, RedactDigits(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestRedactID shows which ids a 404 echoes masked: a card number inside one, and an id that
// is wholly a bank account number or a valid IBAN. No payvault id is either.
func TestRedactID(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ok/uuid-kept", "01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19", "01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19"},
		{"ok/fortis-id-kept", "11e95f8ec39de8fbdb0a4f1a", "11e95f8ec39de8fbdb0a4f1a"},
		{"ok/fortis-id-with-an-andorran-iban-shape-kept", "ad12ab3456cd7890ef123456", "ad12ab3456cd7890ef123456"},
		{"ok/short-number-kept", "1234", "1234"},
		{"ok/api-id-kept", "cust-100234", "cust-100234"},
		{"ok/account-number", "988948193", "*****8193"},
		{"ok/iban", "DE89370400440532013000", "DE89**************3000"},
		{"ok/iban-lower-spaced", "nl91 abna 0417 1643 00", "NL91**********4300"},
		{"ok/pan-inside", "x4111111111111111", "x************1111"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, RedactID(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestRedactValue shows what a query value, a reference or a filter item becomes when a log,
// an error or a link repeats it: its long digit runs are masked, and a valid IBAN without one
// is masked whole. A number is kept: it may be an order number or an id.
func TestRedactValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ok/iban", "NL91ABNA0417164300", "NL91**********4300"},
		{"ok/iban-lower-spaced", "nl91 abna 0417 1643 00", "NL91**********4300"},
		{"ok/iban-long-digit-run", "DE89370400440532013000", "DE****************3000"},
		{"ok/ibans-in-a-list", "NL91ABNA0417164300,x,nl91 abna 0417 1643 00", "NL91**********4300,x,NL91**********4300"},
		{"ok/iban-in-a-word", "ibanNL91ABNA0417164300x", "ibanNL91**********4300x"},
		{"ok/pan", "4111111111111111", "************1111"},
		{"ok/number-kept", "988948193", "988948193"},
		{"ok/mistyped-iban-kept", "NL91ABNA0417164301", "NL91ABNA0417164301"},
		{"ok/text-kept", "order-12", "order-12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, RedactValue(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	log, capture := logtest.New(t)
	capture.Forbid("s3cr3t-user-key", "Basic dXNlcjpzM2NyM3Q=")
	metrics := NewMetrics()
	h := Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.WriteHeader(201)
	}), Options{Logger: log, Metrics: metrics})
	r := httptest.NewRequest("POST", "/v2/accountvaults?user-api-key=s3cr3t-user-key&page=1", strings.NewReader(`{"accountvault":{"account_number":"4111111111111111"}}`))
	r.Header.Set("Authorization", "Basic dXNlcjpzM2NyM3Q=")
	h.ServeHTTP(httptest.NewRecorder(), r)
	// A card number a client put into the path or the query is masked in the log.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/customervault/v1/profiles/4111111111111111?merchantCustomerId=4111%201111%201111%201111", nil))
	// A method is any token: a card number sent as one is neither logged nor a metrics label.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("4111111111111111", "/v2/accountvaults", nil))
	if !strings.Contains(capture.String(), `"status":201`) || !strings.Contains(capture.String(), `"method":"OTHER"`) {
		t.Errorf("access log: %s", capture)
	}
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if leaks := logtest.Leaks(rec.Body.String(), nil); len(leaks) > 0 || !strings.Contains(rec.Body.String(), `method="OTHER"`) {
		t.Errorf("metrics: leaks %v\n%s", leaks, rec.Body)
	}
}

// TestTransferEncodingCloses: a request with a Transfer-Encoding (whose Content-Length, if it
// had one, net/http dropped) closes its connection after the answer (RFC 9112, 6.1).
func TestTransferEncodingCloses(t *testing.T) {
	srv := httptest.NewServer(Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body) }), Options{}))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.Close {
		t.Error("the connection stays open after a request with Content-Length and Transfer-Encoding")
	}
	if resp, err := http.ReadResponse(br, nil); err == nil {
		t.Errorf("the smuggled request was answered: %d", resp.StatusCode)
	}
	// A plain request keeps its connection.
	resp, err = srv.Client().Get(srv.URL + "/y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Close {
		t.Error("a request without Transfer-Encoding closed its connection")
	}
}

func TestBodyLimit(t *testing.T) {
	var readErr error
	h := Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, readErr = io.ReadAll(r.Body)
	}), Options{MaxBody: 10})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 11))))
	if readErr == nil {
		t.Error("an oversize body was read without error")
	}
}

func TestSecureAndBaseURL(t *testing.T) {
	r := httptest.NewRequest("GET", "http://vault.example/x", nil)
	r.RemoteAddr = "203.0.113.5:1234"
	if Secure(r, false) {
		t.Error("plain HTTP from a remote address counted as secure")
	}
	if !Secure(r, true) {
		t.Error("a trusted upstream was not honoured")
	}
	r.RemoteAddr = "127.0.0.1:5555"
	if !Secure(r, false) {
		t.Error("loopback not secure")
	}
	r.RemoteAddr = "[::1]:5555"
	if !Secure(r, false) {
		t.Error("IPv6 loopback not secure")
	}
	r.RemoteAddr = "203.0.113.5:1234"
	r.TLS = &tls.ConnectionState{}
	if !Secure(r, false) {
		t.Error("TLS not secure")
	}
	if got := BaseURL(r, ""); got != "https://vault.example" {
		t.Errorf("BaseURL = %q", got)
	}
	if got := BaseURL(r, "https://pub.example/"); got != "https://pub.example" {
		t.Errorf("BaseURL with public = %q", got)
	}
	// A Host is the client's text too: a card number or an IBAN in it is masked in the links
	// and Location headers built from it.
	for host, want := range map[string]string{
		"4111111111111111":              "https://************1111",
		"NL91ABNA0417164300":            "https://NL91**********4300",
		"nl91abna0417164300.example:80": "https://NL91**********4300.example:80",
	} {
		r.Host = host
		if got := BaseURL(r, ""); got != want {
			t.Errorf("BaseURL with Host %q = %q, want %q", host, got, want)
		}
	}
}

func TestRecover(t *testing.T) {
	log, _ := logtest.New(t)
	h := Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom 4111111111111111") }), log,
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500); io.WriteString(w, `{"error":{}}`) })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || w.Body.String() != `{"error":{}}` {
		t.Errorf("got %d %q", w.Code, w.Body)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(2, 3, func() time.Time { return now })
	var got []bool
	for i := 0; i < 5; i++ {
		ok, _ := l.Allow("a")
		got = append(got, ok)
	}
	if d := cmp.Diff([]bool{true, true, true, false, false}, got); d != "" {
		t.Errorf("burst (-want +got)\n%s", d)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key is limited by the first")
	}
	_, wait := l.Allow("a")
	if wait <= 0 || wait > time.Second {
		t.Errorf("wait = %v", wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("no token after half a second at 2/s")
	}
	var off *Limiter
	if ok, _ := off.Allow("x"); !ok {
		t.Error("a nil limiter limits")
	}
}

// TestNosniff shows that every answer, a handler's own and an error alike, tells browsers not to
// guess its type: the token endpoints are called from merchants' pages.
func TestNosniff(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusNotFound} {
		rec := httptest.NewRecorder()
		Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
		}), Options{}).ServeHTTP(rec, httptest.NewRequest("POST", "/customervault/v1/singleusetokens", nil))
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%d: X-Content-Type-Options = %q, want nosniff", status, got)
		}
	}
}

// BenchmarkSafePath is the access log's redaction of a typical path: a card lookup's.
func BenchmarkSafePath(b *testing.B) {
	u, _ := url.Parse("/customervault/v1/profiles/01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19/cards/01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b20")
	b.ReportAllocs()
	for b.Loop() {
		SafePath(u)
	}
}
