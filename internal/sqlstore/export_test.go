package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payvault/payvault/internal/payments"
)

// ObserveSQL makes f see every statement any store runs until the returned func is called.
func ObserveSQL(f func(query string)) (stop func()) {
	observeSQL.Store(&f)
	return func() { observeSQL.Store(nil) }
}

// ObserveReads makes f see every query of many rows on the read path, with its arguments,
// until the returned func is called.
func ObserveReads(f func(query string, args []any)) (stop func()) {
	observeReads.Store(&f)
	return func() { observeReads.Store(nil) }
}

// QueryLines returns the one text column of every row of query with args on db (a pool or a
// connection), as EXPLAIN answers.
func QueryLines(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	return lines, rows.Err()
}

// Rebind is query with s's placeholders ($n on PostgreSQL).
func Rebind(s *Store, query string) string { return s.rb.bind(s.dialect, query) }

// CountSQL runs a COUNT query on s's read path.
func CountSQL(s *Store, query string, args ...any) (int, error) {
	return s.q.count(context.Background(), query, args...)
}

// ExecSQL runs a statement outside any Write (tests only: a hard delete no API makes).
func ExecSQL(s *Store, query string, args ...any) error {
	_, err := s.wdb.ExecContext(context.Background(), s.rb.bind(s.dialect, query), args...)
	return err
}

// FoldCounts runs foldCounts for a merchant (PostgreSQL).
func FoldCounts(s *Store, merchantID string) error {
	return s.foldCounts(context.Background(), merchantID)
}

// FoldEvery is foldEvery, for tests.
const FoldEvery = foldEvery

// WaitBackground waits for the folds lists and writes started.
func WaitBackground(s *Store) { s.background.Wait() }

// CheckNode runs one KeepNode tick.
func CheckNode(ctx context.Context, s *Store) error { return s.checkNode(ctx) }

// SetRestartGrace sets how long after PostgreSQL started every node counts as alive, and
// returns a func that restores it.
func SetRestartGrace(d time.Duration) (restore func()) {
	old := restartGrace.Swap(int64(d))
	return func() { restartGrace.Store(old) }
}

// SetCopyTamper makes CopyTo call f in the target's transaction after it copies each table
// and before it checks it (a test changes a copied row there, as a bad conversion would), and
// returns a func that restores it.
func SetCopyTamper(f func(ctx context.Context, tx pgx.Tx, table string) error) (restore func()) {
	old := copyTamper
	copyTamper = f
	return func() { copyTamper = old }
}

// SetScrubBatch makes ScrubRefused read n transactions a statement until the returned func
// is called.
func SetScrubBatch(n int) (restore func()) {
	old := scrubBatch
	scrubBatch = n
	return func() { scrubBatch = old }
}

// BatchReads are a batch's reads before its fns (lockProfiles, readAhead), each of one list
// argument (a JSON array on SQLite, an array on PostgreSQL), with the tables each reads.
var BatchReads = []struct {
	SQLite, Postgres string
	Tables           []string
}{
	{profileLocksSQL.sqlite, profileLocksSQL.pg, []string{"profiles"}},
	{tokenReadsSQL.sqlite, tokenReadsSQL.pg, []string{"instruments", "profiles"}},
	{addressesSQL.sqlite, addressesSQL.pg, []string{"addresses"}},
}

// PreparedStatements counts the statements prepared in a session of the PostgreSQL store's
// main pool and in one of its list pool (ListStatements): each pool should hold one session,
// as a store opened with ReadConns 1 does.
func PreparedStatements(s *Store) (main, lists int, err error) {
	const q = "SELECT COUNT(*) FROM pg_prepared_statements"
	if err = s.wdb.QueryRowContext(context.Background(), q).Scan(&main); err == nil && s.ldb != nil {
		err = s.ldb.QueryRowContext(context.Background(), q).Scan(&lists)
	}
	return main, lists, err
}

// ListStatements is how many statements a session of the list pool keeps prepared.
const ListStatements = listStatements

// CompleteReceivedSQL is CompleteReceived's statement, with ? placeholders.
func CompleteReceivedSQL() string {
	return updateSQL("transactions", mutableCols(&payments.Transaction{}), completeReceivedWhere)
}
