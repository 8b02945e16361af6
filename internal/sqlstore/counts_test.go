package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestInstrumentCounts runs random inserts, soft and hard deletes and location moves of
// instruments on SQLite, and checks after each that the counts its triggers keep
// (instrument_counts) equal the rows they count, and that a list whose count they answer
// (location and kind filters only) reports the same total as counting its rows.
func TestInstrumentCounts(t *testing.T) {
	f := storetest.MustFixture(t, MustSQLite)
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
	f := storetest.MustFixture(t, MustSQLite)
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

func mustCount(t *testing.T, st *sqlstore.Store, query string, args ...any) int {
	t.Helper()
	n, err := sqlstore.CountSQL(st, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
