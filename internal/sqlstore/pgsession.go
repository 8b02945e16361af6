package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bounds on a PostgreSQL session, so that a database that stops answering, or a lock some
// other session holds, turns into errors (503, Retry-After) instead of requests that wait
// without end. Each can be changed in the DSN: lock_timeout=… (milliseconds, or with a unit;
// 0 turns it off) and connect_timeout=… (seconds).
const (
	// defaultLockTimeout bounds how long a statement waits for a lock: a row or table another
	// session holds (an external LOCK TABLE, an open transaction in psql, a long DDL). A
	// statement that times out fails with 55P03, which is Unavailable. payvault's own
	// transactions hold their locks for milliseconds, and no batch waits on a processor.
	defaultLockTimeout = 10 * time.Second
	// pgConnectTimeout bounds one connection attempt, when the DSN sets none.
	pgConnectTimeout = 10 * time.Second
	// pgTCPUserTimeout is how long data sent to PostgreSQL may stay unacknowledged before
	// the kernel drops the connection (Linux, TCP_USER_TIMEOUT), and pgKeepAlive is the TCP
	// keep-alive period. Together they end, within about 20 s, the sessions of a database
	// whose network went silent (a failed-over address, a dropped route), which TCP would
	// otherwise retransmit to for about 15 minutes.
	pgTCPUserTimeout = 20 * time.Second
	pgKeepAlive      = 5 * time.Second
)

// pgConnConfig parses cfg.DSN and adds the session bounds the DSN does not set itself. With
// several hosts in the DSN it installs fence, when not nil, as a check of each new session.
func pgConnConfig(cfg Config, fence *timelineFence) (*pgx.ConnConfig, error) {
	pc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, err
	}
	_, set := pc.RuntimeParams["lock_timeout"]
	if !set && !strings.Contains(pc.RuntimeParams["options"], "lock_timeout") {
		lt := cfg.LockTimeout
		if lt == 0 {
			lt = defaultLockTimeout
		}
		if lt > 0 {
			pc.RuntimeParams["lock_timeout"] = strconv.FormatInt(max(lt.Milliseconds(), 1), 10)
		}
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = pgConnectTimeout
	}
	d := &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: pgKeepAlive, Interval: pgKeepAlive, Count: 4},
		Control:         tcpUserTimeout(pgTCPUserTimeout),
	}
	pc.DialFunc = d.DialContext
	// A session that refuses a write as read-only (25006) is closed, and the pool replaces
	// it. A session keeps the read-only default it started with (a database set read-only,
	// or a primary that failed over and came back as a standby), so it would refuse every
	// later write while reads kept it busy and in the pool; a new session sees the database
	// as it is now. pgx's own rule, closing on a FATAL error, is kept.
	onErr := pc.OnPgError
	pc.OnPgError = func(c *pgconn.PgConn, e *pgconn.PgError) bool {
		return e.Code != "25006" && (onErr == nil || onErr(c, e))
	}
	// With several hosts, an old primary back on its old timeline is refused (timelineFence).
	if fence != nil && len(Hosts(&pc.Config)) > 1 {
		validate := pc.ValidateConnect
		pc.ValidateConnect = func(ctx context.Context, c *pgconn.PgConn) error {
			if validate != nil {
				if err := validate(ctx, c); err != nil {
					return err
				}
			}
			return fence.check(ctx, c)
		}
	}
	return pc, nil
}

// Hosts names the servers of a parsed DSN, host:port, each once and in the DSN's order. pgx
// lists a host twice where it tries TLS and then plain (sslmode=prefer, the default): that is
// still one server.
func Hosts(pc *pgconn.Config) []string {
	hosts := []string{net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port)))}
	for _, f := range pc.Fallbacks {
		if h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// After a failover, the old primary may come back still a primary (restarted, or thawed
// after it hung) rather than as a standby of the new one. It is first in a multi-host DSN
// and takes writes, so a new session would go to it: its reads would see the old data, and
// its writes would commit there alone. So, with several hosts, each new session reads its
// server's system identifier and timeline (a promotion starts a new one), and a server on a
// timeline older than one this store has seen for the same system is refused: pgx then
// tries the next host. Sessions opened before the store saw the newer timeline are checked
// the same way before their next use (Store.shouldPing, checkNode). A store that never saw
// the newer timeline (a node started while the old primary was back) cannot tell: fence the
// old primary (docs/operations.md).
type timelineFence struct {
	mu     sync.Mutex
	newest map[string]uint64 // newest holds the newest timeline seen, by system identifier.
	// moved is when a timeline newer than one seen before was first seen (Unix ns).
	moved atomic.Int64
}

// newTimelineFence returns a fence that has seen no timeline yet.
func newTimelineFence() *timelineFence { return &timelineFence{newest: map[string]uint64{}} }

// movedSince reports whether a newer timeline was seen at or after t: a session opened or
// checked before then may be on an old primary. It is false for a nil fence.
func (f *timelineFence) movedSince(t time.Time) bool {
	return f != nil && t.UnixNano() <= f.moved.Load()
}

// timelineSQL reads the server's system identifier and the name of its current WAL file,
// whose first 8 hex digits are the timeline; a standby has no current WAL position (its
// name is empty).
const timelineSQL = "SELECT system_identifier, CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_current_wal_lsn()) END FROM pg_control_system()"

// check refuses a session whose server is on an older timeline than the newest seen for its
// system, and notes the timeline otherwise. A server that refuses the question (a role that
// may not call pg_control_system, say) is not fenced: pgx would take such a refusal for a
// reason to try no other host.
func (f *timelineFence) check(ctx context.Context, c *pgconn.PgConn) error {
	rr := c.ExecParams(ctx, timelineSQL, nil, nil, nil, nil).Read()
	var pe *pgconn.PgError
	if errors.As(rr.Err, &pe) {
		return nil
	}
	if rr.Err != nil {
		return rr.Err
	}
	if len(rr.Rows) != 1 || len(rr.Rows[0]) != 2 {
		return fmt.Errorf("sqlstore: the server's timeline: %d rows", len(rr.Rows))
	}
	system, wal := string(rr.Rows[0][0]), string(rr.Rows[0][1])
	if len(wal) < 8 {
		return nil // a standby
	}
	tl, err := strconv.ParseUint(wal[:8], 16, 32)
	if err != nil {
		return fmt.Errorf("sqlstore: the server's timeline: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	newest, seen := f.newest[system]
	switch {
	case tl < newest:
		return fmt.Errorf("sqlstore: the server is a primary on timeline %d, and its database has been promoted to timeline %d elsewhere: an old primary, refused", tl, newest)
	case seen && tl > newest:
		f.moved.Store(time.Now().UnixNano())
	}
	f.newest[system] = tl
	return nil
}
