package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// BackupSQLite writes a consistent copy of the SQLite store at path to out, a file that must
// not exist yet, and returns its size. It needs no master key (the copy holds the keysets
// wrapped, as the store does) and runs beside a server: the copy is one read transaction
// (VACUUM INTO), which writers do not wait for, of the last committed state. Being rebuilt
// rather than copied page by page, it leaves out free pages and the WAL's stale frames. The
// copy is created 0600, marked as a copy no store has opened yet (restored.go), synced, and
// checked (quick_check, the mark, one file in rollback-journal mode) before BackupSQLite
// returns; on any failure it is removed. settings, when set, is called once the copy is made,
// and the settings it returns are written into the copy (the settings table), not into the
// store. A store at path that is itself such a copy beside another store's WAL is refused
// (ErrStaleWAL), as Open refuses it.
func BackupSQLite(ctx context.Context, path, out string, settings func() (map[string]string, error)) (size int64, err error) {
	src, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: backup: no store at %s: %w", path, err)
	}
	_, err = checkRestored(src, path)
	src.Close()
	if err != nil {
		return 0, err
	}
	// VACUUM INTO takes an empty file: creating it here makes it 0600 and refuses one that
	// exists.
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return 0, fmt.Errorf("sqlstore: backup: %s exists: backup writes only a new file (name another, or move that one away)", out)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(out)
		}
	}()
	v := url.Values{}
	v.Add("_pragma", "busy_timeout(15000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	if err := markCopy(ctx, out, settings); err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	if err := syncFile(out); err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	if err := syncFile(filepath.Dir(out)); err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	cp, err := sql.Open("sqlite", "file:"+out+"?mode=ro")
	if err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer cp.Close()
	var check string
	if err := cp.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil {
		return 0, fmt.Errorf("sqlstore: backup: checking the copy: %w", err)
	}
	if check != "ok" {
		return 0, errors.New("sqlstore: backup: the copy fails its check: " + check)
	}
	// A marked copy must be in rollback-journal mode: the store that first opens it clears
	// the mark before any WAL of its own can exist (restored.go).
	var mode string
	if err := cp.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		return 0, fmt.Errorf("sqlstore: backup: the copy is not in rollback-journal mode (%q, %v)", mode, err)
	}
	if marked, err := RestoredCopy(out); err != nil || !marked {
		return 0, fmt.Errorf("sqlstore: backup: the copy is not marked as a copy (%v)", err)
	}
	st, err := os.Stat(out)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: backup: %w", err)
	}
	return st.Size(), nil
}

// syncFile flushes a file or a folder to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// markCopy marks the copy at out as a copy that no store has opened yet, and writes the
// settings that settings (when set) returns into it, in one transaction.
func markCopy(ctx context.Context, out string, settings func() (map[string]string, error)) error {
	var set map[string]string
	if settings != nil {
		var err error
		if set, err = settings(); err != nil {
			return err
		}
	}
	return fileTx(ctx, out, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", restoredCopyID)); err != nil {
			return err
		}
		for name, value := range set {
			if _, err := tx.ExecContext(ctx, "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value); err != nil {
				return err
			}
		}
		return nil
	})
}

// fileTx runs fn in one transaction (BEGIN IMMEDIATE, synchronous=FULL) on the SQLite file
// at path, opened apart from any Store and in the file's own journal mode, and closes it.
func fileTx(ctx context.Context, path string, fn func(*sql.Tx) error) error {
	v := url.Values{}
	v.Add("_pragma", "busy_timeout(15000)")
	v.Add("_pragma", "synchronous(FULL)")
	v.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return db.Close()
}

// CopySetting returns the setting name of the SQLite store at path, read without a Store
// (a backup, or a store no payvault has opened), or "" when it has none.
func CopySetting(ctx context.Context, path, name string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	err = db.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}
