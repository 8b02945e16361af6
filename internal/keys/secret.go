package keys

import (
	"crypto/sha256"
	"crypto/subtle"
)

// HashSecret returns the SHA-256 of secret, the form in which API secrets,
// user API keys and the admin token are stored.
//
// A single unsalted hash is enough only because these secrets are long
// random strings from RandomString; never use it for passwords a person
// chose.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// VerifySecret reports whether secret hashes to hash. The comparison takes
// constant time in the content of hash.
func VerifySecret(hash []byte, secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(hash, sum[:]) == 1
}
