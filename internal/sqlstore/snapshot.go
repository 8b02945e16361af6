package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// A list answers a page of rows and their total, in two statements. Outside a transaction
// each statement would see the database as it was when that statement started, so a write
// committed between them gave a page and a total that disagree (21 rows under a totalCount
// of 20, a "last" link one page short). So list runs both in one read snapshot: the store's
// read path implements snapshotReader.
//
//   - SQLite: a deferred (read-only) transaction on one connection of the read pool; its
//     snapshot of the WAL is taken by its first SELECT. The pool's prepared statements are
//     reused on that connection (sql.Tx.StmtContext).
//   - PostgreSQL: a REPEATABLE READ READ ONLY transaction, whose snapshot is taken by its
//     first statement, bounded as a whole by ReadWait. A BEGIN, or a snapshot, that failed
//     on a lost connection runs again on another, as a read outside one would (pgReads).

// snapshotReader is a read path that can run several reads on one snapshot of the database.
type snapshotReader interface {
	// snapshot runs fn with a querier whose reads all see one snapshot, and the context
	// they run under; readWait, when positive, bounds the whole of it.
	snapshot(ctx context.Context, readWait time.Duration, fn func(ctx context.Context, db querier) error) error
}

var (
	_ snapshotReader = (*poolConn)(nil)
	_ snapshotReader = pgReads{}
)

// snapshot implements snapshotReader on SQLite's read pool.
func (p *poolConn) snapshot(ctx context.Context, _ time.Duration, fn func(ctx context.Context, db querier) error) error {
	// The transaction does not watch ctx (database/sql would start a goroutine per list to
	// do so): its statements do, and it ends with snapshot all the same.
	sqltx, err := p.db.BeginTx(context.WithoutCancel(ctx), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer sqltx.Rollback()
	if err := fn(ctx, poolTx{p: p, tx: sqltx}); err != nil {
		return err
	}
	return sqltx.Commit()
}

// poolTx is a read transaction of SQLite's read pool: it runs a query through the pool's
// statement for it, prepared once per connection, as poolConn does. A statement the cache
// evicted meanwhile is no error: sql.Tx.StmtContext prepares a closed statement again on
// the transaction's connection, and closes that copy when the transaction ends.
type poolTx struct {
	p  *poolConn
	tx *sql.Tx
}

func (t poolTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, query, args...)
}

func (t poolTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if e := t.p.stmt(ctx, query); e != nil {
		return t.tx.StmtContext(ctx, e.st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t poolTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if e := t.p.stmt(ctx, query); e != nil {
		return t.tx.StmtContext(ctx, e.st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// snapshot implements snapshotReader on PostgreSQL.
func (p pgReads) snapshot(ctx context.Context, readWait time.Duration, fn func(ctx context.Context, db querier) error) error {
	for attempt := 0; ; attempt++ {
		err := p.snapshotOnce(ctx, readWait, fn)
		if err == nil || attempt == 2 || !p.s.lost(ctx, err) {
			return err
		}
	}
}

// snapshotOnce is one attempt of snapshot.
func (p pgReads) snapshotOnce(ctx context.Context, readWait time.Duration, fn func(ctx context.Context, db querier) error) error {
	if readWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readWait)
		defer cancel()
	}
	sqltx, err := p.s.wdb.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer sqltx.Rollback()
	if err := fn(ctx, sqltx); err != nil {
		return err
	}
	return sqltx.Commit()
}
