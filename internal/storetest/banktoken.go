package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/vault"
)

// testBankFromToken checks that a bank account vaulted from an ACH or EFT single-use token
// takes the whole account from the token: the caller's routing, transit and institution
// numbers never sit beside the token's account number.
func testBankFromToken(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	p := mustProfile(t, f, "bank-token")
	type ident struct{ Last4, Routing, Transit, Institution, AccountType string }
	tests := []struct {
		name   string
		token  vault.NewOneTimeToken
		kind   string
		caller vault.Instrument
		want   ident
	}{
		{"ok/ach-caller-routing-ignored",
			vault.NewOneTimeToken{Kind: vault.TokenACH, Number: "796134762", Meta: vault.TokenMeta{RoutingNumber: "211589828", AccountType: "SAVINGS"}},
			vault.KindACH, vault.Instrument{RoutingNumber: "123456789"},
			ident{Last4: "4762", Routing: "211589828", AccountType: "SAVINGS"}},
		{"ok/eft-caller-transit-institution-ignored",
			vault.NewOneTimeToken{Kind: vault.TokenEFT, Number: "12348123", Meta: vault.TokenMeta{TransitNumber: "25039", InstitutionID: "001"}},
			vault.KindEFT, vault.Instrument{TransitNumber: "11111", InstitutionID: "222"},
			ident{Last4: "8123", Transit: "25039", Institution: "001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, tt.token)
			if err != nil {
				t.Fatal(err)
			}
			in := tt.caller
			in.Kind, in.ProfileID = tt.kind, p.ID
			out, err := f.Svc.CreateInstrument(ctx, f.Principal, &in,
				vault.Source{Token: tok.Token, TokenKinds: []string{tt.token.Kind}}, vault.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := ident{out.LastFour, out.RoutingNumber, out.TransitNumber, out.InstitutionID, out.AccountType}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}
