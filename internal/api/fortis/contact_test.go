package fortis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// TestContacts covers contact CRUD (§3.5): create, partial PUT, update_if_exists, api-id
// addressing, the detaching delete, lists and expands. A contact is the core profile.
func TestContacts(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	created := must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`","last_name":"Smith","first_name":"John","email":"john@example.com",
		"contact_api_id":"C-1","home_phone":"3525551234","date_of_birth":"1980-02-29","email_trx_receipt":"1","header_message_type":2,"contact_balance":"12.50","zip":"32606"}}`), 201)
	c := created.record(t, "contact")
	id := c["id"].(string)
	diff(t, map[string]any{"last_name": "Smith", "home_phone": "3525551234", "date_of_birth": "1980-02-29", "email_trx_receipt": true,
		"header_message_type": float64(2), "modified_ts": nil, "created_user_id": s.creds.Fortis.UserID, "contact_balance": "12.50", "account_number": nil},
		pick(c, "last_name", "home_phone", "date_of_birth", "email_trx_receipt", "header_message_type", "modified_ts", "created_user_id", "contact_balance", "account_number"))

	// The same record is the core's profile.
	prof, err := s.svc.GetProfile(context.Background(), &vault.Principal{Merchant: &vault.Merchant{ID: s.creds.MerchantID}}, id)
	if err != nil || prof.LastName != "Smith" || prof.Phone != "3525551234" {
		t.Fatalf("core profile = %+v, %v", prof, err)
	}

	t.Run("fail/rules", func(t *testing.T) {
		tests := []struct{ name, fields, want string }{
			{"fail/last-name-required", `"first_name":"x"`, `{"last_name":["Last Name cannot be blank."]}`},
			{"fail/last-name-long", `"last_name":"` + strings.Repeat("a", 65) + `"`, `{"last_name":["Last Name should contain at most 64 characters."]}`},
			{"fail/email", `"last_name":"x","email":"not-an-email"`, `{"email":["Email is not a valid email address."]}`},
			{"fail/email-short", `"last_name":"x","email":"a@b"`, `{"email":["Email should contain at least 5 characters."]}`},
			{"fail/state", `"last_name":"x","state":"F1"`, `{"state":["State is invalid."]}`},
			{"fail/zip", `"last_name":"x","zip":"123"`, `{"zip":["Zip should contain at least 4 characters."]}`},
			{"fail/phone", `"last_name":"x","home_phone":"555123"`, `{"home_phone":["Home Phone should contain 10 characters."]}`},
			{"fail/phone-letters", `"last_name":"x","cell_phone":"555123456x"`, `{"cell_phone":["Cell Phone is invalid."]}`},
			{"fail/ext", `"last_name":"x","office_ext_phone":"12345678901"`, `{"office_ext_phone":["Office Ext Phone should contain at most 10 characters."]}`},
			{"fail/balance", `"last_name":"x","contact_balance":"ten"`, `{"contact_balance":["Contact Balance must be a number."]}`},
			{"fail/dob", `"last_name":"x","date_of_birth":"02/29/1980"`, `{"date_of_birth":["The format of Date Of Birth is invalid."]}`},
			{"fail/dob-impossible", `"last_name":"x","date_of_birth":"1981-02-29"`, `{"date_of_birth":["The format of Date Of Birth is invalid."]}`},
			{"fail/receipt", `"last_name":"x","email_trx_receipt":"maybe"`, `{"email_trx_receipt":["Email Trx Receipt must be either \"1\" or \"0\"."]}`},
			{"fail/header-type", `"last_name":"x","header_message_type":5`, `{"header_message_type":["Header Message Type is invalid."]}`},
			{"fail/header-type-int", `"last_name":"x","header_message_type":"two"`, `{"header_message_type":["Header Message Type must be an integer."]}`},
			{"fail/api-id-taken", `"last_name":"x","contact_api_id":"C-1"`, `{"contact_api_id":["Contact Api Id \"C-1\" has already been taken."]}`},
			{"fail/c1", `"last_name":"x","contact_c1":"` + strings.Repeat("a", 129) + `"`, `{"contact_c1":["Contact C1 should contain at most 128 characters."]}`},
			{"fail/order", `"zip":"1","email":"x","last_name":""`, `{"last_name":["Last Name cannot be blank."],"email":["Email should contain at least 5 characters."],"zip":["Zip should contain at least 4 characters."]}`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`",`+tt.fields+`}}`), 422)
				diff(t, `{"errors":`+tt.want+`}`, string(r.Body))
			})
		}
	})

	t.Run("ok/balance-is-money", func(t *testing.T) {
		// §1.5: "Money is a two-decimal string ("10.00")"; §3.5: contact_balance ≤12, a number.
		tests := []struct{ name, in, want string }{
			{"ok/one-decimal", `"12.5"`, "12.50"},
			{"ok/whole", `"10"`, "10.00"},
			{"ok/json-integer", `10`, "10.00"},
			{"ok/negative", `"-3.1"`, "-3.10"},
			{"ok/leading-zeros", `"0007.10"`, "7.10"},
			{"ok/round-half-up", `"1.005"`, "1.01"},
			{"ok/round-down", `"1.0049"`, "1.00"},
			{"ok/round-carries", `"99.995"`, "100.00"},
			{"ok/negative-zero", `"-0.001"`, "0.00"},
			{"ok/twelve-digits", `"123456789012"`, "123456789012.00"},
			// "a number" is Yii's NumberValidator (§1.4 "must be a number."): no whole part,
			// a plus sign and an exponent are numbers.
			{"ok/no-whole", `".5"`, "0.50"},
			{"ok/negative-no-whole", `"-.5"`, "-0.50"},
			{"ok/plus", `"+5"`, "5.00"},
			{"ok/exponent", `"1e5"`, "100000.00"},
			{"ok/exponent-upper-negative", `"1.5E-1"`, "0.15"},
			{"ok/exponent-rounds", `"-1.005e0"`, "-1.01"},
			{"ok/exponent-tiny", `"1e-999999999"`, "0.00"},
			{"ok/exponent-twelve-digits", `"9.99e11"`, "999000000000.00"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`","last_name":"Bal","contact_balance":`+tt.in+`}}`), 201).record(t, "contact")
				diff(t, tt.want, c["contact_balance"])
				c = must(t, s.put(t, "/v2/contacts/"+c["id"].(string), `{"contact":{"contact_balance":`+tt.in+`}}`), 200).record(t, "contact")
				diff(t, tt.want, c["contact_balance"])
				diff(t, tt.want, must(t, s.get(t, "/v2/contacts/"+c["id"].(string)), 200).record(t, "contact")["contact_balance"])
			})
		}
		t.Run("ok/stored-before", func(t *testing.T) {
			// A balance stored as it was sent, before this rule, is shown as money too.
			c := s.mustContact(t, `"last_name":"Old"`)["id"].(string)
			if _, err := s.svc.UpdateProfile(context.Background(), s.principal(t), c, func(p *vault.Profile) error { p.ContactBalance = "12.5"; return nil }); err != nil {
				t.Fatal(err)
			}
			diff(t, "12.50", must(t, s.get(t, "/v2/contacts/"+c), 200).record(t, "contact")["contact_balance"])
		})
		for _, bad := range []struct{ name, in, want string }{
			{"fail/balance-text", `"12.5x"`, `{"contact_balance":["Contact Balance must be a number."]}`},
			{"fail/balance-long", `"1234567890.12"`, `{"contact_balance":["Contact Balance should contain at most 12 characters."]}`},
			{"fail/balance-no-fraction", `"5."`, `{"contact_balance":["Contact Balance must be a number."]}`},
			{"fail/balance-bare-exponent", `"1e"`, `{"contact_balance":["Contact Balance must be a number."]}`},
			{"fail/balance-hex", `"0x1A"`, `{"contact_balance":["Contact Balance must be a number."]}`},
			{"fail/balance-two-signs", `"+-5"`, `{"contact_balance":["Contact Balance must be a number."]}`},
			{"fail/balance-json-float", `1.5`, `{"contact_balance":["Contact Balance must be a string."]}`},
			{"fail/balance-thirteen-digits", `"1e12"`, `{"contact_balance":["Contact Balance is invalid."]}`},
			{"fail/balance-huge-exponent", `"-9e999999999"`, `{"contact_balance":["Contact Balance is invalid."]}`},
		} {
			t.Run(bad.name, func(t *testing.T) {
				r := must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`","last_name":"Bal","contact_balance":`+bad.in+`}}`), 422)
				diff(t, `{"errors":`+bad.want+`}`, string(r.Body))
			})
		}
	})

	t.Run("ok/update-if-exists", func(t *testing.T) {
		r := must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`","contact_api_id":"C-1","last_name":"Smythe","update_if_exists":1}}`), 200)
		got := r.record(t, "contact")
		diff(t, []any{id, "Smythe", "John", "john@example.com"}, []any{got["id"], got["last_name"], got["first_name"], got["email"]})
		r = must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`","contact_api_id":"C-new","last_name":"New","update_if_exists":true}}`), 201)
		if r.record(t, "contact")["id"] == id {
			t.Error("update_if_exists with a new api id updated another contact")
		}
	})

	t.Run("ok/update-if-exists-without-last-name", func(t *testing.T) {
		// §3.5: last_name is required on POST; a POST that updates (update_if_exists finds
		// its contact_api_id) only changes the fields it names, and the contact has one.
		c := s.mustContact(t, `"last_name":"Upsert","first_name":"Ann","contact_api_id":"UP-1","contact_balance":"1.00"`)
		r := must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`","contact_api_id":"UP-1","contact_balance":"2.50","update_if_exists":1}}`), 200)
		got := r.record(t, "contact")
		diff(t, []any{c["id"], "Upsert", "Ann", "2.50"}, []any{got["id"], got["last_name"], got["first_name"], got["contact_balance"]})
		for _, bad := range []struct{ name, body, want string }{
			{"fail/blank-on-update", `"contact_api_id":"UP-1","last_name":"","update_if_exists":1`, `{"errors":{"last_name":["Last Name cannot be blank."]}}`},
			{"fail/null-on-update", `"contact_api_id":"UP-1","last_name":null,"update_if_exists":1`, `{"errors":{"last_name":["Last Name cannot be blank."]}}`},
			{"fail/missing-on-create", `"contact_api_id":"UP-2","update_if_exists":1`, `{"errors":{"last_name":["Last Name cannot be blank."]}}`},
			{"fail/missing-without-flag", `"contact_api_id":"UP-1"`, `{"errors":{"contact_api_id":["Contact Api Id \"UP-1\" has already been taken."],"last_name":["Last Name cannot be blank."]}}`},
		} {
			t.Run(bad.name, func(t *testing.T) {
				r := must(t, s.post(t, "/v2/contacts", `{"contact":{"location_id":"`+loc+`",`+bad.body+`}}`), 422)
				diff(t, bad.want, string(r.Body))
			})
		}
		diff(t, "Upsert", must(t, s.get(t, "/v2/contacts/"+c["id"].(string)), 200).record(t, "contact")["last_name"])
	})

	t.Run("ok/partial-put", func(t *testing.T) {
		s.clock.Add(time.Minute)
		r := must(t, s.put(t, "/v2/contacts/"+id, `{"contact":{"city":"Gainesville","email":null,"location_id":"`+loc+`","id":"`+id+`"}}`), 200)
		got := r.record(t, "contact")
		diff(t, map[string]any{"city": "Gainesville", "email": nil, "last_name": "Smythe", "modified_ts": float64(s.clock.Now().Unix())},
			pick(got, "city", "email", "last_name", "modified_ts"))
	})
	t.Run("ok/put-ids-other-case", func(t *testing.T) {
		body := `{"contact":{"id":"` + strings.ToUpper(id) + `","location_id":"` + strings.ToUpper(loc) + `","contact_c1":"upper"}}`
		diff(t, "upper", must(t, s.put(t, "/v2/contacts/"+id, body), 200).record(t, "contact")["contact_c1"])
	})
	t.Run("fail/put-rules", func(t *testing.T) {
		r := must(t, s.put(t, "/v2/contacts/"+id, `{"contact":{"last_name":"","location_id":"`+s.mustLocation(t, "L2").Location.ID+`","update_if_exists":1}}`), 422)
		diff(t, `{"errors":{"location_id":["Location Id cannot be changed."],"last_name":["Last Name cannot be blank."],"update_if_exists":["Update If Exists cannot be changed."]}}`, string(r.Body))
	})

	t.Run("ok/api-id-addressing", func(t *testing.T) {
		diff(t, id, must(t, s.get(t, "/v2/contacts/C-1?api_id=1&location_id="+loc), 200).record(t, "contact")["id"])
		must(t, s.get(t, "/v2/contacts/c-1?api_id=1"), 404)
		got := must(t, s.put(t, "/v2/contacts/C-1?api_id=1", `{"contact":{"company_name":"Acme"}}`), 200).record(t, "contact")
		diff(t, "Acme", got["company_name"])
	})

	t.Run("ok/expands", func(t *testing.T) {
		got := must(t, s.get(t, "/v2/contacts/"+id+"?expand=notes,location,user,created_user"), 200).record(t, "contact")
		diff(t, []any{[]any{}, loc, nil, s.creds.Fortis.UserID}, []any{got["notes"], got["location"].(map[string]any)["id"], got["user"], got["created_user"].(map[string]any)["id"]})
	})

	t.Run("ok/list", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/contacts?last_name=SMY&sort=-created_ts"), 200)
		list := r.json(t)["contacts"].([]any)
		diff(t, 1, len(list))
		diff(t, 2, len(must(t, s.get(t, "/v2/contacts?contact_api_id=C-1,C-new"), 200).json(t)["contacts"].([]any)))
		diff(t, 0, len(must(t, s.get(t, "/v2/contacts?contact_api_id=c-1"), 200).json(t)["contacts"].([]any)))
		diff(t, 1, len(must(t, s.get(t, "/v2/contacts?home_phone=555&city=gaines"), 200).json(t)["contacts"].([]any)))
	})

	t.Run("ok/delete-detaches-vaults", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","contact_id":"`+id+`"`)
		s.clock.Add(time.Minute)
		must(t, s.del(t, "/v2/contacts/"+id), 204)
		must(t, s.get(t, "/v2/contacts/"+id), 404)
		must(t, s.del(t, "/v2/contacts/"+id), 404) // a hard delete: the second is 404
		after := must(t, s.get(t, "/v2/accountvaults/"+v["id"].(string)), 200).record(t, "accountvault")
		diff(t, []any{nil, float64(1), v["modified_ts"]}, []any{after["contact_id"], after["active"], after["modified_ts"]})
		// The api id is free for a new contact.
		s.mustContact(t, `"last_name":"Again","contact_api_id":"C-1"`)
	})
}
