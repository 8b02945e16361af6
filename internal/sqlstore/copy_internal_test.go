package sqlstore

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConvertValue: copy-store converts SQLite's values to each PostgreSQL column type, keeps
// an empty blob apart from NULL, and refuses what does not convert without quoting it.
func TestConvertValue(t *testing.T) {
	const secret = "4111111111111111"
	for _, tc := range []struct {
		name    string
		in      any
		typ     string
		want    any
		wantErr bool
	}{
		{name: "ok/null", in: nil, typ: "bytea", want: nil},
		{name: "ok/text", in: "a", typ: "text", want: "a"},
		{name: "ok/text-from-bytes", in: []byte("a"), typ: "text", want: "a"},
		{name: "ok/blob", in: []byte{1, 2}, typ: "bytea", want: []byte{1, 2}},
		{name: "ok/empty-blob", in: []byte(nil), typ: "bytea", want: []byte{}},
		{name: "ok/bigint", in: int64(1700000000000), typ: "bigint", want: int64(1700000000000)},
		{name: "ok/bool-true", in: int64(1), typ: "boolean", want: true},
		{name: "ok/bool-false", in: int64(0), typ: "boolean", want: false},
		{name: "ok/bool-driver", in: true, typ: "boolean", want: true},
		{name: "fail/bool-2", in: int64(2), typ: "boolean", wantErr: true},
		{name: "fail/text-into-bigint", in: secret, typ: "bigint", wantErr: true},
		{name: "fail/float", in: 1.5, typ: "bigint", wantErr: true},
		{name: "fail/nul-in-text", in: secret + "\x00", typ: "text", wantErr: true},
		{name: "fail/invalid-utf8", in: []byte(secret + "\xff"), typ: "text", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := convertValue(tc.in, tc.typ)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("convertValue = %v, want an error", got)
				}
				if strings.Contains(err.Error(), secret) {
					t.Error("the error quotes the value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if b, ok := got.([]byte); ok && b == nil {
				t.Error("a blob converted to a nil slice, which pgx sends as NULL")
			}
		})
	}
}

// TestCopyOrderCoversMigrations: every table the migrations create is in copyOrder.
func TestCopyOrderCoversMigrations(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres"} {
		entries, err := migrationFS.ReadDir("migrations/" + d)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for _, e := range entries {
			b, err := migrationFS.ReadFile("migrations/" + d + "/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(line, "CREATE TABLE "); ok {
					tables = append(tables, strings.Fields(strings.TrimPrefix(rest, "IF NOT EXISTS "))[0])
				}
			}
		}
		if len(tables) != len(copyOrder) {
			t.Errorf("%s: %d tables created, copyOrder has %d", d, len(tables), len(copyOrder))
		}
		for _, tbl := range tables {
			found := false
			for _, c := range copyOrder {
				found = found || c == tbl
			}
			if !found {
				t.Errorf("%s: table %s is not in copyOrder", d, tbl)
			}
		}
	}
}
