package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// When a statement's connection fails, pgx closes it and sends PostgreSQL a cancel request
// for the statement, on a connection of its own, whatever the failure (pgconn's asyncClose).
// The store wants one only where it gave up on the statement itself: a context ended it (its
// bound passed, stall.go, or its caller went away). The server should then stop the work no
// one waits for: a COMMIT that deferred work holds past the write wait is rolled back, and its
// mark is then claimed (TestSlowCommitNotRerun). A connection that failed on its own (reset by
// the network, or by a proxy) is another matter: the server still has what it was sent, and
// what becomes of a COMMIT among it is the server's to decide and the mark's to tell
// (commitlost.go). A cancel request would only race with that COMMIT: a frozen server, once
// thawed, takes the COMMIT and the cancel request together, and when the cancel lands while
// the COMMIT runs, it rolls the COMMIT back ("canceling statement due to user request" in the
// server's log; TestFreezeCommitCut).
//
// So each session has a gate of its own (gateCancels): its dials are marked (pgConnector), and
// an unmarked one, pgx's for a cancel request, is refused unless a context ended one of the
// session's statements.

// sessionDial marks the context of a session's connect.
type sessionDial struct{}

// errNoCancel is the error of pgx's dial for a cancel request that the store does not send.
var errNoCancel = errors.New("sqlstore: no cancel request for a connection that failed on its own")

// pgConnector is the pgx connector of a store's pool, with its sessions' dials marked.
type pgConnector struct{ driver.Connector }

// Connect opens a session.
func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	return c.Connector.Connect(context.WithValue(ctx, sessionDial{}, true))
}

// gateCancels is the pool's BeforeConnect: it gives the session's config (a copy of its own)
// the session's gate, in its dial func and its context watcher.
func gateCancels(_ context.Context, pc *pgx.ConnConfig) error {
	ended := new(atomic.Bool) // a context ended one of the session's statements
	dial := pc.DialFunc
	pc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if ctx.Value(sessionDial{}) == nil && !ended.Load() {
			return nil, errNoCancel
		}
		return dial(ctx, network, addr)
	}
	pc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return cancelWatch{conn: c.Conn(), ended: ended}
	}
	return nil
}

// cancelWatch is a session's context watcher: pgx's default (a deadline in the past on the
// connection when a statement's context ends, which ends the statement on the client and
// closes the connection), and it opens the session's gate for the cancel request that
// follows.
type cancelWatch struct {
	conn  net.Conn
	ended *atomic.Bool
}

func (w cancelWatch) HandleCancel(context.Context) {
	w.ended.Store(true)
	w.conn.SetDeadline(time.Now())
}

func (w cancelWatch) HandleUnwatchAfterCancel() { w.conn.SetDeadline(time.Time{}) }
