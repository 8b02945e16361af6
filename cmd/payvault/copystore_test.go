package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/storetest"
)

// TestCopyStoreCLI runs `payvault copy-store` on a store a server made: it is refused while
// the server runs, then copies; the copy serves the same merchant with the data dir's key,
// which the output names without printing it.
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

	// Run again, the target is no longer empty: refused.
	_, stderr, err = run(t, dir, env, "copy-store", "--database", dsn)
	if err == nil || !strings.Contains(stderr, "already holds payvault data") {
		t.Errorf("second copy-store: %v\n%s", err, stderr)
	}
}
