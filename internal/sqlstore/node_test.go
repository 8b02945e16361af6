package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// openPair opens two stores on one database, as two processes would.
func openPair(t *testing.T, cfg sqlstore.Config) (*sqlstore.Store, *sqlstore.Store) {
	t.Helper()
	var out [2]*sqlstore.Store
	for i := range out {
		s, err := sqlstore.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out[0], out[1]
}

// TestNodesSQLite: one serving process owns an SQLite database; every other node is gone.
func TestNodesSQLite(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t, sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db")})
	id, err := a.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := a.RegisterNode(ctx); again != id {
		t.Errorf("a second registration changed the id: %s, %s", id, again)
	}
	if _, err := b.RegisterNode(ctx); err == nil || !strings.Contains(err.Error(), "another payvault serve") {
		t.Errorf("a second serving process on one database: %v", err)
	}
	for _, tt := range []struct {
		name string
		s    *sqlstore.Store
		id   string
		want bool
	}{
		{"ok/self", a, id, true},
		{"ok/other-is-gone", a, "0badf00d", false},
		{"ok/unregistered-cannot-tell", b, "0badf00d", true},
		{"ok/foreign-format-counts-alive", a, "node-1", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.s.NodeAlive(ctx, tt.id); err != nil || got != tt.want {
				t.Errorf("NodeAlive(%q) = %v, %v; want %v", tt.id, got, err, tt.want)
			}
		})
	}
	// When the owner closes (or dies), the next process may serve.
	a.Close()
	if _, err := b.RegisterNode(ctx); err != nil {
		t.Errorf("registration after the owner closed: %v", err)
	}
}

// TestNodesPostgres: nodes on one PostgreSQL see each other alive until one's session ends.
func TestNodesPostgres(t *testing.T) {
	ctx := context.Background()
	defer sqlstore.SetRestartGrace(0)() // the test's server has just started
	a, b := openPair(t, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	ida, err := a.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idb, err := b.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		s    *sqlstore.Store
		id   string
		want bool
	}{{a, ida, true}, {a, idb, true}, {b, ida, true}, {a, "0badf00d", false}} {
		if got, err := tt.s.NodeAlive(ctx, tt.id); err != nil || got != tt.want {
			t.Errorf("NodeAlive(%q) = %v, %v; want %v", tt.id, got, err, tt.want)
		}
	}
	// Asking leaves the lock free: a dead node stays dead on the next question too.
	if got, _ := a.NodeAlive(ctx, "0badf00d"); got {
		t.Error("a dead node came back after a question")
	}
	// A node whose session ends is gone for the others.
	b.Close()
	if got, err := a.NodeAlive(ctx, idb); err != nil || got {
		t.Errorf("NodeAlive of a closed node = %v, %v", got, err)
	}
}

// TestMigrateRefusals: a store refuses a database a newer payvault migrated, and on SQLite
// no migration runs while another process serves the database; once it stops, it does.
func TestMigrateRefusals(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			cfg := sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db")}
			if engine == "postgres" {
				cfg = sqlstore.Config{DSN: storetest.PostgresDSN(t)}
			}
			s, err := sqlstore.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			latest, err := s.SchemaVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, TRUE)"); err != nil {
				t.Fatal(err)
			}
			if n, err := sqlstore.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "schema is at version 9999, newer than this payvault's") {
				t.Errorf("a database at a newer schema: %v", err)
				if n != nil {
					n.Close()
				}
			}
			if _, err := s.DB().ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = 9999"); err != nil {
				t.Fatal(err)
			}
			if engine != "sqlite" {
				return
			}
			// The last migration pending (its record removed; its statements are idempotent
			// enough to run again: IF NOT EXISTS) while s serves the database.
			if _, err := s.RegisterNode(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = ?", latest); err != nil {
				t.Fatal(err)
			}
			if n, err := sqlstore.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "needs migrating, and another payvault serve is using this database") {
				t.Errorf("migrating under a serving process: %v", err)
				if n != nil {
					n.Close()
				}
			}
			if v, err := s.SchemaVersion(ctx); err != nil || v != latest-1 {
				t.Errorf("schema after the refused migration: %d, %v; want %d, untouched", v, err, latest-1)
			}
			s.Close()
			n, err := sqlstore.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("migrating once the server stopped: %v", err)
			}
			defer n.Close()
			if v, err := n.SchemaVersion(ctx); err != nil || v != latest {
				t.Errorf("schema after migrating: %d, %v; want %d", v, err, latest)
			}
		})
	}
}

// TestReadyReadOnly: a PostgreSQL database set read-only is not ready (/healthz 503).
func TestReadyReadOnly(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("a fresh database: %v", err)
	}
	var db string
	if err := s.DB().QueryRowContext(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `ALTER DATABASE "`+db+`" SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	s.DB().SetMaxIdleConns(0) // new sessions take the database's setting
	if err := s.Ready(ctx); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a read-only database: %v", err)
	}
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET default_transaction_read_only = off", `ALTER DATABASE "` + db + `" RESET default_transaction_read_only`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriteAfterReadOnlyPostgres: a session that refuses a write because it is read-only (a
// database set read-only, a failed-over primary now a standby) is dropped, so that the next
// write opens a new one, which sees the database as it is then: once the database is writable
// again, writes succeed at once, not only when the old sessions happen to end.
func TestWriteAfterReadOnlyPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin := stdlib.OpenDB(*pc) // the operator's own session, opened while the database is writable
	defer admin.Close()
	admin.SetMaxIdleConns(1)
	adminConn, err := admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close()
	alter := func(q string) {
		t.Helper()
		if _, err := adminConn.ExecContext(ctx, `ALTER DATABASE "`+pc.Database+`" `+q); err != nil {
			t.Fatal(err)
		}
	}
	write := func(i int) error {
		return s.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, fmt.Sprintf("ro-%d", i), "v") })
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	alter("SET default_transaction_read_only = on")
	defer alter("RESET default_transaction_read_only")
	s.DB().SetMaxIdleConns(0) // the pool's sessions end; new ones take the database's setting
	s.DB().SetMaxIdleConns(32)
	if err := write(1); vault.KindOf(err) != vault.Unavailable {
		t.Fatalf("a write to a read-only database: %v; want Unavailable", err)
	}
	alter("RESET default_transaction_read_only")
	if err := write(2); err != nil {
		t.Errorf("the first write once the database is writable again: %v", err)
	}
}

// TestNodesAfterPostgresRestart: when PostgreSQL ends every session (as a restart does), a
// node's lock goes with its session. The other nodes do not take that for the node's death:
// a node that finds its own session lost retakes its lock and counts every node alive for a
// grace period, and every node retakes its lock (KeepNode).
func TestNodesAfterPostgresRestart(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	idA, err := a.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idB, err := b.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// End every other session of the database, as a restart would.
	if _, err := a.DB().ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	if alive, err := b.NodeAlive(ctx, idA); err != nil || !alive {
		t.Errorf("node A seen from B right after the sessions ended: alive %v, %v; want alive", alive, err)
	}
	sqlstore.CheckNode(ctx, a) // KeepNode's tick on A
	for _, id := range []string{idA, idB} {
		var free bool
		if err := a.DB().QueryRowContext(ctx, "SELECT pg_try_advisory_lock(x'70766e64'::int, ('x' || $1)::bit(32)::int)", id).Scan(&free); err != nil {
			t.Fatal(err)
		}
		if free {
			t.Errorf("node %s's lock is not held again", id)
		}
	}
}

// TestLockTimeoutPostgres: a statement that waits on a lock another session holds (here an
// external LOCK TABLE) fails Unavailable after the lock timeout, for reads and writes, and
// the store serves again once the lock is gone.
func TestLockTimeoutPostgres(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: storetest.PostgresDSN(t), LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	insert := func(id string) error {
		return s.Write(ctx, func(tx vault.Tx) error {
			return tx.InsertMerchant(ctx, &vault.Merchant{ID: id, Name: id, Created: time.Now()})
		})
	}
	if err := insert("m-before"); err != nil {
		t.Fatal(err)
	}
	other, err := s.DB().Conn(ctx) // the other session, as psql would be
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "BEGIN; LOCK TABLE merchants IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan [2]error, 1)
	go func() {
		_, rerr := s.GetMerchant(ctx, "m-before")
		done <- [2]error{rerr, insert("m-during")}
	}()
	select {
	case errs := <-done:
		for i, err := range errs {
			if vault.KindOf(err) != vault.Unavailable {
				t.Errorf("%s under the lock: %v (%v); want Unavailable", []string{"read", "write"}[i], err, vault.KindOf(err))
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the read and write still wait on the lock after 20 s")
	}
	if _, err := other.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := insert("m-after"); err != nil {
		t.Errorf("write after the lock: %v", err)
	}
	if _, err := s.GetMerchant(ctx, "m-during"); vault.KindOf(err) != vault.NotFound {
		t.Errorf("the timed-out write: %v; want it absent", err)
	}
}

// TestPostgresSessionsEnded: when PostgreSQL ends every session (a restart, a failover), the
// pooled connections are dead but do not know it yet. Reads and writes right after go on
// without an error: a read or a BEGIN that fails on a lost connection runs again on another,
// and every other pooled connection is pinged before its next use.
func TestPostgresSessionsEnded(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 16
	insert := func(id string) error {
		return s.Write(ctx, func(tx vault.Tx) error {
			return tx.InsertMerchant(ctx, &vault.Merchant{ID: id, Name: id, Created: time.Now()})
		})
	}
	load := func(round string) []error {
		errs := make(chan error, 2*n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := s.ListMerchants(ctx)
				errs <- err
			}()
			go func() {
				defer wg.Done()
				errs <- insert(fmt.Sprintf("m-%s-%d", round, i))
			}()
		}
		wg.Wait()
		close(errs)
		var out []error
		for err := range errs {
			if err != nil {
				out = append(out, err)
			}
		}
		return out
	}
	if errs := load("warm"); len(errs) > 0 { // fills the pool with connections
		t.Fatal(errs)
	}
	var open int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").Scan(&open); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	if errs := load("after"); len(errs) > 0 {
		t.Errorf("%d of %d requests failed right after %d sessions ended: %v", len(errs), 2*n, open-1, errs[0])
	}
}

// TestNodeStartedAfterPostgresRestart: a node that starts just after PostgreSQL restarted,
// before the running nodes retook their locks (KeepNode, every 5 s), does not take them for
// dead: that would fail the payments they have in flight.
func TestNodeStartedAfterPostgresRestart(t *testing.T) {
	ctx := context.Background()
	pg := storetest.OwnPostgres(t)
	dsn, err := pg.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	a, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	idA, err := a.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.RegisterNode(ctx); err != nil {
		t.Fatal(err)
	}
	if alive, err := c.NodeAlive(ctx, idA); err != nil || !alive {
		t.Errorf("node A seen by a node started right after the restart: alive %v, %v; want alive", alive, err)
	}
	if alive, err := c.NodeAlive(ctx, "0badf00d"); err != nil || !alive {
		t.Errorf("any node within the grace after the restart: alive %v, %v; want alive", alive, err)
	}
}

// TestLockTimeoutBatchBounded: when a batch fails on a lock held elsewhere, its requests are
// not each run again alone to wait out the lock timeout in turn: past the queue wait they are
// answered Unavailable at once (the audit saw 11 writes answered after 129 s).
func TestLockTimeoutBatchBounded(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: storetest.PostgresDSN(t), LockTimeout: 300 * time.Millisecond, QueueWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "BEGIN; LOCK TABLE merchants IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	defer other.ExecContext(ctx, "ROLLBACK")
	const n = 20
	took := make(chan time.Duration, n)
	start := time.Now()
	for i := range n {
		go func() {
			err := s.Write(ctx, func(tx vault.Tx) error {
				id := fmt.Sprintf("m-%d", i)
				return tx.InsertMerchant(ctx, &vault.Merchant{ID: id, Name: id, Created: time.Now()})
			})
			if vault.KindOf(err) != vault.Unavailable {
				t.Errorf("a write under the lock: %v; want Unavailable", err)
			}
			if testing.Verbose() {
				t.Logf("%v %v", time.Since(start), err)
			}
			took <- time.Since(start)
		}()
	}
	var slowest time.Duration
	for range n {
		slowest = max(slowest, <-took)
	}
	if slowest > 3*time.Second {
		t.Errorf("the slowest of %d writes under a lock answered after %v; want about the queue wait plus a lock timeout", n, slowest)
	}
}
