package app

import (
	"context"
	"errors"
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

// TestRewrapWaitsForRefresh: a node reloads the keysets only every key refresh, and one that
// has not yet loaded a key change (here a rotation) when the keysets go under a new master key
// can never load it: it cannot open them, its refresh fails, and once the key fence bound has
// passed its writes that seal are refused until it is restarted (seen walking
// docs/operations.md's key ceremony: a rewrap a few seconds after a `keys destroy` left the
// running server answering 503 to every card create). So a rewrap waits as a retire does,
// says when to retry, and rewraps nothing before; a store whose keysets never changed since
// they were made (which every node loads when it starts) is rewrapped at once.
func TestRewrapWaitsForRefresh(t *testing.T) {
	log, _ := logtest.New(t)
	m := mustOpenRefresh(t, log, time.Minute) // no watcher runs: only explicit refreshes
	ctx := context.Background()
	mk, err := keys.ReadMasterKeyFile(filepath.Join(m.Config.DataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/never-changed", func(t *testing.T) {
		m := mustOpenRefresh(t, log, time.Minute)
		mk, err := keys.ReadMasterKeyFile(filepath.Join(m.Config.DataDir, "master.key"))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.RewrapMasterKey(ctx, mk, keys.NewMasterKey()); err != nil {
			t.Errorf("RewrapMasterKey of a store whose keysets never changed: %v", err)
		}
	})

	node, err := keys.Open(ctx, m.Store, mk, keys.Options{}) // a serving node, loaded before the rotation
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Keyring.Rotate(ctx, keys.KeysetData); err != nil {
		t.Fatal(err)
	}
	newKey := keys.NewMasterKey()
	err = m.RewrapMasterKey(ctx, mk, newKey)
	if !errors.Is(err, ErrKeysetsUnsettled) || !strings.Contains(err.Error(), "retry after") {
		t.Errorf("RewrapMasterKey right after a rotation = %v; want it refused, saying when to retry", err)
	}
	if err := node.Refresh(ctx); err != nil {
		t.Errorf("after the refused rewrap, the node does not load the rotation: %v", err)
	}
	mustBackdateKeysets(t, m, m.retireWait()-2*time.Second)
	if err := m.RewrapMasterKey(ctx, mk, newKey); !errors.Is(err, ErrKeysetsUnsettled) {
		t.Errorf("RewrapMasterKey just before the wait = %v; want it refused", err)
	}
	mustBackdateKeysets(t, m, 2*time.Second)
	if err := m.RewrapMasterKey(ctx, mk, newKey); err != nil {
		t.Fatalf("RewrapMasterKey once the wait has passed: %v", err)
	}
	// The node, which loaded the last change before the rewrap, serves on with the keys it holds.
	if err := node.Refresh(ctx); err != nil {
		t.Errorf("the node on the old master key after the rewrap: %v", err)
	}
	if _, err := keys.Open(ctx, m.Store, newKey, keys.Options{}); err != nil {
		t.Errorf("the new master key does not open the keysets: %v", err)
	}
}
