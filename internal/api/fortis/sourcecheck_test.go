package fortis_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/vault"
)

// TestSourceErrorsWithFieldErrors: §1.4 reports all failing fields at once, so a 422 for
// another field also reports the request's unusable source (a ticket, a vault, an earlier
// transaction), with the key and message it has alone. The source is only read for this: a
// ticket stays usable after the 422, and another location's or merchant's record reads as
// unknown, as it does alone.
func TestSourceErrorsWithFieldErrors(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	other, them := s.mustOtherMerchant(t, "Other merchant")
	theirVault := must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &them,
		Body: `{"accountvault":{"location_id":"` + other.Fortis.LocationID + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`}), http.StatusCreated).record(t, "accountvault")["id"].(string)
	theirTxn := must(t, s.do(t, call{Method: "POST", Path: "/v2/transactions", As: &them, Body: txnBody(rawSale("1.00"))}), http.StatusCreated).record(t, "transaction")["id"].(string)

	// A second location, its vault, and a user who reaches both locations.
	second := s.mustLocation(t, "Second").Location.ID
	_, both := s.mustUser(t, vault.NewUser{Username: "both", PrimaryLocationID: loc, LocationIDs: []string{second}})
	elsewhere := must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &both,
		Body: `{"accountvault":{"location_id":"` + second + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Second1"}}`}), http.StatusCreated).record(t, "accountvault")["id"].(string)

	deleted := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string)
	must(t, s.del(t, "/v2/accountvaults/"+deleted), http.StatusNoContent)
	mine := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Mine1"`)["id"].(string)
	sale := s.mustTxn(t, rawSale("3.00", `"transaction_api_id":"Sale1"`))["id"].(string)
	declined := s.mustTxn(t, rawSale("5.00"))["id"].(string)
	usedTicket := s.mustTicket(t, loc)
	s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"`+usedTicket+`"`)

	const unknown = "01a20ce8-513f-71d5-9d8b-ba28603de8f0"
	title := `"title":"aaaaaaaaaaaaaaaaa"`
	const titleErr = `"title":["Title should contain at most 16 characters."]`
	description := `"description":"` + strings.Repeat("d", 65) + `"`
	const descriptionErr = `"description":["Description should contain at most 64 characters."]`
	sale1 := `"action":"sale","payment_method":"cc","transaction_amount":"1",`
	tests := []struct {
		name string
		as   *userCreds
		path string
		body string // the body's fields
		want string // the "errors" object
	}{
		// POST /v2/accountvaults.
		{"fail/vault/unknown-previous-vault", nil, "accountvaults", `"payment_method":"cc","previous_account_vault_id":"` + unknown + `",` + title,
			`{"previous_account_vault_id":["Previous Account Vault Id is invalid."],` + titleErr + `}`},
		{"fail/vault/deleted-previous-vault", nil, "accountvaults", `"payment_method":"cc","previous_account_vault_id":"` + deleted + `",` + title,
			`{"previous_account_vault_id":["Previous Account Vault Id is invalid."],` + titleErr + `}`},
		{"fail/vault/other-method-previous-vault", nil, "accountvaults", `"payment_method":"ach","account_holder_name":"Jo","previous_account_vault_id":"` + mine + `",` + title,
			`{"previous_account_vault_id":["Previous Account Vault Id is invalid."],` + titleErr + `}`},
		{"fail/vault/other-location-previous-vault", &both, "accountvaults", `"payment_method":"cc","previous_account_vault_id":"` + elsewhere + `",` + title,
			`{"previous_account_vault_id":["Previous Account Vault Id is invalid."],` + titleErr + `}`},
		{"fail/vault/out-of-reach-previous-vault", nil, "accountvaults", `"payment_method":"cc","previous_account_vault_id":"` + elsewhere + `",` + title,
			`{"previous_account_vault_id":["Previous Account Vault Id is invalid."],` + titleErr + `}`},
		{"fail/vault/other-merchant-previous-vault", nil, "accountvaults", `"payment_method":"cc","previous_account_vault_id":"` + theirVault + `",` + title,
			`{"previous_account_vault_id":["Previous Account Vault Id is invalid."],` + titleErr + `}`},
		{"fail/vault/unknown-previous-vault-api-id", nil, "accountvaults", `"payment_method":"cc","previous_account_vault_api_id":"Second1",` + title,
			`{"previous_account_vault_api_id":["Previous Account Vault Api Id is invalid."],` + titleErr + `}`},
		{"fail/vault/unknown-ticket", nil, "accountvaults", `"payment_method":"cc","ticket":"` + unknown + `",` + title,
			`{"ticket":["Ticket is invalid."],` + titleErr + `}`},
		{"fail/vault/used-ticket", nil, "accountvaults", `"payment_method":"cc","ticket":"` + usedTicket + `",` + title,
			`{"ticket":["Ticket is invalid."],` + titleErr + `}`},
		{"fail/vault/unknown-previous-transaction", nil, "accountvaults", `"payment_method":"cc","previous_transaction_id":"` + unknown + `",` + title,
			`{"previous_transaction_id":["Previous Transaction Id is invalid."],` + titleErr + `}`},
		{"fail/vault/other-merchant-previous-transaction", nil, "accountvaults", `"payment_method":"cc","previous_transaction_id":"` + theirTxn + `",` + title,
			`{"previous_transaction_id":["Previous Transaction Id is invalid."],` + titleErr + `}`},
		{"fail/vault/unknown-previous-transaction-api-id", nil, "accountvaults", `"payment_method":"cc","previous_transaction_api_id":"Nope",` + title,
			`{"previous_transaction_api_id":["Previous Transaction Api Id is invalid."],` + titleErr + `}`},
		{"fail/vault/usable-sources-not-reported", nil, "accountvaults", `"payment_method":"cc","previous_account_vault_id":"` + mine + `",` + title,
			`{` + titleErr + `}`},
		{"fail/vault/usable-previous-transaction-not-reported", nil, "accountvaults", `"payment_method":"cc","previous_transaction_api_id":"Sale1",` + title,
			`{` + titleErr + `}`},

		// POST /v2/transactions.
		{"fail/txn/unknown-vault", nil, "transactions", sale1 + `"account_vault_id":"` + unknown + `",` + description,
			`{"account_vault_id":["Account Vault Id is invalid."],` + descriptionErr + `}`},
		{"fail/txn/deleted-vault", nil, "transactions", sale1 + `"account_vault_id":"` + deleted + `",` + description,
			`{"account_vault_id":["Account Vault Id is invalid."],` + descriptionErr + `}`},
		{"fail/txn/other-location-vault", &both, "transactions", sale1 + `"account_vault_id":"` + elsewhere + `",` + description,
			`{"account_vault_id":["Account Vault Id is invalid."],` + descriptionErr + `}`},
		{"fail/txn/other-merchant-vault", nil, "transactions", sale1 + `"account_vault_id":"` + theirVault + `",` + description,
			`{"account_vault_id":["Account Vault Id is invalid."],` + descriptionErr + `}`},
		{"fail/txn/unknown-vault-api-id", nil, "transactions", sale1 + `"account_vault_api_id":"Second1",` + description,
			`{"account_vault_api_id":["Account Vault Api Id is invalid."],` + descriptionErr + `}`},
		{"fail/txn/unknown-ticket", nil, "transactions", sale1 + `"ticket":"nope",` + description,
			`{` + descriptionErr + `,"ticket":["Ticket is invalid."]}`},
		{"fail/txn/used-ticket", nil, "transactions", sale1 + `"ticket":"` + usedTicket + `",` + description,
			`{` + descriptionErr + `,"ticket":["Ticket is invalid."]}`},
		{"fail/txn/unknown-previous-transaction", nil, "transactions", sale1 + `"previous_transaction_id":"` + unknown + `",` + description,
			`{` + descriptionErr + `,"previous_transaction_id":["Previous Transaction Id is invalid."]}`},
		{"fail/txn/other-merchant-previous-transaction", nil, "transactions", sale1 + `"previous_transaction_id":"` + theirTxn + `",` + description,
			`{` + descriptionErr + `,"previous_transaction_id":["Previous Transaction Id is invalid."]}`},
		{"fail/txn/unknown-previous-transaction-api-id", nil, "transactions", sale1 + `"previous_transaction_api_id":"Nope",` + description,
			`{` + descriptionErr + `,"previous_transaction_api_id":["Previous Transaction Api Id is invalid."]}`},
		{"fail/txn/refund-of-declined-sale", nil, "transactions", `"action":"refund","payment_method":"cc","transaction_amount":"1","previous_transaction_id":"` + declined + `",` + description,
			`{` + descriptionErr + `,"previous_transaction_id":["Previous Transaction Id is invalid."]}`},
		{"fail/txn/unknown-action-unknown-previous-transaction", nil, "transactions", `"action":"credit","payment_method":"cc","transaction_amount":"1","previous_transaction_id":"` + unknown + `"`,
			`{"action":["Action is invalid."],"previous_transaction_id":["Previous Transaction Id is invalid."]}`},
		// Whether a declined sale is a source depends on the action (a sale copies it, a
		// refund refuses it): with the action invalid, it is not reported.
		{"fail/txn/unknown-action-declined-sale-not-reported", nil, "transactions", `"action":"credit","payment_method":"cc","transaction_amount":"1","previous_transaction_id":"` + declined + `"`,
			`{"action":["Action is invalid."]}`},
		{"fail/txn/usable-vault-not-reported", nil, "transactions", sale1 + `"account_vault_id":"` + mine + `",` + description,
			`{` + descriptionErr + `}`},
		{"fail/txn/usable-refund-not-reported", nil, "transactions", `"action":"refund","payment_method":"cc","transaction_amount":"1","previous_transaction_id":"` + sale + `",` + description,
			`{` + descriptionErr + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := strings.TrimSuffix(tt.path, "s")
			body := `{"` + key + `":{"location_id":"` + loc + `",` + tt.body + `}}`
			r := must(t, s.do(t, call{Method: "POST", Path: "/v2/" + tt.path, As: tt.as, Body: body}), http.StatusUnprocessableEntity)
			diff(t, `{"errors":`+tt.want+`}`, string(r.Body))
		})
	}

	// With location_id refused, a source is reported when no location would make it usable,
	// and not when one could.
	t.Run("fail/vault/bad-location-unknown-previous-vault", func(t *testing.T) {
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+other.Fortis.LocationID+`","payment_method":"cc","previous_account_vault_id":"`+unknown+`"}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"location_id":["location_id provided is not valid"],"previous_account_vault_id":["Previous Account Vault Id is invalid."]}}`, string(r.Body))
	})
	t.Run("fail/vault/bad-location-reachable-previous-vault-not-reported", func(t *testing.T) {
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+other.Fortis.LocationID+`","payment_method":"cc","previous_account_vault_id":"`+mine+`"}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"location_id":["location_id provided is not valid"]}}`, string(r.Body))
	})

	t.Run("ok/vault-422-leaves-ticket-usable", func(t *testing.T) {
		tk := s.mustTicket(t, loc)
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","ticket":"`+tk+`",`+title+`}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{`+titleErr+`}}`, string(r.Body))
		s.mustVault(t, `"payment_method":"cc","ticket":"`+tk+`"`)
	})
	t.Run("ok/transaction-422-leaves-ticket-usable", func(t *testing.T) {
		tk := s.mustTicket(t, loc)
		r := must(t, s.post(t, "/v2/transactions", txnBody(sale1+`"ticket":"`+tk+`",`+description)), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{`+descriptionErr+`}}`, string(r.Body))
		s.mustTxn(t, sale1+`"ticket":"`+tk+`"`)
	})
}

// mustTicket makes a card ticket in location loc and returns its id.
func (s *server) mustTicket(tb testing.TB, loc string) string {
	tb.Helper()
	r := must(tb, s.post(tb, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4111111111111111","exp_date":"1228"}}`), http.StatusCreated)
	return r.record(tb, "cardticket")["id"].(string)
}
