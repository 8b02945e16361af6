package keys_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

// memStore is an in-memory KeysetStore for these tests. It implements the
// compare-and-swap honestly under a mutex. The real store is tested in
// sqlstore.
type memStore struct {
	mu   sync.Mutex
	sets map[string]storedKeyset
	// loads counts LoadKeyset calls, writes successful StoreKeyset calls,
	// conflicts failed ones.
	loads, writes, conflicts int

	// gate, if set before the store is shared, holds every StoreKeyset
	// until gateAt LoadKeyset calls have been made. It lets a test line up
	// concurrent writers deterministically.
	gate   chan struct{}
	gateAt int
}

// storedKeyset is one stored blob and its version.
type storedKeyset struct {
	blob    []byte
	version int64
}

var _ keys.KeysetStore = (*memStore)(nil)

// newMemStore returns an empty memStore.
func newMemStore() *memStore {
	return &memStore{sets: make(map[string]storedKeyset)}
}

// LoadKeyset returns a copy of the stored blob for name and its version.
func (s *memStore) LoadKeyset(ctx context.Context, name string) ([]byte, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.gate != nil && s.loads == s.gateAt {
		close(s.gate)
	}
	ks, ok := s.sets[name]
	if !ok {
		return nil, 0, fmt.Errorf("memstore: %q: %w", name, keys.ErrNoKeyset)
	}
	return bytes.Clone(ks.blob), ks.version, nil
}

// StoreKeyset stores blob as version expect+1 if the stored version is
// expect (0 meaning absent).
func (s *memStore) StoreKeyset(ctx context.Context, name string, blob []byte, expect int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sets[name].version != expect {
		s.conflicts++
		return fmt.Errorf("memstore: %q at version %d, not %d: %w", name, s.sets[name].version, expect, keys.ErrKeysetConflict)
	}
	s.sets[name] = storedKeyset{blob: bytes.Clone(blob), version: expect + 1}
	s.writes++
	return nil
}

// counts returns the number of successful and of conflicting writes.
func (s *memStore) counts() (writes, conflicts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes, s.conflicts
}

// versions returns the stored version of every keyset.
func (s *memStore) versions() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := make(map[string]int64)
	for name, ks := range s.sets {
		v[name] = ks.version
	}
	return v
}

// MustMasterKey returns a fresh master key.
func MustMasterKey(tb testing.TB) keys.MasterKey {
	tb.Helper()
	return keys.NewMasterKey()
}

// MustOpen opens a Keyring on store with mk and fails the test on error.
func MustOpen(tb testing.TB, store keys.KeysetStore, mk keys.MasterKey) *keys.Keyring {
	tb.Helper()
	k, err := keys.Open(context.Background(), store, mk, keys.Options{})
	if err != nil {
		tb.Fatalf("keys.Open: %v", err)
	}
	return k
}

// MustKeyring opens a Keyring on a fresh memStore with a fresh master key.
func MustKeyring(tb testing.TB) (*keys.Keyring, *memStore, keys.MasterKey) {
	tb.Helper()
	store := newMemStore()
	mk := MustMasterKey(tb)
	return MustOpen(tb, store, mk), store, mk
}

// MustSeal seals plaintext and fails the test on error.
func MustSeal(tb testing.TB, k *keys.Keyring, plaintext []byte, ad keys.AD) []byte {
	tb.Helper()
	ct, err := k.Seal(plaintext, ad)
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return ct
}

// MustRotate rotates keyset which and fails the test on error.
func MustRotate(tb testing.TB, k *keys.Keyring, which string) uint32 {
	tb.Helper()
	id, err := k.Rotate(context.Background(), which)
	if err != nil {
		tb.Fatalf("Rotate(%q): %v", which, err)
	}
	return id
}
