package app

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
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
			dir := b.TempDir()
			priv, pub := MustExportKey(b, dir, "bench", nil)
			rcpt, err := ReadRecipient(pub, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			file := filepath.Join(dir, "export.pgp")
			if _, err := m.Export(ctx, m.Credentials.MerchantID, rcpt, file); err != nil {
				b.Fatal(err)
			}
			privPath := filepath.Join(dir, "bench.key.asc")
			MustWriteKey(b, privPath, openpgp.PrivateKeyType, func(w io.Writer) error { return priv.SerializePrivate(w, nil) })
			key, err := ReadImportKey(privPath, nil)
			if err != nil {
				b.Fatal(err)
			}
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
