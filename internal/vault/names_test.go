package vault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// namePANs are card numbers as a cardholder might type them into a name field. Each is a
// different number, so a leak names which.
var namePANs = []string{
	"4111111111111111",
	"Jo 5555 5555 5555 4444",
	"3782-822463-10005 Smith",
	"6011000990139424 12/30",
}

// wantCardNumberRefused checks that err refuses field for holding a card number, and that
// its text holds no card number.
func wantCardNumberRefused(tb testing.TB, err error, field, value string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s holding a card number was stored", field)
	}
	if k := vault.KindOf(err); k != vault.Invalid {
		tb.Errorf("kind %v, want invalid: %v", k, err)
	}
	if d := cmp.Diff([]string{field}, vault.Fields(err)); d != "" {
		tb.Errorf("fields (-want +got)\n%s", d)
	}
	if !errors.Is(err, vault.ErrCardNumber) {
		tb.Errorf("reason is not ErrCardNumber: %v", err)
	}
	if leaks := logtest.Leaks(err.Error(), []string{value}); len(leaks) > 0 {
		tb.Errorf("error text leaks %v", leaks)
	}
}

// instrumentOf returns a valid instrument of kind and its source.
func instrumentOf(kind string) (*vault.Instrument, vault.Source) {
	switch kind {
	case vault.KindCard:
		return &vault.Instrument{Kind: kind}, vault.Source{Number: "4012888888881881", Expiry: card.Expiry{Month: 12, Year: 2040}}
	case vault.KindACH:
		return &vault.Instrument{Kind: kind, RoutingNumber: "072000326", AccountType: "CHECKING"}, vault.Source{Number: "123456789"}
	case vault.KindBACS:
		return &vault.Instrument{Kind: kind, SortCode: "207405"}, vault.Source{Number: "12345678"}
	case vault.KindEFT:
		return &vault.Instrument{Kind: kind, TransitNumber: "12345", InstitutionID: "123"}, vault.Source{Number: "1234567"}
	default:
		return &vault.Instrument{Kind: kind}, vault.Source{Number: "DE89370400440532013000"}
	}
}

// instrumentNames are the instrument fields that hold a name or a label.
var instrumentNames = []struct {
	field string
	set   func(*vault.Instrument, string)
	get   func(*vault.Instrument) string
}{
	{"holder_name", func(in *vault.Instrument, v string) { in.HolderName = v }, func(in *vault.Instrument) string { return in.HolderName }},
	{"nick_name", func(in *vault.Instrument, v string) { in.NickName = v }, func(in *vault.Instrument) string { return in.NickName }},
	{"title", func(in *vault.Instrument, v string) { in.Title = v }, func(in *vault.Instrument) string { return in.Title }},
}

// TestInstrumentNamesRefuseCardNumbers: a card or bank account whose holder name, nickname
// or title holds a card number is refused on create and on update, on the field, and
// nothing is stored; names with shorter numbers are kept.
func TestInstrumentNamesRefuseCardNumbers(t *testing.T) {
	f := storetest.MustFixture(t, sqliteAt(""))
	ctx := context.Background()
	prof, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "names", LastName: "Smith"})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{vault.KindCard, vault.KindACH, vault.KindBACS, vault.KindEFT, vault.KindSEPA} {
		for _, nf := range instrumentNames {
			for i, pan := range namePANs {
				t.Run(fmt.Sprintf("fail/create/%s/%s/%d", kind, nf.field, i), func(t *testing.T) {
					in, src := instrumentOf(kind)
					in.ProfileID, in.HolderName = prof.ID, "Jo Smith"
					nf.set(in, pan)
					_, err := f.Svc.CreateInstrument(ctx, f.Principal, in, src, vault.CreateOptions{})
					wantCardNumberRefused(t, err, nf.field, pan)
					list, err := f.Store.ListProfileInstruments(ctx, f.Creds.MerchantID, prof.ID, kind)
					if err != nil || len(list) != 0 {
						t.Errorf("after the refused create the profile holds %d %s instruments (%v)", len(list), kind, err)
					}
				})
			}
			t.Run(fmt.Sprintf("fail/update/%s/%s", kind, nf.field), func(t *testing.T) {
				in, src := instrumentOf(kind)
				in.HolderName = "Jo Smith"
				nf.set(in, "Kept 1234")
				stored, err := f.Svc.CreateInstrument(ctx, f.Principal, in, src, vault.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, pan := range namePANs {
					_, err = f.Svc.UpdateInstrument(ctx, f.Principal, stored.ID, func(in *vault.Instrument) error {
						nf.set(in, pan)
						return nil
					}, vault.SecretUpdate{})
					wantCardNumberRefused(t, err, nf.field, pan)
				}
				got, err := f.Svc.GetInstrument(ctx, f.Principal, stored.ID)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff("Kept 1234", nf.get(got)); d != "" {
					t.Errorf("after the refused updates (-want +got)\n%s", d)
				}
			})
		}
	}
	t.Run("ok/short-numbers", func(t *testing.T) {
		in, src := instrumentOf(vault.KindCard)
		in.HolderName, in.NickName, in.Title = "Jo Smith III, Apt 4111", "Card 1111-2222-3333", "ends 1111 exp 1230"
		out, err := f.Svc.CreateInstrument(ctx, f.Principal, in, src, vault.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.UpdateInstrument(ctx, f.Principal, out.ID, func(in *vault.Instrument) error {
			in.HolderName = "Jo 411111111111" // 12 digits
			return nil
		}, vault.SecretUpdate{}); err != nil {
			t.Fatal(err)
		}
	})
}

// profileNames are the profile fields that hold a person's or a company's name.
var profileNames = []struct {
	field string
	set   func(*vault.Profile, string)
}{
	{"first_name", func(p *vault.Profile, v string) { p.FirstName = v }},
	{"middle_name", func(p *vault.Profile, v string) { p.MiddleName = v }},
	{"last_name", func(p *vault.Profile, v string) { p.LastName = v }},
	{"company_name", func(p *vault.Profile, v string) { p.CompanyName = v }},
}

// TestProfileNamesRefuseCardNumbers: a profile whose first, middle or last name holds a card
// number is refused on create (alone or with its first card) and on update, and nothing is
// stored.
func TestProfileNamesRefuseCardNumbers(t *testing.T) {
	f := storetest.MustFixture(t, sqliteAt(""))
	ctx := context.Background()
	keep, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "keep", FirstName: "Jo", MiddleName: "Q", LastName: "Smith"})
	if err != nil {
		t.Fatal(err)
	}
	for _, nf := range profileNames {
		for i, pan := range namePANs {
			t.Run(fmt.Sprintf("fail/create/%s/%d", nf.field, i), func(t *testing.T) {
				prof := &vault.Profile{MerchantCustomerID: fmt.Sprintf("c-%s-%d", nf.field, i), LastName: "Smith"}
				nf.set(prof, pan)
				_, err := f.Svc.CreateProfile(ctx, f.Principal, prof)
				wantCardNumberRefused(t, err, nf.field, pan)
				if _, err := f.Svc.FindProfile(ctx, f.Principal, "merchant_customer_id", prof.MerchantCustomerID, ""); vault.KindOf(err) != vault.NotFound {
					t.Errorf("the refused profile was stored (%v)", err)
				}
			})
			t.Run(fmt.Sprintf("fail/create-with-card/%s/%d", nf.field, i), func(t *testing.T) {
				prof := &vault.Profile{MerchantCustomerID: fmt.Sprintf("w-%s-%d", nf.field, i), LastName: "Smith"}
				nf.set(prof, pan)
				in, src := instrumentOf(vault.KindCard)
				_, _, err := f.Svc.CreateProfileWithInstrument(ctx, f.Principal, prof, in, src, vault.CreateOptions{})
				wantCardNumberRefused(t, err, nf.field, pan)
				if _, err := f.Svc.FindProfile(ctx, f.Principal, "merchant_customer_id", prof.MerchantCustomerID, ""); vault.KindOf(err) != vault.NotFound {
					t.Errorf("the refused profile was stored (%v)", err)
				}
			})
			t.Run(fmt.Sprintf("fail/update/%s/%d", nf.field, i), func(t *testing.T) {
				_, err := f.Svc.UpdateProfile(ctx, f.Principal, keep.ID, func(p *vault.Profile) error {
					nf.set(p, pan)
					return nil
				})
				wantCardNumberRefused(t, err, nf.field, pan)
			})
		}
	}
	got, err := f.Svc.GetProfile(ctx, f.Principal, keep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"Jo", "Q", "Smith"}, []string{got.FirstName, got.MiddleName, got.LastName}); d != "" {
		t.Errorf("after the refused updates (-want +got)\n%s", d)
	}
}

// TestTokenNamesRefuseCardNumbers: a single-use token or ticket (what the hosted payment
// page makes) whose holder name, or whose customer's first or last name, holds a card number
// is refused, so that name never reaches the token's plain metadata.
func TestTokenNamesRefuseCardNumbers(t *testing.T) {
	f := storetest.MustFixture(t, sqliteAt(""))
	ctx := context.Background()
	cardToken := func(kind string, meta vault.TokenMeta) vault.NewOneTimeToken {
		return vault.NewOneTimeToken{Kind: kind, Number: "4012888888881881", Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123", Meta: meta}
	}
	achToken := func(meta vault.TokenMeta) vault.NewOneTimeToken {
		meta.RoutingNumber, meta.AccountType = "072000326", "CHECKING"
		return vault.NewOneTimeToken{Kind: vault.TokenACH, Number: "123456789", Meta: meta}
	}
	eftToken := func(meta vault.TokenMeta) vault.NewOneTimeToken {
		meta.TransitNumber, meta.InstitutionID = "12345", "123"
		return vault.NewOneTimeToken{Kind: vault.TokenEFT, Number: "1234567", Meta: meta}
	}
	for i, pan := range namePANs {
		tests := []struct {
			name  string
			in    vault.NewOneTimeToken
			field string
		}{
			{"card/holder_name", cardToken(vault.TokenCard, vault.TokenMeta{HolderName: pan}), "holder_name"},
			{"ticket/holder_name", cardToken(vault.TokenTicket, vault.TokenMeta{HolderName: pan}), "holder_name"},
			{"ach/holder_name", achToken(vault.TokenMeta{AccountHolder: pan}), "holder_name"},
			{"eft/holder_name", eftToken(vault.TokenMeta{AccountHolder: pan}), "holder_name"},
			{"ach/first_name", achToken(vault.TokenMeta{AccountHolder: "Jo", Profile: &vault.Customer{FirstName: pan}}), "first_name"},
			{"eft/last_name", eftToken(vault.TokenMeta{AccountHolder: "Jo", Profile: &vault.Customer{LastName: pan}}), "last_name"},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("fail/%s/%d", tt.name, i), func(t *testing.T) {
				_, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, tt.in)
				wantCardNumberRefused(t, err, tt.field, pan)
			})
		}
	}
	t.Run("ok", func(t *testing.T) {
		if _, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, cardToken(vault.TokenCard, vault.TokenMeta{HolderName: "Jo Smith 4111"})); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, achToken(vault.TokenMeta{AccountHolder: "Jo", Profile: &vault.Customer{FirstName: "Jo", LastName: "Smith"}})); err != nil {
			t.Fatal(err)
		}
	})
}
