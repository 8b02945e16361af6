package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// testUnstorableText checks that text no database column can hold (a NUL, invalid UTF-8),
// which clients can put into URLs and headers, reads as "no such record" on every engine
// (never an internal error). Writes of such text are refused by the APIs' decoders.
func testUnstorableText(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	if _, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "plain", LastName: "Smith"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x00", "a\x00b", "\xff", "\xc3", "a\xffb\x00"} {
		lookups := []struct {
			name string
			err  func() error
			want vault.Kind
		}{
			{"GetProfile", func() error { _, err := f.Store.GetProfile(ctx, mid, bad); return err }, vault.NotFound},
			{"GetProfileBy", func() error {
				_, err := f.Store.GetProfileBy(ctx, mid, "merchant_customer_id", bad, "")
				return err
			}, vault.NotFound},
			{"GetInstrument", func() error { _, err := f.Store.GetInstrument(ctx, mid, bad); return err }, vault.NotFound},
			{"GetInstrumentByToken", func() error { _, err := f.Store.GetInstrumentByToken(ctx, mid, bad); return err }, vault.NotFound},
			{"GetLocationByAccount", func() error { _, err := f.Store.GetLocationByAccount(ctx, bad); return err }, vault.NotFound},
			{"GetLocationByAPIKey", func() error { _, err := f.Store.GetLocationByAPIKey(ctx, bad); return err }, vault.NotFound},
			{"GetMerchant", func() error { _, err := f.Store.GetMerchant(ctx, bad); return err }, vault.NotFound},
			{"AuthenticateAPIKey", func() error { _, err := f.Svc.AuthenticateAPIKey(ctx, bad, "secret"); return err }, vault.Unauthenticated},
			{"AuthenticateUser", func() error {
				_, err := f.Svc.AuthenticateUser(ctx, bad, f.Creds.Fortis.UserID, f.Creds.Fortis.UserAPIKey)
				return err
			}, vault.Unauthenticated},
			{"AuthenticateUser/user", func() error {
				_, err := f.Svc.AuthenticateUser(ctx, f.Creds.Fortis.DeveloperID, bad, f.Creds.Fortis.UserAPIKey)
				return err
			}, vault.Unauthenticated},
		}
		for _, l := range lookups {
			if got := vault.KindOf(l.err()); got != l.want {
				t.Errorf("%s(%q): kind %v, want %v", l.name, bad, got, l.want)
			}
		}
		for _, op := range []vault.FilterOp{vault.OpIn, vault.OpContains} {
			got, total, err := f.Store.ListProfiles(ctx, mid, vault.Query{Filters: []vault.Filter{{Field: "last_name", Op: op, Values: []string{bad}}}})
			if err != nil || total != 0 || len(got) != 0 {
				t.Errorf("ListProfiles(last_name %v %q) = %d, %d, %v; want nothing", op, bad, len(got), total, err)
			}
		}
		got, total, err := f.Store.ListProfiles(ctx, mid, vault.Query{Filters: []vault.Filter{{Field: "last_name", Op: vault.OpIn, Values: []string{bad, "Smith"}}}})
		if err != nil || total != 1 || len(got) != 1 {
			t.Errorf("ListProfiles(last_name IN (%q, Smith)) = %d, %d, %v; want the one", bad, len(got), total, err)
		}
	}
}

// testContainsUnicode checks that a contains filter matches case-insensitively whatever the
// letters (Fortis spec §1.6: "Free-text columns match case-insensitively anywhere in the
// value"): a name or title with É, Ó or ß is found by its text in upper, lower and mixed case,
// on every engine alike. Case is folded letter by letter (strings.ToLower and PostgreSQL's
// lower in a UTF-8 ctype), so ß is not "ss" and an accent still counts.
func testContainsUnicode(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	names := []string{"Ólafsson", "Olafsdottir", "ÉCOLE Straße", "Smith"}
	for i, n := range names {
		p, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: fmt.Sprintf("U%d", i), LastName: n})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID, HolderName: "JO", Title: n},
			vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, text string
		want       []string
	}{
		{"ok/upper-accent", "ÉCOLE", []string{"ÉCOLE Straße"}},
		{"ok/lower-accent", "école", []string{"ÉCOLE Straße"}},
		{"ok/mixed-accent", "éCoLe", []string{"ÉCOLE Straße"}},
		{"ok/sharp-s-lower", "straße", []string{"ÉCOLE Straße"}},
		{"ok/sharp-s-upper", "STRAßE", []string{"ÉCOLE Straße"}},
		{"ok/sharp-s-capital", "STRAẞE", []string{"ÉCOLE Straße"}},
		{"ok/o-acute-upper", "ÓLAF", []string{"Ólafsson"}},
		{"ok/o-acute-lower", "ólaf", []string{"Ólafsson"}},
		{"ok/o-acute-mixed", "Ólaf", []string{"Ólafsson"}},
		{"ok/whole-value", "école straße", []string{"ÉCOLE Straße"}},
		{"ok/ascii-in-unicode-value", "COLE", []string{"ÉCOLE Straße"}},
		{"ok/ascii", "OLAF", []string{"Olafsdottir"}},
		{"fail/accent-counts", "ecole", nil},
		{"fail/sharp-s-is-not-ss", "STRASSE", nil},
		{"fail/wildcard-is-literal", "é%", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			filter := func(field string) vault.Query {
				return vault.Query{Filters: []vault.Filter{{Field: field, Op: vault.OpContains, Values: []string{tt.text}}}}
			}
			ps, total, err := f.Store.ListProfiles(ctx, mid, filter("last_name"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.LastName)
			}
			if d := cmp.Diff(tt.want, got); d != "" || total != len(tt.want) {
				t.Errorf("profiles with last_name containing %q: total %d (-want +got)\n%s", tt.text, total, d)
			}
			ins, total, err := f.Store.ListInstruments(ctx, mid, filter("title"))
			if err != nil {
				t.Fatal(err)
			}
			got = nil
			for _, in := range ins {
				got = append(got, in.Title)
			}
			if d := cmp.Diff(tt.want, got); d != "" || total != len(tt.want) {
				t.Errorf("instruments with title containing %q: total %d (-want +got)\n%s", tt.text, total, d)
			}
		})
	}
}

// sortedTexts are values whose order differs between byte order and a linguistic collation
// (en-US puts "_x" first and "a" before "B", and "é" right after "e").
var sortedTexts = []string{"b", "B", "a", "A", "_x", "Z", "é", "e", "a b", "ab"}

// RunTextSort checks that a list sorted on a text column is in byte order (the order of
// Go's strings.Compare, SQLite's BINARY) on every engine, whatever the PostgreSQL database's
// collation: the same data pages the same way on both engines.
func RunTextSort(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	for i, s := range sortedTexts {
		p, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: fmt.Sprintf("sort-%d", i), Locale: "en_US", LastName: s})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID, Title: s, HolderName: s},
			vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Clone(sortedTexts)
	slices.Sort(want)
	lists := []struct {
		field string
		list  func(vault.Query) ([]string, error)
	}{
		{"last_name", func(q vault.Query) ([]string, error) {
			ps, _, err := f.Store.ListProfiles(ctx, f.Creds.MerchantID, q)
			return textsOf(ps, err, func(p *vault.Profile) string { return p.LastName })
		}},
		{"title", func(q vault.Query) ([]string, error) {
			ins, _, err := f.Store.ListInstruments(ctx, f.Creds.MerchantID, q)
			return textsOf(ins, err, func(in *vault.Instrument) string { return in.Title })
		}},
	}
	for _, l := range lists {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/desc=%v", l.field, desc), func(t *testing.T) {
				w := slices.Clone(want)
				if desc {
					slices.Reverse(w)
				}
				var got []string
				for page := 0; page < len(w); page += 3 { // paged, as the APIs read it
					part, err := l.list(vault.Query{Sort: []vault.SortKey{{Field: l.field, Desc: desc}}, Limit: 3, Offset: page})
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, part...)
				}
				if d := cmp.Diff(w, got); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			})
		}
	}
}

// textsOf returns the text of each listed item, with the list's error.
func textsOf[T any](items []*T, err error, text func(*T) string) ([]string, error) {
	var out []string
	for _, it := range items {
		out = append(out, text(it))
	}
	return out, err
}
