package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// engines opens stores with one committer, so that a test can gather a batch.
var engines = []struct {
	name string
	open func(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store
}{
	{"sqlite", func(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
		cfg.Path = tb.TempDir() + "/t.db"
		return mustOpen(tb, cfg)
	}},
	{"postgres", func(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
		cfg.DSN = storetest.PostgresDSN(tb)
		return mustOpen(tb, cfg)
	}},
}

func mustOpen(tb testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// mustGather holds st's only committer in a write until every one of writes is queued behind
// it, in order, then lets them go, so that they form one batch. It waits for all of them and
// returns how many writes ran and transactions ended meanwhile, the blocking write's included.
func mustGather(tb testing.TB, st *sqlstore.Store, writes []func()) (d struct{ Writes, Commits int64 }) {
	tb.Helper()
	before := st.WriteStats()
	defer func() {
		after := st.WriteStats()
		d.Writes, d.Commits = after.Writes-before.Writes, after.Commits-before.Commits
	}()
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := st.Write(ctx, func(vault.Tx) error {
			close(started)
			<-release
			return nil
		})
		if err != nil {
			tb.Errorf("blocking write: %v", err)
		}
	}()
	<-started
	deadline := time.Now().Add(10 * time.Second)
	for i, w := range writes {
		wg.Add(1)
		go func() { defer wg.Done(); w() }()
		for st.WriteStats().Queued <= i {
			if time.Now().After(deadline) {
				close(release)
				tb.Fatalf("only %d of %d writes queued", st.WriteStats().Queued, len(writes))
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	close(release)
	wg.Wait()
	return d
}

func setting(i int) string { return "s" + strconv.Itoa(i) }

// TestGroupCommit checks that queued writes share one transaction and that a failing or
// panicking write does not fail its neighbours.
func TestGroupCommit(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			st := e.open(t, sqlstore.Config{Committers: 1})
			ctx := context.Background()
			boom := errors.New("boom")
			const n = 30
			got := make([]string, n)
			writes := make([]func(), n)
			for i := range writes {
				writes[i] = func() {
					defer func() {
						if p := recover(); p != nil {
							got[i] = "panic"
						}
					}()
					err := st.Write(ctx, func(tx vault.Tx) error {
						if err := tx.SetSetting(ctx, setting(i), "v"); err != nil {
							return err
						}
						switch i % 5 {
						case 1:
							return boom
						case 2:
							panic("boom")
						}
						return nil
					})
					switch {
					case err == nil:
						got[i] = "ok"
					case errors.Is(err, boom):
						got[i] = "error"
					default:
						got[i] = err.Error()
					}
				}
			}
			d := mustGather(t, st, writes)
			want := make([]string, n)
			for i := range want {
				want[i] = []string{"ok", "error", "panic", "ok", "ok"}[i%5]
				_, err := st.GetSetting(ctx, setting(i))
				if (err == nil) != (want[i] == "ok") {
					t.Errorf("write %d (%s): kept = %v", i, want[i], err == nil)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("outcomes (-want +got)\n%s", d)
			}
			// The blocker's, the batch's first try without savepoints, and its second with them.
			if commits, writes := d.Commits, d.Writes; commits != 3 || writes != n+1 {
				t.Errorf("%d writes in %d transactions; want %d in 3", writes, commits, n+1)
			}

			// Writes that succeed, or fail before they write, take one transaction, without
			// savepoints.
			for i := range writes {
				writes[i] = func() {
					err := st.Write(ctx, func(tx vault.Tx) error {
						if i%2 == 1 {
							return boom
						}
						return tx.SetSetting(ctx, setting(n+i), "v")
					})
					if want := map[bool]error{false: nil, true: boom}[i%2 == 1]; err != want {
						t.Errorf("write %d: %v, want %v", n+i, err, want)
					}
				}
			}
			d = mustGather(t, st, writes)
			if commits, writes := d.Commits, d.Writes; commits != 2 || writes != n+1 {
				t.Errorf("%d writes in %d transactions; want %d in 2 (the blocker's and the batch's)", writes, commits, n+1)
			}
		})
	}
}

// TestGroupCommitRefused makes the batch's COMMIT fail (a deferred constraint that one write
// breaks): every write then runs alone, so only the guilty one fails.
func TestGroupCommitRefused(t *testing.T) {
	ddl := map[string][]string{
		"sqlite": {
			"CREATE TABLE poison_parent (id INTEGER PRIMARY KEY)",
			"CREATE TABLE poison_child (pid INTEGER REFERENCES poison_parent(id) DEFERRABLE INITIALLY DEFERRED)",
			"CREATE TRIGGER poison AFTER INSERT ON settings WHEN NEW.name LIKE 'poison%' BEGIN INSERT INTO poison_child VALUES (1); END",
		},
		"postgres": {
			`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF NEW.name LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`,
			"CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON settings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION poison()",
		},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			st := e.open(t, sqlstore.Config{Committers: 1})
			ctx := context.Background()
			for _, q := range ddl[e.name] {
				if _, err := st.DB().ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			const n, guilty = 12, 5
			errs := make([]error, n)
			writes := make([]func(), n)
			for i := range writes {
				name := setting(i)
				if i == guilty {
					name = "poison"
				}
				writes[i] = func() {
					errs[i] = st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, name, "v") })
				}
			}
			d := mustGather(t, st, writes)
			for i, err := range errs {
				if i == guilty {
					if vault.KindOf(err) != vault.Internal {
						t.Errorf("guilty write: %v; want Internal", err)
					}
					continue
				}
				if err != nil {
					t.Errorf("write %d: %v", i, err)
				}
				if _, err := st.GetSetting(ctx, setting(i)); err != nil {
					t.Errorf("write %d not kept: %v", i, err)
				}
			}
			if _, err := st.GetSetting(ctx, "poison"); vault.KindOf(err) != vault.NotFound {
				t.Errorf("guilty write kept: %v", err)
			}
			// The blocker, the refused batch, then each write alone.
			if commits := d.Commits; commits != 2+n {
				t.Errorf("%d transactions; want %d", commits, 2+n)
			}
			// The store still works.
			if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "after", "v") }); err != nil {
				t.Errorf("write after a refused commit: %v", err)
			}
		})
	}
}

// TestGroupCommitSwallowedError has a write ignore a failed statement. SQLite carries on; on
// PostgreSQL the transaction is aborted, so the batch is re-run alone and only that write
// fails, as it would without batching.
func TestGroupCommitSwallowedError(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			st := e.open(t, sqlstore.Config{Committers: 1})
			ctx := context.Background()
			m := &vault.Merchant{ID: "m-dup", Name: "x", Created: time.Now()}
			if err := st.Write(ctx, func(tx vault.Tx) error { return tx.InsertMerchant(ctx, m) }); err != nil {
				t.Fatal(err)
			}
			const n, swallower = 10, 4
			errs := make([]error, n)
			writes := make([]func(), n)
			for i := range writes {
				writes[i] = func() {
					errs[i] = st.Write(ctx, func(tx vault.Tx) error {
						if i == swallower {
							_ = tx.InsertMerchant(ctx, m) // a unique violation, ignored
						}
						return tx.SetSetting(ctx, setting(i), "v")
					})
				}
			}
			mustGather(t, st, writes)
			for i, err := range errs {
				if i == swallower && st.Dialect() == sqlstore.Postgres {
					if err == nil {
						t.Errorf("write on an aborted transaction succeeded")
					}
					continue
				}
				if err != nil {
					t.Errorf("write %d: %v", i, err)
				}
			}
		})
	}
}

// TestGroupCommitDeadlock has two writes on two committers lock two profiles in opposite
// orders. PostgreSQL kills one with a deadlock error; it is re-run and both callers succeed.
func TestGroupCommitDeadlock(t *testing.T) {
	st := engines[1].open(t, sqlstore.Config{Committers: 2})
	f := storetest.MustFixture(t, func(testing.TB) storetest.Store { return st })
	ctx := context.Background()
	mid := f.Creds.MerchantID
	var ids [2]string
	for i := range ids {
		p, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "dl" + strconv.Itoa(i), Locale: "en_US"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = p.ID
	}
	var locked sync.WaitGroup
	locked.Add(2)
	var runs atomic.Int32
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		var once sync.Once
		go func() {
			defer wg.Done()
			// The second writer starts once the first one's fn runs, so that the other
			// committer takes it: in one batch, the first fn would wait for it forever.
			for w == 1 && runs.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			err := st.Write(ctx, func(tx vault.Tx) error {
				runs.Add(1)
				if _, err := tx.LockProfile(ctx, mid, ids[w]); err != nil {
					return err
				}
				once.Do(func() { locked.Done(); locked.Wait() }) // both hold their first lock
				if _, err := tx.LockProfile(ctx, mid, ids[1-w]); err != nil {
					return err
				}
				return tx.SetSetting(ctx, "w"+strconv.Itoa(w), "v")
			})
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
			}
		}()
	}
	wg.Wait()
	if r := runs.Load(); r < 3 {
		t.Errorf("fns ran %d times; want at least 3 (the deadlock victim again)", r)
	}
	for w := range 2 {
		if _, err := st.GetSetting(ctx, "w"+strconv.Itoa(w)); err != nil {
			t.Errorf("writer %d's write is missing: %v", w, err)
		}
	}
}

// TestSQLiteWALBounded writes without a pause while readers read, and checks that the WAL
// file stays near its bound: passive checkpoints alone never rewind it under such a stream.
func TestSQLiteWALBounded(t *testing.T) {
	dir := t.TempDir()
	const maxPages = 64
	st := mustOpen(t, sqlstore.Config{Path: dir + "/t.db", WALMaxPages: maxPages})
	ctx := context.Background()
	value := strings.Repeat("v", 3000) // about a page a write
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				st.GetSetting(ctx, setting(1))
			}
		})
	}
	var writers sync.WaitGroup
	var largest atomic.Int64
	for w := range 8 {
		writers.Go(func() {
			for i := range 1500 {
				if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, setting(w*1000+i), value) }); err != nil {
					t.Error(err)
					return
				}
				if fi, err := os.Stat(dir + "/t.db-wal"); err == nil && fi.Size() > largest.Load() {
					largest.Store(fi.Size())
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	// Some 30,000 pages (120 MiB) were written; the WAL may pass its bound by the commits
	// made between two checkpoints, never by the whole stream.
	if limit := int64(24 << 20); largest.Load() > limit {
		t.Errorf("the WAL reached %d bytes, over %d (bound %d pages)", largest.Load(), limit, maxPages)
	}
}

// TestGroupCommitDuplicateCard gathers card creates on one profile into one batch, some of
// them the number of the profile's first card: those answer Conflict with that card's id, the
// others are stored, and the first card stays the only default. On SQLite the batch takes
// one transaction: the duplicate check runs before the INSERT, so a duplicate writes nothing
// and the batch need not run again with savepoints. On PostgreSQL the check is part of the
// card's INSERT, which the batch queues (txConn.queue); a duplicate found when the queue is
// sent runs the batch again with savepoints, once.
func TestGroupCommitDuplicateCard(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ce := newCardEnv(t, e.open)
			st, ctx := ce.st, context.Background()
			p := ce.profile(t, "dup")
			create := func(pan string) (*vault.Instrument, error) { return ce.card(p, pan) }
			const firstPAN = "4111111111111111"
			first, err := create(firstPAN)
			if err != nil || !first.DefaultCard {
				t.Fatalf("first card: %+v, %v", first, err)
			}
			const n = 12
			got := make([]string, n)
			writes := make([]func(), n)
			for i := range writes {
				pan := firstPAN
				if i%3 != 0 {
					pan = ce.freshPAN()
				}
				writes[i] = func() {
					in, err := create(pan)
					switch {
					case err == nil && in.DefaultCard:
						got[i] = "default"
					case err == nil:
						got[i] = "ok"
					case vault.KindOf(err) == vault.Conflict && strings.Contains(err.Error(), first.ID):
						got[i] = "duplicate"
					default:
						got[i] = err.Error()
					}
				}
			}
			d := mustGather(t, st, writes)
			want := make([]string, n)
			for i := range want {
				want[i] = map[bool]string{true: "duplicate", false: "ok"}[i%3 == 0]
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("outcomes (-want +got)\n%s", d)
			}
			wantCommits := int64(2) // the blocker's and the batch's
			if e.name == "postgres" {
				wantCommits = 3 // and the batch's first run, rolled back
			}
			if commits := d.Commits; commits != wantCommits {
				t.Errorf("%d transactions; want %d", commits, wantCommits)
			}
			cards, err := st.ListProfileInstruments(ctx, ce.f.Creds.MerchantID, p.ID, vault.KindCard)
			if err != nil {
				t.Fatal(err)
			}
			defaults := 0
			for _, c := range cards {
				if c.DefaultCard {
					defaults++
				}
			}
			if len(cards) != 1+n-n/3 || defaults != 1 {
				t.Errorf("the profile holds %d cards, %d of them default; want %d and 1", len(cards), defaults, 1+n-n/3)
			}
		})
	}
}

// cardEnv is a fixture on a store with one committer, for batches of card creates.
type cardEnv struct {
	st  *sqlstore.Store
	f   *storetest.Fixture
	seq atomic.Int32
}

func newCardEnv(t *testing.T, open func(testing.TB, sqlstore.Config) *sqlstore.Store) *cardEnv {
	ce := &cardEnv{}
	ce.f = storetest.MustFixture(t, func(tb testing.TB) storetest.Store {
		ce.st = open(tb, sqlstore.Config{Committers: 1})
		return ce.st
	})
	return ce
}

func (ce *cardEnv) profile(t *testing.T, mcid string) *vault.Profile {
	t.Helper()
	p, err := ce.f.Svc.CreateProfile(context.Background(), ce.f.Principal, &vault.Profile{MerchantCustomerID: mcid, Locale: "en_US"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// card creates a card with number pan on profile p, checking for a duplicate (7503).
func (ce *cardEnv) card(p *vault.Profile, pan string) (*vault.Instrument, error) {
	return ce.f.Svc.CreateInstrument(context.Background(), ce.f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
		vault.Source{Number: pan, Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{CheckDuplicate: true})
}

// freshPAN returns a Luhn-valid number no other call returned; it is safe for concurrent use.
func (ce *cardEnv) freshPAN() string {
	return luhnPAN(fmt.Sprintf("40000000%07d", ce.seq.Add(1)))
}

// luhnPAN completes digits with their Luhn check digit.
func luhnPAN(digits string) string {
	for d := '0'; d <= '9'; d++ {
		if card.Luhn(digits + string(d)) {
			return digits + string(d)
		}
	}
	panic("unreachable")
}

// TestGroupCommitProfileLocks checks the profiles a batch locks (on SQLite: reads) before its
// fns run: card creates then take no lock statement of their own, and a fn of the batch that
// deletes a profile makes the later card creates on it fail as they would alone.
func TestGroupCommitProfileLocks(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ce := newCardEnv(t, e.open)
			st, f, ctx := ce.st, ce.f, context.Background()
			profiles := []*vault.Profile{ce.profile(t, "p"), ce.profile(t, "q")}
			create := func(p *vault.Profile) error {
				_, err := ce.card(p, ce.freshPAN())
				return err
			}
			var locks atomic.Int32
			stop := sqlstore.ObserveSQL(func(q string) {
				if strings.HasPrefix(q, "SELECT location_id FROM profiles") {
					locks.Add(1)
				}
			})
			defer stop()

			const n = 6
			writes := make([]func(), n)
			for i := range writes {
				p := profiles[i%2]
				writes[i] = func() {
					if err := create(p); err != nil {
						t.Errorf("card %d: %v", i, err)
					}
				}
			}
			mustGather(t, st, writes)
			if got := locks.Load(); got != 0 {
				t.Errorf("%d card creates took %d lock statements of their own; want none", n, got)
			}

			// A delete of p in the batch, queued (and on PostgreSQL sorted) before the card creates:
			// theirs on p fail.
			got := make([]string, 3)
			writes = []func(){
				func() {
					if err := f.Svc.DeleteProfile(ctx, f.Principal, profiles[0].ID, vault.Cascade); err != nil {
						t.Errorf("delete: %v", err)
					}
				},
			}
			for i, p := range []*vault.Profile{profiles[0], profiles[0], profiles[1]} {
				writes = append(writes, func() {
					if err := create(p); err != nil {
						got[i] = vault.KindOf(err).String()
					} else {
						got[i] = "ok"
					}
				})
			}
			mustGather(t, st, writes)
			if d := cmp.Diff([]string{"invalid", "invalid", "ok"}, got); d != "" {
				t.Errorf("card creates beside the delete (-want +got)\n%s", d)
			}

			// A profile id no column can hold fails its own card create, not the batch's lock.
			bad := &vault.Profile{ID: "bad\x00id"}
			got = make([]string, 4)
			writes = writes[:0]
			for i, p := range []*vault.Profile{bad, bad, profiles[1], profiles[1]} {
				writes = append(writes, func() {
					if err := create(p); err != nil {
						got[i] = vault.KindOf(err).String()
					} else {
						got[i] = "ok"
					}
				})
			}
			d := mustGather(t, st, writes)
			if d := cmp.Diff([]string{"invalid", "invalid", "ok", "ok"}, got); d != "" {
				t.Errorf("card creates on a bad profile id (-want +got)\n%s", d)
			}
			if commits := d.Commits; commits != 2 {
				t.Errorf("%d transactions; want 2 (the blocker's and the batch's)", commits)
			}
		})
	}
}

// TestGroupCommitQueuedCards checks card creates whose INSERT a PostgreSQL batch queues and
// sends together (txConn.queue): the first card of an empty profile becomes its default and
// says so; cards made the default explicitly flush the queue before their own update; and a
// queued INSERT that fails (a unique api_id) runs the batch again with savepoints, so that
// each create gets its own outcome and nothing else is lost.
func TestGroupCommitQueuedCards(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ce := newCardEnv(t, e.open)
			st, ctx, mid := ce.st, context.Background(), ce.f.Creds.MerchantID
			p := ce.profile(t, "queued")
			yes := true
			create := func(apiID string, def *bool) (*vault.Instrument, error) {
				return ce.f.Svc.CreateInstrument(ctx, ce.f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID, APIID: apiID},
					vault.Source{Number: ce.freshPAN(), Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{CheckDuplicate: true, Default: def})
			}
			// gather creates n cards in one batch; it returns what each answered.
			gather := func(n int, apiID func(int) string, def *bool) ([]*vault.Instrument, []error, struct{ Writes, Commits int64 }, int64) {
				out, errs := make([]*vault.Instrument, n), make([]error, n)
				writes := make([]func(), n)
				for i := range writes {
					writes[i] = func() { out[i], errs[i] = create(apiID(i), def) }
				}
				before := st.WriteStats().Pipelined
				d := mustGather(t, st, writes)
				return out, errs, d, st.WriteStats().Pipelined - before
			}
			defaults := func() []string { return storetest.DefaultCardIDs(t, st, mid, p.ID) }
			queued := map[string]int64{"sqlite": 0, "postgres": 1}[e.name]

			// The profile's first cards, in one batch: one of them is the default.
			const n = 6
			out, errs, d, sent := gather(n, func(int) string { return "" }, nil)
			var said []string
			for i := range out {
				if errs[i] != nil {
					t.Fatalf("card %d: %v", i, errs[i])
				}
				if out[i].DefaultCard {
					said = append(said, out[i].ID)
				}
			}
			if got := defaults(); len(said) != 1 || !slices.Equal(got, said) {
				t.Errorf("defaults answered %v, stored %v; want one, the same", said, got)
			}
			if d.Commits != 2 || sent != queued*(n+1) {
				t.Errorf("%d transactions, %d statements queued; want 2 and %d (the cards and their count)", d.Commits, sent, queued*(n+1))
			}

			// Cards made the default explicitly: each is answered as the default; the last stays.
			out, errs, _, _ = gather(n, func(int) string { return "" }, &yes)
			for i := range out {
				if errs[i] != nil || !out[i].DefaultCard {
					t.Fatalf("card %d: %v (answered as the default: %v); want the default", i, errs[i], out[i] != nil && out[i].DefaultCard)
				}
			}
			if got := defaults(); len(got) != 1 || !slices.ContainsFunc(out, func(in *vault.Instrument) bool { return in.ID == got[0] }) {
				t.Errorf("stored defaults %v; want one of the batch's", got)
			}

			// Three cards with one api id among others: one of the three is stored, the two
			// others answer Conflict, and the rest are stored.
			out, errs, d, _ = gather(n, func(i int) string {
				if i%2 == 0 {
					return "same"
				}
				return fmt.Sprintf("own-%d", i)
			}, nil)
			stored, conflicts := 0, 0
			for i := range out {
				switch {
				case errs[i] == nil:
					stored++
					if _, err := st.GetInstrument(ctx, mid, out[i].ID); err != nil {
						t.Errorf("card %d answered stored: %v", i, err)
					}
				case vault.KindOf(errs[i]) == vault.Conflict && i%2 == 0:
					conflicts++
				default:
					t.Errorf("card %d: %v", i, errs[i])
				}
			}
			if stored != 4 || conflicts != 2 {
				t.Errorf("%d stored, %d conflicts; want 4 and 2", stored, conflicts)
			}
			// The blocker's, the batch's first run (its INSERTs queued on PostgreSQL), rolled
			// back, and its run with savepoints.
			if d.Commits != 3 {
				t.Errorf("%d transactions; want 3", d.Commits)
			}

			// First approvals mark cards VERIFIED, each once on the audit chain; two of them
			// mark the same card, and the second, finding it marked, is not audited.
			st.SetAuditMAC(ce.f.Keys)
			head := func() int64 {
				recs, err := st.ListAudit(ctx, mid, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				return int64(len(recs))
			}
			mark := []string{out[1].ID, out[3].ID, out[3].ID, out[5].ID}
			before := head()
			errs = make([]error, len(mark))
			writes := make([]func(), len(mark))
			for i := range writes {
				writes[i] = func() {
					errs[i] = st.Write(ctx, func(tx vault.Tx) error { return tx.SetCardVerified(ctx, mid, mark[i]) })
				}
			}
			d = mustGather(t, st, writes)
			for i, id := range mark {
				in, err := st.GetInstrument(ctx, mid, id)
				if errs[i] != nil || err != nil || !in.Verified() {
					t.Errorf("mark %d: %v, %v, verified %v", i, errs[i], err, in != nil && in.Verified())
				}
			}
			if got := head() - before; got != 3 {
				t.Errorf("%d audit records; want 3, one per card", got)
			}
			if d.Commits != 2 {
				t.Errorf("%d transactions marking; want 2 (on PostgreSQL the queued mark of a marked card drops its audit record, and does not run the batch again)", d.Commits)
			}
			if problems, err := st.VerifyAudit(ctx, ce.f.Keys); err != nil || len(problems) > 0 {
				t.Errorf("audit chain after the marks: %v, %v", problems, err)
			}
			// The counts of the cards, queued with them, then counted again in the run
			// with savepoints, agree with the rows.
			mustCountsAgree(t, st)
		})
	}
}

// TestGroupCommitQueuedPayments checks the payment statements a PostgreSQL batch queues
// (execQueued): completions of RECEIVED transactions, one of which another write completed
// first, and inserts, two of which share an api id. Each write gets its own outcome, as it
// would alone, and the stored rows agree.
func TestGroupCommitQueuedPayments(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ce := newCardEnv(t, e.open)
			st, ctx, mid := ce.st, context.Background(), ce.f.Creds.MerchantID
			loc, err := st.GetLocationByAccount(ctx, ce.f.Creds.Paysafe.AccountNumber)
			if err != nil {
				t.Fatal(err)
			}
			at := time.Now().UTC().Truncate(time.Millisecond)
			txn := func(apiID string) *payments.Transaction {
				return &payments.Transaction{ID: vault.NewID(), MerchantID: mid, LocationID: loc.ID, AccountNumber: loc.AccountNumber,
					API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusReceived, MerchantRefNum: "ref", APIID: apiID,
					Amount: 100, Currency: "USD", PaymentMethod: "cc", TxnTime: at, Created: at, Modified: at}
			}
			write := func(fn func(payments.Tx) error) error {
				return st.Write(ctx, func(tx vault.Tx) error { return fn(tx.(payments.Tx)) })
			}
			const n = 6
			received := make([]*payments.Transaction, n)
			for i := range received {
				received[i] = txn("")
				if err := write(func(tx payments.Tx) error { return tx.InsertTransaction(ctx, received[i]) }); err != nil {
					t.Fatal(err)
				}
			}
			// The write that completes received[2] first.
			early := *received[2]
			early.Status, early.AuthCode = payments.StatusFailed, "early"
			if err := write(func(tx payments.Tx) error { return tx.UpdateTransaction(ctx, &early) }); err != nil {
				t.Fatal(err)
			}

			oks := make([]bool, n)
			errs := make([]error, n)
			writes := make([]func(), n)
			for i := range writes {
				writes[i] = func() {
					upd := *received[i]
					upd.Status, upd.AuthCode = payments.StatusCompleted, fmt.Sprintf("late-%d", i)
					errs[i] = write(func(tx payments.Tx) error {
						ok, err := tx.CompleteReceived(ctx, &upd)
						oks[i] = ok
						return err
					})
				}
			}
			before := st.WriteStats().Pipelined
			d := mustGather(t, st, writes)
			for i := range received {
				stored, err := st.GetTransaction(ctx, mid, received[i].ID)
				if err != nil || errs[i] != nil {
					t.Fatalf("completion %d: %v, %v", i, errs[i], err)
				}
				want, code := i != 2, fmt.Sprintf("late-%d", i)
				if !want {
					code = "early"
				}
				if oks[i] != want || stored.AuthCode != code {
					t.Errorf("completion %d answered %v and left %q; want %v and %q", i, oks[i], stored.AuthCode, want, code)
				}
			}
			// The blocker's, the first run, rolled back on PostgreSQL once the queue is sent,
			// and its run with savepoints.
			wantCommits := map[string]int64{"sqlite": 2, "postgres": 3}[e.name]
			if sent := st.WriteStats().Pipelined - before; d.Commits != wantCommits || (e.name == "postgres") != (sent > 0) {
				t.Errorf("%d transactions, %d statements queued; want %d and some on PostgreSQL only", d.Commits, sent, wantCommits)
			}

			// Inserts, two of them with one api id: one of those two answers Conflict.
			ins := make([]*payments.Transaction, n)
			for i := range writes {
				ins[i] = txn(fmt.Sprintf("api-%d", i))
				if i == 2 {
					ins[i].APIID = "api-1"
				}
				writes[i] = func() { errs[i] = write(func(tx payments.Tx) error { return tx.InsertTransaction(ctx, ins[i]) }) }
			}
			mustGather(t, st, writes)
			for i := range ins {
				_, err := st.GetTransaction(ctx, mid, ins[i].ID)
				switch {
				case i == 2 && vault.KindOf(errs[i]) == vault.Conflict && vault.KindOf(err) == vault.NotFound:
				case i != 2 && errs[i] == nil && err == nil:
				default:
					t.Errorf("insert %d: %v; stored: %v", i, errs[i], err)
				}
			}
		})
	}
}

// TestWriteQueueWait: while a batch holds the committer (a database that stalls), a write
// queued behind it gives up after the queue wait with Unavailable, and its fn never runs;
// the batch in progress keeps its own outcome.
func TestWriteQueueWait(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, sqlstore.Config{Path: t.TempDir() + "/t.db", QueueWait: 200 * time.Millisecond})
	insert := func(id string, hold <-chan struct{}, ran *atomic.Bool) error {
		return s.Write(ctx, func(tx vault.Tx) error {
			ran.Store(true)
			if hold != nil {
				<-hold
			}
			return tx.InsertMerchant(ctx, &vault.Merchant{ID: id, Name: id, Created: time.Now()})
		})
	}
	hold := make(chan struct{})
	var ranA, ranB, ranC atomic.Bool
	errA := make(chan error, 1)
	go func() { errA <- insert("m-a", hold, &ranA) }()
	for !ranA.Load() {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	errB := insert("m-b", nil, &ranB)
	if vault.KindOf(errB) != vault.Unavailable || time.Since(start) > 5*time.Second {
		t.Errorf("a write behind a stalled batch: %v after %v; want Unavailable after about 200 ms", errB, time.Since(start))
	}
	close(hold)
	if err := <-errA; err != nil {
		t.Errorf("the stalled write: %v", err)
	}
	if err := insert("m-c", nil, &ranC); err != nil {
		t.Errorf("a write after the stall: %v", err)
	}
	if ranB.Load() {
		t.Error("the write that gave up ran")
	}
	for id, want := range map[string]vault.Kind{"m-a": vault.Other, "m-b": vault.NotFound, "m-c": vault.Other} {
		if _, err := s.GetMerchant(ctx, id); vault.KindOf(err) != want {
			t.Errorf("%s: %v; want kind %v", id, err, want)
		}
	}
}

// TestAuditFlushFailureFailsWrite: a write whose audit records cannot be stored is not
// committed, in its batch nor when it is run again alone: answered stored, its record would
// be missing from the merchant's audit chain.
func TestAuditFlushFailureFailsWrite(t *testing.T) {
	refuse := map[string][]string{
		"sqlite": {`CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END`},
		"postgres": {
			`CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`,
			`CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_refused()`,
		},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ce := newCardEnv(t, e.open)
			st, mid := ce.st, ce.f.Creds.MerchantID
			st.SetAuditMAC(ce.f.Keys)
			p := ce.profile(t, "audited")
			before, err := sqlstore.CountSQL(st, "SELECT COUNT(*) FROM instruments WHERE merchant_id = ?", mid)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range refuse[e.name] {
				if err := sqlstore.ExecSQL(st, q); err != nil {
					t.Fatal(err)
				}
			}
			c, err := ce.card(p, ce.freshPAN())
			if err == nil {
				t.Errorf("card %s answered stored though its audit record was refused", c.ID)
			}
			// A batch of them (on PostgreSQL the audit records go in the batch's last round
			// trip with its chain head's write) fails each of its writes.
			writes := make([]func(), 4)
			for i := range writes {
				writes[i] = func() {
					if c, err := ce.card(p, ce.freshPAN()); err == nil {
						t.Errorf("card %s of a batch answered stored though its audit record was refused", c.ID)
					}
				}
			}
			mustGather(t, st, writes)
			after, err := sqlstore.CountSQL(st, "SELECT COUNT(*) FROM instruments WHERE merchant_id = ?", mid)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Errorf("%d cards stored without their audit record", after-before)
			}
		})
	}
}

// TestWriteBulkAlone checks a bulk write (vault.WithBulk) that runs alone, as an import's
// batch does: on PostgreSQL its inserts are sent together (txConn.queue), not one round trip
// each; one that fails (an api id taken) runs the write again with each statement at once,
// so that it answers Conflict as it would unqueued, and nothing of it is kept.
func TestWriteBulkAlone(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ce := newCardEnv(t, e.open)
			st, mid := ce.st, ce.f.Creds.MerchantID
			ctx := vault.WithBulk(context.Background())
			loc, err := st.GetLocationByAccount(ctx, ce.f.Creds.Paysafe.AccountNumber)
			if err != nil {
				t.Fatal(err)
			}
			at := time.Now().UTC().Truncate(time.Millisecond)
			txns := func(apiIDs ...string) []*payments.Transaction {
				out := make([]*payments.Transaction, len(apiIDs))
				for i, apiID := range apiIDs {
					out[i] = &payments.Transaction{ID: vault.NewID(), MerchantID: mid, LocationID: loc.ID, AccountNumber: loc.AccountNumber,
						API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusReceived, MerchantRefNum: "ref", APIID: apiID,
						Amount: 100, Currency: "USD", PaymentMethod: "cc", TxnTime: at, Created: at, Modified: at}
				}
				return out
			}
			// insert writes ins alone, in one bulk write; it returns the transactions ended,
			// the statements sent together and the error.
			insert := func(ins []*payments.Transaction) (int64, int64, error) {
				before := st.WriteStats()
				err := st.Write(ctx, func(tx vault.Tx) error {
					for _, in := range ins {
						if err := tx.(payments.Tx).InsertTransaction(ctx, in); err != nil {
							return err
						}
					}
					return nil
				})
				after := st.WriteStats()
				return after.Commits - before.Commits, after.Pipelined - before.Pipelined, err
			}
			stored := func(ins []*payments.Transaction) (n int) {
				for _, in := range ins {
					if _, err := st.GetTransaction(ctx, mid, in.ID); err == nil {
						n++
					}
				}
				return n
			}

			t.Run("ok", func(t *testing.T) {
				ins := txns("bulk-1", "bulk-2", "")
				commits, sent, err := insert(ins)
				want := map[string]int64{"sqlite": 0, "postgres": 3}[e.name]
				if err != nil || commits != 1 || sent != want || stored(ins) != 3 {
					t.Errorf("%v, %d transactions, %d statements sent together, %d stored; want nil, 1, %d, 3", err, commits, sent, want, stored(ins))
				}
			})
			t.Run("fail/api-id-taken", func(t *testing.T) {
				ins := txns("bulk-3", "bulk-1", "bulk-4")
				commits, _, err := insert(ins)
				want := map[string]int64{"sqlite": 1, "postgres": 2}[e.name]
				if vault.KindOf(err) != vault.Conflict || commits != want || stored(ins) != 0 {
					t.Errorf("%v, %d transactions, %d stored; want Conflict, %d (PostgreSQL runs it again unqueued), 0", err, commits, stored(ins), want)
				}
			})
		})
	}
}
