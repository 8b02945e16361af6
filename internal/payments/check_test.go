package payments_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestCheckSource: CheckSource refuses, with the field an authorization or a vault create
// gives it, a source the write would refuse (a case per rule), passes a usable one and one
// whose rule needs what the request left unknown, and consumes nothing.
func TestCheckSource(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		exp := card.Expiry{Month: 12, Year: 2040}
		mustVault := func(apiID string) *vault.Instrument {
			t.Helper()
			in, err := e.Svc.CreateInstrument(e.ctx, e.Principal, &vault.Instrument{Kind: vault.KindCard, LocationID: e.loc.ID, APIID: apiID},
				vault.Source{Number: "4111111111111111", Expiry: exp}, vault.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return in
		}
		mustToken := func() string {
			t.Helper()
			tk, err := e.Svc.CreateOneTimeToken(e.ctx, e.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, LocationID: e.loc.ID, Number: "4111111111111111", Expiry: exp})
			if err != nil {
				t.Fatal(err)
			}
			return tk.Token
		}
		mine := mustVault("V1")
		deleted := mustVault("")
		if err := e.Svc.DeleteInstrument(e.ctx, e.Principal, deleted.ID); err != nil {
			t.Fatal(err)
		}
		second, err := e.Svc.CreateLocation(e.ctx, e.Creds.MerchantID, vault.NewLocation{Name: "second"})
		if err != nil {
			t.Fatal(err)
		}
		elsewhere := second.Location.ID
		sale, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeSale, Location: e.loc,
			Amount: 100, APIID: "S1", Source: rawVisa})
		if err != nil || !sale.Approved() {
			t.Fatalf("sale = %+v, %v", sale, err)
		}
		declined, err := e.auth(t, 5, rawVisa, false)
		if err != nil || declined.Approved() {
			t.Fatalf("declined auth = %+v, %v", declined, err)
		}
		approvedAuth, err := e.auth(t, 100, rawVisa, false)
		if err != nil || !approvedAuth.Approved() {
			t.Fatalf("auth = %+v, %v", approvedAuth, err)
		}
		token, used := mustToken(), mustToken()
		if _, err := e.auth(t, 100, payments.Source{Token: used, TokenKinds: []string{vault.TokenCard}}, false); err != nil {
			t.Fatal(err)
		}
		const unknown = "01a20ce8-513f-71d5-9d8b-ba28603de8f0"
		approved := func(t *payments.Transaction) bool { return t.Approved() }
		cc, ach := payments.MethodCard, payments.MethodACH
		here := e.loc.ID
		cardTokens := []string{vault.TokenCard}

		tests := []struct {
			name string
			c    payments.SourceCheck
			want string // want is the refused field; "" when the source passes.
		}{
			// A vaulted instrument: active, reachable, in the location and of the kind.
			{"ok/instrument", payments.SourceCheck{InstrumentID: mine.ID, LocationID: here, PaymentMethod: cc}, ""},
			{"ok/instrument/location-unknown", payments.SourceCheck{InstrumentID: mine.ID, PaymentMethod: cc}, ""},
			{"ok/instrument/method-unknown", payments.SourceCheck{InstrumentID: mine.ID, LocationID: here}, ""},
			{"fail/instrument/unknown", payments.SourceCheck{InstrumentID: unknown, LocationID: here, PaymentMethod: cc}, "instrument_id"},
			{"fail/instrument/unknown-location-unknown", payments.SourceCheck{InstrumentID: unknown}, "instrument_id"},
			{"fail/instrument/deleted", payments.SourceCheck{InstrumentID: deleted.ID, LocationID: here, PaymentMethod: cc}, "instrument_id"},
			{"fail/instrument/other-kind", payments.SourceCheck{InstrumentID: mine.ID, LocationID: here, PaymentMethod: ach}, "instrument_id"},
			{"fail/instrument/other-location", payments.SourceCheck{InstrumentID: mine.ID, LocationID: elsewhere, PaymentMethod: cc}, "instrument_id"},
			{"ok/instrument-api-id", payments.SourceCheck{InstrumentAPIID: "V1", LocationID: here, PaymentMethod: cc}, ""},
			{"ok/instrument-api-id/location-unknown", payments.SourceCheck{InstrumentAPIID: "nope", PaymentMethod: cc}, ""},
			{"fail/instrument-api-id/unknown", payments.SourceCheck{InstrumentAPIID: "nope", LocationID: here, PaymentMethod: cc}, "instrument_api_id"},
			{"fail/instrument-api-id/other-location", payments.SourceCheck{InstrumentAPIID: "V1", LocationID: elsewhere, PaymentMethod: cc}, "instrument_api_id"},

			// A one-time token: unused, unexpired, of an accepted kind, and fit for the kind.
			{"ok/token", payments.SourceCheck{Token: token, TokenKinds: cardTokens, LocationID: here, PaymentMethod: cc}, ""},
			{"ok/token/method-unknown", payments.SourceCheck{Token: token, TokenKinds: cardTokens, LocationID: here}, ""},
			{"fail/token/unknown", payments.SourceCheck{Token: "nope", TokenKinds: cardTokens, LocationID: here, PaymentMethod: cc}, "token"},
			{"fail/token/used", payments.SourceCheck{Token: used, TokenKinds: cardTokens, LocationID: here, PaymentMethod: cc}, "token"},
			{"fail/token/kind-not-accepted", payments.SourceCheck{Token: token, TokenKinds: []string{vault.TokenTicket}, LocationID: here, PaymentMethod: cc}, "token"},
			{"fail/token/other-kind", payments.SourceCheck{Token: token, TokenKinds: cardTokens, LocationID: here, PaymentMethod: ach}, "token"},
			{"fail/token/no-one-time-kinds", payments.SourceCheck{Token: token, LocationID: here, PaymentMethod: cc}, "token"},

			// An earlier transaction whose account data is copied: it has a number, in the
			// location, and the same payment method.
			{"ok/copy", payments.SourceCheck{TransactionID: sale.ID, LocationID: here, PaymentMethod: cc, Use: payments.UseCopy}, ""},
			{"ok/copy/declined", payments.SourceCheck{TransactionID: declined.ID, LocationID: here, PaymentMethod: cc, Use: payments.UseCopy}, ""},
			{"ok/copy/location-unknown", payments.SourceCheck{TransactionID: sale.ID, PaymentMethod: cc, Use: payments.UseCopy}, ""},
			{"fail/copy/unknown", payments.SourceCheck{TransactionID: unknown, LocationID: here, PaymentMethod: cc, Use: payments.UseCopy}, "transaction_id"},
			{"fail/copy/other-method", payments.SourceCheck{TransactionID: sale.ID, LocationID: here, PaymentMethod: ach, Use: payments.UseCopy}, "transaction_id"},
			{"fail/copy/other-location", payments.SourceCheck{TransactionID: sale.ID, LocationID: elsewhere, PaymentMethod: cc, Use: payments.UseCopy}, "transaction_id"},
			{"ok/copy-api-id", payments.SourceCheck{TransactionAPIID: "S1", LocationID: here, PaymentMethod: cc, Use: payments.UseCopy}, ""},
			{"ok/copy-api-id/location-unknown", payments.SourceCheck{TransactionAPIID: "nope", PaymentMethod: cc, Use: payments.UseCopy}, ""},
			{"fail/copy-api-id/unknown", payments.SourceCheck{TransactionAPIID: "nope", LocationID: here, PaymentMethod: cc, Use: payments.UseCopy}, "transaction_api_id"},

			// An earlier transaction a refund draws on: a refund's parent the API accepts.
			{"ok/refund", payments.SourceCheck{TransactionID: sale.ID, LocationID: here, Use: payments.UseRefund, Refundable: approved}, ""},
			{"fail/refund/not-refundable", payments.SourceCheck{TransactionID: declined.ID, LocationID: here, Use: payments.UseRefund, Refundable: approved}, "transaction_id"},
			{"fail/refund/not-a-refund-parent", payments.SourceCheck{TransactionID: approvedAuth.ID, LocationID: here, Use: payments.UseRefund, Refundable: approved}, "transaction_id"},
			{"fail/refund/unknown", payments.SourceCheck{TransactionID: unknown, LocationID: here, Use: payments.UseRefund, Refundable: approved}, "transaction_id"},

			// With the use unknown, only a transaction no use could take is refused.
			{"ok/any-use/declined", payments.SourceCheck{TransactionID: declined.ID, LocationID: here, PaymentMethod: cc}, ""},
			{"fail/any-use/unknown", payments.SourceCheck{TransactionID: unknown, LocationID: here, PaymentMethod: cc}, "transaction_id"},
			{"fail/any-use/other-location", payments.SourceCheck{TransactionID: sale.ID, LocationID: elsewhere}, "transaction_id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := e.ps.CheckSource(e.ctx, e.Principal, tt.c)
				if err != nil && vault.KindOf(err) != vault.Invalid {
					t.Fatalf("CheckSource: %v", err)
				}
				got := ""
				if err != nil {
					got = vault.AsError(err).Field
				}
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("refused field (-want +got)\n%s", d)
				}
			})
		}

		t.Run("ok/token-stays-usable", func(t *testing.T) {
			if _, err := e.auth(t, 100, payments.Source{Token: token, TokenKinds: cardTokens}, false); err != nil {
				t.Errorf("auth with a checked token: %v", err)
			}
		})
	})
}
