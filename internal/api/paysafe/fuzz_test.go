package paysafe_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// The fuzz targets of this file drive the real handlers in process, over a real SQLite store
// with two merchants' fixtures, and check every answer: never a 5xx (but the simulated
// processor fault 1007) or a panic, always the Paysafe JSON envelope with a code of the §1.8
// table on a 4xx, and no change to the database from a refused request. Their seed corpora
// are the reference's example exchanges (testdata/golden, testdata/cardpayments) and the
// bodies of seed 000, with placeholders such as {profile} standing for fixture ids.

// fuzzRoute is a route a fuzz input is sent to. Placeholders in the path are fixture ids.
type fuzzRoute struct {
	method, path string
	// foreign marks a route aimed at the other merchant's records: it may never succeed.
	foreign bool
}

// fuzzer is the Paysafe API with card payments as the server runs it, with fixtures.
type fuzzer struct {
	*payEnv
	other *vault.MerchantCredentials
	ids   map[string]string // ids maps placeholders ({profile}, {cardToken}…) to fixture values.
	rep   *strings.Replacer
	watch *storetest.Watch
	// last is the database as the previous request left it, when known: a refused request
	// changes nothing, so its snapshot serves as the next request's "before".
	last *storetest.Snapshot
}

// before returns the database's snapshot before a request.
func (f *fuzzer) before(t *testing.T) storetest.Snapshot {
	if f.last == nil {
		s := f.watch.Snapshot(t)
		f.last = &s
	}
	return *f.last
}

// after returns the database's snapshot after a request and keeps it for the next one when
// keep is set (the request was refused, so nothing else may change).
func (f *fuzzer) after(t *testing.T, keep bool) storetest.Snapshot {
	s := f.watch.Snapshot(t)
	f.last = nil
	if keep {
		f.last = &s
	}
	return s
}

// mustFuzzer starts the API and creates the fixtures: for the merchant under test a profile
// with an address, a card, one bank account of each kind, BACS and SEPA mandates, three
// single-use tokens, an auth, a settled auth with a refund, a void and a verification; for
// another merchant a profile with an address, a card, a single-use token and an auth.
func mustFuzzer(tb testing.TB) *fuzzer {
	tb.Helper()
	e := mustPayEnv(tb)
	f := &fuzzer{payEnv: e, ids: map[string]string{"{acct}": e.acct}}
	id := func(k, v string) string { f.ids[k] = v; return v }
	pid := id("{profile}", e.MustProfile(tb, "fz-profile"))
	id("{mcid}", "fz-profile")
	prof := "/customervault/v1/profiles/" + pid
	aid := id("{address}", e.MustAddress(tb, pid))
	c := e.must(tb, 201, call{method: "POST", path: prof + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"billingAddressId":"` + aid + `"}`})
	id("{card}", c.str("id"))
	id("{cardToken}", c.str("paymentToken"))
	p := e.must(tb, 200, call{method: "GET", path: prof})
	id("{profileToken}", p.str("paymentToken"))
	ach := e.must(tb, 201, call{method: "POST", path: prof + "/achbankaccounts", body: `{"accountHolderName":"XYZ Business","accountNumber":"3366570418","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"` + aid + `"}`})
	id("{ach}", ach.str("id"))
	id("{bankToken}", ach.str("paymentToken"))
	bacs := e.must(tb, 201, call{method: "POST", path: prof + "/bacsbankaccounts", body: `{"accountHolderName":"Sally Barnes","accountNumber":"55779911","sortCode":"070116","billingAddressId":"` + aid + `"}`}).str("id")
	id("{bacs}", bacs)
	id("{eft}", e.must(tb, 201, call{method: "POST", path: prof + "/eftbankaccounts", body: `{"accountHolderName":"Sally","accountNumber":"44889922","transitNumber":"25039","institutionId":"001","billingAddressId":"` + aid + `"}`}).str("id"))
	sepa := id("{sepa}", e.must(tb, 201, call{method: "POST", path: prof + "/sepabankaccounts", body: `{"accountHolderName":"Sally Barnes","iban":"DE89370400440532013000","bic":"ABNANL2A","billingAddressId":"` + aid + `"}`}).str("id"))
	id("{mandate}", e.must(tb, 201, call{method: "POST", path: prof + "/bacsbankaccounts/" + bacs + "/mandates", body: `{"reference":"SUBSCRIP45"}`}).str("id"))
	id("{sepaMandate}", e.must(tb, 201, call{method: "POST", path: prof + "/sepabankaccounts/" + sepa + "/mandates", body: `{"reference":"REF123"}`}).str("id"))
	id("{sut}", e.mustSUT(tb, `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"cvv":"123","billingAddress":{"country":"CA","zip":"M5H 2N2"}}}`))
	id("{sutach}", e.must(tb, 200, call{method: "POST", path: "/customervault/v1/achsingleusetokens", body: `{"achBankAccount":{"accountHolderName":"XYZ","accountNumber":"988948193","routingNumber":"211589828","accountType":"CHECKING"},"billingAddress":{"country":"US","zip":"10014"}}`}).str("paymentToken"))
	id("{suteft}", e.must(tb, 200, call{method: "POST", path: "/customervault/v1/eftsingleusetokens", body: `{"eftBankAccount":{"accountHolderName":"Sally","accountNumber":"3358920417","transitNumber":"22446","institutionId":"001"},"billingAddress":{"country":"CA","zip":"M5H 2N2"}}`}).str("paymentToken"))
	id("{auth}", e.mustAuth(tb, "fz-auth", 10000, false))
	settled := e.mustAuth(tb, "fz-settled", 5000, true)
	id("{settledAuth}", settled)
	id("{settlement}", settled) // a settlement with the auth carries the auth's id
	id("{refund}", e.must(tb, 200, call{method: "POST", path: e.path("settlements/" + settled + "/refunds"), body: `{"merchantRefNum":"fz-refund","amount":100}`}).str("id"))
	id("{voidauth}", e.must(tb, 200, call{method: "POST", path: e.path("auths/" + f.ids["{auth}"] + "/voidauths"), body: `{"merchantRefNum":"fz-void","amount":100}`}).str("id"))
	id("{verification}", e.must(tb, 200, call{method: "POST", path: e.path("verifications"), body: `{"merchantRefNum":"fz-verify","card":{"paymentToken":"` + f.ids["{cardToken}"] + `"}}`}).str("id"))

	f.other = e.MustMerchant(tb, false)
	as := func(c call) call { c.user, c.pass = f.other.Paysafe.APIKeyID, f.other.Paysafe.APIKeySecret; return c }
	id("{otherAcct}", f.other.Paysafe.AccountNumber)
	opid := id("{otherProfile}", e.must(tb, 201, as(call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"fz-profile","locale":"en_US"}`})).str("id"))
	oaid := id("{otherAddress}", e.must(tb, 201, as(call{method: "POST", path: "/customervault/v1/profiles/" + opid + "/addresses", body: `{"country":"US","zip":"10014"}`})).str("id"))
	oc := e.must(tb, 201, as(call{method: "POST", path: "/customervault/v1/profiles/" + opid + "/cards", body: `{"cardNum":"5200400000000009","cardExpiry":{"month":1,"year":2049},"billingAddressId":"` + oaid + `"}`}))
	id("{otherCard}", oc.str("id"))
	id("{otherCardToken}", oc.str("paymentToken"))
	id("{otherSut}", e.must(tb, 200, as(call{method: "POST", path: "/customervault/v1/singleusetokens", body: `{"card":{"cardNum":"4530910000012345","cardExpiry":{"month":12,"year":2050}}}`})).str("paymentToken"))
	id("{otherAuth}", e.must(tb, 200, as(call{method: "POST", path: "/cardpayments/v1/accounts/" + f.other.Paysafe.AccountNumber + "/auths",
		body: `{"merchantRefNum":"fz-other","amount":700,"settleWithAuth":true,"card":{"paymentToken":"` + f.ids["{otherCardToken}"] + `"}}`})).str("id"))

	var pairs []string
	for k, v := range f.ids {
		pairs = append(pairs, k, v)
	}
	f.rep = strings.NewReplacer(pairs...)
	f.logs.Forbid("4111111111111111", "5200400000000009", "4530910000012345", "3366570418", "55779911", "44889922", "988948193", "3358920417", "DE89370400440532013000")
	f.watch = storetest.MustWatch(tb, e.store.DB())
	return f
}

// serve sends one request in process, with the placeholders in path and body replaced by
// fixture ids, and the merchant's server credential (unless header sets Authorization).
func (f *fuzzer) serve(method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://vault.test/", strings.NewReader(f.rep.Replace(body)))
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(f.rep.Replace(path), "?")
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	req.SetBasicAuth(f.creds.Paysafe.APIKeyID, f.creds.Paysafe.APIKeySecret)
	for k, v := range header {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// checkAnswer fails t unless rec is a well-formed Paysafe answer: JSON, never a 5xx but the
// simulated processor fault on card payments, and on a 4xx the error envelope with a code of
// the §1.8 table, its status and message, an errorinfo link and X-Application-Status-Code.
// It returns the error code, or "".
func checkAnswer(t *testing.T, method, path string, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: %d answer is not a JSON object: %q", method, path, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		if _, ok := body["error"]; ok && !strings.HasPrefix(path, "/cardpayments") {
			t.Fatalf("%s %s: %d answer has an error member: %s", method, path, rec.Code, rec.Body)
		}
		return ""
	}
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	status, message, ok := paysafe.CodeInfo(code)
	if !ok {
		t.Fatalf("%s %s: %d answer has no documented code: %s", method, path, rec.Code, rec.Body)
	}
	if rec.Code >= 500 && !(code == "1007" && strings.HasPrefix(path, "/cardpayments")) {
		t.Fatalf("%s %s: server error %d: %s", method, path, rec.Code, rec.Body)
	}
	if rec.Code != status && !(code == "5023" && rec.Code == http.StatusRequestEntityTooLarge) {
		t.Fatalf("%s %s: code %s with status %d, want %d", method, path, code, rec.Code, status)
	}
	if msg, _ := e["message"].(string); msg != message && !strings.HasPrefix(msg, message+": ") && !strings.HasPrefix(msg, message+" - ") {
		t.Fatalf("%s %s: code %s with message %q", method, path, code, msg)
	}
	links, _ := e["links"].([]any)
	if len(links) == 0 {
		t.Fatalf("%s %s: error without links: %s", method, path, rec.Body)
	}
	if l, _ := links[0].(map[string]any); l["rel"] != "errorinfo" || !strings.HasSuffix(l["href"].(string), "#ErrorCode"+code) {
		t.Fatalf("%s %s: errorinfo link %v", method, path, l)
	}
	if got := rec.Header().Get("X-Application-Status-Code"); got != code {
		t.Fatalf("%s %s: X-Application-Status-Code %q, code %q", method, path, got, code)
	}
	if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") != `Basic realm="authSecurity"` {
		t.Fatalf("%s %s: 401 without WWW-Authenticate", method, path)
	}
	return code
}

// notFailed counts the transactions that are not FAILED. (A refused request can address only
// fixture transactions, whose rows the watch digests.)
func (f *fuzzer) notFailed(t *testing.T) int {
	return f.watch.Count(t, "SELECT COUNT(*) FROM transactions WHERE status <> 'FAILED'")
}

// paysafeVaultRoutes are the vault routes that take a body.
var paysafeVaultRoutes = []fuzzRoute{
	{"POST", "/customervault/v1/profiles", false},
	{"PUT", "/customervault/v1/profiles/{profile}", false},
	{"POST", "/customervault/v1/profiles/{profile}/addresses", false},
	{"PUT", "/customervault/v1/profiles/{profile}/addresses/{address}", false},
	{"POST", "/customervault/v1/profiles/{profile}/cards", false},
	{"PUT", "/customervault/v1/profiles/{profile}/cards/{card}", false},
	{"POST", "/customervault/v1/profiles/{profile}/achbankaccounts", false},
	{"PUT", "/customervault/v1/profiles/{profile}/achbankaccounts/{ach}", false},
	{"POST", "/customervault/v1/profiles/{profile}/bacsbankaccounts", false},
	{"PUT", "/customervault/v1/profiles/{profile}/bacsbankaccounts/{bacs}", false},
	{"POST", "/customervault/v1/profiles/{profile}/eftbankaccounts", false},
	{"PUT", "/customervault/v1/profiles/{profile}/eftbankaccounts/{eft}", false},
	{"POST", "/customervault/v1/profiles/{profile}/sepabankaccounts", false},
	{"PUT", "/customervault/v1/profiles/{profile}/sepabankaccounts/{sepa}", false},
	{"POST", "/customervault/v1/profiles/{profile}/bacsbankaccounts/{bacs}/mandates", false},
	{"POST", "/customervault/v1/profiles/{profile}/sepabankaccounts/{sepa}/mandates", false},
	{"PUT", "/customervault/v1/profiles/{profile}/mandates/{mandate}", false},
	{"POST", "/customervault/v1/singleusetokens", false},
	{"POST", "/customervault/v1/achsingleusetokens", false},
	{"POST", "/customervault/v1/eftsingleusetokens", false},
	{"PUT", "/customervault/v1/profiles/{otherProfile}", true},
	{"POST", "/customervault/v1/profiles/{otherProfile}/cards", true},
	{"PUT", "/customervault/v1/profiles/{otherProfile}/cards/{otherCard}", true},
	{"PUT", "/customervault/v1/profiles/{profile}/cards/{otherCard}", true},
}

// paysafePaymentRoutes are the card-payment routes that take a body.
var paysafePaymentRoutes = []fuzzRoute{
	{"POST", "/cardpayments/v1/accounts/{acct}/auths", false},
	{"POST", "/cardpayments/v1/accounts/{acct}/verifications", false},
	{"POST", "/cardpayments/v1/accounts/{acct}/auths/{auth}/settlements", false},
	{"POST", "/cardpayments/v1/accounts/{acct}/auths/{auth}/voidauths", false},
	{"POST", "/cardpayments/v1/accounts/{acct}/settlements/{settlement}/refunds", false},
	{"PUT", "/cardpayments/v1/accounts/{acct}/settlements/{settlement}", false},
	{"PUT", "/cardpayments/v1/accounts/{acct}/refunds/{refund}", false},
	{"PUT", "/cardpayments/v1/accounts/{acct}/auths/{auth}", false},
	{"POST", "/cardpayments/v1/accounts/{otherAcct}/auths", true},
	{"POST", "/cardpayments/v1/accounts/{acct}/auths/{otherAuth}/settlements", true},
	{"POST", "/cardpayments/v1/accounts/{acct}/settlements/{otherAuth}/refunds", true},
}

// routeOf returns the index of the route whose path template fits path (placeholders match
// any one segment), or -1.
func routeOf(routes []fuzzRoute, method, path string) int {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, r := range routes {
		rs := strings.Split(strings.Trim(r.path, "/"), "/")
		if r.method != method || len(rs) != len(segs) || r.foreign {
			continue
		}
		ok := true
		for j := range rs {
			if rs[j] != segs[j] && !strings.HasPrefix(rs[j], "{") {
				ok = false
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// addGoldenSeeds adds the request bodies of the reference's example exchanges in dir as
// seeds for the route each addresses.
func addGoldenSeeds(f *testing.F, dir string, routes []fuzzRoute) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files in %s: %v", dir, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var g struct {
			Request struct {
				Method, Path string
				Body         json.RawMessage
			}
		}
		if err := json.Unmarshal(b, &g); err != nil {
			f.Fatalf("%s: %v", file, err)
		}
		if i := routeOf(routes, g.Request.Method, g.Request.Path); i >= 0 && len(g.Request.Body) > 0 {
			body := string(g.Request.Body)
			if dir == "cardpayments" {
				body = strings.ReplaceAll(body, `"{card}"`, `"{cardToken}"`)
			}
			f.Add(uint8(i), body)
		}
	}
}

// fuzzBody is the shared body of FuzzVaultBody and FuzzCardPaymentsBody.
func (f *fuzzer) fuzzBody(t *testing.T, routes []fuzzRoute, ri uint8, body string) {
	r := routes[int(ri)%len(routes)]
	payment := strings.HasPrefix(r.path, "/cardpayments")
	before := f.before(t)
	var txns int
	if payment {
		txns = f.notFailed(t)
	}
	rec := f.serve(r.method, r.path, body, nil)
	f.last = nil
	code := checkAnswer(t, r.method, r.path, rec)
	if r.foreign && rec.Code < 400 {
		t.Fatalf("%s %s: another merchant's record answered %d: %s", r.method, r.path, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	after := f.after(t, !payment)
	if !payment {
		if ch := before.Changed(after); len(ch) > 0 {
			t.Fatalf("%s %s refused with %s changed %v", r.method, r.path, code, ch)
		}
		return
	}
	// A refused payment is stored as FAILED (§2.12); a processed decline consumes a
	// single-use token (§2.11). Nothing else changes.
	except := []string{"transactions", "audit_log", "audit_heads"}
	if rec.Code == http.StatusPaymentRequired || code == "1007" {
		except = append(except, "onetime_tokens")
	}
	if ch := before.Changed(after, except...); len(ch) > 0 {
		t.Fatalf("%s %s refused with %s changed %v", r.method, r.path, code, ch)
	}
	if before.Digests["transactions"] != after.Digests["transactions"] || txns != f.notFailed(t) {
		t.Fatalf("%s %s refused with %s changed a transaction that is not FAILED", r.method, r.path, code)
	}
}

// FuzzVaultBody sends arbitrary bodies to every Customer Vault route that takes one, and to
// routes aimed at another merchant's records (which must never succeed).
func FuzzVaultBody(f *testing.F) {
	fz := mustFuzzer(f)
	addGoldenSeeds(f, "golden", paysafeVaultRoutes)
	seeds := []struct {
		route int
		body  string
	}{
		// Seed 000's calls, as the Python SDK sends them.
		{0, `{"merchantCustomerId":"mcid-seed","locale":"en_US","firstName":"John","lastName":"Smith","email":"john.smith@somedomain.com","phone":"713-444-5555"}`},
		{0, `{"merchantCustomerId":"mcid-sut","locale":"en_US","firstName":"John","card":{"singleUseToken":"{sut}"}}`},
		{0, `{"merchantCustomerId":"mcid-card","locale":"en_US","card":{"cardNum":"4530910000012345","cardExpiry":{"month":"12","year":"2030"},"cvv":123,"billingAddress":{"country":"CA","zip":"M5H 2N2"}}}`},
		{1, `{"merchantCustomerId":"4y7t56kdls6u25yh","locale":"en_US","firstName":"John","middleName":"Wilbur","lastName":"","gender":"M","email":"","dateOfBirth":{"day":"27","month":"12","year":"1990"}}`},
		{2, `{"nickName":"home","street":"100 Queen Street West","street2":"Unit 201","city":"Toronto","country":"CA","state":"ON","zip":"M5H 2N2","phone":"647-788-3901","recipientName":"Jane Doe"}`},
		{3, `{"nickName":"Home","street":"100 Queen Street West","city":"Toronto","country":"CA","state":"ON","zip":"M5H 2N2","defaultShippingAddressIndicator":true}`},
		{4, `{"singleUseToken":"{sut}","nickName":"sut card"}`},
		{4, `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"billingAddressId":"{otherAddress}"}`},
		{5, `{"cardExpiry":{"month":1,"year":2031},"holderName":"MR. JOHN SMITH","billingAddressId":"{address}","defaultCardIndicator":"true"}`},
		{6, `{"accountHolderName":"XYZ Business","accountNumber":796134762,"routingNumber":"123456789","accountType":"CHECKING","billingAddressId":"{address}","nickName":"ACH"}`},
		{6, `{"singleUseToken":"{sutach}","accountType":"SAVINGS"}`},
		{7, `{"accountHolderName":"XYZ","accountType":"LOAN","billingAddressId":"{address}","routingNumber":"211589828"}`},
		{8, `{"accountHolderName":"Sally Barnes","accountNumber":"55779911","sortCode":"07-01-16","billingAddressId":"{address}","mandates":{"reference":"SUBSCRIP45"}}`},
		{9, `{"accountHolderName":"Sally","billingAddressId":"{address}","sortCode":"070116"}`},
		{10, `{"accountHolderName":"Sally","accountNumber":"44889922","transitNumber":"25039","institutionId":"001","billingAddressId":"{address}"}`},
		{10, `{"singleUseToken":"{suteft}"}`},
		{11, `{"accountHolderName":"Sally","billingAddressId":"{address}","transitNumber":"00000"}`},
		{12, `{"accountHolderName":"Sally Barnes","iban":"de89 3704 0044 0532 0130 00","bic":"abnanl2a","billingAddressId":"{address}","mandates":[{"reference":"A"},{"reference":"B"}]}`},
		{13, `{"accountHolderName":"Sally Barnes","billingAddressId":"{address}","iban":"GB29NWBK60161331926819"}`},
		{14, `{"reference":"SUBSCRIP45"}`},
		{15, `{"reference":"REF123"}`},
		{16, `{"status":"CANCELLED"}`},
		{17, `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"cvv":"123","billingAddress":{"street":"100 Queen Street West","city":"Toronto","country":"CA","state":"ON","zip":"M5H 2N2"}}}`},
		{18, `{"achBankAccount":{"accountHolderName":"XYZ","accountNumber":"988948193","routingNumber":"211589828","accountType":"CHECKING"},"profile":{"firstName":"Joe","lastName":"Smith","email":"joe@example.com"},"billingAddress":{"country":"US","zip":"10014"}}`},
		{19, `{"eftBankAccount":{"accountHolderName":"Sally","accountNumber":"3358920417","transitNumber":"22446","institutionId":"001"},"billingAddress":{"country":"CA","zip":"M5H 2N2"}}`},
		{20, `{"merchantCustomerId":"taken","locale":"en_US"}`},
		{21, `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}`},
		{22, `{"cardExpiry":{"month":12,"year":2050}}`},
		{23, `{"cardExpiry":{"month":12,"year":2050}}`},
		// Hostile shapes.
		{0, `{"merchantCustomerId":{"a":[1,2,{"b":null}]},"locale":["en_US"],"dateOfBirth":"1990-12-27"}`},
		{0, `{"merchantCustomerId":"x","locale":"en_US","card":{"singleUseToken":"{otherSut}"}}`},
		{4, `{"cardNum":"4111111111111111","cardExpiry":{"month":1e400,"year":-2050}}`},
		{4, `{"cardNum":4.111111111111111e15,"cardExpiry":{"month":12.0,"year":"2050"}}`},
		{6, `{"accountHolderName":"X","accountNumber":"1234","routingNumber":"NaN","accountType":"Infinity","billingAddressId":"{otherAddress}"}`},
		{0, "{\"merchantCustomerId\":\"\\u0000\",\"locale\":\"en_US\"}"},
		{0, "{\"merchantCustomerId\":\"\xff\",\"locale\":\"en_US\"}"},
		{0, `{"merchantCustomerId":"x","locale":"en_US"}{}`},
		{0, `[{"merchantCustomerId":"x"}]`},
		{0, ``},
		{0, strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200)},
	}
	for _, s := range seeds {
		f.Add(uint8(s.route), s.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		fz.fuzzBody(t, paysafeVaultRoutes, route, body)
	})
}

// FuzzCardPaymentsBody sends arbitrary bodies to every Card Payments route that takes one.
// A refused payment may only add FAILED transactions (and, when processed, consume a
// single-use token).
func FuzzCardPaymentsBody(f *testing.F) {
	fz := mustFuzzer(f)
	addGoldenSeeds(f, "cardpayments", paysafePaymentRoutes)
	seeds := []struct {
		route int
		body  string
	}{
		{0, `{"merchantRefNum":"ref-1","amount":400,"settleWithAuth":true,"card":{"paymentToken":"{cardToken}"}}`},
		{0, `{"merchantRefNum":"ref-2","amount":5,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"cvv":"123"},"billingDetails":{"street":"13 Main","country":"US","zip":"10014"}}`},
		{0, `{"merchantRefNum":"ref-3","amount":"1000","card":{"paymentToken":"{sut}"},"recurring":"INITIAL","storedCredential":{"type":"RECURRING","occurrence":"INITIAL"},"dupCheck":true}`},
		{0, `{"merchantRefNum":"ref-4","amount":6,"card":{"paymentToken":"{profileToken}"},"keywords":["a",1],"merchantDescriptor":{"dynamicDescriptor":"DD","phone":"1"}}`},
		{0, `{"merchantRefNum":"ref-5","amount":99999999,"card":{"paymentToken":"{otherCardToken}"}}`},
		{0, `{"merchantRefNum":"ref-6","amount":100000000,"card":{"paymentToken":"{otherSut}"}}`},
		{0, `{"merchantRefNum":"ref-7","amount":-1,"card":{"cardNum":"6200000000000005","cardExpiry":{"month":1,"year":2001}}}`},
		{1, `{"merchantRefNum":"ref-3","card":{"paymentToken":"{cardToken}","cvv":"111"},"billingDetails":{"street":"10 Main","country":"US","zip":"10014"}}`},
		{2, `{"merchantRefNum":"settle-1","amount":600,"dupCheck":true}`},
		{2, `{"merchantRefNum":"settle-2","amount":1e20}`},
		{3, `{"merchantRefNum":"void-1","amount":400}`},
		{4, `{"merchantRefNum":"refund-1","amount":250}`},
		{5, `{"status":"CANCELLED"}`},
		{6, `{"status":"CANCELLED"}`},
		{7, `{"status":"COMPLETED"}`},
		{8, `{"merchantRefNum":"x","amount":1,"card":{"paymentToken":"{otherCardToken}"}}`},
		{9, `{"merchantRefNum":"x","amount":1}`},
		{10, `{"merchantRefNum":"x","amount":1}`},
		{0, `{"merchantRefNum":"x","amount":NaN,"card":{}}`},
		{0, `{"merchantRefNum":"x","amount":"Infinity","card":{"paymentToken":null}}`},
	}
	for _, s := range seeds {
		f.Add(uint8(s.route), s.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		fz.fuzzBody(t, paysafePaymentRoutes, route, body)
	})
}

// paysafeQueryRoutes are the GET routes whose query parameters mean something.
var paysafeQueryRoutes = []fuzzRoute{
	{"GET", "/customervault/v1/profiles/{profile}", false},
	{"GET", "/customervault/v1/profiles", false},
	{"GET", "/customervault/v1/profiles/{profile}/cards/{card}", false},
	{"GET", "/cardpayments/v1/accounts/{acct}/auths", false},
	{"GET", "/cardpayments/v1/accounts/{acct}/settlements", false},
	{"GET", "/cardpayments/v1/accounts/{acct}/voidauths", false},
	{"GET", "/cardpayments/v1/accounts/{acct}/refunds", false},
	{"GET", "/cardpayments/v1/accounts/{acct}/verifications", false},
	{"GET", "/cardpayments/v1/accounts/{acct}/auths/{auth}", false},
	{"GET", "/customervault/v1/profiles/{otherProfile}", true},
	{"GET", "/cardpayments/v1/accounts/{acct}/auths/{otherAuth}", true},
}

// FuzzQuery sends arbitrary query strings: fields, merchantCustomerId, and the card-payment
// lists' merchantRefNum, limit, offset, startDate and endDate. A GET changes nothing.
func FuzzQuery(f *testing.F) {
	fz := mustFuzzer(f)
	for _, s := range []struct {
		route int
		query string
	}{
		{0, "fields=cards,addresses"},
		{0, "fields=CARDS%2Caddresses,ACHBANKACCOUNTS,bacsbankaccounts,eftbankaccounts,sepabankaccounts,nope&fields=,"},
		{1, "merchantCustomerId={mcid}&fields=cards"},
		{1, "merchantCustomerId="},
		{1, "merchantCustomerId=4111111111111111"},
		{2, "fields=cards"},
		{3, "merchantRefNum=fz-auth&limit=5&offset=0&startDate=2020-01-01T00:00:00Z&endDate=2099-01-01T00:00:00Z"},
		{3, "merchantRefNum=fz-auth&startDate=2020-01-01T00:00:00+00:00"},
		{3, "merchantRefNum=fz-auth&limit=-1&offset=99999999999999999999"},
		{4, "merchantRefNum=fz-settled&limit=50&offset=1"},
		{5, "merchantRefNum=fz-void&startDate=bad"},
		{6, "merchantRefNum=fz-refund&endDate=2020-13-45T99:99:99Z"},
		{7, "merchantRefNum="},
		{8, "fields=x"},
		{9, "fields=cards"},
		{10, ""},
		{3, "merchantRefNum=%00&limit=%FF"},
	} {
		f.Add(uint8(s.route), s.query)
	}
	f.Fuzz(func(t *testing.T, ri uint8, query string) {
		r := paysafeQueryRoutes[int(ri)%len(paysafeQueryRoutes)]
		before := fz.before(t)
		rec := fz.serve(r.method, r.path+"?"+query, "", nil)
		fz.last = nil
		checkAnswer(t, r.method, r.path, rec)
		if r.foreign && rec.Code < 400 {
			t.Fatalf("GET %s?%s: another merchant's record answered %d", r.path, query, rec.Code)
		}
		if ch := before.Changed(fz.after(t, true)); len(ch) > 0 {
			t.Fatalf("GET %s?%s changed %v", r.path, query, ch)
		}
	})
}

// basicCredential matches a well-formed Basic header's parts.
var basicCredential = regexp.MustCompile(`(?s)^(?i:basic) +(.*)$`)

// FuzzBasicAuth sends arbitrary Authorization headers and checks the answer against §1.2:
// no header or not Basic is 401/5280; undecodable, unknown, wrong or empty credentials are
// 401/5279; the single-use-token key is 403/5270 outside token creation; only the server
// credential reads the profile, and another merchant's finds no such profile (404/5269).
func FuzzBasicAuth(f *testing.F) {
	fz := mustFuzzer(f)
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	ps, op := fz.creds.Paysafe, fz.other.Paysafe
	for _, s := range []string{
		"Basic " + enc(ps.APIKeyID+":"+ps.APIKeySecret),
		"basic  " + enc(ps.APIKeyID+":"+ps.APIKeySecret) + " ",
		"Basic " + enc(ps.SingleUseKeyID+":"+ps.SingleUseKeySecret),
		"Basic " + enc(fz.other.Paysafe.APIKeyID+":"+fz.other.Paysafe.APIKeySecret),
		"Basic " + enc(ps.APIKeyID+":"+ps.SingleUseKeySecret),
		"Basic " + enc(ps.APIKeyID+":"+ps.APIKeySecret+"x"),
		"Basic " + enc(ps.APIKeyID),
		"Basic Og==", "Basic", "Basic ", "Bearer abc", "", "Basic !!!!", "Basic " + enc("\x00:\xff"),
		"Basic " + strings.TrimRight(enc(ps.APIKeyID+":"+ps.APIKeySecret), "="),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		rec := fz.serve("GET", "/customervault/v1/profiles/{profile}", "", map[string]string{"Authorization": header})
		code := checkAnswer(t, "GET", "/customervault/v1/profiles/{profile}", rec)
		want := "5280"
		if m := basicCredential.FindStringSubmatch(strings.TrimSpace(header)); m != nil || strings.EqualFold(strings.TrimSpace(header), "basic") {
			want = "5279"
			if m != nil {
				if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(m[1])); err == nil {
					switch string(raw) {
					case ps.APIKeyID + ":" + ps.APIKeySecret:
						want = ""
					case ps.SingleUseKeyID + ":" + ps.SingleUseKeySecret, op.SingleUseKeyID + ":" + op.SingleUseKeySecret:
						want = "5270"
					case op.APIKeyID + ":" + op.APIKeySecret:
						want = "5269" // another merchant's credential: the profile does not exist for it
					}
				}
			}
		}
		if code != want {
			t.Fatalf("Authorization %q: code %q, want %q (%d %s)", header, code, want, rec.Code, rec.Body)
		}
	})
}

// longDigitRun finds a run of 12 or more digits.
var longDigitRun = regexp.MustCompile(`[0-9]{12,}`)

// FuzzPathID sends arbitrary ids in every kind of path position (profile, card under a
// profile, transaction, account number): nothing matches, every answer is the 404 (or, when
// the id changes the route, 5273 or 5270) in the envelope, nothing changes, and an id holding a
// card-number-like digit run is never echoed whole.
func FuzzPathID(f *testing.F) {
	fz := mustFuzzer(f)
	for _, s := range []string{"", "x", "%00", "\x00", "\xff\xfe", "4111111111111111", "4111 1111 1111 1111", "..", "a/b", "{profile}",
		"01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19", strings.Repeat("9", 5000), "CyfdZmKLGQq0kD7", "?fields=cards", "%2F"} {
		for route := uint8(0); route < 5; route++ {
			f.Add(route, s)
		}
	}
	templates := []struct{ method, path string }{
		{"GET", "/customervault/v1/profiles/%s"},
		{"PUT", "/customervault/v1/profiles/{profile}/cards/%s"},
		{"DELETE", "/customervault/v1/profiles/%s/addresses/{address}"},
		{"GET", "/cardpayments/v1/accounts/{acct}/auths/%s"},
		{"GET", "/cardpayments/v1/accounts/%s/settlements?merchantRefNum=x"},
	}
	f.Fuzz(func(t *testing.T, route uint8, id string) {
		tp := templates[int(route)%len(templates)]
		path := strings.Replace(fz.rep.Replace(tp.path), "%s", url.PathEscape(id), 1)
		before := fz.before(t)
		req := httptest.NewRequest(tp.method, "http://vault.test/", strings.NewReader(`{"cardExpiry":{"month":1,"year":2050}}`))
		req.URL.Path, req.URL.RawQuery, _ = strings.Cut(path, "?")
		if p, err := url.PathUnescape(req.URL.Path); err == nil {
			req.URL.RawPath, req.URL.Path = req.URL.Path, p
		}
		req.SetBasicAuth(fz.creds.Paysafe.APIKeyID, fz.creds.Paysafe.APIKeySecret)
		rec := httptest.NewRecorder()
		fz.h.ServeHTTP(rec, req)
		fz.last = nil
		checkAnswer(t, tp.method, tp.path, rec)
		if rec.Code < 400 {
			t.Fatalf("%s %s: an unknown id answered %d: %s", tp.method, path, rec.Code, rec.Body)
		}
		for _, run := range longDigitRun.FindAllString(id, -1) {
			if strings.Contains(rec.Body.String(), run) {
				t.Fatalf("%s %s: the answer echoes a long digit run: %s", tp.method, path, rec.Body)
			}
		}
		if ch := before.Changed(fz.after(t, true)); len(ch) > 0 {
			t.Fatalf("%s %s changed %v", tp.method, path, ch)
		}
	})
}
