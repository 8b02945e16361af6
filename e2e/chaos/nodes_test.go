package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/storetest"
)

// cluster is several `payvault serve` nodes on one PostgreSQL database, with one client per node.
type cluster struct {
	cfg     nodeConfig
	nodes   []*node
	clients []*client
	db      *sql.DB
	rng     *rand.Rand
}

// MustCluster starts n nodes on a fresh database with one master key: the first alone (it
// creates the sandbox merchant), the others together.
func MustCluster(t *testing.T, n int) *cluster {
	t.Helper()
	cfg := nodeConfig{dir: t.TempDir(), env: []string{"PAYVAULT_MASTER_KEY=" + newMasterKey()}, args: []string{"--database", storetest.PostgresDSN(t)}}
	c := &cluster{cfg: cfg, rng: rand.New(rand.NewPCG(chaosSeed(t), 1))}
	first := MustNode(t, cfg)
	creds := firstStartCredentials(t, first)
	c.nodes = append(c.nodes, first)
	rest := make([]*node, n-1)
	for i := range rest {
		rest[i] = startNode(t, cfg)
	}
	for _, m := range rest {
		m.mustReady(t)
	}
	c.nodes = append(c.nodes, rest...)
	hc := newHTTPClient()
	for _, m := range c.nodes {
		c.clients = append(c.clients, &client{hc: hc, url: m.url, creds: creds})
	}
	c.db = openDB(t, cfg)
	t.Cleanup(func() { c.db.Close() })
	return c
}

// race sends n requests at once, spread over the nodes, and returns the answers in order.
func (c *cluster) race(t *testing.T, n int, send func(i int, cl *client) (reply, error)) []reply {
	t.Helper()
	out := make([]reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = send(i, c.clients[i%len(c.clients)])
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// tally counts the answers by status and Paysafe code ("402/3204"), or status alone.
func tally(rs []reply) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		k := itoa(int64(r.status))
		if c := r.errCode(); c != "" {
			k += "/" + c
		}
		m[k]++
	}
	return m
}

// mustOK returns a check that a request was answered with a 2xx:
// mustOK(t)(cl.paysafe(…)).
func mustOK(t *testing.T) func(reply, error) reply {
	return func(r reply, err error) reply {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if !r.ok() {
			t.Fatalf("unexpected answer %s", r)
		}
		return r
	}
}

// TestManyNodes runs three nodes on one PostgreSQL and races clients across them: one-time
// tokens and tickets are consumed once, a duplicate card is refused, settlements and refunds
// stay within their auth and settlement, an idempotency key runs once, a key rotation made
// by one process is honoured by every node within seconds, and a starting node resolves at
// once what a killed node left in flight while it leaves live nodes' calls alone.
func TestManyNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos tests are not short")
	}
	began := time.Now()
	top := t
	c := MustCluster(t, 3)
	ctx := deadlineCtx(t, 5*time.Minute)
	cl := c.clients[0]

	t.Run("single-use-token-consumed-once", func(t *testing.T) {
		for round := range 8 {
			pan := newPAN(c.rng)
			tok := mustOK(t)(c.clients[round%3].paysafeSUT(ctx, "POST", "/customervault/v1/singleusetokens",
				`{"card":{"cardNum":"`+pan+`","cardExpiry":{"month":12,"year":2040}}}`)).str("paymentToken")
			prof := mustOK(t)(c.clients[(round+1)%3].paysafe(ctx, "POST", "/customervault/v1/profiles",
				`{"merchantCustomerId":"sut-race-`+itoa(int64(round))+`","locale":"en_US"}`)).str("id")
			// Auths and vaultings race for the token on every node.
			rs := c.race(t, 6, func(i int, cl *client) (reply, error) {
				if i%2 == 0 || round%2 == 0 {
					return cl.paysafe(ctx, "POST", cl.txn("auths"), `{"merchantRefNum":"sut-`+itoa(int64(round*10+i))+`","amount":1500,"card":{"paymentToken":"`+tok+`"}}`)
				}
				return cl.paysafe(ctx, "POST", "/customervault/v1/profiles/"+prof+"/cards", `{"singleUseToken":"`+tok+`"}`)
			})
			won := 0
			for _, r := range rs {
				switch {
				case r.ok():
					won++
				case r.status == 400 && (r.errCode() == "5500" || r.errCode() == "5068"):
				default:
					t.Errorf("round %d: unexpected answer %s", round, r)
				}
			}
			if won != 1 {
				t.Errorf("round %d: the single-use token was used %d times across nodes: %v", round, won, tally(rs))
			}
		}
	})

	t.Run("ticket-consumed-once", func(t *testing.T) {
		loc := cl.creds.Fortis.LocationID
		for round := range 8 {
			pan := newPAN(c.rng)
			r := mustOK(t)(c.clients[round%3].fortis(ctx, "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"`+pan+`","exp_date":"1230","location_id":"`+loc+`"}}`))
			tk := r.obj("cardticket").str("id")
			rs := c.race(t, 6, func(i int, cl *client) (reply, error) {
				return cl.fortis(ctx, "POST", "/v2/accountvaults", `{"accountvault":{"payment_method":"cc","ticket":"`+tk+`","location_id":"`+loc+`"}}`)
			})
			if got := tally(rs); got["201"] != 1 || got["422"] != 5 {
				t.Errorf("round %d: a ticket raced on three nodes: %v, want one 201 and five 422", round, got)
			}
		}
	})

	t.Run("duplicate-card-refused", func(t *testing.T) {
		for round := range 8 {
			prof := mustOK(t)(c.clients[round%3].paysafe(ctx, "POST", "/customervault/v1/profiles",
				`{"merchantCustomerId":"dup-race-`+itoa(int64(round))+`","locale":"en_US"}`)).str("id")
			pan := newPAN(c.rng)
			rs := c.race(t, 6, func(i int, cl *client) (reply, error) {
				return cl.paysafe(ctx, "POST", "/customervault/v1/profiles/"+prof+"/cards",
					`{"cardNum":"`+pan+`","cardExpiry":{"month":`+itoa(int64(1+i))+`,"year":2040}}`)
			})
			if got := tally(rs); got["201"] != 1 || got["409/7503"] != 5 {
				t.Errorf("round %d: one card added six times on three nodes: %v, want one 201 and five 409/7503", round, got)
			}
			if n := countRows(ctx, t, c.db, "SELECT COUNT(*) FROM instruments WHERE profile_id = '"+prof+"'"); n != 1 {
				t.Errorf("round %d: the profile holds %d cards", round, n)
			}
		}
	})

	// A profile with a card for the money races and the key rotation.
	pan := newPAN(c.rng)
	prof := mustOK(t)(cl.paysafe(ctx, "POST", "/customervault/v1/profiles",
		`{"merchantCustomerId":"money","locale":"en_US","card":{"cardNum":"`+pan+`","cardExpiry":{"month":12,"year":2040},"billingAddress":{"street":"10 Main","country":"US","zip":"10014"}}}`))
	cardToken := reply{body: prof.body["cards"].([]any)[0].(map[string]any)}.str("paymentToken")

	t.Run("settlements-within-auth", func(t *testing.T) {
		for round := range 5 {
			auth := mustOK(t)(c.clients[round%3].paysafe(ctx, "POST", cl.txn("auths"),
				`{"merchantRefNum":"money-`+itoa(int64(round))+`","amount":10000,"card":{"paymentToken":"`+cardToken+`"}}`)).str("id")
			amounts := make([]int64, 12)
			for i := range amounts {
				amounts[i] = 1000 + c.rng.Int64N(3000)
			}
			rs := c.race(t, len(amounts), func(i int, cl *client) (reply, error) {
				if i%4 == 3 { // some void what is left instead
					return cl.paysafe(ctx, "POST", cl.txn("auths/"+auth+"/voidauths"), `{"merchantRefNum":"v-`+itoa(int64(i))+`","amount":`+itoa(amounts[i])+`}`)
				}
				return cl.paysafe(ctx, "POST", cl.txn("auths/"+auth+"/settlements"), `{"merchantRefNum":"s-`+itoa(int64(i))+`","amount":`+itoa(amounts[i])+`}`)
			})
			var taken int64
			for i, r := range rs {
				switch {
				case r.status == 200:
					taken += amounts[i]
				case r.status == 402 && (r.errCode() == "3203" || r.errCode() == "3204" || r.errCode() == "3501" || r.errCode() == "3502"):
				default:
					t.Errorf("round %d: unexpected answer %s", round, r)
				}
			}
			g := mustOK(t)(cl.paysafe(ctx, "GET", cl.txn("auths/"+auth), ""))
			if taken > 10000 || g.num("availableToSettle") != 10000-taken {
				t.Errorf("round %d: settled and voided %d of 10000 on three nodes; availableToSettle %d (%v)", round, taken, g.num("availableToSettle"), tally(rs))
			}
		}
	})

	t.Run("refunds-within-settlement", func(t *testing.T) {
		for round := range 5 {
			// Settled with the auth: its settlement shows under the auth's id.
			auth := mustOK(t)(c.clients[round%3].paysafe(ctx, "POST", cl.txn("auths"),
				`{"merchantRefNum":"refund-`+itoa(int64(round))+`","amount":10000,"settleWithAuth":true,"card":{"paymentToken":"`+cardToken+`"}}`)).str("id")
			amounts := make([]int64, 12)
			for i := range amounts {
				amounts[i] = 1000 + c.rng.Int64N(3000)
			}
			rs := c.race(t, len(amounts), func(i int, cl *client) (reply, error) {
				return cl.paysafe(ctx, "POST", cl.txn("settlements/"+auth+"/refunds"), `{"merchantRefNum":"r-`+itoa(int64(i))+`","amount":`+itoa(amounts[i])+`}`)
			})
			var taken int64
			for i, r := range rs {
				switch {
				case r.status == 200:
					taken += amounts[i]
				case r.status == 402 && (r.errCode() == "3402" || r.errCode() == "3404"):
				default:
					t.Errorf("round %d: unexpected answer %s", round, r)
				}
			}
			g := mustOK(t)(cl.paysafe(ctx, "GET", cl.txn("settlements/"+auth), ""))
			if taken > 10000 || g.num("availableToRefund") != 10000-taken {
				t.Errorf("round %d: refunded %d of 10000 on three nodes; availableToRefund %d (%v)", round, taken, g.num("availableToRefund"), tally(rs))
			}
		}
	})

	t.Run("fortis-refunds-within-sale", func(t *testing.T) {
		loc := cl.creds.Fortis.LocationID
		v := mustOK(t)(cl.fortis(ctx, "POST", "/v2/accountvaults",
			`{"accountvault":{"payment_method":"cc","account_number":"`+newPAN(c.rng)+`","exp_date":"1230","location_id":"`+loc+`"}}`)).obj("accountvault").str("id")
		for round := range 5 {
			sale := mustOK(t)(c.clients[round%3].fortis(ctx, "POST", "/v2/transactions",
				`{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"100.00","account_vault_id":"`+v+`"}}`)).obj("transaction")
			if sale.num("status_id") != 101 {
				t.Fatalf("sale: %s", sale)
			}
			amounts := make([]int64, 12)
			for i := range amounts {
				amounts[i] = 1000 + c.rng.Int64N(3000)
			}
			rs := c.race(t, len(amounts), func(i int, cl *client) (reply, error) {
				return cl.fortis(ctx, "POST", "/v2/transactions",
					`{"transaction":{"action":"refund","payment_method":"cc","transaction_amount":"`+dollars(amounts[i])+`","previous_transaction_id":"`+sale.str("id")+`"}}`)
			})
			var taken int64
			for i, r := range rs {
				switch {
				case r.status == 201 && r.obj("transaction").num("status_id") == 111:
					taken += amounts[i]
				case r.status == 422:
				default:
					t.Errorf("round %d: unexpected answer %s", round, r)
				}
			}
			left := countRows(ctx, t, c.db, "SELECT available FROM transactions WHERE id = '"+sale.str("id")+"'")
			if taken > 10000 || int64(left) != 10000-taken {
				t.Errorf("round %d: refunded %d of a 10000 sale on three nodes; %d left (%v)", round, taken, left, tally(rs))
			}
		}
	})

	t.Run("idempotency-key-runs-once", func(t *testing.T) {
		for round := range 6 {
			key := "nodes-" + keys.RandomString(20, keys.Alnum)
			ref := "idem-" + itoa(int64(round))
			path, body := cl.txn("auths"), `{"merchantRefNum":"`+ref+`","amount":2500,"card":{"paymentToken":"`+cardToken+`"}}`
			if round%2 == 1 {
				path, body = "/customervault/v1/profiles", `{"merchantCustomerId":"`+ref+`","locale":"en_US"}`
			}
			rs := c.race(t, 6, func(i int, cl *client) (reply, error) {
				return cl.paysafe(ctx, "POST", path, body, "Idempotency-Key", key)
			})
			fresh := 0
			for _, r := range rs {
				if !r.ok() || r.str("id") != rs[0].str("id") || r.status != rs[0].status {
					t.Errorf("round %d: answers differ across nodes: %s vs %s", round, r, rs[0])
				}
				if r.header.Get("Idempotent-Replayed") != "true" {
					fresh++
				}
			}
			if fresh != 1 {
				t.Errorf("round %d: %d of 6 answers were not replays", round, fresh)
			}
			q := "SELECT COUNT(*) FROM transactions WHERE type = 'auth' AND merchant_ref_num = '" + ref + "'"
			if round%2 == 1 {
				q = "SELECT COUNT(*) FROM profiles WHERE merchant_customer_id = '" + ref + "'"
			}
			if n := countRows(ctx, t, c.db, q); n != 1 {
				t.Errorf("round %d: the request ran %d times", round, n)
			}
		}
	})

	t.Run("key-rotation-honoured-by-every-node", func(t *testing.T) {
		status := func() uint32 {
			out, err := runCLI(t, c.cfg, append([]string{"keys", "status", "--json"}, storeArgs(c.cfg)...)...)
			if err != nil {
				t.Fatalf("keys status: %v\n%s", err, out)
			}
			var st struct {
				Primary uint32 `json:"primary_key_id"`
			}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatal(err)
			}
			return st.Primary
		}
		old := status()
		// Data sealed before the rotation, one card per node.
		var before []string
		for i, cl := range c.clients {
			r := mustOK(t)(cl.paysafe(ctx, "POST", "/customervault/v1/profiles",
				`{"merchantCustomerId":"pre-rotation-`+itoa(int64(i))+`","locale":"en_US","card":{"cardNum":"`+newPAN(c.rng)+`","cardExpiry":{"month":12,"year":2040}}}`))
			before = append(before, reply{body: r.body["cards"].([]any)[0].(map[string]any)}.str("paymentToken"))
		}
		rotated := time.Now()
		if out, err := runCLI(t, c.cfg, append([]string{"keys", "rotate"}, storeArgs(c.cfg)...)...); err != nil {
			t.Fatalf("keys rotate: %v\n%s", err, out)
		}
		primary := status()
		if primary == old {
			t.Fatalf("primary key %d did not change", primary)
		}
		// Every node seals new cards, single-use tokens and transactions under the new key within seconds.
		var slowest time.Duration
		for i, cl := range c.clients {
			for {
				r := mustOK(t)(cl.paysafe(ctx, "POST", "/customervault/v1/profiles",
					`{"merchantCustomerId":"post-rotation-`+keys.RandomString(12, keys.Alnum)+`","locale":"en_US","card":{"cardNum":"`+newPAN(c.rng)+`","cardExpiry":{"month":12,"year":2040}}}`))
				id := reply{body: r.body["cards"].([]any)[0].(map[string]any)}.str("id")
				if countRows(ctx, t, c.db, "SELECT dek_id FROM instruments WHERE id = '"+id+"'") == int(primary) {
					break
				}
				if time.Since(rotated) > 20*time.Second {
					t.Fatalf("node %d still seals new cards under key %d 20 s after the rotation to %d", i, old, primary)
				}
				time.Sleep(100 * time.Millisecond)
			}
			slowest = max(slowest, time.Since(rotated))
			sut := mustOK(t)(cl.paysafeSUT(ctx, "POST", "/customervault/v1/singleusetokens", `{"card":{"cardNum":"`+newPAN(c.rng)+`","cardExpiry":{"month":12,"year":2040}}}`))
			if n := countRows(ctx, t, c.db, "SELECT dek_id FROM onetime_tokens WHERE token = '"+sut.str("paymentToken")+"'"); n != int(primary) {
				t.Errorf("node %d sealed a single-use token under key %d after the rotation to %d", i, n, primary)
			}
			// Old data still opens: an auth decrypts a card sealed before the rotation.
			a := mustOK(t)(cl.paysafe(ctx, "POST", cl.txn("auths"), `{"merchantRefNum":"old-key-`+itoa(int64(i))+`","amount":1700,"card":{"paymentToken":"`+before[(i+1)%len(before)]+`"}}`))
			if a.str("status") != "COMPLETED" {
				t.Errorf("node %d: auth with a card sealed under the old key: %s", i, a)
			}
			if n := countRows(ctx, t, c.db, "SELECT dek_id FROM transactions WHERE id = '"+a.str("id")+"'"); n != int(primary) {
				t.Errorf("node %d sealed a transaction under key %d after the rotation to %d", i, n, primary)
			}
		}
		t.Logf("every node sealed under the new key %d within %v of the rotation", primary, slowest.Round(time.Millisecond))
	})

	t.Run("recovery-spares-live-nodes", func(t *testing.T) {
		// Two slow auths (the sandbox waits 5 s on amount 90, 10 s on 91) are in flight on
		// nodes 0 and 1 when node 1 is killed. A node starting then resolves node 1's at once
		// and leaves node 0's alone, which completes normally.
		waitPostgresSettled(ctx, t, c.db)
		type result struct {
			r   reply
			err error
		}
		done := make(chan result, 2)
		for i, amount := range []string{"90", "91"} {
			go func() {
				r, err := c.clients[i].paysafe(ctx, "POST", cl.txn("auths"), `{"merchantRefNum":"slow-`+amount+`","amount":`+amount+`,"card":{"paymentToken":"`+cardToken+`"}}`)
				done <- result{r, err}
			}()
		}
		received := func(ref string) string {
			var id string
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				err := c.db.QueryRowContext(ctx, "SELECT id FROM transactions WHERE merchant_ref_num = '"+ref+"' AND status = 'RECEIVED'").Scan(&id)
				if err == nil {
					return id
				}
			}
			t.Fatalf("%s never showed RECEIVED", ref)
			return ""
		}
		live, orphan := received("slow-90"), received("slow-91")
		c.nodes[1].kill(t)
		<-done // node 1's client is cut off
		// The new node belongs to the whole test: it outlives the subtest.
		d := MustNode(top, c.cfg)
		c.nodes[1], c.clients[1] = d, &client{hc: cl.hc, url: d.url, creds: cl.creds}
		status := func(id string) string {
			var st string
			if err := c.db.QueryRowContext(ctx, "SELECT status FROM transactions WHERE id = '"+id+"'").Scan(&st); err != nil {
				t.Fatal(err)
			}
			return st
		}
		if got := []string{status(orphan), status(live)}; got[0] != "FAILED" || got[1] != "RECEIVED" {
			t.Errorf("after a node started: the killed node's auth is %s (want FAILED), the live node's %s (want RECEIVED)", got[0], got[1])
		}
		r := <-done
		if r.err != nil || r.r.status != 200 || r.r.str("status") != "COMPLETED" || status(live) != "COMPLETED" {
			t.Errorf("the live node's slow auth: %s, %v; stored %s", r.r, r.err, status(live))
		}
	})

	checkDB(ctx, t, c.db)
	for _, m := range c.nodes {
		m.stop(t)
	}
	t.Logf("three nodes on one PostgreSQL: %v", time.Since(began).Round(time.Millisecond))
}

// waitPostgresSettled waits until PostgreSQL has run for 13 s. A node counts every node alive
// for 12 s after PostgreSQL started, since a restart ends every node's lock until it retakes
// it (sqlstore.NodeAlive), so start-up recovery resolves a killed node's payments only after
// that, as it does on a deployment's database.
func waitPostgresSettled(ctx context.Context, t *testing.T, db *sql.DB) {
	t.Helper()
	var up float64
	if err := db.QueryRowContext(ctx, "SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())::float8").Scan(&up); err != nil {
		t.Fatal(err)
	}
	if wait := 13*time.Second - time.Duration(up*float64(time.Second)); wait > 0 {
		time.Sleep(wait)
	}
}
