package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
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

	// badTarget is a new target database where sql has run.
	badTarget := func(t *testing.T, sql string) string {
		dsn := storetest.PostgresDSN(t)
		s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.DB().Exec(sql); err != nil {
			t.Fatal(err)
		}
		return dsn
	}
	t.Run("fail/differs", func(t *testing.T) {
		// A target that changes the audit records as they arrive: the copy's row by row
		// comparison refuses it before the commit.
		bad := badTarget(t, `CREATE FUNCTION edit_actor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.actor := NEW.actor || 'x'; RETURN NEW; END $$;
			CREATE TRIGGER edit_actor BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION edit_actor()`)
		_, err := CopyStore(ctx, cfg, bad)
		t.Log(err)
		if err == nil || errors.Is(err, ErrCopyUnverified) || !strings.Contains(err.Error(), "differs in column actor") {
			t.Fatalf("CopyStore = %v, want the comparison's refusal before the commit", err)
		}
		mustNotBeMoved(t, f.dir)
	})
	t.Run("fail/unverified", func(t *testing.T) {
		// A target that changes the audit records at the commit, after the comparison (a
		// deferred trigger): the copy commits, and its audit chains do not verify.
		bad := badTarget(t, `CREATE FUNCTION edit_actor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE audit_log SET actor = actor || 'x' WHERE merchant_id = NEW.merchant_id AND seq = NEW.seq; RETURN NULL; END $$;
			CREATE CONSTRAINT TRIGGER edit_actor AFTER INSERT ON audit_log DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION edit_actor()`)
		_, err := CopyStore(ctx, cfg, bad)
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
	cfg, _ := mustServedStore(t)
	dir := cfg.DataDir

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

// mustMovableTool makes an embedded store (as serve does, then stopped) under a master key of
// its own, and opens it as a tool that writes (OpenTool); it returns the tool, its config and
// the store's sandbox merchant.
func mustMovableTool(t *testing.T) (*Main, Config, string) {
	t.Helper()
	cfg, mid := mustServedStore(t)
	cfg.Listen = ""
	tool, err := OpenTool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tool.Close() })
	return tool, cfg, mid
}

// mustServedStore makes an embedded store as serve does, under a master key of its own, and
// stops it; it returns the config that serves it (Open) and the store's sandbox merchant.
func mustServedStore(t *testing.T) (Config, string) {
	t.Helper()
	return mustServedCards(t, 0)
}

// mustRekeyableTool makes a served store with n cards for the sandbox merchant
// (seedBenchCards), opens a tool that writes it (OpenTool, closed when the test ends), and
// adds a data key; it returns the tool's config, the tool, and the old and new primary keys.
func mustRekeyableTool(t *testing.T, n int) (cfg Config, tool *Main, old, next uint32) {
	t.Helper()
	cfg, _ = mustServedCards(t, n)
	cfg.Listen = ""
	tool, err := OpenTool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tool.Close() })
	old = tool.Keyring.PrimaryKeyID()
	if next, err = tool.Keyring.Rotate(context.Background(), "data"); err != nil {
		t.Fatal(err)
	}
	return cfg, tool, old, next
}

// mustServedCards is mustServedStore, with n cards made while the store is served.
func mustServedCards(t *testing.T, n int) (Config, string) {
	t.Helper()
	log, _ := logtest.New(t)
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), MasterKey: keys.NewMasterKey().Base64(), Logger: log, Out: &nopWriter{}, AdminToken: testAdminToken}
	m, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mid := m.Credentials.MerchantID
	if n > 0 {
		seedBenchCards(t, m, n)
	}
	m.Close()
	return cfg, mid
}

// TestImportStopsAtMoved: an import that was running when copy-store moved its store (here,
// between its first and second batch of an export of 600 cards) writes nothing more to the
// embedded store: it stops with ErrMoved, saying how many records it imported before the
// copy. Those are in the copy, and the same import run against the PostgreSQL database
// skips them and imports the rest.
func TestImportStopsAtMoved(t *testing.T) {
	ctx := context.Background()
	src := openBenchMain(t, "sqlite")
	const n = 600
	seedBenchCards(t, src, n)
	file, key := mustExportForImport(t, src)

	tool, cfg, mid := mustMovableTool(t)
	dsn := storetest.PostgresDSN(t)
	copied := false
	opt := ImportOptions{afterBatch: func(batches int) {
		if batches == 1 {
			_, err := CopyStore(ctx, cfg, dsn)
			if err != nil {
				t.Errorf("CopyStore after the first batch: %v", err)
			}
			copied = err == nil
		}
	}}
	rep, err := tool.Import(ctx, mid, key, file, opt)
	t.Log(err)
	if !copied {
		t.Fatalf("the import ended after %d batches, before the copy: %v", rep.Batches, err)
	}
	if !errors.Is(err, ErrMoved) {
		t.Fatalf("import after the copy = %v, want ErrMoved", err)
	}
	if rep.Created != importBatch || rep.Batches != 1 {
		t.Errorf("report: %d created in %d batches, want %d in 1", rep.Created, rep.Batches, importBatch)
	}
	for _, want := range []string{"256 records were imported", "--database", "skips"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := countInstruments(t, tool, mid); got != importBatch {
		t.Errorf("the embedded store holds %d instruments, want the first batch's %d", got, importBatch)
	}

	pcfg := Config{DatabaseURL: dsn, MasterKey: cfg.MasterKey, Logger: cfg.Logger, Out: &nopWriter{}}
	pg, err := OpenTool(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	re, err := pg.Import(ctx, mid, key, file, ImportOptions{})
	if err != nil || re.AlreadyImported != importBatch || re.Created != n-importBatch {
		t.Fatalf("the import run again on PostgreSQL: %v %+v", err, re)
	}
	if got := countInstruments(t, pg, mid); got != n {
		t.Errorf("PostgreSQL holds %d instruments, want %d", got, n)
	}
}

// TestRekeyStopsAtMoved: a `keys rekey` that was running when copy-store moved its store
// re-encrypts nothing more in the embedded store: it stops with ErrMoved, saying what it did
// and where the re-encryption goes on.
func TestRekeyStopsAtMoved(t *testing.T) {
	ctx := context.Background()
	tool, cfg, _ := mustMovableTool(t)
	for i := range 3 {
		if _, err := tool.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: fmt.Sprint("Shop ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tool.Keyring.Rotate(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	before, err := tool.Store.CountSealedByKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := markMoved(cfg.DataDir, "postgres://u:secret@db.example:5433/payvault", time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := tool.Rekey(ctx)
	t.Log(err)
	if !errors.Is(err, ErrMoved) {
		t.Fatalf("Rekey after the mark = %v, want ErrMoved", err)
	}
	if rep.Rewritten != 0 {
		t.Errorf("re-encrypted %d records in the moved store", rep.Rewritten)
	}
	for _, want := range []string{"db.example:5433/payvault", "0 records were re-encrypted", "keys rekey --database"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	after, err := tool.Store.CountSealedByKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("records by key in the moved store (-before +after)\n%s", d)
	}
}

// TestBackupCarriesMoved: a backup of a store that copy-store moved carries the mark. The
// store restored from it is refused to a serving node and to a tool that writes, with the
// message the original gets, naming the restored dir's own MovedFile; deleting that file
// undoes the refusal, as on the original. A backup of a store that was not moved carries
// nothing.
func TestBackupCarriesMoved(t *testing.T) {
	ctx := context.Background()
	cfg, _ := mustServedStore(t)
	dir := cfg.DataDir
	restore := func(t *testing.T, backup string) Config {
		t.Helper()
		rdir := t.TempDir()
		if err := os.Rename(backup, SQLitePath(rdir)); err != nil {
			t.Fatal(err)
		}
		rcfg := cfg
		rcfg.DataDir = rdir
		return rcfg
	}
	open := func(open func(context.Context, Config) (*Main, error), cfg Config) error {
		m, err := open(ctx, cfg)
		if err == nil {
			m.Close()
		}
		return err
	}

	t.Run("ok/not-moved", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "copy.db")
		if _, moved, err := Backup(ctx, dir, out); err != nil || moved {
			t.Fatalf("Backup = moved %v, %v", moved, err)
		}
		rcfg := restore(t, out)
		if err := open(OpenTool, rcfg); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(movedPath(rcfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s in a restored store that was not moved (%v)", MovedFile, err)
		}
	})

	if err := markMoved(dir, "postgres://u:secret@db.example:5433/payvault", time.Now()); err != nil {
		t.Fatal(err)
	}
	want := checkMoved(dir).Error()
	out := filepath.Join(t.TempDir(), "moved.db")
	if _, moved, err := Backup(ctx, dir, out); err != nil || !moved {
		t.Fatalf("Backup = moved %v, %v", moved, err)
	}
	rcfg := restore(t, out)
	// The original's message, about the restored dir's own file.
	want = strings.ReplaceAll(want, movedPath(dir), movedPath(rcfg.DataDir))
	refused := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, ErrMoved) {
			t.Fatalf("err = %v, want ErrMoved", err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks the original's message %q", err, want)
		}
	}
	t.Run("ok/backup-of-restored", func(t *testing.T) {
		// Before any command opened the restored store, its backup carries the mark and
		// says so, and backing up adopts nothing.
		if _, moved, err := Backup(ctx, rcfg.DataDir, filepath.Join(t.TempDir(), "again.db")); err != nil || !moved {
			t.Fatalf("Backup of the restored store = moved %v, %v", moved, err)
		}
		if _, err := os.Stat(movedPath(rcfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("backup wrote %s (%v)", MovedFile, err)
		}
	})
	t.Run("fail/serve", func(t *testing.T) { refused(t, open(Open, rcfg)) })
	t.Run("fail/tool", func(t *testing.T) { refused(t, open(OpenTool, rcfg)) }) // merchant create, keys rotate...
	t.Run("fail/copy-store", func(t *testing.T) {
		_, err := CopyStore(ctx, rcfg, "postgres://u@127.0.0.1:47299/none")
		refused(t, err)
	})
	t.Run("ok/marker-deleted", func(t *testing.T) {
		if err := os.Remove(movedPath(rcfg.DataDir)); err != nil {
			t.Fatal(err)
		}
		if err := open(OpenTool, rcfg); err != nil {
			t.Fatal(err)
		}
		if err := open(Open, rcfg); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBackupMissingFolder: a backup into a folder that does not exist is refused with an
// error naming the folder, and creates nothing: a mistyped path, or a backup volume that is
// not mounted, must not get a copy of the cardholder data on some other disk.
func TestBackupMissingFolder(t *testing.T) {
	ctx := context.Background()
	cfg, _ := mustServedStore(t)
	base := t.TempDir()
	missing := filepath.Join(base, "backups", "daily")
	_, _, err := Backup(ctx, cfg.DataDir, filepath.Join(missing, "copy.db"))
	if err == nil || !strings.Contains(err.Error(), "folder "+missing+" does not exist") {
		t.Fatalf("Backup = %v, want a refusal naming the folder %s", err, missing)
	}
	if _, err := os.Stat(filepath.Join(base, "backups")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused backup made a folder: %v", err)
	}
}

// resealHook is the store a Rekeyer re-encrypts through in a test: the tool's own, with after
// called once each record's re-encryption has committed, with how many have.
type resealHook struct {
	vault.SealedStore
	after     func(rewritten int)
	rewritten int
}

func (h *resealHook) ResealRecord(ctx context.Context, old, next vault.SealedRecord) (bool, error) {
	ok, err := h.SealedStore.ResealRecord(ctx, old, next)
	if ok && err == nil {
		h.rewritten++
		h.after(h.rewritten)
	}
	return ok, err
}

// mustOpenSealed reads every sealed record of s and opens each of its fields under kr, failing
// the test for a record whose fields are not all sealed under its own data key (dek_id), or
// that do not open. It returns the plaintexts by table/id/field.
func mustOpenSealed(t *testing.T, s *sqlstore.Store, kr *keys.Keyring) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tbl := range s.SealedTables() {
		recs, err := s.SealedRecords(context.Background(), tbl, "", 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			for f, ct := range rec.Fields {
				if len(ct) == 0 {
					continue
				}
				name := tbl + "/" + rec.ID + "/" + f
				if id, _ := keys.KeyID(ct); id != rec.KeyID {
					t.Errorf("%s is sealed under key %d, its record says %d (half-written)", name, id, rec.KeyID)
				}
				pt, _, err := vault.OpenSealed(kr, ct, keys.AD{Merchant: rec.MerchantID, Record: rec.ID, Field: f, Token: rec.Token}, rec.ADVersion)
				if err != nil {
					t.Errorf("%s does not open: %v", name, err)
					continue
				}
				out[name] = string(pt)
			}
		}
	}
	return out
}

// TestRekeyMovedMidPass: copy-store moves the embedded store while `keys rekey` is running
// (here, after the rekey's 250th record, in its second batch of 200). The rekey writes
// nothing more to the embedded store: its next write is refused, and it stops with ErrMoved,
// saying that 250 records were re-encrypted. Those 250 are under the new key and the rest
// under the old one, in the embedded store and in the copy alike, and every record opens
// there to the data it held before the rekey.
func TestRekeyMovedMidPass(t *testing.T) {
	ctx := context.Background()
	const cards, atMark = 600, 250
	cfg, tool, old, next := mustRekeyableTool(t, cards)
	before, err := tool.Store.CountSealedByKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before[old] < cards {
		t.Fatalf("records by key before the rekey: %v, want %d or more under key %d", before, cards, old)
	}
	plain := mustOpenSealed(t, tool.Store, tool.Keyring)

	dsn := storetest.PostgresDSN(t)
	copied := false
	hook := &resealHook{SealedStore: tool.Store, after: func(n int) {
		if n == atMark {
			_, err := CopyStore(ctx, cfg, dsn)
			if err != nil {
				t.Errorf("CopyStore after %d records: %v", n, err)
			}
			copied = err == nil
		}
	}}
	tool.rekey.rk = vault.NewRekeyer(hook, tool.Keyring)
	rep, err := tool.Rekey(ctx)
	t.Log(err)
	if !copied {
		t.Fatalf("the rekey ended after %d records, before the copy: %v", rep.Rewritten, err)
	}
	if !errors.Is(err, ErrMoved) {
		t.Fatalf("Rekey after the copy = %v, want ErrMoved", err)
	}
	if rep.Rewritten != atMark || hook.rewritten != atMark {
		t.Errorf("re-encrypted %d records (%d committed), want the %d before the copy", rep.Rewritten, hook.rewritten, atMark)
	}
	for _, want := range []string{fmt.Sprintf("%d records were re-encrypted", atMark), "keys rekey --database"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	want := map[uint32]int{old: before[old] - atMark, next: atMark}
	for id, n := range before {
		if id != old {
			want[id] += n
		}
	}
	// Where the re-encryption stopped, in the moved store and in the copy alike, and the
	// records' data as before the rekey.
	check := func(where string, s *sqlstore.Store, kr *keys.Keyring) {
		t.Helper()
		got, err := s.CountSealedByKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("records by key in %s (-want +got)\n%s", where, d)
		}
		if d := cmp.Diff(plain, mustOpenSealed(t, s, kr)); d != "" {
			t.Errorf("the records' data in %s changed (%d differences)", where, strings.Count(d, "\n-"))
		}
	}
	check("the moved store", tool.Store, tool.Keyring)
	pg, err := OpenTool(ctx, Config{DatabaseURL: dsn, MasterKey: cfg.MasterKey, Logger: cfg.Logger, Out: &nopWriter{}, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	check("the copy", pg.Store, pg.Keyring)
}

// TestRekeyMovedDuringLockWait: a rekey write that waited out SQLite's lock wait behind a long
// copy-store fails Unavailable before it can see the mark the copy then leaves; the rekey
// still stops saying that the store moved, and how many records it re-encrypted before.
func TestRekeyMovedDuringLockWait(t *testing.T) {
	ctx := context.Background()
	const cards, atMark = 300, 120
	cfg, tool, _, _ := mustRekeyableTool(t, cards)
	hook := &resealHook{SealedStore: tool.Store, after: func(int) {}}
	locked := &lockWaitHook{resealHook: hook, at: atMark, mark: func() error {
		return markMoved(cfg.DataDir, "postgres://u:secret@db.example:5433/payvault", time.Now())
	}}
	tool.rekey.rk = vault.NewRekeyer(locked, tool.Keyring)
	rep, err := tool.Rekey(ctx)
	t.Log(err)
	if !errors.Is(err, ErrMoved) {
		t.Fatalf("Rekey whose write waited for the copy = %v, want ErrMoved", err)
	}
	if rep.Rewritten != atMark {
		t.Errorf("re-encrypted %d records, want %d", rep.Rewritten, atMark)
	}
	for _, want := range []string{"db.example:5433/payvault", fmt.Sprintf("%d records were re-encrypted", atMark), "keys rekey --database"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q holds the DSN's password", err)
	}
}

// lockWaitHook is resealHook whose write after at committed records fails as one that waited
// out SQLite's lock wait behind copy-store does (Unavailable), the copy having marked the
// store (mark) meanwhile.
type lockWaitHook struct {
	*resealHook
	at   int
	mark func() error
}

func (h *lockWaitHook) ResealRecord(ctx context.Context, old, next vault.SealedRecord) (bool, error) {
	if h.rewritten == h.at {
		if err := h.mark(); err != nil {
			return false, err
		}
		return false, vault.E("sqlstore.Write", vault.Unavailable, errors.New("database is locked"))
	}
	return h.resealHook.ResealRecord(ctx, old, next)
}

// TestMovedNamesEveryHost: the moved marker of a multi-host DSN (a primary and its standbys)
// names every server once, and never the DSN's credentials.
func TestMovedNamesEveryHost(t *testing.T) {
	for _, tt := range []struct{ name, dsn, want string }{
		{"ok/one-host", "postgres://u:secret@db.example:5433/payvault", "db.example:5433/payvault"},
		{"ok/two-hosts", "postgres://u:secret@db1.example:5432,db2.example:5433/payvault?target_session_attrs=read-write", "db1.example:5432,db2.example:5433/payvault"},
		{"ok/prefer-tls", "postgres://u:secret@db1.example,db2.example/payvault?sslmode=prefer", "db1.example:5432,db2.example:5432/payvault"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := markMoved(dir, tt.dsn, time.Now()); err != nil {
				t.Fatal(err)
			}
			err := checkMoved(dir)
			if !errors.Is(err, ErrMoved) || !strings.Contains(err.Error(), "("+tt.want+" at ") || strings.Contains(err.Error(), "secret") {
				t.Errorf("checkMoved = %v, want ErrMoved naming %s", err, tt.want)
			}
		})
	}
}
