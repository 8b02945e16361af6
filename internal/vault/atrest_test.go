package vault_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// sqliteAt opens an embedded store at path, or in a new temporary dir when path is "", and
// closes it when the test ends.
func sqliteAt(path string) storetest.Opener {
	return func(tb testing.TB) storetest.Store {
		tb.Helper()
		p := path
		if p == "" {
			p = filepath.Join(tb.TempDir(), "t.db")
		}
		st, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: p})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}
}

// TestNothingInTheClearAtRest checks docs/security.md's "Secret classes" on the embedded
// store's files: verifier secrets are kept as hashes, account data and the ticket hash key as
// ciphertext, so none of them appears as written in the database or its WAL.
func TestNothingInTheClearAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	f := storetest.MustFixture(t, sqliteAt(path))
	const (
		pan     = "4000056655665556"
		tokPAN  = "5200828282828210"
		account = "987654321012345"
		iban    = "DE89370400440532013000"
	)
	mustCreate := func(in *vault.Instrument, src vault.Source) {
		t.Helper()
		if _, err := f.Svc.CreateInstrument(ctx, f.Principal, in, src, vault.CreateOptions{}); err != nil {
			t.Fatalf("CreateInstrument %s: %v", in.Kind, err)
		}
	}
	mustCreate(&vault.Instrument{Kind: vault.KindCard}, vault.Source{Number: pan, Expiry: card.Expiry{Month: 1, Year: 2039}})
	mustCreate(&vault.Instrument{Kind: vault.KindACH, RoutingNumber: "072000326", AccountType: "SAVINGS", HolderName: "X"}, vault.Source{Number: account})
	mustCreate(&vault.Instrument{Kind: vault.KindSEPA, HolderName: "S"}, vault.Source{Number: iban})
	if _, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{Kind: vault.TokenCard, Number: tokPAN, Expiry: card.Expiry{Month: 1, Year: 2039}, CVV: "123"}); err != nil {
		t.Fatalf("CreateOneTimeToken: %v", err)
	}
	_, userKey, err := f.Svc.CreateUser(ctx, f.Creds.MerchantID, vault.NewUser{Username: "atrest", PrimaryLocationID: f.Creds.Fortis.LocationID})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	var files []byte
	for _, name := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	if !bytes.Contains(files, []byte(f.Creds.Paysafe.APIKeyID)) {
		t.Fatal("the files do not hold even the key id: the scan reads the wrong files")
	}
	c := f.Creds
	for name, secret := range map[string]string{
		"card number": pan, "single-use token's card number": tokPAN, "bank account number": account, "IBAN": iban,
		"Paysafe API secret": c.Paysafe.APIKeySecret, "single-use key secret": c.Paysafe.SingleUseKeySecret,
		"Fortis user api key": c.Fortis.UserAPIKey, "created user's api key": userKey, "ticket hash key": c.Fortis.TicketHashKey,
	} {
		if bytes.Contains(files, []byte(secret)) {
			t.Errorf("the database files hold the %s in the clear", name)
		}
	}
}

// TestErrorsHoldNoAccountData checks the invariant that no card number, bank account number or
// IBAN appears in an error string (STYLE.md, Errors): the core's refusals of bad account data
// name the field and the reason, never the value.
func TestErrorsHoldNoAccountData(t *testing.T) {
	ctx := context.Background()
	f := storetest.MustFixture(t, sqliteAt(""))
	exp := card.Expiry{Month: 1, Year: 2039}
	instrument := func(in vault.Instrument, number string, e card.Expiry) func() error {
		return func() error {
			_, err := f.Svc.CreateInstrument(ctx, f.Principal, &in, vault.Source{Number: number, Expiry: e}, vault.CreateOptions{})
			return err
		}
	}
	token := func(kind, number string, e card.Expiry) func() error {
		return func() error {
			_, err := f.Svc.CreateOneTimeToken(ctx, f.Principal, vault.NewOneTimeToken{Kind: kind, Number: number, Expiry: e, CVV: "123"})
			return err
		}
	}
	ach := vault.Instrument{Kind: vault.KindACH, RoutingNumber: "072000326", AccountType: "SAVINGS", HolderName: "X"}
	badRouting := ach
	badRouting.RoutingNumber = "07200032"
	tests := []struct {
		name, number string
		fn           func() error
	}{
		{"fail/card-luhn", "4111111111111112", nil},
		{"fail/card-too-long", "41111111111111111111113", nil},
		{"fail/card-month", "4111111111111111", instrument(vault.Instrument{Kind: vault.KindCard}, "4111111111111111", card.Expiry{Month: 13, Year: 2039})},
		{"fail/token-luhn", "5200828282828211", token(vault.TokenCard, "5200828282828211", exp)},
		{"fail/ach-routing", "987654321012345", instrument(badRouting, "987654321012345", card.Expiry{})},
		{"fail/ach-number-letters", "98765432101234X", instrument(ach, "98765432101234X", card.Expiry{})},
		{"fail/sepa-iban-check", "DE89370400440532013001", instrument(vault.Instrument{Kind: vault.KindSEPA, HolderName: "S"}, "DE89370400440532013001", card.Expiry{})},
		{"fail/bacs-sort-code", "12345678", instrument(vault.Instrument{Kind: vault.KindBACS, SortCode: "20-74", HolderName: "S"}, "12345678", card.Expiry{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := tt.fn
			if fn == nil {
				fn = instrument(vault.Instrument{Kind: vault.KindCard}, tt.number, exp)
			}
			err := fn()
			if err == nil {
				t.Fatal("accepted; want a refusal")
			}
			if leaks := logtest.Leaks(err.Error(), []string{tt.number}); len(leaks) > 0 {
				t.Errorf("error %q leaks %v", err, leaks)
			}
		})
	}
}
