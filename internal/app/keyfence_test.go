package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// TestRetireStaleNode: a node whose keyset refresh keeps failing (here: a keyring that is never
// refreshed, as on a node with an old master key after a rewrap, or one that cannot decode a
// newer keyset) keeps sealing under the data key it loaded. Right after a rotation its cards
// are stored (within the key fence) and re-encrypted as any; once the old key is retired and
// destroyed, a card it seals under that key is refused (Unavailable), not stored under a
// destroyed key, where it would be lost for good; the current node's writes go on.
func TestRetireStaleNode(t *testing.T) {
	log, capture := logtest.New(t)
	m := mustOpenRefresh(t, log, time.Minute) // no watcher runs: only explicit refreshes
	forbidSecrets(capture, m, "")
	ctx := context.Background()
	p, prof := mustSandboxProfile(t, m, "stale")
	mk, err := keys.ReadMasterKeyFile(filepath.Join(m.Config.DataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	staleKeys, err := keys.Open(ctx, m.Store, mk, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bins, err := card.LoadBINs()
	if err != nil {
		t.Fatal(err)
	}
	stale := vault.NewService(m.Store, staleKeys, bins, vault.Config{})
	newCard := func(svc *vault.Service, pan string) (*vault.Instrument, error) {
		capture.Forbid(pan)
		return svc.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID},
			vault.Source{Number: pan, Expiry: card.Expiry{Month: 1, Year: 2040}}, vault.CreateOptions{})
	}

	oldKey := m.Keyring.PrimaryKeyID()
	if _, err := m.Keyring.Rotate(ctx, keys.KeysetData); err != nil {
		t.Fatal(err)
	}
	in, err := newCard(stale, "4111111111111111")
	if err != nil || in.Sealed.KeyID != oldKey {
		t.Fatalf("a card the stale node stores just after the rotation: %v (key %v, want the old %d)", err, in, oldKey)
	}
	if _, err := m.Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	mustBackdateKeysets(t, m, m.retireWait()) // the retire wait has passed
	if err := m.RetireKey(ctx, keys.KeysetData, oldKey); err != nil {
		t.Fatalf("RetireKey: %v", err)
	}
	if err := m.DestroyKey(ctx, keys.KeysetData, oldKey); err != nil {
		t.Fatalf("DestroyKey: %v", err)
	}

	_, err = newCard(stale, "5555555555554444")
	if vault.KindOf(err) != vault.Unavailable || !strings.Contains(err.Error(), "key fence") {
		t.Errorf("a card the stale node sealed under the destroyed key: %v; want Unavailable, refused by the key fence", err)
	}
	if _, err := newCard(m.Vault, "378282246310005"); err != nil {
		t.Errorf("a card the current node stores: %v", err)
	}
	counts, err := m.Store.CountSealedByKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[oldKey] != 0 {
		t.Errorf("%d records under the destroyed key %d", counts[oldKey], oldKey)
	}
	cards, _, err := m.Store.ListInstruments(ctx, p.MerchantID(), vault.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 2 {
		t.Errorf("%d cards stored, want 2", len(cards))
	}
	for _, c := range cards {
		if _, err := m.Vault.RevealNumber(c); err != nil {
			t.Errorf("card %s does not open: %v", c.ID, err)
		}
	}
}
