package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/storetest"
)

// TestToolsRefuseOlderSchema: the commands that run beside a server do not migrate a store
// whose schema is older than theirs (an older server may be using it) and say to run
// `payvault migrate`, leaving the schema as it was; `payvault migrate` migrates it, and a
// wrong master key makes it refuse before it migrates.
func TestToolsRefuseOlderSchema(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := run(t, dir, nil, "migrate")
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	var latest int64
	if _, err := fmt.Sscanf(out, "schema is at version %d", &latest); err != nil {
		t.Fatalf("migrate said %q: %v", out, err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "payvault-data", "payvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM goose_db_version WHERE version_id = ?", latest); err != nil {
		t.Fatal(err)
	}
	version := func() int64 {
		t.Helper()
		var v int64
		if err := db.QueryRow("SELECT MAX(version_id) FROM goose_db_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, args := range [][]string{
		{"merchant", "create", "--name", "X", "--json"},
		{"keys", "status"},
		{"keys", "rotate"},
		{"audit", "verify"},
	} {
		t.Run("fail/"+strings.Join(args[:2], "-"), func(t *testing.T) {
			out, stderr, err := run(t, dir, nil, args...)
			if err == nil || out != "" || !strings.Contains(stderr, "needs migrating") || !strings.Contains(stderr, "run `payvault migrate` first") {
				t.Errorf("err = %v, stdout = %q, stderr = %q; want a refusal saying to run payvault migrate", err, out, stderr)
			}
			if v := version(); v != latest-1 {
				t.Errorf("schema at %d after the refusal; want %d, untouched", v, latest-1)
			}
		})
	}
	wrong := "PAYVAULT_MASTER_KEY=" + strings.Repeat("A", 43) + "="
	if _, stderr, err := run(t, dir, []string{wrong}, "migrate"); err == nil || !strings.Contains(stderr, "master key does not open") {
		t.Errorf("migrate with a wrong master key: err = %v, stderr = %q", err, stderr)
	}
	if v := version(); v != latest-1 {
		t.Errorf("schema at %d after migrate with a wrong key; want %d, untouched", v, latest-1)
	}
	if out, stderr, err := run(t, dir, nil, "migrate"); err != nil || out != fmt.Sprintf("schema is at version %d\n", latest) {
		t.Fatalf("migrate: %v, %q\n%s", err, out, stderr)
	}
	out, stderr, err = run(t, dir, nil, "merchant", "create", "--name", "X", "--json")
	if err != nil {
		t.Fatalf("merchant create after migrate: %v\n%s", err, stderr)
	}
	checkCredentialShape(t, []byte(out))
}

// TestKeyCommandsLeaveEmptyDatabase: the commands that only read the store or its keys, given
// a PostgreSQL database without a payvault schema (a mistyped DSN, or a database made for a
// store not started yet), create nothing in it, not even goose's version table. Each refuses
// it, saying it holds no payvault schema; keys split, whose ceremony may run before the
// first node starts (docs/operations.md, Key ceremony), splits the key and says it was not
// checked against a store.
func TestKeyCommandsLeaveEmptyDatabase(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	env := []string{"PAYVAULT_DATABASE_URL=", "PAYVAULT_MASTER_KEY=" + keys.NewMasterKey().Base64()}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"fail/keys-status", []string{"keys", "status"}, "no payvault store in this database (no schema)"},
		{"fail/keys-verify", []string{"keys", "verify"}, "no payvault store in this database (no schema)"},
		{"fail/audit-verify", []string{"audit", "verify"}, "no payvault store in this database (no schema)"},
		{"fail/keys-rotate", []string{"keys", "rotate"}, "no payvault store in this database (no schema)"},
		{"fail/keys-rekey", []string{"keys", "rekey"}, "no payvault store in this database (no schema)"},
		{"ok/keys-split", []string{"keys", "split", "--shares", "3", "--threshold", "2"}, "holds no payvault schema"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := run(t, t.TempDir(), env, append(tt.args, "--database", dsn)...)
			if ok := strings.HasPrefix(tt.name, "ok/"); ok != (err == nil) || !strings.Contains(stderr, tt.want) {
				t.Errorf("err %v, want an error: %v, and stderr with %q:\n%s%s", err, !ok, tt.want, out, stderr)
			}
			var tables []string
			rows, err := db.Query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var n string
				rows.Scan(&n)
				tables = append(tables, n)
			}
			if len(tables) > 0 {
				t.Fatalf("%v made tables %v", tt.args, tables)
			}
		})
	}
}

// TestKeyCommandsEmptyDataDirStore: a data dir whose payvault.db holds no schema (an empty
// file) is refused by the commands that read, which say to check --data, not --database, and
// create no schema in it.
func TestKeyCommandsEmptyDataDirStore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o700)
	os.WriteFile(filepath.Join(data, "payvault.db"), nil, 0o600)
	os.WriteFile(filepath.Join(data, "master.key"), []byte(keys.NewMasterKey().Base64()+"\n"), 0o600)
	_, stderr, err := run(t, dir, []string{"PAYVAULT_DATABASE_URL="}, "keys", "status", "--data", data)
	if err == nil || !strings.Contains(stderr, "no payvault store in "+filepath.Join(data, "payvault.db")+" (no schema): check --data") {
		t.Errorf("keys status: %v\n%s", err, stderr)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "payvault.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM sqlite_master").Scan(&n); err != nil || n != 0 {
		t.Errorf("keys status made %d tables (%v)", n, err)
	}
}
