package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestCommitWaitingForStandby: on a primary with a synchronous standby that is cut off, a
// COMMIT waits for the standby. When the write wait ends it, the transaction is already
// committed on the primary alone (its mark is there), and would be lost if the
// standby were promoted: the write must not be answered as stored.
func TestCommitWaitingForStandby(t *testing.T) {
	ctx := context.Background()
	r, st, _ := mustReplicatedStore(t, sqlstore.Config{WriteWait: time.Second, CommitResolveWait: 2 * time.Second}, "")
	if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "before", "replicated") }); err != nil {
		t.Fatal(err)
	}
	if err := r.CutStandby(ctx); err != nil {
		t.Fatal(err)
	}
	err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "after", "primary-only") })
	if vault.KindOf(err) != vault.Unavailable {
		t.Errorf("a write the standby never got = %v, want Unavailable", err)
	}
	checkLostCommits(t, st, 0, 0, 1)
}

// mustReplicatedStore opens a store on a new database of a primary with a synchronous
// standby, through their multi-host DSN with extra added; the store is closed when the test
// ends, after any thaw. It returns the DSN without extra.
func mustReplicatedStore(t *testing.T, cfg sqlstore.Config, extra string) (*storetest.Replicated, *sqlstore.Store, string) {
	t.Helper()
	r := storetest.OwnReplicated(t)
	dsn, err := r.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	cfg.DSN = dsn + extra
	st, err := sqlstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return r, st, dsn
}

// mustConns takes n sessions from the store's pool, and holds them.
func mustConns(t *testing.T, st *sqlstore.Store, n int) []*sql.Conn {
	t.Helper()
	var conns []*sql.Conn
	for range n {
		c, err := st.DB().Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return conns
}

// TestSilentPrimaryPool: when the primary goes silent (frozen: its host still takes
// connections and data, and nothing answers) and the standby is promoted, a read reaches the
// new primary on a new session within a few seconds: each pooled session on the frozen server
// costs it a short ping before reuse, not its whole read wait, and the new session spends the
// connect timeout on the frozen first host of the DSN, then takes the promoted standby.
func TestSilentPrimaryPool(t *testing.T) {
	ctx := context.Background()
	r, st, _ := mustReplicatedStore(t, sqlstore.Config{ReadWait: 15 * time.Second}, " connect_timeout=1")
	if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "silent", "replicated") }); err != nil {
		t.Fatal(err)
	}
	// Open several sessions, and leave them idle for over a second: each is pinged before
	// its next use.
	for _, c := range mustConns(t, st, 4) {
		c.Close()
	}
	time.Sleep(1100 * time.Millisecond)
	r.Primary.Freeze(t)
	if err := r.Standby.Promote(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	v, err := st.GetSetting(ctx, "silent")
	took := time.Since(start)
	if err != nil || v != "replicated" {
		t.Errorf("GetSetting after the promotion = %q, %v (after %v)", v, err, took)
	}
	// Two pings of 2 s, a connect timeout of 1 s on the frozen host, and some slack.
	t.Logf("the read answered %v after the promotion", took.Round(time.Millisecond))
	if limit := 7 * time.Second; took > limit {
		t.Errorf("the read took %v, over %v: a frozen session held it", took, limit)
	}
}

// TestOldPrimaryFenced: after a failover, an old primary that comes back still a primary
// (restarted, or thawed after it hung) on its old timeline is first in the multi-host DSN and
// takes writes, so new sessions would go to it: their reads would see the old data, and their
// writes commit there alone (never acknowledged while it waits for a synchronous standby that
// is gone). A node that has seen the newer timeline refuses such a server's sessions, and the
// DSN's next host, the new primary, takes them.
func TestOldPrimaryFenced(t *testing.T) {
	ctx := context.Background()
	r, st, _ := mustReplicatedStore(t, sqlstore.Config{WriteWait: time.Second, CommitResolveWait: 1500 * time.Millisecond}, "")
	set := func(k string) error {
		return st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, k, "v") })
	}
	if err := set("before"); err != nil {
		t.Fatal(err)
	}
	if err := r.Primary.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := r.Standby.Promote(); err != nil {
		t.Fatal(err)
	}
	// The node meets the new primary (and its timeline): the first write may meet a session
	// the crash ended.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := set("failed-over")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write on the new primary: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The old primary comes back as a primary, on the old timeline, and the node's pooled
	// sessions go: new ones try the DSN's hosts in order.
	if err := r.Primary.Start(); err != nil {
		t.Fatal(err)
	}
	st.DB().SetMaxIdleConns(0)
	st.DB().SetMaxIdleConns(32)
	var port int
	if err := st.DB().QueryRowContext(ctx, "SELECT inet_server_port()").Scan(&port); err != nil || port != r.Standby.Port() {
		t.Errorf("a new session reached port %d (%v), want the new primary's %d, not the old one's %d", port, err, r.Standby.Port(), r.Primary.Port())
	}
	if err := set("after-return"); err != nil {
		t.Errorf("a write after the old primary came back: %v", err)
	}
}

// TestThawedPrimaryPooled: sessions the pool opened on the primary before it went silent,
// and did not use while it was frozen, answer again once it is thawed, on its old timeline;
// the node's lock session too. Once the store has seen the promoted standby's timeline, such
// a session is checked before its reuse and dropped, and the node takes its lock again on the
// new primary.
func TestThawedPrimaryPooled(t *testing.T) {
	ctx := context.Background()
	r, st, dsn := mustReplicatedStore(t, sqlstore.Config{ReadWait: 10 * time.Second, WriteWait: 10 * time.Second}, " connect_timeout=1")
	if _, err := st.RegisterNode(ctx); err != nil {
		t.Fatal(err)
	}
	held := mustConns(t, st, 4)
	thaw := r.Primary.Freeze(t)
	if err := r.Standby.Promote(); err != nil {
		t.Fatal(err)
	}
	// A write on a new session meets the promoted standby, and its timeline.
	if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "promoted", "v") }); err != nil {
		t.Fatal(err)
	}
	thaw()
	for _, c := range held {
		c.Close() // back to the pool, on the old primary
	}
	for i := range 8 {
		var port int
		if err := st.DB().QueryRowContext(ctx, "SELECT inet_server_port()").Scan(&port); err != nil || port != r.Standby.Port() {
			t.Errorf("read %d reached port %d (%v), want the new primary's %d, not the old one's %d", i, port, err, r.Standby.Port(), r.Primary.Port())
		}
	}
	name := dsn[strings.Index(dsn, "dbname=")+len("dbname=") : strings.Index(dsn, " sslmode")]
	newPrimary, err := sql.Open("pgx", r.Standby.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	defer newPrimary.Close()
	if _, err := st.NodeAlive(ctx, "0badc0de"); err != nil {
		t.Errorf("NodeAlive: %v", err)
	}
	var locks int
	if err := newPrimary.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").Scan(&locks); err != nil || locks != 1 {
		t.Errorf("the new primary holds %d advisory locks (%v), want the node's", locks, err)
	}
}

// TestNodeAliveAfterPromotion: right after a failover no node holds its lock on the promoted
// standby until it takes it again (within KeepNode's period, longer with a silent old
// primary), so a node started then must not take the others for gone, and resolve the
// payments they still have in flight: every node counts alive for a while after the
// server's promotion, as after its start.
func TestNodeAliveAfterPromotion(t *testing.T) {
	defer sqlstore.SetRestartGrace(time.Millisecond)() // the standby started just now: not that grace
	ctx := context.Background()
	r, st, dsn := mustReplicatedStore(t, sqlstore.Config{}, "")
	// The nodes write until the primary is lost.
	if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "before", "v") }); err != nil {
		t.Fatal(err)
	}
	if err := r.Primary.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := r.Standby.Promote(); err != nil {
		t.Fatal(err)
	}
	// A node started after the promotion.
	name := dsn[strings.Index(dsn, "dbname=")+len("dbname=") : strings.Index(dsn, " sslmode")]
	fresh, err := sqlstore.Open(ctx, sqlstore.Config{DSN: r.Standby.DSN(name)})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.RegisterNode(ctx); err != nil {
		t.Fatal(err)
	}
	if alive, err := fresh.NodeAlive(ctx, "0badc0de"); err != nil || !alive {
		t.Errorf("NodeAlive of a node without its lock, just after the promotion = %v, %v; want alive", alive, err)
	}
}

// TestNodeAliveAfterQuietPromotion: a failover after a quiet spell, whose last replayed
// transaction is older than the default grace. Config.PromoteGrace (which a serving node
// sets to the age at which payments resolves a RECEIVED transaction whatever its node) still
// counts every node alive, since a transaction its node may still complete was written before
// the last one the standby replayed; past it, a node without its lock is gone.
func TestNodeAliveAfterQuietPromotion(t *testing.T) {
	defer sqlstore.SetRestartGrace(time.Millisecond)() // the standby started just now: not that grace
	ctx := context.Background()
	r, st, dsn := mustReplicatedStore(t, sqlstore.Config{}, "")
	if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "before", "v") }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the quiet spell (the standby confirmed the write before it was answered)
	if err := r.Primary.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := r.Standby.Promote(); err != nil {
		t.Fatal(err)
	}
	name := dsn[strings.Index(dsn, "dbname=")+len("dbname=") : strings.Index(dsn, " sslmode")]
	for _, c := range []struct {
		grace time.Duration
		alive bool
	}{{time.Minute, true}, {time.Second, false}} {
		fresh, err := sqlstore.Open(ctx, sqlstore.Config{DSN: r.Standby.DSN(name), PromoteGrace: c.grace})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fresh.RegisterNode(ctx); err != nil {
			t.Fatal(err)
		}
		if alive, err := fresh.NodeAlive(ctx, "0badc0de"); err != nil || alive != c.alive {
			t.Errorf("PromoteGrace %s: NodeAlive of a node without its lock, 2 s after the last replayed write = %v, %v; want %v", c.grace, alive, err, c.alive)
		}
		fresh.Close()
	}
}
