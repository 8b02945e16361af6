package keys

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// DefaultRefreshEvery is how often Watch refreshes when neither its
// argument nor Options.RefreshEvery says otherwise.
const DefaultRefreshEvery = 5 * time.Second

// maxCASAttempts bounds the compare-and-swap retries of one write. Each
// retry means another writer committed in between, so running out means
// the store is misbehaving rather than busy.
const maxCASAttempts = 16

// tinkPrefixLen is the length of the TINK output prefix: a 0x01 version
// byte and the big-endian key id.
const tinkPrefixLen = 5

// Options configures a Keyring. The zero value is ready to use.
type Options struct {
	// Logger receives Watch's refresh failures. Nil discards them. Nothing
	// secret is ever logged.
	Logger *slog.Logger

	// RefreshEvery is the interval Watch uses when it is called with a
	// non-positive one. Zero means DefaultRefreshEvery.
	RefreshEvery time.Duration
}

// Keyring holds the data, MAC and server keysets, decrypted with the
// master key, and seals, opens and fingerprints with them. It is safe for
// concurrent use.
//
// Seal, Open, Fingerprint(s) and ServerMAC take no lock: they read an
// immutable snapshot through an atomic pointer. Refresh, Rotate, Disable
// and Enable build a new snapshot and swap it in.
//
// Make one with Open; the zero Keyring is not usable.
type Keyring struct {
	store KeysetStore
	kek   tink.AEAD
	log   *slog.Logger
	every time.Duration

	// mu serialises snapshot swaps so that no newer keyset version is
	// replaced by an older one. Readers never take it.
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
}

// snapshot is an immutable set of compiled keysets, indexed by kind.
type snapshot struct {
	sets [numKinds]*keysetState
}

// Open loads the data, MAC and server keysets from store and decrypts
// them with mk. On first start it creates the keysets that are missing.
//
// Creation is safe when several nodes start together on one database:
// each keyset is inserted with compare-and-swap, exactly one insert wins,
// and a node that loses reloads and uses the winner's keyset.
//
// Every keyset that already exists is opened before anything is created,
// so a wrong master key fails with an error wrapping ErrWrongMasterKey
// and writes nothing.
func Open(ctx context.Context, store KeysetStore, mk MasterKey, opt Options) (*Keyring, error) {
	if store == nil {
		return nil, errors.New("keys: open: nil KeysetStore")
	}
	kek, err := newKEK(mk)
	if err != nil {
		return nil, err
	}
	k := &Keyring{
		store: store,
		kek:   kek,
		log:   opt.Logger,
		every: opt.RefreshEvery,
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.every <= 0 {
		k.every = DefaultRefreshEvery
	}

	var snap snapshot
	for kd := range numKinds {
		st, err := k.fetch(ctx, kd)
		switch {
		case err == nil:
			snap.sets[kd] = st
		case !errors.Is(err, ErrNoKeyset):
			return nil, err
		}
	}
	for kd := range numKinds {
		if snap.sets[kd] != nil {
			continue
		}
		st, err := k.create(ctx, kd)
		if err != nil {
			return nil, err
		}
		snap.sets[kd] = st
	}
	k.snap.Store(&snap)
	return k, nil
}

// fetch loads, decrypts and compiles the stored version of keyset kd. It
// returns an error wrapping ErrNoKeyset when none is stored.
func (k *Keyring) fetch(ctx context.Context, kd kind) (*keysetState, error) {
	blob, version, err := k.store.LoadKeyset(ctx, kd.String())
	if err != nil {
		return nil, fmt.Errorf("keys: load keyset %q: %w", kd, err)
	}
	h, err := decodeKeyset(k.kek, kd, blob)
	if err != nil {
		return nil, err
	}
	return compile(kd, h, version)
}

// create makes a new keyset kd with one key and inserts it. When another
// writer inserted first, it loads and returns theirs.
func (k *Keyring) create(ctx context.Context, kd kind) (*keysetState, error) {
	for range maxCASAttempts {
		h, err := keyset.NewHandle(kd.template())
		if err != nil {
			return nil, fmt.Errorf("keys: new keyset %q: %w", kd, err)
		}
		st, err := compile(kd, h, 1)
		if err != nil {
			return nil, err
		}
		blob, err := encodeKeyset(k.kek, kd, h)
		if err != nil {
			return nil, err
		}
		err = storeKeyset(ctx, k.store, kd.String(), blob, 0, KeyState{}, st.state)
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, ErrKeysetConflict) {
			return nil, fmt.Errorf("keys: store keyset %q: %w", kd, err)
		}
		st, err = k.fetch(ctx, kd)
		if !errors.Is(err, ErrNoKeyset) {
			return st, err
		}
		// The winner's keyset vanished again; try once more.
	}
	return nil, fmt.Errorf("keys: create keyset %q: gave up after %d conflicting writes", kd, maxCASAttempts)
}

// install swaps in a snapshot that holds sts in place of older versions of
// the same keysets. A state that is not newer than the one installed is
// ignored, so a slow Refresh cannot undo a Rotate.
func (k *Keyring) install(sts ...*keysetState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	next := *k.snap.Load()
	changed := false
	for _, st := range sts {
		if st.version > next.sets[st.kind].version {
			next.sets[st.kind] = st
			changed = true
		}
	}
	if changed {
		k.snap.Store(&next)
	}
}

// Seal encrypts plaintext under the primary data key, bound to ad. The
// result starts with the 5-byte TINK prefix that names the key (see
// KeyID). It returns ErrInvalidAD if ad is incomplete.
func (k *Keyring) Seal(plaintext []byte, ad AD) ([]byte, error) {
	if !ad.valid() {
		return nil, ErrInvalidAD
	}
	ct, err := k.snap.Load().sets[kindData].aead.Encrypt(plaintext, ad.encode())
	if err != nil {
		return nil, fmt.Errorf("keys: seal: %w", err)
	}
	return ct, nil
}

// Open decrypts a ciphertext made by Seal with the same ad, under whichever
// enabled data key its prefix names. It returns an error wrapping
// ErrDecrypt if the ciphertext was altered, was sealed with another AD, or
// names a key that is unknown or disabled, and ErrInvalidAD if ad is
// incomplete. The error never contains plaintext or key material.
func (k *Keyring) Open(ciphertext []byte, ad AD) ([]byte, error) {
	if !ad.valid() {
		return nil, ErrInvalidAD
	}
	st := k.snap.Load().sets[kindData]
	pt, err := st.aead.Decrypt(ciphertext, ad.encode())
	if err == nil {
		return pt, nil
	}
	id, ok := KeyID(ciphertext)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: not a payvault ciphertext (no key id prefix)", ErrDecrypt)
	case !slices.Contains(st.enabled, id):
		return nil, fmt.Errorf("%w: key %d is not an enabled data key (disabled, or from another store)", ErrDecrypt, id)
	}
	return nil, fmt.Errorf("%w: tampered, or sealed for another merchant, record, field or token (key %d)", ErrDecrypt, id)
}

// KeyID returns the id of the data key that sealed ciphertext, read from
// its 5-byte TINK prefix (0x01 and the big-endian key id). ok is false if
// ciphertext does not start with such a prefix. KeyID does not check that
// the rest of ciphertext is valid.
func KeyID(ciphertext []byte) (id uint32, ok bool) {
	if len(ciphertext) < tinkPrefixLen || ciphertext[0] != 0x01 {
		return 0, false
	}
	return binary.BigEndian.Uint32(ciphertext[1:tinkPrefixLen]), true
}

// PrimaryKeyID returns the id of the data key that Seal uses now.
func (k *Keyring) PrimaryKeyID() uint32 {
	return k.snap.Load().sets[kindData].primary
}

// PrimaryMACKeyID returns the id of the MAC key that Fingerprint uses now.
func (k *Keyring) PrimaryMACKeyID() uint32 {
	return k.snap.Load().sets[kindMAC].primary
}

// Refresh reloads the keysets from the store and swaps in those whose
// stored version is newer than the one in use. A poller calls it (see
// Watch) so that every node picks up a rotation made on another.
//
// A stored version older than the one in use means the database was
// rolled back; Refresh then keeps the keys in use and returns an error.
func (k *Keyring) Refresh(ctx context.Context) error {
	cur := k.snap.Load()
	var (
		errs  []error
		fresh []*keysetState
	)
	for kd := range numKinds {
		blob, version, err := k.store.LoadKeyset(ctx, kd.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: refresh keyset %q: %w", kd, err))
			continue
		}
		switch inUse := cur.sets[kd].version; {
		case version == inUse:
			continue
		case version < inUse:
			// Versions only grow, so the database went back in time. Keep
			// the newer keys: dropping them could strand data sealed
			// under them. Say so loudly instead.
			errs = append(errs, fmt.Errorf("keys: stored keyset %q is at version %d, behind version %d in use here (database restored from a backup?); keeping the keys in use", kd, version, inUse))
			continue
		}
		h, err := decodeKeyset(k.kek, kd, blob)
		if errors.Is(err, ErrWrongMasterKey) && k.rewrappedOnly(ctx, kd, cur.sets[kd]) {
			// Rewrapped under another master key (Rewrap), with the keys unchanged: the
			// keys in use are the stored ones, and this node serves on with them until it
			// is restarted with the new master key.
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := compile(kd, h, version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fresh = append(fresh, st)
	}
	if len(fresh) > 0 {
		k.install(fresh...)
	}
	return errors.Join(errs...)
}

// Watch calls Refresh every interval until ctx ends, then returns. A
// non-positive every means Options.RefreshEvery. Refresh failures are
// logged and retried at the next tick. Run it in its own goroutine.
func (k *Keyring) Watch(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = k.every
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
				k.log.Warn("keys: refresh failed", "err", err)
			}
		}
	}
}

// Rotate adds a new key to keyset which ("data", "mac" or "server"), makes
// it the primary and stores the keyset with compare-and-swap, retrying on
// conflict. The old keys stay enabled, so old ciphertext still opens and
// old fingerprints still match. It returns the new key's id.
//
// Other nodes start using the new key when they next Refresh.
func (k *Keyring) Rotate(ctx context.Context, which string) (uint32, error) {
	kd, err := parseKind(which)
	if err != nil {
		return 0, err
	}
	return k.update(ctx, kd, func(_ *keysetState, m *keyset.Manager) (uint32, bool, error) {
		id, err := m.Add(kd.template())
		if err != nil {
			return 0, false, fmt.Errorf("keys: rotate keyset %q: %w", kd, err)
		}
		if err := m.SetPrimary(id); err != nil {
			return 0, false, fmt.Errorf("keys: rotate keyset %q: %w", kd, err)
		}
		return id, true, nil
	})
}

// Disable disables key id of keyset which, so that it is no longer used:
// a disabled data key opens nothing, and a disabled MAC key no longer
// yields a fingerprint. Only disable a data key after everything it sealed
// has been re-sealed, and a MAC key after every fingerprint it made has
// been recomputed. Disabling a disabled key does nothing.
//
// It returns an error wrapping ErrPrimaryKey for the primary key and
// ErrUnknownKey for an id the keyset does not hold.
func (k *Keyring) Disable(ctx context.Context, which string, id uint32) error {
	return k.setStatus(ctx, which, id, keyset.Disabled)
}

// Enable enables key id of keyset which again after Disable. Enabling an
// enabled key does nothing. It returns an error wrapping ErrUnknownKey for
// an id the keyset does not hold.
func (k *Keyring) Enable(ctx context.Context, which string, id uint32) error {
	return k.setStatus(ctx, which, id, keyset.Enabled)
}

// Destroy deletes disabled key id from keyset which, for good: nothing it
// sealed or made can be opened or verified again, by this keyring or by a
// copy of the stored keyset written after this call (crypto-shredding of the
// stale copies a database keeps: WAL frames, freed pages, dead row
// versions). A copy of the keyset written before, in a backup, still holds
// the key; see docs/security.md. Destroying a key the keyset no longer
// holds returns an error wrapping ErrUnknownKey.
//
// Only a disabled key is destroyed (ErrKeyEnabled otherwise, ErrPrimaryKey
// for the primary), so that a key is first retired, which the caller allows
// only once no record uses it.
func (k *Keyring) Destroy(ctx context.Context, which string, id uint32) error {
	return k.changeKey(ctx, which, id, func(cur *keysetState, m *keyset.Manager, e keyEntry) (bool, error) {
		switch {
		case id == cur.primary:
			return false, ErrPrimaryKey
		case e.status != keyset.Disabled:
			return false, ErrKeyEnabled
		}
		return true, m.Delete(id)
	})
}

// setStatus implements Disable and Enable.
func (k *Keyring) setStatus(ctx context.Context, which string, id uint32, status keyset.KeyStatus) error {
	return k.changeKey(ctx, which, id, func(cur *keysetState, m *keyset.Manager, e keyEntry) (bool, error) {
		switch {
		case e.status == status:
			return false, nil
		case status == keyset.Disabled && id == cur.primary:
			return false, ErrPrimaryKey
		case status == keyset.Disabled:
			return true, m.Disable(id)
		}
		return true, m.Enable(id)
	})
}

// changeKey applies change to key id of keyset which, through update. change reports whether
// it changed the keyset; its error, and ErrUnknownKey for an id the keyset does not hold, are
// returned naming the keyset and the key.
func (k *Keyring) changeKey(ctx context.Context, which string, id uint32, change func(cur *keysetState, m *keyset.Manager, e keyEntry) (bool, error)) error {
	kd, err := parseKind(which)
	if err != nil {
		return err
	}
	_, err = k.update(ctx, kd, func(cur *keysetState, m *keyset.Manager) (uint32, bool, error) {
		i := slices.IndexFunc(cur.entries, func(e keyEntry) bool { return e.id == id })
		if i < 0 {
			return 0, false, fmt.Errorf("%w: keyset %q, key %d", ErrUnknownKey, kd, id)
		}
		changed, err := change(cur, m, cur.entries[i])
		if err != nil {
			return 0, false, fmt.Errorf("%w (keyset %q, key %d)", err, kd, id)
		}
		return id, changed, nil
	})
	return err
}

// update applies change to the stored keyset kd and writes the result
// with compare-and-swap, reloading and reapplying on conflict. change
// reports whether it changed anything; when it did not, nothing is
// written. On success the new version is installed locally at once.
func (k *Keyring) update(ctx context.Context, kd kind, change func(cur *keysetState, m *keyset.Manager) (id uint32, changed bool, err error)) (uint32, error) {
	for range maxCASAttempts {
		cur, err := k.fetch(ctx, kd)
		if err != nil {
			return 0, err
		}
		m := keyset.NewManagerFromHandle(cur.handle)
		id, changed, err := change(cur, m)
		if err != nil {
			return 0, err
		}
		if !changed {
			k.install(cur)
			return id, nil
		}
		h, err := m.Handle()
		if err != nil {
			return 0, fmt.Errorf("keys: update keyset %q: %w", kd, err)
		}
		next, err := compile(kd, h, cur.version+1)
		if err != nil {
			return 0, err
		}
		blob, err := encodeKeyset(k.kek, kd, h)
		if err != nil {
			return 0, err
		}
		err = storeKeyset(ctx, k.store, kd.String(), blob, cur.version, cur.state, next.state)
		if errors.Is(err, ErrKeysetConflict) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("keys: store keyset %q: %w", kd, err)
		}
		k.install(next)
		return id, nil
	}
	return 0, fmt.Errorf("keys: update keyset %q: gave up after %d conflicting writes", kd, maxCASAttempts)
}

// Key statuses reported by Status.
const (
	// StatusPrimary marks the key a keyset uses for new ciphertext,
	// fingerprints or MACs.
	StatusPrimary = "primary"
	// StatusEnabled marks a key that still opens and verifies but makes
	// nothing new.
	StatusEnabled = "enabled"
	// StatusDisabled marks a key that is kept but not used at all.
	StatusDisabled = "disabled"
	// StatusDestroyed marks a key whose material tink has destroyed.
	StatusDestroyed = "destroyed"
)

// Status describes the keysets a Keyring is using. It holds key ids and
// statuses, never key material.
type Status struct {
	// Primary is the id of the primary data key, the one Seal uses.
	Primary uint32
	// Keysets describes the data, mac and server keysets, in that order.
	Keysets []KeysetInfo
	// Keys lists every key of every keyset, keyset by keyset, in the order
	// the keys were added.
	Keys []KeyInfo
}

// KeysetInfo describes one keyset in a Status.
type KeysetInfo struct {
	// Name is "data", "mac" or "server".
	Name string
	// Version is the stored version in use; it grows by one per change.
	Version int64
	// Primary is the id of the keyset's primary key.
	Primary uint32
}

// KeyInfo describes one key in a Status.
type KeyInfo struct {
	// Keyset is "data", "mac" or "server".
	Keyset string
	// ID is the tink key id; for data keys it is the id in the ciphertext
	// prefix, for MAC keys the one in the fingerprint prefix.
	ID uint32
	// Status is StatusPrimary, StatusEnabled, StatusDisabled or
	// StatusDestroyed.
	Status string
}

// Status reports the keysets and keys in use on this node.
func (k *Keyring) Status() Status {
	snap := k.snap.Load()
	s := Status{Primary: snap.sets[kindData].primary}
	for _, st := range snap.sets {
		s.Keysets = append(s.Keysets, KeysetInfo{Name: st.kind.String(), Version: st.version, Primary: st.primary})
		for _, e := range st.entries {
			status := StatusEnabled
			switch {
			case e.id == st.primary:
				status = StatusPrimary
			case e.status == keyset.Disabled:
				status = StatusDisabled
			case e.status == keyset.Destroyed:
				status = StatusDestroyed
			}
			s.Keys = append(s.Keys, KeyInfo{Keyset: st.kind.String(), ID: e.id, Status: status})
		}
	}
	return s
}
