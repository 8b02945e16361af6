package paysafe_test

import (
	"encoding/json"
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
		t.Run(tt.name, func(t *testing.T) { e.mustFieldErrs(t, 400, tt.c, tt.want) })
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
		t.Run(tt.name, func(t *testing.T) { e.mustFieldErrs(t, tt.status, tt.c, tt.want) })
	}
}

// mustFieldErrs sends c and fails unless the status is want; on a 4xx the answer must also be
// 5068 with exactly the fieldErrors fields ("field: error", sorted).
func (e *env) mustFieldErrs(tb testing.TB, status int, c call, fields []string) {
	tb.Helper()
	r := e.must(tb, status, c)
	if status < 400 {
		return
	}
	if r.code() != "5068" {
		tb.Fatalf("code %q: %s", r.code(), r.raw)
	}
	if d := cmp.Diff(fields, r.fieldErrs()); d != "" {
		tb.Errorf("fieldErrors (-want +got)\n%s", d)
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

// badTypeValues are JSON values of the wrong type or shape for some member, sent in place of
// each member of a valid body by TestBadTypes.
var badTypeValues = []string{`null`, `true`, `""`, `"  "`, `"x"`, "\"\\u0000\"", `-1`, `-0`, `1.5`, `1e400`, `1e-400`,
	`123456789012345678901234567890`, `[]`, `[1]`, `[null]`, `{}`, `{"a":1}`, `[{}]`, `[[]]`}

// TestBadTypes sends every create and update body that takes one with each of its members, at
// any depth, replaced by each of badTypeValues, and checks every answer as the fuzz targets
// do: never a 5xx (but the simulated processor fault) or a panic, always the Paysafe envelope
// with a documented code, and nothing changed by a refused request.
func TestBadTypes(t *testing.T) {
	fz := mustFuzzer(t)
	bodies := []struct {
		routes []fuzzRoute
		route  int
		body   string
	}{
		{paysafeVaultRoutes, 0, `{"merchantCustomerId":"bt-1","locale":"en_US","firstName":"J","middleName":"W","lastName":"S","gender":"M","email":"j@example.com","ip":"10.0.0.1","nationality":"CA","phone":"1","cellPhone":"2","dateOfBirth":{"day":27,"month":12,"year":1990}}`},
		{paysafeVaultRoutes, 0, `{"merchantCustomerId":"bt-2","locale":"en_US","card":{"cardNum":"4530910000012345","cardExpiry":{"month":12,"year":2050},"cvv":"123","holderName":"H","nickName":"N","merchantRefNum":"R","billingAddress":{"country":"CA","zip":"M5H 2N2","defaultShippingAddressIndicator":true}}}`},
		{paysafeVaultRoutes, 0, `{"merchantCustomerId":"bt-3","locale":"en_US","card":{"singleUseToken":"{sut}"}}`},
		{paysafeVaultRoutes, 1, `{"merchantCustomerId":"fz-profile","locale":"en_US","firstName":"J","dateOfBirth":{"day":27,"month":12,"year":1990}}`},
		{paysafeVaultRoutes, 2, `{"nickName":"home","street":"1 Main","street2":"2","city":"Toronto","country":"CA","state":"ON","zip":"M5H 2N2","phone":"1","recipientName":"J","defaultShippingAddressIndicator":false}`},
		{paysafeVaultRoutes, 3, `{"nickName":"home","country":"CA","defaultShippingAddressIndicator":true}`},
		{paysafeVaultRoutes, 4, `{"cardNum":"5200400000000009","cardExpiry":{"month":12,"year":2050},"holderName":"H","nickName":"N","merchantRefNum":"R","billingAddressId":"{address}","defaultCardIndicator":false}`},
		{paysafeVaultRoutes, 4, `{"singleUseToken":"{sut}","billingAddressId":"{address}"}`},
		{paysafeVaultRoutes, 5, `{"cardExpiry":{"month":1,"year":2031},"holderName":"H","nickName":"N","merchantRefNum":"R","billingAddressId":"{address}","defaultCardIndicator":true}`},
		{paysafeVaultRoutes, 6, `{"accountHolderName":"X","accountNumber":"796134762","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"{address}","nickName":"N","merchantRefNum":"R"}`},
		{paysafeVaultRoutes, 6, `{"singleUseToken":"{sutach}","accountType":"SAVINGS"}`},
		{paysafeVaultRoutes, 7, `{"accountHolderName":"X","accountType":"LOAN","billingAddressId":"{address}","accountNumber":"796134762","routingNumber":"211589828"}`},
		{paysafeVaultRoutes, 8, `{"accountHolderName":"S","accountNumber":"55779911","sortCode":"07-01-16","billingAddressId":"{address}","mandates":[{"reference":"A"}]}`},
		{paysafeVaultRoutes, 9, `{"accountHolderName":"S","billingAddressId":"{address}","sortCode":"070116","accountNumber":"55779911"}`},
		{paysafeVaultRoutes, 10, `{"accountHolderName":"S","accountNumber":"44889922","transitNumber":"25039","institutionId":"001","billingAddressId":"{address}"}`},
		{paysafeVaultRoutes, 10, `{"singleUseToken":"{suteft}"}`},
		{paysafeVaultRoutes, 11, `{"accountHolderName":"S","billingAddressId":"{address}","transitNumber":"00000","institutionId":"001","accountNumber":"44889922"}`},
		{paysafeVaultRoutes, 12, `{"accountHolderName":"S","iban":"DE89370400440532013000","bic":"ABNANL2A","billingAddressId":"{address}","mandates":{"reference":"B"}}`},
		{paysafeVaultRoutes, 13, `{"accountHolderName":"S","billingAddressId":"{address}","iban":"GB29NWBK60161331926819","bic":"ABNANL2A"}`},
		{paysafeVaultRoutes, 14, `{"reference":"R1"}`},
		{paysafeVaultRoutes, 15, `{"reference":"R2"}`},
		{paysafeVaultRoutes, 16, `{"status":"CANCELLED"}`},
		{paysafeVaultRoutes, 17, `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"cvv":"123","holderName":"H","billingAddress":{"street":"1 Main","country":"CA","zip":"M5H 2N2"}}}`},
		{paysafeVaultRoutes, 18, `{"achBankAccount":{"accountHolderName":"X","accountNumber":"988948193","routingNumber":"211589828","accountType":"CHECKING"},"profile":{"firstName":"J","lastName":"S","email":"j@example.com"},"billingAddress":{"country":"US","zip":"10014"}}`},
		{paysafeVaultRoutes, 19, `{"eftBankAccount":{"accountHolderName":"S","accountNumber":"3358920417","transitNumber":"22446","institutionId":"001"},"profile":{"firstName":"J"},"billingAddress":{"country":"CA","zip":"M5H 2N2"}}`},
		{paysafePaymentRoutes, 0, `{"merchantRefNum":"bt","amount":400,"settleWithAuth":true,"dupCheck":false,"card":{"paymentToken":"{cardToken}","cvv":"123"},"billingDetails":{"street":"10 Main","city":"C","state":"NY","country":"US","zip":"10014","phone":"1"},"shippingDetails":{"country":"US"},"recurring":"INITIAL","storedCredential":{"type":"RECURRING","occurrence":"INITIAL"},"customerIp":"10.0.0.1","description":"d","keywords":["k"],"merchantDescriptor":{"dynamicDescriptor":"DD","phone":"1"}}`},
		{paysafePaymentRoutes, 0, `{"merchantRefNum":"bt","amount":400,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"cvv":"123"}}`},
		{paysafePaymentRoutes, 1, `{"merchantRefNum":"bt","card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"cvv":"111"},"billingDetails":{"street":"10 Main","country":"US","zip":"10014"},"customerIp":"10.0.0.1","description":"d","storedCredential":{"type":"RECURRING","occurrence":"INITIAL"}}`},
		{paysafePaymentRoutes, 2, `{"merchantRefNum":"bt","amount":1,"dupCheck":false}`},
		{paysafePaymentRoutes, 3, `{"merchantRefNum":"bt","amount":1,"dupCheck":false}`},
		{paysafePaymentRoutes, 4, `{"merchantRefNum":"bt","amount":1,"dupCheck":false}`},
		{paysafePaymentRoutes, 5, `{"status":"CANCELLED"}`},
		{paysafePaymentRoutes, 6, `{"status":"CANCELLED"}`},
		{paysafePaymentRoutes, 7, `{"status":"COMPLETED"}`},
	}
	n := 0
	for _, b := range bodies {
		var doc any
		dec := json.NewDecoder(strings.NewReader(b.body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s: %v", b.body, err)
		}
		for _, path := range jsonPaths(doc, nil) {
			for _, v := range badTypeValues {
				body, err := json.Marshal(replaceAt(doc, path, json.RawMessage(v)))
				if err != nil {
					t.Fatal(err)
				}
				fz.fuzzBody(t, b.routes, uint8(b.route), string(body))
				n++
			}
		}
	}
	t.Logf("%d requests", n)
}

// jsonPaths lists the paths (object keys and array indexes) of every member of v at any depth.
func jsonPaths(v any, prefix []any) [][]any {
	var out [][]any
	add := func(k any, x any) {
		p := append(append([]any(nil), prefix...), k)
		out = append(out, p)
		out = append(out, jsonPaths(x, p)...)
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			add(k, x)
		}
	case []any:
		for i, x := range v {
			add(i, x)
		}
	}
	return out
}

// replaceAt returns a copy of v with the member at path replaced by x.
func replaceAt(v any, path []any, x any) any {
	if len(path) == 0 {
		return x
	}
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, y := range v {
			m[k] = y
		}
		k := path[0].(string)
		m[k] = replaceAt(v[k], path[1:], x)
		return m
	case []any:
		s := append([]any(nil), v...)
		i := path[0].(int)
		s[i] = replaceAt(v[i], path[1:], x)
		return s
	}
	return v
}
