package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestBatchReadPlansSQLite asks SQLite for the plans of a batch's reads before its fns
// (lockProfiles, readAhead), whose list of ids or tokens is one JSON array argument: each
// table must be reached through its unique index, one search a list entry, never scanned.
func TestBatchReadPlansSQLite(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		query  string
		tables []string // each searched through an index
	}{
		{sqliteProfilesSQL, []string{"profiles"}},
		{tokenReadsSQL.sqlite, []string{"instruments", "profiles"}},
		{addressesSQL.sqlite, []string{"addresses"}},
	} {
		plan, err := explainDetails(s, c.query)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "; ")
		for _, table := range c.tables {
			if !strings.Contains(joined, "SEARCH "+table+" USING INDEX") {
				t.Errorf("%s is not searched by an index:\n%s\nplan: %s", table, c.query, joined)
			}
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN json_each") {
				t.Errorf("a scan: %s\nplan: %s", c.query, joined)
			}
		}
	}
}

// explainDetails is SQLite's plan of query with a JSON array argument, one detail a step.
func explainDetails(s *Store, query string) ([]string, error) {
	rows, err := s.wdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, `["a","b"]`)
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
