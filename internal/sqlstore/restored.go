package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// A backup restored beside a stale WAL.
//
// A server that did not stop cleanly (a crash, kill -9, a power cut) leaves payvault.db-wal
// and payvault.db-shm beside its payvault.db. A backup copy put in their place as
// payvault.db would have that WAL applied to it by SQLite's next open, whatever file it finds
// there: the store opens as "database disk image is malformed", or as a silent mix of both
// (broken indexes, broken audit chains). So BackupSQLite marks its copy in the database
// header (application_id, which payvault uses for nothing else), readable from the main file
// alone, and every open of the file, before SQLite opens it (openSQLite, BackupSQLite's own
// source), reads that header:
//
//   - marked, beside a -wal with frames: the WAL cannot be the copy's own, since a marked copy
//     has never been opened in WAL mode. The open is refused (ErrStaleWAL), and neither file
//     is touched;
//   - marked, no WAL with frames: the mark is cleared first, in a rollback-journal transaction
//     of its own (the copy is in rollback-journal mode, as VACUUM INTO makes it and
//     BackupSQLite checks), and only then is the file opened in WAL mode. Cleared that way,
//     the mark has reached the main file durably before any WAL of the store's own can exist,
//     so a later crash of a server on it, with a WAL of its own, is never taken for a stale
//     one (clearing it in a WAL transaction would leave the main file marked until the next
//     checkpoint);
//   - not marked: nothing more; this costs a normal open one stat of the -wal and one read of
//     the 100-byte header, on the file descriptor that openSQLite opens anyway (about 1 µs,
//     of the 1.2 ms an Open of a small store takes).
//
// A copy made by a payvault before this mark carries none, and is not detected.

// restoredCopyID is the application_id (database header, offset 68) of a copy that
// BackupSQLite made and no store has opened yet: "PVbk".
const restoredCopyID = 0x5056626b

// walHeaderSize is the size of a WAL file's header: a WAL no longer than that holds no frame.
const walHeaderSize = 32

// ErrStaleWAL is the refusal to open a backup copy that no store has opened yet beside a
// -wal file with frames, which can only be another store's.
var ErrStaleWAL = errors.New("stale WAL beside a restored backup")

// RestoredCopy reports whether the SQLite file at path is a copy made by BackupSQLite that
// no store has opened yet. It reads the file's header alone, without SQLite.
func RestoredCopy(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return markedCopy(f)
}

// markedCopy reports whether the database file f carries the mark of a copy never opened.
func markedCopy(f *os.File) (bool, error) {
	var hdr [100]byte
	n, err := f.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return n >= 72 && binary.BigEndian.Uint32(hdr[68:72]) == restoredCopyID, nil
}

// checkRestored is run on the database file f at path before SQLite opens it: it refuses
// (ErrStaleWAL) a marked copy beside a -wal with frames, and reports whether the file is a
// marked copy (to be cleared by clearRestored). The -wal is looked at before the header is
// read: a process that opens the copy meanwhile clears its mark before its WAL has a frame,
// so a WAL found with frames is never the store's own while the header still reads marked.
func checkRestored(f *os.File, path string) (marked bool, err error) {
	st, err := os.Stat(path + "-wal")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("sqlstore: %w", err)
	}
	frames := err == nil && st.Size() > walHeaderSize
	if marked, err = markedCopy(f); err != nil || !marked || !frames {
		return marked, err
	}
	return true, fmt.Errorf("sqlstore: %w: %s is a backup copy that no payvault has opened yet, and %s-wal beside it holds another store's writes (left by a server on the old store that did not stop cleanly): SQLite would apply them to the copy and damage it. Nothing was opened or changed. Move %s-wal and %s-shm out of that folder (with the old payvault.db, if you kept it, they hold the old store's last writes), then run this again",
		ErrStaleWAL, path, path, path, path)
}

// clearRestored clears the mark of a copy that checkRestored found marked, in a transaction
// of its own in the file's rollback-journal mode, before the store opens it in WAL mode.
// Another process that opened the copy meanwhile has cleared it already.
func clearRestored(ctx context.Context, path string) error {
	return fileTx(ctx, path, func(tx *sql.Tx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id); err != nil || id != restoredCopyID {
			return err
		}
		_, err := tx.ExecContext(ctx, "PRAGMA application_id = 0")
		return err
	})
}
