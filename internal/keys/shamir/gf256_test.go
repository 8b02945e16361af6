package shamir

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gfTables holds log and exp tables for GF(2^8) with the AES polynomial,
// built from the generator 0x03. They are a reference for the tests only:
// the package itself never indexes a table with secret data.
type gfTables struct {
	exp [512]byte
	log [256]byte
}

// newGFTables builds the reference tables by repeated multiplication by the
// generator 0x03 = x+1, written out with plain shifts and branches.
func newGFTables() *gfTables {
	var t gfTables
	x := byte(1)
	for i := range 255 {
		t.exp[i] = x
		t.exp[i+255] = x
		t.log[x] = byte(i)
		// x *= 0x03: x*2 (reduced) xor x.
		x2 := x << 1
		if x&0x80 != 0 {
			x2 ^= 0x1b
		}
		x ^= x2
	}
	return &t
}

func (t *gfTables) mul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return t.exp[int(t.log[a])+int(t.log[b])]
}

func TestGFTablesCoverField(t *testing.T) {
	// 0x03 generates the multiplicative group only if exp hits all 255
	// non-zero elements; otherwise the reference would be wrong.
	tab := newGFTables()
	seen := map[byte]bool{}
	for i := range 255 {
		seen[tab.exp[i]] = true
	}
	if d := cmp.Diff(255, len(seen)); d != "" || seen[0] {
		t.Fatalf("0x03 does not generate GF(2^8)*: (-want +got)\n%s", d)
	}
}

func TestMul(t *testing.T) {
	tests := []struct {
		name string
		a, b byte
		want byte
	}{
		// FIPS 197 section 4.2: {57} • {83} = {c1}.
		{"ok/fips-197", 0x57, 0x83, 0xc1},
		// FIPS 197 section 4.2: {57} • {13} = {fe}.
		{"ok/fips-197-xtime", 0x57, 0x13, 0xfe},
		// FIPS 197 section 4.2.1: {53} and {ca} are inverses.
		{"ok/aes-inverse-pair", 0x53, 0xca, 0x01},
		{"ok/commutes", 0x83, 0x57, 0xc1},
		{"ok/one", 0x01, 0xb7, 0xb7},
		{"ok/zero", 0x00, 0xb7, 0x00},
		{"ok/x-times-top-bit", 0x80, 0x02, 0x1b},
		{"ok/ff-squared", 0xff, 0xff, 0x13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, mul(tt.a, tt.b)); d != "" {
				t.Errorf("mul(%#02x, %#02x): (-want +got)\n%s", tt.a, tt.b, d)
			}
		})
	}
}

func TestMulMatchesTables(t *testing.T) {
	tab := newGFTables()
	for a := range 256 {
		for b := range 256 {
			want := tab.mul(byte(a), byte(b))
			if got := mul(byte(a), byte(b)); got != want {
				t.Fatalf("mul(%#02x, %#02x) = %#02x, tables say %#02x", a, b, got, want)
			}
		}
	}
}

func TestInv(t *testing.T) {
	tests := []struct {
		name string
		a    byte
		want byte
	}{
		{"ok/fips-197", 0x53, 0xca},
		{"ok/fips-197-reverse", 0xca, 0x53},
		{"ok/one", 0x01, 0x01},
		{"ok/two", 0x02, 0x8d},
		{"ok/zero-maps-to-zero", 0x00, 0x00},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, inv(tt.a)); d != "" {
				t.Errorf("inv(%#02x): (-want +got)\n%s", tt.a, d)
			}
		})
	}
}

func TestInvAll(t *testing.T) {
	tab := newGFTables()
	for a := 1; a < 256; a++ {
		i := inv(byte(a))
		if got := mul(byte(a), i); got != 1 {
			t.Fatalf("mul(%#02x, inv(%#02x) = %#02x) = %#02x, want 0x01", a, a, i, got)
		}
		// With tables, a^-1 = exp[255 - log a].
		if want := tab.exp[255-int(tab.log[a])]; i != want {
			t.Fatalf("inv(%#02x) = %#02x, tables say %#02x", a, i, want)
		}
	}
}
