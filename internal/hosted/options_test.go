package hosted_test

import (
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/app"
)

// TestMountOptions mounts the fields with the options docs/hosted-fields.md lists for the
// merchant page: title names the iframe, style lands as CSS variables inside the frame (a
// value with url() is dropped), onReady runs once, Enter in a field calls onSubmit, clear
// empties the form and focus moves into it.
func TestMountOptions(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	ctx := MustTab(t)
	style := map[string]string{
		"fontFamily": "Georgia, serif", "fontSize": "18px", "color": "#112233", "errorColor": "rgb(200, 0, 0)",
		"borderColor": "#00aa00", "accentColor": "#0000ff", "background": "#fafafa", "radius": "0",
	}
	styled := map[string]any{"title": "Pay by card", "style": style}
	frame := openShop(t, ctx, s, paysafeOptions(s, styled))
	if got := MustEval[string](t, ctx, `document.querySelector('iframe').title`); got != "Pay by card" {
		t.Errorf("iframe title = %q, want the title option", got)
	}
	vars := map[string]string{
		"fontFamily": "--pv-font-family", "fontSize": "--pv-font-size", "color": "--pv-color", "errorColor": "--pv-error-color",
		"borderColor": "--pv-border-color", "accentColor": "--pv-accent", "background": "--pv-background", "radius": "--pv-radius",
	}
	inline := frameAttr(t, ctx, frame, "html", "style")
	for k, v := range vars {
		if want := v + ": " + style[k] + ";"; !strings.Contains(inline, want) {
			t.Errorf("style %s: the frame's root style %q lacks %q", k, inline, want)
		}
	}
	if got := MustEval[int](t, ctx, `shop.readyCalls`); got != 1 {
		t.Errorf("onReady ran %d times, want once", got)
	}
	exp, _, _ := futureExpiry()
	MustType(t, ctx, frame, "#pv-number", panVisa)
	MustType(t, ctx, frame, "#pv-expiry", exp)
	MustType(t, ctx, frame, "#pv-cvv", cvvTest+"\r")
	if got := MustPoll[int](t, ctx, `shop.submits`, 5*time.Second); got != 1 {
		t.Errorf("onSubmit ran %d times after Enter, want once", got)
	}
	MustEval[bool](t, ctx, `shop.fields.clear(), true`)
	MustPoll[bool](t, ctx, `shop.fields.state.empty`, 5*time.Second)
	for _, sel := range []string{"#pv-number", "#pv-expiry", "#pv-cvv"} {
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel), chromedp.FromNode(frame)))
		if err != nil || v != "" {
			t.Errorf("%s after clear = %q, %v; want empty", sel, v, err)
		}
	}
	MustEval[bool](t, ctx, `document.activeElement.blur(), shop.fields.focus(), true`)
	if got := MustPoll[string](t, ctx, `document.activeElement.tagName === 'IFRAME' && 'IFRAME'`, 5*time.Second); got != "IFRAME" {
		t.Errorf("focus() left the focus on %s", got)
	}

	t.Run("fail/url-in-style", func(t *testing.T) {
		ctx := MustTab(t)
		frame := openShop(t, ctx, s, paysafeOptions(s, map[string]any{"style": map[string]string{"background": "url(https://evil.example/x.png)", "color": "#123456"}}))
		inline := frameAttr(t, ctx, frame, "html", "style")
		if strings.Contains(inline, "url") || !strings.Contains(inline, "--pv-color: #123456;") {
			t.Errorf("the frame's root style = %q, want the color and no url()", inline)
		}
	})
}

// TestCredentialRefused tokenizes with a credential payvault refuses: a wrong single-use key
// secret, and a Fortis credential past its ±900 s, reject with unauthorized and the form says
// so. A Fortis page then passes a fresh credential to tokenize and gets its ticket.
func TestCredentialRefused(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	stale := s.fortisCredentialsAt(t, time.Now().Add(-1000*time.Second))
	tests := []struct {
		name string
		opts map[string]any
	}{
		{"fail/wrong-single-use-key-secret", map[string]any{"paysafe": map[string]string{"keyId": s.Creds.Paysafe.SingleUseKeyID, "secret": "not-the-secret"}}},
		{"fail/stale-fortis-credential", map[string]any{"fortis": stale}},
	}
	exp, _, _ := futureExpiry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := MustTab(t)
			frame := openShop(t, ctx, s, tt.opts)
			MustType(t, ctx, frame, "#pv-number", panVisa)
			MustType(t, ctx, frame, "#pv-expiry", exp)
			MustType(t, ctx, frame, "#pv-cvv", cvvTest)
			if d := cmp.Diff(tokenizeResult{Code: "unauthorized", Fields: []string{}}, tokenize(t, ctx)); d != "" {
				t.Errorf("tokenize (-want +got)\n%s", d)
			}
			if got, want := frameText(t, ctx, frame, "#pv-form-error"), "The payment form could not sign in; reload the page."; got != want {
				t.Errorf("form error = %q, want %q", got, want)
			}
			if tt.opts["fortis"] == nil {
				return
			}
			fresh := s.fortisCredentials(t)
			res := MustEval[tokenizeResult](t, ctx, fmt.Sprintf(`shop.fields.tokenize({ timestamp: %q, hashKey: %q }).then((r) => ({ ok: true, result: r }), (e) => ({ ok: false, code: e.code }))`,
				fresh["timestamp"], fresh["hashKey"]))
			if !res.OK || res.Result.Token == "" || res.Result.Card.LastFour != "1111" {
				t.Errorf("tokenize with a fresh credential = %+v, want a ticket", res)
			}
		})
	}
}

// TestSelfHostedScript loads a pinned copy of payvault.js from the merchant's own origin with
// Subresource Integrity and passes payvault's origin, as docs/hosted-fields.md suggests: the
// fields load from payvault and tokenize.
func TestSelfHostedScript(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	status, _, script := get(t, http.MethodGet, s.URL+"/hosted/v1/payvault.js", "")
	if status != http.StatusOK {
		t.Fatalf("payvault.js: %d", status)
	}
	sum := sha512.Sum384([]byte(script))
	integrity := "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
	p := s.Creds.Paysafe
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/js/payvault.js":
			w.Header().Set("Content-Type", "text/javascript")
			io.WriteString(w, script)
		case "/":
			fmt.Fprintf(w, `<!doctype html><title>self-hosted</title><div id="fields"></div>
<script src="/js/payvault.js" integrity="%s" crossorigin="anonymous"></script>
<script>
window.shop = { fields: Payvault.mount('#fields', { paysafe: { keyId: %q, secret: %q }, origin: %q }) };
shop.tokenize = () => shop.fields.tokenize().then((r) => ({ ok: true, result: r }), (e) => ({ ok: false, code: e.code, fields: e.fields }));
</script>`, integrity, p.SingleUseKeyID, p.SingleUseKeySecret, s.URL)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(shop.Close)
	ctx := MustTab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL)); err != nil {
		t.Fatal(err)
	}
	frame := MustFrame(t, ctx)
	if got := MustEval[string](t, ctx, `document.querySelector('iframe').src`); !strings.HasPrefix(got, s.URL+"/hosted/v1/fields/card?") {
		t.Errorf("iframe src = %q, want payvault's fields", got)
	}
	typeCard(t, ctx, frame)
	if res := tokenize(t, ctx); !res.OK || !strings.HasPrefix(res.Result.Token, "SC") {
		t.Errorf("tokenize = %+v, want an SC… token", res)
	}
}

// TestTokenizeRateLimited runs payvault with a public rate limit of one request a client may
// make with a merchant's public key (serve --public-rate-limit 0.001 --public-rate-burst 1):
// the fields' first token request gets its token, the second is answered 429 and tokenize
// rejects with rate_limited, as docs/hosted-fields.md says, and the form says so.
func TestTokenizeRateLimited(t *testing.T) {
	t.Parallel()
	s := MustVaultConfig(t, app.Config{PublicRateLimit: 0.001, PublicRateBurst: 1})
	tests := []struct {
		name string
		opts map[string]any
	}{
		{"fail/paysafe", paysafeOptions(s, nil)},
		{"fail/fortis", map[string]any{"fortis": s.fortisCredentials(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := MustTab(t)
			rec := MustRecord(t, ctx)
			typeCard(t, ctx, openShop(t, ctx, s, tt.opts))
			if res := tokenize(t, ctx); !res.OK || res.Result.Token == "" {
				t.Fatalf("first tokenize = %+v, want a token", res)
			}
			frame := MustFrame(t, ctx)
			if d := cmp.Diff(tokenizeResult{Code: "rate_limited", Fields: []string{}}, tokenize(t, ctx)); d != "" {
				t.Errorf("second tokenize (-want +got)\n%s", d)
			}
			if got, want := frameText(t, ctx, frame, "#pv-form-error"), "Too many attempts; wait a moment."; got != want {
				t.Errorf("form error = %q, want %q", got, want)
			}
			rec.CheckNoPAN(t, panVisa)
		})
	}
}

// TestFortisMalformedFreshCredential passes tokenize a fresh Fortis credential that is not
// usable (a timestamp that is not digits, a hashKey that is not 64 hex digits): tokenize
// rejects with config, as docs/hosted-fields.md says, instead of quietly using the form's
// previous credential, which it keeps, so the next tokenize still gets its ticket.
func TestFortisMalformedFreshCredential(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	ctx := MustTab(t)
	typeCard(t, ctx, openShop(t, ctx, s, map[string]any{"fortis": s.fortisCredentials(t)}))
	fresh := s.fortisCredentials(t)
	got := MustEval[[]string](t, ctx, fmt.Sprintf(`(async () => {
  const code = (p) => p.then((r) => r.token ? 'ticket' : 'no ticket', (e) => e.code);
  return [
    await code(shop.fields.tokenize({ timestamp: 'now', hashKey: %q })),
    await code(shop.fields.tokenize({ timestamp: %q, hashKey: 'not-hex' })),
    await code(shop.fields.tokenize()),
  ];
})()`, fresh["hashKey"], fresh["timestamp"]))
	if d := cmp.Diff([]string{"config", "config", "ticket"}, got); d != "" {
		t.Errorf("tokenize with a bad timestamp, a bad hashKey, then none (-want +got)\n%s", d)
	}
}

// TestMountThrowsConfig: Payvault.mount throws a PayvaultError with code config when its
// options are wrong, as docs/hosted-fields.md says, also for a target selector the browser
// cannot parse, an origin option that is not a URL and a kind that is a name every object
// has, rather than the browser's own exception or a frame that never loads.
func TestMountThrowsConfig(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	ctx := MustTab(t)
	shop := MustShop(t, s.URL, paysafeOptions(s, nil))
	if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL)); err != nil {
		t.Fatal(err)
	}
	MustFrame(t, ctx)
	got := MustEval[map[string]string](t, ctx, `(() => {
  const code = (target, extra) => {
    try {
      Payvault.mount(target, Object.assign({}, opts, extra));
      return 'mounted';
    } catch (e) {
      return e instanceof Payvault.PayvaultError ? e.code : e.name;
    }
  };
  return {
    'missing-target': code('#nowhere'),
    'unparsable-selector': code('#1fields'),
    'origin-not-a-url': code('#fields', { origin: 'vault.example.com' }),
    'kind-toString': code('#fields', { kind: 'toString' }),
    'kind-constructor': code('#fields', { kind: 'constructor' }),
  };
})()`)
	want := map[string]string{"missing-target": "config", "unparsable-selector": "config", "origin-not-a-url": "config", "kind-toString": "config", "kind-constructor": "config"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("mount (-want +got)\n%s", d)
	}
}

// TestTokenizeFailures drives the rejection codes docs/hosted-fields.md gives for a token
// request that fails: payvault sits behind a proxy that answers the token request 403 or 500
// or drops the connection, and tokenize rejects with forbidden, server or network and the
// form says so. A second tokenize while the first is still running rejects with busy.
func TestTokenizeFailures(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	mode := ""
	var hold chan struct{} // hold, when set, keeps token requests waiting until it is closed
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		m, h := mode, hold
		mu.Unlock()
		if r.URL.Path == "/customervault/v1/singleusetokens" {
			if h != nil {
				<-h
			}
			switch m {
			case "forbidden":
				http.Error(w, `{"error":{"code":"5270"}}`, http.StatusForbidden)
				return
			case "server":
				http.Error(w, "bad gateway", http.StatusBadGateway)
				return
			case "network":
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	// payvault is the proxy to the browser: the page loads payvault.js and the fields from it.
	vault := *s
	vault.URL = proxy.URL
	for _, tt := range []struct{ mode, msg string }{
		{"forbidden", "This page may not use the payment form."},
		{"server", "The payment service is unavailable; try again."},
		{"network", "The payment service could not be reached."},
	} {
		t.Run("fail/"+tt.mode, func(t *testing.T) {
			ctx := MustTab(t)
			frame := openShop(t, ctx, &vault, paysafeOptions(s, nil))
			typeCard(t, ctx, frame)
			mu.Lock()
			mode = tt.mode
			mu.Unlock()
			if d := cmp.Diff(tokenizeResult{Code: tt.mode, Fields: []string{}}, tokenize(t, ctx)); d != "" {
				t.Errorf("tokenize (-want +got)\n%s", d)
			}
			if got := frameText(t, ctx, frame, "#pv-form-error"); got != tt.msg {
				t.Errorf("form error = %q, want %q", got, tt.msg)
			}
		})
	}
	t.Run("fail/busy", func(t *testing.T) {
		ctx := MustTab(t)
		typeCard(t, ctx, openShop(t, ctx, &vault, paysafeOptions(s, nil)))
		release := make(chan struct{})
		mu.Lock()
		mode, hold = "", release
		mu.Unlock()
		MustEval[bool](t, ctx, `(window.first = shop.tokenize(), true)`)
		if d := cmp.Diff(tokenizeResult{Code: "busy", Fields: []string{}}, tokenize(t, ctx)); d != "" {
			t.Errorf("tokenize while another runs (-want +got)\n%s", d)
		}
		close(release)
		if got := MustEval[tokenizeResult](t, ctx, `window.first`); !got.OK || !strings.HasPrefix(got.Result.Token, "SC") {
			t.Errorf("the first tokenize = %+v, want its token", got)
		}
	})
}

// TestUnusableCredentialAtMount mounts the fields with credentials of a shape they cannot
// use (a Paysafe secret over 200 characters, a Fortis timestamp that is not digits, a hashKey
// that is not 64 hex digits): the form gets ready, and tokenize rejects with config, as
// docs/hosted-fields.md says.
func TestUnusableCredentialAtMount(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	fortis := func(member, v string) map[string]any {
		c := s.fortisCredentials(t)
		c[member] = v
		return map[string]any{"fortis": c}
	}
	tests := []struct {
		name string
		opts map[string]any
	}{
		{"fail/long-paysafe-secret", map[string]any{"paysafe": map[string]string{"keyId": s.Creds.Paysafe.SingleUseKeyID, "secret": strings.Repeat("s", 201)}}},
		{"fail/fortis-timestamp-not-digits", fortis("timestamp", "soon")},
		{"fail/fortis-hash-key-not-hex", fortis("hashKey", strings.Repeat("z", 64))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := MustTab(t)
			typeCard(t, ctx, openShop(t, ctx, s, tt.opts))
			if d := cmp.Diff(tokenizeResult{Code: "config", Fields: []string{}}, tokenize(t, ctx)); d != "" {
				t.Errorf("tokenize (-want +got)\n%s", d)
			}
		})
	}
}
