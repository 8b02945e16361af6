package card

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// MustLoadBINs returns the embedded BIN table, failing the test if it does not load.
func MustLoadBINs(tb testing.TB) *BINTable {
	tb.Helper()
	t, err := LoadBINs()
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// MustParseBINs returns the BIN table for csv, failing the test if it does not parse.
func MustParseBINs(tb testing.TB, csv string) *BINTable {
	tb.Helper()
	t, err := parseBINs(strings.NewReader(csv))
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestLoadBINs(t *testing.T) {
	table := MustLoadBINs(t)
	// The CSV has 5806 lines: the header and one range per line.
	if d := cmp.Diff(5805, table.Len()); d != "" {
		t.Errorf("ranges (-want +got)\n%s", d)
	}
}

func TestBINLookup(t *testing.T) {
	type result struct {
		Info BINInfo
		OK   bool
	}
	sjaelland := BINInfo{Scheme: "visa", Type: "debit", Country: "DK", Bank: "Sparekassen Sjælland"}
	sjaellandDankort := BINInfo{Scheme: "visa", Brand: "Visa/Dankort", Type: "debit", Country: "DK", Bank: "Sparekassen Sjælland"}
	nordea := BINInfo{Scheme: "visa", Type: "debit", Country: "DK", Bank: "Nordea"}
	nordeaDankort := BINInfo{Scheme: "visa", Brand: "Visa/Dankort", Type: "debit", Country: "DK", Bank: "Nordea"}
	amex := BINInfo{Scheme: "amex", Type: "credit", Country: "US", Bank: "AMERICAN EXPRESS"}
	tests := []struct {
		name string
		pan  string
		want result
	}{
		{"ok/six-digit-row", "3411420000000000", result{amex, true}},
		{"ok/paysafe-sample-bin", "4530910000012345", result{BINInfo{Scheme: "visa", Type: "credit", Country: "CA", Bank: "DESJARDINS"}, true}},
		{"ok/prepaid", "4537480000000000", result{BINInfo{Scheme: "visa", Type: "debit", Prepaid: true, Country: "CA", Bank: "SCOTIABANK"}, true}},
		{"ok/quoted-bank-name", "4003900000000000", result{BINInfo{Scheme: "visa", Type: "credit", Country: "US", Bank: "BANK OF AMERICA, N.A. (USA)"}, true}},
		{"ok/six-digit-range-start", "371241000000000", result{BINInfo{Scheme: "amex", Type: "credit", Country: "US", Bank: "AMERICAN EXPRESS"}, true}},
		{"ok/six-digit-range-end", "371242999999999", result{BINInfo{Scheme: "amex", Type: "credit", Country: "US", Bank: "AMERICAN EXPRESS"}, true}},
		{"ok/eight-digit-row-inside-six-digit-row", "4571051600000000", result{sjaellandDankort, true}},
		{"ok/six-digit-row-in-gap-between-eight-digit-rows", "4571052700000000", result{sjaelland, true}},
		{"ok/six-digit-row-before-eight-digit-row", "4571051500000000", result{sjaelland, true}},
		{"ok/eight-digit-range-inside-six-digit-row", "4571210100000000", result{nordeaDankort, true}},
		{"ok/six-digit-row-in-gap-after-eight-digit-range", "4571214600000000", result{nordea, true}},
		{"ok/bin-only", "457105", result{sjaelland, true}},
		{"ok/seven-digits-cover-no-eight-digit-row", "4571051", result{sjaelland, true}},
		{"ok/eight-digits", "45710516", result{sjaellandDankort, true}},
		{"fail/not-in-data", "4111111111111111", result{}},
		{"fail/just-after-six-digit-range", "371243000000000", result{}},
		{"fail/five-digits", "34114", result{}},
		{"fail/empty", "", result{}},
		{"fail/letter-in-prefix", "34114X0000000000", result{}},
		{"fail/space-in-prefix", "3411 420000000000", result{}},
	}
	table := MustLoadBINs(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, ok := table.Lookup(tt.pan)
			if d := cmp.Diff(tt.want, result{info, ok}); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// naiveLookup is the reference for Lookup: the narrowest of all ranges that contain every
// number pan may start, by a linear scan.
func naiveLookup(t *BINTable, pan string) (BINInfo, bool) {
	n := min(len(pan), binDigits)
	if n < 6 || !Digits(pan[:n]) {
		return BINInfo{}, false
	}
	lo, hi, _ := binBounds(pan[:n], "")
	best := -1
	for i, r := range t.ranges {
		if r.lo <= lo && hi <= r.hi && (best < 0 || r.hi-r.lo < t.ranges[best].hi-t.ranges[best].lo) {
			best = i
		}
	}
	if best < 0 {
		return BINInfo{}, false
	}
	return t.infos[t.ranges[best].info], true
}

func TestBINLookupAgreesWithScan(t *testing.T) {
	// Three levels of nesting, two children side by side, a gap, and a lone range.
	const csv = "iin_start,iin_end,scheme,brand,type,prepaid,country,bank_name\n" +
		"400000,400099,visa,,debit,,US,OUTER\n" +
		"400010,400019,visa,,debit,,US,MIDDLE\n" +
		"40001500,40001501,visa,,debit,,US,INNER\n" +
		"400012,,visa,,debit,,US,SIDE\n" +
		"400050,,visa,,credit,y,CA,SECOND\n" +
		"500000,,mastercard,,credit,,GB,LONE\n"
	small := MustParseBINs(t, csv)
	real := MustLoadBINs(t)
	for _, table := range []*BINTable{small, real} {
		var keys []string
		for _, r := range table.ranges {
			for _, k := range []uint32{r.lo - 1, r.lo, r.lo + 1, r.hi - 1, r.hi, r.hi + 1} {
				s := pad8(k)
				keys = append(keys, s, s[:6], s[:7], s+"12345678")
			}
		}
		for _, k := range keys {
			got, gotOK := table.Lookup(k)
			want, wantOK := naiveLookup(table, k)
			if gotOK != wantOK || got != want {
				t.Fatalf("Lookup(%s) = %+v, %v; scan gives %+v, %v", k, got, gotOK, want, wantOK)
			}
		}
	}
	info, _ := small.Lookup("4000150")
	if d := cmp.Diff("MIDDLE", info.Bank); d != "" {
		t.Errorf("seven-digit prefix over an eight-digit range (-want +got)\n%s", d)
	}
}

// pad8 formats k as eight digits.
func pad8(k uint32) string {
	b := []byte("00000000")
	for i := 7; i >= 0; i-- {
		b[i] = byte('0' + k%10)
		k /= 10
	}
	return string(b)
}

func TestParseBINs(t *testing.T) {
	const header = "iin_start,iin_end,scheme,brand,type,prepaid,country,bank_name\n"
	tests := []struct {
		name    string
		csv     string
		wantErr bool
	}{
		{"ok", header + "400000,,visa,,debit,,US,BANK\n", false},
		{"ok/extra-columns-any-order", "bank_name,country,x,prepaid,type,brand,scheme,iin_end,iin_start\nBANK,US,,,debit,,visa,,400000\n", false},
		{"ok/eight-digit-range", header + "40000000,40000099,visa,,debit,,US,BANK\n", false},
		{"fail/empty", "", true},
		{"fail/header-only", header, true},
		{"fail/missing-column", "iin_start,iin_end,scheme,brand,type,prepaid,country\n400000,,visa,,debit,,US\n", true},
		{"fail/five-digit-start", header + "40000,,visa,,debit,,US,BANK\n", true},
		{"fail/nine-digit-start", header + "400000000,,visa,,debit,,US,BANK\n", true},
		{"fail/letter-in-start", header + "40000A,,visa,,debit,,US,BANK\n", true},
		{"fail/end-length", header + "400000,4000009,visa,,debit,,US,BANK\n", true},
		{"fail/end-before-start", header + "400009,400000,visa,,debit,,US,BANK\n", true},
		{"fail/prepaid-value", header + "400000,,visa,,debit,maybe,US,BANK\n", true},
		{"fail/country", header + "400000,,visa,,debit,,USA,BANK\n", true},
		{"fail/same-range-twice", header + "400000,,visa,,debit,,US,A\n400000,,visa,,debit,,US,B\n", true},
		{"fail/same-range-in-other-widths", header + "400000,,visa,,debit,,US,A\n40000000,40000099,visa,,debit,,US,B\n", true},
		{"fail/partial-overlap", header + "400000,400005,visa,,debit,,US,A\n400003,400009,visa,,debit,,US,B\n", true},
		{"fail/ragged-row", header + "400000,,visa\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBINs(strings.NewReader(tt.csv))
			if d := cmp.Diff(tt.wantErr, err != nil); d != "" {
				t.Errorf("error %v (-want +got)\n%s", err, d)
			}
		})
	}
}

func BenchmarkBINLookup(b *testing.B) {
	table := MustLoadBINs(b)
	pans := []string{
		"4571051600000000", // nested eight-digit row
		"4530910000012345", // six-digit row
		"4111111111111111", // no match
		"5454545454545454",
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		table.Lookup(pans[i%len(pans)])
		i++
	}
}

func BenchmarkLoadBINs(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadBINs(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzBINLookup(f *testing.F) {
	for _, s := range []string{"4571051600000000", "457105", "4571051", "34114X", "", "371242999999999"} {
		f.Add(s)
	}
	table := MustLoadBINs(f)
	f.Fuzz(func(t *testing.T, pan string) {
		got, gotOK := table.Lookup(pan)
		want, wantOK := naiveLookup(table, pan)
		if gotOK != wantOK || got != want {
			t.Fatalf("Lookup(%q) = %+v, %v; scan gives %+v, %v", pan, got, gotOK, want, wantOK)
		}
	})
}
