package keys_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

// FuzzParseMasterKey checks that any text either parses as a 32-byte key that prints back as
// itself, or is refused with an error that does not echo it.
func FuzzParseMasterKey(f *testing.F) {
	for _, s := range []string{testKeyB64, " " + testKeyB64 + "\n", "", "AAEC", strings.Repeat("ab", 32), testKeyB64[:43], testKeyB64 + "=", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mk, err := keys.ParseMasterKey(s)
		if err != nil {
			if mk != (keys.MasterKey{}) {
				t.Fatal("a refused key returned key bytes")
			}
			if in := strings.TrimSpace(s); len(in) >= 4 && strings.Contains(err.Error(), in) {
				t.Fatalf("the error echoes the input: %v", err)
			}
			return
		}
		if got := mk.Base64(); got != strings.TrimSpace(s) {
			t.Fatalf("ParseMasterKey(%q) prints back as %q", s, got)
		}
	})
}

// FuzzOpen checks the decoder of sealed columns: any bytes either open to the plaintext that
// was sealed under that exact AD, or fail with ErrDecrypt; never a panic, and never plaintext
// for an altered ciphertext.
func FuzzOpen(f *testing.F) {
	k, _, _ := MustKeyring(f)
	ad := keys.AD{Merchant: "m1", Record: "r1", Field: "number"}
	secret := []byte("4111111111111111")
	sealed := MustSeal(f, k, secret, ad)
	f.Add(sealed, "r1")
	f.Add(sealed, "r2")
	f.Add(sealed[:5], "r1")
	f.Add([]byte{}, "r1")
	f.Add(append([]byte{0x01, 0, 0, 0, 0}, sealed[5:]...), "r1")
	f.Fuzz(func(t *testing.T, ct []byte, record string) {
		pt, err := k.Open(ct, keys.AD{Merchant: "m1", Record: record, Field: "number"})
		if err != nil {
			if !errors.Is(err, keys.ErrDecrypt) && !errors.Is(err, keys.ErrInvalidAD) {
				t.Fatalf("Open failed with %v", err)
			}
			if strings.Contains(err.Error(), string(secret)) {
				t.Fatal("the error holds the plaintext")
			}
			return
		}
		if !bytes.Equal(ct, sealed) || record != "r1" || !bytes.Equal(pt, secret) {
			t.Fatalf("Open accepted an altered ciphertext or AD (record %q)", record)
		}
	})
}
