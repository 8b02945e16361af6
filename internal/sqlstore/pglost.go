package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// A PostgreSQL restart (or a failover, or pg_terminate_backend) ends every session, and a
// pooled connection learns it only when it is next used: its first statement fails. pgx pings
// a connection before reuse only when it has been idle for over a second, so on a busy node
// each pooled connection would fail one request after a restart. Instead, the first such
// failure (connLost) marks the moment (Store.lostAt), every connection reused after it whose
// last use was before it is pinged first (shouldPing), and a dead one is dropped for another
// without the request seeing it; and the failed statement itself runs once more when that is
// safe: a read (pgReads), or the BEGIN of a write (beginTx), which did nothing yet.

// connLost reports whether err says the statement's connection is gone, so that the same
// statement may succeed on another. Timeouts are not: another connection would wait again.
func connLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// 57P01 admin_shutdown, 57P02 crash_shutdown: a session ended by a shutdown or a
		// terminate; 08…: connection exceptions.
		return pg.Code == "57P01" || pg.Code == "57P02" || strings.HasPrefix(pg.Code, "08")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || strings.Contains(err.Error(), "conn closed")
}

// lost notes err, when it says a connection was lost while ctx still runs, and reports it.
func (s *Store) lost(ctx context.Context, err error) bool {
	if ctx.Err() != nil || !connLost(err) {
		return false
	}
	s.lostAt.Store(time.Now().UnixNano())
	return true
}

// pingWait bounds the ping of a pooled connection before its reuse. A session on a server
// that went silent (frozen, or a host that hangs while its TCP stack still answers) would
// otherwise hold the ping, and the request, for the request's whole bound (the read or write
// wait), once for each such session in the pool. A live server answers a ping in a round trip.
const pingWait = 2 * time.Second

// shouldPing is pgx's test before it reuses a pooled connection: ping one idle for over a
// second (pgx's default), and one last used before a connection was found lost; and check
// the timeline of one last used before the store saw a failover (timelineFence), closing it
// when it is on an old primary. It pings here, within pingWait, and asks pgx to ping again
// only when this one failed: pgx closed a connection whose ping did not answer in time, so
// its own ping fails at once and database/sql takes another connection (twice, then a new
// one).
func (s *Store) shouldPing(ctx context.Context, p stdlib.ShouldPingParams) bool {
	used := time.Now().Add(-p.IdleDuration)
	moved := s.fence.movedSince(used)
	if !moved && p.IdleDuration <= time.Second && used.UnixNano() > s.lostAt.Load() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, pingWait)
	defer cancel()
	c := p.Conn.PgConn()
	if !moved {
		return c.Ping(ctx) != nil
	}
	if err := s.fence.check(ctx, c); err != nil {
		c.Close(ctx)
		return true
	}
	return false
}

// beginTx begins a transaction, on a connection of its own (returned) when own is set, and on
// PostgreSQL begins again on another connection (beginAttempts in all) when the BEGIN failed
// on a lost one.
func (s *Store) beginTx(ctx context.Context, own bool) (*sql.Conn, *sql.Tx, error) {
	for attempt := 0; ; attempt++ {
		var conn *sql.Conn
		var sqltx *sql.Tx
		var err error
		if own {
			if conn, err = s.wdb.Conn(ctx); err == nil {
				if sqltx, err = conn.BeginTx(ctx, nil); err != nil {
					conn.Close()
				}
			}
		} else {
			sqltx, err = s.wdb.BeginTx(ctx, nil)
		}
		if err == nil || s.dialect != Postgres || attempt == beginAttempts-1 || !s.lost(ctx, err) {
			return conn, sqltx, err
		}
	}
}

// pgReads is the PostgreSQL pool as the store's reads outside transactions see it: a SELECT
// that failed on a lost connection runs once more, on another.
type pgReads struct {
	s  *Store
	db *sql.DB // the main pool or the list pool
}

func (p pgReads) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, query, args...)
}

func (p pgReads) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := p.db.QueryContext(ctx, query, args...)
	if err != nil && strings.HasPrefix(query, "SELECT ") && p.s.lost(ctx, err) {
		rows, err = p.db.QueryContext(ctx, query, args...)
	}
	return rows, err
}

func (p pgReads) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	row := p.db.QueryRowContext(ctx, query, args...)
	if err := row.Err(); err != nil && strings.HasPrefix(query, "SELECT ") && p.s.lost(ctx, err) {
		row = p.db.QueryRowContext(ctx, query, args...)
	}
	return row
}

// beginAttempts bounds beginTx's BEGINs when each fails on a lost connection. A server that
// ended every session (a restart, pg_terminate_backend) leaves the pool full of dead
// connections, and each failed BEGIN gets rid of only the few that database/sql tried: with
// three attempts, TestPostgresSessionsEnded failed about one run in twenty (a write answered
// 503 right after the sessions ended); with eight, none in forty.
const beginAttempts = 8
