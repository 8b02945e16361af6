package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, for Watch's own connection
)

// VaultTables are the tables that hold tenants, credentials and vault records: a request
// that is refused must leave every one of them exactly as it was.
var VaultTables = []string{
	"merchants", "locations", "product_transactions", "api_keys", "developers", "users",
	"profiles", "addresses", "instruments", "mandates", "onetime_tokens",
}

// Snapshot is a database's contents in brief: every table's row count and a digest of its
// rows (order-independent). Tests take one before and after hostile requests to show that
// nothing was created or changed.
type Snapshot struct {
	Rows    map[string]int
	Digests map[string]string
}

// MustSnapshot takes a snapshot of every table of db (SQLite or PostgreSQL) but goose's and
// commit_marks (a row for each PostgreSQL write transaction, bookkeeping of the commits
// themselves: a refused payment, stored FAILED, commits one). The database should be idle:
// the snapshot is not one transaction.
func MustSnapshot(tb testing.TB, db *sql.DB) Snapshot {
	tb.Helper()
	tables := mustTables(tb, db)
	s := Snapshot{Rows: map[string]int{}, Digests: map[string]string{}}
	for _, t := range tables {
		n, d := MustDigest(tb, db, "SELECT * FROM "+t)
		s.Rows[t], s.Digests[t] = n, d
	}
	return s
}

// mustTables lists the tables of db (SQLite or PostgreSQL) but goose's and commit_marks.
func mustTables(tb testing.TB, db *sql.DB) []string {
	tb.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		rows, err = db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
	}
	if err != nil {
		tb.Fatalf("snapshot: list tables: %v", err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			tb.Fatalf("snapshot: %v", err)
		}
		if !strings.HasPrefix(t, "goose") && t != "commit_marks" {
			tables = append(tables, t)
		}
	}
	slices.Sort(tables)
	return tables
}

// Watch is a cheap change detector for long runs, such as fuzzing, on SQLite. It reads the
// database through its own connection, whose PRAGMA data_version moves only when another
// connection commits: while it stays put, the last snapshot still holds. A snapshot counts
// every table's rows and digests only the rows that existed when the watch was made (the
// fixtures a request can address), so that its cost does not grow with the data the run
// creates.
type Watch struct {
	conn    *sql.Conn
	tables  []string
	max     map[string]int64 // max is each table's largest rowid when the watch was made.
	version int64
	last    *Snapshot
}

// MustWatch starts watching an SQLite database (db is any handle on it).
func MustWatch(tb testing.TB, db *sql.DB) *Watch {
	tb.Helper()
	ctx := context.Background()
	var seq int
	var name, file string
	if err := db.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil || file == "" {
		tb.Fatalf("watch: not an SQLite file database: %v", err)
	}
	own, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(15000)")
	if err != nil {
		tb.Fatalf("watch: %v", err)
	}
	tb.Cleanup(func() { own.Close() })
	conn, err := own.Conn(ctx)
	if err != nil {
		tb.Fatalf("watch: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	w := &Watch{conn: conn, tables: mustTables(tb, own), max: map[string]int64{}}
	for _, t := range w.tables {
		var m sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT MAX(rowid) FROM "+t).Scan(&m); err != nil {
			tb.Fatalf("watch: %s: %v", t, err)
		}
		w.max[t] = m.Int64
	}
	return w
}

// Snapshot returns every table's row count and a digest of its rows from when the watch was
// made.
func (w *Watch) Snapshot(tb testing.TB) Snapshot {
	tb.Helper()
	ctx := context.Background()
	var version int64
	if err := w.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&version); err != nil {
		tb.Fatalf("watch: %v", err)
	}
	if w.last != nil && version == w.version {
		return *w.last
	}
	s := Snapshot{Rows: map[string]int{}, Digests: map[string]string{}}
	for _, t := range w.tables {
		var n int
		if err := w.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			tb.Fatalf("watch: %s: %v", t, err)
		}
		_, s.Digests[t] = digest(tb, w.conn, "SELECT * FROM "+t+" WHERE rowid <= ?", w.max[t])
		s.Rows[t] = n
	}
	w.version, w.last = version, &s
	return s
}

// Version returns the database's PRAGMA data_version as the watch's connection sees it: it
// moves when, and only when, another connection has committed a change.
func (w *Watch) Version(tb testing.TB) int64 {
	tb.Helper()
	var v int64
	if err := w.conn.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&v); err != nil {
		tb.Fatalf("watch: %v", err)
	}
	return v
}

// Count returns the result of a COUNT query, read through the watch's connection.
func (w *Watch) Count(tb testing.TB, query string) int {
	tb.Helper()
	var n int
	if err := w.conn.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		tb.Fatalf("watch: %s: %v", query, err)
	}
	return n
}

// MustDigest runs query and returns how many rows it gave and a digest of them that does not
// depend on their order.
func MustDigest(tb testing.TB, db *sql.DB, query string, args ...any) (int, string) {
	tb.Helper()
	return digest(tb, db, query, args...)
}

// querier is what *sql.DB and *sql.Conn share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func digest(tb testing.TB, db querier, query string, args ...any) (int, string) {
	tb.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		tb.Fatalf("snapshot: %s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	var lines []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatalf("snapshot: %v", err)
		}
		var b strings.Builder
		for i, v := range vals {
			if b2, ok := v.([]byte); ok {
				v = hex.EncodeToString(b2)
			}
			fmt.Fprintf(&b, "%s=%T:%v;", cols[i], v, v)
		}
		lines = append(lines, b.String())
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return len(lines), hex.EncodeToString(h.Sum(nil))
}

// Changed lists the tables whose rows differ between s and later, with their row counts,
// leaving out the tables named in except.
func (s Snapshot) Changed(later Snapshot, except ...string) []string {
	var out []string
	for t, d := range s.Digests {
		if slices.Contains(except, t) {
			continue
		}
		if later.Digests[t] != d || later.Rows[t] != s.Rows[t] {
			out = append(out, fmt.Sprintf("%s (%d → %d rows)", t, s.Rows[t], later.Rows[t]))
		}
	}
	for t := range later.Digests {
		if _, ok := s.Digests[t]; !ok && !slices.Contains(except, t) {
			out = append(out, t+" (new table)")
		}
	}
	slices.Sort(out)
	return out
}

// Only returns the tables named, for comparing part of a snapshot.
func (s Snapshot) Only(tables ...string) Snapshot {
	out := Snapshot{Rows: map[string]int{}, Digests: map[string]string{}}
	for _, t := range tables {
		if d, ok := s.Digests[t]; ok {
			out.Rows[t], out.Digests[t] = s.Rows[t], d
		}
	}
	return out
}
