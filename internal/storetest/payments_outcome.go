package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// testTransactionOutcome checks the computed outcome field (filter and ranked sort), that
// UpdateTransaction writes instrument_id, and that inserting a payment on account data (a
// vault instrument or a sealed number) appends vault.AuditPayment in its transaction, and
// one that draws on its parent's does not.
func testTransactionOutcome(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := vault.WithActor(context.Background(), "test:payer")
	as, ok := f.Store.(AuditStore)
	if !ok {
		t.Skip("the store keeps no audit chain")
	}
	as.SetAuditMAC(f.Keys)
	loc := mustLocation(t, f)
	mid := f.Creds.MerchantID
	at := time.UnixMilli(1_700_000_000_000).UTC()
	n, base := 0, vault.NewID()
	mk := func(ty payments.Type, st payments.Status, instrument, parent string, sealed bool) *payments.Transaction {
		n++
		// Ids in creation order, so that ties break predictably.
		x := &payments.Transaction{ID: fmt.Sprintf("%s-%02d", base, n), MerchantID: mid, LocationID: loc.ID, AccountNumber: loc.AccountNumber,
			API: "fortis", Type: ty, Status: st, InstrumentID: instrument, ParentID: parent, Amount: int64(n), Currency: "USD",
			PaymentMethod: "cc", TxnTime: at, Created: at.Add(time.Duration(n) * time.Millisecond), Modified: at}
		if sealed {
			x.Sealed = vault.Sealed{KeyID: 1, Number: []byte{9, 9}}
		}
		return x
	}
	sale := mk(payments.TypeSale, payments.StatusCompleted, "", "", true)
	vaultAuth := mk(payments.TypeAuth, payments.StatusFailed, "inst-1", "", true)
	refund := mk(payments.TypeRefund, payments.StatusPending, "", sale.ID, false)
	avs := mk(payments.TypeAVSOnly, payments.StatusCompleted, "", "", true)
	flight := mk(payments.TypeSale, payments.StatusReceived, "", "", false)
	err := f.Store.Write(ctx, func(tx vault.Tx) error {
		for _, x := range []*payments.Transaction{sale, vaultAuth, refund, avs, flight} {
			if err := tx.(payments.Tx).InsertTransaction(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(q vault.Query) []string {
		t.Helper()
		list, _, err := f.Store.ListTransactions(ctx, mid, q)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	got := ids(vault.Query{Filters: []vault.Filter{{Field: "outcome", Op: vault.OpIn, Values: []string{"sale:approved", "refund:approved", "auth:failed"}}},
		Sort: []vault.SortKey{{Field: "id"}}})
	if d := cmp.Diff([]string{sale.ID, vaultAuth.ID, refund.ID}, got); d != "" {
		t.Errorf("outcome filter (-want +got)\n%s", d)
	}
	if got := ids(vault.Query{Filters: []vault.Filter{{Field: "outcome", Op: vault.OpIn, Values: []string{"sale:received"}}}}); len(got) != 1 || got[0] != flight.ID {
		t.Errorf("received outcome = %v", got)
	}
	// A ranked sort: avsonly first, then sale and auth together (ties by id), the rest last.
	rank := [][]string{{"avsonly"}, {"sale", "auth"}, {"it's quoted"}}
	got = ids(vault.Query{Sort: []vault.SortKey{{Field: "type", Rank: rank}}})
	if d := cmp.Diff([]string{avs.ID, sale.ID, vaultAuth.ID, flight.ID, refund.ID}, got); d != "" {
		t.Errorf("ranked sort (-want +got)\n%s", d)
	}
	got = ids(vault.Query{Sort: []vault.SortKey{{Field: "outcome", Desc: true, Rank: [][]string{{"sale:approved"}, {"avsonly:approved"}}}}})
	if d := cmp.Diff([]string{flight.ID, refund.ID, vaultAuth.ID, avs.ID, sale.ID}, got); d != "" {
		t.Errorf("ranked outcome sort, descending (-want +got)\n%s", d)
	}

	// instrument_id is mutable: an approval may record the instrument it created.
	upd := *sale
	upd.InstrumentID = "inst-2"
	if err := f.Store.Write(ctx, func(tx vault.Tx) error { return tx.(payments.Tx).UpdateTransaction(ctx, &upd) }); err != nil {
		t.Fatal(err)
	}
	if g, _ := f.Store.GetTransaction(ctx, mid, sale.ID); g.InstrumentID != "inst-2" {
		t.Errorf("instrument_id after update = %q", g.InstrumentID)
	}

	recs, err := as.ListAudit(ctx, mid, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var uses []string
	for _, r := range recs {
		if r.Op == vault.AuditPayment {
			uses = append(uses, r.RecordType+":"+r.RecordID+":"+r.Actor)
		}
	}
	want := []string{"transaction:" + sale.ID + ":test:payer", "transaction:" + vaultAuth.ID + ":test:payer", "transaction:" + avs.ID + ":test:payer"}
	if d := cmp.Diff(want, uses); d != "" {
		t.Errorf("payment audit records (-want +got)\n%s", d)
	}
}
