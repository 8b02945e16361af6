package sqlstore

import (
	"io/fs"
	"strings"
	"testing"
)

// TestKeysetsUnchanged: only the migration keysetsSince names creates the keysets table and
// no later one touches it, so the master key can be checked against the stored keysets
// before an older schema is migrated (Schema.HasKeysets). A migration that changes the
// table must move that check after it.
func TestKeysetsUnchanged(t *testing.T) {
	for _, d := range []Dialect{SQLite, Postgres} {
		dir := "migrations/" + string(d)
		files, err := fs.ReadDir(migrationFS, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := fs.ReadFile(migrationFS, dir+"/"+f.Name())
			if err != nil {
				t.Fatal(err)
			}
			up, _, _ := strings.Cut(string(b), "-- +goose Down")
			creates := strings.HasPrefix(f.Name(), "00001_")
			if mentions := strings.Contains(strings.ToLower(up), "keysets"); mentions != creates {
				t.Errorf("%s/%s mentions keysets: %v; only %05d_ should", dir, f.Name(), mentions, keysetsSince)
			}
		}
	}
}
