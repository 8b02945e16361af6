package fortis_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/vault"
)

// uuidV7 is a lower-case dashed UUID of version 7 and the RFC 9562 variant.
var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestDecisions proves the spec's "Decision:" points (shared/spec/fortis-accountvaults.md)
// that no other test pins down; each case names the section it proves. The decisions the
// other tests already prove are listed in the report of the decisions branch.
func TestDecisions(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	const ach = `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo",`

	// §1.2 Authentication — Decision: the user must have status 1; any failure gets 401.
	t.Run("fail/§1.2-disabled-user", func(t *testing.T) {
		u, creds := s.mustUser(t, vault.NewUser{Username: "gone", LastName: "Gone", PrimaryLocationID: loc})
		must(t, s.do(t, call{Method: http.MethodGet, Path: "/v2/accountvaults", As: &creds}), http.StatusOK)
		off := 0
		if _, err := s.svc.UpdateUser(context.Background(), s.creds.MerchantID, u.ID, vault.UserUpdate{Status: &off}); err != nil {
			t.Fatal(err)
		}
		r := must(t, s.do(t, call{Method: http.MethodGet, Path: "/v2/accountvaults", As: &creds}), http.StatusUnauthorized)
		diff(t, `{"name":"Unauthorized","message":"Your request was made with invalid credentials.","code":0,"status":401}`, string(r.Body))
	})

	// §1.2 Authentication — Decision: header names are case-insensitive; query names are
	// exact, with dashes.
	t.Run("ok/§1.2-header-names-any-case", func(t *testing.T) {
		// Through a real listener, so that the names reach the server as sent.
		srv := httptest.NewServer(s.h)
		defer srv.Close()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /v2/accountvaults HTTP/1.1\r\nHost: vault.example\r\nDEVELOPER-ID: %s\r\nuser-ID: %s\r\nUser-Api-KEY: %s\r\nConnection: close\r\n\r\n",
			s.user.dev, s.user.id, s.user.key)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		diff(t, http.StatusOK, res.StatusCode)
	})
	t.Run("fail/§1.2-query-names-exact", func(t *testing.T) {
		// The key always goes under its exact name, so that the access log redacts it.
		u := s.user
		for _, q := range []string{"Developer-Id=" + u.dev + "&user-id=" + u.id, "developer-id=" + u.dev + "&User-Id=" + u.id, "developer_id=" + u.dev + "&user-id=" + u.id} {
			must(t, s.do(t, call{Method: http.MethodGet, NoAuth: true, Malformed: true, Path: "/v2/accountvaults?" + q + "&user-api-key=" + u.key}), http.StatusUnauthorized)
		}
		must(t, s.do(t, call{Method: http.MethodGet, NoAuth: true, Path: "/v2/accountvaults?developer-id=" + u.dev + "&user-id=" + u.id + "&user-api-key=" + u.key}), http.StatusOK)
	})

	// §1.4 (422) — Decision: nothing is stored on a validation failure.
	t.Run("fail/§1.4-nothing-stored", func(t *testing.T) {
		before := meta(t, must(t, s.get(t, "/v2/accountvaults?active=0,1"), http.StatusOK))["pagination"].(map[string]any)["totalCount"]
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"4111111111111111",`+
			`"exp_date":"1328","account_vault_api_id":"Kept1"}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"exp_date":["Exp Date is invalid."]}}`, string(r.Body))
		must(t, s.get(t, "/v2/accountvaults/Kept1?api_id=1"), http.StatusNotFound)
		after := meta(t, must(t, s.get(t, "/v2/accountvaults?active=0,1"), http.StatusOK))["pagination"].(map[string]any)["totalCount"]
		diff(t, before, after)
	})

	// §1.5 Input — Decision: strings are trimmed; booleans accept "true"/"false" and "1"/"0";
	// integers accept a string of digits; string fields accept JSON integers.
	t.Run("ok/§1.5-input-coercions", func(t *testing.T) {
		v := s.mustVault(t, ach+`"title":"  Padded  ","is_company":"true","terms_agree":"1","customer_id":12345678901234567890`)
		diff(t, map[string]any{"title": "Padded", "ach_sec_code": "CCD", "customer_id": "12345678901234567890"}, pick(v, "title", "ach_sec_code", "customer_id"))
		v = s.mustVault(t, ach+`"is_company":"false"`)
		diff(t, "WEB", v["ach_sec_code"])
		v = s.mustVault(t, ach+`"is_company":1`)
		diff(t, "CCD", v["ach_sec_code"])
	})

	// §1.5 Input — Decision: a boolean sent as a JSON string is that string, decoded and
	// trimmed like any other: "\u0031" is "1", " true " is "true", and " " is "" (not
	// provided), as it is for an integer.
	t.Run("ok/§1.5-boolean-strings-decoded-and-trimmed", func(t *testing.T) {
		v := s.mustVault(t, ach+`"is_company":"\u0031"`)
		diff(t, "CCD", v["ach_sec_code"])
		v = s.mustVault(t, ach+`"is_company":" true "`)
		diff(t, "CCD", v["ach_sec_code"])
		v = s.mustVault(t, ach+`"is_company":" "`)
		diff(t, "WEB", v["ach_sec_code"])
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`",`+ach+`"is_company":"1 0"}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"is_company":["Is Company must be either \"1\" or \"0\"."]}}`, string(r.Body))
	})

	// §1.5 Input — Decision: null or "" means not provided; for an optional field in a PUT it
	// clears the value.
	t.Run("ok/§1.5-put-clears-optional", func(t *testing.T) {
		id := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"T","customer_id":"C1","billing_city":"X"`)["id"].(string)
		got := must(t, s.put(t, "/v2/accountvaults/"+id, `{"accountvault":{"title":"","customer_id":null,"billing_city":"  "}}`), http.StatusOK).record(t, "accountvault")
		diff(t, map[string]any{"title": nil, "customer_id": nil, "billing_city": nil}, pick(got, "title", "customer_id", "billing_city"))
	})

	// §1.5 Input — Decision: lengths count characters, not bytes.
	t.Run("ok/§1.5-lengths-count-characters", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"`+strings.Repeat("é", 16)+`"`)
		diff(t, strings.Repeat("é", 16), v["title"])
		r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228",`+
			`"title":"`+strings.Repeat("é", 17)+`"}}`), http.StatusUnprocessableEntity)
		diff(t, `{"errors":{"title":["Title should contain at most 16 characters."]}}`, string(r.Body))
	})

	// §1.6 Filters — Decision: exact columns need an equal value; enums and hex ids ignore
	// case.
	t.Run("ok/§1.6-exact-filters-ignore-case", func(t *testing.T) {
		id := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"CaseFilter"`)["id"].(string)
		for _, q := range []string{"id=" + strings.ToUpper(id), "payment_method=CC&title=CaseFilter", "account_type=VISA&title=CaseFilter"} {
			diff(t, []string{"CaseFilter"}, titles(t, must(t, s.get(t, "/v2/accountvaults?"+q), http.StatusOK)))
		}
	})

	// §1.5 Ids — Decision, as §0.1 #1 supersedes it: a new id is a UUIDv7 (36 characters,
	// dashed, lower-case); path ids are lower-cased; an id of 24–36 characters that matches
	// nothing is unknown (404).
	t.Run("ok/§1.5-ids", func(t *testing.T) {
		id := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string)
		if !uuidV7.MatchString(id) {
			t.Errorf("vault id %q is not a lower-case UUIDv7", id)
		}
		must(t, s.get(t, "/v2/accountvaults/"+strings.ToUpper(id)), http.StatusOK)
		for _, unknown := range []string{"11ef0c2b7a6e5d4c3b2a1f0e", "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"} {
			r := must(t, s.get(t, "/v2/accountvaults/"+unknown), http.StatusNotFound)
			diff(t, `{"name":"Not Found","message":"Object not found: `+unknown+`","code":0,"status":404}`, string(r.Body))
		}
	})

	// §1.6 Sort — Decision: ties break on id, in the direction of the last key.
	t.Run("ok/§1.6-sort-ties-on-id", func(t *testing.T) {
		var asc []string
		for range 3 {
			asc = append(asc, s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"Tie","customer_id":"tie"`)["id"].(string))
		}
		desc := []string{asc[2], asc[1], asc[0]}
		for q, want := range map[string][]string{
			"sort=title":                 asc,
			"sort=-title":                desc,
			"sort=-title,exp_date":       asc,
			"sort=title,-exp_date":       desc,
			"sort=title,nope":            asc, // a key off the whitelist is ignored
			"sort=payment_method,-title": desc,
		} {
			r := must(t, s.get(t, "/v2/accountvaults?customer_id=tie&"+q), http.StatusOK)
			var got []string
			for _, v := range r.json(t)["accountvaults"].([]any) {
				got = append(got, v.(map[string]any)["id"].(string))
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s: (-want +got)\n%s", q, d)
			}
		}
	})

	// §1.6 Scope — Decision: without a location_id filter a list covers only the user's
	// primary location.
	t.Run("ok/§1.6-list-scope-primary", func(t *testing.T) {
		second := s.mustLocation(t, "Scope").Location.ID
		_, wide := s.mustUser(t, vault.NewUser{Username: "scope", LastName: "Scope", PrimaryLocationID: loc, LocationIDs: []string{second}})
		must(t, s.do(t, call{Method: http.MethodPost, Path: "/v2/accountvaults", As: &wide,
			Body: `{"accountvault":{"location_id":"` + second + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"InSecond"}}`}), http.StatusCreated)
		r := must(t, s.do(t, call{Method: http.MethodGet, Path: "/v2/accountvaults?title=InSecond", As: &wide}), http.StatusOK)
		diff(t, []string{}, titles(t, r))
		r = must(t, s.do(t, call{Method: http.MethodGet, Path: "/v2/accountvaults?title=InSecond&location_id=" + second, As: &wide}), http.StatusOK)
		diff(t, []string{"InSecond"}, titles(t, r))
		r = must(t, s.do(t, call{Method: http.MethodGet, Path: "/v2/accountvaults?title=InSecond&location_id=" + loc + "," + second, As: &wide}), http.StatusOK)
		diff(t, []string{"InSecond"}, titles(t, r))
	})

	// §2.3 Brand — Decision: the first matching prefix decides; debit is never produced, and a
	// card with no match is "Account Number is invalid.".
	t.Run("ok/§2.3-debit-never-produced", func(t *testing.T) {
		for pan, brand := range map[string]string{
			withCheckDigit("413735000000000"): "visa", // a Visa debit BIN
			withCheckDigit("455677000000000"): "visa", // §4's debit row
			withCheckDigit("222100000000000"): "mc",
			withCheckDigit("622126000000000"): "disc",
			withCheckDigit("644000000000000"): "disc",
			withCheckDigit("352800000000000"): "jcb",
			withCheckDigit("3000000000000"):   "diners",
		} {
			v := s.mustVault(t, `"payment_method":"cc","account_number":"`+pan+`","exp_date":"1228"`)
			diff(t, brand, v["account_type"])
		}
	})
	t.Run("fail/§2.3-no-brand-match", func(t *testing.T) {
		for _, pan := range []string{withCheckDigit("501800000000000"), withCheckDigit("676700000000000")} { // Maestro, Solo: not in §2.3's table
			r := must(t, s.post(t, "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"`+pan+`","exp_date":"1228"}}`),
				http.StatusUnprocessableEntity)
			diff(t, `{"errors":{"account_number":["Account Number is invalid."]}}`, string(r.Body))
		}
	})

	// §2.4 Sources — Decision: the first present source wins, the others are ignored, and an
	// ignored ticket is not consumed.
	t.Run("ok/§2.4-ignored-ticket-not-consumed", func(t *testing.T) {
		tk := must(t, s.post(t, "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"5454545454545454","exp_date":"1228"}}`),
			http.StatusCreated).record(t, "cardticket")["id"].(string)
		v := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1230","ticket":"`+tk+`"`)
		diff(t, []any{"411111", "1230"}, []any{v["first_six"], v["exp_date"]})
		v = s.mustVault(t, `"payment_method":"cc","ticket":"`+tk+`"`)
		diff(t, []any{"545454", "1228"}, []any{v["first_six"], v["exp_date"]})
	})

	// §2.4 Merging — Decision: request fields override copied ones, except the number,
	// routing and the method, which always come from the source.
	t.Run("ok/§2.4-source-keeps-number-and-routing", func(t *testing.T) {
		from := s.mustVault(t, ach+`"account_vault_api_id":"MergeSrc"`)
		v := s.mustVault(t, `"payment_method":"ach","previous_account_vault_api_id":"MergeSrc","routing":"011000015","account_holder_name":"Other"`)
		diff(t, map[string]any{"routing": "072000326", "last_four": "3657", "account_holder_name": "Other", "payment_method": "ach"},
			pick(v, "routing", "last_four", "account_holder_name", "payment_method"))
		if v["id"] == from["id"] {
			t.Error("the copy is the source")
		}
	})

	// §4 The product's BIN table — Decision, as §0.1 #5 (issue 5) supersedes it: where a
	// range of the embedded BIN data matches, it gives the issuer, the country as ISO alpha-3
	// and credit/debit/prepaid as account_fund_source, for every brand; the table's blank
	// Amex country serves only when no range matches (TestBinInfo's 371449).
	t.Run("ok/§4-amex-range-gives-country-and-fund-source", func(t *testing.T) {
		v := s.mustVault(t, `"payment_method":"cc","account_number":"`+withCheckDigit("34114200000000")+`","exp_date":"1228"`)
		r := must(t, s.get(t, "/v2/accountvaults/"+v["id"].(string)+"/bininfo"), http.StatusOK).record(t, "bininfo")
		diff(t, map[string]any{"issuer_bank_name": "AMERICAN EXPRESS", "country_code": "USA", "account_fund_source": "C", "prepaid_indicator": "",
			"detail_card_product": "A", "detail_card_indicator": "X"},
			pick(r, "issuer_bank_name", "country_code", "account_fund_source", "prepaid_indicator", "detail_card_product", "detail_card_indicator"))
	})

	// §3.5 Lists — Decision: the default sort of contacts is id desc.
	t.Run("ok/§3.5-contacts-default-sort", func(t *testing.T) {
		var want []any
		for _, n := range []string{"Sort1", "Sort2", "Sort3"} {
			want = append([]any{s.mustContact(t, `"last_name":"`+n+`"`)["id"]}, want...)
		}
		r := must(t, s.get(t, "/v2/contacts?last_name=Sort"), http.StatusOK)
		var got []any
		for _, c := range r.json(t)["contacts"].([]any) {
			got = append(got, c.(map[string]any)["id"])
		}
		diff(t, want, got)
		diff(t, map[string]any{"id": "desc"}, meta(t, r)["sort"].(map[string]any)["attributes"])
	})

	// §3.5 Delete — Decision: deletion is hard; the contact's vaults get contact_id null, and
	// transactions keep theirs.
	t.Run("ok/§3.5-delete-keeps-transaction-contact", func(t *testing.T) {
		c := s.mustContact(t, `"last_name":"Payer"`)["id"].(string)
		tx := s.mustTxn(t, `"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228","contact_id":"`+c+`"`)
		diff(t, c, tx["contact_id"])
		must(t, s.del(t, "/v2/contacts/"+c), http.StatusNoContent)
		got := must(t, s.get(t, "/v2/transactions/"+tx["id"].(string)), http.StatusOK).record(t, "transaction")
		diff(t, c, got["contact_id"])
	})
}
