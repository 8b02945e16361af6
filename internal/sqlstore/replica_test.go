package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestCommitWaitingForStandby: on a primary with a synchronous standby that is cut off, a
// COMMIT waits for the standby. When the write wait ends it, the transaction is already
// committed on the primary alone (its mark is there), and would be lost if the
// standby were promoted: the write must not be answered as stored.
func TestCommitWaitingForStandby(t *testing.T) {
	ctx := context.Background()
	r := storetest.OwnReplicated(t)
	dsn, err := r.NewDatabase()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn, WriteWait: time.Second, CommitResolveWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "before", "replicated") }); err != nil {
		t.Fatal(err)
	}
	if err := r.CutStandby(ctx); err != nil {
		t.Fatal(err)
	}
	err = st.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "after", "primary-only") })
	if vault.KindOf(err) != vault.Unavailable {
		t.Errorf("a write the standby never got = %v, want Unavailable", err)
	}
	checkLostCommits(t, st, 0, 0, 1)
}
