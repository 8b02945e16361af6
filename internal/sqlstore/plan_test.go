package sqlstore_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
)

// TestProfileStatementsUseProfileIndex runs the store conformance suite on SQLite, keeps every
// statement over instruments that names a profile (profile_id = ?), and asks SQLite for its
// plan: each must reach the rows through the profile index or the primary key. One that does
// not reads every instrument of the merchant, which on a large store stalls the one writer
// (deleting a profile did, before the statements restated the index's condition).
func TestProfileStatementsUseProfileIndex(t *testing.T) {
	var (
		mu    sync.Mutex
		stmts = map[string]bool{}
	)
	stop := sqlstore.ObserveSQL(func(q string) {
		if strings.Contains(q, "instruments") && strings.Contains(q, "profile_id = ?") {
			mu.Lock()
			stmts[q] = true
			mu.Unlock()
		}
	})
	t.Run("conformance", func(t *testing.T) { storetest.Run(t, MustSQLite) })
	stop()

	db := MustSQLite(t).(*sqlstore.Store).DB()
	ctx := context.Background()
	var seen []string
	for q := range stmts {
		seen = append(seen, q)
	}
	slices.Sort(seen)
	for _, q := range seen {
		plan, err := explain(ctx, db, q)
		if err != nil {
			t.Errorf("explain %s: %v", q, err)
			continue
		}
		for _, step := range plan {
			if strings.Contains(step, " instruments ") && !strings.Contains(step, "instruments_profile") &&
				!strings.Contains(step, "sqlite_autoindex_instruments_1") {
				t.Errorf("%s\nplan: %s", q, strings.Join(plan, "; "))
				break
			}
		}
	}
	if len(seen) < 5 {
		t.Errorf("only %d statements over a profile's instruments seen: %q", len(seen), seen)
	}
	t.Logf("%d statements checked", len(seen))
}

// TestTokenWithCustomerPlan checks that the auth's token read, which joins the card's profile
// through a renaming subquery, reaches both rows through an index and scans no table.
func TestTokenWithCustomerPlan(t *testing.T) {
	st := MustSQLite(t)
	var query string
	stop := sqlstore.ObserveSQL(func(q string) {
		if strings.Contains(q, "p_first") {
			query = q
		}
	})
	st.GetInstrumentByTokenWithCustomer(context.Background(), "m", "t")
	stop()
	if query == "" {
		t.Fatal("the statement was not seen")
	}
	plan, err := explain(context.Background(), st.(*sqlstore.Store).DB(), query)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 2 || !strings.HasPrefix(plan[0], "SEARCH instruments USING INDEX") || !strings.HasPrefix(plan[1], "SEARCH profiles USING INDEX") {
		t.Errorf("plan: %q", plan)
	}
}

// explain returns SQLite's query plan of q, one detail per step, with every argument NULL.
func explain(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, make([]any, strings.Count(q, "?"))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}
