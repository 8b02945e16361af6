package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/payvault/payvault/internal/vault"
)

// A serving node registers itself, and other nodes can tell whether it still runs. payments
// uses this to resolve at once the transactions a killed node left RECEIVED, instead of
// waiting out the processor timeout.
//
// On PostgreSQL a node holds a session advisory lock named by its id on a connection of its
// own for as long as it runs. When its process dies the server ends that session and the lock
// goes; another node that can take the lock knows the node is gone. On SQLite one serving
// process at a time owns the database, through an exclusive lock on a file beside it, so every
// node but the current one is gone.

// nodeLockClass is the first key of the two-key advisory locks that name nodes (the two-key
// space never meets the one-key locks of LockKey and the migrations).
const nodeLockClass = 0x70766e64 // "pvnd"

// nodeLease is a registration held until Close.
type nodeLease struct {
	mu   sync.Mutex
	id   string
	key  uint32
	conn *sql.Conn // conn holds the PostgreSQL session lock.
	file *os.File  // file holds the SQLite serve lock.
	// retaken is when the PostgreSQL lock was last taken again after its session was lost
	// (the server restarted, or ended the session): every node's lock went with it.
	retaken time.Time
	// checked is when the lock's session was last found on the newest timeline the store has
	// seen (or taken).
	checked time.Time
}

// nodeGrace is how long after this node retook its lock other nodes count as alive whatever
// their locks say: they retake theirs within KeepNode's period.
const nodeGrace = 20 * time.Second

// restartGrace is how long after PostgreSQL started every node counts as alive: the running
// nodes retake their locks within KeepNode's 5 s of its start (tests of a server they just
// started set it lower).
var restartGrace atomic.Int64

func init() { restartGrace.Store(int64(12 * time.Second)) }

// defaultPromoteGrace is Config.PromoteGrace's default: KeepNode's period and the read wait,
// with which a node gives up a session on a silent old primary, and a margin.
const defaultPromoteGrace = 45 * time.Second

// KeepNode keeps a PostgreSQL node's lock until ctx ends: every few seconds it checks the
// lock's session and, when the session was lost (PostgreSQL restarted, or ended it), takes
// the lock again on a new one. Without it, a restart of PostgreSQL would leave every node
// looking gone to the others, which would resolve the payments they still have in flight.
// Once a minute it also deletes old commit marks (pruneCommitMarks).
func (s *Store) KeepNode(ctx context.Context) {
	if s.dialect != Postgres {
		return
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkNode(ctx)
			if n%12 == 0 { // once a minute
				pctx, cancel := s.q.readBound(ctx)
				s.pruneCommitMarks(pctx)
				cancel()
			}
		}
	}
}

// checkNode retakes the node lock if its session was lost, and reports an error when the
// lock is not held now. The check of the session, and the retake, each get the read wait: a
// database frozen outright (a hung host, whose TCP stack still acknowledges every byte and
// keep-alive) would otherwise hold the check, and the lease, until it answers again, and
// the node would not retake its lock on a standby promoted meanwhile.
func (s *Store) checkNode(ctx context.Context) error {
	n := &s.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.id == "" || s.dialect != Postgres {
		return nil
	}
	if n.conn != nil {
		pctx, cancel := s.q.readBound(ctx)
		err := n.conn.PingContext(pctx)
		if err == nil && s.fence.movedSince(n.checked) {
			// The store has seen a failover since: the lock may be on the old primary.
			err = n.conn.Raw(func(dc any) error { return s.fence.check(pctx, dc.(*stdlib.Conn).Conn().PgConn()) })
		}
		cancel()
		if err == nil {
			n.checked = time.Now()
			return nil
		}
		n.conn.Raw(func(any) error { return driver.ErrBadConn })
		n.conn.Close()
		n.conn = nil
	}
	ctx, cancel := s.q.readBound(ctx)
	defer cancel()
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, $2)", nodeLockClass, int32(n.key)).Scan(&got); err != nil || !got {
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
		return errors.Join(err, errors.New("sqlstore: the node lock is not held"))
	}
	n.conn, n.retaken, n.checked = conn, time.Now(), time.Now()
	return nil
}

// release gives the registration up.
func (n *nodeLease) release() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var err error
	if n.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, uerr := n.conn.ExecContext(ctx, "SELECT pg_advisory_unlock_all()"); uerr != nil {
			n.conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the session, and its lock
		}
		err = n.conn.Close()
		n.conn = nil
	}
	if n.file != nil {
		err = unlockFile(n.file)
		n.file = nil
	}
	return err
}

// ErrServeLocked is the embedded store's error (RegisterNode, Open) when another process
// serves the same database: it holds the serve lock.
var ErrServeLocked = errors.New("another payvault serve is using this database")

// RegisterNode registers this process as a serving node and returns its id, which it keeps
// until Close. On SQLite it fails when another process serves the same database.
func (s *Store) RegisterNode(ctx context.Context) (string, error) {
	const op = "sqlstore.RegisterNode"
	s.node.mu.Lock()
	defer s.node.mu.Unlock()
	if s.node.id != "" {
		return s.node.id, nil
	}
	var b [4]byte
	rand.Read(b[:])
	key := binary.BigEndian.Uint32(b[:])
	id := fmt.Sprintf("%08x", key)
	if s.dialect == Postgres {
		conn, err := s.wdb.Conn(ctx)
		if err != nil {
			return "", vault.E(op, vault.Unavailable, err)
		}
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, $2)", nodeLockClass, int32(key)); err != nil {
			conn.Close()
			return "", vault.E(op, vault.Unavailable, err)
		}
		s.node.conn, s.node.checked = conn, time.Now()
	} else {
		f, err := s.lockServing(ctx)
		if err != nil {
			return "", vault.E(op, vault.Unavailable, err)
		}
		s.node.file = f
	}
	s.node.id, s.node.key = id, key
	return id, nil
}

// lockServing takes the SQLite serve lock for a serving node. A tool that makes a new store
// (merchant create or migrate, beside a server starting on it) holds the lock while it
// migrates: the node waits for it as a tool waits for a server (awaitMigration), and takes
// the lock once the tool releases it, as it does when its migration ends.
func (s *Store) lockServing(ctx context.Context) (*os.File, error) {
	path := s.path + "-serve.lock"
	f, err := lockFile(path)
	if !errors.Is(err, ErrServeLocked) {
		return f, err
	}
	p, perr := s.provider(false)
	if perr != nil {
		return nil, perr
	}
	f, werr := s.awaitMigration(ctx, p, true)
	switch {
	case f != nil:
		return f, nil
	case errors.Is(werr, ErrServeLocked):
		return nil, err
	case werr != nil:
		return nil, werr
	}
	for deadline := time.Now().Add(migrationStill); ; {
		if f, err = lockFile(path); !errors.Is(err, ErrServeLocked) || time.Now().After(deadline) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(migrationPoll):
		}
	}
}

// NodeAlive reports whether the node named id may still run. Ids this store did not hand out
// count as alive. Kinds: Unavailable.
func (s *Store) NodeAlive(ctx context.Context, id string) (bool, error) {
	s.node.mu.Lock()
	self := s.node.id
	s.node.mu.Unlock()
	key, err := strconv.ParseUint(id, 16, 32)
	if id == self || len(id) != 8 || err != nil {
		return true, nil
	}
	if s.dialect != Postgres {
		// A registered process owns the database: every other node is gone.
		return self == "" || !fileLocks, nil
	}
	// A lock missing because PostgreSQL restarted is no proof: the nodes retake theirs within
	// KeepNode's period. This node checks its own first, and counts every node alive for a
	// while after it had to retake it.
	if err := s.checkNode(ctx); err != nil {
		return true, vault.E("sqlstore.NodeAlive", vault.Unavailable, err)
	}
	s.node.mu.Lock()
	retaken := s.node.retaken
	s.node.mu.Unlock()
	if !retaken.IsZero() && time.Since(retaken) < nodeGrace {
		return true, nil
	}
	ctx, cancel := s.q.readBound(ctx)
	defer cancel()
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return true, vault.E("sqlstore.NodeAlive", vault.Unavailable, err)
	}
	defer conn.Close()
	// A PostgreSQL that started less than restartGrace ago ended every node's session, and the
	// nodes have not all retaken their locks yet: a node started just after the restart
	// (which never lost a session of its own) must not take them for dead either. Nor just
	// after a promotion: a promoted standby held no node's lock, and the nodes take theirs on
	// it within KeepNode's period (up to the read wait with a silent old primary). PostgreSQL
	// keeps no promotion time, but the last transaction it replayed as a standby
	// (pg_last_xact_replay_timestamp, NULL on a server that never was one) is the nodes' last
	// write before the failover, so Config.PromoteGrace from it covers a failover under load.
	// After a quiet spell it covers what matters: a serving node's grace is the age at which
	// payments resolves a transaction whatever its node, and every transaction in flight at
	// the failover was written no later than that last replayed one.
	var got, restarted bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, $2), pg_postmaster_start_time() > now() - make_interval(secs => $3) OR COALESCE(pg_last_xact_replay_timestamp() > now() - make_interval(secs => $4), FALSE)",
		nodeLockClass, int32(key), time.Duration(restartGrace.Load()).Seconds(), s.promoteGrace.Seconds()).Scan(&got, &restarted); err != nil {
		return true, vault.E("sqlstore.NodeAlive", vault.Unavailable, err)
	}
	if got {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, $2)", nodeLockClass, int32(key)); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the session, and its lock
		}
	}
	return !got || restarted, nil
}
