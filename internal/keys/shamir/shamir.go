// Package shamir splits a secret into shares with Shamir's secret sharing
// over GF(2^8), so that any threshold of them recover it and fewer reveal
// nothing about it. payvault uses it to split the master key between key
// custodians for split knowledge and dual control (PCI DSS 3.6.1.2).
//
// Each byte of the secret is the constant term of its own random polynomial
// of degree threshold-1, and share x holds every polynomial evaluated at x,
// for x = 1..n. Combine recovers the constant terms by Lagrange interpolation
// at x = 0.
//
// Before splitting, a 4-byte digest of the secret is appended to it, and the
// digest is shared byte by byte like the secret. No share carries a visible
// hash of the secret, and fewer than threshold shares still reveal nothing
// about the secret or its digest.
//
// A set of fewer than threshold shares cannot, in general, be recognised as
// too small from its values: interpolating it gives a value that looks as
// random as any secret, and that no information leaks from it is the point of
// the scheme. Combine therefore relies on two things. Each share records the
// threshold, and Combine refuses a set smaller than that. When the record is
// wrong or the set is otherwise inconsistent (shares of different splits, a
// corrupted share, a Threshold edited down), the recovered digest does not
// match, and Combine fails with probability 1-2^-32. A wrong secret can still
// come out with probability 2^-32, so callers should also check the secret
// itself where they can, for example by unwrapping a data key with it.
//
// The shares are as sensitive as the secret itself, and their text form
// (Share.String) is meant to be printed for an operator and read back with
// ParseShare. Error strings never contain share bytes.
package shamir

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// digestLen is the number of bytes of SHA-256 appended to the secret before
// splitting so that Combine can detect an inconsistent set of shares.
const digestLen = 4

// digestDomain separates the secret digest from any other SHA-256 of the
// same bytes.
const digestDomain = "payvault-shamir-v1 secret digest\x00"

// maxShares is the largest n and threshold: x coordinates are non-zero bytes.
const maxShares = 255

// Errors returned by this package wrap one of these kinds; test for them with
// errors.Is.
var (
	// ErrInvalid means Split was given parameters out of range, or Combine was
	// given a set of shares that cannot be combined (too few, duplicate or
	// zero x, mixed lengths or thresholds).
	ErrInvalid = errors.New("shamir: invalid input")
	// ErrMismatch means Combine interpolated the shares but the result failed
	// its digest check: the shares do not all come from the same split, one
	// of them is corrupted, or their Threshold is lower than the real one.
	ErrMismatch = errors.New("shamir: shares do not match")
	// ErrMalformed means ParseShare was given text that is not a share.
	ErrMalformed = errors.New("shamir: malformed share")
	// ErrChecksum means ParseShare was given a share whose checksum does not
	// match, which almost always means a typo.
	ErrChecksum = errors.New("shamir: share checksum mismatch")
)

// shamirError is an error of one of the kinds above with a fixed message
// that never contains secret or share bytes.
type shamirError struct {
	kind error
	msg  string
}

func (e *shamirError) Error() string { return "shamir: " + e.msg }
func (e *shamirError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &shamirError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Share is one share of a split secret.
type Share struct {
	// X is the x coordinate of the share, from 1 to n. It is not secret.
	X byte
	// Y holds the share's value of each byte's polynomial at X: one byte for
	// each byte of the secret followed by four bytes for the secret's digest,
	// so len(Y) is len(secret)+4. It is as secret as the secret itself.
	Y []byte
	// Threshold is the number of shares needed to recover the secret. It is
	// not secret.
	Threshold int
}

// Split divides secret into n shares, any threshold of which recover it.
// It needs 2 <= threshold <= n <= 255 and len(secret) >= 1. Randomness comes
// from crypto/rand. Errors wrap ErrInvalid.
func Split(secret []byte, n, threshold int) ([]Share, error) {
	return SplitWithReader(secret, n, threshold, rand.Reader)
}

// SplitWithReader is Split with the polynomial coefficients read from random
// instead of crypto/rand. It exists for known-answer tests; production code
// calls Split. It reads exactly (threshold-1)*(len(secret)+4) bytes: for each
// byte of the secret and then of its digest, the coefficients of x^1 to
// x^(threshold-1). Errors wrap ErrInvalid, or the reader's error.
func SplitWithReader(secret []byte, n, threshold int, random io.Reader) ([]Share, error) {
	switch {
	case len(secret) == 0:
		return nil, errorf(ErrInvalid, "secret is empty")
	case n < 2 || n > maxShares:
		return nil, errorf(ErrInvalid, "number of shares %d is not from 2 to %d", n, maxShares)
	case threshold < 2 || threshold > n:
		return nil, errorf(ErrInvalid, "threshold %d is not from 2 to the number of shares %d", threshold, n)
	case random == nil:
		return nil, errorf(ErrInvalid, "no source of randomness")
	}

	// value is the secret followed by its digest: the constant terms.
	value := make([]byte, len(secret), len(secret)+digestLen)
	copy(value, secret)
	value = appendDigest(value, secret)
	defer clear(value)

	degree := threshold - 1
	coeffs := make([]byte, len(value)*degree)
	defer clear(coeffs)
	if _, err := io.ReadFull(random, coeffs); err != nil {
		return nil, fmt.Errorf("shamir: reading randomness: %w", err)
	}

	shares := make([]Share, n)
	for i := range shares {
		x := byte(i + 1)
		y := make([]byte, len(value))
		for b, c0 := range value {
			// Horner's rule from the highest coefficient down to c0.
			c := coeffs[b*degree : (b+1)*degree]
			var acc byte
			for k := degree - 1; k >= 0; k-- {
				acc = mul(acc, x) ^ c[k]
			}
			y[b] = mul(acc, x) ^ c0
		}
		shares[i] = Share{X: x, Y: y, Threshold: threshold}
	}
	return shares, nil
}

// Combine recovers the secret from at least Threshold distinct shares of one
// split; more are fine, and all of them are used. Errors wrap ErrInvalid when
// there are fewer than two shares or fewer than their Threshold, when they
// disagree on Threshold or length, or when an x is zero or repeated; they wrap
// ErrMismatch when the recovered secret fails its digest check.
//
// Threshold is taken from the shares and trusted. Shares whose Threshold was
// lowered to match a set that is too small interpolate to a random value,
// which the digest check rejects with probability 1-2^-32; see the package
// documentation for why the values alone cannot show that a set is too small.
func Combine(shares []Share) ([]byte, error) {
	if err := checkSet(shares); err != nil {
		return nil, err
	}
	value := interpolate(shares)
	defer clear(value)

	n := len(value) - digestLen
	secret := make([]byte, n)
	copy(secret, value[:n])
	want := appendDigest(make([]byte, 0, digestLen), secret)
	defer clear(want)
	if subtle.ConstantTimeCompare(want, value[n:]) != 1 {
		clear(secret)
		return nil, errorf(ErrMismatch, "the recovered secret fails its digest check: the shares come from different splits, one is corrupted, or fewer than the real threshold were given")
	}
	return secret, nil
}

// checkSet reports why shares cannot be combined, or nil.
func checkSet(shares []Share) error {
	if len(shares) < 2 {
		return errorf(ErrInvalid, "need at least 2 shares, have %d", len(shares))
	}
	threshold := shares[0].Threshold
	if threshold < 2 || threshold > maxShares {
		return errorf(ErrInvalid, "share 1 has threshold %d, not from 2 to %d", threshold, maxShares)
	}
	size := len(shares[0].Y)
	if size <= digestLen {
		return errorf(ErrInvalid, "share 1 is %d bytes, too short to hold a secret", size)
	}
	var seen [maxShares + 1]int // seen[x] is the 1-based index of the share with that x
	for i, s := range shares {
		switch {
		case s.Threshold != threshold:
			return errorf(ErrInvalid, "shares 1 and %d have different thresholds", i+1)
		case len(s.Y) != size:
			return errorf(ErrInvalid, "shares 1 and %d have different lengths", i+1)
		case s.X == 0:
			return errorf(ErrInvalid, "share %d has x = 0", i+1)
		case seen[s.X] != 0:
			return errorf(ErrInvalid, "shares %d and %d given are both share number %d: the same share given twice?", seen[s.X], i+1, s.X)
		}
		seen[s.X] = i + 1
	}
	if len(shares) < threshold {
		return errorf(ErrInvalid, "need %d shares, have %d", threshold, len(shares))
	}
	return nil
}

// interpolate evaluates at x = 0 the polynomials through the shares, which
// must have distinct non-zero x and equal lengths. It does not look at
// Threshold.
func interpolate(shares []Share) []byte {
	// The Lagrange basis polynomial for share i at 0 is the product over
	// j != i of x_j / (x_j - x_i); subtraction in GF(2^8) is XOR.
	basis := make([]byte, len(shares))
	for i, si := range shares {
		num, den := byte(1), byte(1)
		for j, sj := range shares {
			if i == j {
				continue
			}
			num = mul(num, sj.X)
			den = mul(den, sj.X^si.X)
		}
		basis[i] = mul(num, inv(den))
	}
	value := make([]byte, len(shares[0].Y))
	for i, s := range shares {
		for b, y := range s.Y {
			value[b] ^= mul(basis[i], y)
		}
	}
	return value
}

// appendDigest appends the first digestLen bytes of the domain-separated
// SHA-256 of secret to dst.
func appendDigest(dst, secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte(digestDomain))
	h.Write(secret)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	dst = append(dst, sum[:digestLen]...)
	clear(sum[:])
	return dst
}
