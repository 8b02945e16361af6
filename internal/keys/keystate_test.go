package keys_test

import (
	"context"
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

// TestKeyState: the KeyState read from a stored blob, without the master key, is the one the
// keyring holds; a rotation and a retire change it, a rewrap does not; and a node still on
// the old master key after a rewrap refreshes without error while the keys are unchanged, and
// fails once they change.
func TestKeyState(t *testing.T) {
	ctx := context.Background()
	store := &stateStore{memStore: newMemStore(), states: map[string]keys.KeyState{}}
	mk := MustMasterKey(t)
	kr := MustOpen(t, store, mk)
	stored := func(name string) keys.KeyState {
		t.Helper()
		ks, ok, err := store.LoadKeyState(ctx, name)
		if err != nil || !ok {
			t.Fatalf("no key state stored for %q: %v", name, err)
		}
		return ks
	}
	data0, mac0 := kr.KeyStates()
	if data0 != stored("data") || mac0 != stored("mac") || data0.Primary != kr.PrimaryKeyID() || mac0.Primary != kr.PrimaryMACKeyID() {
		t.Fatalf("held %+v %+v, stored %+v %+v", data0, mac0, stored("data"), stored("mac"))
	}
	old := kr.PrimaryKeyID()
	MustRotate(t, kr, "data")
	data1, _ := kr.KeyStates()
	if data1 == data0 || data1 != stored("data") || data1.Primary == old {
		t.Errorf("after a rotation: held %+v (was %+v), stored %+v", data1, data0, stored("data"))
	}
	if err := kr.Disable(ctx, "data", old); err != nil {
		t.Fatal(err)
	}
	data2, _ := kr.KeyStates()
	if data2 == data1 || data2.Primary != data1.Primary || data2 != stored("data") {
		t.Errorf("after a retire: held %+v (was %+v), stored %+v", data2, data1, stored("data"))
	}

	newKey := keys.NewMasterKey()
	if err := keys.Rewrap(ctx, store, mk, newKey); err != nil {
		t.Fatal(err)
	}
	if stored("data") != data2 {
		t.Errorf("a rewrap changed the key state: %+v, was %+v", stored("data"), data2)
	}
	if err := kr.Refresh(ctx); err != nil {
		t.Errorf("refresh on the old master key after a rewrap: %v", err)
	}
	kr2 := MustOpen(t, store, newKey)
	MustRotate(t, kr2, "data")
	if err := kr.Refresh(ctx); err == nil {
		t.Error("refresh on the old master key after a rotation succeeded")
	}
	if got, _ := kr.KeyStates(); got != data2 {
		t.Errorf("a failed refresh changed the keys in use: %+v, was %+v", got, data2)
	}
}

// stateStore is a memStore that keeps KeyStates (keys.KeyStateStore), as sqlstore does.
type stateStore struct {
	*memStore
	states map[string]keys.KeyState
}

var _ keys.KeyStateStore = (*stateStore)(nil)

func (s *stateStore) StoreKeysetState(ctx context.Context, name string, blob []byte, expect int64, _, state keys.KeyState) error {
	if err := s.StoreKeyset(ctx, name, blob, expect); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[name] = state
	return nil
}

func (s *stateStore) LoadKeyState(ctx context.Context, name string) (keys.KeyState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, ok := s.states[name]
	return ks, ok, nil
}
