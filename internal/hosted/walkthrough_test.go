package hosted_test

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// docCheckout is the Paysafe-mode merchant page of docs/hosted-fields.md ("Embedding the
// fields"), word for word but for payvault's URL and the single-use key.
var docCheckout = template.Must(template.New("doc").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Doc checkout</title></head><body>
<form id="checkout">
  <div id="card-fields"></div>
  <button>Pay</button>
</form>
<script src="{{.Vault}}/hosted/v1/payvault.js"></script>
<script>
  const fields = Payvault.mount('#card-fields', {
    paysafe: { keyId: {{.KeyID}}, secret: {{.Secret}} },   // the single-use key: token creation only
    holderName: true,                                  // optional: name on card
    postalCode: true, country: 'US',                   // optional: billing ZIP
    onSubmit: () => document.getElementById('checkout').requestSubmit(), // Enter in the fields
  });
  document.getElementById('checkout').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const { token, card } = await fields.tokenize();
      // token: "SC…" (899 s, single use); card: { brand, lastFour, expMonth, expYear }
      await fetch('/my-server/pay', { method: 'POST', body: JSON.stringify({ token }) });
    } catch (e) {
      if (e.code === 'invalid') return;   // the fields show inline messages; e.fields lists them
      alert(e.message);
    }
  });
</script>
</body></html>`))

// TestDocWalkthrough follows docs/hosted-fields.md as a merchant developer would: the page
// is the doc's example, the customer presses Enter in the fields once and clicks Pay once,
// and the merchant's server uses each token as the doc says: an authorization with
// card.paymentToken, and a profile with card.singleUseToken.
func TestDocWalkthrough(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	p := s.Creds.Paysafe
	server := basicAuth(p.APIKeyID, p.APIKeySecret)
	var mu sync.Mutex
	var outcomes []string
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if err := docCheckout.Execute(w, map[string]any{"Vault": template.URL(s.URL), "KeyID": p.SingleUseKeyID, "Secret": p.SingleUseKeySecret}); err != nil {
				t.Errorf("page: %v", err)
			}
		case "/my-server/pay":
			var in struct{ Token string }
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				t.Errorf("my-server/pay: %v", err)
				return
			}
			mu.Lock()
			n := len(outcomes)
			mu.Unlock()
			var got string
			if n == 0 {
				status, body := doJSON(t, http.MethodPost, s.URL+"/cardpayments/v1/accounts/"+p.AccountNumber+"/auths", map[string]string{"Authorization": server},
					map[string]any{"merchantRefNum": "doc-1", "amount": 1000, "card": map[string]any{"paymentToken": in.Token}})
				got = fmt.Sprintf("auth %d %v", status, body["status"])
			} else {
				status, body := doJSON(t, http.MethodPost, s.URL+"/customervault/v1/profiles", map[string]string{"Authorization": server},
					map[string]any{"merchantCustomerId": "doc-2", "locale": "en_US", "card": map[string]any{"singleUseToken": in.Token}})
				cards, _ := body["cards"].([]any)
				got = fmt.Sprintf("profile %d %d", status, len(cards))
			}
			mu.Lock()
			outcomes = append(outcomes, got)
			mu.Unlock()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(shop.Close)
	ctx := MustTab(t)
	rec := MustRecord(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL)); err != nil {
		t.Fatal(err)
	}
	frame := MustFrame(t, ctx)
	typeCard(t, ctx, frame)
	MustType(t, ctx, frame, "#pv-name", "Ada Lovelace")
	MustType(t, ctx, frame, "#pv-postal", "10001\r")
	waitOutcomes := func(n int) []string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			got := append([]string(nil), outcomes...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
		}
		t.Fatalf("the merchant's server got %d tokens, want %d", len(outcomes), n)
		return nil
	}
	waitOutcomes(1)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#checkout button"))); err != nil {
		t.Fatal(err)
	}
	got := waitOutcomes(2)
	if want := "auth 200 COMPLETED\nprofile 201 1"; strings.Join(got, "\n") != want {
		t.Errorf("the merchant's server saw\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	rec.CheckNoPAN(t, panVisa)
}
