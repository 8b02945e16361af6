package storetest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Replicated is a PostgreSQL primary and a streaming standby of it on 127.0.0.1, each on a
// port of its own, for failover tests. The primary commits only once the standby has
// written the commit to disk (synchronous replication, synchronous_commit on), so a commit
// it acknowledged survives its loss.
type Replicated struct {
	Primary *Postgres
	Standby *Postgres
}

// OwnReplicated starts a primary and a synchronous standby for tb alone, and stops both and
// removes their files when the test ends. Without PostgreSQL the test is skipped, or fails
// when CI=true.
func OwnReplicated(tb testing.TB) *Replicated {
	tb.Helper()
	r, err := startReplicated()
	requirePostgres(tb, err)
	tb.Cleanup(func() {
		r.Standby.Stop()
		r.Primary.Stop()
	})
	return r
}

func startReplicated() (*Replicated, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	primary, err := StartPostgresWith(PostgresOptions{Durable: true, Port: ports[0], Primary: true})
	if err != nil {
		return nil, err
	}
	standby, err := primary.startStandby(ports[1])
	if err != nil {
		primary.Stop()
		return nil, err
	}
	return &Replicated{Primary: primary, Standby: standby}, nil
}

// freePorts returns n ports on 127.0.0.1 that were free a moment ago, chosen by the kernel.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startStandby copies the running server p with pg_basebackup -R into a new temp dir and
// starts the copy there as a hot standby that streams p's WAL, listening on 127.0.0.1:port.
func (p *Postgres) startStandby(port int) (*Postgres, error) {
	s := &Postgres{bin: p.bin, port: port}
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.run("pg_basebackup", "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "-R", "-X", "stream", "-c", "fast"); err != nil {
		s.Stop()
		return nil, fmt.Errorf("pg_basebackup: %v\n%s", err, out)
	}
	s.opts = fmt.Sprintf("%s -c unix_socket_directories=%s -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c hot_standby=on -c max_connections=200 -c shared_buffers=64MB", s.listen(), s.dir)
	if err := s.startAdmin(); err != nil {
		return nil, err
	}
	return s, nil
}

// Port returns the server's port on 127.0.0.1 (0: unix socket only).
func (p *Postgres) Port() int { return p.port }

// Crash stops the server at once, as a power cut would (pg_ctl -m immediate: no checkpoint,
// sessions cut), and keeps its files.
func (p *Postgres) Crash() error {
	if out, err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Promote makes a standby a primary (pg_ctl promote) and returns once it takes writes.
func (p *Postgres) Promote() error {
	if out, err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-w", "-t", "60", "promote"); err != nil {
		return fmt.Errorf("pg_ctl promote: %v\n%s", err, out)
	}
	return nil
}

// NewDatabase creates an empty database on the primary and returns a DSN for it that
// names both servers, primary first, and asks for a session that takes writes
// (target_session_attrs=read-write): a client that cannot open one on the primary tries
// the standby, which it takes once promoted.
func (r *Replicated) NewDatabase() (string, error) {
	name, err := r.Primary.createDatabase("")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=%s sslmode=disable target_session_attrs=read-write",
		r.Primary.port, r.Standby.port, name), nil
}

// CutStandby ends the standby's replication (its primary_conninfo emptied) and returns once
// the primary has no standby: the primary's commits then wait, as in a network partition
// between the two.
func (r *Replicated) CutStandby(ctx context.Context) error {
	if _, err := r.Standby.admin.ExecContext(ctx, "ALTER SYSTEM SET primary_conninfo = ''"); err != nil {
		return err
	}
	if _, err := r.Standby.admin.ExecContext(ctx, "SELECT pg_reload_conf()"); err != nil {
		return err
	}
	for {
		var n int
		if err := r.Primary.admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_replication").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the standby still replicates: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitingForStandby returns how many of the server's sessions wait for a synchronous
// standby to confirm their commit.
func (p *Postgres) WaitingForStandby(ctx context.Context) (int, error) {
	var n int
	err := p.admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'").Scan(&n)
	return n, err
}
