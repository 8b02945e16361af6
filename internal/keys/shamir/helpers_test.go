package shamir

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// seededReader is a deterministic stream for known-answer tests: block i is
// SHA-256(seed || big-endian uint64 i), so the vectors can be recomputed in
// any language.
type seededReader struct {
	seed  []byte
	block uint64
	buf   []byte
}

func newSeededReader(seed string) *seededReader {
	return &seededReader{seed: []byte(seed)}
}

func (r *seededReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.New()
			h.Write(r.seed)
			h.Write(binary.BigEndian.AppendUint64(nil, r.block))
			r.buf = h.Sum(nil)
			r.block++
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

// constReader returns the same byte forever.
type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// referenceDigest recomputes the digest Split appends to the secret.
func referenceDigest(secret []byte) []byte {
	sum := sha256.Sum256(append([]byte("payvault-shamir-v1 secret digest\x00"), secret...))
	return sum[:4]
}

// MustSplit splits secret with crypto/rand and fails the test on error.
func MustSplit(tb testing.TB, secret []byte, n, threshold int) []Share {
	tb.Helper()
	shares, err := Split(secret, n, threshold)
	if err != nil {
		tb.Fatalf("Split(%d bytes, %d, %d): %v", len(secret), n, threshold, err)
	}
	return shares
}

// cloneShares deep-copies shares so a test can modify them.
func cloneShares(shares []Share) []Share {
	out := make([]Share, len(shares))
	for i, s := range shares {
		out[i] = Share{X: s.X, Y: append([]byte(nil), s.Y...), Threshold: s.Threshold}
	}
	return out
}
