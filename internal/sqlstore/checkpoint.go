package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints on SQLite.
//
// In WAL mode a commit appends pages to the WAL, and a checkpoint copies them back into the
// database file and syncs it. By default SQLite checkpoints inside the COMMIT that takes the
// WAL past 1,000 pages: with group commit that is the committer, so every writer waited for a
// whole checkpoint (a few percent of the committer's time, and the slowest batches). Here the
// write connection never checkpoints (wal_autocheckpoint=0); a goroutine of its own runs
// PASSIVE checkpoints, which never block the writer, on a read connection after commits, at
// most every checkpointEvery.
//
// A PASSIVE checkpoint copies frames back but never rewinds the WAL: SQLite writes from the
// head of the WAL again only when a checkpoint has copied every frame and no reader still uses
// them, and under a steady stream of commits a checkpoint that does not block the writer never
// catches up. Worse, a burst (seeding cards, each insert touching random pages of the
// fingerprint and token indexes) appends pages faster than a checkpoint copies them back, and
// the WAL grew without bound (4 GiB after 400,000 seeded cards). So once a background
// checkpoint reports more than walMax pages in the WAL, the committer, after its next commit,
// runs a RESTART checkpoint itself: it copies what is left, waits for readers of older frames,
// and makes the next commit write from the head of the file again. That is back-pressure: the
// writer pauses once per walMax pages, where SQLite's own auto-checkpoint paused it every
// 1,000. journal_size_limit then cuts the file back. (With payvault bench at 64 connections,
// 8 MiB gave the lowest commit latencies of 4, 8 and 32 MiB; with it, tokenize's max latency
// stays near 60 ms.)

// checkpointEvery is the least time between two background checkpoints.
const checkpointEvery = 100 * time.Millisecond

// defaultWALMaxPages is the WAL length past which a checkpoint restarts it: 8 MiB of 4 KiB pages.
const defaultWALMaxPages = 2048

// startCheckpointer starts the background checkpoints (SQLite only).
func (s *Store) startCheckpointer(walMax int) {
	s.walMax = walMax
	if s.walMax <= 0 {
		s.walMax = defaultWALMaxPages
	}
	s.ckptKick = make(chan struct{}, 1)
	s.ckptDone = make(chan struct{})
	go func() {
		defer close(s.ckptDone)
		last := time.Time{}
		for range s.ckptKick {
			if wait := checkpointEvery - time.Since(last); wait > 0 {
				time.Sleep(wait)
			}
			last = time.Now()
			if s.checkpoint(s.rdb, "PASSIVE") > s.walMax {
				s.walLong.Store(true)
			}
		}
	}()
}

// checkpoint runs a checkpoint of mode and returns the pages in the WAL (-1 on error; a
// failed checkpoint is retried by the next one).
func (s *Store) checkpoint(db *sql.DB, mode string) int {
	var busy, pages, done int
	if err := db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &pages, &done); err != nil {
		return -1
	}
	return pages
}

// restartLongWAL is the committer's back-pressure: when the last background checkpoint found
// the WAL past walMax, it checkpoints on the write connection and restarts the WAL.
func (s *Store) restartLongWAL() {
	if s.ckptKick != nil && s.walLong.Swap(false) {
		s.checkpoint(s.wdb, "RESTART")
	}
}

// kickCheckpointer asks for a checkpoint after a commit; it never blocks.
func (s *Store) kickCheckpointer() {
	if s.ckptKick == nil {
		return
	}
	select {
	case s.ckptKick <- struct{}{}:
	default:
	}
}

// stopCheckpointer stops the background checkpoints; the committers must have stopped.
func (s *Store) stopCheckpointer() {
	if s.ckptKick == nil {
		return
	}
	close(s.ckptKick)
	<-s.ckptDone
	s.ckptKick = nil
}
