package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// TestKeyFence: a write that stores sealed data under keys a rotation replaced commits while
// the rotation is more recent than the key fence bound, by the database's clock, and is
// refused (Unavailable, nothing written) once it is older; the other writes of its batch
// commit, and so do writes that store no sealed data, or carry the current keys. A node that
// missed a change of the keys other than a rotation (a key retired) is refused the same way,
// and a rewrap, which changes no key, refuses nothing.
func TestKeyFence(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			st := e.open(t, sqlstore.Config{Committers: 1})
			mk := keys.NewMasterKey()
			kr, err := keys.Open(ctx, st, mk, keys.Options{})
			if err != nil {
				t.Fatal(err)
			}
			held := func() vault.KeyStates {
				var ks vault.KeyStates
				ks.Data, ks.MAC = kr.KeyStates()
				return ks
			}
			const mid = "m-fence"
			if err := st.Write(ctx, func(tx vault.Tx) error {
				return tx.InsertMerchant(ctx, &vault.Merchant{ID: mid, Name: mid, Created: time.Now()})
			}); err != nil {
				t.Fatal(err)
			}
			// seal stores a single-use token (a record with sealed data) carrying ks, or
			// no key states when ks is nil; setting stores nothing sealed.
			seal := func(name string, ks *vault.KeyStates) error {
				wctx := ctx
				if ks != nil {
					wctx = vault.WithKeyStates(ctx, *ks)
				}
				now := time.Now().UTC().Truncate(time.Millisecond)
				return st.Write(wctx, func(tx vault.Tx) error {
					return tx.InsertOneTimeToken(ctx, &vault.OneTimeToken{ID: vault.NewID(), MerchantID: mid, Token: name,
						Kind: vault.TokenCard, Created: now, Expires: now.Add(time.Hour), Sealed: vault.Sealed{KeyID: ks0Key(ks)}})
				})
			}
			setting := func(name string, ks vault.KeyStates) error {
				return st.Write(vault.WithKeyStates(ctx, ks), func(tx vault.Tx) error { return tx.SetSetting(ctx, name, "v") })
			}
			outcome := func(err error) string {
				switch {
				case err == nil:
					return "ok"
				case vault.KindOf(err) == vault.Unavailable && strings.Contains(err.Error(), "key fence"):
					return "refused"
				}
				return "unexpected: " + err.Error()
			}
			stored := func(name string) bool {
				_, err := st.GetOneTimeToken(ctx, mid, name)
				return err == nil
			}
			// backdate moves the last key change of every keyset more than the key fence
			// bound back, as if that long had passed.
			backdate := func() {
				t.Helper()
				by := (st.KeyFence() + time.Second).Milliseconds()
				if _, err := st.DB().Exec(fmt.Sprintf("UPDATE key_fence SET changed_at = changed_at - %d, primary_changed_at = primary_changed_at - %d", by, by)); err != nil {
					t.Fatal(err)
				}
			}

			before := held()
			if _, err := kr.Rotate(ctx, keys.KeysetData); err != nil {
				t.Fatal(err)
			}
			after := held()
			if got := outcome(seal("old-recent", &before)); got != "ok" {
				t.Errorf("a write sealed under the old keys just after the rotation: %s", got)
			}
			backdate()
			got := make([]string, 5)
			mustGather(t, st, []func(){
				func() { got[0] = outcome(seal("old-1", &before)) },
				func() { got[1] = outcome(seal("new", &after)) },
				func() { got[2] = outcome(seal("unfenced", nil)) },
				func() { got[3] = outcome(setting("not-sealed", before)) },
				func() { got[4] = outcome(seal("old-2", &before)) },
			})
			if d := cmp.Diff([]string{"refused", "ok", "ok", "ok", "refused"}, got); d != "" {
				t.Errorf("a batch once the rotation is older than the key fence (-want +got)\n%s", d)
			}
			if st.WriteStats().Unfenced == 0 {
				t.Error("the write of sealed data without key states is not counted unfenced")
			}
			if got := outcome(seal("old-alone", &before)); got != "refused" {
				t.Errorf("a write alone sealed under the old keys: %s", got)
			}
			for name, want := range map[string]bool{"old-recent": true, "old-1": false, "new": true, "unfenced": true, "old-2": false, "old-alone": false} {
				if stored(name) != want {
					t.Errorf("token %s stored: %v, want %v", name, !want, want)
				}
			}

			// A key retired: the primary stays, the keys change.
			if err := kr.Disable(ctx, keys.KeysetData, before.Data.Primary); err != nil {
				t.Fatal(err)
			}
			if got := outcome(seal("missed-retire-recent", &after)); got != "ok" {
				t.Errorf("a write under the keys from before a retire, just after it: %s", got)
			}
			backdate()
			if got := outcome(seal("missed-retire-old", &after)); got != "refused" {
				t.Errorf("a write under the keys from before a retire, long after it: %s", got)
			}
			// A rewrap changes no key: a node on the old master key still holds the stored
			// keys.
			current := held()
			if err := keys.Rewrap(ctx, st, mk, keys.NewMasterKey()); err != nil {
				t.Fatal(err)
			}
			backdate()
			if got := outcome(seal("after-rewrap", &current)); got != "ok" {
				t.Errorf("a write under the current keys after a rewrap: %s", got)
			}
		})
	}
}

// ks0Key is the data key a write carrying ks seals under: its primary (1 with none).
func ks0Key(ks *vault.KeyStates) uint32 {
	if ks == nil {
		return 1
	}
	return ks.Data.Primary
}

// BenchmarkKeyFence measures what the key fence adds to a write that stores sealed data (a
// single-use token), alone in its transaction: it alternates such writes carrying key states
// (fenced: the end of the transaction reads the fence) with the same writes carrying none, so
// that both meet the same load, and reports each one's mean wall time and this process's CPU
// time (PostgreSQL's own CPU is not in it) per write.
func BenchmarkKeyFence(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			f := mustBenchFixture(b, e.open)
			ctx := context.Background()
			var held vault.KeyStates
			held.Data, held.MAC = f.Keys.KeyStates()
			var wall, cpu [2]time.Duration
			b.ResetTimer()
			for i := range b.N {
				wctx := ctx
				if i%2 == 0 {
					wctx = vault.WithKeyStates(ctx, held)
				}
				now := time.Now().UTC().Truncate(time.Millisecond)
				t := &vault.OneTimeToken{ID: vault.NewID(), MerchantID: f.Creds.MerchantID, Token: "fence-" + vault.NewID(),
					Kind: vault.TokenCard, Created: now, Expires: now.Add(time.Hour), Sealed: vault.Sealed{KeyID: held.Data.Primary}}
				start, cpu0 := time.Now(), cpuTime()
				if err := f.Store.Write(wctx, func(tx vault.Tx) error { return tx.InsertOneTimeToken(ctx, t) }); err != nil {
					b.Fatal(err)
				}
				wall[i%2] += time.Since(start)
				cpu[i%2] += cpuTime() - cpu0
			}
			n := float64(b.N) / 2
			b.ReportMetric(float64(wall[0].Microseconds())/n, "fenced-us/op")
			b.ReportMetric(float64(wall[1].Microseconds())/n, "plain-us/op")
			b.ReportMetric(float64(cpu[0].Microseconds())/n, "fenced-cpu-us/op")
			b.ReportMetric(float64(cpu[1].Microseconds())/n, "plain-cpu-us/op")
		})
	}
}
