package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
)

// Domain-separation labels for the HMACs made from the PRF keysets.
const (
	fingerprintLabel = "payvault fingerprint v1|"
	serverMACLabel   = "payvault server v1|"
)

// hmacSHA256 returns HMAC-SHA256(key, msg). It is the one MAC primitive of
// this package; the known-answer tests pin it to RFC 4231.
func hmacSHA256(key []byte, msg ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, m := range msg {
		h.Write(m)
	}
	return h.Sum(make([]byte, 0, sha256.Size))
}

// merchantKey derives the per-merchant fingerprint key
// K_m = HMAC-SHA256(macKey, "payvault fingerprint v1|" || merchantID).
// The label has a fixed length and the merchant id runs to the end, so the
// input is unambiguous.
func merchantKey(macKey []byte, merchantID string) []byte {
	return hmacSHA256(macKey, []byte(fingerprintLabel), []byte(merchantID))
}

// fingerprint returns "<keyid>:<hex(HMAC-SHA256(K_m, normalized))>" for
// MAC key mk.
func fingerprint(mk macKey, merchantID string, normalized []byte) string {
	sum := hmacSHA256(merchantKey(mk.key, merchantID), normalized)
	b := make([]byte, 0, 11+hex.EncodedLen(len(sum)))
	b = strconv.AppendUint(b, uint64(mk.id), 10)
	b = append(b, ':')
	b = hex.AppendEncode(b, sum)
	return string(b)
}

// Fingerprints returns the fingerprint of the normalised value (a PAN, an
// account number) for merchantID under every enabled MAC key, the primary
// key's first. Each is "<keyid>:<64 hex digits>", where keyid is the
// decimal id of the MAC key that made it.
//
// Duplicate detection looks up all of them, so a value fingerprinted before
// a MAC key rotation is still found after it. Store the first one.
func (k *Keyring) Fingerprints(merchantID, normalized string) []string {
	return k.FingerprintsOf(merchantID, []byte(normalized))
}

// FingerprintsOf is Fingerprints of a value held in a byte slice, which it does not keep, so
// that a caller who opened the value can clear it afterwards (a string cannot be cleared).
func (k *Keyring) FingerprintsOf(merchantID string, normalized []byte) []string {
	macs := k.snap.Load().sets[kindMAC].macs
	out := make([]string, len(macs))
	for i, mk := range macs {
		out[i] = fingerprint(mk, merchantID, normalized)
	}
	return out
}

// Fingerprint returns the fingerprint of the normalised value for
// merchantID under the primary MAC key only: the one to store with a new
// record. See Fingerprints for the format.
func (k *Keyring) Fingerprint(merchantID, normalized string) string {
	return fingerprint(k.snap.Load().sets[kindMAC].macs[0], merchantID, []byte(normalized))
}

// serverMAC returns HMAC-SHA256(key, "payvault server v1|" ||
// u32be(len(purpose)) || purpose || data).
func serverMAC(key []byte, purpose string, data []byte) []byte {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(purpose)))
	return hmacSHA256(key, []byte(serverMACLabel), n[:], []byte(purpose), data)
}

// ServerMAC returns a 32-byte HMAC-SHA256 of data under the primary key of
// the server keyset, domain-separated by purpose ("idempotency", "audit",
// ...), so a MAC made for one purpose is never valid for another.
func (k *Keyring) ServerMAC(purpose string, data []byte) []byte {
	return serverMAC(k.snap.Load().sets[kindServer].macs[0].key, purpose, data)
}

// VerifyServerMAC reports whether mac is ServerMAC(purpose, data) under
// any enabled server key, so MACs made before a rotation of the server
// keyset still verify. It compares in constant time.
func (k *Keyring) VerifyServerMAC(purpose string, data, mac []byte) bool {
	ok := false
	for _, mk := range k.snap.Load().sets[kindServer].macs {
		if hmac.Equal(serverMAC(mk.key, purpose, data), mac) {
			ok = true
		}
	}
	return ok
}
