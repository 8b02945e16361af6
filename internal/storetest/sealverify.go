package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// verifyPANs are the numbers of the cards and the single-use token RunSealedVerify stores.
var verifyPANs = []string{"4111111111111111", "5555555555554444", "4012888888881881", "5200400000000009"}

// verifyStore is what RunSealedVerify stores: two cards bound to their tokens (ADv2), a card
// sealed before tokens were bound (ADv1), a single-use token with a CVV, a transaction on the
// first card, and the sandbox merchant's location.
type verifyStore struct {
	f       *Fixture
	a, b, c *vault.Instrument
}

func mustVerifyStore(tb testing.TB, open Opener) *verifyStore {
	tb.Helper()
	f := MustFixture(tb, open)
	p := mustProfile(tb, f, "verify")
	vs := &verifyStore{f: f}
	vs.a = mustCard(tb, f, p.ID, verifyPANs[0], vault.CreateOptions{})
	vs.b = mustCard(tb, f, p.ID, verifyPANs[1], vault.CreateOptions{})
	vs.c = mustLegacyCard(tb, f, mustCard(tb, f, p.ID, verifyPANs[2], vault.CreateOptions{}), verifyPANs[2])
	if _, err := f.Svc.CreateOneTimeToken(context.Background(), f.Principal, vault.NewOneTimeToken{
		Kind: vault.TokenCard, Number: verifyPANs[3], Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123"}); err != nil {
		tb.Fatal(err)
	}
	mustPayByToken(tb, f, vs.a.Token)
	return vs
}

// verify runs a Verifier over the store in batches of batch, and checks that its report names
// none of the stored numbers.
func (vs *verifyStore) verify(tb testing.TB, batch int) *vault.VerifyReport {
	tb.Helper()
	rep, err := vault.NewVerifier(vs.f.Store.(vault.SealedLister), vs.f.Keys).Run(context.Background(), batch)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	b, _ := json.Marshal(rep)
	if leaks := logtest.Leaks(string(b)+fmt.Sprintf("%+v", rep), verifyPANs); len(leaks) > 0 {
		tb.Errorf("the report leaks %v", leaks)
	}
	return rep
}

// clean is the report of a whole store: every record read, every sealed field opened.
func (vs *verifyStore) clean() *vault.VerifyReport {
	tables := []vault.VerifiedTable{
		{Table: "instruments", Records: 3, Fields: 3},
		{Table: "onetime_tokens", Records: 1, Fields: 2},
		{Table: "locations", Records: 1, Fields: 1},
		{Table: "transactions", Records: 1, Fields: 1},
	}
	rep := &vault.VerifyReport{Tables: tables, Problems: []vault.VerifyProblem{}}
	for _, t := range tables {
		rep.Records += t.Records
		rep.Fields += t.Fields
	}
	return rep
}

// RunSealedVerify checks vault.Verifier on the store's SealedRecords: a whole store verifies,
// in any batch size; two cards whose tokens a database writer swapped, a flipped ciphertext
// byte and an altered fingerprint are each reported by record, never by number; and
// verifying changes nothing in the store. The store must also implement vault.SealedLister,
// vault.SealedStore and DB() *sql.DB.
func RunSealedVerify(t *testing.T, open Opener) {
	t.Run("ok/clean", func(t *testing.T) {
		vs := mustVerifyStore(t, open)
		for _, batch := range []int{1, 2, 500} {
			if d := cmp.Diff(vs.clean(), vs.verify(t, batch)); d != "" {
				t.Errorf("batch %d: (-want +got)\n%s", batch, d)
			}
		}
	})

	t.Run("ok/lists-every-record", func(t *testing.T) {
		vs := mustVerifyStore(t, open)
		ctx := context.Background()
		sl := vs.f.Store.(vault.SealedLister)
		// Records under an old data key, and stale for re-encryption, are listed as well.
		if _, err := vs.f.Keys.Rotate(ctx, "data"); err != nil {
			t.Fatal(err)
		}
		want := []string{vs.a.ID, vs.b.ID, vs.c.ID}
		slices.Sort(want)
		var got []string
		after := ""
		for {
			recs, err := sl.SealedRecords(ctx, "instruments", after, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			got = append(got, recs[0].ID)
			after = recs[0].ID
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("instruments listed (-want +got)\n%s", d)
		}
		recs, err := sl.SealedRecords(ctx, "instruments", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.ID == vs.c.ID && (r.ADVersion != vault.ADv1 || r.Token != vs.c.Token || r.Fingerprint != vs.c.Fingerprint || len(r.Fields["number"]) == 0) {
				t.Errorf("legacy card listed as %+v", r)
			}
		}
		if _, err := sl.SealedRecords(ctx, "merchants", "", 10); vault.KindOf(err) != vault.Internal {
			t.Errorf("unknown table: %v; want Internal", err)
		}
	})

	t.Run("fail/token-swapped", func(t *testing.T) {
		vs := mustVerifyStore(t, open)
		mustSwapTokens(t, vs.f, "instruments", vs.a, vs.b)
		rep := vs.verify(t, 500)
		var want []vault.VerifyProblem
		for _, in := range sortedByID(vs.a, vs.b) {
			want = append(want, vault.VerifyProblem{Table: "instruments", ID: in.ID, MerchantID: in.MerchantID,
				Problem: vault.ProblemUnreadable, KeyID: in.Sealed.KeyID, Field: "number"})
		}
		if d := cmp.Diff(want, rep.Problems); d != "" || rep.Unreadable != 2 || rep.Tables[0].Unreadable != 2 || rep.ProblemCount() != 2 {
			t.Errorf("%d unreadable, %d problems; (-want +got)\n%s", rep.Unreadable, rep.ProblemCount(), d)
		}
		if rep.Records != vs.clean().Records || rep.Tables[0].Fields != 1 {
			t.Errorf("read %d records, opened %d instrument fields; want %d, 1", rep.Records, rep.Tables[0].Fields, vs.clean().Records)
		}
	})

	t.Run("fail/ciphertext-flipped", func(t *testing.T) {
		vs := mustVerifyStore(t, open)
		ss := vs.f.Store.(vault.SealedStore)
		old := sealedInstrument(vs.b)
		next := old
		next.Fields = maps.Clone(old.Fields)
		next.Fields["number"] = slices.Clone(old.Fields["number"])
		next.Fields["number"][len(next.Fields["number"])/2] ^= 1
		if ok, err := ss.ResealRecord(context.Background(), old, next); err != nil || !ok {
			t.Fatalf("flipping a byte: %v, %v", ok, err)
		}
		want := []vault.VerifyProblem{{Table: "instruments", ID: vs.b.ID, MerchantID: vs.b.MerchantID,
			Problem: vault.ProblemUnreadable, KeyID: vs.b.Sealed.KeyID, Field: "number"}}
		if rep := vs.verify(t, 2); cmp.Diff(want, rep.Problems) != "" || rep.Unreadable != 1 {
			t.Errorf("%d unreadable; (-want +got)\n%s", rep.Unreadable, cmp.Diff(want, rep.Problems))
		}
	})

	t.Run("fail/fingerprint-altered", func(t *testing.T) {
		vs := mustVerifyStore(t, open)
		// Card a's fingerprint is card b's (same merchant, same key), as a writer hiding a
		// duplicate would make it; card c's names a MAC key this store never had.
		macID := vault.FingerprintKeyID(vs.a.Fingerprint)
		mustExec(t, vs.f, "UPDATE instruments SET fingerprint = '"+vs.b.Fingerprint+"' WHERE id = '"+vs.a.ID+"'")
		mustExec(t, vs.f, "UPDATE instruments SET fingerprint = '99999:"+vs.c.Fingerprint[len(macID)+1:]+"' WHERE id = '"+vs.c.ID+"'")
		rep := vs.verify(t, 500)
		var id uint32
		fmt.Sscan(macID, &id)
		want := map[string]vault.VerifyProblem{
			vs.a.ID: {Table: "instruments", ID: vs.a.ID, MerchantID: vs.a.MerchantID, Problem: vault.ProblemFingerprintMismatch, KeyID: id, Field: "fingerprint"},
			vs.c.ID: {Table: "instruments", ID: vs.c.ID, MerchantID: vs.c.MerchantID, Problem: vault.ProblemFingerprintKeyMissing, KeyID: 99999, Field: "fingerprint"},
		}
		got := map[string]vault.VerifyProblem{}
		for _, p := range rep.Problems {
			got[p.ID] = p
		}
		if d := cmp.Diff(want, got); d != "" || rep.FingerprintMismatches != 1 || rep.FingerprintKeysMissing != 1 || rep.Unreadable != 0 {
			t.Errorf("report %+v; (-want +got)\n%s", rep.VerifiedTable, d)
		}
	})

	t.Run("fail/key-column-altered", func(t *testing.T) {
		// A database writer points card a's key column at a newer data key, and card b's at
		// none, as if crypto-erased: keys retire would then count no record under the key that
		// sealed them, and the re-encryption job would skip b. Both still open.
		vs := mustVerifyStore(t, open)
		newKey, err := vs.f.Keys.Rotate(context.Background(), "data")
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, vs.f, fmt.Sprintf("UPDATE instruments SET dek_id = %d WHERE id = '%s'", newKey, vs.a.ID))
		mustExec(t, vs.f, "UPDATE instruments SET dek_id = 0 WHERE id = '"+vs.b.ID+"'")
		rep := vs.verify(t, 500)
		want := []vault.VerifyProblem{}
		for _, in := range sortedByID(vs.a, vs.b) {
			want = append(want, vault.VerifyProblem{Table: "instruments", ID: in.ID, MerchantID: in.MerchantID,
				Problem: vault.ProblemKeyMismatch, KeyID: in.Sealed.KeyID, Field: "number"})
		}
		if d := cmp.Diff(want, rep.Problems); d != "" || rep.KeyMismatches != 2 || rep.Tables[0].KeyMismatches != 2 || rep.ProblemCount() != 2 {
			t.Errorf("report %+v; (-want +got)\n%s", rep.VerifiedTable, d)
		}
	})

	t.Run("fail/sealed-column-nulled", func(t *testing.T) {
		// A database writer deletes card a's sealed number and the location's sealed ticket
		// key, leaving their key columns: the data is lost, and nothing else would say so
		// until a payment or a browser ticket needs it.
		vs := mustVerifyStore(t, open)
		mustExec(t, vs.f, "UPDATE instruments SET number_sealed = NULL WHERE id = '"+vs.a.ID+"'")
		mustExec(t, vs.f, "UPDATE locations SET ticket_hash_key = NULL WHERE merchant_id = '"+vs.a.MerchantID+"'")
		rep := vs.verify(t, 500)
		got := map[string]vault.VerifyProblem{}
		for _, p := range rep.Problems {
			p.ID = p.Table // the location's id is not at hand; one problem a table
			got[p.Table] = p
		}
		want := map[string]vault.VerifyProblem{
			"instruments": {Table: "instruments", ID: "instruments", MerchantID: vs.a.MerchantID, Problem: vault.ProblemSealedMissing, KeyID: vs.a.Sealed.KeyID, Field: "number"},
			"locations":   {Table: "locations", ID: "locations", MerchantID: vs.a.MerchantID, Problem: vault.ProblemSealedMissing, KeyID: vs.a.Sealed.KeyID, Field: "ticket_hash_key"},
		}
		if d := cmp.Diff(want, got); d != "" || rep.SealedMissing != 2 || len(rep.Problems) != 2 || rep.ProblemCount() != 2 {
			t.Errorf("report %+v; (-want +got)\n%s", rep.VerifiedTable, d)
		}
	})

	t.Run("ok/rotation-between-seals", func(t *testing.T) {
		// A data key rotated (on another node, say) between the two seals of one record, at
		// its creation and at its re-encryption, leaves both its fields under the key its
		// record names.
		f := MustFixture(t, open)
		rk := &rotatingKeyring{Keyring: f.Keys, tb: t, in: 1}
		bins, err := card.LoadBINs()
		if err != nil {
			t.Fatal(err)
		}
		svc := vault.NewService(f.Store, rk, bins, vault.Config{})
		if _, err := svc.CreateOneTimeToken(context.Background(), f.Principal, vault.NewOneTimeToken{
			Kind: vault.TokenCard, Number: verifyPANs[3], Expiry: card.Expiry{Month: 12, Year: 2040}, CVV: "123"}); err != nil {
			t.Fatal(err)
		}
		if rk.in >= 0 {
			t.Fatalf("no rotation happened while the token was sealed")
		}
		vs := &verifyStore{f: f}
		if rep := vs.verify(t, 500); rep.ProblemCount() != 0 {
			t.Errorf("after a rotation while sealing a token: %+v", rep.Problems)
		}
		if _, err := f.Keys.Rotate(context.Background(), "data"); err != nil {
			t.Fatal(err)
		}
		rk.in = 1
		if rep, err := vault.NewRekeyer(f.Store.(vault.SealedStore), rk).Run(context.Background(), 10); err != nil || rep.Rewritten == 0 {
			t.Fatalf("rekey: %+v, %v", rep, err)
		}
		if rk.in >= 0 {
			t.Fatalf("no rotation happened while the token was re-sealed")
		}
		if rep := vs.verify(t, 500); rep.ProblemCount() != 0 {
			t.Errorf("after a rotation while re-sealing a token: %+v", rep.Problems)
		}
	})

	t.Run("ok/writes-nothing", func(t *testing.T) {
		vs := mustVerifyStore(t, open)
		mustSwapTokens(t, vs.f, "instruments", vs.a, vs.b) // problems found write nothing either
		before := mustDigest(t, vs.f)
		vs.verify(t, 2)
		if after := mustDigest(t, vs.f); after != before {
			t.Errorf("the store changed while it was verified")
		}
	})
}

// sortedByID returns ins in id order.
func sortedByID(ins ...*vault.Instrument) []*vault.Instrument {
	slices.SortFunc(ins, func(a, b *vault.Instrument) int { return strings.Compare(a.ID, b.ID) })
	return ins
}

// mustExec runs one statement that changes one row, as a database writer without the master
// key could.
func mustExec(tb testing.TB, f *Fixture, q string) {
	tb.Helper()
	res, err := f.Store.(rawDB).DB().ExecContext(context.Background(), q)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		tb.Fatalf("%s: %d rows", q, n)
	}
}

// digestTables are the tables mustDigest reads: the sealed ones, and those a write would touch
// beside them (the audit chain, the keysets).
var digestTables = []string{"instruments", "onetime_tokens", "locations", "transactions", "audit_log", "keysets"}

// mustDigest returns a SHA-256 of every row of digestTables, read with plain SQL.
func mustDigest(tb testing.TB, f *Fixture) string {
	tb.Helper()
	db := f.Store.(rawDB).DB()
	h := sha256.New()
	for _, table := range digestTables {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table+" ORDER BY 1, 2")
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(h, "%s %v\n", table, vals)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// rotatingKeyring rotates the data key once, right after its in-th Seal from now, as another
// node could between two seals of one record.
type rotatingKeyring struct {
	*keys.Keyring
	tb testing.TB
	in int
}

func (k *rotatingKeyring) Seal(pt []byte, ad keys.AD) ([]byte, error) {
	ct, err := k.Keyring.Seal(pt, ad)
	if k.in--; k.in == 0 {
		if _, err := k.Keyring.Rotate(context.Background(), "data"); err != nil {
			k.tb.Fatal(err)
		}
	}
	return ct, err
}
