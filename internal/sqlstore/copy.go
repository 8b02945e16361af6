package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/payvault/payvault/internal/keys"
)

// copyOrder is every table of the schema in the order CopyTo fills them: each after the
// tables its foreign keys name. A table the schema has and this list has not is refused
// (compareSchemas), so a migration that adds one must add it here too.
var copyOrder = []string{
	"settings", "keysets", "merchants", "locations", "product_transactions", "api_keys",
	"developers", "users", "profiles", "addresses", "instruments", "mandates",
	"onetime_tokens", "transactions", "idempotency", "audit_log", "audit_heads",
	"instrument_counts", "commit_marks", "key_fence",
}

// analyzeAfterCopy is the fewest rows of a copied table that CopyTo analyses.
const analyzeAfterCopy = 1000

// CopyTables returns the tables CopyTo copies, in its order.
func CopyTables() []string { return slices.Clone(copyOrder) }

// TableCount is how many rows of a table CopyTo copied.
type TableCount struct {
	Table string
	Rows  int64
}

// ErrCopyTarget is the refusal of a PostgreSQL database that already holds payvault data.
var ErrCopyTarget = errors.New("the target database already holds payvault data")

// CheckCopyTarget refuses (ErrCopyTarget) a PostgreSQL database that holds a row in any
// payvault table, payvault tables without a schema version, or a schema at a version other
// than this payvault's latest. It changes nothing, and reads only the catalog and the tables.
func (s *Store) CheckCopyTarget(ctx context.Context) error {
	if s.dialect != Postgres {
		return errors.New("sqlstore: the copy target must be PostgreSQL")
	}
	present, err := s.pgTables(ctx)
	if err != nil {
		return err
	}
	for _, t := range copyOrder {
		if !present[t] {
			continue
		}
		var has bool
		if err := s.wdb.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{t}.Sanitize()+")").Scan(&has); err != nil {
			return fmt.Errorf("sqlstore: read target table %s: %w", t, err)
		}
		if has {
			return fmt.Errorf("sqlstore: %w: table %s has rows", ErrCopyTarget, t)
		}
	}
	if !present["goose_db_version"] {
		for _, t := range copyOrder {
			if present[t] {
				return fmt.Errorf("sqlstore: %w: table %s exists, but no payvault schema version", ErrCopyTarget, t)
			}
		}
		return nil
	}
	sc, err := s.Schema(ctx)
	if err != nil {
		return err
	}
	if sc.Current != 0 && sc.Current != sc.Target {
		return fmt.Errorf("sqlstore: %w: its schema is at version %d, not this payvault's %d", ErrCopyTarget, sc.Current, sc.Target)
	}
	if sc.Current == 0 {
		for _, t := range copyOrder {
			if present[t] {
				return fmt.Errorf("sqlstore: %w: table %s exists, but no payvault schema version", ErrCopyTarget, t)
			}
		}
	}
	return nil
}

// pgTables returns the tables of the current schema.
func (s *Store) pgTables(ctx context.Context) (map[string]bool, error) {
	rows, err := s.wdb.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read target tables: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out[t] = true
	}
	return out, rows.Err()
}

// column is one column of a table: its name and, on PostgreSQL, its data_type; on SQLite,
// its position in the primary key (from 1; 0 for a column outside it).
type column struct {
	name string
	typ  string
	pk   int
}

// sqliteColumns returns the SQLite store's tables (goose's own left out) and their columns.
func sqliteColumns(ctx context.Context, q querier) (map[string][]column, error) {
	rows, err := q.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'goose_db_version'")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read source tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string][]column{}
	for _, t := range tables {
		rows, err := q.QueryContext(ctx, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", t)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read source columns of %s: %w", t, err)
		}
		for rows.Next() {
			var c column
			if err := rows.Scan(&c.name, &c.pk); err != nil {
				rows.Close()
				return nil, err
			}
			out[t] = append(out[t], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pgColumns returns the PostgreSQL store's tables (goose's own left out) and their columns
// with their types.
func pgColumns(ctx context.Context, tx pgx.Tx) (map[string][]column, error) {
	rows, err := tx.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
		WHERE c.table_schema = current_schema() AND c.table_name <> 'goose_db_version'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read target columns: %w", err)
	}
	defer rows.Close()
	out := map[string][]column{}
	for rows.Next() {
		var t string
		var c column
		if err := rows.Scan(&t, &c.name, &c.typ); err != nil {
			return nil, err
		}
		out[t] = append(out[t], c)
	}
	return out, rows.Err()
}

// copyTypes are the PostgreSQL column types CopyTo converts SQLite values to.
var copyTypes = map[string]bool{"text": true, "bytea": true, "bigint": true, "integer": true, "smallint": true, "boolean": true}

// compareSchemas refuses two schemas that do not have the same tables (those of copyOrder)
// with the same columns, or a PostgreSQL column of a type CopyTo does not convert to. It
// returns the PostgreSQL columns of each table.
func compareSchemas(src, dst map[string][]column) (map[string]map[string]string, error) {
	var problems []string
	for t := range src {
		if _, ok := dst[t]; !ok {
			problems = append(problems, "table "+t+" exists in the embedded store only")
		}
		if !slices.Contains(copyOrder, t) {
			problems = append(problems, "table "+t+" is not one this payvault knows how to copy")
		}
	}
	for t := range dst {
		if _, ok := src[t]; !ok {
			problems = append(problems, "table "+t+" exists in PostgreSQL only")
		}
	}
	for _, t := range copyOrder {
		if _, ok := src[t]; !ok {
			if _, ok := dst[t]; !ok {
				problems = append(problems, "table "+t+" exists on neither side")
			}
		}
	}
	types := map[string]map[string]string{}
	for t, cols := range dst {
		types[t] = map[string]string{}
		for _, c := range cols {
			types[t][c.name] = c.typ
			if !copyTypes[c.typ] {
				problems = append(problems, fmt.Sprintf("column %s.%s has type %s, which copy-store does not convert to", t, c.name, c.typ))
			}
		}
	}
	for t, cols := range src {
		have := map[string]bool{}
		for _, c := range cols {
			have[c.name] = true
			if _, ok := types[t][c.name]; !ok && types[t] != nil {
				problems = append(problems, "column "+t+"."+c.name+" exists in the embedded store only")
			}
		}
		for _, c := range dst[t] {
			if !have[c.name] {
				problems = append(problems, "column "+t+"."+c.name+" exists in PostgreSQL only")
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("sqlstore: the two schemas differ, so nothing was copied: %s", strings.Join(problems, "; "))
	}
	return types, nil
}

// CopyTo copies every row of every table of s, an embedded (SQLite) store, into dst, an
// empty PostgreSQL store at the same schema version (CheckCopyTarget, then Migrate). The
// source is read in one transaction that holds SQLite's write lock, so that no other
// process writes it meanwhile; the target is written in one transaction through COPY, so
// that a failure leaves it as it was. Before the commit the row count of every table is
// compared on both sides, and every row is read back and compared value for value
// (compareTable). Values are converted to each PostgreSQL column's type; a value
// that does not convert fails the copy, and its error names the column and the Go type,
// never the value. After the commit every table of at least analyzeAfterCopy rows is
// analysed (ANALYZE), so that the planner knows its size from the first request.
//
// locked, when not nil, runs once the source is locked and before anything is written:
// whatever it reads of the source through the store is what is copied, and keysets reads
// the source's keysets as copied (s.LoadKeyset would wait for the connection the lock
// holds, without end; keysets stores none, and its StoreKeyset fails). committed, when
// not nil, runs after the commit and the ANALYZE, with the source still locked: no other
// process has written the source since the copy, and none does before it returns (a writer
// waits for SQLite's lock meanwhile, up to its busy timeout). Its error is CopyTo's, as is.
func (s *Store) CopyTo(ctx context.Context, dst *Store, locked func(ctx context.Context, keysets keys.KeysetStore) error, committed func(context.Context) error) ([]TableCount, error) {
	if s.dialect != SQLite || dst.dialect != Postgres {
		return nil, errors.New("sqlstore: copy goes from the embedded store to PostgreSQL")
	}
	stx, err := s.wdb.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock): no other process writes meanwhile
	if err != nil {
		return nil, fmt.Errorf("sqlstore: lock the embedded store for the copy: %w", err)
	}
	defer stx.Rollback()
	srcCols, err := sqliteColumns(ctx, stx)
	if err != nil {
		return nil, err
	}
	if locked != nil {
		if err := locked(ctx, copyKeysets{stx}); err != nil {
			return nil, err
		}
	}
	conn, err := dst.wdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: connect to the target: %w", err)
	}
	defer conn.Close()
	var counts []TableCount
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		ptx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: begin the target transaction: %w", err)
		}
		defer ptx.Rollback(context.WithoutCancel(ctx))
		if counts, err = copyTables(ctx, stx, ptx, srcCols); err != nil {
			return err
		}
		if err := ptx.Commit(ctx); err != nil {
			return fmt.Errorf("sqlstore: commit the copy: %w", err)
		}
		// Statistics now, not at autovacuum's first pass: without them the planner takes
		// the copied tables for empty (docs/operations.md: card payments ran 7x slower on a
		// new database). A table of few rows is left to autovacuum, as on a new database:
		// analysed nearly empty, it would be planned as tiny while it grows.
		for _, tc := range counts {
			if tc.Rows < analyzeAfterCopy {
				continue
			}
			if _, err := pc.Exec(ctx, "ANALYZE "+pgx.Identifier{tc.Table}.Sanitize()); err != nil {
				return fmt.Errorf("sqlstore: the copy is committed, but ANALYZE %s failed (run ANALYZE on the database): %w", tc.Table, err)
			}
		}
		return nil
	})
	if err == nil && committed != nil {
		err = committed(ctx)
	}
	return counts, err
}

// copyKeysets is the source's keysets as CopyTo copies them: read inside its transaction,
// which holds the embedded store's only write connection, and never written.
type copyKeysets struct{ tx *sql.Tx }

var _ keys.KeysetStore = copyKeysets{}

// LoadKeyset implements keys.KeysetStore.
func (k copyKeysets) LoadKeyset(ctx context.Context, name string) ([]byte, int64, error) {
	return loadKeyset(ctx, k.tx, loadKeysetQuery, name)
}

// StoreKeyset implements keys.KeysetStore: it fails, since the copy writes nothing to its
// source.
func (copyKeysets) StoreKeyset(context.Context, string, []byte, int64) error {
	return errors.New("sqlstore: a keyset cannot be written while the store is copied")
}

// copyTables runs CopyTo's work inside its two transactions.
func copyTables(ctx context.Context, stx *sql.Tx, ptx pgx.Tx, srcCols map[string][]column) ([]TableCount, error) {
	dstCols, err := pgColumns(ctx, ptx)
	if err != nil {
		return nil, err
	}
	types, err := compareSchemas(srcCols, dstCols)
	if err != nil {
		return nil, err
	}
	var counts []TableCount
	for _, t := range copyOrder {
		cols := srcCols[t]
		names := make([]string, len(cols))
		colTypes := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
			colTypes[i] = types[t][c.name]
		}
		var want int64
		if err := stx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteSQLite(t)).Scan(&want); err != nil {
			return nil, fmt.Errorf("sqlstore: count %s in the embedded store: %w", t, err)
		}
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = quoteSQLite(n)
		}
		rows, err := stx.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+quoteSQLite(t))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read %s from the embedded store: %w", t, err)
		}
		src := &rowSource{rows: rows, table: t, cols: names, types: colTypes, vals: make([]any, len(names))}
		n, err := ptx.CopyFrom(ctx, pgx.Identifier{t}, names, src)
		rows.Close()
		if src.err != nil {
			err = src.err
		}
		if err != nil {
			return nil, fmt.Errorf("sqlstore: copy %s: %w", t, err)
		}
		if copyTamper != nil {
			if err := copyTamper(ctx, ptx, t); err != nil {
				return nil, err
			}
		}
		var got int64
		if err := ptx.QueryRow(ctx, "SELECT COUNT(*) FROM "+pgx.Identifier{t}.Sanitize()).Scan(&got); err != nil {
			return nil, fmt.Errorf("sqlstore: count %s in PostgreSQL: %w", t, err)
		}
		if n != want || got != want {
			return nil, fmt.Errorf("sqlstore: copy %s: the embedded store has %d rows, %d were copied and PostgreSQL holds %d; nothing was committed", t, want, n, got)
		}
		if err := compareTable(ctx, stx, ptx, t, cols, colTypes); err != nil {
			return nil, err
		}
		counts = append(counts, TableCount{Table: t, Rows: want})
	}
	if err := resetSequences(ctx, ptx); err != nil {
		return nil, err
	}
	return counts, nil
}

// compareTable reads every row of table t back from both sides, in primary-key order, and
// compares them value for value: each source value converted as the copy converted it
// (convertValue) against what PostgreSQL returns. Text keys are ordered byte for byte on both
// sides (SQLite's BINARY, PostgreSQL's "C" collation). The first difference fails the copy;
// its error names the table, the column and the row (by its record id where the key is an
// id column, else by its position), never a value.
func compareTable(ctx context.Context, stx *sql.Tx, ptx pgx.Tx, t string, cols []column, types []string) error {
	var sqliteNames, pgNames []string
	var sqliteKey, pgKey []string
	idCol := -1
	keyCols := slices.DeleteFunc(slices.Clone(cols), func(c column) bool { return c.pk == 0 })
	if len(keyCols) == 0 {
		keyCols = cols // no primary key: every column orders the rows
	}
	slices.SortFunc(keyCols, func(a, b column) int { return a.pk - b.pk })
	for i, c := range cols {
		sqliteNames = append(sqliteNames, quoteSQLite(c.name))
		pgNames = append(pgNames, pgx.Identifier{c.name}.Sanitize())
		if c.name == "id" && c.pk == 1 && len(keyCols) == 1 {
			idCol = i
		}
	}
	for _, c := range keyCols {
		sqliteKey = append(sqliteKey, quoteSQLite(c.name))
		k := pgx.Identifier{c.name}.Sanitize()
		if i := slices.IndexFunc(cols, func(x column) bool { return x.name == c.name }); types[i] == "text" {
			k += ` COLLATE "C"`
		}
		pgKey = append(pgKey, k)
	}
	srcRows, err := stx.QueryContext(ctx, "SELECT "+strings.Join(sqliteNames, ", ")+" FROM "+quoteSQLite(t)+" ORDER BY "+strings.Join(sqliteKey, ", "))
	if err != nil {
		return fmt.Errorf("sqlstore: read %s back from the embedded store: %w", t, err)
	}
	defer srcRows.Close()
	dstRows, err := ptx.Query(ctx, "SELECT "+strings.Join(pgNames, ", ")+" FROM "+pgx.Identifier{t}.Sanitize()+" ORDER BY "+strings.Join(pgKey, ", "))
	if err != nil {
		return fmt.Errorf("sqlstore: read %s back from PostgreSQL: %w", t, err)
	}
	defer dstRows.Close()
	differs := func(row int64, col int, id any) error {
		where := fmt.Sprintf("row %d in key order", row)
		if s, ok := id.(string); ok {
			where = "record " + s
		}
		return fmt.Errorf("sqlstore: copy %s: %s differs in column %s between the embedded store and PostgreSQL; nothing was committed", t, where, cols[col].name)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var row int64
	for srcRows.Next() {
		row++
		if err := srcRows.Scan(ptrs...); err != nil {
			return fmt.Errorf("sqlstore: read %s back from the embedded store: %w", t, err)
		}
		var id any
		if idCol >= 0 {
			id = vals[idCol]
		}
		if !dstRows.Next() {
			if err := dstRows.Err(); err != nil {
				return fmt.Errorf("sqlstore: read %s back from PostgreSQL: %w", t, err)
			}
			return fmt.Errorf("sqlstore: copy %s: PostgreSQL holds fewer rows than the embedded store; nothing was committed", t)
		}
		got, err := dstRows.Values()
		if err != nil {
			return fmt.Errorf("sqlstore: read %s back from PostgreSQL: %w", t, err)
		}
		for i, v := range vals {
			want, err := convertValue(v, types[i])
			if err != nil {
				return fmt.Errorf("sqlstore: copy %s: column %s: %w", t, cols[i].name, err)
			}
			if !sameValue(want, got[i]) {
				return differs(row, i, id)
			}
		}
	}
	if err := srcRows.Err(); err != nil {
		return fmt.Errorf("sqlstore: read %s back from the embedded store: %w", t, err)
	}
	if dstRows.Next() {
		return fmt.Errorf("sqlstore: copy %s: PostgreSQL holds more rows than the embedded store; nothing was committed", t)
	}
	if err := dstRows.Err(); err != nil {
		return fmt.Errorf("sqlstore: read %s back from PostgreSQL: %w", t, err)
	}
	return nil
}

// sameValue reports whether want, a value convertValue made, is what PostgreSQL returned
// (got, as pgx decodes it: a narrower integer for integer and smallint columns).
func sameValue(want, got any) bool {
	switch g := got.(type) {
	case int16:
		got = int64(g)
	case int32:
		got = int64(g)
	}
	switch w := want.(type) {
	case nil:
		return got == nil
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(w, g)
	case string, int64, bool:
		return want == got
	}
	return false
}

// resetSequences sets every sequence behind a serial or identity column of the target past
// the largest value copied, so that the next row the store inserts does not collide with a
// copied one. payvault's schema has none today; this keeps a later one that does safe.
func resetSequences(ctx context.Context, ptx pgx.Tx) error {
	rows, err := ptx.Query(ctx, `SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name)
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'
		  AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')`)
	if err != nil {
		return fmt.Errorf("sqlstore: read target sequences: %w", err)
	}
	type seq struct{ table, col, seq string }
	var seqs []seq
	for rows.Next() {
		var s seq
		var name *string
		if err := rows.Scan(&s.table, &s.col, &name); err != nil {
			rows.Close()
			return err
		}
		if name != nil {
			s.seq = *name
			seqs = append(seqs, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range seqs {
		q := fmt.Sprintf("SELECT setval($1, COALESCE((SELECT MAX(%s) FROM %s), 0) + 1, false)", pgx.Identifier{s.col}.Sanitize(), pgx.Identifier{s.table}.Sanitize())
		if _, err := ptx.Exec(ctx, q, s.seq); err != nil {
			return fmt.Errorf("sqlstore: reset the sequence of %s.%s: %w", s.table, s.col, err)
		}
	}
	return nil
}

// quoteSQLite quotes an identifier for SQLite.
func quoteSQLite(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// rowSource feeds CopyFrom the rows of one SQLite table, each value converted to its
// PostgreSQL column's type.
type rowSource struct {
	rows  *sql.Rows
	table string
	cols  []string
	types []string
	vals  []any
	err   error
}

func (r *rowSource) Next() bool {
	if r.err != nil || !r.rows.Next() {
		return false
	}
	ptrs := make([]any, len(r.vals))
	for i := range r.vals {
		ptrs[i] = &r.vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.err = err
		return false
	}
	for i, v := range r.vals {
		c, err := convertValue(v, r.types[i])
		if err != nil {
			r.err = fmt.Errorf("column %s.%s: %w", r.table, r.cols[i], err)
			return false
		}
		r.vals[i] = c
	}
	return true
}

func (r *rowSource) Values() ([]any, error) { return r.vals, nil }

func (r *rowSource) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

// convertValue converts a value read from SQLite (nil, int64, float64, bool, string or
// []byte) to the PostgreSQL type typ. Its errors name the Go type, never the value.
func convertValue(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "text":
		var t string
		switch x := v.(type) {
		case string:
			t = x
		case []byte:
			t = string(x)
		default:
			return nil, fmt.Errorf("a %T value does not convert to %s", v, typ)
		}
		// PostgreSQL's own refusal would quote the offending bytes.
		if !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
			return nil, errors.New("text that is not valid UTF-8, or holds a NUL, does not convert to text")
		}
		return t, nil
	case "bytea":
		switch x := v.(type) {
		case []byte:
			if x == nil {
				// SQLite's empty blob, which is not NULL: pgx would send a nil slice as NULL.
				return []byte{}, nil
			}
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
			return nil, fmt.Errorf("an integer other than 0 or 1 does not convert to boolean")
		}
	}
	return nil, fmt.Errorf("a %T value does not convert to %s", v, typ)
}

// copyTamper, when not nil, runs in the target's transaction after each table is copied and
// before it is checked (tests: SetCopyTamper).
var copyTamper func(ctx context.Context, tx pgx.Tx, table string) error
