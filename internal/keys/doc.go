// Package keys holds payvault's key hierarchy: it seals and opens card and
// bank data, makes the fingerprints used to find duplicates, MACs internal
// records, hashes API secrets and draws random identifiers.
//
// # Hierarchy
//
// A 32-byte master key (from a key file, the PAYVAULT_MASTER_KEY
// environment variable or a file flag; see ParseMasterKey and
// ReadMasterKeyFile) is the root. It never touches data. It only wraps
// three tink keysets that live in the database behind KeysetStore:
//
//	master key ──AES-256-GCM──┬── "data"   AEAD keyset, XAES-256-GCM, TINK prefix
//	                          ├── "mac"    PRF keyset, HMAC-SHA256 (fingerprints)
//	                          └── "server" PRF keyset, HMAC-SHA256 (ServerMAC)
//
// Each keyset is stored as a tink EncryptedKeyset (keyset.Handle.Write…)
// encrypted with AES-256-GCM under the master key, with the associated
// data "payvault keyset <name>", so one keyset's blob cannot stand in for
// another's. tink's binary writer leaves the EncryptedKeyset's KeysetInfo
// out, so the blob shows nothing of the keys without the master key; a
// store that keeps KeyStateStore holds each keyset's KeyState (its primary
// key id and a digest of its key ids and statuses, never key material) in
// the clear beside it, for the key fence. A master key
// that does not decrypt a stored keyset makes Open fail with
// ErrWrongMasterKey before anything is written.
//
// Every stored keyset has a version. Writes are compare-and-swap on it
// (KeysetStore.StoreKeyset), so when several nodes start on an empty
// database or rotate at once, exactly one write wins each round and the
// others reload and retry.
//
// # Associated data
//
// An AD names where a sealed value lives: merchant, record id and field,
// and for a record that a payment token finds (a card or bank account, a
// single-use token), that token. The first three must be set. It is
// encoded without ambiguity, each part preceded by its length as a 4-byte
// big-endian integer; without a token (v1):
//
//	"payvault/v1" || u32be(len(merchant)) || merchant
//	              || u32be(len(record))   || record
//	              || u32be(len(field))    || field
//
// and with one (v2):
//
//	"payvault/v2" || u32be(len(merchant)) || merchant
//	              || u32be(len(record))   || record
//	              || u32be(len(field))    || field
//	              || u32be(len(token))    || token
//
// A ciphertext copied to another merchant, record or field therefore does
// not open, nor does one whose record's token was changed, say swapped
// with another record's. The v1 form is unchanged byte for byte, so
// everything sealed before tokens were bound still opens under it; a
// caller that reads such records tries the v2 AD first and the v1 AD only
// when that fails. A v2 ciphertext never opens under a v1 AD (the prefixes
// differ), so that fallback cannot unbind a record sealed with its token.
//
// # Ciphertext
//
// Seal produces tink's TINK-prefixed XAES-256-GCM ciphertext (45 bytes of
// overhead):
//
//	0x01 || key id (4 bytes, big endian) || salt (12) || nonce (12) || AES-GCM ciphertext || tag (16)
//
// The salt and nonce are random. The key id names the data key that sealed
// the value (KeyID reads it), so Open picks the right key after rotations
// and an operator can count what each key still protects. XAES-256-GCM
// derives a fresh AES-256 key per message from the salt, so random nonces
// stay safe far beyond the message counts a vault will ever reach (2^80
// messages per key, against about 2^32 for plain AES-GCM).
//
// # Fingerprints
//
// A fingerprint finds a duplicate card or account without decrypting. For
// every enabled key of the MAC keyset:
//
//	K_m = HMAC-SHA256(macKey, "payvault fingerprint v1|" || merchantID)
//	fp  = "<decimal key id>:" || hex(HMAC-SHA256(K_m, normalized))
//
// normalized is the number alone (digits of a PAN, an account number with
// its routing code), never the expiry. The per-merchant key means equal
// numbers at two merchants have unrelated fingerprints. Fingerprints
// returns one per enabled MAC key, the primary's first; store that one,
// and look up all of them, so a MAC key rotation never lets a duplicate
// slip. Fingerprint returns the primary's only.
//
// ServerMAC is HMAC-SHA256 under the server keyset's primary key over
// "payvault server v1|" || u32be(len(purpose)) || purpose || data.
// VerifyServerMAC accepts a MAC from any enabled server key.
//
// # Rotation
//
// Rotate adds a new key to a keyset and makes it the primary. The old keys
// stay enabled: old ciphertext still opens, old fingerprints are still
// computed for lookups, and old server MACs still verify. Rotate writes
// with compare-and-swap and installs the new keyset at once on the node
// that rotated; other nodes pick it up on their next Refresh, which Watch
// runs every few seconds. Until then they keep sealing under the old
// primary, which is harmless because every node can open both.
//
// Disable takes a non-primary key out of use: a disabled data key opens
// nothing and a disabled MAC key yields no fingerprint. Re-seal the data
// and recompute the fingerprints a key made before disabling it. Enable
// undoes Disable. Keys are never deleted by this package.
//
// # Concurrency
//
// A Keyring keeps its compiled keysets in an immutable snapshot behind an
// atomic pointer. Seal, Open, Fingerprint(s) and ServerMAC read it without
// locks; Refresh and Rotate swap in a new snapshot, never replacing a
// keyset version with an older one.
//
// # Secrets and identifiers
//
// API secrets, user API keys and the admin token are long random strings;
// they are stored as HashSecret (SHA-256) and checked with VerifySecret in
// constant time. RandomString, RandomDigits, RandomHex and NewUUIDv7 draw
// from crypto/rand only.
//
// No error or log line of this package contains a plaintext, a key or a
// secret; a MasterKey prints as "[redacted]".
package keys
