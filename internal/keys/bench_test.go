package keys_test

import (
	"testing"

	"github.com/payvault/payvault/internal/keys"
)

var (
	benchPAN = []byte("4111111111111111")
	benchAD  = keys.AD{Merchant: "mer_01J9Z8Q2W3E4R5T6Y7U8I9O0P", Record: "01928c6e-7b3a-7c1d-9e2f-3a4b5c6d7e8f", Field: "card.pan"}
)

func BenchmarkSeal(b *testing.B) {
	k, _, _ := MustKeyring(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(benchPAN, benchAD); err != nil {
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

func BenchmarkOpen(b *testing.B) {
	k, _, _ := MustKeyring(b)
	ct := MustSeal(b, k, benchPAN, benchAD)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(ct, benchAD); err != nil {
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
