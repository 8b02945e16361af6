package vault

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestErrors(t *testing.T) {
	inner := E("sqlstore.GetProfile", NotFound, ID("p1"))
	outer := E("vault.GetProfile", inner)
	if KindOf(outer) != NotFound {
		t.Errorf("KindOf = %v", KindOf(outer))
	}
	if e := AsError(outer); e == nil || e.ID != "p1" {
		t.Errorf("AsError = %+v", e)
	}
	if got, want := outer.Error(), "vault.GetProfile: sqlstore.GetProfile: not found [p1]"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if Wrap("x", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
	if KindOf(errors.New("plain")) != Internal || KindOf(nil) != Other {
		t.Error("KindOf of plain errors")
	}
	f := E("op", Invalid, Field("number"), ErrLuhn)
	if !errors.Is(f, ErrLuhn) || AsError(fmt.Errorf("wrapped: %w", f)).Field != "number" {
		t.Error("reason or field lost through wrapping")
	}
}

// TestErrorReadsOnce: an *Error wrapping another does not repeat the kind, field and id its
// cause already shows, so a wrapped chain reads once.
func TestErrorReadsOnce(t *testing.T) {
	dup := E("sqlstore.InsertLocation", Conflict, Field("account_number"), ErrDuplicate)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"ok/store-conflict", E("vault.CreateMerchant", dup), "vault.CreateMerchant: sqlstore.InsertLocation: conflict (account_number): already in use"},
		{"ok/conflict-without-op", E("vault.CreateLocation", E(Conflict, Field("location_api_id"), ErrDuplicate)), "vault.CreateLocation: conflict (location_api_id): already in use"},
		{"ok/through-fmt", E("vault.CreateMerchant", fmt.Errorf("insert: %w", dup)), "vault.CreateMerchant: insert: sqlstore.InsertLocation: conflict (account_number): already in use"},
		{"ok/twice-wrapped", E("api", E("vault.CreateMerchant", dup)), "api: vault.CreateMerchant: sqlstore.InsertLocation: conflict (account_number): already in use"},
		{"ok/card-conflict-id", E("vault.CreateCard", E(Conflict, Field("number"), ErrDuplicate, ID("c1"))), "vault.CreateCard: conflict (number) [c1]: already in use"},
		// What differs from the cause is kept.
		{"ok/other-kind", E("vault.X", Unavailable, E("sqlstore.Y", Internal, errors.New("boom"))), "vault.X: unavailable: sqlstore.Y: internal: boom"},
		{"ok/other-field", E("vault.X", Invalid, Field("a"), E(Invalid, Field("b"), ErrFormat)), "vault.X: invalid (a): invalid (b): bad format"},
		{"ok/plain-cause", E("vault.X", Conflict, ErrDuplicate), "vault.X: conflict: already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.err.Error()); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestOrigins(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://Shop.Example.com", "https://shop.example.com", true},
		{"http://localhost:3000/", "http://localhost:3000", true},
		{"https://shop.example.com/path", "", false},
		{"javascript:alert(1)", "", false},
		{"https://user@shop.example.com", "", false},
		{"", "", false},
		// A browser's Origin never carries the scheme's default port (RFC 6454 §6.2), so a
		// configured one is dropped; another port is kept.
		{"https://shop.example.com:443", "https://shop.example.com", true},
		{"http://shop.example.com:80/", "http://shop.example.com", true},
		{"http://shop.example.com:443", "http://shop.example.com:443", true},
		{"https://[2001:db8::1]:443", "https://[2001:db8::1]", true},
		{"https://shop.example.com:8443", "https://shop.example.com:8443", true},
		// No browser sends an origin that names no host it could reach: a port out of
		// range, an empty label, a character no host name has, an address that is not one.
		{"https://a.example:99999", "", false},
		{"https://a.example:65536", "", false},
		{"https://a.example:0", "", false},
		{"https://a.example:", "", false},
		{"http://a..b", "", false},
		{"http://.a.example", "", false},
		{"http://a%20b.example", "", false},
		{"http://a_b!.example", "", false},
		{"http://[zz::1]", "", false},
		{"http://" + strings.Repeat("a", 64) + ".example", "", false},
		{"https://a.example:65535", "https://a.example:65535", true},
		{"https://xn--bcher-kva.example", "https://xn--bcher-kva.example", true},
		{"https://my_host.example", "https://my_host.example", true},
		{"https://10.0.0.1:8443", "https://10.0.0.1:8443", true},
		// A trailing dot names the same host, but browsers treat it as another origin.
		{"https://shop.example.", "https://shop.example.", true},
	}
	for _, tt := range tests {
		got, ok := NormalizeOrigin(tt.in)
		if d := cmp.Diff([]any{tt.want, tt.ok}, []any{got, ok}); d != "" {
			t.Errorf("NormalizeOrigin(%q) (-want +got)\n%s", tt.in, d)
		}
	}
	sandbox := &Merchant{}
	live := &Merchant{Live: true}
	if !OriginAllowed(sandbox, nil, "https://any.example") {
		t.Error("a sandbox merchant without origins refuses an origin")
	}
	if OriginAllowed(live, nil, "https://any.example") {
		t.Error("a live merchant without origins allows any origin")
	}
	loc := &Location{AllowedOrigins: []string{"https://shop.example"}}
	if !OriginAllowed(live, loc, "https://shop.example") || OriginAllowed(live, loc, "https://evil.example") {
		t.Error("location origins not honoured")
	}
	// An origin stored with its default port before NormalizeOrigin dropped it still matches
	// the browser's.
	old := &Merchant{Live: true, AllowedOrigins: []string{"https://shop.example:443"}}
	if !OriginAllowed(old, nil, "https://shop.example") || OriginAllowed(old, nil, "https://shop.example:8443") {
		t.Error("a stored origin with its default port does not match the browser's")
	}
}
