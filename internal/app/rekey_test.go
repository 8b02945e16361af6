package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// TestRekeyJobQuiet shows that the re-encryption job does not scan the store every tick: one
// pass at start, passes every tick after a key rotation until it has settled, then none.
func TestRekeyJobQuiet(t *testing.T) {
	log, _ := logtest.New(t)
	const every = 5 * time.Millisecond
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, Out: &nopWriter{}, KeyRefresh: every})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.rekey.run(ctx, every); close(done) }()
	defer func() { cancel(); <-done }()

	waitQuiet := func() int64 {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			n := m.rekey.passes.Load()
			// Quiet for longer than the job's settling ticks, and for a second at least: a
			// loaded machine (CI) can hold a 5 ms tick back for a few hundred ms.
			time.Sleep(max((rekeySettleTicks+10)*every, time.Second))
			if m.rekey.passes.Load() == n && n > 0 {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("the job never settles: %d passes", m.rekey.passes.Load())
			}
		}
	}
	start := waitQuiet()
	if start > 2 {
		t.Errorf("%d passes at start on an idle store, want 1", start)
	}
	if _, err := m.Keyring.Rotate(context.Background(), "data"); err != nil {
		t.Fatal(err)
	}
	after := waitQuiet()
	// One pass a tick until rekeySettleTicks ticks have passed since the rotation: about 20 on
	// a quiet machine, fewer where a pass outlasts a tick (the race detector, a loaded CI
	// machine: 6 seen), and never fewer than two, since the pass that sees the rotation cannot
	// count it settled.
	if after-start < 2 {
		t.Errorf("%d passes after a rotation, want one a tick until settled (about %d)", after-start, rekeySettleTicks)
	}
}

// TestRekeyJobUnreadable: a pass skips a record that does not open, re-encrypts the others,
// and reports the skipped one (one WARN line, the gauge, the admin progress and RetireKey's
// refusal) by id, never by its data; a pass that finds only that one left is stuck, not busy.
func TestRekeyJobUnreadable(t *testing.T) {
	log, logs := logtest.New(t)
	m := mustOpenRefresh(t, log, 0)
	ctx := context.Background()
	for i := range 3 {
		creds, err := m.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: fmt.Sprint("Shop ", i)})
		if err != nil {
			t.Fatal(err)
		}
		logs.Forbid(creds.Fortis.TicketHashKey)
	}
	oldKey := m.Keyring.PrimaryKeyID()
	if _, err := m.Keyring.Rotate(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	// The first location's ticket hash key is replaced by the second's, as after restoring the
	// wrong row: it is sealed for another record, so it does not open.
	stale, err := m.Store.StaleSealed(ctx, "locations", m.Keyring.PrimaryKeyID(), m.Keyring.PrimaryMACKeyID(), "", 10)
	if err != nil || len(stale) < 3 {
		t.Fatalf("stale locations: %d, %v", len(stale), err)
	}
	bad := stale[0]
	next := bad
	next.Fields = map[string][]byte{"ticket_hash_key": stale[1].Fields["ticket_hash_key"]}
	if ok, err := m.Store.ResealRecord(ctx, bad, next); err != nil || !ok {
		t.Fatalf("corrupting a location: %v, %v", ok, err)
	}
	logs.Forbid(base64.StdEncoding.EncodeToString(next.Fields["ticket_hash_key"]))

	if got := m.rekey.pass(ctx); got != passBusy {
		t.Errorf("first pass = %v, want busy (%v)", got, passBusy)
	}
	if got := m.rekey.pass(ctx); got != passStuck {
		t.Errorf("second pass = %v, want stuck (%v)", got, passStuck)
	}
	want := []vault.UnreadableRecord{{Table: "locations", ID: bad.ID, MerchantID: bad.MerchantID, KeyID: oldKey, Field: "ticket_hash_key"}}
	prog, err := m.RekeyProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, prog.UnreadableRecords); d != "" || prog.Unreadable != 1 || prog.Stale != 1 {
		t.Errorf("progress: %d unreadable, %d stale; (-want +got)\n%s", prog.Unreadable, prog.Stale, d)
	}
	if got := gaugeValue(t, m, "payvault_rekey_unreadable_records"); got != 1 {
		t.Errorf("payvault_rekey_unreadable_records = %v, want 1", got)
	}
	if n := strings.Count(logs.String(), "rekey: records whose sealed data does not open"); n != 2 || !strings.Contains(logs.String(), "locations/"+bad.ID) {
		t.Errorf("%d WARN lines for 2 passes, want 2, naming locations/%s:\n%s", n, bad.ID, logs.String())
	}
	mustBackdateKeysets(t, m, m.retireWait()) // every node has seen the rotation (TestRetireWaitsForRefresh)
	err = m.RetireKey(ctx, "data", oldKey)
	if !errors.Is(err, keys.ErrKeyInUse) || !strings.Contains(err.Error(), "1 of which the last re-encryption pass could not open") {
		t.Errorf("RetireKey = %v", err)
	}
	// Once the record is restored from a backup, the next pass re-encrypts it, and the one
	// after is clean and reports nothing.
	if ok, err := m.Store.ResealRecord(ctx, next, bad); err != nil || !ok {
		t.Fatalf("restoring the location: %v, %v", ok, err)
	}
	if got := m.rekey.pass(ctx); got != passBusy {
		t.Errorf("pass after the restore = %v, want busy (%v)", got, passBusy)
	}
	if got := m.rekey.pass(ctx); got != passClean {
		t.Errorf("last pass = %v, want clean (%v)", got, passClean)
	}
	if got := gaugeValue(t, m, "payvault_rekey_unreadable_records"); got != 0 {
		t.Errorf("payvault_rekey_unreadable_records = %v after the restore, want 0", got)
	}
	if err := m.RetireKey(ctx, "data", oldKey); err != nil {
		t.Errorf("RetireKey after the restore: %v", err)
	}
}

// gaugeValue reads a gauge from m's registry.
func gaugeValue(tb testing.TB, m *Main, name string) float64 {
	tb.Helper()
	mfs, err := m.Metrics.Registry.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	tb.Fatalf("no gauge %s", name)
	return 0
}

// TestRetirePrimaryKey: retiring or destroying the primary data key while it protects records
// says that the primary cannot be retired and to rotate first, not to wait for a re-encryption
// that never moves records off it.
func TestRetirePrimaryKey(t *testing.T) {
	log, _ := logtest.New(t)
	m := mustOpen(t, log)
	ctx := context.Background()
	if _, err := m.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Shop"}); err != nil {
		t.Fatal(err)
	}
	primary := m.Keyring.PrimaryKeyID()
	if counts, err := m.Store.CountSealedByKey(ctx); err != nil || counts[primary] == 0 {
		t.Fatalf("the primary protects %d records (%v); want some", counts[primary], err)
	}
	for op, f := range map[string]func(context.Context, string, uint32) error{"retire": m.RetireKey, "destroy": m.DestroyKey} {
		t.Run("fail/"+op, func(t *testing.T) {
			err := f(ctx, "data", primary)
			if !errors.Is(err, keys.ErrPrimaryKey) || !strings.Contains(err.Error(), "cannot be retired") || strings.Contains(err.Error(), "wait") {
				t.Errorf("%v; want the primary refused, with rotate first", err)
			}
		})
	}
}

// TestRekeyPassStaleKeyring: a node that has not yet reloaded the keysets after another node
// (or `payvault keys rotate`) made a new primary data key must not report the records already
// sealed under that key as unreadable, telling the operator to restore or delete good records:
// a pass first reloads the keysets.
func TestRekeyPassStaleKeyring(t *testing.T) {
	log, logs := logtest.New(t)
	dir := t.TempDir()
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: log, Out: &nopWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if _, err := m.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Shop"}); err != nil {
		t.Fatal(err)
	}
	// Another process rotates the data key and re-encrypts every record under it; m, whose
	// watcher is not running, still holds the old keysets.
	mk, err := keys.ReadMasterKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := keys.Open(ctx, m.Store, mk, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := other.Rotate(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := vault.NewRekeyer(m.Store, other).Run(ctx, 200); err != nil || rep.Rewritten == 0 || rep.Unreadable != 0 {
		t.Fatalf("re-encryption by the other process: %+v, %v", rep, err)
	}

	if got := m.rekey.pass(ctx); got != passClean {
		t.Errorf("pass = %v, want clean (%v)", got, passClean)
	}
	if got := m.Keyring.PrimaryKeyID(); got != newKey {
		t.Errorf("primary data key after the pass = %d, want the new one, %d", got, newKey)
	}
	if got := gaugeValue(t, m, "payvault_rekey_unreadable_records"); got != 0 {
		t.Errorf("payvault_rekey_unreadable_records = %v, want 0", got)
	}
	if strings.Contains(logs.String(), "does not open") {
		t.Errorf("good records reported as unreadable:\n%s", logs.String())
	}
}

// TestRekeyJobBindsLegacyTokens: a card sealed before tokens were bound (vault.ADv1) is counted
// by keys status, the progress and the gauge, makes a pass run its table scans although no key
// is stale, and is re-sealed bound to its token (ADv2) by that pass; the next pass is clean.
func TestRekeyJobBindsLegacyTokens(t *testing.T) {
	log, capture := logtest.New(t)
	m := mustOpen(t, log)
	forbidSecrets(capture, m, "")
	ctx := context.Background()
	p, prof := mustSandboxProfile(t, m, "legacy")
	const pan = "4111111111111111"
	capture.Forbid(pan)
	in, err := m.Vault.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID},
		vault.Source{Number: pan, Expiry: card.Expiry{Month: 1, Year: 2040}}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.rekey.pass(ctx); got != passClean {
		t.Fatalf("pass over a new card = %v, want clean (%v)", got, passClean)
	}
	// Seal the card's number as a release before tokens were bound did.
	old := vault.SealedRecord{Table: "instruments", ID: in.ID, MerchantID: in.MerchantID, KeyID: in.Sealed.KeyID, Token: in.Token,
		ADVersion: vault.ADv2, Fingerprint: in.Fingerprint, Fields: map[string][]byte{"number": in.Sealed.Number, "ssn4": nil, "dl_number": nil}}
	ct, err := m.Keyring.Seal([]byte(pan), keys.AD{Merchant: in.MerchantID, Record: in.ID, Field: "number"})
	if err != nil {
		t.Fatal(err)
	}
	legacy := old
	legacy.ADVersion, legacy.Fields = vault.ADv1, map[string][]byte{"number": ct, "ssn4": nil, "dl_number": nil}
	if ok, err := m.Store.ResealRecord(ctx, old, legacy); err != nil || !ok {
		t.Fatalf("writing a v1 card: %v, %v", ok, err)
	}
	st, err := m.KeyStatus(ctx)
	if err != nil || st.LegacyADRecords != 1 {
		t.Fatalf("keys status: %d legacy records, %v; want 1", st.LegacyADRecords, err)
	}
	if got := m.rekey.pass(ctx); got != passBusy {
		t.Errorf("pass over a v1 card = %v, want busy (%v)", got, passBusy)
	}
	if got := m.rekey.pass(ctx); got != passClean {
		t.Errorf("pass after = %v, want clean (%v)", got, passClean)
	}
	prog, err := m.RekeyProgress(ctx)
	if err != nil || prog.LegacyAD != 0 || prog.Stale != 0 {
		t.Fatalf("progress after the passes: %+v, %v; want nothing legacy or stale", prog, err)
	}
	if got := gaugeValue(t, m, "payvault_rekey_legacy_ad_records"); got != 0 {
		t.Errorf("payvault_rekey_legacy_ad_records = %v, want 0", got)
	}
	got, err := m.Store.GetInstrument(ctx, in.MerchantID, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sealed.ADVersion != vault.ADv2 {
		t.Errorf("AD version %d after the pass, want %d", got.Sealed.ADVersion, vault.ADv2)
	}
	if n, err := m.Vault.RevealNumber(got); err != nil || n != pan {
		t.Errorf("RevealNumber after the pass: %d digits, %v", len(n), err)
	}
}

// mustBackdateKeysets moves the last change of every keyset of m's store d back (keysets.updated_at
// and the key fence's times), as if d had passed since on the database's clock, which
// RetireKey and the key fence read.
func mustBackdateKeysets(tb testing.TB, m *Main, d time.Duration) {
	tb.Helper()
	ms := d.Milliseconds()
	for _, q := range []string{
		fmt.Sprintf("UPDATE keysets SET updated_at = updated_at - %d", ms),
		fmt.Sprintf("UPDATE key_fence SET changed_at = changed_at - %d, primary_changed_at = primary_changed_at - %d", ms, ms),
	} {
		if _, err := m.Store.DB().Exec(q); err != nil {
			tb.Fatal(err)
		}
	}
}

// mustOpenRefresh is mustOpen with keys reloaded every refresh (0: the default).
func mustOpenRefresh(tb testing.TB, log *slog.Logger, refresh time.Duration) *Main {
	tb.Helper()
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: tb.TempDir(), Logger: log, Out: &nopWriter{}, KeyRefresh: refresh})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// TestRetireWaitsForRefresh: right after a rotation, a node that has not reloaded the keysets
// yet may still seal (or fingerprint) under the old primary, so a retire that found no record
// under it would strand that record under a disabled key (and under a destroyed one for good,
// since destroy does not wait), and a write sealed just before the reload may wait in a busy
// queue before it commits. Retire refuses until twice the key refresh and the store's write
// bound have passed since the keyset last changed, says when to retry, and leaves the key
// enabled.
func TestRetireWaitsForRefresh(t *testing.T) {
	for _, which := range []string{"data", "mac"} {
		t.Run("fail/"+which+"-just-rotated", func(t *testing.T) { testRetireWaitsForRefresh(t, which) })
	}
}

func testRetireWaitsForRefresh(t *testing.T, which string) {
	log, _ := logtest.New(t)
	const every = time.Minute // far longer than the test: only the backdated changes move past it
	m := mustOpenRefresh(t, log, every)
	ctx := context.Background()
	if _, err := m.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "Shop"}); err != nil {
		t.Fatal(err)
	}
	status := func(id uint32) string {
		for _, k := range m.Keyring.Status().Keys {
			if k.Keyset == which && k.ID == id {
				return k.Status
			}
		}
		return ""
	}
	var oldKey uint32
	for _, ks := range m.Keyring.Status().Keysets {
		if ks.Name == which {
			oldKey = ks.Primary
		}
	}
	if _, err := m.Keyring.Rotate(ctx, which); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.keyUnused(ctx, which, oldKey); err != nil {
		t.Fatalf("after rekey: %v; want no record under the old key", err)
	}

	err := m.RetireKey(ctx, which, oldKey)
	if !errors.Is(err, keys.ErrKeyInUse) || !strings.Contains(err.Error(), "retry after") {
		t.Errorf("RetireKey right after the rotation = %v; want it refused, saying when to retry", err)
	}
	if got := status(oldKey); got != keys.StatusEnabled {
		t.Errorf("old key status after the refused retire = %q, want %q", got, keys.StatusEnabled)
	}
	// Longer than the key fence, which lets a write sealed under the old keys commit for
	// twice the refresh and the write bound (a write sealed just before its node reloaded
	// may wait in the queue and commit after), by a margin.
	if want := 2*every + m.Store.WriteBound(); m.Store.KeyFence() != want || m.Store.WriteBound() < 15*time.Second {
		t.Errorf("key fence %v, want %v (write bound %v)", m.Store.KeyFence(), want, m.Store.WriteBound())
	}
	if m.retireWait() < m.Store.KeyFence()+5*time.Second {
		t.Errorf("retire wait %v, want several seconds longer than the key fence %v", m.retireWait(), m.Store.KeyFence())
	}
	mustBackdateKeysets(t, m, m.retireWait()-2*time.Second) // the test's own time is the rest
	if err := m.RetireKey(ctx, which, oldKey); !errors.Is(err, keys.ErrKeyInUse) {
		t.Errorf("RetireKey just before the retire wait = %v; want it refused", err)
	}
	mustBackdateKeysets(t, m, 2*time.Second)
	if err := m.RetireKey(ctx, which, oldKey); err != nil {
		t.Errorf("RetireKey the retire wait after the rotation: %v", err)
	}
	if got := status(oldKey); got != keys.StatusDisabled {
		t.Errorf("old key status after the retire = %q, want %q", got, keys.StatusDisabled)
	}
}
