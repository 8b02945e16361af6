package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// A COMMIT whose answer is lost (the connection ends while PostgreSQL commits: a restart, a
// failover, a network cut) leaves its outcome unknown to the client, though PostgreSQL knows
// it. Before its COMMIT, a PostgreSQL write reads its transaction's id (txid_current) and the
// server's timeline; when the COMMIT's answer is lost, the committer asks another connection
// what became of that transaction (txid_status, PostgreSQL 10 and later): committed, and the
// callers get their real answers; aborted, and their fns run again, each alone, as after a
// refused COMMIT (unless the write wait had passed: they are then answered Unavailable,
// stall.go). Only when PostgreSQL cannot tell within commitResolveWait does the outcome stay
// unknown (answered Unavailable, never run again). SQLite commits in this process: it has no
// such case.
//
// A server on another timeline cannot tell. A standby promoted after the primary failed
// starts a new timeline; it lacks the commits the old primary made after the standby's last
// WAL (with an asynchronous standby, or one cut off while those commits waited for it), and
// hands their transaction ids out again, so txid_status there would answer for another
// transaction ("committed", for a write that is not stored). A lost COMMIT answered on
// another timeline stays unknown.
//
// Nor does "committed" from the primary alone say that a synchronous standby has the commit:
// a COMMIT that waited for a standby (cut off, or down) and was cancelled when its
// connection was closed (pgx sends a cancel request) is committed on the primary only, and a
// failover to that standby would lose it. So the question is asked in a transaction that
// commits too (it writes to the WAL), whose COMMIT waits for the standby as every COMMIT
// does: once it returns, the standby has every commit before it, the lost one
// included; while the standby lacks them, it waits out the resolve wait, and the outcome
// stays unknown.

// commitResolveWait bounds how long a committer asks about a lost COMMIT (the default of
// Config.CommitResolveWait): while PostgreSQL restarts, or while the old session still holds
// its transaction open. It stays under the 15 s that a queued write waits for a committer
// (defaultQueueWait). A COMMIT that PostgreSQL did not answer within the write wait (a frozen
// server, stall.go) is resolved the same way: its session may still commit it.
const commitResolveWait = 5 * time.Second

// errCommitAborted says that a COMMIT whose answer was lost did not commit: rolledBack holds.
var errCommitAborted = errors.New("sqlstore: the transaction whose COMMIT answer was lost was rolled back")

// pgTx names a PostgreSQL transaction for resolveCommit: its id (0 on SQLite, and where it
// was not read) and the timeline of the server it ran on.
type pgTx struct {
	id       int64
	timeline string
}

// timelineSQL is the server's timeline: the first 8 hex digits of the current WAL file's name.
const timelineSQL = "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"

// txidSQL reads the transaction's id and the server's timeline.
const txidSQL = "SELECT txid_current(), " + timelineSQL

// askCommit asks, in a transaction that commits (and so waits for the synchronous standbys),
// what became of transaction id, and the server's timeline.
func (s *Store) askCommit(ctx context.Context, id int64) (status sql.NullString, timeline string, err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return status, "", err
	}
	// A transaction that wrote no WAL commits without waiting for a standby, so it writes
	// a message (for logical decoding, which no one reads) to the WAL.
	var lsn string
	if err = tx.QueryRowContext(ctx, "SELECT txid_status($1), "+timelineSQL+", pg_logical_emit_message(true, 'payvault', '')::text", id).Scan(&status, &timeline, &lsn); err != nil {
		tx.Rollback()
		return status, "", err
	}
	return status, timeline, tx.Commit()
}

// txid returns the transaction's id and timeline on PostgreSQL, for resolveCommit, and the
// zero pgTx on SQLite. One read in the transaction's last pipeline (queueCommitReads) costs
// no round trip of its own.
func (c *txConn) txid() (pgTx, error) {
	if !c.pg || c.txRef.id != 0 {
		return c.txRef, nil
	}
	var tx pgTx
	err := c.rowDirect(context.Background(), txidSQL).Scan(&tx.id, &tx.timeline)
	return tx, err
}

// resolveCommit returns what became of PostgreSQL transaction tx, whose COMMIT failed with
// err, an error that does not say (rolledBack is false): nil when it committed,
// errCommitAborted when it did not, and err when PostgreSQL cannot tell within
// the resolve wait (Store.resolveWait) or answers on another timeline. Each question goes to
// another connection of the pool, and each is bounded by what is left of the resolve wait.
func (s *Store) resolveCommit(tx pgTx, err error) error {
	if err == nil || tx.id == 0 || rolledBack(err) {
		return err
	}
	s.lostAt.Store(time.Now().UnixNano()) // pooled connections from before are pinged first
	deadline := time.Now().Add(s.resolveWait)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		status, timeline, qerr := s.askCommit(ctx, tx.id)
		cancel()
		if qerr == nil && timeline != tx.timeline {
			s.nLost[2].Add(1)
			return err
		}
		if qerr == nil {
			switch status.String {
			case "committed":
				s.nLost[0].Add(1)
				return nil
			case "aborted":
				s.nLost[1].Add(1)
				return errCommitAborted
			}
			// "in progress": the old session has not yet ended its transaction.
		}
		if time.Until(deadline) < 100*time.Millisecond {
			s.nLost[2].Add(1)
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
