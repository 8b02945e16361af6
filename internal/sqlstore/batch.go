package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// Group commit.
//
// Write does not open a transaction of its own. It queues its fn for a committer goroutine,
// which takes every queued request (up to a batch cap, without waiting for more), BEGINs
// once, runs the fns one after another, COMMITs once, and only then answers the callers. One
// durable commit (one fsync) thus serves a whole batch. When nothing else is queued a batch
// holds one request, which runs in a plain transaction as before, so latency at low load does
// not grow.
//
// A fn that fails must not disturb its neighbours. A batch first runs without savepoints,
// which costs nothing while fns succeed or fail before they write. When a fn fails after it
// wrote (or, on PostgreSQL, a statement fails, which aborts the transaction), the batch is
// rolled back and runs again with a savepoint around each fn, so that a failing fn is rolled
// back alone. A fn that hit a serialisation failure or deadlock, and every fn of a batch
// whose COMMIT was refused, runs again alone in a transaction of its own, so that each caller
// gets its own true outcome. A COMMIT whose answer was lost (a lost connection) is resolved
// by asking PostgreSQL (commitlost.go); one whose outcome stays unknown is reported as such
// to the batch's callers, never run again.

const opWrite = "sqlstore.Write"

// Defaults for Config.Committers and Config.MaxBatch. One committer per node suits
// PostgreSQL too. A batch locks its merchants' audit chain heads only at its end (flushAudit),
// so a second committer overlaps the statements of its batch with the first one's COMMIT, but
// not its own COMMIT, and it waits for any row the first one locked (a profile, a
// transaction). Measured with payvault bench (64 connections, one merchant, two CPUs shared
// with PostgreSQL), two committers gave tokenize +30% and sut 0-17%, auth no change,
// fortis-create -12% and higher p99s everywhere; three were worse than two. Four merchants'
// card creates (BenchmarkCardCreateMerchants) did no better: two committers 7-8% slower than
// one, four 37-45% slower, and a queue per committer taking whole merchants slower still,
// since smaller batches spend more per write on two CPUs shared with PostgreSQL. A machine
// with more cores may gain: Config.Committers (payvault bench --committers) sets it.
const (
	defaultPostgresCommitters = 1
	defaultMaxBatch           = 128
	queueLen                  = 1024
)

// errClosed is returned by Write after Close.
var errClosed = errors.New("sqlstore: store closed")

// defaultQueueWait is how long a Write waits for a committer to start its fn before it gives
// up with Unavailable (nothing written): a database that stalls (frozen, or a disk that stops
// answering) holds the batch in progress, and the writes queued behind it answer 503 instead
// of waiting without end. A busy store starts a queued write within milliseconds.
const defaultQueueWait = 15 * time.Second

// errQueueWait is the error of a Write no committer started in time.
var errQueueWait = errors.New("sqlstore: the database did not take the write in time")

// The states of a writeReq. A committer moves a queued request to started just before it
// runs its fn; a caller whose ctx ends first moves it to dropped and leaves.
const (
	reqQueued int32 = iota
	reqStarted
	reqDropped
)

// writeReq is one Write call waiting for a committer.
type writeReq struct {
	ctx    context.Context
	fn     func(vault.Tx) error
	queued time.Time // queued is when Write queued it (the queue wait counts from here).
	state  atomic.Int32
	done   chan struct{}

	// err and panicked are the outcome, set before done is closed.
	err      error
	panicked any
}

func (r *writeReq) finish(err error, panicked any) {
	r.err, r.panicked = err, panicked
	close(r.done)
}

// claim reports whether the committer may run r now. A request whose caller's ctx is done
// is dropped and answered instead.
func (r *writeReq) claim() bool {
	if err := r.ctx.Err(); err != nil {
		if r.state.CompareAndSwap(reqQueued, reqDropped) {
			r.finish(vault.E(opWrite, vault.Unavailable, err), nil)
		}
		return false
	}
	return r.state.CompareAndSwap(reqQueued, reqStarted)
}

// WriteStats counts the work of the committers since Open.
type WriteStats struct {
	Writes  int64 // Writes is the number of fns run to an answer.
	Commits int64 // Commits is the number of transactions ended (committed or rolled back).
	Queued  int   // Queued is the number of requests waiting for a committer now.
	// Pipelined is the number of statements fns queued that were sent together (PostgreSQL,
	// txConn.queue).
	Pipelined int64
	// LostCommits counts the COMMITs whose answer was lost (PostgreSQL, commitlost.go), by
	// what PostgreSQL said of them: committed, rolled back, or unknown within the resolve
	// wait. A COMMIT PostgreSQL did not answer within the write wait (stall.go) counts too.
	LostCommits struct{ Committed, RolledBack, Unknown int64 }
	// Unfenced counts the fns that stored sealed data or fingerprints without the keys they
	// sealed under (vault.WithKeyStates), which the key fence therefore did not judge
	// (keyfence.go): the services' writes carry them, so the tests keep it at 0.
	Unfenced int64
}

// WriteStats returns the committers' counters; Writes/Commits is the mean batch size.
func (s *Store) WriteStats() WriteStats {
	st := WriteStats{Writes: s.nWrites.Load(), Commits: s.nCommits.Load(), Queued: len(s.queue), Pipelined: s.nPipelined.Load()}
	st.LostCommits.Committed, st.LostCommits.RolledBack, st.LostCommits.Unknown = s.nLost[0].Load(), s.nLost[1].Load(), s.nLost[2].Load()
	st.Unfenced = s.nUnfenced.Load()
	return st
}

// startCommitters starts the goroutines that serve Write: one on SQLite, whose single write
// connection allows no more, and cfg.Committers on PostgreSQL.
func (s *Store) startCommitters(cfg Config) {
	n := 1
	if s.dialect == Postgres {
		n = cfg.Committers
		if n <= 0 {
			n = defaultPostgresCommitters
		}
	}
	s.maxBatch = cfg.MaxBatch
	if s.maxBatch <= 0 {
		s.maxBatch = defaultMaxBatch
	}
	s.queueWait = cfg.QueueWait
	s.writeCheck = cfg.WriteCheck
	if s.queueWait <= 0 {
		s.queueWait = defaultQueueWait
	}
	s.keyRefresh = cfg.KeyRefresh
	if s.keyRefresh <= 0 {
		s.keyRefresh = keys.DefaultRefreshEvery
	}
	s.resolveWait = cfg.CommitResolveWait
	if s.resolveWait <= 0 {
		s.resolveWait = commitResolveWait
	}
	if s.dialect == Postgres {
		s.writeWait = cfg.WriteWait
		if s.writeWait <= 0 {
			s.writeWait = defaultWriteWait
		}
	}
	s.queue = make(chan *writeReq, queueLen)
	if s.dialect == SQLite {
		s.stmts = newStmtCache(s.wdb)
		s.startCheckpointer(cfg.WALMaxPages)
	}
	for range n {
		s.committers.Add(1)
		go s.commitLoop()
	}
}

// stopCommitters makes further Writes fail and waits for the queued ones to be answered.
func (s *Store) stopCommitters() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		if s.queue != nil {
			close(s.queue)
		}
	}
	s.mu.Unlock()
	s.committers.Wait()
	s.stopCheckpointer()
	s.stmts.close()
}

// Write runs fn in a read-write transaction and commits it durably before it returns. It
// commits in groups: fn may share its transaction with other callers' fns, run one after
// another, and a failing fn is rolled back alone, never failing another. When fn returns an
// error, nothing fn wrote is kept and the error is returned unchanged. fn may run more than
// once, so it must have no side effects outside tx: its batch may be rolled back and run
// again, and a fn that hit a serialisation failure or deadlock on PostgreSQL (or busy on
// SQLite), or whose batch's COMMIT was refused, runs again alone. On PostgreSQL some writes
// (inserts, CompleteReceived) may be queued and sent after the method returned (queue.go):
// a failure, or an outcome other than the one the method answered, then runs the batch
// again with savepoints, where the method answers it.
//
// Other writers wait while fn runs, so fn must only touch the database, through tx: no
// network calls (a processor is called outside Write), no waiting on locks or channels, no
// nested Write, no use of tx after it returns. Once fn has started, cancelling ctx no longer
// interrupts it: the outcome is the batch's. A caller whose ctx ends before its fn started
// gets Unavailable and nothing is written, and so does one whose fn no committer started
// within the queue wait (Config.QueueWait). A panic in fn is re-raised in the caller.
// Config.WriteCheck, when set, runs before fn in its transaction.
// Kinds: whatever fn or Config.WriteCheck returns, Unavailable, Internal.
func (s *Store) Write(ctx context.Context, fn func(vault.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return vault.E(opWrite, vault.Unavailable, err)
	}
	if check := s.writeCheck; check != nil {
		inner := fn
		fn = func(t vault.Tx) error {
			if err := check(); err != nil {
				return err
			}
			return inner(t)
		}
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{}), queued: time.Now()}
	s.mu.RLock()
	if s.closed || s.queue == nil {
		s.mu.RUnlock()
		return vault.E(opWrite, vault.Unavailable, errClosed)
	}
	wait := time.NewTimer(s.queueWait)
	defer wait.Stop()
	select {
	case s.queue <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return vault.E(opWrite, vault.Unavailable, ctx.Err())
	case <-wait.C:
		s.mu.RUnlock()
		return vault.E(opWrite, vault.Unavailable, errQueueWait)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqDropped) {
			return vault.E(opWrite, vault.Unavailable, ctx.Err())
		}
		<-r.done
	case <-wait.C:
		if r.state.CompareAndSwap(reqQueued, reqDropped) {
			return vault.E(opWrite, vault.Unavailable, errQueueWait)
		}
		<-r.done // started: its outcome is its batch's
	}
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// commitLoop serves the queue until Close: it takes what is queued, up to the batch cap,
// without waiting for more.
func (s *Store) commitLoop() {
	defer s.committers.Done()
	batch := make([]*writeReq, 0, s.maxBatch)
	for r := range s.queue {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch)
		s.stmts.prepare()
		s.restartLongWAL()
		s.kickCheckpointer()
	}
}

// commit answers every request of a batch.
func (s *Store) commit(batch []*writeReq) {
	live := batch[:0]
	for _, r := range batch {
		if r.state.Load() != reqQueued {
			continue // its caller left
		}
		if err := r.ctx.Err(); err != nil {
			r.claim() // answers it
			continue
		}
		live = append(live, r)
	}
	if s.dialect == Postgres && len(live) > 1 {
		// Row locks in one order across concurrent batches: see vault.WithLockOrder.
		slices.SortStableFunc(live, func(a, b *writeReq) int {
			return strings.Compare(vault.LockOrderFrom(a.ctx), vault.LockOrderFrom(b.ctx))
		})
	}
	switch len(live) {
	case 0:
	case 1:
		if live[0].claim() {
			s.writeAlone(live[0])
		}
	default:
		s.writeBatch(live)
	}
}

// itemResult is the outcome of one fn inside a batch, kept until the COMMIT.
type itemResult struct {
	r        *writeReq
	err      error
	panicked any
	// keys are the key states the fn stored sealed data under, for the key fence
	// (keyfence.go); nil when it stored none.
	keys *vault.KeyStates
}

// batchRun is one transaction of a batch.
type batchRun struct {
	s     *Store
	sqltx *sql.Tx
	c     *txConn
	t     *tx
	ran   []itemResult // ran keep their outcome if the transaction commits.
	alone []*writeReq  // alone had their effects undone and run alone afterwards.
}

// beginRun begins a transaction for the requests reqs. It first locks, in one statement, the
// profiles the requests lock first (their lock-order keys), which saves each of them that
// round trip on PostgreSQL and that statement on SQLite (see lockProfiles), and reads their
// auths' cards (readAhead).
//
// A PostgreSQL run without savepoints holds its connection (a *sql.Conn), so that its fns
// may queue statements (txConn.queue) which it sends together.
//
// It returns errWriteWait when PostgreSQL did not answer within the write wait (stall.go).
func (s *Store) beginRun(isolate bool, reqs []*writeReq) (*batchRun, error) {
	dl := newDeadline(s.writeWait)
	conn, sqltx, err := s.beginTx(dl.start(), s.dialect == Postgres && !isolate)
	if err != nil {
		if dl.expired() {
			err = errWriteWait
		}
		dl.stop()
		return nil, err
	}
	c := &txConn{tx: sqltx, conn: conn, stmts: s.stmts, pg: s.dialect == Postgres, isolate: isolate, nSent: &s.nPipelined, nUnfenced: &s.nUnfenced, dl: dl}
	b := &batchRun{s: s, sqltx: sqltx, c: c, t: &tx{q: q{db: c, d: s.dialect, rb: s.rb, inTx: true, audit: s.q.audit}}, ran: make([]itemResult, 0, len(reqs))}
	err = c.lockProfiles(reqs)
	if err == nil {
		err = c.readAhead(reqs)
	}
	if err != nil {
		// The transaction is aborted; begin another without the locks and the cards read
		// ahead, and let each fn take its own, unless the database did not answer.
		expired := dl.expired()
		b.rollback()
		s.nCommits.Add(1)
		if expired {
			return nil, errWriteWait
		}
		return s.beginRun(isolate, nil)
	}
	return b, nil
}

// hinted returns the ids that hint finds in the contexts of reqs, but for dropped requests
// and ids PostgreSQL cannot hold as text, which would fail the statement they go into: their
// fns answer them.
func hinted(reqs []*writeReq, hint func(context.Context) string) []string {
	var ids []string
	for _, r := range reqs {
		if id := hint(r.ctx); id != "" && !unstorable(id) && r.state.Load() != reqDropped {
			ids = append(ids, id)
		}
	}
	return ids
}

// profileLocksSQL is lockProfiles' statement (on SQLite a plain read).
var profileLocksSQL = listArgSQL{
	pg:     "SELECT id, merchant_id, location_id FROM profiles WHERE id = ANY($1) AND deleted_at = 0 ORDER BY id FOR UPDATE",
	sqlite: "SELECT id, merchant_id, location_id FROM profiles WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at = 0",
}

// lockedProfile is a profile a batch's transaction locked before its fns ran.
type lockedProfile struct{ merchant, location string }

// lockProfiles locks, in one statement and in id order (the order the batch is sorted in),
// the active profiles that reqs lock before any other row (vault.LockedProfileFrom), when
// there are two or more, and keeps their merchant and location for LockProfileLocation,
// which then costs no round trip. It is the lock each fn would take first (the same rows,
// FOR UPDATE), only taken earlier, so the fns' later statements see whatever was committed
// before it was granted, as they did after their own. A statement of the transaction that
// updates profiles forgets them (txConn.note). A profile id of another merchant is locked
// as well, until the COMMIT, but not kept: that fn's own statement answers it. On SQLite,
// whose one writer needs no row lock, it is the same read without FOR UPDATE, which saves
// each fn a statement.
func (c *txConn) lockProfiles(reqs []*writeReq) error {
	ids := hinted(reqs, vault.LockedProfileFrom)
	if len(ids) < 2 {
		return nil // no statement to save
	}
	c.locked = make(map[string]lockedProfile, len(ids))
	err := c.readRows(profileLocksSQL, ids, func(rows *sql.Rows) error {
		var id string
		var p lockedProfile
		if err := rows.Scan(&id, &p.merchant, &p.location); err != nil {
			return err
		}
		c.locked[id] = p
		return nil
	})
	if err != nil {
		c.locked = nil
	}
	return err
}

// The results of batchRun.step.
const (
	stepDone   = iota // stepDone: the fn's outcome is recorded.
	stepUndo          // stepUndo: without savepoints, the fn's failure cannot be undone alone.
	stepBroken        // stepBroken: a savepoint operation failed; the transaction is unusable.
)

// overdue reports whether r has waited longer than wait since Write queued it.
func (r *writeReq) overdue(wait time.Duration) bool { return time.Since(r.queued) > wait }

// step runs one claimed request's fn in the transaction.
func (b *batchRun) step(r *writeReq) int {
	if b.c.dl.expired() {
		// The database did not answer the transaction in time: its statements would fail.
		b.alone = append(b.alone, r)
		return stepBroken
	}
	if r.overdue(b.s.queueWait) {
		// Past the queue wait (a batch run again with savepoints after a lock timeout, say,
		// where each fn would wait out the timeout in turn): answered Unavailable, not run.
		b.ran = append(b.ran, itemResult{r: r, err: vault.E(opWrite, vault.Unavailable, errQueueWait)})
		return stepDone
	}
	c := b.c
	c.dirty, c.wrote, c.errored, c.sealed = false, false, false, false
	pending, counted := len(c.pending), len(c.counted)
	p, err := callFn(r.fn, b.t)
	failed := err != nil || p != nil
	if failed {
		// a failed fn's audit records and counted inserts go with its writes
		c.pending, c.counted = c.pending[:pending], c.counted[:counted]
	}
	if !c.isolate && c.needsUndo(failed, err) {
		return stepUndo
	}
	if c.isolate && failed && c.dirty {
		c.rollbackItem()
	}
	switch {
	case c.broken != nil:
		b.alone = append(b.alone, r)
		return stepBroken
	case p == nil && err != nil && retryable(err):
		b.alone = append(b.alone, r)
	case failed:
		b.ran = append(b.ran, itemResult{r: r, err: err, panicked: p})
	default:
		b.ran = append(b.ran, itemResult{r: r, keys: c.sealedUnder(r.ctx)})
	}
	return stepDone
}

// rollback ends the run's transaction, undoing it, and gives back its connection.
func (b *batchRun) rollback() {
	b.sqltx.Rollback()
	b.release()
}

// commit ends the run's transaction with a COMMIT and gives back its connection.
func (b *batchRun) commit() error {
	err := b.sqltx.Commit()
	b.release()
	return err
}

func (b *batchRun) release() {
	if b.c.conn != nil {
		b.c.conn.Close()
	}
	b.c.dl.stop()
}

// started returns the requests that ran in this transaction, in order.
func (b *batchRun) started() []*writeReq {
	out := make([]*writeReq, 0, len(b.ran)+len(b.alone))
	for _, it := range b.ran {
		out = append(out, it.r)
	}
	return append(out, b.alone...)
}

// writeBatch runs reqs in one transaction. It first runs the fns one after another without
// savepoints, which costs nothing extra when they succeed (or fail before writing). When a
// fn fails after it wrote, or its failure aborted the transaction (PostgreSQL), the
// transaction is rolled back and the fns that ran are run again in a new one, each inside a
// savepoint, and so are the rest of the batch.
//
// When PostgreSQL does not answer a statement within the write wait (stall.go), nothing of
// the batch is committed: its requests are answered Unavailable and none runs again (a run
// again would wait out the bound again). When it does not answer the COMMIT, the COMMIT is
// resolved as a lost one.
func (s *Store) writeBatch(reqs []*writeReq) {
	b, err := s.beginRun(false, reqs)
	if err != nil {
		if errors.Is(err, errWriteWait) {
			s.stalled(nil, nil, reqs)
		} else {
			s.rerun(nil, nil, reqs)
		}
		return
	}
	next := 0
	for ; next < len(reqs); next++ {
		r := reqs[next]
		if !r.claim() {
			continue
		}
		res := b.step(r)
		if res == stepUndo {
			var stalled bool
			if b, res, stalled = s.redoIsolated(b, append(b.started(), r), reqs); b == nil {
				if stalled {
					s.stalled(nil, nil, reqs[next+1:])
				} else {
					s.rerun(nil, nil, reqs[next+1:])
				}
				return
			}
		}
		if res == stepBroken {
			next++
			break
		}
	}
	rest := reqs[next:] // not started when the transaction broke
	if b.c.dl.expired() {
		b.rollback()
		s.nCommits.Add(1)
		s.stalled(b.ran, b.alone, rest)
		return
	}
	if b.c.broken == nil {
		// The counts go with what the fns queued, when they queue (PostgreSQL).
		if err := b.c.flushCounts(); err != nil {
			b.c.broken = err
		}
	}
	b.c.queueCommitEnd(s)
	if b.c.broken == nil && b.c.flush() != nil {
		// A statement a fn queued failed, or did not do what the fn was told it would: run
		// the batch again with savepoints, where nothing is queued, so that each fn sees its
		// own statements' outcomes.
		var stalled bool
		if b, _, stalled = s.redoIsolated(b, b.started(), reqs); b == nil {
			if stalled {
				s.stalled(nil, nil, rest)
			} else {
				s.rerun(nil, nil, rest)
			}
			return
		}
	}
	if b.c.broken != nil || b.c.dl.expired() {
		expired := b.c.dl.expired()
		b.rollback()
		s.nCommits.Add(1)
		if expired {
			s.stalled(b.ran, b.alone, rest)
		} else {
			s.rerun(b.ran, b.alone, rest)
		}
		return
	}
	var mark commitMark
	if err = b.c.flushAudit(s); err == nil {
		err = b.c.flushCounts() // a run redone with savepoints counted its fns again
	}
	if err == nil {
		mark, err = b.c.markCommit()
	}
	if err != nil || b.c.dl.expired() {
		// No COMMIT was sent: nothing of the batch is stored, whatever failed (a refused
		// statement, a lost connection), so its writes run again, each alone.
		expired := b.c.dl.expired()
		b.rollback()
		s.nCommits.Add(1)
		if expired {
			s.stalled(b.ran, b.alone, rest)
			return
		}
		s.afterFailedCommit()
		s.rerun(b.ran, b.alone, rest)
		return
	}
	if s.fenceRefused(b, rest) {
		return
	}
	// A COMMIT the database did not answer in time is resolved as a lost one.
	err = s.resolveCommit(mark, b.commit())
	s.nCommits.Add(1)
	switch {
	case err == nil:
		s.addedCountRows(b.c.countMerchants)
		for _, it := range b.ran {
			s.nWrites.Add(1)
			it.r.finish(it.err, it.panicked)
		}
		s.rerun(nil, b.alone, rest)
	case rolledBack(err):
		s.afterFailedCommit()
		if b.c.dl.expired() {
			// The bound ended a COMMIT the database was slow to finish, and it rolled back:
			// nothing is committed, and a run again would wait out the bound again.
			s.stalled(b.ran, b.alone, rest)
			return
		}
		s.rerun(b.ran, b.alone, rest)
	default:
		// The COMMIT may or may not have taken effect: say so rather than write twice.
		expired := b.c.dl.expired()
		if expired {
			err = fmt.Errorf("%w: %w", errWriteWait, err)
		}
		unknown := vault.E(opWrite, vault.Unavailable, fmt.Errorf("sqlstore: commit outcome unknown: %w: %w", vault.ErrOutcomeUnknown, err))
		for _, it := range b.ran {
			s.nWrites.Add(1)
			if it.err == nil && it.panicked == nil {
				it.r.finish(unknown, nil)
			} else {
				it.r.finish(it.err, it.panicked)
			}
		}
		if expired {
			s.stalled(nil, b.alone, rest)
		} else {
			s.rerun(nil, b.alone, rest)
		}
	}
}

// fenceRefused applies the key fence (keyfence.go) to the writes of b before its COMMIT. When
// it refuses any, it rolls b back, answers those Unavailable, runs the others again, each
// alone (each meets the fence again, in its own transaction), and reports true.
func (s *Store) fenceRefused(b *batchRun, rest []*writeReq) bool {
	if !b.c.fenced {
		return false
	}
	var keep []itemResult
	var refused []*writeReq
	for _, it := range b.ran {
		if b.c.fenceRefuses(s, it.keys) {
			refused = append(refused, it.r)
		} else {
			keep = append(keep, it)
		}
	}
	if len(refused) == 0 {
		return false
	}
	b.rollback()
	s.nCommits.Add(1)
	for _, r := range refused {
		s.nWrites.Add(1)
		r.finish(vault.E(opWrite, vault.Unavailable, errKeyFence), nil)
	}
	s.rerun(keep, b.alone, rest)
	return true
}

// redoIsolated rolls b back and runs redo, the requests it started, again in a new
// transaction, each inside a savepoint. It returns the new run and the last step's result,
// or nil when no transaction could begin (redo then ran alone). When the database did not
// answer b, or the new BEGIN, in time, it returns nil and stalled, and redo was answered
// Unavailable, not run again.
func (s *Store) redoIsolated(b *batchRun, redo, reqs []*writeReq) (_ *batchRun, res int, stalled bool) {
	expired := b.c.dl.expired()
	b.rollback()
	s.nCommits.Add(1)
	if expired {
		s.stalled(nil, redo, nil)
		return nil, stepBroken, true
	}
	b, err := s.beginRun(true, reqs)
	if err != nil {
		if errors.Is(err, errWriteWait) {
			s.stalled(nil, redo, nil)
			return nil, stepBroken, true
		}
		return nil, stepBroken, s.rerunStarted(redo)
	}
	res = stepDone
	for i, q := range redo {
		if res = b.step(q); res == stepBroken {
			b.alone = append(b.alone, redo[i+1:]...)
			break
		}
	}
	return b, res, false
}

// rerunStarted runs started requests alone. Once the database did not answer one in time,
// the others are answered Unavailable without running, and it reports stalled.
func (s *Store) rerunStarted(reqs []*writeReq) (stalled bool) {
	for i, r := range reqs {
		if s.writeAlone(r) {
			s.stalled(nil, reqs[i+1:], nil)
			return true
		}
	}
	return false
}

// rerun runs requests alone after their batch: ran and alone were started in it and had
// their effects rolled back, rest were never started. Once the database did not answer one
// in time, the others are answered Unavailable without running: each would wait out the
// bound in turn.
func (s *Store) rerun(ran []itemResult, alone, rest []*writeReq) {
	started := make([]*writeReq, 0, len(ran)+len(alone))
	for _, it := range ran {
		started = append(started, it.r)
	}
	if s.rerunStarted(append(started, alone...)) {
		s.stalled(nil, nil, rest)
		return
	}
	for i, r := range rest {
		if r.claim() && s.writeAlone(r) {
			s.stalled(nil, nil, rest[i+1:])
			return
		}
	}
}

// afterFailedCommit makes sure a refused COMMIT leaves no transaction open on SQLite's one
// write connection (SQLite may keep it open after a busy COMMIT).
func (s *Store) afterFailedCommit() {
	if s.dialect == SQLite {
		s.wdb.ExecContext(context.Background(), "ROLLBACK")
	}
}

// writeAlone runs a claimed request in a transaction of its own, retrying transient
// conflicts a few times, and answers it. It reports whether the database did not answer in
// time (errWriteWait).
func (s *Store) writeAlone(r *writeReq) (stalled bool) {
	const attempts = 5
	var (
		err error
		p   any
	)
	// A request run again alone after its batch was rolled back (a lock timeout, a lost
	// connection) is answered Unavailable once it has waited the queue wait, with nothing
	// written, rather than waiting on the database again: each of a batch's requests would
	// otherwise wait out the lock timeout in turn.
	if r.overdue(s.queueWait) {
		s.nWrites.Add(1)
		r.finish(vault.E(opWrite, vault.Unavailable, errQueueWait), nil)
		return false
	}
	// A bulk write queues its statements, sending them together, even alone.
	bulk := s.dialect == Postgres && vault.BulkFrom(r.ctx)
	var held *vault.KeyStates // the keys it seals under, for the key fence
	if ks, ok := vault.KeyStatesFrom(r.ctx); ok {
		held = &ks
	}
	for i := 0; i < attempts; i++ {
		p, err = s.writeOnce(r.fn, bulk, held)
		if p != nil || err == nil || !retryable(err) {
			break
		}
		if i == attempts-1 || r.ctx.Err() != nil {
			err = vault.E(opWrite, vault.Unavailable, err)
			break
		}
		time.Sleep(time.Duration(i+1) * 3 * time.Millisecond)
	}
	s.nWrites.Add(1)
	r.finish(err, p)
	return errors.Is(err, errWriteWait)
}

// writeOnce runs fn in its own transaction. It returns fn's panic, if any, or its error.
// When PostgreSQL does not answer a statement within the write wait, nothing is committed
// and the error is Unavailable (errWriteWait); when it does not answer the COMMIT, the COMMIT
// is resolved as a lost one, and the error of one whose outcome stays unknown is also
// errWriteWait.
//
// With queue (a bulk write on PostgreSQL, vault.WithBulk), the transaction holds its
// connection and fn's statements may be queued (txConn.queue), sent together before the
// next statement that needs an answer, and at the latest before the COMMIT. When a queued
// statement fails, or fn fails after it wrote, the transaction is rolled back and fn runs
// again with each statement at once, so that it meets its own statements' outcomes, as in
// a batch's run with savepoints.
//
// held are the keys fn seals under (vault.WithKeyStates), nil when none were given: when fn
// stores sealed data under them, the key fence (keyfence.go) may refuse the COMMIT, and then
// nothing is committed and the error is Unavailable (errKeyFence).
func (s *Store) writeOnce(fn func(vault.Tx) error, queue bool, held *vault.KeyStates) (any, error) {
	dl := newDeadline(s.writeWait)
	defer dl.stop()
	stalled := vault.E(opWrite, vault.Unavailable, errWriteWait)
	// On PostgreSQL the transaction holds its connection, so that the statements of its end
	// (the counts, the audit chain heads and the transaction id) go together; with queue,
	// fn's own statements are queued too.
	conn, sqltx, err := s.beginTx(dl.start(), s.dialect == Postgres)
	if err != nil {
		if dl.expired() {
			return nil, stalled
		}
		return nil, vault.E(opWrite, vault.Unavailable, err)
	}
	defer func() {
		if conn != nil {
			conn.Close() // after the COMMIT or rollback, as batchRun.release
		}
	}()
	c := &txConn{tx: sqltx, conn: conn, stmts: s.stmts, pg: s.dialect == Postgres, nSent: &s.nPipelined, nUnfenced: &s.nUnfenced, dl: dl, endOnly: !queue}
	t := &tx{q: q{db: c, d: s.dialect, rb: s.rb, inTx: true, audit: s.q.audit}}
	p, err := callFn(fn, t)
	s.nCommits.Add(1)
	if queue && conn != nil && p == nil {
		if err == nil {
			// The counts go with what fn queued; then the queue is sent.
			if err = c.flushCounts(); err == nil {
				c.queueCommitEnd(s)
				err = c.flush()
			}
		}
		if err != nil && (c.queueErr != nil || c.wrote) {
			sqltx.Rollback()
			if dl.expired() {
				return nil, stalled
			}
			conn.Close()
			conn = nil
			return s.writeOnce(fn, false, held)
		}
	}
	if err != nil || p != nil {
		sqltx.Rollback()
		if p == nil && dl.expired() {
			return nil, stalled
		}
		return p, err
	}
	c.endOnly = false // fn is done: what runs now is the transaction's own end
	switch {
	case c.sealed && held != nil:
		c.fenced = true
	case c.sealed:
		s.nUnfenced.Add(1)
	}
	if err = c.flushCounts(); err == nil {
		c.queueCommitEnd(s)
		err = c.flushAudit(s)
	}
	var mark commitMark
	if err == nil {
		mark, err = c.markCommit()
	}
	if err != nil || dl.expired() {
		// No COMMIT was sent.
		sqltx.Rollback()
		if dl.expired() {
			return nil, stalled
		}
		return nil, mapErr(opWrite, err)
	}
	if c.fenceRefuses(s, held) {
		sqltx.Rollback()
		return nil, vault.E(opWrite, vault.Unavailable, errKeyFence)
	}
	// A COMMIT the database did not answer in time is resolved as a lost one.
	if err := s.resolveCommit(mark, sqltx.Commit()); err != nil {
		if rolledBack(err) {
			s.afterFailedCommit()
			if dl.expired() {
				// The bound ended a COMMIT the database was slow to finish, and it rolled
				// back: a run again would wait out the bound again.
				return nil, stalled
			}
			return nil, mapErr(opWrite, err)
		}
		if mark == nil {
			return nil, mapErr(opWrite, err) // SQLite: its COMMIT runs in this process
		}
		// The COMMIT was sent, and PostgreSQL could not say in time what became of it.
		if dl.expired() {
			err = fmt.Errorf("%w: %w", errWriteWait, err)
		}
		return nil, vault.E(opWrite, vault.Unavailable, fmt.Errorf("sqlstore: commit outcome unknown: %w: %w", vault.ErrOutcomeUnknown, err))
	}
	s.addedCountRows(c.countMerchants)
	return nil, nil
}

// callFn runs fn, turning a panic into a value to re-raise in the caller.
func callFn(fn func(vault.Tx) error, t *tx) (panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	return nil, fn(t)
}

// rolledBack reports whether a failed COMMIT certainly did not commit: the server or the
// engine refused it. A lost connection leaves the outcome unknown.
func rolledBack(err error) bool {
	var pg *pgconn.PgError
	var se *sqlite.Error
	return errors.As(err, &pg) || errors.As(err, &se) || errors.Is(err, pgx.ErrTxCommitRollback) || errors.Is(err, errCommitAborted)
}

// txConn runs the statements of a Write's transaction. With isolate it opens a savepoint
// before the first statement of each fn, releasing the previous fn's savepoint in the same
// round trip, so that a failing fn can be rolled back alone; a fn that fails before any
// statement costs nothing. Statements run without the caller's cancellation: once a fn has
// started, its outcome is its batch's, and an interrupted statement would abort the batch.
// On PostgreSQL each runs within the write wait instead (dl, stall.go).
type txConn struct {
	tx      *sql.Tx
	conn    *sql.Conn  // conn, when set, is tx's connection, and statements may be queued.
	stmts   *stmtCache // stmts, on SQLite, holds the write connection's prepared statements.
	pg      bool       // pg: PostgreSQL, where any statement error aborts the transaction.
	isolate bool
	// endOnly: only the statements of the transaction's own end may be queued, not a fn's
	// (a fn running alone that is not a bulk write).
	endOnly bool
	spOpen  bool  // spOpen: the savepoint exists
	dirty   bool  // dirty: the current fn has run a statement
	wrote   bool  // wrote: the current fn has run a statement that may have written
	errored bool  // errored: a statement of the current fn has failed
	sealed  bool  // sealed: the current fn has run a statement storing sealed data (sealsKeys)
	broken  error // broken: a savepoint operation failed; the transaction is unusable

	// pending are the audit records the transaction's fns appended, chained and stored by
	// flushAudit just before COMMIT (audit.go).
	pending []pendingAudit

	// heads, when set, were read in the transaction's last pipeline (queueCommitEnd), for
	// flushAudit; mark, when set, was stored there or by markCommit.
	heads map[string]auditHead
	mark  commitMark

	// fenced: a fn stored sealed data under key states, so the transaction's end reads the
	// key fence (readKeyFence) into fence, which judges each such fn before the COMMIT.
	fenced bool
	fence  keyFence

	txStmts map[*sql.Stmt]*sql.Stmt // txStmts are stmts' statements bound to tx.

	// locked are the profiles the transaction locked before its fns ran (lockProfiles).
	locked map[string]lockedProfile

	// ahead are the cards the transaction read before its fns ran, by token (readahead.go).
	ahead *ahead

	// queued are statements the fns queued and the transaction has not sent yet; queueErr
	// is the first failure of one (txConn.flush).
	queued   []queuedStmt
	queueErr error
	nSent    *atomic.Int64 // nSent counts the queued statements sent.
	// nUnfenced counts the fns that stored sealed data without key states (WriteStats.Unfenced).
	nUnfenced *atomic.Int64

	// dl bounds each statement of the transaction, and its COMMIT (PostgreSQL; stall.go).
	dl *deadline

	// counted are the active instruments the fns inserted, added to instrument_counts by
	// flushCounts before COMMIT; countMerchants are the merchants of the rows it inserted
	// into instrument_counts (PostgreSQL, one per row), for addedCountRows after COMMIT.
	counted        []countKey
	countMerchants []string
}

// needsUndo reports whether, without a savepoint, the current fn's outcome leaves the
// transaction holding something it must not: the writes of a fn that failed, or (on
// PostgreSQL) an aborted transaction. A statement error seen only through a *sql.Row is
// caught by the PgError the fn returns, or else by the next fn's statements failing with
// in_failed_sql_transaction, or at worst by a refused COMMIT.
func (c *txConn) needsUndo(failed bool, err error) bool {
	if c.queueErr != nil {
		return true // a queued statement failed: its fn's outcome is not the one it returned
	}
	var pg *pgconn.PgError
	isPG := errors.As(err, &pg)
	if isPG && pg.Code == "25P02" {
		return true
	}
	if c.pg {
		return c.errored || (failed && (c.wrote || isPG))
	}
	return failed && c.wrote
}

// note records what a statement of the current fn did.
func (c *txConn) note(query string, err error) {
	if err != nil {
		c.errored = true
	}
	if !strings.HasPrefix(query, "SELECT ") {
		c.wrote = true
		c.sealed = c.sealed || sealsKeys(query)
		if c.locked != nil && (strings.HasPrefix(query, "UPDATE profiles ") || strings.HasPrefix(query, "DELETE FROM profiles ")) {
			c.locked = nil // a profile kept there may have changed
		}
		c.noteAhead(query)
	}
}

var _ querier = (*txConn)(nil)

func (c *txConn) before() error {
	if c.broken != nil {
		return c.broken
	}
	if err := c.flush(); err != nil {
		return err
	}
	if c.dirty || !c.isolate {
		c.dirty = true
		return nil
	}
	c.dirty = true
	stmt := "SAVEPOINT item"
	if c.spOpen {
		stmt = "RELEASE SAVEPOINT item; SAVEPOINT item"
	}
	if _, err := c.tx.ExecContext(c.dl.start(), stmt); err != nil {
		c.broken = err
		return err
	}
	c.spOpen = true
	return nil
}

// rollbackItem undoes the current fn's statements; the savepoint stays for the next fn.
func (c *txConn) rollbackItem() {
	if c.broken != nil || !c.spOpen {
		return
	}
	if _, err := c.tx.ExecContext(c.dl.start(), "ROLLBACK TO SAVEPOINT item"); err != nil {
		c.broken = err
	}
}

func (c *txConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := c.before(); err != nil {
		return nil, err
	}
	ctx = c.dl.start()
	var res sql.Result
	var err error
	if st := c.stmts.get(query); st != nil {
		res, err = c.txStmt(ctx, st).ExecContext(ctx, args...)
	} else {
		res, err = c.tx.ExecContext(ctx, query, args...)
	}
	c.note(query, err)
	return res, err
}

func (c *txConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := c.before(); err != nil {
		return nil, err
	}
	rows, err := c.query(query, args...)
	c.note(query, err)
	return rows, err
}

// query runs a query of the transaction, prepared once the write connection has seen it
// (stmtCache), with none of a fn's bookkeeping: the batch's own reads before its fns.
func (c *txConn) query(query string, args ...any) (*sql.Rows, error) {
	ctx := c.dl.start()
	if st := c.stmts.get(query); st != nil {
		return c.txStmt(ctx, st).QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, query, args...)
}

func (c *txConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := c.before(); err != nil {
		// A *sql.Row can only carry an error from the driver side: a done context gives one.
		done, cancel := context.WithCancel(ctx)
		cancel()
		return c.tx.QueryRowContext(done, query, args...)
	}
	ctx = c.dl.start()
	c.note(query, nil) // a *sql.Row shows its error only to Scan
	if st := c.stmts.get(query); st != nil {
		return c.txStmt(ctx, st).QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

// execDirect runs a statement of the transaction's own (not a fn's), through the statement
// cache but outside the savepoints.
func (c *txConn) execDirect(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.dl != nil {
		ctx = c.dl.start()
	}
	if st := c.stmts.get(query); st != nil {
		return c.txStmt(ctx, st).ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, query, args...)
}

// rowDirect is execDirect for a query of one row.
func (c *txConn) rowDirect(ctx context.Context, query string, args ...any) *sql.Row {
	if c.dl != nil {
		ctx = c.dl.start()
	}
	if st := c.stmts.get(query); st != nil {
		return c.txStmt(ctx, st).QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

// txStmt returns the cached statement st bound to this transaction, binding it once.
func (c *txConn) txStmt(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	if ts, ok := c.txStmts[st]; ok {
		return ts
	}
	ts := c.tx.StmtContext(ctx, st)
	if c.txStmts == nil {
		c.txStmts = map[*sql.Stmt]*sql.Stmt{}
	}
	c.txStmts[st] = ts
	return ts
}

// stmtCache keeps prepared statements on SQLite's one write connection. Parsing and planning
// a statement there costs about as much as running it, and the write path runs the same few
// statements over and over. A statement can only be prepared while the connection is free,
// so a query seen inside a transaction is noted, and prepared after that transaction ends;
// from then on transactions run it through tx.StmtContext, which reuses it.
//
// The cache holds maxStmts statements and evicts by stmtClock. Only the committer uses it
// (one on SQLite), and it evicts only in prepare, between transactions, so no transaction
// holds a statement it closes. Were one to, database/sql would still be safe: a statement a
// transaction bound keeps its parent's driver statement until the transaction ends, and
// tx.StmtContext prepares a closed statement again on the transaction's connection rather
// than fail. Closing never waits for the write connection either: database/sql closes the
// driver statement when the connection is next put back if it is busy.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	m     map[string]*stmtEntry
	clock stmtClock
	seen  map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*stmtEntry{}, seen: map[string]bool{}}
}

// get returns the prepared statement for query, or notes query for prepare. A nil cache
// (PostgreSQL, whose driver caches statements itself) has none.
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[query]; e != nil {
		e.touch()
		return e.st
	}
	if len(c.seen) < maxStmts {
		c.seen[query] = true
	}
	return nil
}

// prepare prepares the queries noted since the last call, evicting and closing the
// statements they replace. The write connection must be free.
func (c *stmtCache) prepare() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for query := range c.seen {
		delete(c.seen, query)
		st, err := c.db.PrepareContext(context.Background(), query)
		if err != nil {
			continue
		}
		e := &stmtEntry{query: query, st: st}
		c.m[query] = e
		if old := c.clock.add(e); old != nil {
			delete(c.m, old.query)
			old.st.Close()
		}
	}
}

// close closes the prepared statements.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, e := range c.m {
		e.st.Close()
		delete(c.m, q)
	}
	c.clock = stmtClock{}
}

// maxStmts bounds each statement cache. Queries built per request (list filters, sorts and
// page sizes) may outnumber it: the statements not run lately then make room for new ones.
const maxStmts = 256

// stmtEntry is a statement in a cache.
type stmtEntry struct {
	query  string
	st     *sql.Stmt
	used   atomic.Bool // used: run since the clock's hand last passed it (stmtClock)
	closed atomic.Bool // closed: evicted; set before st is closed (poolConn)
}

// touch marks e used. It writes only when the mark is not set, so that readers running the
// same statement do not contend for its cache line.
func (e *stmtEntry) touch() {
	if !e.used.Load() {
		e.used.Store(true)
	}
}

// stmtClock is the eviction policy of the statement caches: CLOCK (second chance), which
// approximates least recently used with a mark that a hit sets (stmtEntry.touch), where
// exact LRU would move the entry in a list under a lock on every read. A new statement
// comes in unmarked, so a query run once (a list with a rare filter) goes first, and one
// run again before the hand comes round keeps its place.
type stmtClock struct {
	ring []*stmtEntry
	hand int
}

// add puts e in the clock. When the clock is full, it returns the entry e replaced: the first
// unmarked one from the hand on, clearing the marks it passes, or after a whole turn the
// one at the hand. The caller removes that entry from its index and closes it.
func (c *stmtClock) add(e *stmtEntry) (evicted *stmtEntry) {
	if len(c.ring) < maxStmts {
		c.ring = append(c.ring, e)
		return nil
	}
	for turn := 0; ; turn++ {
		old := c.ring[c.hand]
		if !old.used.Swap(false) || turn == len(c.ring) {
			c.ring[c.hand] = e
			c.hand = (c.hand + 1) % len(c.ring)
			return old
		}
		c.hand = (c.hand + 1) % len(c.ring)
	}
}

// poolConn runs reads on SQLite's read pool through prepared statements, one per query,
// which database/sql prepares once on each pooled connection: on SQLite, preparing a
// statement costs about as much as running a lookup. It holds maxStmts statements and evicts
// by stmtClock, so that a hit costs a lookup in a sync.Map and an atomic load.
//
// A statement is closed when it is evicted. database/sql defers the close of one whose Rows
// are open, but a reader that took it from the cache just before and had not started its
// query gets "sql: statement is closed" (an error without a sentinel). Instead of counting
// references on every hit, a reader whose statement failed after it was evicted
// (stmtEntry.closed) runs its query again unprepared: a read has no effect to repeat.
type poolConn struct {
	db    *sql.DB
	stmts sync.Map   // stmts maps a query to its *stmtEntry.
	mu    sync.Mutex // mu guards clock.
	clock stmtClock
}

var _ querier = (*poolConn)(nil)

func (p *poolConn) stmt(ctx context.Context, query string) *stmtEntry {
	if e, ok := p.stmts.Load(query); ok {
		e := e.(*stmtEntry)
		e.touch()
		return e
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	e := &stmtEntry{query: query, st: st}
	if prev, loaded := p.stmts.LoadOrStore(query, e); loaded {
		st.Close()
		return prev.(*stmtEntry)
	}
	p.mu.Lock()
	old := p.clock.add(e)
	p.mu.Unlock()
	if old != nil {
		p.stmts.CompareAndDelete(old.query, old)
		old.closed.Store(true)
		old.st.Close()
	}
	return e
}

func (p *poolConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, query, args...)
}

func (p *poolConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if e := p.stmt(ctx, query); e != nil {
		rows, err := e.st.QueryContext(ctx, args...)
		if err == nil || !e.closed.Load() {
			return rows, err
		}
		// e was evicted before the query started: run it unprepared.
	}
	return p.db.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row read, which is short, to its end even when ctx ends: on a
// context that can end, database/sql and the driver each start a goroutine per query to
// watch it, which cost a card lookup over HTTP about 10% of its CPU (payvault bench).
func (p *poolConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if e := p.stmt(ctx, query); e != nil {
		// Row.Err is the error of the query's start, which a closed statement gives.
		if row := e.st.QueryRowContext(ctx, args...); row.Err() == nil || !e.closed.Load() {
			return row
		}
	}
	return p.db.QueryRowContext(ctx, query, args...)
}

// close closes the prepared statements.
func (p *poolConn) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.clock = stmtClock{}
	p.mu.Unlock()
	p.stmts.Range(func(k, v any) bool {
		e := v.(*stmtEntry)
		e.closed.Store(true)
		e.st.Close()
		p.stmts.Delete(k)
		return true
	})
}
