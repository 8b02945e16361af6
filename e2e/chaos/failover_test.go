package chaos

import (
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/storetest"
)

// write is one profile create sent during a failover, and its answer.
type write struct {
	mcid   string
	sent   time.Time
	at     time.Time // at is when the answer arrived.
	status int       // status is 0 when the request failed without an answer.
	retry  string    // retry is the Retry-After header.
	err    error
}

// failoverLog collects the writes of several writers.
type failoverLog struct {
	mu     sync.Mutex
	writes []write
}

func (l *failoverLog) add(w write) {
	l.mu.Lock()
	l.writes = append(l.writes, w)
	l.mu.Unlock()
}

// first returns the write answered first among those for which match holds, and whether
// there is one.
func (l *failoverLog) first(match func(w write) bool) (write, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first write
	found := false
	for _, w := range l.writes {
		if match(w) && (!found || w.at.Before(first.at)) {
			first, found = w, true
		}
	}
	return first, found
}

func (w write) ok() bool { return w.status >= 200 && w.status < 300 }

// acked returns the writes answered 2xx.
func (l *failoverLog) acked() []write {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []write
	for _, w := range l.writes {
		if w.ok() {
			out = append(out, w)
		}
	}
	return out
}

// TestFailoverPostgres runs `payvault serve` on a PostgreSQL primary with a synchronous
// streaming standby, named together in a multi-host DSN with target_session_attrs=read-write,
// while clients write. It stops the primary hard (pg_ctl -m immediate) and promotes the
// standby, and checks that while there is no primary every write is answered 503 with
// Retry-After (never a 500, never a hang), that writes succeed again on the promoted standby
// within seconds without a restart of payvault, and that every write acknowledged before,
// during or after the failover is in the new primary.
func TestFailoverPostgres(t *testing.T) { runFailover(t, false) }

// TestFailoverPostgresStandbyCut is TestFailoverPostgres with the standby cut off from the
// primary first (its primary_conninfo emptied), so that the primary is stopped while its
// commits wait for the standby, as after a network partition: those commits are on the old
// primary alone, and not one may be acknowledged unless it runs again on the new primary. The
// new primary hands their transaction ids out again, so a lost COMMIT must not be resolved by
// asking it about an id (it is resolved by the mark the transaction wrote, which the new
// primary does not have).
func TestFailoverPostgresStandbyCut(t *testing.T) { runFailover(t, true) }

// runFailover is TestFailoverPostgres, with the standby cut off before the crash when cut is
// set.
func runFailover(t *testing.T, cut bool) {
	if testing.Short() {
		t.Skip("chaos tests are not short")
	}
	r := storetest.OwnReplicated(t)
	dsn, err := r.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	cfg := nodeConfig{dir: t.TempDir(), env: []string{"PAYVAULT_MASTER_KEY=" + newMasterKey()}, args: []string{"--database", dsn}}
	n := MustNode(t, cfg)
	hc, creds := newHTTPClient(), firstStartCredentials(t, n)
	// A second node stays idle until the promotion, as a node that had no write in flight.
	n2 := MustNode(t, cfg)
	cl, cl2 := &client{hc: hc, url: n.url, creds: creds}, &client{hc: hc, url: n2.url, creds: creds}
	ctx := deadlineCtx(t, 90*time.Second)

	var log failoverLog
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// startWriters starts n clients of cl that create profiles one after another until stop.
	startWriters := func(cl *client, tag string, n int) {
		for w := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					wr := write{mcid: fmt.Sprintf("fo-%s%d-%d", tag, w, i), sent: time.Now()}
					rep, err := cl.paysafe(ctx, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"`+wr.mcid+`","locale":"en_US"}`)
					wr.at, wr.status, wr.retry, wr.err = time.Now(), rep.status, rep.header.Get("Retry-After"), err
					log.add(wr)
					if !rep.ok() {
						// A node without a database answers at once: pace the retries as a
						// client would, a little.
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
						}
					}
				}
			}()
		}
	}
	startWriters(cl, "a", 4)
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWriters)

	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				stopWriters()
				t.Fatalf("%s: not within %v\nstderr:\n%s\nsecond node:\n%s", what, d, tail(n.stderr.String()), tail(n2.stderr.String()))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("30 writes acknowledged before the failover", 15*time.Second, func() bool { return len(log.acked()) >= 30 })
	if cut {
		if err := r.CutStandby(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor("a commit waiting for the cut standby", 15*time.Second, func() bool {
			n, err := r.Primary.WaitingForStandby(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n > 0
		})
	}

	crashed := time.Now()
	if err := r.Primary.Crash(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	refusedAfterStop := func(w write) bool { return !w.ok() && w.at.After(stopped) }
	if !cut {
		waitFor("a write refused after the primary stopped", 15*time.Second, func() bool {
			_, ok := log.first(refusedAfterStop)
			return ok
		})
		// /healthz shares one check of the database every 500 ms.
		var health *http.Response
		waitFor("/healthz answering 503 with no primary", 5*time.Second, func() bool {
			resp, err := http.Get(n.url + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			health = resp
			return resp.StatusCode == 503
		})
		if health.Header.Get("Retry-After") == "" {
			t.Errorf("/healthz with no primary answered 503 without Retry-After")
		}
	}
	// With the standby cut, the standby is promoted at once: while the writers' lost COMMITs
	// are still being resolved.
	promote := time.Now()
	if err := r.Standby.Promote(); err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	t.Logf("failover: pg_ctl promote ran from %v to %v after pg_ctl stop returned", promote.Sub(stopped).Round(time.Millisecond), promoted.Sub(stopped).Round(time.Millisecond))
	sentAfterPromotion := func(w write) bool { return w.ok() && w.sent.After(promoted) }
	// The first node may wait out a lost COMMIT (up to 5 s): the second writes meanwhile.
	startWriters(cl2, "b", 4)
	waitFor("a write acknowledged after the promotion", 15*time.Second, func() bool {
		_, ok := log.first(sentAfterPromotion)
		return ok
	})
	back, _ := log.first(sentAfterPromotion)
	// More writes on the new primary, then the writers stop.
	after := len(log.acked())
	waitFor("20 more writes on the new primary", 15*time.Second, func() bool { return len(log.acked()) >= after+20 })
	stopWriters()

	var lastBefore time.Time
	for _, w := range log.acked() {
		if w.at.Before(crashed) && w.at.After(lastBefore) {
			lastBefore = w.at
		}
	}
	if refused, ok := log.first(refusedAfterStop); ok {
		t.Logf("failover: first 503 %v after pg_ctl stop returned", refused.at.Sub(stopped).Round(time.Millisecond))
	}
	t.Logf("failover: first 2xx %v after pg_ctl promote returned; %v from the last 2xx before the crash to the first after",
		back.at.Sub(promoted).Round(time.Millisecond), back.at.Sub(lastBefore).Round(time.Millisecond))

	// No write was answered with anything but a 2xx or a 503 with Retry-After.
	counts := map[int]int{}
	var slowest time.Duration
	for _, w := range log.writes {
		counts[w.status]++
		if w.status == 503 {
			slowest = max(slowest, w.at.Sub(w.sent))
		}
		switch {
		case w.err != nil:
			t.Errorf("write %s sent %v after the crash: %v", w.mcid, w.sent.Sub(crashed).Round(time.Millisecond), w.err)
		case w.ok():
		case w.status == 503 && w.retry != "":
		default:
			t.Errorf("write %s sent %v after the crash: %d, Retry-After %q, want a 2xx or a 503 with Retry-After", w.mcid, w.sent.Sub(crashed).Round(time.Millisecond), w.status, w.retry)
		}
	}
	t.Logf("answers by status: %v; the slowest 503 took %v", counts, slowest.Round(time.Millisecond))

	// Every acknowledged write is in the new primary.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var port int
	if err := db.QueryRowContext(ctx, "SELECT inet_server_port()").Scan(&port); err != nil || port != r.Standby.Port() {
		t.Fatalf("the check reads port %d (%v), want the promoted standby's %d", port, err, r.Standby.Port())
	}
	have := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SELECT merchant_customer_id FROM profiles WHERE merchant_customer_id LIKE 'fo-%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		have[m] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, w := range log.acked() {
		if !have[w.mcid] {
			lost++
			t.Errorf("write %s, acknowledged %v after the crash, is not in the new primary", w.mcid, w.at.Sub(crashed).Round(time.Millisecond))
		}
	}
	t.Logf("%d writes acknowledged, %d lost", len(log.acked()), lost)
}
