package fortis

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// oldMarshalJSON is object.MarshalJSON as it was, through encoding/json at every level: the
// reference the in-place encoder must match byte for byte.
func oldMarshalJSON(o object) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		var v []byte
		switch x := m.Val.(type) {
		case object:
			v = oldMarshalJSON(x)
		case []object:
			if x == nil {
				v = []byte("null")
				break
			}
			parts := [][]byte{}
			for _, o := range x {
				parts = append(parts, oldMarshalJSON(o))
			}
			v = append(append([]byte{'['}, bytes.Join(parts, []byte{','})...), ']')
		default:
			v, _ = marshal(x)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

var oddStrings = []string{"", "plain", `q"uote\\back`, "\x00\x01\x08\x0c\n\r\t\x1f\x7f", "<a href='x'>&amp;</a>",
	"caf\u00e9 \u2028 \u2029 \U0001F600", "\xff\xfe bad \xc3", "tab\there", "\u00e9\xe9"}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := append([]string{}, oddStrings...)
	for range 20000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			switch rng.IntN(4) {
			case 0:
				b[i] = byte(rng.IntN(0x20))
			case 1:
				b[i] = byte(0x80 + rng.IntN(0x80))
			default:
				b[i] = byte(0x20 + rng.IntN(0x60))
			}
		}
		cases = append(cases, string(b), string(b)+"\u2028")
	}
	for _, s := range cases {
		want, _ := marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestObjectMarshalMatchesEncodingJSON(t *testing.T) {
	inner := object{{"id", "a<b>&c"}, {"n", 7}, {"big", int64(1) << 40}, {"ok", true}, {"none", nil}, {"f", 1.5},
		{"list", []any{"x", 2, nil}}, {"m", map[string]any{"k": "v"}}, {"odd", oddStrings[3]}}
	o := object{{"accountvault", object{{"inner", inner}, {"many", []object{inner, {}, inner}}, {"nolist", []object(nil)},
		{"empty", object{}}}}, {"meta", object{{"s", oddStrings[6]}}}}
	got, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := oldMarshalJSON(o); !bytes.Equal(got, want) {
		t.Fatalf("MarshalJSON\n got %s\nwant %s", got, want)
	}
	// Through encoding/json too (as writeJSON sends it).
	via, err := marshal(o)
	if err != nil || !bytes.Equal(via, got) {
		t.Fatalf("marshal(o) = %s, %v", via, err)
	}
}
