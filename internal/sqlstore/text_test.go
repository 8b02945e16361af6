package sqlstore_test

import (
	"context"
	"testing"

	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestRefusesUnstorableText shows that a write of text no column may hold (a NUL, invalid
// UTF-8) is refused as Invalid on both engines (every API answers it with a 4xx), not an
// internal error, and that the store goes on working.
func TestRefusesUnstorableText(t *testing.T) {
	for name, open := range map[string]storetest.Opener{"sqlite": MustSQLite, "postgres": MustPostgres} {
		t.Run(name, func(t *testing.T) { testRefusesUnstorableText(t, open) })
	}
}

func testRefusesUnstorableText(t *testing.T, open storetest.Opener) {
	f := storetest.MustFixture(t, open)
	ctx := context.Background()
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		_, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: bad, LastName: "Smith"})
		if got := vault.KindOf(err); got != vault.Invalid {
			t.Errorf("CreateProfile(%q): kind %v (%v), want Invalid", bad, got, err)
		}
	}
	if _, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "fine", LastName: "Smith"}); err != nil {
		t.Fatalf("a clean write after refused ones: %v", err)
	}
}
