package storetest

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"testing"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// LegacyCounter counts the instruments whose sealed fields are not yet bound to their payment
// token (sealed with the v1 associated data, before tokens were bound). The SQL store
// implements it.
type LegacyCounter interface {
	CountLegacyAD(ctx context.Context) (int, error)
}

// rawDB is the SQL handle a test uses to play a database writer without the master key.
type rawDB interface{ DB() *sql.DB }

// RunTokenSwap checks that an instrument's sealed data is bound to its payment token: a
// database writer without the master key who swaps the token column of two of a merchant's
// cards does not make a payment with card A's token charge card B. The payment fails as any
// unreadable record does (Internal, wrapping keys.ErrDecrypt, naming no account data). It
// also checks single-use tokens, whose token is not their record id either, and that an
// instrument sealed before tokens were bound (the v1 associated data) still opens, is counted
// as legacy, and is bound to its token by one re-encryption pass, after which the swap fails
// for it too, and that a legacy record a database writer marks as bound (to hide it from
// re-encryption) opens no more. The store must also implement vault.SealedStore, LegacyCounter and DB() *sql.DB.
func RunTokenSwap(t *testing.T, open Opener) {
	t.Run("fail/instrument-token-swapped", func(t *testing.T) {
		f := MustFixture(t, open)
		p := mustProfile(t, f, "swap")
		a := mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{})
		b := mustCard(t, f, p.ID, "5555555555554444", vault.CreateOptions{})
		mustPayByToken(t, f, a.Token)
		mustSwapTokens(t, f, "instruments", a, b)
		mustNotCharge(t, f, a.Token, "4111111111111111", "5555555555554444")
		mustNotCharge(t, f, b.Token, "4111111111111111", "5555555555554444")
	})

	t.Run("fail/single-use-token-swapped", func(t *testing.T) {
		f := MustFixture(t, open)
		ctx := context.Background()
		var toks [2]*vault.OneTimeToken
		for i, pan := range []string{"4111111111111111", "5555555555554444"} {
			tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{
				Kind: vault.TokenCard, Number: pan, Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123"})
			if err != nil {
				t.Fatal(err)
			}
			toks[i] = tok
		}
		mustSwapRows(t, f, "onetime_tokens", toks[0].ID, toks[0].Token, toks[1].ID, toks[1].Token)
		_, sec, err := f.Svc.PeekToken(ctx, f.Store, f.Principal, toks[0].Token, "")
		if !errors.Is(err, keys.ErrDecrypt) || vault.KindOf(err) != vault.Internal {
			t.Fatalf("single-use token %s after the swap: number opened %v, err %v; want Internal, keys.ErrDecrypt", toks[0].Token, sec.Number != "", err)
		}
		mustNotLeak(t, err, "4111111111111111", "5555555555554444")
	})

	t.Run("ok/legacy-instrument-resealed", func(t *testing.T) {
		f := MustFixture(t, open)
		ctx := context.Background()
		ss := f.Store.(vault.SealedStore)
		lc := f.Store.(LegacyCounter)
		p := mustProfile(t, f, "legacy")
		a := mustLegacyCard(t, f, mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{}), "4111111111111111")
		b := mustLegacyCard(t, f, mustCard(t, f, p.ID, "5555555555554444", vault.CreateOptions{}), "5555555555554444")
		if n, err := lc.CountLegacyAD(ctx); err != nil || n != 2 {
			t.Fatalf("legacy instruments: %d, %v; want 2", n, err)
		}
		// A legacy record still opens, through the v1 associated data.
		mustPayByToken(t, f, a.Token)

		rep, err := vault.NewRekeyer(ss, f.Keys).Run(ctx, 1)
		if err != nil || rep.Rewritten != 2 || rep.Unreadable != 0 {
			t.Fatalf("rekey: %+v, %v; want the 2 legacy cards rewritten", rep, err)
		}
		if n, err := lc.CountLegacyAD(ctx); err != nil || n != 0 {
			t.Fatalf("legacy instruments after the pass: %d, %v; want 0", n, err)
		}
		for _, in := range []*vault.Instrument{a, b} {
			got, err := f.Store.GetInstrument(ctx, in.MerchantID, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Sealed.ADVersion != 2 {
				t.Errorf("card %s: AD version %d after the pass, want 2", in.ID, got.Sealed.ADVersion)
			}
			if _, err := f.Keys.Open(got.Sealed.Number, keys.AD{Merchant: in.MerchantID, Record: in.ID, Field: "number"}); err == nil {
				t.Errorf("card %s still opens under the v1 associated data after the pass", in.ID)
			}
		}
		mustPayByToken(t, f, a.Token)
		// A second pass finds nothing left to do.
		if rep, err := vault.NewRekeyer(ss, f.Keys).Run(ctx, 1); err != nil || rep.Rewritten != 0 {
			t.Errorf("second rekey: %+v, %v; want nothing rewritten", rep, err)
		}
		mustSwapTokens(t, f, "instruments", a, b)
		mustNotCharge(t, f, a.Token, "4111111111111111", "5555555555554444")
	})

	t.Run("fail/legacy-marked-bound", func(t *testing.T) {
		// A database writer who marks two legacy cards as bound (ad_version 2), so that the
		// count and re-encryption pass them by, and then swaps their tokens, charges neither:
		// a record marked bound gets no v1 fallback.
		f := MustFixture(t, open)
		p := mustProfile(t, f, "relabel")
		a := mustLegacyCard(t, f, mustCard(t, f, p.ID, "4111111111111111", vault.CreateOptions{}), "4111111111111111")
		b := mustLegacyCard(t, f, mustCard(t, f, p.ID, "5555555555554444", vault.CreateOptions{}), "5555555555554444")
		res, err := f.Store.(rawDB).DB().ExecContext(context.Background(),
			"UPDATE instruments SET ad_version = 2 WHERE id IN ('"+a.ID+"', '"+b.ID+"')")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 2 {
			t.Fatalf("relabelled %d rows, want 2", n)
		}
		mustSwapTokens(t, f, "instruments", a, b)
		mustNotCharge(t, f, a.Token, "4111111111111111", "5555555555554444")
		mustNotCharge(t, f, b.Token, "4111111111111111", "5555555555554444")
	})
}

// mustLegacyCard re-seals in's number with the v1 associated data (no token), as a release
// before tokens were bound wrote it, and marks the record so, and returns it as stored.
func mustLegacyCard(tb testing.TB, f *Fixture, in *vault.Instrument, pan string) *vault.Instrument {
	tb.Helper()
	ctx := context.Background()
	ss := f.Store.(vault.SealedStore)
	old := sealedInstrument(in)
	ct, err := f.Keys.Seal([]byte(pan), keys.AD{Merchant: in.MerchantID, Record: in.ID, Field: "number"})
	if err != nil {
		tb.Fatal(err)
	}
	next := old
	next.Fields = maps.Clone(old.Fields)
	next.Fields["number"] = ct
	next.ADVersion = 1
	if ok, err := ss.ResealRecord(ctx, old, next); err != nil || !ok {
		tb.Fatalf("writing a v1 card: %v, %v", ok, err)
	}
	got, err := f.Store.GetInstrument(ctx, in.MerchantID, in.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if got.Sealed.ADVersion != 1 {
		tb.Fatalf("card %s: AD version %d, want 1", in.ID, got.Sealed.ADVersion)
	}
	return got
}

// sealedInstrument is in's sealed fields as vault.SealedStore reads them.
func sealedInstrument(in *vault.Instrument) vault.SealedRecord {
	return vault.SealedRecord{Table: "instruments", ID: in.ID, MerchantID: in.MerchantID, KeyID: in.Sealed.KeyID,
		Token: in.Token, ADVersion: in.Sealed.ADVersion, Fingerprint: in.Fingerprint,
		Fields: map[string][]byte{"number": in.Sealed.Number, "ssn4": in.Sealed.SSN4, "dl_number": in.Sealed.DLNumber}}
}

// mustPayByToken authorizes a small amount on the card with payment token tok.
func mustPayByToken(tb testing.TB, f *Fixture, tok string) {
	tb.Helper()
	ps := MustPayments(tb, f, payments.Config{})
	tr, err := ps.Authorize(context.Background(), f.Principal, payments.AuthRequest{
		API: "test", Type: payments.TypeAuth, Location: mustLocation(tb, f), Amount: 100, MerchantRefNum: "swap",
		Source: payments.Source{Token: tok}})
	if err != nil || tr.Status != payments.StatusCompleted {
		tb.Fatalf("auth on %s: %v", tok, err)
	}
}

// mustNotCharge checks that an auth, and revealing the number, of the card that token tok finds
// fail as an unreadable record does, without naming any of pans.
func mustNotCharge(tb testing.TB, f *Fixture, tok string, pans ...string) {
	tb.Helper()
	ctx := context.Background()
	in, err := f.Store.GetInstrumentByToken(ctx, f.Creds.MerchantID, tok)
	if err != nil {
		tb.Fatal(err)
	}
	if pan, err := f.Svc.RevealNumber(in); !errors.Is(err, keys.ErrDecrypt) || vault.KindOf(err) != vault.Internal {
		tb.Errorf("RevealNumber of the card with token %s after the swap: %d digits, %v; want Internal, keys.ErrDecrypt", tok, len(pan), err)
	} else {
		mustNotLeak(tb, err, pans...)
	}
	ps := MustPayments(tb, f, payments.Config{})
	tr, err := ps.Authorize(ctx, f.Principal, payments.AuthRequest{
		API: "test", Type: payments.TypeAuth, Location: mustLocation(tb, f), Amount: 100, MerchantRefNum: "swap",
		Source: payments.Source{Token: tok}})
	if tr != nil || !errors.Is(err, keys.ErrDecrypt) || vault.KindOf(err) != vault.Internal {
		tb.Fatalf("auth on %s after the swap: %+v, %v; want no transaction, Internal, keys.ErrDecrypt", tok, tr, err)
	}
	mustNotLeak(tb, err, pans...)
}

// mustNotLeak fails when err's text holds any of pans.
func mustNotLeak(tb testing.TB, err error, pans ...string) {
	tb.Helper()
	if leaks := logtest.Leaks(err.Error(), pans); len(leaks) > 0 {
		tb.Errorf("error %q leaks %v", err, leaks)
	}
}

// mustSwapTokens swaps the token column of instruments a and b with plain SQL, as a database
// writer without the master key could.
func mustSwapTokens(tb testing.TB, f *Fixture, table string, a, b *vault.Instrument) {
	tb.Helper()
	mustSwapRows(tb, f, table, a.ID, a.Token, b.ID, b.Token)
}

// mustSwapRows gives row idA of table token tokB and row idB token tokA. The values are ids
// and tokens the vault drew (letters, digits and dashes), so they are written inline, which
// reads the same on SQLite and PostgreSQL; three statements, as the token is unique.
func mustSwapRows(tb testing.TB, f *Fixture, table, idA, tokA, idB, tokB string) {
	tb.Helper()
	db := f.Store.(rawDB).DB()
	for _, q := range []string{
		"UPDATE " + table + " SET token = 'swap-" + tokA + "' WHERE id = '" + idA + "'",
		"UPDATE " + table + " SET token = '" + tokA + "' WHERE id = '" + idB + "'",
		"UPDATE " + table + " SET token = '" + tokB + "' WHERE id = '" + idA + "'",
	} {
		res, err := db.ExecContext(context.Background(), q)
		if err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			tb.Fatalf("%s: %d rows", q, n)
		}
	}
}
