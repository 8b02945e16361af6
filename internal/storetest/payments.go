package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// testTriggers is a small sandbox trigger table for conformance tests: amount 5 declines with
// "decline", 6 faults with "fault"; everything else is approved.
var testTriggers = payments.Triggers{
	Amounts: []payments.AmountTrigger{
		{Types: []payments.Type{payments.TypeAuth}, Min: 5, Decision: payments.Declined, Code: "decline"},
		{Types: []payments.Type{payments.TypeAuth}, Min: 6, Decision: payments.Fault, Code: "fault"},
	},
}

// MustPayments returns a payments service over the fixture's store with the sandbox processor
// (no delays) serving the API "test" with a small trigger table.
func MustPayments(tb testing.TB, f *Fixture, cfg payments.Config) *payments.Service {
	tb.Helper()
	if cfg.Processors == nil {
		tt := testTriggers
		cfg.Processors = map[string]payments.Processor{
			payments.SandboxName: payments.NewSandbox(map[string]*payments.Triggers{"test": &tt}, payments.SandboxConfig{}),
		}
	}
	return payments.NewService(f.Store, f.Svc, f.Keys, cfg)
}

// mustLocation returns the fixture merchant's default location.
func mustLocation(tb testing.TB, f *Fixture) *vault.Location {
	tb.Helper()
	loc, err := f.Store.GetLocationByAccount(context.Background(), f.Creds.Paysafe.AccountNumber)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// mustAuth runs an approved auth of amount on a raw test card.
func mustAuth(tb testing.TB, f *Fixture, ps *payments.Service, amount int64, settle bool) *payments.Transaction {
	tb.Helper()
	t, err := ps.Authorize(context.Background(), f.Principal, payments.AuthRequest{
		API: "test", Type: payments.TypeAuth, Location: mustLocation(tb, f), Amount: amount, SettleWithAuth: settle,
		MerchantRefNum: "auth", Source: payments.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}},
	})
	if err != nil {
		tb.Fatalf("Authorize: %v", err)
	}
	if t.Status != payments.StatusCompleted {
		tb.Fatalf("auth status %s", t.Status)
	}
	return t
}

func testTransactionStore(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	loc := mustLocation(t, f)
	mid := f.Creds.MerchantID
	at := time.UnixMilli(1_700_000_000_123).UTC()
	want := &payments.Transaction{
		ID: vault.NewID(), MerchantID: mid, LocationID: loc.ID, AccountNumber: loc.AccountNumber, API: "paysafe",
		Type: payments.TypeAuth, Status: payments.StatusReceived, MerchantRefNum: "ref-1", APIID: "api1", OrderNum: "42",
		Amount: 1234, Currency: "USD", PaymentMethod: payments.MethodCard, InstrumentID: "in", ProfileID: "pr",
		ProductTransactionID: "pt", CreatedUserID: "u",
		Card:     payments.CardSnapshot{Brand: "visa", BIN: "411111", LastFour: "1111", PANLength: 16, ExpMonth: 12, ExpYear: 2040, HolderName: "JO"},
		Sealed:   vault.Sealed{KeyID: 7, Number: []byte{1, 2, 3}},
		Billing:  &payments.Billing{Street: "10 Main", Zip: "10014", Country: "US"},
		Customer: &vault.Customer{FirstName: "Jo", Email: "jo@example.com"},
		Extras:   json.RawMessage(`{"recurring":"INITIAL"}`),
		Node:     "0a1b2c3d",
		TxnTime:  at, Created: at, Modified: at,
	}
	if err := f.Store.Write(ctx, func(tx vault.Tx) error { return tx.(payments.Tx).InsertTransaction(ctx, want) }); err != nil {
		t.Fatal(err)
	}
	got, err := f.Store.GetTransaction(ctx, mid, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got)\n%s", d)
	}
	// Update writes the mutable fields only.
	upd := *got
	upd.Status, upd.Available, upd.AuthCode, upd.AVS, upd.CVV = payments.StatusCompleted, 1234, "123456", payments.AVSMatch, payments.CVVNotProcessed
	upd.Decision, upd.Code, upd.Message, upd.ErrorCode = payments.Approved, "1000", "APPROVED", ""
	upd.CompletesAt, upd.Modified = at.Add(time.Hour), at.Add(time.Second)
	upd.Amount = 1 // immutable: not written
	err = f.Store.Write(ctx, func(tx vault.Tx) error {
		ptx := tx.(payments.Tx)
		locked, err := ptx.LockTransaction(ctx, mid, want.ID)
		if err != nil || locked.ID != want.ID {
			return errors.Join(err, errors.New("lock read the wrong row"))
		}
		if err := ptx.LockKey(ctx, "ref|x"); err != nil {
			return err
		}
		return ptx.UpdateTransaction(ctx, &upd)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = f.Store.GetTransaction(ctx, mid, want.ID)
	upd.Amount = 1234
	if d := cmp.Diff(&upd, got); d != "" {
		t.Errorf("after update (-want +got)\n%s", d)
	}
	if g, err := f.Store.GetTransactionByAPIID(ctx, mid, loc.ID, "api1"); err != nil || g.ID != want.ID {
		t.Errorf("by api id: %v", err)
	}
	// The api id is unique in a location.
	dup := *want
	dup.ID = vault.NewID()
	err = f.Store.Write(ctx, func(tx vault.Tx) error { return tx.(payments.Tx).InsertTransaction(ctx, &dup) })
	if e := vault.AsError(err); e == nil || e.Kind != vault.Conflict || e.Field != "api_id" {
		t.Errorf("duplicate api id: %v", err)
	}
	// Children, refs, received, lists.
	child := &payments.Transaction{ID: vault.NewID(), MerchantID: mid, LocationID: loc.ID, AccountNumber: loc.AccountNumber,
		API: "paysafe", Type: payments.TypeSettlement, Status: payments.StatusPending, ParentID: want.ID, MerchantRefNum: "ref-1",
		Amount: 100, Currency: "USD", PaymentMethod: "cc", TxnTime: at.Add(time.Minute), CompletesAt: at.Add(time.Hour),
		Created: at.Add(time.Minute), Modified: at.Add(time.Minute)}
	rejected := &payments.Transaction{ID: vault.NewID(), MerchantID: mid, LocationID: loc.ID, AccountNumber: loc.AccountNumber,
		API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusFailed, MerchantRefNum: "ref-2", Currency: "USD",
		PaymentMethod: "cc", ErrorCode: "5068", TxnTime: at, Created: at, Modified: at}
	declined := *rejected
	declined.ID, declined.Code = vault.NewID(), "3009"
	received := *rejected
	received.ID, received.Status, received.MerchantRefNum, received.ErrorCode = vault.NewID(), payments.StatusReceived, "ref-3", ""
	received.Created = time.Now().Add(-time.Hour)
	err = f.Store.Write(ctx, func(tx vault.Tx) error {
		for _, x := range []*payments.Transaction{child, rejected, &declined, &received} {
			if err := tx.(payments.Tx).InsertTransaction(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	kids, err := f.Store.ListChildren(ctx, mid, want.ID)
	if err != nil || len(kids) != 1 || kids[0].ID != child.ID {
		t.Errorf("children = %v, %v", kids, err)
	}
	for _, c := range []struct {
		ref  string
		want int
	}{{"ref-1", 1}, {"ref-2", 1}, {"ref-3", 1}, {"none", 0}} {
		n, err := f.Store.CountByRef(ctx, mid, loc.AccountNumber, payments.TypeAuth, c.ref)
		if err != nil || n != c.want {
			t.Errorf("CountByRef(%s) = %d, %v; want %d (a refused request does not count, a decline does)", c.ref, n, err, c.want)
		}
	}
	rec, err := f.Store.ListReceived(ctx, time.Now(), 10)
	if err != nil || len(rec) != 1 || rec[0].ID != received.ID {
		t.Errorf("received = %v, %v", rec, err)
	}
	if rec, _ := f.Store.ListReceived(ctx, time.Now().Add(-2*time.Hour), 10); len(rec) != 0 {
		t.Errorf("received before the cut-off: %d", len(rec))
	}
	// CompleteReceived writes only while the stored transaction is RECEIVED. Each case writes
	// its own name as the auth code; stored is the auth code it leaves.
	for _, c := range []struct {
		name   string
		t      payments.Transaction
		ok     bool
		stored string
	}{{"received", received, true, "received"}, {"completed", *want, false, "123456"}, {"received again", received, false, "received"}} {
		upd := c.t
		upd.Status, upd.AuthCode, upd.Modified = payments.StatusFailed, c.name, at.Add(time.Minute)
		var ok bool
		err := f.Store.Write(ctx, func(tx vault.Tx) error {
			var err error
			ok, err = tx.(payments.Tx).CompleteReceived(ctx, &upd)
			return err
		})
		stored, _ := f.Store.GetTransaction(ctx, mid, c.t.ID)
		if err != nil || ok != c.ok || stored.AuthCode != c.stored {
			t.Errorf("CompleteReceived on the %s transaction = %v, %v; stored auth code %q, want %v and %q", c.name, ok, err, stored.AuthCode, c.ok, c.stored)
		}
	}
	list, total, err := f.Store.ListTransactions(ctx, mid, vault.Query{Filters: []vault.Filter{
		{Field: "merchant_ref_num", Op: vault.OpIn, Values: []string{"ref-1"}},
		{Field: "type", Op: vault.OpIn, Values: []string{"settlement"}},
		{Field: "txn_at", Op: vault.OpRange, Lo: at.Unix(), Hi: at.Unix() + 60},
	}})
	if err != nil || total != 1 || list[0].ID != child.ID {
		t.Errorf("list = %d, %v", total, err)
	}
	// Batch completes pending settlements.
	var n int
	err = f.Store.Write(ctx, func(tx vault.Tx) error {
		var err error
		n, err = tx.(payments.Tx).CompletePending(ctx, mid, at.Add(2*time.Hour))
		return err
	})
	if err != nil || n != 1 {
		t.Errorf("CompletePending = %d, %v", n, err)
	}
	if c, _ := f.Store.GetTransaction(ctx, mid, child.ID); c.Status != payments.StatusCompleted || !c.CompletesAt.Equal(at.Add(time.Hour)) {
		t.Errorf("batched child = %s at %v", c.Status, c.CompletesAt)
	}
	// Another merchant sees nothing.
	other, err := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.GetTransaction(ctx, other.MerchantID, want.ID); vault.KindOf(err) != vault.NotFound {
		t.Errorf("foreign transaction: %v", err)
	}
}

// testMoneyRace fires settlements, voids and refunds against one auth in parallel: whatever
// the interleaving, they never take more than the auth's amount, and the books balance.
func testMoneyRace(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	ps := MustPayments(t, f, payments.Config{})
	loc := mustLocation(t, f)
	auth := mustAuth(t, f, ps, 1000, false)

	// 12 settlements and 12 voids of 100 race for 1000.
	var wg sync.WaitGroup
	var settled, voided, refused atomic.Int64
	var settlements sync.Map
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fu := payments.FollowUp{API: "test", Location: loc, ParentID: auth.ID, Amount: 100, MerchantRefNum: "race"}
			var tr *payments.Transaction
			var err error
			if i%2 == 0 {
				tr, err = ps.Settle(ctx, f.Principal, fu)
			} else {
				tr, err = ps.Void(ctx, f.Principal, fu)
			}
			switch {
			case err == nil && i%2 == 0:
				settled.Add(tr.Amount)
				settlements.Store(tr.ID, tr)
			case err == nil:
				voided.Add(tr.Amount)
			case errors.Is(err, payments.ErrExceedsAvailable) || errors.Is(err, payments.ErrNothingLeft) || errors.Is(err, payments.ErrHasSettlements):
				refused.Add(1)
			default:
				t.Errorf("draw: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := f.Store.GetTransaction(ctx, f.Creds.MerchantID, auth.ID)
	if err != nil {
		t.Fatal(err)
	}
	if settled.Load()+voided.Load() != 1000 || got.Available != 0 || refused.Load() != 14 {
		t.Fatalf("settled %d + voided %d, available %d, refused %d; want 1000 in all, 0 left, 14 refused",
			settled.Load(), voided.Load(), got.Available, refused.Load())
	}
	if settled.Load() == 0 {
		t.Skip("every draw was a void; nothing to refund")
	}

	// Refunds race for the settlements: 3 refunds of 60 per settlement of 100 → one each.
	var refunded atomic.Int64
	settlements.Range(func(_, v any) bool {
		st := v.(*payments.Transaction)
		for j := 0; j < 3; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr, err := ps.Refund(ctx, f.Principal, payments.FollowUp{API: "test", Location: loc, ParentID: st.ID, Amount: 60, MerchantRefNum: "rr"})
				switch {
				case err == nil:
					refunded.Add(tr.Amount)
				case errors.Is(err, payments.ErrExceedsAvailable):
				default:
					t.Errorf("refund: %v", err)
				}
			}()
		}
		return true
	})
	wg.Wait()
	if refunded.Load() != settled.Load()/100*60 {
		t.Errorf("refunded %d against %d settled in 100s; want exactly one 60 per settlement", refunded.Load(), settled.Load())
	}
	settlements.Range(func(k, _ any) bool {
		st, _ := f.Store.GetTransaction(ctx, f.Creds.MerchantID, k.(string))
		if st.Available != 40 {
			t.Errorf("settlement %s has %d left to refund, want 40", st.ID, st.Available)
		}
		return true
	})
}

// testSingleUseRace runs concurrent auths with one single-use token: exactly one succeeds. A
// verification with the token before them does not consume it.
func testSingleUseRace(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	ps := MustPayments(t, f, payments.Config{})
	loc := mustLocation(t, f)
	tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{
		Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123",
	})
	if err != nil {
		t.Fatal(err)
	}
	src := payments.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}
	v, err := ps.Authorize(ctx, f.Principal, payments.AuthRequest{API: "test", Type: payments.TypeVerification, Location: loc, MerchantRefNum: "v", Source: src})
	if err != nil || v.Status != payments.StatusCompleted {
		t.Fatalf("verification = %v, %v", v, err)
	}
	var ok, bad atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ps.Authorize(ctx, f.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: loc, Amount: 100, MerchantRefNum: "sut", Source: src})
			if e := vault.AsError(err); err == nil {
				ok.Add(1)
			} else if e != nil && e.Kind == vault.Invalid && e.Field == "token" {
				bad.Add(1)
			} else {
				t.Errorf("auth: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || bad.Load() != 7 {
		t.Errorf("token used %d times, refused %d; want 1 and 7", ok.Load(), bad.Load())
	}
	// The sealed number of a transaction opens only for its own record.
	list, _, err := f.Store.ListTransactions(ctx, f.Creds.MerchantID, vault.Query{Filters: []vault.Filter{{Field: "merchant_ref_num", Op: vault.OpIn, Values: []string{"sut"}}}})
	if err != nil || len(list) != 1 {
		t.Fatalf("sut auths = %d, %v", len(list), err)
	}
	tr := list[0]
	if len(tr.Sealed.Number) == 0 {
		t.Fatal("no sealed number on the transaction")
	}
	if _, err := f.Keys.Open(tr.Sealed.Number, keys.AD{Merchant: tr.MerchantID, Record: v.ID, Field: "number"}); err == nil {
		t.Error("a transaction's ciphertext opened under another record's id")
	}
}

// DownStore is a Store whose writes fail Unavailable while Down is set, as a store whose
// database went away does: the in-flight tests set it during a processor call.
type DownStore struct {
	Store
	Down *atomic.Bool
}

// Write fails Unavailable while Down is set, and is the wrapped store's Write otherwise.
func (d DownStore) Write(ctx context.Context, fn func(vault.Tx) error) error {
	if d.Down.Load() {
		return vault.E("storetest.DownStore", vault.Unavailable)
	}
	return d.Store.Write(ctx, fn)
}
