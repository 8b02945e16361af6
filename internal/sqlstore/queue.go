package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Queued statements.
//
// On PostgreSQL each statement is a round trip, and in a batch of card creates the round
// trips, not the statements, were most of the committer's time: 32 INSERTs of about 70 µs
// each took a 10.9 ms cycle. So a fn may queue a statement whose answer it does not need
// before it returns. The transaction sends what is queued together, as one pipeline, just
// before the next statement of any fn and before the COMMIT. The server runs the statements
// in the order they were made, so each sees the rows it would have seen had it run at once.
//
// A queued statement that fails, or whose answer is not the one its fn assumed (scan returns
// an error), fails the whole run: the batch runs again with a savepoint around each fn
// (batchRun.step, Store.redoIsolated), where nothing is queued, so each fn meets its own
// statement's outcome. Only a run without savepoints that holds its connection queues; a fn
// running alone runs its statements at once, unless its write is a bulk one (vault.WithBulk,
// an import's batch), which queues alone too and, when a queued statement fails or the fn
// fails after it wrote, runs again with its statements at once (Store.writeOnce).

// queuedStmt is a statement a fn queued. scan, when set, reads its one row; otherwise check,
// when set, judges what it did. Either fails when the outcome is not the one the fn assumed.
// atEnd marks a statement of the transaction's own end (queueCommitEnd, flushAudit), not a
// fn's, which WriteStats.Pipelined does not count.
type queuedStmt struct {
	query string
	args  []any
	scan  func(pgx.Row) error
	check func(pgconn.CommandTag) error
	atEnd bool
}

// queue adds a statement that writes to send later, and reports whether it did. When it did
// not (SQLite, a run with savepoints, a fn running alone that is not a bulk write), the
// caller runs the statement at once.
func (c *txConn) queue(s queuedStmt) bool {
	if c.conn == nil || c.isolate || c.endOnly || c.queueErr != nil {
		return false
	}
	c.dirty, c.wrote = true, true
	c.sealed = c.sealed || (!s.atEnd && sealsKeys(s.query))
	c.noteAhead(s.query)
	c.queued = append(c.queued, s)
	return true
}

// errQueuedMiss is the failure of a queued statement that did not change the one row its fn
// assumed it would.
var errQueuedMiss = errors.New("sqlstore: a queued statement did not change exactly one row")

// changedOne is the check of a queued statement that must change exactly one row.
func changedOne(tag pgconn.CommandTag) error {
	if tag.RowsAffected() != 1 {
		return errQueuedMiss
	}
	return nil
}

// execQueued is exec for a statement whose fn needs to know only that it succeeds and, with
// one, that it changes exactly one row. In a PostgreSQL batch it is queued: queued is then
// true and res nil, and a failure, or with one a count other than one, runs the batch again
// with savepoints, where the statement runs at once. Otherwise it runs at once.
func (q *q) execQueued(ctx context.Context, one bool, query string, args ...any) (res sql.Result, queued bool, err error) {
	var check func(pgconn.CommandTag) error
	if one {
		check = changedOne
	}
	return q.execChecked(ctx, check, query, args...)
}

// execChecked is execQueued with the check of a queued statement given (none when nil).
func (q *q) execChecked(ctx context.Context, check func(pgconn.CommandTag) error, query string, args ...any) (res sql.Result, queued bool, err error) {
	if !q.writeArgsOK(args) {
		return nil, false, errUnstorable
	}
	query = q.rb.bind(q.d, query)
	if c, ok := q.db.(*txConn); ok {
		if c.queue(queuedStmt{query: query, args: args, check: check}) {
			return nil, true, nil
		}
	}
	res, err = q.db.ExecContext(ctx, query, args...)
	return res, false, err
}

// changesOne runs a statement through execQueued that must change exactly one row, and
// reports whether it did; a queued one is taken to have done so (its fn runs again if not).
func (q *q) changesOne(ctx context.Context, query string, args ...any) (bool, error) {
	res, queued, err := q.execQueued(ctx, true, query, args...)
	if err != nil || queued {
		return err == nil, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// flush sends the queued statements in one round trip and reads their answers. Its error
// stays with the transaction, which can then only be rolled back.
func (c *txConn) flush() error {
	if c.queueErr != nil || len(c.queued) == 0 {
		return c.queueErr
	}
	q := c.queued
	c.queued = nil
	for _, s := range q {
		if !s.atEnd {
			c.nSent.Add(1)
		}
	}
	err := c.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: cannot queue statements on a %T", dc)
		}
		var b pgx.Batch
		for _, s := range q {
			b.Queue(s.query, s.args...)
		}
		br := sc.Conn().SendBatch(c.dl.start(), &b)
		var first error
		for _, s := range q {
			var err error
			if s.scan != nil {
				err = s.scan(br.QueryRow())
			} else {
				var tag pgconn.CommandTag
				if tag, err = br.Exec(); err == nil && s.check != nil {
					err = s.check(tag)
				}
			}
			if err != nil && first == nil {
				first = err
			}
		}
		if err := br.Close(); err != nil && first == nil {
			first = err
		}
		return first
	})
	if err != nil {
		c.queueErr = fmt.Errorf("sqlstore: queued statement: %w", err)
	}
	return c.queueErr
}
