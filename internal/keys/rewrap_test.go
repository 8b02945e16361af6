package keys_test

import (
	"context"
	"errors"
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

func TestRewrap(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	oldKey, newKey := keys.NewMasterKey(), keys.NewMasterKey()
	kr, err := keys.Open(ctx, store, oldKey, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ad := keys.AD{Merchant: "m", Record: "r", Field: "number"}
	ct, err := kr.Seal([]byte("4111111111111111"), ad)
	if err != nil {
		t.Fatal(err)
	}
	fp := kr.Fingerprint("m", "4111111111111111")
	if err := keys.Rewrap(ctx, store, oldKey, newKey); err != nil {
		t.Fatal(err)
	}
	if err := keys.Rewrap(ctx, store, oldKey, newKey); err != nil {
		t.Fatalf("a second rewrap is not a no-op: %v", err)
	}
	if _, err := keys.Open(ctx, store, oldKey, keys.Options{}); !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Errorf("the old master key still opens the keysets: %v", err)
	}
	kr2, err := keys.Open(ctx, store, newKey, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr2.Open(ct, ad); err != nil || string(pt) != "4111111111111111" {
		t.Errorf("old ciphertext under the new master key: %v", err)
	}
	if kr2.Fingerprint("m", "4111111111111111") != fp {
		t.Error("fingerprints changed with the master key")
	}
}
