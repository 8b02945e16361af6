package paysafe_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQueryPlusIsSpace shows what a Python-SDK-shaped lookup gets. The Python SDK does not
// URL-encode query values (§1.3 item 9), so a merchantCustomerId or merchantRefNum holding
// "+" reaches the server as a raw "+". The vendor's servlet container reads "+" in a query
// as a space, and so does payvault: only startDate and endDate read a space back as "+"
// (§1.3 item 9). A value holding "+" is found when the client encodes it as %2B (Java, Node).
func TestQueryPlusIsSpace(t *testing.T) {
	e := mustPayEnv(t)
	plus := e.MustProfile(t, "a+b")
	space := e.MustProfile(t, "a b")
	e.MustProfile(t, "c+d")
	lookup := "/customervault/v1/profiles?merchantCustomerId="

	t.Run("ok/profile-raw-plus-reads-space", func(t *testing.T) {
		if got := e.must(t, 200, call{method: "GET", path: lookup + "a+b"}).str("id"); got != space {
			t.Errorf("?merchantCustomerId=a+b found %q, want the profile of \"a b\" %q", got, space)
		}
	})
	t.Run("ok/profile-encoded-plus", func(t *testing.T) {
		if got := e.must(t, 200, call{method: "GET", path: lookup + "a%2Bb"}).str("id"); got != plus {
			t.Errorf("?merchantCustomerId=a%%2Bb found %q, want the profile of \"a+b\" %q", got, plus)
		}
	})
	t.Run("fail/profile-raw-plus-not-found", func(t *testing.T) {
		r := e.must(t, 404, call{method: "GET", path: lookup + "c+d"})
		msg, _ := r.body["error"].(map[string]any)["message"].(string)
		if r.code() != "5269" || msg != "The ID(s) specified in the URL do not correspond to the values in the system.: c d" {
			t.Errorf("?merchantCustomerId=c+d = %s", r.raw)
		}
	})

	e.mustAuth(t, "r+1", 100, false)
	for _, tt := range []struct {
		name, query string
		want        int
	}{
		{"ok/auths-raw-plus-reads-space", "r+1", 0},
		{"ok/auths-encoded-plus", "r%2B1", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=" + tt.query)})
			auths, _ := r.body["auths"].([]any)
			if d := cmp.Diff(tt.want, len(auths)); d != "" {
				t.Errorf("auths listed (-want +got)\n%s\n%s", d, r.raw)
			}
		})
	}
}

// TestEmptyRequiredString shows that "" in a required string of at least one character fails
// both §3 rules, as merchantCustomerId does (§2.2, and the §1.7 example): "may not be empty"
// and "size must be between 1 and {max}". A blank but non-empty value has a length, so it is
// only "may not be empty".
func TestEmptyRequiredString(t *testing.T) {
	e := mustPayEnv(t)
	pid := e.MustProfile(t, "empty-1")
	aid := e.MustAddress(t, pid)
	prof := "/customervault/v1/profiles/" + pid
	sepa := e.must(t, 201, call{method: "POST", path: prof + "/sepabankaccounts",
		body: `{"accountHolderName":"S","iban":"DE89370400440532013000","billingAddressId":"` + aid + `"}`}).str("id")
	auth := e.mustAuth(t, "empty-auth", 100, true)
	card := `"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}`
	tests := []struct {
		name string
		c    call
		want []string
	}{
		{"fail/auth-ref-empty", call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"","amount":100,` + card + `}`},
			[]string{"merchantRefNum: may not be empty", "merchantRefNum: size must be between 1 and 255"}},
		{"fail/auth-ref-blank", call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"  ","amount":100,` + card + `}`},
			[]string{"merchantRefNum: may not be empty"}},
		{"fail/verification-ref-empty", call{method: "POST", path: e.path("verifications"), body: `{"merchantRefNum":"",` + card + `}`},
			[]string{"merchantRefNum: may not be empty", "merchantRefNum: size must be between 1 and 255"}},
		{"fail/voidauth-ref-empty", call{method: "POST", path: e.path("auths/" + auth + "/voidauths"), body: `{"merchantRefNum":""}`},
			[]string{"merchantRefNum: may not be empty", "merchantRefNum: size must be between 1 and 255"}},
		{"fail/mandate-reference-empty", call{method: "POST", path: prof + "/sepabankaccounts/" + sepa + "/mandates", body: `{"reference":""}`},
			[]string{"reference: may not be empty", "reference: size must be between 1 and 35"}},
		{"fail/mandate-reference-blank", call{method: "POST", path: prof + "/sepabankaccounts/" + sepa + "/mandates", body: `{"reference":" "}`},
			[]string{"reference: may not be empty"}},
		{"fail/bacs-mandate-reference-empty", call{method: "POST", path: prof + "/bacsbankaccounts",
			body: `{"accountHolderName":"S","accountNumber":"12345678","sortCode":"207405","billingAddressId":"` + aid + `","mandates":{"reference":""}}`},
			[]string{"mandates[0].reference: may not be empty", "mandates[0].reference: size must be between 1 and 35"}},
		{"fail/account-holder-empty", call{method: "POST", path: prof + "/sepabankaccounts",
			body: `{"accountHolderName":"","iban":"DE89370400440532013000","billingAddressId":"` + aid + `"}`},
			[]string{"accountHolderName: may not be empty", "accountHolderName: size must be between 1 and 160"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, 400, tt.c)
			if r.code() != "5068" {
				t.Fatalf("code %q: %s", r.code(), r.raw)
			}
			if d := cmp.Diff(tt.want, r.fieldErrs()); d != "" {
				t.Errorf("fieldErrors (-want +got)\n%s", d)
			}
		})
	}
}

// TestHolderName shows the holderName rules. A vault card's is optional, at most 160
// characters (§2.4): longer is 5068 "size must be between 0 and 160", like every optional
// length (§3). A single-use token's card keeps it (§2.11) to become a vault card's, so the
// same rule applies there. The card of a card payment has no holderName (§2.12: {cardNum,
// cardExpiry, cvv?}; the SDKs' card-payment Card has none), so there it is an unknown field,
// ignored at any length (§1.3).
func TestHolderName(t *testing.T) {
	e := mustPayEnv(t)
	pid := e.MustProfile(t, "holder-1")
	long := strings.Repeat("H", 161)
	max := strings.Repeat("H", 160)
	raw := func(holder string) string {
		return `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"holderName":"` + holder + `"}`
	}
	tests := []struct {
		name   string
		c      call
		status int
		want   []string
	}{
		{"ok/card-160", call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: raw(max)}, 201, nil},
		{"fail/card-161", call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: raw(long)}, 400,
			[]string{"holderName: size must be between 0 and 160"}},
		{"fail/profile-card-161", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"holder-2","locale":"en_US","card":` + raw(long) + `}`}, 400,
			[]string{"card.holderName: size must be between 0 and 160"}},
		{"ok/token-160", call{method: "POST", path: "/customervault/v1/singleusetokens", body: `{"card":` + raw(max) + `}`}, 200, nil},
		{"fail/token-161", call{method: "POST", path: "/customervault/v1/singleusetokens", body: `{"card":` + raw(long) + `}`}, 400,
			[]string{"card.holderName: size must be between 0 and 160"}},
		{"ok/auth-ignores-161", call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"h","amount":100,"card":` + raw(long) + `}`}, 200, nil},
		{"ok/verification-ignores-161", call{method: "POST", path: e.path("verifications"), body: `{"merchantRefNum":"h","card":` + raw(long) + `}`}, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, tt.status, tt.c)
			if tt.status < 400 {
				return
			}
			if r.code() != "5068" {
				t.Fatalf("code %q: %s", r.code(), r.raw)
			}
			if d := cmp.Diff(tt.want, r.fieldErrs()); d != "" {
				t.Errorf("fieldErrors (-want +got)\n%s", d)
			}
		})
	}
}

// TestFailedTransactionLookup pins the §2.12 decision on failed transactions: a declined auth
// is stored FAILED with its error, and GET answers 200 with that object, its error at the top
// level, as the decline's envelope had it. The Python SDK, which detects failure by a
// top-level "error" (§1.3 item 12), raises the stored decline; Java and Node read a
// transaction with status FAILED and its error. A list carries the error inside each entry,
// never at the top level.
func TestFailedTransactionLookup(t *testing.T) {
	e := mustPayEnv(t)
	d := e.must(t, 402, call{method: "POST", path: e.path("auths"),
		body: `{"merchantRefNum":"declined","amount":5,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
	g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + d.str("id"))})
	if g.str("status") != "FAILED" || g.code() != "3009" || g.str("id") != d.str("id") || g.str("merchantRefNum") != "declined" {
		t.Errorf("GET of a declined auth = %s", g.raw)
	}
	if h := g.header.Get("X-Application-Status-Code"); h != "" {
		t.Errorf("a 200 carries X-Application-Status-Code %q", h)
	}
	l := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=declined")})
	if _, ok := l.body["error"]; ok {
		t.Errorf("a list has a top-level error: %s", l.raw)
	}
	auths, _ := l.body["auths"].([]any)
	if len(auths) != 1 {
		t.Fatalf("list = %s", l.raw)
	}
	entry := auths[0].(map[string]any)
	if code, _ := entry["error"].(map[string]any)["code"].(string); entry["status"] != "FAILED" || code != "3009" {
		t.Errorf("list entry = %v", entry)
	}
}
