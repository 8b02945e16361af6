package paysafe_test

import (
	"strings"
	"testing"
)

// TestTenancy shows that one merchant's credentials never see or change another merchant's
// data: every foreign id answers 404/5269 exactly like an id that never existed, foreign
// tokens and addresses are unusable, and nothing of the owner's changes.
func TestTenancy(t *testing.T) {
	e := MustEnv(t)
	// Merchant A (the env's) owns a full profile.
	pid := e.MustProfile(t, "tenant-a")
	aid := e.MustAddress(t, pid)
	base := "/customervault/v1/profiles/" + pid
	cardID := e.must(t, 201, call{method: "POST", path: base + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}`}).str("id")
	achID := e.must(t, 201, call{method: "POST", path: base + "/achbankaccounts",
		body: `{"accountHolderName":"A","accountNumber":"1234567","routingNumber":"123456789","accountType":"CHECKING","billingAddressId":"` + aid + `"}`}).str("id")
	bacs := e.must(t, 201, call{method: "POST", path: base + "/bacsbankaccounts",
		body: `{"accountHolderName":"A","accountNumber":"12345678","sortCode":"207405","billingAddressId":"` + aid + `","mandates":{"reference":"A1"}}`})
	mandateID := bacs.body["mandates"].([]any)[0].(map[string]any)["id"].(string)
	sut := e.creds.Paysafe
	tok := e.must(t, 200, call{method: "POST", path: "/customervault/v1/singleusetokens", user: sut.SingleUseKeyID, pass: sut.SingleUseKeySecret,
		body: `{"card":{"cardNum":"5200400000000009","cardExpiry":{"month":1,"year":2040}}}`}).str("paymentToken")

	// Merchant B has its own profile and address.
	b := e.MustMerchant(t, false)
	as := func(c call) call { c.user, c.pass = b.Paysafe.APIKeyID, b.Paysafe.APIKeySecret; return c }
	bp := e.must(t, 201, as(call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"tenant-b","locale":"en_US"}`})).str("id")

	for _, tt := range []struct {
		name string
		c    call
		id   string // id is the id the 5269 must name
	}{
		{"fail/get-profile", call{method: "GET", path: base}, pid},
		{"fail/put-profile", call{method: "PUT", path: base, body: `{"merchantCustomerId":"stolen","locale":"en_US"}`}, pid},
		{"fail/delete-profile", call{method: "DELETE", path: base}, pid},
		{"fail/lookup-profile", call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=tenant-a"}, "tenant-a"},
		{"fail/get-address", call{method: "GET", path: base + "/addresses/" + aid}, pid},
		{"fail/put-address", call{method: "PUT", path: base + "/addresses/" + aid, body: `{"country":"US"}`}, pid},
		{"fail/delete-address", call{method: "DELETE", path: base + "/addresses/" + aid}, pid},
		{"fail/create-address", call{method: "POST", path: base + "/addresses", body: `{"country":"US"}`}, pid},
		{"fail/get-card", call{method: "GET", path: base + "/cards/" + cardID}, pid},
		{"fail/get-card-through-own-profile", call{method: "GET", path: "/customervault/v1/profiles/" + bp + "/cards/" + cardID}, cardID},
		{"fail/put-card-through-own-profile", call{method: "PUT", path: "/customervault/v1/profiles/" + bp + "/cards/" + cardID, body: `{"cardExpiry":{"month":1,"year":2040}}`}, cardID},
		{"fail/delete-card-through-own-profile", call{method: "DELETE", path: "/customervault/v1/profiles/" + bp + "/cards/" + cardID}, cardID},
		{"fail/create-card", call{method: "POST", path: base + "/cards", body: `{"cardNum":"5200400000000009","cardExpiry":{"month":1,"year":2040}}`}, pid},
		{"fail/get-ach", call{method: "GET", path: "/customervault/v1/profiles/" + bp + "/achbankaccounts/" + achID}, achID},
		{"fail/put-ach", call{method: "PUT", path: "/customervault/v1/profiles/" + bp + "/achbankaccounts/" + achID,
			body: `{"accountHolderName":"B","accountType":"CHECKING","billingAddressId":"` + aid + `"}`}, achID},
		{"fail/get-mandate", call{method: "GET", path: base + "/mandates/" + mandateID}, pid},
		{"fail/get-mandate-through-own-profile", call{method: "GET", path: "/customervault/v1/profiles/" + bp + "/mandates/" + mandateID}, mandateID},
		{"fail/cancel-mandate-through-own-profile", call{method: "PUT", path: "/customervault/v1/profiles/" + bp + "/mandates/" + mandateID, body: `{"status":"CANCELLED"}`}, mandateID},
		{"fail/mandate-on-foreign-account", call{method: "POST", path: "/customervault/v1/profiles/" + bp + "/bacsbankaccounts/" + bacs.str("id") + "/mandates", body: `{"reference":"B"}`}, bacs.str("id")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, as(tt.c))
			if r.status != 404 || r.code() != "5269" {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			msg := r.body["error"].(map[string]any)["message"].(string)
			if want := ": " + tt.id; msg[len(msg)-len(want):] != want {
				t.Errorf("message %q should name %s", msg, tt.id)
			}
		})
	}

	t.Run("fail/foreign-single-use-token", func(t *testing.T) {
		r := e.do(t, as(call{method: "POST", path: "/customervault/v1/profiles/" + bp + "/cards", body: `{"singleUseToken":"` + tok + `"}`}))
		if r.code() != "5068" || r.fieldErrs()[0] != "singleUseToken: The specified value does not exist in the system." {
			t.Errorf("got %s", r.raw)
		}
	})
	t.Run("fail/foreign-billing-address", func(t *testing.T) {
		r := e.do(t, as(call{method: "POST", path: "/customervault/v1/profiles/" + bp + "/cards",
			body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040},"billingAddressId":"` + aid + `"}`}))
		if r.code() != "7511" {
			t.Errorf("got %s", r.raw)
		}
	})
	t.Run("ok/same-number-other-merchant", func(t *testing.T) {
		// Fingerprints are per merchant: B may store A's card number without a 7503.
		e.must(t, 201, as(call{method: "POST", path: "/customervault/v1/profiles/" + bp + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}`}))
	})
	t.Run("ok/owner-unchanged", func(t *testing.T) {
		p := e.must(t, 200, call{method: "GET", path: base + "?fields=addresses,cards,achbankaccounts,bacsbankaccounts"})
		if p.str("merchantCustomerId") != "tenant-a" || len(p.body["cards"].([]any)) != 1 || len(p.body["addresses"].([]any)) != 1 ||
			len(p.body["achBankAccounts"].([]any)) != 1 {
			t.Errorf("owner's profile = %s", p.raw)
		}
		m := e.must(t, 200, call{method: "GET", path: base + "/mandates/" + mandateID})
		if m.str("status") != "PENDING" {
			t.Errorf("owner's mandate = %s", m.raw)
		}
		// A's token is still unused and works for A.
		e.must(t, 201, call{method: "POST", path: base + "/cards", body: `{"singleUseToken":"` + tok + `"}`})
	})
}

// TestCardPaymentTenancy: another merchant's card-payment records — an auth, an auth settled
// with it (its settlement under the auth's id), a settlement, a refund, a voidauth and a
// verification — answer 404/5269 with the card-payments errorinfo link on every route that
// names them, from the other merchant's own account, exactly like ids that never existed;
// its lists do not show them; and nothing of the owner's changes (§1.2).
func TestCardPaymentTenancy(t *testing.T) {
	e := mustPayEnv(t)
	aid := e.mustAuth(t, "ten-auth", 1000, false)
	swa := e.mustAuth(t, "ten-swa", 700, true)
	sid := e.must(t, 200, call{method: "POST", path: e.path("auths/" + aid + "/settlements"), body: `{"merchantRefNum":"ten-settle","amount":500}`}).str("id")
	rid := e.must(t, 200, call{method: "POST", path: e.path("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"ten-refund","amount":100}`}).str("id")
	vid := e.must(t, 200, call{method: "POST", path: e.path("auths/" + aid + "/voidauths"), body: `{"merchantRefNum":"ten-void","amount":100}`}).str("id")
	ver := e.must(t, 200, call{method: "POST", path: e.path("verifications"),
		body: `{"merchantRefNum":"ten-verify","card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`}).str("id")

	b := e.MustMerchant(t, false)
	as := func(c call) call { c.user, c.pass = b.Paysafe.APIKeyID, b.Paysafe.APIKeySecret; return c }
	own := func(rest string) string { return "/cardpayments/v1/accounts/" + b.Paysafe.AccountNumber + "/" + rest }
	const errorinfo = "https://developer.paysafe.com/en/rest-api/cards/test-and-go-live/card-errors/#ErrorCode5269"
	for _, tt := range []struct {
		name string
		c    call
		id   string // id is the id the 5269 must name
	}{
		{"fail/get-auth", call{method: "GET", path: own("auths/" + aid)}, aid},
		{"fail/put-auth", call{method: "PUT", path: own("auths/" + aid), body: `{"status":"COMPLETED"}`}, aid},
		{"fail/settle-auth", call{method: "POST", path: own("auths/" + aid + "/settlements"), body: `{"merchantRefNum":"x"}`}, aid},
		{"fail/void-auth", call{method: "POST", path: own("auths/" + aid + "/voidauths"), body: `{"merchantRefNum":"x"}`}, aid},
		{"fail/get-settlement", call{method: "GET", path: own("settlements/" + sid)}, sid},
		{"fail/get-settlement-by-auth-id", call{method: "GET", path: own("settlements/" + swa)}, swa},
		{"fail/cancel-settlement", call{method: "PUT", path: own("settlements/" + sid), body: `{"status":"CANCELLED"}`}, sid},
		{"fail/cancel-settlement-by-auth-id", call{method: "PUT", path: own("settlements/" + swa), body: `{"status":"CANCELLED"}`}, swa},
		{"fail/refund-settlement", call{method: "POST", path: own("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"x"}`}, sid},
		{"fail/refund-settlement-by-auth-id", call{method: "POST", path: own("settlements/" + swa + "/refunds"), body: `{"merchantRefNum":"x"}`}, swa},
		{"fail/get-refund", call{method: "GET", path: own("refunds/" + rid)}, rid},
		{"fail/cancel-refund", call{method: "PUT", path: own("refunds/" + rid), body: `{"status":"CANCELLED"}`}, rid},
		{"fail/get-voidauth", call{method: "GET", path: own("voidauths/" + vid)}, vid},
		{"fail/get-verification", call{method: "GET", path: own("verifications/" + ver)}, ver},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, as(tt.c))
			if r.status != 404 || r.code() != "5269" {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			er := r.body["error"].(map[string]any)
			if msg := er["message"].(string); !strings.HasSuffix(msg, ": "+tt.id) {
				t.Errorf("message %q should name %s", msg, tt.id)
			}
			if l := er["links"].([]any)[0].(map[string]any); l["href"] != errorinfo {
				t.Errorf("errorinfo link = %v", l)
			}
			if _, ok := r.body["id"]; ok {
				t.Errorf("a foreign id was stored as a transaction: %s", r.raw)
			}
		})
	}
	t.Run("ok/lists-empty", func(t *testing.T) {
		for _, l := range []struct{ path, key string }{
			{"auths?merchantRefNum=ten-auth", "auths"}, {"settlements?merchantRefNum=ten-settle", "settlements"},
			{"refunds?merchantRefNum=ten-refund", "refunds"}, {"voidauths?merchantRefNum=ten-void", "voidAuths"},
			{"verifications?merchantRefNum=ten-verify", "verifications"},
		} {
			r := e.must(t, 200, as(call{method: "GET", path: own(l.path)}))
			if items := r.body[l.key].([]any); len(items) != 0 {
				t.Errorf("%s = %s", l.path, r.raw)
			}
		}
	})
	t.Run("ok/owner-unchanged", func(t *testing.T) {
		for _, c := range []struct {
			path, field string
			want        float64
		}{
			{"auths/" + aid, "availableToSettle", 400}, {"settlements/" + sid, "availableToRefund", 400},
			{"settlements/" + swa, "availableToRefund", 700},
		} {
			r := e.must(t, 200, call{method: "GET", path: e.path(c.path)})
			if r.body[c.field] != c.want {
				t.Errorf("%s %s = %v, want %v", c.path, c.field, r.body[c.field], c.want)
			}
		}
		for _, p := range []string{"settlements/" + sid, "settlements/" + swa, "refunds/" + rid} {
			if r := e.must(t, 200, call{method: "GET", path: e.path(p)}); r.str("status") != "PENDING" {
				t.Errorf("%s status = %s", p, r.raw)
			}
		}
	})
}
