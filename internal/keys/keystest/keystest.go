// Package keystest is the conformance suite for keys.KeysetStore. Every
// implementation runs it: the test fake in package keys and the SQL store
// on each engine.
package keystest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/payvault/payvault/internal/keys"
)

// Run checks that the stores made by newStore implement the KeysetStore
// contract: ErrNoKeyset for a missing keyset, compare-and-swap on the
// version with ErrKeysetConflict, versions that grow by one, blobs kept
// byte for byte, and exactly one winner among concurrent inserts.
// newStore must return an empty store and clean it up with tb.Cleanup.
func Run(t *testing.T, newStore func(tb testing.TB) keys.KeysetStore) {
	ctx := context.Background()
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}

	t.Run("ok/missing", func(t *testing.T) {
		s := newStore(t)
		blob, version, err := s.LoadKeyset(ctx, "data")
		if !errors.Is(err, keys.ErrNoKeyset) {
			t.Fatalf("LoadKeyset of a missing keyset: error = %v, want ErrNoKeyset", err)
		}
		if blob != nil || version != 0 {
			t.Errorf("LoadKeyset of a missing keyset = %x, %d; want nil, 0", blob, version)
		}
	})

	t.Run("ok/insert-update", func(t *testing.T) {
		s := newStore(t)
		MustStore(t, s, "data", binary, 0)
		MustLoad(t, s, "data", binary, 1)
		MustStore(t, s, "data", []byte("v2"), 1)
		MustLoad(t, s, "data", []byte("v2"), 2)
		MustStore(t, s, "data", []byte("v3"), 2)
		MustLoad(t, s, "data", []byte("v3"), 3)
	})

	t.Run("ok/names-are-independent", func(t *testing.T) {
		s := newStore(t)
		MustStore(t, s, "data", []byte("d"), 0)
		MustStore(t, s, "mac", []byte("m"), 0)
		MustStore(t, s, "mac", []byte("m2"), 1)
		MustLoad(t, s, "data", []byte("d"), 1)
		MustLoad(t, s, "mac", []byte("m2"), 2)
		if _, _, err := s.LoadKeyset(ctx, "server"); !errors.Is(err, keys.ErrNoKeyset) {
			t.Errorf("LoadKeyset(server): error = %v, want ErrNoKeyset", err)
		}
	})

	t.Run("ok/blob-is-copied", func(t *testing.T) {
		s := newStore(t)
		blob := []byte("original")
		MustStore(t, s, "data", blob, 0)
		copy(blob, "mutated!")
		got, _ := MustLoad(t, s, "data", []byte("original"), 1)
		copy(got, "mutated!")
		MustLoad(t, s, "data", []byte("original"), 1)
	})

	conflicts := []struct {
		name   string
		stored int // versions written before the conflicting call
		expect int64
	}{
		{name: "fail/insert-over-existing", stored: 1, expect: 0},
		{name: "fail/stale-version", stored: 2, expect: 1},
		{name: "fail/future-version", stored: 1, expect: 5},
		{name: "fail/update-missing", stored: 0, expect: 1},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			var want []byte
			for v := range tt.stored {
				want = fmt.Appendf(nil, "v%d", v+1)
				MustStore(t, s, "data", want, int64(v))
			}
			err := s.StoreKeyset(ctx, "data", []byte("loser"), tt.expect)
			if !errors.Is(err, keys.ErrKeysetConflict) {
				t.Fatalf("StoreKeyset(expect %d) at version %d: error = %v, want ErrKeysetConflict", tt.expect, tt.stored, err)
			}
			if tt.stored == 0 {
				if _, _, err := s.LoadKeyset(ctx, "data"); !errors.Is(err, keys.ErrNoKeyset) {
					t.Errorf("after the conflict: error = %v, want ErrNoKeyset", err)
				}
				return
			}
			MustLoad(t, s, "data", want, int64(tt.stored))
		})
	}

	t.Run("ok/one-concurrent-insert-wins", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  [n]error
		)
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.StoreKeyset(ctx, "data", fmt.Appendf(nil, "writer %d", i), 0)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, keys.ErrKeysetConflict):
				t.Errorf("writer %d: error = %v, want nil or ErrKeysetConflict", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer won")
		}
		MustLoad(t, s, "data", fmt.Appendf(nil, "writer %d", winner), 1)
	})

	t.Run("ok/keyring", func(t *testing.T) {
		s := newStore(t)
		mk := keys.NewMasterKey()
		a, err := keys.Open(ctx, s, mk, keys.Options{})
		if err != nil {
			t.Fatalf("keys.Open: %v", err)
		}
		id, err := a.Rotate(ctx, keys.KeysetData)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		b, err := keys.Open(ctx, s, mk, keys.Options{})
		if err != nil {
			t.Fatalf("second keys.Open: %v", err)
		}
		if d := cmp.Diff(id, b.PrimaryKeyID()); d != "" {
			t.Errorf("PrimaryKeyID of a keyring opened after Rotate (-want +got)\n%s", d)
		}
	})
}

// MustStore calls StoreKeyset and fails the test on error.
func MustStore(tb testing.TB, s keys.KeysetStore, name string, blob []byte, expect int64) {
	tb.Helper()
	if err := s.StoreKeyset(context.Background(), name, blob, expect); err != nil {
		tb.Fatalf("StoreKeyset(%q, expect %d): %v", name, expect, err)
	}
}

// MustLoad calls LoadKeyset, fails the test on error, checks the blob and
// version, and returns them.
func MustLoad(tb testing.TB, s keys.KeysetStore, name string, wantBlob []byte, wantVersion int64) ([]byte, int64) {
	tb.Helper()
	blob, version, err := s.LoadKeyset(context.Background(), name)
	if err != nil {
		tb.Fatalf("LoadKeyset(%q): %v", name, err)
	}
	if !bytes.Equal(wantBlob, blob) {
		tb.Errorf("LoadKeyset(%q) blob = %q, want %q", name, blob, wantBlob)
	}
	if version != wantVersion {
		tb.Errorf("LoadKeyset(%q) version = %d, want %d", name, version, wantVersion)
	}
	return blob, version
}
