package sqlstore

import (
	"context"
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
// most every checkpointEvery, so the WAL stays about as short as before.

// checkpointEvery is the least time between two background checkpoints.
const checkpointEvery = 100 * time.Millisecond

// startCheckpointer starts the background checkpoints (SQLite only).
func (s *Store) startCheckpointer() {
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
			s.rdb.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}()
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
