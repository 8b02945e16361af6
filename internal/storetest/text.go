package storetest

import (
	"context"
	"testing"

	"github.com/payvault/payvault/internal/vault"
)

// testUnstorableText checks that text no database column can hold (a NUL, invalid UTF-8),
// which clients can put into URLs and headers, reads as "no such record" on every engine
// (never an internal error). Writes of such text are refused by the APIs' decoders.
func testUnstorableText(t *testing.T, open Opener) {
	f := MustFixture(t, open)
	ctx := context.Background()
	mid := f.Creds.MerchantID
	if _, err := f.Svc.CreateProfile(ctx, f.Principal, &vault.Profile{MerchantCustomerID: "plain", LastName: "Smith"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x00", "a\x00b", "\xff", "\xc3", "a\xffb\x00"} {
		lookups := []struct {
			name string
			err  func() error
			want vault.Kind
		}{
			{"GetProfile", func() error { _, err := f.Store.GetProfile(ctx, mid, bad); return err }, vault.NotFound},
			{"GetProfileBy", func() error {
				_, err := f.Store.GetProfileBy(ctx, mid, "merchant_customer_id", bad, "")
				return err
			}, vault.NotFound},
			{"GetInstrument", func() error { _, err := f.Store.GetInstrument(ctx, mid, bad); return err }, vault.NotFound},
			{"GetInstrumentByToken", func() error { _, err := f.Store.GetInstrumentByToken(ctx, mid, bad); return err }, vault.NotFound},
			{"GetLocationByAccount", func() error { _, err := f.Store.GetLocationByAccount(ctx, bad); return err }, vault.NotFound},
			{"GetLocationByAPIKey", func() error { _, err := f.Store.GetLocationByAPIKey(ctx, bad); return err }, vault.NotFound},
			{"GetMerchant", func() error { _, err := f.Store.GetMerchant(ctx, bad); return err }, vault.NotFound},
			{"AuthenticateAPIKey", func() error { _, err := f.Svc.AuthenticateAPIKey(ctx, bad, "secret"); return err }, vault.Unauthenticated},
			{"AuthenticateUser", func() error {
				_, err := f.Svc.AuthenticateUser(ctx, bad, f.Creds.Fortis.UserID, f.Creds.Fortis.UserAPIKey)
				return err
			}, vault.Unauthenticated},
			{"AuthenticateUser/user", func() error {
				_, err := f.Svc.AuthenticateUser(ctx, f.Creds.Fortis.DeveloperID, bad, f.Creds.Fortis.UserAPIKey)
				return err
			}, vault.Unauthenticated},
		}
		for _, l := range lookups {
			if got := vault.KindOf(l.err()); got != l.want {
				t.Errorf("%s(%q): kind %v, want %v", l.name, bad, got, l.want)
			}
		}
		for _, op := range []vault.FilterOp{vault.OpIn, vault.OpContains} {
			got, total, err := f.Store.ListProfiles(ctx, mid, vault.Query{Filters: []vault.Filter{{Field: "last_name", Op: op, Values: []string{bad}}}})
			if err != nil || total != 0 || len(got) != 0 {
				t.Errorf("ListProfiles(last_name %v %q) = %d, %d, %v; want nothing", op, bad, len(got), total, err)
			}
		}
		got, total, err := f.Store.ListProfiles(ctx, mid, vault.Query{Filters: []vault.Filter{{Field: "last_name", Op: vault.OpIn, Values: []string{bad, "Smith"}}}})
		if err != nil || total != 1 || len(got) != 1 {
			t.Errorf("ListProfiles(last_name IN (%q, Smith)) = %d, %d, %v; want the one", bad, len(got), total, err)
		}
	}
}
