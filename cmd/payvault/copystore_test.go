package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/storetest"
)

// TestCopyStoreCLI runs `payvault copy-store` on a store a server made: it is refused while
// the server runs, then copies; the copy serves the same merchant with the data dir's key,
// which the output names without printing it. The data dir is then marked moved: serve and
// the commands that write refuse it, the ones that read it still work, until the marker is
// deleted.
func TestCopyStoreCLI(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	out, stderr, err := run(t, dir, nil, "merchant", "create", "--name", "Copied", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	ps := checkCredentialShape(t, firstJSON(t, out))["paysafe"].(map[string]any)
	profile := func(url string) int {
		return postProfileCard(t, url, ps, "copied-1", "4111111111111111")
	}
	if st := profile(s.url); st != 201 {
		t.Fatalf("profile: %d", st)
	}
	dsn := storetest.PostgresDSN(t)
	env := []string{"PAYVAULT_DATABASE_URL="}

	_, stderr, err = run(t, dir, env, "copy-store", "--database", dsn)
	if err == nil || !strings.Contains(stderr, "a payvault serve is using the store") {
		t.Fatalf("copy-store beside a server: %v\n%s", err, stderr)
	}
	s.Stop(t)

	out, stderr, err = run(t, dir, env, "copy-store", "--database", dsn)
	if err != nil {
		t.Fatalf("copy-store: %v\n%s%s", err, out, stderr)
	}
	key, err := os.ReadFile(filepath.Join(dir, "payvault-data", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(key)))
	for _, k := range []string{strings.TrimSpace(string(key)), string(raw)} {
		if k != "" && strings.Contains(out+stderr, k) {
			t.Fatal("copy-store printed the master key")
		}
	}
	for _, want := range []string{"instruments", "verified", "--database", "payvault-data/master.key"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	keyFile := filepath.Join(dir, "payvault-data", "master.key")
	if out, stderr, err := run(t, dir, env, "audit", "verify", "--database", dsn, "--master-key-file", keyFile); err != nil || !strings.Contains(out, "audit chains verify") {
		t.Errorf("audit verify on the copy: %v\n%s%s", err, out, stderr)
	}
	pg := MustServe(t, dir, env, "--database", dsn, "--master-key-file", keyFile)
	defer pg.Stop(t)
	if st := profile(pg.url); st != 409 {
		t.Errorf("the copied profile's merchantCustomerId was not taken on PostgreSQL: %d", st)
	}
	// The copy verifies whole (keys verify, as docs/operations.md says to run after copy-store),
	// beside the server on it, in a session that PostgreSQL does not let write.
	ro := dsn + "&default_transaction_read_only=on"
	if out, stderr, err := run(t, dir, env, "keys", "verify", "--database", ro, "--master-key-file", keyFile); err != nil ||
		!regexp.MustCompile(`(?m)^instruments:\s+1 records, 1 sealed fields opened, 0 unreadable, 0 fingerprint mismatches`).MatchString(out) {
		t.Errorf("keys verify on the copy: %v\n%s%s", err, out, stderr)
	}

	// The data dir is marked moved: whatever would write to it, or serve it, is refused, and
	// adds nothing to it; what only reads it still works.
	marker := filepath.Join(dir, "payvault-data", "moved-to-postgres.json")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("no marker after copy-store: %v", err)
	}
	db := filepath.Join(dir, "payvault-data", "payvault.db")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serve := exec.CommandContext(sctx, binary, "serve", "--listen", "127.0.0.1:0")
	serve.Dir, serve.Env = dir, append(os.Environ(), env...)
	if b, err := serve.CombinedOutput(); err == nil || !strings.Contains(string(b), "copied to PostgreSQL") {
		t.Errorf("serve on the moved store: %v\n%s", err, b)
	}
	for _, args := range [][]string{
		{"merchant", "create", "--name", "Lost"},
		{"keys", "rotate"},
		{"copy-store", "--database", storetest.PostgresDSN(t)},
	} {
		_, stderr, err := run(t, dir, env, args...)
		if err == nil || !strings.Contains(stderr, "copied to PostgreSQL") || !strings.Contains(stderr, filepath.Join("payvault-data", "moved-to-postgres.json")) || !strings.Contains(stderr, "--database") {
			t.Errorf("%s on the moved store: %v\n%s", strings.Join(args, " "), err, stderr)
		}
	}
	backup := filepath.Join(t.TempDir(), "moved.db")
	for _, args := range [][]string{
		{"keys", "status"},
		{"keys", "verify"},
		{"audit", "verify"},
		{"backup", "--out", backup},
	} {
		if out, stderr, err := run(t, dir, env, args...); err != nil {
			t.Errorf("%s on the moved store: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
	}
	t.Run("fail/restored-backup", func(t *testing.T) { mustRestoredMoved(t, dir, env, backup, keyFile) })
	if after, err := os.ReadFile(db); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the moved store's file changed (%v)", err)
	}

	// Undone by deleting the marker; run again, the target is no longer empty: refused.
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = run(t, dir, env, "copy-store", "--database", dsn)
	if err == nil || !strings.Contains(stderr, "already holds payvault data") {
		t.Errorf("second copy-store: %v\n%s", err, stderr)
	}
}

// mustRestoredMoved restores the backup of a moved store into a data dir of its own, and
// checks that serving it and writing to it are refused as the moved store itself is: the
// backup carries the mark, and the restored dir gets its own moved-to-postgres.json.
func mustRestoredMoved(t *testing.T, dir string, env []string, backup, keyFile string) {
	t.Helper()
	restored := filepath.Join(dir, "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(backup, filepath.Join(restored, "payvault.db")); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join("restored", "moved-to-postgres.json")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serve := exec.CommandContext(sctx, binary, "serve", "--listen", "127.0.0.1:0", "--data", restored, "--master-key-file", keyFile)
	serve.Dir, serve.Env = dir, append(os.Environ(), env...)
	if b, err := serve.CombinedOutput(); err == nil || !strings.Contains(string(b), "copied to PostgreSQL") || !strings.Contains(string(b), marker) {
		t.Errorf("serve on the restored moved store: %v\n%s", err, b)
	}
	_, stderr, err := run(t, dir, env, "merchant", "create", "--name", "Lost", "--data", restored, "--master-key-file", keyFile)
	if err == nil || !strings.Contains(stderr, "copied to PostgreSQL") || !strings.Contains(stderr, marker) || !strings.Contains(stderr, "--database") {
		t.Errorf("merchant create on the restored moved store: %v\n%s", err, stderr)
	}
}
