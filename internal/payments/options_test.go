package payments_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestAuthorizeOptions covers the request options a vendor API may set: Peek, BillingMerge,
// ProfileID, AcceptExpired, and GetByAPIID.
func TestAuthorizeOptions(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		prof, in := e.mustCard(t, "m1", "4111111111111111", card.Expiry{Month: 12, Year: 2040})
		req := func(src payments.Source) payments.AuthRequest {
			return payments.AuthRequest{API: "test", Type: payments.TypeSale, Location: e.loc, Amount: 100, Source: src}
		}

		t.Run("ok/peek-leaves-the-token", func(t *testing.T) {
			tok, err := e.Svc.CreateOneTimeToken(e.ctx, e.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}, CVV: "111"})
			if err != nil {
				t.Fatal(err)
			}
			src := payments.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}, Peek: true}
			for i := 0; i < 2; i++ {
				if got, err := e.ps.Authorize(e.ctx, e.Principal, req(src)); err != nil || got.Status != payments.StatusCompleted {
					t.Fatalf("peek %d = %+v, %v", i, got, err)
				}
			}
			src.Peek = false
			if _, err := e.ps.Authorize(e.ctx, e.Principal, req(src)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.ps.Authorize(e.ctx, e.Principal, req(src)); vault.KindOf(err) != vault.Invalid {
				t.Errorf("second use: %v", err)
			}
		})
		t.Run("ok/billing-merge", func(t *testing.T) {
			r := req(payments.Source{Token: in.Token})
			r.Billing, r.BillingMerge = &payments.Billing{Zip: "99999", City: "Ocala"}, true
			got, err := e.ps.Authorize(e.ctx, e.Principal, r)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(&payments.Billing{Street: "13 Elm", Country: "US", Zip: "99999", City: "Ocala"}, got.Billing); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
		t.Run("ok/profile", func(t *testing.T) {
			other, err := e.Svc.CreateProfile(e.ctx, e.Principal, &vault.Profile{MerchantCustomerID: "payer", Locale: "en_US"})
			if err != nil {
				t.Fatal(err)
			}
			r := req(payments.Source{Token: in.Token})
			r.ProfileID = other.ID
			got, err := e.ps.Authorize(e.ctx, e.Principal, r)
			if err != nil || got.ProfileID != other.ID || got.InstrumentID != in.ID {
				t.Errorf("profile = %+v, %v (card's is %s)", got, err, prof.ID)
			}
			r.ProfileID = "nope"
			if _, err := e.ps.Authorize(e.ctx, e.Principal, r); vault.AsError(err) == nil || vault.AsError(err).Field != "profile_id" {
				t.Errorf("unknown profile: %v", err)
			}
		})
		t.Run("ok/accept-expired", func(t *testing.T) {
			r := req(payments.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2020}})
			if _, err := e.ps.Authorize(e.ctx, e.Principal, r); !errors.Is(err, vault.ErrExpired) {
				t.Errorf("expired without the option: %v", err)
			}
			r.AcceptExpired, r.APIID = true, "exp1"
			got, err := e.ps.Authorize(e.ctx, e.Principal, r)
			if err != nil || got.Status != payments.StatusCompleted {
				t.Fatalf("expired with the option: %+v, %v", got, err)
			}
			byAPI, err := e.ps.GetByAPIID(e.ctx, e.Principal, e.loc.ID, "exp1")
			if err != nil || byAPI.ID != got.ID {
				t.Errorf("GetByAPIID = %v, %v", byAPI, err)
			}
			if _, err := e.ps.GetByAPIID(e.ctx, e.Principal, e.loc.ID, "exp1", payments.TypeRefund); vault.KindOf(err) != vault.NotFound {
				t.Errorf("GetByAPIID of another type: %v", err)
			}
		})
	})
}

// TestAfterApproval covers the callback that runs in the write completing an approval: it may
// record an instrument it created; when it is refused (Invalid, Conflict, NotFound) the
// approval is still recorded, without its writes; other errors leave the transaction RECEIVED.
func TestAfterApproval(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		create := func(fail error) (*payments.Transaction, *vault.Instrument, error, error) {
			var made *vault.Instrument
			var afterErr error
			got, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeSale, Location: e.loc,
				Amount: 100, Source: rawVisa, AfterApproval: func(ctx context.Context, tx payments.Tx, t *payments.Transaction) error {
					made, afterErr = nil, nil
					in, err := e.Svc.CreateInstrumentIn(ctx, tx, e.Principal, &vault.Instrument{Kind: vault.KindCard, LocationID: e.loc.ID},
						vault.Source{TransactionID: t.ID}, vault.CreateOptions{})
					if err == nil && fail != nil {
						err = fail
					}
					if err != nil {
						afterErr = err
						return err
					}
					made, t.InstrumentID = in, in.ID
					return nil
				}})
			return got, made, afterErr, err
		}
		count := func() int {
			_, n, err := e.Store.ListInstruments(e.ctx, e.Creds.MerchantID, vault.Query{})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		before := count()
		got, made, afterErr, err := create(nil)
		if err != nil || afterErr != nil || made == nil || got.InstrumentID != made.ID || got.Status != payments.StatusCompleted {
			t.Fatalf("after approval = %+v %+v %v %v", got, made, afterErr, err)
		}
		stored, _ := e.ps.Get(e.ctx, e.Principal, e.loc.ID, got.ID)
		if stored.InstrumentID != made.ID || count() != before+1 {
			t.Errorf("stored instrument %q, %d instruments", stored.InstrumentID, count())
		}
		number, _ := e.Svc.RevealNumber(made)
		if number != "4111111111111111" || made.ExpYear != 2040 {
			t.Errorf("instrument from the transaction: %s %d", number, made.ExpYear)
		}

		// Refused: the instrument is rolled back, the approval is kept.
		before = count()
		got, _, afterErr, err = create(vault.E(vault.Invalid, vault.Field("token"), vault.ErrUnusable))
		if err != nil || afterErr == nil || got.Status != payments.StatusCompleted || got.InstrumentID != "" || count() != before {
			t.Errorf("refused after approval = %+v, %v, %v, %d instruments", got, afterErr, err, count()-before)
		}
		// Failed otherwise: the transaction stays RECEIVED for Recover.
		got, _, _, err = create(vault.E(vault.Internal, errors.New("disk on fire")))
		if err == nil || got != nil {
			t.Errorf("internal failure = %+v, %v", got, err)
		}
		list, _, _ := e.ps.List(e.ctx, e.Principal, vault.Query{Filters: []vault.Filter{{Field: "status", Op: vault.OpIn, Values: []string{"RECEIVED"}}}})
		if len(list) != 1 || count() != before {
			t.Errorf("RECEIVED = %d, instruments +%d", len(list), count()-before)
		}
	})
}

// TestRefundRace fires refunds of one sale in parallel: they never exceed it.
func TestRefundRace(t *testing.T) {
	engines(t, func(t *testing.T, open storetest.Opener) {
		e := mustEnv(t, open, payments.Config{})
		sale, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeSale, Location: e.loc, Amount: 1000, Source: rawVisa})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		refunded, refused := int64(0), 0
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.ps.Refund(e.ctx, e.Principal, e.follow(300, sale.ID))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					refunded += r.Amount
				case errors.Is(err, payments.ErrExceedsAvailable):
					refused++
				default:
					t.Errorf("refund: %v", err)
				}
			}()
		}
		wg.Wait()
		got, _ := e.ps.Get(e.ctx, e.Principal, e.loc.ID, sale.ID)
		if refunded != 900 || refused != 13 || got.Available != 100 {
			t.Errorf("refunded %d, refused %d, left %d", refunded, refused, got.Available)
		}
	})
}
