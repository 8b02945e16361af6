package storetest

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
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
	primary, standbys := ownCluster(tb, "", "")
	return &Replicated{Primary: primary, Standby: standbys[0]}
}

// Quorum is a PostgreSQL primary and two streaming standbys of it on 127.0.0.1, set up as
// docs/operations.md tells operators to: the standbys are made with pg_basebackup -R under
// the application_names s1 and s2, and the primary keeps synchronous_standby_names
// 'ANY 1 (s1, s2)' in its data dir (so the standbys, copies of it, keep it too), with
// synchronous_commit on. A commit returns once either standby has written it to disk.
type Quorum struct {
	Primary  *Postgres
	Standbys []*Postgres // s1 and s2
}

// OwnQuorum starts a primary and its two quorum standbys for tb alone, and stops them and
// removes their files when the test ends. It does not wait for the standbys to stream:
// see SyncStates. Without PostgreSQL the test is skipped, or fails when CI=true.
func OwnQuorum(tb testing.TB) *Quorum {
	tb.Helper()
	primary, standbys := ownCluster(tb, "ANY 1 (s1, s2)", "s1", "s2")
	return &Quorum{Primary: primary, Standbys: standbys}
}

// ownCluster starts a primary with the synchronous_standby_names sync ("": '*' on its
// command line) and a standby of it for each of names (its application_name; "": none), for
// tb alone, and stops them and removes their files when the test ends.
func ownCluster(tb testing.TB, sync string, names ...string) (*Postgres, []*Postgres) {
	tb.Helper()
	primary, standbys, err := startCluster(sync, names)
	requirePostgres(tb, err)
	tb.Cleanup(func() {
		for _, s := range standbys {
			s.Stop()
		}
		primary.Stop()
	})
	return primary, standbys
}

func startCluster(sync string, names []string) (*Postgres, []*Postgres, error) {
	ports, err := freePorts(1 + len(names))
	if err != nil {
		return nil, nil, err
	}
	primary, err := StartPostgresWith(PostgresOptions{Durable: true, Port: ports[0], Primary: true, SyncStandbys: sync})
	if err != nil {
		return nil, nil, err
	}
	var standbys []*Postgres
	for i, name := range names {
		s, err := primary.startStandby(ports[1+i], name)
		if err != nil {
			for _, s := range standbys {
				s.Stop()
			}
			primary.Stop()
			return nil, nil, err
		}
		standbys = append(standbys, s)
	}
	return primary, standbys, nil
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
// A name is the standby's application_name (pg_basebackup -d 'application_name=…'), which
// synchronous_standby_names lists; without one it connects as walreceiver.
func (p *Postgres) startStandby(port int, name string) (*Postgres, error) {
	s := &Postgres{bin: p.bin, port: port, name: name}
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	data := filepath.Join(s.dir, "data")
	args := []string{"-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "-R", "-X", "stream", "-c", "fast"}
	if name != "" {
		args = append(args, "-d", "application_name="+name)
	}
	if out, err := s.run("pg_basebackup", args...); err != nil {
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
	return newClusterDatabase(r.Primary, r.Standby)
}

// NewDatabase creates an empty database on the primary and returns a DSN for it that names
// the primary, s1 and s2 in that order, and asks for a session that takes writes
// (target_session_attrs=read-write): a client that cannot open one on the primary takes the
// first standby that has been promoted.
func (q *Quorum) NewDatabase() (string, error) {
	return newClusterDatabase(q.Primary, q.Standbys...)
}

// newClusterDatabase creates an empty database on primary and returns a multi-host DSN for
// it that names primary and then standbys, with target_session_attrs=read-write.
func newClusterDatabase(primary *Postgres, standbys ...*Postgres) (string, error) {
	name, err := primary.createDatabase("")
	if err != nil {
		return "", err
	}
	var hosts, ports []string
	for _, p := range append([]*Postgres{primary}, standbys...) {
		hosts = append(hosts, "127.0.0.1")
		ports = append(ports, strconv.Itoa(p.port))
	}
	return fmt.Sprintf("host=%s port=%s user=postgres dbname=%s sslmode=disable target_session_attrs=read-write",
		strings.Join(hosts, ","), strings.Join(ports, ","), name), nil
}

// CutStandby ends the standby's replication (its primary_conninfo emptied) and returns once
// the primary has no standby: the primary's commits then wait, as in a network partition
// between the two.
func (r *Replicated) CutStandby(ctx context.Context) error {
	return r.Standby.CutFrom(ctx, r.Primary)
}

// CutFrom ends the standby s's replication from primary (its primary_conninfo emptied and
// reloaded), as in a network partition between the two, and returns once primary no longer
// lists it in pg_stat_replication.
func (s *Postgres) CutFrom(ctx context.Context, primary *Postgres) error {
	if err := s.alterSystem(ctx, "primary_conninfo", ""); err != nil {
		return err
	}
	for {
		var n int
		if err := primary.admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1", s.applicationName()).Scan(&n); err != nil {
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

// Follow points the standby s at primary, under its application_name (its primary_conninfo
// set and reloaded), as docs/operations.md tells operators to point the other standby at
// one that was promoted. It does not wait for s to stream: see SyncStates.
func (s *Postgres) Follow(ctx context.Context, primary *Postgres) error {
	return s.alterSystem(ctx, "primary_conninfo", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=%s", primary.port, s.applicationName()))
}

// applicationName returns the name the standby's primary knows it by.
func (s *Postgres) applicationName() string { return cmp.Or(s.name, "walreceiver") }

// alterSystem sets a server setting with ALTER SYSTEM, kept in postgresql.auto.conf, and
// reloads the server's configuration.
func (p *Postgres) alterSystem(ctx context.Context, setting, value string) error {
	if _, err := p.admin.ExecContext(ctx, fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", setting, strings.ReplaceAll(value, "'", "''"))); err != nil {
		return err
	}
	_, err := p.admin.ExecContext(ctx, "SELECT pg_reload_conf()")
	return err
}

// SyncStates returns the sync_state in pg_stat_replication (sync, quorum, async or
// potential) of each standby that streams from the server, by application_name.
func (p *Postgres) SyncStates(ctx context.Context) (map[string]string, error) {
	rows, err := p.admin.QueryContext(ctx, "SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming'")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	states := map[string]string{}
	for rows.Next() {
		var name, state string
		if err := rows.Scan(&name, &state); err != nil {
			return nil, err
		}
		states[name] = state
	}
	return states, rows.Err()
}

// WaitingForStandby returns how many of the server's sessions wait for a synchronous
// standby to confirm their commit.
func (p *Postgres) WaitingForStandby(ctx context.Context) (int, error) {
	var n int
	err := p.admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'").Scan(&n)
	return n, err
}
