package httpx

import (
	"net/http/httptest"
	"testing"
)

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name, host, public, origin string
		want                       bool
	}{
		{"ok/request-host", "127.0.0.1:8080", "", "http://127.0.0.1:8080", true},
		{"ok/request-host-https-behind-proxy", "vault.example", "", "https://vault.example", true},
		{"ok/host-case", "Vault.Example", "", "https://vault.example", true},
		{"ok/public-base-url", "10.0.0.5:8080", "https://vault.example", "https://vault.example", true},
		{"ok/public-base-url-slash", "10.0.0.5:8080", "https://vault.example/", "https://vault.example", true},
		{"fail/other-host", "127.0.0.1:8080", "", "http://127.0.0.1:8081", false},
		{"fail/other-site", "vault.example", "", "https://shop.example", false},
		{"fail/public-base-url-scheme", "10.0.0.5:8080", "https://vault.example", "http://vault.example", false},
		{"fail/request-host-not-public", "vault.example", "https://pay.example", "https://vault.example", false},
		{"fail/null", "vault.example", "", "null", false},
		{"fail/empty", "vault.example", "", "", false},
		{"fail/path", "vault.example", "", "https://vault.example/x", false},
		{"fail/userinfo", "vault.example", "", "https://u@vault.example", false},
		{"fail/other-scheme", "vault.example", "", "ftp://vault.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/x", nil)
			r.Host = tt.host
			if got := SameOrigin(r, tt.public, tt.origin); got != tt.want {
				t.Errorf("SameOrigin(%q, %q, %q) = %v, want %v", tt.host, tt.public, tt.origin, got, tt.want)
			}
		})
	}
}
