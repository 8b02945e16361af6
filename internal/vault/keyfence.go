package vault

import (
	"context"

	"github.com/payvault/payvault/internal/keys"
)

// KeyStates are the keys of the data and MAC keysets a write sealed and fingerprinted under:
// what the Keyring held when the write began (keys.Keyring.KeyStates), read before it sealed
// anything, so that every seal of the write was made under these keys or later ones.
type KeyStates struct {
	Data, MAC keys.KeyState
}

type keyStatesKey struct{}

// WithKeyStates returns ctx carrying the keys a Write seals or fingerprints under. A Store
// commits a write that stored sealed data or fingerprints only while those keys are current,
// or changed less than its key fence bound ago, by the database's clock (the key fence,
// docs/security.md "Rotation"), and answers it Unavailable otherwise, with nothing written.
// ctx keeps the states it already carries, which were read earlier, before any seal since.
func WithKeyStates(ctx context.Context, ks KeyStates) context.Context {
	if _, ok := KeyStatesFrom(ctx); ok {
		return ctx
	}
	return context.WithValue(ctx, keyStatesKey{}, ks)
}

// KeyStatesFrom returns the states set by WithKeyStates; ok is false when none are set.
func KeyStatesFrom(ctx context.Context) (ks KeyStates, ok bool) {
	ks, ok = ctx.Value(keyStatesKey{}).(KeyStates)
	return ks, ok
}

// KeyHolder holds the keys a write seals and fingerprints under: *keys.Keyring.
type KeyHolder interface {
	// KeyStates returns the KeyStates of the data and MAC keysets in use, from one snapshot.
	KeyStates() (data, mac keys.KeyState)
}

// Sealing returns ctx carrying the keys kr seals and fingerprints under now (WithKeyStates),
// unless ctx carries some already: called before a write's first seal or fingerprint.
func Sealing(ctx context.Context, kr KeyHolder) context.Context {
	if _, ok := KeyStatesFrom(ctx); ok || kr == nil {
		return ctx // set already, earlier: no Keyring call; or nothing to seal with
	}
	d, m := kr.KeyStates()
	return context.WithValue(ctx, keyStatesKey{}, KeyStates{Data: d, MAC: m})
}

// sealing is Sealing with s's Keyring.
func (s *Service) sealing(ctx context.Context) context.Context { return Sealing(ctx, s.keys) }
