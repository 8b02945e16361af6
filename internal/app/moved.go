package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// MovedFile is the marker copy-store leaves in a data dir whose store it copied to
// PostgreSQL and verified. It is a file beside payvault.db, not a row in the store: it
// stays with the data dir when the dir is copied, the operator sees it with ls and undoes
// it with rm (docs/operations.md), and writing it needs no write to the store the copy was
// just checked against. A `payvault backup` of the store carries it inside the copy
// (movedSetting), and a store restored from that copy gets its own file back (adoptMoved).
const MovedFile = "moved-to-postgres.json"

// movedSetting is the setting under which a backup of a moved store carries its MovedFile's
// content (Backup); "" (a mark already adopted) is no mark.
const movedSetting = "moved_to_postgres"

// ErrMoved marks the refusal of an embedded store that copy-store moved to PostgreSQL.
var ErrMoved = errors.New("this store was copied to PostgreSQL")

// movedMarker is MovedFile's content: where the store went and when, never the DSN's user
// or password.
type movedMarker struct {
	Database string    `json:"database"` // Database is host:port/dbname (host:port,host:port/dbname for several servers).
	At       time.Time `json:"at"`
}

// movedPath is the MovedFile of a data dir (DefaultDataDir when empty).
func movedPath(dataDir string) string {
	return filepath.Join(filepath.Dir(SQLitePath(dataDir)), MovedFile)
}

// markMoved writes the data dir's MovedFile (keys.CreateFile: complete or not at all, and
// durable once it returns) naming the database of dsn.
func markMoved(dataDir, dsn string, at time.Time) error {
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return err
	}
	b, err := json.Marshal(movedMarker{Database: strings.Join(sqlstore.Hosts(pc), ",") + "/" + pc.Database, At: at.UTC()})
	if err != nil {
		return err
	}
	return keys.CreateFile(movedPath(dataDir), append(b, '\n'))
}

// checkMoved refuses (ErrMoved) a data dir that holds a MovedFile. A marker that does not
// parse is refused too: it still says that the store moved.
func checkMoved(dataDir string) error {
	path := movedPath(dataDir)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("payvault: read %s: %w", path, err)
	}
	var mk movedMarker
	where := "PostgreSQL"
	if json.Unmarshal(b, &mk) == nil && mk.Database != "" {
		where = mk.Database + " at " + mk.At.Format(time.RFC3339)
	}
	return &movedError{fmt.Sprintf("payvault: %v (%s) by copy-store, and writes here would never reach it: serve that database with --database. To use this store again on purpose, delete %s (docs/operations.md)", ErrMoved, where, path)}
}

// movedError is checkMoved's refusal (ErrMoved). A tool's store runs checkMoved in every
// Write (sqlstore.Config.WriteCheck), so that a command that was running when copy-store
// moved its store stops at its next write instead of writing where PostgreSQL never sees it.
type movedError struct{ msg string }

func (e *movedError) Error() string { return e.msg }
func (e *movedError) Unwrap() error { return ErrMoved }

// movedSince returns err as it is, unless err is not the store's moved refusal while the data
// dir has been marked moved since (checkMoved): then that refusal. A tool's write that waited
// out SQLite's 15 s lock wait behind a long copy-store fails Unavailable before it can see the
// mark; the command should still say that the store moved, and what it did before the copy.
func (m *Main) movedSince(err error) error {
	if err == nil || errors.Is(err, ErrMoved) || m.Config.DatabaseURL != "" {
		return err
	}
	if merr := checkMoved(m.Config.DataDir); errors.Is(merr, ErrMoved) {
		return merr
	}
	return err
}

// stoppedMoved returns, when err is a Write's movedError, that refusal as it is (without
// the layers of the calls it went through) followed by done: what the command did before
// the copy, which the copy holds, and how to go on from it. It returns any other err as is.
func stoppedMoved(err error, done string) error {
	var me *movedError
	if !errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("%w; %s", me, done)
}

// Backup writes a consistent copy of the data dir's store to out (sqlstore.BackupSQLite) and
// returns its size. When the data dir holds a MovedFile once the copy is made, the copy
// carries it (movedSetting), so that the store restored from it is refused as this one is
// (adoptMoved), and moved reports it; so it does for a copy of a store restored from such a
// backup that no command has opened, which carries the setting already.
// A folder of out that does not exist is refused (CheckOutFolder).
func Backup(ctx context.Context, dataDir, out string) (size int64, moved bool, err error) {
	if err := CheckOutFolder(out); err != nil {
		return 0, false, err
	}
	size, err = sqlstore.BackupSQLite(ctx, SQLitePath(dataDir), out, func() (map[string]string, error) {
		b, err := os.ReadFile(movedPath(dataDir))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("payvault: read %s: %w", movedPath(dataDir), err)
		}
		moved = true
		if len(bytes.TrimSpace(b)) == 0 {
			b = []byte("{}\n") // still a mark (checkMoved refuses one that does not parse)
		}
		return map[string]string{movedSetting: string(b)}, nil
	})
	if err == nil && !moved {
		// A store restored from such a backup that no command has opened yet carries the
		// mark as a setting, which the copy holds too.
		v, serr := sqlstore.CopySetting(ctx, out, movedSetting)
		moved = serr == nil && v != ""
	}
	return size, moved && err == nil, err
}

// adoptMoved gives a store restored from a backup of a moved store (Backup) its MovedFile
// back: the file is written (durably), then the store's movedSetting cleared, in one write,
// so that from then on the file alone says the store moved, and deleting it undoes the
// refusal as on the original. It does nothing when the data dir holds the file already, or
// the store carries no mark; the caller then runs checkMoved, which refuses with the same
// message as for the original.
func adoptMoved(ctx context.Context, s *sqlstore.Store, dataDir string) error {
	if _, err := os.Stat(movedPath(dataDir)); err == nil {
		return nil
	}
	if v, err := s.GetSetting(ctx, movedSetting); vault.KindOf(err) == vault.NotFound || err == nil && v == "" {
		return nil
	} else if err != nil {
		return err
	}
	return s.Write(ctx, func(tx vault.Tx) error {
		v, err := tx.GetSetting(ctx, movedSetting)
		if vault.KindOf(err) == vault.NotFound || err == nil && v == "" {
			return nil
		}
		if err != nil {
			return err
		}
		if err := keys.CreateFile(movedPath(dataDir), []byte(v)); err != nil {
			return fmt.Errorf("payvault: this store was restored from a backup of a store copied to PostgreSQL, and %s could not be written: %w", movedPath(dataDir), err)
		}
		return tx.SetSetting(ctx, movedSetting, "")
	})
}

// adoptMoved is adoptMoved for the data dir's store, once it has a schema (a new store has
// no settings, and no mark).
func (m *Main) adoptMoved(ctx context.Context, s *sqlstore.Store, sc sqlstore.Schema) error {
	if sc.Current == 0 {
		return nil
	}
	return adoptMoved(ctx, s, m.Config.DataDir)
}

// CheckOutFolder refuses a new file to write (backup --out, export --out, keys rewrap
// --new-master-key-file) whose folder does not exist, or is not a folder, with an error
// naming it. The folder is not created: a mistyped path, or a backup volume that is not
// mounted, would then get a copy of the cardholder data (or a key) on another disk, unnoticed.
func CheckOutFolder(out string) error {
	dir := filepath.Dir(out)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("payvault: the folder %s does not exist: create it (mkdir -m 700 %s), or write the file elsewhere; nothing was written", dir, dir)
	case err != nil:
		return fmt.Errorf("payvault: the folder of %s: %w; nothing was written", out, err)
	case !st.IsDir():
		return fmt.Errorf("payvault: %s is not a folder; nothing was written", dir)
	}
	return nil
}
