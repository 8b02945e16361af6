package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
)

// sqliteRows counts the rows of every table copy-store copies, in the data dir's store.
func sqliteRows(t *testing.T, dir string) map[string]int {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: SQLitePath(dir), SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]int{}
	for _, tbl := range sqlstore.CopyTables() {
		var n int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM "` + tbl + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

// mustNotBeMoved fails the test if the data dir holds a MovedFile.
func mustNotBeMoved(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, MovedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after a failed copy (%v)", MovedFile, err)
	}
}

// TestCopyStoreMarksMoved: a copy that does not verify leaves no mark. A verified copy leaves MovedFile in the data dir, naming the
// target without its user or password. Serving the data dir, and every tool that writes it
// (copy-store among them), are then refused with a message that says where the store went
// and how to undo, and the store is unchanged; the tools that only read it still work, and
// deleting the file undoes the refusal.
func TestCopyStoreMarksMoved(t *testing.T) {
	ctx := context.Background()
	log := newCopyLog(t)
	f := mustCopyFixture(t, log)
	dsn := storetest.PostgresDSN(t)
	cfg := Config{DataDir: f.dir, MasterKey: f.key.Base64(), Logger: log.l, Out: &nopWriter{}, AdminToken: testAdminToken}

	t.Run("fail/unverified", func(t *testing.T) {
		// A target that changes the audit records as they arrive: the copy commits, and
		// its audit chains do not verify.
		bad := storetest.PostgresDSN(t)
		s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: bad})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.DB().Exec(`CREATE FUNCTION edit_actor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.actor := NEW.actor || 'x'; RETURN NEW; END $$;
			CREATE TRIGGER edit_actor BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION edit_actor()`)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, err = CopyStore(ctx, cfg, bad)
		t.Log(err)
		if !errors.Is(err, ErrCopyUnverified) {
			t.Fatalf("CopyStore = %v, want ErrCopyUnverified", err)
		}
		mustNotBeMoved(t, f.dir)
	})
	if _, err := CopyStore(ctx, cfg, dsn); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(f.dir, MovedFile)
	b, err := os.ReadFile(marker)
	if err != nil {
		t.Fatalf("no marker after the copy: %v", err)
	}
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	where := pc.Host + ":" + strconv.Itoa(int(pc.Port)) + "/" + pc.Database
	if !strings.Contains(string(b), where) {
		t.Errorf("marker %s does not name %s", b, where)
	}
	if strings.Contains(string(b), pc.User+"@") || (pc.Password != "" && strings.Contains(string(b), pc.Password)) {
		t.Errorf("marker %s holds the DSN's credentials", b)
	}
	before := sqliteRows(t, f.dir)

	refused := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, ErrMoved) {
			t.Fatalf("err = %v, want ErrMoved", err)
		}
		for _, want := range []string{where, "--database", marker, "docs/operations.md"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	}
	open := func(open func(context.Context, Config) (*Main, error), cfg Config) error {
		m, err := open(ctx, cfg)
		if err == nil {
			m.Close()
		}
		return err
	}
	serve := cfg
	serve.Listen = "127.0.0.1:0"
	t.Run("fail/serve", func(t *testing.T) { refused(t, open(Open, serve)) })
	t.Run("fail/tool", func(t *testing.T) { refused(t, open(OpenTool, cfg)) }) // merchant create, keys rotate...
	t.Run("fail/migrate", func(t *testing.T) {
		mig := cfg
		mig.Migrate = true
		refused(t, open(OpenTool, mig))
	})
	t.Run("fail/copy-store", func(t *testing.T) {
		_, err := CopyStore(ctx, cfg, storetest.PostgresDSN(t))
		refused(t, err)
	})
	t.Run("ok/read-only", func(t *testing.T) {
		ro := cfg
		ro.ReadOnly = true
		m, err := OpenTool(ctx, ro)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := m.KeyStatus(ctx); err != nil {
			t.Error(err)
		}
		if problems, err := m.Store.VerifyAudit(ctx, m.Keyring); err != nil || len(problems) != 0 {
			t.Errorf("VerifyAudit = %v, %v", problems, err)
		}
	})
	if d := cmp.Diff(before, sqliteRows(t, f.dir)); d != "" {
		t.Errorf("the moved store changed (-before +after)\n%s", d)
	}
	t.Run("ok/marker-deleted", func(t *testing.T) {
		if err := os.Remove(marker); err != nil {
			t.Fatal(err)
		}
		if err := open(OpenTool, cfg); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMovedAfterLock: a tool that writes checks for MovedFile once it holds SQLite's write
// lock, so that one started while copy-store holds the lock is refused when the copy ends
// with the store moved, instead of writing to it. The test holds the lock as copy-store
// does (BEGIN IMMEDIATE), and writes the marker before it lets go.
func TestMovedAfterLock(t *testing.T) {
	ctx := context.Background()
	log, _ := logtest.New(t)
	dir := t.TempDir()
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: log, Out: &nopWriter{}, AdminToken: testAdminToken}
	m, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()

	s, err := sqlstore.Open(ctx, sqlstore.Config{Path: SQLitePath(dir), SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.DB().BeginTx(ctx, nil) // BEGIN IMMEDIATE: SQLite's write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE settings SET value = value WHERE name = 'none'"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		m, err := OpenTool(ctx, cfg)
		if err == nil {
			m.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("OpenTool returned while the write lock was held: %v", err)
	case <-time.After(time.Second):
	}
	if err := markMoved(dir, "postgres://u:secret@db.example:5433/payvault", time.Now()); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	err = <-done
	t.Log(err)
	if !errors.Is(err, ErrMoved) || !strings.Contains(err.Error(), "db.example:5433/payvault") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("OpenTool after the copy = %v, want ErrMoved naming db.example:5433/payvault", err)
	}
}
