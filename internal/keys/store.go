package keys

import (
	"context"
	"errors"
)

// KeysetStore persists encrypted keysets. The sqlstore package implements it.
//
// A blob is opaque to the store: it is a tink EncryptedKeyset encrypted
// under the master key, and the store only needs to keep it together with
// a version number that grows by one on every successful write.
type KeysetStore interface {
	// LoadKeyset returns the encrypted keyset blob for name and its version.
	// It returns an error wrapping ErrNoKeyset when none is stored.
	LoadKeyset(ctx context.Context, name string) (blob []byte, version int64, err error)

	// StoreKeyset writes blob as version expect+1 only if the stored version
	// is still expect (0 = insert when absent). It returns an error wrapping
	// ErrKeysetConflict when another writer won.
	StoreKeyset(ctx context.Context, name string, blob []byte, expect int64) error
}

var (
	// ErrNoKeyset is returned by a KeysetStore when no keyset of that name is stored.
	ErrNoKeyset = errors.New("keys: no keyset stored")

	// ErrKeysetConflict is returned by a KeysetStore when the stored version
	// is no longer the one the writer expected: another writer won.
	ErrKeysetConflict = errors.New("keys: keyset was changed by another writer")

	// ErrWrongMasterKey is returned when the master key cannot decrypt a
	// stored keyset.
	ErrWrongMasterKey = errors.New("the master key does not open this store's keysets (wrong PAYVAULT_MASTER_KEY, key file or --unseal shares?)")

	// ErrInvalidAD is returned by Seal and Open when the associated data
	// leaves the merchant, the record or the field empty, or makes one of
	// them longer than 64 KiB.
	ErrInvalidAD = errors.New("keys: associated data needs a merchant, a record and a field, each at most 64 KiB")

	// ErrDecrypt is returned by Keyring.Open when a ciphertext does not
	// open: it was tampered with, copied to another merchant, record or
	// field, or sealed under a key that is unknown or disabled.
	ErrDecrypt = errors.New("keys: ciphertext does not open")

	// ErrUnknownKeyset is returned for a keyset name other than "data",
	// "mac" or "server".
	ErrUnknownKeyset = errors.New(`keys: unknown keyset (want "data", "mac" or "server")`)

	// ErrUnknownKey is returned by Disable and Enable for a key id that the
	// keyset does not hold.
	ErrUnknownKey = errors.New("keys: no such key in the keyset")

	// ErrPrimaryKey is returned by Disable for the primary key of a keyset.
	ErrPrimaryKey = errors.New("keys: the primary key cannot be retired or destroyed; rotate first")

	// ErrKeyEnabled is returned by Destroy for a key that is not disabled:
	// a key is retired (disabled) first, and destroyed after.
	ErrKeyEnabled = errors.New("keys: only a disabled (retired) key can be destroyed; retire it first")

	// ErrKeyInUse is wrapped by a refusal to retire a key that records still use.
	ErrKeyInUse = errors.New("the key is still in use")
)
