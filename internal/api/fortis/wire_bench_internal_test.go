package fortis

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// The JSON of an accountvault create, decoded and encoded without the store or HTTP:
// benchstat-comparable figures for the wire layer alone.

const benchVaultBody = `{"accountvault":{"title":"Test CC Account","payment_method":"cc","account_holder_name":"John Smith","account_number":"5454545454545454","exp_date":"1230","billing_zip":"32606","location_id":"%s"}}`

// mustWireAPI returns an API over a real SQLite store and a principal of its merchant.
func mustWireAPI(b *testing.B) (*API, *vault.Principal) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Path: filepath.Join(b.TempDir(), "t.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	var mk keys.MasterKey
	copy(mk[:], "fortis-bench-master-key-012345678")
	kr, err := keys.Open(ctx, st, mk, keys.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bins, err := card.LoadBINs()
	if err != nil {
		b.Fatal(err)
	}
	svc := vault.NewService(st, kr, bins, vault.Config{})
	creds, err := svc.CreateMerchant(ctx, vault.NewMerchant{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := svc.AuthenticateUser(ctx, creds.Fortis.DeveloperID, creds.Fortis.UserID, creds.Fortis.UserAPIKey)
	if err != nil {
		b.Fatal(err)
	}
	return New(svc, Options{}), p
}

// BenchmarkVaultCreateDecode reads and validates an accountvault create body.
func BenchmarkVaultCreateDecode(b *testing.B) {
	a, p := mustWireAPI(b)
	body := strings.Replace(benchVaultBody, "%s", p.User.PrimaryLocationID, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/v2/accountvaults", strings.NewReader(body))
		in, err := readBody(r, "accountvault", vaultFieldOrder)
		if err != nil {
			b.Fatal(err)
		}
		if d := a.parseVaultCreate(ctx, p, in); d.errs.err() != nil {
			b.Fatal(d.errs.err())
		}
	}
}

// BenchmarkVaultCreateEncode renders and marshals an accountvault create answer.
func BenchmarkVaultCreateEncode(b *testing.B) {
	a, p := mustWireAPI(b)
	now := time.Now()
	in := &vault.Instrument{ID: "01928c6e-7b3a-7c1d-9e2f-3a4b5c6d7e8f", MerchantID: p.MerchantID(), LocationID: p.User.PrimaryLocationID,
		Kind: vault.KindCard, Status: "ACTIVE", BIN: "545454", LastFour: "5454", PANLength: 16, Brand: "mastercard",
		ExpMonth: 12, ExpYear: 2030, HolderName: "John Smith", Title: "Test CC Account", BillingZip: "32606", Created: now, Modified: now}
	r := httptest.NewRequest("POST", "/v2/accountvaults", nil)
	b.ReportAllocs()
	for b.Loop() {
		o, err := a.vaultObject(r, in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := marshal(object{{"accountvault", o}}); err != nil {
			b.Fatal(err)
		}
	}
}
