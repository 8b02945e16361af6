package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// BenchmarkImport10k measures `payvault import` of an export of 10,000 cards into a merchant
// of another store, on each engine: both passes (the check, then the batched writes), the
// decryption, the sealing and fingerprinting under the target's keys (docs/operations.md
// quotes it). Run it with -benchtime=1x.
func BenchmarkImport10k(b *testing.B) {
	const n = 10000
	benchImport(b, func(m *Main) { seedBenchCards(b, m, n) }, func(b *testing.B, rep *ImportReport) bool {
		b.ReportMetric(float64(rep.Batches), "transactions/import")
		return rep.Created == n
	})
}

// benchImport measures, on each engine, the import into a new store's merchant of an
// export of a store seed filled; ok judges each import's report (and may report metrics on
// the engine's benchmark).
func benchImport(b *testing.B, seed func(*Main), ok func(*testing.B, *ImportReport) bool) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			m := openBenchMain(b, engine)
			seed(m)
			file, key := mustExportForImport(b, m)
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				t := openBenchMain(b, engine)
				b.StartTimer()
				rep, err := t.Import(ctx, t.Credentials.MerchantID, key, file, ImportOptions{})
				if err != nil || !ok(b, rep) {
					b.Fatalf("import: %v (%+v)", err, rep)
				}
			}
		})
	}
}

// mustExportForImport exports m's sandbox merchant (mustExportMerchant), and returns the
// file and the private key to import it with.
func mustExportForImport(tb testing.TB, m *Main) (string, *ImportKey) {
	tb.Helper()
	file, privPath, _ := mustExportMerchant(tb, m, m.Credentials.MerchantID)
	key, err := ReadImportKey(privPath, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return file, key
}

// BenchmarkImportProfiles measures `payvault import` of an export of 1,000 profiles, each
// with a billing address and three cards linked to it, into a merchant of another store, on
// each engine: the check's lookups of each profile and address, and the writes. Run it with
// -benchtime=1x.
func BenchmarkImportProfiles(b *testing.B) {
	const profiles, cards = 1000, 3
	benchImport(b, func(m *Main) { seedBenchProfiles(b, m, profiles, cards) }, func(_ *testing.B, rep *ImportReport) bool {
		return rep.Created == profiles*cards && rep.ProfilesCreated == profiles && rep.AddressesCreated == profiles
	})
}

// seedBenchProfiles creates n profiles for m's sandbox merchant, each with an address and
// cards cards billed to it, 16 profiles at a time.
func seedBenchProfiles(b testing.TB, m *Main, n, cards int) {
	b.Helper()
	ctx := context.Background()
	p, err := m.Vault.AuthenticateAPIKey(ctx, m.Credentials.Paysafe.APIKeyID, m.Credentials.Paysafe.APIKeySecret)
	if err != nil {
		b.Fatal(err)
	}
	one := func(i int) error {
		prof, err := m.Vault.CreateProfile(ctx, p, &vault.Profile{MerchantCustomerID: fmt.Sprint("bench-", i), Locale: "en_US", FirstName: "Bench"})
		if err != nil {
			return err
		}
		a, err := m.Vault.CreateAddress(ctx, p, prof.ID, &vault.Address{Street: "1 Main St", City: "New York", Country: "US", Zip: "10014"}, vault.AddressOptions{})
		if err != nil {
			return err
		}
		for j := range cards {
			payload := fmt.Sprintf("4%014d", 300000+i*cards+j)
			d, _ := card.CheckDigit(payload)
			if _, err := m.Vault.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID, BillingAddressID: a.ID, HolderName: "Bench Holder"},
				vault.Source{Number: payload + string(d), Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := inParallel(n, one); err != nil {
		b.Fatal(err)
	}
}
