package card

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLuhn(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok/visa", "4111111111111111", true},
		{"ok/visa-13", "4222222222222", true},
		{"ok/amex", "378282246310005", true},
		{"ok/discover", "6011111111111117", true},
		{"ok/mastercard-2-series", "2223003122003222", true},
		{"ok/paysafe-sample", "4530910000012345", true},
		{"ok/zero", "0", true},
		{"ok/zeros", "0000000000000000", true},
		{"ok/nineteen-digits", "4000000000000000006", true},
		{"fail/last-digit", "4111111111111112", false},
		{"fail/transposed", "4111111111111161", false},
		{"fail/one", "1", false},
		{"fail/empty", "", false},
		{"fail/spaces", "4111 1111 1111 1111", false},
		{"fail/dashes", "4111-1111-1111-1111", false},
		{"fail/letter", "411111111111111a", false},
		{"fail/arabic-indic-digit", "411111111111111١", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Luhn(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestDigits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok", "0123456789", true},
		{"ok/one", "7", true},
		{"fail/empty", "", false},
		{"fail/space", "12 34", false},
		{"fail/sign", "-12", false},
		{"fail/fullwidth", "１２", false},
		{"fail/nul", "12\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Digits(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestBINLast4(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		bin, last string
	}{
		{"ok", "4530910000012345", "453091", "2345"},
		{"ok/amex", "378282246310005", "378282", "0005"},
		{"ok/six", "453091", "453091", "3091"},
		{"ok/short", "453", "453", "453"},
		{"ok/empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := [2]string{BIN(tt.in), Last4(tt.in)}
			if d := cmp.Diff([2]string{tt.bin, tt.last}, got); d != "" {
				t.Errorf("[BIN Last4] (-want +got)\n%s", d)
			}
		})
	}
}

// pad returns prefix followed by zeros up to n digits. The result is a number of the right
// shape for brand tests; brand detection does not check Luhn.
func pad(prefix string, n int) string {
	for len(prefix) < n {
		prefix += "0"
	}
	return prefix
}

func TestDefaultTableMatch(t *testing.T) {
	type result struct {
		Name   string
		Brand  Brand
		CVVLen int
		OK     bool
	}
	tests := []struct {
		name string
		pan  string
		want result
	}{
		{"ok/visa-16", "4111111111111111", result{"visa", Visa, 3, true}},
		{"ok/visa-13", pad("4", 13), result{"visa", Visa, 3, true}},
		{"ok/visa-19", pad("4", 19), result{"visa", Visa, 3, true}},
		{"ok/mastercard-51", pad("51", 16), result{"mastercard", Mastercard, 3, true}},
		{"ok/mastercard-55", "5555555555554444", result{"mastercard", Mastercard, 3, true}},
		{"ok/mastercard-2221", pad("2221", 16), result{"mastercard", Mastercard, 3, true}},
		{"ok/mastercard-2720", pad("2720", 16), result{"mastercard", Mastercard, 3, true}},
		{"ok/amex-34", pad("34", 15), result{"amex", Amex, 4, true}},
		{"ok/amex-37", "378282246310005", result{"amex", Amex, 4, true}},
		{"ok/discover-6011", "6011111111111117", result{"discover", Discover, 3, true}},
		{"ok/discover-622126", pad("622126", 16), result{"discover", Discover, 3, true}},
		{"ok/discover-622925", pad("622925", 19), result{"discover", Discover, 3, true}},
		{"ok/discover-644", pad("644", 16), result{"discover", Discover, 3, true}},
		{"ok/discover-649", pad("649", 16), result{"discover", Discover, 3, true}},
		{"ok/discover-65", pad("65", 16), result{"discover", Discover, 3, true}},
		{"ok/diners-300", pad("300", 14), result{"diners", Diners, 3, true}},
		{"ok/diners-305", pad("305", 14), result{"diners", Diners, 3, true}},
		{"ok/diners-3095", pad("3095", 16), result{"diners", Diners, 3, true}},
		{"ok/diners-36", pad("36", 14), result{"diners", Diners, 3, true}},
		{"ok/diners-38", pad("38", 16), result{"diners", Diners, 3, true}},
		{"ok/diners-39", pad("39", 19), result{"diners", Diners, 3, true}},
		{"ok/jcb-3528", pad("3528", 16), result{"jcb", JCB, 3, true}},
		{"ok/jcb-3589", pad("3589", 19), result{"jcb", JCB, 3, true}},
		{"ok/unionpay-62", pad("62", 16), result{"unionpay", UnionPay, 3, true}},
		{"ok/unionpay-622125-before-discover-range", pad("622125", 16), result{"unionpay", UnionPay, 3, true}},
		{"ok/unionpay-622926-after-discover-range", pad("622926", 16), result{"unionpay", UnionPay, 3, true}},
		{"ok/unionpay-81", pad("81", 19), result{"unionpay", UnionPay, 3, true}},
		{"ok/maestro-5018", pad("5018", 12), result{"maestro", Maestro, 3, true}},
		{"ok/maestro-5893", pad("5893", 19), result{"maestro", Maestro, 3, true}},
		{"ok/maestro-6304", pad("6304", 16), result{"maestro", Maestro, 3, true}},
		{"ok/maestro-6759", pad("6759", 16), result{"maestro", Maestro, 3, true}},
		{"ok/maestro-6763", pad("6763", 16), result{"maestro", Maestro, 3, true}},
		{"fail/visa-14", pad("4", 14), result{}},
		{"fail/visa-20", pad("4", 20), result{}},
		{"fail/amex-16", pad("37", 16), result{}},
		{"fail/mastercard-15", pad("51", 15), result{}},
		{"fail/mastercard-2220", pad("2220", 16), result{}},
		{"fail/mastercard-2721", pad("2721", 16), result{}},
		{"fail/mastercard-50", pad("50", 16), result{}},
		{"fail/mastercard-56", pad("56", 16), result{}},
		{"fail/diners-306", pad("306", 14), result{}},
		{"fail/diners-3096", pad("3096", 16), result{}},
		{"fail/diners-13", pad("36", 13), result{}},
		{"fail/jcb-3527", pad("3527", 16), result{}},
		{"fail/jcb-3590", pad("3590", 16), result{}},
		{"fail/discover-643", pad("643", 16), result{}},
		{"fail/discover-15", pad("6011", 15), result{}},
		{"fail/maestro-6760", pad("6760", 16), result{}},
		{"fail/maestro-11", pad("5018", 11), result{}},
		{"fail/unknown-1", pad("1", 16), result{}},
		{"fail/unknown-7", pad("7", 16), result{}},
		{"fail/unknown-9", pad("9", 16), result{}},
		{"fail/empty", "", result{}},
		{"fail/spaces", "4111 1111 1111 1111", result{}},
		{"fail/trailing-letter", "411111111111111X", result{}},
	}
	table := DefaultTable()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := table.Match(tt.pan)
			got := result{r.Name, r.Brand, r.CVVLen, ok}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestMatchPrefix(t *testing.T) {
	type result struct {
		Name string
		OK   bool
	}
	tests := []struct {
		name string
		pan  string
		want result
	}{
		{"ok/one-digit", "4", result{"visa", true}},
		{"ok/any-length", pad("4", 25), result{"visa", true}},
		{"ok/amex-short", "37", result{"amex", true}},
		{"ok/mastercard-four-digits", "2221", result{"mastercard", true}},
		{"ok/discover-six-digits", "622126", result{"discover", true}},
		{"ok/unionpay-until-discover-range-is-decidable", "62212", result{"unionpay", true}},
		{"ok/only-leading-digits", "4abc", result{"visa", true}},
		{"fail/mastercard-too-short-to-tell", "222", result{}},
		{"fail/empty", "", result{}},
		{"fail/leading-space", " 4111", result{}},
		{"fail/unknown", "1234", result{}},
	}
	table := DefaultTable()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := table.MatchPrefix(tt.pan)
			if d := cmp.Diff(tt.want, result{r.Name, ok}); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// paysafeTable is the Paysafe brand table of the Paysafe reference §3, written as data the
// way the Paysafe API package defines it: sub-brands are rules keyed by Name.
func paysafeTable() Table {
	return Table{
		{Name: "AM", Brand: Amex, CVVLen: 4, Prefixes: []Range{Prefix(34), Prefix(37)}, Lengths: []int{15}},
		{Name: "DC", Brand: Diners, CVVLen: 3, Prefixes: []Range{Span(300, 305), Prefix(3095), Prefix(36), Prefix(38), Prefix(39)}, Lengths: Lengths(14, 19)},
		{Name: "JC", Brand: JCB, CVVLen: 3, Prefixes: []Range{Span(3528, 3589)}, Lengths: Lengths(16, 19)},
		{Name: "DI", Brand: Discover, CVVLen: 3, Prefixes: []Range{Prefix(6011), Span(622126, 622925), Span(644, 649), Prefix(65)}, Lengths: Lengths(16, 19)},
		{Name: "SO", Brand: Maestro, CVVLen: 3, Prefixes: []Range{Prefix(6334), Prefix(6767)}, Lengths: []int{16, 18, 19}},
		{Name: "MD", Brand: Maestro, CVVLen: 3, Prefixes: []Range{Prefix(5018), Prefix(5020), Prefix(5038), Prefix(5893), Prefix(6304), Prefix(6759), Span(6761, 6763)}, Lengths: Lengths(12, 19)},
		{Name: "MC", Brand: Mastercard, CVVLen: 3, Prefixes: []Range{Span(51, 55), Span(2221, 2720)}, Lengths: []int{16}},
		{Name: "VE", Brand: Visa, CVVLen: 3, Prefixes: []Range{Prefix(4026), Prefix(417500), Prefix(4405), Prefix(4508), Prefix(4844), Prefix(4913), Prefix(4917)}, Lengths: []int{16}},
		{Name: "VD", Brand: Visa, CVVLen: 3, Prefixes: []Range{
			Span(413733, 413737), Span(446200, 446299), Span(453978, 453979), Prefix(454313), Span(454432, 454435),
			Prefix(454742), Span(456725, 456745), Span(465830, 465879), Span(465901, 465950), Span(484409, 484410),
			Span(490960, 490979), Span(492181, 492182), Prefix(498824),
		}, Lengths: []int{13, 16, 19}},
		{Name: "VI", Brand: Visa, CVVLen: 3, Prefixes: []Range{Prefix(4)}, Lengths: []int{13, 16, 19}},
	}
}

func TestVendorTable(t *testing.T) {
	type result struct {
		Name  string
		Brand Brand
		OK    bool
	}
	tests := []struct {
		name string
		pan  string
		want result
	}{
		{"ok/visa", "4111111111111111", result{"VI", Visa, true}},
		{"ok/visa-paysafe-sample", "4530910000012345", result{"VI", Visa, true}},
		{"ok/visa-electron", pad("4917", 16), result{"VE", Visa, true}},
		{"ok/visa-electron-six-digit-prefix", pad("417500", 16), result{"VE", Visa, true}},
		{"ok/visa-debit", pad("453978", 16), result{"VD", Visa, true}},
		{"ok/visa-debit-13", pad("446250", 13), result{"VD", Visa, true}},
		{"ok/solo", pad("6767", 18), result{"SO", Maestro, true}},
		{"ok/maestro", pad("6759", 12), result{"MD", Maestro, true}},
		{"ok/visa-next-to-electron", pad("417501", 16), result{"VI", Visa, true}},
		{"fail/visa-electron-19-no-fallback-to-visa", pad("4917", 19), result{}},
		{"fail/solo-17", pad("6334", 17), result{}},
	}
	table := paysafeTable()
	if err := table.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := table.Match(tt.pan)
			if d := cmp.Diff(tt.want, result{r.Name, r.Brand, ok}); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestTableValidate(t *testing.T) {
	rule := func(edit func(*Rule)) Table {
		r := Rule{Name: "x", Brand: Visa, Prefixes: []Range{Prefix(4)}, Lengths: []int{16}, CVVLen: 3}
		edit(&r)
		return Table{r}
	}
	tests := []struct {
		name    string
		table   Table
		wantErr bool
	}{
		{"ok/default", DefaultTable(), false},
		{"ok/paysafe", paysafeTable(), false},
		{"ok/eight-digit-prefix", rule(func(r *Rule) { r.Prefixes = []Range{Prefix(45710516)} }), false},
		{"fail/empty", Table{}, true},
		{"fail/no-name", rule(func(r *Rule) { r.Name = "" }), true},
		{"fail/no-prefixes", rule(func(r *Rule) { r.Prefixes = nil }), true},
		{"fail/hi-has-more-digits", rule(func(r *Rule) { r.Prefixes = []Range{Span(51, 559)} }), true},
		{"fail/lo-after-hi", rule(func(r *Rule) { r.Prefixes = []Range{Span(55, 51)} }), true},
		{"fail/zero-digits", rule(func(r *Rule) { r.Prefixes = []Range{{Lo: 0, Hi: 0, Digits: 0}} }), true},
		{"fail/ten-digits", rule(func(r *Rule) { r.Prefixes = []Range{Prefix(4000000000)} }), true},
		{"fail/negative", rule(func(r *Rule) { r.Prefixes = []Range{{Lo: -1, Hi: 4, Digits: 1}} }), true},
		{"fail/no-lengths", rule(func(r *Rule) { r.Lengths = nil }), true},
		{"fail/length-20", rule(func(r *Rule) { r.Lengths = []int{20} }), true},
		{"fail/cvv-5", rule(func(r *Rule) { r.CVVLen = 5 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.table.Validate()
			if d := cmp.Diff(tt.wantErr, err != nil); d != "" {
				t.Errorf("error %v (-want +got)\n%s", err, d)
			}
		})
	}
}

func TestDefaultTableIsFresh(t *testing.T) {
	a := DefaultTable()
	a[0].Lengths[0] = 99
	a[0].Name = "changed"
	if d := cmp.Diff(Rule{Name: "visa", Brand: Visa, Prefixes: []Range{Prefix(4)}, Lengths: []int{13, 16, 19}, CVVLen: 3}, DefaultTable()[0]); d != "" {
		t.Errorf("DefaultTable shares state between calls (-want +got)\n%s", d)
	}
}

func TestDefaultBrand(t *testing.T) {
	for _, pan := range []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "36227206271667", "3530111333300000", "6212345678901265", "6759649826438453", "4111", "0000000000000000", "411111111111111x"} {
		r, wantOK := DefaultTable().Match(pan)
		got, ok := DefaultBrand(pan)
		if ok != wantOK || got != r.Brand {
			t.Errorf("DefaultBrand(%s) = %q, %v; want %q, %v", pan[:4], got, ok, r.Brand, wantOK)
		}
	}
	a := DefaultTable()
	a[0].Brand = Amex
	if b, _ := DefaultBrand("4111111111111111"); b != Visa {
		t.Errorf("a change to DefaultTable's value reached DefaultBrand: %q", b)
	}
}

func TestRangeMatches(t *testing.T) {
	tests := []struct {
		name string
		r    Range
		pan  string
		want bool
	}{
		{"ok/lo", Span(2221, 2720), "2221000000000000", true},
		{"ok/hi", Span(2221, 2720), "2720999999999999", true},
		{"ok/exact-length", Prefix(34), "34", true},
		{"fail/below", Span(2221, 2720), "2220999999999999", false},
		{"fail/above", Span(2221, 2720), "2721000000000000", false},
		{"fail/too-short", Prefix(622126), "62212", false},
		{"fail/letter-in-prefix", Prefix(34), "3A", false},
		{"fail/zero-digits", Range{}, "0000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.r.Matches(tt.pan)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestLengths(t *testing.T) {
	if d := cmp.Diff([]int{16, 17, 18, 19}, Lengths(16, 19)); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if got := Lengths(19, 16); got != nil {
		t.Errorf("Lengths(19, 16) = %v, want nil", got)
	}
}

func TestCheckDigit(t *testing.T) {
	for _, payload := range []string{"", "0", "7992739871", "411111111111111", "400000000000000", "37828224631000"} {
		d, ok := CheckDigit(payload)
		if !ok || !Luhn(payload+string(d)) {
			t.Errorf("CheckDigit(%q) = %c, %v", payload, d, ok)
		}
		for other := byte('0'); other <= '9'; other++ {
			if other != d && Luhn(payload+string(other)) {
				t.Errorf("%q + %c passes Luhn too", payload, other)
			}
		}
	}
	if d, _ := CheckDigit("7992739871"); d != '3' {
		t.Errorf("CheckDigit(7992739871) = %c, want 3 (ISO/IEC 7812-1's example)", d)
	}
	if _, ok := CheckDigit("12a4"); ok {
		t.Error("CheckDigit accepted a non-digit")
	}
}

func BenchmarkLuhn(b *testing.B) {
	for b.Loop() {
		Luhn("4111111111111111")
	}
}

func BenchmarkMatch(b *testing.B) {
	table := DefaultTable()
	// A Maestro number is found late in the table.
	pan := pad("6763", 16)
	for b.Loop() {
		table.Match(pan)
	}
}

// referenceLuhn computes the Luhn check from the left, the other way round from Luhn.
func referenceLuhn(s string) bool {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[i] - '0')
		if (len(s)-i)%2 == 0 {
			d = d * 2 % 9
			if s[i] == '9' {
				d = 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func FuzzLuhn(f *testing.F) {
	for _, s := range []string{"4111111111111111", "378282246310005", "0", "", "12a", "4111111111111112"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Luhn(s)
		if got != referenceLuhn(s) {
			t.Fatalf("Luhn(%q) = %v, reference says %v", s, got, !got)
		}
		if got && !Digits(s) {
			t.Fatalf("Luhn(%q) accepted a non-digit string", s)
		}
		if !Digits(s) || len(s) > 100 {
			return
		}
		// Exactly one check digit completes any digit string.
		n := 0
		for c := byte('0'); c <= '9'; c++ {
			if Luhn(s + string(c)) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d check digits complete %q", n, s)
		}
	})
}

// referenceMatchPrefix is the reference for Table.MatchPrefix: it compares prefixes as
// decimal strings converted with strconv.
func referenceMatchPrefix(t Table, pan string) (Rule, bool) {
	for _, r := range t {
		for _, p := range r.Prefixes {
			if p.Digits < 1 || len(pan) < p.Digits || !Digits(pan[:p.Digits]) {
				continue
			}
			v, err := strconv.Atoi(pan[:p.Digits])
			if err == nil && p.Lo <= v && v <= p.Hi {
				return r, true
			}
		}
	}
	return Rule{}, false
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"4111111111111111", "6221260000000000", "6221250000000000", "2720", "", "5018x", "36000000000000"} {
		f.Add(s)
	}
	tables := []Table{DefaultTable(), paysafeTable()}
	f.Fuzz(func(t *testing.T, pan string) {
		for _, table := range tables {
			pr, pok := table.MatchPrefix(pan)
			rr, rok := referenceMatchPrefix(table, pan)
			if pok != rok || pr.Name != rr.Name {
				t.Fatalf("MatchPrefix(%q) = %q, %v; reference gives %q, %v", pan, pr.Name, pok, rr.Name, rok)
			}
			mr, mok := table.Match(pan)
			want := pok && Digits(pan) && pr.HasLength(len(pan))
			if mok != want {
				t.Fatalf("Match(%q) ok = %v, want %v", pan, mok, want)
			}
			if mok && mr.Name != pr.Name {
				t.Fatalf("Match(%q) = %q but MatchPrefix gives %q", pan, mr.Name, pr.Name)
			}
		}
	})
}
