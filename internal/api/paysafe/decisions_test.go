package paysafe_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/vault"
)

// decisionUUIDv7 is a lower-case dashed UUID of version 7 and the RFC 9562 variant.
var decisionUUIDv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestDecisions proves the spec's "Decision:" points (shared/spec/paysafe-customer-vault.md)
// that no other test pins down; each case names the section it proves. The decisions the
// other tests already prove are listed in the report of the decisions branch.
func TestDecisions(t *testing.T) {
	e := mustPayEnv(t)
	ctx := context.Background()

	// §1.2 — Decision: every location of a merchant owns exactly one card-payment account
	// number (unique server-wide) with its currencyCode (USD by default); a server credential
	// may use the account numbers of its own merchant's locations.
	t.Run("ok/§1.2-every-location-an-account", func(t *testing.T) {
		second, err := e.svc.CreateLocation(ctx, e.creds.MerchantID, vault.NewLocation{Name: "Second"})
		if err != nil {
			t.Fatal(err)
		}
		acct := second.Location.AccountNumber
		if acct == "" || acct == e.acct {
			t.Fatalf("second location's account number %q, first %q", acct, e.acct)
		}
		a := e.must(t, 200, call{method: "POST", path: "/cardpayments/v1/accounts/" + acct + "/auths",
			body: `{"merchantRefNum":"second-1","amount":100,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
		if a.str("currencyCode") != "USD" {
			t.Errorf("auth on the second location = %s", a.raw)
		}
		// The auth belongs to that account, not the merchant's first one.
		e.must(t, 200, call{method: "GET", path: "/cardpayments/v1/accounts/" + acct + "/auths/" + a.str("id")})
		e.must(t, 404, call{method: "GET", path: e.path("auths/" + a.str("id"))})
		// No wildcard: an account number no location owns is refused.
		if r := e.must(t, 403, call{method: "GET", path: "/cardpayments/v1/accounts/99999999999/auths?merchantRefNum=x"}); r.code() != "5270" {
			t.Errorf("unknown account = %s", r.raw)
		}
	})

	// §1.2 — Decision: the token-creation endpoints accept sut credentials and also the same
	// merchant's server credentials; the token belongs to that merchant.
	t.Run("ok/§1.2-token-creation-with-server-key", func(t *testing.T) {
		card := e.must(t, 200, call{method: "POST", path: "/customervault/v1/singleusetokens",
			body: `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040}}}`}).str("paymentToken")
		ach := e.must(t, 200, call{method: "POST", path: "/customervault/v1/achsingleusetokens",
			body: `{"achBankAccount":{"accountHolderName":"X","accountNumber":"988948193","routingNumber":"211589828","accountType":"CHECKING"}}`}).str("paymentToken")
		if len(card) != 16 || card[:2] != "SC" || len(ach) != 16 || ach[:2] != "SA" {
			t.Fatalf("tokens %q, %q", card, ach)
		}
		pid := e.MustProfile(t, "server-sut")
		e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: `{"singleUseToken":"` + card + `"}`})
	})

	// §1.6 — Decision: entity and transaction ids are UUIDv7.
	t.Run("ok/§1.6-ids-are-uuidv7", func(t *testing.T) {
		pid := e.MustProfile(t, "ids")
		aid := e.MustAddress(t, pid)
		cid := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards",
			body: `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040}}`}).str("id")
		auth := e.mustAuth(t, "ids-1", 100, false)
		for _, id := range []string{pid, aid, cid, auth} {
			if !decisionUUIDv7.MatchString(id) {
				t.Errorf("id %q is not a lower-case UUIDv7", id)
			}
		}
	})

	// §2.3 — Decision: defaultShippingAddressIndicator true makes this address the only
	// default, false clears it on this address, absent leaves it unchanged; deleting an address
	// removes the matching billingAddressId from cards and bank accounts and is never refused.
	t.Run("ok/§2.3-default-shipping-address", func(t *testing.T) {
		pid := e.MustProfile(t, "shipping")
		base := "/customervault/v1/profiles/" + pid + "/addresses/"
		isDefault := func(id string) any {
			return e.must(t, 200, call{method: "GET", path: base + id}).body["defaultShippingAddressIndicator"]
		}
		a1 := e.must(t, 201, call{method: "POST", path: base, body: `{"country":"US","defaultShippingAddressIndicator":true}`}).str("id")
		a2 := e.must(t, 201, call{method: "POST", path: base, body: `{"country":"US"}`}).str("id")
		if isDefault(a1) != true || isDefault(a2) != false {
			t.Error("true on create did not make the address the default")
		}
		e.must(t, 200, call{method: "PUT", path: base + a1, body: `{"country":"US","city":"Absent"}`})
		if isDefault(a1) != true {
			t.Error("an absent indicator changed the default")
		}
		e.must(t, 200, call{method: "PUT", path: base + a2, body: `{"country":"US","defaultShippingAddressIndicator":true}`})
		if isDefault(a1) != false || isDefault(a2) != true {
			t.Error("true did not make the address the only default")
		}
		e.must(t, 200, call{method: "PUT", path: base + a2, body: `{"country":"US","defaultShippingAddressIndicator":false}`})
		if isDefault(a1) != false || isDefault(a2) != false {
			t.Error("false did not clear the default")
		}
	})
	t.Run("ok/§2.3-address-delete-unlinks", func(t *testing.T) {
		pid := e.MustProfile(t, "unlink")
		prof := "/customervault/v1/profiles/" + pid
		aid := e.MustAddress(t, pid)
		cid := e.must(t, 201, call{method: "POST", path: prof + "/cards",
			body: `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040},"billingAddressId":"` + aid + `"}`}).str("id")
		bid := e.must(t, 201, call{method: "POST", path: prof + "/achbankaccounts",
			body: `{"accountHolderName":"X","accountNumber":"988948193","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"` + aid + `"}`}).str("id")
		e.must(t, 200, call{method: "DELETE", path: prof + "/addresses/" + aid})
		for _, p := range []string{prof + "/cards/" + cid, prof + "/achbankaccounts/" + bid} {
			if r := e.must(t, 200, call{method: "GET", path: p}); r.body["billingAddressId"] != nil {
				t.Errorf("%s keeps the deleted address: %s", p, r.raw)
			}
		}
	})

	// §2.4 — Decision: a duplicate number is per profile (other profiles may hold it); a card
	// from a single-use token ignores cardNum and cardExpiry in the body, uses the body's
	// billingAddressId if present (7511 applies) and lets the body's holderName and nickName
	// override the token's.
	t.Run("ok/§2.4-duplicate-is-per-profile", func(t *testing.T) {
		body := `{"cardNum":"5200400000000009","cardExpiry":{"month":12,"year":2040}}`
		for _, mcid := range []string{"dup-a", "dup-b"} {
			e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + e.MustProfile(t, mcid) + "/cards", body: body})
		}
	})
	t.Run("ok/§2.4-card-from-token-body-wins", func(t *testing.T) {
		pid := e.MustProfile(t, "token-body")
		aid := e.MustAddress(t, pid)
		sut := func() string {
			return e.mustSUT(t, `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":3,"year":2042},"holderName":"TOKEN","nickName":"tok",`+
				`"billingAddress":{"country":"CA","zip":"M5H 2N2"}}}`)
		}
		c := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: `{"singleUseToken":"` + sut() + `",` +
			`"cardNum":"5200400000000009","cardExpiry":{"month":1,"year":2030},"holderName":"BODY","nickName":"body","billingAddressId":"` + aid + `"}`})
		want := map[string]any{"lastDigits": "1111", "cardExpiry": map[string]any{"month": 3.0, "year": 2042.0}, "holderName": "BODY", "nickName": "body", "billingAddressId": aid}
		for k, v := range want {
			if d := cmp.Diff(v, c.body[k]); d != "" {
				t.Errorf("%s: (-want +got)\n%s", k, d)
			}
		}
		other := e.MustProfile(t, "token-body-2")
		if r := e.do(t, call{method: "POST", path: "/customervault/v1/profiles/" + other + "/cards", body: `{"singleUseToken":"` + sut() + `","billingAddressId":"` + aid + `"}`}); r.code() != "7511" {
			t.Errorf("token with another profile's address = %s", r.raw)
		}
	})

	// §2.14 — Decision: several partial settlements are allowed.
	t.Run("ok/§2.14-several-partial-settlements", func(t *testing.T) {
		aid := e.mustAuth(t, "partial", 1000, false)
		settle := func(ref string, amount string) reply {
			return e.do(t, call{method: "POST", path: e.path("auths/" + aid + "/settlements"), body: `{"merchantRefNum":"` + ref + `","amount":` + amount + `}`})
		}
		for _, amount := range []string{"300", "200"} {
			if r := settle("partial-"+amount, amount); r.status != 200 || r.str("status") != "PENDING" {
				t.Fatalf("settlement of %s = %d %s", amount, r.status, r.raw)
			}
		}
		if g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + aid)}); g.body["availableToSettle"] != 500.0 {
			t.Errorf("auth after two settlements = %s", g.raw)
		}
		if r := settle("partial-over", "501"); r.status != 402 || r.code() != "3204" {
			t.Errorf("settlement over the rest = %d %s", r.status, r.raw)
		}
		if r := settle("partial-rest", "500"); r.status != 200 {
			t.Errorf("settlement of the rest = %d %s", r.status, r.raw)
		}
	})

	// §2.16 — Decision: PENDING and COMPLETED settlements can be refunded; batching is not
	// required.
	t.Run("ok/§2.16-refund-pending-and-completed", func(t *testing.T) {
		aid := e.mustAuth(t, "refunds", 1000, false)
		sid := e.must(t, 200, call{method: "POST", path: e.path("auths/" + aid + "/settlements"), body: `{"merchantRefNum":"refunds-s"}`}).str("id")
		e.must(t, 200, call{method: "POST", path: e.path("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"refunds-1","amount":100}`})
		e.clock.Add(24*time.Hour + time.Second)
		if g := e.must(t, 200, call{method: "GET", path: e.path("settlements/" + sid)}); g.str("status") != "COMPLETED" {
			t.Fatalf("settlement after the batch delay = %s", g.raw)
		}
		r := e.must(t, 200, call{method: "POST", path: e.path("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"refunds-2","amount":200}`})
		if r.str("status") != "PENDING" || r.body["amount"] != 200.0 {
			t.Errorf("refund of a completed settlement = %s", r.raw)
		}
		if g := e.must(t, 200, call{method: "GET", path: e.path("settlements/" + sid)}); g.body["availableToRefund"] != 700.0 {
			t.Errorf("settlement after two refunds = %s", g.raw)
		}
	})
}
