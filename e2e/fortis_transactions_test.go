package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// TestFortisTransactionsEndToEnd runs issue 6's flow against a real server, every exchange
// validated against the served OpenAPI document: a sale, a vault from that transaction, a
// refund in two parts and a refused third; run_avs passing and failing; save_account on an
// approved and a declined sale; a browser ticket used for a sale; an idempotent retry.
func TestFortisTransactionsEndToEnd(t *testing.T) {
	m, logs := startFortis(t)
	base := m.URL()
	f := m.Credentials.Fortis
	logs.Forbid("4012888888881881", "5454545454545454", "6011000995500000")
	c := newFortisClient(t, m)
	loc := `"location_id":"` + f.LocationID + `"`
	txn := func(fields string, want int) *fortisAnswer {
		t.Helper()
		return c.do(t, "POST", "/v2/transactions", `{"transaction":{`+loc+`,`+fields+`}}`, want, nil)
	}
	vaultCount := func() float64 {
		t.Helper()
		_, p := c.do(t, "GET", "/v2/accountvaults?page_size=1", "", 200, nil).list(t, "accountvaults")
		return p["totalCount"].(float64)
	}
	check := func(what string, want, got []any) {
		t.Helper()
		if !equal(want, got) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}

	t.Run("ok/sale-vault-refunds", func(t *testing.T) {
		sale := txn(`"action":"sale","payment_method":"cc","transaction_amount":"20.00","account_number":"4012888888881881","exp_date":"0830",
			"cvv":"999","account_holder_name":"Ada Lovelace","billing_street":"5800 NW 39th AVE","billing_zip":"32606","transaction_api_id":"E2E1"`, 201).record(t, "transaction")
		check("sale", []any{float64(101), float64(20), "20.00", "GOOD", "M", nil}, []any{sale["status_id"], sale["type_id"], sale["auth_amount"], sale["avs"], sale["cvv_response"], sale["exp_date"]})
		id := sale["id"].(string)

		// A vault from that transaction gets the exp_date the transaction never shows.
		v := c.do(t, "POST", "/v2/accountvaults", `{"accountvault":{`+loc+`,"payment_method":"cc","previous_transaction_id":"`+id+`","title":"From sale"}}`, 201, nil).record(t, "accountvault")
		check("vault from transaction", []any{"401288", "1881", "0830", "Ada Lovelace", "5800 NW 39th AVE", "32606"},
			[]any{v["first_six"], v["last_four"], v["exp_date"], v["account_holder_name"], v["billing_address"], v["billing_zip"]})
		c.do(t, "POST", "/v2/accountvaults", `{"accountvault":{`+loc+`,"payment_method":"cc","previous_transaction_api_id":"E2E1"}}`, 201, nil)

		// Two refunds take it all; a third is refused.
		r1 := txn(`"action":"refund","payment_method":"cc","transaction_amount":"12.50","previous_transaction_id":"`+id+`"`, 201).record(t, "transaction")
		r2 := txn(`"action":"refund","payment_method":"cc","transaction_amount":7.5,"previous_transaction_api_id":"E2E1"`, 201).record(t, "transaction")
		check("refunds", []any{float64(111), float64(30), "12.50", float64(111), "7.50"}, []any{r1["status_id"], r1["type_id"], r1["transaction_amount"], r2["status_id"], r2["transaction_amount"]})
		third := txn(`"action":"refund","payment_method":"cc","transaction_amount":"0.01","previous_transaction_id":"`+id+`"`, 422)
		if string(third.body) != `{"errors":{"transaction_amount":["Transaction Amount is invalid."]}}` {
			t.Errorf("third refund: %s", third.body)
		}
		items, _ := c.do(t, "GET", "/v2/transactions?type_id=30&sort=id&expand=location", "", 200, nil).list(t, "transactions")
		if len(items) != 2 || items[0].(map[string]any)["id"] != r1["id"] || items[0].(map[string]any)["location"].(map[string]any)["id"] != f.LocationID {
			t.Errorf("refund list = %v", items)
		}
		c.do(t, "GET", "/v2/transactions/"+id+"/bininfo", "", 200, nil)
	})

	t.Run("ok/run-avs", func(t *testing.T) {
		before := vaultCount()
		c.do(t, "POST", "/v2/accountvaults", `{"accountvault":{`+loc+`,"payment_method":"cc","account_number":"5454545454545454","exp_date":"1229","billing_zip":"32606","run_avs":true}}`, 201, nil)
		fail := c.do(t, "POST", "/v2/accountvaults", `{"accountvault":{`+loc+`,"payment_method":"cc","account_number":"5454545454545454","exp_date":"1229","billing_zip":"32615","run_avs":true}}`, 422, nil)
		if string(fail.body) != `{"errors":{"run_avs":["Account Verification failed"]}}` {
			t.Errorf("failed run_avs: %s", fail.body)
		}
		if got := vaultCount(); got != before+1 {
			t.Errorf("vaults: %v, want %v", got, before+1)
		}
		items, _ := c.do(t, "GET", "/v2/transactions?type_id=21&sort=-created_ts,-id", "", 200, nil).list(t, "transactions")
		if len(items) != 2 {
			t.Fatalf("avs transactions: %d", len(items))
		}
		failed, passed := items[0].(map[string]any), items[1].(map[string]any)
		check("avs transactions", []any{float64(301), float64(1655), "0.00", nil, float64(121), "0.00", nil},
			[]any{failed["status_id"], failed["reason_code_id"], failed["transaction_amount"], failed["account_vault_id"], passed["status_id"], passed["transaction_amount"], passed["account_vault_id"]})
	})

	t.Run("ok/save-account", func(t *testing.T) {
		before := vaultCount()
		ok := txn(`"action":"sale","payment_method":"cc","transaction_amount":"4.00","account_number":"6011000995500000","exp_date":"1228","save_account":1,"save_account_title":"Saved"`, 201).record(t, "transaction")
		vid, _ := ok["account_vault_id"].(string)
		if ok["status_id"] != float64(101) || vid == "" {
			t.Fatalf("approved save_account: %v", ok)
		}
		v := c.do(t, "GET", "/v2/accountvaults/"+vid, "", 200, nil).record(t, "accountvault")
		check("saved vault", []any{"Saved", "601100", "1228"}, []any{v["title"], v["first_six"], v["exp_date"]})
		no := txn(`"action":"sale","payment_method":"cc","transaction_amount":"5.00","account_number":"6011000995500000","exp_date":"1228","save_account":1,"save_account_title":"Declined"`, 201).record(t, "transaction")
		check("declined save_account", []any{float64(301), nil}, []any{no["status_id"], no["account_vault_id"]})
		if got := vaultCount(); got != before+1 {
			t.Errorf("vaults: %v, want %v", got, before+1)
		}
	})

	t.Run("ok/ticket-sale", func(t *testing.T) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		hdr := map[string]string{"location-api-key": f.LocationAPIKey, "timestamp": ts, "hash-key": vault.BrowserHashKey(f.TicketHashKey, f.LocationAPIKey, ts)}
		tk := c.do(t, "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"5454545454545454","exp_date":"1230","cvv":"123","billing_zip":"32606"}}`, 201, hdr).record(t, "cardticket")["id"].(string)
		sale := txn(`"action":"sale","payment_method":"cc","transaction_amount":"9.99","ticket":"`+tk+`"`, 201).record(t, "transaction")
		check("ticket sale", []any{float64(101), "545454", "N", "STREET"}, []any{sale["status_id"], sale["first_six"], sale["cvv_response"], sale["avs"]})
		txn(`"action":"sale","payment_method":"cc","transaction_amount":"9.99","ticket":"`+tk+`"`, 422)
	})

	t.Run("ok/audit-actor", func(t *testing.T) {
		// A sale on a stored vault is a use of account data, on the chain with the user as actor.
		v := c.do(t, "POST", "/v2/accountvaults", `{"accountvault":{`+loc+`,"payment_method":"cc","account_number":"5454545454545454","exp_date":"1230"}}`, 201, nil).record(t, "accountvault")
		sale := txn(`"action":"sale","payment_method":"cc","transaction_amount":"2.00","account_vault_id":"`+v["id"].(string)+`"`, 201).record(t, "transaction")
		req, _ := http.NewRequest("GET", base+"/admin/v1/merchants/"+m.Credentials.MerchantID+"/audit?limit=1000", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Records []vault.AuditRecord `json:"records"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("audit list: %d %v", resp.StatusCode, err)
		}
		actor := ""
		for _, r := range body.Records {
			if r.Op == vault.AuditPayment && r.RecordID == sale["id"] {
				actor = r.Actor
			}
		}
		if actor != "fortis:user:"+f.UserID {
			t.Errorf("payment audit actor = %q", actor)
		}
	})

	t.Run("ok/idempotent-retry", func(t *testing.T) {
		body := `{"transaction":{` + loc + `,"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4012888888881881","exp_date":"0830"}}`
		a := c.do(t, "POST", "/v2/transactions", body, 201, map[string]string{"Idempotency-Key": "e2e-sale-1"}).record(t, "transaction")
		b := c.do(t, "POST", "/v2/transactions", body, 201, map[string]string{"Idempotency-Key": "e2e-sale-1"})
		if b.record(t, "transaction")["id"] != a["id"] || b.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry ran again: %v %s", b.header, b.body)
		}
	})

	// One core holds both APIs' transactions, and the Paysafe API reads the Fortis ones: an
	// auth made without a CVV reads, through each API, as that API says "no CVV" (Fortis N,
	// Paysafe NOT_PROCESSED), not as a mismatch.
	t.Run("ok/no-cvv-reads-alike", func(t *testing.T) {
		ps := m.Credentials.Paysafe
		auth := txn(`"action":"authonly","payment_method":"cc","transaction_amount":"3.00","account_number":"4012888888881881","exp_date":"0830"`, 201).record(t, "transaction")
		paysafeGet := func(path string) map[string]any {
			t.Helper()
			req, _ := http.NewRequest("GET", base+path, nil)
			req.SetBasicAuth(ps.APIKeyID, ps.APIKeySecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
			}
			return out
		}
		got := paysafeGet("/cardpayments/v1/accounts/" + ps.AccountNumber + "/auths/" + auth["id"].(string))
		check("fortis auth through paysafe", []any{"N", "NOT_PROCESSED"}, []any{auth["cvv_response"], got["cvvVerification"]})
	})
}
