package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// BenchmarkExport10k measures `payvault export` of a merchant holding 10,000 cards, on each
// engine: the walk, the opening of each number, the JSON and the OpenPGP encryption to the
// file (docs/operations.md quotes it). Run it with -benchtime=1x.
func BenchmarkExport10k(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			m := openBenchMain(b, engine)
			seedBenchCards(b, m, 10000)
			const n = 10000
			dir := b.TempDir()
			_, pub := MustExportKey(b, dir, "bench", nil)
			rcpt, err := ReadRecipient(pub, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				out := filepath.Join(dir, fmt.Sprintf("export-%d.pgp", i))
				rep, err := m.Export(ctx, m.Credentials.MerchantID, rcpt, out)
				if err != nil || rep.Records != n {
					b.Fatalf("export: %v (%+v)", err, rep)
				}
				b.ReportMetric(float64(rep.Bytes), "bytes/export")
				os.Remove(out)
			}
		})
	}
}

// openBenchMain opens a Main on a new store of engine (sqlite or postgres), closed when the
// benchmark ends.
func openBenchMain(b testing.TB, engine string) *Main {
	b.Helper()
	log, _ := logtest.New(b)
	cfg := Config{Listen: "127.0.0.1:0", DataDir: b.TempDir(), MasterKey: keys.NewMasterKey().Base64(), Logger: log, Out: &nopWriter{}}
	if engine == "postgres" {
		cfg.DataDir, cfg.DatabaseURL = "", storetest.PostgresDSN(b)
	}
	m, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// seedBenchCards creates n cards without profiles for m's sandbox merchant, 16 at a time.
func seedBenchCards(b testing.TB, m *Main, n int) {
	b.Helper()
	ctx := context.Background()
	p, err := m.Vault.AuthenticateAPIKey(ctx, m.Credentials.Paysafe.APIKeyID, m.Credentials.Paysafe.APIKeySecret)
	if err != nil {
		b.Fatal(err)
	}
	err = inParallel(n, func(i int) error {
		payload := fmt.Sprintf("4%014d", 100000+i)
		d, _ := card.CheckDigit(payload)
		_, err := m.Vault.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindCard, HolderName: "Bench Holder"},
			vault.Source{Number: payload + string(d), Expiry: card.Expiry{Month: 12, Year: 2040}}, vault.CreateOptions{})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// inParallel runs fn for each i below n, 16 at a time, and returns their errors; a worker
// stops at its first.
func inParallel(n int, fn func(i int) error) error {
	const workers = 16
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += workers {
				errs[w] = fn(i)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
