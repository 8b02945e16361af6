package vault_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// countingStore is a real store that counts the lookups authentication may make.
type countingStore struct {
	vault.Store
	reads map[string]int
}

func (c *countingStore) GetMerchant(ctx context.Context, id string) (*vault.Merchant, error) {
	c.reads["GetMerchant"]++
	return c.Store.GetMerchant(ctx, id)
}

func (c *countingStore) GetAPIKey(ctx context.Context, keyID string) (*vault.APIKey, error) {
	c.reads["GetAPIKey"]++
	return c.Store.GetAPIKey(ctx, keyID)
}

func (c *countingStore) GetDeveloper(ctx context.Context, id string) (*vault.Developer, error) {
	c.reads["GetDeveloper"]++
	return c.Store.GetDeveloper(ctx, id)
}

func (c *countingStore) GetUser(ctx context.Context, id string) (*vault.User, error) {
	c.reads["GetUser"]++
	return c.Store.GetUser(ctx, id)
}

func (c *countingStore) GetLocationByAPIKey(ctx context.Context, key string) (*vault.Location, error) {
	c.reads["GetLocationByAPIKey"]++
	return c.Store.GetLocationByAPIKey(ctx, key)
}

// countingKeyring is a real keyring that counts the ciphertexts it opens. While *lost is
// true it opens none, as if every data key had been destroyed since.
type countingKeyring struct {
	vault.Keyring
	opens *int
	lost  *bool
}

func (k countingKeyring) Open(ct []byte, ad keys.AD) ([]byte, error) {
	*k.opens++
	if *k.lost {
		return nil, errors.New("no such data key")
	}
	return k.Keyring.Open(ct, ad)
}

// work is what one authentication cost: its store reads by method, its hash comparisons and
// the ciphertexts it opened.
type work struct {
	Reads  map[string]int
	Hashes int
	Opens  int
}

// MustCountingService returns two merchants' credentials and a Service, without a credential
// cache, over a fresh SQLite store wrapped in a countingStore, and the function that runs one
// authentication and returns its work.
func MustCountingService(tb testing.TB) (a, b *vault.MerchantCredentials, svc *vault.Service, measure func(func() error) (work, error)) {
	a, b, svc, measure, _ = mustCountingService(tb)
	return a, b, svc, measure
}

// mustCountingService is MustCountingService that also returns the switch that makes its
// keyring lose its keys.
func mustCountingService(tb testing.TB) (a, b *vault.MerchantCredentials, svc *vault.Service, measure func(func() error) (work, error), lost *bool) {
	tb.Helper()
	f := MustSQLiteFixture(tb)
	b, err := f.Svc.CreateMerchant(context.Background(), vault.NewMerchant{Name: "B"})
	if err != nil {
		tb.Fatalf("CreateMerchant: %v", err)
	}
	cs := &countingStore{Store: f.Store, reads: map[string]int{}}
	var hashes, opens int
	lost = new(bool)
	svc = vault.NewService(cs, countingKeyring{Keyring: f.Keys, opens: &opens, lost: lost}, nil, vault.Config{CredentialCacheTTL: -1})
	vault.CountSecretChecks(svc, &hashes)
	measure = func(fn func() error) (work, error) {
		clear(cs.reads)
		hashes, opens = 0, 0
		err := fn()
		return work{Reads: maps.Clone(cs.reads), Hashes: hashes, Opens: opens}, err
	}
	return f.Creds, b, svc, measure, lost
}

// TestAuthenticateUniformWork checks that a failed authentication does the same store reads
// and the same hash comparisons whichever part of the credential is wrong, so that its
// timing does not tell an unknown id from a known one. Timing itself is never measured: the
// work is counted.
func TestAuthenticateUniformWork(t *testing.T) {
	ctx := context.Background()
	a, b, svc, measure := MustCountingService(t)
	fa, pa := a.Fortis, a.Paysafe
	user := func(dev, id, key string) func() error {
		return func() error { _, err := svc.AuthenticateUser(ctx, dev, id, key); return err }
	}
	apiKey := func(id, secret string) func() error {
		return func() error { _, err := svc.AuthenticateAPIKey(ctx, id, secret); return err }
	}
	ts := func(skew time.Duration) string { return strconv.FormatInt(time.Now().Add(skew).Unix(), 10) }
	now := ts(0)
	browser := func(apiKey, ticketKey, timestamp string) func() error {
		return func() error {
			_, err := svc.AuthenticateBrowser(ctx, apiKey, timestamp, vault.BrowserHashKey(ticketKey, apiKey, timestamp))
			return err
		}
	}
	unknownKey := fa.LocationAPIKey[:len(fa.LocationAPIKey)-4] + "zzzz"
	tests := []struct {
		api, name string
		fn        func() error
	}{
		// A browser's failure opens one ticket hash key and compares one HMAC whether or
		// not the location api key exists (a decoy's when it does not); a timestamp out of
		// the window is refused before the key is looked up, whatever the key.
		{"browser", "ok", browser(fa.LocationAPIKey, fa.TicketHashKey, now)},
		{"browser", "fail/unknown-key", browser(unknownKey, fa.TicketHashKey, now)},
		{"browser", "fail/wrong-hash", browser(fa.LocationAPIKey, "not-the-ticket-hash-key", now)},
		{"browser", "fail/other-merchants-hash", browser(fa.LocationAPIKey, b.Fortis.TicketHashKey, now)},
		{"browser", "fail/other-merchants-key", browser(b.Fortis.LocationAPIKey, fa.TicketHashKey, now)},
		{"browser-stale", "fail/known-key", browser(fa.LocationAPIKey, fa.TicketHashKey, ts(-901*time.Second))},
		{"browser-stale", "fail/unknown-key", browser(unknownKey, fa.TicketHashKey, ts(-901*time.Second))},
		{"fortis", "ok", user(fa.DeveloperID, fa.UserID, fa.UserAPIKey)},
		{"fortis", "fail/unknown-developer", user("devnope", fa.UserID, fa.UserAPIKey)},
		{"fortis", "fail/unknown-user", user(fa.DeveloperID, "01900000-0000-7000-8000-000000000000", fa.UserAPIKey)},
		{"fortis", "fail/unknown-developer-and-user", user("devnope", "01900000-0000-7000-8000-000000000000", fa.UserAPIKey)},
		{"fortis", "fail/wrong-key", user(fa.DeveloperID, fa.UserID, "0000")},
		{"fortis", "fail/other-merchants-developer", user(b.Fortis.DeveloperID, fa.UserID, fa.UserAPIKey)},
		{"paysafe", "ok", apiKey(pa.APIKeyID, pa.APIKeySecret)},
		{"paysafe", "fail/unknown-key", apiKey("key_nope", pa.APIKeySecret)},
		{"paysafe", "fail/wrong-secret", apiKey(pa.APIKeyID, "x")},
		{"paysafe", "fail/other-merchants-secret", apiKey(pa.APIKeyID, b.Paysafe.APIKeySecret)},
	}
	failed := map[string]work{} // failed holds each API's first failing case's work.
	for _, tt := range tests {
		t.Run(tt.api+"/"+tt.name, func(t *testing.T) {
			w, err := measure(tt.fn)
			wantHashes := 1
			if tt.api == "browser" || tt.api == "browser-stale" {
				wantHashes = 0 // an HMAC, not a stored hash
			}
			if tt.name == "ok" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if w.Hashes != wantHashes {
					t.Errorf("hash comparisons = %d, want %d", w.Hashes, wantHashes)
				}
				return
			}
			if vault.KindOf(err) != vault.Unauthenticated {
				t.Fatalf("err = %v, want Unauthenticated", err)
			}
			if w.Hashes != wantHashes {
				t.Errorf("hash comparisons = %d, want %d", w.Hashes, wantHashes)
			}
			want, ok := failed[tt.api]
			if !ok {
				failed[tt.api] = w
				return
			}
			if d := cmp.Diff(want, w); d != "" {
				t.Errorf("work differs from the first failing case's (-want +got)\n%s", d)
			}
		})
	}
}

// TestBrowserDecoyWithoutItsKey checks that an unknown location api key stays a plain failure
// when the decoy's sealed ticket hash key no longer opens (its data key disabled or destroyed
// since it was sealed): the decoy is sealed again, with the work of a wrong hash-key, and the
// failure never becomes an internal error.
func TestBrowserDecoyWithoutItsKey(t *testing.T) {
	ctx := context.Background()
	a, _, svc, measure, lost := mustCountingService(t)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	unknown := a.Fortis.LocationAPIKey[:len(a.Fortis.LocationAPIKey)-4] + "zzzz"
	for i, keysLost := range []bool{false, true, false, false} {
		*lost = keysLost
		w, err := measure(func() error { _, err := svc.AuthenticateBrowser(ctx, unknown, ts, "00"); return err })
		if vault.KindOf(err) != vault.Unauthenticated {
			t.Errorf("call %d (keys lost %v): err = %v, want Unauthenticated", i, keysLost, err)
		}
		if w.Opens < 1 {
			t.Errorf("call %d: opened %d ciphertexts, want at least 1", i, w.Opens)
		}
	}
	*lost = false
	if _, err := svc.AuthenticateBrowser(ctx, a.Fortis.LocationAPIKey, ts, vault.BrowserHashKey(a.Fortis.TicketHashKey, a.Fortis.LocationAPIKey, ts)); err != nil {
		t.Errorf("the location's own credential: %v", err)
	}
}
