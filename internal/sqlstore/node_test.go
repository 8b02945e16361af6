package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
)

// openPair opens two stores on one database, as two processes would.
func openPair(t *testing.T, cfg sqlstore.Config) (*sqlstore.Store, *sqlstore.Store) {
	t.Helper()
	var out [2]*sqlstore.Store
	for i := range out {
		s, err := sqlstore.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out[0], out[1]
}

// TestNodesSQLite: one serving process owns an SQLite database; every other node is gone.
func TestNodesSQLite(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t, sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db")})
	id, err := a.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := a.RegisterNode(ctx); again != id {
		t.Errorf("a second registration changed the id: %s, %s", id, again)
	}
	if _, err := b.RegisterNode(ctx); err == nil || !strings.Contains(err.Error(), "another payvault serve") {
		t.Errorf("a second serving process on one database: %v", err)
	}
	for _, tt := range []struct {
		name string
		s    *sqlstore.Store
		id   string
		want bool
	}{
		{"ok/self", a, id, true},
		{"ok/other-is-gone", a, "0badf00d", false},
		{"ok/unregistered-cannot-tell", b, "0badf00d", true},
		{"ok/foreign-format-counts-alive", a, "node-1", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.s.NodeAlive(ctx, tt.id); err != nil || got != tt.want {
				t.Errorf("NodeAlive(%q) = %v, %v; want %v", tt.id, got, err, tt.want)
			}
		})
	}
	// When the owner closes (or dies), the next process may serve.
	a.Close()
	if _, err := b.RegisterNode(ctx); err != nil {
		t.Errorf("registration after the owner closed: %v", err)
	}
}

// TestNodesPostgres: nodes on one PostgreSQL see each other alive until one's session ends.
func TestNodesPostgres(t *testing.T) {
	ctx := context.Background()
	a, b := openPair(t, sqlstore.Config{DSN: storetest.PostgresDSN(t)})
	ida, err := a.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idb, err := b.RegisterNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		s    *sqlstore.Store
		id   string
		want bool
	}{{a, ida, true}, {a, idb, true}, {b, ida, true}, {a, "0badf00d", false}} {
		if got, err := tt.s.NodeAlive(ctx, tt.id); err != nil || got != tt.want {
			t.Errorf("NodeAlive(%q) = %v, %v; want %v", tt.id, got, err, tt.want)
		}
	}
	// Asking leaves the lock free: a dead node stays dead on the next question too.
	if got, _ := a.NodeAlive(ctx, "0badf00d"); got {
		t.Error("a dead node came back after a question")
	}
	// A node whose session ends is gone for the others.
	b.Close()
	if got, err := a.NodeAlive(ctx, idb); err != nil || got {
		t.Errorf("NodeAlive of a closed node = %v, %v", got, err)
	}
}
