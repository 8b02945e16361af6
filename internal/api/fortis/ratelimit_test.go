package fortis_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/api/fortis"
	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// TestRateLimits: each user has its own bucket and browsers share their merchant's, each
// client address with a bucket of its own within it; a request over it is 429 "Rate limit
// exceeded." with Retry-After; a client that keeps failing authentication is refused before
// its credentials are checked.
func TestRateLimits(t *testing.T) {
	s := mustServer(t)
	clk := &clock{now: testNow}
	// TrustedProxy lets each browser name its client address in X-Forwarded-For; the calls
	// that send none count against the peer, 127.0.0.1, as before.
	limits := httpx.NewLimits(httpx.LimitsConfig{Rate: 1, Burst: 2, FailureRate: 1, FailureBurst: 2,
		PublicRate: 1, PublicBurst: 1, TrustedProxy: true, Now: clk.Now})
	log, logs := logtest.New(t)
	c := s.creds.Fortis
	logs.Forbid(c.UserAPIKey, c.TicketHashKey)
	s.h = httpx.Wrap(fortis.New(s.svc, fortis.Options{Logger: log, PublicBaseURL: "https://vault.example", Payments: s.ps, Limits: limits}), httpx.Options{Logger: log})
	_, second := s.mustUser(t, vault.NewUser{Username: "second", PrimaryLocationID: c.LocationID})

	list := call{Method: http.MethodGet, Path: "/v2/contacts"}
	asSecond := call{Method: http.MethodGet, Path: "/v2/contacts", As: &second}
	wrong := userCreds{c.DeveloperID, c.UserID, "0123456789abcdef01234567"}
	bad := call{Method: http.MethodGet, Path: "/v2/contacts", As: &wrong}
	// ticket is a browser at client address addr making a ticket.
	ticket := func(addr string) call {
		h := s.browserHeaders(c.LocationAPIKey, c.TicketHashKey, 0)
		h["X-Forwarded-For"] = addr
		return call{Method: http.MethodPost, Path: "/v2/cardtickets", NoAuth: true, Header: h,
			Body: `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230"}}`}
	}
	const limited = `{"name":"Too Many Requests","message":"Rate limit exceeded.","code":0,"status":429}`
	type answer struct {
		Status     int
		RetryAfter string
	}
	steps := []struct {
		name  string
		c     call
		want  answer
		after time.Duration
	}{
		{"ok/burst-1", list, answer{200, ""}, 0},
		{"ok/burst-2", list, answer{200, ""}, 0},
		{"fail/over-the-burst", list, answer{429, "1"}, 0},
		{"ok/another-user-has-its-own-bucket", asSecond, answer{200, ""}, 0},
		{"ok/browser-1", ticket("198.51.100.1"), answer{201, ""}, 0},
		{"ok/browser-2", ticket("198.51.100.2"), answer{201, ""}, 0},
		{"fail/browsers-share-their-merchants-bucket", ticket("198.51.100.3"), answer{429, "1"}, 5 * time.Second},
		{"ok/refilled", list, answer{200, ""}, 0},
		{"fail/bad-key-1", bad, answer{401, ""}, 0},
		{"fail/bad-key-2", bad, answer{401, ""}, 0},
		{"fail/guessing-slowed", bad, answer{429, "1"}, 0},
		{"fail/client-refused-before-credentials", asSecond, answer{429, "1"}, time.Second},
		{"ok/client-let-in-again", asSecond, answer{200, ""}, 0},
		{"ok/public-client", ticket("198.51.100.4"), answer{201, ""}, 0},
		{"fail/public-client-over-its-own-burst", ticket("198.51.100.4"), answer{429, "1"}, 0},
		{"ok/another-client-address-has-its-own-bucket", ticket("198.51.100.5"), answer{201, ""}, 0},
		{"fail/the-merchants-bucket-still-applies", ticket("198.51.100.6"), answer{429, "1"}, 0},
	}
	for _, st := range steps {
		r := s.do(t, st.c)
		if d := cmp.Diff(st.want, answer{r.Status, r.Header.Get("Retry-After")}); d != "" {
			t.Errorf("%s (-want +got)\n%s\n%s", st.name, d, r.Body)
		}
		if r.Status == 429 && string(r.Body) != limited {
			t.Errorf("%s: body %s", st.name, r.Body)
		}
		clk.Add(st.after)
	}
	// A page's ticket request over its limit, or with a bad hash, reads its answer (both come
	// before the location's origins are known).
	fromPage := ticket("198.51.100.6")
	fromPage.Header["Origin"] = "https://shop.example"
	if r := s.do(t, fromPage); r.Status != 429 || r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("a page's 429: %d %v", r.Status, r.Header)
	}
	clk.Add(5 * time.Second)
	badHash := ticket("198.51.100.7")
	badHash.Header["Origin"] = "https://shop.example"
	badHash.Header["hash-key"] = strings.Repeat("0", len(badHash.Header["hash-key"]))
	if r := s.do(t, badHash); r.Status != 401 || r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("a page's bad hash: %d %v %s", r.Status, r.Header, r.Body)
	}
}
