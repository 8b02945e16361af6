package fortis

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseQuery checks that a query string reads as PHP's $_GET: the last value of a
// repeated name, arrays for bracketed names, names in order of first appearance.
func TestParseQuery(t *testing.T) {
	tests := []struct {
		name, raw string
		want      queryParams
	}{
		{"ok/last-wins", "a=1&b=x&a=2", queryParams{names: []string{"a", "b"}, vals: map[string]queryParam{"a": {v: "2"}, "b": {v: "x"}}}},
		{"ok/array", "a[]=1&a[]=2", queryParams{names: []string{"a"}, vals: map[string]queryParam{"a": {array: true}}}},
		{"ok/array-then-plain", "a[k]=1&a=3", queryParams{names: []string{"a"}, vals: map[string]queryParam{"a": {v: "3"}}}},
		{"ok/plain-then-array", "a=3&a[]=1", queryParams{names: []string{"a"}, vals: map[string]queryParam{"a": {array: true}}}},
		{"ok/unclosed-bracket", "a[b=1", queryParams{names: []string{"a_b"}, vals: map[string]queryParam{"a_b": {v: "1"}}}},
		{"ok/escapes", "a%5B%5D=1&b=%2C+c", queryParams{names: []string{"a", "b"}, vals: map[string]queryParam{"a": {array: true}, "b": {v: ", c"}}}},
		{"ok/no-value", "a&b=", queryParams{names: []string{"a", "b"}, vals: map[string]queryParam{"a": {}, "b": {}}}},
		{"ok/semicolon-is-a-character", "a=1;b=2", queryParams{names: []string{"a"}, vals: map[string]queryParam{"a": {v: "1;b=2"}}}},
		{"ok/bad-escape-dropped", "a=%zz&b=1&=3&[x]=4", queryParams{names: []string{"b"}, vals: map[string]queryParam{"b": {v: "1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, parseQuery(tt.raw), cmp.AllowUnexported(queryParams{}, queryParam{})); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// FuzzParseQuery checks that a query with no brackets or semicolons reads as Go's
// url.ParseQuery does, except that a repeated name keeps its last value and an empty name
// is dropped (as PHP drops it).
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "a=1&a=2", "page_size=5&page_size=10", "a[]=1", "x=%41&y", "a=1;b=2", "a[b=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q := parseQuery(raw)
		if strings.ContainsAny(raw, "[];") {
			return
		}
		want, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		delete(want, "")
		for name, vals := range want {
			if got := q.get(name); got != vals[len(vals)-1] {
				t.Fatalf("parseQuery(%q).get(%q) = %q, want %q", raw, name, got, vals[len(vals)-1])
			}
		}
		if len(q.names) != len(want) {
			t.Fatalf("parseQuery(%q) names %q, want %d", raw, q.names, len(want))
		}
	})
}
