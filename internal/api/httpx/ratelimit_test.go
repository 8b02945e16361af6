package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/vault"
)

func TestLimiterBlocked(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(2, 2, func() time.Time { return now })
	if b, _ := l.Blocked("a"); b {
		t.Error("an unknown key is blocked")
	}
	l.Allow("a")
	l.Allow("a")
	b, wait := l.Blocked("a")
	if !b || wait != 500*time.Millisecond {
		t.Errorf("Blocked after the burst = %v, %v; want true, 500ms", b, wait)
	}
	// Looking takes nothing: half a second later one request passes.
	l.Blocked("a")
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("Blocked took a token")
	}
}

func TestLimits(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	t.Run("ok/off", func(t *testing.T) {
		l := NewLimits(LimitsConfig{})
		if l != nil {
			t.Fatal("limits with both rates 0 are not nil")
		}
		r := httptest.NewRequest("GET", "/", nil)
		l.Failed(r)
		if err := l.CheckClient(r); err != nil {
			t.Error(err)
		}
		if err := l.CheckCredential("k"); err != nil {
			t.Error(err)
		}
		if err := l.CheckPublic(r, "k"); err != nil {
			t.Error(err)
		}
	})
	t.Run("ok/public-only", func(t *testing.T) {
		l := NewLimits(LimitsConfig{PublicRate: 1, PublicBurst: 1, Now: clock})
		r := httptest.NewRequest("GET", "/", nil)
		if err := l.CheckPublic(r, "k"); err != nil {
			t.Fatal(err)
		}
		if err := l.CheckPublic(r, "k"); vault.KindOf(err) != vault.RateLimited {
			t.Errorf("over the client's burst with only PublicRate set: %v", err)
		}
		if err := l.CheckCredential("k"); err != nil {
			t.Errorf("credential limited with Rate 0: %v", err)
		}
	})
	t.Run("ok/credential-only", func(t *testing.T) {
		l := NewLimits(LimitsConfig{Rate: 1, Burst: 1, Now: clock})
		r := httptest.NewRequest("GET", "/", nil)
		for range 5 {
			l.Failed(r)
		}
		if err := l.CheckClient(r); err != nil {
			t.Errorf("failures limited with FailureRate 0: %v", err)
		}
		if err := l.CheckCredential("k"); err != nil {
			t.Fatal(err)
		}
		err := l.CheckCredential("k")
		if vault.KindOf(err) != vault.RateLimited || RetryAfter(err) != "1" {
			t.Errorf("over the burst: %v, Retry-After %q", err, RetryAfter(err))
		}
	})
	t.Run("ok/retry-after-rounds-up", func(t *testing.T) {
		l := NewLimits(LimitsConfig{Rate: 0.25, Burst: 1, Now: clock})
		l.CheckCredential("k")
		if got := RetryAfter(l.CheckCredential("k")); got != "4" {
			t.Errorf("Retry-After at 0.25/s = %q, want 4", got)
		}
		if got := RetryAfter(vault.E(vault.RateLimited)); got != "" {
			t.Errorf("Retry-After of an error without a wait = %q", got)
		}
	})
}

// TestCheckPublic: a public key's request takes a token from its client's own bucket (the
// client address behind a trusted proxy) and from the merchant-wide one; a client over its
// burst does not drain the merchant's bucket, and other clients keep theirs.
func TestCheckPublic(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimits(LimitsConfig{Rate: 1, Burst: 3, PublicRate: 0.5, PublicBurst: 2, TrustedProxy: true, Now: func() time.Time { return now }})
	from := func(addr string) *http.Request {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = "10.0.0.1:4444"
		r.Header.Set("X-Forwarded-For", addr)
		return r
	}
	// answer is "ok" or the Retry-After of a refusal.
	answer := func(r *http.Request, key string) string {
		err := l.CheckPublic(r, key)
		if err == nil {
			return "ok"
		}
		if vault.KindOf(err) != vault.RateLimited {
			t.Fatalf("refusal of Kind %v: %v", vault.KindOf(err), err)
		}
		return RetryAfter(err)
	}
	a, b, c := from("198.51.100.1"), from("198.51.100.2"), from("198.51.100.3")
	steps := []struct {
		name, want string
		r          *http.Request
		key        string
	}{
		{"ok/client-a-1", "ok", a, "m"},
		{"ok/client-a-2", "ok", a, "m"},
		{"fail/client-a-over-its-burst", "2", a, "m"},
		{"ok/client-b-has-its-own-bucket", "ok", b, "m"},
		{"fail/the-merchant-wide-bucket-still-applies", "1", c, "m"},
		{"ok/another-merchant-is-another-client-bucket", "ok", a, "n"},
	}
	for _, st := range steps {
		if d := cmp.Diff(st.want, answer(st.r, st.key)); d != "" {
			t.Errorf("%s (-want +got)\n%s", st.name, d)
		}
	}
}

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name, remote string
		xff          []string
		trusted      bool
		want         string
	}{
		{"ok/peer", "203.0.113.7:5555", nil, false, "203.0.113.7"},
		{"ok/peer-v6", "[2001:db8::1]:443", nil, false, "2001:db8::1"},
		{"ok/forwarded-ignored-without-a-trusted-proxy", "10.0.0.1:1", []string{"198.51.100.9"}, false, "10.0.0.1"},
		{"ok/last-hop-of-the-trusted-proxy", "10.0.0.1:1", []string{"1.2.3.4, 198.51.100.9"}, true, "198.51.100.9"},
		{"ok/last-header", "10.0.0.1:1", []string{"1.2.3.4", "198.51.100.10"}, true, "198.51.100.10"},
		{"ok/trusted-without-header", "10.0.0.1:1", nil, true, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if d := cmp.Diff(tt.want, ClientAddr(r, tt.trusted)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}
