package httpx

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// Limiter is a per-key token bucket: each key (a credential id) may make Burst requests at
// once and Rate requests per second on average. It is per node; several nodes each apply it.
type Limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter allowing rate requests per second with bursts of burst per key.
// A rate of 0 disables limiting.
func NewLimiter(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket and reports whether there was one; when there was
// not, it also returns how long until there is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.wait(b)
}

// Blocked reports whether key's bucket is empty, and how long until it is not, without
// taking a token.
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return false, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, l.wait(b)
}

// refill adds the tokens earned since the bucket was last seen.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if now.After(b.last) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
}

// wait is how long until an empty bucket holds one token.
func (l *Limiter) wait(b *bucket) time.Duration {
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// Limits are the request rate limits every API applies, per node:
//
//   - per credential: each authenticated request takes a token from its credential's bucket
//     (for a public key, a browser or single-use-token key, its merchant's bucket);
//   - per public client: a request with a public key also takes a token from the bucket of
//     its merchant and client address, so that one client scripting a key embedded in a
//     checkout page cannot spend the merchant's whole bucket;
//   - per client address: each failed authentication takes a token from the client's bucket,
//     and while that bucket is empty the client's requests are refused before their
//     credentials are checked, so guessing credentials is slow.
//
// A nil *Limits limits nothing. Refusals are *vault.Error of Kind RateLimited wrapping a
// *RetryError; each API answers them in its own envelope with a Retry-After header.
type Limits struct {
	credentials  *Limiter
	public       *Limiter
	failures     *Limiter
	trustedProxy bool
}

// LimitsConfig configures Limits. A rate of 0 turns that limit off.
type LimitsConfig struct {
	Rate  float64 // Rate is requests per second per credential.
	Burst int     // Burst is how many requests a credential may make at once.
	// PublicRate is requests per second per merchant and client address with a public key,
	// on top of the merchant's Rate; PublicBurst is how many such a client may make at once.
	PublicRate  float64
	PublicBurst int
	// FailureRate is failed authentications per second per client address; FailureBurst is
	// how many may fail in a row before the client is refused.
	FailureRate  float64
	FailureBurst int
	// TrustedProxy takes the client address from the last X-Forwarded-For entry, the one the
	// trusted proxy in front of payvault appended.
	TrustedProxy bool
	Now          func() time.Time
}

// NewLimits returns the limits cfg describes, or nil when all are off.
func NewLimits(cfg LimitsConfig) *Limits {
	if cfg.Rate <= 0 && cfg.PublicRate <= 0 && cfg.FailureRate <= 0 {
		return nil
	}
	l := &Limits{trustedProxy: cfg.TrustedProxy}
	if cfg.Rate > 0 {
		l.credentials = NewLimiter(cfg.Rate, cfg.Burst, cfg.Now)
	}
	if cfg.PublicRate > 0 {
		l.public = NewLimiter(cfg.PublicRate, cfg.PublicBurst, cfg.Now)
	}
	if cfg.FailureRate > 0 {
		l.failures = NewLimiter(cfg.FailureRate, cfg.FailureBurst, cfg.Now)
	}
	return l
}

// RetryError says how long a rate-limited client should wait.
type RetryError struct{ Wait time.Duration }

func (e *RetryError) Error() string { return "rate limited; retry after " + e.Wait.String() }

// RetryAfter returns the Retry-After value (whole seconds, at least 1) of a rate-limit error,
// or "" when err is not one.
func RetryAfter(err error) string {
	var re *RetryError
	if !errors.As(err, &re) {
		return ""
	}
	return strconv.FormatInt(max(1, int64(math.Ceil(re.Wait.Seconds()))), 10)
}

func limited(op string, wait time.Duration) error {
	return vault.E(op, vault.RateLimited, &RetryError{Wait: wait})
}

// CheckClient refuses, with Kind RateLimited, a request whose client has failed
// authentication too often lately. Call it before checking the request's credentials.
func (l *Limits) CheckClient(r *http.Request) error {
	if l == nil {
		return nil
	}
	if blocked, wait := l.failures.Blocked(ClientAddr(r, l.trustedProxy)); blocked {
		return limited("httpx.CheckClient", wait)
	}
	return nil
}

// Failed charges a failed authentication to the request's client.
func (l *Limits) Failed(r *http.Request) {
	if l != nil {
		l.failures.Allow(ClientAddr(r, l.trustedProxy))
	}
}

// CheckCredential takes a token from a credential's bucket, and refuses the request with
// Kind RateLimited when there is none. key names the credential (or the merchant of a
// public key), prefixed by its kind so that kinds never share a bucket.
func (l *Limits) CheckCredential(key string) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.credentials.Allow(key); !ok {
		return limited("httpx.CheckCredential", wait)
	}
	return nil
}

// CheckPublic is CheckCredential for a public key (key names its merchant): it first takes a
// token from the bucket of the merchant and the request's client address, so that a client
// over its own limit is refused without spending the merchant's bucket, and then one from
// the merchant's.
func (l *Limits) CheckPublic(r *http.Request, key string) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.public.Allow(key + "@" + ClientAddr(r, l.trustedProxy)); !ok {
		return limited("httpx.CheckPublic", wait)
	}
	return l.CheckCredential(key)
}

// ClientAddr is the address a request counts against: the peer's IP or, behind a trusted
// proxy, the last X-Forwarded-For entry.
func ClientAddr(r *http.Request, trustedProxy bool) string {
	if trustedProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := strings.TrimSpace(last); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
