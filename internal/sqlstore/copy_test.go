package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestCopyToCommittedLocked: CopyTo runs committed after the target's commit with the
// source's write lock still held, so that another process's write waits until committed
// has returned (copy-store marks the data dir moved there), and then goes through.
func TestCopyToCommittedLocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "payvault.db")
	src := mustOpen(t, sqlstore.Config{Path: path})
	other := mustOpen(t, sqlstore.Config{Path: path})
	dst := mustOpen(t, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	wrote := make(chan error, 1)
	_, err := src.CopyTo(ctx, dst, nil, func(ctx context.Context) error {
		go func() {
			wrote <- other.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "after-copy", "1") })
		}()
		select {
		case err := <-wrote:
			return errors.Join(errors.New("another store wrote the source while committed ran"), err)
		case <-time.After(500 * time.Millisecond):
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the write after the copy: %v", err)
	}
}

// TestCopyToLockedKeysets: locked reads the source's keysets as they are copied, through
// the keysets it is given (the store's own LoadKeyset reads on the connection that the copy's
// lock holds), and cannot write one.
func TestCopyToLockedKeysets(t *testing.T) {
	ctx := context.Background()
	src := mustOpen(t, sqlstore.Config{Path: filepath.Join(t.TempDir(), "payvault.db")})
	dst := mustOpen(t, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	if err := src.StoreKeyset(ctx, "data", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := src.StoreKeyset(ctx, "data", []byte("v2"), 1); err != nil {
		t.Fatal(err)
	}
	_, err := src.CopyTo(ctx, dst, func(ctx context.Context, keysets keys.KeysetStore) error {
		blob, version, err := keysets.LoadKeyset(ctx, "data")
		if err != nil {
			return err
		}
		if string(blob) != "v2" || version != 2 {
			t.Errorf("LoadKeyset = %q version %d, want \"v2\" version 2", blob, version)
		}
		if _, _, err := keysets.LoadKeyset(ctx, "mac"); !errors.Is(err, keys.ErrNoKeyset) {
			t.Errorf("LoadKeyset of a keyset not stored: %v, want keys.ErrNoKeyset", err)
		}
		if err := keysets.StoreKeyset(ctx, "data", []byte("v3"), 2); err == nil {
			t.Error("StoreKeyset during the copy succeeded")
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// TestCopyToComparesEveryRow: CopyTo reads every copied row back from PostgreSQL before the
// commit and compares it, value for value, with the embedded store's, in primary-key order
// (text keys of mixed case and punctuation, which PostgreSQL's default collation orders
// differently). A row that differs, or one that is missing with another in its place (the same
// count), refuses the copy with nothing committed, and the error names the table and the
// column, never the value.
func TestCopyToComparesEveryRow(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, tamper, column string
	}{
		{"a value changed", `UPDATE settings SET value = 'changed' WHERE name = 'b-key'`, "value"},
		{"a row replaced", `UPDATE settings SET name = 'zz-key' WHERE name = 'B-key'`, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := mustOpen(t, sqlstore.Config{Path: filepath.Join(t.TempDir(), "payvault.db")})
			dst := mustOpen(t, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
			for _, name := range []string{"b-key", "B-key", "_key", "a key", "Ä-key", "a-key"} {
				if err := src.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, name, "secret-value-"+name) }); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := src.CopyTo(ctx, dst, nil, nil); err != nil {
				t.Fatalf("an untampered copy: %v", err)
			}
			dst2 := mustOpen(t, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
			defer sqlstore.SetCopyTamper(func(ctx context.Context, tx pgx.Tx, table string) error {
				if table != "settings" {
					return nil
				}
				_, err := tx.Exec(ctx, tc.tamper)
				return err
			})()
			_, err := src.CopyTo(ctx, dst2, nil, nil)
			if err == nil {
				t.Fatal("a copy whose settings row differs was committed")
			}
			msg := err.Error()
			if !strings.Contains(msg, "settings") || !strings.Contains(msg, tc.column) || strings.Contains(msg, "secret-value") || strings.Contains(msg, "changed") {
				t.Errorf("error %q: want the table and column %q named, and no value", msg, tc.column)
			}
			if n, err := sqlstore.CountSQL(dst2, "SELECT COUNT(*) FROM settings"); err != nil || n != 0 {
				t.Errorf("the refused copy left %d settings rows (%v), want none", n, err)
			}
		})
	}
}
