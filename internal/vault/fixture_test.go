package vault_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
)

// MustSQLiteFixture is a storetest fixture over a fresh SQLite store.
func MustSQLiteFixture(tb testing.TB) *storetest.Fixture {
	tb.Helper()
	return storetest.MustFixture(tb, func(tb testing.TB) storetest.Store {
		st, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	})
}
