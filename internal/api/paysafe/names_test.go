package paysafe_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/logtest"
)

// TestNamesRefuseCardNumbers: a card number in a name or a label (a profile's names, a card's
// holderName and nickName, a bank account's accountHolderName and nickName, an address's
// nickName and recipientName, a single-use
// token's holder and customer names) is refused with the field-validation answer, 400/5068
// naming the field, on create and on PUT; the number is in neither the answer nor the logs.
func TestNamesRefuseCardNumbers(t *testing.T) {
	e := MustEnv(t)
	const pan = "Jo 4111 1111 1111 1111"
	e.logs.Forbid("4111 1111 1111 1111", "4111111111111111")
	pid := e.MustProfile(t, "names")
	aid := e.MustAddress(t, pid)
	base := "/customervault/v1/profiles/" + pid
	cardID := e.must(t, 201, call{method: "POST", path: base + "/cards", body: `{"cardNum":"4012888888881881","cardExpiry":{"month":12,"year":2040}}`}).str("id")
	achID := e.must(t, 201, call{method: "POST", path: base + "/achbankaccounts", body: `{"accountHolderName":"S","accountNumber":"123456789","routingNumber":"072000326","accountType":"CHECKING","billingAddressId":"` + aid + `"}`}).str("id")
	ach := func(holder, nick string) string {
		return `{"accountHolderName":"` + holder + `","nickName":"` + nick + `","accountNumber":"123456789","routingNumber":"072000326","accountType":"CHECKING","billingAddressId":"` + aid + `"}`
	}
	tests := []struct {
		name  string
		c     call
		field string
	}{
		{"fail/profile-create/firstName", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"p1","locale":"en_US","firstName":"` + pan + `"}`}, "firstName"},
		{"fail/profile-create/middleName", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"p2","locale":"en_US","middleName":"` + pan + `"}`}, "middleName"},
		{"fail/profile-create/lastName", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"p3","locale":"en_US","lastName":"` + pan + `"}`}, "lastName"},
		{"fail/profile-create-with-card/lastName", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"p4","locale":"en_US","lastName":"` + pan + `","card":{"cardNum":"4012888888881881","cardExpiry":{"month":12,"year":2040}}}`}, "lastName"},
		{"fail/profile-create-with-card/card.holderName", call{method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"p5","locale":"en_US","card":{"cardNum":"4012888888881881","cardExpiry":{"month":12,"year":2040},"holderName":"` + pan + `"}}`}, "card.holderName"},
		{"fail/profile-update/firstName", call{method: "PUT", path: base, body: `{"merchantCustomerId":"names","locale":"en_US","firstName":"` + pan + `"}`}, "firstName"},
		{"fail/card-create/holderName", call{method: "POST", path: base + "/cards", body: `{"cardNum":"5555555555554444","cardExpiry":{"month":12,"year":2040},"holderName":"` + pan + `"}`}, "holderName"},
		{"fail/card-create/nickName", call{method: "POST", path: base + "/cards", body: `{"cardNum":"5555555555554444","cardExpiry":{"month":12,"year":2040},"nickName":"` + pan + `"}`}, "nickName"},
		{"fail/card-update/holderName", call{method: "PUT", path: base + "/cards/" + cardID, body: `{"cardExpiry":{"month":12,"year":2040},"holderName":"` + pan + `"}`}, "holderName"},
		{"fail/card-update/nickName", call{method: "PUT", path: base + "/cards/" + cardID, body: `{"cardExpiry":{"month":12,"year":2040},"nickName":"` + pan + `"}`}, "nickName"},
		{"fail/ach-create/accountHolderName", call{method: "POST", path: base + "/achbankaccounts", body: ach(pan, "")}, "accountHolderName"},
		{"fail/ach-create/nickName", call{method: "POST", path: base + "/achbankaccounts", body: ach("S", pan)}, "nickName"},
		{"fail/ach-update/accountHolderName", call{method: "PUT", path: base + "/achbankaccounts/" + achID, body: ach(pan, "")}, "accountHolderName"},
		{"fail/ach-update/nickName", call{method: "PUT", path: base + "/achbankaccounts/" + achID, body: ach("S", pan)}, "nickName"},
		{"fail/bacs-create/accountHolderName", call{method: "POST", path: base + "/bacsbankaccounts", body: `{"accountHolderName":"` + pan + `","accountNumber":"12345678","sortCode":"207405","billingAddressId":"` + aid + `"}`}, "accountHolderName"},
		{"fail/eft-create/nickName", call{method: "POST", path: base + "/eftbankaccounts", body: `{"accountHolderName":"S","nickName":"` + pan + `","accountNumber":"1234567","transitNumber":"12345","institutionId":"123","billingAddressId":"` + aid + `"}`}, "nickName"},
		{"fail/sepa-create/accountHolderName", call{method: "POST", path: base + "/sepabankaccounts", body: `{"accountHolderName":"` + pan + `","iban":"DE89370400440532013000","billingAddressId":"` + aid + `"}`}, "accountHolderName"},
		{"fail/address-create/nickName", call{method: "POST", path: base + "/addresses", body: `{"country":"US","zip":"10014","nickName":"` + pan + `"}`}, "nickName"},
		{"fail/address-create/recipientName", call{method: "POST", path: base + "/addresses", body: `{"country":"US","zip":"10014","recipientName":"` + pan + `"}`}, "recipientName"},
		{"fail/address-update/recipientName", call{method: "PUT", path: base + "/addresses/" + aid, body: `{"country":"US","zip":"10014","recipientName":"` + pan + `"}`}, "recipientName"},
		{"fail/card-token/card.holderName", call{method: "POST", path: "/customervault/v1/singleusetokens", body: `{"card":{"cardNum":"4012888888881881","cardExpiry":{"month":12,"year":2040},"holderName":"` + pan + `"}}`}, "card.holderName"},
		{"fail/ach-token/achBankAccount.accountHolderName", call{method: "POST", path: "/customervault/v1/achsingleusetokens", body: `{"achBankAccount":{"accountHolderName":"` + pan + `","accountNumber":"123456789","routingNumber":"072000326","accountType":"CHECKING"}}`}, "achBankAccount.accountHolderName"},
		{"fail/eft-token/profile.firstName", call{method: "POST", path: "/customervault/v1/eftsingleusetokens", body: `{"eftBankAccount":{"accountHolderName":"S","accountNumber":"1234567","transitNumber":"12345","institutionId":"123"},"profile":{"firstName":"` + pan + `"}}`}, "profile.firstName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(t, 400, tt.c)
			eo, _ := r.body["error"].(map[string]any)
			want := map[string]any{"code": "5068", "fieldErrors": []any{map[string]any{"field": tt.field, "error": "must not contain a card number"}}}
			got := map[string]any{"code": eo["code"], "fieldErrors": eo["fieldErrors"]}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			if leaks := logtest.Leaks(string(r.raw), []string{"4111 1111 1111 1111"}); len(leaks) > 0 {
				t.Errorf("the answer leaks %v", leaks)
			}
		})
	}
	t.Run("ok/short-numbers", func(t *testing.T) {
		e.must(t, 200, call{method: "PUT", path: base + "/cards/" + cardID, body: `{"cardExpiry":{"month":12,"year":2040},"holderName":"Jo Smith 3rd","nickName":"Visa 1881, 12/40"}`})
	})
}
