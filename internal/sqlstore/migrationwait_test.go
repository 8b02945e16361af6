package sqlstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3/lock"

	"github.com/payvault/payvault/internal/storetest"
)

// MustOpen opens a store with cfg, which tb's end closes.
func MustOpen(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestMigrationWaitsPostgres: on PostgreSQL, a tool that finds the schema older than its own
// while another session holds the migration lock (a node migrating a new database, one
// migration after another) waits for that session, and then finds the schema made, instead
// of taking the half-made schema for an older one. A migration that does not end within
// migrationWait is refused with a plain message, and an older schema that nobody migrates is
// returned at once, as Schema returns it, for the tool to refuse.
func TestMigrationWaitsPostgres(t *testing.T) {
	ctx := context.Background()
	// partial opens a new database migrated to version 2 of this payvault's migrations, and
	// returns its DSN, a store on it (the migrating node's), the func that migrates it the
	// rest of the way, and this payvault's latest version.
	partial := func(t *testing.T) (dsn string, s *Store, up func() error, latest int64) {
		t.Helper()
		dsn = storetest.PostgresDSN(t)
		s = MustOpen(t, Config{DSN: dsn, SkipMigrate: true})
		gp, err := s.provider(false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gp.UpTo(ctx, 2); err != nil {
			t.Fatal(err)
		}
		_, latest, err = gp.GetVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return dsn, s, func() error { _, err := gp.Up(ctx); return err }, latest
	}
	// holdLock takes the migration lock on a session of s's own, as a migrating node holds it,
	// and returns the func that releases it.
	holdLock := func(t *testing.T, s *Store) (release func()) {
		t.Helper()
		conn, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lock.DefaultLockID); err != nil {
			t.Fatal(err)
		}
		release = sync.OnceFunc(func() {
			conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", lock.DefaultLockID)
			conn.Close()
		})
		t.Cleanup(release)
		return release
	}
	t.Run("ok/tool-beside-migration", func(t *testing.T) {
		dsn, server, up, latest := partial(t)
		release := holdLock(t, server)
		migrated := make(chan error, 1)
		go func() {
			time.Sleep(300 * time.Millisecond)
			err := up()
			release()
			migrated <- err
		}()
		sc, err := MustOpen(t, Config{DSN: dsn, SkipMigrate: true}).AwaitMigration(ctx)
		if err != nil {
			t.Fatalf("AwaitMigration beside a migration: %v", err)
		}
		if err := <-migrated; err != nil {
			t.Fatalf("the other session's migration: %v", err)
		}
		if d := cmp.Diff(Schema{Current: latest, Target: latest}, sc); d != "" {
			t.Errorf("the schema after the wait (-want +got)\n%s", d)
		}
	})
	t.Run("ok/older-no-migration", func(t *testing.T) {
		dsn, _, _, latest := partial(t)
		sc, err := MustOpen(t, Config{DSN: dsn, SkipMigrate: true}).AwaitMigration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(Schema{Current: 2, Target: latest, Pending: true}, sc); d != "" {
			t.Errorf("an older schema nobody migrates (-want +got)\n%s", d)
		}
	})
	t.Run("fail/migration-never-ends", func(t *testing.T) {
		wait := migrationWait
		migrationWait = 300 * time.Millisecond
		t.Cleanup(func() { migrationWait = wait })
		dsn, server, _, _ := partial(t)
		holdLock(t, server)
		_, err := MustOpen(t, Config{DSN: dsn, SkipMigrate: true}).AwaitMigration(ctx)
		if want := errSchemaMigrating; !errors.Is(err, want) {
			t.Errorf("err = %v; want %v", err, want)
		}
	})
	t.Run("fail/ctx-ends", func(t *testing.T) {
		dsn, server, _, _ := partial(t)
		holdLock(t, server)
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := MustOpen(t, Config{DSN: dsn, SkipMigrate: true}).AwaitMigration(cctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want the context's", err)
		}
	})
}
