// Package app wires payvault together: configuration, store, keyring, services and HTTP.
// Main is used by the CLI and reused by the end-to-end tests.
package app

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// Config is everything payvault needs to start.
type Config struct {
	Listen      string // Listen is the TCP address; 127.0.0.1:8080 by default ("127.0.0.1:0" in tests).
	DataDir     string // DataDir holds the SQLite database and the master key file.
	DatabaseURL string // DatabaseURL selects PostgreSQL instead of the embedded store.
	// WaitForDatabase has Open wait for a PostgreSQL database that cannot serve yet (not
	// reachable, starting up, out of connections) instead of failing: `serve` sets it, so that
	// a node started before its database, or during a restart of it, starts once it answers.
	// See waitForStore. OpenTool never waits.
	WaitForDatabase bool
	// Committers is the number of group-commit goroutines on PostgreSQL (0: the store's default).
	Committers int
	// DatabaseWaits replace the bounds a serving node gives a PostgreSQL that stops answering
	// (sqlstore.Config's ReadWait, QueueWait, WriteWait and CommitResolveWait); a zero field
	// keeps its default (30 s, 15 s, 15 s, 5 s). No flag sets them: the end-to-end freeze
	// test shortens them to keep its run short.
	DatabaseWaits DatabaseWaits
	MasterKey     string // MasterKey is base64 (PAYVAULT_MASTER_KEY); it overrides the data dir's key file.
	MasterKeyFile string // MasterKeyFile overrides PAYVAULT_MASTER_KEY and the data dir's key file.
	// ExistingStore has OpenTool refuse an embedded store that does not exist yet (no
	// payvault.db in the data dir) instead of creating it, with a new master key, there: a
	// mistyped --data must not give `merchant create` a store of its own, whose credentials
	// no server knows. Open (serve) and `migrate` create a fresh store.
	ExistingStore bool
	// Migrate has OpenTool migrate an existing store whose schema is older than this
	// payvault's (`payvault migrate`). Without it OpenTool refuses such a store: the other
	// commands run beside servers, and would migrate the database under an older one. A store
	// with no schema yet is migrated either way; Open (serve) always migrates.
	Migrate bool
	// ReadOnly says that the command only reads the store (keys status, audit verify; not
	// export, which appends to the audit chain): OpenTool opens an embedded store that
	// copy-store moved to PostgreSQL (MovedFile) for it, and refuses such a store to every
	// other command, as Open does.
	ReadOnly bool
	// MasterKeyValue, when set, is the master key itself, e.g. combined in memory from Shamir
	// shares by `serve --unseal`; it overrides every other source and nothing is written to disk.
	MasterKeyValue *keys.MasterKey

	AdminToken     string // AdminToken is PAYVAULT_ADMIN_TOKEN.
	AdminTokenFile string // AdminTokenFile holds the admin token; it overrides PAYVAULT_ADMIN_TOKEN.

	TLSCert, TLSKey       string
	PublicBaseURL         string // PublicBaseURL is the scheme+host used in every Location and link.
	TLSTerminatedUpstream bool   // TLSTerminatedUpstream trusts a proxy to have terminated TLS.
	Demo                  bool   // Demo serves /demo/checkout for sandbox merchants.

	KeyRefresh time.Duration // KeyRefresh is how often keysets are reloaded (5 s by default).
	// RetainDeleted is how long a deleted instrument keeps its sealed account data before it is
	// crypto-erased (0 keeps it forever).
	RetainDeleted time.Duration
	// RetainTransactions is how long a transaction keeps its sealed account number (0: forever).
	RetainTransactions time.Duration
	SUTTTL             time.Duration // SUTTTL overrides the single-use token life.
	// BACSMandateActivation overrides how long a new BACS mandate stays PENDING (7 days).
	BACSMandateActivation time.Duration
	// BatchDelay overrides how long a settlement or refund stays PENDING (24 h).
	BatchDelay time.Duration
	// SimulatorDelayScale multiplies the sandbox processor's delays (1 when nil; 0 means none).
	SimulatorDelayScale *float64
	// SimulatorMaxDelay caps one sandbox delay (0: no cap).
	SimulatorMaxDelay time.Duration
	// DescriptorName and DescriptorPhone are the Paysafe merchantDescriptor shown on a
	// transaction whose request sent none; the reference's when both are empty.
	DescriptorName, DescriptorPhone string
	// ListLimitDefault and ListLimitMax bound Paysafe transaction lists (10 and 50 when 0).
	ListLimitDefault, ListLimitMax int

	// RateLimit is the requests per second each credential may make on this node (a public
	// single-use-token or browser key: each merchant), with bursts of RateBurst; 0 is no limit.
	RateLimit float64
	RateBurst int
	// PublicRateLimit is the requests per second each client address may make on this node
	// with a merchant's public key, on top of RateLimit, with bursts of PublicRateBurst; 0 is
	// no limit.
	PublicRateLimit float64
	PublicRateBurst int
	// AuthFailureRate is the failed authentications per second a client address may make on
	// this node, with bursts of AuthFailureBurst; past them the client's requests are refused
	// (429) before their credentials are checked. 0 is no limit.
	AuthFailureRate  float64
	AuthFailureBurst int

	Logger *slog.Logger // Logger receives every log line; it never sees secrets.
	Out    io.Writer    // Out receives first-start credentials (stdout by default).
	Now    func() time.Time
}

// DatabaseWaits are a serving node's bounds on a PostgreSQL that stops answering
// (Config.DatabaseWaits); docs/operations.md describes them.
type DatabaseWaits struct {
	Read          time.Duration // Read bounds a read outside a write.
	Queue         time.Duration // Queue bounds a write's wait for a committer to start it.
	Write         time.Duration // Write bounds each statement of a write batch, and its COMMIT.
	CommitResolve time.Duration // CommitResolve bounds the resolution of a lost COMMIT.
}

// Main is a running payvault: its store, keyring, services and HTTP server.
type Main struct {
	Config  Config
	Store   *sqlstore.Store
	Keyring *keys.Keyring
	Vault   *vault.Service
	// Payments is the payments core; Idempotency keeps every API's POSTs safe to retry.
	Payments    *payments.Service
	Idempotency *idempotency.Keeper
	Metrics     *httpx.Metrics
	Handler     http.Handler

	// Credentials are the sandbox merchant's, set only on the first start.
	Credentials *vault.MerchantCredentials
	// AdminTokenGenerated is the admin token generated on the first start, if any.
	AdminTokenGenerated string
	// NewStore says that the store had no schema when opened: this open made it.
	NewStore bool

	rekey    *rekeyJob
	ready    func(context.Context) error // ready is the store's readiness, shared (routes.go).
	cert     *tls.Certificate            // cert is the TLS key pair (--tls-cert, --tls-key), read by loadTLS.
	listener net.Listener
	server   *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   bool
}

// DefaultDataDir is where the embedded store lives by default.
const DefaultDataDir = "./payvault-data"

// Open prepares everything short of serving: the data dir, the master key, the store and its
// migrations, the keyring, the services and, on the first start, the sandbox merchant.
func Open(ctx context.Context, cfg Config) (*Main, error) {
	return open(ctx, cfg, true)
}

// OpenTool prepares the store, keyring and services for a CLI command that runs beside (or
// instead of) a server: no sandbox merchant is created and nothing is served.
func OpenTool(ctx context.Context, cfg Config) (*Main, error) {
	return open(ctx, cfg, false)
}

func open(ctx context.Context, cfg Config, bootstrap bool) (*Main, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.KeyRefresh == 0 {
		cfg.KeyRefresh = 5 * time.Second
	}
	m := &Main{Config: cfg}
	if err := m.open(ctx, bootstrap); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Main) open(ctx context.Context, bootstrap bool) error {
	cfg := m.Config
	if bootstrap {
		// A bad admin token setting or TLS key pair fails before anything is created or
		// written: a first start that failed later would have made the sandbox merchant.
		if _, err := m.adminTokenFromConfig(); err != nil {
			return err
		}
		if err := m.loadTLS(); err != nil {
			return err
		}
	}
	if !bootstrap && cfg.ExistingStore && cfg.DatabaseURL == "" {
		if _, err := os.Stat(SQLitePath(cfg.DataDir)); errors.Is(err, os.ErrNotExist) {
			return noStoreError(fmt.Sprintf("payvault: no store in %s (no payvault.db): check --data, or create the store with `payvault serve` or `payvault migrate`", m.dataDir()))
		}
	}
	mk, err := m.masterKey()
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		if err := m.checkDataDir(); err != nil {
			return err
		}
	}
	node, err := m.openStore(ctx, storeConfig(cfg, bootstrap), mk, bootstrap)
	if err != nil {
		return err
	}
	if m.Keyring, err = keys.Open(ctx, m.Store, mk, keys.Options{Logger: m.Config.Logger}); err != nil {
		return err
	}
	m.Store.SetAuditMAC(m.Keyring)
	bins, err := card.LoadBINs()
	if err != nil {
		return err
	}
	m.Vault = vault.NewService(m.Store, m.Keyring, bins, vault.Config{SUTTTL: cfg.SUTTTL, Now: cfg.Now, BACSMandateActivation: cfg.BACSMandateActivation})
	m.openPayments(node)
	m.Metrics = httpx.NewMetrics()
	m.registerStoreMetrics()
	m.rekey = m.newRekeyJob()
	if bootstrap {
		if err := m.bootstrap(ctx); err != nil {
			return err
		}
	}
	m.Handler = m.routes()
	return nil
}

// openStore opens the store into m.Store and prepares it (prepareStore); for a serving node
// (bootstrap) it returns the node's id. A serving node with WaitForDatabase on PostgreSQL
// waits for the database (waitForStore).
func (m *Main) openStore(ctx context.Context, scfg sqlstore.Config, mk keys.MasterKey, bootstrap bool) (string, error) {
	attempt := func() (*sqlstore.Store, string, error) {
		s, err := sqlstore.Open(ctx, scfg)
		if err != nil {
			return nil, "", err
		}
		node, err := m.prepareStore(ctx, s, mk, bootstrap)
		if err != nil {
			s.Close()
			return nil, "", err
		}
		return s, node, nil
	}
	var (
		node string
		err  error
	)
	if bootstrap && m.Config.WaitForDatabase && scfg.DSN != "" {
		m.Store, node, err = m.waitForStore(ctx, attempt)
	} else {
		m.Store, node, err = attempt()
	}
	return node, err
}

// prepareStore brings a store opened without migrations to this payvault's schema, in an
// order that changes nothing when start-up must refuse:
//
//  1. The schema is read, not changed; one newer than this payvault's is refused.
//  2. The master key is checked against the stored keysets (keys.Check, which writes
//     nothing) before any migration runs, so that a node or tool given a wrong key leaves even
//     the schema as it was (on PostgreSQL it would otherwise take the migration lock and
//     migrate first). The keysets table is made by the first migration and no later one
//     changes it (sqlstore.Schema.HasKeysets, kept true by TestKeysetsUnchanged), so the
//     keysets read the same at every older schema and no migration is needed first. A
//     store without a schema holds no keysets to check; keys.Open makes them after.
//  3. A serving node registers (on SQLite: takes the serve lock) before it migrates, so that
//     it never migrates a database another server is using, and so that whoever starts after
//     it is killed resolves the payments it left in flight at once (see payments.Recover).
//  4. On the embedded store, one that copy-store moved to PostgreSQL (MovedFile) is refused
//     to a serving node and to a tool that writes (not Config.ReadOnly), under the lock
//     copy-store holds until it marks the store: the serve lock, SQLite's write lock. A
//     tool's store checks the mark again in each of its writes (sqlstore.Config.WriteCheck),
//     so that an import or a rekey that was running when the copy started stops at its
//     next batch; a serving node needs no such check, as copy-store refuses while it runs.
//     A store restored from a backup of a moved store gets its MovedFile back first
//     (adoptMoved), and is refused the same way.
//  5. A tool migrates a store without a schema (`merchant create` and `migrate` on a fresh
//     store), and an older schema only for `payvault migrate` (Config.Migrate): the other
//     commands run beside servers, and would migrate the database under an older one.
//  6. Whoever migrates then finishes the upgrade (finishUpgrade), and `payvault migrate`
//     finishes one a crash or another node left unfinished even when no migration is pending.
func (m *Main) prepareStore(ctx context.Context, s *sqlstore.Store, mk keys.MasterKey, bootstrap bool) (node string, err error) {
	schema := s.Schema
	if !bootstrap {
		// A server that started on this store just before may be making its schema now: a
		// tool waits for it, rather than refuse a schema half made, or take the store for
		// one it made itself.
		schema = s.AwaitMigration
	}
	sc, err := schema(ctx)
	if err != nil {
		return "", err
	}
	m.NewStore = sc.Current == 0
	if sc.HasKeysets() {
		if _, err := keys.Check(ctx, s, mk); err != nil {
			return "", err
		}
	}
	if bootstrap {
		if node, err = s.RegisterNode(ctx); err != nil {
			if errors.Is(err, sqlstore.ErrServeLocked) {
				return "", fmt.Errorf("payvault: another payvault serve is using the store in %s (%s-serve.lock is locked): stop it first, or give this one another --data", m.dataDir(), SQLitePath(m.Config.DataDir))
			}
			return "", err
		}
		if m.Config.DatabaseURL == "" {
			// Under the serve lock, which copy-store holds until it has marked the store.
			if err := m.adoptMoved(ctx, s, sc); err != nil {
				return "", err
			}
			if err := checkMoved(m.Config.DataDir); err != nil {
				return "", err
			}
		}
		return node, m.migrate(ctx, s, sc)
	}
	if m.Config.DatabaseURL == "" && !m.Config.ReadOnly && sc.Current > 0 {
		// An empty write: the store's WriteCheck (checkMoved) runs in it, under SQLite's
		// write lock, which copy-store holds until it has marked the store: a tool started
		// during the copy waits here, then finds the mark.
		if err := m.adoptMoved(ctx, s, sc); err != nil {
			return "", err
		}
		if err := s.Write(ctx, func(vault.Tx) error { return nil }); err != nil {
			return "", err
		}
	}
	if !sc.Pending {
		if m.Config.Migrate {
			// An upgrade step a crash or another node left unfinished (finishUpgrade).
			return "", m.finishUpgrade(ctx, s)
		}
		return "", nil
	}
	if sc.Current == 0 && m.Config.ExistingStore {
		// A key or audit command on a database payvault never used (a mistyped DSN, say, or
		// an empty payvault.db): it would make a store there, with keysets no server knows.
		if m.Config.DatabaseURL == "" {
			return "", noStoreError(fmt.Sprintf("payvault: no payvault store in %s (no schema): check --data, or create the store with `payvault serve` or `payvault migrate`", SQLitePath(m.dataDir())))
		}
		return "", noStoreError("payvault: no payvault store in this database (no schema): check --database, or create the store with `payvault serve` or `payvault migrate`")
	}
	if sc.Current > 0 && !m.Config.Migrate {
		return "", fmt.Errorf("payvault: the database's schema (version %d) needs migrating to this payvault's (%d), which this command does not do, as servers may be using the database: run `payvault migrate` first, once the servers the upgrade needs stopped have stopped (docs/operations.md, Upgrading)", sc.Current, sc.Target)
	}
	return "", m.migrate(ctx, s, sc)
}

// migrate applies the store's pending migrations, and logs the schema's move when this
// process moved it (a first start makes it, an upgrade moves it on), which is otherwise
// silent on a server. A node that waited for another's migration lock applied nothing, and
// says nothing. It then finishes the upgrade (finishUpgrade).
func (m *Main) migrate(ctx context.Context, s *sqlstore.Store, before sqlstore.Schema) error {
	applied, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	if before.Pending && applied > 0 {
		if v, err := s.SchemaVersion(ctx); err == nil && v != before.Current {
			m.Config.Logger.Info("migrated the schema", "from", before.Current, "to", v)
		}
	}
	return m.finishUpgrade(ctx, s)
}

// finishUpgrade runs the upgrade steps that no SQL migration expresses, where the schema is
// migrated (a serving node's start, `payvault migrate`, a tool making a new store), once it is
// this payvault's: so far
// sqlstore.ScrubRefused, which removes from the FAILED transactions an older payvault stored
// the values refused for their fields. A step records that it is done, after which a start
// reads one setting for it. On PostgreSQL one node does a step while the others start
// without waiting for it.
func (m *Main) finishUpgrade(ctx context.Context, s *sqlstore.Store) error {
	n, err := s.ScrubRefused(ctx)
	switch {
	case errors.Is(err, sqlstore.ErrScrubBusy):
		m.Config.Logger.Info("another node is removing refused values from stored transactions")
	case err != nil:
		return err
	case n > 0:
		m.Config.Logger.Info("removed refused values from stored transactions", "transactions", n)
	}
	return nil
}

// The backoff of waitForStore: the first retry after dbRetryFirst, each wait twice the one
// before, up to dbRetryMax.
var (
	dbRetryFirst = 500 * time.Millisecond
	dbRetryMax   = 5 * time.Second
)

// waitForStore runs attempt until it succeeds, for as long as its error says that the
// database cannot serve now (sqlstore.Unavailable: the server refuses or drops connections,
// its name does not resolve yet, it is starting up or shutting down, it has no connection
// slot left, a connection timed out). It logs each failure at WARN and tries again after a
// backoff (0.5 s, doubling up to 5 s), without an overall limit: a node waits for its
// database until ctx ends (SIGINT or SIGTERM), and then fails with the last error. Any other
// error (a wrong password, a database that does not exist, a DSN that does not parse, TLS
// that cannot work) fails at once.
func (m *Main) waitForStore(ctx context.Context, attempt func() (*sqlstore.Store, string, error)) (*sqlstore.Store, string, error) {
	log := m.Config.Logger
	start := time.Now()
	delay := dbRetryFirst
	var last error
	for n := 1; ; n++ {
		s, node, err := attempt()
		if err == nil {
			if n > 1 {
				log.Info("database available", "attempts", n, "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return s, node, nil
		}
		if ctx.Err() != nil && last != nil {
			// Stopped while trying: the error is ctx's, the last one says why it waited.
			return nil, "", fmt.Errorf("payvault: stopped waiting for the database: %w", last)
		}
		if !sqlstore.Unavailable(err) || ctx.Err() != nil {
			return nil, "", err
		}
		last = err
		log.Warn("database unavailable; waiting for it", "attempt", n, "retry_in", delay.String(), "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", fmt.Errorf("payvault: stopped waiting for the database: %w", last)
		case <-t.C:
		}
		delay = min(2*delay, dbRetryMax)
	}
}

// SQLitePath is the embedded store's database file in a data dir (DefaultDataDir when empty).
func SQLitePath(dataDir string) string {
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	return filepath.Join(dataDir, "payvault.db")
}

func (m *Main) dataDir() string {
	if m.Config.DataDir != "" {
		return m.Config.DataDir
	}
	return DefaultDataDir
}

// masterKey reads the master key from the unsealed shares, the key file flag, the environment
// value (an explicit flag beats the environment), or the data dir's key file, creating the
// latter on the first start of the embedded store.
func (m *Main) masterKey() (keys.MasterKey, error) {
	cfg := m.Config
	switch {
	case cfg.MasterKeyValue != nil:
		return *cfg.MasterKeyValue, nil
	case cfg.MasterKeyFile != "":
		// The mode is worth a warning only for a key file that is one: a missing file or a
		// directory is the error itself.
		mk, err := keys.ReadMasterKeyFile(cfg.MasterKeyFile)
		switch {
		case err == nil:
			m.warnKeyFileMode(cfg.MasterKeyFile)
		case errors.Is(err, os.ErrNotExist):
			err = fmt.Errorf("--master-key-file %s does not exist: check the path (%w)", cfg.MasterKeyFile, os.ErrNotExist)
		}
		return mk, err
	case cfg.MasterKey != "":
		return keys.ParseMasterKey(cfg.MasterKey)
	case cfg.DatabaseURL != "":
		return keys.MasterKey{}, errNoDatabaseKey
	}
	dir := m.dataDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return keys.MasterKey{}, fmt.Errorf("payvault: create data dir: %w", err)
	}
	path := filepath.Join(dir, "master.key")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// Checked before the key is made, not after: a tool beside a server starting on a new
		// store makes the database as soon as it has read the key the server made. The key is
		// looked for again once the database is found: a first start makes the key before the
		// database, so both may have appeared between the two looks.
		if exists(SQLitePath(dir)) && !exists(path) {
			return keys.MasterKey{}, errNoDataDirKey
		}
	}
	mk, created, err := keys.LoadOrCreateMasterKeyFile(path)
	if err != nil {
		return keys.MasterKey{}, err
	}
	if created {
		cfg.Logger.Info("created master key", "path", path)
	} else {
		m.warnKeyFileMode(path)
	}
	return mk, nil
}

// The master key errors name every way to give the key, --unseal (Shamir shares) among them.
var (
	errNoDatabaseKey = errors.New("payvault: --database needs a master key: give --unseal (Shamir shares), --master-key-file or PAYVAULT_MASTER_KEY")
	errNoDataDirKey  = errors.New("payvault: the data dir has a database but no master.key (after payvault keys split --delete-key-file the key is in its shares): start with --unseal, --master-key-file or PAYVAULT_MASTER_KEY, or restore the key file")
)

// ErrNoStore is what OpenTool returns, with Config.ExistingStore, when the data dir or the
// database holds no payvault store yet.
var ErrNoStore = errors.New("payvault: no payvault store")

// noStoreError is an ErrNoStore with its own message, which says what to check.
type noStoreError string

func (e noStoreError) Error() string        { return string(e) }
func (e noStoreError) Is(target error) bool { return target == ErrNoStore }

// checkDataDir creates the embedded store's data dir (0700), and warns when it already existed
// with a wider mode, whichever way the master key came: the files in it are 0600, but other
// users can still list them, and a dir they may write lets them swap the database (or the key
// file, when there is one).
func (m *Main) checkDataDir() error {
	dir := m.dataDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("payvault: create data dir: %w", err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		m.Config.Logger.Warn("data dir is not private", "path", dir, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()), "fix", "chmod 700 "+dir)
	}
	return nil
}

// warnKeyFileMode logs a warning when the master key file at path may be read by other users.
func (m *Main) warnKeyFileMode(path string) {
	if err := keys.CheckMasterKeyFileMode(path); err != nil {
		m.Config.Logger.Warn("master key file is not private", "err", err)
	}
}

// KeyFromDataDir reports whether cfg takes the master key from the data dir's master.key: no
// key given any other way, and the embedded store.
func KeyFromDataDir(cfg Config) bool {
	return cfg.MasterKeyValue == nil && cfg.MasterKeyFile == "" && cfg.MasterKey == "" && cfg.DatabaseURL == ""
}

// ExistingMasterKey returns the configured master key without ever creating one. Kinds of
// failure: no key configured and no key file in the data dir.
func ExistingMasterKey(cfg Config) (keys.MasterKey, error) {
	m := &Main{Config: cfg}
	switch {
	case cfg.MasterKeyValue != nil, cfg.MasterKey != "", cfg.MasterKeyFile != "":
		return m.masterKey()
	case cfg.DatabaseURL != "":
		return keys.MasterKey{}, errNoDatabaseKey
	}
	path := filepath.Join(m.dataDir(), "master.key")
	mk, err := keys.ReadMasterKeyFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(SQLitePath(m.dataDir())); serr == nil {
			// The key is made before the database: read it again in case both appeared
			// between the two looks (a first start beside this tool).
			if mk, err = keys.ReadMasterKeyFile(path); errors.Is(err, os.ErrNotExist) {
				return mk, errNoDataDirKey
			}
		} else {
			// Neither key nor store: most likely a mistyped --data.
			return mk, fmt.Errorf("payvault: no master key: %s holds no master.key and no store: check --data, or give --master-key-file, PAYVAULT_MASTER_KEY or --unseal", m.dataDir())
		}
	}
	return mk, err
}

// exists reports whether a file is at path.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Admin-token settings.
const settingAdminTokenHash = "admin_token_hash"

// bootstrap creates the sandbox merchant and the admin token on the first start. When several
// nodes start together on one database, one of them does it.
func (m *Main) bootstrap(ctx context.Context) error {
	token, err := m.adminTokenFromConfig()
	if err != nil {
		return err
	}
	generated := ""
	if token == "" {
		if _, err := m.Store.GetSetting(ctx, settingAdminTokenHash); vault.KindOf(err) == vault.NotFound {
			token = keys.RandomString(40, keys.Alnum)
			generated = token
		} else if err != nil {
			return err
		}
	}
	creds, err := m.Vault.Bootstrap(ctx, "Sandbox", func(tx vault.Tx) error {
		if token == "" {
			return nil
		}
		return tx.SetSetting(ctx, settingAdminTokenHash, base64.StdEncoding.EncodeToString(keys.HashSecret(token)))
	})
	if err != nil {
		return err
	}
	if creds == nil && token != "" && generated == "" {
		// A configured token replaces the stored hash on every start.
		if err := m.Store.Write(ctx, func(tx vault.Tx) error {
			return tx.SetSetting(ctx, settingAdminTokenHash, base64.StdEncoding.EncodeToString(keys.HashSecret(token)))
		}); err != nil {
			return err
		}
	}
	if creds != nil {
		m.Credentials = creds
		m.AdminTokenGenerated = generated
	}
	return nil
}

// adminTokenFromConfig is the configured admin token: --admin-token-file, which beats
// PAYVAULT_ADMIN_TOKEN (as --master-key-file beats PAYVAULT_MASTER_KEY), or "" for none.
func (m *Main) adminTokenFromConfig() (string, error) {
	switch {
	case m.Config.AdminTokenFile != "":
		b, err := os.ReadFile(m.Config.AdminTokenFile)
		if err != nil {
			return "", fmt.Errorf("payvault: read admin token file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", errors.New("payvault: the admin token file is empty")
		}
		return t, nil
	case m.Config.AdminToken != "":
		t := strings.TrimSpace(m.Config.AdminToken)
		if t == "" {
			// As for an empty token file: a blank token must not leave the old one, or none.
			return "", errors.New("payvault: PAYVAULT_ADMIN_TOKEN is blank")
		}
		return t, nil
	}
	return "", nil
}

// CheckAdminToken reports whether token is the admin token (constant time). An error says
// the store could not be read (the token is then neither accepted nor refused).
func (m *Main) CheckAdminToken(ctx context.Context, token string) (bool, error) {
	v, err := m.Store.GetSetting(ctx, settingAdminTokenHash)
	if vault.KindOf(err) == vault.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return false, nil
	}
	return keys.VerifySecret(h, token), nil
}

// Listen binds the listener, so that Addr is known before Run.
func (m *Main) Listen() error {
	if m.listener != nil {
		return nil
	}
	if err := m.loadTLS(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return fmt.Errorf("payvault: listen: %w", err)
	}
	if m.cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*m.cert}, MinVersion: tls.VersionTLS12})
	}
	// net/http answers a request it cannot parse itself, in plain text; the wrapper has the
	// API that owns its path answer in JSON instead, through the handler Run serves.
	m.listener = httpx.UnparsedListener(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Handler.ServeHTTP(w, r)
	}), m.Config.Logger)
	return nil
}

// loadTLS reads the TLS key pair into m.cert once, when --tls-cert or --tls-key is set.
func (m *Main) loadTLS() error {
	if m.cert != nil || m.Config.TLSCert == "" && m.Config.TLSKey == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(m.Config.TLSCert, m.Config.TLSKey)
	if err != nil {
		return fmt.Errorf("payvault: TLS: %w", err)
	}
	m.cert = &cert
	return nil
}

// Addr returns the bound address.
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// URL returns the base URL clients should use.
func (m *Main) URL() string {
	scheme := "http"
	if m.Config.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + m.Addr()
}

// Run serves until ctx ends, then drains in-flight requests. Background jobs (key refresh,
// token sweeper) run alongside.
func (m *Main) Run(ctx context.Context) error {
	if err := m.Listen(); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.recoverPayments(ctx)
	m.startBackground(bg)
	m.server = &http.Server{
		Handler:           m.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Config.Logger.Handler(), slog.LevelWarn),
		ConnContext:       httpx.UnparsedConnContext,
		// "OPTIONS *" reaches the routes, which answer it in JSON like any unknown route,
		// instead of net/http's empty 200.
		DisableGeneralOptionsHandler: true,
	}
	errc := make(chan error, 1)
	go func() { errc <- m.server.Serve(m.listener) }()
	m.Config.Logger.Info("serving", "addr", m.URL())
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	m.Config.Logger.Info("shutting down: draining requests")
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	err := m.server.Shutdown(sctx)
	<-errc
	return err
}

// startBackground starts the keyring watcher and the token sweeper.
func (m *Main) startBackground(ctx context.Context) {
	m.wg.Add(6)
	go func() {
		defer m.wg.Done()
		m.Store.KeepNode(ctx)
	}()
	go func() {
		defer m.wg.Done()
		m.paymentsBackground(ctx)
	}()
	go func() {
		defer m.wg.Done()
		m.retention(ctx, time.Hour)
	}()
	go func() {
		defer m.wg.Done()
		m.Keyring.Watch(ctx, m.Config.KeyRefresh)
	}()
	go func() {
		defer m.wg.Done()
		m.rekey.run(ctx, m.Config.KeyRefresh)
	}()
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := m.Vault.SweepTokens(ctx); err != nil {
					m.Config.Logger.Warn("token sweep failed", "err", err)
				} else if n > 0 {
					m.Config.Logger.Info("swept expired single-use tokens", "count", n)
				}
			}
		}
	}()
}

// retention crypto-erases account data past its retention, now and then every interval.
func (m *Main) retention(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := m.EraseExpired(ctx); err != nil && ctx.Err() == nil {
			m.Config.Logger.Warn("retention: erase failed", "err", err)
		} else if n > 0 {
			m.Config.Logger.Info("retention: crypto-erased account data", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// now returns Config.Now(), or the time when Config.Now is nil.
func (m *Main) now() time.Time {
	if m.Config.Now != nil {
		return m.Config.Now()
	}
	return time.Now()
}

// EraseExpired crypto-erases every record past retention and returns how many.
func (m *Main) EraseExpired(ctx context.Context) (int, error) {
	now := m.now()
	var deleted, txs time.Time
	if m.Config.RetainDeleted > 0 {
		deleted = now.Add(-m.Config.RetainDeleted)
	}
	if m.Config.RetainTransactions > 0 {
		txs = now.Add(-m.Config.RetainTransactions)
	}
	if deleted.IsZero() && txs.IsZero() {
		return 0, nil
	}
	// 500 records a write (about 20 ms of the one SQLite writer for transactions), resting
	// as long as each took, so that a large backlog (retention's first run on an old store)
	// leaves the writer to the traffic half of the time.
	total := 0
	for ctx.Err() == nil {
		start := time.Now()
		n, err := m.Store.EraseSealed(ctx, deleted, txs, 500)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Since(start)):
		}
	}
	return total, ctx.Err()
}

// Close stops background jobs and closes the store.
func (m *Main) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.listener != nil && m.server == nil {
		m.listener.Close()
	}
	if m.Store != nil {
		return m.Store.Close()
	}
	return nil
}

// storeConfig is the store's configuration for cfg, for a serving node (bootstrap) or a tool.
// The store is opened without migrating it: prepareStore decides whether and when.
func storeConfig(cfg Config, bootstrap bool) sqlstore.Config {
	scfg := sqlstore.Config{DSN: cfg.DatabaseURL, Committers: cfg.Committers, SkipMigrate: true, KeyRefresh: cfg.KeyRefresh}
	w := cfg.DatabaseWaits
	scfg.ReadWait, scfg.QueueWait, scfg.WriteWait, scfg.CommitResolveWait = w.Read, w.Queue, w.Write, w.CommitResolve
	// After a failover NodeAlive counts every node alive until payments would resolve their
	// transactions from before it anyway (openPayments keeps the processor timeout's default).
	scfg.PromoteGrace = payments.RecoverAge(0)
	if !bootstrap {
		// A tool's reads (keys status counts every record of a key) may outlast the 30 s a
		// serving node gives a read on a large store; its operator can stop it.
		scfg.ReadWait = -1
	}
	if cfg.DatabaseURL == "" {
		scfg.Path = SQLitePath(cfg.DataDir)
		if !bootstrap && !cfg.ReadOnly {
			// A tool that writes checks the mark in each write (prepareStore, step 4).
			scfg.WriteCheck = func() error { return checkMoved(cfg.DataDir) }
		}
	}
	return scfg
}
