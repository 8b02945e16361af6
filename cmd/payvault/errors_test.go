package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

// TestCLIErrorPaths walks error paths of the commands: each refusal is one line on stderr
// ("payvault: ..."), saying what to check, with exit status 1, nothing on stdout, no panic,
// and no secret (a DSN's password, the master key).
func TestCLIErrorPaths(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, err := run(t, dir, nil, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	key := filepath.Join(dir, "payvault-data", "master.key")
	mk, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: the driver tries it twice (sslmode prefer), and says so.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	const password = "s3cretpw"
	none := filepath.Join(dir, "none")
	envKey := []string{"PAYVAULT_DATABASE_URL=", "PAYVAULT_MASTER_KEY=" + keys.NewMasterKey().Base64()}
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"fail/database-unreachable", envKey, []string{"keys", "status", "--database", "postgres://u:" + password + "@" + closed + "/x"}, "connection refused"},
		{"fail/split-no-data-dir", nil, []string{"keys", "split", "--shares", "3", "--threshold", "2", "--data", none}, "no master key: " + none + " holds no master.key and no store: check --data"},
		{"fail/rewrap-no-data-dir", nil, []string{"keys", "rewrap", "--new-master-key-file", filepath.Join(dir, "new.key"), "--data", none}, "no master key: " + none + " holds no master.key and no store: check --data"},
		{"fail/rewrap-same-key", nil, []string{"keys", "rewrap", "--new-master-key-file", key}, "the new master key in " + key + " is the store's master key now"},
		{"fail/rewrap-missing-folder", nil, []string{"keys", "rewrap", "--new-master-key-file", filepath.Join(none, "new.key")}, "the folder " + none + " does not exist"},
		{"fail/public-base-url", nil, []string{"serve", "--listen", "127.0.0.1:0", "--data", none, "--public-base-url", "vault.example.com"}, "--public-base-url must be"},
		{"fail/merchant-name-empty", nil, []string{"merchant", "create", "--name", " ", "--data", none, "--json"}, "--name is empty: give the merchant's name"},
		{"fail/merchant-name-long", nil, []string{"merchant", "create", "--name", strings.Repeat("n", 201), "--data", none, "--json"}, "--name is longer than 200 characters"},
		{"fail/merchant-account-number", nil, []string{"merchant", "create", "--name", "Shop", "--account-number", "12ab", "--data", none, "--json"}, "--account-number must be 1 to 11 digits"},
		{"fail/bench-credentials-file-missing", nil, []string{"bench", "--target", "http://127.0.0.1:1", "--credentials-file", filepath.Join(none, "creds.json")}, "--credentials-file: open " + filepath.Join(none, "creds.json")},
		{"fail/backup-out-exists", nil, []string{"backup", "--out", key}, key + " exists: backup writes only a new file"},
		{"fail/master-key-file-missing", nil, []string{"keys", "status", "--master-key-file", filepath.Join(none, "master.key")}, "--master-key-file " + filepath.Join(none, "master.key") + " does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := run(t, dir, tt.env, tt.args...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("%v: err %v, want exit status 1\n%s%s", tt.args, err, out, stderr)
			}
			if lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(stderr, "payvault: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("%v: stderr, want one line with %q:\n%s", tt.args, tt.want, stderr)
			}
			for _, leak := range []string{"panic", "goroutine", password, strings.TrimSpace(string(mk))} {
				if strings.Contains(out+stderr, leak) {
					t.Errorf("%v: the output holds %q:\n%s%s", tt.args, leak, out, stderr)
				}
			}
			if out != "" {
				t.Errorf("%v: stdout %q", tt.args, out)
			}
			if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%v: made %s (%v)", tt.args, none, err)
			}
		})
	}
}
