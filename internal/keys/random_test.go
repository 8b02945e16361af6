package keys_test

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/payvault/payvault/internal/keys"
)

func TestRandomString(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		alphabet string
	}{
		{name: "ok/alnum", n: 32, alphabet: keys.Alnum},
		{name: "ok/digits", n: 19, alphabet: keys.Digits},
		{name: "ok/one-char", n: 5, alphabet: "x"},
		{name: "ok/non-ascii", n: 20, alphabet: "äöüß€"},
		{name: "ok/256", n: 64, alphabet: string(func() []rune {
			r := make([]rune, 256)
			for i := range r {
				r[i] = rune(0x100 + i)
			}
			return r
		}())},
		{name: "ok/zero", n: 0, alphabet: keys.Alnum},
		{name: "ok/negative", n: -1, alphabet: keys.Alnum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := keys.RandomString(tt.n, tt.alphabet)
			if d := cmp.Diff(max(tt.n, 0), utf8.RuneCountInString(s)); d != "" {
				t.Errorf("length (-want +got)\n%s", d)
			}
			for _, r := range s {
				if !strings.ContainsRune(tt.alphabet, r) {
					t.Fatalf("%q holds %q, which is not in the alphabet", s, r)
				}
			}
		})
	}
	if a, b := keys.RandomString(32, keys.Alnum), keys.RandomString(32, keys.Alnum); a == b {
		t.Errorf("two random strings are equal: %q", a)
	}
}

// TestRandomStringUniform is a coarse check that every character of an
// alphabet whose size does not divide 256 turns up about equally often.
func TestRandomStringUniform(t *testing.T) {
	const alphabet = "abc" // 256 % 3 == 1: a naive modulo would favour 'a'.
	const n = 300_000
	counts := map[rune]int{}
	for _, r := range keys.RandomString(n, alphabet) {
		counts[r]++
	}
	for _, r := range alphabet {
		// Expected 100000, σ ≈ 258; 6σ ≈ 1550.
		if c := counts[r]; c < n/3-2000 || c > n/3+2000 {
			t.Errorf("%q drawn %d times out of %d, want about %d", r, c, n, n/3)
		}
	}
}

func TestRandomStringPanics(t *testing.T) {
	tests := []struct {
		name     string
		alphabet string
	}{
		{name: "fail/empty", alphabet: ""},
		{name: "fail/257", alphabet: strings.Repeat("a", 257)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("RandomString did not panic")
				}
			}()
			keys.RandomString(1, tt.alphabet)
		})
	}
}

func TestRandomDigitsHex(t *testing.T) {
	if s := keys.RandomDigits(12); !regexp.MustCompile(`^[0-9]{12}$`).MatchString(s) {
		t.Errorf("RandomDigits(12) = %q", s)
	}
	if s := keys.RandomHex(16); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s) {
		t.Errorf("RandomHex(16) = %q", s)
	}
	if s := keys.RandomHex(0); s != "" {
		t.Errorf("RandomHex(0) = %q, want empty", s)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewUUIDv7(t *testing.T) {
	before := time.Now().UnixMilli()
	id := keys.NewUUIDv7()
	after := time.Now().UnixMilli()
	if !uuidRE.MatchString(id) {
		t.Fatalf("NewUUIDv7 = %q, want %s", id, uuidRE)
	}
	var ms int64
	for _, c := range strings.ReplaceAll(id[:13], "-", "") {
		ms = ms<<4 | int64(strings.IndexRune("0123456789abcdef", c))
	}
	if ms < before || ms > after {
		t.Errorf("timestamp %d ms is outside [%d, %d]", ms, before, after)
	}
	seen := map[string]bool{}
	for range 1000 {
		id := keys.NewUUIDv7()
		if !uuidRE.MatchString(id) {
			t.Fatalf("NewUUIDv7 = %q, want %s", id, uuidRE)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}
