package paysafe

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// TestCoercion is the §1.4 table: what each accessor accepts and what it refuses.
func TestCoercion(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		read  func(o obj) any
		want  any
		fails bool
	}{
		{"ok/int", `{"v":2006}`, func(o obj) any { n, _ := o.integer("v"); return n }, 2006, false},
		{"ok/int-zero-fraction", `{"v":2006.0}`, func(o obj) any { n, _ := o.integer("v"); return n }, 2006, false},
		{"ok/int-exponent", `{"v":2.006e3}`, func(o obj) any { n, _ := o.integer("v"); return n }, 2006, false},
		{"ok/int-string", `{"v":"2006"}`, func(o obj) any { n, _ := o.integer("v"); return n }, 2006, false},
		{"ok/int-signed-string", `{"v":"-12"}`, func(o obj) any { n, _ := o.integer("v"); return n }, -12, false},
		{"ok/int-null", `{"v":null}`, func(o obj) any { _, st := o.integer("v"); return st }, absent, false},
		{"fail/int-fraction", `{"v":1.5}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		// A fraction that binary floating point would round away is still a fraction: an
		// amount of 9.9999999999999999 is not 10.
		{"fail/int-fraction-below", `{"v":9.9999999999999999}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"fail/int-fraction-above", `{"v":2006.00000000000000001}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"fail/int-fraction-exponent", `{"v":1.00000000000000001e2}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"fail/int-exponent-fraction", `{"v":15.000e-1}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"ok/int-exponent-only", `{"v":1E2}`, func(o obj) any { n, _ := o.integer("v"); return n }, 100, false},
		{"ok/int-negative-zero", `{"v":-0.0}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, false},
		{"fail/int-huge-exponent", `{"v":1e999999999}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"fail/int-beyond-2^53", `{"v":9007199254740993.0}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"fail/int-bool", `{"v":true}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"fail/int-word", `{"v":"12a"}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"fail/int-sign-only", `{"v":"+"}`, func(o obj) any { n, _ := o.integer("v"); return n }, 0, true},
		{"ok/bool", `{"v":false}`, func(o obj) any { return *o.boolean("v") }, false, false},
		{"ok/bool-string-any-case", `{"v":"TrUe"}`, func(o obj) any { return *o.boolean("v") }, true, false},
		{"ok/bool-null", `{"v":null}`, func(o obj) any { return o.boolean("v") == nil }, true, false},
		{"fail/bool-number", `{"v":1}`, func(o obj) any { return o.boolean("v") == nil }, true, true},
		{"ok/string-number", `{"v":796134762}`, func(o obj) any { s, _ := o.str("v"); return s }, "796134762", false},
		{"ok/string-exponent", `{"v":1e3}`, func(o obj) any { s, _ := o.str("v"); return s }, "1000", false},
		{"ok/string-decimal", `{"v":12.50}`, func(o obj) any { s, _ := o.str("v"); return s }, "12.50", false},
		{"ok/string-small-exponent", `{"v":15e-1}`, func(o obj) any { s, _ := o.str("v"); return s }, "1.5", false},
		{"fail/string-huge-exponent", `{"v":1e999999999}`, func(o obj) any { s, _ := o.str("v"); return s }, "", true},
		{"ok/string-bool", `{"v":true}`, func(o obj) any { s, _ := o.str("v"); return s }, "true", false},
		{"ok/optional-empty-is-absent", `{"v":""}`, func(o obj) any { return o.optString("v", 5) }, "", false},
		{"fail/string-object", `{"v":{}}`, func(o obj) any { s, _ := o.str("v"); return s }, "", true},
		{"fail/string-array", `{"v":[]}`, func(o obj) any { s, _ := o.str("v"); return s }, "", true},
		{"fail/string-nul", `{"v":"a\u0000b"}`, func(o obj) any { s, _ := o.str("v"); return s }, "", true},
		{"ok/objects-single", `{"v":{"reference":"a"}}`, func(o obj) any { return len(o.objects("v")) }, 1, false},
		{"ok/objects-array", `{"v":[{"reference":"a"},{"reference":"b"}]}`, func(o obj) any { return len(o.objects("v")) }, 2, false},
		{"fail/objects-scalar", `{"v":"a"}`, func(o obj) any { return len(o.objects("v")) }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseObject([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			o := obj{m: m, errs: &fieldErrs{}}
			if d := cmp.Diff(tt.want, tt.read(o)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if got := len(o.errs.list) > 0; got != tt.fails {
				t.Errorf("recorded errors %v, want failure %v", o.errs.list, tt.fails)
			}
		})
	}
}

// TestParsePosition checks the line and column of 5023 details.
func TestParsePosition(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"{\"a\":1,}", "Unexpected character at [line: 1, column: 8]"},
		{"{\n  \"a\": tru\n}", "Unexpected character at [line: 2, column: 11]"},
		{"{\"a\":", "Unexpected end-of-input at [line: 1, column: 6]"},
		{"[1]", "Expected a JSON object at [line: 1, column: 1]"},
		{"  null", "Expected a JSON object at [line: 1, column: 3]"},
		{"{}\n{}", "Unexpected data after the JSON object at [line: 2, column: 1]"},
		{"{\"é\":x}", "Unexpected character at [line: 1, column: 6]"},
		{"{\"a\":\n\"b\xffc\"}", "Invalid UTF-8 at [line: 2, column: 3]"},
		{"{\"a\":\"é\xc3\"}", "Invalid UTF-8 at [line: 1, column: 8]"},
	} {
		_, err := parseObject([]byte(tt.in))
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != "5023" {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if d := cmp.Diff([]string{tt.want}, ae.Details); d != "" {
			t.Errorf("%q (-want +got)\n%s", tt.in, d)
		}
	}
}

// TestCompressedBody: a body with a Content-Encoding other than identity is 5023 saying so,
// not a parse position in compressed bytes; identity is read as usual.
func TestCompressedBody(t *testing.T) {
	for _, tt := range []struct {
		encoding string
		ok       bool
	}{{"gzip", false}, {"deflate", false}, {"br", false}, {"identity", true}, {" Identity ", true}, {"", true}} {
		r := httptest.NewRequest(http.MethodPost, "/customervault/v1/profiles", strings.NewReader(`{"locale":"en_US"}`))
		if tt.encoding != "" {
			r.Header.Set("Content-Encoding", tt.encoding)
		}
		o, err := readObject(r)
		if tt.ok {
			if err != nil || o.m["locale"] != "en_US" {
				t.Errorf("%q: %v, %v", tt.encoding, o.m, err)
			}
			continue
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != "5023" || len(ae.Details) != 1 || !strings.Contains(ae.Details[0], "Content-Encoding is not supported") {
			t.Errorf("%q: %v", tt.encoding, err)
		}
	}
}

// FuzzParseObject checks that any input either parses as an object or is a 5023 whose
// details hold no part of the input beyond the fixed words of the message.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"cardNum":"4111111111111111"}`, `[`, `{"a":`, "{\n\"x\":fale}", `"x"`, `{}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseObject(b)
		if err == nil {
			if m == nil {
				t.Fatal("nil map without error")
			}
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != "5023" || len(ae.Details) != 1 {
			t.Fatalf("unexpected error %v", err)
		}
		d := ae.Details[0]
		i := strings.Index(d, " at [line: ")
		if i < 0 || !strings.HasSuffix(d, "]") {
			t.Fatalf("details %q", d)
		}
		switch d[:i] {
		case "Unexpected character", "Unexpected end-of-input", "Expected a JSON object", "Unexpected data after the JSON object", "Malformed JSON", "Invalid UTF-8":
		default:
			t.Fatalf("details %q echo something", d)
		}
	})
}

// TestInternalErrors shows that an unexpected error is 500/1000 with a generic message,
// logged with the request id, and that a panic answers the same JSON envelope.
func TestInternalErrors(t *testing.T) {
	var logs bytes.Buffer
	a := &API{log: slog.New(slog.NewTextHandler(&logs, nil)), cfg: Config{}}
	r := httptest.NewRequest("GET", "/customervault/v1/profiles/x", nil)
	e := a.toAPIError(r, vault.E("vault.Something", vault.Internal, errors.New("disk on fire")))
	if e.Code != "1000" || e.status() != 500 || e.message() != "An internal error occurred." {
		t.Errorf("internal = %+v", e)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Error("the internal error was not logged")
	}
	plog, _ := logtest.New(t)
	api := New(Config{Vault: vault.NewService(nil, nil, nil, vault.Config{}), Logger: plog})
	api.router.Handle(http.MethodGet, "/customervault/v1/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/customervault/v1/panic", nil))
	if rec.Code != 500 || rec.Header().Get("X-Application-Status-Code") != "1000" || !strings.Contains(rec.Body.String(), `"code":"1000"`) {
		t.Errorf("panic = %d %s", rec.Code, rec.Body)
	}
}

// TestBrandTable checks the Paysafe brand table's data and its sub-brands.
func TestBrandTable(t *testing.T) {
	if err := brandTable().Validate(); err != nil {
		t.Fatal(err)
	}
	a := &API{brands: brandTable()}
	for pan, want := range map[string]string{
		"4111111111111111": "VI", "4530910000012345": "VI", "4510150000000321": "VI", "5200400000000009": "MC",
		"3569990000000009": "JC", "4917484589897107": "VE", "4137350000000001": "VD", "378282246310005": "AM",
		"6011111111111117": "DI", "30569309025904": "DC", "6759649826438453": "MD", "6767000000000000": "SO",
		"2221000000000009": "MC", "6200000000000005": "", "4111111111111": "VI", "41111111111111": "",
	} {
		if got := a.cardType(pan); got != want {
			t.Errorf("cardType(%s…) = %q, want %q", pan[:6], got, want)
		}
		if want != "" {
			if got := a.storedCardType(pan[:6], len(pan)); got != want {
				t.Errorf("storedCardType(%s, %d) = %q, want %q", pan[:6], len(pan), got, want)
			}
		}
	}
	for ct, want := range map[string]string{"VD": "DEBIT", "VE": "DEBIT", "MD": "DEBIT", "SO": "DEBIT", "VI": "CREDIT", "AM": "CREDIT", "": ""} {
		if got := cardCategory(ct); got != want {
			t.Errorf("cardCategory(%q) = %q, want %q", ct, got, want)
		}
	}
}
