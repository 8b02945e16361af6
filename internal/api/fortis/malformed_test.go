package fortis_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestMalformedInputAnswersJSON sends hostile values, on either engine, where a list, an
// addressed record or a body reads them: NUL bytes and invalid UTF-8 (which PostgreSQL refuses
// to store or compare), numbers past every integer type, ranges and keywords out of shape,
// arrays for scalars, thousands of sort keys, expands and filter values, oversize bodies.
// Every answer is JSON, 2xx or 4xx, and a 4xx carries §1.4's envelope: never a 5xx, HTML or
// an empty body. The fuzz targets cover the same ground on SQLite only.
func TestMalformedInputAnswersJSON(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		vid := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"V1"`)["id"].(string)
		s.mustContact(t, `"last_name":"X","contact_api_id":"C1"`)
		values := []string{"%00", "a%00b", "%ff%fe", "%c3%28", "%e2%80%ae", strings.Repeat("9", 400), "-1", "1e3", "0x10",
			"99999999999999999999", "-9223372036854775809", "1|", "|", "a|b", "%ff|%ff", "1|2|3", "x,,y", "%20"}
		many := strings.Repeat("a,", 3000)
		params := []string{"id", "location_id", "contact_id", "created_ts", "modified_ts", "transaction_amount", "status_id",
			"type_id", "title", "last_four", "active", "page", "page_size", "sort", "expand", "name", "contact_balance"}
		var targets []string
		for _, r := range []string{"/v2/accountvaults", "/v2/contacts", "/v2/transactions", "/v2/locations", "/v2/users", "/v2/producttransactions"} {
			for _, p := range params {
				for _, v := range values {
					targets = append(targets, r+"?"+p+"="+v)
				}
				targets = append(targets, r+"?"+p+"[]="+values[0], r+"?"+p+"="+many)
			}
			for _, q := range []string{"sort=" + strings.Repeat("-id,", 3000), "page=9223372036854775808&page_size=5000", "page=2147483650&page_size=5000&sort=-title",
				"created_ts=custom&created_ts_from=%ff&created_ts_to=-99999999999999999999", "created_ts=" + strings.Repeat("1|", 1000), "%zz=1", "a=%", "page=1;2", "&&=&"} {
				targets = append(targets, r+"?"+q)
			}
			for _, v := range values[:5] {
				targets = append(targets, r+"/"+v, r+"/"+v+"?api_id=1&location_id="+v)
			}
		}
		for _, q := range []string{"expand=" + many, "api_id=%ff", "api_id[]=1", "expand[]=contact"} {
			targets = append(targets, "/v2/accountvaults/"+vid+"?"+q, "/v2/accountvaults/V1/bininfo?"+q, "/v2/contacts/C1?"+q)
		}
		check := func(t *testing.T, method, target string, code int, ct string, body []byte) {
			t.Helper()
			var env struct {
				Name    string          `json:"name"`
				Message string          `json:"message"`
				Status  int             `json:"status"`
				Errors  json.RawMessage `json:"errors"`
			}
			switch {
			case code >= 500 || code < 200:
				t.Errorf("%s %.120s: %d %.200s", method, target, code, body)
			case code == http.StatusNoContent:
			case !strings.HasPrefix(ct, "application/json"):
				t.Errorf("%s %.120s: %d Content-Type %q", method, target, code, ct)
			case json.Unmarshal(body, &env) != nil:
				t.Errorf("%s %.120s: %d not JSON: %.200s", method, target, code, body)
			case code >= 400 && code != http.StatusUnprocessableEntity && (env.Status != code || env.Name == "" || env.Message == ""):
				t.Errorf("%s %.120s: %d not §1.4's envelope: %.200s", method, target, code, body)
			case code == http.StatusUnprocessableEntity && len(env.Errors) == 0:
				t.Errorf("%s %.120s: 422 without errors: %.200s", method, target, body)
			}
		}
		for _, target := range targets {
			rec := s.serveRaw("GET", target, "")
			check(t, "GET", target, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
		}
		bodies := []string{
			`{"x":` + strings.Repeat("[", 10000) + `}`,
			strings.Repeat(" ", 1<<20+1),
			`{"accountvault":{"exp_date":1e400,"account_number":123456789012345678901234567890,"location_id":[],"title":{"a":1},"billing_zip":true}}`,
			`{"contact":{"contact_balance":"1e99999","header_message_type":99999999999999999999,"email_trx_receipt":"maybe","date_of_birth":"2020-02-30"}}`,
			`{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":99999999999,"account_number":"4111111111111111","exp_date":"1299"}}`,
			`{"transaction":{"action":"refund","payment_method":"cc","transaction_amount":"1","previous_transaction_id":"` + strings.Repeat("f", 36) + `"}}`,
			`{"accountvault":{"account_number":"\u0000","title":"\ud800","contact_id":"a\u0000b","location_id":"\u00ff"}}`,
			`[]`, `null`, `{"accountvault":[]}`,
		}
		for _, b := range bodies {
			for _, target := range []string{"/v2/accountvaults", "/v2/contacts", "/v2/transactions", "/v2/cardtickets", "/v2/contacts?update_if_exists=1"} {
				rec := s.serveRaw("POST", target, b)
				check(t, "POST", target, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
			}
			for _, target := range []string{"/v2/accountvaults/" + vid, "/v2/accountvaults/V1?api_id=1", "/v2/contacts/C1?api_id=true&location_id=%ff"} {
				rec := s.serveRaw("PUT", target, b)
				check(t, "PUT", target, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
			}
		}
	})
}
