package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestListOneSnapshot commits an insert between a list's count and its page (the hook runs
// when the page's SELECT is about to run) and checks that the page and the total still
// agree: both come from one read snapshot, whether the count is kept (location and kind
// filters only) or counted row by row.
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
				t.Run(c.name, func(t *testing.T) { testListOneSnapshot(t, storetest.MustFixture(t, e.open), c.filters) })
			}
		})
	}
}

func testListOneSnapshot(t *testing.T, f *storetest.Fixture, filters []vault.Filter) {
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
		if armed.Load() && strings.HasPrefix(query, "SELECT ") && strings.Contains(query, " FROM instruments") &&
			strings.Contains(query, " ORDER BY ") && !strings.HasPrefix(query, "SELECT COUNT") {
			armed.Store(false)
			insert()
			fired.Store(true)
		}
	})
	defer stop()
	got, total, err := st.ListInstruments(ctx, mid, vault.Query{Filters: filters, Limit: 50})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if !fired.Load() {
		t.Fatal("the hook never committed its insert")
	}
	if len(got) != total {
		t.Errorf("page of %d rows, totalCount %d: the count and the page saw different data", len(got), total)
	}
}
