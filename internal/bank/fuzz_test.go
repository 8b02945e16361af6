package bank

import (
	"math/big"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/country"
)

// referenceMod97 computes the IBAN check the slow way, with a big integer.
func referenceMod97(s string) int64 {
	var digits strings.Builder
	for _, c := range s[4:] + s[:4] {
		if c >= 'A' && c <= 'Z' {
			digits.WriteString(big.NewInt(int64(c - 'A' + 10)).String())
		} else {
			digits.WriteRune(c)
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	if !ok {
		return -1
	}
	return new(big.Int).Mod(n, big.NewInt(97)).Int64()
}

func FuzzIBAN(f *testing.F) {
	// ibanPattern is the shape that ValidIBAN accepts before the length and checksum tests.
	ibanPattern := regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]+$`)
	for _, s := range registryExamples() {
		f.Add(s)
	}
	for _, s := range []string{"", "DE", "de89 3704 0044 0532 0130 00", "DE01370400440000000042", "ÄÖÜ1234567ÄÖÜß", "DE89\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		masked := MaskIBAN(s)
		if utf8.RuneCountInString(masked) != utf8.RuneCountInString(s) {
			t.Fatalf("MaskIBAN changed the length: %d runes in, %d out", utf8.RuneCountInString(s), utf8.RuneCountInString(masked))
		}
		if n := utf8.RuneCountInString(s); n > 8 && strings.Count(masked, "*") < n-8 {
			t.Fatalf("MaskIBAN kept more than eight characters")
		}
		norm := NormalizeIBAN(s)
		if strings.Contains(norm, " ") {
			t.Fatalf("NormalizeIBAN left a space")
		}
		if NormalizeIBAN(norm) != norm {
			t.Fatalf("NormalizeIBAN is not idempotent")
		}
		want := ibanPattern.MatchString(s) &&
			len(s) == ibanLength(s[:2]) &&
			s[2:4] >= "02" && s[2:4] <= "98" &&
			referenceMod97(s) == 1
		if got := ValidIBAN(s); got != want {
			t.Fatalf("ValidIBAN(%q) = %v, reference says %v", s, got, want)
		}
	})
}

func FuzzABA(f *testing.F) {
	for _, s := range []string{"072000326", "211589828", "123456789", "100020200", "", "0720003260", "07200032A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		format := len(s) == 9 && strings.Trim(s, "0123456789") == ""
		if got := RoutingFormat(s); got != format {
			t.Fatalf("RoutingFormat(%q) = %v, want %v", s, got, format)
		}
		want := false
		if format {
			d := func(i int) int { return int(s[i-1] - '0') }
			want = (3*(d(1)+d(4)+d(7))+7*(d(2)+d(5)+d(8))+(d(3)+d(6)+d(9)))%10 == 0
		}
		if got := ABAChecksum(s); got != want {
			t.Fatalf("ABAChecksum(%q) = %v, want %v", s, got, want)
		}
	})
}

func FuzzBIC(f *testing.F) {
	// bicPattern is the shape that ValidBIC accepts after upper-casing.
	bicPattern := regexp.MustCompile(`^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$`)
	for _, s := range []string{"ABNANL2A", "deutdeff500", "RBKOXKPR", "ABNAZZ2A", "", "ABNANL2ſ", "ABNANL2AXX"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		up := strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' {
				return r - 'a' + 'A'
			}
			return r
		}, s)
		want := bicPattern.MatchString(up) && (up[4:6] == "XK" || country.Valid(up[4:6]))
		if got := ValidBIC(s); got != want {
			t.Fatalf("ValidBIC(%q) = %v, reference says %v", s, got, want)
		}
	})
}

func FuzzSortCode(f *testing.F) {
	for _, s := range []string{"207405", "20-74-05", "20 74 05", "", "2074051", "20.74.05", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := SortCode(s)
		stripped := strings.NewReplacer("-", "", " ", "").Replace(s)
		want := len(stripped) == 6 && strings.Trim(stripped, "0123456789") == ""
		if ok != want {
			t.Fatalf("SortCode(%q) ok = %v, want %v", s, ok, want)
		}
		if ok && code != stripped {
			t.Fatalf("SortCode(%q) = %q, want %q", s, code, stripped)
		}
		if !ok && code != "" {
			t.Fatalf("SortCode(%q) returned %q with false", s, code)
		}
	})
}

func FuzzAccountNumber(f *testing.F) {
	for _, s := range []string{"796134762", "1234", "123", "12345678901234567", "123456789012345678", "12 34", "٣٣٣٣", "", "25039", "001"} {
		f.Add(s, 4, 17)
	}
	digitsOnly := regexp.MustCompile(`^[0-9]+$`)
	f.Fuzz(func(t *testing.T, s string, minLen, maxLen int) {
		want := digitsOnly.MatchString(s) && len(s) >= minLen && len(s) <= maxLen
		if got := AccountNumber(s, minLen, maxLen); got != want {
			t.Fatalf("AccountNumber(%q, %d, %d) = %v, want %v", s, minLen, maxLen, got, want)
		}
		if got, want := Transit(s), digitsOnly.MatchString(s) && len(s) == 5; got != want {
			t.Fatalf("Transit(%q) = %v, want %v", s, got, want)
		}
		if got, want := Institution(s), digitsOnly.MatchString(s) && len(s) == 3; got != want {
			t.Fatalf("Institution(%q) = %v, want %v", s, got, want)
		}
	})
}
