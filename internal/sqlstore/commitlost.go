package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// A COMMIT whose answer is lost (the connection ends while PostgreSQL commits: a restart, a
// failover, a network cut) leaves its outcome unknown to the client, though PostgreSQL knows
// it. Before its COMMIT, a PostgreSQL write reads its transaction's id (txid_current); when
// the COMMIT's answer is lost, the committer asks another connection what became of that
// transaction (txid_status, PostgreSQL 10 and later): committed, and the callers get their
// real answers; aborted, and their fns run again, each alone, as after a refused COMMIT
// (unless the write wait had passed: they are then answered Unavailable, stall.go).
// Only when PostgreSQL cannot tell within commitResolveWait does the outcome stay unknown
// (answered Unavailable, never run again). SQLite commits in this process: it has no such
// case.

// commitResolveWait bounds how long a committer asks about a lost COMMIT (the default of
// Config.CommitResolveWait): while PostgreSQL restarts, or while the old session still holds
// its transaction open. It stays under the 15 s that a queued write waits for a committer
// (defaultQueueWait). A COMMIT that PostgreSQL did not answer within the write wait (a frozen
// server, stall.go) is resolved the same way: its session may still commit it.
const commitResolveWait = 5 * time.Second

// errCommitAborted says that a COMMIT whose answer was lost did not commit: rolledBack holds.
var errCommitAborted = errors.New("sqlstore: the transaction whose COMMIT answer was lost was rolled back")

// txid returns the transaction's id on PostgreSQL, for resolveCommit, and 0 on SQLite. One
// read in the transaction's last pipeline (queueCommitReads) costs no round trip of its own.
func (c *txConn) txid() (int64, error) {
	if !c.pg || c.txID != 0 {
		return c.txID, nil
	}
	var id int64
	err := c.rowDirect(context.Background(), "SELECT txid_current()").Scan(&id)
	return id, err
}

// resolveCommit returns what became of PostgreSQL transaction id, whose COMMIT failed with
// err, an error that does not say (rolledBack is false): nil when it committed,
// errCommitAborted when it did not, and err when PostgreSQL cannot tell within
// the resolve wait (Store.resolveWait). Each question goes to another connection of the pool,
// and each is bounded by what is left of the resolve wait.
func (s *Store) resolveCommit(id int64, err error) error {
	if err == nil || id == 0 || rolledBack(err) {
		return err
	}
	s.lostAt.Store(time.Now().UnixNano()) // pooled connections from before are pinged first
	deadline := time.Now().Add(s.resolveWait)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		var status sql.NullString
		qerr := s.wdb.QueryRowContext(ctx, "SELECT txid_status($1)", id).Scan(&status)
		cancel()
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
