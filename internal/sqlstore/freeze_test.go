package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// The bounds the freeze tests give a store, short to keep the tests short.
const (
	freezeRead    = time.Second
	freezeWrite   = time.Second
	freezeResolve = 1500 * time.Millisecond
	// freezeSlack is the time an answer may take beyond its bound on a busy machine.
	freezeSlack = 1500 * time.Millisecond
)

// mustFreezableStore opens a store on a PostgreSQL server of the test's own, which the test
// may freeze, with short bounds. The store is closed after the server is thawed.
func mustFreezableStore(t *testing.T, dsn func(p *storetest.Postgres, db string) string) (*storetest.Postgres, *sqlstore.Store) {
	t.Helper()
	p := storetest.OwnPostgres(t)
	direct, err := p.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	if dsn != nil {
		db := direct[strings.Index(direct, "@/")+1 : strings.Index(direct, "?")]
		direct = dsn(p, db)
	}
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: direct,
		ReadWait: freezeRead, WriteWait: freezeWrite, CommitResolveWait: freezeResolve})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return p, st
}

// answerWithin runs f and returns its error and how long it took; it fails the test if f
// has not returned within limit (f then returns when the database is thawed).
func answerWithin(t *testing.T, limit time.Duration, f func() error) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	select {
	case err := <-errc:
		return err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("no answer within %v: held by the frozen database", limit)
		return nil, 0
	}
}

// TestFreezeRead: a read on a frozen PostgreSQL (every process stopped, its socket still
// taking data) answers Unavailable once its bound has passed, instead of waiting for the
// database; once the database answers again, so do reads.
func TestFreezeRead(t *testing.T) {
	ctx := context.Background()
	p, st := mustFreezableStore(t, nil)
	if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "freeze-read", "v") }); err != nil {
		t.Fatal(err)
	}
	thaw := p.Freeze(t)
	for _, tt := range []struct {
		name string
		read func() error
	}{
		{"fail/row", func() error { _, err := st.GetSetting(ctx, "freeze-read"); return err }},
		{"fail/rows", func() error { _, err := st.ListAudit(ctx, "m1", 0, 10); return err }},
		// The keyring's poller reads the keysets every few seconds (keys.Keyring.Watch).
		{"fail/keyset", func() error {
			if _, _, err := st.LoadKeyset(ctx, "data"); !sqlstore.Unavailable(err) {
				return fmt.Errorf("LoadKeyset: %w", err)
			}
			return vault.E("LoadKeyset", vault.Unavailable)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err, took := answerWithin(t, freezeRead+freezeSlack, tt.read)
			if k := vault.KindOf(err); k != vault.Unavailable {
				t.Errorf("err = %v (%v); want Unavailable", err, k)
			}
			if took < freezeRead-100*time.Millisecond {
				t.Errorf("answered in %v, before its bound (%v): not the bound's answer", took, freezeRead)
			}
		})
	}
	thaw()
	if v, err := st.GetSetting(ctx, "freeze-read"); err != nil || v != "v" {
		t.Errorf("after the thaw: GetSetting = %q, %v", v, err)
	}
}

// TestFreezeBatch: a batch of writes on a frozen PostgreSQL, frozen before its BEGIN or
// while its statements run, answers every write Unavailable within its bound, runs none of
// them again, and commits none of them: after the thaw, a write answered nil is stored and a
// write answered 503 is not, and each fn ran at most once.
func TestFreezeBatch(t *testing.T) {
	for _, tt := range []struct {
		name   string
		during bool // freeze from inside the batch's first fn, after its BEGIN
	}{
		{"fail/before-begin", false},
		{"fail/during-statements", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			p, st := mustFreezableStore(t, nil)
			const writes = 6
			// A slow write holds the committer while the others queue up, so that they share
			// one batch.
			release, held := holdCommitter(ctx, st)
			var thaw func()
			var freezeOnce sync.Once
			freeze := func() { freezeOnce.Do(func() { thaw = p.Freeze(t) }) }
			w := newWrites(writes)
			for i := range writes {
				w.start(ctx, st, i, func(tx vault.Tx) error {
					if i == 0 && tt.during {
						freeze()
					}
					return tx.SetSetting(ctx, fmt.Sprintf("freeze-batch-%d", i), "v")
				})
				if i == 0 {
					time.Sleep(50 * time.Millisecond) // the freezing write is queued first
				}
			}
			time.Sleep(100 * time.Millisecond)
			if !tt.during {
				freeze()
			}
			release()
			done := make(chan struct{})
			go func() { w.wg.Wait(); close(done) }()
			// Frozen before the BEGIN, the first write may run alone and the rest in a second
			// batch: two bounds.
			limit := 2*freezeWrite + freezeSlack
			select {
			case <-done:
			case <-time.After(limit):
				t.Fatalf("the writes were not answered within %v: held by the frozen database", limit)
			}
			thaw()
			// The holding write ran before the freeze, or in it (answered as the others).
			if err := <-held; err != nil && (tt.during || vault.KindOf(err) != vault.Unavailable) {
				t.Errorf("the holding write = %v", err)
			}
			for i := range writes {
				if w.took[i] > limit {
					t.Errorf("write %d answered after %v; want within %v", i, w.took[i], limit)
				}
				if w.errs[i] != nil && vault.KindOf(w.errs[i]) != vault.Unavailable {
					t.Errorf("write %d = %v; want nil or Unavailable", i, w.errs[i])
				}
				if n := w.runs[i].Load(); n > 1 {
					t.Errorf("write %d ran %d times against the frozen database; want at most once", i, n)
				}
				v, err := st.GetSetting(ctx, fmt.Sprintf("freeze-batch-%d", i))
				switch {
				case w.errs[i] == nil && (err != nil || v != "v"):
					t.Errorf("write %d answered nil but is not stored: %q, %v", i, v, err)
				case w.errs[i] != nil && vault.KindOf(err) != vault.NotFound:
					t.Errorf("write %d answered %v but is stored: %q, %v", i, w.errs[i], v, err)
				}
			}
			if tt.during && w.errs[0] == nil {
				t.Errorf("the write frozen in its statement answered nil")
			}
			// The store writes again once the database answers.
			if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "after", "v") }); err != nil {
				t.Errorf("a write after the thaw: %v", err)
			}
		})
	}
}

// commitRelay relays TCP connections to a test server's socket and, at the COMMIT of the
// first transaction that wrote its marker, calls atCommit before it passes the COMMIT on.
type commitRelay struct {
	marker   []byte
	atCommit func()
	commits  atomic.Int32
}

func (r *commitRelay) relay(c, s net.Conn) {
	relayToCommit(c, s, r.marker, &r.commits, func([]byte) bool { r.atCommit(); return false })
}

// TestFreezeAtCommit: a write whose COMMIT was sent to a PostgreSQL that froze before
// answering it is resolved as a lost COMMIT once its bound has passed: when the database
// answers within the resolve wait, the writes get their true outcome (committed, once);
// when it does not, they are answered 503 "commit outcome unknown" and never run again, and
// the COMMIT, which the database takes once thawed, stores each of them exactly once.
//
// When the bound passes, the store ends the statement and sends a cancel request on purpose
// (pgcancel.go: it stops deferred work that no one waits for, TestSlowCommitNotRerun). Here
// that request reaches the thawed server beside the COMMIT, and the claim that the COMMIT
// stores the writes rests on PostgreSQL's order of things, not on timing luck: a cancel that
// arrives while the backend still waits for its next command is dropped (ProcessInterrupts
// ignores QueryCancelPending while DoingCommandRead), the COMMIT of these writes runs no
// deferred work (the schema has no deferred trigger or constraint) before its commit record,
// whose writing holds interrupts off, and the cancel request first needs the thawed
// postmaster to accept it and fork a process to read it. A COMMIT with deferred work is
// another matter: there a cancel request can roll it back, which TestFreezeCommitCut's
// deferred-work case pins for the requests the store must not send.
func TestFreezeAtCommit(t *testing.T) {
	for _, tt := range []struct {
		name  string
		thawn bool // the database answers again within the resolve wait
	}{
		{"ok/thawed-while-resolving", true},
		{"fail/frozen-past-resolving", false},
	} {
		for _, writes := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/%d-writes", tt.name, writes), func(t *testing.T) {
				ctx := context.Background()
				relay := &commitRelay{marker: []byte("freeze-commit-marker")}
				var dbName string
				p, st := mustFreezableStore(t, func(p *storetest.Postgres, db string) string {
					dbName = db
					return "postgres://postgres@" + pgRelayTo(t, p.Socket(), relay.relay) + db + "?sslmode=disable"
				})
				admin, err := sql.Open("pgx", p.DSN("postgres"))
				if err != nil {
					t.Fatal(err)
				}
				defer admin.Close()
				thawc := make(chan func(), 1)
				relay.atCommit = func() {
					if !tt.thawn {
						thawc <- p.Freeze(t)
						return
					}
					// Only the backend that is to commit: the others answer the resolution.
					var pid int
					if err := admin.QueryRow("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'",
						strings.TrimPrefix(dbName, "/")).Scan(&pid); err != nil {
						t.Errorf("the committing backend: %v", err)
						return
					}
					thaw := storetest.FreezeProcess(t, pid)
					time.AfterFunc(freezeWrite+300*time.Millisecond, thaw)
					thawc <- thaw
				}
				release, held := holdCommitter(ctx, st)
				w := newWrites(writes)
				for i := range writes {
					w.start(ctx, st, i, func(tx vault.Tx) error {
						return tx.SetSetting(ctx, fmt.Sprintf("freeze-commit-%d", i), "freeze-commit-marker")
					})
				}
				mustAnswerBatch(t, release, held, w, freezeWrite+freezeResolve+freezeSlack, "held by the frozen database")
				if relay.commits.Load() != 1 {
					t.Fatalf("%d marked COMMITs seen, want 1", relay.commits.Load())
				}
				(<-thawc)()
				if tt.thawn {
					checkLostCommits(t, st, 1, 0, 0)
				} else {
					checkLostCommits(t, st, 0, 0, 1)
				}
				for i := range writes {
					if w.took[i] < freezeWrite-100*time.Millisecond {
						t.Errorf("write %d answered in %v, before the bound (%v)", i, w.took[i], freezeWrite)
					}
					switch {
					case tt.thawn && w.errs[i] != nil:
						t.Errorf("write %d = %v; want its true outcome, a success", i, w.errs[i])
					case !tt.thawn && (vault.KindOf(w.errs[i]) != vault.Unavailable || !errors.Is(w.errs[i], vault.ErrOutcomeUnknown)):
						t.Errorf("write %d = %v; want Unavailable, commit outcome unknown", i, w.errs[i])
					}
					if n := w.runs[i].Load(); n != 1 {
						t.Errorf("write %d ran %d times, want once", i, n)
					}
				}
				// Once thawed, the database takes the COMMIT it was sent: every write is
				// stored, each by its one run.
				deadline := time.Now().Add(5 * time.Second)
				for i := range writes {
					for {
						v, err := st.GetSetting(ctx, fmt.Sprintf("freeze-commit-%d", i))
						if err == nil && v == "freeze-commit-marker" {
							break
						}
						if time.Now().After(deadline) {
							t.Errorf("write %d is not stored after the thaw: %q, %v", i, v, err)
							break
						}
						time.Sleep(50 * time.Millisecond)
					}
				}
			})
		}
	}
}

// TestFreezeCommitCut: a batch's COMMIT is sent, PostgreSQL freezes before it answers, and
// the connection is then reset: the COMMIT sits unread in the frozen server's socket, and
// whether it commits depends on the server. The store asks PostgreSQL what became of it, within
// the resolve wait, and its writes are never run again: while the server stays frozen past the
// resolve wait they are answered 503 "commit outcome unknown" (LostCommits.Unknown), and the
// thawed server commits them, once; when it is thawed within the resolve wait, the writes get
// their true outcome (committed, LostCommits.Committed), stored once. The store sends no
// cancel request for the reset connection (pgcancel.go): one would reach the server with the
// COMMIT, at the thaw, and roll it back when it lands while the COMMIT runs, which a COMMIT
// with deferred work (a deferred trigger that sleeps) makes sure of.
func TestFreezeCommitCut(t *testing.T) {
	for _, tt := range []struct {
		name     string
		thaw     time.Duration // after the cut; 0: once the writes are answered
		deferred bool          // the COMMIT runs deferred work, for a second
	}{
		{"ok/thawed-while-resolving", freezeResolve / 3, false},
		{"fail/frozen-past-resolving", 0, false},
		{"fail/frozen-past-resolving/deferred-work", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			const writes, marker = 3, "freeze-cut-marker"
			var cuts atomic.Int32
			thawc, cutc := make(chan func(), 1), make(chan time.Time, 1)
			var admin *sql.DB
			var dbName string
			_, st := mustFreezableStore(t, func(p *storetest.Postgres, db string) string {
				dbName = strings.TrimPrefix(db, "/")
				var err error
				if admin, err = sql.Open("pgx", p.DSN("postgres")); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { admin.Close() })
				return "postgres://postgres@" + pgRelayTo(t, p.Socket(), func(c, s net.Conn) {
					relayToCommit(c, s, []byte(marker), &cuts, func(chunk []byte) bool {
						var committer int // the backend that is to commit
						if tt.deferred {
							if err := admin.QueryRow("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'",
								dbName).Scan(&committer); err != nil {
								t.Errorf("the committing backend: %v", err)
							}
						}
						thaw := p.Freeze(t)
						if committer != 0 {
							// The committing backend first, so that it is in its COMMIT's
							// deferred work when the postmaster takes what came meanwhile.
							thawAll := thaw
							thaw = func() {
								syscall.Kill(committer, syscall.SIGCONT)
								time.Sleep(300 * time.Millisecond)
								thawAll()
							}
						}
						s.Write(chunk) // the COMMIT, into the frozen server's socket
						c.(*net.TCPConn).SetLinger(0)
						c.Close() // a reset: the client's COMMIT fails at once
						cutc <- time.Now()
						if tt.thaw > 0 {
							time.AfterFunc(tt.thaw, thaw)
						}
						thawc <- thaw
						return true
					})
				}) + db + "?sslmode=disable"
			})
			if tt.deferred {
				for _, q := range []string{
					`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
					 BEGIN IF NEW.name = 'freeze-cut-0' THEN PERFORM pg_sleep(1); END IF; RETURN NULL; END $$`,
					`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON settings
					 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
				} {
					if _, err := st.DB().Exec(q); err != nil {
						t.Fatal(err)
					}
				}
			}
			release, held := holdCommitter(ctx, st)
			w := newWrites(writes)
			for i := range writes {
				w.start(ctx, st, i, func(tx vault.Tx) error {
					return tx.SetSetting(ctx, fmt.Sprintf("freeze-cut-%d", i), marker)
				})
			}
			limit := freezeResolve + freezeSlack
			mustAnswerBatch(t, release, held, w, freezeWrite+limit, "held by the frozen database")
			if cuts.Load() != 1 {
				t.Fatalf("%d marked COMMITs cut, want 1", cuts.Load())
			}
			answered := time.Since(<-cutc)
			(<-thawc)()
			if answered > limit {
				t.Errorf("the writes were answered %v after the cut; want within the resolve wait, %v", answered.Round(time.Millisecond), limit)
			}
			if tt.thaw > 0 {
				checkLostCommits(t, st, 1, 0, 0)
			} else {
				checkLostCommits(t, st, 0, 0, 1)
			}
			for i := range writes {
				switch {
				case tt.thaw > 0 && w.errs[i] != nil:
					t.Errorf("write %d = %v; want its true outcome, a success", i, w.errs[i])
				case tt.thaw == 0 && (vault.KindOf(w.errs[i]) != vault.Unavailable || !errors.Is(w.errs[i], vault.ErrOutcomeUnknown)):
					t.Errorf("write %d = %v; want Unavailable, commit outcome unknown", i, w.errs[i])
				}
				if n := w.runs[i].Load(); n != 1 {
					t.Errorf("write %d ran %d times, want once", i, n)
				}
			}
			// The rows in the database: the COMMIT the server was sent, and nothing else,
			// stored each write once (once thawed, when the writes were answered before).
			deadline := time.Now().Add(5 * time.Second)
			for {
				var n int
				err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM settings WHERE value = $1", marker).Scan(&n)
				if err == nil && n == writes {
					break
				}
				if tt.thaw > 0 || time.Now().After(deadline) {
					t.Fatalf("%d rows of the batch stored (%v), want %d", n, err, writes)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "after", "v") }); err != nil {
				t.Errorf("a write after the thaw: %v", err)
			}
		})
	}
}

// TestFreezeRerun: when the database freezes while a batch's writes run again alone (here
// after a serialisation failure), the first that meets the frozen database is answered
// Unavailable within its bound, and the others after it are answered Unavailable without
// running again: each would otherwise wait out the bound in turn.
func TestFreezeRerun(t *testing.T) {
	ctx := context.Background()
	p, st := mustFreezableStore(t, nil)
	const writes = 4
	release, held := holdCommitter(ctx, st)
	var rerunning atomic.Bool // set by the batch's last fn: the fns after it run alone
	var thaw func()
	w := newWrites(writes)
	for i := range writes {
		w.start(ctx, st, i, func(tx vault.Tx) error {
			if !rerunning.Load() {
				if i == writes-1 {
					rerunning.Store(true)
				}
				return &pgconn.PgError{Code: "40001"} // each runs again alone
			}
			if i == 0 {
				thaw = p.Freeze(t)
			}
			return tx.SetSetting(ctx, fmt.Sprintf("freeze-rerun-%d", i), "v")
		})
		time.Sleep(20 * time.Millisecond) // queued in order
	}
	mustAnswerBatch(t, release, held, w, freezeWrite+freezeSlack, "each waited for the frozen database in turn")
	if thaw == nil {
		t.Fatal("the database was not frozen")
	}
	thaw()
	for i := range writes {
		if vault.KindOf(w.errs[i]) != vault.Unavailable {
			t.Errorf("write %d = %v; want Unavailable", i, w.errs[i])
		}
		want := int32(1)
		if i == 0 {
			want = 3 // in the batch, again with savepoints, and alone
		}
		if n := w.runs[i].Load(); n != want {
			t.Errorf("write %d ran %d times, want %d", i, n, want)
		}
		if _, err := st.GetSetting(ctx, fmt.Sprintf("freeze-rerun-%d", i)); vault.KindOf(err) != vault.NotFound {
			t.Errorf("write %d answered 503 but is stored: %v", i, err)
		}
	}
}

// TestSlowCommitNotRerun: a COMMIT that PostgreSQL does not answer within the write wait,
// while the server still answers (work deferred to the COMMIT, here a deferred trigger that
// sleeps), is cancelled by the bound and rolled back; its mark is then claimed. Its
// writes answer Unavailable once, nothing stored, and are not run again: each run again would
// wait out the bound again (five attempts alone took 75 s against a real server at the
// default 15 s wait, where the documented bound is 20 s), and hold up the other writes.
func TestSlowCommitNotRerun(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: storetest.PostgresDSN(t),
		ReadWait: freezeRead, WriteWait: freezeWrite, CommitResolveWait: freezeResolve})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, q := range []string{
		`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN IF NEW.name LIKE 'slow-%' THEN PERFORM pg_sleep(5); END IF; RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON settings
		 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
	} {
		if _, err := st.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{1, 2} { // a write alone, and a batch of two
		t.Run(fmt.Sprintf("writes-%d", n), func(t *testing.T) {
			w := newWrites(n)
			start := time.Now()
			for i := range n {
				w.start(ctx, st, i, func(tx vault.Tx) error {
					return tx.SetSetting(ctx, fmt.Sprintf("slow-%d-%d", n, i), "v")
				})
			}
			w.wg.Wait()
			took := time.Since(start)
			if limit := freezeWrite + freezeResolve + freezeSlack; took > limit {
				t.Errorf("the writes were answered after %v, want within %v", took.Round(time.Millisecond), limit)
			}
			for i := range n {
				if vault.KindOf(w.errs[i]) != vault.Unavailable {
					t.Errorf("write %d = %v; want Unavailable", i, w.errs[i])
				}
				if r := w.runs[i].Load(); r != 1 {
					t.Errorf("write %d ran %d times, want 1", i, r)
				}
				if _, err := st.GetSetting(ctx, fmt.Sprintf("slow-%d-%d", n, i)); vault.KindOf(err) != vault.NotFound {
					t.Errorf("write %d answered 503 but is stored: %v", i, err)
				}
			}
		})
	}
}

// writes are concurrent Store.Writes of a test: how many times each one's fn ran, what each
// was answered and how long that took; wg ends once every one is answered.
type writes struct {
	runs []atomic.Int32
	errs []error
	took []time.Duration
	wg   sync.WaitGroup
}

func newWrites(n int) *writes {
	return &writes{runs: make([]atomic.Int32, n), errs: make([]error, n), took: make([]time.Duration, n)}
}

// start starts write i on st, its fn run (and counted) in the write's transaction.
func (w *writes) start(ctx context.Context, st *sqlstore.Store, i int, fn func(vault.Tx) error) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		start := time.Now()
		w.errs[i] = st.Write(ctx, func(tx vault.Tx) error {
			w.runs[i].Add(1)
			return fn(tx)
		})
		w.took[i] = time.Since(start)
	}()
}

// mustAnswerBatch lets the queued writes w go 100 ms after they were started, as one batch
// (release, from holdCommitter), fails the test if the holding write failed, and waits for w
// to be answered, failing the test (saying why it would not be) when that takes over limit.
func mustAnswerBatch(t *testing.T, release func(), held <-chan error, w *writes, limit time.Duration, why string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("the writes were not answered within %v: %s", limit, why)
	}
}

// checkLostCommits fails the test unless st's lost COMMITs (WriteStats.LostCommits) were
// resolved as committed, rolledBack and unknown say.
func checkLostCommits(t *testing.T, st *sqlstore.Store, committed, rolledBack, unknown int64) {
	t.Helper()
	lost := st.WriteStats().LostCommits
	want := lost
	want.Committed, want.RolledBack, want.Unknown = committed, rolledBack, unknown
	if lost != want {
		t.Errorf("LostCommits = %+v, want %+v", lost, want)
	}
}

// holdCommitter starts a write that holds the committer until release is called, so that
// the writes queued meanwhile share one batch; held answers the holding write's error.
func holdCommitter(ctx context.Context, st *sqlstore.Store) (release func(), held <-chan error) {
	hold, holding := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.Write(ctx, func(tx vault.Tx) error { close(holding); <-hold; return tx.SetSetting(ctx, "hold", "v") })
	}()
	<-holding
	return func() { close(hold) }, done
}

// TestFreezeNodeCheck: the checks of the node lock give up on a frozen PostgreSQL within the
// read wait, rather than wait for it: KeepNode's every few seconds, on the serving node's
// context, and NodeAlive's, which payments' Recover runs on its background context. The
// frozen server's host still acknowledges every byte and keep-alive, so no TCP timeout ends
// the lock's session: a ping without a bound waited until the thaw, holding the lease, and
// the node never took its lock again on a promoted standby. Once the server answers again,
// the node holds its lock again.
func TestFreezeNodeCheck(t *testing.T) {
	p, st := mustFreezableStore(t, nil)
	if _, err := st.RegisterNode(context.Background()); err != nil {
		t.Fatal(err)
	}
	kctx, stop := context.WithCancel(context.Background())
	kept := make(chan struct{})
	go func() { defer close(kept); st.KeepNode(kctx) }()
	t.Cleanup(func() { stop(); <-kept }) // after the thaw
	thaw := p.Freeze(t)
	// KeepNode checks the lock's session every 5 s: let it start a check on the frozen server.
	time.Sleep(5500 * time.Millisecond)
	err, _ := answerWithin(t, 2*freezeRead+freezeSlack, func() error {
		_, err := st.NodeAlive(context.Background(), "0badc0de")
		return err
	})
	if k := vault.KindOf(err); k != vault.Unavailable {
		t.Errorf("NodeAlive on the frozen server: err = %v (%v); want Unavailable", err, k)
	}
	// Once thawed, the server ends the lock's old session, and the node takes its lock again.
	thaw()
	for deadline := time.Now().Add(5*time.Second + 2*freezeRead + freezeSlack); ; {
		_, err := st.NodeAlive(context.Background(), "0badc0de")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("NodeAlive after the thaw: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
