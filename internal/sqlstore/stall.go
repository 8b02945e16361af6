package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// A PostgreSQL that stops answering without ending its connections (a frozen server, a disk
// that hangs, while the host's TCP stack still answers) would hold the statements sent to it
// until it answers again. So each statement gets a bound on the client side: when it passes,
// pgx ends the statement's connection (pgconn's default context watcher sets a past deadline
// on it, and the connection is closed), and the caller gets Unavailable.
//
//   - A read outside a Write (lookups, lists, counts, idempotency and credential reads) gets
//     ReadWait, from its start until its rows are read.
//   - Each statement of a Write's transaction, and its COMMIT, gets WriteWait (deadline).
//     A transaction whose bound passed before its COMMIT was sent did not commit: its writes
//     are answered Unavailable and not run again (stalled), so that they do not wait out
//     the bound again, one after another. One whose bound passed after its COMMIT was sent
//     is a lost COMMIT, which resolveCommit asks PostgreSQL about (commitlost.go); when it
//     did not commit (work deferred to the COMMIT that the bound cancelled), its writes are
//     answered Unavailable and not run again either.
//
// Both stay above lock_timeout (10 s), so that a statement waiting for a lock ends with the
// lock timeout's own error, and above the connect timeout (10 s). SQLite runs in this process
// and a hung disk there cannot be interrupted: it has no such bounds.
const (
	// defaultReadWait is ReadWait's default. It is the bound of a fold of counts (counts.go),
	// the heaviest statement a node runs in the background; a read the APIs make takes
	// milliseconds, and the retention query that took 13.3 s on a cold 10-million-card store
	// before migration 00008 runs inside a Write.
	defaultReadWait = 30 * time.Second
	// defaultWriteWait is WriteWait's default: the queue wait (defaultQueueWait), above the
	// lock timeout by 5 s. A batch's statements take milliseconds.
	defaultWriteWait = 15 * time.Second
)

// errWriteWait is the error of the writes of a transaction whose statement, or COMMIT, the
// database did not answer within WriteWait.
var errWriteWait = errors.New("sqlstore: the database did not answer the write in time")

// ReadWait is the bound of a read outside a Write (Config.ReadWait); 0 means none (SQLite,
// or a store opened for the CLI's tools).
func (s *Store) ReadWait() time.Duration { return s.q.readWait }

// WriteBound is about the longest a write takes from being queued to its outcome, so that a
// record sealed just before it was queued is committed, or never will be, once WriteBound has
// passed: the queue wait and, on PostgreSQL, a write wait for the batch, another for a run
// again alone, and the resolve wait of a lost COMMIT between them. (Each statement of a batch
// has its own write wait; a batch takes milliseconds unless the database stops answering, and
// then its first statement that waits out the bound ends it.) SQLite commits in this process
// within milliseconds of the batch's start.
func (s *Store) WriteBound() time.Duration {
	if s.dialect != Postgres {
		return s.queueWait
	}
	return s.queueWait + 2*s.writeWait + s.resolveWait
}

// readBound returns ctx bounded by the store's read wait, and the func that ends the bound:
// the identity and a no-op where reads are not bounded (SQLite, transactions).
func (q *q) readBound(ctx context.Context) (context.Context, context.CancelFunc) {
	if q.readWait <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, q.readWait)
}

// rows is a query's rows that end the query's bound when they are closed or read to their
// end.
type rows struct {
	*sql.Rows
	end context.CancelFunc
}

// Next is sql.Rows.Next; the last call ends the bound.
func (r *rows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.end()
	return false
}

// Close is sql.Rows.Close, and ends the bound.
func (r *rows) Close() error {
	err := r.Rows.Close()
	r.end()
	return err
}

// row is a one-row query's result; Scan ends its bound.
type row struct {
	*sql.Row
	end context.CancelFunc
}

// Scan is sql.Row.Scan, and ends the bound.
func (r row) Scan(dest ...any) error {
	defer r.end()
	return r.Row.Scan(dest...)
}

// deadline bounds each statement of a write transaction: a statement (or the COMMIT) must be
// answered within wait of its start. Its ctx, which the transaction and every statement of it
// run on, is cancelled when a bound passes, and stays so. A nil deadline bounds nothing.
type deadline struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	wait   time.Duration
}

// newDeadline returns a deadline of wait, or nil for none (wait <= 0).
func newDeadline(wait time.Duration) *deadline {
	if wait <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	d := &deadline{ctx: ctx, cancel: cancel, wait: wait}
	d.timer = time.AfterFunc(wait, func() { cancel(errWriteWait) })
	return d
}

// start starts the bound of the next statement and returns the context to run it on.
func (d *deadline) start() context.Context {
	if d == nil {
		return context.Background()
	}
	if d.ctx.Err() == nil {
		d.timer.Reset(d.wait)
	}
	return d.ctx
}

// expired reports whether a statement's bound passed.
func (d *deadline) expired() bool {
	return d != nil && context.Cause(d.ctx) == errWriteWait
}

// stop ends the deadline, once its transaction has ended.
func (d *deadline) stop() {
	if d != nil {
		d.timer.Stop()
		d.cancel(context.Canceled)
	}
}

// stalled answers requests Unavailable (errWriteWait) without running them again: the
// database did not answer their transaction in time, and nothing of it was committed. ran and
// alone were started in it (a fn that panicked has its panic re-raised still); rest were not
// started, and are claimed first (one whose caller left is answered by claim).
func (s *Store) stalled(ran []itemResult, alone, rest []*writeReq) {
	err := vault.E(opWrite, vault.Unavailable, errWriteWait)
	for _, it := range ran {
		s.nWrites.Add(1)
		if it.panicked != nil {
			it.r.finish(nil, it.panicked)
		} else {
			it.r.finish(err, nil)
		}
	}
	for _, r := range alone {
		s.nWrites.Add(1)
		r.finish(err, nil)
	}
	for _, r := range rest {
		if r.claim() {
			s.nWrites.Add(1)
			r.finish(err, nil)
		}
	}
}
