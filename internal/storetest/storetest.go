// Package storetest is the conformance suite every vault.Store must pass. It runs against
// SQLite always and against a real PostgreSQL that the tests start themselves.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/token"
	"github.com/payvault/payvault/internal/vault"
)

// Store is what the suite needs: the vault store, the payments lookups and the keyset store.
type Store interface {
	vault.Store
	payments.Reader
	idempotency.Store
	keys.KeysetStore
}

// Opener returns a fresh, empty, migrated store; it registers its own cleanup.
type Opener func(tb testing.TB) Store

// Fixture is a service over a fresh store with one sandbox merchant.
type Fixture struct {
	Store     Store
	Keys      *keys.Keyring
	Svc       *vault.Service
	Creds     *vault.MerchantCredentials
	Principal *vault.Principal
}

// MustFixture opens a store, its keyring and a service, and creates a sandbox merchant.
func MustFixture(tb testing.TB, open Opener) *Fixture {
	tb.Helper()
	ctx := context.Background()
	st := open(tb)
	svc, kr := MustNode(tb, st)
	creds, err := svc.CreateMerchant(ctx, vault.NewMerchant{Name: "Test merchant"})
	if err != nil {
		tb.Fatalf("CreateMerchant: %v", err)
	}
	p, err := svc.AuthenticateAPIKey(ctx, creds.Paysafe.APIKeyID, creds.Paysafe.APIKeySecret)
	if err != nil {
		tb.Fatalf("AuthenticateAPIKey: %v", err)
	}
	return &Fixture{Store: st, Keys: kr, Svc: svc, Creds: creds, Principal: p}
}

// MustNode returns a vault service over st and its keyring under the suite's master key, as
// one node runs them: MustFixture's, or another node's on the same database.
func MustNode(tb testing.TB, st Store) (*vault.Service, *keys.Keyring) {
	tb.Helper()
	var mk keys.MasterKey
	copy(mk[:], "storetest-master-key-0123456789ab")
	kr, err := keys.Open(context.Background(), st, mk, keys.Options{})
	if err != nil {
		tb.Fatalf("keys.Open: %v", err)
	}
	bins, err := card.LoadBINs()
	if err != nil {
		tb.Fatalf("LoadBINs: %v", err)
	}
	return vault.NewService(st, kr, bins, vault.Config{}), kr
}

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Merchant", testMerchant},
		{"Authenticate", testAuthenticate},
		{"CredentialCache", testCredentialCache},
		{"LocationByAccount", testLocationByAccount},
		{"ProfileUnique", testProfileUnique},
		{"CardLifecycle", testCardLifecycle},
		{"DuplicateCard", testDuplicateCard},
		{"DefaultCard", testDefaultCard},
		{"SealedAtRest", testSealedAtRest},
		{"TokenConsumedOnce", testTokenConsumedOnce},
		{"WriteRollsBack", testWriteRollsBack},
		{"List", testList},
		{"KeysetCAS", testKeysetCAS},
		{"DeleteProfileCascade", testDeleteProfileCascade},
		{"Provisioning", testProvisioning},
		{"ProvisioningUniqueRace", testProvisioningUniqueRace},
		{"AuthenticateBrowser", testAuthenticateBrowser},
		{"ListInstruments", testListInstruments},
		{"Addresses", testAddresses},
		{"Mandates", testMandates},
		{"BankFromToken", testBankFromToken},
		{"UpdateDefaultCard", testUpdateDefaultCard},
		{"DeleteProfileRemovesAll", testDeleteProfileRemovesAll},
		{"TransactionStore", testTransactionStore},
		{"TransactionOutcome", testTransactionOutcome},
		{"MoneyRace", testMoneyRace},
		{"SingleUseRace", testSingleUseRace},
		{"IdempotencyStore", testIdempotencyStore},
		{"WriteBatchOutcomes", testWriteBatchOutcomes},
		{"WriteBatchUnique", testWriteBatchUnique},
		{"WriteBatchBalance", testWriteBatchBalance},
		{"WriteBatchLockOrder", testWriteBatchLockOrder},
		{"WriteBatchCards", testWriteBatchCards},
		{"WriteCanceled", testWriteCanceled},
		{"UnstorableText", testUnstorableText},
		{"ContainsUnicode", testContainsUnicode},
		{"TextSort", RunTextSort},
		{"ActiveInstrumentsAfter", testActiveInstrumentsAfter},
		{"FindInstruments", testFindInstruments},
		{"FindHolders", testFindHolders},
		{"MandatesOfPage", testMandatesOfPage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func testMerchant(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	m, err := f.Store.GetMerchant(ctx, f.Creds.MerchantID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Live || m.Processor != "sandbox" || m.DefaultLocationID != f.Creds.Fortis.LocationID {
		t.Errorf("merchant = %+v", m)
	}
	loc, err := f.Store.GetLocationByAccount(ctx, f.Creds.Paysafe.AccountNumber)
	if err != nil {
		t.Fatal(err)
	}
	if loc.DefaultCC == "" || loc.DefaultACH == "" || loc.APIKey != f.Creds.Fortis.LocationAPIKey {
		t.Errorf("location = %+v", loc)
	}
	key, err := f.Svc.RevealTicketHashKey(loc)
	if err != nil || key != f.Creds.Fortis.TicketHashKey {
		t.Errorf("ticket hash key round trip failed: %v", err)
	}
	if _, err := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "Other", AccountNumber: f.Creds.Paysafe.AccountNumber}); vault.KindOf(err) != vault.Conflict {
		t.Errorf("duplicate account number: got %v, want Conflict", err)
	}
	if _, err := f.Store.GetMerchant(ctx, "nope"); vault.KindOf(err) != vault.NotFound {
		t.Errorf("missing merchant: got %v, want NotFound", err)
	}
}

func testAuthenticate(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	c := f.Creds
	tests := []struct {
		name string
		fn   func() error
		want vault.Kind
	}{
		{"ok/server", func() error {
			_, err := f.Svc.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret)
			return err
		}, vault.Other},
		{"ok/sut", func() error {
			_, err := f.Svc.AuthenticateAPIKey(ctx, c.Paysafe.SingleUseKeyID, c.Paysafe.SingleUseKeySecret)
			return err
		}, vault.Other},
		{"ok/user", func() error {
			_, err := f.Svc.AuthenticateUser(ctx, c.Fortis.DeveloperID, c.Fortis.UserID, c.Fortis.UserAPIKey)
			return err
		}, vault.Other},
		{"fail/wrong-secret", func() error { _, err := f.Svc.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, "x"); return err }, vault.Unauthenticated},
		{"fail/unknown-key", func() error { _, err := f.Svc.AuthenticateAPIKey(ctx, "nope", "x"); return err }, vault.Unauthenticated},
		{"fail/swapped-secret", func() error {
			_, err := f.Svc.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, c.Paysafe.SingleUseKeySecret)
			return err
		}, vault.Unauthenticated},
		{"fail/user-wrong-key", func() error {
			_, err := f.Svc.AuthenticateUser(ctx, c.Fortis.DeveloperID, c.Fortis.UserID, "0000")
			return err
		}, vault.Unauthenticated},
		{"fail/user-wrong-developer", func() error {
			_, err := f.Svc.AuthenticateUser(ctx, "devnope", c.Fortis.UserID, c.Fortis.UserAPIKey)
			return err
		}, vault.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := vault.KindOf(tt.fn()); got != tt.want {
				t.Errorf("kind = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustProfile(tb testing.TB, f *Fixture, mcid string) *vault.Profile {
	tb.Helper()
	p, err := f.Svc.CreateProfile(context.Background(), f.Principal, &vault.Profile{MerchantCustomerID: mcid, Locale: "en_US", FirstName: "Jo"})
	if err != nil {
		tb.Fatalf("CreateProfile: %v", err)
	}
	return p
}

func testProfileUnique(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "mcid-1")
	_, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "mcid-1", Locale: "en_US"})
	if e := vault.AsError(err); e == nil || e.Kind != vault.Conflict || e.Field != "merchant_customer_id" {
		t.Fatalf("duplicate mcid: got %v", err)
	}
	got, err := f.Svc.FindProfile(ctx, f.Principal, "merchant_customer_id", "mcid-1", "")
	if err != nil || got.ID != p.ID {
		t.Fatalf("FindProfile = %v, %v", got, err)
	}
	// After a delete the id is free again.
	if err := f.Svc.DeleteProfile(ctx, f.Principal, p.ID, vault.Cascade); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Svc.GetProfile(ctx, f.Principal, p.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("deleted profile: got %v, want NotFound", err)
	}
	mustProfile(t, f, "mcid-1")
	// Updates keep identity fields and see uniqueness.
	q := mustProfile(t, f, "mcid-2")
	_, err = f.Svc.UpdateProfile(ctx, f.Principal, q.ID, func(p *vault.Profile) error { p.MerchantCustomerID = "mcid-1"; return nil })
	if vault.KindOf(err) != vault.Conflict {
		t.Errorf("update to taken mcid: got %v", err)
	}
	up, err := f.Svc.UpdateProfile(ctx, f.Principal, q.ID, func(p *vault.Profile) error { p.Token = "Pxxx"; p.LastName = "Doe"; return nil })
	if err != nil || up.Token != q.Token || up.LastName != "Doe" || up.Modified.IsZero() {
		t.Errorf("update = %+v, %v", up, err)
	}
}

func mustCard(tb testing.TB, f *Fixture, profileID, pan string, opt vault.CreateOptions) *vault.Instrument {
	tb.Helper()
	in, err := f.Svc.CreateInstrument(context.Background(), f.Principal,
		&vault.Instrument{Kind: vault.KindCard, ProfileID: profileID, HolderName: "JO"},
		vault.Source{Number: pan, Expiry: card.Expiry{Month: 12, Year: 2040}}, opt)
	if err != nil {
		tb.Fatalf("CreateInstrument: %v", err)
	}
	return in
}

func testCardLifecycle(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "c1")
	in := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{})
	want := struct{ BIN, Last4, Brand, Status, SCS string }{"411111", "1111", "visa", "ACTIVE", "UNVERIFIED"}
	got := struct{ BIN, Last4, Brand, Status, SCS string }{in.BIN, in.LastFour, in.Brand, in.Status, in.StoredCredentialStatus}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if !in.DefaultCard || in.Token[0] != 'C' {
		t.Errorf("first card should be default with a C token: %+v", in)
	}
	stored, err := f.Svc.GetInstrument(ctx, f.Principal, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	pan, err := f.Svc.RevealNumber(stored)
	if err != nil || pan != "4111111111111111" {
		t.Fatalf("RevealNumber = %q, %v", pan, err)
	}
	up, err := f.Svc.UpdateInstrument(ctx, f.Principal, in.ID, func(i *vault.Instrument) error { i.ExpYear = 2041; i.NickName = "n"; return nil }, vault.SecretUpdate{})
	if err != nil || up.ExpYear != 2041 || up.Token != in.Token {
		t.Fatalf("update = %+v, %v", up, err)
	}
	// Only SetCardVerified changes the stored-credential status: an update from a copy read
	// before the mark (a card update racing an approval) leaves it.
	if err := f.Store.Write(ctx, func(tx vault.Tx) error { return f.Svc.MarkCardVerified(ctx, tx, f.Creds.MerchantID, in.ID) }); err != nil {
		t.Fatal(err)
	}
	stale := *up
	stale.NickName = "stale"
	if err := f.Store.Write(ctx, func(tx vault.Tx) error { return tx.UpdateInstrument(ctx, &stale) }); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Svc.GetInstrument(ctx, f.Principal, in.ID); err != nil || got.StoredCredentialStatus != "VERIFIED" || got.NickName != "stale" {
		t.Errorf("after a stale update: %+v, %v; want VERIFIED and the update", got, err)
	}
	// The token read with the profile's names: a card on a profile, one without, another
	// merchant's token.
	if got, c, err := f.Store.GetInstrumentByTokenWithCustomer(ctx, f.Creds.MerchantID, in.Token); err != nil || got.ID != in.ID ||
		got.Sealed.KeyID != in.Sealed.KeyID || c != (vault.Customer{FirstName: p.FirstName}) {
		t.Errorf("GetInstrumentByTokenWithCustomer = %+v, %+v, %v; want the card and %q", got, c, err, p.FirstName)
	}
	loose, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard},
		vault.Source{Number: "5555555555554444", Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, c, err := f.Store.GetInstrumentByTokenWithCustomer(ctx, f.Creds.MerchantID, loose.Token); err != nil || got.ID != loose.ID || c != (vault.Customer{}) {
		t.Errorf("GetInstrumentByTokenWithCustomer of a card without a profile = %+v, %+v, %v", got, c, err)
	}
	if _, _, err := f.Store.GetInstrumentByTokenWithCustomer(ctx, "other-merchant", in.Token); vault.KindOf(err) != vault.NotFound {
		t.Errorf("GetInstrumentByTokenWithCustomer of another merchant's token: %v", err)
	}
	if err := f.Svc.DeleteInstrument(ctx, f.Principal, in.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.Svc.DeleteInstrument(ctx, f.Principal, in.ID); vault.KindOf(err) != vault.Gone {
		t.Errorf("second delete: got %v, want Gone", err)
	}
	if _, err := f.Store.GetInstrumentByToken(ctx, f.Creds.MerchantID, in.Token); vault.KindOf(err) != vault.NotFound {
		t.Errorf("deleted token still resolves: %v", err)
	}
	for _, tt := range []struct {
		name, pan string
		field     string
	}{
		{"fail/luhn", "4111111111111112", "number"},
		{"fail/letters", "4111x11111111111", "number"},
		{"fail/short", "41111", "number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
				vault.Source{Number: tt.pan, Expiry: card.Expiry{Month: 1, Year: 2040}}, vault.CreateOptions{})
			if e := vault.AsError(err); e == nil || e.Kind != vault.Invalid || e.Field != tt.field {
				t.Errorf("got %v", err)
			}
			if leaks := logtest.Leaks(err.Error(), []string{tt.pan}); len(leaks) > 0 {
				t.Errorf("the error string leaks %v", leaks)
			}
		})
	}
}

func testDuplicateCard(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "d1")
	first := mustCard(t, f, p.ID, "5200400000000009", vault.CreateOptions{CheckDuplicate: true})
	_, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
		vault.Source{Number: "5200400000000009", Expiry: card.Expiry{Month: 1, Year: 2039}}, vault.CreateOptions{CheckDuplicate: true})
	if e := vault.AsError(err); e == nil || e.Kind != vault.Conflict || e.ID != first.ID {
		t.Fatalf("duplicate: got %v", err)
	}
	// Another profile may hold the same number; without the check it is allowed too.
	mustCard(t, f, mustProfile(t, f, "d2").ID, "5200400000000009", vault.CreateOptions{CheckDuplicate: true})
	mustCard(t, f, p.ID, "5200400000000009", vault.CreateOptions{})

	// Racing creates of one number on one profile: exactly one wins.
	q := mustProfile(t, f, "d3")
	var ok, conflict atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: q.ID},
				vault.Source{Number: "4530910000012345", Expiry: card.Expiry{Month: 1, Year: 2039}}, vault.CreateOptions{CheckDuplicate: true})
			switch vault.KindOf(err) {
			case vault.Other:
				ok.Add(1)
			case vault.Conflict:
				conflict.Add(1)
			default:
				t.Errorf("racing create: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != 7 {
		t.Errorf("racing creates: %d ok, %d conflicts; want 1 and 7", ok.Load(), conflict.Load())
	}
}

func testDefaultCard(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "def")
	check := func(kind string, fps []string) (string, bool) {
		var dup string
		var has bool
		if err := f.Store.Write(ctx, func(tx vault.Tx) error {
			var err error
			dup, has, err = tx.CheckProfileInstruments(ctx, f.Creds.MerchantID, p.ID, kind, fps)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return dup, has
	}
	if loc, err := f.Store.GetProfileLocation(ctx, f.Creds.MerchantID, p.ID); err != nil || loc != p.LocationID {
		t.Errorf("GetProfileLocation = %q, %v; want %q", loc, err, p.LocationID)
	}
	if _, err := f.Store.GetProfileLocation(ctx, "other-merchant", p.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("GetProfileLocation of another merchant's profile: %v", err)
	}
	if err := f.Store.Write(ctx, func(tx vault.Tx) error {
		loc, err := tx.LockProfileLocation(ctx, f.Creds.MerchantID, p.ID)
		if err != nil || loc != p.LocationID {
			t.Errorf("LockProfileLocation = %q, %v; want %q", loc, err, p.LocationID)
		}
		if _, err := tx.LockProfileLocation(ctx, f.Creds.MerchantID, "nope"); vault.KindOf(err) != vault.NotFound {
			t.Errorf("LockProfileLocation of a missing profile: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if dup, has := check(vault.KindCard, []string{"fp"}); dup != "" || has {
		t.Errorf("an empty profile: dup %q, has %v", dup, has)
	}
	a := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{})
	if !a.DefaultCard {
		t.Error("a profile's first card is not its default")
	}
	if dup, has := check(vault.KindCard, []string{"other", a.Fingerprint}); dup != a.ID || !has {
		t.Errorf("after a card: dup %q, has %v; want %q, true", dup, has, a.ID)
	}
	if dup, has := check(vault.KindCard, nil); dup != "" || !has {
		t.Errorf("after a card, no fingerprints: dup %q, has %v; want \"\", true", dup, has)
	}
	if dup, has := check(vault.KindACH, []string{a.Fingerprint}); dup != "" || has {
		t.Errorf("bank accounts after a card: dup %q, has %v", dup, has)
	}
	b := mustCard(t, f, p.ID, "5200400000000009", vault.CreateOptions{})
	yes := true
	c := mustCard(t, f, p.ID, "3569990000000009", vault.CreateOptions{Default: &yes})
	defaults := func() []string { return DefaultCardIDs(t, f.Store, f.Creds.MerchantID, p.ID) }
	if d := cmp.Diff([]string{c.ID}, defaults()); d != "" {
		t.Errorf("after explicit default (-want +got)\n%s", d)
	}
	if b.DefaultCard {
		t.Error("second card became default")
	}
	if err := f.Svc.DeleteInstrument(ctx, f.Principal, c.ID); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{a.ID}, defaults()); d != "" {
		t.Errorf("after deleting the default, the oldest card takes over (-want +got)\n%s", d)
	}
}

func testSealedAtRest(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "s1")
	in := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{})
	stored, err := f.Store.GetInstrument(ctx, f.Creds.MerchantID, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Sealed.Number) == 0 || stored.Sealed.KeyID == 0 {
		t.Fatalf("no ciphertext stored: %+v", stored.Sealed)
	}
	if id, _ := keys.KeyID(stored.Sealed.Number); id != stored.Sealed.KeyID {
		t.Errorf("dek_id %d does not match the ciphertext's key id %d", stored.Sealed.KeyID, id)
	}
	// A ciphertext copied to another record does not open there.
	other := mustCard(t, f, p.ID, "5200400000000009", vault.CreateOptions{})
	o2, _ := f.Store.GetInstrument(ctx, f.Creds.MerchantID, other.ID)
	o2.Sealed.Number = stored.Sealed.Number
	if _, err := f.Svc.RevealNumber(o2); err == nil {
		t.Error("a ciphertext moved to another record opened")
	}
}

func testTokenConsumedOnce(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{
		Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := mustProfile(t, f, "t1")
	var ok, bad atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
				vault.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}, vault.CreateOptions{})
			if err == nil {
				ok.Add(1)
			} else if e := vault.AsError(err); e != nil && e.Kind == vault.Invalid && e.Field == "token" {
				bad.Add(1)
			} else {
				t.Errorf("consume: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || bad.Load() != 5 {
		t.Errorf("token used %d times, refused %d; want 1 and 5", ok.Load(), bad.Load())
	}
	got, err := f.Store.GetOneTimeToken(ctx, f.Creds.MerchantID, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Consumed.IsZero() || got.Sealed.CVV != nil {
		t.Errorf("consumed token keeps its CVV or is unmarked: consumed=%v cvv=%d bytes", got.Consumed, len(got.Sealed.CVV))
	}
	// Sweeping removes expired tokens.
	later := vault.NewService(f.Store, f.Keys, nil, vault.Config{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	n, err := later.SweepTokens(ctx)
	if err != nil || n < 1 {
		t.Errorf("sweep = %d, %v", n, err)
	}
	// The store may delete a chunk a write; the sweep goes on until none is left.
	const many = 2345
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := f.Store.Write(ctx, func(tx vault.Tx) error {
		for i := range many {
			if err := tx.InsertOneTimeToken(ctx, &vault.OneTimeToken{ID: vault.NewID(), MerchantID: f.Creds.MerchantID,
				LocationID: f.Principal.Merchant.DefaultLocationID, Token: token.New(token.SUTCard), Kind: vault.TokenCard,
				Created: now, Expires: now.Add(time.Duration(i) * time.Millisecond)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := later.SweepTokens(ctx); err != nil || n != many {
		t.Errorf("sweep of %d expired tokens = %d, %v", many, n, err)
	}
}

func testWriteRollsBack(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	boom := errors.New("boom")
	err := f.Store.Write(ctx, func(tx vault.Tx) error {
		if err := tx.SetSetting(ctx, "rollback-probe", "x"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write returned %v, want the callback's error", err)
	}
	if _, err := f.Store.GetSetting(ctx, "rollback-probe"); vault.KindOf(err) != vault.NotFound {
		t.Errorf("a failed Write left data behind: %v", err)
	}
}

func testList(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 7; i++ {
		p, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: fmt.Sprintf("L%d", i), LastName: fmt.Sprintf("Name%d", i%3), Email: fmt.Sprintf("u%d@Example.com", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
		time.Sleep(2 * time.Millisecond)
	}
	got, total, err := f.Store.ListProfiles(ctx, f.Creds.MerchantID, vault.Query{Limit: 3, Offset: 3})
	if err != nil {
		t.Fatal(err)
	}
	if total != 7 || len(got) != 3 || got[0].ID != ids[3] {
		t.Errorf("page 2 of id desc: total %d, len %d", total, len(got))
	}
	_, total, _ = f.Store.ListProfiles(ctx, f.Creds.MerchantID, vault.Query{Filters: []vault.Filter{{Field: "last_name", Op: vault.OpIn, Values: []string{"Name0", "Name1"}}}})
	if total != 5 {
		t.Errorf("IN filter: total %d, want 5", total)
	}
	_, total, _ = f.Store.ListProfiles(ctx, f.Creds.MerchantID, vault.Query{Filters: []vault.Filter{{Field: "email", Op: vault.OpContains, Values: []string{"EXAMPLE"}}}})
	if total != 7 {
		t.Errorf("contains filter: total %d, want 7", total)
	}
	_, total, _ = f.Store.ListProfiles(ctx, f.Creds.MerchantID, vault.Query{Filters: []vault.Filter{{Field: "email", Op: vault.OpContains, Values: []string{"%"}}}})
	if total != 0 {
		t.Errorf("a %% in a contains filter is literal: total %d", total)
	}
	asc, _, _ := f.Store.ListProfiles(ctx, f.Creds.MerchantID, vault.Query{Sort: []vault.SortKey{{Field: "last_name"}, {Field: "created_at"}}})
	if asc[0].LastName != "Name0" || asc[len(asc)-1].LastName != "Name2" {
		t.Errorf("sort by last_name asc: first %q last %q", asc[0].LastName, asc[len(asc)-1].LastName)
	}
	// Another merchant sees none of them.
	other, err := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	_, total, _ = f.Store.ListProfiles(ctx, other.MerchantID, vault.Query{})
	if total != 0 {
		t.Errorf("other merchant lists %d profiles", total)
	}
}

func testKeysetCAS(t *testing.T, open Opener) {
	st := open(t)
	ctx := context.Background()
	if _, _, err := st.LoadKeyset(ctx, "x"); !errors.Is(err, keys.ErrNoKeyset) {
		t.Fatalf("missing keyset: %v", err)
	}
	if err := st.StoreKeyset(ctx, "x", []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	if err := st.StoreKeyset(ctx, "x", []byte("b"), 0); !errors.Is(err, keys.ErrKeysetConflict) {
		t.Errorf("second insert: %v", err)
	}
	if err := st.StoreKeyset(ctx, "x", []byte("c"), 1); err != nil {
		t.Fatal(err)
	}
	if err := st.StoreKeyset(ctx, "x", []byte("d"), 1); !errors.Is(err, keys.ErrKeysetConflict) {
		t.Errorf("stale update: %v", err)
	}
	blob, v, err := st.LoadKeyset(ctx, "x")
	if err != nil || string(blob) != "c" || v != 2 {
		t.Errorf("LoadKeyset = %q, %d, %v", blob, v, err)
	}
}

func testDeleteProfileCascade(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "casc")
	c := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{})
	bank, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindACH, ProfileID: p.ID, RoutingNumber: "123456789", AccountType: "CHECKING", HolderName: "X"},
		vault.Source{Number: "123456789"}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Svc.DeleteProfile(ctx, f.Principal, p.ID, vault.Cascade); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{c.Token, bank.Token} {
		if _, err := f.Store.GetInstrumentByToken(ctx, f.Creds.MerchantID, tok); vault.KindOf(err) != vault.NotFound {
			t.Errorf("token of a deleted profile still works: %v", err)
		}
	}
	// Detach keeps the instruments.
	q := mustProfile(t, f, "det")
	d := mustCard(t, f, q.ID, "4111111111111111", vault.CreateOptions{})
	if err := f.Svc.DeleteProfile(ctx, f.Principal, q.ID, vault.Detach); err != nil {
		t.Fatal(err)
	}
	got, err := f.Svc.GetInstrument(ctx, f.Principal, d.ID)
	if err != nil || !got.Active() || got.ProfileID != "" {
		t.Errorf("detached card = %+v, %v", got, err)
	}
}

func testProvisioning(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	lc, err := f.Svc.CreateLocation(ctx, mid, vault.NewLocation{Name: "Second"})
	if err != nil {
		t.Fatal(err)
	}
	loc := lc.Location
	if loc.DefaultCC == "" || loc.DefaultACH == "" || loc.AccountNumber == f.Creds.Paysafe.AccountNumber {
		t.Errorf("location = %+v", loc)
	}
	stored, err := f.Store.GetLocation(ctx, mid, loc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := f.Svc.RevealTicketHashKey(stored); err != nil || key != lc.TicketHashKey {
		t.Errorf("ticket hash key: %v", err)
	}
	if _, err := f.Svc.CreateLocation(ctx, mid, vault.NewLocation{Name: "Dup", AccountNumber: loc.AccountNumber}); vault.KindOf(err) != vault.Conflict {
		t.Errorf("duplicate account number: %v", err)
	}
	pt, err := f.Svc.CreateProductTransaction(ctx, mid, vault.NewProductTransaction{LocationID: loc.ID, PaymentMethod: "cc", Title: "cc2", MakeDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := f.Store.GetLocation(ctx, mid, loc.ID); l.DefaultCC != pt.ID {
		t.Errorf("default cc = %s, want %s", l.DefaultCC, pt.ID)
	}
	u, key, err := f.Svc.CreateUser(ctx, mid, vault.NewUser{Username: "second", PrimaryLocationID: loc.ID})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Svc.AuthenticateUser(ctx, f.Creds.Fortis.DeveloperID, u.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	if p.CanReach(f.Creds.Fortis.LocationID) || !p.CanReach(loc.ID) {
		t.Errorf("user reach = %v", p.Allowed)
	}
	disabled := 0
	if _, err := f.Svc.UpdateUser(ctx, mid, u.ID, vault.UserUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Svc.AuthenticateUser(ctx, f.Creds.Fortis.DeveloperID, u.ID, key); vault.KindOf(err) != vault.Unauthenticated {
		t.Errorf("disabled user authenticates: %v", err)
	}
	// A location of another merchant is refused.
	other, _ := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "o"})
	if _, _, err := f.Svc.CreateUser(ctx, mid, vault.NewUser{Username: "x", PrimaryLocationID: other.Fortis.LocationID}); vault.KindOf(err) != vault.Invalid {
		t.Errorf("foreign location: %v", err)
	}
	origins, err := f.Svc.SetAllowedOrigins(ctx, mid, "", []string{"https://Shop.example.com", "https://shop.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"https://shop.example.com"}, origins); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	m, _ := f.Store.GetMerchant(ctx, mid)
	if !vault.OriginAllowed(m, nil, "https://shop.example.com") || vault.OriginAllowed(m, nil, "https://evil.example") {
		t.Error("origin check wrong")
	}
	if _, err := f.Svc.SetAllowedOrigins(ctx, mid, "", []string{"javascript:alert(1)"}); vault.KindOf(err) != vault.Invalid {
		t.Errorf("bad origin accepted: %v", err)
	}
}

// testProvisioningUniqueRace: a location api id and a username are unique per merchant,
// checked under the merchant's row lock (Tx.LockMerchant): of concurrent creates with one value,
// exactly one wins and the others are Conflict.
func testProvisioningUniqueRace(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	if err := f.Store.Write(ctx, func(tx vault.Tx) error {
		m, err := tx.LockMerchant(ctx, mid)
		if err != nil || m.ID != mid {
			t.Errorf("LockMerchant = %v, %v", m, err)
		}
		if _, err := tx.LockMerchant(ctx, "nope"); vault.KindOf(err) != vault.NotFound {
			t.Errorf("LockMerchant of a missing merchant: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	for _, tt := range []struct {
		name   string
		create func(i int) error
	}{
		{"location_api_id", func(int) error {
			_, err := f.Svc.CreateLocation(ctx, mid, vault.NewLocation{Name: "L", APIID: "race"})
			return err
		}},
		{"username", func(i int) error {
			_, _, err := f.Svc.CreateUser(ctx, mid, vault.NewUser{Username: []string{"Race", "race"}[i%2], PrimaryLocationID: f.Creds.Fortis.LocationID})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			kinds := map[string]int{}
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := tt.create(i)
					k := "ok"
					if err != nil {
						k = vault.KindOf(err).String()
						if f := vault.Fields(err); len(f) == 0 || f[0] != tt.name {
							t.Errorf("fields of %v = %v", err, f)
						}
					}
					mu.Lock()
					kinds[k]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if d := cmp.Diff(map[string]int{"ok": 1, "conflict": n - 1}, kinds); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// RunRekey tests re-encryption after data and fingerprint key rotations. The store must also
// implement vault.SealedStore.
func RunRekey(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	ss := f.Store.(vault.SealedStore)
	p := mustProfile(t, f, "rk")
	a := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{CheckDuplicate: true})
	oldKey := f.Keys.PrimaryKeyID()
	if _, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "5200400000000009", Expiry: card.Expiry{Month: 1, Year: 2040}, CVV: "123"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Keys.Rotate(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Keys.Rotate(ctx, "mac"); err != nil {
		t.Fatal(err)
	}
	// During the switch, duplicate detection still sees the card fingerprinted under the old key.
	_, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
		vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2041}}, vault.CreateOptions{CheckDuplicate: true})
	if vault.KindOf(err) != vault.Conflict {
		t.Fatalf("duplicate after MAC rotation: %v", err)
	}
	rk := vault.NewRekeyer(ss, f.Keys)
	rep, err := rk.Run(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rewritten < 3 || rep.Unreadable != 0 {
		t.Errorf("rekey = %+v, want at least 3 records rewritten (card, token, location), none unreadable", rep)
	}
	for _, table := range ss.SealedTables() {
		stale, err := ss.StaleSealed(ctx, table, f.Keys.PrimaryKeyID(), f.Keys.PrimaryMACKeyID(), "", 10)
		if err != nil || len(stale) != 0 {
			t.Errorf("%s: %d stale records left (%v)", table, len(stale), err)
		}
	}
	got, err := f.Svc.GetInstrument(ctx, f.Principal, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sealed.KeyID == oldKey {
		t.Error("card still under the old key")
	}
	if pan, err := f.Svc.RevealNumber(got); err != nil || pan != "4111111111111111" {
		t.Errorf("reveal after rekey: %v", err)
	}
	if vault.FingerprintKeyID(got.Fingerprint) == vault.FingerprintKeyID(a.Fingerprint) {
		t.Error("fingerprint still under the old MAC key")
	}
	// And duplicates are still found under the new key alone.
	_, err = f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
		vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2041}}, vault.CreateOptions{CheckDuplicate: true})
	if vault.KindOf(err) != vault.Conflict {
		t.Errorf("duplicate after rekey: %v", err)
	}
	if rep, err := rk.Run(ctx, 10); err != nil || rep.Rewritten != 0 {
		t.Errorf("second run rewrote %d (%v)", rep.Rewritten, err)
	}
}

// AuditStore is what the audit tests need beyond Store.
type AuditStore interface {
	SetAuditMAC(vault.AuditMAC)
	ListAudit(ctx context.Context, merchantID string, afterSeq int64, limit int) ([]vault.AuditRecord, error)
	VerifyAudit(ctx context.Context, mac vault.AuditMAC) ([]vault.AuditProblem, error)
}

// RunAudit checks that account-data and credential operations append to a per-merchant
// chain in their own transaction, that concurrent appends keep the chain whole, and that the
// chain verifies.
func RunAudit(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := vault.WithActor(context.Background(), "test:actor")
	as := f.Store.(AuditStore)
	as.SetAuditMAC(f.Keys)
	mid := f.Creds.MerchantID
	p := mustProfile(t, f, "au")
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
				vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}}, vault.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// A failed write leaves no audit record behind.
	_, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: "nope"},
		vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}}, vault.CreateOptions{})
	if err == nil {
		t.Fatal("create on a missing profile succeeded")
	}
	if err := f.Svc.DeleteProfile(ctx, f.Principal, p.ID, vault.Cascade); err != nil {
		t.Fatal(err)
	}
	recs, err := as.ListAudit(ctx, mid, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		count[r.Op]++
		if r.Op == vault.AuditAccountCreate && r.Actor != "test:actor" {
			t.Errorf("actor = %q", r.Actor)
		}
	}
	if count[vault.AuditAccountCreate] != 10 || count[vault.AuditAccountDelete] != 10 {
		t.Errorf("audit ops = %v", count)
	}
	problems, err := as.VerifyAudit(ctx, f.Keys)
	if err != nil || len(problems) != 0 {
		t.Errorf("VerifyAudit = %v, %v", problems, err)
	}
	// Another merchant's chain is separate.
	other, _ := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "o"})
	orecs, _ := as.ListAudit(ctx, other.MerchantID, 0, 100)
	if len(orecs) == 0 || orecs[0].Seq != 1 {
		t.Errorf("other merchant's chain = %v", orecs)
	}
}

// EraseStore crypto-erases account data past retention.
type EraseStore interface {
	EraseSealed(ctx context.Context, deletedBefore, txBefore time.Time, limit int) (int, error)
}

// RunErase checks that deleted instruments past retention lose their sealed data and keep
// their bookkeeping, and that live ones are untouched.
func RunErase(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	es := f.Store.(EraseStore)
	p := mustProfile(t, f, "er")
	gone := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{})
	live := mustCard(t, f, p.ID, "5200400000000009", vault.CreateOptions{})
	if err := f.Svc.DeleteInstrument(ctx, f.Principal, gone.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := es.EraseSealed(ctx, time.Now().Add(-time.Hour), time.Time{}, 100); err != nil || n != 0 {
		t.Fatalf("erase before retention: %d, %v", n, err)
	}
	n, err := es.EraseSealed(ctx, time.Now().Add(time.Hour), time.Time{}, 100)
	if err != nil || n != 1 {
		t.Fatalf("erase: %d, %v", n, err)
	}
	g, err := f.Store.GetInstrument(ctx, f.Creds.MerchantID, gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.Sealed.Number != nil || g.Sealed.KeyID != 0 || g.Fingerprint != "" || g.LastFour != "1111" || g.BIN != "411111" {
		t.Errorf("erased record = sealed %d bytes, key %d, fp %q, last4 %q", len(g.Sealed.Number), g.Sealed.KeyID, g.Fingerprint, g.LastFour)
	}
	l, _ := f.Store.GetInstrument(ctx, f.Creds.MerchantID, live.ID)
	if pan, err := f.Svc.RevealNumber(l); err != nil || pan != "5200400000000009" {
		t.Errorf("live card damaged: %v", err)
	}
	if n, _ := es.EraseSealed(ctx, time.Now().Add(time.Hour), time.Time{}, 100); n != 0 {
		t.Errorf("second erase touched %d", n)
	}
}

// DefaultCardIDs returns the ids of a profile's active cards marked as its default.
func DefaultCardIDs(tb testing.TB, st Store, merchantID, profileID string) []string {
	tb.Helper()
	cards, err := st.ListProfileInstruments(context.Background(), merchantID, profileID, vault.KindCard)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, in := range cards {
		if in.DefaultCard {
			ids = append(ids, in.ID)
		}
	}
	return ids
}
