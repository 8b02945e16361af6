package sqlstore

import (
	"net"
	"strconv"
	"strings"
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

// pgConnConfig parses cfg.DSN and adds the session bounds the DSN does not set itself.
func pgConnConfig(cfg Config) (*pgx.ConnConfig, error) {
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
	return pc, nil
}
