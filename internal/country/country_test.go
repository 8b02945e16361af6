package country

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAlpha3(t *testing.T) {
	type result struct {
		Alpha3 string
		OK     bool
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"ok", "DE", result{"DEU", true}},
		{"ok/lower-case", "ca", result{"CAN", true}},
		{"ok/mixed-case", "gB", result{"GBR", true}},
		{"ok/first", "AD", result{"AND", true}},
		{"ok/last", "ZW", result{"ZWE", true}},
		{"ok/tunisia", "TN", result{"TUN", true}},
		{"ok/aland", "AX", result{"ALA", true}},
		{"ok/south-sudan", "SS", result{"SSD", true}},
		{"fail/user-assigned-kosovo", "XK", result{}},
		{"fail/reserved-uk", "UK", result{}},
		{"fail/withdrawn-yugoslavia", "YU", result{}},
		{"fail/empty", "", result{}},
		{"fail/one-letter", "D", result{}},
		{"fail/three-letters", "DEU", result{}},
		{"fail/digits", "12", result{}},
		{"fail/non-ascii", "Dé", result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			got.Alpha3, got.OK = Alpha3(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if v := Valid(tt.in); v != tt.want.OK {
				t.Errorf("Valid(%q) = %v, want %v", tt.in, v, tt.want.OK)
			}
		})
	}
}

func TestCodes(t *testing.T) {
	codes := Codes()
	if d := cmp.Diff(249, len(codes)); d != "" {
		t.Errorf("number of codes (-want +got)\n%s", d)
	}
	if !sort.StringsAreSorted(codes) {
		t.Error("codes are not sorted")
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("duplicate code %s", c)
		}
		seen[c] = true
		a3, ok := Alpha3(c)
		if !ok || len(a3) != 3 || a3[0] < 'A' || a3[0] > 'Z' {
			t.Errorf("Alpha3(%q) = %q, %v", c, a3, ok)
		}
	}
	codes[0] = "changed"
	if got := Codes()[0]; got != "AD" {
		t.Errorf("Codes shares its slice: first code is %q", got)
	}
}

func TestTableShape(t *testing.T) {
	if len(table)%entry != 0 {
		t.Fatalf("table length %d is not a multiple of %d", len(table), entry)
	}
	for i := 0; i < len(table); i++ {
		if c := table[i]; c < 'A' || c > 'Z' {
			t.Fatalf("table byte %d is %q", i, c)
		}
	}
}

func BenchmarkAlpha3(b *testing.B) {
	for b.Loop() {
		Alpha3("nl")
	}
}

func FuzzAlpha3(f *testing.F) {
	for _, s := range []string{"DE", "de", "XK", "", "D\xff", "ZZZ"} {
		f.Add(s)
	}
	known := map[string]bool{}
	for _, c := range Codes() {
		known[c] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		a3, ok := Alpha3(s)
		want := len(s) == 2 && known[string([]byte{upper(s[0]), upper(s[1])})]
		if ok != want {
			t.Fatalf("Alpha3(%q) ok = %v, want %v", s, ok, want)
		}
		if ok != Valid(s) {
			t.Fatalf("Valid(%q) disagrees with Alpha3", s)
		}
		if ok != (len(a3) == 3) {
			t.Fatalf("Alpha3(%q) = %q, %v", s, a3, ok)
		}
	})
}
