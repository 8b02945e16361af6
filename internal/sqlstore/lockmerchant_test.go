package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestLockMerchantWaits: on PostgreSQL with two committers (as two nodes would), a write that
// locks a merchant waits for another write holding that lock to commit, and then sees what it
// wrote; the unique location api ids and usernames depend on it.
func TestLockMerchantWaits(t *testing.T) {
	st := engines[1].open(t, sqlstore.Config{Committers: 2})
	f := storetest.MustFixture(t, func(testing.TB) storetest.Store { return st })
	ctx := context.Background()
	mid := f.Creds.MerchantID
	locked := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- st.Write(ctx, func(tx vault.Tx) error {
			if _, err := tx.LockMerchant(ctx, mid); err != nil {
				return err
			}
			close(locked)
			time.Sleep(300 * time.Millisecond) // the second write starts meanwhile, on the other committer
			return tx.SetSetting(ctx, "lock-test", "first")
		})
	}()
	<-locked
	var seen string
	err := st.Write(ctx, func(tx vault.Tx) error {
		if _, err := tx.LockMerchant(ctx, mid); err != nil {
			return err
		}
		v, err := tx.GetSetting(ctx, "lock-test")
		if err != nil && vault.KindOf(err) != vault.NotFound {
			return err
		}
		seen = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if seen != "first" {
		t.Errorf("the second write saw %q: it did not wait for the first's lock", seen)
	}
}
