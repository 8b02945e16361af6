package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestCheckThenWriteNodes races each uniqueness and single-use rule from two nodes (two
// stores, each with its own committer) on one PostgreSQL database. The first row either
// writes to the rule's table holds its transaction open after the write and its check
// (raceNodes), while the other node runs its own, so that a rule kept only by the timing of
// two commits fails. Each case failed with the database guarantee it names removed:
//   - a card already on the profile (7503): the profile's row lock (LockProfileLocation
//     without FOR UPDATE);
//   - a single-use token or Fortis ticket consumed once: the UPDATE's "consumed_at = 0";
//   - dupCheck auths under one merchantRefNum (5031): LockKey's advisory lock (a no-op);
//   - an Idempotency-Key claimed once: INSERT … ON CONFLICT DO NOTHING (without it the
//     loser gets a Conflict, not the live record), and an expired one replaced once: the
//     FOR UPDATE of the claim's read;
//   - merchantCustomerId (7505), contact_api_id, account vault and transaction api_id ("has
//     already been taken"): their unique indexes (dropped).
func TestCheckThenWriteNodes(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a, b := openPair(t, sqlstore.Config{DSN: dsn})
	f := storetest.MustFixture(t, func(testing.TB) storetest.Store { return a })
	svcB, krB := storetest.MustNode(t, b)
	nodes := []*vault.Service{f.Svc, svcB}
	sandbox := map[string]payments.Processor{payments.SandboxName: payments.NewSandbox(nil, payments.SandboxConfig{})}
	pays := []*payments.Service{storetest.MustPayments(t, f, payments.Config{Processors: sandbox}),
		payments.NewService(b, svcB, krB, payments.Config{Processors: sandbox})}
	ctx := context.Background()
	prof := func(mcid string) *vault.Profile {
		p, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: mcid, Locale: "en_US"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("duplicate-card", func(t *testing.T) {
		p := prof("dup-nodes")
		errs := raceNodes(t, a, "instruments", len(nodes), func(i int) error {
			_, err := nodes[i].CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
				vault.Source{Number: "4530910000012345", Expiry: card.Expiry{Month: 1 + i, Year: 2039}}, vault.CreateOptions{CheckDuplicate: true})
			return err
		})
		checkOneWins(t, errs, func(err error) bool { return vault.KindOf(err) == vault.Conflict })
	})

	for _, kind := range []string{vault.TokenCard, vault.TokenTicket} {
		t.Run("one-time-token/"+kind, func(t *testing.T) {
			p := prof("ott-nodes-" + kind)
			tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{
				Kind: kind, Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123"})
			if err != nil {
				t.Fatal(err)
			}
			errs := raceNodes(t, a, "onetime_tokens", len(nodes), func(i int) error {
				_, err := nodes[i].CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
					vault.Source{Token: tok.Token, TokenKinds: []string{kind}}, vault.CreateOptions{})
				return err
			})
			checkOneWins(t, errs, func(err error) bool {
				e := vault.AsError(err)
				return e != nil && e.Kind == vault.Invalid && e.Field == "token"
			})
		})
	}

	loc, err := a.GetLocationByAccount(ctx, f.Creds.Paysafe.AccountNumber)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("dupcheck-auth", func(t *testing.T) {
		errs := raceNodes(t, a, "transactions", len(pays), func(i int) error {
			_, err := pays[i].Authorize(ctx, f.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: loc,
				Amount: 100, MerchantRefNum: "dup-nodes", DupCheck: true,
				Source: payments.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}}})
			return err
		})
		checkOneWins(t, errs, func(err error) bool { return errors.Is(err, payments.ErrDuplicateRef) })
	})

	// An Idempotency-Key claimed from two nodes at once: new, and expired (its record is
	// replaced, under the row lock of its read).
	for _, expired := range []bool{false, true} {
		t.Run(fmt.Sprintf("idempotency-key/expired=%v", expired), func(t *testing.T) {
			key := fmt.Sprintf("idem-nodes-%v", expired)
			rec := func() *idempotency.Record {
				return &idempotency.Record{MerchantID: f.Creds.MerchantID, Scope: "paysafe", Key: key, MAC: []byte("mac"),
					State: idempotency.StatePending, Created: time.Now()}
			}
			if expired {
				old := rec()
				old.Created = time.Now().Add(-48 * time.Hour)
				if live, err := a.ClaimIdempotencyKey(ctx, old, time.Now().Add(-72*time.Hour), time.Now().Add(-72*time.Hour)); err != nil || live != nil {
					t.Fatalf("first claim: %v, %v", live, err)
				}
			}
			stores := []*sqlstore.Store{a, b}
			errs := raceNodes(t, a, "idempotency", len(stores), func(i int) error {
				live, err := stores[i].ClaimIdempotencyKey(ctx, rec(), time.Now().Add(-24*time.Hour), time.Now().Add(-time.Hour))
				if err == nil && live != nil {
					return errTaken
				}
				return err
			})
			checkOneWins(t, errs, func(err error) bool { return err == errTaken })
		})
	}

	// The unique indexes: a merchantCustomerId (7505), a Fortis contact_api_id,
	// account_vault_api_id and transaction_api_id ("has already been taken").
	t.Run("merchant-customer-id", func(t *testing.T) {
		errs := raceNodes(t, a, "profiles", len(nodes), func(i int) error {
			_, err := nodes[i].CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "mcid-nodes", Locale: "en_US"})
			return err
		})
		checkOneWins(t, errs, conflictOn("merchant_customer_id"))
	})
	t.Run("contact-api-id", func(t *testing.T) {
		errs := raceNodes(t, a, "profiles", len(nodes), func(i int) error {
			_, err := nodes[i].CreateProfile(ctx, f.Principal, &vault.Profile{ContactAPIID: "contact-nodes", Locale: "en_US"})
			return err
		})
		checkOneWins(t, errs, conflictOn("contact_api_id"))
	})
	t.Run("account-vault-api-id", func(t *testing.T) {
		errs := raceNodes(t, a, "instruments", len(nodes), func(i int) error {
			_, err := nodes[i].CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, APIID: "vault-nodes"},
				vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{})
			return err
		})
		checkOneWins(t, errs, conflictOn("api_id"))
	})
	t.Run("transaction-api-id", func(t *testing.T) {
		errs := raceNodes(t, a, "transactions", len(pays), func(i int) error {
			_, err := pays[i].Authorize(ctx, f.Principal, payments.AuthRequest{API: "test", Type: payments.TypeAuth, Location: loc,
				Amount: 100, APIID: "txn-nodes", Source: payments.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}}})
			return err
		})
		checkOneWins(t, errs, conflictOn("api_id"))
	})
}

// raceNodes runs fn(i) for each of n nodes at once. The first row a statement of theirs
// writes to table (holdAfterWrite) holds that statement, and so its transaction, open for
// half a second after the write, with its locks held and its check done, while the other
// nodes run theirs: a rule that is only a check and then a write, with no lock or condition
// that the database enforces, lets them all through.
func raceNodes(t *testing.T, st *sqlstore.Store, table string, n int, fn func(i int) error) []error {
	t.Helper()
	holdAfterWrite(t, st, table)
	errs := raceAll(n, fn)
	if calls, err := sqlstore.CountSQL(st, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM racenodes_hold"); err != nil || calls < 1 {
		t.Fatalf("the hold on %s never ran (%d, %v)", table, calls, err)
	}
	return errs
}

// raceAll runs fn(i) for i in [0, n) from n goroutines released together, and returns
// their errors in order.
func raceAll(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// holdAfterWrite makes the first row written to table afterwards (a sequence counts them,
// outside any transaction) sleep in an AFTER trigger, and drops the trigger when t ends.
func holdAfterWrite(t *testing.T, st *sqlstore.Store, table string) {
	t.Helper()
	for _, q := range []string{
		"CREATE SEQUENCE IF NOT EXISTS racenodes_hold",
		"SELECT setval('racenodes_hold', 1, false)",
		`CREATE OR REPLACE FUNCTION racenodes_hold() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('racenodes_hold') = 1 THEN PERFORM pg_sleep(0.5); END IF;
			RETURN NULL;
		END $$`,
		"CREATE TRIGGER racenodes_hold AFTER INSERT OR UPDATE ON " + table + " FOR EACH ROW EXECUTE FUNCTION racenodes_hold()",
	} {
		if err := sqlstore.ExecSQL(st, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		if err := sqlstore.ExecSQL(st, "DROP TRIGGER racenodes_hold ON "+table); err != nil {
			t.Error(err)
		}
	})
}

// errTaken stands for a claim that found the key live.
var errTaken = errors.New("taken")

// conflictOn returns a check that an error is a Conflict on field.
func conflictOn(field string) func(error) bool {
	return func(err error) bool {
		e := vault.AsError(err)
		return e != nil && e.Kind == vault.Conflict && e.Field == field
	}
}

// checkOneWins checks that exactly one of errs is nil and that refused accepts the others.
func checkOneWins(t *testing.T, errs []error, refused func(error) bool) {
	t.Helper()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !refused(err):
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d callers succeeded (%v); want exactly one", won, len(errs), errs)
	}
}
