package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
)

// TestSchema: Schema measures a database's schema against this payvault's migrations without
// migrating it, and refuses one a newer payvault migrated, as Migrate does.
func TestSchema(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			cfg := sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db"), SkipMigrate: true}
			if engine == "postgres" {
				cfg = sqlstore.Config{DSN: storetest.PostgresDSN(t), SkipMigrate: true}
			}
			s, err := sqlstore.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fresh, err := s.Schema(ctx)
			if err != nil {
				t.Fatal(err)
			}
			latest := fresh.Target
			if d := cmp.Diff(sqlstore.Schema{Current: 0, Target: latest, Pending: true}, fresh); d != "" || fresh.HasKeysets() {
				t.Errorf("a fresh database (-want +got)\n%s; HasKeysets %v", d, fresh.HasKeysets())
			}
			if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
				t.Errorf("Schema migrated a fresh database: version %d, %v", v, err)
			}
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if err := sqlstore.ExecSQL(s, q, args...); err != nil {
					t.Fatal(err)
				}
			}
			for _, tt := range []struct {
				name string
				edit string
				want sqlstore.Schema
			}{
				{"ok/current", "", sqlstore.Schema{Current: latest, Target: latest}},
				// The last migration's record removed: an older schema.
				{"ok/older", "DELETE FROM goose_db_version WHERE version_id = ?", sqlstore.Schema{Current: latest - 1, Target: latest, Pending: true}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					if tt.edit != "" {
						exec(tt.edit, latest)
					}
					got, err := s.Schema(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if d := cmp.Diff(tt.want, got); d != "" || !got.HasKeysets() {
						t.Errorf("(-want +got)\n%s; HasKeysets %v", d, got.HasKeysets())
					}
				})
			}
			if v, err := s.SchemaVersion(ctx); err != nil || v != latest-1 {
				t.Errorf("Schema migrated an older database: version %d, %v", v, err)
			}
			exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, TRUE)")
			if _, err := s.Schema(ctx); err == nil || !strings.Contains(err.Error(), "schema is at version 9999, newer than this payvault's") {
				t.Errorf("fail/newer: %v", err)
			}
		})
	}
}

// TestSchemaCreatesNothing: reading the schema of a database without one (Schema,
// AwaitMigration, SchemaVersion: what a key or audit command does before it refuses such a
// database) creates nothing in it, not even goose's version table.
func TestSchemaCreatesNothing(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			cfg := sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db"), SkipMigrate: true}
			tables := "SELECT COUNT(*) FROM sqlite_master"
			if engine == "postgres" {
				cfg = sqlstore.Config{DSN: storetest.PostgresDSN(t), SkipMigrate: true}
				tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
			}
			s, err := sqlstore.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, read := range []struct {
				name string
				fn   func() (sqlstore.Schema, error)
			}{
				{"Schema", func() (sqlstore.Schema, error) { return s.Schema(ctx) }},
				{"AwaitMigration", func() (sqlstore.Schema, error) { return s.AwaitMigration(ctx) }},
				{"SchemaVersion", func() (sqlstore.Schema, error) {
					v, err := s.SchemaVersion(ctx)
					return sqlstore.Schema{Current: v}, err
				}},
			} {
				sc, err := read.fn()
				if err != nil || sc.Current != 0 {
					t.Errorf("%s = %+v, %v; want version 0", read.name, sc, err)
				}
				if n, err := sqlstore.CountSQL(s, tables); err != nil || n != 0 {
					t.Fatalf("%s made %d tables (%v)", read.name, n, err)
				}
			}
			if sc, err := s.Schema(ctx); err != nil || !sc.Pending || sc.Target == 0 {
				t.Errorf("Schema of an empty database = %+v, %v; want every migration pending", sc, err)
			}
		})
	}
}
