package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
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
	mu      sync.Mutex
	writes  []write
	waiting map[string]time.Time // waiting holds when each write not yet answered was sent.
}

// send notes a write sent.
func (l *failoverLog) send(w write) {
	l.mu.Lock()
	if l.waiting == nil {
		l.waiting = map[string]time.Time{}
	}
	l.waiting[w.mcid] = w.sent
	l.mu.Unlock()
}

// add notes a write's answer.
func (l *failoverLog) add(w write) {
	l.mu.Lock()
	delete(l.waiting, w.mcid)
	l.writes = append(l.writes, w)
	l.mu.Unlock()
}

// waitingSince reports whether a write sent before t still waits for its answer.
func (l *failoverLog) waitingSince(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sent := range l.waiting {
		if sent.Before(t) {
			return true
		}
	}
	return false
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

// failoverMode is how the primary is lost in a failover test.
type failoverMode int

const (
	// primaryCrash stops the primary hard (pg_ctl -m immediate): its host refuses
	// connections at once.
	primaryCrash failoverMode = iota
	// standbyCut cuts the standby off first, then crashes the primary.
	standbyCut
	// primarySilent freezes the primary's processes (SIGSTOP): its host still takes
	// connections and data, and nothing answers, as in a network partition or a hung host.
	primarySilent
)

// TestFailoverPostgres runs `payvault serve` on a PostgreSQL primary with a synchronous
// streaming standby, named together in a multi-host DSN with target_session_attrs=read-write,
// while clients write. It stops the primary hard (pg_ctl -m immediate) and promotes the
// standby, and checks that while there is no primary every write is answered 503 with
// Retry-After (never a 500, never a hang), that writes succeed again on the promoted standby
// within seconds without a restart of payvault, and that every write acknowledged before,
// during or after the failover is in the new primary.
func TestFailoverPostgres(t *testing.T) { runFailover(t, primaryCrash) }

// TestFailoverPostgresStandbyCut is TestFailoverPostgres with the standby cut off from the
// primary first (its primary_conninfo emptied), so that the primary is stopped while its
// commits wait for the standby, as after a network partition: those commits are on the old
// primary alone, and not one may be acknowledged unless it runs again on the new primary. The
// new primary hands their transaction ids out again, so a lost COMMIT must not be resolved by
// asking it about an id (it is resolved by the mark the transaction wrote, which the new
// primary does not have).
func TestFailoverPostgresStandbyCut(t *testing.T) { runFailover(t, standbyCut) }

// TestFailoverPostgresSilent is TestFailoverPostgres with a primary that goes silent rather
// than away: its processes are frozen (SIGSTOP), so its port still takes connections and
// data and nothing answers, and the standby is promoted at once. Writes in flight, sessions
// in the pool and new sessions that try the frozen first host of the DSN must all give up
// within bounds, and writes succeed again on the new primary without a restart. The old
// primary is then thawed, on its own diverged timeline: nothing it holds may be acknowledged.
func TestFailoverPostgresSilent(t *testing.T) { runFailover(t, primarySilent) }

// runFailover is TestFailoverPostgres, with the primary lost as mode says.
func runFailover(t *testing.T, mode failoverMode) {
	if testing.Short() {
		t.Skip("chaos tests are not short")
	}
	r := storetest.OwnReplicated(t)
	dsn, err := r.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	if mode == primarySilent {
		// While the first host is silent, every new session spends the connect timeout on it
		// before it tries the next: 3 s, as docs/operations.md advises for several hosts,
		// rather than the default 10 s (the figures of both are there).
		dsn += " connect_timeout=3"
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
					log.send(wr)
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
	if mode == standbyCut {
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
	thaw := func() {}
	if mode == primarySilent {
		thaw = r.Primary.Freeze(t)
	} else if err := r.Primary.Crash(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	refusedAfterStop := func(w write) bool { return !w.ok() && w.at.After(stopped) }
	if mode == primaryCrash {
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
	// are still being resolved. A silent primary is replaced at once too, while the writes
	// sent to it wait for it.
	promote := time.Now()
	if err := r.Standby.Promote(); err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	lostBy := "pg_ctl stop returned"
	if mode == primarySilent {
		lostBy = "the primary was frozen"
	}
	t.Logf("failover: pg_ctl promote ran from %v to %v after %s", promote.Sub(stopped).Round(time.Millisecond), promoted.Sub(stopped).Round(time.Millisecond), lostBy)
	sentAfterPromotion := func(w write) bool { return w.ok() && w.sent.After(promoted) }
	// The first node may wait out a lost COMMIT (up to 5 s): the second writes meanwhile.
	startWriters(cl2, "b", 4)
	// healthy holds when each node's /healthz first answered 200 after the promotion (0:
	// never), once the writers have stopped.
	healthy := make([]time.Duration, 2)
	if mode == primarySilent {
		for i, n := range []*node{n, n2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					resp, err := http.Get(n.url + "/healthz")
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == 200 {
							healthy[i] = time.Since(promoted)
							return
						}
					}
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
		}
	}
	// A new session tries the frozen primary first, for its connect timeout (3 s), then the
	// promoted standby.
	within := 15 * time.Second
	if mode == primarySilent {
		within = 30 * time.Second
	}
	waitFor("a write acknowledged after the promotion", within, func() bool {
		_, ok := log.first(sentAfterPromotion)
		return ok
	})
	back, _ := log.first(sentAfterPromotion)
	// More writes on the new primary, then the writers stop.
	after := len(log.acked())
	waitFor("20 more writes on the new primary", 15*time.Second, func() bool { return len(log.acked()) >= after+20 })
	var thawed time.Time
	if mode == primarySilent {
		// Every write sent before the promotion has its answer, and both nodes write again:
		// only then is the old primary thawed, so that it cannot answer a write it held.
		waitFor("every write sent to the frozen primary answered, and both nodes writing again", 40*time.Second, func() bool {
			_, a := log.first(func(w write) bool { return sentAfterPromotion(w) && strings.HasPrefix(w.mcid, "fo-a") })
			return a && !log.waitingSince(promoted)
		})
		thaw()
		thawed = time.Now()
		after := len(log.acked())
		waitFor("20 more writes after the old primary was thawed", 15*time.Second, func() bool { return len(log.acked()) >= after+20 })
	}
	stopWriters()

	var lastBefore time.Time
	for _, w := range log.acked() {
		if w.at.Before(crashed) && w.at.After(lastBefore) {
			lastBefore = w.at
		}
	}
	if refused, ok := log.first(refusedAfterStop); ok {
		t.Logf("failover: first 503 %v after %s", refused.at.Sub(stopped).Round(time.Millisecond), lostBy)
	}
	t.Logf("failover: first 2xx %v after pg_ctl promote returned; %v from the last 2xx before the crash to the first after",
		back.at.Sub(promoted).Round(time.Millisecond), back.at.Sub(lastBefore).Round(time.Millisecond))

	// No write was answered with anything but a 2xx or a 503 with Retry-After, nor later than
	// a frozen database's bounds allow: a read on a session that met the frozen server (its
	// credentials: 30 s), then its write's 15 s in the queue, 15 s for its COMMIT and 5 s to
	// resolve it; and some slack.
	const bound = 30*time.Second + 35*time.Second + 5*time.Second
	counts := map[int]int{}
	var slowest, slowestOK time.Duration
	for _, w := range log.writes {
		counts[w.status]++
		took := w.at.Sub(w.sent)
		if w.status == 503 {
			slowest = max(slowest, took)
		} else if w.ok() {
			slowestOK = max(slowestOK, took)
		}
		if took > bound {
			t.Errorf("write %s sent %v after the crash: answered after %v, over %v", w.mcid, w.sent.Sub(crashed).Round(time.Millisecond), took.Round(time.Millisecond), bound)
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
	t.Logf("answers by status: %v; the slowest 503 took %v, the slowest 2xx %v", counts, slowest.Round(time.Millisecond), slowestOK.Round(time.Millisecond))
	if mode == primarySilent {
		resumed, _ := log.first(func(w write) bool { return sentAfterPromotion(w) && strings.HasPrefix(w.mcid, "fo-a") })
		t.Logf("failover: the first node wrote again %v after pg_ctl promote returned; /healthz first answered 200 %v and %v after",
			resumed.at.Sub(promoted).Round(time.Millisecond), healthy[0].Round(time.Millisecond), healthy[1].Round(time.Millisecond))
		for i, d := range healthy {
			if d == 0 {
				t.Errorf("/healthz of node %d never answered 200 after the promotion", i+1)
			}
		}
	}

	// Every acknowledged write is in the new primary. The multi-host DSN reaches it, unless
	// the old primary was thawed: that one is first in the DSN and still takes writes.
	name := dbnameRE.FindStringSubmatch(dsn)[1]
	if mode != primarySilent {
		var port int
		if err := mustOpen(t, dsn).QueryRowContext(ctx, "SELECT inet_server_port()").Scan(&port); err != nil || port != r.Standby.Port() {
			t.Fatalf("the check reads port %d (%v), want the promoted standby's %d", port, err, r.Standby.Port())
		}
	}
	have := profileIDs(ctx, t, mustOpen(t, r.Standby.DSN(name)))
	lost := 0
	for _, w := range log.acked() {
		if !have[w.mcid] {
			lost++
			t.Errorf("write %s, acknowledged %v after the crash, is not in the new primary", w.mcid, w.at.Sub(crashed).Round(time.Millisecond))
		}
	}
	t.Logf("%d writes acknowledged, %d lost", len(log.acked()), lost)
	// What the nodes said of their lost COMMITs (by their marks, on the new primary). With the
	// standby cut off, nothing committed after the cut reached the new primary, so no lost
	// COMMIT may count as committed.
	byOutcome := map[string]float64{}
	for _, nd := range []*node{n, n2} {
		for outcome, v := range lostCommits(t, hc, nd.url) {
			byOutcome[outcome] += v
		}
	}
	t.Logf("lost COMMITs by outcome: %v", byOutcome)
	if mode == standbyCut && byOutcome["committed"] != 0 {
		t.Errorf("%v lost COMMITs counted as committed, with the standby cut off", byOutcome["committed"])
	}
	if mode != primarySilent {
		return
	}
	// What the thawed old primary holds that the new one lacks was never acknowledged.
	odb := mustOpen(t, r.Primary.DSN(name))
	old := profileIDs(ctx, t, odb)
	acked := map[string]bool{}
	for _, w := range log.acked() {
		acked[w.mcid] = true
	}
	only := 0
	for m := range old {
		if !have[m] {
			only++
			if acked[m] {
				t.Errorf("write %s is on the old primary alone, and was acknowledged", m)
			}
		}
	}
	waiting, err := r.Primary.WaitingForStandby(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The nodes, which have seen the new primary's timeline, keep no session on the old one,
	// though it is first in the DSN and takes writes: a session begun after the thaw is
	// refused as soon as it has told its timeline. Sessions from before the freeze may stay,
	// waiting for a standby that is gone.
	var sessions, since int
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := odb.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE backend_start > $1) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", thawed).Scan(&sessions, &since); err != nil {
			t.Fatal(err)
		}
		if since == 0 || time.Now().After(deadline) {
			break
		}
	}
	if since > 0 {
		t.Errorf("the nodes hold %d sessions begun on the old primary after its thaw", since)
	}
	t.Logf("old primary, thawed %v after the promotion: %d of the writes on it alone (none acknowledged), %d sessions of the nodes on it (%d begun after the thaw), %d waiting for a standby",
		thawed.Sub(promoted).Round(time.Millisecond), only, sessions, since, waiting)
}

// dbnameRE finds the database's name in a key=value DSN.
var dbnameRE = regexp.MustCompile(`dbname=(\S+)`)

// mustOpen opens a pool on dsn, closed when the test ends.
func mustOpen(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// profileIDs returns the merchantCustomerIds of the failover writes stored in db.
func profileIDs(ctx context.Context, t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	have := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SELECT merchant_customer_id FROM profiles WHERE merchant_customer_id LIKE 'fo-%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
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
	return have
}

// lostCommitRE is a line of payvault_lost_commits_total in /metrics.
var lostCommitRE = regexp.MustCompile(`(?m)^payvault_lost_commits_total\{outcome="(\w+)"\} (\S+)$`)

// lostCommits reads a node's payvault_lost_commits_total by outcome.
func lostCommits(t *testing.T, hc *http.Client, url string) map[string]float64 {
	t.Helper()
	resp, err := hc.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, m := range lostCommitRE.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = v
	}
	if len(out) == 0 {
		t.Fatalf("%s/metrics has no payvault_lost_commits_total", url)
	}
	return out
}
