package sqlstore

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// PostgreSQL text cannot hold a NUL character or invalid UTF-8: a query that binds such a
// string fails with "invalid byte sequence for encoding UTF8", which would surface as an
// internal error. SQLite stores such text, but its LIKE stops at a NUL, so a filter holding
// one matched far too much. Ids, credentials and filter values come from URLs and headers,
// where a client may send either (%00, %FF), so on both engines a read binds a stand-in that
// matches nothing, and a write refuses the value: the engines behave alike.

// unstorable reports whether s is text no column may hold.
func unstorable(s string) bool {
	return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0
}

// noMatch stands in for unstorable text in a read. It is valid text that no stored value
// holds (it begins with two Unicode noncharacters), so an equality, IN or LIKE comparison
// with it matches nothing, as the original value would have.
const noMatch = "\uffff\ufffepayvault:unstorable-text"

// errUnstorable refuses a write of unstorable text; mapErr turns it into Invalid.
var errUnstorable = errors.New("sqlstore: text holds a NUL character or invalid UTF-8")

// readArgs returns args with every unstorable string replaced by noMatch.
func (q *q) readArgs(args []any) []any {
	var out []any
	for i, a := range args {
		if s, ok := a.(string); ok && unstorable(s) {
			if out == nil {
				out = append([]any(nil), args...)
			}
			out[i] = noMatch
		}
	}
	if out == nil {
		return args
	}
	return out
}

// writeArgsOK reports whether every string in args can be stored.
func (q *q) writeArgsOK(args []any) bool {
	for _, a := range args {
		if s, ok := a.(string); ok && unstorable(s) {
			return false
		}
	}
	return true
}
