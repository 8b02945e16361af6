package app

import (
	"context"
	"testing"
)

// BenchmarkImport10k measures `payvault import` of an export of 10,000 cards into a merchant
// of another store, on each engine: both passes (the check, then the batched writes), the
// decryption, the sealing and fingerprinting under the target's keys (docs/operations.md
// quotes it). Run it with -benchtime=1x.
func BenchmarkImport10k(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			m := openBenchMain(b, engine)
			const n = 10000
			seedBenchCards(b, m, n)
			file, key := mustExportForImport(b, m)
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				t := openBenchMain(b, engine)
				b.StartTimer()
				rep, err := t.Import(ctx, t.Credentials.MerchantID, key, file, ImportOptions{})
				if err != nil || rep.Created != n {
					b.Fatalf("import: %v (%+v)", err, rep)
				}
				b.ReportMetric(float64(rep.Batches), "transactions/import")
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
