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
