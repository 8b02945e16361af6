package payments_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestFollowUpRaceNodes races settlements, voids, refunds, the cancels of settlements and
// refunds, and the operator's batch on one auth from two nodes (two stores, each with its own
// committer, on one PostgreSQL database), so that the row locks, not a shared committer, keep
// them apart. After each round the §2.16 invariants hold: the auth's available-to-settle is
// its amount less its live settlements and voids, each settlement's available-to-refund is its
// amount less its live refunds (0 once cancelled), a cancelled settlement has no live refund,
// and nothing is negative.
func TestFollowUpRaceNodes(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	open := func(tb testing.TB) storetest.Store {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: dsn})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}
	e := mustEnv(t, open, payments.Config{})
	nodes := []*payments.Service{e.ps, mustNode(t, open(t))}
	t.Run("dupcheck", func(t *testing.T) { testDupCheckRace(t, e, nodes) })
	for round := range 6 {
		a, err := e.auth(t, 1000, rawVisa, round%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var settlements []string
		if a.Settled != nil {
			settlements = append(settlements, a.Settled.ID)
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for range 12 {
					ps := nodes[rnd.IntN(len(nodes))]
					mu.Lock()
					s := ""
					if len(settlements) > 0 {
						s = settlements[rnd.IntN(len(settlements))]
					}
					mu.Unlock()
					amount := int64(rnd.IntN(400)) // 0 takes all that is left
					var err error
					switch op := rnd.IntN(21); {
					case op == 20:
						_, err = ps.Batch(e.ctx, "")
					case op%5 == 0:
						var st *payments.Transaction
						if st, err = ps.Settle(e.ctx, e.Principal, e.follow(amount, a.ID)); err == nil {
							mu.Lock()
							settlements = append(settlements, st.ID)
							mu.Unlock()
						}
					case op%5 == 1:
						_, err = ps.Void(e.ctx, e.Principal, e.follow(amount, a.ID))
					case s == "":
					case op%5 == 2:
						_, err = ps.Refund(e.ctx, e.Principal, e.follow(amount, s))
					case op%5 == 3:
						_, err = ps.Cancel(e.ctx, e.Principal, e.loc, s, payments.TypeSettlement)
					default:
						var kids []*payments.Transaction
						if kids, err = ps.Children(e.ctx, e.Principal, &payments.Transaction{ID: s}); err == nil && len(kids) > 0 {
							_, err = ps.Cancel(e.ctx, e.Principal, e.loc, kids[rnd.IntN(len(kids))].ID, payments.TypeRefund)
						}
					}
					if err != nil && vault.KindOf(err) != vault.Conflict {
						t.Errorf("round %d: %v", round, err)
					}
				}
			}()
		}
		wg.Wait()
		checkDrawInvariants(t, e, a.ID)
	}
}

// testDupCheckRace sends auths and settlements under dupCheck with one merchant reference
// each, concurrently from every node: exactly one of each is made, and the others are refused
// with ErrDuplicateRef. Each type is sent from every node, and the settlements draw on two
// auths, so that neither one committer's batch nor the row lock of a shared auth keeps them
// apart: on PostgreSQL only LockKey does (it failed with LockKey a no-op), on SQLite the one
// writer.
func testDupCheckRace(t *testing.T, e *env, nodes []*payments.Service) {
	var parents [2]string
	for i := range parents {
		a, err := e.auth(t, 1000, rawVisa, false)
		if err != nil {
			t.Fatal(err)
		}
		parents[i] = a.ID
	}
	for round := range 4 {
		ref := fmt.Sprintf("dup-race-%d", round)
		var mu sync.Mutex
		made := map[payments.Type]int{}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ps := nodes[(i/2)%len(nodes)] // each type from every node
				<-start
				var t2 *payments.Transaction
				var err error
				if i%2 == 0 {
					t2, err = ps.Authorize(e.ctx, e.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: e.loc,
						Amount: 100, MerchantRefNum: ref, DupCheck: true, Source: rawVisa})
				} else {
					f := e.follow(10, parents[(i/4)%len(parents)])
					f.MerchantRefNum, f.DupCheck = ref, true
					t2, err = ps.Settle(e.ctx, e.Principal, f)
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					made[t2.Type]++
				case !errors.Is(err, payments.ErrDuplicateRef):
					t.Errorf("round %d, %d: %v", round, i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if made[payments.TypeAuth] != 1 || made[payments.TypeSettlement] != 1 {
			t.Errorf("round %d: made %v under one reference with dupCheck; want one auth and one settlement", round, made)
		}
	}
}

// TestDupCheckRaceSQLite races dupCheck auths and settlements through one SQLite node, whose
// committer gathers them into shared batches: its one writer keeps them apart (LockKey does
// nothing there).
func TestDupCheckRaceSQLite(t *testing.T) {
	e := mustEnv(t, func(tb testing.TB) storetest.Store {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}, payments.Config{})
	testDupCheckRace(t, e, []*payments.Service{e.ps})
}

// mustNode returns a second payments service over st, as another node runs it.
func mustNode(t *testing.T, st storetest.Store) *payments.Service {
	t.Helper()
	svc, kr := storetest.MustNode(t, st)
	return payments.NewService(st, svc, kr, payments.Config{
		Processors: map[string]payments.Processor{payments.SandboxName: payments.NewSandbox(
			map[string]*payments.Triggers{"test": &testTable}, payments.SandboxConfig{})}})
}

// checkDrawInvariants checks §2.16's invariants on an auth and what draws on it.
func checkDrawInvariants(t *testing.T, e *env, authID string) {
	t.Helper()
	live := func(t *payments.Transaction) bool {
		return t.Status != payments.StatusFailed && t.Status != payments.StatusCancelled
	}
	a, err := e.ps.Get(e.ctx, e.Principal, "", authID)
	if err != nil {
		t.Fatal(err)
	}
	kids, err := e.ps.Children(e.ctx, e.Principal, a)
	if err != nil {
		t.Fatal(err)
	}
	left := a.Amount
	for _, k := range kids {
		if live(k) {
			left -= k.Amount
		}
		if k.Type != payments.TypeSettlement {
			continue
		}
		refunds, err := e.ps.Children(e.ctx, e.Principal, k)
		if err != nil {
			t.Fatal(err)
		}
		refundable := k.Amount
		for _, r := range refunds {
			if !live(r) {
				continue
			}
			refundable -= r.Amount
			if !live(k) {
				t.Errorf("refund %s (%s) is live on settlement %s (%s)", r.ID, r.Status, k.ID, k.Status)
			}
		}
		if !live(k) {
			refundable = 0
		}
		if k.Available != refundable || refundable < 0 {
			t.Errorf("settlement %s (%s): available to refund %d, want %d", k.ID, k.Status, k.Available, refundable)
		}
	}
	if a.Available != left || left < 0 {
		t.Errorf("auth %s: available to settle %d, want %d", a.ID, a.Available, left)
	}
}
