package card

import "testing"

// The card-parsing hot path of a tokenize: digits, Luhn, brand, BIN lookup, expiry, track.
var (
	benchPANs   = []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "3530111333300000", "6759649826438453"}
	benchTrack2 = ";4111111111111111=30121010000000000000?"
	benchSink   bool
)

// BenchmarkBrand measures brand detection on the product table built once (DefaultBrand).
func BenchmarkBrand(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, benchSink = DefaultBrand(benchPANs[i%len(benchPANs)])
	}
}

// BenchmarkBrandFreshTable is brand detection building the table on every call, as the
// vault did before DefaultBrand.
func BenchmarkBrandFreshTable(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, benchSink = DefaultTable().Match(benchPANs[i%len(benchPANs)])
	}
}

// BenchmarkParse is the whole check of a raw card: digits, length, Luhn, brand, BIN, expiry.
func BenchmarkParse(b *testing.B) {
	t, err := LoadBINs()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pan := benchPANs[i%len(benchPANs)]
		_, okBrand := DefaultBrand(pan)
		_, okBIN := t.Lookup(pan)
		e, err := ParseMMYY("1230")
		benchSink = Digits(pan) && Luhn(pan) && okBrand && okBIN && err == nil && e.Valid() && BIN(pan) != "" && Last4(pan) != ""
	}
}

func BenchmarkParseTrack(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTrack(benchTrack2); err != nil {
			b.Fatal(err)
		}
	}
}
