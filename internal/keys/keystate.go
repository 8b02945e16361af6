package keys

import (
	"context"
	"crypto/sha256"
	"encoding/binary"

	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

// KeyState names the keys of a keyset as they stand, without any key material: its primary
// key and a digest of its primary key id and of every key's id and status. Two versions of a
// keyset have the same KeyState exactly when they hold the same keys in the same states: a
// rotation, a key disabled, enabled or destroyed changes it, and a rewrap under another
// master key (Rewrap) does not. The store keeps it in the clear beside the keyset, so that
// the database can tell whether a write sealed or fingerprinted under the keys it still
// holds (the key fence, docs/security.md).
type KeyState struct {
	Primary uint32 // Primary is the id of the keyset's primary key.
	Digest  int64  // Digest is the first 8 bytes of a SHA-256 over the primary id and each key's id and status.
}

// keyStateOf returns the KeyState of tink's KeysetInfo, which the encrypted blob carries in
// the clear and a handle reports for its keys.
func keyStateOf(info *tinkpb.KeysetInfo) KeyState {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], info.GetPrimaryKeyId())
	h.Write(b[:4])
	for _, k := range info.GetKeyInfo() {
		binary.BigEndian.PutUint32(b[:4], k.GetKeyId())
		binary.BigEndian.PutUint32(b[4:], uint32(k.GetStatus()))
		h.Write(b[:])
	}
	return KeyState{Primary: info.GetPrimaryKeyId(), Digest: int64(binary.BigEndian.Uint64(h.Sum(nil)))}
}

// KeyStateStore is a KeysetStore that keeps each keyset's KeyState in the clear beside its
// blob (the blob is tink's EncryptedKeyset without its KeysetInfo, so nothing can be read from
// it without the master key). The Keyring and Rewrap store through it when the store offers
// it; sqlstore does.
type KeyStateStore interface {
	KeysetStore
	// StoreKeysetState is StoreKeyset that also keeps to as the keyset's KeyState; from is
	// the KeyState of the version expect (zero for a new keyset), for a store that kept none
	// for it.
	StoreKeysetState(ctx context.Context, name string, blob []byte, expect int64, from, to KeyState) error
	// LoadKeyState returns the KeyState kept beside keyset name; ok is false when none is
	// kept (a keyset stored before the store kept them, or through StoreKeyset).
	LoadKeyState(ctx context.Context, name string) (state KeyState, ok bool, err error)
}

// storeKeyset stores blob through store, with its KeyState to (changed from from) where store
// keeps KeyStates.
func storeKeyset(ctx context.Context, store KeysetStore, name string, blob []byte, expect int64, from, to KeyState) error {
	if ss, ok := store.(KeyStateStore); ok {
		return ss.StoreKeysetState(ctx, name, blob, expect, from, to)
	}
	return store.StoreKeyset(ctx, name, blob, expect)
}

// rewrappedOnly reports whether keyset kd, stored at a version this keyring cannot decrypt,
// still holds the keys of st (its stored KeyState is st's): a rewrap under another master key
// changed the blob and nothing else.
func (k *Keyring) rewrappedOnly(ctx context.Context, kd kind, st *keysetState) bool {
	ss, ok := k.store.(KeyStateStore)
	if !ok {
		return false
	}
	state, ok, err := ss.LoadKeyState(ctx, kd.String())
	return err == nil && ok && state == st.state
}

// KeyStates returns the KeyStates of the data and MAC keysets this keyring seals and
// fingerprints with now, from one snapshot. A write that seals or fingerprints carries what
// it read here before sealing (vault.WithKeyStates), so that its store can refuse to commit
// it once those keys are no longer current (the key fence).
func (k *Keyring) KeyStates() (data, mac KeyState) {
	snap := k.snap.Load()
	return snap.sets[kindData].state, snap.sets[kindMAC].state
}
