package keys_test

import (
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

var (
	benchPAN = []byte("4111111111111111")
	benchAD  = keys.AD{Merchant: "mer_01J9Z8Q2W3E4R5T6Y7U8I9O0P", Record: "01928c6e-7b3a-7c1d-9e2f-3a4b5c6d7e8f", Field: "card.pan"}
	// benchTokenAD is benchAD bound to a card's payment token too (v2), as instruments are sealed.
	benchTokenAD = keys.AD{Merchant: benchAD.Merchant, Record: benchAD.Record, Field: benchAD.Field, Token: "C8mZ3kq0Lw7xYtR"}
)

func BenchmarkSeal(b *testing.B)           { benchSeal(b, benchAD) }
func BenchmarkSealTokenBound(b *testing.B) { benchSeal(b, benchTokenAD) }

// benchSeal measures Seal with ad.
func benchSeal(b *testing.B, ad keys.AD) {
	k, _, _ := MustKeyring(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(benchPAN, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealParallel(b *testing.B) {
	k, _, _ := MustKeyring(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Seal(benchPAN, benchAD); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkOpen(b *testing.B)           { benchOpen(b, benchAD) }
func BenchmarkOpenTokenBound(b *testing.B) { benchOpen(b, benchTokenAD) }

// benchOpen measures Open with ad of a ciphertext sealed with it.
func benchOpen(b *testing.B, ad keys.AD) {
	k, _, _ := MustKeyring(b)
	ct := MustSeal(b, k, benchPAN, ad)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(ct, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	k, _, _ := MustKeyring(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Fingerprint(benchAD.Merchant, string(benchPAN))
	}
}

// BenchmarkFingerprints measures the duplicate lookup list after one MAC
// rotation (two enabled MAC keys).
func BenchmarkFingerprints(b *testing.B) {
	k, _, _ := MustKeyring(b)
	MustRotate(b, k, keys.KeysetMAC)
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Fingerprints(benchAD.Merchant, string(benchPAN))
	}
}

// BenchmarkSealOpenFingerprint is the key work for one card: seal a
// 16-digit PAN, open it again and fingerprint it.
func BenchmarkSealOpenFingerprint(b *testing.B) {
	k, _, _ := MustKeyring(b)
	b.ReportAllocs()
	for b.Loop() {
		ct, err := k.Seal(benchPAN, benchAD)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Open(ct, benchAD); err != nil {
			b.Fatal(err)
		}
		_ = k.Fingerprint(benchAD.Merchant, string(benchPAN))
	}
}

func BenchmarkServerMAC(b *testing.B) {
	k, _, _ := MustKeyring(b)
	body := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		_ = k.ServerMAC("idempotency", body)
	}
}
