package keys

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf/hmacprf"
	"github.com/tink-crypto/tink-go/v2/secretdata"
	"pgregory.net/rapid"
)

// mustHex decodes a hex string or fails the test.
func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestHMACSHA256RFC4231 pins hmacSHA256, the primitive behind fingerprints
// and ServerMAC, to RFC 4231 test cases 1 to 4.
func TestHMACSHA256RFC4231(t *testing.T) {
	seq := make([]byte, 25)
	for i := range seq {
		seq[i] = byte(i + 1)
	}
	tests := []struct {
		name string
		key  []byte
		data []byte
		want string
	}{
		{
			name: "ok/case-1",
			key:  bytes.Repeat([]byte{0x0b}, 20),
			data: []byte("Hi There"),
			want: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
		},
		{
			name: "ok/case-2",
			key:  []byte("Jefe"),
			data: []byte("what do ya want for nothing?"),
			want: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		},
		{
			name: "ok/case-3",
			key:  bytes.Repeat([]byte{0xaa}, 20),
			data: bytes.Repeat([]byte{0xdd}, 50),
			want: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
		},
		{
			name: "ok/case-4",
			key:  seq,
			data: bytes.Repeat([]byte{0xcd}, 50),
			want: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, hex.EncodeToString(hmacSHA256(tt.key, tt.data))); d != "" {
				t.Errorf("HMAC-SHA256 (-want +got)\n%s", d)
			}
			// Split input gives the same MAC as whole input.
			half := len(tt.data) / 2
			if d := cmp.Diff(tt.want, hex.EncodeToString(hmacSHA256(tt.key, tt.data[:half], tt.data[half:]))); d != "" {
				t.Errorf("HMAC-SHA256 over two parts (-want +got)\n%s", d)
			}
		})
	}
}

// mustPRFKeyset builds a one-key HMAC-SHA256 PRF keyset from raw key bytes.
func mustPRFKeyset(tb testing.TB, raw []byte) *keyset.Handle {
	tb.Helper()
	params, err := hmacprf.NewParameters(len(raw), hmacprf.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := hmacprf.NewKey(secretdata.NewBytesFromData(raw, insecuresecretdataaccess.Token{}), params)
	if err != nil {
		tb.Fatal(err)
	}
	m := keyset.NewManager()
	id, err := m.AddKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.SetPrimary(id); err != nil {
		tb.Fatal(err)
	}
	h, err := m.Handle()
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// TestFingerprintVector pins the per-merchant derivation end to end, from
// a tink keyset with a fixed raw MAC key (bytes 0x00..0x1f). The expected
// values were computed independently with Python's hmac module:
//
//	km = hmac.new(key, b"payvault fingerprint v1|mer_123", sha256).digest()
//	hmac.new(km, b"4111111111111111", sha256).hexdigest()
func TestFingerprintVector(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i)
	}
	st, err := compile(kindMAC, mustPRFKeyset(t, raw), 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(raw, st.macs[0].key); d != "" {
		t.Fatalf("raw MAC key taken from the keyset (-want +got)\n%s", d)
	}
	id := strconv.FormatUint(uint64(st.primary), 10)

	if d := cmp.Diff("0e05a888e66716e0a913180b52c3fb05863555e3bef53287c665112e41125cc6", hex.EncodeToString(merchantKey(raw, "mer_123"))); d != "" {
		t.Errorf("K_m (-want +got)\n%s", d)
	}
	tests := []struct {
		name     string
		merchant string
		want     string
	}{
		{name: "ok/mer_123", merchant: "mer_123", want: "3b7ebbc13946b1c47445040e82cb177b0d83c17e48bce45e55d756b29f410d16"},
		{name: "ok/mer_456", merchant: "mer_456", want: "579248220f55995f5443941eb6fc65bb3ac47f00c870b8a1a513233489156a2e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(id+":"+tt.want, fingerprint(st.macs[0], tt.merchant, []byte("4111111111111111"))); d != "" {
				t.Errorf("fingerprint (-want +got)\n%s", d)
			}
		})
	}
}

// TestServerMACVector pins ServerMAC's encoding, computed with Python as
// hmac(key, b"payvault server v1|" + (11).to_bytes(4, "big") +
// b"idempotency" + body).
func TestServerMACVector(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i)
	}
	got := serverMAC(raw, "idempotency", []byte(`{"amount":100}`))
	if d := cmp.Diff("60b6619f29af278497e8ded0b96ccb564565eca8d6960d20bd27359a2014d539", hex.EncodeToString(got)); d != "" {
		t.Errorf("serverMAC (-want +got)\n%s", d)
	}
}

func TestADEncode(t *testing.T) {
	got := AD{Merchant: "m1", Record: "rec", Field: "f"}.encode()
	want := []byte("payvault/v1\x00\x00\x00\x02m1\x00\x00\x00\x03rec\x00\x00\x00\x01f")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("encode (-want +got)\n%s", d)
	}
}

// TestADEncodeTokenBound checks the v2 form: a token makes it "payvault/v2" with the token as a
// fourth length-prefixed part, and without one it is the v1 form byte for byte, so that every
// ciphertext sealed before tokens were bound still opens.
func TestADEncodeTokenBound(t *testing.T) {
	tests := []struct {
		name string
		ad   AD
		want []byte
	}{
		{name: "ok/v1-without-token", ad: AD{Merchant: "m1", Record: "rec", Field: "f"},
			want: []byte("payvault/v1\x00\x00\x00\x02m1\x00\x00\x00\x03rec\x00\x00\x00\x01f")},
		{name: "ok/v2-with-token", ad: AD{Merchant: "m1", Record: "rec", Field: "f", Token: "C1"},
			want: []byte("payvault/v2\x00\x00\x00\x02m1\x00\x00\x00\x03rec\x00\x00\x00\x01f\x00\x00\x00\x02C1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.ad.encode()); d != "" {
				t.Errorf("encode (-want +got)\n%s", d)
			}
		})
	}
}

// TestADEncodeInjective checks that distinct ADs never encode alike, with or without a token.
func TestADEncodeInjective(t *testing.T) {
	token := rapid.OneOf(rapid.Just(""), rapid.String())
	rapid.Check(t, func(t *rapid.T) {
		a := AD{rapid.String().Draw(t, "m1"), rapid.String().Draw(t, "r1"), rapid.String().Draw(t, "f1"), token.Draw(t, "t1")}
		b := AD{rapid.String().Draw(t, "m2"), rapid.String().Draw(t, "r2"), rapid.String().Draw(t, "f2"), token.Draw(t, "t2")}
		if sameEnc := bytes.Equal(a.encode(), b.encode()); (a == b) != sameEnc {
			t.Fatalf("AD %+v and %+v: equal %v, but encodings equal %v", a, b, a == b, sameEnc)
		}
	})
}

func TestCompileRejectsWrongKeyType(t *testing.T) {
	mac := mustPRFKeyset(t, make([]byte, 32))
	if _, err := compile(kindData, mac, 1); err == nil || !strings.Contains(err.Error(), "want XAES-256-GCM") {
		t.Errorf("compile(data, PRF keyset) error = %v, want a key type error", err)
	}
	short := mustPRFKeyset(t, make([]byte, 16))
	if _, err := compile(kindMAC, short, 1); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("compile(mac, 16-byte key) error = %v, want a key size error", err)
	}
	data, err := keyset.NewHandle(kindData.template())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compile(kindMAC, data, 1); err == nil || !strings.Contains(err.Error(), "want HMAC PRF") {
		t.Errorf("compile(mac, AEAD keyset) error = %v, want a key type error", err)
	}
}
