package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A COMMIT whose answer is lost (the connection ends while PostgreSQL commits: a restart, a
// failover, a network cut) leaves its outcome unknown to the client, though PostgreSQL knows
// it. Just before its COMMIT, a PostgreSQL write inserts a random mark into commit_marks
// (markCommit; one statement in the transaction's last pipeline, no round trip of its own).
// When the COMMIT's answer is lost, the committer claims the mark on another connection
// (claimMark): it inserts the same mark, claimed, in a transaction of its own.
//   - The mark is there unclaimed: the transaction committed, and the callers get their
//     real answers.
//   - The mark is not there: the transaction did not commit, and now never will (its own
//     INSERT of the mark would fail on the claimed one). The callers' fns run again, each
//     alone, as after a refused COMMIT (unless the write wait had passed: they are then
//     answered Unavailable, stall.go).
//   - The transaction still runs (its session has not ended it yet): the claim waits for it
//     on the mark's unique index, then answers as above.
// Only when PostgreSQL cannot tell within commitResolveWait does the outcome stay unknown
// (answered Unavailable, never run again). SQLite commits in this process: it has no such
// case.
//
// The mark answers for its own transaction only. A transaction id would not: PostgreSQL hands
// out again the ids of transactions it forgot, after a crash restart (one whose WAL was not
// yet flushed) or a failover to a standby that lacks the old primary's last commits, so
// txid_status could answer "committed" for another transaction, a write that is not stored
// (TestResolveCommitReusedID). After a failover the claim is answered by the new primary,
// whose data is the one that counts: a commit that the old primary made and the standby
// lacks is lost with the old primary, and its fns run again.
//
// Nor does "committed" from the primary alone say that a synchronous standby has the commit:
// a COMMIT that waited for a standby (cut off, or down) and was cancelled when its
// connection was closed (pgx sends a cancel request) is committed on the primary only, and a
// failover to that standby would lose it. The claim writes the mark's row whatever it finds
// (ON CONFLICT DO UPDATE), so its own COMMIT waits for the standby as every COMMIT does: once
// it returns, the standby has every commit before it, the lost one included; while the
// standby lacks them, it waits out the resolve wait, and the outcome stays unknown.
//
// Marks older than commitMarkKeep, far beyond any resolve wait, are deleted by the serving
// nodes (pruneCommitMarks).

// commitResolveWait bounds how long a committer asks about a lost COMMIT (the default of
// Config.CommitResolveWait): while PostgreSQL restarts, or while the old session still holds
// its transaction open. It stays under the 15 s that a queued write waits for a committer
// (defaultQueueWait). A COMMIT that PostgreSQL did not answer within the write wait (a frozen
// server, stall.go) is resolved the same way: its session may still commit it.
const commitResolveWait = 5 * time.Second

// errCommitAborted says that a COMMIT whose answer was lost did not commit: rolledBack holds.
var errCommitAborted = errors.New("sqlstore: the transaction whose COMMIT answer was lost was rolled back")

// commitMark is a PostgreSQL write transaction's mark, for resolveCommit: nil on SQLite, and
// where none was stored.
type commitMark []byte

// markSQL stores a transaction's mark.
const markSQL = "INSERT INTO commit_marks (mark) VALUES ($1)"

// claimSQL claims a mark: it inserts the mark claimed, or, when the mark is there (committed,
// or once the transaction that holds it has ended), rewrites its row unchanged; either way it
// answers whether the mark is claimed, and the claim's transaction wrote to the WAL.
const claimSQL = "INSERT INTO commit_marks (mark, claimed) VALUES ($1, TRUE) ON CONFLICT (mark) DO UPDATE SET claimed = commit_marks.claimed RETURNING claimed"

// commitMarkKeep is how long a mark is kept: far longer than a committer can spend on a
// transaction and its lost COMMIT (the write wait and the resolve wait, seconds each).
const commitMarkKeep = 10 * time.Minute

// newCommitMark returns a new random mark.
func newCommitMark() commitMark {
	m := make(commitMark, 16)
	rand.Read(m)
	return m
}

// queueMark queues the insert of the transaction's mark, and notes the mark once it is
// stored.
func (c *txConn) queueMark() {
	m := newCommitMark()
	c.queue(queuedStmt{query: markSQL, args: []any{[]byte(m)}, atEnd: true, check: func(pgconn.CommandTag) error {
		c.mark = m
		return nil
	}})
}

// markCommit returns the transaction's mark on PostgreSQL, storing it unless its last
// pipeline did (queueCommitEnd), and nil on SQLite.
func (c *txConn) markCommit() (commitMark, error) {
	if !c.pg || c.mark != nil {
		return c.mark, nil
	}
	m := newCommitMark()
	if _, err := c.execDirect(context.Background(), markSQL, []byte(m)); err != nil {
		return nil, err
	}
	c.mark = m
	return m, nil
}

// claimMark claims mark in a transaction of its own, and reports whether it is claimed: true
// when the transaction that was to store it did not commit, and now cannot.
func (s *Store) claimMark(ctx context.Context, mark commitMark) (claimed bool, err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	if err = tx.QueryRowContext(ctx, claimSQL, []byte(mark)).Scan(&claimed); err != nil {
		tx.Rollback()
		return false, err
	}
	return claimed, tx.Commit()
}

// pruneBatch is how many marks pruneCommitMarks deletes in one statement.
const pruneBatch = 10000

// pruneCommitMarks deletes marks older than commitMarkKeep, pruneBatch at a time until fewer
// are left, skipping any another node is deleting.
func (s *Store) pruneCommitMarks(ctx context.Context) error {
	for {
		res, err := s.wdb.ExecContext(ctx, "DELETE FROM commit_marks WHERE mark IN (SELECT mark FROM commit_marks WHERE at < (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT - $1 LIMIT $2 FOR UPDATE SKIP LOCKED)", commitMarkKeep.Milliseconds(), pruneBatch)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n < pruneBatch {
			return err
		}
	}
}

// resolveCommit returns what became of the PostgreSQL transaction marked mark, whose COMMIT
// failed with err, an error that does not say (rolledBack is false): nil when it committed,
// errCommitAborted when it did not, and err when PostgreSQL cannot tell within the resolve
// wait (Store.resolveWait). Each claim goes to another connection of the pool, and each is
// bounded by what is left of the resolve wait.
func (s *Store) resolveCommit(mark commitMark, err error) error {
	if err == nil || mark == nil || rolledBack(err) {
		return err
	}
	s.lostAt.Store(time.Now().UnixNano()) // pooled connections from before are pinged first
	deadline := time.Now().Add(s.resolveWait)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		claimed, qerr := s.claimMark(ctx, mark)
		cancel()
		switch {
		case qerr == nil && claimed:
			s.nLost[1].Add(1)
			return errCommitAborted
		case qerr == nil:
			s.nLost[0].Add(1)
			return nil
		}
		if time.Until(deadline) < 100*time.Millisecond {
			s.nLost[2].Add(1)
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
