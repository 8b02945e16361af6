package paysafe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestClientTolerance covers §1.3: trailing slashes, any or no Content-Type, bodies on GET and
// DELETE ignored, unknown fields ignored at any depth, null and "" as absent, loose scalars.
func TestClientTolerance(t *testing.T) {
	e := MustEnv(t)
	r := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/", header: map[string]string{"Content-Type": ""},
		body: `{"merchantCustomerId":12345,"locale":"en_US","firstName":null,"lastName":"","email":"","id":"x","status":"GONE","paymentToken":"Pxxx",
		        "links":[{"rel":"self"}],"extra":{"deep":[1,{"x":null}]}}`})
	pid := r.str("id")
	want := map[string]any{"id": pid, "status": "ACTIVE", "merchantCustomerId": "12345", "locale": "en_US", "paymentToken": r.str("paymentToken")}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("profile (-want +got)\n%s", d)
	}
	if !strings.HasPrefix(r.str("paymentToken"), "P") || r.str("paymentToken") == "Pxxx" {
		t.Errorf("paymentToken = %q", r.str("paymentToken"))
	}
	// text/plain is parsed as JSON all the same, and no Content-Type is ever refused (no 415).
	aid := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/addresses/", header: map[string]string{"Content-Type": "text/plain"},
		body: `{"country":"gb","defaultShippingAddressIndicator":"TRUE","zip":10014,"unknown":{"a":1}}`}).str("id")
	a := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles/" + pid + "/addresses/" + aid + "/", body: `{not json at all`, loose: true})
	if a.str("country") != "GB" || a.body["defaultShippingAddressIndicator"] != true || a.str("zip") != "10014" {
		t.Errorf("address = %s", a.raw)
	}
	// Loose card fields: strings for integers, a float with zero fraction, "true" for a boolean.
	c := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards/",
		body: `{"cardNum":4111111111111111,"cardExpiry":{"month":"12","year":2040.0},"defaultCardIndicator":"false","billingAddressId":"` + aid + `","card":{"ignored":true}}`})
	if c.body["defaultCardIndicator"] != false || c.str("lastDigits") != "1111" {
		t.Errorf("card = %s", c.raw)
	}
	// fields: a raw or %2C-encoded comma list in any case, unknown values ignored.
	for _, q := range []string{"fields=cards,ADDRESSES,bogus", "fields=Addresses%2Ccards", "fields=cards&fields=addresses"} {
		g := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles/" + pid + "?" + q + "&unexpected=1"})
		cards, _ := g.body["cards"].([]any)
		addrs, _ := g.body["addresses"].([]any)
		if len(cards) != 1 || len(addrs) != 1 {
			t.Errorf("%s: %s", q, g.raw)
		}
		if _, ok := cards[0].(map[string]any)["storedCredentialTokenStatus"]; ok {
			t.Errorf("embedded cards carry storedCredentialTokenStatus")
		}
	}
	g := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles/" + pid + "?fields=achbankaccounts,sepabankaccounts"})
	if d := cmp.Diff([]any{}, g.body["achBankAccounts"]); d != "" {
		t.Errorf("an empty subcomponent must be [] (-want +got)\n%s", d)
	}
	// DELETE ignores its body and answers 200 with an empty body.
	d := e.must(t, 200, call{method: "DELETE", path: "/customervault/v1/profiles/" + pid + "/cards/" + c.str("id") + "/", body: `{"x":`, loose: true})
	if len(d.raw) != 0 || d.header.Get("Content-Length") != "0" {
		t.Errorf("DELETE body %q, Content-Length %q", d.raw, d.header.Get("Content-Length"))
	}
}

// TestByteOrderMark shows that a body starting with a UTF-8 byte order mark (a file saved by
// a Windows editor and sent with curl -d @file) is parsed like the same body without it, as
// the vendor's JSON parser does (RFC 8259 §8.1 lets a parser ignore it), instead of 5023. A
// mark anywhere else is still a parse error.
func TestByteOrderMark(t *testing.T) {
	e := MustEnv(t)
	r := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles", loose: true,
		body: "\xef\xbb\xbf{\"merchantCustomerId\":\"bom\",\"locale\":\"en_US\"}"})
	if r.str("merchantCustomerId") != "bom" {
		t.Errorf("profile = %s", r.raw)
	}
	e.must(t, 200, call{method: "PUT", path: "/customervault/v1/profiles/" + r.str("id"), loose: true,
		body: "\xef\xbb\xbf  {\"merchantCustomerId\":\"bom\",\"locale\":\"fr_CA\"}"})
	// An empty body with only a mark is {}.
	if x := e.do(t, call{method: "POST", path: "/customervault/v1/profiles", body: "\xef\xbb\xbf", loose: true}); x.code() != "5068" {
		t.Errorf("a mark alone = %d %s", x.status, x.raw)
	}
	if x := e.do(t, call{method: "POST", path: "/customervault/v1/profiles", body: "{\xef\xbb\xbf}", loose: true}); x.code() != "5023" {
		t.Errorf("a mark inside the object = %d %s", x.status, x.raw)
	}
}

// TestPutReplaces covers §1.9: PUT replaces mutable fields, keeps bank identity fields when
// absent, and changes default flags only on an explicit value.
func TestPutReplaces(t *testing.T) {
	e := MustEnv(t)
	pid := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles",
		body: `{"merchantCustomerId":"put-1","locale":"en_US","firstName":"A","phone":"1","cellPhone":"2","gender":"F","ip":"::1"}`}).str("id")
	p := e.must(t, 200, call{method: "PUT", path: "/customervault/v1/profiles/" + pid, body: `{"merchantCustomerId":"put-2","locale":"fr_CA","lastName":"B","card":{"cardNum":"x"},"id":"ignored"}`})
	want := map[string]any{"id": pid, "status": "ACTIVE", "merchantCustomerId": "put-2", "locale": "fr_CA", "lastName": "B", "paymentToken": p.str("paymentToken")}
	if d := cmp.Diff(want, p.body); d != "" {
		t.Errorf("profile PUT (-want +got)\n%s", d)
	}

	a1 := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/addresses", body: `{"country":"US","city":"X","defaultShippingAddressIndicator":true}`}).str("id")
	a2 := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/addresses", body: `{"country":"US"}`}).str("id")
	u := e.must(t, 200, call{method: "PUT", path: "/customervault/v1/profiles/" + pid + "/addresses/" + a1, body: `{"country":"CA"}`})
	if u.str("city") != "" || u.body["defaultShippingAddressIndicator"] != true {
		t.Errorf("address PUT without the flag = %s", u.raw)
	}
	e.must(t, 200, call{method: "PUT", path: "/customervault/v1/profiles/" + pid + "/addresses/" + a2, body: `{"country":"CA","defaultShippingAddressIndicator":true}`})
	if g := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles/" + pid + "/addresses/" + a1}); g.body["defaultShippingAddressIndicator"] != false {
		t.Errorf("the old default shipping address kept its flag: %s", g.raw)
	}

	// Cards: the first is the default; true moves it; false clears it; absent keeps it.
	cards := "/customervault/v1/profiles/" + pid + "/cards/"
	c1 := e.must(t, 201, call{method: "POST", path: cards, body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040},"nickName":"one"}`}).str("id")
	c2 := e.must(t, 201, call{method: "POST", path: cards, body: `{"cardNum":"5200400000000009","cardExpiry":{"month":1,"year":2040}}`}).str("id")
	isDefault := func(id string) bool {
		return e.must(t, 200, call{method: "GET", path: cards + id}).body["defaultCardIndicator"] == true
	}
	if !isDefault(c1) || isDefault(c2) {
		t.Error("the first card is not the default")
	}
	up := e.must(t, 200, call{method: "PUT", path: cards + c1, body: `{"cardExpiry":{"month":2,"year":2041},"cardNum":"5200400000000009"}`})
	if _, ok := up.body["nickName"]; ok || up.str("lastDigits") != "1111" || !isDefault(c1) {
		t.Errorf("card PUT = %s", up.raw)
	}
	e.must(t, 200, call{method: "PUT", path: cards + c2, body: `{"cardExpiry":{"month":1,"year":2040},"defaultCardIndicator":true}`})
	if isDefault(c1) || !isDefault(c2) {
		t.Error("an explicit true did not move the default")
	}
	e.must(t, 200, call{method: "PUT", path: cards + c2, body: `{"cardExpiry":{"month":1,"year":2040},"defaultCardIndicator":false}`})
	if isDefault(c1) || isDefault(c2) {
		t.Error("an explicit false did not clear the default")
	}
	e.must(t, 200, call{method: "PUT", path: cards + c1, body: `{"cardExpiry":{"month":1,"year":2040},"defaultCardIndicator":"true"}`})
	e.must(t, 200, call{method: "DELETE", path: cards + c1})
	if !isDefault(c2) {
		t.Error("deleting the default card did not promote the oldest remaining one")
	}

	// Bank identity fields are kept when absent, validated and replaced when present.
	sepa := "/customervault/v1/profiles/" + pid + "/sepabankaccounts/"
	s := e.must(t, 201, call{method: "POST", path: sepa, body: `{"accountHolderName":"S","iban":"DE89370400440532013000","bic":"ABNANL2A","billingAddressId":"` + a1 + `","nickName":"n"}`})
	k := e.must(t, 200, call{method: "PUT", path: sepa + s.str("id"), body: `{"accountHolderName":"T","billingAddressId":"` + a2 + `"}`})
	if k.str("iban") != s.str("iban") || k.str("bic") != "ABNANL2A" || k.str("nickName") != "" || k.str("accountHolderName") != "T" {
		t.Errorf("SEPA PUT without identity = %s", k.raw)
	}
	k = e.must(t, 200, call{method: "PUT", path: sepa + s.str("id"), body: `{"accountHolderName":"T","billingAddressId":"` + a2 + `","iban":"GB82WEST12345698765432"}`})
	if k.str("lastDigits") != "5432" || k.str("paymentToken") != s.str("paymentToken") {
		t.Errorf("SEPA PUT with a new iban = %s", k.raw)
	}
	ach := "/customervault/v1/profiles/" + pid + "/achbankaccounts/"
	b := e.must(t, 201, call{method: "POST", path: ach, body: `{"accountHolderName":"X","accountNumber":"123456789","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"` + a1 + `"}`})
	k = e.must(t, 200, call{method: "PUT", path: ach + b.str("id"), body: `{"accountHolderName":"X","accountType":"LOAN","billingAddressId":"` + a1 + `"}`})
	if k.str("lastDigits") != "6789" || k.str("routingNumber") != "211589828" || k.str("accountType") != "LOAN" {
		t.Errorf("ACH PUT without identity = %s", k.raw)
	}
	if r := e.do(t, call{method: "PUT", path: ach + b.str("id"), body: `{"accountHolderName":"X","accountType":"LOAN","billingAddressId":"` + a1 + `"}`}); r.status != 200 {
		t.Errorf("ACH PUT with routing kept: %s", r.raw)
	}
}

// TestDeleteProfileCascades covers acceptance 6: deleting a profile removes its addresses,
// cards, bank accounts and mandates in one transaction, and their tokens stop working.
func TestDeleteProfileCascades(t *testing.T) {
	e := MustEnv(t)
	ctx := context.Background()
	pid := e.MustProfile(t, "cascade")
	aid := e.MustAddress(t, pid)
	base := "/customervault/v1/profiles/" + pid
	c := e.must(t, 201, call{method: "POST", path: base + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}`})
	b := e.must(t, 201, call{method: "POST", path: base + "/bacsbankaccounts", body: `{"accountHolderName":"S","accountNumber":"12345678","sortCode":"207405","billingAddressId":"` + aid + `","mandates":[{"reference":"M1"}]}`})
	m := b.body["mandates"].([]any)[0].(map[string]any)
	e.must(t, 200, call{method: "DELETE", path: base})
	for _, p := range []string{base, base + "/addresses/" + aid, base + "/cards/" + c.str("id"), base + "/bacsbankaccounts/" + b.str("id"), base + "/mandates/" + m["id"].(string)} {
		if r := e.do(t, call{method: "GET", path: p}); r.status != 404 || r.code() != "5269" {
			t.Errorf("GET %s after delete: %d %s", p, r.status, r.raw)
		}
	}
	mid := e.creds.MerchantID
	for _, tok := range []string{c.str("paymentToken"), b.str("paymentToken")} {
		if _, err := e.store.GetInstrumentByToken(ctx, mid, tok); vault.KindOf(err) != vault.NotFound {
			t.Errorf("token %s still resolves: %v", tok[:1], err)
		}
	}
	if _, err := e.store.GetAddress(ctx, mid, pid, aid); vault.KindOf(err) != vault.NotFound {
		t.Errorf("address survived: %v", err)
	}
	if _, err := e.store.GetMandate(ctx, mid, m["id"].(string)); vault.KindOf(err) != vault.NotFound {
		t.Errorf("mandate survived: %v", err)
	}
	// The merchantCustomerId is free again.
	e.MustProfile(t, "cascade")
}

// TestMandateReferenceKept shows that a mandate's reference (§2.10, 1–35 characters) is
// stored and echoed as sent, spaces included, whether the mandate is created on its own or
// with its BACS or SEPA account; only a blank reference is refused.
func TestMandateReferenceKept(t *testing.T) {
	e := MustEnv(t)
	pid := e.MustProfile(t, "mandate-reference")
	aid := e.MustAddress(t, pid)
	base := "/customervault/v1/profiles/" + pid
	ref := " REF 1 " + strings.Repeat("x", 28) // 35 characters, with a leading and an inner space
	b := e.must(t, 201, call{method: "POST", path: base + "/bacsbankaccounts", body: `{"accountHolderName":"S","accountNumber":"12345678","sortCode":"207405","billingAddressId":"` + aid + `","mandates":{"reference":"` + ref + `"}}`})
	if ms, _ := b.body["mandates"].([]any); len(ms) != 1 || ms[0].(map[string]any)["reference"] != ref {
		t.Errorf("mandate created with its account = %s", b.raw)
	}
	s := e.must(t, 201, call{method: "POST", path: base + "/sepabankaccounts", body: `{"accountHolderName":"S","iban":"DE89370400440532013000","billingAddressId":"` + aid + `"}`})
	m := e.must(t, 201, call{method: "POST", path: base + "/sepabankaccounts/" + s.str("id") + "/mandates", body: `{"reference":"SUB 7 "}`})
	if m.str("reference") != "SUB 7 " {
		t.Errorf("mandate create = %s", m.raw)
	}
	if g := e.must(t, 200, call{method: "GET", path: base + "/mandates/" + m.str("id")}); g.str("reference") != "SUB 7 " {
		t.Errorf("mandate read back = %s", g.raw)
	}
	if r := e.do(t, call{method: "POST", path: base + "/sepabankaccounts/" + s.str("id") + "/mandates", body: `{"reference":"   "}`}); r.code() != "5068" {
		t.Errorf("blank reference = %s", r.raw)
	}
}

// TestMandateLifecycle covers §2.10 through the wire, with the operator control in the core.
func TestMandateLifecycle(t *testing.T) {
	e := MustEnv(t)
	pid := e.MustProfile(t, "mandates")
	aid := e.MustAddress(t, pid)
	base := "/customervault/v1/profiles/" + pid
	b := e.must(t, 201, call{method: "POST", path: base + "/bacsbankaccounts", body: `{"accountHolderName":"S","accountNumber":4762,"sortCode":"20 74 05","billingAddressId":"` + aid + `"}`})
	m := e.must(t, 201, call{method: "POST", path: base + "/bacsbankaccounts/" + b.str("id") + "/mandates/", body: `{"reference":"SUBSCRIP45"}`})
	if m.str("status") != "PENDING" || m.header.Get("Location") != e.url+base+"/mandates/"+m.str("id") {
		t.Fatalf("BACS mandate = %s (Location %s)", m.raw, m.header.Get("Location"))
	}
	created := m.str("statusChangeDate")
	e.clock.Add(time.Hour)
	g := e.must(t, 200, call{method: "GET", path: base + "/mandates/" + m.str("id")})
	wantChange := e.clock.Now().UTC().Format("2006-01-02T15:04:05Z")
	if g.str("status") != "ACTIVE" || g.str("statusChangeDate") != wantChange || created == wantChange {
		t.Errorf("after bacsMandateActivationSeconds = %s", g.raw)
	}
	acct := e.must(t, 200, call{method: "GET", path: base + "/bacsbankaccounts/" + b.str("id")})
	if ms, _ := acct.body["mandates"].([]any); len(ms) != 1 || ms[0].(map[string]any)["status"] != "ACTIVE" {
		t.Errorf("account mandates = %s", acct.raw)
	}
	cx := e.must(t, 200, call{method: "PUT", path: base + "/mandates/" + m.str("id"), body: `{"status":"CANCELLED"}`})
	if cx.str("status") != "CANCELLED" || cx.str("statusReason") != "MERCHANT_CANCELLED" {
		t.Errorf("cancel = %s", cx.raw)
	}
	e.clock.Add(time.Minute)
	if again := e.must(t, 200, call{method: "PUT", path: base + "/mandates/" + m.str("id"), body: `{"status":"CANCELLED"}`}); again.str("statusChangeDate") != cx.str("statusChangeDate") {
		t.Errorf("cancelling twice changed the mandate: %s", again.raw)
	}
	// A rejected mandate (operator) cannot be cancelled.
	r := e.must(t, 201, call{method: "POST", path: base + "/bacsbankaccounts/" + b.str("id") + "/mandates", body: `{"reference":"R2"}`})
	if _, err := e.svc.SetMandateStatus(context.Background(), r.str("id"), "REJECTED", "", "REJECTED"); err != nil {
		t.Fatal(err)
	}
	if x := e.do(t, call{method: "PUT", path: base + "/mandates/" + r.str("id"), body: `{"status":"CANCELLED"}`}); x.code() != "5068" {
		t.Errorf("cancel of a rejected mandate = %s", x.raw)
	}
	e.must(t, 200, call{method: "DELETE", path: base + "/mandates/" + m.str("id")})
	e.must(t, 200, call{method: "DELETE", path: base + "/bacsbankaccounts/" + b.str("id")})
	if x := e.do(t, call{method: "GET", path: base + "/mandates/" + r.str("id")}); x.status != 404 {
		t.Errorf("a deleted account's mandate: %s", x.raw)
	}
}

// TestDefaultLocation shows the decision that Paysafe records are created in the merchant's
// default location, even when the merchant has several.
func TestDefaultLocation(t *testing.T) {
	e := MustEnv(t)
	ctx := context.Background()
	if _, err := e.svc.CreateLocation(ctx, e.creds.MerchantID, vault.NewLocation{Name: "Second"}); err != nil {
		t.Fatal(err)
	}
	pid := e.MustProfile(t, "where")
	cid := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}`}).str("id")
	m, _ := e.store.GetMerchant(ctx, e.creds.MerchantID)
	prof, _ := e.store.GetProfile(ctx, m.ID, pid)
	in, _ := e.store.GetInstrument(ctx, m.ID, cid)
	if prof.LocationID != m.DefaultLocationID || in.LocationID != m.DefaultLocationID {
		t.Errorf("profile in %s, card in %s; the default location is %s", prof.LocationID, in.LocationID, m.DefaultLocationID)
	}
}

// TestCardCreateUnknownProfile: a card posted to a profile that does not exist, or no longer
// does, is a 404 naming the profile, whether its body is valid or not (the create reads the
// profile itself; only a refused request looks it up first).
func TestCardCreateUnknownProfile(t *testing.T) {
	e := MustEnv(t)
	gone := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"gone","locale":"en_US"}`}).str("id")
	e.must(t, 200, call{method: "DELETE", path: "/customervault/v1/profiles/" + gone})
	for _, pid := range []string{gone, "0f5e5b9a-0000-4000-8000-000000000000"} {
		for _, body := range []string{
			`{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}`,
			`{"cardNum":"4111111111111112","cardExpiry":{"month":1,"year":2040}}`,
			`{"cardNum":"9999999999999995","cardExpiry":{"month":1,"year":2040}}`,
			`{"cardNum":`,
		} {
			r := e.do(t, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards", body: body, loose: true})
			if r.status != 404 || r.code() != "5269" || !strings.HasSuffix(r.body["error"].(map[string]any)["message"].(string), pid) {
				t.Errorf("%s on %s: %d %s", body, pid, r.status, r.raw)
			}
		}
	}
}

// TestUnknownPathIDFirst: on every PUT and every create under a profile, an unknown path id is
// 404/5269 naming the first unresolved id before the body is looked at, whether the body is
// malformed, not an object or has field errors (README "Precedence"); with known ids the
// same bodies get their 5023 and 5068.
func TestUnknownPathIDFirst(t *testing.T) {
	e := MustEnv(t)
	const missing = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"
	pid := e.MustProfile(t, "first")
	prof := "/customervault/v1/profiles/" + pid
	type route struct{ method, path, unresolved string }
	unknown := []route{
		{"PUT", "/customervault/v1/profiles/" + missing, missing},
		{"PUT", "/customervault/v1/profiles/" + missing + "/cards/" + missing + "1", missing},
		{"PUT", prof + "/addresses/" + missing, missing},
		{"PUT", prof + "/cards/" + missing, missing},
		{"PUT", prof + "/achbankaccounts/" + missing, missing},
		{"PUT", prof + "/bacsbankaccounts/" + missing, missing},
		{"PUT", prof + "/eftbankaccounts/" + missing, missing},
		{"PUT", prof + "/sepabankaccounts/" + missing, missing},
		{"PUT", prof + "/mandates/" + missing, missing},
		{"POST", "/customervault/v1/profiles/" + missing + "/addresses", missing},
		{"POST", "/customervault/v1/profiles/" + missing + "/cards", missing},
		{"POST", "/customervault/v1/profiles/" + missing + "/achbankaccounts", missing},
		{"POST", "/customervault/v1/profiles/" + missing + "/bacsbankaccounts", missing},
		{"POST", "/customervault/v1/profiles/" + missing + "/eftbankaccounts", missing},
		{"POST", "/customervault/v1/profiles/" + missing + "/sepabankaccounts", missing},
		{"POST", prof + "/sepabankaccounts/" + missing + "/mandates", missing},
		{"POST", prof + "/bacsbankaccounts/" + missing + "/mandates", missing},
	}
	bodies := map[string]string{"malformed": `{bad`, "array": `[]`, "field-errors": `{"merchantCustomerId":""}`, "empty": ``}
	for _, rt := range unknown {
		for reason, body := range bodies {
			t.Run("fail/unknown-"+reason+"/"+rt.method+"-"+strings.TrimPrefix(rt.path, "/customervault/v1/"), func(t *testing.T) {
				r := e.do(t, call{method: rt.method, path: rt.path, body: body, loose: true})
				msg, _ := r.body["error"].(map[string]any)["message"].(string)
				if r.status != 404 || r.code() != "5269" || !strings.HasSuffix(msg, ": "+rt.unresolved) {
					t.Errorf("%d %s", r.status, r.raw)
				}
			})
		}
	}

	// With the profile known, the body is judged: 5023, then 5068, then the update.
	for _, tt := range []struct {
		name      string
		body      string
		status    int
		code      string
		fieldErrs []string
	}{
		{"fail/malformed", `{bad`, 400, "5023", nil},
		{"fail/array", `[]`, 400, "5023", nil},
		{"fail/field-errors", `{"merchantCustomerId":"","locale":"en_US"}`, 400, "5068",
			[]string{"merchantCustomerId: may not be empty", "merchantCustomerId: size must be between 1 and 100"}},
		{"ok", `{"merchantCustomerId":"first","locale":"en_GB"}`, 200, "", nil},
	} {
		t.Run("profile-put/"+tt.name, func(t *testing.T) {
			r := e.do(t, call{method: "PUT", path: prof, body: tt.body, loose: tt.status != 200})
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), tt.status, tt.code, r.raw)
			}
			if d := cmp.Diff(tt.fieldErrs, r.fieldErrs()); d != "" {
				t.Errorf("fieldErrors (-want +got)\n%s", d)
			}
			if tt.status == 200 && r.str("locale") != "en_GB" {
				t.Errorf("not updated: %s", r.raw)
			}
		})
	}
}

// TestGetPutBack: a card or bank account read with GET can be PUT back as is and stays the
// same (response fields echoed back are ignored, §1.3). The SEPA iban is echoed masked
// (§2.5), so the masked value of the account's current IBAN reads as absent (the IBAN is
// kept); any other iban is validated and replaces it.
func TestGetPutBack(t *testing.T) {
	e := MustEnv(t)
	pid := e.MustProfile(t, "put-back")
	aid := e.MustAddress(t, pid)
	prof := "/customervault/v1/profiles/" + pid
	create := func(coll, body string) string {
		return prof + "/" + coll + "/" + e.must(t, 201, call{method: "POST", path: prof + "/" + coll, body: body}).str("id")
	}
	holder := `"accountHolderName":"Sally","billingAddressId":"` + aid + `"`
	card := create("cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040},"billingAddressId":"`+aid+`"}`)
	ach := create("achbankaccounts", `{`+holder+`,"accountNumber":"9876543210","routingNumber":"211589828","accountType":"CHECKING"}`)
	bacs := create("bacsbankaccounts", `{`+holder+`,"accountNumber":"12345678","sortCode":"20-74-05","mandates":{"reference":"R1"}}`)
	eft := create("eftbankaccounts", `{`+holder+`,"accountNumber":"44889922","transitNumber":"25039","institutionId":"001"}`)
	sepa := create("sepabankaccounts", `{`+holder+`,"iban":"DE89 3704 0044 0532 0130 00","bic":"cobadeffxxx","mandates":[{"reference":"S1"}]}`)
	for _, tt := range []struct{ name, path string }{
		{"ok/card", card}, {"ok/ach", ach}, {"ok/bacs", bacs}, {"ok/eft", eft}, {"ok/sepa", sepa},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := e.must(t, 200, call{method: "GET", path: tt.path})
			put := e.must(t, 200, call{method: "PUT", path: tt.path, body: string(got.raw)})
			if d := cmp.Diff(got.body, put.body); d != "" {
				t.Errorf("PUT of the GET body changed the record (-GET +PUT)\n%s", d)
			}
			if d := cmp.Diff(got.body, e.must(t, 200, call{method: "GET", path: tt.path}).body); d != "" {
				t.Errorf("GET after PUT (-before +after)\n%s", d)
			}
		})
	}

	// The SEPA iban: another valid IBAN replaces the stored one; an invalid one, or the mask
	// of an IBAN the account no longer has, is 5068.
	sepaBody := func(iban string) string { return `{` + holder + `,"iban":"` + iban + `"}` }
	for _, tt := range []struct {
		name, iban   string
		status       int
		masked, last string
		fieldErrs    []string
	}{
		{"ok/sepa-current-mask", "DE89**************3000", 200, "DE89**************3000", "3000", nil},
		{"ok/sepa-new-iban", "GB82WEST12345698765432", 200, "GB82**************5432", "5432", nil},
		{"fail/sepa-invalid-iban", "GB82WEST12345698765431", 400, "", "", []string{"iban: Invalid IBAN"}},
		{"fail/sepa-stale-mask", "DE89**************3000", 400, "", "", []string{"iban: Invalid IBAN"}},
		{"ok/sepa-new-mask", "GB82**************5432", 200, "GB82**************5432", "5432", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, call{method: "PUT", path: sepa, body: sepaBody(tt.iban)})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if d := cmp.Diff(tt.fieldErrs, r.fieldErrs()); d != "" {
				t.Errorf("fieldErrors (-want +got)\n%s", d)
			}
			if tt.status == 200 && (r.str("iban") != tt.masked || r.str("lastDigits") != tt.last) {
				t.Errorf("iban %q lastDigits %q, want %q %q", r.str("iban"), r.str("lastDigits"), tt.masked, tt.last)
			}
		})
	}
}

// TestFirstCardDefault: a profile's first card is its default unless the create says
// "defaultCardIndicator":false, which wins (§2.4); the profile then has no default card
// until one is set explicitly. A card nested in a profile create is always the default
// (§2.2), whatever it says.
func TestFirstCardDefault(t *testing.T) {
	e := MustEnv(t)
	card := func(pan, def string) string {
		b := `{"cardNum":"` + pan + `","cardExpiry":{"month":1,"year":2040}`
		if def != "" {
			b += `,"defaultCardIndicator":` + def
		}
		return b + `}`
	}
	for _, tt := range []struct {
		name  string
		first string // the first card's defaultCardIndicator ("" absent)
		then  string // the second card's
		want  [2]bool
	}{
		{"ok/absent-first-is-default", "", "", [2]bool{true, false}},
		{"ok/explicit-true", "true", "", [2]bool{true, false}},
		{"ok/explicit-false-wins", "false", "", [2]bool{false, false}},
		{"ok/explicit-false-then-true", "false", "true", [2]bool{false, true}},
		{"ok/second-true-moves", "", "true", [2]bool{false, true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cards := "/customervault/v1/profiles/" + e.MustProfile(t, tt.name) + "/cards/"
			c1 := e.must(t, 201, call{method: "POST", path: cards, body: card("4111111111111111", tt.first)}).str("id")
			c2 := e.must(t, 201, call{method: "POST", path: cards, body: card("5200400000000009", tt.then)}).str("id")
			var got [2]bool
			for i, id := range []string{c1, c2} {
				got[i] = e.must(t, 200, call{method: "GET", path: cards + id}).body["defaultCardIndicator"] == true
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("defaultCardIndicator of the two cards (-want +got)\n%s", d)
			}
		})
	}
	t.Run("ok/nested-card-always-default", func(t *testing.T) {
		r := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles",
			body: `{"merchantCustomerId":"nested-false","locale":"en_US","card":` + card("4111111111111111", "false") + `}`})
		cards, _ := r.body["cards"].([]any)
		if len(cards) != 1 || cards[0].(map[string]any)["defaultCardIndicator"] != true {
			t.Errorf("nested card = %s", r.raw)
		}
	})
}

// TestNestedBillingAddressShipping: the billingAddress of a card nested in a profile create
// takes the §2.3 fields (§2.2), defaultShippingAddressIndicator included: true makes the new
// address the profile's default shipping address, absent leaves it false, and a value that
// is not a boolean is 5068 Invalid value under its dotted path, with nothing created.
func TestNestedBillingAddressShipping(t *testing.T) {
	e := MustEnv(t)
	create := func(mcid, flag string) reply {
		ba := `{"country":"US","zip":"10014"`
		if flag != "" {
			ba += `,"defaultShippingAddressIndicator":` + flag
		}
		// A flag that is not a boolean breaks the request schema on purpose.
		return e.do(t, call{method: "POST", path: "/customervault/v1/profiles", loose: flag == `"yes"`, body: `{"merchantCustomerId":"` + mcid +
			`","locale":"en_US","card":{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040},"billingAddress":` + ba + `}}}`})
	}
	for _, tt := range []struct {
		name, flag string
		want       bool
	}{
		{"ok/true", "true", true},
		{"ok/loose-true", `"TRUE"`, true},
		{"ok/false", "false", false},
		{"ok/absent", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := create(tt.name, tt.flag)
			if r.status != 201 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			addrs, _ := r.body["addresses"].([]any)
			if len(addrs) != 1 || addrs[0].(map[string]any)["defaultShippingAddressIndicator"] != tt.want {
				t.Errorf("create answered addresses %v, want one with the flag %v", r.body["addresses"], tt.want)
			}
			g := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles/" + r.str("id") + "?fields=addresses"})
			addrs, _ = g.body["addresses"].([]any)
			if len(addrs) != 1 || addrs[0].(map[string]any)["defaultShippingAddressIndicator"] != tt.want {
				t.Errorf("stored addresses %v, want one with the flag %v", g.body["addresses"], tt.want)
			}
		})
	}
	t.Run("fail/not-a-boolean", func(t *testing.T) {
		r := create("nested-bad-flag", `"yes"`)
		want := []any{map[string]any{"field": "card.billingAddress.defaultShippingAddressIndicator", "error": "Invalid value"}}
		if r.status != 400 || r.code() != "5068" {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		if d := cmp.Diff(want, r.body["error"].(map[string]any)["fieldErrors"]); d != "" {
			t.Errorf("fieldErrors (-want +got)\n%s", d)
		}
		if x := e.do(t, call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=nested-bad-flag"}); x.code() != "5269" {
			t.Errorf("a refused create stored its profile: %d %s", x.status, x.raw)
		}
	})
}

// TestBankWriteAnswerNeedsNoLaterRead: a bank account create or PUT answers with the account
// and its mandates as its own write left them. It read the mandates after the commit, so a
// database going away right after it answered 503 although the account was stored, and a
// client retrying the create made a second account with a second set of mandates (duplicate
// bank accounts are not refused, §2.5).
func TestBankWriteAnswerNeedsNoLaterRead(t *testing.T) {
	var st *storetest.GoneAfterCommit
	e := MustEnvStore(t, func(s *sqlstore.Store) vault.Store { st = &storetest.GoneAfterCommit{Store: s}; return st })
	pid := e.MustProfile(t, "gone-after-commit")
	aid := e.MustAddress(t, pid)
	prof := "/customervault/v1/profiles/" + pid
	holder := `"accountHolderName":"S","billingAddressId":"` + aid + `"`
	bacs := e.must(t, 201, call{method: "POST", path: prof + "/bacsbankaccounts", body: `{` + holder + `,"accountNumber":"12345678","sortCode":"207405","mandates":[{"reference":"B0"}]}`})
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		mandates                 []string // mandates are the statuses of the answer's mandates.
	}{
		{"ok/bacs-create-with-mandates", "POST", prof + "/bacsbankaccounts", `{` + holder + `,"accountNumber":"12345678","sortCode":"207405","mandates":[{"reference":"B1"},{"reference":"B2"}]}`, 201, []string{"PENDING", "PENDING"}},
		{"ok/bacs-create", "POST", prof + "/bacsbankaccounts", `{` + holder + `,"accountNumber":"12345678","sortCode":"207405"}`, 201, nil},
		{"ok/sepa-create-with-mandate", "POST", prof + "/sepabankaccounts", `{` + holder + `,"iban":"DE89370400440532013000","mandates":{"reference":"S1"}}`, 201, []string{"ACTIVE"}},
		{"ok/ach-create", "POST", prof + "/achbankaccounts", `{` + holder + `,"accountNumber":"796134762","routingNumber":"123456789","accountType":"CHECKING"}`, 201, nil},
		{"ok/bacs-put", "PUT", prof + "/bacsbankaccounts/" + bacs.str("id"), `{` + holder + `,"nickName":"renamed"}`, 200, []string{"PENDING"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r reply
			st.Armed(t, func() { r = e.do(t, call{method: tt.method, path: tt.path, body: tt.body}) })
			if r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			var got []string
			ms, _ := r.body["mandates"].([]any)
			for _, m := range ms {
				got = append(got, m.(map[string]any)["status"].(string))
			}
			if d := cmp.Diff(tt.mandates, got); d != "" {
				t.Errorf("mandates (-want +got)\n%s", d)
			}
			// The answer is what is stored.
			path := tt.path
			if tt.method == "POST" {
				path += "/" + r.str("id")
			}
			if d := cmp.Diff(r.body, e.must(t, 200, call{method: "GET", path: path}).body); d != "" {
				t.Errorf("answer and stored account differ (-answer +GET)\n%s", d)
			}
		})
	}
}

// TestVaultWriteAnswerNeedsNoLaterRead: every Customer Vault write answers from its own
// transaction, never from a read after its commit, so a database going away right after the
// commit cannot turn a stored write into a 5xx (which a client retries, making a second
// profile, card or token). The answer is what a later GET shows.
func TestVaultWriteAnswerNeedsNoLaterRead(t *testing.T) {
	var st *storetest.GoneAfterCommit
	e := MustEnvStore(t, func(s *sqlstore.Store) vault.Store { st = &storetest.GoneAfterCommit{Store: s}; return st })
	const base = "/customervault/v1/profiles"
	pid := e.MustProfile(t, "gone-vault")
	prof := base + "/" + pid
	aid := e.MustAddress(t, pid)
	cardBody := func(pan string) string {
		return `{"cardNum":"` + pan + `","cardExpiry":{"month":12,"year":2050},"billingAddressId":"` + aid + `"}`
	}
	card := e.must(t, 201, call{method: "POST", path: prof + "/cards", body: cardBody("4111111111111111")}).str("id")
	bacs := e.must(t, 201, call{method: "POST", path: prof + "/bacsbankaccounts", body: `{"accountHolderName":"S","billingAddressId":"` + aid + `","accountNumber":"12345678","sortCode":"207405","mandates":[{"reference":"G0"}]}`})
	mandate := bacs.body["mandates"].([]any)[0].(map[string]any)["id"].(string)
	dropAddr := e.MustAddress(t, pid)
	dropCard := e.must(t, 201, call{method: "POST", path: prof + "/cards", body: cardBody("5200400000000009")}).str("id")
	dropProf := e.MustProfile(t, "gone-vault-drop")
	const holder = `"accountHolderName":"S","accountNumber":"796134762"`
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		get                      string // get is the GET whose answer the write's must equal ("" for none; "+id" adds the new id to path).
	}{
		{"ok/profile-create", "POST", base, `{"merchantCustomerId":"gone-1","locale":"en_US","firstName":"A"}`, 201, "+id"},
		{"ok/profile-create-with-card", "POST", base, `{"merchantCustomerId":"gone-2","locale":"en_US","card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"billingAddress":{"country":"US","zip":"10014"}}}`, 201, ""},
		{"ok/profile-update", "PUT", prof, `{"merchantCustomerId":"gone-vault","locale":"en_GB","lastName":"B"}`, 200, prof},
		{"ok/address-create", "POST", prof + "/addresses", `{"country":"CA","zip":"M5V 2T6","defaultShippingAddressIndicator":true}`, 201, "+id"},
		{"ok/address-update", "PUT", prof + "/addresses/" + aid, `{"country":"US","zip":"10015","street":"1 Main"}`, 200, prof + "/addresses/" + aid},
		{"ok/card-create", "POST", prof + "/cards", cardBody("4000056655665556"), 201, "+id"},
		{"ok/card-update", "PUT", prof + "/cards/" + card, `{"cardExpiry":{"month":11,"year":2051},"nickName":"n","defaultCardIndicator":true}`, 200, prof + "/cards/" + card},
		{"ok/mandate-create", "POST", prof + "/bacsbankaccounts/" + bacs.str("id") + "/mandates", `{"reference":"G1"}`, 201, ""},
		{"ok/mandate-cancel", "PUT", prof + "/mandates/" + mandate, `{"status":"CANCELLED"}`, 200, prof + "/mandates/" + mandate},
		{"ok/mandate-delete", "DELETE", prof + "/mandates/" + mandate, "", 200, ""},
		{"ok/card-delete", "DELETE", prof + "/cards/" + dropCard, "", 200, ""},
		{"ok/address-delete", "DELETE", prof + "/addresses/" + dropAddr, "", 200, ""},
		{"ok/bank-delete", "DELETE", prof + "/bacsbankaccounts/" + bacs.str("id"), "", 200, ""},
		{"ok/profile-delete", "DELETE", base + "/" + dropProf, "", 200, ""},
		{"ok/card-token", "POST", "/customervault/v1/singleusetokens", `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"billingAddress":{"country":"US","zip":"10014"}}}`, 200, ""},
		{"ok/ach-token", "POST", "/customervault/v1/achsingleusetokens", `{"achBankAccount":{` + holder + `,"routingNumber":"123456789","accountType":"CHECKING"},"profile":{"firstName":"A"}}`, 200, ""},
		{"ok/eft-token", "POST", "/customervault/v1/eftsingleusetokens", `{"eftBankAccount":{` + holder + `,"transitNumber":"12345","institutionId":"123"}}`, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r reply
			st.Armed(t, func() { r = e.do(t, call{method: tt.method, path: tt.path, body: tt.body}) })
			if r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			get := tt.get
			if get == "+id" {
				get = tt.path + "/" + r.str("id")
			}
			if get == "" {
				return
			}
			if d := cmp.Diff(r.body, e.must(t, 200, call{method: "GET", path: get}).body); d != "" {
				t.Errorf("answer and stored record differ (-answer +GET)\n%s", d)
			}
		})
	}
}
