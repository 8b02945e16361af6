package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
)

// TestRestoreOverCrashedStore runs docs/operations.md's restore (Backups) the wrong way: a
// backup is made while the server runs, the server writes more and is killed (kill -9), and
// the copy is put over its payvault.db, beside the -wal and -shm it left. Every command that
// opens the store is refused, naming the two files to move away, and none of the three files
// changes. Moved away as the message says, the copy serves what it held, and no longer
// carries the mark of a copy.
func TestRestoreOverCrashedStore(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	ps := mustMerchantWithCard(t, s, dir, "kept-1", "4111111111111111")["paysafe"].(map[string]any)
	if out, stderr, err := run(t, dir, nil, "backup", "--out", "backup.db"); err != nil {
		t.Fatalf("backup: %v\n%s%s", err, out, stderr)
	}
	for i := range 30 {
		if st := postProfileCard(t, s.url, ps, fmt.Sprintf("lost-%d", i), "4111111111111111"); st != 201 {
			t.Fatalf("profile %d: %d", i, st)
		}
	}
	s.cmd.Process.Kill()
	<-s.done
	db := filepath.Join(dir, "payvault-data", "payvault.db")
	if st, err := os.Stat(db + "-wal"); err != nil || st.Size() <= 32 {
		t.Fatalf("the killed server left no WAL with frames: %v, %v", st, err)
	}
	if err := os.Rename(filepath.Join(dir, "backup.db"), db); err != nil {
		t.Fatal(err)
	}
	files := []string{db, db + "-wal", db + "-shm"}
	before := storetest.MustReadFiles(t, files...)

	want := []string{"payvault-data/payvault.db is a backup copy", "payvault-data/payvault.db-wal and payvault-data/payvault.db-shm", "Nothing was opened or changed"}
	refused := func(args []string, stderr string, err error) {
		t.Helper()
		for _, w := range want {
			if err == nil || !strings.Contains(stderr, w) {
				t.Errorf("%s over the crashed store: %v, want %q refused:\n%s", strings.Join(args, " "), err, w, stderr)
				return
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serve := exec.CommandContext(sctx, binary, "serve", "--listen", "127.0.0.1:0")
	serve.Dir = dir
	b, err := serve.CombinedOutput()
	refused([]string{"serve"}, string(b), err)
	for _, args := range [][]string{
		{"audit", "verify"},
		{"keys", "verify"},
		{"keys", "status"},
		{"merchant", "create", "--name", "After"},
		{"migrate"},
		{"backup", "--out", "again.db"},
		{"copy-store", "--database", "postgres://127.0.0.1:19100/none?connect_timeout=1"},
	} {
		_, stderr, err := run(t, dir, nil, args...)
		refused(args, stderr, err)
	}
	for i, b := range storetest.MustReadFiles(t, files...) {
		if !bytes.Equal(b, before[i]) {
			t.Errorf("%s changed", files[i])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "again.db")); err == nil {
		t.Error("the refused backup left its file")
	}

	// As the message says: the two files moved away, the copy opens.
	for _, f := range files[1:] {
		if err := os.Rename(f, f+".stale"); err != nil {
			t.Fatal(err)
		}
	}
	s = MustServe(t, dir, nil)
	if st := postProfileCard(t, s.url, ps, "kept-1", "4111111111111111"); st != 409 {
		t.Errorf("the profile in the copy: %d, want 409 (taken)", st)
	}
	if st := postProfileCard(t, s.url, ps, "lost-0", "4111111111111111"); st != 201 {
		t.Errorf("a profile made after the copy: %d, want 201 (not in it)", st)
	}
	s.Stop(t)
	if marked, err := sqlstore.RestoredCopy(db); err != nil || marked {
		t.Errorf("the served copy is still marked (%v, %v)", marked, err)
	}
	if out, stderr, err := run(t, dir, nil, "audit", "verify"); err != nil {
		t.Errorf("audit verify on the restored copy: %v\n%s%s", err, out, stderr)
	}
}
