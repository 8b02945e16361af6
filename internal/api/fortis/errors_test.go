package fortis_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// TestErrorBodies checks the exact error texts of §1.4 and the order of checks of §1.1.
func TestErrorBodies(t *testing.T) {
	s := mustServer(t)
	v := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)
	id := v["id"].(string)
	gone := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string)
	must(t, s.del(t, "/v2/accountvaults/"+gone), http.StatusNoContent)
	const unknown = "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
	bad := userCreds{s.user.dev, s.user.id, "wrong-key-000000"}

	tests := []struct {
		name       string
		c          call
		wantStatus int
		wantBody   string
		wantAllow  string
	}{
		{"fail/bad-json", call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":`, Malformed: true}, 400,
			`{"name":"Bad Request","message":"Invalid JSON data in request body: Syntax error.","code":0,"status":400}`, ""},
		{"fail/wrapper-not-object", call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":"x"}`, Malformed: true}, 400,
			`{"name":"Bad Request","message":"Invalid JSON data in request body: Syntax error.","code":0,"status":400}`, ""},
		{"fail/body-not-object", call{Method: "POST", Path: "/v2/accountvaults", Body: `[1]`, Malformed: true}, 400,
			`{"name":"Bad Request","message":"Invalid JSON data in request body: Syntax error.","code":0,"status":400}`, ""},
		{"fail/trailing-data", call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{}} {}`, Malformed: true}, 400,
			`{"name":"Bad Request","message":"Invalid JSON data in request body: Syntax error.","code":0,"status":400}`, ""},
		{"fail/invalid-utf8", call{Method: "POST", Path: "/v2/contacts", Body: "{\"contact\":{\"last_name\":\"a\xffb\"}}", Malformed: true}, 400,
			`{"name":"Bad Request","message":"Invalid JSON data in request body: Syntax error.","code":0,"status":400}`, ""},
		{"fail/nul-in-string", call{Method: "POST", Path: "/v2/contacts", Body: `{"contact":{"location_id":"` + s.creds.Fortis.LocationID + `","last_name":"a\u0000b"}}`, Malformed: true}, 422,
			`{"errors":{"last_name":["Last Name is invalid."]}}`, ""},
		{"fail/pan-in-path-is-masked", call{Method: "GET", Path: "/v2/accountvaults/4111111111111111"}, 404,
			`{"name":"Not Found","message":"Object not found: ************1111","code":0,"status":404}`, ""},
		{"fail/nul-in-path", call{Method: "GET", Path: "/v2/accountvaults/%00"}, 404,
			`{"name":"Not Found","message":"Object not found: \u0000","code":0,"status":404}`, ""},
		{"fail/bad-credentials", call{Method: "GET", Path: "/v2/accountvaults", As: &bad}, 401,
			`{"name":"Unauthorized","message":"Your request was made with invalid credentials.","code":0,"status":401}`, ""},
		{"fail/no-credentials", call{Method: "GET", Path: "/v2/accountvaults", NoAuth: true}, 401,
			`{"name":"Unauthorized","message":"Your request was made with invalid credentials.","code":0,"status":401}`, ""},
		{"fail/no-developer-id", call{Method: "GET", Path: "/v2/accountvaults", Header: map[string]string{"developer-id": ""}}, 401,
			`{"name":"Unauthorized","message":"Your request was made with invalid credentials.","code":0,"status":401}`, ""},
		{"fail/unknown-record", call{Method: "GET", Path: "/v2/accountvaults/" + unknown}, 404,
			`{"name":"Not Found","message":"Object not found: ` + unknown + `","code":0,"status":404}`, ""},
		{"fail/unknown-route", call{Method: "GET", Path: "/v2/nothing"}, 404,
			`{"name":"Not Found","message":"Page not found.","code":0,"status":404}`, ""},
		{"fail/cardticket-item", call{Method: "GET", Path: "/v2/cardtickets/" + unknown}, 404,
			`{"name":"Not Found","message":"Page not found.","code":0,"status":404}`, ""},
		{"fail/method-item", call{Method: "POST", Path: "/v2/accountvaults/" + id, NoAuth: true}, 405,
			`{"name":"Method Not Allowed","message":"Method Not Allowed. This URL can only handle the following request methods: GET, PUT, DELETE.","code":0,"status":405}`, "GET, PUT, DELETE"},
		{"fail/method-collection", call{Method: "DELETE", Path: "/v2/accountvaults"}, 405,
			`{"name":"Method Not Allowed","message":"Method Not Allowed. This URL can only handle the following request methods: GET, POST.","code":0,"status":405}`, "GET, POST"},
		{"fail/method-bininfo", call{Method: "PUT", Path: "/v2/accountvaults/" + id + "/bininfo"}, 405,
			`{"name":"Method Not Allowed","message":"Method Not Allowed. This URL can only handle the following request methods: GET.","code":0,"status":405}`, "GET"},
		{"fail/read-only-locations", call{Method: "POST", Path: "/v2/locations", Body: `{}`}, 405,
			`{"name":"Method Not Allowed","message":"Method Not Allowed. This URL can only handle the following request methods: GET.","code":0,"status":405}`, "GET"},
		{"fail/gone-put", call{Method: "PUT", Path: "/v2/accountvaults/" + gone, Body: `{"accountvault":{"title":"x"}}`}, 410,
			`{"name":"Gone","message":"The record has been deleted.","code":0,"status":410}`, ""},
		{"fail/gone-delete", call{Method: "DELETE", Path: "/v2/accountvaults/" + gone}, 410,
			`{"name":"Gone","message":"The record has been deleted.","code":0,"status":410}`, ""},
		{"fail/gone-bininfo", call{Method: "GET", Path: "/v2/accountvaults/" + gone + "/bininfo"}, 410,
			`{"name":"Gone","message":"The record has been deleted.","code":0,"status":410}`, ""},
		// Order of checks: auth before body, body before record, record before validation.
		{"fail/auth-before-body", call{Method: "POST", Path: "/v2/accountvaults", Body: `{`, NoAuth: true, Malformed: true}, 401,
			`{"name":"Unauthorized","message":"Your request was made with invalid credentials.","code":0,"status":401}`, ""},
		{"fail/body-before-record", call{Method: "PUT", Path: "/v2/accountvaults/" + unknown, Body: `{`, Malformed: true}, 400,
			`{"name":"Bad Request","message":"Invalid JSON data in request body: Syntax error.","code":0,"status":400}`, ""},
		{"fail/record-before-validation", call{Method: "PUT", Path: "/v2/accountvaults/" + unknown, Body: `{"accountvault":{"title":"far too long a title"}}`}, 404,
			`{"name":"Not Found","message":"Object not found: ` + unknown + `","code":0,"status":404}`, ""},
		{"fail/gone-before-validation", call{Method: "PUT", Path: "/v2/accountvaults/" + gone, Body: `{"accountvault":{"title":"far too long a title"}}`}, 410,
			`{"name":"Gone","message":"The record has been deleted.","code":0,"status":410}`, ""},
		{"ok/missing-wrapper-is-no-attributes", call{Method: "POST", Path: "/v2/accountvaults", Body: `{"title":"x"}`}, 422,
			`{"errors":{"account_number":["Account Number cannot be blank."],"location_id":["Location Id cannot be blank."],"payment_method":["Payment Method cannot be blank."]}}`, ""},
		{"ok/empty-body-is-empty-object", call{Method: "POST", Path: "/v2/contacts"}, 422,
			`{"errors":{"location_id":["Location Id cannot be blank."],"last_name":["Last Name cannot be blank."]}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.c)
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.wantStatus, r.Body)
			}
			diff(t, tt.wantBody, string(r.Body))
			if got := r.Header.Get("Content-Type"); got != "application/json; charset=UTF-8" {
				t.Errorf("Content-Type %q", got)
			}
			if tt.wantAllow != "" {
				diff(t, tt.wantAllow, r.Header.Get("Allow"))
			}
		})
	}

	t.Run("ok/options-without-auth", func(t *testing.T) {
		r := s.do(t, call{Method: "OPTIONS", Path: "/v2/accountvaults/" + id, NoAuth: true})
		if r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Allow") != "GET, PUT, DELETE" {
			t.Errorf("OPTIONS = %d %q Allow %q", r.Status, r.Body, r.Header.Get("Allow"))
		}
	})
	t.Run("ok/trailing-slash", func(t *testing.T) {
		must(t, s.get(t, "/v2/accountvaults/?page=1"), 200)
		must(t, s.get(t, "/v2/accountvaults/"+id+"/"), 200)
	})
	t.Run("ok/delete-has-no-body", func(t *testing.T) {
		r := must(t, s.del(t, "/v2/accountvaults/"+id), 204)
		if len(r.Body) != 0 {
			t.Errorf("204 with a body: %s", r.Body)
		}
	})
}

// TestAuthSources checks the three places user credentials may come from, and that a
// credential query parameter reaches neither the logs nor the links.
func TestAuthSources(t *testing.T) {
	s := mustServer(t)
	u := s.user
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(u.id+":"+u.key))
	tests := []struct {
		name string
		c    call
		want int
	}{
		{"ok/headers", call{Method: "GET", Path: "/v2/accountvaults"}, 200},
		{"ok/header-names-any-case", call{Method: "GET", Path: "/v2/accountvaults", NoAuth: true,
			Header: map[string]string{"Developer-Id": u.dev, "USER-ID": u.id, "User-Api-Key": u.key}}, 200},
		{"ok/query", call{Method: "GET", Path: "/v2/accountvaults?developer-id=" + u.dev + "&user-id=" + u.id + "&user-api-key=" + u.key, NoAuth: true}, 200},
		{"ok/query-repeated-last-wins", call{Method: "GET", Path: "/v2/accountvaults?developer-id=devnope&developer-id=" + u.dev +
			"&user-id=nobody&user-id=" + u.id + "&user-api-key=wrong-key-0000000&user-api-key=" + u.key, NoAuth: true}, 200},
		{"fail/query-repeated-last-wrong", call{Method: "GET", Path: "/v2/accountvaults?developer-id=" + u.dev + "&developer-id=devnope" +
			"&user-id=" + u.id + "&user-api-key=" + u.key, NoAuth: true}, 401},
		{"ok/basic", call{Method: "GET", Path: "/v2/accountvaults", NoAuth: true, Header: map[string]string{"developer-id": u.dev, "Authorization": basic}}, 200},
		{"fail/basic-without-developer", call{Method: "GET", Path: "/v2/accountvaults", NoAuth: true, Header: map[string]string{"Authorization": basic}}, 401},
		{"fail/wrong-developer", call{Method: "GET", Path: "/v2/accountvaults", Header: map[string]string{"developer-id": "devnope"}}, 401},
		{"fail/headers-win-over-query", call{Method: "GET", Path: "/v2/accountvaults?user-api-key=" + u.key, Header: map[string]string{"user-api-key": "wrong-key-0000000"}}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, s.do(t, tt.c), tt.want)
		})
	}
	t.Run("ok/credentials-never-in-links", func(t *testing.T) {
		r := must(t, s.do(t, call{Method: "GET", NoAuth: true,
			Path: "/v2/accountvaults?developer-id=" + u.dev + "&user-id=" + u.id + "&user-api-key=" + u.key + "&page_size=5"}), 200)
		if strings.Contains(string(r.Body), u.key) || strings.Contains(string(r.Body), "user-id") {
			t.Errorf("credentials in the answer: %s", r.Body)
		}
		diff(t, "https://vault.example/v2/accountvaults?page_size=5&page=1", r.json(t)["meta"].(map[string]any)["pagination"].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"])
		if strings.Contains(s.logs.String(), u.key) {
			t.Error("the user api key was logged")
		}
	})
}

// TestTakenEchoMasksNumbers: the "has already been taken" message repeats the api id the
// request sent (§1.4), and an api id is a reference, which may hold a card number sent by
// mistake: it is masked there as a path id is in "Object not found" (a run of 12 or more
// digits shows its last four), so that no error body repeats a card number.
func TestTakenEchoMasksNumbers(t *testing.T) {
	s := mustServer(t)
	const pan = "4111111111111111"
	const cc = `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1228"`
	s.mustVault(t, cc+`,"account_vault_api_id":"`+pan+`"`)
	s.mustContact(t, `"last_name":"x","contact_api_id":"`+pan+`"`)
	must(t, s.post(t, "/v2/transactions", `{"transaction":{`+rawSale("1.00", `"transaction_api_id":"`+pan+`"`)+`}}`), http.StatusCreated)
	tests := []struct {
		name, path, body, want string
	}{
		{"fail/vault-api-id", "/v2/accountvaults", `{"accountvault":{"location_id":"` + s.creds.Fortis.LocationID + `",` + cc + `,"account_vault_api_id":"` + pan + `"}}`,
			`Account Vault Api Id \"************1111\" has already been taken.`},
		{"fail/contact-api-id", "/v2/contacts", `{"contact":{"location_id":"` + s.creds.Fortis.LocationID + `","last_name":"x","contact_api_id":"` + pan + `"}}`,
			`Contact Api Id \"************1111\" has already been taken.`},
		{"fail/transaction-api-id", "/v2/transactions", `{"transaction":{` + rawSale("1.00", `"transaction_api_id":"`+pan+`"`) + `}}`,
			`Transaction Api Id \"************1111\" has already been taken.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.post(t, tt.path, tt.body), http.StatusUnprocessableEntity)
			if strings.Contains(string(r.Body), pan) || !strings.Contains(string(r.Body), tt.want) {
				t.Errorf("body = %s, want the message %s", r.Body, tt.want)
			}
		})
	}
}
