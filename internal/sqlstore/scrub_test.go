package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// scrubPAN is the card number an older payvault kept in refused transactions.
const scrubPAN = "4111111111111111"

// oldRefusedExtras are the extras a payvault before the rule (payments.WithoutRefused) stored
// with a Paysafe auth refused for a card number sent as customerIp, merchantDescriptor.phone
// and shippingDetails.zip: the refused values beside the field errors that name them.
const oldRefusedExtras = `{"shippingDetails":{"city":"Town","country":"US","zip":"` + scrubPAN + `"},"customerIp":"` + scrubPAN +
	`","description":"tea","merchantDescriptor":{"dynamicDescriptor":"SHOP","phone":"` + scrubPAN + `"},` +
	`"fieldErrors":[{"field":"customerIp","error":"Invalid IP Address"},{"field":"merchantDescriptor.phone","error":"size must be between 0 and 13"},` +
	`{"field":"shippingDetails.zip","error":"size must be between 0 and 10"}],"errorMessage":"Field validation error."}`

// mustInsertTxn stores t as it is, as an older payvault's write did, and returns its id.
func mustInsertTxn(tb testing.TB, st storetest.Store, t *payments.Transaction) string {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	t.ID, t.MerchantID, t.LocationID, t.AccountNumber = vault.NewID(), "m1", "l1", "1001"
	t.TxnTime, t.Created, t.Modified = now, now, now
	if t.Currency == "" {
		t.Currency = "USD"
	}
	if err := st.Write(context.Background(), func(tx vault.Tx) error { return tx.(payments.Tx).InsertTransaction(context.Background(), t) }); err != nil {
		tb.Fatal(err)
	}
	return t.ID
}

// requestColumn is a transaction's request column as stored.
func requestColumn(tb testing.TB, st storetest.Store, id string) string {
	tb.Helper()
	var req string
	db := st.(*sqlstore.Store).DB()
	q := "SELECT request FROM transactions WHERE id = ?"
	if st.(*sqlstore.Store).Dialect() == sqlstore.Postgres {
		q = "SELECT request FROM transactions WHERE id = $1"
	}
	if err := db.QueryRowContext(context.Background(), q, id).Scan(&req); err != nil {
		tb.Fatal(err)
	}
	return req
}

// forgetScrubbed deletes the setting that records the scrub as done, as a store an older
// payvault left, or one a crash stopped midway, has none.
func forgetScrubbed(tb testing.TB, st storetest.Store) {
	tb.Helper()
	if _, err := st.(*sqlstore.Store).DB().ExecContext(context.Background(), "DELETE FROM settings WHERE name = 'upgrade.refused_scrubbed'"); err != nil {
		tb.Fatal(err)
	}
}

func TestScrubRefusedSQLite(t *testing.T)   { testScrubRefused(t, MustSQLite) }
func TestScrubRefusedPostgres(t *testing.T) { testScrubRefused(t, MustPostgres) }

// testScrubRefused: ScrubRefused removes from the FAILED Paysafe transactions an older payvault
// stored the values their field errors name, over several batches, and keeps everything else;
// every other transaction keeps its request byte for byte. Run again, or after a crash
// (the setting that records it done missing, some rows scrubbed and some not), it scrubs what
// is left and changes nothing else. Once done, a run reads no transaction.
func testScrubRefused(t *testing.T, open storetest.Opener) {
	ctx := context.Background()
	defer sqlstore.SetScrubBatch(3)()
	st := open(t)
	s := st.(*sqlstore.Store)
	// A new store is scrubbed by its first start; this one is as an older payvault left it.
	forgetScrubbed(t, st)
	refused := func(ref string) *payments.Transaction {
		return &payments.Transaction{API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusFailed, Reason: payments.ReasonRejected,
			MerchantRefNum: ref, Amount: 100, ErrorCode: "5068", Extras: []byte(oldRefusedExtras)}
	}
	var scrub []string
	for i := range 4 {
		scrub = append(scrub, mustInsertTxn(t, st, refused(fmt.Sprintf("refused-%d", i))))
	}
	keep := map[string]string{} // id → its request column, which must not change
	for _, tx := range []*payments.Transaction{
		// A refusal whose field errors name no value kept in the extras (a merchantRefNum too long).
		{API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusFailed, Reason: payments.ReasonRejected, ErrorCode: "5068",
			Extras: []byte(`{"customerIp":"10.0.0.1","description":"tea","fieldErrors":[{"field":"merchantRefNum","error":"size must be between 1 and 255"}],"errorMessage":"Field validation error."}`)},
		// A declined auth: FAILED without field errors.
		{API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusFailed, Decision: payments.Declined, ErrorCode: "3009",
			Extras: []byte(`{"customerIp":"10.0.0.2","shippingDetails":{"zip":"M5H 2N2"}}`)},
		// An approved one, and another API's, whatever their extras hold.
		{API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusCompleted, Decision: payments.Approved,
			Extras: []byte(`{"customerIp":"10.0.0.3","fieldErrors":[{"field":"customerIp","error":"x"}]}`)},
		{API: "fortis", Type: payments.TypeSale, Status: payments.StatusFailed,
			Extras: []byte(`{"description":"kept","fieldErrors":[{"field":"description","error":"x"}]}`)},
	} {
		id := mustInsertTxn(t, st, tx)
		keep[id] = requestColumn(t, st, id)
	}

	n, err := s.ScrubRefused(ctx)
	if err != nil || n != len(scrub) {
		t.Fatalf("ScrubRefused = %d, %v; want %d", n, err, len(scrub))
	}
	checkScrubbed := func(t *testing.T) {
		t.Helper()
		for _, id := range scrub {
			if req := requestColumn(t, st, id); strings.Contains(req, scrubPAN) {
				t.Errorf("%s still holds the refused card number: %s", id, req)
			}
			got, err := st.GetTransaction(ctx, "m1", id)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"description":"tea","errorMessage":"Field validation error.","fieldErrors":[{"error":"Invalid IP Address","field":"customerIp"},` +
				`{"error":"size must be between 0 and 13","field":"merchantDescriptor.phone"},{"error":"size must be between 0 and 10","field":"shippingDetails.zip"}],` +
				`"merchantDescriptor":{"dynamicDescriptor":"SHOP"},"shippingDetails":{"city":"Town","country":"US"}}`
			if d := cmp.Diff(want, string(got.Extras)); d != "" {
				t.Errorf("%s extras (-want +got)\n%s", id, d)
			}
			if got.Status != payments.StatusFailed || got.ErrorCode != "5068" || got.Amount != 100 || !strings.HasPrefix(got.MerchantRefNum, "refused-") {
				t.Errorf("%s changed beyond its extras: %+v", id, got)
			}
		}
		for id, req := range keep {
			if got := requestColumn(t, st, id); got != req {
				t.Errorf("%s changed:\n%s\nwas\n%s", id, got, req)
			}
		}
	}
	checkScrubbed(t)

	t.Run("ok/done-reads-no-transaction", func(t *testing.T) {
		var scans int
		var mu sync.Mutex
		stop := sqlstore.ObserveReads(func(query string, _ []any) {
			if strings.Contains(query, "fieldErrors") || strings.Contains(query, "FROM transactions") {
				mu.Lock()
				scans++
				mu.Unlock()
			}
		})
		n, err := s.ScrubRefused(ctx)
		stop()
		if err != nil || n != 0 || scans != 0 {
			t.Errorf("ScrubRefused once done = %d, %v, with %d reads of transactions", n, err, scans)
		}
		checkScrubbed(t)
	})
	t.Run("ok/again", func(t *testing.T) {
		forgetScrubbed(t, st)
		if n, err := s.ScrubRefused(ctx); err != nil || n != 0 {
			t.Errorf("ScrubRefused again = %d, %v; want 0", n, err)
		}
		checkScrubbed(t)
	})
	t.Run("ok/after-a-crash", func(t *testing.T) {
		// Stopped midway: the setting is not written, and a row past the batches done is not
		// scrubbed yet.
		forgetScrubbed(t, st)
		scrub = append(scrub, mustInsertTxn(t, st, refused("refused-late")))
		if n, err := s.ScrubRefused(ctx); err != nil || n != 1 {
			t.Errorf("ScrubRefused after a crash = %d, %v; want 1", n, err)
		}
		checkScrubbed(t)
	})
}

// TestScrubRefusedNodesPostgres: several nodes start on one PostgreSQL at once and each runs
// the scrub: one does it (the others hear ErrScrubBusy, or find it done), every refused row
// is scrubbed once, and it is recorded as done.
func TestScrubRefusedNodesPostgres(t *testing.T) {
	ctx := context.Background()
	defer sqlstore.SetScrubBatch(2)()
	dsn := storetest.PostgresDSN(t)
	first := mustPostgresAt(t, dsn)
	forgetScrubbed(t, first)
	var ids []string
	for i := range 7 {
		ids = append(ids, mustInsertTxn(t, first, &payments.Transaction{API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusFailed,
			Reason: payments.ReasonRejected, MerchantRefNum: fmt.Sprintf("r%d", i), ErrorCode: "5068", Extras: []byte(oldRefusedExtras)}))
	}
	nodes := []storetest.Store{first, mustPostgresAt(t, dsn), mustPostgresAt(t, dsn)}
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		scrubbed, ran int
	)
	for _, st := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := st.(*sqlstore.Store).ScrubRefused(ctx)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, sqlstore.ErrScrubBusy):
			case err != nil:
				t.Error(err)
			default:
				ran++
				scrubbed += n
			}
		}()
	}
	wg.Wait()
	if scrubbed != len(ids) || ran == 0 {
		t.Errorf("%d nodes scrubbed %d rows in all, want %d", ran, scrubbed, len(ids))
	}
	for _, id := range ids {
		if req := requestColumn(t, first, id); strings.Contains(req, scrubPAN) {
			t.Errorf("%s still holds the refused card number", id)
		}
	}
	if v, err := first.GetSetting(ctx, "upgrade.refused_scrubbed"); err != nil || v == "" {
		t.Errorf("not recorded as done: %q, %v", v, err)
	}
}

// TestScrubRefusedBusyPostgres: while another session holds the scrub's lock, ScrubRefused
// answers ErrScrubBusy at once and changes nothing; once it is free, it scrubs, and leaves
// the lock free behind it.
func TestScrubRefusedBusyPostgres(t *testing.T) {
	ctx := context.Background()
	st := MustPostgres(t)
	s := st.(*sqlstore.Store)
	forgetScrubbed(t, st)
	id := mustInsertTxn(t, st, &payments.Transaction{API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusFailed,
		Reason: payments.ReasonRejected, MerchantRefNum: "r", ErrorCode: "5068", Extras: []byte(oldRefusedExtras)})
	other, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock := func(want bool) {
		t.Helper()
		var got bool
		if err := other.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, 0)", 0x70767372).Scan(&got); err != nil || got != want {
			t.Fatalf("another session takes the scrub's lock: %v, %v; want %v", got, err, want)
		}
	}
	lock(true)
	if n, err := s.ScrubRefused(ctx); !errors.Is(err, sqlstore.ErrScrubBusy) || n != 0 {
		t.Errorf("ScrubRefused beside the lock's holder = %d, %v", n, err)
	}
	if !strings.Contains(requestColumn(t, st, id), scrubPAN) {
		t.Error("the row was scrubbed without the lock")
	}
	if _, err := other.ExecContext(ctx, "SELECT pg_advisory_unlock($1, 0)", 0x70767372); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ScrubRefused(ctx); err != nil || n != 1 {
		t.Errorf("ScrubRefused = %d, %v; want 1", n, err)
	}
	lock(true) // the scrub's session let it go
}
