package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func testAddresses(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "addr")
	yes, no := true, false
	a, err := f.Svc.CreateAddress(ctx, f.Principal, p.ID, &vault.Address{Country: "CA", City: "Toronto"}, vault.AddressOptions{DefaultShipping: &yes})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Svc.CreateAddress(ctx, f.Principal, p.ID, &vault.Address{Country: "US"}, vault.AddressOptions{DefaultShipping: &yes})
	if err != nil {
		t.Fatal(err)
	}
	defaults := func() []string {
		list, err := f.Svc.ListAddresses(ctx, f.Principal, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range list {
			if x.DefaultShipping {
				ids = append(ids, x.ID)
			}
		}
		return ids
	}
	if d := cmp.Diff([]string{b.ID}, defaults()); d != "" {
		t.Errorf("one default shipping address (-want +got)\n%s", d)
	}
	// Absent leaves the flag alone; false clears it on this address only.
	up, err := f.Svc.UpdateAddress(ctx, f.Principal, p.ID, b.ID, func(x *vault.Address) error { x.City = "Boston"; x.ID = "forged"; return nil }, vault.AddressOptions{})
	if err != nil || up.City != "Boston" || up.ID != b.ID || !up.DefaultShipping {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if _, err := f.Svc.UpdateAddress(ctx, f.Principal, p.ID, b.ID, func(*vault.Address) error { return nil }, vault.AddressOptions{DefaultShipping: &no}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string(nil), defaults()); d != "" {
		t.Errorf("cleared (-want +got)\n%s", d)
	}
	// Deleting a billing address unlinks it from cards.
	c, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID, BillingAddressID: a.ID},
		vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Svc.DeleteAddress(ctx, f.Principal, p.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := f.Svc.GetInstrument(ctx, f.Principal, c.ID)
	if got.BillingAddressID != "" {
		t.Errorf("card still links the deleted address")
	}
	// Another profile's address, or another merchant's profile, is not found.
	q := mustProfile(t, f, "addr2")
	if _, err := f.Svc.GetAddress(ctx, f.Principal, q.ID, b.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("address through another profile: %v", err)
	}
	other := mustOtherPrincipal(t, f)
	if _, err := f.Svc.GetAddress(ctx, other, p.ID, b.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("address of another merchant: %v", err)
	}
	if _, err := f.Svc.CreateAddress(ctx, other, p.ID, &vault.Address{Country: "US"}, vault.AddressOptions{}); vault.KindOf(err) != vault.NotFound {
		t.Errorf("create on another merchant's profile: %v", err)
	}
	if err := f.Svc.DeleteAddress(ctx, other, p.ID, b.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("delete of another merchant's address: %v", err)
	}
}

// mustOtherPrincipal creates a second merchant and returns its server principal.
func mustOtherPrincipal(tb testing.TB, f *Fixture) *vault.Principal {
	tb.Helper()
	ctx := context.Background()
	c, err := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "Other"})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := f.Svc.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func testMandates(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	clk := &clock{now: time.Date(2030, 5, 1, 10, 0, 0, 0, time.UTC)}
	svc := vault.NewService(f.Store, f.Keys, nil, vault.Config{Now: clk.Now, BACSMandateActivation: time.Hour})
	p := mustProfile(t, f, "mand")
	bacs, err := svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindBACS, ProfileID: p.ID, SortCode: "20-74-05", HolderName: "S"},
		vault.Source{Number: "12345678"}, vault.CreateOptions{Mandates: []string{"SUBSCRIP45"}})
	if err != nil {
		t.Fatal(err)
	}
	sepa, err := svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindSEPA, ProfileID: p.ID, HolderName: "S"},
		vault.Source{Number: "DE89370400440532013000"}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inline, err := svc.ListMandates(ctx, f.Principal, bacs.ID)
	if err != nil || len(inline) != 1 || inline[0].Status != vault.MandatePending || inline[0].Reference != "SUBSCRIP45" {
		t.Fatalf("inline mandates = %+v, %v", inline, err)
	}
	s, err := svc.CreateMandate(ctx, f.Principal, p.ID, sepa.ID, "REF123")
	if err != nil || s.Status != vault.MandateActive || s.Token[0] != 'M' {
		t.Fatalf("SEPA mandate = %+v, %v", s, err)
	}
	// The BACS mandate turns ACTIVE lazily, an hour after creation.
	m := inline[0]
	clk.Add(59 * time.Minute)
	if got, _ := svc.GetMandate(ctx, f.Principal, p.ID, m.ID); got.Status != vault.MandatePending {
		t.Errorf("after 59 min: %s", got.Status)
	}
	clk.Add(2 * time.Minute)
	got, err := svc.GetMandate(ctx, f.Principal, p.ID, m.ID)
	if err != nil || got.Status != vault.MandateActive || !got.StatusChanged.Equal(m.Created.Add(time.Hour)) {
		t.Fatalf("after 61 min: %+v, %v", got, err)
	}
	// The operator moves it on; final states stay final; cancelling twice is a no-op.
	if got, err = svc.SetMandateStatus(ctx, m.ID, "DISPUTED", "", "DISPUTED"); err != nil || got.Status != vault.MandateDisputed {
		t.Fatalf("operator: %+v, %v", got, err)
	}
	if _, err = svc.SetMandateStatus(ctx, m.ID, "PENDING", "", ""); vault.KindOf(err) != vault.Invalid {
		t.Errorf("DISPUTED -> PENDING: %v", err)
	}
	c, err := svc.CancelMandate(ctx, f.Principal, p.ID, m.ID)
	if err != nil || c.Status != vault.MandateCancelled || c.StatusReason != vault.MandateMerchantCancelled {
		t.Fatalf("cancel = %+v, %v", c, err)
	}
	if again, err := svc.CancelMandate(ctx, f.Principal, p.ID, m.ID); err != nil || !again.StatusChanged.Equal(c.StatusChanged) {
		t.Errorf("second cancel = %+v, %v", again, err)
	}
	if _, err = svc.SetMandateStatus(ctx, m.ID, "ACTIVE", "", ""); vault.KindOf(err) != vault.Invalid {
		t.Errorf("out of CANCELLED: %v", err)
	}
	// A rejected mandate cannot be cancelled.
	r, _ := svc.CreateMandate(ctx, f.Principal, p.ID, bacs.ID, "R2")
	if _, err := svc.SetMandateStatus(ctx, r.ID, "REJECTED", "", "REJECTED"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CancelMandate(ctx, f.Principal, p.ID, r.ID); vault.KindOf(err) != vault.Invalid {
		t.Errorf("cancel of REJECTED: %v", err)
	}
	// Profile scoping and tenancy.
	q := mustProfile(t, f, "mand2")
	if _, err := svc.GetMandate(ctx, f.Principal, q.ID, m.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("mandate through another profile: %v", err)
	}
	if _, err := svc.CreateMandate(ctx, f.Principal, q.ID, bacs.ID, "X"); vault.KindOf(err) != vault.NotFound {
		t.Errorf("mandate on another profile's account: %v", err)
	}
	other := mustOtherPrincipal(t, f)
	if _, err := svc.GetMandate(ctx, other, p.ID, m.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("mandate of another merchant: %v", err)
	}
	if _, err := svc.CreateMandate(ctx, f.Principal, p.ID, bacs.ID, " "); vault.KindOf(err) != vault.Invalid {
		t.Errorf("empty reference: %v", err)
	}
	// Deleting the mandate, then the account, removes them.
	if err := svc.DeleteMandate(ctx, f.Principal, p.ID, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetMandate(ctx, f.Principal, p.ID, s.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("deleted mandate: %v", err)
	}
	if err := svc.DeleteInstrument(ctx, f.Principal, bacs.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetMandate(ctx, f.Principal, p.ID, r.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("mandate of a deleted account: %v", err)
	}
}

func testUpdateDefaultCard(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "upd")
	a := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{})
	b := mustCard(t, f, p.ID, "5200400000000009", vault.CreateOptions{})
	yes, no := true, false
	up, err := f.Svc.UpdateInstrumentWith(ctx, f.Principal, b.ID, func(in *vault.Instrument) error { in.NickName = "b"; return nil }, vault.SecretUpdate{}, vault.UpdateOptions{Default: &yes})
	if err != nil || !up.DefaultCard {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if got, _ := f.Svc.GetInstrument(ctx, f.Principal, a.ID); got.DefaultCard {
		t.Error("the old default card kept its flag")
	}
	up, err = f.Svc.UpdateInstrumentWith(ctx, f.Principal, b.ID, func(*vault.Instrument) error { return nil }, vault.SecretUpdate{}, vault.UpdateOptions{Default: &no})
	if err != nil || up.DefaultCard {
		t.Fatalf("clear = %+v, %v", up, err)
	}
	if got, _ := f.Svc.GetInstrument(ctx, f.Principal, b.ID); got.DefaultCard {
		t.Error("the cleared flag was not stored")
	}
}

func testDeleteProfileRemovesAll(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "all")
	a, err := f.Svc.CreateAddress(ctx, f.Principal, p.ID, &vault.Address{Country: "GB"}, vault.AddressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bacs, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindBACS, ProfileID: p.ID, SortCode: "207405", HolderName: "S", BillingAddressID: a.ID},
		vault.Source{Number: "12345678"}, vault.CreateOptions{Mandates: []string{"M1"}})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := f.Store.ListMandates(ctx, f.Creds.MerchantID, bacs.ID)
	if err := f.Svc.DeleteProfile(ctx, f.Principal, p.ID, vault.Cascade); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.GetAddress(ctx, f.Creds.MerchantID, p.ID, a.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("address survived: %v", err)
	}
	if _, err := f.Store.GetMandate(ctx, f.Creds.MerchantID, ms[0].ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("mandate survived: %v", err)
	}
	if _, err := f.Store.GetInstrumentByToken(ctx, f.Creds.MerchantID, bacs.Token); vault.KindOf(err) != vault.NotFound {
		t.Errorf("bank token still works: %v", err)
	}
}
