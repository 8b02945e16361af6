package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/token"
	"github.com/payvault/payvault/internal/vault"
)

// These cases race many writers so that a group-committing store gathers them into shared
// transactions; they check every caller's own outcome and the final state.

// newProfile returns a profile ready for tx.InsertProfile.
func newProfile(f *Fixture, mcid string) *vault.Profile {
	return &vault.Profile{
		ID: vault.NewID(), MerchantID: f.Creds.MerchantID, LocationID: f.Principal.Merchant.DefaultLocationID,
		Token: token.New(token.Profile), Status: "ACTIVE", MerchantCustomerID: mcid, Locale: "en_US",
		Created: time.Now().UTC().Truncate(time.Millisecond),
	}
}

// race runs fn(i) for i in [0, n) from n goroutines released together.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// testWriteBatchOutcomes mixes writes that succeed with writes that fail in every way a fn
// can (its own error before or after writing, a unique violation, a panic) and checks that
// each caller gets its own outcome and that exactly the successful writes are kept.
func testWriteBatchOutcomes(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	mustProfile(t, f, "batch-taken")
	boom := errors.New("boom")
	const n = 300
	kinds := []string{"ok", "fail/error-after-write", "fail/unique-violation", "fail/panic", "fail/error-before-write", "ok"}
	got := make([]string, n)
	race(n, func(i int) {
		kind := kinds[i%len(kinds)]
		name := "batch-" + strconv.Itoa(i)
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return f.Store.Write(ctx, func(tx vault.Tx) error {
				if kind == "fail/error-before-write" {
					return boom
				}
				if err := tx.SetSetting(ctx, name, "v"); err != nil {
					return err
				}
				switch kind {
				case "fail/error-after-write":
					return boom
				case "fail/unique-violation":
					return tx.InsertProfile(ctx, newProfile(f, "batch-taken"))
				case "fail/panic":
					panic("fn " + name)
				}
				return tx.InsertProfile(ctx, newProfile(f, name))
			})
		}()
		switch {
		case err == nil:
			got[i] = "ok"
		case errors.Is(err, boom):
			got[i] = "fail/error"
		case vault.KindOf(err) == vault.Conflict && vault.AsError(err).Field == "merchant_customer_id":
			got[i] = "fail/unique-violation"
		case err.Error() == "panic: fn "+name:
			got[i] = "fail/panic"
		default:
			got[i] = "unexpected: " + err.Error()
		}
	})
	want := make([]string, n)
	for i := range want {
		want[i] = kinds[i%len(kinds)]
		if want[i] == "fail/error-after-write" || want[i] == "fail/error-before-write" {
			want[i] = "fail/error"
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("callers' outcomes (-want +got)\n%s", d)
	}
	for i := range n {
		name := "batch-" + strconv.Itoa(i)
		_, serr := f.Store.GetSetting(ctx, name)
		_, perr := f.Store.GetProfileBy(ctx, mid, "merchant_customer_id", name, "")
		if kept := serr == nil; kept != (want[i] == "ok") {
			t.Errorf("write %d (%s): setting kept = %v (%v)", i, want[i], kept, serr)
		}
		if kept := perr == nil; kept != (want[i] == "ok") {
			t.Errorf("write %d (%s): profile kept = %v (%v)", i, want[i], kept, perr)
		}
	}
}

// testWriteBatchUnique races inserts of one unique value: exactly one caller wins, the
// others get Conflict, and the store keeps one row.
func testWriteBatchUnique(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	const n = 64
	var mu sync.Mutex
	outcomes := map[string]int{}
	race(n, func(i int) {
		err := f.Store.Write(ctx, func(tx vault.Tx) error {
			if err := tx.SetSetting(ctx, "uniq-"+strconv.Itoa(i), "v"); err != nil {
				return err
			}
			return tx.InsertProfile(ctx, newProfile(f, "same-mcid"))
		})
		mu.Lock()
		defer mu.Unlock()
		outcomes[vault.KindOf(err).String()]++
		if err != nil && vault.KindOf(err) != vault.Conflict {
			t.Errorf("writer %d: %v", i, err)
		}
	})
	if d := cmp.Diff(map[string]int{vault.Other.String(): 1, vault.Conflict.String(): n - 1}, outcomes); d != "" {
		t.Errorf("outcomes by kind (-want +got)\n%s", d)
	}
	_, total, err := f.Store.ListProfiles(ctx, f.Creds.MerchantID, vault.Query{Filters: []vault.Filter{{Field: "merchant_customer_id", Op: vault.OpIn, Values: []string{"same-mcid"}}}})
	if err != nil || total != 1 {
		t.Errorf("profiles with the raced mcid: %d, %v; want 1", total, err)
	}
	kept := 0
	for i := range n {
		if _, err := f.Store.GetSetting(ctx, "uniq-"+strconv.Itoa(i)); err == nil {
			kept++
		}
	}
	if kept != 1 {
		t.Errorf("%d losers' other writes were kept; want only the winner's", kept-1)
	}
}

// testWriteBatchBalance spends a balance from many writers, each holding the profile's row
// lock while it reads and writes: exactly the funded spends succeed and none is lost,
// whether the writes share a transaction or race from other committers.
func testWriteBatchBalance(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	p := mustProfile(t, f, "balance")
	const funds, n = 40, 120
	if err := f.Store.Write(ctx, func(tx vault.Tx) error { return tx.SetSetting(ctx, "balance", strconv.Itoa(funds)) }); err != nil {
		t.Fatal(err)
	}
	insufficient := errors.New("insufficient funds")
	var mu sync.Mutex
	spent, refused := 0, 0
	race(n, func(i int) {
		err := f.Store.Write(ctx, func(tx vault.Tx) error {
			if _, err := tx.LockProfile(ctx, mid, p.ID); err != nil {
				return err
			}
			v, err := tx.GetSetting(ctx, "balance")
			if err != nil {
				return err
			}
			bal, _ := strconv.Atoi(v)
			if bal <= 0 {
				return insufficient
			}
			if err := tx.SetSetting(ctx, "spend-"+strconv.Itoa(i), "1"); err != nil {
				return err
			}
			return tx.SetSetting(ctx, "balance", strconv.Itoa(bal-1))
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			spent++
		case errors.Is(err, insufficient):
			refused++
		default:
			t.Errorf("spend %d: %v", i, err)
		}
	})
	if spent != funds || refused != n-funds {
		t.Errorf("%d spends succeeded and %d were refused; want %d and %d", spent, refused, funds, n-funds)
	}
	if v, err := f.Store.GetSetting(ctx, "balance"); err != nil || v != "0" {
		t.Errorf("final balance %q, %v; want 0", v, err)
	}
	recorded := 0
	for i := range n {
		if _, err := f.Store.GetSetting(ctx, "spend-"+strconv.Itoa(i)); err == nil {
			recorded++
		}
	}
	if recorded != funds {
		t.Errorf("%d spends recorded; want %d", recorded, funds)
	}
}

// testWriteBatchLockOrder has writers lock two profiles in opposite orders. Within one
// transaction that cannot deadlock; across committers (or nodes) it can, and the store must
// retry the victim so that every caller still succeeds exactly once.
func testWriteBatchLockOrder(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	a, b := mustProfile(t, f, "lock-a"), mustProfile(t, f, "lock-b")
	const n = 48
	race(n, func(i int) {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		err := f.Store.Write(ctx, func(tx vault.Tx) error {
			if _, err := tx.LockProfile(ctx, mid, first.ID); err != nil {
				return err
			}
			if _, err := tx.LockProfile(ctx, mid, second.ID); err != nil {
				return err
			}
			v, err := tx.GetSetting(ctx, "count")
			if err != nil && vault.KindOf(err) != vault.NotFound {
				return err
			}
			c, _ := strconv.Atoi(v)
			return tx.SetSetting(ctx, "count", strconv.Itoa(c+1))
		})
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	})
	if v, err := f.Store.GetSetting(ctx, "count"); err != nil || v != strconv.Itoa(n) {
		t.Errorf("count = %q, %v; want %d", v, err, n)
	}
}

// testWriteBatchCards races card creates through the service, including duplicates of one
// number on one profile and reuses of one single-use token, alongside ordinary creates.
func testWriteBatchCards(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	dupProfile := mustProfile(t, f, "batch-dup")
	tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{
		Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123",
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 96
	var mu sync.Mutex
	count := map[string]int{}
	race(n, func(i int) {
		var err error
		kind := []string{"dup", "token", "plain", "luhn"}[i%4]
		switch kind {
		case "dup":
			_, err = f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: dupProfile.ID},
				vault.Source{Number: "5200400000000009", Expiry: card.Expiry{Month: 1, Year: 2039}}, vault.CreateOptions{CheckDuplicate: true})
		case "token":
			_, err = f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard},
				vault.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}, vault.CreateOptions{})
		case "plain":
			_, err = f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard},
				vault.Source{Number: "4012888888881881", Expiry: card.Expiry{Month: 1, Year: 2039}}, vault.CreateOptions{})
		case "luhn":
			_, err = f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard},
				vault.Source{Number: "4012888888881882", Expiry: card.Expiry{Month: 1, Year: 2039}}, vault.CreateOptions{})
		}
		mu.Lock()
		defer mu.Unlock()
		count[kind+"/"+vault.KindOf(err).String()]++
	})
	q := n / 4
	want := map[string]int{
		"dup/" + vault.Other.String(): 1, "dup/" + vault.Conflict.String(): q - 1,
		"token/" + vault.Other.String(): 1, "token/" + vault.Invalid.String(): q - 1,
		"plain/" + vault.Other.String():  q,
		"luhn/" + vault.Invalid.String(): q,
	}
	if d := cmp.Diff(want, count); d != "" {
		t.Errorf("outcomes (-want +got)\n%s", d)
	}
	cards, err := f.Store.ListProfileInstruments(ctx, f.Creds.MerchantID, dupProfile.ID, vault.KindCard)
	if err != nil || len(cards) != 1 || !cards[0].DefaultCard {
		t.Errorf("profile with raced duplicates holds %d cards (%v); want one default card", len(cards), err)
	}
	_, total, err := f.Store.ListInstruments(ctx, f.Creds.MerchantID, vault.Query{})
	if err != nil || total != 1+1+q {
		t.Errorf("%d instruments stored (%v); want %d", total, err, 2+q)
	}
}

// testWriteCanceled checks that a caller whose ctx is done before its fn started gets
// Unavailable and its fn never runs.
func testWriteCanceled(t *testing.T, open Opener) {
	st := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := st.Write(ctx, func(tx vault.Tx) error { ran = true; return nil })
	if vault.KindOf(err) != vault.Unavailable || ran {
		t.Errorf("Write with a done ctx: %v, fn ran %v; want Unavailable without running", err, ran)
	}
}

// RunAuditBatch races audited writes of two merchants, some of which fail after they
// appended to the chain: each merchant's chain must hold exactly the records of the writes
// that succeeded, in an unbroken sequence that verifies.
func RunAuditBatch(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	as := f.Store.(AuditStore)
	as.SetAuditMAC(f.Keys)
	other, err := f.Svc.CreateMerchant(ctx, vault.NewMerchant{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	mids := []string{f.Creds.MerchantID, other.MerchantID}
	before := map[string]int{}
	for _, mid := range mids {
		recs, err := as.ListAudit(ctx, mid, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		before[mid] = len(recs)
	}
	newToken := func(mid, value string) *vault.OneTimeToken {
		now := time.Now().UTC().Truncate(time.Millisecond)
		return &vault.OneTimeToken{ID: vault.NewID(), MerchantID: mid, Token: value, Kind: vault.TokenCard, Created: now, Expires: now.Add(time.Hour)}
	}
	if err := f.Store.Write(ctx, func(tx vault.Tx) error { return tx.InsertOneTimeToken(ctx, newToken(mids[0], "taken")) }); err != nil {
		t.Fatal(err)
	}
	before[mids[0]]++
	boom := errors.New("boom")
	const n = 160
	var mu sync.Mutex
	want := map[string]int{}
	race(n, func(i int) {
		mid := mids[i%2]
		kind := (i / 2) % 4
		err := f.Store.Write(ctx, func(tx vault.Tx) error {
			switch kind {
			case 1: // appends, then fails
				if err := tx.InsertOneTimeToken(ctx, newToken(mid, "t"+strconv.Itoa(i))); err != nil {
					return err
				}
				return boom
			case 2: // fails on a unique violation
				return tx.InsertOneTimeToken(ctx, newToken(mids[0], "taken"))
			case 3: // appends twice
				if err := tx.InsertOneTimeToken(ctx, newToken(mid, "t"+strconv.Itoa(i))); err != nil {
					return err
				}
				return tx.InsertOneTimeToken(ctx, newToken(mid, "u"+strconv.Itoa(i)))
			}
			return tx.InsertOneTimeToken(ctx, newToken(mid, "t"+strconv.Itoa(i)))
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case kind == 0 && err == nil:
			want[mid]++
		case kind == 3 && err == nil:
			want[mid] += 2
		case kind == 1 && errors.Is(err, boom), kind == 2 && vault.KindOf(err) == vault.Conflict:
		default:
			t.Errorf("write %d (kind %d): %v", i, kind, err)
		}
	})
	for _, mid := range mids {
		recs, err := as.ListAudit(ctx, mid, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(recs) - before[mid]; got != want[mid] {
			t.Errorf("merchant %s: %d new audit records, want %d", mid, got, want[mid])
		}
		for i, r := range recs {
			if r.Seq != int64(i+1) {
				t.Fatalf("merchant %s: record %d has seq %d", mid, i, r.Seq)
			}
		}
	}
	if problems, err := as.VerifyAudit(ctx, f.Keys); err != nil || len(problems) != 0 {
		t.Errorf("VerifyAudit = %v, %v", problems, err)
	}
}
