package paysafe_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/api/paysafe"
)

// TestRateLimits: each credential has its own bucket (the single-use-token key its
// merchant's, and each client address its own within it), a request over it is 429/1200 with
// Retry-After, and a client that keeps failing authentication is refused before its
// credentials are checked, good ones included.
func TestRateLimits(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	// TrustedProxy lets the steps name their client address in X-Forwarded-For; the steps
	// that send none count against the peer, 127.0.0.1, as before.
	limits := httpx.NewLimits(httpx.LimitsConfig{Rate: 1, Burst: 3, FailureRate: 1, FailureBurst: 2,
		PublicRate: 1, PublicBurst: 2, TrustedProxy: true, Now: clk.Now})
	e := MustEnv(t, func(c *paysafe.Config) { c.Limits = limits })
	other := e.MustMerchant(t, false)
	lookup := call{method: "GET", path: "/customervault/v1/profiles/00000000-0000-7000-8000-000000000000"}
	asOther := lookup
	asOther.user, asOther.pass = other.Paysafe.APIKeyID, other.Paysafe.APIKeySecret
	sut := call{method: "POST", path: "/customervault/v1/singleusetokens", user: e.creds.Paysafe.SingleUseKeyID, pass: e.creds.Paysafe.SingleUseKeySecret,
		body: `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040}}}`}
	sutFrom := func(addr string) call {
		c := sut
		c.header = map[string]string{"X-Forwarded-For": addr}
		return c
	}
	bad := lookup
	bad.user, bad.pass = e.creds.Paysafe.APIKeyID, "wrong-secret"

	type answer struct {
		Status     int
		Code       string
		RetryAfter string
	}
	send := func(c call) answer {
		r := e.do(t, c)
		return answer{r.status, r.code(), r.header.Get("Retry-After")}
	}
	limited := answer{429, "1200", "1"}
	steps := []struct {
		name  string
		c     call
		want  answer
		after time.Duration // after advances the clock once the step is done
	}{
		{"ok/burst-1", lookup, answer{404, "5269", ""}, 0},
		{"ok/burst-2", lookup, answer{404, "5269", ""}, 0},
		{"ok/burst-3", lookup, answer{404, "5269", ""}, 0},
		{"fail/over-the-burst", lookup, limited, 0},
		{"ok/another-credential-has-its-own-bucket", asOther, answer{404, "5269", ""}, 0},
		{"ok/the-single-use-key-has-its-merchants-bucket", sut, answer{200, "", ""}, time.Second},
		{"ok/refilled-after-a-second", lookup, answer{404, "5269", ""}, 5 * time.Second},
		{"fail/bad-secret-1", bad, answer{401, "5279", ""}, 0},
		{"fail/bad-secret-2", bad, answer{401, "5279", ""}, 0},
		{"fail/guessing-slowed", bad, limited, 0},
		{"fail/client-refused-before-credentials", asOther, limited, time.Second},
		{"ok/client-let-in-again", asOther, answer{404, "5269", ""}, 0},
		// The single-use key is public: each client address has a bucket of its own too.
		{"ok/public-client-1", sutFrom("198.51.100.1"), answer{200, "", ""}, 0},
		{"ok/public-client-2", sutFrom("198.51.100.1"), answer{200, "", ""}, 0},
		{"fail/public-client-over-its-own-burst", sutFrom("198.51.100.1"), limited, 0},
		{"ok/another-client-address-has-its-own-bucket", sutFrom("198.51.100.2"), answer{200, "", ""}, 0},
		{"fail/the-merchants-bucket-still-applies", sutFrom("198.51.100.3"), limited, 0},
	}
	for _, st := range steps {
		if d := cmp.Diff(st.want, send(st.c)); d != "" {
			t.Errorf("%s (-want +got)\n%s", st.name, d)
		}
		clk.Add(st.after)
	}
	// A page's token request over its limit reads its 429 (the limit applies before the
	// merchant's origins are known).
	fromPage := sutFrom("198.51.100.1")
	fromPage.header["Origin"] = "https://shop.example"
	if r := e.do(t, fromPage); r.status != 429 || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("a page's 429: %d %v", r.status, r.header)
	}
	// The envelope reads as the code table says.
	e.do(t, bad)
	r := e.do(t, bad)
	if msg, _ := r.body["error"].(map[string]any)["message"].(string); r.status != 429 || msg != "You have exceeded the maximum number of allowed API calls." {
		t.Errorf("429 body = %s", r.raw)
	}
}
