package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestPythonSDKServiceCalls makes the calls of the Paysafe Python SDK's CardPaymentsService and
// CustomerVaultService methods that the samples (seed 000) do not reach, exactly as the SDK
// sends them: json.dumps bodies (", " and ": " separators) holding only the fields the caller
// set, in the caller's types ("settleWithAuth":"false", "month":"2", "dupCheck":"true"); the
// body "{}" on the GETs of lookup_settlement_with_id, lookup_refund_with_id,
// lookup_verification_using_id and of the settlement, refund and verification lists (the SDK
// passes the emptied object as data); query strings built by concatenation and never
// URL-encoded (a startDate offset's "+" arrives as a space); "?fields=" lists joined by commas;
// and, for the update methods, the object a lookup returned sent back whole with one field
// changed, since that is how the SDK's objects are reused.
func TestPythonSDKServiceCalls(t *testing.T) {
	s := MustServer(t)
	c := s.main.Credentials
	server := basic{c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret}.header()
	s.logs.Forbid("4530910000012345", "5200400000000009")
	year := strconv.Itoa(time.Now().Year() + 5)
	var n int
	ref := func() string { n++; return fmt.Sprintf("pysdk%d%d", time.Now().UnixNano()%1e6, n) }

	step := func(name, method, path, body string, want int, wantCode string) response {
		t.Helper()
		r := s.send(t, server, method, path, body)
		if r.status != want || r.code() != wantCode {
			t.Fatalf("%s: %s %s = %d %q, want %d %q\n%s", name, method, path, r.status, r.code(), want, wantCode, r.raw)
		}
		if want < 300 && r.body["error"] != nil {
			t.Fatalf("%s: a success with a top-level error (the SDK reads it as a failure): %s", name, r.raw)
		}
		return r
	}
	num := func(r response, k string) float64 { f, _ := r.body[k].(float64); return f }
	list := func(r response, k string) []any { l, _ := r.body[k].([]any); return l }
	const v1 = "/customervault/v1"
	acct := "/cardpayments/v1/accounts/" + c.Paysafe.AccountNumber
	card := `"card": {"cardNum": "4530910000012345", "cvv": "123", "cardExpiry": {"month": "2", "year": "` + year + `"}}`
	billing := `"billingDetails": {"street": "Carlos Pellegrini 551", "city": "Buenos Aires", "state": "Zulia", "country": "AR", "zip": "C1009ABK"}`

	// CustomerVaultService: lookup_profile_subcomponents and the update methods fed a looked-up object.
	p := step("create_profile", "POST", v1+"/profiles/",
		`{"merchantCustomerId": "`+ref()+`", "locale": "en_US", "firstName": "John", "dateOfBirth": {"year": 1981, "month": 10, "day": 24}}`, 201, "").str("id")
	a := step("create_address", "POST", v1+"/profiles/"+p+"/addresses/",
		`{"street": "100 Queen Street West", "city": "Toronto", "country": "CA", "state": "ON", "zip": "M5H 2N2"}`, 201, "").str("id")
	vc := step("create_card", "POST", v1+"/profiles/"+p+"/cards/",
		`{"holderName": "MR. JOHN SMITH", "cardNum": "5200400000000009", "defaultCardIndicator": "true", "cardExpiry": {"month": "12", "year": "`+year+`"}, "billingAddressId": "`+a+`"}`, 201, "")
	sub := step("lookup_profile_subcomponents", "GET", v1+"/profiles/"+p+"?fields=addresses,cards,achbankaccounts,bacsbankaccounts,eftbankaccounts,sepabankaccounts", "", 200, "")
	for _, k := range []string{"addresses", "cards", "achBankAccounts", "bacsBankAccounts", "eftBankAccounts", "sepaBankAccounts"} {
		if _, ok := sub.body[k].([]any); !ok {
			t.Errorf("lookup_profile_subcomponents: no %s array: %s", k, sub.raw)
		}
	}
	// update_profile with the subcomponents lookup sent back (id deleted by the SDK).
	step("update_profile (looked-up object)", "PUT", v1+"/profiles/"+p,
		`{"status": "ACTIVE", "merchantCustomerId": "`+sub.str("merchantCustomerId")+`", "locale": "en_US", "firstName": "Round", "dateOfBirth": {"year": 1981, "month": 10, "day": 24}, "paymentToken": "`+sub.str("paymentToken")+`", "addresses": [{"id": "`+a+`", "country": "CA", "defaultShippingAddressIndicator": false, "status": "ACTIVE"}], "cards": [{}]}`, 200, "")
	// update_card with the looked-up card sent back: cardExpiry became a CardExpiry object, which
	// the SDK serialises as a plain object; cardBin, lastDigits, cardType, paymentToken echoed.
	cid := vc.str("id")
	uc := step("update_card (looked-up object)", "PUT", v1+"/profiles/"+p+"/cards/"+cid,
		`{"status": "ACTIVE", "holderName": "MR. JOHN SMITH", "cardBin": "520040", "lastDigits": "0009", "cardExpiry": {"month": 12, "year": `+year+`}, "billingAddressId": "`+a+`", "cardType": "MC", "cardCategory": "CREDIT", "paymentToken": "`+vc.str("paymentToken")+`", "storedCredentialTokenStatus": "UNVERIFIED", "defaultCardIndicator": true, "nickName": "rt"}`, 200, "")
	if uc.str("nickName") != "rt" || uc.str("lastDigits") != "0009" || uc.str("paymentToken") != vc.str("paymentToken") {
		t.Errorf("update_card (looked-up object) = %s", uc.raw)
	}
	step("lookup_card (unknown)", "GET", v1+"/profiles/"+p+"/cards/00000000-0000-0000-0000-000000000000", "", 404, "5269")

	// CardPaymentsService.
	r1 := ref()
	au := step("create_authorization", "POST", acct+"/auths",
		`{"merchantRefNum": "`+r1+`", "amount": 1000, "settleWithAuth": "false", `+card+`, `+billing+`}`, 200, "")
	aid := au.str("id")
	step("authorize_request_with_payment_token", "POST", acct+"/auths",
		`{"merchantRefNum": "`+ref()+`", "amount": "2006", "card": {"paymentToken": "`+vc.str("paymentToken")+`"}}`, 200, "")
	step("lookup_authorization_with_id", "GET", acct+"/auths/"+aid, "", 200, "")
	step("update_authorization", "PUT", acct+"/auths/"+aid, `{"status": "COMPLETED"}`, 400, "3031")
	step("cancel_held_authorization", "PUT", acct+"/auths/"+aid, `{"status": "CANCELLED"}`, 400, "3031")

	sref := ref()
	st := step("settle_authorization", "POST", acct+"/auths/"+aid+"/settlements", `{"merchantRefNum": "`+sref+`", "amount": 600}`, 200, "")
	sid := st.str("id")
	if g := step("lookup_settlement_with_id", "GET", acct+"/settlements/"+sid, `{}`, 200, ""); num(g, "availableToRefund") != 600 {
		t.Errorf("lookup_settlement_with_id = %s", g.raw)
	}
	vref := ref()
	vo := step("reverse_authorization_using_merchant_no", "POST", acct+"/auths/"+aid+"/voidauths", `{"merchantRefNum": "`+vref+`", "amount": 200}`, 200, "")
	step("duplicate_authorization_reversal_response", "POST", acct+"/auths/"+aid+"/voidauths", `{"merchantRefNum": "`+vref+`", "amount": 100}`, 200, "")
	step("duplicate_authorization_reversal_response (dupCheck)", "POST", acct+"/auths/"+aid+"/voidauths", `{"merchantRefNum": "`+vref+`", "amount": 50, "dupCheck": "true"}`, 409, "5031")
	step("lookup_authorization_reversal_with_id", "GET", acct+"/voidauths/"+vo.str("id"), "", 200, "")
	rref := ref()
	rf := step("create_refund", "POST", acct+"/settlements/"+sid+"/refunds", `{"merchantRefNum": "`+rref+`", "amount": 250}`, 200, "")
	step("lookup_refund_with_id", "GET", acct+"/refunds/"+rf.str("id"), `{}`, 200, "")
	// cancel_refund with the looked-up refund sent back.
	step("cancel_refund (looked-up object)", "PUT", acct+"/refunds/"+rf.str("id"),
		`{"links": [{"rel": "self", "href": "x"}], "merchantRefNum": "`+rref+`", "txnTime": "`+rf.str("txnTime")+`", "status": "CANCELLED", "amount": 250}`, 200, "")
	if g := step("cancel_settlement", "PUT", acct+"/settlements/"+sid, `{"status": "CANCELLED"}`, 200, ""); g.str("status") != "CANCELLED" || num(g, "availableToRefund") != 0 {
		t.Errorf("cancel_settlement = %s", g.raw)
	}
	if g := step("lookup_authorization_with_id (after)", "GET", acct+"/auths/"+aid, "", 200, ""); num(g, "availableToSettle") != 700 {
		t.Errorf("availableToSettle = %v, want 1000-200-100 = 700: %s", g.body["availableToSettle"], g.raw)
	}
	veref := ref()
	ve := step("verify_card", "POST", acct+"/verifications", `{"merchantRefNum": "`+veref+`", `+card+`, `+billing+`}`, 200, "")
	step("lookup_verification_using_id", "GET", acct+"/verifications/"+ve.str("id"), `{}`, 200, "")

	// The merchantRefNum lists, with Pagination(None) and with limit/offset/dates set as strings.
	step("create_authorization", "POST", acct+"/auths", `{"merchantRefNum": "`+r1+`", "amount": 100, "settleWithAuth": "false", `+card+`}`, 200, "")
	step("create_authorization", "POST", acct+"/auths", `{"merchantRefNum": "`+r1+`", "amount": 101, "settleWithAuth": "false", `+card+`}`, 200, "")
	for _, l := range []struct {
		name, path, body, key string
		want                  int
		next                  bool
	}{
		{"lookup_authorization_with_merchant_no", "/auths?merchantRefNum=" + r1, "", "auths", 3, false},
		{"lookup_authorization_with_merchant_no (limit, offset)", "/auths?merchantRefNum=" + r1 + "&limit=2&offset=0", "", "auths", 2, true},
		{"lookup_authorization_with_merchant_no (offset)", "/auths?merchantRefNum=" + r1 + "&limit=2&offset=2", "", "auths", 1, false},
		{"lookup_authorization_with_merchant_no (raw dates)", "/auths?merchantRefNum=" + r1 + "&limit=10&offset=0&startDate=2015-01-01T00:00:00+00:00&endDate=2099-01-01T00:00:00Z", "", "auths", 3, false},
		{"lookup_authorization_with_merchant_no (past endDate)", "/auths?merchantRefNum=" + r1 + "&limit=10&offset=0&endDate=2015-01-01T00:00:00Z", "", "auths", 0, false},
		{"lookup_authorization_reversal_with_merchant_no", "/voidauths?merchantRefNum=" + vref, "", "voidAuths", 3, false},
		{"lookup_settlement_with_merchant_no", "/settlements?merchantRefNum=" + sref + "&limit=5", `{}`, "settlements", 1, false},
		{"lookup_refund_with_merchant_no", "/refunds?merchantRefNum=" + rref, `{}`, "refunds", 1, false},
		{"lookup_verification_using_merchant_ref_num", "/verifications?merchantRefNum=" + veref, `{}`, "verifications", 1, false},
	} {
		g := step(l.name, "GET", acct+l.path, l.body, 200, "")
		if got := list(g, l.key); len(got) != l.want {
			t.Errorf("%s: %d %s, want %d: %s", l.name, len(got), l.key, l.want, g.raw)
		}
		if _, has := g.body["links"]; has != l.next {
			t.Errorf("%s: next link present = %v, want %v: %s", l.name, has, l.next, g.raw)
		}
	}

	// Declines the SDK sees as an "error" key with the code (§2.18).
	for amount, code := range map[int]string{5: "3009", 11: "3022", 24: "3007"} {
		r := step("create_authorization (decline)", "POST", acct+"/auths",
			`{"merchantRefNum": "`+ref()+`", "amount": `+strconv.Itoa(amount)+`, "settleWithAuth": "false", `+card+`}`, 402, code)
		if r.str("id") == "" {
			t.Errorf("decline %d: no id in the envelope: %s", amount, r.raw)
		}
	}
	step("create_authorization (expired)", "POST", acct+"/auths",
		`{"merchantRefNum": "`+ref()+`", "amount": 100, "card": {"cardNum": "4530910000012345", "cvv": "123", "cardExpiry": {"month": "2", "year": "2017"}}}`, 400, "3006")
	step("lookup_settlement_with_id (unknown)", "GET", acct+"/settlements/00000000-0000-0000-0000-000000000000", `{}`, 404, "5269")
}
