package keys_test

import (
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/payvault/payvault/internal/keys"
)

func TestHashSecret(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	if d := cmp.Diff("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex.EncodeToString(keys.HashSecret("abc"))); d != "" {
		t.Errorf("HashSecret (-want +got)\n%s", d)
	}
	secret := keys.RandomString(40, keys.Alnum)
	hash := keys.HashSecret(secret)
	tests := []struct {
		name   string
		hash   []byte
		secret string
		want   bool
	}{
		{name: "ok", hash: hash, secret: secret, want: true},
		{name: "fail/other-secret", hash: hash, secret: secret[:39] + "!"},
		{name: "fail/empty-secret", hash: hash, secret: ""},
		{name: "fail/truncated-hash", hash: hash[:31], secret: secret},
		{name: "fail/nil-hash", hash: nil, secret: secret},
		{name: "fail/nil-hash-empty-secret", hash: nil, secret: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, keys.VerifySecret(tt.hash, tt.secret)); d != "" {
				t.Errorf("VerifySecret (-want +got)\n%s", d)
			}
		})
	}
}
