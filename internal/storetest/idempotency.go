package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// testIdempotencyStore checks the idempotency records: a key is claimed once, even by
// concurrent claimants; the live record is returned to the others; finishing, releasing,
// expiry, abandonment and sweeping behave as idempotency.Store says.
func testIdempotencyStore(t *testing.T, open Opener) {
	st := open(t)
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	long := now.Add(-24 * time.Hour)
	stale := now.Add(-5 * time.Minute)
	rec := func(key string, at time.Time) *idempotency.Record {
		return &idempotency.Record{MerchantID: "m1", Scope: "paysafe", Key: key, MAC: []byte("mac-" + key), State: idempotency.StatePending, Created: at}
	}

	// Concurrent claims of one key: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			live, err := st.ClaimIdempotencyKey(ctx, rec("k1", now), long, stale)
			switch {
			case err != nil:
				t.Errorf("claim: %v", err)
			case live == nil:
				wins.Add(1)
			case live.State != idempotency.StatePending || !bytes.Equal(live.MAC, []byte("mac-k1")):
				t.Errorf("live record = %+v", live)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims won, want 1", wins.Load())
	}

	// Finish stores the outcome; a finish by a lost claim (another created_at) changes nothing.
	done := rec("k1", now)
	done.State, done.Status, done.Body = idempotency.StateDone, 201, []byte(`{"id":"x"}`)
	done.Header = http.Header{"Location": {"/x"}}
	lost := *done
	lost.Created, lost.Body = now.Add(time.Millisecond), []byte("lost")
	if err := st.FinishIdempotencyKey(ctx, &lost); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishIdempotencyKey(ctx, done); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", "k1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(done, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	// A done answer that was open is replaced by its final one, by the same claim only; a
	// secret record never is.
	final := *done
	final.Status, final.Body = 200, []byte(`{"id":"x","status":"COMPLETED"}`)
	lost.Body = []byte("lost again")
	for _, r := range []*idempotency.Record{&lost, &final} {
		if err := st.FinishIdempotencyKey(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", "k1"); err != nil || cmp.Diff(&final, got) != "" {
		t.Errorf("final answer: %v (-want +got)\n%s", err, cmp.Diff(&final, got))
	}
	secret := rec("k3", now.Add(2*time.Second)) // after the sweeps below
	if live, err := st.ClaimIdempotencyKey(ctx, secret, long, stale); err != nil || live != nil {
		t.Fatalf("claim k3: %+v, %v", live, err)
	}
	secret.State = idempotency.StateSecret
	if err := st.FinishIdempotencyKey(ctx, secret); err != nil {
		t.Fatal(err)
	}
	over := *secret
	over.State, over.Status, over.Body = idempotency.StateDone, 200, []byte("{}")
	if err := st.FinishIdempotencyKey(ctx, &over); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", "k3"); err != nil || got.State != idempotency.StateSecret {
		t.Errorf("secret record overwritten: %+v, %v", got, err)
	}
	// Scopes and merchants are separate.
	for _, other := range []*idempotency.Record{{MerchantID: "m2", Scope: "paysafe", Key: "k1", MAC: []byte("x"), State: idempotency.StatePending, Created: now},
		{MerchantID: "m1", Scope: "fortis", Key: "k1", MAC: []byte("x"), State: idempotency.StatePending, Created: now}} {
		if live, err := st.ClaimIdempotencyKey(ctx, other, long, stale); err != nil || live != nil {
			t.Errorf("claim in another partition = %+v, %v", live, err)
		}
	}
	// A done record is live until it expires, then replaced.
	if live, _ := st.ClaimIdempotencyKey(ctx, rec("k1", now.Add(time.Hour)), long.Add(time.Hour), stale.Add(time.Hour)); live == nil || live.State != idempotency.StateDone {
		t.Errorf("done record before expiry: %+v", live)
	}
	if live, err := st.ClaimIdempotencyKey(ctx, rec("k1", now.Add(25*time.Hour)), now.Add(time.Hour), now.Add(25*time.Hour-5*time.Minute)); err != nil || live != nil {
		t.Errorf("expired record not replaced: %+v, %v", live, err)
	}
	// A pending record is taken over once stale; release deletes only one's own claim.
	if live, _ := st.ClaimIdempotencyKey(ctx, rec("k2", now), long, stale); live != nil {
		t.Fatal("fresh key not claimed")
	}
	if live, _ := st.ClaimIdempotencyKey(ctx, rec("k2", now.Add(time.Minute)), long, stale.Add(time.Minute)); live == nil {
		t.Error("a fresh pending record was taken over")
	}
	if live, _ := st.ClaimIdempotencyKey(ctx, rec("k2", now.Add(10*time.Minute)), long, now.Add(5*time.Minute)); live != nil {
		t.Error("a stale pending record was not taken over")
	}
	if err := st.ReleaseIdempotencyKey(ctx, rec("k2", now)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", "k2"); err != nil {
		t.Errorf("the old claimant's release removed the new claim: %v", err)
	}
	// A pending record bound to what its request made (a payment) is never taken over as
	// abandoned, only once expired; a bind by a lost claim changes nothing.
	bind := func(key string, at time.Time, ref string) {
		t.Helper()
		err := st.Write(ctx, func(tx vault.Tx) error {
			return tx.(payments.Tx).BindIdempotencyKey(ctx, idempotency.Claim{MerchantID: "m1", Scope: "paysafe", Key: key, Created: at}, ref)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if live, _ := st.ClaimIdempotencyKey(ctx, rec("k4", now), long, stale); live != nil {
		t.Fatal("fresh key k4 not claimed")
	}
	bind("k4", now.Add(time.Millisecond), "txn-lost")
	if got, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", "k4"); err != nil || got.Bound() != "" {
		t.Errorf("a lost claim's bind: %+v, %v", got, err)
	}
	bind("k4", now, "txn-4")
	if got, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", "k4"); err != nil || got.Bound() != "txn-4" || got.State != idempotency.StatePending {
		t.Errorf("bound record: %+v, %v", got, err)
	}
	if live, _ := st.ClaimIdempotencyKey(ctx, rec("k4", now.Add(10*time.Minute)), long, now.Add(5*time.Minute)); live == nil || live.Bound() != "txn-4" {
		t.Errorf("a stale bound record was taken over: %+v", live)
	}
	if live, _ := st.ClaimIdempotencyKey(ctx, rec("k4", now.Add(25*time.Hour)), now.Add(time.Hour), now.Add(25*time.Hour-5*time.Minute)); live != nil {
		t.Errorf("an expired bound record was not replaced: %+v", live)
	}
	if err := st.ReleaseIdempotencyKey(ctx, rec("k4", now.Add(25*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseIdempotencyKey(ctx, rec("k2", now.Add(10*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", "k2"); vault.KindOf(err) != vault.NotFound {
		t.Errorf("released key: %v", err)
	}
	// Sweep removes what is older than the cut-off.
	n, err := st.SweepIdempotencyKeys(ctx, now.Add(time.Second))
	if err != nil || n != 2 {
		t.Errorf("sweep = %d, %v; want the two partition records", n, err)
	}
	// It deletes in chunks of a few hundred keys a write, the oldest first, until none is
	// left; keys at or after the cut-off stay.
	const old = 1234
	for i := range old + 3 {
		at := now.Add(time.Duration(i-old) * time.Millisecond)
		if live, err := st.ClaimIdempotencyKey(ctx, rec(fmt.Sprintf("bulk-%d", i), at), long, stale); err != nil || live != nil {
			t.Fatalf("claim %d: %+v, %v", i, live, err)
		}
	}
	if n, err := st.SweepIdempotencyKeys(ctx, now); err != nil || n != old {
		t.Errorf("sweep = %d, %v; want %d", n, err, old)
	}
	for i := old; i < old+3; i++ {
		if _, err := st.GetIdempotencyKey(ctx, "m1", "paysafe", fmt.Sprintf("bulk-%d", i)); err != nil {
			t.Errorf("key at or after the cut-off swept: %v", err)
		}
	}
}
