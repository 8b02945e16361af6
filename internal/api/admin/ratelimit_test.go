package admin_test

import (
	"sync"
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
