package paysafe_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/logtest"
)

// fieldErrs returns the response's fieldErrors as sorted "field: error" lines.
func (r reply) fieldErrs() []string {
	e, _ := r.body["error"].(map[string]any)
	list, _ := e["fieldErrors"].([]any)
	var out []string
	for _, x := range list {
		m := x.(map[string]any)
		out = append(out, m["field"].(string)+": "+m["error"].(string))
	}
	sort.Strings(out)
	return out
}

// luhnPAN completes prefix to a Luhn-valid number of n digits.
func luhnPAN(prefix string, n int) string {
	s := prefix + strings.Repeat("0", n-len(prefix)-1)
	d, _ := card.CheckDigit(s)
	return s + string(d)
}

// TestErrors drives every vault error code of §1.8 (7521 is unreachable while 7505 holds)
// and the field rules of §3 through the wire, checking status, code and fieldErrors.
func TestErrors(t *testing.T) {
	e := MustEnv(t)
	pid := e.MustProfile(t, "err-1")
	aid := e.MustAddress(t, pid)
	other := e.MustProfile(t, "err-2")
	otherAddr := e.MustAddress(t, other)
	cardID := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}`}).str("id")
	sepaID := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/sepabankaccounts",
		body: `{"accountHolderName":"S","iban":"DE89370400440532013000","billingAddressId":"` + aid + `"}`}).str("id")
	mandateID := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/sepabankaccounts/" + sepaID + "/mandates", body: `{"reference":"R1"}`}).str("id")
	sut := e.creds.Paysafe
	const missing = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"
	prof := "/customervault/v1/profiles/" + pid
	union := luhnPAN("62", 16)

	tests := []struct {
		name       string
		c          call
		status     int
		code       string
		fieldErrs  []string
		messageEnd string
	}{
		// Authentication and permission (§1.2).
		{"fail/auth-missing", call{method: "GET", path: prof, noAuth: true}, 401, "5280", nil, ""},
		{"fail/auth-not-basic", call{method: "GET", path: prof, header: map[string]string{"Authorization": "Bearer abc"}}, 401, "5280", nil, ""},
		{"fail/auth-undecodable", call{method: "GET", path: prof, header: map[string]string{"Authorization": "Basic !!!"}}, 401, "5279", nil, ""},
		{"fail/auth-empty", call{method: "GET", path: prof, header: map[string]string{"Authorization": "Basic Og=="}}, 401, "5279", nil, ""},
		{"fail/auth-unknown-key", call{method: "GET", path: prof, user: "key_nope", pass: "x"}, 401, "5279", nil, ""},
		{"fail/auth-wrong-secret", call{method: "GET", path: prof, user: sut.APIKeyID, pass: sut.SingleUseKeySecret}, 401, "5279", nil, ""},
		{"fail/sut-key-on-profiles", call{method: "GET", path: prof, user: sut.SingleUseKeyID, pass: sut.SingleUseKeySecret}, 403, "5270", nil, ""},
		{"fail/sut-key-on-create", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"s","locale":"en_US"}`, user: sut.SingleUseKeyID, pass: sut.SingleUseKeySecret}, 403, "5270", nil, ""},

		// Routing (§1.1).
		{"fail/unknown-route", call{method: "GET", path: "/customervault/v1/nothing"}, 404, "5273", nil, ""},
		{"fail/unknown-root", call{method: "GET", path: "/index.html", noAuth: true}, 404, "5273", nil, ""},
		{"fail/wrong-method", call{method: "PATCH", path: "/customervault/v1/profiles"}, 405, "5281", nil, ""},
		{"fail/wrong-method-trailing-slash", call{method: "POST", path: prof + "/"}, 405, "5281", nil, ""},

		// Parsing (§1.3–1.4).
		{"fail/malformed", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId": x}`, loose: true}, 400, "5023", nil, ""},
		{"fail/top-level-array", call{method: "POST", path: "/customervault/v1/profiles", body: `[{"merchantCustomerId":"x"}]`, loose: true}, 400, "5023", nil, ""},
		{"fail/trailing-data", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"x","locale":"en_US"} {}`, loose: true}, 400, "5023", nil, ""},
		{"fail/truncated", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"x",`, loose: true}, 400, "5023", nil, ""},
		{"fail/empty-body", call{method: "POST", path: "/customervault/v1/profiles", loose: true}, 400, "5068",
			[]string{"locale: may not be empty", "merchantCustomerId: may not be empty"}, ""},
		{"fail/not-coercible", call{method: "POST", path: "/customervault/v1/profiles", loose: true,
			body: `{"merchantCustomerId":{"a":1},"locale":"en_US","dateOfBirth":{"year":"19x0","month":1.5,"day":[1]},"firstName":["x"]}`}, 400, "5068",
			[]string{"dateOfBirth.day: Invalid value", "dateOfBirth.month: Invalid value", "dateOfBirth.year: Invalid value", "firstName: Invalid value", "merchantCustomerId: Invalid value"}, ""},

		// Profiles (§2.2).
		{"fail/profile-unknown", call{method: "GET", path: "/customervault/v1/profiles/" + missing}, 404, "5269", nil, ": " + missing},
		{"fail/profile-lookup-none", call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=nobody"}, 404, "5269", nil, ": nobody"},
		{"fail/profile-lookup-digits", call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=100000012345678"}, 404, "5269", nil, ": ***********5678"},
		{"fail/profile-lookup-iban", call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=NL91ABNA0417164300"}, 404, "5269", nil, ": NL91**********4300"},
		{"fail/profile-lookup-empty", call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId="}, 400, "5068", []string{"merchantCustomerId: may not be empty"}, ""},
		{"fail/profile-fields", call{method: "POST", path: "/customervault/v1/profiles", loose: true,
			body: `{"merchantCustomerId":"` + strings.Repeat("m", 101) + `","locale":"en_us","firstName":"` + strings.Repeat("f", 81) + `","gender":"X","ip":"1.2.3","email":"john.@smith@somedomain.com","dateOfBirth":{"year":2999,"month":1,"day":1}}`},
			400, "5068", []string{"dateOfBirth: Invalid Date of Birth", "email: not a well-formed email address", "firstName: size must be between 0 and 80",
				"gender: Invalid Gender", "ip: Invalid IP Address", "locale: Invalid Locale", "merchantCustomerId: size must be between 1 and 100"}, ""},
		{"fail/profile-ip-overlong", call{method: "POST", path: "/customervault/v1/profiles",
			body: `{"merchantCustomerId":"ip","locale":"en_US","ip":"` + strings.Repeat("1", 46) + `"}`}, 400, "5068", []string{"ip: Invalid IP Address"}, ""},
		{"fail/profile-dob-parts", call{method: "POST", path: "/customervault/v1/profiles",
			body: `{"merchantCustomerId":"dob","locale":"en_US","dateOfBirth":{"year":1990,"month":13,"day":32}}`}, 400, "5068",
			[]string{"dateOfBirth.day: must be between 1 and 31", "dateOfBirth.month: must be between 1 and 12"}, ""},
		{"fail/profile-dob-not-a-date", call{method: "POST", path: "/customervault/v1/profiles",
			body: `{"merchantCustomerId":"dob","locale":"en_US","dateOfBirth":{"year":1990,"month":2,"day":30}}`}, 400, "5068", []string{"dateOfBirth: Invalid Date of Birth"}, ""},
		{"fail/profile-put-taken-mcid", call{method: "PUT", path: "/customervault/v1/profiles/" + other, body: `{"merchantCustomerId":"err-1","locale":"en_US"}`}, 409, "7505", nil, " - " + pid},
		{"fail/profile-put-unknown", call{method: "PUT", path: "/customervault/v1/profiles/" + missing, body: `{"merchantCustomerId":"x","locale":"en_US"}`}, 404, "5269", nil, ": " + missing},
		{"fail/profile-card-nested-errors", call{method: "POST", path: "/customervault/v1/profiles",
			body: `{"merchantCustomerId":"nested","locale":"en_US","card":{"cardNum":"4111111111111112","cardExpiry":{"month":0,"year":99},"cvv":"12","billingAddress":{"country":"XX"}}}`},
			400, "5068", []string{"card.billingAddress.country: Invalid Country", "card.cardExpiry.month: must be between 1 and 12",
				"card.cardExpiry.year: must be a four-digit year", "card.cardNum: Luhn checksum failed", "card.cvv: size must be between 3 and 4"}, ""},
		{"fail/profile-card-bad-token", call{method: "POST", path: "/customervault/v1/profiles",
			body: `{"merchantCustomerId":"tok","locale":"en_US","card":{"singleUseToken":"SCnotarealtoken00"}}`}, 400, "5068",
			[]string{"card.singleUseToken: The specified value does not exist in the system."}, ""},
		{"fail/profile-card-brand", call{method: "POST", path: "/customervault/v1/profiles",
			body: `{"merchantCustomerId":"brand","locale":"en_US","card":{"cardNum":"` + union + `","cardExpiry":{"month":1,"year":2040}}}`}, 400, "7508",
			[]string{"card.cardNum: Invalid card number or brand"}, ""},

		// Addresses (§2.3).
		{"fail/address-fields", call{method: "POST", path: prof + "/addresses", loose: true,
			body: `{"street":"` + strings.Repeat("s", 51) + `","zip":"12345678901","defaultShippingAddressIndicator":"maybe"}`}, 400, "5068",
			[]string{"country: may not be empty", "defaultShippingAddressIndicator: Invalid value", "street: size must be between 0 and 50", "zip: size must be between 0 and 10"}, ""},
		{"fail/address-of-other-profile", call{method: "GET", path: prof + "/addresses/" + otherAddr}, 404, "5269", nil, ": " + otherAddr},
		{"fail/address-profile-unknown", call{method: "POST", path: "/customervault/v1/profiles/" + missing + "/addresses", body: `{"country":"US"}`}, 404, "5269", nil, ": " + missing},

		// Cards (§2.4, §3).
		{"fail/card-required", call{method: "POST", path: prof + "/cards", body: `{}`, loose: true}, 400, "5068",
			[]string{"cardExpiry: may not be null", "cardNum: may not be empty"}, ""},
		{"fail/card-letters", call{method: "POST", path: prof + "/cards", body: `{"cardNum":"4111-1111-1111-1111","cardExpiry":{"month":1,"year":2040}}`}, 400, "5068",
			[]string{"cardNum: must contain only digits"}, ""},
		{"fail/card-length-and-luhn", call{method: "POST", path: prof + "/cards", body: `{"cardNum":"41111111113","cardExpiry":{"month":1,"year":2040}}`}, 400, "5068",
			[]string{"cardNum: Luhn checksum failed", "cardNum: size must be between 12 and 20"}, ""},
		{"fail/card-expiry-missing-parts", call{method: "POST", path: prof + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{}}`}, 400, "5068",
			[]string{"cardExpiry.month: may not be null", "cardExpiry.year: may not be null"}, ""},
		{"fail/card-brand-unionpay", call{method: "POST", path: prof + "/cards", body: `{"cardNum":"` + union + `","cardExpiry":{"month":1,"year":2040}}`}, 400, "7508",
			[]string{"cardNum: Invalid card number or brand"}, ""},
		{"fail/card-brand-20-digits", call{method: "POST", path: prof + "/cards", body: `{"cardNum":"` + luhnPAN("4", 20) + `","cardExpiry":{"month":1,"year":2040}}`}, 400, "7508",
			[]string{"cardNum: Invalid card number or brand"}, ""},
		{"fail/card-brand-wrong-length", call{method: "POST", path: prof + "/cards", body: `{"cardNum":"` + luhnPAN("34", 16) + `","cardExpiry":{"month":1,"year":2040}}`}, 400, "7508",
			[]string{"cardNum: Invalid card number or brand"}, ""},
		{"fail/card-duplicate", call{method: "POST", path: prof + "/cards/", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":2,"year":2041}}`}, 409, "7503", nil, " - " + cardID},
		{"fail/card-billing-other-profile", call{method: "POST", path: prof + "/cards", body: `{"cardNum":"5200400000000009","cardExpiry":{"month":1,"year":2040},"billingAddressId":"` + otherAddr + `"}`},
			400, "7511", []string{"billingAddressId: The specified value does not exist in the system."}, ""},
		{"fail/card-bad-token", call{method: "POST", path: prof + "/cards", body: `{"singleUseToken":"SCxxxxxxxxxxxxxx"}`}, 400, "5068",
			[]string{"singleUseToken: The specified value does not exist in the system."}, ""},
		{"fail/card-put-expiry-required", call{method: "PUT", path: prof + "/cards/" + cardID, body: `{"holderName":"X"}`}, 400, "5068", []string{"cardExpiry: may not be null"}, ""},
		{"fail/card-put-billing-other-profile", call{method: "PUT", path: prof + "/cards/" + cardID, body: `{"cardExpiry":{"month":1,"year":2040},"billingAddressId":"` + otherAddr + `"}`},
			400, "7511", []string{"billingAddressId: The specified value does not exist in the system."}, ""},
		{"fail/card-through-other-profile", call{method: "GET", path: "/customervault/v1/profiles/" + other + "/cards/" + cardID}, 404, "5269", nil, ": " + cardID},
		{"fail/card-as-bank-account", call{method: "GET", path: prof + "/achbankaccounts/" + cardID}, 404, "5269", nil, ": " + cardID},

		// Bank accounts (§2.5–2.9).
		{"fail/ach-fields", call{method: "POST", path: prof + "/achbankaccounts", body: `{"accountNumber":"123","routingNumber":"12345678","accountType":"checking"}`}, 400, "5068",
			[]string{"accountHolderName: may not be empty", "accountNumber: Invalid account number", "accountType: Invalid Account Type",
				"billingAddressId: may not be empty", "routingNumber: Invalid routing number"}, ""},
		{"fail/ach-billing-unknown", call{method: "POST", path: prof + "/achbankaccounts",
			body: `{"accountHolderName":"X","accountNumber":"123456","routingNumber":"123456789","accountType":"CHECKING","billingAddressId":"` + missing + `"}`}, 400, "7511",
			[]string{"billingAddressId: The specified value does not exist in the system."}, ""},
		{"fail/bacs-fields", call{method: "POST", path: prof + "/bacsbankaccounts", body: `{"accountHolderName":"X","billingAddressId":"` + aid + `","accountNumber":"12345678901","sortCode":"20-74-0","mandates":[{"reference":""},{"reference":"` + strings.Repeat("r", 36) + `"}]}`}, 400, "5068",
			[]string{"accountNumber: Invalid account number", "mandates[0].reference: may not be empty", "mandates[0].reference: size must be between 1 and 35", "mandates[1].reference: size must be between 1 and 35", "sortCode: Invalid sort code"}, ""},
		{"fail/sepa-too-many-mandates", call{method: "POST", path: prof + "/sepabankaccounts", body: `{"accountHolderName":"X","billingAddressId":"` + aid + `","iban":"DE89370400440532013000","mandates":[` + strings.Repeat(`{"reference":"R"},`, 50) + `{"reference":"R"}]}`}, 400, "5068",
			[]string{"mandates: size must be between 0 and 50"}, ""},
		{"fail/eft-fields", call{method: "POST", path: prof + "/eftbankaccounts", body: `{"accountHolderName":"X","billingAddressId":"` + aid + `","accountNumber":"1234567890123","transitNumber":"2503","institutionId":"01"}`}, 400, "5068",
			[]string{"accountNumber: Invalid account number", "institutionId: Invalid institution ID", "transitNumber: Invalid transit number"}, ""},
		{"fail/sepa-fields", call{method: "POST", path: prof + "/sepabankaccounts", body: `{"accountHolderName":"X","billingAddressId":"` + aid + `","iban":"DE89370400440532013001","bic":"ABNAXX2A"}`}, 400, "5068",
			[]string{"bic: Invalid BIC", "iban: Invalid IBAN"}, ""},
		{"fail/bank-token-no-billing", call{method: "POST", path: prof + "/achbankaccounts", body: `{"singleUseToken":"SAxxxxxxxxxxxxxx"}`}, 400, "5068",
			[]string{"singleUseToken: The specified value does not exist in the system."}, ""},
		{"fail/bank-put-required", call{method: "PUT", path: prof + "/sepabankaccounts/" + sepaID, body: `{"iban":"GB82WEST12345698765431"}`}, 400, "5068",
			[]string{"accountHolderName: may not be empty", "billingAddressId: may not be empty", "iban: Invalid IBAN"}, ""},

		// Mandates (§2.10).
		{"fail/mandate-reference", call{method: "POST", path: prof + "/sepabankaccounts/" + sepaID + "/mandates", body: `{}`, loose: true}, 400, "5068", []string{"reference: may not be empty"}, ""},
		{"fail/mandate-on-wrong-kind", call{method: "POST", path: prof + "/bacsbankaccounts/" + sepaID + "/mandates", body: `{"reference":"R"}`}, 404, "5269", nil, ": " + sepaID},
		{"fail/mandate-status", call{method: "PUT", path: prof + "/mandates/" + mandateID, body: `{"status":"ACTIVE"}`}, 400, "5068", []string{"status: Invalid Status"}, ""},
		{"fail/mandate-other-profile", call{method: "GET", path: "/customervault/v1/profiles/" + other + "/mandates/" + mandateID}, 404, "5269", nil, ": " + mandateID},

		// Single-use tokens (§2.11).
		{"fail/token-no-card", call{method: "POST", path: "/customervault/v1/singleusetokens", body: `{}`, loose: true, user: sut.SingleUseKeyID, pass: sut.SingleUseKeySecret}, 400, "5068", []string{"card: may not be null"}, ""},
		{"fail/token-card-fields", call{method: "POST", path: "/customervault/v1/singleusetokens", user: sut.SingleUseKeyID, pass: sut.SingleUseKeySecret,
			body: `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":13,"year":2040},"cvv":"12345","billingAddress":{}}}`}, 400, "5068",
			[]string{"card.billingAddress.country: may not be empty", "card.cardExpiry.month: must be between 1 and 12", "card.cvv: size must be between 3 and 4"}, ""},
		{"fail/ach-token-fields", call{method: "POST", path: "/customervault/v1/achsingleusetokens", user: sut.SingleUseKeyID, pass: sut.SingleUseKeySecret,
			body: `{"achBankAccount":{"accountNumber":"12","routingNumber":"x","accountType":"BOND"},"profile":{"email":"nope"}}`}, 400, "5068",
			[]string{"achBankAccount.accountHolderName: may not be empty", "achBankAccount.accountNumber: Invalid account number", "achBankAccount.accountType: Invalid Account Type",
				"achBankAccount.routingNumber: Invalid routing number", "profile.email: not a well-formed email address"}, ""},
	}
	// A 405's Allow names HEAD wherever GET is, since HEAD is answered there.
	allow := map[string]string{"fail/wrong-method": "POST, GET, HEAD", "fail/wrong-method-trailing-slash": "GET, HEAD, PUT, DELETE"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.loose = true // malformed on purpose: only the response is validated
			r := e.do(t, tt.c)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %q, want %d %q\n%s", r.status, r.code(), tt.status, tt.code, r.raw)
			}
			if d := cmp.Diff(tt.fieldErrs, r.fieldErrs()); d != "" {
				t.Errorf("fieldErrors (-want +got)\n%s", d)
			}
			msg, _ := r.body["error"].(map[string]any)["message"].(string)
			if tt.messageEnd != "" && !strings.HasSuffix(msg, tt.messageEnd) {
				t.Errorf("message %q does not end with %q", msg, tt.messageEnd)
			}
			if tt.status == 405 && r.header.Get("Allow") != allow[tt.name] {
				t.Errorf("405 with Allow %q, want %q", r.header.Get("Allow"), allow[tt.name])
			}
		})
	}
}

// TestParseErrorNeverEchoes shows that 5023 details give a position and no input text.
func TestParseErrorNeverEchoes(t *testing.T) {
	e := MustEnv(t)
	for _, body := range []string{
		`{"card":{"cardNum":4111111111111111x}}`,
		"{\n\"cardNum\": \"4111111111111111\"\n,,}",
		`{"cardNum":"4111111111111111"`,
		`4111111111111111`,
		`"4111111111111111"`,
	} {
		r := e.do(t, call{method: "POST", path: "/customervault/v1/singleusetokens", body: body, loose: true})
		if r.code() != "5023" {
			t.Fatalf("%q: code %q", body, r.code())
		}
		if strings.Contains(string(r.raw), "4111") || strings.Contains(string(r.raw), "111111") {
			t.Errorf("5023 echoes the input: %s", r.raw)
		}
		d, _ := r.body["error"].(map[string]any)["details"].([]any)
		if len(d) != 1 || !strings.Contains(d[0].(string), "[line: ") {
			t.Errorf("details = %v", d)
		}
	}
}

// TestOversizeBody shows that a body over the 1 MiB limit is a 4xx JSON error.
func TestOversizeBody(t *testing.T) {
	e := MustEnv(t)
	body := `{"merchantCustomerId":"` + strings.Repeat("a", 1<<20) + `","locale":"en_US"}`
	r := e.do(t, call{method: "POST", path: "/customervault/v1/profiles", body: body, loose: true})
	if r.status != http.StatusRequestEntityTooLarge || r.code() != "5023" {
		t.Errorf("oversize: %d %q", r.status, r.code())
	}
}

// TestLiveCredentialsNeedTLS shows that a live merchant's credentials are refused over plain
// HTTP from a non-loopback address (403/5270), and accepted behind a trusted TLS proxy.
func TestLiveCredentialsNeedTLS(t *testing.T) {
	e := MustEnv(t)
	live := e.MustMerchant(t, true)
	for _, tt := range []struct {
		name    string
		trusted bool
		status  int
	}{
		{"fail/plain-http", false, 403},
		{"ok/trusted-upstream", true, 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, capture := logtest.New(t)
			capture.Forbid(live.Paysafe.APIKeySecret, live.Paysafe.SingleUseKeySecret, live.Fortis.UserAPIKey, live.Fortis.TicketHashKey)
			api := paysafe.New(paysafe.Config{Vault: e.svc, TrustedUpstream: tt.trusted, Logger: log})
			h := httpx.Wrap(api, httpx.Options{Logger: log})
			req := httptest.NewRequest("POST", "/customervault/v1/profiles", strings.NewReader(`{"merchantCustomerId":"`+tt.name+`","locale":"en_US"}`))
			req.RemoteAddr = "203.0.113.7:40000"
			req.SetBasicAuth(live.Paysafe.APIKeyID, live.Paysafe.APIKeySecret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 403 && rec.Header().Get("X-Application-Status-Code") != "5270" {
				t.Errorf("code = %q", rec.Header().Get("X-Application-Status-Code"))
			}
		})
	}
}

// TestLiveMerchantABA shows the routing-number decision: a sandbox merchant checks the format
// only (the vendor samples' 123456789 works), a live merchant also the ABA checksum.
func TestLiveMerchantABA(t *testing.T) {
	e := MustEnv(t)
	live := e.MustMerchant(t, true)
	for _, tt := range []struct {
		name    string
		creds   [2]string
		routing string
		status  int
	}{
		{"ok/sandbox-format-only", [2]string{e.creds.Paysafe.APIKeyID, e.creds.Paysafe.APIKeySecret}, "123456789", 201},
		{"fail/live-checksum", [2]string{live.Paysafe.APIKeyID, live.Paysafe.APIKeySecret}, "123456789", 400},
		{"ok/live-valid", [2]string{live.Paysafe.APIKeyID, live.Paysafe.APIKeySecret}, "211589828", 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			as := func(c call) call { c.user, c.pass = tt.creds[0], tt.creds[1]; return c }
			pid := e.must(t, 201, as(call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"` + tt.name + `","locale":"en_US"}`})).str("id")
			aid := e.must(t, 201, as(call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/addresses", body: `{"country":"US"}`})).str("id")
			r := e.do(t, as(call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/achbankaccounts",
				body: `{"accountHolderName":"X","accountNumber":"1234567","routingNumber":"` + tt.routing + `","accountType":"CHECKING","billingAddressId":"` + aid + `"}`}))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if tt.status == 400 {
				if d := cmp.Diff([]string{"routingNumber: Invalid routing number"}, r.fieldErrs()); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			}
		})
	}
}

// TestCardPaymentsErrorLink shows that errors under /cardpayments link the card-errors page.
func TestCardPaymentsErrorLink(t *testing.T) {
	e := MustEnv(t)
	r := e.do(t, call{method: "GET", path: "/cardpayments/v1/nothing"})
	b, _ := json.Marshal(r.body)
	if r.code() != "5273" || !strings.Contains(string(b), "/rest-api/cards/test-and-go-live/card-errors/#ErrorCode5273") {
		t.Errorf("card payments 404 = %s", r.raw)
	}
}

// TestEmailLength: the 255-character limit belongs to the §3 email rule (spec §2.2, §3), so an
// over-long email is "not a well-formed email address" on every field that takes one: the
// profile's (create and PUT) and a bank token's profile.email.
func TestEmailLength(t *testing.T) {
	e := MustEnv(t)
	pid := e.MustProfile(t, "email-put")
	sut := e.creds.Paysafe
	email := func(n int) string { // a well-formed address of n characters
		return "john@" + strings.Repeat("d", n-len("john@.com")) + ".com"
	}
	routes := []struct {
		name string
		c    func(email string) call
		ok   int
	}{
		{"profile-create", func(m string) call {
			return call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"` + m[len(m)-8:] + `","locale":"en_US","email":"` + m + `"}`}
		}, 201},
		{"profile-put", func(m string) call {
			return call{method: "PUT", path: "/customervault/v1/profiles/" + pid, body: `{"merchantCustomerId":"email-put","locale":"en_US","email":"` + m + `"}`}
		}, 200},
		{"ach-token", func(m string) call {
			return call{method: "POST", path: "/customervault/v1/achsingleusetokens", user: sut.SingleUseKeyID, pass: sut.SingleUseKeySecret,
				body: `{"achBankAccount":{"accountHolderName":"X","accountNumber":"9876543210","routingNumber":"211589828","accountType":"CHECKING"},"profile":{"email":"` + m + `"}}`}
		}, 200},
	}
	for _, rt := range routes {
		for _, tt := range []struct {
			name      string
			email     string
			fieldErrs []string
		}{
			{"ok/255", email(255), nil},
			{"fail/256", email(256), []string{"email: not a well-formed email address"}},
			{"fail/long-and-malformed", strings.Repeat("x", 300), []string{"email: not a well-formed email address"}},
		} {
			t.Run(rt.name+"/"+tt.name, func(t *testing.T) {
				r := e.do(t, rt.c(tt.email))
				if tt.fieldErrs == nil {
					if r.status != rt.ok {
						t.Fatalf("status %d, want %d: %s", r.status, rt.ok, r.raw)
					}
					return
				}
				if r.status != 400 || r.code() != "5068" {
					t.Fatalf("got %d %q, want 400 5068: %s", r.status, r.code(), r.raw)
				}
				want := tt.fieldErrs
				if rt.name == "ach-token" {
					want = []string{"profile." + want[0]}
				}
				if d := cmp.Diff(want, r.fieldErrs()); d != "" {
					t.Errorf("fieldErrors (-want +got)\n%s", d)
				}
			})
		}
	}
}
