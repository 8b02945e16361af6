package httpx

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name, host, public, origin string
		tls                        bool // the request came over payvault's own TLS
		want                       bool
	}{
		{"ok/request-host", "127.0.0.1:8080", "", "http://127.0.0.1:8080", false, true},
		{"ok/request-host-https-behind-proxy", "vault.example", "", "https://vault.example", false, true},
		{"ok/host-case", "Vault.Example", "", "https://vault.example", false, true},
		{"ok/public-base-url", "10.0.0.5:8080", "https://vault.example", "https://vault.example", false, true},
		{"ok/public-base-url-slash", "10.0.0.5:8080", "https://vault.example/", "https://vault.example", false, true},
		{"fail/other-host", "127.0.0.1:8080", "", "http://127.0.0.1:8081", false, false},
		{"fail/other-site", "vault.example", "", "https://shop.example", false, false},
		{"fail/public-base-url-scheme", "10.0.0.5:8080", "https://vault.example", "http://vault.example", false, false},
		{"fail/request-host-not-public", "vault.example", "https://pay.example", "https://vault.example", false, false},
		{"fail/null", "vault.example", "", "null", false, false},
		{"fail/empty", "vault.example", "", "", false, false},
		{"fail/path", "vault.example", "", "https://vault.example/x", false, false},
		{"fail/userinfo", "vault.example", "", "https://u@vault.example", false, false},
		{"fail/other-scheme", "vault.example", "", "ftp://vault.example", false, false},
		// Over payvault's own TLS the request's scheme is known: an http page of the same
		// host is another origin.
		{"ok/request-host-tls", "vault.example", "", "https://vault.example", true, true},
		{"fail/request-host-tls-http-page", "vault.example", "", "http://vault.example", true, false},
		// A Host with the scheme's default port names the same origin as one without.
		{"ok/request-host-default-port", "vault.example:443", "", "https://vault.example", true, true},
		{"ok/public-base-url-default-port", "10.0.0.5:8080", "https://vault.example:443", "https://vault.example", false, true},
		{"fail/request-host-other-port", "vault.example:8443", "", "https://vault.example", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/x", nil)
			r.Host = tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := SameOrigin(r, tt.public, tt.origin); got != tt.want {
				t.Errorf("SameOrigin(%q, %q, %q) = %v, want %v", tt.host, tt.public, tt.origin, got, tt.want)
			}
		})
	}
}
