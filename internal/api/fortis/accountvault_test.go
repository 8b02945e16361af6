package fortis_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/vault"
)

// pick returns the named fields of a record.
func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// TestVaultSources creates vaults from each account-data source of §2.4.
func TestVaultSources(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	show := []string{"payment_method", "first_six", "last_four", "exp_date", "account_holder_name", "account_type", "routing", "ach_sec_code", "expiring_in_months", "billing_zip"}

	t.Run("ok/spec-ach-company", func(t *testing.T) {
		// §2.4's example, with first_six null (§0.1 #4).
		v := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","is_company":true,"account_holder_name":"Acme"`)
		diff(t, map[string]any{"payment_method": "ach", "first_six": nil, "last_four": "3657", "exp_date": nil, "account_holder_name": "Acme",
			"account_type": "checking", "routing": "072000326", "ach_sec_code": "CCD", "expiring_in_months": nil, "billing_zip": nil}, pick(v, show...))
	})
	t.Run("ok/ach-savings-sec-code", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_type":"SAVINGS","is_company":"0","ach_sec_code":"ppd","account_holder_name":"Jo"`)
		diff(t, []any{"savings", "PPD"}, []any{v["account_type"], v["ach_sec_code"]})
	})
	t.Run("ok/track1", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"cc","track_data":"%B4111111111111111^SMITH/JOHN^2812101000000000000000?"`)
		diff(t, map[string]any{"payment_method": "cc", "first_six": "411111", "last_four": "1111", "exp_date": "1228", "account_holder_name": "JOHN SMITH",
			"account_type": "visa", "routing": nil, "ach_sec_code": nil, "expiring_in_months": float64(25), "billing_zip": nil}, pick(v, show...))
		if bytes.Contains([]byte(s.logs.String()), []byte("SMITH")) {
			t.Error("track data reached the logs")
		}
	})
	t.Run("ok/track1-and-track2", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"cc","track_data":"%B4111111111111111^SMITH/JOHN^2812101000000000000000?;4111111111111111=28121010000000000000?"`)
		diff(t, []any{"411111", "1111", "1228", "JOHN SMITH"}, []any{v["first_six"], v["last_four"], v["exp_date"], v["account_holder_name"]})
	})
	t.Run("ok/track2-with-request-overrides", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"cc","track_data":";5454545454545454=28121010000000000000?","exp_date":"0130","account_holder_name":"Jo Doe"`)
		diff(t, []any{"545454", "0130", "Jo Doe", "mc"}, []any{v["first_six"], v["exp_date"], v["account_holder_name"], v["account_type"]})
	})
	t.Run("ok/previous-vault", func(t *testing.T) {
		from := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","is_company":1,"account_holder_name":"Acme",
			"billing_address":"1 Main St","billing_zip":"32606","customer_id":"C9","ssn4":"1234","dl_number":"D99","dl_state":"fl","account_vault_api_id":"Src1"`)
		for _, field := range []string{`"previous_account_vault_id":"` + from["id"].(string) + `"`, `"previous_account_vault_api_id":"Src1"`} {
			v := s.mustVault(t, `"payment_method":"ach",`+field+`,"title":"copy","billing_zip":"99999"`)
			diff(t, map[string]any{"last_four": "3657", "routing": "072000326", "ach_sec_code": "CCD", "account_holder_name": "Acme",
				"billing_address": "1 Main St", "billing_zip": "99999", "customer_id": "C9", "ssn4": "1234", "dl_number": "D99", "dl_state": "FL", "title": "copy"},
				pick(v, "last_four", "routing", "ach_sec_code", "account_holder_name", "billing_address", "billing_zip", "customer_id", "ssn4", "dl_number", "dl_state", "title"))
			if v["id"] == from["id"] {
				t.Error("the copy is the same vault")
			}
		}
	})
	t.Run("ok/previous-card-with-new-expiry", func(t *testing.T) {
		from := s.mustVault(t, `"payment_method":"cc","account_number":"371449635398431","exp_date":"0130"`)
		v := s.mustVault(t, `"payment_method":"cc","previous_account_vault_id":"`+from["id"].(string)+`","exp_date":"0231"`)
		diff(t, []any{"371449", "8431", "0231", "amex"}, []any{v["first_six"], v["last_four"], v["exp_date"], v["account_type"]})
	})
	t.Run("ok/no-duplicate-check", func(t *testing.T) {
		// Paysafe's 7503 is not a Fortis rule: the same card twice on one contact is fine.
		c := s.mustContact(t, `"last_name":"Twice"`)["id"].(string)
		s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","contact_id":"`+c+`"`)
		s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","contact_id":"`+c+`"`)
	})
	t.Run("ok/sealed-at-rest", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"ach","account_number":"987654321","routing":"072000326","account_holder_name":"Jo","ssn4":"4321","dl_number":"DL55667788","dl_state":"TX"`)
		in, err := s.store.GetInstrument(context.Background(), s.creds.MerchantID, v["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		for name, ct := range map[string][]byte{"number": in.Sealed.Number, "ssn4": in.Sealed.SSN4, "dl_number": in.Sealed.DLNumber} {
			if len(ct) == 0 || bytes.Contains(ct, []byte("987654321")) || bytes.Contains(ct, []byte("4321")) || bytes.Contains(ct, []byte("DL55667788")) {
				t.Errorf("%s is not sealed", name)
			}
		}
		var raw []byte
		row := s.store.DB().QueryRowContext(context.Background(), "SELECT number_sealed || ssn4_sealed || dl_number_sealed FROM instruments WHERE id = ?", v["id"])
		if err := row.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("DL55667788")) {
			t.Error("dl_number stored in the clear")
		}
	})
	_ = loc
}

// TestVaultUpdate covers the partial PUT of §2.6.
func TestVaultUpdate(t *testing.T) {
	s := mustServer(t)
	c := s.mustContact(t, `"last_name":"Owner"`)["id"].(string)
	v := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"t","contact_id":"`+c+`","account_vault_api_id":"Put1"`)
	id := v["id"].(string)
	ach := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo"`)["id"].(string)
	s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Other1"`)

	tests := []struct {
		name, id, body, want string
	}{
		{"fail/number-cannot-change", id, `{"accountvault":{"account_number":"4111111111111111"}}`, `{"errors":{"account_number":["Account Number cannot be changed."]}}`},
		{"fail/locked-fields", id, `{"accountvault":{"payment_method":"ach","first_six":"400000","location_id":"x","created_ts":1}}`,
			`{"errors":{"created_ts":["Created Ts cannot be changed."],"first_six":["First Six cannot be changed."],"location_id":["Location Id cannot be changed."],"payment_method":["Payment Method cannot be changed."]}}`},
		{"fail/always-locked", id, `{"accountvault":{"is_company":false,"run_avs":0,"ticket":null}}`,
			`{"errors":{"is_company":["Is Company cannot be changed."],"run_avs":["Run Avs cannot be changed."]}}`},
		{"fail/clear-exp-on-cc", id, `{"accountvault":{"exp_date":null}}`, `{"errors":{"exp_date":["Exp Date cannot be blank."]}}`},
		{"fail/clear-holder-on-ach", ach, `{"accountvault":{"account_holder_name":""}}`, `{"errors":{"account_holder_name":["Account Holder Name cannot be blank."]}}`},
		{"fail/clear-sec-code-on-ach", ach, `{"accountvault":{"ach_sec_code":null}}`, `{"errors":{"ach_sec_code":["Ach Sec Code cannot be blank."]}}`},
		{"fail/api-id-taken", id, `{"accountvault":{"account_vault_api_id":"Other1"}}`, `{"errors":{"account_vault_api_id":["Account Vault Api Id \"Other1\" has already been taken."]}}`},
		{"fail/contact-unknown", id, `{"accountvault":{"contact_id":"0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"}}`, `{"errors":{"contact_id":["Contact Id is invalid."]}}`},
		{"fail/dl-pair", id, `{"accountvault":{"dl_number":"D1"}}`, `{"errors":{"dl_state":["Dl State cannot be blank."]}}`},
		{"fail/exp-bad", id, `{"accountvault":{"exp_date":"1399"}}`, `{"errors":{"exp_date":["Exp Date is invalid."]}}`},
		{"fail/title-long", id, `{"accountvault":{"title":"seventeen chars!!"}}`, `{"errors":{"title":["Title should contain at most 16 characters."]}}`},
		// active is a flag (§1.5): a PUT cannot deactivate a vault, only DELETE does (§2.8).
		{"fail/deactivate", id, `{"accountvault":{"active":false}}`, `{"errors":{"active":["Active cannot be changed."]}}`},
		{"fail/deactivate-0", id, `{"accountvault":{"active":"0"}}`, `{"errors":{"active":["Active cannot be changed."]}}`},
		{"fail/active-not-a-flag", id, `{"accountvault":{"active":"yes"}}`, `{"errors":{"active":["Active cannot be changed."]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.put(t, "/v2/accountvaults/"+tt.id, tt.body), 422)
			diff(t, tt.want, string(r.Body))
		})
	}

	t.Run("ok/put-back-what-was-read", func(t *testing.T) {
		got := must(t, s.get(t, "/v2/accountvaults/"+id), 200)
		body := `{"accountvault":` + string(bytes.TrimSuffix(bytes.TrimPrefix(got.Body, []byte(`{"accountvault":`)), []byte("}"))) + `}`
		must(t, s.put(t, "/v2/accountvaults/"+id, body), 200)
	})
	// active is shown as 1 but is a flag: any boolean form of true is what the vault shows, a
	// no-op, so a client that keeps active as a boolean can PUT back what it read.
	for _, v := range []string{`true`, `"true"`, `1`, `"1"`} {
		t.Run("ok/active-"+v, func(t *testing.T) {
			got := must(t, s.put(t, "/v2/accountvaults/"+id, `{"accountvault":{"active":`+v+`,"title":"still active"}}`), 200).record(t, "accountvault")
			diff(t, []any{float64(1), "still active"}, []any{got["active"], got["title"]})
		})
	}
	// An enum or id sent in another case is the value create would store (§1.5, §2.2): it is
	// what the vault shows, a no-op, not a change.
	t.Run("ok/locked-fields-other-case", func(t *testing.T) {
		for _, vid := range []string{id, ach} {
			cur := must(t, s.get(t, "/v2/accountvaults/"+vid), 200).record(t, "accountvault")
			var fields []string
			for _, f := range []string{"id", "payment_method", "account_type", "location_id", "created_user_id"} {
				fields = append(fields, fmt.Sprintf("%q:%q", f, strings.ToUpper(cur[f].(string))))
			}
			got := must(t, s.put(t, "/v2/accountvaults/"+vid, `{"accountvault":{`+strings.Join(fields, ",")+`,"title":"upper"}}`), 200).record(t, "accountvault")
			diff(t, []any{cur["payment_method"], cur["account_type"], "upper"}, []any{got["payment_method"], got["account_type"], got["title"]})
		}
	})
	t.Run("fail/locked-fields-other-value", func(t *testing.T) {
		r := must(t, s.put(t, "/v2/accountvaults/"+ach, `{"accountvault":{"payment_method":"CC","account_type":"SAVINGS"}}`), 422)
		diff(t, `{"errors":{"account_type":["Account Type cannot be changed."],"payment_method":["Payment Method cannot be changed."]}}`, string(r.Body))
	})
	t.Run("ok/partial", func(t *testing.T) {
		before := must(t, s.get(t, "/v2/accountvaults/"+id), 200).record(t, "accountvault")
		s.clock.Add(90 * time.Second)
		after := must(t, s.put(t, "/v2/accountvaults/"+id, `{"accountvault":{"billing_zip":"32606","ssn4":"9876","title":null,"unknown":"ignored","_links":{}}}`), 200).record(t, "accountvault")
		diff(t, map[string]any{"billing_zip": "32606", "ssn4": "9876", "title": nil, "exp_date": "1228", "contact_id": c, "created_ts": before["created_ts"],
			"modified_ts": float64(s.clock.Now().Unix())}, pick(after, "billing_zip", "ssn4", "title", "exp_date", "contact_id", "created_ts", "modified_ts"))
	})
	t.Run("ok/detach-contact", func(t *testing.T) {
		after := must(t, s.put(t, "/v2/accountvaults/"+id, `{"accountvault":{"contact_id":null}}`), 200).record(t, "accountvault")
		diff(t, nil, after["contact_id"])
	})
	t.Run("ok/ach-fields", func(t *testing.T) {
		after := must(t, s.put(t, "/v2/accountvaults/"+ach, `{"accountvault":{"ach_sec_code":"tel","exp_date":"whatever","dl_number":"D7","dl_state":"ny"}}`), 200).record(t, "accountvault")
		diff(t, []any{"TEL", nil, "D7", "NY"}, []any{after["ach_sec_code"], after["exp_date"], after["dl_number"], after["dl_state"]})
	})
	// "ign." (§2.2) ignores the value whatever its JSON type.
	t.Run("ok/ignored-fields-of-any-type", func(t *testing.T) {
		must(t, s.put(t, "/v2/accountvaults/"+ach, `{"accountvault":{"exp_date":true}}`), 200)
		must(t, s.put(t, "/v2/accountvaults/"+id, `{"accountvault":{"ach_sec_code":[]}}`), 200)
	})
	t.Run("fail/ach-sec-code-type-on-ach", func(t *testing.T) {
		r := must(t, s.put(t, "/v2/accountvaults/"+ach, `{"accountvault":{"ach_sec_code":[]}}`), 422)
		diff(t, `{"errors":{"ach_sec_code":["Ach Sec Code must be a string."]}}`, string(r.Body))
	})
}

// TestVaultAddressing covers GET, PUT, DELETE and bininfo by id and by api id (§1.8), 404 and 410.
func TestVaultAddressing(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	second := s.mustLocation(t, "Second").Location.ID
	v := s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1228","account_vault_api_id":"Api1"`)
	id := v["id"].(string)
	byAPI := "/v2/accountvaults/Api1?api_id=1&location_id=" + loc

	diff(t, id, must(t, s.get(t, byAPI), 200).record(t, "accountvault")["id"])
	diff(t, id, must(t, s.get(t, "/v2/accountvaults/Api1?api_id=true"), 200).record(t, "accountvault")["id"])
	must(t, s.get(t, "/v2/accountvaults/api1?api_id=1"), 404) // api ids are case-sensitive
	must(t, s.get(t, "/v2/accountvaults/Api1?api_id=1&location_id="+second), 404)
	must(t, s.get(t, "/v2/accountvaults/Api1?api_id=1&location_id=0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"), 404)
	got := must(t, s.put(t, byAPI, `{"accountvault":{"title":"by api id"}}`), 200).record(t, "accountvault")
	diff(t, "by api id", got["title"])
	must(t, s.get(t, "/v2/accountvaults/Api1/bininfo?api_id=1&location_id="+loc), 200)
	must(t, s.get(t, "/v2/accountvaults/"+id+"/bininfo"), 200)

	// Upper-case path ids are the same record.
	must(t, s.get(t, "/v2/accountvaults/"+string(bytes.ToUpper([]byte(id)))), 200)

	must(t, s.del(t, byAPI), 204)
	r := must(t, s.get(t, "/v2/accountvaults/"+id), 200) // a deleted vault is still shown, inactive
	diff(t, float64(0), r.record(t, "accountvault")["active"])
	must(t, s.del(t, byAPI), 410) // the most recently deleted vault answers the api id
	must(t, s.put(t, byAPI, `{"accountvault":{"title":"x"}}`), 410)
	must(t, s.get(t, "/v2/accountvaults/Api1/bininfo?api_id=1"), 410)
	must(t, s.del(t, "/v2/accountvaults/"+id), 410)
	must(t, s.del(t, "/v2/accountvaults/0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"), 404)
	must(t, s.del(t, "/v2/accountvaults/Nope?api_id=1"), 404)

	// The api id is free again once deleted.
	again := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Api1"`)
	diff(t, again["id"], must(t, s.get(t, byAPI), 200).record(t, "accountvault")["id"])
	// A deleted vault is not listed unless asked for.
	list := must(t, s.get(t, "/v2/accountvaults?active=0"), 200).json(t)["accountvaults"].([]any)
	diff(t, 1, len(list))
}

// TestBinInfo checks §4's 14 keys from the BIN data and the brand rules.
func TestBinInfo(t *testing.T) {
	s := mustServer(t)
	bin := func(t *testing.T, pan string) string {
		t.Helper()
		v := s.mustVault(t, `"payment_method":"cc","account_number":"`+pan+`","exp_date":"1228"`)
		return string(must(t, s.get(t, "/v2/accountvaults/"+v["id"].(string)+"/bininfo"), 200).Body)
	}
	tests := []struct{ name, pan, want string }{
		{"ok/brand-rule-mc", "5454545454545454", `{"bininfo":{"issuer_bank_name":"","country_code":"USA","detail_card_product":"M","detail_card_indicator":"X","fsa_indicator":"","prepaid_indicator":"","product_id":"MCS","regulator_indicator":"N","visa_product_sub_type":"","visa_large_ticket_indicator":"","account_fund_source":"C","card_class":"C","token_ind":"","issuing_network":null}}`},
		{"ok/brand-rule-amex", "371449635398431", `{"bininfo":{"issuer_bank_name":"","country_code":"","detail_card_product":"A","detail_card_indicator":"X","fsa_indicator":"","prepaid_indicator":"","product_id":"","regulator_indicator":"N","visa_product_sub_type":"","visa_large_ticket_indicator":"","account_fund_source":"","card_class":"","token_ind":"","issuing_network":null}}`},
		{"ok/range-discover", "6011000995500000", `{"bininfo":{"issuer_bank_name":"DISCOVER","country_code":"USA","detail_card_product":"D","detail_card_indicator":"X","fsa_indicator":"","prepaid_indicator":"","product_id":"001","regulator_indicator":"N","visa_product_sub_type":"","visa_large_ticket_indicator":"","account_fund_source":"C","card_class":"C","token_ind":"","issuing_network":"00"}}`},
		{"ok/range-debit-alpha3", withCheckDigit("545448000000000"), `{"bininfo":{"issuer_bank_name":"BAYPORT CREDIT UNION","country_code":"USA","detail_card_product":"M","detail_card_indicator":"S","fsa_indicator":"","prepaid_indicator":"","product_id":"MCS","regulator_indicator":"N","visa_product_sub_type":"","visa_large_ticket_indicator":"","account_fund_source":"D","card_class":"C","token_ind":"","issuing_network":null}}`},
		{"ok/range-foreign", withCheckDigit("545460000000000"), `{"bininfo":{"issuer_bank_name":"NATWEST","country_code":"GBR","detail_card_product":"M","detail_card_indicator":"X","fsa_indicator":"","prepaid_indicator":"","product_id":"MCS","regulator_indicator":"N","visa_product_sub_type":"","visa_large_ticket_indicator":"","account_fund_source":"C","card_class":"C","token_ind":"","issuing_network":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { diff(t, tt.want, bin(t, tt.pan)) })
	}
	t.Run("fail/ach", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo"`)
		r := must(t, s.get(t, "/v2/accountvaults/"+v["id"].(string)+"/bininfo"), 404)
		diff(t, `{"name":"Not Found","message":"BIN info is not available for ach accounts.","code":0,"status":404}`, string(r.Body))
	})
}

// TestBinInfoTable checks every row of "The product's BIN table — Decision" of §4, keyed on
// the first six digits, through the vault's and the transaction's bininfo. None of these BINs
// but 601100 has a range in the embedded data; 601100's range gives its issuer (§0.1 #5).
func TestBinInfoTable(t *testing.T) {
	s := mustServer(t)
	const (
		us   = "USA"
		none = ""
	)
	// product / indicator / product_id / fund source / class, as §4 lists them.
	type row struct{ product, indicator, productID, fund, class, prepaid, issuer, country string }
	tests := []struct {
		name, bin string
		want      row
		network   any
	}{
		{"ok/visa-411111", "411111", row{"V", "X", "A", "C", "C", none, none, us}, nil},
		{"ok/visa-401288", "401288", row{"V", "X", "A", "C", "C", none, none, us}, nil},
		{"ok/visa-491606", "491606", row{"V", "X", "A", "C", "C", none, none, us}, nil},
		{"ok/visa-400556", "400556", row{"V", "X", "K", "C", "T", none, none, us}, nil},
		{"ok/visa-448527", "448527", row{"V", "X", "S", "C", "P", none, none, us}, nil},
		{"ok/visa-448542", "448542", row{"V", "X", "S1", "C", "P", none, none, us}, nil},
		{"ok/visa-455677", "455677", row{"V", "S", "F", "D", "C", none, none, us}, nil},
		{"ok/mc-545454", "545454", row{"M", "X", "MCS", "C", "C", none, none, us}, nil},
		{"ok/mc-528807", "528807", row{"M", "X", "MCS", "C", "C", none, none, us}, nil},
		{"ok/mc-540522", "540522", row{"M", "X", "MCO", "C", "T", none, none, us}, nil},
		{"ok/mc-556680", "556680", row{"M", "X", "MCO", "C", "T", none, none, us}, nil},
		{"ok/mc-547067", "547067", row{"M", "X", "MCP", "C", "P", none, none, us}, nil},
		{"ok/mc-556098", "556098", row{"M", "X", "MCF", "C", "P", none, none, us}, nil},
		{"ok/mc-556506", "556506", row{"M", "X", "MGF", "C", "T", none, none, us}, nil},
		{"ok/mc-556802", "556802", row{"M", "X", "MGF", "C", "T", none, none, us}, nil},
		{"ok/mc-543581-prepaid", "543581", row{"M", "S", "MBP", "P", "B", "P", none, us}, nil},
		{"ok/disc-601100", "601100", row{"D", "X", "001", "C", "C", none, "DISCOVER", us}, "00"},
		{"ok/amex-371449", "371449", row{"A", "X", none, none, none, none, none, none}, nil},
		// Unlisted BINs take their brand's row.
		{"ok/unlisted-visa", "476173", row{"V", "X", "A", "C", "C", none, none, us}, nil},
		{"ok/unlisted-mc", "555555", row{"M", "X", "MCS", "C", "C", none, none, us}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pan := withCheckDigit(tt.bin + "000000000")
			if tt.bin[:2] == "37" {
				pan = withCheckDigit(tt.bin + "00000000")
			}
			want := map[string]any{"bininfo": map[string]any{
				"issuer_bank_name": tt.want.issuer, "country_code": tt.want.country, "detail_card_product": tt.want.product,
				"detail_card_indicator": tt.want.indicator, "fsa_indicator": "", "prepaid_indicator": tt.want.prepaid,
				"product_id": tt.want.productID, "regulator_indicator": "N", "visa_product_sub_type": "",
				"visa_large_ticket_indicator": "", "account_fund_source": tt.want.fund, "card_class": tt.want.class,
				"token_ind": "", "issuing_network": tt.network,
			}}
			v := s.mustVault(t, `"payment_method":"cc","account_number":"`+pan+`","exp_date":"1228"`)
			diff(t, want, must(t, s.get(t, "/v2/accountvaults/"+v["id"].(string)+"/bininfo"), 200).json(t))
			sale := must(t, s.post(t, "/v2/transactions", txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"`+v["id"].(string)+`"`)), 201).record(t, "transaction")
			diff(t, want, must(t, s.get(t, "/v2/transactions/"+sale["id"].(string)+"/bininfo"), 200).json(t))
		})
	}
}

// TestIsolation proves that a user reaches only its accessible locations, and a merchant only
// its own records: a foreign location_id, contact_id or vault id is refused.
func TestIsolation(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	other, them := s.mustOtherMerchant(t, "Other")
	theirVault := must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &them,
		Body: `{"accountvault":{"location_id":"` + other.Fortis.LocationID + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Theirs"}}`}), 201).record(t, "accountvault")["id"].(string)
	theirContact := must(t, s.do(t, call{Method: "POST", Path: "/v2/contacts", As: &them,
		Body: `{"contact":{"location_id":"` + other.Fortis.LocationID + `","last_name":"Theirs"}}`}), 201).record(t, "contact")["id"].(string)

	// A second location and a user who reaches only it.
	second := s.mustLocation(t, "Second").Location.ID
	_, narrow := s.mustUser(t, vault.NewUser{Username: "narrow", PrimaryLocationID: second, TZ: "UTC"})
	mine := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Mine"`)["id"].(string)
	myContact := s.mustContact(t, `"last_name":"Mine"`)["id"].(string)

	cc := `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`
	tests := []struct {
		name string
		c    call
		want int
		body string
	}{
		{"fail/foreign-vault", call{Method: "GET", Path: "/v2/accountvaults/" + theirVault}, 404, ""},
		{"fail/foreign-vault-put", call{Method: "PUT", Path: "/v2/accountvaults/" + theirVault, Body: `{"accountvault":{"title":"x"}}`}, 404, ""},
		{"fail/foreign-vault-delete", call{Method: "DELETE", Path: "/v2/accountvaults/" + theirVault}, 404, ""},
		{"fail/foreign-vault-api-id", call{Method: "GET", Path: "/v2/accountvaults/Theirs?api_id=1&location_id=" + other.Fortis.LocationID}, 404, ""},
		{"fail/foreign-contact", call{Method: "GET", Path: "/v2/contacts/" + theirContact}, 404, ""},
		{"fail/foreign-location", call{Method: "GET", Path: "/v2/locations/" + other.Fortis.LocationID}, 404, ""},
		{"fail/foreign-user", call{Method: "GET", Path: "/v2/users/" + other.Fortis.UserID}, 404, ""},
		{"fail/foreign-location-in-body", call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{"location_id":"` + other.Fortis.LocationID + `",` + cc + `}}`}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/foreign-contact-in-body", call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{"location_id":"` + loc + `","contact_id":"` + theirContact + `",` + cc + `}}`}, 422,
			`{"errors":{"contact_id":["Contact Id is invalid."]}}`},
		{"fail/foreign-previous-vault", call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","previous_account_vault_id":"` + theirVault + `"}}`}, 422,
			`{"errors":{"previous_account_vault_id":["Previous Account Vault Id is invalid."]}}`},
		{"fail/foreign-location-list", call{Method: "GET", Path: "/v2/accountvaults?location_id=" + other.Fortis.LocationID}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/inaccessible-location-list", call{Method: "GET", Path: "/v2/contacts?location_id=" + loc, As: &narrow}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		// §1.6: "An inaccessible entry gives 422", on every list that takes location_id.
		{"fail/foreign-location-list-locations", call{Method: "GET", Path: "/v2/locations?location_id=" + other.Fortis.LocationID}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/foreign-location-list-users", call{Method: "GET", Path: "/v2/users?location_id=" + other.Fortis.LocationID}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/foreign-location-list-transactions", call{Method: "GET", Path: "/v2/transactions?location_id=" + other.Fortis.LocationID}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/foreign-location-list-products", call{Method: "GET", Path: "/v2/producttransactions?location_id=" + other.Fortis.LocationID}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/inaccessible-location-list-locations", call{Method: "GET", Path: "/v2/locations?location_id=" + second + "," + loc, As: &narrow}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/inaccessible-location-list-users", call{Method: "GET", Path: "/v2/users?location_id=" + loc, As: &narrow}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/inaccessible-vault", call{Method: "GET", Path: "/v2/accountvaults/" + mine, As: &narrow}, 404, ""},
		{"fail/inaccessible-vault-bininfo", call{Method: "GET", Path: "/v2/accountvaults/" + mine + "/bininfo", As: &narrow}, 404, ""},
		{"fail/inaccessible-contact", call{Method: "DELETE", Path: "/v2/contacts/" + myContact, As: &narrow}, 404, ""},
		{"fail/inaccessible-api-id-location", call{Method: "GET", Path: "/v2/accountvaults/Mine?api_id=1&location_id=" + loc, As: &narrow}, 404, ""},
		{"fail/inaccessible-location-in-body", call{Method: "POST", Path: "/v2/accountvaults", As: &narrow, Body: `{"accountvault":{"location_id":"` + loc + `",` + cc + `}}`}, 422,
			`{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/inaccessible-contact-in-body", call{Method: "POST", Path: "/v2/accountvaults", As: &narrow, Body: `{"accountvault":{"location_id":"` + second + `","contact_id":"` + myContact + `",` + cc + `}}`}, 422,
			`{"errors":{"contact_id":["Contact Id is invalid."]}}`},
		{"fail/inaccessible-location-get", call{Method: "GET", Path: "/v2/locations/" + loc, As: &narrow}, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.do(t, tt.c), tt.want)
			if tt.body != "" {
				diff(t, tt.body, string(r.Body))
			}
		})
	}
	t.Run("ok/lists-stay-in-reach", func(t *testing.T) {
		vaults := must(t, s.do(t, call{Method: "GET", Path: "/v2/accountvaults", As: &narrow}), 200).json(t)["accountvaults"].([]any)
		diff(t, 0, len(vaults))
		locs := must(t, s.do(t, call{Method: "GET", Path: "/v2/locations", As: &narrow}), 200).json(t)["locations"].([]any)
		diff(t, 1, len(locs))
		mineList := must(t, s.get(t, "/v2/accountvaults"), 200).json(t)["accountvaults"].([]any)
		diff(t, 1, len(mineList))
	})
}

// TestVaultIdentityNotKept: a vault created with an Idempotency-Key whose answer shows its
// ssn4 and dl_number (sealed at rest) is not kept in the idempotency record: the database
// holds neither value, and a repeat of the request is refused rather than replayed.
func TestVaultIdentityNotKept(t *testing.T) {
	s := mustServer(t)
	c := call{Method: http.MethodPost, Path: "/v2/accountvaults",
		Body: `{"accountvault":{"location_id":"` + s.creds.Fortis.LocationID + `","payment_method":"ach","account_number":"700953657","routing":"072000326",` +
			`"account_holder_name":"Acme","ssn4":"6789","dl_number":"DLX99887766","dl_state":"TX"}}`,
		Header: map[string]string{idempotency.Header: "k-identity"}}
	v := must(t, s.do(t, c), http.StatusCreated).record(t, "accountvault")
	if v["ssn4"] != "6789" || v["dl_number"] != "DLX99887766" {
		t.Fatalf("vault = %v", v)
	}
	var kept int
	if err := s.store.DB().QueryRow(`SELECT COUNT(*) FROM idempotency WHERE instr(CAST(body AS TEXT), '6789') > 0 OR instr(CAST(body AS TEXT), 'DLX99887766') > 0`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != 0 {
		t.Errorf("%d idempotency records hold the vault's identity data", kept)
	}
	if again := s.do(t, c); again.Status < 400 {
		t.Errorf("a repeat was answered %d; want it refused", again.Status)
	}
}
