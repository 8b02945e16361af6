package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// cacheTTL is the cache time of cachingNode's Service.
const cacheTTL = 50 * time.Millisecond

// cachingNode returns a fixture and a second Service over its store, as another node would
// be, whose cache keeps records for cacheTTL.
func cachingNode(t *testing.T, open Opener) (*Fixture, *vault.Service) {
	f := MustFixture(t, open)
	return f, vault.NewService(f.Store, f.Keys, nil, vault.Config{CredentialCacheTTL: cacheTTL})
}

// testCredentialCache checks the cache of verified credentials (vault/credcache.go): a wrong
// secret never rides on a cached success, a change made through the same Service takes
// effect at once, one made through another Service (another node) within the TTL, and a
// principal handed out cannot change the cached one.
func testCredentialCache(t *testing.T, open Opener) {
	f, node := cachingNode(t, open)
	ctx, c := context.Background(), f.Creds
	for i := 0; i < 2; i++ { // the second round is served from the cache
		p, err := node.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret)
		if err != nil {
			t.Fatal(err)
		}
		if p.MerchantID() != c.MerchantID || p.Kind != vault.CredServer || p.CredID != c.Paysafe.APIKeyID {
			t.Errorf("round %d: principal = %+v", i, p)
		}
		p.Merchant.Name, p.Merchant.ID = "changed", "changed" // must not reach the next caller
		if _, err := node.AuthenticateUser(ctx, c.Fortis.DeveloperID, c.Fortis.UserID, c.Fortis.UserAPIKey); err != nil {
			t.Fatal(err)
		}
	}
	for name, fn := range map[string]func() error{
		"fail/wrong-secret": func() error {
			_, err := node.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret+"x")
			return err
		},
		"fail/other-key-id": func() error {
			_, err := node.AuthenticateAPIKey(ctx, c.Paysafe.SingleUseKeyID, c.Paysafe.APIKeySecret)
			return err
		},
		"fail/user-wrong-developer": func() error {
			_, err := node.AuthenticateUser(ctx, c.Fortis.DeveloperID+"x", c.Fortis.UserID, c.Fortis.UserAPIKey)
			return err
		},
	} {
		if err := fn(); vault.KindOf(err) != vault.Unauthenticated {
			t.Errorf("%s after a cached success: %v", name, err)
		}
	}

	// Disabled through this node: refused at once.
	disabled, enabled := 0, 1
	if _, err := node.UpdateUser(ctx, c.MerchantID, c.Fortis.UserID, vault.UserUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.AuthenticateUser(ctx, c.Fortis.DeveloperID, c.Fortis.UserID, c.Fortis.UserAPIKey); vault.KindOf(err) != vault.Unauthenticated {
		t.Errorf("user disabled through the same service still authenticates: %v", err)
	}

	// Re-enabled, cached, then disabled through another node: refused once the TTL has passed.
	if _, err := node.UpdateUser(ctx, c.MerchantID, c.Fortis.UserID, vault.UserUpdate{Status: &enabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.AuthenticateUser(ctx, c.Fortis.DeveloperID, c.Fortis.UserID, c.Fortis.UserAPIKey); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Svc.UpdateUser(ctx, c.MerchantID, c.Fortis.UserID, vault.UserUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * cacheTTL)
	if _, err := node.AuthenticateUser(ctx, c.Fortis.DeveloperID, c.Fortis.UserID, c.Fortis.UserAPIKey); vault.KindOf(err) != vault.Unauthenticated {
		t.Errorf("user disabled on another node still authenticates after the TTL: %v", err)
	}

	// Without a cache every request reads the store.
	off := vault.NewService(f.Store, f.Keys, nil, vault.Config{CredentialCacheTTL: -1})
	if _, err := off.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret); err != nil {
		t.Errorf("uncached: %v", err)
	}
}

// testLocationByAccount checks the locations vault.Service.LocationByAccount remembers with
// the verified credentials: no ticket key kept, a copy handed out, a change made through the
// same Service seen at once, one made through another Service within the TTL.
func testLocationByAccount(t *testing.T, open Opener) {
	f, node := cachingNode(t, open)
	ctx, c := context.Background(), f.Creds
	for i := 0; i < 2; i++ { // the second round is served from the cache
		l, err := node.LocationByAccount(ctx, c.Paysafe.AccountNumber)
		if err != nil {
			t.Fatal(err)
		}
		if l.ID != c.Fortis.LocationID || l.MerchantID != c.MerchantID || l.AccountNumber != c.Paysafe.AccountNumber {
			t.Errorf("round %d: location = %+v", i, l)
		}
		if len(l.SealedTicketKey.Extra) != 0 || l.TicketHashKey != "" {
			t.Errorf("round %d: the ticket key came along", i)
		}
		l.Currency, l.MerchantID = "XXX", "changed" // must not reach the next caller
	}
	if _, err := node.LocationByAccount(ctx, "0000000000"); vault.KindOf(err) != vault.NotFound {
		t.Errorf("unknown account: %v", err)
	}

	// A new default service through this node: seen at once.
	pt, err := node.CreateProductTransaction(ctx, c.MerchantID, vault.NewProductTransaction{LocationID: c.Fortis.LocationID,
		PaymentMethod: "cc", Title: "one", Processor: "sandbox", MakeDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := node.LocationByAccount(ctx, c.Paysafe.AccountNumber); err != nil || l.DefaultCC != pt.ID {
		t.Errorf("after a change through the same node: %+v, %v", l, err)
	}
	// Through another node: seen once the TTL has passed.
	pt2, err := f.Svc.CreateProductTransaction(ctx, c.MerchantID, vault.NewProductTransaction{LocationID: c.Fortis.LocationID,
		PaymentMethod: "cc", Title: "two", Processor: "sandbox", MakeDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * cacheTTL)
	if l, err := node.LocationByAccount(ctx, c.Paysafe.AccountNumber); err != nil || l.DefaultCC != pt2.ID {
		t.Errorf("after a change through another node and the TTL: %+v, %v", l, err)
	}

	// By id, and product transactions: the same rules, scoped to the merchant.
	for i := 0; i < 2; i++ {
		l, err := node.Location(ctx, c.MerchantID, c.Fortis.LocationID)
		if err != nil || l.ID != c.Fortis.LocationID || l.DefaultCC != pt2.ID || len(l.SealedTicketKey.Extra) != 0 {
			t.Errorf("round %d: location by id = %+v, %v", i, l, err)
		}
		l.DefaultCC = "changed"
		got, err := node.ProductTransaction(ctx, c.MerchantID, pt2.ID)
		if err != nil || got.ID != pt2.ID || got.LocationID != c.Fortis.LocationID || !got.Active {
			t.Errorf("round %d: product transaction = %+v, %v", i, got, err)
		}
		got.Active = false
	}
	other, err := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Location(ctx, other.MerchantID, c.Fortis.LocationID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("another merchant's location by id: %v", err)
	}
	if _, err := node.ProductTransaction(ctx, other.MerchantID, pt2.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("another merchant's product transaction: %v", err)
	}
	pt3, err := node.CreateProductTransaction(ctx, c.MerchantID, vault.NewProductTransaction{LocationID: c.Fortis.LocationID,
		PaymentMethod: "cc", Title: "three", Processor: "sandbox", MakeDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := node.Location(ctx, c.MerchantID, c.Fortis.LocationID); err != nil || l.DefaultCC != pt3.ID {
		t.Errorf("location by id after a change through the same node: %+v, %v", l, err)
	}
}
