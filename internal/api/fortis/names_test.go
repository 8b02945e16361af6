package fortis_test

import (
	"net/http"
	"testing"

	"github.com/payvault/payvault/internal/logtest"
)

// TestNamesRefuseCardNumbers: a card number in a name or a label (a vault's
// account_holder_name and title, a contact's first_name, last_name and company_name, a card ticket's
// account_holder_name, a transaction's account_holder_name and save_account_title) is
// refused with the usual 422 on that field, "{Label} is invalid.", on POST and on PUT, a
// transaction's before its processor is called; the number is in neither the answer nor the
// logs.
func TestNamesRefuseCardNumbers(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	const pan, bare = "Jo 4111-1111-1111-1111", "4111111111111111"
	s.logs.Forbid("4111-1111-1111-1111", bare)
	ccVault := s.mustVault(t, `"payment_method":"cc","account_number":"4012888888881881","exp_date":"1230"`)["id"].(string)
	achVault := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"A"`)["id"].(string)
	contact := s.mustContact(t, `"first_name":"Jo","last_name":"Smith"`)["id"].(string)
	vault := func(fields string) string { return `{"accountvault":{"location_id":"` + loc + `",` + fields + `}}` }
	const cc = `"payment_method":"cc","account_number":"5555555555554444","exp_date":"1230",`
	const ach = `"payment_method":"ach","account_number":"700953657","routing":"072000326",`
	tests := []struct {
		name string
		c    call
		want string
	}{
		{"fail/cc-create/account_holder_name", call{Method: "POST", Path: "/v2/accountvaults", Body: vault(cc + `"account_holder_name":"` + pan + `"`)},
			`{"account_holder_name":["Account Holder Name is invalid."]}`},
		{"fail/cc-create/title", call{Method: "POST", Path: "/v2/accountvaults", Body: vault(cc + `"title":"` + bare + `"`)},
			`{"title":["Title is invalid."]}`},
		{"fail/cc-create/every-field-in-table-order", call{Method: "POST", Path: "/v2/accountvaults", Body: vault(`"title":"` + bare + `",` + cc + `"account_holder_name":"` + pan + `"`)},
			`{"account_holder_name":["Account Holder Name is invalid."],"title":["Title is invalid."]}`},
		{"fail/ach-create/account_holder_name", call{Method: "POST", Path: "/v2/accountvaults", Body: vault(ach + `"account_holder_name":"` + pan + `"`)},
			`{"account_holder_name":["Account Holder Name is invalid."]}`},
		{"fail/cc-update/account_holder_name", call{Method: "PUT", Path: "/v2/accountvaults/" + ccVault, Body: `{"accountvault":{"account_holder_name":"` + pan + `"}}`},
			`{"account_holder_name":["Account Holder Name is invalid."]}`},
		{"fail/ach-update/title", call{Method: "PUT", Path: "/v2/accountvaults/" + achVault, Body: `{"accountvault":{"title":"` + bare + `"}}`},
			`{"title":["Title is invalid."]}`},
		{"fail/contact-create/first_name", call{Method: "POST", Path: "/v2/contacts", Body: `{"contact":{"location_id":"` + loc + `","first_name":"` + pan + `","last_name":"Smith"}}`},
			`{"first_name":["First Name is invalid."]}`},
		{"fail/contact-create/last_name", call{Method: "POST", Path: "/v2/contacts", Body: `{"contact":{"location_id":"` + loc + `","last_name":"` + pan + `"}}`},
			`{"last_name":["Last Name is invalid."]}`},
		{"fail/contact-create/company_name", call{Method: "POST", Path: "/v2/contacts", Body: `{"contact":{"location_id":"` + loc + `","last_name":"Smith","company_name":"` + pan + `"}}`},
			`{"company_name":["Company Name is invalid."]}`},
		{"fail/contact-update/last_name", call{Method: "PUT", Path: "/v2/contacts/" + contact, Body: `{"contact":{"last_name":"` + pan + `"}}`},
			`{"last_name":["Last Name is invalid."]}`},
		{"fail/sale/account_holder_name", call{Method: "POST", Path: "/v2/transactions", Body: txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4012888888881881","exp_date":"1230","account_holder_name":"` + pan + `"`)},
			`{"account_holder_name":["Account Holder Name is invalid."]}`},
		{"fail/sale/save_account_title", call{Method: "POST", Path: "/v2/transactions", Body: txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4012888888881881","exp_date":"1230","save_account":1,"save_account_title":"` + bare + `"`)},
			`{"save_account_title":["Save Account Title is invalid."]}`},
		{"fail/cardticket/account_holder_name", call{Method: "POST", Path: "/v2/cardtickets", Body: `{"cardticket":{"location_id":"` + loc + `","account_number":"4012888888881881","exp_date":"1230","account_holder_name":"` + pan + `"}}`},
			`{"account_holder_name":["Account Holder Name is invalid."]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.do(t, tt.c), http.StatusUnprocessableEntity)
			diff(t, `{"errors":`+tt.want+`}`, string(r.Body))
			if leaks := logtest.Leaks(string(r.Body), []string{"4111-1111-1111-1111"}); len(leaks) > 0 {
				t.Errorf("the answer leaks %v", leaks)
			}
		})
	}
	t.Run("ok/short-numbers", func(t *testing.T) {
		must(t, s.put(t, "/v2/accountvaults/"+ccVault, `{"accountvault":{"account_holder_name":"Jo Smith 3rd","title":"Visa 1881 12/30"}}`), http.StatusOK)
		must(t, s.put(t, "/v2/contacts/"+contact, `{"contact":{"first_name":"Jo 4111","last_name":"Smith"}}`), http.StatusOK)
	})
}
