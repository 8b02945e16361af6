package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// BenchmarkImport10k measures `payvault import` of an export of 10,000 cards into a merchant
// of another store, on each engine: both passes (the check, then the batched writes), the
// decryption, the sealing and fingerprinting under the target's keys (docs/operations.md
// quotes it). Run it with -benchtime=1x.
func BenchmarkImport10k(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			open := func() *Main {
				log, _ := logtest.New(b)
				cfg := Config{Listen: "127.0.0.1:0", DataDir: b.TempDir(), MasterKey: keys.NewMasterKey().Base64(), Logger: log, Out: &nopWriter{}}
				if engine == "postgres" {
					cfg.DataDir, cfg.DatabaseURL = "", storetest.PostgresDSN(b)
				}
				m, err := Open(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { m.Close() })
				return m
			}
			m := open()
			p, err := m.Vault.AuthenticateAPIKey(ctx, m.Credentials.Paysafe.APIKeyID, m.Credentials.Paysafe.APIKeySecret)
			if err != nil {
				b.Fatal(err)
			}
			const n, workers = 10000, 16
			var wg sync.WaitGroup
			errs := make([]error, workers)
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n && errs[w] == nil; i += workers {
						payload := fmt.Sprintf("4%014d", 100000+i)
						d, _ := card.CheckDigit(payload)
						_, errs[w] = m.Vault.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindCard, HolderName: "Bench Holder"},
							vault.Source{Number: payload + string(d), Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{})
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
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
				t := open()
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
