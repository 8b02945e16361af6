package fortis_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/vault"
)

// withCheckDigit appends the Luhn check digit to digits.
func withCheckDigit(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + fmt.Sprint((10-sum%10)%10)
}

// TestVaultCreateRules runs every rule of the field table (§2.2, §2.3, §2.4) on POST
// /v2/accountvaults: one message per field, the first rule it fails, keys in table order.
func TestVaultCreateRules(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	other, _ := s.mustOtherMerchant(t, "Other merchant")
	second := s.mustLocation(t, "Second").Location.ID
	_, both := s.mustUser(t, vault.NewUser{Username: "both", PrimaryLocationID: second, LocationIDs: []string{loc}})
	elsewhere := must(t, s.do(t, call{Method: "POST", Path: "/v2/contacts", As: &both,
		Body: `{"contact":{"location_id":"` + second + `","last_name":"Elsewhere"}}`}), 201).record(t, "contact")["id"].(string)
	taken := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Taken1"`)
	deleted := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string)
	must(t, s.del(t, "/v2/accountvaults/"+deleted), 204)
	achVault := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"A"`)["id"].(string)
	ticket := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4111111111111111","exp_date":"1228"}}`), 201).record(t, "cardticket")["id"].(string)

	const cc = `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228",`
	const ach = `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo",`
	long := func(n int) string { return strings.Repeat("a", n) }
	unknown := "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
	tests := []struct {
		name   string
		fields string // inside "accountvault", after location_id
		want   string // the "errors" object
		noLoc  bool   // noLoc sends no location_id
	}{
		{"fail/no-source", `"payment_method":"cc"`, `{"account_number":["Account Number cannot be blank."]}`, false},
		{"fail/location-missing", cc + `"title":"x"`, `{"location_id":["Location Id cannot be blank."]}`, true},
		{"fail/location-short", `"location_id":"abc",` + cc + `"title":"x"`, `{"location_id":["Location Id should contain at least 24 characters."]}`, true},
		{"fail/location-foreign", `"location_id":"` + other.Fortis.LocationID + `",` + cc + `"title":"x"`, `{"location_id":["location_id provided is not valid"]}`, true},
		{"fail/location-inaccessible", `"location_id":"` + second + `",` + cc + `"title":"x"`, `{"location_id":["location_id provided is not valid"]}`, true},
		{"fail/location-not-string", `"location_id":{"a":1},` + cc + `"title":"x"`, `{"location_id":["Location Id must be a string."]}`, true},
		{"fail/method-missing", `"account_number":"4111111111111111"`, `{"payment_method":["Payment Method cannot be blank."]}`, false},
		{"fail/method-bad", `"payment_method":"xx","account_number":"4111111111111111"`, `{"payment_method":["Payment Method is invalid."]}`, false},
		{"fail/method-long", `"payment_method":"card","account_number":"4111111111111111"`, `{"payment_method":["Payment Method should contain at most 3 characters."]}`, false},
		{"fail/number-not-string", `"payment_method":"cc","account_number":true,"exp_date":"1228"`, `{"account_number":["Account Number must be a string."]}`, false},
		{"fail/number-float", `"payment_method":"cc","account_number":4111111111111111.0,"exp_date":"1228"`, `{"account_number":["Account Number must be a string."]}`, false},
		{"ok/number-as-integer", `"payment_method":"cc","account_number":4111111111111111,"exp_date":"1228"`, ``, false},
		{"fail/number-short", `"payment_method":"cc","account_number":"411","exp_date":"1228"`, `{"account_number":["Account Number should contain at least 4 characters."]}`, false},
		{"fail/number-long", `"payment_method":"cc","account_number":"41111111111111111111","exp_date":"1228"`, `{"account_number":["Account Number should contain at most 19 characters."]}`, false},
		{"fail/number-letters", `"payment_method":"cc","account_number":"4111x11111111111","exp_date":"1228"`, `{"account_number":["Account Number is invalid."]}`, false},
		{"fail/cc-luhn", `"payment_method":"cc","account_number":"4111111111111112","exp_date":"1228"`, `{"account_number":["Account Number is invalid."]}`, false},
		{"fail/cc-twelve-digits", `"payment_method":"cc","account_number":"` + withCheckDigit("41111111111") + `","exp_date":"1228"`, `{"account_number":["Account Number is invalid."]}`, false},
		{"fail/cc-unknown-brand", `"payment_method":"cc","account_number":"` + withCheckDigit("999999999999999") + `","exp_date":"1228"`, `{"account_number":["Account Number is invalid."]}`, false},
		{"fail/cc-unionpay-not-fortis", `"payment_method":"cc","account_number":"` + withCheckDigit("620000000000000") + `","exp_date":"1228"`, `{"account_number":["Account Number is invalid."]}`, false},
		{"ok/ach-four-digits", `"payment_method":"ach","account_number":"1234","routing":"072000326","account_holder_name":"Jo"`, ``, false},
		{"fail/holder-long", cc + `"account_holder_name":"` + long(33) + `"`, `{"account_holder_name":["Account Holder Name should contain at most 32 characters."]}`, false},
		{"fail/holder-required-ach", `"payment_method":"ach","account_number":"700953657","routing":"072000326"`, `{"account_holder_name":["Account Holder Name cannot be blank."]}`, false},
		{"fail/account-type-bad", ach + `"account_type":"loan"`, `{"account_type":["Account Type is invalid."]}`, false},
		{"ok/account-type-ignored-on-cc", cc + `"account_type":"loan"`, ``, false},
		{"fail/api-id-chars", cc + `"account_vault_api_id":"a-b"`, `{"account_vault_api_id":["Account Vault Api Id is invalid."]}`, false},
		{"fail/api-id-long", cc + `"account_vault_api_id":"` + long(37) + `"`, `{"account_vault_api_id":["Account Vault Api Id should contain at most 36 characters."]}`, false},
		{"fail/api-id-taken", cc + `"account_vault_api_id":"Taken1"`, `{"account_vault_api_id":["Account Vault Api Id \"Taken1\" has already been taken."]}`, false},
		{"ok/api-id-other-case", cc + `"account_vault_api_id":"TAKEN1"`, ``, false},
		{"fail/c1-long", cc + `"accountvault_c1":"` + long(129) + `"`, `{"accountvault_c1":["Accountvault C1 should contain at most 128 characters."]}`, false},
		{"fail/c3-long", cc + `"accountvault_c3":"` + long(129) + `"`, `{"accountvault_c3":["Accountvault C3 should contain at most 128 characters."]}`, false},
		{"fail/sec-code-bad", ach + `"ach_sec_code":"XYZ"`, `{"ach_sec_code":["Ach Sec Code is invalid."]}`, false},
		{"fail/sec-code-length", ach + `"ach_sec_code":"WE"`, `{"ach_sec_code":["Ach Sec Code should contain 3 characters."]}`, false},
		{"ok/sec-code-ignored-on-cc", cc + `"ach_sec_code":"XYZ"`, ``, false},
		{"fail/billing-address-long", cc + `"billing_address":"` + long(33) + `"`, `{"billing_address":["Billing Address should contain at most 32 characters."]}`, false},
		{"fail/billing-city-long", cc + `"billing_city":"` + long(37) + `"`, `{"billing_city":["Billing City should contain at most 36 characters."]}`, false},
		{"fail/billing-phone-long", cc + `"billing_phone":"12345678901"`, `{"billing_phone":["Billing Phone should contain at most 10 characters."]}`, false},
		{"fail/billing-phone-letters", cc + `"billing_phone":"555-1234"`, `{"billing_phone":["Billing Phone is invalid."]}`, false},
		{"fail/billing-state-length", cc + `"billing_state":"F"`, `{"billing_state":["Billing State should contain 2 characters."]}`, false},
		{"fail/billing-state-digits", cc + `"billing_state":"F1"`, `{"billing_state":["Billing State is invalid."]}`, false},
		{"fail/billing-zip-short", cc + `"billing_zip":"1234"`, `{"billing_zip":["Billing Zip should contain at least 5 characters."]}`, false},
		{"fail/billing-zip-chars", cc + `"billing_zip":"12#45"`, `{"billing_zip":["Billing Zip is invalid."]}`, false},
		{"fail/contact-short", cc + `"contact_id":"abc"`, `{"contact_id":["Contact Id should contain at least 24 characters."]}`, false},
		{"fail/contact-unknown", cc + `"contact_id":"` + unknown + `"`, `{"contact_id":["Contact Id is invalid."]}`, false},
		{"fail/contact-other-location", cc + `"contact_id":"` + elsewhere + `"`, `{"contact_id":["Contact Id is invalid."]}`, false},
		{"fail/customer-id-long", cc + `"customer_id":"` + long(51) + `"`, `{"customer_id":["Customer Id should contain at most 50 characters."]}`, false},
		{"fail/dl-number-alone", cc + `"dl_number":"D123"`, `{"dl_state":["Dl State cannot be blank."]}`, false},
		{"fail/dl-state-alone", cc + `"dl_state":"FL"`, `{"dl_number":["Dl Number cannot be blank."]}`, false},
		{"fail/dl-state-digits", cc + `"dl_number":"D123","dl_state":"F1"`, `{"dl_state":["Dl State is invalid."]}`, false},
		{"fail/dl-number-long", cc + `"dl_number":"` + long(51) + `","dl_state":"FL"`, `{"dl_number":["Dl Number should contain at most 50 characters."]}`, false},
		{"fail/dob-year-length", cc + `"dob_year":"198"`, `{"dob_year":["Dob Year should contain 4 characters."]}`, false},
		{"fail/dob-year-letters", cc + `"dob_year":"19a0"`, `{"dob_year":["Dob Year is invalid."]}`, false},
		{"fail/exp-missing", `"payment_method":"cc","account_number":"4111111111111111"`, `{"exp_date":["Exp Date cannot be blank."]}`, false},
		{"fail/exp-month", `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1328"`, `{"exp_date":["Exp Date is invalid."]}`, false},
		{"fail/exp-length", `"payment_method":"cc","account_number":"4111111111111111","exp_date":919`, `{"exp_date":["Exp Date should contain 4 characters."]}`, false},
		{"ok/exp-past", `"payment_method":"cc","account_number":"4111111111111111","exp_date":"0101"`, ``, false},
		{"ok/exp-ignored-on-ach", ach + `"exp_date":"xx"`, ``, false},
		// "ign." (§2.2) ignores the value whatever its JSON type, as an ignored source is.
		{"ok/exp-of-any-type-ignored-on-ach", ach + `"exp_date":true`, ``, false},
		{"ok/ach-fields-of-any-type-ignored-on-cc", cc + `"account_type":true,"ach_sec_code":[],"routing":{"a":1}`, ``, false},
		{"ok/routing-of-any-type-ignored-from-source", `"payment_method":"ach","previous_account_vault_id":"` + achVault + `","routing":[]`, ``, false},
		{"fail/ach-fields-type-on-ach", ach + `"account_type":true,"ach_sec_code":[]`, `{"account_type":["Account Type must be a string."],"ach_sec_code":["Ach Sec Code must be a string."]}`, false},
		{"fail/routing-type-on-raw-ach", `"payment_method":"ach","account_number":"700953657","account_holder_name":"Jo","routing":{"a":1}`, `{"routing":["Routing must be a string."]}`, false},
		{"fail/exp-type-on-cc", `"payment_method":"cc","account_number":"4111111111111111","exp_date":true`, `{"exp_date":["Exp Date must be a string."]}`, false},
		{"fail/is-company-bad", ach + `"is_company":"yes"`, `{"is_company":["Is Company must be either \"1\" or \"0\"."]}`, false},
		{"ok/is-company-ignored-on-cc", cc + `"is_company":"yes"`, ``, false},
		{"fail/routing-missing", `"payment_method":"ach","account_number":"700953657","account_holder_name":"Jo"`, `{"routing":["Routing cannot be blank."]}`, false},
		{"fail/routing-length", `"payment_method":"ach","account_number":"700953657","account_holder_name":"Jo","routing":"12345678"`, `{"routing":["Routing should contain 9 characters."]}`, false},
		{"fail/routing-letters", `"payment_method":"ach","account_number":"700953657","account_holder_name":"Jo","routing":"12345678a"`, `{"routing":["Routing is invalid."]}`, false},
		{"ok/routing-sandbox-format-only", `"payment_method":"ach","account_number":"700953657","account_holder_name":"Jo","routing":"100020200"`, ``, false},
		{"fail/run-avs-bad", cc + `"run_avs":"maybe"`, `{"run_avs":["Run Avs must be either \"1\" or \"0\"."]}`, false},
		{"ok/run-avs-ignored-on-ach", ach + `"run_avs":"maybe"`, ``, false},
		{"fail/ssn4-long", cc + `"ssn4":"12345"`, `{"ssn4":["Ssn4 should contain at most 4 characters."]}`, false},
		{"fail/ssn4-letters", cc + `"ssn4":"12a4"`, `{"ssn4":["Ssn4 is invalid."]}`, false},
		{"fail/terms-agree-value", cc + `"terms_agree":2`, `{"terms_agree":["Terms Agree is invalid."]}`, false},
		{"fail/terms-agree-type", cc + `"terms_agree":"x"`, `{"terms_agree":["Terms Agree must be an integer."]}`, false},
		{"fail/terms-ip-bad", cc + `"terms_agree_ip":"300.1.1.1"`, `{"terms_agree_ip":["Terms Agree Ip is invalid."]}`, false},
		{"fail/terms-ip-long", cc + `"terms_agree_ip":"1234.1234.1234.1"`, `{"terms_agree_ip":["Terms Agree Ip should contain at most 15 characters."]}`, false},
		{"fail/ticket-long", `"payment_method":"cc","ticket":"` + long(37) + `"`, `{"ticket":["Ticket should contain at most 36 characters."]}`, false},
		{"fail/ticket-unknown", `"payment_method":"cc","ticket":"` + unknown + `"`, `{"ticket":["Ticket is invalid."]}`, false},
		{"fail/ticket-ach", `"payment_method":"ach","ticket":"` + ticket + `","account_holder_name":"Jo"`, `{"ticket":["Ticket is invalid."]}`, false},
		{"fail/title-long", cc + `"title":"` + long(17) + `"`, `{"title":["Title should contain at most 16 characters."]}`, false},
		{"fail/title-bool", cc + `"title":true`, `{"title":["Title must be a string."]}`, false},
		{"ok/title-integer", cc + `"title":12345`, ``, false},
		{"fail/track-bad", `"payment_method":"cc","track_data":"%B4111111111111111?"`, `{"track_data":["Track Data is invalid."]}`, false},
		{"fail/track1-track2-disagree", `"payment_method":"cc","track_data":"%B4111111111111111^SMITH/JOHN^2812101?;5454545454545454=2812101?"`, `{"track_data":["Track Data is invalid."]}`, false},
		{"fail/track-ach", `"payment_method":"ach","track_data":";4111111111111111=28121010000000000000?","account_holder_name":"Jo"`, `{"track_data":["Track Data is invalid."]}`, false},
		{"fail/track-long", `"payment_method":"cc","track_data":"` + long(257) + `"`, `{"track_data":["Track Data should contain at most 256 characters."]}`, false},
		{"fail/previous-short", `"payment_method":"cc","previous_account_vault_id":"abc"`, `{"previous_account_vault_id":["Previous Account Vault Id should contain at least 24 characters."]}`, false},
		{"fail/previous-unknown", `"payment_method":"cc","previous_account_vault_id":"` + unknown + `"`, `{"previous_account_vault_id":["Previous Account Vault Id is invalid."]}`, false},
		{"fail/previous-deleted", `"payment_method":"cc","previous_account_vault_id":"` + deleted + `"`, `{"previous_account_vault_id":["Previous Account Vault Id is invalid."]}`, false},
		{"fail/previous-other-method", `"payment_method":"cc","previous_account_vault_id":"` + achVault + `"`, `{"previous_account_vault_id":["Previous Account Vault Id is invalid."]}`, false},
		{"fail/previous-api-unknown", `"payment_method":"cc","previous_account_vault_api_id":"nope"`, `{"previous_account_vault_api_id":["Previous Account Vault Api Id is invalid."]}`, false},
		{"fail/previous-api-long", `"payment_method":"cc","previous_account_vault_api_id":"` + long(65) + `"`, `{"previous_account_vault_api_id":["Previous Account Vault Api Id should contain at most 64 characters."]}`, false},
		{"fail/previous-transaction", `"payment_method":"cc","previous_transaction_id":"` + unknown + `"`, `{"previous_transaction_id":["Previous Transaction Id is invalid."]}`, false},
		{"fail/previous-transaction-api", `"payment_method":"cc","previous_transaction_api_id":"T1"`, `{"previous_transaction_api_id":["Previous Transaction Api Id is invalid."]}`, false},
		{"ok/ignored-sources-are-not-checked", cc + `"ticket":"` + long(40) + `","track_data":true`, ``, false},
		{"ok/unknown-keys-ignored", cc + `"billing_street":"x","description":"y","locale":"z"`, ``, false},
		{"fail/many-in-table-order", `"title":"` + long(17) + `","payment_method":"cc","account_number":"4111111111111112","billing_state":"F1","account_holder_name":"` + long(33) + `"`,
			`{"account_holder_name":["Account Holder Name should contain at most 32 characters."],"account_number":["Account Number is invalid."],"billing_state":["Billing State is invalid."],"exp_date":["Exp Date cannot be blank."],"title":["Title should contain at most 16 characters."]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"accountvault":{"location_id":"` + loc + `",` + tt.fields + `}}`
			if tt.noLoc {
				body = `{"accountvault":{` + tt.fields + `}}`
			}
			r := s.post(t, "/v2/accountvaults", body)
			if tt.want == "" {
				must(t, r, http.StatusCreated)
				return
			}
			must(t, r, http.StatusUnprocessableEntity)
			diff(t, `{"errors":`+tt.want+`}`, string(r.Body))
		})
	}
	// Nothing of a refused create is stored, and the unused ticket still works.
	must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","ticket":"`+ticket+`"}}`), http.StatusCreated)
	_ = taken
}

// TestVaultLiveRouting shows that a live merchant also enforces the ABA checksum.
func TestVaultLiveRouting(t *testing.T) {
	s := mustServer(t)
	live, err := s.svc.CreateMerchant(context.Background(), vault.NewMerchant{Name: "Live", Live: true})
	if err != nil {
		t.Fatal(err)
	}
	s.logs.Forbid(live.Fortis.UserAPIKey, live.Fortis.TicketHashKey, live.Paysafe.APIKeySecret, live.Paysafe.SingleUseKeySecret)
	u := userCreds{live.Fortis.DeveloperID, live.Fortis.UserID, live.Fortis.UserAPIKey}
	body := func(routing string) string {
		return `{"accountvault":{"location_id":"` + live.Fortis.LocationID + `","payment_method":"ach","account_number":"700953657","account_holder_name":"Jo","routing":"` + routing + `"}}`
	}
	r := must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", Body: body("100020200"), As: &u}), 422)
	diff(t, `{"errors":{"routing":["Routing is invalid."]}}`, string(r.Body))
	must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", Body: body("072000326"), As: &u}), 201)
}
