package hosted_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/hosted"
	"github.com/payvault/payvault/internal/vault"
)

// get fetches url with an optional Origin and returns the status, headers and body.
func get(tb testing.TB, method, u, origin string) (int, http.Header, string) {
	tb.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

const fieldsPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors "

// MustLiveMerchant creates a live merchant on s that allows origin.
func MustLiveMerchant(tb testing.TB, s *vaultServer, origin string) *vault.MerchantCredentials {
	tb.Helper()
	ctx := context.Background()
	live, err := s.Main.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Live shop", Live: true})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Main.Vault.SetAllowedOrigins(ctx, live.MerchantID, "", []string{origin}); err != nil {
		tb.Fatal(err)
	}
	return live
}

// TestFieldPages checks who may get a field page and the headers it carries: a strict
// Content-Security-Policy framing it only into the checked origin, nosniff, no referrer, and
// never a cache. Refusals are JSON that may not be framed at all.
func TestFieldPages(t *testing.T) {
	s := MustVault(t, false)
	ctx := context.Background()
	live := MustLiveMerchant(t, s, "https://live.example")
	listed, err := s.Main.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Listed shop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Main.Vault.SetAllowedOrigins(ctx, listed.MerchantID, "", []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	sut := "key=" + s.Creds.Paysafe.SingleUseKeyID
	loc := "location-api-key=" + s.Creds.Fortis.LocationAPIKey
	tests := []struct {
		name, path, query string
		status            int
		ancestors         string // the page's frame-ancestors, or the error code
	}{
		{"ok/paysafe-card-sandbox-any-origin", "card", sut + "&origin=https://anything.example", 200, "https://anything.example"},
		{"ok/origin-normalised", "card", sut + "&origin=HTTPS://Shop.Example:8443", 200, "https://shop.example:8443"},
		{"ok/optional-fields", "card", sut + "&origin=https://a.example&fields=name,postal&country=ca", 200, "https://a.example"},
		{"ok/ach", "ach", sut + "&origin=https://a.example", 200, "https://a.example"},
		{"ok/eft", "eft", sut + "&origin=https://a.example", 200, "https://a.example"},
		{"ok/fortis-card", "card", loc + "&origin=https://a.example", 200, "https://a.example"},
		{"ok/listed-origin", "card", "key=" + listed.Paysafe.SingleUseKeyID + "&origin=https://shop.example", 200, "https://shop.example"},
		{"ok/payvault-itself", "card", "key=" + listed.Paysafe.SingleUseKeyID + "&origin=" + s.URL, 200, s.URL},
		{"ok/live-listed-over-loopback", "card", "key=" + live.Paysafe.SingleUseKeyID + "&origin=https://live.example", 200, "https://live.example"},
		{"fail/not-listed", "card", "key=" + listed.Paysafe.SingleUseKeyID + "&origin=https://evil.example", 403, "origin_not_allowed"},
		{"fail/live-not-listed", "card", "key=" + live.Paysafe.SingleUseKeyID + "&origin=https://shop.example", 403, "origin_not_allowed"},
		{"fail/no-origin", "card", sut, 400, "invalid"},
		{"fail/origin-with-path", "card", sut + "&origin=https://a.example/checkout", 400, "invalid"},
		{"fail/origin-injects-a-directive", "card", sut + "&origin=" + url.QueryEscape("https://a.example; script-src *"), 400, "invalid"},
		{"fail/origin-null", "card", sut + "&origin=null", 400, "invalid"},
		{"fail/no-key", "card", "origin=https://a.example", 400, "invalid"},
		{"fail/both-keys", "card", sut + "&" + loc + "&origin=https://a.example", 400, "invalid"},
		{"fail/unknown-key", "card", "key=sut_nope&origin=https://a.example", 404, "not_found"},
		{"fail/server-key-id", "card", "key=" + s.Creds.Paysafe.APIKeyID + "&origin=https://a.example", 404, "not_found"},
		{"fail/unknown-location-key", "card", "location-api-key=nope&origin=https://a.example", 404, "not_found"},
		{"fail/fortis-bank", "ach", loc + "&origin=https://a.example", 400, "invalid"},
		{"fail/unknown-field", "card", sut + "&origin=https://a.example&fields=cvv2", 400, "invalid"},
		{"fail/bad-country", "card", sut + "&origin=https://a.example&fields=postal&country=XX", 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := get(t, http.MethodGet, s.URL+"/hosted/v1/fields/"+tt.path+"?"+tt.query, "")
			if status != tt.status {
				t.Fatalf("status = %d, want %d: %s", status, tt.status, body)
			}
			want := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
			got := map[string]string{}
			for k := range want {
				got[k] = h.Get(k)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("headers (-want +got)\n%s", d)
			}
			if status == 200 {
				if csp := h.Get("Content-Security-Policy"); csp != fieldsPolicy+tt.ancestors {
					t.Errorf("CSP = %q, want frame-ancestors %s", csp, tt.ancestors)
				}
				if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
					t.Errorf("the page has inline script or style, or is not HTML")
				}
				for _, secret := range []string{s.Creds.Paysafe.SingleUseKeySecret, s.Creds.Fortis.TicketHashKey, s.Creds.Paysafe.APIKeySecret} {
					if strings.Contains(body, secret) {
						t.Error("the page holds a secret")
					}
				}
				return
			}
			if csp := h.Get("Content-Security-Policy"); csp != "default-src 'none'; frame-ancestors 'none'" {
				t.Errorf("error CSP = %q", csp)
			}
			if h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"code":"`+tt.ancestors+`"`) {
				t.Errorf("body = %s, want JSON code %s", body, tt.ancestors)
			}
		})
	}
}

// TestRefusedFramePage checks the answer for a key id payvault does not know, or options it
// cannot use, when a browser loads it into a frame (Sec-Fetch-Dest: iframe): still a 404 or
// 400, but a page with the field pages' headers that the named origin may frame, the same for
// every such answer and holding nothing but the refusal. A disallowed or malformed origin
// stays the JSON that may not be framed. A browser that sends no fetch metadata gets the page
// when it asks for HTML.
func TestRefusedFramePage(t *testing.T) {
	s := MustVault(t, false)
	listed, err := s.Main.Vault.CreateMerchant(context.Background(), vault.NewMerchant{Name: "Listed shop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Main.Vault.SetAllowedOrigins(context.Background(), listed.MerchantID, "", []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	refused := ""
	tests := []struct {
		name, path, query, dest string
		accept                  string
		status                  int
		code                    string // the JSON error code, or "" for the refusal page
	}{
		{"ok/unknown-key", "card", "key=sut_nope&origin=https://a.example", "iframe", "", 404, ""},
		{"ok/server-key-id", "card", "key=" + s.Creds.Paysafe.APIKeyID + "&origin=https://a.example", "iframe", "", 404, ""},
		{"ok/unknown-key-bank-form", "eft", "key=sut_other&origin=https://a.example", "frame", "", 404, ""},
		{"ok/unknown-location-key", "card", "location-api-key=nope&origin=https://a.example", "iframe", "", 404, ""},
		{"ok/bad-country", "card", "key=" + s.Creds.Paysafe.SingleUseKeyID + "&origin=https://a.example&fields=postal&country=XX", "iframe", "", 400, ""},
		{"ok/unknown-field", "card", "key=" + s.Creds.Paysafe.SingleUseKeyID + "&origin=https://a.example&fields=cvv2", "iframe", "", 400, ""},
		{"fail/not-a-frame", "card", "key=sut_nope&origin=https://a.example", "document", "", 404, "not_found"},
		{"ok/no-fetch-metadata-html", "card", "key=sut_nope&origin=https://a.example", "", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 404, ""},
		{"fail/no-fetch-metadata", "card", "key=sut_nope&origin=https://a.example", "", "", 404, "not_found"},
		{"fail/no-fetch-metadata-json", "card", "key=sut_nope&origin=https://a.example", "", "application/json", 404, "not_found"},
		{"fail/document-html", "card", "key=sut_nope&origin=https://a.example", "document", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 404, "not_found"},
		{"fail/origin-not-allowed", "card", "key=" + listed.Paysafe.SingleUseKeyID + "&origin=https://evil.example", "iframe", "", 403, "origin_not_allowed"},
		{"fail/bad-origin", "card", "key=sut_nope&origin=" + url.QueryEscape("https://a.example; script-src *"), "iframe", "", 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, s.URL+"/hosted/v1/fields/"+tt.path+"?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.dest != "" {
				req.Header.Set("Sec-Fetch-Dest", tt.dest)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			body, h := string(b), resp.Header
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.code != "" {
				if csp := h.Get("Content-Security-Policy"); csp != "default-src 'none'; frame-ancestors 'none'" {
					t.Errorf("error CSP = %q", csp)
				}
				if h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"code":"`+tt.code+`"`) {
					t.Errorf("body = %s, want JSON code %s", body, tt.code)
				}
				return
			}
			want := map[string]string{
				"Content-Security-Policy": fieldsPolicy + "https://a.example", "Content-Type": "text/html; charset=utf-8",
				"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
				"Cross-Origin-Resource-Policy": "same-origin", "Vary": "Sec-Fetch-Dest, Accept",
			}
			got := map[string]string{}
			for k := range want {
				got[k] = h.Get(k)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("headers (-want +got)\n%s", d)
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "pv-form") {
				t.Errorf("the page has inline script or style, or a form:\n%s", body)
			}
			// One page for every refusal: nothing in it depends on the key, its merchant or the cause.
			if refused == "" {
				refused = body
			} else if body != refused {
				t.Errorf("the page differs between refusals:\n%s\nwant\n%s", body, refused)
			}
		})
	}
}

// TestLiveFieldsNeedTLS checks that a live merchant's fields are refused over plain HTTP from
// a peer that is not loopback (403 insecure, JSON that may not be framed), and served behind a
// trusted TLS-terminating proxy; a sandbox merchant's are served either way.
func TestLiveFieldsNeedTLS(t *testing.T) {
	s := MustVault(t, false)
	live := MustLiveMerchant(t, s, "https://live.example")
	for _, tt := range []struct {
		name     string
		key      string
		upstream bool
		status   int
		code     string
	}{
		{"ok/live-behind-trusted-upstream", live.Paysafe.SingleUseKeyID, true, 200, ""},
		{"ok/sandbox-over-plain-http", s.Creds.Paysafe.SingleUseKeyID, false, 200, ""},
		{"fail/live-over-plain-http", live.Paysafe.SingleUseKeyID, false, 403, "insecure"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := hosted.New(hosted.Config{Vault: s.Main.Vault, TrustedUpstream: tt.upstream})
			req := httptest.NewRequest(http.MethodGet, "http://vault.example/hosted/v1/fields/card?key="+tt.key+"&origin=https://live.example", nil)
			req.RemoteAddr = "203.0.113.7:40000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code == "" {
				return
			}
			if csp := rec.Header().Get("Content-Security-Policy"); csp != "default-src 'none'; frame-ancestors 'none'" {
				t.Errorf("error CSP = %q", csp)
			}
			if rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"code":"`+tt.code+`"`) {
				t.Errorf("body = %s, want JSON code %s", rec.Body, tt.code)
			}
		})
	}
}

// TestStaticFiles checks payvault.js and the fields' assets: plain files, no third-party or
// dynamic code, and who may load them.
func TestStaticFiles(t *testing.T) {
	s := MustVault(t, false)
	tests := []struct {
		path, contentType, corp string
	}{
		{"/hosted/v1/payvault.js", "text/javascript; charset=utf-8", "cross-origin"},
		{"/hosted/v1/fields.js", "text/javascript; charset=utf-8", "same-origin"},
		{"/hosted/v1/fields.css", "text/css; charset=utf-8", "same-origin"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, h, body := get(t, http.MethodGet, s.URL+tt.path, "")
			if status != 200 || h.Get("Content-Type") != tt.contentType || h.Get("Cross-Origin-Resource-Policy") != tt.corp || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%d %v", status, h)
			}
			if len(body) > 24<<10 {
				t.Errorf("%s is %d bytes; keep it small", tt.path, len(body))
			}
			for _, bad := range []string{"eval(", "new Function", "import(", "importScripts", "innerHTML", "document.write", "//cdn", "http://"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s contains %q", tt.path, bad)
				}
			}
		})
	}
	for _, tt := range []struct{ method, path string }{{"POST", "/hosted/v1/payvault.js"}, {"GET", "/hosted/v2/payvault.js"}, {"GET", "/hosted/"}} {
		status, h, body := get(t, tt.method, s.URL+tt.path, "")
		if (status != 404 && status != 405) || h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s = %d %s, want a JSON 404 or 405", tt.method, tt.path, status, body)
		}
	}
}

// TestTokenEndpointsAcceptTheFields shows that the token endpoints take requests from
// payvault's own origin (the fields' iframe) when the merchant lists other origins, and still
// refuse an origin it does not list.
func TestTokenEndpointsAcceptTheFields(t *testing.T) {
	s := MustVault(t, false)
	if _, err := s.Main.Vault.SetAllowedOrigins(context.Background(), s.Creds.MerchantID, "", []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	_, month, year := futureExpiry()
	p := s.Creds.Paysafe
	fc := s.fortisCredentials(t)
	mmyy := fmt.Sprintf("%02d%02d", month, year%100)
	tests := []struct {
		name, origin string
		sut, ticket  int
	}{
		{"ok/payvault-origin", s.URL, 200, 201},
		{"ok/listed-origin", "https://shop.example", 200, 201},
		{"ok/no-origin", "", 200, 201},
		{"fail/other-origin", "https://evil.example", 403, 403},
		{"fail/other-port-of-payvault-host", "http://127.0.0.1:1", 403, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Authorization": basicAuth(p.SingleUseKeyID, p.SingleUseKeySecret)}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			status, body := doJSON(t, http.MethodPost, s.URL+"/customervault/v1/singleusetokens", h,
				map[string]any{"card": map[string]any{"cardNum": panVisa, "cardExpiry": map[string]int{"month": month, "year": year}}})
			if status != tt.sut {
				t.Errorf("single-use token: %d %v, want %d", status, body, tt.sut)
			}
			h = map[string]string{"location-api-key": fc["locationApiKey"], "timestamp": fc["timestamp"], "hash-key": fc["hashKey"]}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			status, body = doJSON(t, http.MethodPost, s.URL+"/v2/cardtickets", h,
				map[string]any{"cardticket": map[string]any{"account_number": panVisa, "exp_date": mmyy}})
			if status != tt.ticket {
				t.Errorf("card ticket: %d %v, want %d", status, body, tt.ticket)
			}
		})
	}
}

// mustTicket makes a card ticket as the fields would, through the Fortis API.
func mustTicket(tb testing.TB, s *vaultServer) string {
	tb.Helper()
	_, month, year := futureExpiry()
	fc := s.fortisCredentials(tb)
	status, body := doJSON(tb, http.MethodPost, s.URL+"/v2/cardtickets",
		map[string]string{"location-api-key": fc["locationApiKey"], "timestamp": fc["timestamp"], "hash-key": fc["hashKey"], "Origin": s.URL},
		map[string]any{"cardticket": map[string]any{"account_number": panVisa, "exp_date": fmt.Sprintf("%02d%02d", month, year%100), "cvv": cvvTest}})
	if status != http.StatusCreated {
		tb.Fatalf("ticket: %d %v", status, body)
	}
	return body["cardticket"].(map[string]any)["id"].(string)
}

// TestDemoEndpoints checks the demo's server side: its page and policy, the browser
// credential it computes, its payment answers, and what it refuses.
func TestDemoEndpoints(t *testing.T) {
	s := MustVault(t, true)
	ctx := context.Background()
	live, err := s.Main.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Live shop", Live: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Main.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Second sandbox"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ok/page", func(t *testing.T) {
		status, h, body := get(t, http.MethodGet, s.URL+"/demo/checkout", "")
		if status != 200 || h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || strings.Contains(body, "<script>") {
			t.Errorf("%d %v", status, h)
		}
		if !strings.Contains(body, s.Creds.MerchantID) || !strings.Contains(body, `value="10.00"`) {
			t.Error("the demo is not for the first sandbox merchant, or has no default amount")
		}
		for _, secret := range []string{s.Creds.Fortis.TicketHashKey, s.Creds.Paysafe.SingleUseKeySecret} {
			if strings.Contains(body, secret) {
				t.Error("the demo page holds a secret")
			}
		}
	})
	t.Run("ok/named-demo-merchant", func(t *testing.T) {
		status, _, body := get(t, http.MethodGet, s.URL+"/demo/checkout?merchant="+s.Creds.MerchantID, "")
		if status != 200 || !strings.Contains(body, s.Creds.MerchantID) {
			t.Errorf("%d", status)
		}
	})
	// The demo serves the sandbox merchant of the first start alone: it hands out a browser
	// credential and authorizes for anyone who can reach it.
	for _, tt := range []struct{ name, query string }{{"fail/live-merchant", "?merchant=" + live.MerchantID}, {"fail/unknown-merchant", "?merchant=nope"}, {"fail/other-sandbox-merchant", "?merchant=" + other.MerchantID}} {
		t.Run(tt.name, func(t *testing.T) {
			if status, _, _ := get(t, http.MethodGet, s.URL+"/demo/checkout"+tt.query, ""); status != 404 {
				t.Errorf("status = %d, want 404", status)
			}
		})
	}
	t.Run("fail/credentials-for-other-sandbox-merchant", func(t *testing.T) {
		if status, body := doJSON(t, http.MethodPost, s.URL+"/demo/checkout/credentials", map[string]string{"Origin": s.URL}, map[string]string{"merchant": other.MerchantID}); status != 404 {
			t.Errorf("%d %v", status, body)
		}
	})
	t.Run("ok/credentials", func(t *testing.T) {
		status, body := doJSON(t, http.MethodPost, s.URL+"/demo/checkout/credentials", map[string]string{"Origin": s.URL}, map[string]string{"merchant": s.Creds.MerchantID})
		f := s.Creds.Fortis
		ts, _ := body["timestamp"].(string)
		if status != 200 || body["locationApiKey"] != f.LocationAPIKey || body["hashKey"] != vault.BrowserHashKey(f.TicketHashKey, f.LocationAPIKey, ts) {
			t.Errorf("%d %v", status, body)
		}
	})

	pay := func(t *testing.T, headers map[string]string, body any) (int, map[string]any) {
		t.Helper()
		return doJSON(t, http.MethodPost, s.URL+"/demo/checkout/pay", headers, body)
	}
	t.Run("ok/approved", func(t *testing.T) {
		status, body := pay(t, nil, map[string]string{"merchant": s.Creds.MerchantID, "amount": "12.5", "token": mustTicket(t, s)})
		if status != 200 || body["approved"] != true || body["amount"] != "12.50" || body["authId"] == "" {
			t.Errorf("%d %v", status, body)
		}
	})
	t.Run("ok/declined", func(t *testing.T) {
		status, body := pay(t, nil, map[string]string{"merchant": s.Creds.MerchantID, "amount": "0.05", "token": mustTicket(t, s)})
		want := map[string]any{"approved": false, "code": "3009", "message": "Your request has been declined by the issuing bank."}
		got := map[string]any{"approved": body["approved"], "code": body["code"], "message": body["message"]}
		if d := cmp.Diff(want, got); status != 200 || d != "" {
			t.Errorf("%d (-want +got)\n%s", status, d)
		}
	})
	t.Run("fail/ticket-used-twice", func(t *testing.T) {
		ticket := mustTicket(t, s)
		pay(t, nil, map[string]string{"merchant": s.Creds.MerchantID, "amount": "1.00", "token": ticket})
		status, body := pay(t, nil, map[string]string{"merchant": s.Creds.MerchantID, "amount": "1.00", "token": ticket})
		if status != 400 || !strings.Contains(fmt.Sprint(body), "token") {
			t.Errorf("%d %v", status, body)
		}
	})
	for _, tt := range []struct {
		name    string
		headers map[string]string
		body    any
		status  int
	}{
		{"fail/amount-not-a-number", nil, map[string]string{"amount": "ten", "token": "x"}, 400},
		{"fail/amount-zero", nil, map[string]string{"amount": "0.00", "token": "x"}, 400},
		{"fail/amount-three-decimals", nil, map[string]string{"amount": "1.001", "token": "x"}, 400},
		{"fail/no-token", nil, map[string]string{"amount": "1.00"}, 400},
		{"fail/unknown-token", nil, map[string]string{"amount": "1.00", "token": "nope"}, 400},
		{"fail/unknown-field", nil, map[string]string{"amount": "1.00", "token": "x", "cardNum": panVisa}, 400},
		{"fail/live-merchant", nil, map[string]string{"merchant": live.MerchantID, "amount": "1.00", "token": "x"}, 404},
		{"fail/cross-origin", map[string]string{"Origin": "https://evil.example"}, map[string]string{"amount": "1.00", "token": "x"}, 403},
		{"fail/not-json", map[string]string{"Content-Type": "text/plain"}, map[string]string{"amount": "1.00", "token": "x"}, 415},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := pay(t, tt.headers, tt.body)
			if status != tt.status {
				t.Errorf("status = %d, want %d: %v", status, tt.status, body)
			}
		})
	}
	t.Run("fail/wrong-method", func(t *testing.T) {
		if status, h, _ := get(t, http.MethodGet, s.URL+"/demo/checkout/pay", ""); status != 405 || h.Get("Allow") != "POST" {
			t.Errorf("%d %v", status, h)
		}
	})
}

// TestDemoOff shows every demo route is 404 when serve runs with --demo=false.
func TestDemoOff(t *testing.T) {
	s := MustVault(t, false)
	for _, tt := range []struct{ method, path string }{
		{"GET", "/demo/checkout"}, {"GET", "/demo/checkout.js"}, {"GET", "/demo/checkout.css"},
		{"POST", "/demo/checkout/credentials"}, {"POST", "/demo/checkout/pay"},
	} {
		status, body := doJSON(t, tt.method, s.URL+tt.path, nil, map[string]string{"merchant": s.Creds.MerchantID})
		if status != 404 {
			t.Errorf("%s %s = %d %v, want 404", tt.method, tt.path, status, body)
		}
	}
	// The fields themselves are still served.
	if status, _, _ := get(t, http.MethodGet, s.URL+"/hosted/v1/fields/card?key="+s.Creds.Paysafe.SingleUseKeyID+"&origin=https://a.example", ""); status != 200 {
		t.Errorf("fields = %d", status)
	}
}

// TestDemoBadBodies shows that the demo's endpoints take one small JSON object and nothing
// else: a body over the limit is 413, and null, an array, a second value or trailing bytes
// are 400, each as a JSON error.
func TestDemoBadBodies(t *testing.T) {
	s := MustVault(t, true)
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"fail/too-large", `{"merchant":"` + strings.Repeat("a", 5000) + `"}`, 413},
		{"fail/trailing-value", `{} {}`, 400},
		{"fail/trailing-bytes", `{}x`, 400},
		{"fail/null", `null`, 400},
		{"fail/array", `[]`, 400},
		{"fail/empty", ``, 400},
		{"fail/bad-json", `{"merchant":`, 400},
	} {
		for _, path := range []string{"/demo/checkout/credentials", "/demo/checkout/pay"} {
			t.Run(tt.name+path, func(t *testing.T) {
				status, h, code, err := postDemo(t, s.URL+path, tt.body)
				if err != nil || status != tt.status || code == "" || h.Get("Content-Type") != "application/json" {
					t.Errorf("%d %q %v, want %d with a JSON error", status, h.Get("Content-Type"), err, tt.status)
				}
			})
		}
	}
}

// TestDemoRateLimited shows that a client looping on the demo's anonymous POSTs is paced: past
// the burst it gets a JSON 429 with Retry-After, and runs no more payments.
func TestDemoRateLimited(t *testing.T) {
	s := MustVault(t, true)
	var status int
	var h http.Header
	for i := 0; i < 200 && status != http.StatusTooManyRequests; i++ {
		var code string
		var err error
		status, h, code, err = postDemo(t, s.URL+"/demo/checkout/pay", `{"amount":"1.00","token":"nope"}`)
		if status == http.StatusTooManyRequests && (err != nil || code != "rate_limited") {
			t.Errorf("429 body: %v %q", err, code)
		}
	}
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("200 demo payments in a row: last %d, Retry-After %q; want 429 with Retry-After", status, h.Get("Retry-After"))
	}
	// The credentials share the bucket.
	if status, _ := doJSON(t, http.MethodPost, s.URL+"/demo/checkout/credentials", nil, map[string]string{}); status != http.StatusTooManyRequests {
		t.Errorf("credentials = %d, want 429", status)
	}
}

// postDemo POSTs body as JSON to one of the demo's endpoints and returns the answer's status,
// headers and error code, with the error of decoding its body as JSON.
func postDemo(t *testing.T, url, body string) (status int, h http.Header, code string, err error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out.Error.Code, err
}
