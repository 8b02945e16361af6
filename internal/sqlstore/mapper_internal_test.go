package sqlstore

import (
	"strings"
	"testing"
)

// TestMemoSQL: statements built from column lists are kept, but two lists that share their
// first and last column and their length, the memo's key, still get their own statements.
func TestMemoSQL(t *testing.T) {
	var a, b, c, d int
	all := []col{{"a", &a}, {"b", &b}, {"c", &c}, {"d", &d}}
	noB, noC := without(all, "b"), without(all, "c")
	for i := 0; i < 3; i++ {
		for _, tt := range []struct{ got, want string }{
			{insertSQL("t", noB), "INSERT INTO t (a, c, d) VALUES (?, ?, ?)"},
			{insertSQL("t", noC), "INSERT INTO t (a, b, d) VALUES (?, ?, ?)"},
			{insertSQL("u", noC), "INSERT INTO u (a, b, d) VALUES (?, ?, ?)"},
			{updateSQL("t", noB, "a = ?"), "UPDATE t SET a = ?, c = ?, d = ? WHERE a = ?"},
			{updateSQL("t", noC, "a = ?"), "UPDATE t SET a = ?, b = ?, d = ? WHERE a = ?"},
			{updateSQL("t", noC, "b = ?"), "UPDATE t SET a = ?, b = ?, d = ? WHERE b = ?"},
			{names(noB), "a, c, d"},
			{names(noC), "a, b, d"},
			{names([]col{{strings.Repeat("x", 2), &a}}), "xx"},
			{names([]col{{strings.Repeat("y", 2), &a}}), "yy"},
			{names(nil), ""},
		} {
			if tt.got != tt.want {
				t.Errorf("round %d: got %q, want %q", i, tt.got, tt.want)
			}
		}
	}
}
