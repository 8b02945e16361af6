package admin_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/admin"
	"github.com/payvault/payvault/internal/api/httpx"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// TestRateLimits: the admin token has a bucket, a request over it is 429 rate_limited with
// Retry-After, and a client that keeps failing authentication is refused before its token is
// checked.
func TestRateLimits(t *testing.T) {
	clk := &testClock{now: time.Unix(1_800_000_000, 0)}
	limits := httpx.NewLimits(httpx.LimitsConfig{Rate: 1, Burst: 2, FailureRate: 1, FailureBurst: 2, Now: clk.Now})
	e := MustEnv(t, func(c *admin.Config) { c.Limits = limits })
	type answer struct {
		Status     int
		Code       string
		RetryAfter string
	}
	steps := []struct {
		name, token string
		want        answer
		after       time.Duration
	}{
		{"ok/burst-1", "", answer{200, "", ""}, 0},
		{"ok/burst-2", "", answer{200, "", ""}, 0},
		{"fail/over-the-burst", "", answer{429, "rate_limited", "1"}, 5 * time.Second},
		{"ok/refilled", "", answer{200, "", ""}, 0},
		{"fail/bad-token-1", "wrong-token", answer{401, "unauthorized", ""}, 0},
		{"fail/no-token", "-", answer{401, "unauthorized", ""}, 0},
		{"fail/guessing-slowed", "wrong-token", answer{429, "rate_limited", "1"}, 0},
		{"fail/client-refused-before-the-token", "", answer{429, "rate_limited", "1"}, time.Second},
		{"ok/client-let-in-again", "", answer{200, "", ""}, 0},
	}
	for _, st := range steps {
		r := e.do(t, "GET", "/admin/v1/merchants", "", st.token)
		if d := cmp.Diff(st.want, answer{r.status, r.code(), r.header.Get("Retry-After")}); d != "" {
			t.Errorf("%s (-want +got)\n%s\n%s", st.name, d, r.raw)
		}
		clk.Add(st.after)
	}
}

// TestTokenCheckUnavailable: when the token cannot be checked (the store is down) the answer
// is 503 unavailable with Retry-After, never 401, and it is not counted as a failed
// authentication: an operator polling through an outage is not locked out.
func TestTokenCheckUnavailable(t *testing.T) {
	clk := &testClock{now: time.Unix(1_800_000_000, 0)}
	limits := httpx.NewLimits(httpx.LimitsConfig{Rate: 100, Burst: 100, FailureRate: 1, FailureBurst: 2, Now: clk.Now})
	var down atomic.Bool
	down.Store(true)
	e := MustEnv(t, func(c *admin.Config) {
		c.Limits = limits
		check := c.CheckToken
		c.CheckToken = func(ctx context.Context, tok string) (bool, error) {
			if down.Load() {
				return false, errors.New("database down")
			}
			return check(ctx, tok)
		}
	})
	for range 5 {
		r := e.do(t, "GET", "/admin/v1/merchants", "", "")
		if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Fatalf("token check with the store down: %d %s, Retry-After %q", r.status, r.raw, r.header.Get("Retry-After"))
		}
	}
	down.Store(false)
	if r := e.do(t, "GET", "/admin/v1/merchants", "", ""); r.status != 200 {
		t.Errorf("after the outage: %d %s", r.status, r.raw)
	}
}
