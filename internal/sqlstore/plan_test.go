package sqlstore_test

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
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

// TestListIndexes checks that a list naming a few rows by an exact filter (a contact's vaults,
// a reference's transactions) reaches them through the index made for that filter, in both
// its count and its page (one statement, and the count alone after an empty page): left to itself SQLite reads every row of the merchant or the
// location in the list's order (listSpec.indexes).
func TestListIndexes(t *testing.T) {
	s := MustSQLite(t).(*sqlstore.Store)
	ctx := context.Background()
	loc := exact("location_id", "l")
	for _, c := range []struct {
		name, index string
		list        func(vault.Query) error
		filters     []vault.Filter
	}{
		{"vaults/contact", "instruments_profile", instruments(s), []vault.Filter{loc, exact("kind", "card"), exact("profile_id", "p")}},
		{"vaults/api_id", "instruments_api_id_any", instruments(s), []vault.Filter{loc, exact("kind", "card"), exact("api_id", "a")}},
		{"vaults/api_id/deleted", "instruments_api_id_any", instruments(s), []vault.Filter{loc, exact("api_id", "a"), exact("active", "0")}},
		{"transactions/reference", "transactions_ref", transactions(s), []vault.Filter{loc, exact("account_number", "1"), exact("type", "auth"), exact("merchant_ref_num", "r")}},
		{"transactions/parent", "transactions_parent", transactions(s), []vault.Filter{loc, exact("parent_id", "x")}},
		{"transactions/api_id", "transactions_api_id", transactions(s), []vault.Filter{loc, exact("api_id", "a")}},
		{"contacts/api_id", "profiles_contact_api_id", profiles(s), []vault.Filter{loc, exact("contact_api_id", "a")}},
		{"contacts/merchant_customer_id", "profiles_mcid", profiles(s), []vault.Filter{exact("merchant_customer_id", "c")}},
		// Not a listIndex: with profiles_location (migration 00009) the planner needs no help.
		{"contacts/location", "profiles_location", profiles(s), []vault.Filter{loc}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stmts []string
			stop := sqlstore.ObserveSQL(func(q string) { stmts = append(stmts, q) })
			err := c.list(vault.Query{Filters: c.filters, Limit: 10}) // in id order, which instruments_merchant and the like yield
			stop()
			if err != nil {
				t.Fatal(err)
			}
			if len(stmts) != 2 {
				t.Fatalf("statements: %q", stmts)
			}
			for _, q := range stmts {
				plan, err := explain(ctx, s.DB(), q)
				if err != nil {
					t.Fatalf("explain %s: %v", q, err)
				}
				// Every table the statement reads (the page's, and the count's subquery),
				// through the index.
				reads := 0
				for _, step := range plan {
					if !strings.HasPrefix(step, "SEARCH ") && !strings.HasPrefix(step, "SCAN ") || step == "SCAN CONSTANT ROW" {
						continue
					}
					reads++
					if !strings.Contains(step, "USING INDEX "+c.index+" ") && !strings.Contains(step, "USING COVERING INDEX "+c.index+" ") {
						t.Errorf("%s\nplan: %s", q, strings.Join(plan, "; "))
					}
				}
				if reads == 0 {
					t.Errorf("%s\nplan reads no table: %s", q, strings.Join(plan, "; "))
				}
			}
		})
	}
	t.Run("no index", func(t *testing.T) {
		// An empty value, which the partial indexes leave out, or a filter the index does not
		// lead with, leaves the choice to the planner.
		for _, fs := range [][]vault.Filter{{loc, exact("profile_id", "p", "")}, {exact("api_id", "a")}} {
			var stmts []string
			stop := sqlstore.ObserveSQL(func(q string) { stmts = append(stmts, q) })
			_, _, err := s.ListInstruments(ctx, "m", vault.Query{Filters: fs})
			stop()
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range stmts {
				if strings.Contains(q, "INDEXED BY") {
					t.Errorf("%v: %s", fs, q)
				}
			}
		}
	})
}

// exact is an exact filter on field.
func exact(field string, v ...string) vault.Filter {
	return vault.Filter{Field: field, Op: vault.OpIn, Values: v}
}

// instruments, transactions and profiles list merchant "m"'s rows of their table on s.
func instruments(s *sqlstore.Store) func(vault.Query) error {
	return func(q vault.Query) error { _, _, err := s.ListInstruments(context.Background(), "m", q); return err }
}

func transactions(s *sqlstore.Store) func(vault.Query) error {
	return func(q vault.Query) error { _, _, err := s.ListTransactions(context.Background(), "m", q); return err }
}

func profiles(s *sqlstore.Store) func(vault.Query) error {
	return func(q vault.Query) error { _, _, err := s.ListProfiles(context.Background(), "m", q); return err }
}

// TestLookupPlans checks that lookups by a partially indexed column, the token sweep and the
// retention job reach their rows through their index: without the restated condition (or, for
// the sweep, in id order) SQLite read every profile or transaction of the merchant, every live
// token, or every vault and transaction.
func TestLookupPlans(t *testing.T) {
	s := MustSQLite(t).(*sqlstore.Store)
	ctx := context.Background()
	for _, c := range []struct {
		name, index string
		run         func() error
	}{
		{"profile/merchant_customer_id", "profiles_mcid", func() error {
			_, err := s.GetProfileBy(ctx, "m", "merchant_customer_id", "c", "")
			return err
		}},
		{"profile/contact_api_id", "profiles_contact_api_id", func() error {
			_, err := s.GetProfileBy(ctx, "m", "contact_api_id", "a", "l")
			return err
		}},
		{"transaction/api_id", "transactions_api_id", func() error {
			_, err := s.GetTransactionByAPIID(ctx, "m", "l", "a")
			return err
		}},
		{"erase/instruments", "instruments_erasable", func() error {
			_, err := s.EraseSealed(ctx, time.Now(), time.Time{}, 10)
			return err
		}},
		{"erase/transactions", "transactions_erasable", func() error {
			_, err := s.EraseSealed(ctx, time.Time{}, time.Now(), 10)
			return err
		}},
		{"sweep", "onetime_tokens_expiry", func() error {
			return s.Write(ctx, func(tx vault.Tx) error { _, err := tx.SweepOneTimeTokens(ctx, time.Now()); return err })
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stmts []string
			stop := sqlstore.ObserveSQL(func(q string) {
				if !strings.Contains(q, "audit") {
					stmts = append(stmts, q)
				}
			})
			err := c.run()
			stop()
			if err != nil && vault.KindOf(err) != vault.NotFound {
				t.Fatal(err)
			}
			if len(stmts) == 0 {
				t.Fatal("no statement seen")
			}
			plan, err := explain(ctx, s.DB(), stmts[0])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan[0], "USING INDEX "+c.index+" ") {
				t.Errorf("%s\nplan: %s", stmts[0], strings.Join(plan, "; "))
			}
		})
	}
}

// TestCardVerifiedPlanUnanalysed: on a PostgreSQL database whose instruments have no
// statistics yet (a new database, before autovacuum's first pass), the first-approval update
// reaches its card through instruments_merchant (merchant, id). Written with deleted_at = 0,
// the planner took the partial index instruments_location, which lacks the location, and read
// every card of the merchant: auth ran at 177/s in the benchmark.
func TestCardVerifiedPlanUnanalysed(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stmt string
	stop := sqlstore.ObserveSQL(func(q string) {
		if strings.HasPrefix(q, "UPDATE instruments") {
			stmt = q
		}
	})
	err = s.Write(ctx, func(tx vault.Tx) error { return tx.SetCardVerified(ctx, "m", "i") })
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if stmt == "" {
		t.Fatal("no update seen")
	}
	// The table is not empty, and not analysed: the state a new database is in under load.
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO merchants (id, name, created_at) VALUES ('m', 'm', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO instruments (id, merchant_id, location_id, token, kind, created_at, updated_at)
		SELECT 'i' || g, 'm', 'l', 't' || g, 'card', 0, 0 FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	literal := stmt
	for _, v := range []string{"'m'", "'i1'"} {
		literal = strings.Replace(literal, "?", v, 1)
	}
	plan, err := sqlstore.QueryLines(ctx, s.DB(), "EXPLAIN "+literal)
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "instruments_merchant") && !strings.Contains(p, "instruments_pkey") {
		t.Errorf("%s\nplan:\n%s", literal, p)
	}
}

// TestFindPlans: an import looks up each batch's payment tokens and ids in one statement
// (FindInstruments, FindMandates, FindHolders), and an export a page's mandates (ListMandatesOf). Each
// part must reach its rows through the token, the id or the instrument; with the merchant in
// its condition SQLite chose instruments_merchant for the token
// part (without statistics it rates an IN list of 256 above one merchant) and read all the
// merchant's cards for every batch: importing 151,287 cards took 82 s, the write pass
// slowing as the store grew.
func TestFindPlans(t *testing.T) {
	s := MustSQLite(t).(*sqlstore.Store)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"instruments", func() error {
			_, err := s.FindInstruments(ctx, "m", []string{"t1", "t2", "t3"}, []string{"i1", "i2"})
			return err
		}},
		{"mandates", func() error {
			_, err := s.FindMandates(ctx, []string{"M1", "M2"}, []string{"d1"})
			return err
		}},
		{"instrument-holders", func() error {
			_, err := s.FindHolders(ctx, "instruments", []string{"t1", "t2"}, []string{"i1"})
			return err
		}},
		{"profile-holders", func() error {
			_, err := s.FindHolders(ctx, "profiles", []string{"P1"}, []string{"p1", "p2"})
			return err
		}},
		{"address-holders", func() error {
			_, err := s.FindHolders(ctx, "addresses", nil, []string{"a1", "a2"})
			return err
		}},
		{"mandates-of-page", func() error { // export's mandates of a page of accounts
			_, err := s.ListMandatesOf(ctx, "m", []string{"i1", "i2", "i3"})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stmts []string
			stop := sqlstore.ObserveSQL(func(q string) { stmts = append(stmts, q) })
			err := c.run()
			stop()
			if err != nil || len(stmts) != 1 {
				t.Fatalf("%v, statements %q", err, stmts)
			}
			// With text arguments, as an import binds them (with NULLs SQLite plans otherwise).
			args := make([]any, strings.Count(stmts[0], "?"))
			for i := range args {
				args[i] = "v" + strconv.Itoa(i)
			}
			rows, err := s.DB().QueryContext(ctx, "EXPLAIN QUERY PLAN "+stmts[0], args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			for _, step := range plan {
				// "(merchant_id=?)" alone is the scan of the merchant's rows.
				byKey := strings.Contains(step, "(token=?") || strings.Contains(step, "(id=?") || strings.Contains(step, " AND id=?") ||
					strings.Contains(step, "(instrument_id=?")
				if strings.Contains(step, "SEARCH") && !byKey {
					t.Errorf("%s\nplan: %s", stmts[0], strings.Join(plan, "; "))
				}
			}
		})
	}
}

// TestBatchReadPlansSQLite asks SQLite for the plans of a batch's reads before its fns
// (lockProfiles, readAhead), whose list of ids or tokens is one JSON array argument: each
// table must be reached through an index, one search a list entry, never scanned.
func TestBatchReadPlansSQLite(t *testing.T) {
	db := MustSQLite(t).(*sqlstore.Store).DB()
	for _, c := range sqlstore.BatchReads {
		plan, err := explain(context.Background(), db, c.SQLite)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "; ")
		for _, table := range c.Tables {
			if !strings.Contains(joined, "SEARCH "+table+" USING INDEX") {
				t.Errorf("%s is not searched by an index:\n%s\nplan: %s", table, c.SQLite, joined)
			}
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN json_each") {
				t.Errorf("a scan: %s\nplan: %s", c.SQLite, joined)
			}
		}
	}
}

// TestBatchReadPlansPostgres: on PostgreSQL a batch's reads before its fns hash no table,
// and the card read reaches its cards and their profiles through indexes, under a generic
// plan (the statements run prepared, again and again) and with the tables analysed, in a
// store of 1,000 profiles and 20,000 cards. The card read joined the profiles in a subquery,
// which the planner flattened into a hash join over every profile of the store: 1.1-1.4 ms a
// batch against 0.3 ms by the profiles' index, for the benchmark's 1,000 profiles
// (pg_stat_statements in its auth phase: 1.7 ms a call).
func TestBatchReadPlansPostgres(t *testing.T) {
	s := MustPostgres(t).(*sqlstore.Store)
	mustMerchants(t, s, "m")
	for _, q := range []string{
		`INSERT INTO profiles (id, merchant_id, location_id, token, status, locale, created_at) SELECT 'p' || g, 'm', 'l1', 'pt' || g, 'ACTIVE', 'en_US', g FROM generate_series(1, 1000) g`,
		`INSERT INTO instruments (id, merchant_id, location_id, profile_id, token, kind, created_at, updated_at) SELECT 'i' || g, 'm', 'l1', 'p' || (g % 1000 + 1), 't' || g, 'card', 0, 0 FROM generate_series(1, 20000) g`,
		`INSERT INTO addresses (id, merchant_id, profile_id, created_at) SELECT 'a' || g, 'm', 'p' || g, 0 FROM generate_series(1, 1000) g`,
		"ANALYZE profiles, instruments, addresses",
	} {
		if err := sqlstore.ExecSQL(s, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ctx := context.Background()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	args := map[string]string{"profiles": "p", "instruments": "t", "addresses": "a"}
	for i, c := range sqlstore.BatchReads {
		var vals []string
		for j := 1; j <= 32; j++ {
			vals = append(vals, "'"+args[c.Tables[0]]+strconv.Itoa(j*37)+"'")
		}
		name := "br" + strconv.Itoa(i)
		if _, err := conn.ExecContext(ctx, "PREPARE "+name+" AS "+c.Postgres); err != nil {
			t.Fatalf("%s: %v", c.Postgres, err)
		}
		q := "EXPLAIN EXECUTE " + name + "(ARRAY[" + strings.Join(vals, ", ") + "])"
		plan, err := sqlstore.QueryLines(ctx, conn, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		joined := strings.Join(plan, "\n")
		// A small table alone may be read whole (1,000 addresses: a few pages); a join's
		// other table must be read by the batch's keys.
		if len(c.Tables) > 1 {
			for _, table := range c.Tables {
				if !regexp.MustCompile(`(Index|Index Only|Bitmap Heap) Scan (Backward )?(using \S+ )?on ` + table + `\b`).MatchString(joined) {
					t.Errorf("%s is not read through an index:\n%s\n%s", table, c.Postgres, joined)
				}
			}
		}
		if strings.Contains(joined, "Hash") {
			t.Errorf("a hash of a whole table:\n%s\n%s", c.Postgres, joined)
		}
	}
}

// TestCompleteReceivedPlanCached: on PostgreSQL a payment's completion (CompleteReceived),
// prepared and planned while the transactions table was empty, as at a node's first auths on
// a new store, still reads its one row by merchant and id (the primary key or
// transactions_merchant) once the merchant has 20,000 transactions: a cached plan is not made
// again until the table is analysed. It read transactions_received while the status was a
// literal, and transactions_location (the merchant's whole range) before 00015; benchmark
// runs whose completion took 1.35 ms a call, for the whole phase, had one of those plans
// (docs/benchmarks.md, stop 42).
func TestCompleteReceivedPlanCached(t *testing.T) {
	s := MustPostgres(t).(*sqlstore.Store)
	mustMerchants(t, s, "m")
	if err := sqlstore.ExecSQL(s, "ALTER TABLE transactions SET (autovacuum_enabled = false)"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := sqlstore.Rebind(s, sqlstore.CompleteReceivedSQL())
	execute := func(id string) string {
		vals := slices.Repeat([]string{"'0'"}, strings.Count(q, "$")-3)
		return "EXECUTE cr(" + strings.Join(append(vals, "'m'", "'"+id+"'", "'RECEIVED'"), ", ") + ")"
	}
	for _, stmt := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE cr AS " + q, execute("none")} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO transactions (id, merchant_id, location_id, account_number, api, type, status, txn_at, created_at)
		SELECT lpad(g::text, 8, '0'), 'm', 'l1', '1', 'paysafe', 'auth', CASE WHEN g % 1000 = 0 THEN 'RECEIVED' ELSE 'COMPLETED' END, g, g
		FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	plan, err := sqlstore.QueryLines(ctx, conn, "EXPLAIN (ANALYZE, BUFFERS) "+execute("00010000"))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(plan, "\n")
	if !regexp.MustCompile(`using transactions_(pkey|merchant) on transactions `).MatchString(joined) || !strings.Contains(joined, "rows=1 loops=1") {
		t.Errorf("the completion does not read its row by the primary key:\n%s", joined)
	}
}
