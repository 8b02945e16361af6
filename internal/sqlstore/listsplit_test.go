package sqlstore_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestListSplitModel: a page of a list over several locations and kinds, which is read one
// ordered scan per location and kind (listSplit), is the same page of the whole list read as
// one statement, with the same total, for any filters, order, limit and offset, on both
// engines. The store holds vaults of three locations, three kinds, some deleted, and another
// merchant's in the same location.
func TestListSplitModel(t *testing.T) {
	for _, e := range []struct {
		name string
		open func(testing.TB) storetest.Store
	}{{"sqlite", MustSQLite}, {"postgres", MustPostgres}} {
		t.Run(e.name, func(t *testing.T) {
			s := e.open(t).(*sqlstore.Store)
			seedListRows(t, s)
			ctx := context.Background()
			var split atomic.Int32
			stop := sqlstore.ObserveSQL(func(q string) {
				if strings.Contains(q, " UNION ALL ") && strings.Contains(q, "FROM instruments") {
					split.Add(1)
				}
			})
			defer stop()
			rapid.Check(t, func(t *rapid.T) {
				values := func(label string, from ...string) []string {
					return rapid.SliceOfN(rapid.SampledFrom(from), 1, 3).Draw(t, label)
				}
				fs := []vault.Filter{
					exact("location_id", values("locations", "l1", "l2", "l3", "lx", "L2")...),
					exact("kind", values("kinds", "card", "ach", "bacs", "ACH")...),
				}
				if rapid.Bool().Draw(t, "kinds again") {
					fs = append(fs, exact("kind", values("kinds again", "card", "ach", "bacs")...))
				}
				if rapid.Bool().Draw(t, "last four") {
					fs = append(fs, exact("last_four", values("last fours", "1111", "2222")...))
				}
				checkPageModel(t, rapid.Permutation(fs).Draw(t, "filters"), func(q vault.Query) ([]string, int, error) {
					page, total, err := s.ListInstruments(ctx, "m", q)
					return ids(page), total, err
				})
			})
			if split.Load() == 0 {
				t.Error("no page was read split")
			}
		})
	}
}

// checkPageModel draws an order (none, id either way, or created_at), a limit and an offset,
// and fails t when list's page of fs in that order is not that part of its whole list in
// that order, with the same total; list returns the ids of a list's rows and its total.
func checkPageModel(t *rapid.T, fs []vault.Filter, list func(vault.Query) ([]string, int, error)) {
	var sort []vault.SortKey
	switch rapid.IntRange(0, 3).Draw(t, "sort") {
	case 1:
		sort = []vault.SortKey{{Field: "id"}}
	case 2:
		sort = []vault.SortKey{{Field: "id", Desc: true}}
	case 3:
		sort = []vault.SortKey{{Field: "created_at", Desc: rapid.Bool().Draw(t, "desc")}}
	}
	all, total, err := list(vault.Query{Filters: fs, Sort: sort})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(all) {
		t.Fatalf("whole list: total %d, %d rows", total, len(all))
	}
	limit := rapid.IntRange(1, 8).Draw(t, "limit")
	offset := rapid.IntRange(0, len(all)+3).Draw(t, "offset")
	page, ptotal, err := list(vault.Query{Filters: fs, Sort: sort, Limit: limit, Offset: offset})
	if err != nil {
		t.Fatal(err)
	}
	want := all[min(offset, len(all)):min(offset+limit, len(all))]
	if d := cmp.Diff(want, page, cmpopts.EquateEmpty()); d != "" || ptotal != total {
		t.Fatalf("page (limit %d, offset %d): total %d, want %d; (-want +got)\n%s", limit, offset, ptotal, total, d)
	}
}

// mustMerchants stores merchants by these ids.
func mustMerchants(t *testing.T, s *sqlstore.Store, ids ...string) {
	t.Helper()
	for _, m := range ids {
		if err := sqlstore.ExecSQL(s, "INSERT INTO merchants (id, name, created_at) VALUES (?, ?, 0)", m, m); err != nil {
			t.Fatal(err)
		}
	}
}

// seedListRows stores merchant m's vaults in locations l1-l3 (kinds card, ach and bacs, one
// in eight deleted) and merchant m2's in l1, with their counts, as the store keeps them.
func seedListRows(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	mustMerchants(t, s, "m", "m2")
	for i := range 240 {
		m, loc := "m", []string{"l1", "l2", "l3"}[rnd.IntN(3)]
		if i%10 == 0 {
			m, loc = "m2", "l1"
		}
		var deleted int64
		if rnd.IntN(8) == 0 {
			deleted = 5
		}
		err := sqlstore.ExecSQL(s, "INSERT INTO instruments (id, merchant_id, location_id, token, kind, last_four, created_at, updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
			fmt.Sprintf("%016x", rnd.Uint64()), m, loc, "t"+strconv.Itoa(i), []string{"card", "ach", "bacs"}[rnd.IntN(3)],
			[]string{"1111", "2222"}[rnd.IntN(2)], int64(rnd.IntN(5))*1000, deleted)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := sqlstore.ExecSQL(s, "INSERT INTO instrument_counts (merchant_id, location_id, kind, n) "+
		"SELECT merchant_id, location_id, kind, COUNT(*) FROM instruments WHERE deleted_at = 0 GROUP BY merchant_id, location_id, kind"); err != nil {
		t.Fatal(err)
	}
}

// ids are the ids of a list's rows.
func ids(ins []*vault.Instrument) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.ID)
	}
	return out
}

// TestListSplitPlans: on PostgreSQL, a Fortis list page (a location's cards and bank
// accounts, newest first) reads no more rows of instruments than the page's end, whatever the
// statistics say:
//   - unanalysed: a growing table autovacuum has not analysed yet. Read as one statement, the
//     planner estimated one row, read the location's every vault through instruments_location
//     and sorted them: 302 ms a page at 68,000 vaults, and the benchmark's list fell to 3
//     requests/s (docs/benchmarks.md, stop 39).
//   - generic: a store of cards only, analysed, its statement planned once for any value (a
//     prepared statement's generic plan). With the kind bound, the planner rated "kind = $1"
//     as matching every row, and the ach branch read the primary key backwards past every
//     card (103 ms a page).
//   - generic-small-location: the same, for a location of 150 vaults beside one of 29,850.
//     The generic plan rates "location_id = $2" as matching half the rows (two locations),
//     and with the location an equality each branch read the primary key backwards, past the
//     large location's vaults (4,000 rows for a page of 20, all of them for a location whose
//     vaults are old).
func TestListSplitPlans(t *testing.T) {
	for _, c := range []struct {
		name, seed, stats string
		generic           bool
	}{
		{"unanalysed", `SELECT lpad(g::text, 8, '0'), 'm', CASE WHEN g % 5 = 0 THEN 'l2' ELSE 'l1' END, 't' || g,
			CASE WHEN g % 97 = 0 THEN 'ach' ELSE 'card' END, 0, 0 FROM generate_series(1, 30000) g`,
			"DELETE FROM pg_statistic WHERE starelid = 'instruments'::regclass", false},
		{"generic", `SELECT lpad(g::text, 8, '0'), 'm', 'l1', 't' || g, 'card', 0, 0 FROM generate_series(1, 30000) g`,
			"ANALYZE instruments", true},
		{"generic-small-location", `SELECT lpad(g::text, 8, '0'), 'm', CASE WHEN g % 200 = 1 THEN 'l1' ELSE 'l2' END, 't' || g,
			CASE WHEN g % 97 = 0 THEN 'ach' ELSE 'card' END, 0, 0 FROM generate_series(1, 30000) g`,
			"ANALYZE instruments", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustPlanStore(t, "instruments", "INSERT INTO instruments (id, merchant_id, location_id, token, kind, created_at, updated_at) "+c.seed, c.stats)
			for _, p := range []struct {
				offset, most int // most: the rows a scan of instruments may read
				desc         bool
				kinds        []string
			}{
				{0, 20, true, []string{"card", "ach"}}, {100, 160, true, []string{"card", "ach"}}, {0, 20, false, []string{"card", "ach"}},
				{0, 20, true, []string{"card"}}, // one combination: one statement
			} {
				t.Run(fmt.Sprintf("offset-%d-desc-%v-%s", p.offset, p.desc, strings.Join(p.kinds, "-")), func(t *testing.T) {
					checkListScans(t, s, c.generic, vault.Query{
						Filters: []vault.Filter{exact("location_id", "l1"), exact("kind", p.kinds...)},
						Sort:    []vault.SortKey{{Field: "id", Desc: p.desc}},
						Limit:   20, Offset: p.offset,
					}, p.most)
				})
			}
		})
	}
}

// TestListSplitPlanSQLite: on SQLite a split page reads each location's and kind's vaults
// through instruments_location, in order, and sorts nothing: no scan of the merchant's vaults,
// and no temporary B-tree (a branch limited in its own subquery was sorted again to be merged,
// about 175 µs of CPU a page with whole rows).
func TestListSplitPlanSQLite(t *testing.T) {
	s := MustSQLite(t).(*sqlstore.Store)
	var stmts []string
	stop := sqlstore.ObserveSQL(func(q string) {
		if strings.Contains(q, " UNION ALL ") {
			stmts = append(stmts, q)
		}
	})
	for _, offset := range []int{0, 100} {
		if _, _, err := s.ListInstruments(context.Background(), "m", vault.Query{
			Filters: []vault.Filter{exact("location_id", "l1", "l2"), exact("kind", "card", "ach")}, Limit: 20, Offset: offset,
		}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if len(stmts) != 2 {
		t.Fatalf("split statements: %q", stmts)
	}
	for _, q := range stmts {
		plan, err := explain(context.Background(), s.DB(), q)
		if err != nil {
			t.Fatal(err)
		}
		searches := 0
		for _, step := range plan {
			switch {
			case strings.Contains(step, "TEMP B-TREE") || strings.HasPrefix(step, "SCAN instruments"):
				t.Errorf("%s\nplan: %s", q, strings.Join(plan, "; "))
			case strings.Contains(step, "INDEX instruments_location ("):
				searches++
			}
		}
		if searches != 4 {
			t.Errorf("%d searches of instruments_location, want 4:\n%s", searches, strings.Join(plan, "\n"))
		}
	}
}

// mustPlanStore is a PostgreSQL store whose table autovacuum leaves alone, with merchants m
// and m2, in which seed and then stats (statistics deleted, or gathered) have run.
func mustPlanStore(t *testing.T, table, seed, stats string) *sqlstore.Store {
	t.Helper()
	s := MustPostgres(t).(*sqlstore.Store)
	mustMerchants(t, s, "m", "m2")
	for _, q := range []string{"ALTER TABLE " + table + " SET (autovacuum_enabled = false)", seed, stats} {
		if err := sqlstore.ExecSQL(s, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return s
}

// checkListScans lists merchant m's instruments by qry on s and fails t when a scan of
// instruments in the plan of the page's statement, run again under EXPLAIN ANALYZE (as a
// generic plan when generic), read more than most rows.
func checkListScans(t *testing.T, s *sqlstore.Store, generic bool, qry vault.Query, most int) {
	t.Helper()
	checkPageScans(t, s, "instruments", generic, qry.Limit, most, func() (int, error) {
		page, _, err := s.ListInstruments(context.Background(), "m", qry)
		return len(page), err
	})
}

// checkPageScans runs list, which reads a page of limit rows of table on s, and fails t when a
// scan of table in the plan of the page's statement, run again under EXPLAIN ANALYZE (as a
// generic plan when generic), read more than most rows. A scan under an InitPlan is the
// count's (list.go: the total rides in the page's statement as a scalar subquery); it is not
// held to most, and the rows such scans read are returned.
func checkPageScans(t *testing.T, s *sqlstore.Store, table string, generic bool, limit, most int, list func() (int, error)) (counted int) {
	t.Helper()
	ctx := context.Background()
	var query string
	var args []any
	stop := sqlstore.ObserveReads(func(q string, a []any) {
		if strings.Contains(q, "FROM "+table) {
			query, args = q, slices.Clone(a)
		}
	})
	n, err := list()
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if n != limit || query == "" {
		t.Fatalf("%d rows; statement %q", n, query)
	}
	var plan []string
	if generic {
		plan = explainGeneric(t, s, query, args)
	} else if plan, err = sqlstore.QueryLines(ctx, s.DB(), "EXPLAIN (ANALYZE, BUFFERS) "+sqlstore.Rebind(s, query), args...); err != nil {
		t.Fatal(err)
	}
	// A scan read the rows it returned and those its filter removed (the lines under it, up
	// to the next node), each loop.
	rowsRe := regexp.MustCompile(`actual time=\S+ rows=(\d+) loops=(\d+)`)
	removedRe := regexp.MustCompile(`Rows Removed by (?:Filter|Index Recheck): (\d+)`)
	// The pages a scan touched: an index condition that does not bound the scan (the kind,
	// after a range on the location) skips entries inside the index, where no row count shows.
	buffersRe := regexp.MustCompile(`Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?`)
	pagesIn := func(line string) (int, bool) {
		b := buffersRe.FindStringSubmatch(line)
		if b == nil {
			return 0, false
		}
		hit, _ := strconv.Atoi(b[1])
		read, _ := strconv.Atoi(b[2])
		return hit + read, true
	}
	indent := func(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }
	scans, initPlan := 0, -1 // initPlan: the indent of the InitPlan the lines are under, or -1
	// The pages of the count: PostgreSQL adds an InitPlan's pages to the node that uses its
	// value, which may be the page's scan.
	initPages := 0
	for i, line := range plan {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "InitPlan ") {
			for _, under := range plan[i+1:] {
				if n, ok := pagesIn(under); ok {
					initPages += n
					break
				}
			}
		}
	}
	for i, line := range plan {
		if initPlan >= 0 && indent(line) <= initPlan {
			initPlan = -1
		}
		if initPlan < 0 && strings.HasPrefix(strings.TrimLeft(line, " "), "InitPlan ") {
			initPlan = indent(line)
		}
		if !strings.Contains(line, " on "+table+" ") {
			continue
		}
		m := rowsRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("no actual rows in %q", line)
		}
		n, _ := strconv.Atoi(m[1])
		loops, _ := strconv.Atoi(m[2])
		pages := 0
		for _, under := range plan[i+1:] {
			// The plan's last node ends at "Planning:", whose buffers are the catalog's (a
			// session that has not yet read it, such as one of the main pool when the list ran
			// in the list pool).
			if under := strings.TrimLeft(under, " "); strings.HasPrefix(under, "->") || strings.HasPrefix(under, "InitPlan ") || strings.HasPrefix(under, "Planning") {
				break
			}
			if r := removedRe.FindStringSubmatch(under); r != nil {
				removed, _ := strconv.Atoi(r[1])
				n += removed
			}
			if n, ok := pagesIn(under); ok {
				pages += n
			}
		}
		if initPlan >= 0 {
			counted += n * loops
			continue
		}
		scans++
		if n*loops > most {
			t.Errorf("a scan read %d rows, want at most %d:\n%s", n*loops, most, strings.Join(plan, "\n"))
		}
		// Each row read may cost a heap page and a few index pages (a read by id descends the
		// primary key); a scan past the rows it returns costs hundreds.
		if limit := 4*most + 20; pages-initPages > limit {
			t.Errorf("a scan touched %d pages (%d of them the count's), want at most %d:\n%s", pages, initPages, limit, strings.Join(plan, "\n"))
		}
	}
	if scans == 0 {
		t.Errorf("no scan of %s:\n%s", table, strings.Join(plan, "\n"))
	}
	return counted
}

// explainGeneric is EXPLAIN ANALYZE of query with args as a prepared statement's generic
// plan, on PostgreSQL.
func explainGeneric(t *testing.T, s *sqlstore.Store, query string, args []any) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			lits[i] = fmt.Sprint(v)
		}
	}
	for _, q := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE lst AS " + sqlstore.Rebind(s, query)} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	defer func() {
		conn.ExecContext(ctx, "DEALLOCATE lst")
		conn.ExecContext(ctx, "RESET plan_cache_mode")
	}()
	plan, err := sqlstore.QueryLines(ctx, conn, "EXPLAIN (ANALYZE, BUFFERS) EXECUTE lst("+strings.Join(lits, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestListSplitDeepPage: a page past maxSplitEnd rows, up to the largest offset, reads as one
// statement (the branches' limits, doubled up to the page's end, would overflow).
func TestListSplitDeepPage(t *testing.T) {
	s := MustSQLite(t).(*sqlstore.Store)
	seedListRows(t, s)
	fs := []vault.Filter{exact("location_id", "l1", "l2"), exact("kind", "card", "ach")}
	for _, offset := range []int{1<<24 - 20, 1 << 24, 1<<62 + 5, math.MaxInt - 20} {
		var split bool
		stop := sqlstore.ObserveSQL(func(q string) { split = split || strings.Contains(q, " UNION ALL ") })
		page, total, err := s.ListInstruments(context.Background(), "m", vault.Query{Filters: fs, Limit: 20, Offset: offset})
		stop()
		if err != nil || len(page) != 0 || total == 0 {
			t.Fatalf("offset %d: %d rows of %d, %v", offset, len(page), total, err)
		}
		if split != (offset == 1<<24-20) {
			t.Errorf("offset %d: split %v", offset, split)
		}
	}
}

// TestListSplitStatementsBounded: on PostgreSQL a list that writes its locations into its
// statement (listSplit) makes a statement text per set of locations, and each one prepared
// takes about 106 KB of its session's memory. Those lists run in the small list pool, whose
// sessions keep at most ListStatements of them prepared; before, the main pool's sessions kept
// pgx's 512 each, a session per connection. The store holds one vault in each of 100
// locations, and every list still reads its own.
func TestListSplitStatementsBounded(t *testing.T) {
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: storetest.PostgresDSN(t), ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mustMerchants(t, s, "m")
	const n = 100
	if err := sqlstore.ExecSQL(s, "INSERT INTO instruments (id, merchant_id, location_id, token, kind, created_at, updated_at) "+
		"SELECT 'i' || g, 'm', 'loc-' || g, 't' || g, CASE WHEN g % 2 = 0 THEN 'ach' ELSE 'card' END, 0, 0 FROM generate_series(1, ?) g", n); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := 0; round < 2; round++ {
		for i := 1; i <= n; i++ {
			loc := "loc-" + strconv.Itoa(i)
			for _, kinds := range [][]string{{"card", "ach"}, {"card"}} {
				page, _, err := s.ListInstruments(ctx, "m", vault.Query{
					Filters: []vault.Filter{exact("location_id", loc), exact("kind", kinds...)}, Limit: 20,
				})
				want := 1
				if len(kinds) == 1 && i%2 == 0 {
					want = 0
				}
				if err != nil || len(page) != want || want == 1 && page[0].ID != "i"+strconv.Itoa(i) {
					t.Fatalf("%s %v: %d vaults, %v", loc, kinds, len(page), err)
				}
			}
		}
	}
	main, lists, err := sqlstore.PreparedStatements(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prepared: %d in the main session, %d in the list session", main, lists)
	if main > 20 || lists > sqlstore.ListStatements+1 {
		t.Errorf("prepared: %d in the main session, %d in the list session (at most %d)", main, lists, sqlstore.ListStatements)
	}
}
