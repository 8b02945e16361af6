package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestCheckThenWriteNodes races, from two nodes on one PostgreSQL database, the vault rules
// that are a check and then a write: a card already on the profile (7503, the profile's row
// lock) and a one-time token consumed once (the conditional UPDATE). The first write to end
// its statements holds its transaction open (holdCommit) while the other node's runs, so
// that each rule is kept by the database and not by the timing of two commits: each case
// failed with its guarantee removed (the profile lock taken without FOR UPDATE; the UPDATE
// without "consumed_at = 0").
func TestCheckThenWriteNodes(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a, b := openPair(t, sqlstore.Config{DSN: dsn})
	f := storetest.MustFixture(t, func(testing.TB) storetest.Store { return a })
	nodes := []*vault.Service{f.Svc, otherNode(t, b)}
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

	t.Run("single-use-token", func(t *testing.T) {
		p := prof("sut-nodes")
		tok, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{
			Kind: vault.TokenCard, Number: "4111111111111111", Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123"})
		if err != nil {
			t.Fatal(err)
		}
		errs := raceNodes(t, a, "onetime_tokens", len(nodes), func(i int) error {
			_, err := nodes[i].CreateInstrument(ctx, f.Principal, &vault.Instrument{Kind: vault.KindCard, ProfileID: p.ID},
				vault.Source{Token: tok.Token, TokenKinds: []string{vault.TokenCard}}, vault.CreateOptions{})
			return err
		})
		checkOneWins(t, errs, func(err error) bool {
			e := vault.AsError(err)
			return e != nil && e.Kind == vault.Invalid && e.Field == "token"
		})
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
	if calls, err := sqlstore.CountSQL(st, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM racenodes_hold"); err != nil || calls < 1 {
		t.Fatalf("the hold on %s never ran (%d, %v)", table, calls, err)
	}
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

// checkOneWins checks that exactly one of errs is nil and that refused accepts the others.
func checkOneWins(t *testing.T, errs []error, refused func(error) bool) {
	t.Helper()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !refused(err):
			t.Errorf("node %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d nodes succeeded (%v); want exactly one", won, len(errs), errs)
	}
}

// otherNode returns a vault service over st with the fixtures' master key, as another node
// runs it.
func otherNode(t *testing.T, st *sqlstore.Store) *vault.Service {
	t.Helper()
	var mk keys.MasterKey
	copy(mk[:], "storetest-master-key-0123456789ab")
	kr, err := keys.Open(context.Background(), st, mk, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bins, err := card.LoadBINs()
	if err != nil {
		t.Fatal(err)
	}
	return vault.NewService(st, kr, bins, vault.Config{})
}
