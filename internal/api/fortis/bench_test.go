package fortis_test

import (
	"strconv"
	"testing"
)

// BenchmarkVaultCreate measures POST /v2/accountvaults with a raw card (auth, validation,
// sealing, one SQLite transaction), without OpenAPI validation.
func BenchmarkVaultCreate(b *testing.B) {
	s := mustServer(b)
	body := `{"accountvault":{"location_id":"` + s.creds.Fortis.LocationID + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"bench"}}`
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := s.serveRaw("POST", "/v2/accountvaults", body); rec.Code != 201 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkVaultList measures a 20-vault page with a filter, a sort and two expands over 1,000
// vaults.
func BenchmarkVaultList(b *testing.B) {
	s := mustServer(b)
	for i := 0; i < 1000; i++ {
		body := `{"accountvault":{"location_id":"` + s.creds.Fortis.LocationID + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"v` + strconv.Itoa(i) + `"}}`
		if rec := s.serveRaw("POST", "/v2/accountvaults", body); rec.Code != 201 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := s.serveRaw("GET", "/v2/accountvaults?title=v1&sort=-created_ts&page=2&expand=location,created_user", ""); rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkSaleByVault measures POST /v2/transactions, a sale by account_vault_id: auth,
// validation, the RECEIVED write (vault opened, number sealed, audit), the sandbox's Fortis
// table, and the completing write, on SQLite, without OpenAPI validation.
func BenchmarkSaleByVault(b *testing.B) {
	s := mustServer(b)
	v := s.mustVault(b, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","billing_zip":"32606"`)
	body := `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"12.34","account_vault_id":"` + v["id"].(string) + `"}}`
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := s.serveRaw("POST", "/v2/transactions", body); rec.Code != 201 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkSaleByVaultParallel is BenchmarkSaleByVault from GOMAXPROCS clients at once.
func BenchmarkSaleByVaultParallel(b *testing.B) {
	s := mustServer(b)
	v := s.mustVault(b, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","billing_zip":"32606"`)
	body := `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"12.34","account_vault_id":"` + v["id"].(string) + `"}}`
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := s.serveRaw("POST", "/v2/transactions", body); rec.Code != 201 {
				b.Errorf("%d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}
