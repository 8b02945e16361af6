package keys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/payvault/payvault/internal/keys"
)

var (
	testAD      = keys.AD{Merchant: "mer_1", Record: "card_1", Field: "card.pan"}
	testTokenAD = keys.AD{Merchant: "mer_1", Record: "card_1", Field: "card.pan", Token: "C1"}
)

// TestSealOpenTokenBound checks that a ciphertext sealed with a token in its AD opens only with
// that token: not with another (a token swapped between two rows), and not without one (the v1
// AD that a reader falls back to for records sealed before tokens were bound).
func TestSealOpenTokenBound(t *testing.T) {
	k, _, _ := MustKeyring(t)
	pan := []byte("4111111111111111")
	ct := MustSeal(t, k, pan, testTokenAD)
	other := testTokenAD
	other.Token = "C2"
	tests := []struct {
		name    string
		ad      keys.AD
		want    []byte
		wantErr error
	}{
		{name: "ok", ad: testTokenAD, want: pan},
		{name: "fail/other-token", ad: other, wantErr: keys.ErrDecrypt},
		{name: "fail/v1-without-token", ad: testAD, wantErr: keys.ErrDecrypt},
		{name: "fail/huge-token", ad: keys.AD{Merchant: "mer_1", Record: "card_1", Field: "card.pan", Token: strings.Repeat("t", 64<<10+1)}, wantErr: keys.ErrInvalidAD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Open(ct, tt.ad)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Open (-want +got)\n%s", d)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	k, _, _ := MustKeyring(t)
	pan := []byte("4111111111111111")
	ct := MustSeal(t, k, pan, testAD)

	flipped := bytes.Clone(ct)
	flipped[len(flipped)-1] ^= 0x01

	tests := []struct {
		name    string
		ct      []byte
		ad      keys.AD
		want    []byte
		wantErr error
	}{
		{name: "ok", ct: ct, ad: testAD, want: pan},
		{name: "fail/other-record", ct: ct, ad: keys.AD{Merchant: "mer_1", Record: "card_2", Field: "card.pan"}, wantErr: keys.ErrDecrypt},
		{name: "fail/other-field", ct: ct, ad: keys.AD{Merchant: "mer_1", Record: "card_1", Field: "card.name"}, wantErr: keys.ErrDecrypt},
		{name: "fail/other-merchant", ct: ct, ad: keys.AD{Merchant: "mer_2", Record: "card_1", Field: "card.pan"}, wantErr: keys.ErrDecrypt},
		// The length prefixes keep shifted boundaries apart.
		{name: "fail/shifted-boundary", ct: ct, ad: keys.AD{Merchant: "mer_1card", Record: "_1", Field: "card.pan"}, wantErr: keys.ErrDecrypt},
		{name: "fail/tampered", ct: flipped, ad: testAD, wantErr: keys.ErrDecrypt},
		{name: "fail/truncated", ct: ct[:len(ct)-1], ad: testAD, wantErr: keys.ErrDecrypt},
		{name: "fail/prefix-only", ct: ct[:5], ad: testAD, wantErr: keys.ErrDecrypt},
		{name: "fail/empty", ct: nil, ad: testAD, wantErr: keys.ErrDecrypt},
		{name: "fail/no-merchant", ct: ct, ad: keys.AD{Record: "card_1", Field: "card.pan"}, wantErr: keys.ErrInvalidAD},
		{name: "fail/no-record", ct: ct, ad: keys.AD{Merchant: "mer_1", Field: "card.pan"}, wantErr: keys.ErrInvalidAD},
		{name: "fail/no-field", ct: ct, ad: keys.AD{Merchant: "mer_1", Record: "card_1"}, wantErr: keys.ErrInvalidAD},
		{name: "fail/huge-field", ct: ct, ad: keys.AD{Merchant: "mer_1", Record: "card_1", Field: strings.Repeat("f", 64<<10+1)}, wantErr: keys.ErrInvalidAD},
		{name: "fail/token-added", ct: ct, ad: testTokenAD, wantErr: keys.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Open(tt.ct, tt.ad)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), string(pan)) {
				t.Errorf("error %q contains the plaintext", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Open (-want +got)\n%s", d)
			}
		})
	}
}

func TestSealFormat(t *testing.T) {
	k, _, _ := MustKeyring(t)
	pan := []byte("4111111111111111")
	ct := MustSeal(t, k, pan, testAD)

	// 0x01 || key id || 12-byte salt || 12-byte nonce || ciphertext || 16-byte tag.
	if d := cmp.Diff(5+12+12+len(pan)+16, len(ct)); d != "" {
		t.Errorf("ciphertext length (-want +got)\n%s", d)
	}
	id, ok := keys.KeyID(ct)
	if d := cmp.Diff([]any{k.PrimaryKeyID(), true}, []any{id, ok}); d != "" {
		t.Errorf("KeyID (-want +got)\n%s", d)
	}
	if bytes.Contains(ct, pan) {
		t.Error("ciphertext contains the plaintext")
	}
	ct2 := MustSeal(t, k, pan, testAD)
	if bytes.Equal(ct, ct2) {
		t.Error("two seals of the same plaintext are equal; want random salt and nonce")
	}
	if _, err := k.Seal(pan, keys.AD{}); !errors.Is(err, keys.ErrInvalidAD) {
		t.Errorf("Seal with empty AD: error = %v, want ErrInvalidAD", err)
	}
}

func TestKeyID(t *testing.T) {
	type result struct {
		ID uint32
		OK bool
	}
	tests := []struct {
		name string
		ct   []byte
		want result
	}{
		{name: "ok", ct: []byte{0x01, 0x12, 0x34, 0x56, 0x78, 0xff}, want: result{0x12345678, true}},
		{name: "ok/prefix-only", ct: []byte{0x01, 0, 0, 0, 7}, want: result{7, true}},
		{name: "fail/short", ct: []byte{0x01, 0x12, 0x34, 0x56}, want: result{}},
		{name: "fail/legacy-prefix", ct: []byte{0x00, 0x12, 0x34, 0x56, 0x78, 0xff}, want: result{}},
		{name: "fail/empty", ct: nil, want: result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := keys.KeyID(tt.ct)
			if d := cmp.Diff(tt.want, result{id, ok}); d != "" {
				t.Errorf("KeyID (-want +got)\n%s", d)
			}
		})
	}
}

func TestSealOpenAcrossRotation(t *testing.T) {
	k, store, mk := MustKeyring(t)
	oldID := k.PrimaryKeyID()
	ctOld := MustSeal(t, k, []byte("old"), testAD)

	newID := MustRotate(t, k, keys.KeysetData)
	if newID == oldID {
		t.Fatalf("Rotate returned the old key id %d", oldID)
	}
	if d := cmp.Diff(newID, k.PrimaryKeyID()); d != "" {
		t.Errorf("PrimaryKeyID after Rotate (-want +got)\n%s", d)
	}
	ctNew := MustSeal(t, k, []byte("new"), testAD)
	if id, _ := keys.KeyID(ctNew); id != newID {
		t.Errorf("new ciphertext has key id %d, want %d", id, newID)
	}
	if id, _ := keys.KeyID(ctOld); id != oldID {
		t.Errorf("old ciphertext has key id %d, want %d", id, oldID)
	}
	for name, tc := range map[string]struct {
		ct   []byte
		want string
	}{"old": {ctOld, "old"}, "new": {ctNew, "new"}} {
		got, err := k.Open(tc.ct, testAD)
		if err != nil {
			t.Fatalf("Open %s ciphertext: %v", name, err)
		}
		if d := cmp.Diff(tc.want, string(got)); d != "" {
			t.Errorf("Open %s (-want +got)\n%s", name, d)
		}
	}

	// A node that starts after the rotation opens both too.
	k2 := MustOpen(t, store, mk)
	for _, ct := range [][]byte{ctOld, ctNew} {
		if _, err := k2.Open(ct, testAD); err != nil {
			t.Errorf("second keyring: Open: %v", err)
		}
	}
}

func TestOpenWrongMasterKey(t *testing.T) {
	store := newMemStore()
	MustOpen(t, store, MustMasterKey(t))
	before := store.versions()

	_, err := keys.Open(context.Background(), store, MustMasterKey(t), keys.Options{})
	if !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Fatalf("Open with another master key: error = %v, want ErrWrongMasterKey", err)
	}
	const plain = "the master key does not open this store's keysets (wrong PAYVAULT_MASTER_KEY, key file or --unseal shares?)"
	if !strings.Contains(err.Error(), plain) {
		t.Errorf("error %q does not say %q", err, plain)
	}
	if d := cmp.Diff(before, store.versions()); d != "" {
		t.Errorf("a failed Open wrote to the store (-before +after)\n%s", d)
	}
}

func TestOpenPartialStoreWrongMasterKey(t *testing.T) {
	// Only the server keyset exists (say a crash after the first insert).
	// A wrong master key must fail before any missing keyset is created.
	full := newMemStore()
	MustOpen(t, full, MustMasterKey(t))
	store := newMemStore()
	store.sets["server"] = full.sets["server"]

	_, err := keys.Open(context.Background(), store, MustMasterKey(t), keys.Options{})
	if !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Fatalf("error = %v, want ErrWrongMasterKey", err)
	}
	if d := cmp.Diff(map[string]int64{"server": 1}, store.versions()); d != "" {
		t.Errorf("store after failed Open (-want +got)\n%s", d)
	}
}

func TestOpenCorruptStore(t *testing.T) {
	good := newMemStore()
	mk := MustMasterKey(t)
	MustOpen(t, good, mk)

	tests := []struct {
		name    string
		mutate  func(s *memStore)
		wantErr error
	}{
		{
			name: "fail/swapped-keysets",
			mutate: func(s *memStore) {
				s.sets["data"], s.sets["mac"] = s.sets["mac"], s.sets["data"]
			},
			// The keyset name is associated data of the keyset encryption.
			wantErr: keys.ErrWrongMasterKey,
		},
		{
			name: "fail/flipped-byte",
			mutate: func(s *memStore) {
				ks := s.sets["mac"]
				ks.blob[len(ks.blob)-1] ^= 1
			},
			wantErr: keys.ErrWrongMasterKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore()
			for name, ks := range good.sets {
				s.sets[name] = storedKeyset{blob: bytes.Clone(ks.blob), version: ks.version}
			}
			tt.mutate(s)
			_, err := keys.Open(context.Background(), s, mk, keys.Options{})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open error = %v, want %v", err, tt.wantErr)
			}
		})
	}

	t.Run("fail/garbage", func(t *testing.T) {
		s := newMemStore()
		s.sets["data"] = storedKeyset{blob: []byte("\xff\xff not a keyset"), version: 1}
		_, err := keys.Open(context.Background(), s, mk, keys.Options{})
		if err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("Open error = %v, want a corrupt-keyset error", err)
		}
	})
}

func TestOpenConcurrentFirstStart(t *testing.T) {
	const nodes = 8
	store := newMemStore()
	// Hold every insert until each node has seen all three keysets
	// missing, so that all eight race for every insert.
	store.gate, store.gateAt = make(chan struct{}), nodes*3
	mk := MustMasterKey(t)

	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		rings [nodes]*keys.Keyring
		errs  [nodes]error
	)
	for i := range nodes {
		wg.Go(func() {
			<-start
			rings[i], errs[i] = keys.Open(context.Background(), store, mk, keys.Options{})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Open: %v", i, err)
		}
	}

	want := rings[0].Status()
	for i, k := range rings[1:] {
		if d := cmp.Diff(want, k.Status()); d != "" {
			t.Errorf("node %d Status differs from node 0 (-0 +%d)\n%s", i+1, i+1, d)
		}
	}
	if d := cmp.Diff(map[string]int64{"data": 1, "mac": 1, "server": 1}, store.versions()); d != "" {
		t.Errorf("stored versions (-want +got)\n%s", d)
	}
	// Every node tried to insert every keyset; exactly one insert won each.
	writes, conflicts := store.counts()
	if d := cmp.Diff([2]int{3, (nodes - 1) * 3}, [2]int{writes, conflicts}); d != "" {
		t.Errorf("[writes conflicts] (-want +got)\n%s", d)
	}

	ct := MustSeal(t, rings[3], []byte("4111111111111111"), testAD)
	got, err := rings[6].Open(ct, testAD)
	if err != nil {
		t.Fatalf("node 6 opens node 3's ciphertext: %v", err)
	}
	if d := cmp.Diff("4111111111111111", string(got)); d != "" {
		t.Errorf("Open (-want +got)\n%s", d)
	}
	if d := cmp.Diff(rings[1].Fingerprints("mer_1", "4111111111111111"), rings[7].Fingerprints("mer_1", "4111111111111111")); d != "" {
		t.Errorf("fingerprints differ between nodes\n%s", d)
	}
}

func TestConcurrentRotate(t *testing.T) {
	store := newMemStore()
	mk := MustMasterKey(t)
	a, b := MustOpen(t, store, mk), MustOpen(t, store, mk)

	var wg sync.WaitGroup
	ids := make(chan uint32, 8)
	errs := make(chan error, 8)
	for i := range 8 {
		k := a
		if i%2 == 1 {
			k = b
		}
		wg.Go(func() {
			id, err := k.Rotate(context.Background(), keys.KeysetData)
			ids <- id
			errs <- err
		})
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
	}

	// Every rotation is kept: none overwrote another.
	if d := cmp.Diff(int64(9), store.versions()["data"]); d != "" {
		t.Errorf("data keyset version (-want +got)\n%s", d)
	}
	c := MustOpen(t, store, mk)
	enabled := map[uint32]bool{}
	for _, key := range c.Status().Keys {
		if key.Keyset == "data" {
			enabled[key.ID] = true
		}
	}
	for id := range ids {
		if !enabled[id] {
			t.Errorf("rotated key %d is missing from the stored keyset", id)
		}
	}
	if d := cmp.Diff(9, len(enabled)); d != "" {
		t.Errorf("data keys (-want +got)\n%s", d)
	}
}

func TestRefresh(t *testing.T) {
	store := newMemStore()
	mk := MustMasterKey(t)
	a, b := MustOpen(t, store, mk), MustOpen(t, store, mk)
	oldFP := b.Fingerprint("mer_1", "4111111111111111")

	newID := MustRotate(t, a, keys.KeysetData)
	MustRotate(t, a, keys.KeysetMAC)
	ct := MustSeal(t, a, []byte("secret"), testAD)

	if _, err := b.Open(ct, testAD); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("before Refresh, B opens A's new ciphertext: error = %v, want ErrDecrypt", err)
	}
	if err := b.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if d := cmp.Diff(newID, b.PrimaryKeyID()); d != "" {
		t.Errorf("B PrimaryKeyID after Refresh (-want +got)\n%s", d)
	}
	if _, err := b.Open(ct, testAD); err != nil {
		t.Errorf("after Refresh, B opens A's ciphertext: %v", err)
	}
	if d := cmp.Diff(a.Status(), b.Status()); d != "" {
		t.Errorf("Status A vs B after Refresh (-a +b)\n%s", d)
	}
	if d := cmp.Diff(a.Fingerprints("mer_1", "4111111111111111"), b.Fingerprints("mer_1", "4111111111111111")); d != "" {
		t.Errorf("fingerprints A vs B (-a +b)\n%s", d)
	}
	if got := b.Fingerprints("mer_1", "4111111111111111"); got[1] != oldFP {
		t.Errorf("B's old-key fingerprint = %q, want %q", got[1], oldFP)
	}

	// A second Refresh with nothing new changes nothing.
	before := b.Status()
	if err := b.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if d := cmp.Diff(before, b.Status()); d != "" {
		t.Errorf("idle Refresh changed Status\n%s", d)
	}
}

func TestRefreshErrors(t *testing.T) {
	store := newMemStore()
	k := MustOpen(t, store, MustMasterKey(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := k.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Refresh with canceled ctx: error = %v, want context.Canceled", err)
	}
	// The keyring keeps working on its snapshot.
	if _, err := k.Seal([]byte("x"), testAD); err != nil {
		t.Errorf("Seal after failed Refresh: %v", err)
	}
}

func TestRefreshRollback(t *testing.T) {
	store := newMemStore()
	mk := MustMasterKey(t)
	a := MustOpen(t, store, mk)
	saved := store.sets["data"]
	newID := MustRotate(t, a, keys.KeysetData)

	// The database is restored to before the rotation.
	store.mu.Lock()
	store.sets["data"] = saved
	store.mu.Unlock()

	err := a.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "behind version 2") {
		t.Fatalf("Refresh after rollback: error = %v, want a rollback error", err)
	}
	if d := cmp.Diff(newID, a.PrimaryKeyID()); d != "" {
		t.Errorf("PrimaryKeyID after rollback (-want +got)\n%s", d)
	}
}

func TestWatch(t *testing.T) {
	store := newMemStore()
	mk := MustMasterKey(t)
	a, b := MustOpen(t, store, mk), MustOpen(t, store, mk)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Watch(ctx, time.Millisecond)
	}()

	newID := MustRotate(t, a, keys.KeysetData)
	deadline := time.Now().Add(10 * time.Second)
	for b.PrimaryKeyID() != newID {
		if time.Now().After(deadline) {
			t.Fatalf("Watch did not pick up the new primary %d", newID)
		}
		time.Sleep(time.Millisecond)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

var fingerprintRE = regexp.MustCompile(`^[0-9]+:[0-9a-f]{64}$`)

func TestFingerprints(t *testing.T) {
	k, _, _ := MustKeyring(t)
	const pan = "4111111111111111"
	fp := k.Fingerprint("mer_1", pan)
	if !fingerprintRE.MatchString(fp) {
		t.Fatalf("fingerprint %q does not match %s", fp, fingerprintRE)
	}
	if want := fmt.Sprintf("%d:", k.Status().Keysets[1].Primary); !strings.HasPrefix(fp, want) {
		t.Errorf("fingerprint %q does not start with the MAC key id %q", fp, want)
	}
	if strings.Contains(fp, pan) {
		t.Errorf("fingerprint %q contains the PAN", fp)
	}

	tests := []struct {
		name       string
		merchant   string
		normalized string
		same       bool
	}{
		{name: "ok/same-merchant-same-number", merchant: "mer_1", normalized: pan, same: true},
		{name: "ok/other-merchant", merchant: "mer_2", normalized: pan, same: false},
		{name: "ok/other-number", merchant: "mer_1", normalized: "4242424242424242", same: false},
		{name: "ok/merchant-number-boundary", merchant: "mer_14", normalized: pan[1:], same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := k.Fingerprint(tt.merchant, tt.normalized)
			if d := cmp.Diff(tt.same, got == fp); d != "" {
				t.Errorf("equal to mer_1/%s fingerprint (-want +got)\n%s", pan, d)
			}
		})
	}

	before := k.Fingerprints("mer_1", pan)
	if d := cmp.Diff([]string{fp}, before); d != "" {
		t.Errorf("Fingerprints before rotation (-want +got)\n%s", d)
	}
	newID := MustRotate(t, k, keys.KeysetMAC)
	after := k.Fingerprints("mer_1", pan)
	if len(after) != 2 {
		t.Fatalf("Fingerprints after rotation = %q, want two", after)
	}
	if want := fmt.Sprintf("%d:", newID); !strings.HasPrefix(after[0], want) {
		t.Errorf("first fingerprint %q is not from the new primary %d", after[0], newID)
	}
	if d := cmp.Diff(fp, after[1]); d != "" {
		t.Errorf("old-key fingerprint after rotation (-want +got)\n%s", d)
	}
	if d := cmp.Diff(after[0], k.Fingerprint("mer_1", pan)); d != "" {
		t.Errorf("Fingerprint after rotation (-want +got)\n%s", d)
	}
	// FingerprintsOf, for a number in a slice the caller clears, makes the same fingerprints
	// and keeps nothing of the slice.
	b := []byte(pan)
	of := k.FingerprintsOf("mer_1", b)
	clear(b)
	if d := cmp.Diff(after, of); d != "" {
		t.Errorf("FingerprintsOf after rotation (-want +got)\n%s", d)
	}

	// Once the old MAC key is disabled it no longer yields a fingerprint.
	oldID, err := strconv.ParseUint(before[0][:strings.IndexByte(before[0], ':')], 10, 32)
	if err != nil {
		t.Fatalf("fingerprint key id: %v", err)
	}
	if err := k.Disable(context.Background(), keys.KeysetMAC, uint32(oldID)); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	if d := cmp.Diff(after[:1], k.Fingerprints("mer_1", pan)); d != "" {
		t.Errorf("Fingerprints after Disable (-want +got)\n%s", d)
	}
}

func TestServerMAC(t *testing.T) {
	k, _, _ := MustKeyring(t)
	body := []byte(`{"amount":100}`)
	mac := k.ServerMAC("idempotency", body)
	if len(mac) != 32 {
		t.Fatalf("ServerMAC length = %d, want 32", len(mac))
	}
	if d := cmp.Diff(mac, k.ServerMAC("idempotency", body)); d != "" {
		t.Errorf("ServerMAC is not deterministic\n%s", d)
	}
	if bytes.Equal(mac, k.ServerMAC("audit", body)) {
		t.Error("ServerMAC is the same for two purposes")
	}
	if bytes.Equal(k.ServerMAC("ab", []byte("c")), k.ServerMAC("a", []byte("bc"))) {
		t.Error("ServerMAC does not separate purpose from data")
	}

	tests := []struct {
		name    string
		purpose string
		data    []byte
		mac     []byte
		want    bool
	}{
		{name: "ok", purpose: "idempotency", data: body, mac: mac, want: true},
		{name: "fail/other-purpose", purpose: "audit", data: body, mac: mac},
		{name: "fail/other-data", purpose: "idempotency", data: []byte(`{"amount":101}`), mac: mac},
		{name: "fail/truncated", purpose: "idempotency", data: body, mac: mac[:31]},
		{name: "fail/empty", purpose: "idempotency", data: body, mac: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, k.VerifyServerMAC(tt.purpose, tt.data, tt.mac)); d != "" {
				t.Errorf("VerifyServerMAC (-want +got)\n%s", d)
			}
		})
	}

	MustRotate(t, k, keys.KeysetServer)
	if bytes.Equal(mac, k.ServerMAC("idempotency", body)) {
		t.Error("ServerMAC did not change after rotating the server keyset")
	}
	if !k.VerifyServerMAC("idempotency", body, mac) {
		t.Error("a MAC made before the rotation no longer verifies")
	}
}

func TestDisableEnable(t *testing.T) {
	ctx := context.Background()
	k, store, _ := MustKeyring(t)
	oldID := k.PrimaryKeyID()
	ct := MustSeal(t, k, []byte("old"), testAD)
	newID := MustRotate(t, k, keys.KeysetData)

	tests := []struct {
		name    string
		which   string
		id      uint32
		wantErr error
	}{
		{name: "fail/primary", which: keys.KeysetData, id: newID, wantErr: keys.ErrPrimaryKey},
		{name: "fail/unknown-key", which: keys.KeysetData, id: newID ^ oldID ^ 1, wantErr: keys.ErrUnknownKey},
		{name: "fail/unknown-keyset", which: "pan", id: oldID, wantErr: keys.ErrUnknownKeyset},
		{name: "ok", which: keys.KeysetData, id: oldID},
		{name: "ok/already-disabled", which: keys.KeysetData, id: oldID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := k.Disable(ctx, tt.which, tt.id)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Disable error = %v, want %v", err, tt.wantErr)
			}
		})
	}

	if d := cmp.Diff(int64(3), store.versions()["data"]); d != "" {
		t.Errorf("data version after rotate and one effective disable (-want +got)\n%s", d)
	}
	wantKeys := []keys.KeyInfo{
		{Keyset: "data", ID: oldID, Status: keys.StatusDisabled},
		{Keyset: "data", ID: newID, Status: keys.StatusPrimary},
	}
	if d := cmp.Diff(wantKeys, k.Status().Keys[:2]); d != "" {
		t.Errorf("data keys after Disable (-want +got)\n%s", d)
	}
	_, err := k.Open(ct, testAD)
	if !errors.Is(err, keys.ErrDecrypt) || !strings.Contains(err.Error(), "not an enabled data key") {
		t.Errorf("Open under a disabled key: error = %v, want ErrDecrypt naming the disabled key", err)
	}

	if err := k.Enable(ctx, keys.KeysetData, oldID); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	if _, err := k.Open(ct, testAD); err != nil {
		t.Errorf("Open after Enable: %v", err)
	}
	if err := k.Enable(ctx, keys.KeysetData, 1); !errors.Is(err, keys.ErrUnknownKey) {
		t.Errorf("Enable unknown key: error = %v, want ErrUnknownKey", err)
	}
	if _, err := k.Rotate(ctx, "pan"); !errors.Is(err, keys.ErrUnknownKeyset) {
		t.Errorf("Rotate unknown keyset: error = %v, want ErrUnknownKeyset", err)
	}
}

func TestDestroy(t *testing.T) {
	ctx := context.Background()
	k, store, mk := MustKeyring(t)
	oldID := k.PrimaryKeyID()
	ct := MustSeal(t, k, []byte("old"), testAD)
	newID := MustRotate(t, k, keys.KeysetData)
	kept := MustSeal(t, k, []byte("new"), testAD)

	if err := k.Destroy(ctx, keys.KeysetData, oldID); !errors.Is(err, keys.ErrKeyEnabled) {
		t.Errorf("Destroy of an enabled key: error = %v, want ErrKeyEnabled", err)
	}
	if err := k.Destroy(ctx, keys.KeysetData, newID); !errors.Is(err, keys.ErrPrimaryKey) {
		t.Errorf("Destroy of the primary: error = %v, want ErrPrimaryKey", err)
	}
	if err := k.Destroy(ctx, "pan", oldID); !errors.Is(err, keys.ErrUnknownKeyset) {
		t.Errorf("Destroy in an unknown keyset: error = %v, want ErrUnknownKeyset", err)
	}
	if err := k.Disable(ctx, keys.KeysetData, oldID); err != nil {
		t.Fatal(err)
	}
	if err := k.Destroy(ctx, keys.KeysetData, oldID); err != nil {
		t.Fatalf("Destroy of a disabled key: %v", err)
	}
	if err := k.Destroy(ctx, keys.KeysetData, oldID); !errors.Is(err, keys.ErrUnknownKey) {
		t.Errorf("Destroy again: error = %v, want ErrUnknownKey", err)
	}
	if err := k.Enable(ctx, keys.KeysetData, oldID); !errors.Is(err, keys.ErrUnknownKey) {
		t.Errorf("Enable of a destroyed key: error = %v, want ErrUnknownKey", err)
	}
	if d := cmp.Diff([]keys.KeyInfo{{Keyset: "data", ID: newID, Status: keys.StatusPrimary}}, k.Status().Keys[:1]); d != "" {
		t.Errorf("data keys after Destroy (-want +got)\n%s", d)
	}
	if _, err := k.Open(ct, testAD); !errors.Is(err, keys.ErrDecrypt) {
		t.Errorf("Open under a destroyed key: error = %v, want ErrDecrypt", err)
	}
	if _, err := k.Open(kept, testAD); err != nil {
		t.Errorf("Open under the primary after Destroy: %v", err)
	}

	// The stored keyset no longer holds it: a keyring loaded from the store afresh, as
	// another node or a restart would, cannot open the old ciphertext either.
	k2 := MustOpen(t, store, mk)
	if _, err := k2.Open(ct, testAD); !errors.Is(err, keys.ErrDecrypt) {
		t.Errorf("Open under a destroyed key, reloaded: error = %v, want ErrDecrypt", err)
	}
	if _, err := k2.Open(kept, testAD); err != nil {
		t.Errorf("Open under the primary, reloaded: %v", err)
	}
}

func TestStatus(t *testing.T) {
	k, _, _ := MustKeyring(t)
	s := k.Status()
	ids := map[string]uint32{}
	for _, ks := range s.Keysets {
		ids[ks.Name] = ks.Primary
	}
	want := keys.Status{
		Primary: k.PrimaryKeyID(),
		Keysets: []keys.KeysetInfo{
			{Name: "data", Version: 1, Primary: ids["data"]},
			{Name: "mac", Version: 1, Primary: ids["mac"]},
			{Name: "server", Version: 1, Primary: ids["server"]},
		},
		Keys: []keys.KeyInfo{
			{Keyset: "data", ID: ids["data"], Status: keys.StatusPrimary},
			{Keyset: "mac", ID: ids["mac"], Status: keys.StatusPrimary},
			{Keyset: "server", ID: ids["server"], Status: keys.StatusPrimary},
		},
	}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("Status (-want +got)\n%s", d)
	}

	newMAC := MustRotate(t, k, keys.KeysetMAC)
	got := k.Status()
	wantKeys := []keys.KeyInfo{
		{Keyset: "data", ID: ids["data"], Status: keys.StatusPrimary},
		{Keyset: "mac", ID: ids["mac"], Status: keys.StatusEnabled},
		{Keyset: "mac", ID: newMAC, Status: keys.StatusPrimary},
		{Keyset: "server", ID: ids["server"], Status: keys.StatusPrimary},
	}
	if d := cmp.Diff(wantKeys, got.Keys); d != "" {
		t.Errorf("Status.Keys after Rotate(mac) (-want +got)\n%s", d)
	}
	if d := cmp.Diff(keys.KeysetInfo{Name: "mac", Version: 2, Primary: newMAC}, got.Keysets[1]); d != "" {
		t.Errorf("mac KeysetInfo (-want +got)\n%s", d)
	}
}

func TestOpenNilStore(t *testing.T) {
	if _, err := keys.Open(context.Background(), nil, MustMasterKey(t), keys.Options{}); err == nil {
		t.Error("Open with a nil store succeeded")
	}
}
