package shamir

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// drawSplit draws a secret, n, threshold and the coefficients from rapid, so
// that a failure shrinks and replays.
func drawSplit(t *rapid.T, minSecret int) (secret []byte, shares []Share) {
	secret = rapid.SliceOfN(rapid.Byte(), minSecret, 64).Draw(t, "secret")
	n := rapid.IntRange(2, 10).Draw(t, "n")
	threshold := rapid.IntRange(2, n).Draw(t, "threshold")
	coeffs := rapid.SliceOfN(rapid.Byte(), (threshold-1)*(len(secret)+digestLen), -1).Draw(t, "coefficients")
	shares, err := SplitWithReader(secret, n, threshold, bytes.NewReader(coeffs))
	if err != nil {
		t.Fatalf("SplitWithReader: %v", err)
	}
	return secret, shares
}

func TestPropertyThresholdSubsetRecovers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		secret, shares := drawSplit(t, 1)
		threshold := shares[0].Threshold
		k := rapid.IntRange(threshold, len(shares)).Draw(t, "k")
		subset := rapid.Permutation(shares).Draw(t, "order")[:k]
		got, err := Combine(subset)
		if err != nil {
			t.Fatalf("Combine(%d of %d shares, threshold %d): %v", k, len(shares), threshold, err)
		}
		if d := cmp.Diff(secret, got); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
	})
}

func TestPropertyBelowThresholdDoesNotRecover(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// The coefficients come from crypto/rand here: rapid favours zero
		// bytes, and a zero polynomial puts the secret in every share.
		secret := rapid.SliceOfN(rapid.Byte(), 16, 64).Draw(t, "secret")
		n := rapid.IntRange(2, 10).Draw(t, "n")
		threshold := rapid.IntRange(2, n).Draw(t, "threshold")
		shares, err := Split(secret, n, threshold)
		if err != nil {
			t.Fatalf("Split: %v", err)
		}
		subset := rapid.Permutation(shares).Draw(t, "order")[:threshold-1]

		if got, err := Combine(subset); err == nil && bytes.Equal(got, secret) {
			t.Fatalf("Combine recovered the secret from %d shares with threshold %d", len(subset), threshold)
		}
		// Lie about the threshold so that Combine interpolates: the digest
		// check should catch it, and the secret must not come out.
		lowered := cloneShares(subset)
		for i := range lowered {
			lowered[i].Threshold = len(lowered)
		}
		if got, err := Combine(lowered); err == nil && bytes.Equal(got, secret) {
			t.Fatalf("Combine recovered the secret from %d shares relabelled as threshold %d", len(lowered), len(lowered))
		}
		// The interpolation itself, below every check.
		if got := interpolate(subset); bytes.Equal(got[:len(secret)], secret) {
			t.Fatalf("interpolating %d shares with threshold %d gave the secret", len(subset), threshold)
		}
	})
}

func TestOneShareRevealsNothing(t *testing.T) {
	// With threshold 2, a single share's first byte must take every value
	// exactly once as the coefficient runs over GF(2^8), whatever the secret
	// byte: seeing it tells nothing about the secret.
	coeffs := make([]byte, 1+digestLen)
	for s := range 256 {
		for _, x := range []int{1, 2, 3} {
			var seen [256]int
			for a := range 256 {
				coeffs[0] = byte(a)
				shares, err := SplitWithReader([]byte{byte(s)}, max(x, 2), 2, bytes.NewReader(coeffs))
				if err != nil {
					t.Fatal(err)
				}
				seen[shares[x-1].Y[0]]++
			}
			for y, c := range seen {
				if c != 1 {
					t.Fatalf("secret %#02x, x %d: share byte %#02x appears %d times", s, x, y, c)
				}
			}
		}
	}
}
