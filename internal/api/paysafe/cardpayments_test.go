package paysafe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/storetest"
)

// cardGolden is one example exchange of the reference's card-payment sections, in
// testdata/cardpayments. {acct}, {card}, {auth} and {settlement} stand for setup objects.
type cardGolden struct {
	Spec    string   `json:"spec"`
	Setup   []string `json:"setup"`
	NoAuth  bool     `json:"noAuth"`
	Request struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
	} `json:"request"`
	Response struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"response"`
}

// TestCardPaymentsGolden replays the reference's card-payment examples. Ids, times, tokens,
// auth codes and account numbers differ from the examples, so both sides are normalised
// (normalizeTxn); the server's base URL reads https://host.
func TestCardPaymentsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/cardpayments/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g cardGolden
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			e := mustPayEnv(t)
			ids := map[string]string{"acct": e.acct}
			for _, s := range g.Setup {
				switch s {
				case "card":
					ids["card"], _ = e.mustVaultCard(t, "golden", "4111111111111111", 12, 2050)
				case "auth":
					ids["auth"] = e.mustAuth(t, "auth-1", 1000, false)
				case "settlement":
					ids["settlement"] = e.must(t, 200, call{method: "POST", path: e.path("auths/" + ids["auth"] + "/settlements"),
						body: `{"merchantRefNum":"settle-1","amount":600}`}).str("id")
				default:
					t.Fatalf("unknown setup %q", s)
				}
			}
			subst := func(s string) string {
				for k, v := range ids {
					s = strings.ReplaceAll(s, "{"+k+"}", v)
				}
				return s
			}
			r := e.do(t, call{method: g.Request.Method, path: subst(g.Request.Path), body: subst(string(g.Request.Body)), noAuth: g.NoAuth})
			if r.status != g.Response.Status {
				t.Fatalf("%s: status %d, want %d\n%s", g.Spec, r.status, g.Response.Status, r.raw)
			}
			want := normalizeTxn(jsonOf(t, g.Response.Body), "x")
			got := normalizeTxn(jsonOf(t, []byte(strings.ReplaceAll(string(r.raw), e.url, "https://host"))), e.acct)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s (-want +got)\n%s", g.Spec, d)
			}
		})
	}
}

// TestCardPaymentsFlow is the money path through the API: vault a card, auth without
// settling, settle, refund part, refund the rest, and a further refund is refused; every step
// is visible through lookups and lists.
func TestCardPaymentsFlow(t *testing.T) {
	e := mustPayEnv(t)
	tok, _ := e.mustVaultCard(t, "flow", "5200400000000009", 1, 2040)
	a := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"order-1","amount":1000,"card":{"paymentToken":"` + tok + `","cvv":"111"}}`})
	aid := a.str("id")
	if a.header.Get("X-Applicationuid") != "GUID="+aid {
		t.Errorf("X-Applicationuid = %q, want the transaction id", a.header.Get("X-Applicationuid"))
	}
	if a.body["availableToSettle"] != 1000.0 || a.body["settlements"] != nil || a.body["visaAdditionalAuthData"] != nil || a.str("cvvVerification") != "MATCH" {
		t.Errorf("auth = %s", a.raw)
	}
	for _, l := range a.body["links"].([]any) {
		if l.(map[string]any)["rel"] == "settlement" {
			t.Error("an auth not settled has a settlement link")
		}
	}
	s := e.must(t, 200, call{method: "POST", path: e.path("auths/" + aid + "/settlements"), body: `{"merchantRefNum":"order-1"}`})
	sid := s.str("id")
	if s.body["amount"] != 1000.0 || s.str("status") != "PENDING" {
		t.Errorf("settlement = %s", s.raw)
	}
	if g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + aid)}); g.body["availableToSettle"] != 0.0 || g.body["settlements"] != nil {
		t.Errorf("auth after settle = %s", g.raw)
	}
	r1 := e.must(t, 200, call{method: "POST", path: e.path("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"order-1-r1","amount":300}`})
	if g := e.must(t, 200, call{method: "GET", path: e.path("settlements/" + sid)}); g.body["availableToRefund"] != 700.0 {
		t.Errorf("settlement after partial refund = %s", g.raw)
	}
	r2 := e.must(t, 200, call{method: "POST", path: e.path("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"order-1-r2"}`})
	if r2.body["amount"] != 700.0 {
		t.Errorf("refund of the rest = %s", r2.raw)
	}
	over := e.must(t, 402, call{method: "POST", path: e.path("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"order-1-r3","amount":1}`})
	if over.code() != "3404" || over.str("id") == "" {
		t.Errorf("further refund = %s", over.raw)
	}
	// The refused refund is stored FAILED with its error.
	f := e.must(t, 200, call{method: "GET", path: e.path("refunds/" + over.str("id"))})
	if f.str("status") != "FAILED" || f.code() != "3404" {
		t.Errorf("stored refusal = %s", f.raw)
	}
	if g := e.must(t, 200, call{method: "GET", path: e.path("refunds/" + r1.str("id"))}); g.body["amount"] != 300.0 || g.str("status") != "PENDING" {
		t.Errorf("refund lookup = %s", g.raw)
	}
	// A PENDING refund can be cancelled, then refunded again.
	c := e.must(t, 200, call{method: "PUT", path: e.path("refunds/" + r1.str("id")), body: `{"status":"CANCELLED"}`})
	if c.str("status") != "CANCELLED" {
		t.Errorf("cancelled refund = %s", c.raw)
	}
	e.must(t, 200, call{method: "POST", path: e.path("settlements/" + sid + "/refunds"), body: `{"merchantRefNum":"order-1-r4","amount":300}`})
	// Lists.
	l := e.must(t, 200, call{method: "GET", path: e.path("refunds?merchantRefNum=order-1-r3")})
	if items := l.body["refunds"].([]any); len(items) != 1 || l.body["links"] != nil {
		t.Errorf("refund list = %s", l.raw)
	}
	// The card is VERIFIED after the approved auth.
	pcards := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=flow&fields=cards"})
	if cs := pcards.body["cards"].([]any); len(cs) != 1 {
		t.Fatalf("cards = %s", pcards.raw)
	}
	// The batch completes the settlement after a day; it can no longer be cancelled.
	e.clock.Add(24*time.Hour + time.Second)
	if g := e.must(t, 200, call{method: "GET", path: e.path("settlements/" + sid)}); g.str("status") != "COMPLETED" {
		t.Errorf("settlement after the batch delay = %s", g.raw)
	}
	if r := e.must(t, 402, call{method: "PUT", path: e.path("settlements/" + sid), body: `{"status":"CANCELLED"}`}); r.code() != "3415" {
		t.Errorf("cancel completed = %s", r.raw)
	}
	// Auths are never held.
	if r := e.must(t, 400, call{method: "PUT", path: e.path("auths/" + aid), body: `{"status":"COMPLETED"}`}); r.code() != "3031" {
		t.Errorf("PUT auth = %s", r.raw)
	}
}

// TestSettleWithAuthCancel cancels the settlement an auth made on approval, under the auth's
// id, and settles again.
func TestSettleWithAuthCancel(t *testing.T) {
	e := mustPayEnv(t)
	aid := e.mustAuth(t, "swa", 500, true)
	g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + aid)})
	if links := g.body["links"].([]any); len(links) != 2 || g.body["availableToSettle"] != 0.0 {
		t.Errorf("lookup of an auth settled with it = %s", g.raw)
	}
	st := e.must(t, 200, call{method: "GET", path: e.path("settlements/" + aid)})
	if st.str("id") != aid || st.str("status") != "PENDING" {
		t.Errorf("settlement under the auth id = %s", st.raw)
	}
	if r := e.must(t, 400, call{method: "PUT", path: e.path("settlements/" + aid), body: `{"status":"COMPLETED"}`}); r.code() != "5068" {
		t.Errorf("bad cancel body = %s", r.raw)
	}
	if c := e.must(t, 200, call{method: "PUT", path: e.path("settlements/" + aid), body: `{"status":"CANCELLED"}`}); c.str("status") != "CANCELLED" || c.body["availableToRefund"] != 0.0 {
		t.Errorf("cancel = %s", c.raw)
	}
	if g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + aid)}); g.body["availableToSettle"] != 500.0 {
		t.Errorf("auth after cancel = %s", g.raw)
	}
	if r := e.must(t, 402, call{method: "POST", path: e.path("settlements/" + aid + "/refunds"), body: `{"merchantRefNum":"x"}`}); r.code() != "3404" {
		t.Errorf("refund a cancelled settlement = %s", r.raw)
	}
	e.must(t, 200, call{method: "POST", path: e.path("auths/" + aid + "/settlements"), body: `{"merchantRefNum":"swa-2","amount":200}`})
	if r := e.must(t, 402, call{method: "POST", path: e.path("auths/" + aid + "/voidauths"), body: `{"merchantRefNum":"v","amount":301}`}); r.code() != "3501" {
		t.Errorf("over-void = %s", r.raw)
	}
	e.must(t, 200, call{method: "POST", path: e.path("auths/" + aid + "/voidauths"), body: `{"merchantRefNum":"v"}`})
	if r := e.must(t, 402, call{method: "POST", path: e.path("auths/" + aid + "/voidauths"), body: `{"merchantRefNum":"v"}`}); r.code() != "3502" {
		t.Errorf("void after settlement = %s", r.raw)
	}
	if r := e.must(t, 402, call{method: "POST", path: e.path("auths/" + aid + "/settlements"), body: `{"merchantRefNum":"v"}`}); r.code() != "3203" {
		t.Errorf("settle with nothing left = %s", r.raw)
	}
	v := e.must(t, 200, call{method: "GET", path: e.path("voidauths?merchantRefNum=v")})
	if items := v.body["voidAuths"].([]any); len(items) != 3 {
		t.Errorf("voidauths = %s", v.raw)
	}
}

func TestCardPaymentErrors(t *testing.T) {
	e := mustPayEnv(t)
	tok, ptok := e.mustVaultCard(t, "errs", "4111111111111111", 12, 2040)
	_, _ = e.mustVaultCard(t, "errs-2", "4111111111111111", 12, 2040)
	expired, _ := e.mustVaultCard(t, "old", "4111111111111111", 1, 2001)
	bare := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"bare","locale":"en_US"}`})
	deleted, _ := e.mustVaultCard(t, "gone", "5200400000000009", 1, 2040)
	dprof := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=gone&fields=cards"})
	dcard := dprof.body["cards"].([]any)[0].(map[string]any)["id"].(string)
	e.must(t, 200, call{method: "DELETE", path: "/customervault/v1/profiles/" + dprof.str("id") + "/cards/" + dcard})
	consumed := e.mustSUT(t, `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}}`)
	e.must(t, 200, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"c","amount":100,"card":{"paymentToken":"` + consumed + `"}}`})
	other := e.MustMerchant(t, false)
	foreignPID := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles", user: other.Paysafe.APIKeyID, pass: other.Paysafe.APIKeySecret,
		body: `{"merchantCustomerId":"f","locale":"en_US","card":{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}}`})
	foreignTok := foreignPID.body["cards"].([]any)[0].(map[string]any)["paymentToken"].(string)
	foreignAuth := e.must(t, 200, call{method: "POST", path: "/cardpayments/v1/accounts/" + other.Paysafe.AccountNumber + "/auths",
		user: other.Paysafe.APIKeyID, pass: other.Paysafe.APIKeySecret,
		body: `{"merchantRefNum":"x","amount":100,"card":{"paymentToken":"` + foreignTok + `"}}`}).str("id")
	e.mustAuth(t, "dup", 100, false)

	auth := func(card string) string {
		return `{"merchantRefNum":"e","amount":100,"card":` + card + `}`
	}
	tests := []struct {
		name   string
		c      call
		status int
		code   string
		fields []fieldError
		stored bool // stored reports whether the refusal was stored and has an id
	}{
		{"fail/missing-everything", call{method: "POST", path: e.path("auths"), body: `{}`}, 400, "5068",
			[]fieldError{{"merchantRefNum", "may not be empty"}, {"amount", "may not be null"}, {"card", "may not be null"}}, true},
		{"fail/amount-low", call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"e","amount":0,"card":{"paymentToken":"` + tok + `"}}`}, 400, "5068",
			[]fieldError{{"amount", "must be greater than or equal to 1"}}, true},
		{"fail/amount-high", call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"e","amount":"100000000","card":{"paymentToken":"` + tok + `"}}`}, 400, "5068",
			[]fieldError{{"amount", "must be less than or equal to 99999999"}}, true},
		{"fail/raw-card-fields", call{method: "POST", path: e.path("auths"), body: auth(`{"cardNum":"4111111111111112","cardExpiry":{"month":13,"year":2040},"cvv":"12"}`)}, 400, "5068",
			[]fieldError{{"card.cvv", "size must be between 3 and 4"}, {"card.cardNum", "Luhn checksum failed"}, {"card.cardExpiry.month", "must be between 1 and 12"}}, true},
		{"fail/customer-ip-overlong", call{method: "POST", path: e.path("auths"),
			body: `{"merchantRefNum":"f","amount":100,"customerIp":"` + strings.Repeat("1", 46) + `","card":{"paymentToken":"` + tok + `"}}`}, 400, "5068",
			[]fieldError{{"customerIp", "Invalid IP Address"}}, true},
		{"fail/details-country-not-alpha2", call{method: "POST", path: e.path("auths"),
			body: `{"merchantRefNum":"f","amount":100,"billingDetails":{"country":"USA"},"shippingDetails":{"country":"CAN"},"card":{"paymentToken":"` + tok + `"}}`}, 400, "5068",
			[]fieldError{{"billingDetails.country", "Invalid Country"}, {"shippingDetails.country", "Invalid Country"}}, true},
		{"fail/raw-card-no-brand", call{method: "POST", path: e.path("auths"), body: auth(`{"cardNum":"9999999999999995","cardExpiry":{"month":1,"year":2040}}`)}, 400, "3002", nil, true},
		{"fail/raw-card-expired", call{method: "POST", path: e.path("auths"), body: auth(`{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2020}}`)}, 400, "3006", nil, true},
		{"fail/stored-card-expired", call{method: "POST", path: e.path("auths"), body: auth(`{"paymentToken":"` + expired + `"}`)}, 400, "3006", nil, true},
		{"fail/foreign-token", call{method: "POST", path: e.path("auths"), body: auth(`{"paymentToken":"` + foreignTok + `"}`)}, 400, "5500", nil, true},
		{"fail/deleted-token", call{method: "POST", path: e.path("auths"), body: auth(`{"paymentToken":"` + deleted + `"}`)}, 400, "5500", nil, true},
		{"fail/consumed-token", call{method: "POST", path: e.path("auths"), body: auth(`{"paymentToken":"` + consumed + `"}`)}, 400, "5500", nil, true},
		{"fail/unknown-token", call{method: "POST", path: e.path("auths"), body: auth(`{"paymentToken":"Mx81LpQe0TzW3nA"}`)}, 400, "5500", nil, true},
		{"fail/profile-without-card", call{method: "POST", path: e.path("auths"), body: auth(`{"paymentToken":"` + bare.str("paymentToken") + `"}`)}, 400, "5501", nil, true},
		{"fail/dupcheck", call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"dup","dupCheck":true,"amount":100,"card":{"paymentToken":"` + ptok + `"}}`}, 409, "5031", nil, true},
		{"fail/bad-json", call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":`, loose: true}, 400, "5023", nil, false},
		{"fail/foreign-account", call{method: "POST", path: "/cardpayments/v1/accounts/" + other.Paysafe.AccountNumber + "/auths", body: auth(`{"paymentToken":"` + tok + `"}`)}, 403, "5270", nil, false},
		{"fail/unknown-account", call{method: "GET", path: "/cardpayments/v1/accounts/123/auths/x"}, 403, "5270", nil, false},
		{"fail/sut-credential", call{method: "GET", path: e.path("auths?merchantRefNum=x"), user: e.creds.Paysafe.SingleUseKeyID, pass: e.creds.Paysafe.SingleUseKeySecret}, 403, "5270", nil, false},
		{"fail/foreign-transaction", call{method: "GET", path: e.path("auths/" + foreignAuth)}, 404, "5269", nil, false},
		{"fail/foreign-settle", call{method: "POST", path: e.path("auths/" + foreignAuth + "/settlements"), body: `{"merchantRefNum":"s"}`}, 404, "5269", nil, false},
		{"fail/unknown-settlement", call{method: "GET", path: e.path("settlements/01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19")}, 404, "5269", nil, false},
		{"fail/list-without-ref", call{method: "GET", path: e.path("auths?limit=5"), loose: true}, 400, "5068", []fieldError{{"merchantRefNum", "may not be empty"}}, false},
		{"fail/list-bad-date", call{method: "GET", path: e.path("auths?merchantRefNum=x&startDate=yesterday")}, 400, "5068", []fieldError{{"startDate", "Invalid date format"}}, false},
		{"fail/wrong-method", call{method: "DELETE", path: e.path("auths/x")}, 405, "5281", nil, false},
		{"fail/no-credentials", call{method: "GET", path: e.path("auths?merchantRefNum=x"), noAuth: true}, 401, "5280", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, tt.status, tt.c)
			if r.code() != tt.code {
				t.Fatalf("code %s, want %s: %s", r.code(), tt.code, r.raw)
			}
			if tt.fields != nil {
				var body struct {
					Error struct {
						FieldErrors []fieldError `json:"fieldErrors"`
					} `json:"error"`
				}
				json.Unmarshal(r.raw, &body)
				less := func(a, b fieldError) bool { return a.Field+a.Error < b.Field+b.Error }
				if d := cmp.Diff(tt.fields, body.Error.FieldErrors, cmpSortFields(less)); d != "" {
					t.Errorf("fieldErrors (-want +got)\n%s", d)
				}
			}
			id := r.str("id")
			if tt.stored != (id != "") {
				t.Fatalf("stored = %v, want %v: %s", id != "", tt.stored, r.raw)
			}
			if !tt.stored {
				return
			}
			if r.header.Get("X-Applicationuid") != "GUID="+id {
				t.Errorf("X-Applicationuid = %q", r.header.Get("X-Applicationuid"))
			}
			g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + id)})
			if g.str("status") != "FAILED" || g.code() != tt.code {
				t.Errorf("stored refusal = %s", g.raw)
			}
		})
	}
	// A refused request with dupCheck does not block a corrected retry, and failures list.
	l := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=e&limit=50")})
	if n := len(l.body["auths"].([]any)); n != 11 {
		t.Errorf("%d failed auths listed, want 11: %s", n, l.raw)
	}
}

// TestCardPaymentRefusedValuesNotKept: a refused transaction is stored as FAILED (spec, Decision
// (failed transactions)), but a value refused for its field is not kept with it: a card number
// sent by mistake as the customerIp, the descriptor's phone or the shipping zip would otherwise
// lie in the clear in the transaction's row and come back on every GET and list.
func TestCardPaymentRefusedValuesNotKept(t *testing.T) {
	e := mustPayEnv(t)
	tok, _ := e.mustVaultCard(t, "refused", "5200400000000009", 12, 2040)
	const pan = "4111111111111111"
	r := e.must(t, 400, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"refused","amount":100,"customerIp":"` + pan +
		`","description":"tea","merchantDescriptor":{"dynamicDescriptor":"SHOP","phone":"` + pan + `"},` +
		`"shippingDetails":{"country":"US","city":"Town","zip":"` + pan + `"},"card":{"paymentToken":"` + tok + `"}}`})
	if r.code() != "5068" || r.str("id") == "" {
		t.Fatalf("refusal = %s", r.raw)
	}
	for _, path := range []string{"auths/" + r.str("id"), "auths?merchantRefNum=refused"} {
		g := e.must(t, 200, call{method: "GET", path: e.path(path)})
		if strings.Contains(string(g.raw), pan) {
			t.Errorf("GET %s repeats the refused card number: %s", path, g.raw)
		}
		// What was valid is kept, as before.
		for _, kept := range []string{`"description":"tea"`, `"dynamicDescriptor":"SHOP"`, `"city":"Town"`} {
			if !strings.Contains(string(g.raw), kept) {
				t.Errorf("GET %s lost %s: %s", path, kept, g.raw)
			}
		}
	}
}

// cmpSortFields sorts fieldErrors before comparing: their order is not specified (§4.7).
func cmpSortFields(less func(a, b fieldError) bool) cmp.Option {
	return cmp.Transformer("sort", func(in []fieldError) []fieldError {
		out := append([]fieldError(nil), in...)
		for i := range out {
			for j := i + 1; j < len(out); j++ {
				if less(out[j], out[i]) {
					out[i], out[j] = out[j], out[i]
				}
			}
		}
		return out
	})
}

type fieldError struct {
	Field string `json:"field"`
	Error string `json:"error"`
}

// TestSimulator runs the §2.18 triggers through the API: magic amounts (auths only), AVS by
// street prefix and CVV by value (auths and verifications).
func TestSimulator(t *testing.T) {
	e := mustPayEnv(t)
	tok, _ := e.mustVaultCard(t, "sim", "4111111111111111", 12, 2040)
	tests := []struct {
		amount int
		status int
		code   string
	}{
		{1, 200, ""}, {4, 402, "3015"}, {5, 402, "3009"}, {6, 500, "1007"}, {20, 500, "1007"}, {11, 402, "3022"},
		{12, 402, "3023"}, {13, 402, "3024"}, {23, 402, "4002"}, {24, 402, "3007"}, {25, 402, "4001"}, {77, 402, "3060"},
		{90, 200, ""}, {95, 200, ""}, {96, 500, "1007"}, {97, 200, ""},
	}
	for _, tt := range tests {
		t.Run("amount-"+strconv.Itoa(tt.amount), func(t *testing.T) {
			r := e.must(t, tt.status, call{method: "POST", path: e.path("auths"),
				body: `{"merchantRefNum":"sim","amount":` + strconv.Itoa(tt.amount) + `,"card":{"paymentToken":"` + tok + `"}}`})
			if r.code() != tt.code {
				t.Errorf("code %q, want %q: %s", r.code(), tt.code, r.raw)
			}
			_, risk := r.body["riskReasonCode"]
			if risk != (tt.status == 402) {
				t.Errorf("riskReasonCode present = %v for %d: %s", risk, tt.status, r.raw)
			}
		})
	}
	checks := []struct {
		street, cvv string
		avs, cvvRes string
	}{
		{"100 Main", "111", "MATCH", "MATCH"}, {"11 Main", "222", "MATCH_ADDRESS_ONLY", "NOT_PROCESSED"},
		{"16 Main", "333", "MATCH_ADDRESS_ONLY", "NOT_PROCESSED"}, {"12 Main", "444", "MATCH_ZIP_ONLY", "NOT_PROCESSED"},
		{"17 Main", "555", "MATCH_ZIP_ONLY", "UNKNOWN"}, {"13 Main", "666", "NO_MATCH", "NO_MATCH"},
		{"15 Main", "777", "UNKNOWN", "MATCH"}, {"18 Main", "", "NOT_PROCESSED", "NOT_PROCESSED"}, {"99 Main", "123", "MATCH", "MATCH"},
		{"", "", "MATCH", "NOT_PROCESSED"},
	}
	for _, kind := range []string{"auths", "verifications"} {
		for _, c := range checks {
			t.Run(kind+"/"+c.street+"/"+c.cvv, func(t *testing.T) {
				cvv := ""
				if c.cvv != "" {
					cvv = `,"cvv":"` + c.cvv + `"`
				}
				body := `{"merchantRefNum":"avs","amount":5,"card":{"paymentToken":"` + tok + `"` + cvv + `},"billingDetails":{"street":"` + c.street + `","country":"US","zip":"10014"}}`
				if kind == "auths" {
					body = strings.Replace(body, `"amount":5`, `"amount":100`, 1)
				}
				// A verification ignores the amount: 5 does not decline it.
				r := e.must(t, 200, call{method: "POST", path: e.path(kind), body: body})
				if r.str("avsResponse") != c.avs || r.str("cvvVerification") != c.cvvRes {
					t.Errorf("avs %s cvv %s, want %s %s", r.str("avsResponse"), r.str("cvvVerification"), c.avs, c.cvvRes)
				}
			})
		}
	}
}

// TestSingleUseTokenPayments: two concurrent auths with one single-use token, exactly one
// succeeds; a verification before them does not consume it; the token's billing address is
// used when the request has none.
func TestSingleUseTokenPayments(t *testing.T) {
	e := mustPayEnv(t)
	sut := e.mustSUT(t, `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"cvv":"666","billingAddress":{"street":"13 Elm","country":"US","zip":"10014"}}}`)
	v := e.must(t, 200, call{method: "POST", path: e.path("verifications"), body: `{"merchantRefNum":"v","card":{"paymentToken":"` + sut + `"}}`})
	if v.str("cvvVerification") != "NO_MATCH" || v.str("avsResponse") != "NO_MATCH" {
		t.Errorf("verification with the token's cvv and address = %s", v.raw)
	}
	e.must(t, 200, call{method: "GET", path: e.path("verifications/" + v.str("id")), body: `{"ignored":true}`})
	var wg sync.WaitGroup
	statuses := make(chan reply, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- e.do(t, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"race-` + strconv.Itoa(i) + `","amount":100,"card":{"paymentToken":"` + sut + `"}}`})
		}()
	}
	wg.Wait()
	close(statuses)
	ok, refused := 0, 0
	for r := range statuses {
		switch {
		case r.status == 200:
			ok++
		case r.status == 400 && r.code() == "5500":
			refused++
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if ok != 1 || refused != 1 {
		t.Errorf("%d succeeded and %d were refused, want 1 and 1", ok, refused)
	}
	// An expired token is refused too.
	late := e.mustSUT(t, `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`)
	e.clock.Add(900 * time.Second)
	if r := e.must(t, 400, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"late","amount":100,"card":{"paymentToken":"` + late + `"}}`}); r.code() != "5500" {
		t.Errorf("expired token = %s", r.raw)
	}
}

// TestVerificationMarksCardVerified checks storedCredentialTokenStatus after a verification.
func TestVerificationMarksCardVerified(t *testing.T) {
	e := mustPayEnv(t)
	tok, _ := e.mustVaultCard(t, "ver", "4111111111111111", 12, 2040)
	status := func() string {
		p := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=ver&fields=cards"})
		id := p.body["cards"].([]any)[0].(map[string]any)["id"].(string)
		return e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles/" + p.str("id") + "/cards/" + id}).str("storedCredentialTokenStatus")
	}
	if s := status(); s != "UNVERIFIED" {
		t.Fatalf("new card is %s", s)
	}
	v := e.must(t, 200, call{method: "POST", path: e.path("verifications"), body: `{"merchantRefNum":"v","card":{"paymentToken":"` + tok + `"},"storedCredential":{"type":"ADHOC","occurrence":"INITIAL"}}`})
	if v.body["profile"] == nil || v.body["visaAdditionalAuthData"] == nil || v.body["storedCredential"] != nil {
		t.Errorf("verification = %s", v.raw)
	}
	if g := e.must(t, 200, call{method: "GET", path: e.path("verifications/" + v.str("id"))}); g.body["visaAdditionalAuthData"] != nil || g.body["storedCredential"] == nil {
		t.Errorf("verification lookup = %s", g.raw)
	}
	if s := status(); s != "VERIFIED" {
		t.Errorf("card after verification is %s", s)
	}
}

// TestAuthLookupDetails checks what GET adds and drops: storedCredential from recurring, no
// settlements, no visaAdditionalAuthData; and the request's descriptor and extras.
func TestAuthLookupDetails(t *testing.T) {
	e := mustPayEnv(t)
	a := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"d","amount":"250","settleWithAuth":"true","recurring":"RECURRING",
		"card":{"cardNum":"4917484589897107","cardExpiry":{"month":"12","year":"2050"}},"customerIp":"10.0.0.1","description":"tea",
		"keywords":["a",1],"merchantDescriptor":{"dynamicDescriptor":"SHOP"},"profile":{"firstName":"ignored"},"splitpay":[1,2]}`})
	if a.body["card"].(map[string]any)["type"] != "VE" || a.body["visaAdditionalAuthData"] == nil || a.body["storedCredential"] != nil {
		t.Errorf("create = %s", a.raw)
	}
	g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + a.str("id"))})
	want := map[string]any{"type": "RECURRING", "occurrence": "SUBSEQUENT"}
	if d := cmp.Diff(want, g.body["storedCredential"]); d != "" {
		t.Errorf("storedCredential (-want +got)\n%s", d)
	}
	if g.body["settlements"] != nil || g.body["visaAdditionalAuthData"] != nil || g.body["profile"] != nil {
		t.Errorf("lookup = %s", g.raw)
	}
	if d := cmp.Diff(map[string]any{"dynamicDescriptor": "SHOP"}, g.body["merchantDescriptor"]); d != "" {
		t.Errorf("descriptor (-want +got)\n%s", d)
	}
	if g.str("customerIp") != "10.0.0.1" || g.str("description") != "tea" {
		t.Errorf("extras = %s", g.raw)
	}
}

// TestKeywordsLooseStrings checks that keywords are strings as loose as any other (§1.4): a
// number is written as a plain decimal and a boolean as true or false, as openapi.yaml's
// LooseString items say.
func TestKeywordsLooseStrings(t *testing.T) {
	e := mustPayEnv(t)
	a := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"kw","amount":100,
		"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}},"keywords":["a",1,true,false,2e1]}`})
	want := []any{"a", "1", "true", "false", "20"}
	if d := cmp.Diff(want, a.body["keywords"]); d != "" {
		t.Errorf("create keywords (-want +got)\n%s", d)
	}
	g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + a.str("id"))})
	if d := cmp.Diff(want, g.body["keywords"]); d != "" {
		t.Errorf("lookup keywords (-want +got)\n%s", d)
	}
}

// TestCardPaymentLists checks paging, next links and the date window.
func TestCardPaymentLists(t *testing.T) {
	e := mustPayEnv(t)
	start := e.clock.Now()
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.mustAuth(t, "page", 100+i, false))
		e.clock.Add(time.Minute)
	}
	r := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=page&limit=2&offset=1")})
	items := r.body["auths"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["id"] != ids[3] || items[1].(map[string]any)["id"] != ids[2] {
		t.Errorf("page = %s", r.raw)
	}
	next := r.body["links"].([]any)[0].(map[string]any)
	u, _ := url.Parse(next["href"].(string))
	if next["rel"] != "next" || u.Query().Get("offset") != "3" || u.Query().Get("limit") != "2" || u.Query().Get("merchantRefNum") != "page" {
		t.Errorf("next = %v", next)
	}
	// The & of the link is written plainly, as the vendor writes it, not as \u0026
	// (encoding/json's HTML escaping, needless in a body no browser reads as HTML).
	if !bytes.Contains(r.raw, []byte(`limit=2&`)) || bytes.Contains(r.raw, []byte(`\u0026`)) {
		t.Errorf("next link escaped: %s", r.raw)
	}
	if ct, sniff := r.header.Get("Content-Type"), r.header.Get("X-Content-Type-Options"); ct != "application/json" || sniff != "nosniff" {
		t.Errorf("Content-Type %q, X-Content-Type-Options %q", ct, sniff)
	}
	last := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=page&limit=2&offset=4")})
	if len(last.body["auths"].([]any)) != 1 || last.body["links"] != nil {
		t.Errorf("last page = %s", last.raw)
	}
	// startDate ≤ txnTime < endDate; Python's unencoded + (read as a space) is accepted.
	from := start.Add(time.Minute).Format("2006-01-02T15:04:05") + "+00:00"
	to := start.Add(3 * time.Minute).Format(time.RFC3339)
	w := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=page&startDate=" + from + "&endDate=" + to)})
	got := w.body["auths"].([]any)
	if len(got) != 2 || got[0].(map[string]any)["id"] != ids[2] || got[1].(map[string]any)["id"] != ids[1] {
		t.Errorf("window = %s", w.raw)
	}
	if none := e.must(t, 200, call{method: "GET", path: e.path("settlements?merchantRefNum=page")}); len(none.body["settlements"].([]any)) != 0 {
		t.Errorf("no settlements = %s", none.raw)
	}
}

// TestCardPaymentListNextLinkMasksNumbers: a merchantRefNum holding a card number (stored as
// sent) is masked in the next link payvault builds, as the Fortis list links and the access log
// mask it: payvault never writes a card number into a URL.
func TestCardPaymentListNextLinkMasksNumbers(t *testing.T) {
	e := mustPayEnv(t)
	for i := 0; i < 2; i++ {
		e.mustAuth(t, "4111111111111111", 100+i, false)
	}
	r := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=4111111111111111&limit=1")})
	next := r.body["links"].([]any)[0].(map[string]any)["href"].(string)
	u, _ := url.Parse(next)
	if leaks := logtest.Leaks(next, nil); len(leaks) > 0 || u.Query().Get("merchantRefNum") != "************1111" {
		t.Errorf("next = %s, leaks %v", next, leaks)
	}
	// An IBAN, whose digit runs may all be short, is masked as the APIs show one.
	for i := 0; i < 2; i++ {
		e.mustAuth(t, "NL91ABNA0417164300", 100+i, false)
	}
	r = e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=NL91ABNA0417164300&limit=1")})
	next = r.body["links"].([]any)[0].(map[string]any)["href"].(string)
	u, _ = url.Parse(next)
	if leaks := logtest.Leaks(next, nil); len(leaks) > 0 || u.Query().Get("merchantRefNum") != "NL91**********4300" {
		t.Errorf("next = %s, leaks %v", next, leaks)
	}
}

// TestCardPaymentListFractionalDates: the list window is startDate ≤ txnTime < endDate
// (spec §2.12) with txnTime in whole seconds, so fractional boundaries count exactly: an auth
// at …47Z is before an endDate of …47.500Z and before a startDate of …47.500Z. Whole-second
// boundaries behave as before, and a next link keeps the window.
func TestCardPaymentListFractionalDates(t *testing.T) {
	e := mustPayEnv(t)
	at := e.clock.Now() // whole seconds
	first := e.mustAuth(t, "frac", 100, false)
	e.clock.Add(time.Second)
	second := e.mustAuth(t, "frac", 101, false)
	ms := func(d time.Duration) string { return url.QueryEscape(at.Add(d).Format("2006-01-02T15:04:05.000Z")) }
	ids := func(r reply) []string {
		var out []string
		for _, x := range r.body["auths"].([]any) {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		query string
		want  []string
	}{
		{"ok/end-fraction-after", "endDate=" + ms(500*time.Millisecond), []string{first}},
		{"ok/end-fraction-before", "endDate=" + ms(-500*time.Millisecond), nil},
		{"ok/end-whole-equal", "endDate=" + ms(0), nil},
		{"ok/end-whole-after", "endDate=" + ms(time.Second), []string{first}},
		{"ok/start-fraction-after", "startDate=" + ms(500*time.Millisecond), []string{second}},
		{"ok/start-fraction-before", "startDate=" + ms(-500*time.Millisecond), []string{second, first}},
		{"ok/start-whole-equal", "startDate=" + ms(0), []string{second, first}},
		{"ok/start-whole-after", "startDate=" + ms(time.Second), []string{second}},
		{"ok/both-fraction", "startDate=" + ms(time.Millisecond) + "&endDate=" + ms(1001*time.Millisecond), []string{second}},
		{"ok/same-second-fractions", "startDate=" + ms(100*time.Millisecond) + "&endDate=" + ms(900*time.Millisecond), nil},
		{"ok/nanoseconds", "startDate=" + url.QueryEscape(at.Add(-time.Nanosecond).Format(time.RFC3339Nano)) +
			"&endDate=" + url.QueryEscape(at.Add(time.Nanosecond).Format(time.RFC3339Nano)), []string{first}},
		// The first instant of year 1 is Go's zero time, yet a bound all the same.
		{"ok/end-year-one", "endDate=0001-01-01T00:00:00Z", nil},
		{"ok/start-year-one", "startDate=0001-01-01T00:00:00Z&endDate=" + ms(time.Second), []string{first}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=frac&" + tt.query)})
			if d := cmp.Diff(tt.want, ids(r)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
	t.Run("ok/next-link-keeps-window", func(t *testing.T) {
		e.clock.Add(time.Second)
		e.mustAuth(t, "frac", 102, false) // at+2s, outside the window
		r := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=frac&limit=1&startDate=" + ms(-500*time.Millisecond) + "&endDate=" + ms(1500*time.Millisecond))})
		if d := cmp.Diff([]string{second}, ids(r)); d != "" {
			t.Fatalf("first page (-want +got)\n%s", d)
		}
		u, err := url.Parse(r.body["links"].([]any)[0].(map[string]any)["href"].(string))
		if err != nil {
			t.Fatal(err)
		}
		n := e.must(t, 200, call{method: "GET", path: u.RequestURI()})
		if d := cmp.Diff([]string{first}, ids(n)); d != "" {
			t.Errorf("next page (-want +got)\n%s", d)
		}
		if n.body["links"] != nil {
			t.Errorf("a last page with a next link: %s", n.raw)
		}
	})
}

// heldProcessor holds every processor call until release is closed, as a slow processor
// would; entered receives the id of each transaction whose call has started.
type heldProcessor struct {
	payments.Processor
	entered chan string
	release chan struct{}
}

func (h *heldProcessor) Process(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
	h.entered <- r.TransactionID
	<-h.release
	return h.Processor.Process(ctx, r)
}

// TestInFlightAuth shows the README's deliberate difference: an auth whose processor call has
// not returned reads as RECEIVED through GET and lists (spec line 604 says RECEIVED is never
// produced), and settling or voiding it meanwhile is 402/3203; once the call returns it is
// COMPLETED under the same id and can be settled.
func TestInFlightAuth(t *testing.T) {
	held := &heldProcessor{entered: make(chan string, 1), release: make(chan struct{})}
	e := mustPayEnv(t, func(p payments.Processor) payments.Processor { held.Processor = p; return held })
	done := make(chan reply, 1)
	go func() {
		done <- e.do(t, call{method: "POST", path: e.path("auths"),
			body: `{"merchantRefNum":"in-flight","amount":100,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
	}()
	id := <-held.entered
	released := false
	defer func() {
		if !released {
			close(held.release)
			<-done
		}
	}()

	l := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=in-flight")})
	items := l.body["auths"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != id || items[0].(map[string]any)["status"] != "RECEIVED" {
		t.Errorf("list while in flight = %s", l.raw)
	}
	if g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + id)}); g.str("status") != "RECEIVED" {
		t.Errorf("GET while in flight = %s", g.raw)
	}
	for _, tt := range []struct{ name, path string }{
		{"fail/settle-in-flight", "auths/" + id + "/settlements"},
		{"fail/void-in-flight", "auths/" + id + "/voidauths"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, call{method: "POST", path: e.path(tt.path), body: `{"merchantRefNum":"in-flight-follow-up"}`})
			if r.status != 402 || r.code() != "3203" {
				t.Errorf("got %d %q, want 402 3203: %s", r.status, r.code(), r.raw)
			}
		})
	}

	close(held.release)
	released = true
	if r := <-done; r.status != 200 || r.str("id") != id || r.str("status") != "COMPLETED" {
		t.Fatalf("auth after release = %d %s", r.status, r.raw)
	}
	if g := e.must(t, 200, call{method: "GET", path: e.path("auths/" + id)}); g.str("status") != "COMPLETED" {
		t.Errorf("GET after completion = %s", g.raw)
	}
	e.must(t, 200, call{method: "POST", path: e.path("auths/" + id + "/settlements"), body: `{"merchantRefNum":"after"}`})
}

// TestCardPaymentIdempotency: a repeated POST with the same Idempotency-Key runs once and gets
// the first answer; the key with another body is 409/5031.
func TestCardPaymentIdempotency(t *testing.T) {
	e := mustPayEnv(t)
	key := map[string]string{"Idempotency-Key": "order-42"}
	body := `{"merchantRefNum":"idem","amount":100,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`
	first := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: body, header: key})
	again := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: body, header: key})
	if again.str("id") != first.str("id") || again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("X-Applicationuid") != "GUID="+first.str("id") {
		t.Errorf("replay = %s %v", again.raw, again.header)
	}
	l := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=idem")})
	if n := len(l.body["auths"].([]any)); n != 1 {
		t.Errorf("%d auths after a replay, want 1", n)
	}
	c := e.must(t, 409, call{method: "POST", path: e.path("auths"), body: strings.Replace(body, "100", "101", 1), header: key})
	if c.code() != "5031" || !strings.Contains(string(c.raw), "The Idempotency-Key was already used with a different request.") {
		t.Errorf("conflict = %s", c.raw)
	}
	// Declines replay too; another merchant's same key is its own.
	d1 := e.must(t, 402, call{method: "POST", path: e.path("auths"), body: strings.Replace(body, "100", "5", 1), header: map[string]string{"Idempotency-Key": "decline"}})
	d2 := e.must(t, 402, call{method: "POST", path: e.path("auths"), body: strings.Replace(body, "100", "5", 1), header: map[string]string{"Idempotency-Key": "decline"}})
	if d1.str("id") != d2.str("id") {
		t.Errorf("declines not replayed: %s / %s", d1.raw, d2.raw)
	}
	// The single-use-token key is public (it sits in web pages): its keys are apart from the
	// server key's, so neither replays an answer stored for the other.
	tkey := map[string]string{"Idempotency-Key": "shared-key"}
	tbody := `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`
	ps := e.creds.Paysafe
	pub := e.must(t, 200, call{method: "POST", path: "/customervault/v1/singleusetokens", body: tbody, header: tkey, user: ps.SingleUseKeyID, pass: ps.SingleUseKeySecret})
	srv := e.must(t, 200, call{method: "POST", path: "/customervault/v1/singleusetokens", body: tbody, header: tkey})
	if pub.str("paymentToken") == srv.str("paymentToken") || srv.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("the server key replayed the public key's answer: %s %v", srv.raw, srv.header)
	}
	if again := e.must(t, 200, call{method: "POST", path: "/customervault/v1/singleusetokens", body: tbody, header: tkey, user: ps.SingleUseKeyID, pass: ps.SingleUseKeySecret}); again.str("paymentToken") != pub.str("paymentToken") {
		t.Errorf("the public key's own retry was not replayed: %s", again.raw)
	}
	// Vault POSTs honour the header as well; the key is per merchant and API, and bound to
	// the path: order-42 on another route is a different request.
	pkey := map[string]string{"Idempotency-Key": "profile-1"}
	pbody := `{"merchantCustomerId":"idem","locale":"en_US"}`
	p1 := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles", body: pbody, header: pkey})
	p2 := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles", body: pbody, header: pkey})
	if p1.str("id") == "" || p2.str("id") != p1.str("id") || p2.header.Get("Location") != p1.header.Get("Location") {
		t.Errorf("profile replay = %s / %s", p1.raw, p2.raw)
	}
	if r := e.must(t, 409, call{method: "POST", path: "/customervault/v1/profiles", body: pbody, header: key}); r.code() != "5031" {
		t.Errorf("key reused on another route = %s", r.raw)
	}
	other := e.MustMerchant(t, false)
	e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles", body: pbody, header: pkey,
		user: other.Paysafe.APIKeyID, pass: other.Paysafe.APIKeySecret})
}

// TestLiveMerchantWithoutProcessor: 5040.
func TestLiveMerchantWithoutProcessor(t *testing.T) {
	e := mustPayEnv(t)
	live := e.MustMerchant(t, true)
	r := e.must(t, 400, call{method: "POST", path: "/cardpayments/v1/accounts/" + live.Paysafe.AccountNumber + "/auths",
		user: live.Paysafe.APIKeyID, pass: live.Paysafe.APIKeySecret,
		body: `{"merchantRefNum":"l","amount":100,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
	if r.code() != "5040" || r.str("id") == "" {
		t.Errorf("live merchant = %s", r.raw)
	}
}

// queriedProcessor is a processor that can be asked again what became of a transaction
// (payments.Querier): it approved every one it saw.
type queriedProcessor struct{ payments.Processor }

func (q queriedProcessor) Query(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
	return &payments.Outcome{Decision: payments.Approved, AuthCode: "654321"}, nil
}

// TestAuthInFlightKept: an auth whose processor call was made but whose outcome could not be
// recorded (the database went away during the call) answers 503, and that answer is kept: a
// retry with its Idempotency-Key replays it instead of reaching the processor again. Once
// recovery has completed the auth, a retry gets the auth's own answer, the one its request
// would have had, and keeps getting that one.
func TestAuthInFlightKept(t *testing.T) {
	var down atomic.Bool
	var calls atomic.Int32
	e := mustPayEnvOver(t, func(s storetest.Store) payments.Store { return storetest.DownStore{Store: s, Down: &down} },
		func(p payments.Processor) payments.Processor {
			return queriedProcessor{payments.ProcessorFunc(func(ctx context.Context, r *payments.Request) (*payments.Outcome, error) {
				calls.Add(1)
				out, err := p.Process(ctx, r)
				down.Store(true) // the database goes away while the processor answers
				return out, err
			})}
		})
	body := `{"merchantRefNum":"inflight-1","amount":500,"settleWithAuth":true,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`
	key := map[string]string{"Idempotency-Key": "k-inflight"}
	first := e.do(t, call{method: "POST", path: e.path("auths"), body: body, header: key})
	down.Store(false)
	again := e.do(t, call{method: "POST", path: e.path("auths"), body: body, header: key})
	if first.status != 503 || again.status != 503 || again.header.Get("Idempotent-Replayed") != "true" || calls.Load() != 1 {
		t.Errorf("first %d, retry %d (replayed %q), %d processor calls; want 503 kept and replayed, one call",
			first.status, again.status, again.header.Get("Idempotent-Replayed"), calls.Load())
	}
	if string(again.raw) != string(first.raw) {
		t.Errorf("replay while in flight = %s, want %s", again.raw, first.raw)
	}

	e.clock.Add(10 * time.Minute) // past the processor timeout: recovery asks the processor
	if n, err := e.ps.Recover(t.Context()); err != nil || n != 1 {
		t.Fatalf("recover = %d, %v", n, err)
	}
	l := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=inflight-1")})
	id := l.body["auths"].([]any)[0].(map[string]any)["id"].(string)
	if first.header.Get("X-Applicationuid") != "GUID="+id || again.header.Get("X-Applicationuid") != "GUID="+id {
		t.Errorf("the in-flight 503 does not name its auth: %q, replayed %q, want GUID=%s",
			first.header.Get("X-Applicationuid"), again.header.Get("X-Applicationuid"), id)
	}
	done := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: body, header: key})
	if done.str("id") != id || done.str("status") != "COMPLETED" || done.header.Get("Idempotent-Replayed") != "true" ||
		done.header.Get("X-Applicationuid") != "GUID="+id || done.header.Get("X-Application-Status-Code") != "" {
		t.Errorf("retry once recovered = %s %v", done.raw, done.header)
	}
	if st, _ := done.body["settlements"].([]any); len(st) != 1 {
		t.Errorf("retry once recovered shows settlements %v, want the settlement made with the auth", done.body["settlements"])
	}
	// The answer is kept: a later retry gets it as it was, whatever became of the auth since.
	e.must(t, 200, call{method: "PUT", path: e.path("settlements/" + id), body: `{"status":"CANCELLED"}`})
	later := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: body, header: key})
	if string(later.raw) != string(done.raw) || calls.Load() != 1 {
		t.Errorf("later retry = %s, want %s; %d processor calls", later.raw, done.raw, calls.Load())
	}
}

// TestAuthKeyBoundAcrossNodeDeath: an auth binds its Idempotency-Key to itself in the write
// that records it before the processor call. Were its node to die during the call (here: the
// call never returns and the key goes stale), a retry with the key never reaches the processor
// again: it is 409/5031 while the auth is open, and once recovery has completed it, the auth's
// own answer, kept for later retries.
func TestAuthKeyBoundAcrossNodeDeath(t *testing.T) {
	held := &heldProcessor{entered: make(chan string, 2), release: make(chan struct{})}
	e := mustPayEnv(t, func(p payments.Processor) payments.Processor { held.Processor = p; return queriedProcessor{held} })
	body := `{"merchantRefNum":"dead-node","amount":500,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`
	key := map[string]string{"Idempotency-Key": "k-dead-node"}
	first := make(chan reply, 1)
	go func() { first <- e.do(t, call{method: "POST", path: e.path("auths"), body: body, header: key}) }()
	id := <-held.entered
	defer func() { close(held.release); <-first }()

	e.clock.Add(6 * time.Minute) // the key is stale: its node is presumed dead
	r := e.do(t, call{method: "POST", path: e.path("auths"), body: body, header: key})
	if r.status != 409 || r.code() != "5031" || !strings.Contains(string(r.raw), "still being processed") {
		t.Errorf("retry while the auth is open = %d %s", r.status, r.raw)
	}
	e.clock.Add(10 * time.Minute) // past the processor timeout: recovery asks the processor
	if n, err := e.ps.Recover(t.Context()); err != nil || n != 1 {
		t.Fatalf("recover = %d, %v", n, err)
	}
	done := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: body, header: key})
	if done.str("id") != id || done.str("status") != "COMPLETED" || done.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry once recovered = %s %v", done.raw, done.header)
	}
	again := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: body, header: key})
	if string(again.raw) != string(done.raw) {
		t.Errorf("later retry = %s, want %s", again.raw, done.raw)
	}
	select {
	case id2 := <-held.entered:
		t.Errorf("the processor was called again (%s)", id2)
	default:
	}
}

// TestRawCardPaymentBrands pays with a raw card of every §3 brand: each is approved and its
// card.type is the §3 code. A Solo number (SO, 6334/6767), which the vault stores, was refused
// with 3002 because the core checked it against its own brand table, which has no Solo row.
func TestRawCardPaymentBrands(t *testing.T) {
	e := mustPayEnv(t)
	for _, c := range []struct{ pan, typ string }{
		{"4111111111111111", "VI"}, {"4917484589897107", "VE"}, {"4462000000000003", "VD"},
		{"5200400000000009", "MC"}, {"501800000009", "MD"}, {"378282246310005", "AM"},
		{"6011111111111117", "DI"}, {"36000000000008", "DC"}, {"3569990000000009", "JC"},
		{"6767000000000000", "SO"}, {"633400000000000004", "SO"},
	} {
		for _, ty := range []string{"auths", "verifications"} {
			r := e.must(t, 200, call{method: "POST", path: e.path(ty),
				body: `{"merchantRefNum":"brand","amount":100,"card":{"cardNum":"` + c.pan + `","cardExpiry":{"month":12,"year":2050}}}`})
			if got := r.body["card"].(map[string]any)["type"]; got != c.typ {
				t.Errorf("%s %s: card.type %v, want %s", ty, c.pan[:6], got, c.typ)
			}
		}
	}
}

// TestConfiguredDescriptorAndListLimits: §1.10's merchantDescriptor, listLimitDefault and
// listLimitMax are settings. A transaction whose request sends no descriptor shows the
// configured one, kept with it; a request's own wins; lists page by the configured limits.
func TestConfiguredDescriptorAndListLimits(t *testing.T) {
	payConfig = func(c *paysafe.Config) {
		c.DescriptorName, c.DescriptorPhone, c.ListLimitDefault, c.ListLimitMax = "ACME Shop", "555-0100", 2, 3
	}
	t.Cleanup(func() { payConfig = nil })
	e := mustPayEnv(t)
	body := `{"merchantRefNum":"cfg","amount":100,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`
	want := map[string]any{"dynamicDescriptor": "ACME Shop", "phone": "555-0100"}
	for range 4 {
		a := e.must(t, 200, call{method: "POST", path: e.path("auths"), body: body})
		if d := cmp.Diff(want, a.body["merchantDescriptor"]); d != "" {
			t.Errorf("auth's merchantDescriptor (-want +got)\n%s", d)
		}
		stored, err := e.store.GetTransaction(t.Context(), e.creds.MerchantID, a.str("id"))
		if err != nil || !strings.Contains(string(stored.Extras), `"ACME Shop"`) {
			t.Errorf("the descriptor is not kept with the auth: %s, %v", stored.Extras, err)
		}
	}
	own := e.must(t, 200, call{method: "POST", path: e.path("verifications"),
		body: `{"merchantRefNum":"own","merchantDescriptor":{"dynamicDescriptor":"Mine"},"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
	if d := cmp.Diff(want, own.body["merchantDescriptor"]); d != "" {
		t.Errorf("a verification shows the configured descriptor (it takes none): (-want +got)\n%s", d)
	}
	for _, tt := range []struct {
		query string
		n     int
		next  string
	}{
		{"", 2, "limit=2&merchantRefNum=cfg&offset=2"},
		{"&limit=10", 3, "limit=3&merchantRefNum=cfg&offset=3"},
		{"&limit=3&offset=3", 1, ""},
	} {
		l := e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=cfg" + tt.query)})
		next := ""
		if links, _ := l.body["links"].([]any); len(links) == 1 {
			next = links[0].(map[string]any)["href"].(string)
		}
		if n := len(l.body["auths"].([]any)); n != tt.n || !strings.HasSuffix(next, tt.next) || (tt.next == "") != (next == "") {
			t.Errorf("list%s: %d auths, next %q; want %d, …%s", tt.query, n, next, tt.n, tt.next)
		}
	}
}

// TestRefusalUnrecordedIsUnavailable: a payment refused before the processor (an expired
// card) is recorded as a FAILED transaction; when the database cannot take that record, the
// answer is the outage's 503 with Retry-After, not a 500, and a retry once it is back gets the
// refusal, recorded.
func TestRefusalUnrecordedIsUnavailable(t *testing.T) {
	var down atomic.Bool
	e := mustPayEnvOver(t, func(s storetest.Store) payments.Store { return storetest.DownStore{Store: s, Down: &down} })
	c := call{method: "POST", path: e.path("auths"), header: map[string]string{"Idempotency-Key": "k-refused"},
		body: `{"merchantRefNum":"refused-1","amount":500,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2020}}}`}
	down.Store(true)
	first := e.do(t, c)
	if first.status != 503 || first.code() != "1000" || first.header.Get("Retry-After") == "" {
		t.Errorf("with the database down: %d %s %v; want 503/1000 with Retry-After", first.status, first.raw, first.header)
	}
	down.Store(false)
	again := e.do(t, c)
	if again.status != 400 || again.code() != "3006" || again.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("retry = %d %s; want the refusal 400/3006, not a replay", again.status, again.raw)
	}
	e.must(t, 200, call{method: "GET", path: e.path("auths?merchantRefNum=refused-1")})
}

// TestAmountOutOfRange: an amount past the 1–99999999 range of §3 gets that range's error
// however large it is: past 2^53, past int64, written with a zero fraction or an exponent,
// or as a string. Verifications have no amount (§2.17), and ignore one.
func TestAmountOutOfRange(t *testing.T) {
	e := mustPayEnv(t)
	open := e.mustAuth(t, "range-open", 1000, false)
	settled := e.mustAuth(t, "range-settled", 1000, true)
	const high, low = "must be less than or equal to 99999999", "must be greater than or equal to 1"
	amounts := []struct{ name, amount, want string }{
		{"fail/past-2^53", `9007199254740993`, high},
		{"fail/past-2^53-zero-fraction", `9007199254740993.0`, high},
		{"fail/exponent", `1e16`, high},
		{"fail/past-int64", `99999999999999999999`, high},
		{"fail/past-int64-string", `"99999999999999999999"`, high},
		{"fail/past-int64-zero-fraction", `99999999999999999999.00`, high},
		{"fail/past-int64-negative", `-99999999999999999999`, low},
		{"fail/past-2^53-negative", `-9007199254740993.0`, low},
		{"fail/past-int64-negative-string", `"-99999999999999999999"`, low},
	}
	paths := []struct{ name, path, body string }{
		{"auth", "auths", `,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}`},
		{"settlement", "auths/" + open + "/settlements", ""},
		{"voidauth", "auths/" + open + "/voidauths", ""},
		{"refund", "settlements/" + settled + "/refunds", ""},
	}
	for _, p := range paths {
		for _, a := range amounts {
			t.Run(p.name+"/"+a.name, func(t *testing.T) {
				r := e.must(t, 400, call{method: "POST", path: e.path(p.path), loose: true,
					body: `{"merchantRefNum":"range","amount":` + a.amount + p.body + `}`})
				var body struct {
					Error struct {
						Code        string       `json:"code"`
						FieldErrors []fieldError `json:"fieldErrors"`
					} `json:"error"`
				}
				json.Unmarshal(r.raw, &body)
				if d := cmp.Diff([]any{"5068", []fieldError{{"amount", a.want}}}, []any{body.Error.Code, body.Error.FieldErrors}); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			})
		}
	}
	t.Run("ok/verification-ignores-amount", func(t *testing.T) {
		e.must(t, 200, call{method: "POST", path: e.path("verifications"), loose: true,
			body: `{"merchantRefNum":"range","amount":99999999999999999999,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
	})
}

// TestPaymentAnswerNeedsNoLaterRead: every card-payment POST and PUT answers from its own
// writes, never from a read after its last commit, so a database going away right after it
// cannot turn a recorded payment into a 5xx (which a client takes for a failed charge). The
// follow-ups' and cancels' answers are what a later GET shows.
func TestPaymentAnswerNeedsNoLaterRead(t *testing.T) {
	var st *storetest.GoneAfterCommit
	e := mustPayEnvOver(t, func(s storetest.Store) payments.Store { st = &storetest.GoneAfterCommit{Store: s}; return st })
	cardToken, profileToken := e.mustVaultCard(t, "gone-pay", "4111111111111111", 12, 2050)
	auth := e.mustAuth(t, "gone-a", 1000, false)
	voidable := e.mustAuth(t, "gone-v", 1000, false)
	settled := e.must(t, 200, call{method: "POST", path: e.path("auths/" + auth + "/settlements"), body: `{"merchantRefNum":"gone-s0","amount":300}`}).str("id")
	pending := e.must(t, 200, call{method: "POST", path: e.path("auths/" + auth + "/settlements"), body: `{"merchantRefNum":"gone-s1","amount":100}`}).str("id")
	refund := e.must(t, 200, call{method: "POST", path: e.path("settlements/" + settled + "/refunds"), body: `{"merchantRefNum":"gone-r0","amount":50}`}).str("id")
	raw := `"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}`
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		get                      string // get is the GET whose answer the request's must equal ("" for none; "+id" is the new transaction's under get's prefix).
	}{
		{"ok/auth", "POST", e.path("auths"), `{"merchantRefNum":"g1","amount":100,` + raw + `}`, 200, ""},
		{"ok/auth-settle-with-auth", "POST", e.path("auths"), `{"merchantRefNum":"g2","amount":100,"settleWithAuth":true,` + raw + `}`, 200, ""},
		{"ok/auth-card-token", "POST", e.path("auths"), `{"merchantRefNum":"g3","amount":100,"card":{"paymentToken":"` + cardToken + `"}}`, 200, ""},
		{"ok/auth-profile-token", "POST", e.path("auths"), `{"merchantRefNum":"g4","amount":100,"card":{"paymentToken":"` + profileToken + `"}}`, 200, ""},
		{"ok/verification", "POST", e.path("verifications"), `{"merchantRefNum":"g5","card":{"paymentToken":"` + cardToken + `"}}`, 200, ""},
		{"ok/settlement", "POST", e.path("auths/" + auth + "/settlements"), `{"merchantRefNum":"g6","amount":100}`, 200, "settlements/+id"},
		{"ok/voidauth", "POST", e.path("auths/" + voidable + "/voidauths"), `{"merchantRefNum":"g7","amount":100}`, 200, "voidauths/+id"},
		{"ok/refund", "POST", e.path("settlements/" + settled + "/refunds"), `{"merchantRefNum":"g8","amount":50}`, 200, "refunds/+id"},
		{"ok/settlement-cancel", "PUT", e.path("settlements/" + pending), `{"status":"CANCELLED"}`, 200, "settlements/" + pending},
		{"ok/refund-cancel", "PUT", e.path("refunds/" + refund), `{"status":"CANCELLED"}`, 200, "refunds/" + refund},
		{"fail/recorded-refusal", "POST", e.path("auths/" + auth + "/settlements"), `{"merchantRefNum":"g9","amount":100000}`, 402, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r reply
			st.Armed(t, func() { r = e.do(t, call{method: tt.method, path: tt.path, body: tt.body}) })
			if r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if tt.get == "" {
				return
			}
			get := strings.Replace(tt.get, "+id", r.str("id"), 1)
			if d := cmp.Diff(r.body, e.must(t, 200, call{method: "GET", path: e.path(get)}).body); d != "" {
				t.Errorf("answer and stored transaction differ (-answer +GET)\n%s", d)
			}
		})
	}
}

// TestSettleWithAuthAnswerAfterLostCommit: an auth with settleWithAuth whose completion's
// COMMIT answer was lost (the core tries again and finds it completed) answers 200 with its
// settlement, as the core returns it. The answer read the settlement after the commit, so a
// database going away then answered 503 for a stored, settled charge.
func TestSettleWithAuthAnswerAfterLostCommit(t *testing.T) {
	var st *storetest.GoneAfterCommit
	e := mustPayEnvRetry(t, func(s storetest.Store) payments.Store { st = &storetest.GoneAfterCommit{Store: s}; return st }, 5*time.Second)
	st.LoseCommit(2) // the first write records the auth RECEIVED, the second completes it
	var r reply
	st.Armed(t, func() {
		r = e.do(t, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"lost-1","amount":700,"settleWithAuth":true,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`})
	})
	if r.status != 200 || r.body["status"] != "COMPLETED" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	sts, _ := r.body["settlements"].([]any)
	if len(sts) != 1 {
		t.Fatalf("settlements %v, want the one made on approval", r.body["settlements"])
	}
	if d := cmp.Diff(sts[0], any(e.must(t, 200, call{method: "GET", path: e.path("settlements/" + r.str("id"))}).body)); d != "" {
		t.Errorf("answer's settlement and stored one differ (-answer +GET)\n%s", d)
	}
}
