//go:build unix

package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrationWaits: on the embedded store, a process that holds the serve lock while the
// schema is being made (a server on its first start, or a tool making a new store) is waited
// for, not refused: a tool's Open waits for a server's migration and then finds the schema
// made, and a server's RegisterNode waits for a tool's migration and then takes the lock.
func TestMigrationWaits(t *testing.T) {
	ctx := context.Background()
	t.Run("ok/tool-beside-first-start", func(t *testing.T) {
		cfg := Config{Path: filepath.Join(t.TempDir(), "t.db")}
		server := MustOpen(t, Config{Path: cfg.Path, SkipMigrate: true})
		if _, err := server.RegisterNode(ctx); err != nil {
			t.Fatal(err)
		}
		migrated := make(chan error, 1)
		go func() {
			time.Sleep(100 * time.Millisecond)
			_, err := server.Migrate(ctx)
			migrated <- err
		}()
		tool := MustOpen(t, cfg)
		if err := <-migrated; err != nil {
			t.Fatalf("the server's migration: %v", err)
		}
		if sc, err := tool.Schema(ctx); err != nil || sc.Pending || sc.Current == 0 {
			t.Errorf("the tool's schema: %+v, %v; want it made", sc, err)
		}
	})
	t.Run("ok/first-start-beside-tool", func(t *testing.T) {
		cfg := Config{Path: filepath.Join(t.TempDir(), "t.db"), SkipMigrate: true}
		server := MustOpen(t, cfg)
		// The tool's migration, as migrationLock holds the lock for it.
		f, err := lockFile(cfg.Path + "-serve.lock")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			unlockFile(f)
		}()
		if _, err := server.RegisterNode(ctx); err != nil {
			t.Fatalf("the server's RegisterNode beside a tool making the store: %v", err)
		}
	})
	t.Run("fail/first-start-never-made", func(t *testing.T) {
		wait := migrationWait
		migrationWait = 300 * time.Millisecond
		t.Cleanup(func() { migrationWait = wait })
		cfg := Config{Path: filepath.Join(t.TempDir(), "t.db")}
		server := MustOpen(t, Config{Path: cfg.Path, SkipMigrate: true})
		if _, err := server.RegisterNode(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ctx, cfg)
		if want := errStoreCreating(cfg.Path); err == nil || err.Error() != want.Error() {
			t.Errorf("err = %v; want %v", err, want)
		}
	})
}
