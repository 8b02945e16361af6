package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// txnPlanSeed stores 60,000 transactions: merchant m's in location l1 (300, one in ten of
// them another API's or still RECEIVED, none of which a Fortis list shows) and l2 (29,700),
// and merchant m2's in l3 (30,000), their ids in time order (as UUIDv7 ids are) and the
// locations' interleaved. l1's transaction api ids are "a" and the row's number.
const txnPlanSeed = `INSERT INTO transactions (id, merchant_id, location_id, account_number, api, type, status, api_id,
		profile_id, amount, last_four, txn_at, created_at)
	SELECT lpad(g::text, 8, '0'), CASE WHEN g % 2 = 0 THEN 'm2' ELSE 'm' END,
		CASE WHEN g % 2 = 0 THEN 'l3' WHEN g % 200 = 1 THEN 'l1' ELSE 'l2' END, '1',
		CASE WHEN g % 2000 = 1 THEN 'paysafe' ELSE 'fortis' END, 'sale',
		CASE WHEN g % 2000 = 201 THEN 'RECEIVED' ELSE 'COMPLETED' END,
		CASE WHEN g % 200 = 1 THEN 'a' || g ELSE '' END, CASE WHEN g % 7 = 0 THEN 'p1' ELSE '' END,
		(g * 7919) % 100000, lpad((g % 10000)::text, 4, '0'), g * 1000, g * 1000
	FROM generate_series(1, 60000) g`

// fortisTxns is the store query of a Fortis transaction list page of location l1 (GET
// /v2/transactions, handleTransactionList): the location, its own API's answered
// transactions, and the list's filters and sort (newest first when none).
func fortisTxns(filters []vault.Filter, sort []vault.SortKey, offset int) vault.Query {
	return fortisTxnsAt("l1", filters, sort, offset)
}

// fortisTxnsAt is fortisTxns of location loc.
func fortisTxnsAt(loc string, filters []vault.Filter, sort []vault.SortKey, offset int) vault.Query {
	if sort == nil {
		sort = []vault.SortKey{{Field: "id", Desc: true}}
	}
	return vault.Query{
		Filters: append([]vault.Filter{exact("location_id", loc), exact("api", "fortis"),
			exact("status", "COMPLETED", "PENDING", "FAILED", "CANCELLED")}, filters...),
		Sort: sort, Limit: 20, Offset: offset,
	}
}

// TestTransactionListPlans: on PostgreSQL, a page of the Fortis transaction list of a small
// location (300 transactions) beside a large one of the same merchant (29,700) and another
// merchant's (30,000) reads no more rows of transactions than the page needs, whatever the
// statistics say: with them deleted (a growing table autovacuum has not analysed yet), and
// under a forced generic plan (a prepared statement planned once for any value). A page in
// id order reads at most its end and the rows of the location the list does not show; a
// sorted page, which no index serves, reads the location's rows, not the merchant's. The
// count (totalCount) is not held to that: it reads every row of the location (logged).
func TestTransactionListPlans(t *testing.T) {
	for _, c := range []struct {
		name, stats string
		generic     bool
	}{
		{"unanalysed", "DELETE FROM pg_statistic WHERE starelid = 'transactions'::regclass", false},
		{"generic", "ANALYZE transactions", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustPlanStore(t, "transactions", txnPlanSeed, c.stats)
			for _, p := range []struct {
				name       string
				qry        vault.Query
				rows, most int // rows: the page's; most: the rows a scan of transactions may read
			}{
				{"first", fortisTxns(nil, nil, 0), 20, 25},
				{"page-6", fortisTxns(nil, nil, 100), 20, 180}, // the branch reads 160 shown rows
				{"oldest-first", fortisTxns(nil, []vault.SortKey{{Field: "id"}}, 0), 20, 25},
				// Half of the merchant's rows: a read of the primary key in id order that
				// filters as it goes reads about twice the page, as good as the location's index.
				{"large-location", fortisTxnsAt("l2", nil, nil, 0), 20, 50},
				{"transaction_api_id", fortisTxns([]vault.Filter{exact("api_id", "a401")}, nil, 0), 1, 1},
				{"contact_id", fortisTxns([]vault.Filter{exact("profile_id", "p1")}, nil, 0), 20, 300},
				{"sort-created_ts", fortisTxns(nil, []vault.SortKey{{Field: "created_at", Desc: true}}, 0), 20, 300},
				{"sort-transaction_amount", fortisTxns(nil, []vault.SortKey{{Field: "amount"}}, 0), 20, 300},
			} {
				t.Run(p.name, func(t *testing.T) {
					counted := checkPageScans(t, s, "transactions", c.generic, p.rows, p.most, func() (int, error) {
						page, _, err := s.ListTransactions(context.Background(), "m", p.qry)
						return len(page), err
					})
					t.Logf("the count read %d rows", counted)
				})
			}
		})
	}
}

// TestContactListPlans: on PostgreSQL, the first page of the Fortis contact list of a small
// location (300 contacts) beside a large one of the same merchant (29,700) and another
// merchant's (30,000) reads the page's rows only, with the statistics deleted and under a
// forced generic plan; its count reads the location's entries of profiles_location (logged).
func TestContactListPlans(t *testing.T) {
	for _, c := range []struct {
		name, stats string
		generic     bool
	}{
		{"unanalysed", "DELETE FROM pg_statistic WHERE starelid = 'profiles'::regclass", false},
		{"generic", "ANALYZE profiles", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustPlanStore(t, "profiles", `INSERT INTO profiles (id, merchant_id, location_id, token, status, locale, created_at, deleted_at)
				SELECT lpad(g::text, 8, '0'), CASE WHEN g % 2 = 0 THEN 'm2' ELSE 'm' END,
					CASE WHEN g % 2 = 0 THEN 'l3' WHEN g % 200 = 1 THEN 'l1' ELSE 'l2' END, 't' || g, 'ACTIVE', 'en_US',
					g * 1000, CASE WHEN g % 2000 = 201 THEN 5 ELSE 0 END
				FROM generate_series(1, 60000) g`, c.stats)
			for _, p := range []struct {
				loc          string
				offset, most int
			}{{"l1", 0, 20}, {"l1", 100, 160}, {"l2", 0, 45}} { // l2: see large-location above
				t.Run(fmt.Sprintf("%s-offset-%d", p.loc, p.offset), func(t *testing.T) {
					// GET /v2/contacts (handleContactList): the location, newest first.
					qry := vault.Query{Filters: []vault.Filter{exact("location_id", p.loc)},
						Sort: []vault.SortKey{{Field: "id", Desc: true}}, Limit: 20, Offset: p.offset}
					counted := checkPageScans(t, s, "profiles", c.generic, 20, p.most, func() (int, error) {
						page, _, err := s.ListProfiles(context.Background(), "m", qry)
						return len(page), err
					})
					t.Logf("the count read %d rows", counted)
				})
			}
		})
	}
}

// TestTransactionListPlanSQLite: on SQLite a Fortis transaction list page reaches the
// location's transactions through transactions_location (and a split page its rows by id), in
// its count and its page, and a page in id order sorts nothing.
func TestTransactionListPlanSQLite(t *testing.T) {
	s := MustSQLite(t).(*sqlstore.Store)
	ctx := context.Background()
	two := fortisTxns(nil, nil, 0)
	two.Filters[0] = exact("location_id", "l1", "l2")
	for _, c := range []struct {
		name   string
		qry    vault.Query
		sorted bool
	}{
		{"first", fortisTxns(nil, nil, 0), false},
		{"oldest-first", fortisTxns(nil, []vault.SortKey{{Field: "id"}}, 0), false},
		{"contact_id", fortisTxns([]vault.Filter{exact("profile_id", "p1")}, nil, 0), false},
		{"sort-created_ts", fortisTxns(nil, []vault.SortKey{{Field: "created_at", Desc: true}}, 0), true},
		{"two-locations", two, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The store is empty: the page's statement, and then its count alone.
			var stmts []string
			stop := sqlstore.ObserveSQL(func(q string) { stmts = append(stmts, q) })
			_, _, err := s.ListTransactions(ctx, "m", c.qry)
			stop()
			if err != nil {
				t.Fatal(err)
			}
			if len(stmts) != 2 {
				t.Fatalf("statements: %q", stmts)
			}
			for i, q := range stmts {
				plan, err := explain(ctx, s.DB(), q)
				if err != nil {
					t.Fatal(err)
				}
				reads := 0
				for _, step := range plan {
					switch {
					case strings.Contains(step, "TEMP B-TREE") && !c.sorted:
						t.Errorf("sorts: %s\nplan: %s", q, strings.Join(plan, "; "))
					case strings.HasPrefix(step, "SEARCH transactions ") && strings.HasSuffix(step, " (id=?)"):
						// a split page's rows, by id
					case strings.HasPrefix(step, "SEARCH transactions ") || strings.HasPrefix(step, "SCAN transactions"):
						reads++
						if !strings.Contains(step, " transactions_location (merchant_id=? AND location_id=? AND api=?)") {
							t.Errorf("%s\nplan: %s", q, strings.Join(plan, "; "))
						}
					}
				}
				want := 2 - i // the count and the page; the count
				if c.name == "two-locations" && i == 0 {
					want = 3 // the count (both locations in one search) and a scan each
				}
				if reads != want {
					t.Errorf("%d reads of transactions, want %d: %s", reads, want, strings.Join(plan, "; "))
				}
			}
		})
	}
}

// TestListSplitModelScopes: a page of a transaction or contact list, which PostgreSQL reads
// one ordered scan per location (and API), and SQLite so when it names several, is the same
// page of the whole list read as one statement, with the same total, for any locations,
// APIs, order, limit and offset, on both engines. The store holds merchant m's rows in
// locations l1-l3 (two APIs and three statuses of transactions; one contact in eight
// deleted) and merchant m2's in l1.
func TestListSplitModelScopes(t *testing.T) {
	for _, e := range countEngines {
		t.Run(e.name, func(t *testing.T) {
			s := e.open(t).(*sqlstore.Store)
			rnd := rand.New(rand.NewPCG(3, 4))
			mustMerchants(t, s, "m", "m2")
			for i := range 240 {
				m, loc := "m", []string{"l1", "l2", "l3"}[rnd.IntN(3)]
				if i%10 == 0 {
					m, loc = "m2", "l1"
				}
				id, at := fmt.Sprintf("%016x", rnd.Uint64()), int64(rnd.IntN(5))*1000
				if err := sqlstore.ExecSQL(s, "INSERT INTO transactions (id, merchant_id, location_id, account_number, api, type, status, txn_at, created_at) VALUES (?, ?, ?, '1', ?, 'sale', ?, ?, ?)",
					id, m, loc, []string{"fortis", "paysafe"}[rnd.IntN(2)], []string{"COMPLETED", "FAILED", "RECEIVED"}[rnd.IntN(3)], at, at); err != nil {
					t.Fatal(err)
				}
				var deleted int64
				if rnd.IntN(8) == 0 {
					deleted = 5
				}
				if err := sqlstore.ExecSQL(s, "INSERT INTO profiles (id, merchant_id, location_id, token, status, locale, created_at, deleted_at) VALUES (?, ?, ?, ?, 'ACTIVE', 'en_US', ?, ?)",
					id, m, loc, "t"+id, at, deleted); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			var split atomic.Int32
			stop := sqlstore.ObserveSQL(func(q string) {
				if strings.Contains(q, "WHERE id IN (SELECT id FROM") {
					split.Add(1)
				}
			})
			defer stop()
			rapid.Check(t, func(t *rapid.T) {
				values := func(label string, from ...string) []string {
					return rapid.SliceOfN(rapid.SampledFrom(from), 1, 3).Draw(t, label)
				}
				fs := []vault.Filter{exact("location_id", values("locations", "l1", "l2", "l3", "lx", "L2")...)}
				txns := rapid.Bool().Draw(t, "transactions")
				if txns {
					fs = append(fs, exact("api", values("apis", "fortis", "paysafe", "FORTIS")...))
					if rapid.Bool().Draw(t, "answered") {
						fs = append(fs, exact("status", "COMPLETED", "FAILED"))
					}
				}
				checkPageModel(t, rapid.Permutation(fs).Draw(t, "filters"), func(q vault.Query) ([]string, int, error) {
					var out []string
					if txns {
						rows, total, err := s.ListTransactions(ctx, "m", q)
						for _, r := range rows {
							out = append(out, r.ID)
						}
						return out, total, err
					}
					rows, total, err := s.ListProfiles(ctx, "m", q)
					for _, r := range rows {
						out = append(out, r.ID)
					}
					return out, total, err
				})
			})
			if split.Load() == 0 {
				t.Error("no page was read split")
			}
		})
	}
}
