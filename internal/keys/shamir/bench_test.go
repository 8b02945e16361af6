package shamir

import (
	"testing"
)

func BenchmarkSplit32(b *testing.B) {
	secret := make([]byte, 32)
	b.SetBytes(int64(len(secret)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(secret, 5, 3); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCombine32(b *testing.B) {
	secret := make([]byte, 32)
	shares := MustSplit(b, secret, 5, 3)[1:4]
	b.SetBytes(int64(len(secret)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Combine(shares); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseShare(b *testing.B) {
	line := katText[4]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseShare(line); err != nil {
			b.Fatal(err)
		}
	}
}
