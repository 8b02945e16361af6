// Package sqlstore is payvault's one hand-written SQL layer. It serves both SQLite
// (modernc.org/sqlite, the embedded store) and PostgreSQL (pgx), with goose migrations
// embedded per dialect.
package sqlstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/payvault/payvault/internal/vault"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// Dialect names a database engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config says which database to open.
type Config struct {
	// Path is the SQLite database file; it is used when DSN is empty.
	Path string
	// DSN is a postgres:// URL.
	DSN string
	// ReadConns bounds the read pool (SQLite) or the main pool (PostgreSQL, whose list pool
	// has at most listConns sessions more, and not more than ReadConns); 0 picks a default.
	ReadConns int
	// SkipMigrate leaves the schema alone: for tools that only read, and for a serving node,
	// which registers (takes the serve lock) first and then calls Migrate itself.
	SkipMigrate bool
	// Committers is the number of group-commit goroutines on PostgreSQL (SQLite has one);
	// 0 picks one. More can help a node that serves many merchants at once; see batch.go.
	Committers int
	// MaxBatch caps the writes gathered into one transaction; 0 picks a default.
	MaxBatch int
	// WALMaxPages bounds the SQLite WAL: past this many pages the background checkpoint
	// restarts it (checkpoint.go); 0 picks 2,048 pages (8 MiB).
	WALMaxPages int
	// LockTimeout bounds a PostgreSQL statement's wait for a lock (pgsession.go): 0 picks
	// 10 s, a negative value waits without bound. A lock_timeout in the DSN wins.
	LockTimeout time.Duration
	// QueueWait bounds how long a Write waits for a committer to start it; 0 picks 15 s.
	QueueWait time.Duration
	// ReadWait bounds a PostgreSQL read outside a Write, from its start until its rows are
	// read, when the database does not answer (stall.go); 0 picks 30 s, and a negative
	// value bounds nothing (the CLI's tools, whose whole-table counts may take longer on a
	// large store, and whose operator is there to stop them).
	ReadWait time.Duration
	// WriteWait bounds each statement of a PostgreSQL Write's transaction, and its COMMIT,
	// when the database does not answer (stall.go); 0 picks 15 s.
	WriteWait time.Duration
	// CommitResolveWait bounds how long a committer asks PostgreSQL what became of a COMMIT
	// whose answer it did not get (commitlost.go); 0 picks 5 s.
	CommitResolveWait time.Duration
	// PromoteGrace is how long after the last transaction a promoted standby replayed
	// NodeAlive counts every node alive (PostgreSQL keeps no promotion time); 0 picks 45 s:
	// KeepNode's period and the read wait, within which the nodes take their locks on the
	// new primary, and a margin. A serving node sets it to the age at which
	// payments resolves a RECEIVED transaction whatever its node (payments.RecoverAge): a
	// transaction its node may still complete was written before the failover, so no later
	// than that last replayed one, and once the grace is over it is old enough to be resolved
	// anyway. A failover after a quiet spell is then covered too.
	PromoteGrace time.Duration
	// KeyRefresh is how often the nodes reload the keysets (keys.Keyring.Watch); 0 picks
	// keys.DefaultRefreshEvery. It sets the key fence bound (Store.KeyFence).
	KeyRefresh time.Duration
	// WriteCheck, when set, runs first in each Write's fn, inside its transaction (on SQLite,
	// under the write lock): an error from it is that Write's, and the fn writes nothing.
	// The CLI's tools on the embedded store refuse with it a store that copy-store moved
	// while they ran; a serving node sets none (its serve lock keeps copy-store out).
	WriteCheck func() error
}

// Store is the SQL implementation of vault.Store.
type Store struct {
	q
	auditMAC atomic.Pointer[vault.AuditMAC]
	dialect  Dialect
	wdb      *sql.DB // wdb is the write pool: one connection on SQLite.
	rdb      *sql.DB
	// ldb is PostgreSQL's list pool: a few sessions that keep few statements prepared, for
	// the lists whose statements name their locations (listStatements).
	ldb *sql.DB

	// Group commit (batch.go): Write queues requests for the committers.
	mu         sync.RWMutex // mu guards closed against sends on a closed queue.
	closed     bool
	queue      chan *writeReq
	committers sync.WaitGroup
	maxBatch   int
	queueWait  time.Duration
	writeCheck func() error // writeCheck is Config.WriteCheck.
	// writeWait bounds each statement of a PostgreSQL write transaction, and resolveWait the
	// resolution of a lost COMMIT (stall.go, commitlost.go).
	writeWait   time.Duration
	resolveWait time.Duration
	keyRefresh  time.Duration  // keyRefresh is Config.KeyRefresh, defaulted (Store.KeyFence).
	lostAt      atomic.Int64   // lostAt is when a PostgreSQL connection was last found lost (pglost.go).
	fence       *timelineFence // fence refuses sessions on an old primary (PostgreSQL, pgsession.go).
	stmts       *stmtCache
	reads       *poolConn // reads runs SQLite's reads through prepared statements.
	nWrites     atomic.Int64
	nCommits    atomic.Int64
	nPipelined  atomic.Int64
	nUnfenced   atomic.Int64    // nUnfenced counts fns that stored sealed data without key states (WriteStats.Unfenced).
	nLost       [3]atomic.Int64 // nLost counts lost COMMIT answers: committed, rolled back, unknown
	ckptKick    chan struct{}   // ckptKick wakes the SQLite checkpointer (checkpoint.go).
	ckptDone    chan struct{}
	walMax      int         // walMax is WALMaxPages, defaulted.
	walLong     atomic.Bool // walLong asks the committer to restart the WAL (checkpoint.go).

	promoteGrace time.Duration // promoteGrace is Config.PromoteGrace, defaulted (node.go).

	folding    atomic.Bool    // folding: a fold started by startFold runs now.
	background sync.WaitGroup // background is the goroutines Close waits for (startFold).
	countRows  sync.Map       // countRows: merchant ID → *atomic.Int64, rows of counts added since its last fold (addedCountRows).

	path string    // path is the SQLite database file.
	node nodeLease // node is this process's registration as a serving node (node.go).
}

var (
	_ vault.Store           = (*Store)(nil)
	_ vault.Tx              = (*tx)(nil)
	_ vault.InstrumentPager = (*Store)(nil)
)

// Open connects to the database and migrates it to the current schema.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{}
	var err error
	if cfg.DSN != "" {
		err = s.openPostgres(ctx, cfg)
	} else {
		err = s.openSQLite(ctx, cfg)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.q = q{db: s.rdb, d: s.dialect, rb: &rebinder{}, audit: &s.auditMAC}
	if s.dialect == SQLite {
		s.reads = &poolConn{db: s.rdb}
		s.q.db = s.reads
	} else {
		s.q.db = pgReads{s, s.wdb}
		s.q.lists = pgReads{s, s.ldb}
		s.q.fold = s.startFold
		switch s.q.readWait = cfg.ReadWait; {
		case s.q.readWait < 0:
			s.q.readWait = 0 // unbounded
		case s.q.readWait == 0:
			s.q.readWait = defaultReadWait
		}
		if s.promoteGrace = cfg.PromoteGrace; s.promoteGrace <= 0 {
			s.promoteGrace = defaultPromoteGrace
		}
	}
	if !cfg.SkipMigrate {
		if _, err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.startCommitters(cfg)
	return s, nil
}

func (s *Store) openSQLite(ctx context.Context, cfg Config) error {
	s.dialect = SQLite
	if cfg.Path == "" {
		return errors.New("sqlstore: no database path")
	}
	s.path = cfg.Path
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	// A new database file is made 0600 before SQLite opens it, whatever the umask: SQLite
	// gives its -wal and -shm files the database file's mode.
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	// A backup copy that no store has opened is refused beside another store's WAL, before
	// anything touches either file, and its mark is cleared otherwise (restored.go).
	marked, err := checkRestored(f, cfg.Path)
	f.Close()
	if err != nil {
		return err
	}
	// A store made by a payvault before new files were made 0600 (0644 under the usual
	// umask) is narrowed to 0600 too, with the -wal and -shm files it left; a file this
	// process may not chmod is left as it is (its folder is 0700).
	for _, p := range []string{cfg.Path, cfg.Path + "-wal", cfg.Path + "-shm"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			os.Chmod(p, 0o600)
		}
	}
	if marked {
		if err := clearRestored(ctx, cfg.Path); err != nil {
			return fmt.Errorf("sqlstore: open sqlite: clearing the mark of a backup copy: %w", err)
		}
	}
	// wal_autocheckpoint(0): a goroutine checkpoints instead of the committer (checkpoint.go).
	// journal_size_limit: a WAL that a burst of writes grew is cut back to 64 MiB when it restarts.
	pragmas := []string{"busy_timeout(15000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "secure_delete(1)", "wal_autocheckpoint(0)", "journal_size_limit(67108864)"}
	v := url.Values{}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	v.Set("_txlock", "immediate")
	dsn := "file:" + cfg.Path + "?" + v.Encode()
	// The one write connection gets an 8 MiB page cache (SQLite's default is 2 MiB): a card
	// create lands on random pages of the token and profile indexes, and with the default the
	// committer read many of them back with pread while every writer waited on it. A small
	// gain (about 4% in BenchmarkCardCreateProfile, less than the noise over HTTP) for about
	// 10 MB of RSS; see docs/benchmarks.md.
	if s.wdb, err = sql.Open("sqlite", dsn+"&_pragma=cache_size(-8192)"); err != nil {
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	if s.rdb, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	n := cfg.ReadConns
	if n <= 0 {
		n = 8
	}
	s.rdb.SetMaxOpenConns(n)
	s.rdb.SetMaxIdleConns(n)
	if err := pingSQLite(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		return fmt.Errorf("sqlstore: sqlite is not in WAL mode (%q, %v)", mode, err)
	}
	return nil
}

// pingSQLite opens db's first connection, whose pragmas put a new database into WAL mode.
// That takes the database's exclusive lock, and SQLite answers SQLITE_BUSY at once, without
// its busy timeout, when another process is opening or making the same new database at that
// moment (a tool beside a first start). So a busy or locked answer is tried again, every
// migrationPoll for at most migrationWait, as a store being made is waited for elsewhere.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	for start := time.Now(); ; {
		err := db.PingContext(ctx)
		if err == nil || !retryable(err) || time.Since(start) > migrationWait {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(migrationPoll):
		}
	}
}

func (s *Store) openPostgres(ctx context.Context, cfg Config) error {
	s.dialect = Postgres
	s.fence = newTimelineFence()
	pc, err := pgConnConfig(cfg, s.fence)
	if err != nil {
		return fmt.Errorf("sqlstore: open postgres: %w", redactDSN(err, cfg.DSN))
	}
	n := cfg.ReadConns
	if n <= 0 {
		n = 32
	}
	s.wdb = s.pgPool(pc, n)
	s.rdb = s.wdb
	// The lists that write their locations into their statements run in a pool of their own,
	// whose sessions keep fewer statements prepared (listStatements).
	lc := pc.Copy()
	lc.StatementCacheCapacity = listStatements
	s.ldb = s.pgPool(lc, min(n, listConns))
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s.wdb.PingContext(pctx); err != nil {
		return fmt.Errorf("sqlstore: connect to postgres: %w", redactDSN(err, cfg.DSN))
	}
	return nil
}

// pgPool opens a pool of at most n sessions configured by pc, each checked before reuse
// (shouldPing), and with no cancel request for a session that failed on its own
// (pgcancel.go).
func (s *Store) pgPool(pc *pgx.ConnConfig, n int) *sql.DB {
	db := sql.OpenDB(pgConnector{stdlib.GetConnector(*pc, stdlib.OptionShouldPing(s.shouldPing), stdlib.OptionBeforeConnect(gateCancels))})
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db
}

// redactDSN keeps a DSN's password out of an error message. An error it has to rewrite loses
// its chain (the cause's message holds the password), but keeps whether it was unavailable, so
// that a serving node still waits for a database it cannot reach (Unavailable).
func redactDSN(err error, dsn string) error {
	if p := dsnPassword(dsn); p != "" && strings.Contains(err.Error(), p) {
		return &redactedError{msg: strings.ReplaceAll(err.Error(), p, "xxxxx"), unavailable: unavailable(err)}
	}
	return err
}

// dsnPassword is the password a DSN gives, in either form (a postgres:// URL, or key=value
// words) or through PGPASSWORD or a password file, as pgx reads it; "" when none.
func dsnPassword(dsn string) string {
	if pc, err := pgconn.ParseConfig(dsn); err == nil {
		return pc.Password
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		p, _ := u.User.Password()
		return p
	}
	return ""
}

// redactedError is an error whose message redactDSN rewrote.
type redactedError struct {
	msg         string
	unavailable bool // unavailable is what unavailable said of the original error.
}

func (e *redactedError) Error() string { return e.msg }

// Ready reports whether the database answers and takes writes: on PostgreSQL a session that
// would be read-only (default_transaction_read_only, a standby) is not ready.
func (s *Store) Ready(ctx context.Context) error {
	if s.dialect != Postgres {
		return s.wdb.PingContext(ctx)
	}
	var ro string
	if err := s.wdb.QueryRowContext(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil {
		return err
	}
	if ro != "off" {
		return errors.New("sqlstore: the database is read-only")
	}
	return nil
}

// Dialect returns the engine in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the write pool, for tests and tools.
func (s *Store) DB() *sql.DB { return s.wdb }

// Close waits for queued writes to be answered, makes further writes fail with Unavailable,
// and closes the pools.
func (s *Store) Close() error {
	s.stopCommitters()
	s.background.Wait()
	s.reads.close()
	errs := []error{s.node.release()}
	if s.rdb != nil && s.rdb != s.wdb {
		errs = append(errs, s.rdb.Close())
	}
	if s.ldb != nil {
		errs = append(errs, s.ldb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

// provider returns the goose provider of this store's migrations; locked gives it, on
// PostgreSQL, the advisory lock that serialises migrating nodes.
func (s *Store) provider(locked bool) (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFS, "migrations/"+string(s.dialect))
	if err != nil {
		return nil, err
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
		if locked {
			// Nodes starting together take turns through a session advisory lock, which a
			// tool's AwaitMigration looks for (awaitPostgresMigration).
			locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lock.DefaultLockID), lock.WithLockTimeout(1, 120))
			if err != nil {
				return nil, err
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
	}
	p, err := goose.NewProvider(gd, s.wdb, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p, nil
}

// Schema is a database's schema measured against this payvault's migrations.
type Schema struct {
	// Current is the highest migration applied; 0 for a database without a schema yet.
	Current int64
	// Target is this payvault's latest migration.
	Target int64
	// Pending says that some of this payvault's migrations are not applied.
	Pending bool
}

// keysetsSince is the migration that created the keysets table (00001). No later migration
// changes it, so LoadKeyset reads it the same way at every schema version from this one on
// (TestKeysetsUnchanged keeps it so): the master key can be checked against the stored
// keysets before an older schema is migrated.
const keysetsSince = 1

// HasKeysets reports whether the schema has the keysets table, in the shape LoadKeyset reads,
// whether or not migrations are pending.
func (sc Schema) HasKeysets() bool { return sc.Current >= keysetsSince }

// Schema reads the database's schema without migrating it, and takes no lock. It writes
// nothing: on a database without a schema it creates not even goose's version table
// (versions). It fails, as Migrate does, for a schema newer than this payvault's.
func (s *Store) Schema(ctx context.Context) (Schema, error) {
	p, err := s.provider(false)
	if err != nil {
		return Schema{}, err
	}
	current, target, pending, err := s.versions(ctx, p)
	if err != nil {
		return Schema{}, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	if current > target {
		return Schema{}, newerSchema(current, target)
	}
	return Schema{Current: current, Target: target, Pending: pending}, nil
}

// versionTable is goose's table of the applied migrations.
const versionTable = "goose_db_version"

// versions returns the database's schema version, this payvault's latest, and whether some
// of this payvault's migrations are not applied (none is looked for in a schema newer than
// this payvault's), as p measures them. Each of goose's reads creates its version table in a
// database that has none, so a database without it is answered here, reading the catalog
// only, as version 0 with every migration pending: a command that reads, and refuses a
// database without a schema (a mistyped DSN, say), must leave it as it found it.
func (s *Store) versions(ctx context.Context, p *goose.Provider) (current, target int64, pending bool, err error) {
	if src := p.ListSources(); len(src) > 0 {
		target = src[len(src)-1].Version
	}
	// As goose looks for its table: in SQLite's catalog, or in PostgreSQL's current schema.
	query := "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)"
	if s.dialect == Postgres {
		query = "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE (current_schema() IS NULL OR schemaname = current_schema()) AND tablename = $1)"
	}
	var exists bool
	if err := s.wdb.QueryRowContext(ctx, query, versionTable).Scan(&exists); err != nil {
		return 0, 0, false, err
	}
	if !exists {
		return 0, target, target > 0, nil
	}
	if current, target, err = p.GetVersions(ctx); err != nil || current > target {
		return current, target, false, err
	}
	pending, err = p.HasPending(ctx)
	return current, target, pending, err
}

// newerSchema is the refusal of a database a newer payvault migrated.
func newerSchema(current, target int64) error {
	return fmt.Errorf("sqlstore: the database's schema is at version %d, newer than this payvault's (%d): a newer payvault has migrated it, and only a newer one may use it (docs/operations.md, Upgrading)", current, target)
}

// Migrate applies every pending migration and returns how many this call applied: none when
// another process applied them while this one waited for its lock. Concurrent callers on
// PostgreSQL are serialised by an advisory lock, so several nodes may start together.
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	p, err := s.provider(true)
	if err != nil {
		return 0, err
	}
	if s.dialect == SQLite {
		release, err := s.migrationLock(ctx, p)
		if err != nil {
			return 0, err
		}
		defer release()
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("sqlstore: migrate: %w", err)
	}
	// goose leaves a database a newer payvault migrated alone, and this one would then write
	// to a schema it does not know (an older payvault stored Fortis vaults without counting
	// them once 00007 kept counts): refuse it.
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return len(res), fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if current > target {
		return len(res), newerSchema(current, target)
	}
	return len(res), nil
}

// migrationLock holds the SQLite serve lock while migrations are pending, so that none runs
// under a process of another version serving the same database (it would carry on writing
// by the old schema's rules): a running server makes the migration fail, untouched. A serving
// process of this store holds the lock already; without pending migrations nothing is locked,
// so that `payvault merchant create` and the other commands work beside a running server.
// A process that is migrating the store now (a server on its first start) is waited for
// (awaitMigration), and its migrations are then not pending any more.
func (s *Store) migrationLock(ctx context.Context, p *goose.Provider) (release func(), err error) {
	release = func() {}
	if s.servesHere() || !fileLocks {
		return release, nil
	}
	f, err := s.awaitMigration(ctx, p, true)
	if errors.Is(err, ErrServeLocked) {
		return nil, fmt.Errorf("sqlstore: the database's schema needs migrating, and %w (%s-serve.lock is locked): stop that server, then start this version", ErrServeLocked, s.path)
	}
	if err != nil || f == nil {
		return release, err
	}
	return func() { unlockFile(f) }, nil
}

// servesHere reports whether this process holds the SQLite serve lock (RegisterNode).
func (s *Store) servesHere() bool {
	s.node.mu.Lock()
	defer s.node.mu.Unlock()
	return s.node.file != nil
}

// errStoreCreating is the refusal of a new embedded store whose maker, another process (a
// payvault serve starting on it, merchant create or migrate), has not made its schema within
// migrationWait.
func errStoreCreating(path string) error {
	return fmt.Errorf("sqlstore: the store %s is being created by another payvault process (%s-serve.lock is locked): retry in a moment", path, path)
}

// errSchemaMigrating is the refusal of a PostgreSQL database whose schema another payvault
// process (a node starting on it, or payvault migrate) is migrating, and has not finished
// within migrationWait.
var errSchemaMigrating = errors.New("sqlstore: the database's schema is being migrated by another payvault process (it holds the migration lock): retry in a moment")

// The wait of awaitMigration: every migrationPoll, while the schema is at version 0 or moved
// within migrationStill, and for at most migrationWait; awaitPostgresMigration's is every
// migrationPoll for at most migrationWait. A first start makes the whole schema in about
// 100 ms, one migration after another.
var (
	migrationPoll  = 20 * time.Millisecond
	migrationStill = 500 * time.Millisecond
	migrationWait  = 10 * time.Second
)

// awaitMigration takes the SQLite serve lock (take) or checks that no other process holds it
// (!take: the lock is released at once) while this payvault's migrations are pending. Another
// process that holds it while they are pending is migrating the store (a server migrates right
// after it takes the lock), or is an older payvault serving it: awaitMigration waits while the
// schema is at version 0 (the store is being created) or its version moves, and fails with
// ErrServeLocked once it stops moving, or after migrationWait (with errStoreCreating at
// version 0). It returns the lock, or nil when it released it or nothing is pending any more.
func (s *Store) awaitMigration(ctx context.Context, p *goose.Provider, take bool) (*os.File, error) {
	start := time.Now()
	moved, last := start, int64(-1)
	for {
		current, _, pending, err := s.versions(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migrate: %w", err)
		}
		if !pending {
			return nil, nil
		}
		f, err := lockFile(s.path + "-serve.lock")
		if err == nil && !take {
			unlockFile(f)
			f = nil
		}
		if !errors.Is(err, ErrServeLocked) {
			return f, err
		}
		if current, _, _, err = s.versions(ctx, p); err != nil {
			return nil, fmt.Errorf("sqlstore: migrate: %w", err)
		}
		now := time.Now()
		if current != last {
			moved, last = now, current
		}
		if now.Sub(start) > migrationWait && current == 0 {
			return nil, errStoreCreating(s.path)
		}
		if now.Sub(start) > migrationWait || current > 0 && now.Sub(moved) > migrationStill {
			return nil, fmt.Errorf("sqlstore: %w", ErrServeLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(migrationPoll):
		}
	}
}

// AwaitMigration returns the schema once no other process is migrating the store: a server
// that started on it just before may be making its schema. On the embedded store it waits as
// awaitMigration does, and a store whose schema its server has not begun to make by then is
// refused; on PostgreSQL it waits as awaitPostgresMigration does. When this process serves
// the embedded store, and once the wait ends, it is the schema as it is.
func (s *Store) AwaitMigration(ctx context.Context) (Schema, error) {
	if s.dialect == Postgres {
		if err := s.awaitPostgresMigration(ctx); err != nil {
			return Schema{}, err
		}
	} else if fileLocks && !s.servesHere() {
		p, err := s.provider(false)
		if err != nil {
			return Schema{}, err
		}
		if _, err := s.awaitMigration(ctx, p, false); err != nil && !errors.Is(err, ErrServeLocked) {
			return Schema{}, err
		}
	}
	return s.Schema(ctx)
}

// awaitPostgresMigration waits, while this payvault's migrations are pending, for another
// session that holds the migration lock (provider's advisory lock: a node migrating at its
// start, or payvault migrate) to release it, every migrationPoll and for at most
// migrationWait, after which it fails with errSchemaMigrating. Nodes hold that lock only while
// they migrate, so a pending migration with the lock free is an older schema nobody migrates,
// and it returns at once. It reads pg_locks, and takes no lock: a node starting now takes the
// lock as soon as it would have.
func (s *Store) awaitPostgresMigration(ctx context.Context) error {
	p, err := s.provider(false)
	if err != nil {
		return err
	}
	// A read the caller's context ends may fail as a closed connection (pgx closes it):
	// the context's error says why.
	schemaErr := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("sqlstore: schema version: %w: %w", ctx.Err(), err)
		}
		return fmt.Errorf("sqlstore: schema version: %w", err)
	}
	_, _, pending, err := s.versions(ctx, p)
	if err != nil {
		return schemaErr(err)
	}
	if !pending {
		return nil
	}
	// pg_locks shows the locks of every database of the server; a one-key advisory lock shows
	// in it as its key's two halves, with objsubid 1.
	const held = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND objsubid = 1 AND (classid::int8 << 32 | objid::int8) = $1 AND pid <> pg_backend_pid())`
	for start := time.Now(); ; {
		var migrating bool
		if err := s.wdb.QueryRowContext(ctx, held, lock.DefaultLockID).Scan(&migrating); err != nil {
			return schemaErr(err)
		}
		if !migrating {
			return nil
		}
		if time.Since(start) > migrationWait {
			return errSchemaMigrating
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(migrationPoll):
		}
	}
}

// SchemaVersion returns the applied migration version: 0 for a database without a schema,
// in which it creates nothing (versions).
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	p, err := s.provider(false)
	if err != nil {
		return 0, err
	}
	current, _, _, err := s.versions(ctx, p)
	return current, err
}

// retryable reports whether err is a transient conflict worth retrying.
func retryable(err error) bool {
	if errors.Is(err, errCommitAborted) {
		return true // a COMMIT whose answer was lost, and which PostgreSQL says did not commit
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q runs queries written with ? placeholders against either engine.
type q struct {
	db    querier
	d     Dialect
	rb    *rebinder
	inTx  bool
	audit *atomic.Pointer[vault.AuditMAC] // audit is the chain's MAC, shared by the store and its transactions
	// fold, when set (PostgreSQL, outside transactions), starts Store.foldCounts for a
	// merchant whose counts a list found in more than foldAfter rows.
	fold func(merchantID string) bool
	// readWait, when set (PostgreSQL, outside transactions), bounds each read (stall.go).
	readWait time.Duration
	// lists, when set (PostgreSQL, outside transactions), runs the lists whose statements
	// name their locations (listSplit): the list pool, Store.ldb.
	lists querier
}

// tx is a read-write transaction.
type tx struct{ q }

func (q *q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !q.writeArgsOK(args) {
		return nil, errUnstorable
	}
	return q.db.ExecContext(ctx, q.rb.bind(q.d, query), args...)
}

// query runs a query; the rows must be closed or read to their end, which ends the read's
// bound (readWait).
func (q *q) query(ctx context.Context, query string, args ...any) (*rows, error) {
	if f := observeReads.Load(); f != nil {
		(*f)(query, args)
	}
	ctx, end := q.readBound(ctx)
	r, err := q.db.QueryContext(ctx, q.rb.bind(q.d, query), q.readArgs(args)...)
	if err != nil {
		end()
		return nil, err
	}
	return &rows{Rows: r, end: end}, nil
}

// row runs a query of one row; its Scan ends the read's bound (readWait).
func (q *q) row(ctx context.Context, query string, args ...any) row {
	ctx, end := q.readBound(ctx)
	return row{Row: q.db.QueryRowContext(ctx, q.rb.bind(q.d, query), q.readArgs(args)...), end: end}
}

// count runs a COUNT(*) query. It goes through QueryContext, which stops when ctx ends, not
// through row: a count may scan many rows, and SQLite's one-row reads run to their end
// (poolConn.QueryRowContext).
func (q *q) count(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := q.scanCount(ctx, query, args, &n)
	return n, err
}

// scanCount is count for a query of one row of several counts.
func (q *q) scanCount(ctx context.Context, query string, args []any, dest ...any) error {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// forUpdate returns the row-locking suffix for a SELECT inside a write transaction.
func (q *q) forUpdate() string {
	if q.d == Postgres && q.inTx {
		return " FOR UPDATE"
	}
	return ""
}

// rebinder rewrites ? placeholders to $n for PostgreSQL, caching each query.
type rebinder struct{ m sync.Map }

// observeSQL, when set (by tests), sees every statement the store runs, as written.
var observeSQL atomic.Pointer[func(query string)]

// observeReads, when set (by tests), sees every query of many rows on the read path, as
// written, with its arguments.
var observeReads atomic.Pointer[func(query string, args []any)]

func (r *rebinder) bind(d Dialect, query string) string {
	if f := observeSQL.Load(); f != nil {
		(*f)(query)
	}
	if d != Postgres {
		return query
	}
	if v, ok := r.m.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteByte(c)
		case c == '?' && !inStr:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	r.m.Store(query, out)
	return out
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// mapErr turns a driver error into a core error: no rows → NotFound, a unique violation →
// Conflict with the field, anything else → Internal.
func mapErr(op string, err error, ids ...string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		var id string
		if len(ids) > 0 {
			id = ids[0]
		}
		return vault.E(op, vault.NotFound, vault.ID(id))
	}
	if f, ok := uniqueViolation(err); ok {
		return vault.E(op, vault.Conflict, vault.Field(f), vault.ErrDuplicate)
	}
	if errors.Is(err, errUnstorable) {
		return vault.E(op, vault.Invalid, vault.ErrFormat)
	}
	if retryable(err) {
		return err // Write retries it
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || unavailable(err) {
		return vault.E(op, vault.Unavailable, err)
	}
	return vault.E(op, vault.Internal, err)
}

// Unavailable reports whether err, from Open or any other call of the store, says that the
// database cannot serve now, so that the same call may succeed later, rather than that the
// configuration or the statement is wrong. It is the classifier behind the Unavailable kind
// (see unavailable); a serving node waits at start for as long as Open fails this way.
func Unavailable(err error) bool {
	return err != nil && unavailable(err)
}

// unavailable reports whether err says the database cannot serve now rather than that the
// statement is wrong: its connection failed or was closed, it is shutting down or starting,
// out of connections or resources, read-only, or a lock or statement timed out. The APIs
// answer such errors 503 with Retry-After, not 500. A server's refusal that is not among these
// (a wrong password, 28P01; no such database, 3D000; no pg_hba.conf entry, 28000) and a DSN
// that does not parse are not: waiting would not change them.
func unavailable(err error) bool {
	var re *redactedError
	if errors.As(err, &re) {
		return re.unavailable
	}
	// A DSN that does not parse is wrong whatever its cause says (a *url.Error, say, is also
	// a net.Error).
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		c := pg.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P") ||
			c == "25006" || c == "55P03" || c == "57014"
	}
	// TLS that cannot work (a certificate not trusted or for another host, a server without
	// TLS where the DSN requires it) is a configuration to fix, not a database to wait for.
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie) ||
		strings.Contains(err.Error(), "server refused TLS connection") {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
			return true
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.As(err, &ce) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed")
}

// pgUniqueFields maps PostgreSQL unique index names to the column they protect.
var pgUniqueFields = map[string]string{
	"profiles_mcid":                "merchant_customer_id",
	"profiles_contact_api_id":      "contact_api_id",
	"instruments_api_id":           "api_id",
	"transactions_api_id":          "api_id",
	"locations_account_number_key": "account_number",
	"locations_api_key_key":        "api_key",
	"profiles_token_key":           "token",
	"instruments_token_key":        "token",
	"mandates_token_key":           "token",
	"onetime_tokens_token_key":     "token",
	"idempotency_pkey":             "key",
	"users_pkey":                   "id",
	"api_keys_pkey":                "id",
	"developers_pkey":              "id",
	"merchants_pkey":               "id",
}

// uniqueViolation reports whether err is a unique-constraint violation and on which column.
func uniqueViolation(err error) (string, bool) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		if pg.Code != "23505" {
			return "", false
		}
		if f, ok := pgUniqueFields[pg.ConstraintName]; ok {
			return f, true
		}
		return pg.ConstraintName, true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		if c != sqlite3.SQLITE_CONSTRAINT_UNIQUE && c != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			return "", false
		}
		// "UNIQUE constraint failed: profiles.merchant_id, profiles.merchant_customer_id"
		msg := se.Error()
		i := strings.LastIndex(msg, ".")
		if i < 0 {
			return "", true
		}
		f := msg[i+1:]
		if j := strings.IndexAny(f, " )"); j >= 0 {
			f = f[:j]
		}
		return f, true
	}
	return "", false
}
