package storetest

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
)

// Postgres is a throwaway PostgreSQL server started for a test binary: initdb and pg_ctl into
// a temp dir, listening only on a unix socket there.
type Postgres struct {
	dir     string
	opts    string // opts are the server's settings, given to pg_ctl start.
	port    int    // port is the server's port on 127.0.0.1 and its socket's number; 0 is unix socket only, as 5432.
	name    string // name is a standby's application_name, which its primary knows it by; "" is walreceiver.
	bin     string
	uid     int
	gid     int
	asUser  bool
	counter int
	mu      sync.Mutex
	admin   *sql.DB
}

// server is the binary's shared test server and durable its durable one, for benchmarks;
// RunMain stops them.
var (
	serverOnce sync.Once
	server     *Postgres
	serverErr  error

	durableOnce sync.Once
	durable     *Postgres
	durableErr  error
)

// RunMain runs a package's tests and then stops the PostgreSQL server if one was started.
// Packages that call PostgresDSN use it from TestMain.
func RunMain(m *testing.M) { RunMainThen(m) }

// RunMainThen is RunMain with cleanups run after the tests, before the process exits (a
// binary built for the tests, say).
func RunMainThen(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if server != nil {
		server.Stop()
	}
	if durable != nil {
		durable.Stop()
	}
	os.Exit(code)
}

// PostgresDSN returns the DSN of a fresh, empty database on the shared test server, starting
// the server on first use. Without PostgreSQL the test is skipped, or fails when CI=true.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	return sharedServer(tb).mustDatabase(tb, "")
}

// PostgresLinguisticDSN is PostgresDSN for a database whose default collation is the ICU
// collation of en-US, as an operator's database created with LC_COLLATE en_US.UTF-8 sorts
// text, rather than the test server's byte order (C.UTF-8).
func PostgresLinguisticDSN(tb testing.TB) string {
	tb.Helper()
	return sharedServer(tb).mustDatabase(tb, "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
}

// sharedServer returns the binary's shared test server, starting it on first use. Without
// PostgreSQL the test is skipped, or fails when CI=true.
func sharedServer(tb testing.TB) *Postgres {
	tb.Helper()
	serverOnce.Do(func() { server, serverErr = StartPostgres() })
	requirePostgres(tb, serverErr)
	return server
}

// requirePostgres skips tb when PostgreSQL could not be started (err), or fails it when
// CI=true.
func requirePostgres(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("PostgreSQL is required under CI=true: %v", err)
	}
	tb.Skipf("PostgreSQL not available: %v", err)
}

// mustDatabase creates an empty database with the CREATE DATABASE options opts and returns
// its DSN.
func (p *Postgres) mustDatabase(tb testing.TB, opts string) string {
	tb.Helper()
	dsn, err := p.newDatabase(opts)
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	return dsn
}

// DurablePostgresDSN is PostgresDSN on a second shared server that runs with fsync,
// synchronous_commit and full_page_writes on, as in production, for benchmarks whose
// figures must include the cost of a durable commit.
func DurablePostgresDSN(tb testing.TB) string {
	tb.Helper()
	durableOnce.Do(func() { durable, durableErr = StartPostgresWith(PostgresOptions{Durable: true}) })
	requirePostgres(tb, durableErr)
	dsn, err := durable.NewDatabase()
	if err != nil {
		tb.Fatalf("create benchmark database: %v", err)
	}
	return dsn
}

// FindPostgresBin returns the directory holding initdb, pg_ctl and postgres.
func FindPostgresBin() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return pgVersion(matches[i]) > pgVersion(matches[j]) })
	for _, m := range matches {
		return filepath.Dir(m), nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("initdb/pg_ctl not found in /usr/lib/postgresql/*/bin or PATH (apt-get install -y postgresql)")
}

func pgVersion(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// PostgresOptions tune a server started by StartPostgresWith.
type PostgresOptions struct {
	// Durable keeps fsync, synchronous_commit and full_page_writes on. Without it the server
	// trades durability for test speed.
	Durable bool
	// Port, when set, has the server listen on 127.0.0.1:Port as well as on its unix socket.
	Port int
	// Primary has the server stream its WAL to standbys (StartStandby) and wait, at every
	// commit, for one of them to have written it to disk (synchronous_standby_names '*').
	// Until a standby is connected, a commit waits.
	Primary bool
	// SyncStandbys, with Primary, replaces '*' with these synchronous_standby_names, set
	// with ALTER SYSTEM as an operator would: they are kept in the data dir, so a standby
	// copied from the server has them too, and keeps them once promoted.
	SyncStandbys string
	// Settings are more server settings, as -c flags.
	Settings string
}

// StartPostgres initialises and starts a non-durable server for tests in a new temp dir.
func StartPostgres() (*Postgres, error) { return StartPostgresWith(PostgresOptions{}) }

// StartPostgresWith initialises and starts a server in a new temp dir. As root it runs the
// server as the postgres user, since initdb refuses to run as root.
func StartPostgresWith(o PostgresOptions) (*Postgres, error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin, port: o.Port}
	if err := p.makeDir(); err != nil {
		return nil, err
	}
	data := filepath.Join(p.dir, "data")
	if out, err := p.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		if out2, err2 := p.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"); err2 != nil {
			return nil, fmt.Errorf("initdb: %v\n%s\n%s", err, out, out2)
		}
	}
	durability := "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	if o.Durable {
		durability = "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
	}
	if o.Primary {
		durability += " -c wal_level=replica -c max_wal_senders=4"
		if o.SyncStandbys == "" {
			durability += " -c synchronous_standby_names='*'"
		}
	}
	p.opts = fmt.Sprintf("%s -c unix_socket_directories=%s %s -c max_connections=200 -c shared_buffers=64MB %s", p.listen(), p.dir, durability, o.Settings)
	if err := p.startAdmin(); err != nil {
		return nil, err
	}
	if o.Primary && o.SyncStandbys != "" {
		if err := p.alterSystem(context.Background(), "synchronous_standby_names", o.SyncStandbys); err != nil {
			p.Stop()
			return nil, err
		}
	}
	return p, nil
}

// makeDir sets the user the server runs as (the postgres user, as root, since initdb refuses
// to run as root) and makes its temp dir.
func (p *Postgres) makeDir() error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %w", err)
		}
		p.uid, _ = strconv.Atoi(u.Uid)
		p.gid, _ = strconv.Atoi(u.Gid)
		p.asUser = true
	}
	var err error
	if p.dir, err = os.MkdirTemp("", "payvault-pg-"); err != nil {
		return err
	}
	if p.asUser {
		return os.Chown(p.dir, p.uid, p.gid)
	}
	return nil
}

// listen returns the server's listen_addresses and port settings.
func (p *Postgres) listen() string {
	if p.port == 0 {
		return "-c listen_addresses=''"
	}
	return fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d", p.port)
}

// startAdmin starts the server and opens its admin pool once the server answers; it stops
// the server when it fails.
func (p *Postgres) startAdmin() error {
	if err := p.Start(); err != nil {
		p.Stop()
		return err
	}
	var err error
	p.admin, err = sql.Open("pgx", p.DSN("postgres"))
	if err != nil {
		p.Stop()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if err = p.admin.PingContext(ctx); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			p.Stop()
			return fmt.Errorf("postgres did not answer: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// OwnPostgres starts a server for tb alone, which the test may halt and start again, and
// stops it when the test ends. Without PostgreSQL the test is skipped, or fails when CI=true.
func OwnPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	p, err := StartPostgres()
	requirePostgres(tb, err)
	tb.Cleanup(p.Stop)
	return p
}

// Start starts the server (again, after Halt) and returns once it accepts connections.
func (p *Postgres) Start() error {
	data := filepath.Join(p.dir, "data")
	if out, err := p.run("pg_ctl", "-D", data, "-o", p.opts, "-l", filepath.Join(p.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// Halt shuts the server down (fast: sessions are ended) and keeps its files, so that Start
// can start it again. The DSNs it handed out then find no server.
func (p *Postgres) Halt() error {
	if out, err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// NewPasswordDatabase creates an empty database owned by a new role that must log in with
// password (scram-sha-256; every other role is trusted), and returns its DSN, password
// included.
func (p *Postgres) NewPasswordDatabase(role, password string) (string, error) {
	dsn, err := p.NewDatabase()
	if err != nil {
		return "", err
	}
	db := strings.TrimPrefix(dsn[:strings.Index(dsn, "?")], "postgres://postgres@/")
	if _, err := p.admin.Exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'; ALTER DATABASE %s OWNER TO %s", role, password, db, role)); err != nil {
		return "", err
	}
	hba := filepath.Join(p.dir, "data", "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		return "", err
	}
	line := fmt.Sprintf("local %s %s scram-sha-256\n", db, role)
	if err := os.WriteFile(hba, append([]byte(line), old...), 0o600); err != nil {
		return "", err
	}
	if _, err := p.admin.Exec("SELECT pg_reload_conf()"); err != nil {
		return "", err
	}
	// The server reloads pg_hba.conf after pg_reload_conf returns: wait until a wrong
	// password is refused.
	wrong := "postgres://" + role + ":not-" + password + "@/" + db + "?host=" + p.dir + "&sslmode=disable"
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := sql.Open("pgx", wrong)
		if err != nil {
			return "", err
		}
		err = c.Ping()
		c.Close()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			return "", errors.New("pg_hba.conf was not reloaded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "postgres://" + role + ":" + password + "@/" + db + "?host=" + p.dir + "&sslmode=disable", nil
}

func (p *Postgres) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if p.asUser {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}}
	}
	return cmd.CombinedOutput()
}

// DSN returns the URL of a database on this server.
func (p *Postgres) DSN(db string) string {
	dsn := "postgres://postgres@/" + db + "?host=" + p.dir + "&sslmode=disable"
	if p.port != 0 {
		dsn += "&port=" + strconv.Itoa(p.port)
	}
	return dsn
}

// NewDatabase creates an empty database and returns its DSN.
func (p *Postgres) NewDatabase() (string, error) { return p.newDatabase("") }

// newDatabase is NewDatabase with further CREATE DATABASE options.
func (p *Postgres) newDatabase(opts string) (string, error) {
	name, err := p.createDatabase(opts)
	if err != nil {
		return "", err
	}
	return p.DSN(name), nil
}

// createDatabase creates an empty database with the CREATE DATABASE options opts and
// returns its name.
func (p *Postgres) createDatabase(opts string) (string, error) {
	p.mu.Lock()
	p.counter++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), p.counter)
	p.mu.Unlock()
	if _, err := p.admin.Exec("CREATE DATABASE " + name + " TEMPLATE template0 " + opts); err != nil {
		return "", err
	}
	return name, nil
}

// Stop shuts the server down and removes its files.
func (p *Postgres) Stop() {
	if p.admin != nil {
		p.admin.Close()
	}
	p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
	if strings.HasPrefix(p.dir, os.TempDir()) {
		os.RemoveAll(p.dir)
	}
}

// Socket returns the path of the server's Unix socket, for tests that relay to it.
func (p *Postgres) Socket() string {
	return filepath.Join(p.dir, ".s.PGSQL."+strconv.Itoa(cmp.Or(p.port, 5432)))
}

// Freeze stops every process of the server with SIGSTOP, the postmaster first so that it
// starts no other: the server then answers nothing, while its socket still takes connections
// and data, as a database host whose disk stopped answering does. The returned thaw sends
// SIGCONT; it runs at the latest when tb ends, and once only.
func (p *Postgres) Freeze(tb testing.TB) (thaw func()) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "data", "postmaster.pid"))
	if err != nil {
		tb.Fatalf("freeze: %v", err)
	}
	pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		tb.Fatalf("freeze: postmaster.pid: %v", err)
	}
	thaws := []func(){FreezeProcess(tb, pm)}
	for _, c := range childProcesses(pm) {
		thaws = append(thaws, FreezeProcess(tb, c))
	}
	return func() {
		for _, t := range thaws {
			t()
		}
	}
}

// FreezeProcess stops one process with SIGSTOP (a PostgreSQL backend, say) and returns a thaw
// that sends SIGCONT; it runs at the latest when tb ends, and once only.
func FreezeProcess(tb testing.TB, pid int) (thaw func()) {
	tb.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		tb.Fatalf("SIGSTOP %d: %v", pid, err)
	}
	var once sync.Once
	thaw = func() { once.Do(func() { syscall.Kill(pid, syscall.SIGCONT) }) }
	tb.Cleanup(thaw)
	return thaw
}

// childProcesses returns the processes whose parent is pid (Linux, /proc).
func childProcesses(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}
