package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/storetest"
)

// The bounds the freeze test gives payvault on its PostgreSQL, short to keep the test short
// (docs/operations.md: 30 s, 15 s, 15 s and 5 s in production). A read's is the longest of
// one statement, so that a request held by two reads in a row (twice its bound) is told
// apart from one held by a single read within the slack.
var freezeWaits = app.DatabaseWaits{Read: 2 * time.Second, Queue: time.Second, Write: time.Second, CommitResolve: 1500 * time.Millisecond}

const (
	// freezeSlack is what an answer may take beyond its documented bound on a busy machine
	// (as in the sqlstore freeze tests).
	freezeSlack = 1500 * time.Millisecond
	// freezeHang is the limit past which a request counts as held by the frozen database (a
	// hang), generous for CI; the client gives up there.
	freezeHang = 15 * time.Second
	// thawLimit is how long payvault may take to serve again once PostgreSQL answers.
	thawLimit = 30 * time.Second
)

// freezeBound is how long a frozen database may hold a request, as docs/operations.md says:
// a read's bound, or for a write, whichever is longer of that and a write's queue wait, its
// statement's bound and a lost COMMIT's resolution.
func freezeBound(write bool) time.Duration {
	w := freezeWaits
	if !write {
		return w.Read
	}
	return max(w.Read, w.Queue+w.Write+w.CommitResolve)
}

// freezeCall is one request of the freeze test.
type freezeCall struct {
	name, api, method, path, body string
	header                        map[string]string
	write                         bool // write: the request writes (a create, a payment).
}

// freezeAnswer is a freezeCall's answer and how long it took.
type freezeAnswer struct {
	status int
	header http.Header
	raw    []byte
	took   time.Duration
	err    error
}

// do sends c to base with a client that gives up after limit, so that a request held by the
// database fails the test instead of hanging it. It reports errors instead of failing, so
// that goroutines may use it.
func (c freezeCall) do(base string, limit time.Duration) freezeAnswer {
	var rd io.Reader
	if c.body != "" {
		rd = bytes.NewReader([]byte(c.body))
	}
	req, err := http.NewRequest(c.method, base+c.path, rd)
	if err != nil {
		return freezeAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: limit}).Do(req)
	if err != nil {
		return freezeAnswer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return freezeAnswer{status: resp.StatusCode, header: resp.Header, raw: raw, took: time.Since(start), err: err}
}

// checkUnavailable reports how a's answer departs from the 503 of c's API: Paysafe's code 1000
// envelope, or Fortis's {"name","message","code":0,"status":503}, each with Retry-After: 2.
func (c freezeCall) checkUnavailable(a freezeAnswer) error {
	if a.status != http.StatusServiceUnavailable {
		return fmt.Errorf("status %d, want 503: %s", a.status, a.raw)
	}
	if ra := a.header.Get("Retry-After"); ra != "2" {
		return fmt.Errorf("Retry-After %q, want 2", ra)
	}
	var body map[string]any
	if err := json.Unmarshal(a.raw, &body); err != nil {
		return fmt.Errorf("body is not JSON: %s", a.raw)
	}
	switch c.api {
	case "paysafe":
		e, _ := body["error"].(map[string]any)
		if e["code"] != "1000" || e["message"] != "The service is temporarily unavailable; retry later." {
			return fmt.Errorf("not Paysafe's 1000 envelope: %s", a.raw)
		}
	case "fortis":
		want := map[string]any{"name": "Service Unavailable", "message": "The service is temporarily unavailable.", "code": 0.0, "status": 503.0}
		if fmt.Sprint(body) != fmt.Sprint(want) {
			return fmt.Errorf("not Fortis's 503 envelope: %s", a.raw)
		}
	}
	return nil
}

// mustFreezeJSON sends c, requires a 2xx answer and returns its decoded body.
func mustFreezeJSON(t *testing.T, base string, c freezeCall) map[string]any {
	t.Helper()
	a := c.do(base, thawLimit)
	if a.err != nil || a.status >= 300 {
		t.Fatalf("%s: %d %v %s", c.name, a.status, a.err, a.raw)
	}
	var m map[string]any
	if err := json.Unmarshal(a.raw, &m); err != nil {
		t.Fatalf("%s: not JSON: %s", c.name, a.raw)
	}
	return m
}

// TestFrozenPostgres: while payvault's PostgreSQL is frozen (every process of the server
// stopped with SIGSTOP, its socket still taking data), a Paysafe card read, card create and
// auth by token, and a Fortis vault read and create, each answer 503 in their API's envelope
// with Retry-After within the documented bounds, never a 500 and never a hang. Once the
// server is thawed the same requests succeed again without a restart, and each create that
// was answered 503, retried with its Idempotency-Key, is stored exactly once.
func TestFrozenPostgres(t *testing.T) {
	pg := storetest.OwnPostgres(t)
	dsn, err := pg.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	s := MustServer(t, func(c *app.Config) {
		c.DatabaseURL = dsn
		c.MasterKey = base64.StdEncoding.EncodeToString([]byte("frozen-postgres-master-key-01234"))
		c.DatabaseWaits = freezeWaits
		c.SimulatorDelayScale = &zero
	})
	const (
		psPAN     = "4111111111111111"
		psNewPAN  = "5200400000000009"
		ftPAN     = "5454545454545454"
		ftNewPAN  = "4012888888881881"
		psNewLast = "0009"
		ftNewLast = "1881"
		// The creates sent without an Idempotency-Key.
		psBarePAN  = "5555555555554444"
		ftBarePAN  = "4242424242424242"
		psBareLast = "4444"
		ftBareLast = "4242"
	)
	s.logs.Forbid(psPAN, psNewPAN, ftPAN, ftNewPAN, psBarePAN, ftBarePAN)

	// A merchant, with a profile and a card on Paysafe and a vault on Fortis.
	admin := map[string]string{"Authorization": "Bearer " + s.admin}
	mer := mustFreezeJSON(t, s.url, freezeCall{name: "merchant", method: "POST", path: "/admin/v1/merchants", body: `{"name":"Frozen"}`, header: admin})
	ps, ft := mer["paysafe"].(map[string]any), mer["fortis"].(map[string]any)
	s.logs.Forbid(ps["api_key_secret"].(string), ps["single_use_key_secret"].(string), ft["user_api_key"].(string), ft["ticket_hash_key"].(string))
	psAuth := map[string]string{"Authorization": basicAuth(ps["api_key_id"].(string), ps["api_key_secret"].(string))}
	ftAuth := map[string]string{"developer-id": ft["developer_id"].(string), "user-id": ft["user_id"].(string), "user-api-key": ft["user_api_key"].(string)}
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	prof := "/customervault/v1/profiles/" + mustFreezeJSON(t, s.url, freezeCall{name: "profile", method: "POST", path: "/customervault/v1/profiles",
		body: `{"merchantCustomerId":"frozen-1","locale":"en_US"}`, header: psAuth})["id"].(string)
	card := mustFreezeJSON(t, s.url, freezeCall{name: "card", method: "POST", path: prof + "/cards",
		body: `{"cardNum":"` + psPAN + `","cardExpiry":{"month":12,"year":2050}}`, header: psAuth})
	loc := ft["location_id"].(string)
	vaultID := mustFreezeJSON(t, s.url, freezeCall{name: "vault", method: "POST", path: "/v2/accountvaults",
		body: `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","account_number":"` + ftPAN + `","exp_date":"1228"}}`, header: ftAuth})["accountvault"].(map[string]any)["id"].(string)
	acct := "/cardpayments/v1/accounts/" + ps["account_number"].(string)

	calls := []freezeCall{
		{name: "paysafe/card-get", api: "paysafe", method: "GET", path: prof + "/cards/" + card["id"].(string), header: psAuth},
		{name: "paysafe/card-create", api: "paysafe", method: "POST", path: prof + "/cards",
			body: `{"cardNum":"` + psNewPAN + `","cardExpiry":{"month":11,"year":2051}}`, header: with(psAuth, "Idempotency-Key", "frozen-card"), write: true},
		{name: "paysafe/auth", api: "paysafe", method: "POST", path: acct + "/auths",
			body: `{"merchantRefNum":"frozen-auth","amount":1000,"card":{"paymentToken":"` + card["paymentToken"].(string) + `"}}`, header: with(psAuth, "Idempotency-Key", "frozen-auth"), write: true},
		{name: "fortis/vault-get", api: "fortis", method: "GET", path: "/v2/accountvaults/" + vaultID, header: ftAuth},
		{name: "fortis/vault-create", api: "fortis", method: "POST", path: "/v2/accountvaults",
			body: `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","account_number":"` + ftNewPAN + `","exp_date":"1230"}}`, header: with(ftAuth, "Idempotency-Key", "frozen-vault"), write: true},
		{name: "paysafe/card-create-without-key", api: "paysafe", method: "POST", path: prof + "/cards",
			body: `{"cardNum":"` + psBarePAN + `","cardExpiry":{"month":11,"year":2051}}`, header: psAuth, write: true},
		{name: "fortis/vault-create-without-key", api: "fortis", method: "POST", path: "/v2/accountvaults",
			body: `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","account_number":"` + ftBarePAN + `","exp_date":"1230"}}`, header: ftAuth, write: true},
	}
	for _, c := range []freezeCall{calls[0], calls[3]} {
		if a := c.do(s.url, thawLimit); a.err != nil || a.status != http.StatusOK {
			t.Fatalf("%s before the freeze: %d %v %s", c.name, a.status, a.err, a.raw)
		}
	}

	// Frozen, all at once, as clients would.
	thaw := pg.Freeze(t)
	frozen := make([]freezeAnswer, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); frozen[i] = c.do(s.url, freezeHang) }()
	}
	wg.Wait()
	thawed := time.Now()
	thaw()
	for i, c := range calls {
		a := frozen[i]
		t.Logf("frozen %s: %d in %v", c.name, a.status, a.took.Round(time.Millisecond))
		switch {
		case a.err != nil:
			t.Errorf("frozen %s: no answer within %v: %v", c.name, freezeHang, a.err)
		case a.took > freezeBound(c.write)+freezeSlack:
			t.Errorf("frozen %s: answered %d in %v; want within its bound, %v", c.name, a.status, a.took.Round(time.Millisecond), freezeBound(c.write))
			fallthrough
		default:
			if err := c.checkUnavailable(a); err != nil {
				t.Errorf("frozen %s: %v", c.name, err)
			}
		}
	}

	// Thawed: the reads answer again, without a restart.
	for _, c := range []freezeCall{calls[0], calls[3]} {
		deadline := thawed.Add(thawLimit)
		for {
			a := c.do(s.url, thawLimit)
			if a.err == nil && a.status == http.StatusOK {
				t.Logf("thawed %s: 200 %v after the thaw", c.name, time.Since(thawed).Round(time.Millisecond))
				break
			}
			if a.err == nil && a.status != http.StatusServiceUnavailable {
				t.Fatalf("thawed %s: %d %s", c.name, a.status, a.raw)
			}
			if time.Now().After(deadline) {
				t.Fatalf("thawed %s: still %d %v %s after %v", c.name, a.status, a.err, a.raw, thawLimit)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A create answered 503 may or may not be stored (docs/operations.md), never twice. One
	// sent without an Idempotency-Key is there at most once. One sent with a key was refused
	// before it ran, as its key could not be claimed (internal/api/paysafe/README.md,
	// Idempotency): its retry with the key runs it, once, and it is then there once. The count
	// reads every record of its kind.
	count := func(c freezeCall, path, list, field, want string) int {
		t.Helper()
		header := map[string]string{}
		for k, v := range c.header {
			if k != "Idempotency-Key" {
				header[k] = v
			}
		}
		m := mustFreezeJSON(t, s.url, freezeCall{name: path, method: "GET", path: path, header: header})
		items, _ := m[list].([]any)
		n := 0
		for _, it := range items {
			if r, _ := it.(map[string]any); r != nil && fmt.Sprint(r[field]) == want {
				n++
			}
		}
		return n
	}
	cards, vaults := prof+"?fields=cards", "/v2/accountvaults?page_size=50"
	for _, tt := range []struct {
		call                     freezeCall
		path, list, field, value string
	}{
		{calls[1], cards, "cards", "lastDigits", psNewLast},
		{calls[2], acct + "/auths?merchantRefNum=frozen-auth", "auths", "merchantRefNum", "frozen-auth"},
		{calls[4], vaults, "accountvaults", "last_four", ftNewLast},
		{calls[5], cards, "cards", "lastDigits", psBareLast},
		{calls[6], vaults, "accountvaults", "last_four", ftBareLast},
	} {
		c := tt.call
		before := count(c, tt.path, tt.list, tt.field, tt.value)
		if before > 1 {
			t.Errorf("thawed %s: stored %d times", c.name, before)
		}
		if c.header["Idempotency-Key"] == "" {
			t.Logf("thawed %s: stored %d times", c.name, before)
			continue
		}
		if before != 0 {
			t.Errorf("thawed %s: stored, though its key could not be claimed", c.name)
		}
		var a freezeAnswer
		for deadline := thawed.Add(thawLimit); ; {
			a = c.do(s.url, thawLimit)
			if a.err == nil && a.status < 300 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		after := count(c, tt.path, tt.list, tt.field, tt.value)
		t.Logf("thawed %s: stored %d times before its retry; the retry answered %d; stored %d times after", c.name, before, a.status, after)
		if a.err != nil || a.status >= 300 {
			t.Errorf("thawed %s: its retry answered %d %v %s", c.name, a.status, a.err, a.raw)
		} else if after != 1 {
			t.Errorf("thawed %s: stored %d times after its retry; want once", c.name, after)
		}
		// A second retry replays the first's answer and stores nothing.
		if b := c.do(s.url, thawLimit); b.err != nil || b.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(b.raw, a.raw) {
			t.Errorf("thawed %s: a second retry answered %d (replayed %q) %v %s", c.name, b.status, b.header.Get("Idempotent-Replayed"), b.err, b.raw)
		}
		if n := count(c, tt.path, tt.list, tt.field, tt.value); n != 1 {
			t.Errorf("thawed %s: stored %d times after a second retry; want once", c.name, n)
		}
	}

	// An internal error or a panic is logged at ERROR; an outage is a WARN. (The logs are
	// checked for card numbers and secrets when the test ends.)
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			t.Errorf("an ERROR line: %s", l)
		}
	}
}
