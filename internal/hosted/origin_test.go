package hosted_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// securityLog collects the tab's security log entries, where Chromium reports a frame
// blocked by frame-ancestors.
type securityLog struct {
	mu      sync.Mutex
	entries []string
}

func MustSecurityLog(tb testing.TB, ctx context.Context) *securityLog {
	tb.Helper()
	l := &securityLog{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*log.EventEntryAdded); ok && e.Entry.Source == "security" {
			l.mu.Lock()
			l.entries = append(l.entries, e.Entry.Text)
			l.mu.Unlock()
		}
	}); err != nil {
		tb.Fatal(err)
	}
	return l
}

func (l *securityLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.entries, "\n")
}

// framesAt returns the URL each frame depth levels below the tab shows (1: its child frames),
// with the URL it failed to load when Chromium replaced it by an error page.
func framesAt(t *testing.T, ctx context.Context, depth int) [][2]string {
	t.Helper()
	tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	level := []*page.FrameTree{tree.FrameTree}
	for range depth {
		var next []*page.FrameTree
		for _, f := range level {
			next = append(next, f.ChildFrames...)
		}
		level = next
	}
	var out [][2]string
	for _, f := range level {
		out = append(out, [2]string{f.Frame.URL, f.Frame.UnreachableURL})
	}
	return out
}

// checkFieldsBlocked checks that Chromium blocked the fields' frame, depth levels below the
// tab: the frame shows Chromium's error page in place of the fields' URL, the frame-ancestors
// violation is logged, and the fields' script never loads.
func checkFieldsBlocked(t *testing.T, ctx context.Context, depth int, sec *securityLog, rec *recorder, vaultURL string) {
	t.Helper()
	var frames [][2]string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if frames = framesAt(t, ctx, depth); len(frames) == 1 && strings.HasPrefix(frames[0][0], "chrome-error:") {
			break
		}
	}
	if len(frames) != 1 || !strings.HasPrefix(frames[0][0], "chrome-error:") || !strings.Contains(frames[0][1], "/hosted/v1/fields/card") {
		t.Errorf("frames at depth %d = %q, want the fields' URL replaced by an error page", depth, frames)
	}
	if log := sec.String(); !strings.Contains(log, "frame-ancestors") {
		t.Errorf("security log = %q, want a frame-ancestors violation", log)
	}
	if n := len(rec.Requests(vaultURL + "/hosted/v1/fields.js")); n != 0 {
		t.Errorf("the blocked fields loaded their script %d times", n)
	}
}

// TestDisallowedOriginCannotFrame sets the merchant's (or the location's) allowed origins and
// shows that a page on another origin cannot frame the fields: Chromium blocks the frame on
// its frame-ancestors policy, the fields never start, and payvault.js reports them
// unavailable. A page that lies about its origin in the iframe URL is blocked the same way.
// A listed origin, and a sandbox merchant with no origins set, can frame them.
func TestDisallowedOriginCannotFrame(t *testing.T) {
	t.Parallel()
	const elsewhere = "https://shop.example"
	tests := []struct {
		name     string
		merchant []string // the merchant's allowed origins; "SHOP" is the test page's origin
		location []string // the default location's
		mode     string   // "paysafe", "fortis" or "claim" (a raw iframe claiming origin=elsewhere)
		framed   bool
	}{
		{name: "ok/sandbox-with-no-origins", mode: "paysafe", framed: true},
		{name: "ok/listed", merchant: []string{elsewhere, "SHOP"}, mode: "paysafe", framed: true},
		{name: "ok/listed-on-the-location", location: []string{"SHOP"}, mode: "fortis", framed: true},
		{name: "fail/not-listed", merchant: []string{elsewhere}, mode: "paysafe"},
		{name: "fail/not-listed-on-the-location", location: []string{elsewhere}, mode: "fortis"},
		{name: "fail/page-claims-a-listed-origin", merchant: []string{elsewhere}, mode: "claim"},
	}
	s := MustVault(t, false)
	ctx0 := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := MustTab(t)
			rec := MustRecord(t, ctx)
			sec := MustSecurityLog(t, ctx)
			var shop *httptest.Server
			readyTimeout := 10000
			if !tt.framed {
				readyTimeout = 1500 // the frame is blocked; payvault.js gives up soon
			}
			switch tt.mode {
			case "claim":
				src := fmt.Sprintf("%s/hosted/v1/fields/card?key=%s&origin=%s", s.URL, s.Creds.Paysafe.SingleUseKeyID, url.QueryEscape(elsewhere))
				shop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprintf(w, `<!doctype html><title>claim</title><iframe src="%s"></iframe>`, html.EscapeString(src))
				}))
				t.Cleanup(shop.Close)
			case "fortis":
				shop = MustShop(t, s.URL, map[string]any{"fortis": s.fortisCredentials(t), "readyTimeout": readyTimeout})
			default:
				shop = MustShop(t, s.URL, paysafeOptions(s, map[string]any{"readyTimeout": readyTimeout}))
			}
			origins := func(list []string) []string {
				out := []string{}
				for _, o := range list {
					out = append(out, strings.Replace(o, "SHOP", shop.URL, 1))
				}
				return out
			}
			if _, err := s.Main.Vault.SetAllowedOrigins(ctx0, s.Creds.MerchantID, "", origins(tt.merchant)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Main.Vault.SetAllowedOrigins(ctx0, s.Creds.MerchantID, s.Creds.Fortis.LocationID, origins(tt.location)); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL)); err != nil {
				t.Fatal(err)
			}
			if tt.framed {
				MustFrame(t, ctx)
				if got := MustEval[bool](t, ctx, `shop.ready`); !got {
					t.Error("payvault.js did not report the fields ready")
				}
				if sec.String() != "" {
					t.Errorf("security log: %s", sec.String())
				}
				return
			}
			// Blocked: the frame shows Chromium's error page, the policy violation is logged,
			// and the fields' script never loads.
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('iframe') !== null`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
				t.Fatal(err)
			}
			checkFieldsBlocked(t, ctx, 1, sec, rec, s.URL)
			if tt.mode != "claim" {
				if got := MustPoll[string](t, ctx, `shop.failed`, 5*time.Second); got != "unavailable" {
					t.Errorf("payvault.js ready failed with %q, want unavailable", got)
				}
			}
		})
	}
}

// TestSingleUseKeyOnlyCreatesTokens uses the single-use key from a page on payvault's origin,
// as the fields do: it creates tokens, and every other call is refused with 403/5270.
func TestSingleUseKeyOnlyCreatesTokens(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	ctx := MustTab(t)
	// /healthz is a plain page on payvault's origin, with no policy of its own.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/healthz")); err != nil {
		t.Fatal(err)
	}
	p := s.Creds.Paysafe
	_, month, year := futureExpiry()
	script := fmt.Sprintf(`(async () => {
  const auth = 'Basic ' + btoa(%q);
  const call = async (method, path, body) => {
    const r = await fetch(path, { method, headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const j = await r.json().catch(() => ({}));
    return method + ' ' + path + ' ' + r.status + ' ' + ((j.error && j.error.code) || (j.paymentToken ? 'token' : ''));
  };
  return [
    await call('POST', '/customervault/v1/singleusetokens', { card: { cardNum: '4111111111111111', cardExpiry: { month: %d, year: %d } } }),
    await call('POST', '/customervault/v1/profiles', { merchantCustomerId: 'x', locale: 'en_US' }),
    await call('GET', '/customervault/v1/profiles/00000000-0000-0000-0000-000000000000'),
    await call('POST', '/customervault/v1/profiles/00000000-0000-0000-0000-000000000000/cards', { cardNum: '4111111111111111', cardExpiry: { month: %d, year: %d } }),
    await call('DELETE', '/customervault/v1/profiles/00000000-0000-0000-0000-000000000000'),
  ];
})()`, p.SingleUseKeyID+":"+p.SingleUseKeySecret, month, year, month, year)
	got := MustEval[[]string](t, ctx, script)
	want := []string{
		"POST /customervault/v1/singleusetokens 200 token",
		"POST /customervault/v1/profiles 403 5270",
		"GET /customervault/v1/profiles/00000000-0000-0000-0000-000000000000 403 5270",
		"POST /customervault/v1/profiles/00000000-0000-0000-0000-000000000000/cards 403 5270",
		"DELETE /customervault/v1/profiles/00000000-0000-0000-0000-000000000000 403 5270",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNestedCheckoutCannotFrame frames a checkout page, whose origin the merchant allows,
// inside another site's page: frame-ancestors names the checkout's origin alone, so Chromium
// checks every ancestor and blocks the fields, and their script never loads.
func TestNestedCheckoutCannotFrame(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	ctx := MustTab(t)
	rec := MustRecord(t, ctx)
	sec := MustSecurityLog(t, ctx)
	shop := MustShop(t, s.URL, paysafeOptions(s, map[string]any{"readyTimeout": 1500}))
	if _, err := s.Main.Vault.SetAllowedOrigins(context.Background(), s.Creds.MerchantID, "", []string{shop.URL}); err != nil {
		t.Fatal(err)
	}
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>another site</title><iframe src="%s"></iframe>`, html.EscapeString(shop.URL))
	}))
	t.Cleanup(outer.Close)
	if err := chromedp.Do(ctx, chromedp.Navigate(outer.URL)); err != nil {
		t.Fatal(err)
	}
	checkFieldsBlocked(t, ctx, 2, sec, rec, s.URL)
}

// TestUnknownKeyRejectsReady mounts the fields with a key id payvault does not know (a
// single-use key id that was never issued or no longer exists, a server key id where the
// single-use key id belongs, an unknown location api key), or a country that is not one:
// ready and tokenize reject with code config as soon as the frame loads, long before
// readyTimeout, and the frame tells the page nothing but that.
func TestUnknownKeyRejectsReady(t *testing.T) {
	t.Parallel()
	s := MustVault(t, false)
	fortisWith := func(key string) map[string]any {
		c := s.fortisCredentials(t)
		c["locationApiKey"] = key
		return map[string]any{"fortis": c}
	}
	tests := []struct {
		name string
		opts map[string]any
	}{
		{"fail/unknown-single-use-key", map[string]any{"paysafe": map[string]string{"keyId": "sut_nope", "secret": s.Creds.Paysafe.SingleUseKeySecret}}},
		{"fail/server-key-id", map[string]any{"paysafe": map[string]string{"keyId": s.Creds.Paysafe.APIKeyID, "secret": s.Creds.Paysafe.APIKeySecret}}},
		{"fail/unknown-bank-form-key", map[string]any{"kind": "ach", "paysafe": map[string]string{"keyId": "sut_nope", "secret": "x"}}},
		{"fail/unknown-location-api-key", fortisWith("nope")},
		{"fail/unknown-country", paysafeOptions(s, map[string]any{"postalCode": true, "country": "XX"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := MustTab(t)
			rec := MustRecord(t, ctx)
			// readyTimeout is left at its default (15 s); the rejection must come before it.
			shop := MustShop(t, s.URL, tt.opts)
			if err := chromedp.Do(ctx, chromedp.Navigate(shop.URL)); err != nil {
				t.Fatal(err)
			}
			if got := MustPoll[string](t, ctx, `shop.failed`, 10*time.Second); got != "config" {
				t.Errorf("ready rejected with %q, want config", got)
			}
			if got := tokenize(t, ctx); got.OK || got.Code != "config" {
				t.Errorf("tokenize = %+v, want code config", got)
			}
			if got := MustEval[bool](t, ctx, `document.querySelector('iframe').hasAttribute('data-payvault-ready')`); got {
				t.Error("the frame was marked ready")
			}
			// What reached the merchant page is the one refusal, with nothing of the merchant.
			var toShop []string
			for _, m := range rec.Messages() {
				if strings.HasPrefix(m, shop.URL+" <- ") {
					toShop = append(toShop, strings.TrimPrefix(m, shop.URL+" <- "))
				}
			}
			want := []string{s.URL + ` {"type":"payvault:refused","code":"config"}`}
			if d := cmp.Diff(want, toShop); d != "" {
				t.Errorf("messages to the merchant page (-want +got)\n%s", d)
			}
		})
	}
}
