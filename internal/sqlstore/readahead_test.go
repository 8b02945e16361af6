package sqlstore_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// TestGroupCommitTokenReads checks the card reads a batch makes for its writes
// marked with vault.WithTokenRead, in one statement before their fns run: each fn's read is
// answered from it (and a card's billing address from a second one), with what a read of
// its own would have answered, and a write of the batch to instruments (an update, a
// delete, a card's VERIFIED mark), profiles or addresses is seen by the reads of the fns
// after it.
func TestGroupCommitTokenReads(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ce := newCardEnv(t, e.open)
			st, ctx, mid := ce.st, context.Background(), ce.f.Creds.MerchantID
			p, err := ce.f.Svc.CreateProfile(ctx, ce.f.Principal, &vault.Profile{MerchantCustomerID: "reads", Locale: "en_US", FirstName: "Ann", LastName: "Lee"})
			if err != nil {
				t.Fatal(err)
			}
			cards := make([]*vault.Instrument, 4)
			for i := range cards[:3] {
				if cards[i], err = ce.card(p, ce.freshPAN()); err != nil {
					t.Fatal(err)
				}
			}
			cards[3], err = ce.f.Svc.CreateInstrument(ctx, ce.f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
				vault.Source{Number: ce.freshPAN(), Expiry: card.Expiry{Month: 12, Year: 2040}},
				vault.CreateOptions{NewBillingAddress: &vault.Address{Street: "10 Main", Country: "US", Zip: "10014"}})
			if err != nil || cards[3].BillingAddressID == "" {
				t.Fatalf("card with a billing address: %v, %+v", err, cards[3])
			}
			addr, err := st.GetAddress(ctx, mid, p.ID, cards[3].BillingAddressID)
			if err != nil {
				t.Fatal(err)
			}
			var own atomic.Int32 // the fns' own reads of cards and addresses
			stop := sqlstore.ObserveSQL(func(q string) {
				if strings.Contains(q, "FROM instruments LEFT JOIN") && strings.Contains(q, "token = ?") ||
					strings.Contains(q, "FROM addresses WHERE merchant_id = ?") {
					own.Add(1)
				}
			})
			defer stop()

			type read struct {
				Holder, Status, First, Zip string
				Kind                       vault.Kind
			}
			readIn := func(tx vault.Tx, merchantID, tok string) read {
				in, c, err := tx.GetInstrumentByTokenWithCustomer(ctx, merchantID, tok)
				if err != nil {
					return read{Kind: vault.KindOf(err)}
				}
				r := read{Holder: in.HolderName, Status: in.StoredCredentialStatus, First: c.FirstName}
				if in.BillingAddressID != "" {
					a, err := tx.GetAddress(ctx, merchantID, in.ProfileID, in.BillingAddressID)
					if err != nil {
						return read{Kind: vault.KindOf(err)}
					}
					r.Zip = a.Zip
				}
				return r
			}
			reader := func(merchantID, tok string, got *read) func() {
				return func() {
					err := st.Write(vault.WithTokenRead(ctx, tok), func(tx vault.Tx) error {
						*got = readIn(tx, merchantID, tok)
						return nil
					})
					if err != nil {
						t.Errorf("read of %s: %v", tok, err)
					}
				}
			}
			writer := func(fn func(tx vault.Tx) error) func() {
				return func() {
					if err := st.Write(ctx, fn); err != nil {
						t.Errorf("write: %v", err)
					}
				}
			}

			got := make([]read, 6)
			writes := []func(){
				reader(mid, cards[0].Token, &got[0]),
				reader(mid, cards[1].Token, &got[1]),
				reader(mid, cards[2].Token, &got[2]),
				reader(mid, cards[0].Token, &got[3]),
				reader("another-merchant", cards[1].Token, &got[4]),
				reader(mid, cards[3].Token, &got[5]),
			}
			mustGather(t, st, writes)
			ann := read{Status: "UNVERIFIED", First: "Ann"}
			want := []read{ann, ann, ann, ann, {Kind: vault.NotFound}, {Status: "UNVERIFIED", First: "Ann", Zip: "10014"}}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("reads in one batch (-want +got)\n%s", d)
			}
			// Only the read of another merchant's token runs on its own.
			if own.Load() != 1 {
				t.Errorf("%d card reads of their own; want 1", own.Load())
			}

			// Writes of the batch to the cards, each before a read of the same card.
			renamed := *cards[0]
			renamed.HolderName = "Renamed"
			renamed.Modified = time.Now().UTC().Truncate(time.Millisecond)
			bo := *p
			bo.FirstName = "Bo"
			moved := *addr
			moved.Zip = "94107"
			got = make([]read, 8)
			writes = []func(){
				reader(mid, cards[0].Token, &got[0]),
				reader(mid, cards[2].Token, &got[1]),
				writer(func(tx vault.Tx) error { return tx.SetCardVerified(ctx, mid, cards[2].ID) }),
				reader(mid, cards[2].Token, &got[2]),
				writer(func(tx vault.Tx) error { return tx.UpdateInstrument(ctx, &renamed) }),
				reader(mid, cards[0].Token, &got[3]),
				writer(func(tx vault.Tx) error { return tx.DeleteInstrument(ctx, mid, cards[1].ID, time.Now()) }),
				reader(mid, cards[1].Token, &got[4]),
				writer(func(tx vault.Tx) error { return tx.UpdateProfile(ctx, &bo) }),
				reader(mid, cards[2].Token, &got[5]),
				reader(mid, cards[3].Token, &got[6]),
				writer(func(tx vault.Tx) error { return tx.UpdateAddress(ctx, &moved) }),
				reader(mid, cards[3].Token, &got[7]),
			}
			mustGather(t, st, writes)
			want = []read{
				ann,
				ann,
				{Status: "VERIFIED", First: "Ann"},
				{Holder: "Renamed", Status: "UNVERIFIED", First: "Ann"},
				{Kind: vault.NotFound},
				{Status: "VERIFIED", First: "Bo"},
				{Status: "UNVERIFIED", First: "Bo", Zip: "10014"},
				{Status: "UNVERIFIED", First: "Bo", Zip: "94107"},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("reads after writes in one batch (-want +got)\n%s", d)
			}
		})
	}
}
