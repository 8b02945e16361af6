package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// countEngines are the engines with their storetest openers.
var countEngines = []struct {
	name string
	open func(testing.TB) storetest.Store
}{{"sqlite", MustSQLite}, {"postgres", MustPostgres}}

// TestInstrumentCounts runs random inserts, soft and hard deletes and location moves of
// instruments, and checks after each that the counts the store and its triggers keep
// (instrument_counts) equal the rows they count, and that a list whose count they answer
// (location and kind filters only) reports the same total as counting its rows. On
// PostgreSQL the merchant's counts are folded now and then.
func TestInstrumentCounts(t *testing.T) {
	for _, e := range countEngines {
		t.Run(e.name, func(t *testing.T) { testInstrumentCounts(t, e.open, e.name == "postgres") })
	}
}

func testInstrumentCounts(t *testing.T, open func(testing.TB) storetest.Store, pg bool) {
	f := storetest.MustFixture(t, open)
	st := f.Store.(*sqlstore.Store)
	ctx, mid := context.Background(), f.Creds.MerchantID
	rng := rand.New(rand.NewPCG(1, 2))
	locs, kinds := []string{"loc-a", "loc-b", "loc-c"}, []string{vault.KindCard, vault.KindACH}
	var ids []string
	write := func(fn func(tx vault.Tx) error) {
		t.Helper()
		if err := st.Write(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	for step := range 300 {
		switch op := rng.IntN(10); {
		case op < 5 || len(ids) == 0: // insert, now and then already deleted
			now := time.Now().UTC().Truncate(time.Millisecond)
			in := &vault.Instrument{ID: vault.NewID(), MerchantID: mid, LocationID: locs[rng.IntN(len(locs))],
				Token: fmt.Sprintf("T%014d", step), Kind: kinds[rng.IntN(len(kinds))], Status: "ACTIVE", Created: now, Modified: now}
			if rng.IntN(5) == 0 {
				in.Deleted = now
			}
			write(func(tx vault.Tx) error { return tx.InsertInstrument(ctx, in) })
			ids = append(ids, in.ID)
		case op < 7: // soft delete (NotFound when already deleted)
			id := ids[rng.IntN(len(ids))]
			st.Write(ctx, func(tx vault.Tx) error { return tx.DeleteInstrument(ctx, mid, id, time.Now()) })
		case op < 9: // move to another location
			in, err := st.GetInstrument(ctx, mid, ids[rng.IntN(len(ids))])
			if err != nil {
				t.Fatal(err)
			}
			in.LocationID = locs[rng.IntN(len(locs))]
			if in.Active() {
				write(func(tx vault.Tx) error { return tx.UpdateInstrument(ctx, in) })
			}
		default: // hard delete
			i := rng.IntN(len(ids))
			if err := sqlstore.ExecSQL(st, "DELETE FROM instruments WHERE id = ?", ids[i]); err != nil {
				t.Fatal(err)
			}
			ids = append(ids[:i], ids[i+1:]...)
		}
		if pg && step%37 == 36 {
			if err := sqlstore.FoldCounts(st, mid); err != nil {
				t.Fatal(err)
			}
		}
		for _, loc := range locs {
			for _, kind := range kinds {
				want := mustCount(t, st, "SELECT COUNT(*) FROM instruments WHERE merchant_id = ? AND location_id = ? AND kind = ? AND deleted_at = 0", mid, loc, kind)
				got := mustCount(t, st, "SELECT COALESCE(SUM(n), 0) FROM instrument_counts WHERE merchant_id = ? AND location_id = ? AND kind = ?", mid, loc, kind)
				if got != want {
					t.Fatalf("step %d: %s %s counted %d, holds %d", step, loc, kind, got, want)
				}
			}
			fromCounts := false
			stop := sqlstore.ObserveSQL(func(q string) { fromCounts = fromCounts || strings.Contains(q, "FROM instrument_counts") })
			_, total, err := st.ListInstruments(ctx, mid, vault.Query{Limit: 1, Filters: []vault.Filter{
				{Field: "location_id", Op: vault.OpIn, Values: []string{loc, "loc-none"}},
				{Field: "kind", Op: vault.OpIn, Values: kinds},
			}})
			stop()
			want := mustCount(t, st, "SELECT COUNT(*) FROM instruments WHERE merchant_id = ? AND location_id = ? AND deleted_at = 0", mid, loc)
			if err != nil || total != want || !fromCounts {
				t.Fatalf("step %d: list of %s: total %d, %v, from the counts %v; want %d from the counts", step, loc, total, err, fromCounts, want)
			}
		}
	}
}

// TestInstrumentCountsBatch gathers inserts into one batch, one of whose fns inserts and
// then fails: the counts hold the others' inserts, not the failed one's.
func TestInstrumentCountsBatch(t *testing.T) {
	for _, e := range countEngines {
		t.Run(e.name, func(t *testing.T) { testInstrumentCountsBatch(t, e.open) })
	}
}

func testInstrumentCountsBatch(t *testing.T, open func(testing.TB) storetest.Store) {
	f := storetest.MustFixture(t, open)
	st := f.Store.(*sqlstore.Store)
	ctx, mid := context.Background(), f.Creds.MerchantID
	boom := errors.New("boom")
	const n = 8
	writes := make([]func(), n)
	for i := range writes {
		writes[i] = func() {
			now := time.Now().UTC().Truncate(time.Millisecond)
			in := &vault.Instrument{ID: vault.NewID(), MerchantID: mid, LocationID: "loc-a",
				Token: fmt.Sprintf("B%014d", i), Kind: vault.KindCard, Status: "ACTIVE", Created: now, Modified: now}
			err := st.Write(ctx, func(tx vault.Tx) error {
				if err := tx.InsertInstrument(ctx, in); err != nil {
					return err
				}
				if i == 3 {
					return boom
				}
				return nil
			})
			if (i == 3) != errors.Is(err, boom) || i != 3 && err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
	}
	mustGather(t, st, writes)
	want := mustCount(t, st, "SELECT COUNT(*) FROM instruments WHERE merchant_id = ? AND location_id = 'loc-a' AND deleted_at = 0", mid)
	got := mustCount(t, st, "SELECT COALESCE(SUM(n), 0) FROM instrument_counts WHERE merchant_id = ? AND location_id = 'loc-a'", mid)
	if want != n-1 || got != want {
		t.Errorf("counted %d, holds %d; want %d", got, want, n-1)
	}
}

// TestInstrumentCountsFold checks PostgreSQL's folding of counts: a list that sums more
// than 64 rows folds them in the background, and folds running alongside writers and each
// other lose no count.
func TestInstrumentCountsFold(t *testing.T) {
	f := storetest.MustFixture(t, MustPostgres)
	st := f.Store.(*sqlstore.Store)
	ctx, mid := context.Background(), f.Creds.MerchantID
	insert := func(loc string, i int) error {
		now := time.Now().UTC().Truncate(time.Millisecond)
		in := &vault.Instrument{ID: vault.NewID(), MerchantID: mid, LocationID: loc,
			Token: fmt.Sprintf("F%s%012d", loc, i), Kind: vault.KindCard, Status: "ACTIVE", Created: now, Modified: now}
		return st.Write(ctx, func(tx vault.Tx) error { return tx.InsertInstrument(ctx, in) })
	}
	rows := func() int {
		return mustCount(t, st, "SELECT COUNT(*) FROM instrument_counts WHERE merchant_id = ?", mid)
	}
	list := func(loc string) int {
		t.Helper()
		_, total, err := st.ListInstruments(ctx, mid, vault.Query{Limit: 1, Filters: []vault.Filter{{Field: "location_id", Op: vault.OpIn, Values: []string{loc}}}})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}

	// One write at a time: a row each.
	const n = 80
	for i := range n {
		if err := insert("loc-a", i); err != nil {
			t.Fatal(err)
		}
	}
	if got := rows(); got != n {
		t.Fatalf("%d rows of counts after %d lone inserts; want %d", got, n, n)
	}
	if got := list("loc-a"); got != n {
		t.Fatalf("list total %d; want %d", got, n)
	}
	sqlstore.WaitBackground(st)
	if got := rows(); got != 1 {
		t.Errorf("%d rows of counts after the list folded them; want 1", got)
	}
	if got := list("loc-a"); got != n {
		t.Errorf("list total %d after the fold; want %d", got, n)
	}

	// Writers on two locations, and two folders, side by side.
	var wg sync.WaitGroup
	done := make(chan struct{})
	var folds, busy atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				switch err := sqlstore.FoldCounts(st, mid); {
				case err == nil:
					folds.Add(1)
				case strings.Contains(err.Error(), "another node"):
					busy.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 40 {
				if err := insert([]string{"loc-a", "loc-b"}[w%2], 1000*(w+1)+i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	wg.Wait()
	if folds.Load() == 0 {
		t.Errorf("no fold ran")
	}
	t.Logf("%d folds, %d skipped while another ran", folds.Load(), busy.Load())
	mustCountsAgree(t, st)
	if got, want := list("loc-a"), n+4*40; got != want {
		t.Errorf("list total %d; want %d", got, want)
	}
}

// mustCountsAgree fails unless instrument_counts sums, for every key, to the active
// instruments it counts.
func mustCountsAgree(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	n := mustCount(t, st, `SELECT COUNT(*) FROM (
    SELECT merchant_id, location_id, kind, SUM(n) AS n FROM instrument_counts GROUP BY merchant_id, location_id, kind HAVING SUM(n) <> 0
) c FULL JOIN (
    SELECT merchant_id, location_id, kind, COUNT(*) AS n FROM instruments WHERE deleted_at = 0 GROUP BY merchant_id, location_id, kind
) r USING (merchant_id, location_id, kind) WHERE c.n IS DISTINCT FROM r.n`)
	if n != 0 {
		t.Errorf("instrument_counts disagrees with the rows on %d keys", n)
	}
}

func mustCount(t *testing.T, st *sqlstore.Store, query string, args ...any) int {
	t.Helper()
	n, err := sqlstore.CountSQL(st, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInstrumentCountsFoldOnWrites checks that a merchant whose vaults are never listed does
// not pile up rows of counts: a node folds them after it has added foldEvery (PostgreSQL).
func TestInstrumentCountsFoldOnWrites(t *testing.T) {
	f := storetest.MustFixture(t, MustPostgres)
	st := f.Store.(*sqlstore.Store)
	ctx, mid := context.Background(), f.Creds.MerchantID
	const n = sqlstore.FoldEvery + 20
	for i := range n {
		now := time.Now().UTC().Truncate(time.Millisecond)
		in := &vault.Instrument{ID: vault.NewID(), MerchantID: mid, LocationID: "loc-w",
			Token: fmt.Sprintf("W%012d", i), Kind: vault.KindCard, Status: "ACTIVE", Created: now, Modified: now}
		if err := st.Write(ctx, func(tx vault.Tx) error { return tx.InsertInstrument(ctx, in) }); err != nil {
			t.Fatal(err)
		}
	}
	sqlstore.WaitBackground(st)
	if got := mustCount(t, st, "SELECT COUNT(*) FROM instrument_counts WHERE merchant_id = ?", mid); got > 21 {
		t.Errorf("%d rows of counts after %d lone inserts and no list; want at most 21", got, n)
	}
	mustCountsAgree(t, st)
}

// TestListOneSnapshot commits an insert just before a list's page is read (the hook runs
// when the page's SELECT is about to run) and checks that the page and the total still
// agree: both come from one read snapshot, whether the count is kept (location and kind
// filters only) or counted row by row. With offset 20 over 20 rows the page is empty, and
// its count is read alone: the insert lands just before that count, which then reaches past
// the page's start, so the page is read again and holds the new row.
func TestListOneSnapshot(t *testing.T) {
	for _, e := range countEngines {
		t.Run(e.name, func(t *testing.T) {
			for _, c := range []struct {
				name    string
				filters []vault.Filter
			}{
				{"kept-count", []vault.Filter{{Field: "location_id", Op: vault.OpIn, Values: []string{"loc-a"}}}},
				{"counted-rows", []vault.Filter{{Field: "location_id", Op: vault.OpIn, Values: []string{"loc-a"}},
					{Field: "holder_name", Op: vault.OpContains, Values: []string{"holder"}}}},
			} {
				for _, offset := range []int{0, 20} {
					t.Run(fmt.Sprintf("%s/offset=%d", c.name, offset), func(t *testing.T) {
						testListOneSnapshot(t, storetest.MustFixture(t, e.open), c.filters, offset)
					})
				}
			}
		})
	}
}

func testListOneSnapshot(t *testing.T, f *storetest.Fixture, filters []vault.Filter, offset int) {
	ctx, st, mid := context.Background(), f.Store, f.Creds.MerchantID
	now := time.Now().UTC().Truncate(time.Millisecond)
	n := 0
	insert := func() {
		t.Helper()
		n++
		in := &vault.Instrument{ID: vault.NewID(), MerchantID: mid, LocationID: "loc-a", Token: fmt.Sprintf("S%014d", n),
			Kind: vault.KindCard, Status: "ACTIVE", HolderName: "holder", Created: now, Modified: now}
		if err := st.Write(ctx, func(tx vault.Tx) error { return tx.InsertInstrument(ctx, in) }); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		insert()
	}
	var armed, fired atomic.Bool
	armed.Store(true)
	stop := sqlstore.ObserveSQL(func(query string) {
		// The page's statement, or with an offset the count read alone after the empty page.
		page := strings.Contains(query, " ORDER BY ")
		if armed.Load() && strings.HasPrefix(query, "SELECT ") && strings.Contains(query, " FROM instrument") && page == (offset == 0) {
			armed.Store(false)
			insert()
			fired.Store(true)
		}
	})
	defer stop()
	got, total, err := st.ListInstruments(ctx, mid, vault.Query{Filters: filters, Limit: 50, Offset: offset})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if !fired.Load() {
		t.Fatal("the hook never committed its insert")
	}
	if total != 21 || len(got) != total-offset {
		t.Errorf("page of %d rows from offset %d, totalCount %d (21 rows): the count and the page saw different data", len(got), offset, total)
	}
}

// TestListsColdPool runs more concurrent lists than SQLite's read pool has connections, each
// with a statement no list ran before (a page size of its own), and checks that they all
// answer. A list that held a pool connection while it prepared its statement on another
// (lists in a read transaction, for a while) waited for a connection that the other lists
// held the same way: with as many lists as connections, none ever answered.
func TestListsColdPool(t *testing.T) {
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db"), ReadConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errs := make(chan error, 32)
	for i := range cap(errs) {
		go func() {
			_, _, err := s.ListInstruments(context.Background(), "m", vault.Query{Limit: 10 + i})
			errs <- err
		}()
	}
	timeout := time.After(30 * time.Second)
	for range cap(errs) {
		select {
		case err := <-errs:
			if err != nil {
				t.Error(err)
			}
		case <-timeout:
			t.Fatal("lists on a cold read pool answered nothing in 30 s")
		}
	}
}
