package fortis_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// serveRaw sends a request straight to the handler, without OpenAPI validation (fuzzing).
func (s *server) serveRaw(method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://vault.example/", strings.NewReader(body))
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(target, "?")
	req.Header.Set("developer-id", s.user.dev)
	req.Header.Set("user-id", s.user.id)
	req.Header.Set("user-api-key", s.user.key)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// FuzzAccountVaultBody sends arbitrary bodies to POST /v2/accountvaults and PUT: every answer is
// a 2xx or a 4xx in the Fortis envelope, never a 5xx or a panic.
func FuzzAccountVaultBody(f *testing.F) {
	s := mustServer(f)
	loc := s.creds.Fortis.LocationID
	v := s.mustVault(f, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)
	for _, seed := range []string{
		`{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`,
		`{"accountvault":{"location_id":"` + loc + `","payment_method":"ach","account_number":700953657,"routing":"072000326","account_holder_name":"x","is_company":"1"}}`,
		`{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","track_data":"%B4111111111111111^A/B^2812?"}}`,
		`{"accountvault":{"title":null,"exp_date":1.5e3,"ssn4":[],"terms_agree":"-1"}}`,
		`{"accountvault":`, `[]`, ``, `{"accountvault":{"location_id":"` + loc + `","ticket":{}}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, c := range []struct{ method, path string }{{"POST", "/v2/accountvaults"}, {"PUT", "/v2/accountvaults/" + v["id"].(string)}, {"POST", "/v2/contacts"}} {
			rec := s.serveRaw(c.method, c.path, body)
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("%s %s answered %d: %s", c.method, c.path, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("answer is %q", ct)
			}
		}
	})
}

// FuzzListQuery sends arbitrary query strings to the list engine.
func FuzzListQuery(f *testing.F) {
	s := mustServer(f)
	s.mustVault(f, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)
	for _, seed := range []string{
		"page=2&page_size=3&sort=-title,id", "created_ts=last%2030%20days", "created_ts=custom&created_ts_from=1&created_ts_to=x",
		"created_ts=1|", "exp_date=0919,abc", "location_id=,,", "page=99999999999999999999&page_size=-1", "title=%25_%5C",
		"account_type=mc,checking&has_recurring=true,0", "expand=contact,location,,contact",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		if _, err := url.ParseQuery(query); err != nil {
			return
		}
		for _, p := range []string{"/v2/accountvaults", "/v2/contacts", "/v2/locations", "/v2/users", "/v2/producttransactions", "/v2/transactions"} {
			rec := s.serveRaw(http.MethodGet, p+"?"+query, "")
			if rec.Code != 200 && rec.Code != 422 {
				t.Fatalf("GET %s?%s answered %d: %s", p, query, rec.Code, rec.Body)
			}
		}
	})
}

// FuzzTransactionBody sends arbitrary bodies to POST /v2/transactions and POST
// /v2/accountvaults (run_avs): every answer is a 2xx or a 4xx in the Fortis envelope, never a
// 5xx or a panic.
func FuzzTransactionBody(f *testing.F) {
	s := mustServer(f)
	loc := s.creds.Fortis.LocationID
	v := s.mustVault(f, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)
	sale := s.mustTxn(f, rawSale("9.00", `"transaction_api_id":"S1"`))
	for _, seed := range []string{
		txnBody(rawSale("1.00", `"location_id":"`+loc+`","cvv":"999","billing_zip":"32606","save_account":1,"save_account_title":"x"`)),
		txnBody(`"action":"refund","payment_method":"cc","transaction_amount":1.5,"previous_transaction_id":"` + sale["id"].(string) + `"`),
		txnBody(`"action":"refund","payment_method":"cc","transaction_amount":"0.10","previous_transaction_api_id":"S1"`),
		txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"8.03","account_vault_id":"` + v["id"].(string) + `"`),
		txnBody(`"action":"debit","payment_method":"ach","transaction_amount":"1","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"x","ach_sec_code":"web","save_account":"1"`),
		txnBody(`"action":"avsonly","payment_method":"cc","ticket":"x","transaction_amount":[],"save_account":{}`),
		txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"-0.00","account_number":1e5,"exp_date":1228`),
		`{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","run_avs":true,"billing_zip":"32615"}}`,
		`{"transaction":`, `[]`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v2/transactions", "/v2/accountvaults"} {
			rec := s.serveRaw("POST", path, body)
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("POST %s answered %d: %s", path, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("answer is %q", ct)
			}
		}
	})
}
