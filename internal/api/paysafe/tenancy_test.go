package paysafe_test

import (
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
