package keys_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/keys"
)

// TestCheck: Check opens the stored keysets with the master key and writes nothing, not even
// a missing keyset; a wrong key fails with ErrWrongMasterKey.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	mk := MustMasterKey(t)
	full := newMemStore()
	MustOpen(t, full, mk)
	partial := newMemStore()
	partial.sets["server"] = full.sets["server"]
	for _, tt := range []struct {
		name  string
		store *memStore
		key   keys.MasterKey
		want  int
		err   error
	}{
		{"ok", full, mk, 3, nil},
		{"ok/empty-store", newMemStore(), mk, 0, nil},
		{"ok/partial-store", partial, mk, 1, nil},
		{"fail/wrong-key", full, MustMasterKey(t), 0, keys.ErrWrongMasterKey},
		{"fail/wrong-key-partial-store", partial, MustMasterKey(t), 0, keys.ErrWrongMasterKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.store.versions()
			n, err := keys.Check(ctx, tt.store, tt.key)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Check: error = %v, want %v", err, tt.err)
			}
			if tt.err == nil && n != tt.want {
				t.Errorf("Check opened %d keysets, want %d", n, tt.want)
			}
			if d := cmp.Diff(before, tt.store.versions()); d != "" {
				t.Errorf("Check wrote to the store (-before +after)\n%s", d)
			}
		})
	}
}
