package fortis_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/storetest"
)

// TestWriteAnswerNeedsNoLaterRead: every Fortis POST, PUT and DELETE answers from its own
// writes, never from a read after its last commit, so a database going away right after the
// commit cannot turn a stored vault, contact, ticket or transaction into a 5xx, which a client
// retries (a second vault, a second charge). The answer is what a later GET shows.
func TestWriteAnswerNeedsNoLaterRead(t *testing.T) {
	var st *storetest.GoneAfterCommit
	s := mustServerWith(t, serverOpts{store: func(s storetest.Store) storetest.Store { st = &storetest.GoneAfterCommit{Store: s}; return st }})
	loc := s.creds.Fortis.LocationID
	in := func(kind, fields string) string {
		return `{"` + kind + `":{"location_id":"` + loc + `",` + fields + `}}`
	}
	v := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"v"`)["id"].(string)
	drop := s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1228"`)["id"].(string)
	c := s.mustContact(t, `"last_name":"Gone","contact_api_id":"GONE-1"`)["id"].(string)
	dropC := s.mustContact(t, `"last_name":"Drop"`)["id"].(string)
	sale := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"10.00","account_number":"4111111111111111","exp_date":"1228","location_id":"`+loc+`"`)["id"].(string)
	tk := s.mustTicket(t, loc)
	tk2 := s.mustTicket(t, loc)
	txn := func(fields string) string { return in("transaction", fields) }
	raw := `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		key                      string // key is the answer's record, compared with a GET of it ("" for none).
	}{
		{"ok/vault-create", "POST", "/v2/accountvaults", in("accountvault", raw+`,"title":"new"`), 201, "accountvault"},
		{"ok/vault-create-ticket", "POST", "/v2/accountvaults", in("accountvault", `"payment_method":"cc","ticket":"`+tk+`"`), 201, "accountvault"},
		{"ok/vault-create-run-avs", "POST", "/v2/accountvaults", in("accountvault", raw+`,"run_avs":true,"billing_zip":"32606"`), 201, "accountvault"},
		{"ok/vault-create-ach", "POST", "/v2/accountvaults", in("accountvault", `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"x","ach_sec_code":"WEB"`), 201, "accountvault"},
		{"ok/vault-update", "PUT", "/v2/accountvaults/" + v, `{"accountvault":{"title":"renamed","exp_date":"0130","ssn4":"1234"}}`, 200, "accountvault"},
		{"ok/vault-delete", "DELETE", "/v2/accountvaults/" + drop, "", 204, ""},
		{"ok/contact-create", "POST", "/v2/contacts", in("contact", `"last_name":"New","email":"a@example.com"`), 201, "contact"},
		{"ok/contact-upsert", "POST", "/v2/contacts", in("contact", `"contact_api_id":"GONE-1","first_name":"Up","update_if_exists":1`), 200, "contact"},
		{"ok/contact-update", "PUT", "/v2/contacts/" + c, `{"contact":{"city":"Gainesville"}}`, 200, "contact"},
		{"ok/contact-delete", "DELETE", "/v2/contacts/" + dropC, "", 204, ""},
		{"ok/ticket", "POST", "/v2/cardtickets", in("cardticket", `"account_number":"4111111111111111","exp_date":"1228"`), 201, ""},
		{"ok/sale", "POST", "/v2/transactions", txn(`"action":"sale",` + raw + `,"transaction_amount":"1.00"`), 201, "transaction"},
		{"ok/sale-save-account", "POST", "/v2/transactions", txn(`"action":"sale",` + raw + `,"transaction_amount":"1.00","save_account":1,"save_account_title":"saved"`), 201, "transaction"},
		{"ok/sale-vault", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","account_vault_id":"` + v + `","transaction_amount":"1.00"`), 201, "transaction"},
		{"ok/authonly-ticket", "POST", "/v2/transactions", txn(`"action":"authonly","payment_method":"cc","ticket":"` + tk2 + `","transaction_amount":"1.00"`), 201, "transaction"},
		{"ok/avsonly", "POST", "/v2/transactions", txn(`"action":"avsonly",` + raw + `,"transaction_amount":"0","billing_zip":"32606"`), 201, "transaction"},
		{"ok/debit", "POST", "/v2/transactions", txn(`"action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"x","ach_sec_code":"WEB"`), 201, "transaction"},
		{"ok/refund", "POST", "/v2/transactions", txn(`"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + sale + `"`), 201, "transaction"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r *result
			st.Armed(t, func() { r = s.do(t, call{Method: tt.method, Path: tt.path, Body: tt.body}) })
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.key == "" {
				return
			}
			got := r.record(t, tt.key)
			stored := must(t, s.get(t, "/v2/"+strings.TrimSuffix(tt.key, "s")+"s/"+got["id"].(string)), http.StatusOK).record(t, tt.key)
			diff(t, stored, got)
		})
	}
}

// TestAnswerAfterLostCommit: a vault create with run_avs, or a transaction, whose completing
// write committed but whose COMMIT's answer was lost (the core tries the completion again and
// finds it completed) answers with what that write stored. For run_avs the retried completion
// ran the vault create again in a write it then rolled back, and the answer showed that
// rolled-back vault, an id that is 404 (raw number), or refused the create as the ticket used
// (ticket), although a vault was stored: a client retrying made a second.
func TestAnswerAfterLostCommit(t *testing.T) {
	var st *storetest.GoneAfterCommit
	s := mustServerWith(t, serverOpts{
		store:         func(s storetest.Store) storetest.Store { st = &storetest.GoneAfterCommit{Store: s}; return st },
		completeRetry: 5 * time.Second,
	})
	loc := s.creds.Fortis.LocationID
	raw := `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","location_id":"` + loc + `"`
	sale := s.mustTxn(t, `"action":"sale","transaction_amount":"10.00",`+raw)["id"].(string)
	avs := func(source string) string {
		return `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","run_avs":true,"billing_zip":"32606",` + source + `}}`
	}
	txn := func(fields string) string { return `{"transaction":{` + fields + `}}` }
	for _, tt := range []struct {
		name, path, body, key string
		vault                 bool // vault: the answer names a vault save_account made.
	}{
		{"ok/vault-run-avs-raw", "/v2/accountvaults", avs(`"account_number":"4111111111111111","exp_date":"1228"`), "accountvault", false},
		{"ok/vault-run-avs-ticket", "/v2/accountvaults", avs(`"ticket":"` + s.mustTicket(t, loc) + `"`), "accountvault", false},
		{"ok/sale", "/v2/transactions", txn(`"action":"sale","transaction_amount":"1.00",` + raw), "transaction", false},
		{"ok/sale-save-account", "/v2/transactions", txn(`"action":"sale","transaction_amount":"1.00","save_account":1,` + raw), "transaction", true},
		{"ok/sale-ticket-save-account", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","save_account":1,"location_id":"` + loc + `","ticket":"` + s.mustTicket(t, loc) + `"`), "transaction", true},
		{"ok/authonly", "/v2/transactions", txn(`"action":"authonly","transaction_amount":"1.00",` + raw), "transaction", false},
		{"ok/refund", "/v2/transactions", txn(`"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"` + sale + `"`), "transaction", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st.LoseCommit(2) // the first write records the check or transaction RECEIVED, the second completes it
			var r *result
			st.Armed(t, func() { r = s.post(t, tt.path, tt.body) })
			got := must(t, r, http.StatusCreated).record(t, tt.key)
			diff(t, must(t, s.get(t, tt.path+"/"+got["id"].(string)), http.StatusOK).record(t, tt.key), got)
			if id, _ := got["account_vault_id"].(string); tt.vault {
				must(t, s.get(t, "/v2/accountvaults/"+id), http.StatusOK)
			}
		})
	}
}
