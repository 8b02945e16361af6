package sqlstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// The crash child: TestCrashChild, run by mustCrash in a process of its own, opens the store
// at crashPathEnv, writes crashWritesEnv settings named after crashPrefixEnv (each answered,
// so committed durably), says so on stdout and waits to be killed.
const (
	crashPathEnv   = "PAYVAULT_TEST_CRASH_PATH"
	crashPrefixEnv = "PAYVAULT_TEST_CRASH_PREFIX"
	crashWritesEnv = "PAYVAULT_TEST_CRASH_WRITES"
)

// TestCrashChild is mustCrash's child; it is skipped in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashPathEnv)
	if path == "" {
		t.Skip("run by mustCrash only")
	}
	n, _ := strconv.Atoi(os.Getenv(crashWritesEnv))
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Path: path})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	mustWriteSettings(t, st, os.Getenv(crashPrefixEnv), n)
	fmt.Println("written")
	select {}
}

// mustWriteSettings writes n settings named prefix-0 … prefix-(n-1), one write each, with
// values long enough to spread over many pages.
func mustWriteSettings(tb testing.TB, st *sqlstore.Store, prefix string, n int) {
	tb.Helper()
	ctx := context.Background()
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, name, strings.Repeat(name, 40)) }); err != nil {
			tb.Fatalf("write %s: %v", name, err)
		}
	}
}

// mustHaveSettings checks that the store at path holds the n settings mustWriteSettings wrote.
func mustHaveSettings(tb testing.TB, st *sqlstore.Store, prefix string, n int) {
	tb.Helper()
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if v, err := st.GetSetting(context.Background(), name); err != nil || v != strings.Repeat(name, 40) {
			tb.Fatalf("setting %s after the crash: %.20q, %v", name, v, err)
		}
	}
}

// mustCrash has a process of its own open the store at path, write n settings named after
// prefix, and be killed (SIGKILL) once they are answered: the store is left as a server
// that did not stop cleanly leaves it, with its -wal and -shm files.
func mustCrash(tb testing.TB, path, prefix string, n int) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashPathEnv+"="+path, crashPrefixEnv+"="+prefix, crashWritesEnv+"="+strconv.Itoa(n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if line != "written\n" {
		tb.Fatalf("the crash child said %q", line)
	}
	if st, err := os.Stat(path + "-wal"); err != nil || st.Size() <= 32 {
		tb.Fatalf("the killed process left no WAL with frames: %v, %v", st, err)
	}
}

// TestRestoredCopyBesideStaleWAL runs docs/operations.md's restore (Backups) the wrong way and
// the right way. A backup is made; the server then writes more and is killed; the copy put
// over its payvault.db, beside the -wal and -shm it left, would have that WAL applied to it,
// so every open (and a backup of it) is refused, naming the two files, and changes none of
// the three. The same copy in a new, empty data dir opens, with what it held, and is no longer
// marked as a copy, so that a crash of the server on it later opens normally with every
// answered write. A store that was never a backup opens after a crash as it always has.
func TestRestoredCopyBesideStaleWAL(t *testing.T) {
	ctx := context.Background()
	old := filepath.Join(t.TempDir(), "payvault.db")
	st := mustOpen(t, sqlstore.Config{Path: old})
	mustWriteSettings(t, st, "before", 50)
	st.Close()
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := sqlstore.BackupSQLite(ctx, old, backup, nil); err != nil {
		t.Fatal(err)
	}
	copyBytes := storetest.MustReadFiles(t, backup)[0]
	mustCrash(t, old, "after", 200)

	t.Run("ok/never-a-backup", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "payvault.db")
		for i, b := range storetest.MustReadFiles(t, old, old+"-wal", old+"-shm") {
			if err := os.WriteFile(path+[]string{"", "-wal", "-shm"}[i], b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		st := mustOpen(t, sqlstore.Config{Path: path})
		mustHaveSettings(t, st, "before", 50)
		mustHaveSettings(t, st, "after", 200)
	})

	t.Run("fail/over-the-crashed-store", func(t *testing.T) {
		if err := os.WriteFile(old, copyBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		files := []string{old, old + "-wal", old + "-shm"}
		before := storetest.MustReadFiles(t, files...)
		st, err := sqlstore.Open(ctx, sqlstore.Config{Path: old})
		if err == nil {
			st.Close()
		}
		if !errors.Is(err, sqlstore.ErrStaleWAL) || !strings.Contains(err.Error(), old+"-wal and "+old+"-shm") {
			t.Errorf("open: %v; want the stale WAL refused, naming both files", err)
		}
		if _, err := sqlstore.BackupSQLite(ctx, old, filepath.Join(t.TempDir(), "again.db"), nil); !errors.Is(err, sqlstore.ErrStaleWAL) {
			t.Errorf("backup: %v; want the stale WAL refused", err)
		}
		for i, b := range storetest.MustReadFiles(t, files...) {
			if !bytes.Equal(b, before[i]) {
				t.Errorf("%s changed", files[i])
			}
		}
	})

	t.Run("ok/new-dir", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "payvault.db")
		if err := os.WriteFile(path, copyBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		st := mustOpen(t, sqlstore.Config{Path: path})
		mustHaveSettings(t, st, "before", 50)
		if _, err := st.GetSetting(ctx, "after-0"); vault.KindOf(err) != vault.NotFound {
			t.Errorf("the copy holds a write made after it: %v", err)
		}
		st.Close()
		if marked, err := sqlstore.RestoredCopy(path); err != nil || marked {
			t.Errorf("the opened copy is still marked as a copy (%v, %v)", marked, err)
		}
		// A crash of a server on the restored store leaves its own WAL: it opens normally.
		mustCrash(t, path, "restored", 200)
		st = mustOpen(t, sqlstore.Config{Path: path})
		mustHaveSettings(t, st, "before", 50)
		mustHaveSettings(t, st, "restored", 200)
	})

	t.Run("ok/crash-on-first-open", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "payvault.db")
		if err := os.WriteFile(path, copyBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		mustCrash(t, path, "first", 100)
		st := mustOpen(t, sqlstore.Config{Path: path})
		mustHaveSettings(t, st, "before", 50)
		mustHaveSettings(t, st, "first", 100)
	})
}

// TestBackupMarked: the copy BackupSQLite makes is one file (no -wal or -shm beside it, in
// rollback-journal mode), passes its check, and is marked in its header as a copy never
// opened; the store it was made from is not.
func TestBackupMarked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "payvault.db")
	st := mustOpen(t, sqlstore.Config{Path: path})
	mustWriteSettings(t, st, "s", 10)
	out := filepath.Join(t.TempDir(), "backup.db")
	if _, err := sqlstore.BackupSQLite(ctx, path, out, func() (map[string]string, error) { return map[string]string{"x": "y"}, nil }); err != nil {
		t.Fatal(err)
	}
	if marked, err := sqlstore.RestoredCopy(out); err != nil || !marked {
		t.Errorf("the copy is not marked (%v, %v)", marked, err)
	}
	if marked, err := sqlstore.RestoredCopy(path); err != nil || marked {
		t.Errorf("the store is marked (%v, %v)", marked, err)
	}
	b := storetest.MustReadFiles(t, out)[0]
	if b[18] != 1 || b[19] != 1 {
		t.Errorf("the copy's header gives file format versions %d, %d; want 1, 1 (rollback journal)", b[18], b[19])
	}
	ents, err := os.ReadDir(filepath.Dir(out))
	if err != nil || len(ents) != 1 {
		t.Errorf("beside the copy: %v (%v); want it alone", ents, err)
	}
	if v, err := sqlstore.CopySetting(ctx, out, "x"); err != nil || v != "y" {
		t.Errorf("the copy's setting: %q, %v", v, err)
	}
}
