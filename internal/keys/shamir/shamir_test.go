package shamir

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSplitWithReaderKnownAnswer(t *testing.T) {
	// Computed independently with a short Python reference (bit-by-bit
	// multiplication, no shared code); any change to the coefficient order,
	// the field or the digest changes these bytes.
	secret := []byte("payvault")
	shares, err := SplitWithReader(secret, 5, 3, newSeededReader("payvault shamir kat 1"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Share{
		{X: 1, Threshold: 3, Y: mustHex(t, "99104c942f693b743c0c2bbc")},
		{X: 2, Threshold: 3, Y: mustHex(t, "235313f00917e67cfb2e28fb")},
		{X: 3, Threshold: 3, Y: mustHex(t, "ca222612470bb17c9ccf9989")},
		{X: 4, Threshold: 3, Y: mustHex(t, "8868ad1e4cc2f344a318e4cd")},
		{X: 5, Threshold: 3, Y: mustHex(t, "611998fc02dea444c4f955bf")},
	}
	if d := cmp.Diff(want, shares); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	got, err := Combine(shares[2:])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(secret, got); d != "" {
		t.Errorf("Combine: (-want +got)\n%s", d)
	}
}

func TestSplitWithReaderByHand(t *testing.T) {
	secret := []byte{0x00, 0x53, 0xff}
	value := append(append([]byte(nil), secret...), referenceDigest(secret)...)
	t.Run("ok/zero-coefficients", func(t *testing.T) {
		// Every polynomial is the constant secret byte, so every share is
		// the secret followed by its digest.
		shares, err := SplitWithReader(secret, 3, 2, constReader(0))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shares {
			if d := cmp.Diff(value, s.Y); d != "" {
				t.Errorf("share %d: (-want +got)\n%s", s.X, d)
			}
		}
	})
	t.Run("ok/linear", func(t *testing.T) {
		// With threshold 3 and every coefficient 0x02, each byte's
		// polynomial is c + 2x + 2x^2, so y = c ^ mul(2, x) ^ mul(2, mul(x, x)).
		shares, err := SplitWithReader(secret, 4, 3, constReader(2))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shares {
			x := s.X
			want := make([]byte, len(value))
			for i, c := range value {
				want[i] = c ^ mul(2, x) ^ mul(2, mul(x, x))
			}
			if d := cmp.Diff(want, s.Y); d != "" {
				t.Errorf("share %d: (-want +got)\n%s", s.X, d)
			}
		}
		// x = 1: c ^ 2 ^ 2 = c.
		if d := cmp.Diff(value, shares[0].Y); d != "" {
			t.Errorf("share 1: (-want +got)\n%s", d)
		}
		// x = 2: c ^ 4 ^ 8 = c ^ 0x0c.
		if d := cmp.Diff(byte(0x53^0x0c), shares[1].Y[1]); d != "" {
			t.Errorf("share 2 byte 1: (-want +got)\n%s", d)
		}
	})
}

func TestCombineKnownAnswer(t *testing.T) {
	// Two shares of a threshold-2 split of "ok", worked by hand: the
	// polynomials are value[i] + 0x01*x, so share 1 is value ^ 0x01 and
	// share 2 is value ^ 0x02.
	secret := []byte("ok")
	value := append(append([]byte(nil), secret...), referenceDigest(secret)...)
	xor := func(b byte) []byte {
		out := make([]byte, len(value))
		for i, c := range value {
			out[i] = c ^ b
		}
		return out
	}
	got, err := Combine([]Share{{X: 2, Y: xor(2), Threshold: 2}, {X: 1, Y: xor(1), Threshold: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(secret, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name      string
		secret    []byte
		n, thresh int
		random    io.Reader
		wantErr   error
	}{
		{"ok", []byte("k"), 2, 2, constReader(7), nil},
		{"ok/max-shares", []byte("k"), 255, 255, constReader(7), nil},
		{"fail/empty-secret", nil, 3, 2, constReader(7), ErrInvalid},
		{"fail/one-share", []byte("k"), 1, 1, constReader(7), ErrInvalid},
		{"fail/too-many-shares", []byte("k"), 256, 2, constReader(7), ErrInvalid},
		{"fail/threshold-one", []byte("k"), 3, 1, constReader(7), ErrInvalid},
		{"fail/threshold-above-n", []byte("k"), 3, 4, constReader(7), ErrInvalid},
		{"fail/negative", []byte("k"), -3, -2, constReader(7), ErrInvalid},
		{"fail/nil-reader", []byte("k"), 3, 2, nil, ErrInvalid},
		{"fail/short-reader", []byte("k"), 3, 2, bytes.NewReader([]byte{1, 2}), io.ErrUnexpectedEOF},
		{"fail/reader-error", []byte("k"), 3, 2, iotest.ErrReader(errTestReader), errTestReader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shares, err := SplitWithReader(tt.secret, tt.n, tt.thresh, tt.random)
			if d := cmp.Diff(tt.wantErr, err, cmpopts.EquateErrors()); d != "" {
				t.Fatalf("error: (-want +got)\n%s", d)
			}
			if err != nil {
				if shares != nil {
					t.Errorf("got %d shares with an error", len(shares))
				}
				return
			}
			if d := cmp.Diff(tt.n, len(shares)); d != "" {
				t.Errorf("number of shares: (-want +got)\n%s", d)
			}
			for i, s := range shares {
				if s.X != byte(i+1) || s.Threshold != tt.thresh || len(s.Y) != len(tt.secret)+digestLen {
					t.Errorf("share %d = {X: %d, Threshold: %d, len(Y): %d}", i, s.X, s.Threshold, len(s.Y))
				}
			}
		})
	}
}

var errTestReader = errors.New("test reader failed")

func TestSplitDoesNotAliasSecret(t *testing.T) {
	secret := []byte("master key bytes")
	shares, err := SplitWithReader(secret, 3, 2, constReader(0))
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if shares[0].Y[0] == secret[0] {
		t.Fatalf("share aliases the secret")
	}
}

func TestCombine(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	shares, err := SplitWithReader(secret, 5, 3, newSeededReader("combine"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := SplitWithReader(secret, 5, 3, newSeededReader("another split"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		shares  func(s []Share) []Share
		wantErr error
	}{
		{"ok", func(s []Share) []Share { return s[:3] }, nil},
		{"ok/last-three", func(s []Share) []Share { return s[2:] }, nil},
		{"ok/all", func(s []Share) []Share { return s }, nil},
		{"ok/shuffled", func(s []Share) []Share { return []Share{s[4], s[0], s[2], s[1]} }, nil},
		{"fail/no-shares", func(s []Share) []Share { return nil }, ErrInvalid},
		{"fail/one-share", func(s []Share) []Share { return s[:1] }, ErrInvalid},
		{"fail/below-threshold", func(s []Share) []Share { return s[:2] }, ErrInvalid},
		{"fail/duplicate-x", func(s []Share) []Share { return []Share{s[0], s[1], s[0]} }, ErrInvalid},
		{"fail/zero-x", func(s []Share) []Share { s[1].X = 0; return s[:3] }, ErrInvalid},
		{"fail/mixed-lengths", func(s []Share) []Share { s[1].Y = s[1].Y[1:]; return s[:3] }, ErrInvalid},
		{"fail/mixed-thresholds", func(s []Share) []Share { s[1].Threshold = 4; return s }, ErrInvalid},
		{"fail/threshold-zero", func(s []Share) []Share {
			for i := range s {
				s[i].Threshold = 0
			}
			return s
		}, ErrInvalid},
		{"fail/threshold-too-large", func(s []Share) []Share {
			for i := range s {
				s[i].Threshold = 256
			}
			return s
		}, ErrInvalid},
		{"fail/too-short-for-digest", func(s []Share) []Share {
			for i := range s {
				s[i].Y = s[i].Y[:digestLen]
			}
			return s
		}, ErrInvalid},
		{"fail/mixed-splits", func(s []Share) []Share { return []Share{s[0], s[1], other[2]} }, ErrMismatch},
		{"fail/corrupted-y", func(s []Share) []Share { s[1].Y[3] ^= 0x10; return s[:3] }, ErrMismatch},
		{"fail/corrupted-extra-share", func(s []Share) []Share { s[4].Y[0] ^= 0x01; return s }, ErrMismatch},
		{"fail/corrupted-x", func(s []Share) []Share { s[0].X = 9; return s[:3] }, ErrMismatch},
		{"fail/threshold-lowered", func(s []Share) []Share {
			for i := range s {
				s[i].Threshold = 2
			}
			return s[:2]
		}, ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Combine(tt.shares(cloneShares(shares)))
			if d := cmp.Diff(tt.wantErr, err, cmpopts.EquateErrors()); d != "" {
				t.Fatalf("error: (-want +got)\n%s", d)
			}
			if err != nil {
				if got != nil {
					t.Errorf("got a secret with an error")
				}
				return
			}
			if d := cmp.Diff(secret, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestCombineErrorsHoldNoShareBytes(t *testing.T) {
	secret := []byte("SECRET-SECRET-SECRET-SECRET-0001")
	shares, err := SplitWithReader(secret, 3, 2, constReader(0))
	if err != nil {
		t.Fatal(err)
	}
	// With zero coefficients each Y starts with the secret itself, so an
	// error that printed share bytes would contain it.
	bad := cloneShares(shares)
	bad[1].Y[0] ^= 1
	for _, set := range [][]Share{bad, {shares[0]}, {shares[0], shares[0]}} {
		_, err := Combine(set)
		if err == nil {
			t.Fatal("Combine succeeded")
		}
		for _, leak := range []string{string(secret[:8]), hex.EncodeToString(secret[:4])} {
			if bytes.Contains([]byte(err.Error()), []byte(leak)) {
				t.Errorf("error %q contains share bytes", err)
			}
		}
	}
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// TestCombineSameShareTwice: a custodian who types the same share twice is told so, by
// the share's number, not in the field's terms.
func TestCombineSameShareTwice(t *testing.T) {
	shares, err := SplitWithReader([]byte("0123456789abcdef0123456789abcdef"), 5, 3, newSeededReader("twice"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Combine([]Share{shares[1], shares[2], shares[1]})
	if err == nil || !strings.Contains(err.Error(), "share number 2") || !strings.Contains(err.Error(), "twice") {
		t.Errorf("Combine with share 2 given twice: %v; want an error naming share number 2, given twice", err)
	}
}
