package keys

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/aead/xaesgcm"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/prf/hmacprf"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Keyset names, as stored through KeysetStore and accepted by Rotate,
// Disable and Enable.
const (
	// KeysetData names the AEAD keyset that seals card and bank data.
	KeysetData = "data"
	// KeysetMAC names the PRF keyset that derives per-merchant fingerprint keys.
	KeysetMAC = "mac"
	// KeysetServer names the PRF keyset for internal MACs (ServerMAC).
	KeysetServer = "server"
)

// kind indexes the three keysets inside a snapshot.
type kind int

const (
	kindData kind = iota
	kindMAC
	kindServer
	numKinds
)

// String returns the stored name of the keyset.
func (k kind) String() string {
	switch k {
	case kindData:
		return KeysetData
	case kindMAC:
		return KeysetMAC
	case kindServer:
		return KeysetServer
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// parseKind maps a keyset name to its kind.
func parseKind(name string) (kind, error) {
	switch name {
	case KeysetData:
		return kindData, nil
	case KeysetMAC:
		return kindMAC, nil
	case KeysetServer:
		return kindServer, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownKeyset, name)
}

// template returns the key template for new keys of kind k: XAES-256-GCM
// with a 192-bit nonce and the TINK prefix for data, HMAC-SHA256 PRF with
// 32-byte keys for mac and server.
func (k kind) template() *tinkpb.KeyTemplate {
	if k == kindData {
		return aead.XAES256GCM192BitNonceKeyTemplate()
	}
	return prf.HMACSHA256PRFKeyTemplate()
}

// keysetAD is the associated data that binds an encrypted keyset to its
// name, so the blob of one keyset cannot be stored in place of another.
func keysetAD(k kind) []byte {
	return []byte("payvault keyset " + k.String())
}

// newKEK returns the key-encryption AEAD (AES-256-GCM, random 96-bit nonce)
// built from the master key.
func newKEK(mk MasterKey) (tink.AEAD, error) {
	a, err := subtle.NewAESGCM(mk[:])
	if err != nil {
		return nil, fmt.Errorf("keys: master key AEAD: %w", err)
	}
	return a, nil
}

// decryptTracker wraps the key-encryption AEAD and remembers whether a
// decryption failed, so a wrong master key can be told apart from a blob
// that is not a keyset at all.
type decryptTracker struct {
	tink.AEAD
	failed bool
}

// Decrypt decrypts with the wrapped AEAD and records a failure.
func (d *decryptTracker) Decrypt(ct, ad []byte) ([]byte, error) {
	pt, err := d.AEAD.Decrypt(ct, ad)
	if err != nil {
		d.failed = true
	}
	return pt, err
}

// encodeKeyset encrypts h under kek and returns the blob to store.
func encodeKeyset(kek tink.AEAD, k kind, h *keyset.Handle) ([]byte, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), kek, keysetAD(k)); err != nil {
		return nil, fmt.Errorf("keys: encrypt keyset %q: %w", k, err)
	}
	return buf.Bytes(), nil
}

// decodeKeyset decrypts a stored blob. A blob that the master key cannot
// decrypt gives an error wrapping ErrWrongMasterKey.
func decodeKeyset(kek tink.AEAD, k kind, blob []byte) (*keyset.Handle, error) {
	eks, err := keyset.NewBinaryReader(bytes.NewReader(blob)).ReadEncrypted()
	if err != nil {
		return nil, fmt.Errorf("keys: stored keyset %q is corrupt: not an encrypted keyset", k)
	}
	tr := &decryptTracker{AEAD: kek}
	h, err := keyset.ReadWithAssociatedData(&keyset.MemReaderWriter{EncryptedKeyset: eks}, tr, keysetAD(k))
	if tr.failed {
		return nil, fmt.Errorf("keys: keyset %q: %w", k, ErrWrongMasterKey)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: stored keyset %q is corrupt: %w", k, err)
	}
	return h, nil
}

// keyEntry describes one key of a keyset for Status.
type keyEntry struct {
	id     uint32
	status keyset.KeyStatus
}

// macKey is an enabled key of a PRF keyset with its raw HMAC-SHA256 key.
type macKey struct {
	id  uint32
	key []byte
}

// keysetState is an immutable, compiled view of one stored keyset version.
type keysetState struct {
	kind    kind
	version int64
	handle  *keyset.Handle
	primary uint32
	entries []keyEntry
	// state names the keys (KeyState), for the key fence.
	state KeyState

	// aead seals and opens with the data keyset; nil for the others.
	aead tink.AEAD
	// enabled lists the ids of the enabled keys.
	enabled []uint32
	// macs holds the enabled keys of a PRF keyset, primary first; nil for
	// the data keyset.
	macs []macKey
}

// compile checks that h holds the key types expected for kind k and builds
// the primitives for it.
func compile(k kind, h *keyset.Handle, version int64) (*keysetState, error) {
	p, err := h.Primary()
	if err != nil {
		return nil, fmt.Errorf("keys: keyset %q has no primary key", k)
	}
	st := &keysetState{kind: k, version: version, handle: h, primary: p.KeyID(), state: keyStateOf(h.KeysetInfo())}
	for i := range h.Len() {
		e, err := h.Entry(i)
		if err != nil {
			return nil, fmt.Errorf("keys: keyset %q: %w", k, err)
		}
		st.entries = append(st.entries, keyEntry{id: e.KeyID(), status: e.KeyStatus()})
		if e.KeyStatus() != keyset.Enabled {
			continue
		}
		st.enabled = append(st.enabled, e.KeyID())
		switch k {
		case kindData:
			key, ok := e.Key().(*xaesgcm.Key)
			if !ok {
				return nil, fmt.Errorf("keys: keyset %q: key %d is %T, want XAES-256-GCM", k, e.KeyID(), e.Key())
			}
			params := key.Parameters().(*xaesgcm.Parameters)
			if params.Variant() != xaesgcm.VariantTink || params.SaltSizeInBytes() != 12 {
				return nil, fmt.Errorf("keys: keyset %q: key %d is %s with %d-byte salt, want TINK with 12-byte salt",
					k, e.KeyID(), params.Variant(), params.SaltSizeInBytes())
			}
		default:
			key, ok := e.Key().(*hmacprf.Key)
			if !ok {
				return nil, fmt.Errorf("keys: keyset %q: key %d is %T, want HMAC PRF", k, e.KeyID(), e.Key())
			}
			params := key.Parameters().(*hmacprf.Parameters)
			if params.HashType() != hmacprf.SHA256 || params.KeySizeInBytes() < 32 {
				return nil, fmt.Errorf("keys: keyset %q: key %d is HMAC-%s with %d-byte key, want HMAC-SHA256 with at least 32 bytes",
					k, e.KeyID(), params.HashType(), params.KeySizeInBytes())
			}
			mk := macKey{id: e.KeyID(), key: key.KeyBytes().Data(insecuresecretdataaccess.Token{})}
			if e.IsPrimary() {
				st.macs = slices.Insert(st.macs, 0, mk)
			} else {
				st.macs = append(st.macs, mk)
			}
		}
	}
	if k == kindData {
		a, err := aead.New(h)
		if err != nil {
			return nil, fmt.Errorf("keys: keyset %q: %w", k, err)
		}
		st.aead = a
	}
	if !slices.Contains(st.enabled, st.primary) {
		return nil, errors.New("keys: keyset " + k.String() + ": primary key is not enabled")
	}
	return st, nil
}
