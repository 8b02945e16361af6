package hosted_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// openShop opens a merchant page on its own origin that mounts the fields with opts, and
// returns the fields' frame once they are ready.
func openShop(t *testing.T, ctx context.Context, s *vaultServer, opts map[string]any) *chromedp.Node {
	t.Helper()
	shop := MustShop(t, s.URL, opts)
	if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL)); err != nil {
		t.Fatal(err)
	}
	return MustFrame(t, ctx)
}

// paysafeOptions mounts card fields in Paysafe mode with the sandbox's single-use key.
// mustPaysafeShopWithCard opens a tab on the merchant page with Paysafe fields of a fresh
// vault, the test card typed in.
func mustPaysafeShopWithCard(t *testing.T) context.Context {
	t.Helper()
	s := MustVault(t, false)
	ctx := MustTab(t)
	typeCard(t, ctx, openShop(t, ctx, s, paysafeOptions(s, nil)))
	return ctx
}

// typeCard types a Visa test card, a future expiry and its CVV into the card fields in frame.
func typeCard(t *testing.T, ctx context.Context, frame *chromedp.Node) {
	t.Helper()
	exp, _, _ := futureExpiry()
	MustType(t, ctx, frame, "#pv-number", panVisa)
	MustType(t, ctx, frame, "#pv-expiry", exp)
	MustType(t, ctx, frame, "#pv-cvv", cvvTest)
}

func paysafeOptions(s *vaultServer, extra map[string]any) map[string]any {
	o := map[string]any{"paysafe": map[string]string{"keyId": s.Creds.Paysafe.SingleUseKeyID, "secret": s.Creds.Paysafe.SingleUseKeySecret}}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// tokenize runs shop.tokenize() in the merchant page.
func tokenize(t *testing.T, ctx context.Context) tokenizeResult {
	t.Helper()
	return MustEval[tokenizeResult](t, ctx, `shop.tokenize()`)
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// TestPaysafeTokenVaulted types a card into fields mounted by a merchant page in Paysafe
// mode: the page gets a single-use token and masked data only, and the merchant's server
// vaults the token into a profile through the Paysafe API.
func TestPaysafeTokenVaulted(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	ctx := MustTab(t)
	rec := MustRecord(t, ctx)
	frame := openShop(t, ctx, s, paysafeOptions(s, map[string]any{"holderName": true, "postalCode": true}))
	exp, month, year := futureExpiry()
	MustType(t, ctx, frame, "#pv-number", panVisa)
	if got := frameText(t, ctx, frame, "#pv-number-brand"); got != "Visa" {
		t.Errorf("brand shown = %q, want Visa", got)
	}
	MustType(t, ctx, frame, "#pv-expiry", exp)
	MustType(t, ctx, frame, "#pv-cvv", cvvTest)
	MustType(t, ctx, frame, "#pv-name", "Ada Lovelace")
	MustType(t, ctx, frame, "#pv-postal", "10001")
	res := tokenize(t, ctx)
	if !res.OK || !strings.HasPrefix(res.Result.Token, "SC") {
		t.Fatalf("tokenize = %+v, want an SC… token", res)
	}
	type masked struct {
		Brand, LastFour   string
		ExpMonth, ExpYear int
	}
	c := res.Result.Card
	if d := cmp.Diff(masked{"visa", "1111", month, year}, masked{c.Brand, c.LastFour, c.ExpMonth, c.ExpYear}); d != "" {
		t.Errorf("masked card (-want +got)\n%s", d)
	}
	if got := MustEval[string](t, ctx, `shop.states.map((s) => s.brand).filter(Boolean)[0] || ''`); got != "visa" {
		t.Errorf("onChange brand = %q, want visa", got)
	}
	// The merchant's server vaults the token.
	p := s.Creds.Paysafe
	status, body := doJSON(t, http.MethodPost, s.URL+"/customervault/v1/profiles", map[string]string{"Authorization": basicAuth(p.APIKeyID, p.APIKeySecret)},
		map[string]any{"merchantCustomerId": "hosted-1", "locale": "en_US", "card": map[string]any{"singleUseToken": res.Result.Token}})
	if status/100 != 2 {
		t.Fatalf("vault the token: %d %v", status, body)
	}
	cards, _ := body["cards"].([]any)
	if len(cards) != 1 || cards[0].(map[string]any)["lastDigits"] != "1111" {
		t.Errorf("profile cards = %v, want the card ending 1111", body["cards"])
	}
	// The token was used once.
	status, _ = doJSON(t, http.MethodPost, s.URL+"/customervault/v1/profiles", map[string]string{"Authorization": basicAuth(p.APIKeyID, p.APIKeySecret)},
		map[string]any{"merchantCustomerId": "hosted-2", "locale": "en_US", "card": map[string]any{"singleUseToken": res.Result.Token}})
	if status/100 == 2 {
		t.Error("the single-use token was accepted twice")
	}
	msgs := rec.Messages()
	if !containsAll(msgs, "payvault:ready", "payvault:config", "payvault:change", "payvault:tokenize", "payvault:result") {
		t.Errorf("the recorder missed messages: %v", msgs)
	}
	rec.CheckNoPAN(t, panVisa)
	// The iframe URL names the single-use key by its id; the secret goes by postMessage.
	for _, q := range rec.Requests("") {
		if strings.Contains(q.URL, s.Creds.Paysafe.SingleUseKeySecret) {
			t.Errorf("the single-use key secret is in the URL of a %s request", q.Method)
		}
	}
	// The token request came from the fields' page on payvault's origin, not from the shop.
	docs := rec.Documents(s.URL + "/customervault/v1/singleusetokens")
	if len(docs) != 1 || !strings.HasPrefix(docs[0], s.URL+"/hosted/v1/fields/card?") {
		t.Errorf("token requests made by %q, want one by the fields' page", docs)
	}
}

func containsAll(msgs []string, types ...string) bool {
	all := strings.Join(msgs, "\n")
	for _, ty := range types {
		if !strings.Contains(all, `"type":"`+ty+`"`) {
			return false
		}
	}
	return true
}

// TestFortisTicketVaulted types a card into fields mounted in Fortis mode with the browser
// HMAC the merchant's server computed: the page gets a card ticket, which the server vaults
// through the Fortis API.
func TestFortisTicketVaulted(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	ctx := MustTab(t)
	rec := MustRecord(t, ctx)
	frame := openShop(t, ctx, s, map[string]any{"fortis": s.fortisCredentials(t), "postalCode": true})
	exp, month, year := futureExpiry()
	MustType(t, ctx, frame, "#pv-number", panVisa)
	MustType(t, ctx, frame, "#pv-expiry", exp)
	MustType(t, ctx, frame, "#pv-cvv", cvvTest)
	MustType(t, ctx, frame, "#pv-postal", "32606")
	res := tokenize(t, ctx)
	if !res.OK || res.Result.Token == "" {
		t.Fatalf("tokenize = %+v, want a ticket", res)
	}
	if c := res.Result.Card; c.LastFour != "1111" || c.ExpMonth != month || c.ExpYear != year || c.Brand != "visa" {
		t.Errorf("masked card = %+v", c)
	}
	f := s.Creds.Fortis
	status, body := doJSON(t, http.MethodPost, s.URL+"/v2/accountvaults",
		map[string]string{"developer-id": f.DeveloperID, "user-id": f.UserID, "user-api-key": f.UserAPIKey},
		map[string]any{"accountvault": map[string]any{"location_id": f.LocationID, "payment_method": "cc", "ticket": res.Result.Token}})
	if status != http.StatusCreated {
		t.Fatalf("vault the ticket: %d %v", status, body)
	}
	av, _ := body["accountvault"].(map[string]any)
	if av["last_four"] != "1111" || av["billing_zip"] != "32606" {
		t.Errorf("account vault = %v", av)
	}
	docs := rec.Documents(s.URL + "/v2/cardtickets")
	if len(docs) != 1 || !strings.HasPrefix(docs[0], s.URL+"/hosted/v1/fields/card?") {
		t.Errorf("ticket requests made by %q, want one by the fields' page", docs)
	}
	rec.CheckNoPAN(t, panVisa)
}

// TestShopRefusedInBrowser shows a merchant page's tokenize refused in the browser, with the
// field to fix, and no request to payvault's APIs.
func TestShopRefusedInBrowser(t *testing.T) {
	t.Parallel()
	exp, _, _ := futureExpiry()
	tests := []struct {
		name   string
		pan    string
		expiry string
		cvv    string
		field  string
		msg    string
	}{
		{"fail/luhn", panBadLuhn, exp, cvvTest, "number", "The card number is not valid."},
		{"fail/expired", panVisa, "12/21", cvvTest, "expiry", "The card has expired."},
		{"fail/amex-needs-4-digit-cvv", panAmex, exp, cvvTest, "cvv", "Enter the 4-digit security code."},
		{"fail/unknown-brand", "9999999999999995", exp, cvvTest, "number", "This card type is not accepted."},
	}
	s := MustVault(t, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := MustTab(t)
			rec := MustRecord(t, ctx)
			frame := openShop(t, ctx, s, paysafeOptions(s, nil))
			MustType(t, ctx, frame, "#pv-number", tt.pan)
			MustType(t, ctx, frame, "#pv-expiry", tt.expiry)
			MustType(t, ctx, frame, "#pv-cvv", tt.cvv)
			before := len(rec.Requests(""))
			res := tokenize(t, ctx)
			if d := cmp.Diff(tokenizeResult{Code: "invalid", Fields: []string{tt.field}}, res); d != "" {
				t.Errorf("tokenize (-want +got)\n%s", d)
			}
			if got := frameText(t, ctx, frame, "#pv-"+tt.field+"-error"); got != tt.msg {
				t.Errorf("inline error = %q, want %q", got, tt.msg)
			}
			time.Sleep(200 * time.Millisecond)
			for _, q := range rec.Requests("")[before:] {
				if !strings.HasSuffix(q.URL, "/favicon.ico") {
					t.Errorf("network call: %s %s", q.Method, q.URL)
				}
			}
			rec.CheckNoPAN(t, tt.pan)
		})
	}
}

// TestShopNameWithCardNumberRefused: a card number typed into the name field passes the
// browser's checks, and the vault refuses it (vault.ErrCardNumber): tokenize names the name
// field to fix, and neither number reaches the merchant page.
func TestShopNameWithCardNumberRefused(t *testing.T) {
	t.Parallel()
	const namePAN = "5555 5555 5555 4444"
	s := MustVault(t, false)
	ctx := MustTab(t)
	rec := MustRecord(t, ctx)
	frame := openShop(t, ctx, s, paysafeOptions(s, map[string]any{"holderName": true}))
	typeCard(t, ctx, frame)
	MustType(t, ctx, frame, "#pv-name", "Ada "+namePAN)
	res := tokenize(t, ctx)
	if d := cmp.Diff(tokenizeResult{Code: "invalid", Fields: []string{"name"}}, res); d != "" {
		t.Errorf("tokenize (-want +got)\n%s", d)
	}
	rec.CheckNoPAN(t, panVisa, strings.ReplaceAll(namePAN, " ", ""))
}

// TestBrandAsYouType shows the brand as the first digits are typed, in the field and to the
// merchant page, and the number grouped as the brand prints it.
func TestBrandAsYouType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typed, label, brand, shown string
	}{
		{"4", "Visa", "visa", "4"},
		{"3782", "American Express", "amex", "3782"},
		{"378282246310005", "American Express", "amex", "3782 822463 10005"},
		{"5555555555554444", "Mastercard", "mastercard", "5555 5555 5555 4444"},
		{"6011", "Discover", "discover", "6011"},
		{"9", "", "", "9"},
	}
	s := MustVault(t, false)
	ctx := MustTab(t)
	frame := openShop(t, ctx, s, paysafeOptions(s, nil))
	for _, tt := range tests {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#pv-number"), "", chromedp.FromNode(frame))); err != nil {
			t.Fatal(err)
		}
		MustType(t, ctx, frame, "#pv-number", tt.typed)
		if got := frameText(t, ctx, frame, "#pv-number-brand"); got != tt.label {
			t.Errorf("%s: brand label = %q, want %q", tt.typed, got, tt.label)
		}
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#pv-number"), chromedp.FromNode(frame)))
		if err != nil {
			t.Fatal(err)
		}
		if v != tt.shown {
			t.Errorf("%s: field shows %q, want %q", tt.typed, v, tt.shown)
		}
		got := MustPoll[string](t, ctx, fmt.Sprintf(`(shop.fields.state.brand === %q) && 'ok'`, tt.brand), 5*time.Second)
		if got != "ok" {
			t.Errorf("%s: page state brand != %q", tt.typed, tt.brand)
		}
	}
}

// TestDestroyRejectsTokenize shows that fields.destroy() settles every tokenize of the form
// it removes: one called just before it, one called after it, and one on a form destroyed
// before it was ready all reject with code destroyed instead of waiting forever.
func TestDestroyRejectsTokenize(t *testing.T) {
	t.Parallel()
	ctx := mustPaysafeShopWithCard(t)
	got := MustEval[[]string](t, ctx, `(async () => {
  const settled = (p) => Promise.race([
    p.then(() => 'resolved', (e) => e.code),
    new Promise((r) => setTimeout(() => r('pending after 3 s'), 3000)),
  ]);
  const racing = shop.fields.tokenize();
  shop.fields.destroy();
  const early = Payvault.mount(document.body, opts);
  early.destroy();
  return [await settled(racing), await settled(shop.fields.tokenize()), await settled(early.ready),
    await settled(early.tokenize()), String(document.querySelectorAll('iframe').length)];
})()`)
	want := []string{"destroyed", "destroyed", "destroyed", "destroyed", "0"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("racing tokenize, tokenize after destroy, ready and tokenize of a form destroyed before it was ready, iframes left (-want +got)\n%s", d)
	}
}

// TestFortisCredentialInPaysafeMode: a Fortis credential passed to tokenize on a Paysafe form
// is a mistake of the page's, refused with config; it does not replace the form's Paysafe
// secret, so the next tokenize still gets its token.
func TestFortisCredentialInPaysafeMode(t *testing.T) {
	t.Parallel()
	ctx := mustPaysafeShopWithCard(t)
	got := MustEval[[]string](t, ctx, `(async () => {
  const fortis = await shop.fields.tokenize({timestamp: '1700000000', hashKey: 'k'}).then(() => 'resolved', (e) => e.code);
  const after = await shop.fields.tokenize().then((r) => r.token.slice(0, 2), (e) => e.code);
  return [fortis, after];
})()`)
	if d := cmp.Diff([]string{"config", "SC"}, got); d != "" {
		t.Errorf("tokenize with a Fortis credential on a Paysafe form, then without (-want +got)\n%s", d)
	}
}
