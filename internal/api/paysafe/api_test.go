package paysafe_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/payvault/payvault/internal/api/paysafe"
)

func TestMonitor(t *testing.T) {
	e := MustEnv(t)
	for _, tt := range []struct {
		name string
		c    call
	}{
		{"ok/no-credentials", call{method: "GET", path: "/customervault/monitor", noAuth: true}},
		{"ok/bad-credentials", call{method: "GET", path: "/customervault/monitor/", user: "x", pass: "y"}},
		{"ok/cardpayments", call{method: "GET", path: "/cardpayments/monitor"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, 200, tt.c)
			if r.str("status") != "READY" {
				t.Errorf("status = %q", r.str("status"))
			}
		})
	}
}

// TestMonitorStoreDown: while the store does not answer, the monitors answer 503 with the
// status UNAVAILABLE and the 1000 envelope together, and READY again once it answers. Health
// checks poll the monitors, so their 503s add no WARN line of their own.
func TestMonitorStoreDown(t *testing.T) {
	var down atomic.Bool
	e := MustEnv(t, func(c *paysafe.Config) {
		c.Ready = func(context.Context) error {
			if down.Load() {
				return errors.New("the database is down")
			}
			return nil
		}
	})
	down.Store(true)
	for _, path := range []string{"/customervault/monitor", "/cardpayments/monitor"} {
		r := e.do(t, call{method: "GET", path: path, noAuth: true})
		errObj, _ := r.body["error"].(map[string]any)
		if r.status != 503 || r.str("status") != "UNAVAILABLE" || errObj["code"] != "1000" ||
			r.header.Get("Retry-After") == "" || r.header.Get("X-Application-Status-Code") != "1000" ||
			strings.Contains(string(r.raw), "database") {
			t.Errorf("%s while down: %d %s (Retry-After %q)", path, r.status, r.raw, r.header.Get("Retry-After"))
		}
	}
	if strings.Contains(e.logs.String(), "service unavailable") {
		t.Errorf("the monitors' 503s were logged as warnings:\n%s", e.logs)
	}
	down.Store(false)
	if r := e.must(t, 200, call{method: "GET", path: "/customervault/monitor", noAuth: true}); r.str("status") != "READY" {
		t.Errorf("after: %s", r.raw)
	}
}

func TestProfileCardLookupTour(t *testing.T) {
	e := MustEnv(t)
	pid := e.MustProfile(t, "tour-1")
	aid := e.MustAddress(t, pid)
	c := e.must(t, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards/",
		body: `{"cardNum":"4111111111111111","cardExpiry":{"month":"12","year":"2040"},"billingAddressId":"` + aid + `"}`})
	if c.str("cardType") != "VI" || c.str("cardCategory") != "CREDIT" || c.body["defaultCardIndicator"] != true {
		t.Errorf("card = %s", c.raw)
	}
	l := e.must(t, 200, call{method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=tour-1&fields=cards,ADDRESSES"})
	if l.str("id") != pid {
		t.Errorf("lookup = %s", l.raw)
	}
	if cards, _ := l.body["cards"].([]any); len(cards) != 1 {
		t.Errorf("lookup cards = %s", l.raw)
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := MustEnv(t)
	r := e.do(t, call{method: "GET", path: "/customervault/openapi.yaml", noAuth: true})
	if r.status != 200 || r.header.Get("Content-Type") != "application/yaml" || !strings.HasPrefix(string(r.raw), "openapi: 3") {
		t.Errorf("openapi.yaml = %d %q", r.status, r.header.Get("Content-Type"))
	}
}
