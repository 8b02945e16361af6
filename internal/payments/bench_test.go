package payments_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// benchEnv is a payments service over a fresh SQLite store with one vaulted card.
func benchEnv(b *testing.B) (*env, string) {
	b.Helper()
	open := func(tb testing.TB) storetest.Store {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(tb.TempDir(), "b.db")})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}
	f := storetest.MustFixture(b, open)
	ps := payments.NewService(f.Store, f.Svc, f.Keys, payments.Config{Processors: map[string]payments.Processor{
		payments.SandboxName: payments.NewSandbox(map[string]*payments.Triggers{"test": &testTable}, payments.SandboxConfig{}),
	}})
	ctx := context.Background()
	loc, err := ps.Account(ctx, f.Principal, f.Creds.Paysafe.AccountNumber)
	if err != nil {
		b.Fatal(err)
	}
	prof, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "bench", Locale: "en_US", FirstName: "B"})
	if err != nil {
		b.Fatal(err)
	}
	in, err := f.Svc.CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID},
		vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}},
		vault.CreateOptions{NewBillingAddress: &vault.Address{Street: "10 Main", Country: "US", Zip: "10014"}})
	if err != nil {
		b.Fatal(err)
	}
	return &env{Fixture: f, ps: ps, loc: loc, ctx: ctx}, in.Token
}

// BenchmarkAuthorizeCardToken is one auth by vault card token through the service on SQLite:
// token lookup, opening the sealed PAN, the billing address and profile, the RECEIVED write,
// the sandbox processor, and the completing write (which marks the card VERIFIED once).
func BenchmarkAuthorizeCardToken(b *testing.B) {
	e, tok := benchEnv(b)
	req := payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc, Amount: 1000,
		MerchantRefNum: "bench", Source: payments.Source{Token: tok, CVV: "123"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, err := e.ps.Authorize(e.ctx, e.Principal, req)
		if err != nil || t.Status != payments.StatusCompleted {
			b.Fatalf("auth = %v, %v", t, err)
		}
	}
}

// BenchmarkAuthorizeCardTokenParallel runs the same auths from 8×GOMAXPROCS goroutines. SQLite
// has one writer, so this measures throughput when the store gathers concurrent writes into
// shared commits; ns/op is wall time per auth across all goroutines.
func BenchmarkAuthorizeCardTokenParallel(b *testing.B) {
	e, tok := benchEnv(b)
	req := payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc, Amount: 1000,
		MerchantRefNum: "bench", Source: payments.Source{Token: tok}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.ps.Authorize(e.ctx, e.Principal, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuthorizeManyCards is BenchmarkAuthorizeCardTokenParallel over 1,000 cards of 100
// profiles, each auth on the next card: a batch's auths read different cards, as under load.
func BenchmarkAuthorizeManyCards(b *testing.B) {
	e, _ := benchEnv(b)
	const profiles, perProfile = 100, 10
	var toks []string
	for p := range profiles {
		prof, err := e.Svc.CreateProfile(e.ctx, e.Principal, &vault.Profile{MerchantCustomerID: "many-" + strconv.Itoa(p), Locale: "en_US"})
		if err != nil {
			b.Fatal(err)
		}
		for c := range perProfile {
			in, err := e.Svc.CreateInstrument(e.ctx, e.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID},
				vault.Source{Number: manyPAN(p*perProfile + c), Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			toks = append(toks, in.Token)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc, Amount: 1000,
				MerchantRefNum: "bench", Source: payments.Source{Token: toks[next.Add(1)%int64(len(toks))]}}
			if _, err := e.ps.Authorize(e.ctx, e.Principal, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// manyPAN is the i-th of distinct Luhn-valid Visa numbers.
func manyPAN(i int) string {
	n := fmt.Sprintf("411111%09d", i)
	sum := 0
	for j := range n {
		d := int(n[len(n)-1-j] - '0')
		if j%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return n + strconv.Itoa((10-sum%10)%10)
}

// BenchmarkSettle is one settlement of part of an auth: lock, reserve, RECEIVED, processor,
// complete.
func BenchmarkSettle(b *testing.B) {
	e, tok := benchEnv(b)
	a, err := e.ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc,
		Amount: payments.MaxAmount, Source: payments.Source{Token: tok}})
	if err != nil {
		b.Fatal(err)
	}
	f := payments.FollowUp{API: "test", Location: e.loc, ParentID: a.ID, Amount: 1, MerchantRefNum: "s"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.ps.Settle(e.ctx, e.Principal, f); err != nil {
			b.Fatal(err)
		}
	}
}
