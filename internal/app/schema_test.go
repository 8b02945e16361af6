package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3/lock"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
)

// olderStore is a store on engine ("sqlite" or "postgres") that a serving payvault made,
// with the master key key, and whose last migration is then marked not applied, as if the
// previous payvault had left it: the returned config opens it with key, and latest is this
// payvault's schema version. The last migration's statements run again harmlessly (CREATE
// INDEX IF NOT EXISTS).
func olderStore(t *testing.T, engine string, key keys.MasterKey) (cfg Config, latest int64) {
	t.Helper()
	log, _ := logtest.New(t)
	cfg = Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), MasterKey: key.Base64(), Logger: log, Out: &nopWriter{}}
	if engine == "postgres" {
		cfg.DataDir, cfg.DatabaseURL = "", storetest.PostgresDSN(t)
	}
	m, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if latest, err = m.Store.SchemaVersion(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Store.DB().ExecContext(context.Background(), fmt.Sprintf("DELETE FROM goose_db_version WHERE version_id = %d", latest)); err != nil {
		t.Fatal(err)
	}
	return cfg, latest
}

// schemaVersion is the schema version of cfg's store, read without migrating it.
func schemaVersion(t *testing.T, cfg Config) int64 {
	t.Helper()
	scfg := sqlstore.Config{DSN: cfg.DatabaseURL, SkipMigrate: true}
	if cfg.DatabaseURL == "" {
		scfg.Path = SQLitePath(cfg.DataDir)
	}
	s, err := sqlstore.Open(context.Background(), scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWrongKeyMigratesNothing: a serving node, or `payvault migrate`, started with a wrong
// master key on a store whose schema is older than its own refuses before it migrates: the
// schema stays as it was. With the right key it migrates.
func TestWrongKeyMigratesNothing(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			key := keys.NewMasterKey()
			cfg, latest := olderStore(t, engine, key)
			wrong := cfg
			wrong.MasterKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
			for _, tt := range []struct {
				name string
				open func(context.Context, Config) (*Main, error)
				cfg  func(Config) Config
			}{
				{"fail/serve", Open, func(c Config) Config { return c }},
				{"fail/serve-waiting", Open, func(c Config) Config { c.WaitForDatabase = true; return c }},
				{"fail/tool", OpenTool, func(c Config) Config { return c }},
				{"fail/migrate", OpenTool, func(c Config) Config { c.Migrate = true; return c }},
			} {
				t.Run(tt.name, func(t *testing.T) {
					m, err := tt.open(ctx, tt.cfg(wrong))
					if err == nil {
						m.Close()
						t.Fatal("opened with a wrong master key")
					}
					if !errors.Is(err, keys.ErrWrongMasterKey) {
						t.Errorf("err = %v; want ErrWrongMasterKey", err)
					}
					if v := schemaVersion(t, cfg); v != latest-1 {
						t.Errorf("schema at %d after the refusal; want %d, untouched", v, latest-1)
					}
				})
			}
			m, err := Open(ctx, cfg)
			if err != nil {
				t.Fatalf("the right key: %v", err)
			}
			m.Close()
			if v := schemaVersion(t, cfg); v != latest {
				t.Errorf("schema at %d after a start with the right key; want %d", v, latest)
			}
		})
	}
}

// TestToolRefusesOlderSchema: a tool (merchant create, keys, audit) does not migrate a store
// whose schema is older than its own, which older servers may be using, and says to run
// `payvault migrate`; migrate does migrate it, after which the tools work. A store without a
// schema is still made by a tool, and a newer schema is still refused.
func TestToolRefusesOlderSchema(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			key := keys.NewMasterKey()
			cfg, latest := olderStore(t, engine, key)
			cfg.ExistingStore = true
			m, err := OpenTool(ctx, cfg)
			if err == nil {
				m.Close()
				t.Fatal("fail/older: a tool opened a store whose schema is older than its own")
			}
			if !strings.Contains(err.Error(), "run `payvault migrate` first") {
				t.Errorf("fail/older: err = %v; want it to say to run payvault migrate", err)
			}
			if v := schemaVersion(t, cfg); v != latest-1 {
				t.Errorf("fail/older: schema at %d after the refusal; want %d, untouched", v, latest-1)
			}

			mig := cfg
			mig.Migrate = true
			if m, err = OpenTool(ctx, mig); err != nil {
				t.Fatalf("ok/migrate: %v", err)
			}
			m.Close()
			if v := schemaVersion(t, cfg); v != latest {
				t.Errorf("ok/migrate: schema at %d; want %d", v, latest)
			}
			if m, err = OpenTool(ctx, cfg); err != nil {
				t.Fatalf("ok/current: %v", err)
			}
			if _, err := m.Store.DB().ExecContext(ctx, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, TRUE)"); err != nil {
				t.Fatal(err)
			}
			m.Close()
			if m, err = OpenTool(ctx, cfg); err == nil || !strings.Contains(err.Error(), "newer than this payvault's") {
				t.Errorf("fail/newer: err = %v", err)
				if m != nil {
					m.Close()
				}
			}

			fresh := cfg
			fresh.ExistingStore = false
			fresh.DataDir = t.TempDir()
			if engine == "postgres" {
				fresh.DatabaseURL = storetest.PostgresDSN(t)
			}
			if m, err = OpenTool(ctx, fresh); err != nil {
				t.Fatalf("ok/fresh: %v", err)
			}
			m.Close()
			if v := schemaVersion(t, fresh); v != latest {
				t.Errorf("ok/fresh: schema at %d; want %d", v, latest)
			}
		})
	}
}

// TestToolBesideMigrationPostgres: a tool (merchant create, keys, audit) started on
// PostgreSQL while a node migrates the database (it holds the migration lock, and the schema
// is older than the tool's until it finishes) waits for the node and then opens the store,
// instead of saying to run payvault migrate. Once nobody migrates, an older schema is
// refused as before (TestToolRefusesOlderSchema).
func TestToolBesideMigrationPostgres(t *testing.T) {
	ctx := context.Background()
	key := keys.NewMasterKey()
	cfg, latest := olderStore(t, "postgres", key)
	cfg.ExistingStore = true
	node, err := sqlstore.Open(ctx, sqlstore.Config{DSN: cfg.DatabaseURL, SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	conn, err := node.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	// The node's last migration, applied under its lock a moment after the tool starts.
	migrated := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := conn.ExecContext(ctx, "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, TRUE)", latest)
		_, uerr := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", lock.DefaultLockID)
		migrated <- errors.Join(err, uerr)
	}()
	m, err := OpenTool(ctx, cfg)
	if merr := <-migrated; merr != nil {
		t.Fatalf("the node's migration: %v", merr)
	}
	if err != nil {
		t.Fatalf("a tool beside a migrating node: %v", err)
	}
	m.Close()
	if v := schemaVersion(t, cfg); v != latest {
		t.Errorf("schema at %d; want %d", v, latest)
	}
}

// TestToolRefusesEmptyDatabase: a key or audit command (ExistingStore) on a PostgreSQL
// database payvault never used refuses it and leaves it without a schema; migrate and
// merchant create (not ExistingStore) make the store there.
func TestToolRefusesEmptyDatabase(t *testing.T) {
	log, _ := logtest.New(t)
	var key [32]byte
	cfg := Config{DatabaseURL: storetest.PostgresDSN(t), MasterKey: base64.StdEncoding.EncodeToString(key[:]), Logger: log, Out: &nopWriter{}, ExistingStore: true}
	if m, err := OpenTool(context.Background(), cfg); err == nil {
		m.Close()
		t.Fatal("a tool opened a database without a payvault schema")
	} else if !strings.Contains(err.Error(), "no payvault store in this database") {
		t.Errorf("err = %v", err)
	}
	if v := schemaVersion(t, cfg); v != 0 {
		t.Errorf("schema version %d after the refusal, want 0", v)
	}
	cfg.ExistingStore = false
	m, err := OpenTool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if v := schemaVersion(t, cfg); v == 0 {
		t.Error("no schema after a tool that may create the store")
	}
}
