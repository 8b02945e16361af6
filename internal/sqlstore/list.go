package sqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"modernc.org/sqlite"

	"github.com/payvault/payvault/internal/vault"
)

// fieldKind says how a listable column compares.
type fieldKind uint8

const (
	fText  fieldKind = iota + 1 // exact, case-sensitive text
	fFold                       // exact, case-insensitive text
	fLower                      // an id or code stored lower-case: the value is folded, the column compared as is (an index serves it)
	fInt                        // integer
	fTime                       // Unix milliseconds in the column; seconds in a Query
	fBool                       // boolean
)

// listSpec whitelists the columns of a table that a Query may filter and sort on.
type listSpec struct {
	table  string
	fields map[string]fieldKind
	// base is an extra WHERE condition always applied (e.g. "deleted_at = 0").
	base string
	// exprs maps computed fields to the SQL expression that yields them; the expression must
	// be valid on both engines.
	exprs map[string]string
	// counted, when set, may answer a list's count from kept counts instead of counting its
	// rows: it returns two queries of one value each, the count and the number of kept rows
	// it summed, which take the same arguments, and those arguments; or false.
	counted func(s listSpec, merchantID string, qry vault.Query) (total, summed string, args []any, ok bool)
	// indexes serve lists that name a few rows by an exact filter (listSpec.index).
	indexes []listIndex
	// split, when set, reads a page in id order one value combination at a time (listSplit).
	split *listSplit
}

// listSplit is an index that leads with merchant_id, then fields, then id, partial on the
// spec's base condition: instruments_location (merchant_id, location_id, kind, id) WHERE
// deleted_at = 0; transactions_location (merchant_id, location_id, api, id, status), whose
// status serves the Fortis list's filter and count from the index; profiles_location
// (merchant_id, location_id, id) WHERE deleted_at = 0. A list filtered to several values of
// those fields (a Fortis list: both kinds, card and ach, of a user's locations) cannot read it
// in id order as one range, so the planner chooses between reading the merchant's rows
// backwards through the primary key or instruments_merchant, filtering as it goes, and reading
// every row of the location and sorting them; on PostgreSQL that choice rests on the table's
// statistics. Before autovacuum has analysed a growing table it estimates one row and sorts: a
// location of 68,000 vaults took 302 ms a page, and the benchmark's Fortis list fell from about
// 1,500 to 3 requests/s (docs/benchmarks.md, stop 39). So such a page is read as one ordered,
// limited scan of ids per combination of values, UNION ALL, cut to the page, and then the
// page's rows by id: each scan reads at most the page's end from its own range of the index,
// whatever the statistics say.
//
// A field of few values (kind) is written into the branches as a literal. PostgreSQL plans a
// statement prepared again and again for any value of a bound one (a generic plan), and a
// store whose vaults were all cards then rated "kind = $1" as matching every row: for the
// ach branch it read the primary key backwards, past every card, to find none (103 ms a
// page; the benchmark's list fell to 19-32 requests/s once autovacuum had analysed the
// table). A literal is planned from the value's own statistics.
//
// On PostgreSQL the first field (the location) is written as a literal too, when its values
// are ids (idLiteral; otherwise the page is not split). Bound, a generic plan rated
// "location_id = $2" as one location's share of the rows (half of them, in a store of two
// locations), and for a location of 150 vaults beside one of 29,850 read the primary key
// backwards in id order, filtering, past the large location's vaults (4,000 rows for a page of
// 20; TestListSplitPlans/generic-small-location). A first mend wrote the bound location as a
// range of one value (location_id <= $2 AND (location_id, id) >= ($3, the empty string)),
// which only the split's index orders; but a range on the location leaves the field after it (the kind, the
// API) out of the scan's bounds, and a branch for a kind the location lacks (ach, in a store of
// cards) read every entry of the location to find none: the benchmark's Fortis list fell from
// about 1,250 to 525 requests/s, with pages of 1.4 s (TestListSplitPlans now counts the pages
// a scan touches). With literals each branch's range is exact, and planned from the values'
// own statistics. Each set of locations is then a statement text of its own, prepared once per
// session (about 106 KB each on the server), which is why these lists run in a pool of their
// own (listStatements).
//
// A list of one combination (the Fortis transaction and contact lists' usual scope, one
// location) is one statement on both engines, not a split, with the location written in the
// same way on PostgreSQL (TestTransactionListPlans, TestContactListPlans). Read through an ids
// subquery, as a branch, it measured 30% slower a page (BenchmarkListPage/postgres/kept, 600 →
// 800 µs), and it needs none: the location's index yields its order.
type listSplit struct {
	base   string   // base is the index's partial condition, which the spec's base must be
	fields []string // fields follow merchant_id in the index, before id
	// literal is the field written as a literal, whose values must match literalValue.
	literal string
}

// literalValue matches the values a split may write into its statement.
var literalValue = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// idLiteral matches the values of a split's first field (a location id: a UUID, or an id of
// letters, digits, '_' and '-') that PostgreSQL's statements may write in (listSplit).
var idLiteral = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// A list whose statement names its locations (PostgreSQL's split lists, listSplit) is a
// statement text per set of locations, and pgx prepares each text it runs in a session and
// keeps its last 512 there. Each such statement holds about 106 KB of its session's memory
// (PostgreSQL 15, measured: 200 took 21.2 MB of CachedPlanSource and CachedPlanQuery), so a
// node's 32 sessions could have held 1.7 GB between them for a store of many locations. So
// these lists run in a pool of their own, of at most listConns sessions, each keeping its
// last listStatements of them: about 54 MB a node in all. Run unprepared instead, each
// planned again at every run, the benchmark's Fortis list halved (708 against 1,385
// requests/s), so the locations listed most stay prepared. Through 16 sessions it measured as
// through the main pool's 32; through 8 its p99 rose by about a fifth, requests queueing for a
// session (docs/benchmarks.md).
const (
	listConns      = 16
	listStatements = 32
)

// maxBranches bounds a split page's scans, and maxSplitEnd the rows each reads; a list over
// more combinations, or a page deeper than that, reads as one.
const (
	maxBranches = 16
	maxSplitEnd = 1 << 24
)

// branches returns the values of split's fields, one combination per branch, when qry's
// page may be read through split on engine d: it has a limit and ends within maxSplitEnd
// rows, it is in id order only, no index of the spec serves it, and each field has exact
// filters only, whose values (their intersection, folded) combine into up to maxBranches
// branches, at least 2 on SQLite (whose planner reads one combination's range of the index in
// order by itself; on PostgreSQL one is written with a literal location, listSplit). rest are
// qry's other filters.
func (s listSpec) branches(d Dialect, qry vault.Query) (combos [][]string, rest []vault.Filter, ok bool) {
	sp := s.split
	if sp == nil || s.base != sp.base || qry.Limit <= 0 || qry.Offset < 0 || qry.Offset > maxSplitEnd-qry.Limit {
		return nil, nil, false
	}
	for _, k := range qry.Sort {
		if _, known := s.fields[k.Field]; known && (k.Field != "id" || len(k.Rank) > 0) {
			return nil, nil, false
		}
	}
	if _, ok := s.index(qry); ok {
		return nil, nil, false
	}
	combos = [][]string{nil}
	for _, field := range sp.fields {
		var vals []string
		seen := false
		for _, f := range qry.Filters {
			if f.Field != field {
				continue
			}
			if f.Op != vault.OpIn || len(f.Values) == 0 || f.Fold && s.fields[field] == fText {
				return nil, nil, false
			}
			var these []string
			for _, v := range f.Values {
				if s.fields[field] == fLower || s.fields[field] == fFold {
					v = strings.ToLower(v)
				}
				if !slices.Contains(these, v) && (!seen || slices.Contains(vals, v)) {
					these = append(these, v)
				}
			}
			vals, seen = these, true
		}
		if !seen || len(vals) == 0 || len(combos)*len(vals) > maxBranches ||
			field == sp.literal && slices.ContainsFunc(vals, func(v string) bool { return !literalValue.MatchString(v) }) ||
			field == sp.fields[0] && d == Postgres && slices.ContainsFunc(vals, func(v string) bool { return !idLiteral.MatchString(v) }) {
			return nil, nil, false
		}
		var next [][]string
		for _, c := range combos {
			for _, v := range vals {
				next = append(next, append(slices.Clip(c), v))
			}
		}
		combos = next
	}
	if len(combos) < 2 && d != Postgres {
		return nil, nil, false
	}
	for _, f := range qry.Filters {
		if !slices.Contains(sp.fields, f.Field) {
			rest = append(rest, f)
		}
	}
	return combos, rest, true
}

// splitPage is the page of qry read through s.split, one branch per combination (branches):
// its columns, FROM and the rest, as list's page is, and its arguments before the offset.
// The branches read ids alone, and the page's rows are read by id. On PostgreSQL each branch
// is limited to the page's end rounded up to the limit times a power of two (a few page
// depths make a few statements), so that no plan reads a scan further, and its first field is
// a literal (listSplit); one combination is the page's statement itself. SQLite
// merges the branches of a compound SELECT in its order as it reads them and stops at the
// LIMIT, while a branch limited in its own subquery it would sort again.
func (s listSpec) splitPage(d Dialect, merchantID string, qry vault.Query, combos [][]string, rest []vault.Filter, cols string) (string, []any) {
	r := qry
	r.Filters = rest
	where, args := s.where(d, merchantID, r)
	order := s.order(d, qry)
	n := qry.Limit // a branch's limit on PostgreSQL
	for n < qry.Offset+qry.Limit {
		n *= 2
	}
	first := s.column(s.split.fields[0])
	parts := make([]string, len(combos))
	var all []any
	for i, c := range combos {
		cond := where
		all = append(all, args...)
		for j, f := range s.split.fields {
			switch {
			case f == s.split.literal:
				cond += " AND " + s.column(f) + " = '" + c[j] + "'" // literalValue: no quote
			case j == 0 && d == Postgres:
				// The first field (the location) is a literal too on PostgreSQL (listSplit).
				cond += " AND " + first + " = '" + c[j] + "'" // idLiteral: no quote
			default:
				cond += " AND " + s.column(f) + " = ?"
				all = append(all, c[j])
			}
		}
		if d == Postgres && len(combos) == 1 {
			return cols + " FROM " + s.table + " WHERE " + cond + " ORDER BY " + order + " LIMIT " + strconv.Itoa(qry.Limit) + " OFFSET ?", all
		}
		parts[i] = "SELECT id FROM " + s.table + " WHERE " + cond
		if d == Postgres {
			parts[i] = "SELECT id FROM (" + parts[i] + " ORDER BY " + order + " LIMIT " + strconv.Itoa(n) + ") AS b" + strconv.Itoa(i)
		}
	}
	ids := strings.Join(parts, " UNION ALL ")
	if d == Postgres {
		ids = "SELECT id FROM (" + ids + ") AS u"
	}
	return cols + " FROM " + s.table + " WHERE id IN (" + ids + " ORDER BY " + order + " LIMIT " + strconv.Itoa(qry.Limit) +
		" OFFSET ?) ORDER BY " + order, all
}

// listIndex is an index that serves a list better than the list's scope does when every field
// it leads with has an exact filter: a contact's vaults, a reference's transactions. Left to
// itself, SQLite's planner (it keeps no statistics here) prefers the index with more equal
// columns, or the one that yields the ORDER BY, and reads every row of the merchant or the
// location to find those few.
type listIndex struct {
	name   string   // name is the index's name, the same on both engines.
	fields []string // fields are the fields it leads with, each needing an exact filter.
	// cond is its partial condition, which the list restates: a planner cannot infer
	// "profile_id <> ''" from "profile_id IN (?)".
	cond string
}

// index returns the first of the spec's indexes that every one of its fields has an exact
// filter for, each of whose values is not empty and which compares the column as it is.
func (s listSpec) index(qry vault.Query) (listIndex, bool) {
	exact := map[string]bool{}
	for _, f := range qry.Filters {
		kind := s.fields[f.Field]
		if f.Op != vault.OpIn || len(f.Values) == 0 || slices.Contains(f.Values, "") ||
			kind != fLower && kind != fText || f.Fold && kind == fText {
			continue
		}
		exact[f.Field] = true
	}
	for _, ix := range s.indexes {
		if !slices.ContainsFunc(ix.fields, func(f string) bool { return !exact[f] }) {
			return ix, true
		}
	}
	return listIndex{}, false
}

// countedBy is counted, when set.
func (s listSpec) countedBy(merchantID string, qry vault.Query) (total, summed string, args []any, ok bool) {
	if s.counted == nil {
		return "", "", nil, false
	}
	return s.counted(s, merchantID, qry)
}

// column returns the SQL for a whitelisted field: its column, or its expression.
func (s listSpec) column(field string) string {
	if e, ok := s.exprs[field]; ok {
		return e
	}
	return field
}

// where builds the WHERE clause and arguments for q on engine d; unknown fields are ignored.
func (s listSpec) where(d Dialect, merchantID string, qry vault.Query) (string, []any) {
	conds := []string{"merchant_id = ?"}
	args := []any{merchantID}
	if s.base != "" {
		conds = append(conds, s.base)
	}
	for _, f := range qry.Filters {
		kind, ok := s.fields[f.Field]
		if !ok {
			continue
		}
		col := s.column(f.Field)
		switch f.Op {
		case vault.OpIn:
			if len(f.Values) == 0 {
				continue
			}
			if kind == fTime {
				// seconds → each the milliseconds of that whole second
				var alts []string
				for _, v := range f.Values {
					if n, ok := parseInt(v); ok && n > -1<<40 && n < 1<<40 { // past any time: no match
						alts = append(alts, "("+col+" >= ? AND "+col+" < ?)")
						args = append(args, n*1000, (n+1)*1000)
					}
				}
				if len(alts) == 0 {
					alts = []string{"1 = 0"}
				}
				conds = append(conds, "("+strings.Join(alts, " OR ")+")")
				continue
			}
			ph := make([]string, len(f.Values))
			for i, v := range f.Values {
				ph[i] = "?"
				switch kind {
				case fInt:
					n, ok := parseInt(v)
					if !ok {
						args = append(args, nil) // never matches
						continue
					}
					args = append(args, n)
				case fBool:
					args = append(args, v == "1" || strings.EqualFold(v, "true"))
				default:
					if f.Fold || kind == fFold || kind == fLower {
						v = strings.ToLower(v)
					}
					args = append(args, v)
				}
			}
			c := col
			if (f.Fold || kind == fFold) && (kind == fText || kind == fFold) {
				c = "LOWER(" + col + ")"
			}
			conds = append(conds, c+" IN ("+strings.Join(ph, ", ")+")")
		case vault.OpRange:
			lo, hi := f.Lo, f.Hi
			if kind == fTime {
				// seconds → the milliseconds of that whole second range
				conds = append(conds, col+" >= ? AND "+col+" < ?")
				args = append(args, lo*1000, (hi+1)*1000)
				continue
			}
			conds = append(conds, col+" >= ? AND "+col+" <= ?")
			args = append(args, lo, hi)
		case vault.OpContains:
			if len(f.Values) == 0 {
				continue
			}
			v := f.Values[0]
			if isASCII(v) {
				conds = append(conds, "LOWER("+col+") LIKE ? ESCAPE '\\'")
				args = append(args, "%"+escapeLike(strings.ToLower(v))+"%")
				continue
			}
			lower := unicodeLower(d)
			conds = append(conds, lower+"("+col+") LIKE "+lower+"(?) ESCAPE '\\'")
			args = append(args, "%"+escapeLike(v)+"%")
		case vault.OpNull:
			switch kind {
			case fInt, fTime:
				conds = append(conds, col+" = 0")
			case fBool:
				conds = append(conds, col+" = FALSE")
			default:
				conds = append(conds, col+" = ''")
			}
		}
	}
	return strings.Join(conds, " AND "), args
}

// order builds the ORDER BY clause on engine d: the whitelisted keys, then id in the last
// key's direction.
//
// Text sorts in byte order on both engines. SQLite compares text with BINARY; PostgreSQL
// with the database's collation, which for a database created with, say, en_US.UTF-8 puts
// "a" before "B" and "_x" first, so the same rows would sort and page differently on the two
// engines. A free-text or code key (fText, fFold) is therefore compared COLLATE "C" on
// PostgreSQL. No index serves an ORDER BY on those columns, so none is lost (EXPLAIN on
// PostgreSQL 15 shows the same plan, a sort over the merchant's or location's rows, either
// way). Ids and lower-case codes (fLower, id above all, which pages the default sort
// through the (merchant_id, id) indexes) keep the database's collation: they are digits,
// lower-case letters and dashes at fixed places, which every collation orders as bytes, and
// "id" COLLATE "C" would stop PostgreSQL reading those indexes in order.
func (s listSpec) order(dialect Dialect, qry vault.Query) string {
	var parts []string
	desc := true
	hasID := false
	for _, k := range qry.Sort {
		if _, ok := s.fields[k.Field]; !ok {
			continue
		}
		d := " ASC"
		if k.Desc {
			d = " DESC"
		}
		key := rankExpr(s.column(k.Field), k.Rank)
		if kind := s.fields[k.Field]; dialect == Postgres && len(k.Rank) == 0 && (kind == fText || kind == fFold) {
			key = "(" + key + `) COLLATE "C"`
		}
		parts = append(parts, key+d)
		desc = k.Desc
		if k.Field == "id" {
			hasID = true
		}
	}
	if !hasID {
		d := " ASC"
		if desc {
			d = " DESC"
		}
		parts = append(parts, "id"+d)
	}
	return strings.Join(parts, ", ")
}

// rankExpr is col, or with a ranking the position of col's value in it: a CASE over quoted
// literals (the ranking comes from code, and quotes are doubled all the same).
func rankExpr(col string, rank [][]string) string {
	if len(rank) == 0 {
		return col
	}
	var b strings.Builder
	b.WriteString("CASE " + col)
	for i, group := range rank {
		for _, v := range group {
			fmt.Fprintf(&b, " WHEN '%s' THEN %d", strings.ReplaceAll(v, "'", "''"), i)
		}
	}
	fmt.Fprintf(&b, " ELSE %d END", len(rank))
	return b.String()
}

// list runs a Query against spec's table and scans each row with newRow; fix, when set,
// is applied to each scanned value.
func list[T any](ctx context.Context, q *q, spec listSpec, merchantID string, qry vault.Query, newRow func() (*T, []col), fix func(*T)) ([]*T, int, error) {
	op := "sqlstore.List(" + spec.table + ")"
	where, args := spec.where(q.d, merchantID, qry)
	// A list that an index of the spec serves names it to SQLite. PostgreSQL keeps statistics
	// and chooses well for itself; the restated condition lets its generic plans use the
	// partial index too.
	from := spec.table
	if ix, ok := spec.index(qry); ok {
		if ix.cond != "" {
			where += " AND " + ix.cond
		}
		if q.d == SQLite {
			from += " INDEXED BY " + ix.name
		}
	}
	_, cs := newRow()
	page, pageArgs0 := "", args // the page's statement after the counts, and its arguments but the offset
	if combos, rest, ok := spec.branches(q.d, qry); ok {
		page, pageArgs0 = spec.splitPage(q.d, merchantID, qry, combos, rest, names(cs))
		if q.lists != nil {
			// Its locations are literals on PostgreSQL: the list pool (listStatements).
			lq := *q
			lq.db = q.lists
			q = &lq
		}
	} else {
		page = names(cs) + " FROM " + from + " WHERE " + where + " ORDER BY " + spec.order(q.d, qry)
		if qry.Limit > 0 {
			// The limit is written into the statement, not bound: SQLite plans with a bound
			// LIMIT's value, so it prepared the statement again at every run (about 130 µs of
			// a Fortis list page's 840). Page sizes are few; the offset stays bound.
			page += " LIMIT " + strconv.Itoa(qry.Limit) + " OFFSET ?"
		}
	}
	// The count rides in the page's statement, as uncorrelated scalar subqueries that both
	// engines run once: one statement reads one snapshot, so the page and its total agree
	// (two statements let a write committed between them give 21 rows under a totalCount of
	// 20), and it costs no round trip or transaction more than the page alone.
	var counts string // counts: the subqueries, which come first in the statement
	var countArgs []any
	var total, summed int
	dests := []any{&total}
	if tq, sq, cargs, ok := spec.countedBy(merchantID, qry); ok {
		counts = "(" + tq + "), (" + sq + ")"
		countArgs = append(slices.Clip(cargs), cargs...)
		dests = append(dests, &summed)
	} else {
		counts = "(SELECT COUNT(*) FROM " + from + " WHERE " + where + ")"
		countArgs = args
	}
	query := "SELECT " + counts + ", " + page
	pageArgs := append(slices.Clip(countArgs), pageArgs0...)
	if qry.Limit > 0 {
		pageArgs = append(pageArgs, qry.Offset)
	}
	var out []*T
	var err error
	for try := 0; ; try++ {
		if out, err = listAll(ctx, q, query, pageArgs, newRow, dests...); err != nil || len(out) > 0 {
			break
		}
		// An empty page carries no count: it is read alone. A count past the page's start
		// means rows came meanwhile, whose page is read again (a few times, then the count
		// is answered as it is).
		if err = q.scanCount(ctx, "SELECT "+counts, countArgs, dests...); err != nil {
			err = mapErr(op, err)
			break
		}
		if total <= qry.Offset || try == 2 {
			break
		}
	}
	if err == nil && summed > foldAfter && q.fold != nil {
		q.fold(merchantID)
	}
	if err != nil {
		return nil, 0, err
	}
	if fix != nil {
		for _, v := range out {
			fix(v)
		}
	}
	return out, total, nil
}

// listAll scans every row of a query; extra, when given, are the destinations of columns
// that come before the row's (the same in every row).
func listAll[T any](ctx context.Context, q *q, query string, args []any, newRow func() (*T, []col), extra ...any) ([]*T, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, mapErr("sqlstore.list", err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, cs := newRow()
		if err := rows.Scan(append(extra[:len(extra):len(extra)], ptrs(cs)...)...); err != nil {
			return nil, mapErr("sqlstore.list", err)
		}
		out = append(out, v)
	}
	return out, mapErr("sqlstore.list", rows.Err())
}

// Case-insensitive text filters fold the column and the search text alike. Text that is all
// ASCII is compared with LOWER, which folds ASCII on both engines, and a pattern of ASCII
// letters only matches ASCII letters, so that is enough. Other text is folded by the engine's
// Unicode-aware lower-case function on both sides of the comparison (unicodeLower): SQLite's
// LOWER folds ASCII only, so "ÉCOLE" would never contain "éco".

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unicodeLower is the SQL function that lower-cases any letter on engine d: on PostgreSQL
// LOWER, which follows the database's LC_CTYPE (a UTF-8 one folds every letter; C folds ASCII
// only); on SQLite payvault_lower, strings.ToLower registered with the driver (sqliteLower).
func unicodeLower(d Dialect) string {
	if d == SQLite {
		return sqliteLowerName
	}
	return "LOWER"
}

// sqliteLowerName is the name of sqliteLower in SQL.
const sqliteLowerName = "payvault_lower"

// sqliteLower is payvault_lower(text): text lower-cased by strings.ToLower, NULL for NULL.
// It is deterministic, so SQLite may use it anywhere an expression may stand.
func sqliteLower(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return strings.ToLower(v), nil
	case []byte:
		return strings.ToLower(string(v)), nil
	default:
		return v, nil
	}
}

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqliteLowerName, 1, sqliteLower)
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func parseInt(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
		if s == "" {
			return 0, false
		}
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
