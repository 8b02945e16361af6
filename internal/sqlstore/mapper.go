package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// col maps one column to a pointer into a Go value. The pointer is a scan destination and,
// dereferenced by val, an argument.
type col struct {
	name string
	ptr  any
}

// names returns the comma-separated column names.
func names(cs []col) string {
	return memoSQL("", "", "", cs, buildNames)
}

func buildNames(cs []col) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name)
	}
	return b.String()
}

// ptrs returns the scan destinations.
func ptrs(cs []col) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = c.ptr
	}
	return out
}

// vals returns the argument values.
func vals(cs []col) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = val(c.ptr)
	}
	return out
}

// val dereferences a column pointer into a driver-neutral argument.
func val(p any) any {
	switch p := p.(type) {
	case *string:
		return *p
	case *int:
		return int64(*p)
	case *int64:
		return *p
	case *uint32:
		return int64(*p)
	case *bool:
		return *p
	case *[]byte:
		if *p == nil {
			return nil
		}
		return *p
	case driver.Valuer:
		v, err := p.Value()
		if err != nil {
			panic(err) // adapters below never fail
		}
		return v
	default:
		panic(fmt.Sprintf("sqlstore: unsupported column type %T", p))
	}
}

// insertSQL builds an INSERT for the columns.
func insertSQL(table string, cs []col) string {
	return memoSQL("insert", table, "", cs, func(cs []col) string {
		return "INSERT INTO " + table + " (" + buildNames(cs) + ") VALUES (" + placeholders(len(cs)) + ")"
	})
}

// insertSelectSQL is insertSQL as an INSERT … SELECT of its arguments, to which the caller
// adds a WHERE clause (and a RETURNING).
func insertSelectSQL(table string, cs []col) string {
	return memoSQL("insert-select", table, "", cs, func(cs []col) string {
		return "INSERT INTO " + table + " (" + buildNames(cs) + ") SELECT " + placeholders(len(cs))
	})
}

// placeholders is n comma-separated ? placeholders.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// updateSQL builds an UPDATE of the columns with a WHERE clause; its arguments are vals(cs)
// followed by the where arguments.
func updateSQL(table string, cs []col, where string) string {
	return memoSQL("update", table, where, cs, func(cs []col) string { return buildUpdate(table, cs, where) })
}

func buildUpdate(table string, cs []col, where string) string {
	var b strings.Builder
	b.WriteString("UPDATE " + table + " SET ")
	for i, c := range cs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name + " = ?")
	}
	b.WriteString(" WHERE " + where)
	return b.String()
}

// The statements built from column lists are the same at every call of a site, and building
// them (hundreds of bytes each, for the widest tables) was a few percent of a write's CPU. They
// are kept, keyed by what shapes them: the column names, which the key holds by the address of
// their first and last (string literals, so fixed) and which an entry compares in full, so a
// key collision costs a rebuild, never a wrong statement. The cache stops growing at
// memoSQLMax entries, in case a caller ever builds lists from its input.
type memoKey struct {
	kind, table, where string
	first, last        *byte
	n                  int
}

type memoEntry struct {
	names []string
	stmt  string
}

const memoSQLMax = 512

var (
	memoSQLs sync.Map // memoKey → *memoEntry
	memoSQLN atomic.Int32
)

func memoSQL(kind, table, where string, cs []col, build func([]col) string) string {
	if len(cs) == 0 {
		return build(cs)
	}
	k := memoKey{kind, table, where, unsafe.StringData(cs[0].name), unsafe.StringData(cs[len(cs)-1].name), len(cs)}
	if v, ok := memoSQLs.Load(k); ok {
		if e := v.(*memoEntry); sameNames(e.names, cs) {
			return e.stmt
		}
	}
	stmt := build(cs)
	if memoSQLN.Load() < memoSQLMax {
		ns := make([]string, len(cs))
		for i, c := range cs {
			ns[i] = c.name
		}
		if _, loaded := memoSQLs.Swap(k, &memoEntry{ns, stmt}); !loaded {
			memoSQLN.Add(1)
		}
	}
	return stmt
}

func sameNames(ns []string, cs []col) bool {
	if len(ns) != len(cs) {
		return false
	}
	for i, c := range cs {
		if ns[i] != c.name {
			return false
		}
	}
	return true
}

// without returns cs minus the named columns (for updates that keep immutable columns).
func without(cs []col, drop ...string) []col {
	out := make([]col, 0, len(cs))
next:
	for _, c := range cs {
		for _, d := range drop {
			if c.name == d {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

// msTime stores a time as Unix milliseconds, 0 for the zero time.
type msTime struct{ t *time.Time }

func ms(t *time.Time) *msTime { return &msTime{t} }

// Value implements driver.Valuer.
func (m *msTime) Value() (driver.Value, error) { return toMS(*m.t), nil }

// Scan implements sql.Scanner.
func (m *msTime) Scan(src any) error {
	n, err := asInt64(src)
	if err != nil {
		return err
	}
	*m.t = fromMS(n)
	return nil
}

func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// jsonOf stores any value as JSON text.
type jsonOf struct{ v any }

func asJSON(v any) *jsonOf { return &jsonOf{v} }

// Value implements driver.Valuer.
func (j *jsonOf) Value() (driver.Value, error) {
	b, err := json.Marshal(j.v)
	return string(b), err
}

// Scan implements sql.Scanner.
func (j *jsonOf) Scan(src any) error {
	var b []byte
	switch s := src.(type) {
	case string:
		b = []byte(s)
	case []byte:
		b = s
	case nil:
		return nil
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as JSON", src)
	}
	return json.Unmarshal(b, j.v)
}

func asInt64(src any) (int64, error) {
	switch v := src.(type) {
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case nil:
		return 0, nil
	default:
		return 0, fmt.Errorf("sqlstore: cannot scan %T as integer", src)
	}
}
