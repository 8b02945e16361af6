package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/vault"
)

// testActiveInstrumentsAfter: vault.InstrumentPager pages through a merchant's active
// instruments in id order, page after page, leaving out deleted ones and other merchants'.
func testActiveInstrumentsAfter(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	pager, ok := f.Store.(vault.InstrumentPager)
	if !ok {
		t.Fatal("the store is not a vault.InstrumentPager")
	}
	var want []string
	for i, pan := range []string{"4111111111111111", "4012888888881881", "5555555555554444", "5105105105105100", "378282246310005"} {
		in := mustCard(t, f, "", pan, vault.CreateOptions{})
		if i == 2 {
			if err := f.Svc.DeleteInstrument(ctx, f.Principal, in.ID); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want = append(want, in.ID)
	}
	slices.Sort(want)
	other := MustFixture(t, func(testing.TB) Store { return f.Store })
	mustCard(t, other, "", "4111111111111111", vault.CreateOptions{})

	var got []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := pager.ListActiveInstrumentsAfter(ctx, f.Creds.MerchantID, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		for _, in := range page {
			if in.Sealed.Number == nil || in.MerchantID != f.Creds.MerchantID {
				t.Errorf("instrument %s: merchant %s, sealed number %d bytes", in.ID, in.MerchantID, len(in.Sealed.Number))
			}
			got = append(got, in.ID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ids (-want +got)\n%s", d)
	}
}

// mustFinderCards returns f's store as a vault.InstrumentFinder, and two cards it made.
func mustFinderCards(t *testing.T, f *Fixture) (vault.InstrumentFinder, *vault.Instrument, *vault.Instrument) {
	t.Helper()
	finder, ok := f.Store.(vault.InstrumentFinder)
	if !ok {
		t.Fatal("the store is not a vault.InstrumentFinder")
	}
	return finder, mustCard(t, f, "", "4111111111111111", vault.CreateOptions{}), mustCard(t, f, "", "4012888888881881", vault.CreateOptions{})
}

// testFindInstruments: vault.InstrumentFinder finds a merchant's instruments by token or id,
// deleted ones too, each once, and never another merchant's.
func testFindInstruments(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	finder, a, b := mustFinderCards(t, f)
	c := mustCard(t, f, "", "5555555555554444", vault.CreateOptions{})
	if err := f.Svc.DeleteInstrument(ctx, f.Principal, b.ID); err != nil {
		t.Fatal(err)
	}
	other := MustFixture(t, func(testing.TB) Store { return f.Store })
	o := mustCard(t, other, "", "4111111111111111", vault.CreateOptions{})

	got, err := finder.FindInstruments(ctx, f.Creds.MerchantID, []string{a.Token, b.Token, o.Token, "Cnosuchtoken000"}, []string{a.ID, b.ID, o.ID, "no-such-id"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range got {
		ids = append(ids, in.ID)
		if in.Sealed.Number == nil || in.Fingerprint == "" {
			t.Errorf("instrument %s lacks its sealed number or fingerprint", in.ID)
		}
	}
	slices.Sort(ids)
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("ids (-want +got)\n%s", d)
	}
	if got, err := finder.FindInstruments(ctx, f.Creds.MerchantID, nil, []string{c.ID}); err != nil || len(got) != 1 || got[0].Token != c.Token {
		t.Errorf("by id only: %v %v", got, err)
	}
	if got, err := finder.FindInstruments(ctx, f.Creds.MerchantID, nil, nil); err != nil || len(got) != 0 {
		t.Errorf("nothing asked: %v %v", got, err)
	}
}

// testFindHolders: vault.InstrumentFinder finds the instruments, profiles and addresses of
// any merchant holding a token or an id (unique in the whole store), deleted ones too, each
// once, with their merchant; it refuses another table, and a token of an address.
func testFindHolders(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	finder, a, b := mustFinderCards(t, f)
	if err := f.Svc.DeleteInstrument(ctx, f.Principal, b.ID); err != nil {
		t.Fatal(err)
	}
	p := mustProfile(t, f, "holder")
	gone := mustProfile(t, f, "gone")
	if err := f.Svc.DeleteProfile(ctx, f.Principal, gone.ID, vault.Cascade); err != nil {
		t.Fatal(err)
	}
	other := MustFixture(t, func(testing.TB) Store { return f.Store })
	o := mustCard(t, other, "", "4111111111111111", vault.CreateOptions{})
	op := mustProfile(t, other, "holder")
	ad, err := other.Svc.CreateAddress(ctx, other.Principal, op.ID, &vault.Address{Country: "US"}, vault.AddressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	me, them := f.Creds.MerchantID, other.Creds.MerchantID

	tests := []struct {
		name, table string
		tokens, ids []string
		want        []vault.Holder
	}{
		{"ok/instruments", "instruments", []string{a.Token, o.Token, "Cnosuchtoken000"}, []string{a.ID, b.ID, "no-such-id"}, []vault.Holder{
			{ID: a.ID, Token: a.Token, MerchantID: me}, {ID: b.ID, Token: b.Token, MerchantID: me, Deleted: true}, {ID: o.ID, Token: o.Token, MerchantID: them}}},
		{"ok/profiles", "profiles", []string{op.Token}, []string{p.ID, gone.ID, "no-such-id"}, []vault.Holder{
			{ID: p.ID, Token: p.Token, MerchantID: me}, {ID: gone.ID, Token: gone.Token, MerchantID: me, Deleted: true}, {ID: op.ID, Token: op.Token, MerchantID: them}}},
		{"ok/addresses", "addresses", nil, []string{ad.ID, "no-such-id"}, []vault.Holder{{ID: ad.ID, MerchantID: them, ProfileID: op.ID}}},
		{"ok/nothing-asked", "profiles", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := finder.FindHolders(ctx, tt.table, tt.tokens, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			byID := func(a, b vault.Holder) int { return strings.Compare(a.ID, b.ID) }
			slices.SortFunc(got, byID)
			slices.SortFunc(tt.want, byID)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
	for name, table := range map[string]string{"fail/other-table": "mandates", "fail/address-token": "addresses"} {
		t.Run(name, func(t *testing.T) {
			if _, err := finder.FindHolders(ctx, table, []string{"Cnosuchtoken000"}, nil); vault.KindOf(err) != vault.Invalid {
				t.Errorf("err = %v, want Invalid", err)
			}
		})
	}
}

// testMandatesOfPage: vault.InstrumentPager lists the mandates of a page of instruments in one
// call, by instrument and oldest first, never another merchant's; vault.InstrumentFinder
// finds mandates by token or id across merchants, each once.
func testMandatesOfPage(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	pager, ok := f.Store.(vault.InstrumentPager)
	finder, ok2 := f.Store.(vault.InstrumentFinder)
	if !ok || !ok2 {
		t.Fatal("the store is not a vault.InstrumentPager and a vault.InstrumentFinder")
	}
	p := mustProfile(t, f, "page")
	bacs, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindBACS, ProfileID: p.ID, SortCode: "207405", HolderName: "S"},
		vault.Source{Number: "12345678"}, vault.CreateOptions{Mandates: []string{"B1"}})
	if err != nil {
		t.Fatal(err)
	}
	sepa, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindSEPA, ProfileID: p.ID, HolderName: "S"},
		vault.Source{Number: "DE89370400440532013000"}, vault.CreateOptions{Mandates: []string{"S1", "S2"}})
	if err != nil {
		t.Fatal(err)
	}
	other := MustFixture(t, func(testing.TB) Store { return f.Store })
	op := mustProfile(t, other, "page")
	o, err := other.Svc.CreateInstrument(ctx, other.Principal, &vault.Instrument{Kind: vault.KindSEPA, ProfileID: op.ID, HolderName: "S"},
		vault.Source{Number: "DE89370400440532013000"}, vault.CreateOptions{Mandates: []string{"O1"}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := pager.ListMandatesOf(ctx, f.Creds.MerchantID, []string{bacs.ID, sepa.ID, o.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range list {
		got = append(got, m.InstrumentID+" "+m.Reference)
	}
	want := []string{bacs.ID + " B1", sepa.ID + " S1", sepa.ID + " S2"}
	if bacs.ID > sepa.ID {
		want = append(want[1:], want[0])
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("mandates of the page (-want +got)\n%s", d)
	}

	om, err := f.Store.ListMandates(ctx, other.Creds.MerchantID, o.ID)
	if err != nil || len(om) != 1 {
		t.Fatalf("the other merchant's mandates: %v %v", om, err)
	}
	found, err := finder.FindMandates(ctx, []string{list[0].Token, om[0].Token, "Mnosuchtoken000"}, []string{list[0].ID, list[1].ID, "no-such-id"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range found {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	wantIDs := []string{list[0].ID, list[1].ID, om[0].ID}
	slices.Sort(wantIDs)
	if d := cmp.Diff(wantIDs, ids); d != "" {
		t.Errorf("found mandates (-want +got)\n%s", d)
	}
	if got, err := finder.FindMandates(ctx, nil, nil); err != nil || len(got) != 0 {
		t.Errorf("nothing asked: %v %v", got, err)
	}
}
