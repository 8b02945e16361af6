package storetest

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/vault"
)

// RunRekeyUnreadable checks that re-encryption skips a record whose sealed data does not open
// (tampered, or restored into the wrong row), re-encrypts every other record in the same run,
// and reports the skipped ones by id. The unreadable records are the first stale ones in id
// order, more than a batch of them, so a rekeyer that stops at them, or reads them again on
// every batch, fails. The store must also implement vault.SealedStore.
func RunRekeyUnreadable(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	ss := f.Store.(vault.SealedStore)
	p := mustProfile(t, f, "ur")
	pans := []string{"4111111111111111", "5200400000000009", "4012888888881881", "5555555555554444",
		"378282246310005", "6011111111111117", "4000056655665556", "5105105105105100"}
	for _, pan := range pans {
		mustCard(t, f, p.ID, pan, vault.CreateOptions{})
	}
	oldKey := f.Keys.PrimaryKeyID()
	if _, err := f.Keys.Rotate(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	stale, err := ss.StaleSealed(ctx, "instruments", f.Keys.PrimaryKeyID(), f.Keys.PrimaryMACKeyID(), "", 100)
	if err != nil || len(stale) != len(pans) {
		t.Fatalf("stale cards: %d, %v; want %d", len(stale), err, len(pans))
	}
	// The first three cards by id no longer open: one has a flipped tag byte, two hold the last
	// card's ciphertext, as after restoring the wrong row, which the associated data refuses.
	const batch = 2
	var badIDs []string
	for i, rec := range stale[:batch+1] {
		ct := slices.Clone(rec.Fields["number"])
		if i == 0 {
			ct[len(ct)-1] ^= 1
		} else {
			ct = slices.Clone(stale[len(stale)-1].Fields["number"])
		}
		next := rec
		next.Fields = maps.Clone(rec.Fields)
		next.Fields["number"] = ct
		if ok, err := ss.ResealRecord(ctx, rec, next); err != nil || !ok {
			t.Fatalf("corrupting card %d: %v, %v", i, ok, err)
		}
		badIDs = append(badIDs, rec.ID)
	}

	rk := vault.NewRekeyer(ss, f.Keys)
	rep, err := rk.Run(ctx, batch)
	if err != nil {
		t.Fatalf("rekey stopped at an unreadable record: %+v, %v", rep, err)
	}
	var want []vault.UnreadableRecord
	for _, id := range badIDs {
		want = append(want, vault.UnreadableRecord{Table: "instruments", ID: id, MerchantID: f.Creds.MerchantID, KeyID: oldKey, Field: "number"})
	}
	if d := cmp.Diff(want, rep.UnreadableRecords); d != "" || rep.Unreadable != len(badIDs) {
		t.Errorf("%d unreadable records reported; (-want +got)\n%s", rep.Unreadable, d)
	}
	// The location's ticket hash key is the other record sealed under the old key.
	if n := len(pans) - len(badIDs) + 1; rep.Rewritten != n || rep.Changed != 0 {
		t.Errorf("rekey rewrote %d records (%d changed meanwhile), want %d", rep.Rewritten, rep.Changed, n)
	}
	// Every readable card was re-encrypted and still opens; the unreadable ones are untouched.
	for _, rec := range stale {
		got, err := f.Store.GetInstrument(ctx, f.Creds.MerchantID, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(badIDs, rec.ID) {
			if got.Sealed.KeyID != oldKey {
				t.Errorf("unreadable card %s: key %d, want %d (left as it was)", rec.ID, got.Sealed.KeyID, oldKey)
			}
			continue
		}
		if got.Sealed.KeyID != f.Keys.PrimaryKeyID() {
			t.Errorf("card %s still under key %d", rec.ID, got.Sealed.KeyID)
		}
		if _, err := f.Svc.RevealNumber(got); err != nil {
			t.Errorf("card %s after rekey: %v", rec.ID, err)
		}
	}
	// Only the unreadable cards are left stale, in every table.
	for _, table := range ss.SealedTables() {
		left, err := ss.StaleSealed(ctx, table, f.Keys.PrimaryKeyID(), f.Keys.PrimaryMACKeyID(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, rec := range left {
			ids = append(ids, rec.ID)
		}
		var wantIDs []string
		if table == "instruments" {
			wantIDs = badIDs
		}
		if d := cmp.Diff(wantIDs, ids); d != "" {
			t.Errorf("%s: stale records left (-want +got)\n%s", table, d)
		}
	}
	// A second run rewrites nothing and reports the same records: they stay unreadable until
	// restored or deleted.
	again, err := rk.Run(ctx, batch)
	if err != nil || again.Rewritten != 0 {
		t.Errorf("second run: %+v, %v", again, err)
	}
	if d := cmp.Diff(rep.UnreadableRecords, again.UnreadableRecords); d != "" {
		t.Errorf("second run's unreadable records (-first +second)\n%s", d)
	}
}
