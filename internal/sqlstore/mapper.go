package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// col maps one column to a pointer into a Go value. The pointer is a scan destination and,
// dereferenced by val, an argument.
type col struct {
	name string
	ptr  any
}

// names returns the comma-separated column names.
func names(cs []col) string {
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
	return "INSERT INTO " + table + " (" + names(cs) + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cs)), ", ") + ")"
}

// updateSQL builds an UPDATE of the columns with a WHERE clause; its arguments are vals(cs)
// followed by the where arguments.
func updateSQL(table string, cs []col, where string) string {
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
