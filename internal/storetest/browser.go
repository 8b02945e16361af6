package storetest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

func testAuthenticateBrowser(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	c := f.Creds.Fortis
	now := f.Svc.Now().Unix()
	stamp := func(d int64) string { return strconv.FormatInt(now+d, 10) }
	hash := func(ts string) string { return vault.BrowserHashKey(c.TicketHashKey, c.LocationAPIKey, ts) }
	other, err := f.Svc.CreateLocation(ctx, f.Creds.MerchantID, vault.NewLocation{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		apiKey, ts, hashK string
		want              vault.Kind
	}{
		{"ok", c.LocationAPIKey, stamp(0), hash(stamp(0)), vault.Other},
		{"ok/upper-case-hex", c.LocationAPIKey, stamp(0), strings.ToUpper(hash(stamp(0))), vault.Other},
		{"ok/edge-of-window", c.LocationAPIKey, stamp(-890), hash(stamp(-890)), vault.Other},
		{"fail/too-old", c.LocationAPIKey, stamp(-1000), hash(stamp(-1000)), vault.Unauthenticated},
		{"fail/future", c.LocationAPIKey, stamp(1000), hash(stamp(1000)), vault.Unauthenticated},
		{"fail/wrong-hash", c.LocationAPIKey, stamp(0), hash(stamp(1)), vault.Unauthenticated},
		{"fail/other-location-key", other.Location.APIKey, stamp(0), hash(stamp(0)), vault.Unauthenticated},
		{"fail/unknown-key", "nope", stamp(0), hash(stamp(0)), vault.Unauthenticated},
		{"fail/bad-timestamp", c.LocationAPIKey, "soon", hash("soon"), vault.Unauthenticated},
		{"fail/empty", "", "", "", vault.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.Svc.AuthenticateBrowser(ctx, tt.apiKey, tt.ts, tt.hashK)
			if got := vault.KindOf(err); got != tt.want {
				t.Fatalf("kind = %v, want %v (%v)", got, tt.want, err)
			}
			if err != nil {
				return
			}
			got := struct{ Kind, Location, Merchant string }{p.Kind, p.Location, p.MerchantID()}
			want := struct{ Kind, Location, Merchant string }{"browser", c.LocationID, f.Creds.MerchantID}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if !p.CanReach(c.LocationID) || p.CanReach(other.Location.ID) {
				t.Errorf("browser principal reaches %v", p.Allowed)
			}
		})
	}
	// A ticket made through the browser principal lands in its location.
	p, err := f.Svc.AuthenticateBrowser(ctx, c.LocationAPIKey, stamp(0), hash(stamp(0)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.Svc.CreateOneTimeToken(ctx, p, vault.NewOneTimeToken{Kind: vault.TokenTicket, Number: "5454545454545454",
		Expiry: card.Expiry{Month: 12, Year: 2028}, CVV: "999"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.LocationID != c.LocationID || tok.Token != tok.ID || tok.Expires.Sub(tok.Created) != 15*time.Minute {
		t.Errorf("ticket = %+v", tok)
	}
}

func testListInstruments(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	mk := func(pan string, m, y int) *vault.Instrument {
		t.Helper()
		in, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard},
			vault.Source{Number: pan, Expiry: card.Expiry{Month: m, Year: y}}, vault.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	visa := mk("4111111111111111", 9, 2019)
	mc := mk("5454545454545454", 12, 2028)
	amex := mk("371449635398431", 1, 2030)
	ach, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindACH, RoutingNumber: "072000326", AccountType: "SAVINGS", HolderName: "X"},
		vault.Source{Number: "700953657"}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(q vault.Query) []string {
		t.Helper()
		got, total, err := f.Store.ListInstruments(ctx, mid, q)
		if err != nil {
			t.Fatal(err)
		}
		if total < len(got) {
			t.Errorf("total %d < %d rows", total, len(got))
		}
		var out []string
		for _, in := range got {
			out = append(out, in.ID)
		}
		return out
	}
	tests := []struct {
		name string
		q    vault.Query
		want []string
	}{
		{"ok/exp-mmyy-filter", vault.Query{Filters: []vault.Filter{{Field: "exp_mmyy", Op: vault.OpIn, Values: []string{"919", "1228"}}}}, []string{mc.ID, visa.ID}},
		{"ok/exp-mmyy-sort", vault.Query{Filters: []vault.Filter{{Field: "kind", Op: vault.OpIn, Values: []string{"card"}}}, Sort: []vault.SortKey{{Field: "exp_mmyy"}}}, []string{amex.ID, visa.ID, mc.ID}},
		{"ok/brand-or-type", vault.Query{Filters: []vault.Filter{{Field: "brand_or_account_type", Op: vault.OpIn, Values: []string{"MASTERCARD", "savings"}}}}, []string{ach.ID, mc.ID}},
		{"ok/brand-or-type-sort", vault.Query{Sort: []vault.SortKey{{Field: "brand_or_account_type", Desc: true}}}, []string{visa.ID, ach.ID, mc.ID, amex.ID}},
		{"ok/id-folds-case", vault.Query{Filters: []vault.Filter{{Field: "id", Op: vault.OpIn, Values: []string{strings.ToUpper(amex.ID)}}}}, []string{amex.ID}},
		{"ok/bin-never-matches-bank", vault.Query{Filters: []vault.Filter{{Field: "bin", Op: vault.OpIn, Values: []string{"700953"}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, ids(tt.q)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
	if err := f.Svc.DeleteInstrument(ctx, f.Principal, visa.ID); err != nil {
		t.Fatal(err)
	}
	deleted := vault.Query{Filters: []vault.Filter{{Field: "active", Op: vault.OpIn, Values: []string{"0"}}}}
	if d := cmp.Diff([]string{visa.ID}, ids(deleted)); d != "" {
		t.Errorf("active=0 (-want +got)\n%s", d)
	}
}
