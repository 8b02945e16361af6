package storetest

import (
	"context"
	"testing"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// RunRekeyRace checks that re-encryption never writes back what changed after it read a
// record: a single-use token consumed meanwhile keeps its CVV destroyed, and a sealed field
// set meanwhile under the old key is not reported re-encrypted. The store must also implement
// vault.SealedStore.
func RunRekeyRace(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	ss := f.Store.(vault.SealedStore)
	tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "5200400000000009",
		Expiry: card.Expiry{Month: 1, Year: 2040}, CVV: "123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Keys.Rotate(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	// The re-encryption reads the token while it still holds its CVV…
	stale, err := ss.StaleSealed(ctx, "onetime_tokens", f.Keys.PrimaryKeyID(), f.Keys.PrimaryMACKeyID(), "", 10)
	if err != nil || len(stale) != 1 || len(stale[0].Fields["cvv"]) == 0 {
		t.Fatalf("stale tokens: %d, %v", len(stale), err)
	}
	old := stale[0]
	next := vault.SealedRecord{Table: old.Table, ID: old.ID, MerchantID: old.MerchantID, Fields: map[string][]byte{}}
	for field, ct := range old.Fields {
		if len(ct) > 0 {
			next.Fields[field] = append([]byte("resealed:"), ct...)
		}
	}
	next.KeyID = f.Keys.PrimaryKeyID()
	// …the token is consumed, which destroys the CVV…
	err = f.Store.Write(ctx, func(tx vault.Tx) error {
		ok, err := tx.ConsumeOneTimeToken(ctx, f.Creds.MerchantID, old.ID, f.Svc.Now())
		if err == nil && !ok {
			t.Error("the token was not consumed")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// …and the re-encryption's write must not bring it back.
	if ok, err := ss.ResealRecord(ctx, old, next); err != nil || ok {
		t.Errorf("ResealRecord over a consumed token = %v, %v; want false", ok, err)
	}
	got, err := f.Store.GetOneTimeToken(ctx, f.Creds.MerchantID, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sealed.CVV != nil {
		t.Errorf("a consumed token holds a CVV again (%d bytes)", len(got.Sealed.CVV))
	}
	// An unchanged record is rewritten.
	tok2, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "4111111111111111",
		Expiry: card.Expiry{Month: 1, Year: 2040}, CVV: "456"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Keys.Rotate(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	stale, err = ss.StaleSealed(ctx, "onetime_tokens", f.Keys.PrimaryKeyID(), f.Keys.PrimaryMACKeyID(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := vault.NewRekeyer(ss, f.Keys).Run(ctx, 10)
	if err != nil || rep.Rewritten < 1 || rep.Unreadable != 0 {
		t.Fatalf("rekey = %+v, %v", rep, err)
	}
	got, _ = f.Store.GetOneTimeToken(ctx, f.Creds.MerchantID, tok2.Token)
	if got.Sealed.KeyID != f.Keys.PrimaryKeyID() || len(got.Sealed.CVV) == 0 {
		t.Errorf("an unchanged token was not re-encrypted: key %d, %d CVV bytes (stale list held %d)", got.Sealed.KeyID, len(got.Sealed.CVV), len(stale))
	}
}
