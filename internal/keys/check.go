package keys

import (
	"context"
	"errors"
	"fmt"
)

// Check opens every keyset stored in store with mk, and writes nothing: it creates no keyset
// that is missing. It returns how many keysets it opened (0 for a store that holds none yet),
// and an error wrapping ErrWrongMasterKey when mk does not open one of them. payvault checks
// the master key so before it migrates a store, so that a node started with the wrong key
// changes nothing, not even the schema.
func Check(ctx context.Context, store KeysetStore, mk MasterKey) (int, error) {
	kek, err := newKEK(mk)
	if err != nil {
		return 0, err
	}
	n := 0
	for kd := range numKinds {
		blob, _, err := store.LoadKeyset(ctx, kd.String())
		if errors.Is(err, ErrNoKeyset) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("keys: load keyset %q: %w", kd, err)
		}
		if _, err := decodeKeyset(kek, kd, blob); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
