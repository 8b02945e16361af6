package keys_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/payvault/payvault/internal/keys"
	"pgregory.net/rapid"
)

// drawAD draws a valid AD with arbitrary (also non-UTF-8) parts.
func drawAD(t *rapid.T, label string) keys.AD {
	part := rapid.StringN(1, 40, -1)
	return keys.AD{
		Merchant: part.Draw(t, label+".merchant"),
		Record:   part.Draw(t, label+".record"),
		Field:    part.Draw(t, label+".field"),
	}
}

func TestSealOpenProperty(t *testing.T) {
	k, _, _ := MustKeyring(t)
	rapid.Check(t, func(t *rapid.T) {
		pt := rapid.SliceOfN(rapid.Byte(), 0, 4096).Draw(t, "plaintext")
		ad := drawAD(t, "ad")
		ct, err := k.Seal(pt, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if id, ok := keys.KeyID(ct); !ok || id != k.PrimaryKeyID() {
			t.Fatalf("KeyID = %d, %v; want primary %d", id, ok, k.PrimaryKeyID())
		}
		got, err := k.Open(ct, ad)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(pt, got) {
			t.Fatalf("Open returned %x, want %x", got, pt)
		}
		if other := drawAD(t, "other"); other != ad {
			if _, err := k.Open(ct, other); !errors.Is(err, keys.ErrDecrypt) {
				t.Fatalf("Open with another AD: error = %v, want ErrDecrypt", err)
			}
		}
	})
}

func TestByteFlipProperty(t *testing.T) {
	k, _, _ := MustKeyring(t)
	rapid.Check(t, func(t *rapid.T) {
		pt := rapid.SliceOfN(rapid.Byte(), 0, 256).Draw(t, "plaintext")
		ad := drawAD(t, "ad")
		ct, err := k.Seal(pt, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		i := rapid.IntRange(0, len(ct)-1).Draw(t, "index")
		mask := rapid.ByteRange(1, 255).Draw(t, "mask")
		ct[i] ^= mask
		got, err := k.Open(ct, ad)
		if !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("Open after flipping byte %d with %#02x: got %x, error %v; want ErrDecrypt", i, mask, got, err)
		}
		if len(pt) >= 4 && bytes.Contains([]byte(err.Error()), pt) {
			t.Fatalf("error %q contains the plaintext", err)
		}
	})
}
