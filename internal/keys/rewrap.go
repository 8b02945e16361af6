package keys

import (
	"context"
	"errors"
	"fmt"
)

// Rewrap rotates the master key: it decrypts every stored keyset with oldKey and stores it
// encrypted under newKey, keyset by keyset, each a compare-and-swap on its version. The data
// keys themselves do not change, so no record needs re-encryption. Every node must then be
// restarted with the new master key. A keyset already under newKey is left as it is, so a
// rewrap interrupted halfway can simply be run again.
func Rewrap(ctx context.Context, store KeysetStore, oldKey, newKey MasterKey) error {
	if oldKey == newKey {
		return errors.New("keys: the new master key is the old one")
	}
	oldKEK, err := newKEK(oldKey)
	if err != nil {
		return err
	}
	newKEK, err := newKEK(newKey)
	if err != nil {
		return err
	}
	for _, k := range []kind{kindData, kindMAC, kindServer} {
		blob, version, err := store.LoadKeyset(ctx, k.String())
		if errors.Is(err, ErrNoKeyset) {
			continue
		}
		if err != nil {
			return fmt.Errorf("keys: load keyset %q: %w", k, err)
		}
		h, err := decodeKeyset(oldKEK, k, blob)
		if errors.Is(err, ErrWrongMasterKey) {
			if _, nerr := decodeKeyset(newKEK, k, blob); nerr == nil {
				continue // already rewrapped
			}
		}
		if err != nil {
			return err
		}
		out, err := encodeKeyset(newKEK, k, h)
		if err != nil {
			return err
		}
		ks := keyStateOf(h.KeysetInfo())
		if err := storeKeyset(ctx, store, k.String(), out, version, ks, ks); err != nil {
			return fmt.Errorf("keys: store keyset %q: %w", k, err)
		}
	}
	return nil
}
