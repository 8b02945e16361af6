package card

import (
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

func TestContainsPAN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok/bare", "4111111111111111", true},
		{"ok/spaces", "4111 1111 1111 1111", true},
		{"ok/dashes", "4111-1111-1111-1111", true},
		{"ok/mixed-separators", "4111 1111-1111 1111", true},
		{"ok/amex-grouping", "3782 822463 10005", true},
		{"ok/in-a-name", "John 4111111111111111 Smith", true},
		{"ok/glued-to-letters", "Jo4111111111111111hn", true},
		{"ok/thirteen", "4222222222222", true},
		{"ok/nineteen", "4000000000000000006", true},
		{"ok/followed-by-expiry", "4111 1111 1111 1111 12 30", true},
		{"ok/digit-before", "94111111111111111", true},
		{"ok/full-width", "４１１１１１１１１１１１１１１１", true},
		{"ok/arabic-indic", "٤١١١١١١١١١١١١١١١", true},
		{"ok/zeros", "0000000000000", true},
		{"fail/empty", "", false},
		{"fail/name", "Jean-Luc O'Brien-Smith", false},
		{"fail/twelve-digits", "411111111116", false},
		{"fail/luhn", "4222222222223", false},
		{"fail/ones", strings.Repeat("1", 40), false},
		{"fail/double-space", "4111  1111 1111 1111", false},
		{"fail/space-dash", "4111 -1111 1111 1111", false},
		{"fail/dots", "4111.1111.1111.1111", false},
		{"fail/slashes", "4111/1111/1111/1111", false},
		{"fail/phone", "+1 (555) 123-4567", false},
		{"fail/short-groups", "12 34 56 78 90 12 a 34", false},
		{"fail/invalid-utf8", "\xff\xfe4111111111\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, ContainsPAN(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if d := cmp.Diff(tt.want, refContainsPAN(tt.in)); d != "" {
				t.Errorf("reference: (-want +got)\n%s", d)
			}
		})
	}
}

// drawPAN draws a Luhn-valid number of 13 to 19 digits.
func drawPAN(t *rapid.T) string {
	n := rapid.IntRange(13, 19).Draw(t, "length")
	payload := rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), n-1, n-1, -1).Draw(t, "payload")
	d, ok := CheckDigit(payload)
	if !ok {
		t.Fatalf("CheckDigit(%q) not ok", payload)
	}
	return payload + string(d)
}

// format joins pan's digits with a separator drawn for each gap: none, a space or a dash.
func format(t *rapid.T, pan string) string {
	var b strings.Builder
	for i := range len(pan) {
		if i > 0 {
			b.WriteString(rapid.SampledFrom([]string{"", "", " ", "-"}).Draw(t, "sep"))
		}
		b.WriteByte(pan[i])
	}
	return b.String()
}

// TestContainsPANFindsEmbedded: a Luhn-valid 13–19 digit number, bare or grouped by single
// spaces or dashes, is found whatever text surrounds it (other digits included).
func TestContainsPANFindsEmbedded(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pan := drawPAN(t)
		s := rapid.String().Draw(t, "before") + format(t, pan) + rapid.String().Draw(t, "after")
		if !ContainsPAN(s) {
			t.Fatalf("ContainsPAN missed a %d-digit number in a %d-byte string", len(pan), len(s))
		}
	})
}

// TestContainsPANNoRun: text whose digit runs (joined across single spaces and dashes) are
// all shorter than 13 digits is never flagged.
func TestContainsPANNoRun(t *testing.T) {
	// A breaker is anything that ends a run: not a digit, not a single separator.
	breaker := rapid.SampledFrom([]string{"a", ".", "/", "  ", "--", " -", "é", "(", "\n", "_"})
	rapid.Check(t, func(t *rapid.T) {
		var b strings.Builder
		for range rapid.IntRange(0, 20).Draw(t, "groups") {
			b.WriteString(breaker.Draw(t, "breaker"))
			b.WriteString(rapid.StringOf(rapid.RuneFrom([]rune("abc XY-'"))).Draw(t, "text"))
			b.WriteString(breaker.Draw(t, "breaker"))
			run := rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), 0, 12, -1).Draw(t, "run")
			b.WriteString(format(t, run))
		}
		if s := b.String(); ContainsPAN(s) {
			t.Fatalf("ContainsPAN flagged text with no run of 13 digits: %q", s)
		}
	})
}

// TestContainsPANMatchesReference compares ContainsPAN with a plain quadratic reference on
// text rich in digits, separators and other scripts' digits, and on arbitrary bytes: the two
// agree, and neither panics.
func TestContainsPANMatchesReference(t *testing.T) {
	alphabet := []rune("0123456789012345678901234567890123456789 - a.４٤𝟗")
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringOfN(rapid.RuneFrom(alphabet), 0, 200, -1).Draw(t, "text")
		if rapid.Bool().Draw(t, "bytes") {
			s = string(rapid.SliceOfN(rapid.Byte(), 0, 200).Draw(t, "bytes"))
		}
		if got, want := ContainsPAN(s), refContainsPAN(s); got != want {
			t.Fatalf("ContainsPAN(%q) = %v, reference %v", s, got, want)
		}
	})
}

// TestContainsPANAllocs: the scan allocates nothing, whatever the length.
func TestContainsPANAllocs(t *testing.T) {
	s := strings.Repeat("1 1-", 4096)
	if n := testing.AllocsPerRun(10, func() { ContainsPAN(s) }); n != 0 {
		t.Errorf("ContainsPAN allocates %v times per call", n)
	}
}

func FuzzContainsPAN(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "Jo4111111111111111", "４１１１１１１１１１１１１１１１", "1-2 3--4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ContainsPAN(s), refContainsPAN(s); got != want {
			t.Errorf("ContainsPAN(%q) = %v, reference %v", s, got, want)
		}
	})
}

// BenchmarkContainsPAN scans texts of growing length that hold no card number but are all
// digits, the scan's worst case (a run of ones never passes Luhn at 13 to 19 digits): the
// time per byte stays flat, since the scan is linear.
func BenchmarkContainsPAN(b *testing.B) {
	for _, n := range []int{64, 4096, 262144} {
		s := strings.Repeat("1", n)
		b.Run(itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				benchSink = ContainsPAN(s)
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// refContainsPAN is the rule spelled out plainly: split s into runs of decimal digits (any
// script), joined across a single space or dash between two digits, and try Luhn on every
// window of 13 to 19 digits of every run.
func refContainsPAN(s string) bool {
	rs := []rune(s)
	var runs []string
	var cur []byte
	for i := 0; i < len(rs); i++ {
		if d, ok := refDigit(rs[i]); ok {
			cur = append(cur, d)
			continue
		}
		if (rs[i] == ' ' || rs[i] == '-') && len(cur) > 0 && i+1 < len(rs) {
			if _, ok := refDigit(rs[i+1]); ok {
				continue
			}
		}
		runs, cur = append(runs, string(cur)), nil
	}
	runs = append(runs, string(cur))
	for _, run := range runs {
		for i := range len(run) {
			for n := 13; n <= 19 && i+n <= len(run); n++ {
				if Luhn(run[i : i+n]) {
					return true
				}
			}
		}
	}
	return false
}

// refDigit is the ASCII digit of a Unicode decimal digit, found from the Nd table's ranges,
// each of which starts at a zero.
func refDigit(r rune) (byte, bool) {
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte('0' + (r-rune(rg.Lo))%10), true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte('0' + (r-rune(rg.Lo))%10), true
		}
	}
	return 0, false
}
