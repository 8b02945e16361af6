package fortis_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// The fuzz targets of this file drive the real handlers in process, over a real SQLite store
// with fixtures of two merchants and of two users with different location access, and check
// every answer: never a 5xx or a panic; on a 4xx the Fortis envelope of §1.4 ({"errors":{…}}
// on 422, {"name","message","code":0,"status"} otherwise); and no change to the database from
// a refused request. Their seed corpora are the seed's examples (testdata/golden) and the
// bodies of the spec, with placeholders such as {vault} standing for fixture ids.

// fortisFuzzer is the Fortis API with fixtures, called in process.
type fortisFuzzer struct {
	*server
	ids        map[string]string // ids maps placeholders to fixture values.
	rep        *strings.Replacer
	restricted userCreds // restricted is a user who reaches only the second location.
	other      *vault.MerchantCredentials
	otherUser  userCreds
	watch      *storetest.Watch
	last       *storetest.Snapshot // last is the database as a refused request left it.
}

// mustFortisFuzzer starts the API and creates the fixtures: in the primary location a cc
// vault (api id Card1), an ach vault, a deleted vault, a contact (api id JS1) and a ticket;
// a second location with its own user, vault and contact; another merchant with a vault, a
// contact and a ticket.
func mustFortisFuzzer(tb testing.TB) *fortisFuzzer {
	tb.Helper()
	s := mustServer(tb)
	f := &fortisFuzzer{server: s, ids: map[string]string{}}
	id := func(k, v string) string { f.ids[k] = v; return v }
	loc := id("{loc}", s.creds.Fortis.LocationID)
	contact := id("{contact}", s.mustContact(tb, `"first_name":"John","last_name":"Smith","contact_api_id":"JS1"`)["id"].(string))
	id("{vault}", s.mustVault(tb, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"0919","account_vault_api_id":"Card1","contact_id":"`+contact+`"`)["id"].(string))
	id("{achVault}", s.mustVault(tb, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_type":"checking","is_company":true,"account_holder_name":"John Smith"`)["id"].(string))
	gone := id("{goneVault}", s.mustVault(tb, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"`)["id"].(string))
	must(tb, s.del(tb, "/v2/accountvaults/"+gone), http.StatusNoContent)
	ticketBody := `{"cardticket":{"account_number":"4012888888881881","exp_date":"1230","cvv":"999","billing_zip":"32606","location_id":"` + loc + `"}}`
	id("{ticket}", must(tb, s.post(tb, "/v2/cardtickets", ticketBody), http.StatusCreated).record(tb, "cardticket")["id"].(string))
	id("{user}", s.user.id)
	id("{sale}", s.mustTxn(tb, rawSale("9.00", `"transaction_api_id":"S1"`))["id"].(string))
	id("{achDebit}", s.mustTxn(tb, `"action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"x","ach_sec_code":"WEB"`)["id"].(string))

	l2 := s.mustLocation(tb, "Second")
	id("{loc2}", l2.Location.ID)
	_, f.restricted = s.mustUser(tb, vault.NewUser{Username: "second", PrimaryLocationID: l2.Location.ID})
	as := func(u userCreds, c call) *result { c.As = &u; return s.do(tb, c) }
	id("{l2Vault}", must(tb, as(f.restricted, call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{"location_id":"` + l2.Location.ID + `","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","account_vault_api_id":"Card1"}}`}), 201).record(tb, "accountvault")["id"].(string))
	id("{l2Contact}", must(tb, as(f.restricted, call{Method: "POST", Path: "/v2/contacts", Body: `{"contact":{"location_id":"` + l2.Location.ID + `","last_name":"Second","contact_api_id":"JS1"}}`}), 201).record(tb, "contact")["id"].(string))
	id("{l2Ticket}", must(tb, as(f.restricted, call{Method: "POST", Path: "/v2/cardtickets", Body: strings.ReplaceAll(ticketBody, loc, l2.Location.ID)}), 201).record(tb, "cardticket")["id"].(string))
	id("{l2User}", f.restricted.id)
	id("{l2Sale}", must(tb, as(f.restricted, call{Method: "POST", Path: "/v2/transactions", Body: txnBody(rawSale("3.00", `"location_id":"`+l2.Location.ID+`","transaction_api_id":"S1"`))}), 201).record(tb, "transaction")["id"].(string))

	other, err := s.svc.CreateMerchant(context.Background(), vault.NewMerchant{Name: "Other"})
	if err != nil {
		tb.Fatal(err)
	}
	f.other = other
	f.otherUser = userCreds{other.Fortis.DeveloperID, other.Fortis.UserID, other.Fortis.UserAPIKey}
	s.logs.Forbid(other.Fortis.UserAPIKey, other.Fortis.TicketHashKey, other.Paysafe.APIKeySecret, other.Paysafe.SingleUseKeySecret)
	oloc := id("{otherLoc}", other.Fortis.LocationID)
	id("{otherUser}", other.Fortis.UserID)
	id("{otherContact}", must(tb, as(f.otherUser, call{Method: "POST", Path: "/v2/contacts", Body: `{"contact":{"location_id":"` + oloc + `","last_name":"Other","contact_api_id":"JS1"}}`}), 201).record(tb, "contact")["id"].(string))
	id("{otherVault}", must(tb, as(f.otherUser, call{Method: "POST", Path: "/v2/accountvaults", Body: `{"accountvault":{"location_id":"` + oloc + `","payment_method":"cc","account_number":"371449635398431","exp_date":"1228","account_vault_api_id":"Card1"}}`}), 201).record(tb, "accountvault")["id"].(string))
	id("{otherTicket}", must(tb, as(f.otherUser, call{Method: "POST", Path: "/v2/cardtickets", Body: strings.ReplaceAll(ticketBody, loc, oloc)}), 201).record(tb, "cardticket")["id"].(string))
	id("{otherSale}", must(tb, as(f.otherUser, call{Method: "POST", Path: "/v2/transactions", Body: txnBody(rawSale("4.00", `"location_id":"`+oloc+`","transaction_api_id":"S1"`))}), 201).record(tb, "transaction")["id"].(string))
	id("{otherProductTransaction}", must(tb, as(f.otherUser, call{Method: "GET", Path: "/v2/producttransactions"}), 200).json(tb)["producttransactions"].([]any)[0].(map[string]any)["id"].(string))

	var pairs []string
	for k, v := range f.ids {
		pairs = append(pairs, k, v)
	}
	f.rep = strings.NewReplacer(pairs...)
	s.logs.Forbid("5454545454545454", "700953657", "4012888888881881", "371449635398431", "4111111111111111")
	f.watch = storetest.MustWatch(tb, s.store.DB())
	return f
}

// send serves one request in process, with the placeholders in target and body replaced by
// fixture ids. Unless as is set, it carries the merchant user's
// credentials; browser sends none but the location's browser HMAC.
func (f *fortisFuzzer) send(method, target, body string, as *userCreds, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://vault.example/", strings.NewReader(f.rep.Replace(body)))
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(f.rep.Replace(target), "?")
	req.RemoteAddr = "127.0.0.1:5555"
	u := f.user
	if as != nil {
		u = *as
	}
	if u != (userCreds{}) {
		req.Header.Set("developer-id", u.dev)
		req.Header.Set("user-id", u.id)
		req.Header.Set("user-api-key", u.key)
	}
	for k, v := range header {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// browserHeaders are valid browser credentials for the primary location at the test clock.
func (f *fortisFuzzer) browserHeaders() map[string]string {
	ts := strconv.FormatInt(f.clock.Now().Unix(), 10)
	fc := f.creds.Fortis
	return map[string]string{"location-api-key": fc.LocationAPIKey, "timestamp": ts, "hash-key": vault.BrowserHashKey(fc.TicketHashKey, fc.LocationAPIKey, ts)}
}

// fixedMessages are the texts a non-422 error may carry, by status (§1.4 and the README's
// additions); "" means a prefix check is done instead.
var fixedMessages = map[int][]string{
	400: {"Invalid JSON data in request body: Syntax error."},
	401: {"Your request was made with invalid credentials."},
	403: {"You are not signed up for the ACH service.", "This origin may not create card tickets for this location."},
	404: {"Page not found.", "BIN info is not available for ach accounts.", "Object not found: "},
	405: {"Method Not Allowed. This URL can only handle the following request methods: "},
	410: {"The record has been deleted."},
	413: {"Request body is too large."},
}

// statusNames are §1.4's names.
var statusNames = map[int]string{400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 410: "Gone", 413: "Payload Too Large", 422: "Unprocessable entity"}

// checkFortisAnswer fails t unless rec is a well-formed Fortis answer: JSON (or an empty
// 204), never a 5xx, and on a 4xx the envelope of §1.4.
func checkFortisAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: server error %d: %s", what, rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent {
		if rec.Body.Len() != 0 {
			t.Fatalf("%s: 204 with a body", what)
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Fatalf("%s: %d with Content-Type %q", what, rec.Code, ct)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s: %d answer is not JSON: %q", what, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	if rec.Code == http.StatusUnprocessableEntity {
		var b map[string]map[string][]string
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || len(b) != 1 || len(b["errors"]) == 0 {
			t.Fatalf("%s: 422 is not {\"errors\":{…}}: %s", what, rec.Body)
		}
		for field, msgs := range b["errors"] {
			if len(msgs) != 1 || msgs[0] == "" {
				t.Fatalf("%s: 422 field %q has %d messages", what, field, len(msgs))
			}
		}
		return
	}
	var b struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Code    *int   `json:"code"`
		Status  int    `json:"status"`
	}
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Code == nil || *b.Code != 0 || b.Status != rec.Code || b.Name != statusNames[rec.Code] {
		t.Fatalf("%s: %d is not the {name,message,code,status} envelope: %s", what, rec.Code, rec.Body)
	}
	for _, m := range fixedMessages[rec.Code] {
		if b.Message == m || strings.HasSuffix(m, ": ") && strings.HasPrefix(b.Message, m) {
			return
		}
	}
	t.Fatalf("%s: %d with an undocumented message %q", what, rec.Code, b.Message)
}

// before returns the database's snapshot before a request.
func (f *fortisFuzzer) before(t *testing.T) storetest.Snapshot {
	if f.last == nil {
		s := f.watch.Snapshot(t)
		f.last = &s
	}
	return *f.last
}

// exchange sends one request and checks its answer; a refused request must have changed
// nothing.
func (f *fortisFuzzer) exchange(t *testing.T, method, target, body string, as *userCreds, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	before := f.before(t)
	rec := f.send(method, target, body, as, header)
	f.last = nil
	what := method + " " + target
	checkFortisAnswer(t, what, rec)
	if rec.Code >= 400 || method == http.MethodGet {
		after := f.watch.Snapshot(t)
		if rec.Body.String() == `{"errors":{"run_avs":["Account Verification failed"]}}` {
			// §2.5: a failed run_avs stores its avsonly transaction and nothing else.
			if ch := before.Changed(after, "transactions", "audit_log", "audit_heads"); len(ch) > 0 || after.Rows["transactions"] != before.Rows["transactions"]+1 {
				t.Fatalf("%s: a failed run_avs changed %v and %d → %d transactions", what, ch, before.Rows["transactions"], after.Rows["transactions"])
			}
			return rec
		}
		if ch := before.Changed(after); len(ch) > 0 {
			t.Fatalf("%s answered %d and changed %v: %s", what, rec.Code, ch, rec.Body)
		}
		f.last = &after
	}
	return rec
}

// fortisRoute is a route a fuzz input is sent to.
type fortisRoute struct {
	method, path string
	as           string // as is "" (the merchant's user), "restricted", "other" or "browser".
	// foreign marks a route aimed at records the caller may not reach: it may never succeed.
	foreign bool
}

// fortisBodyRoutes are the routes that take a body.
var fortisBodyRoutes = []fortisRoute{
	{"POST", "/v2/accountvaults", "", false},
	{"PUT", "/v2/accountvaults/{vault}", "", false},
	{"PUT", "/v2/accountvaults/{achVault}", "", false},
	{"POST", "/v2/contacts", "", false},
	{"PUT", "/v2/contacts/{contact}", "", false},
	{"POST", "/v2/cardtickets", "", false},
	{"POST", "/v2/cardtickets", "browser", false},
	{"PUT", "/v2/accountvaults/Card1?api_id=1", "", false},
	{"PUT", "/v2/accountvaults/{l2Vault}", "", true},
	{"PUT", "/v2/contacts/{l2Contact}", "", true},
	{"PUT", "/v2/accountvaults/{otherVault}", "", true},
	{"PUT", "/v2/contacts/{otherContact}", "", true},
	{"PUT", "/v2/accountvaults/Card1?api_id=1&location_id={loc2}", "", true},
	{"PUT", "/v2/accountvaults/{vault}", "restricted", true},
	{"PUT", "/v2/accountvaults/{goneVault}", "", true},
}

// sendRoute sends a body to a route as the route says.
func (f *fortisFuzzer) sendRoute(t *testing.T, r fortisRoute, body string) *httptest.ResponseRecorder {
	var as *userCreds
	var header map[string]string
	switch r.as {
	case "restricted":
		as = &f.restricted
	case "other":
		as = &f.otherUser
	case "browser":
		as, header = &userCreds{}, f.browserHeaders()
	}
	rec := f.exchange(t, r.method, r.path, body, as, header)
	if r.foreign && rec.Code < 400 {
		t.Fatalf("%s %s: a record the caller may not reach answered %d: %s", r.method, r.path, rec.Code, rec.Body)
	}
	return rec
}

// seedComment matches the // comments of the seed's examples.
var seedComment = regexp.MustCompile(`(?m)[ \t]*//.*$`)

// goldenBodies returns the seed's request bodies in testdata/golden with their sample ids
// replaced by placeholders, keyed by file name.
func goldenBodies(tb testing.TB) map[string]string {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.request.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden requests: %v", err)
	}
	out := map[string]string{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		body := seedComment.ReplaceAllString(string(b), "")
		body = strings.NewReplacer("sd9fusd9f-678d-9510-318c-bcb13ab4324", "{loc}", "11111-11111-11111-11111", "{loc}",
			"54c285f1-678d-9510-318c-bcb13ab0c1c2", "{contact}", "22222-22222-22222-22222", "{contact}", `"123456789"`, `"{ticket}"`).Replace(body)
		out[filepath.Base(file)] = body
	}
	return out
}

// FuzzAccountVaultBody sends arbitrary bodies to every route that takes one: vault and
// contact creates and updates (also by api id), card tickets from a user and from a browser,
// and updates aimed at records in another location, of another merchant, or deleted (which
// must never succeed).
func FuzzAccountVaultBody(f *testing.F) {
	fz := mustFortisFuzzer(f)
	golden := goldenBodies(f)
	seeds := []struct {
		route int
		body  string
	}{
		{0, golden["seed_create_cc.request.json"]},
		{0, golden["seed_create_ach.request.json"]},
		{0, golden["seed_create_ticket.request.json"]},
		{1, golden["seed_update.request.json"]},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"T","billing_address":"5800 NW 39th AVE","billing_zip":"32606","billing_city":"Gainesville","billing_state":"fl","billing_phone":"3525551234","customer_id":"C1","dl_number":"D1","dl_state":"FL","ssn4":"1234","dob_year":"1980","accountvault_c1":"x","terms_agree":1,"terms_agree_ip":"10.0.0.1","run_avs":false}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"ach","account_number":700953657,"routing":"072000326","account_type":"SAVINGS","account_holder_name":"x","is_company":"1","ach_sec_code":"ppd"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","track_data":"%B4111111111111111^SMITH/JOHN^2812101000000000?"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","track_data":";4111111111111111=2812101?"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_id":"{vault}"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_api_id":"Card1"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","ticket":"{otherTicket}"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","ticket":"{l2Ticket}"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_id":"{otherVault}"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_id":"{l2Vault}"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_id":"{goneVault}"}}`},
		{0, `{"accountvault":{"location_id":"{otherLoc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`},
		{0, `{"accountvault":{"location_id":"{loc2}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`},
		{0, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","contact_id":"{otherContact}"}}`},
		{0, `{"accountvault":{"title":null,"exp_date":1.5e3,"ssn4":[],"terms_agree":"-1"}}`},
		{0, `{"accountvault":`}, {0, `[]`}, {0, ``}, {0, `{"accountvault":{"location_id":"{loc}","ticket":{}}}`},
		{1, `{"accountvault":{"title":"New","contact_id":null,"billing_zip":"","exp_date":"0921","account_number":"4111111111111111"}}`},
		{1, `{"accountvault":{"contact_id":"{otherContact}"}}`},
		{1, `{"accountvault":{"contact_id":"{l2Contact}","location_id":"{loc2}"}}`},
		{2, `{"accountvault":{"ach_sec_code":"","account_holder_name":null,"routing":"072000326"}}`},
		{3, `{"contact":{"location_id":"{loc}","first_name":"John","last_name":"Smith","contact_api_id":"JS1","update_if_exists":1,"email":"j@example.com","date_of_birth":"1980-02-29","header_message_type":"4","contact_balance":"12.50","email_trx_receipt":true}}`},
		{3, `{"contact":{"location_id":"{otherLoc}","last_name":"x"}}`},
		{4, `{"contact":{"last_name":"Smithers","location_id":"{loc}","home_phone":"3525551234","zip":"32606-1234"}}`},
		{4, `{"contact":{"location_id":"{loc2}"}}`},
		{5, `{"cardticket":{"account_number":"5454545454545454","exp_date":"1228","cvv":"999","billing_zip":"32606","account_holder_name":"John","location_id":"{loc}"}}`},
		{5, `{"cardticket":{"account_number":"5454545454545454","exp_date":"1228","location_id":"{loc2}"}}`},
		{6, `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230","cvv":"999","billing_zip":"32606"}}`},
		{6, `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230","location_id":"{otherLoc}"}}`},
		{7, `{"accountvault":{"title":"By api id"}}`},
		{8, `{"accountvault":{"title":"x"}}`}, {9, `{"contact":{"last_name":"x"}}`}, {10, `{"accountvault":{"title":"x"}}`},
		{11, `{"contact":{"last_name":"x"}}`}, {12, `{"accountvault":{"title":"x"}}`}, {13, `{"accountvault":{"title":"x"}}`},
		{14, `{"accountvault":{"title":"x"}}`},
		{0, "{\"accountvault\":{\"location_id\":\"{loc}\",\"title\":\"\xff\"}}"},
		{3, `{"contact":{"location_id":"{loc}","last_name":"a\u0000b"}}`},
		{0, `{"accountvault":` + strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300) + `}`},
	}
	for _, s := range seeds {
		f.Add(uint8(s.route), s.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		fz.sendRoute(t, fortisBodyRoutes[int(route)%len(fortisBodyRoutes)], body)
	})
}

// fortisQueryRoutes are the GET routes whose query parameters mean something.
var fortisQueryRoutes = []fortisRoute{
	{"GET", "/v2/accountvaults", "", false},
	{"GET", "/v2/contacts", "", false},
	{"GET", "/v2/locations", "", false},
	{"GET", "/v2/users", "", false},
	{"GET", "/v2/producttransactions", "", false},
	{"GET", "/v2/accountvaults/{vault}", "", false},
	{"GET", "/v2/accountvaults/Card1", "", false},
	{"GET", "/v2/contacts/JS1", "", false},
	{"GET", "/v2/accountvaults/{vault}/bininfo", "", false},
	{"GET", "/v2/locations/{loc}", "", false},
	{"GET", "/v2/users/{user}", "", false},
	{"GET", "/v2/transactions", "", false},
	{"GET", "/v2/transactions/{sale}", "", false},
	{"GET", "/v2/transactions/{sale}/bininfo", "", false},
	{"GET", "/v2/accountvaults", "restricted", false},
	{"GET", "/v2/accountvaults/{otherVault}", "", true},
	{"GET", "/v2/accountvaults/{l2Vault}", "", true},
	{"GET", "/v2/locations/{loc2}", "", true},
	{"GET", "/v2/users/{otherUser}", "", true},
	{"GET", "/v2/producttransactions/{otherProductTransaction}", "", true},
	{"GET", "/v2/transactions/{otherSale}", "", true},
	{"GET", "/v2/transactions/{l2Sale}", "", true},
	{"GET", "/v2/transactions/{l2Sale}/bininfo", "", true},
}

// FuzzListQuery sends arbitrary query strings to the list engine (filters, ranges, timestamp
// keywords, sort, page, page_size, expand, location_id) and to single GETs (expand, api_id).
// A GET changes nothing; a record the caller may not reach is never shown.
func FuzzListQuery(f *testing.F) {
	fz := mustFortisFuzzer(f)
	for _, seed := range []struct {
		route int
		query string
	}{
		{0, "page=2&page_size=3&sort=-title,id"}, {0, "created_ts=last%2030%20days"}, {0, "created_ts=custom&created_ts_from=1&created_ts_to=x"},
		{0, "created_ts=1|"}, {0, "exp_date=0919,abc"}, {0, "location_id=,,"}, {0, "page=99999999999999999999&page_size=-1"}, {0, "title=%25_%5C"},
		{0, "account_type=mc,checking&has_recurring=true,0"}, {0, "expand=contact,location,,contact"},
		{0, "payment_method=cc,ach&created_ts=this%20week&sort=-created_ts&page_size=10&expand=contact"},
		{0, "created_ts=today"}, {0, "modified_ts=yesterday"}, {0, "created_ts=this_month"}, {0, "created_ts=last%20month"}, {0, "created_ts=last%20week"},
		{0, "location_id={loc2}"}, {0, "location_id={loc},{otherLoc}"}, {0, "active=0"}, {0, "first_six=545454&last_four=5454"},
		{0, "expand=created_user,product_transaction,signature,account_vault_cau_product_transaction,account_vault_cau_logs"},
		{1, "last_name=smi&page=1"}, {1, "contact_api_id=JS1&expand=location,created_user,user,notes"}, {1, "created_ts=-9223372036854775808|9223372036854775807"},
		{2, "expand=product_transactions,parent,created_user,branding_domain&sort=name"}, {2, "location_id={loc2}"},
		{3, "expand=primary_location,locations,created_user"}, {4, "payment_method=ach&expand=location"},
		{5, "expand=contact,location,created_user,product_transaction"}, {6, "api_id=1&location_id={loc}"}, {6, "api_id=true&location_id={loc2}"},
		{6, "api_id=1&location_id={otherLoc}"}, {7, "api_id=1&expand=location"}, {8, ""}, {9, "expand=product_transactions,parent"},
		{10, "expand=primary_location,locations"}, {11, "location_id={loc}"}, {11, ""}, {12, "expand=contact"}, {13, "expand=location"},
		{14, ""}, {15, ""}, {16, "expand=location"}, {0, "title=%00&id=%FF"},
		// Filters that a list reads through their own index (sqlstore listSpec.indexes).
		{0, "contact_id=0123456789abcdef01234567&active=0"}, {0, "account_vault_api_id=Card1&active=0,1"},
		{0, "account_vault_api_id=Card1,&location_id={loc},{loc2}"}, {1, "contact_api_id=JS1&location_id={loc},{otherLoc}"},
		{11, "transaction_api_id=T1&sort=-created_ts"}, {11, "contact_id=x&account_vault_id=y&transaction_api_id=,"},
	} {
		f.Add(uint8(seed.route), seed.query)
	}
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		r := fortisQueryRoutes[int(route)%len(fortisQueryRoutes)]
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		for name := range q {
			if name == "user-id" || name == "user-api-key" || name == "developer-id" {
				return // credentials in the query are FuzzUserAuth's
			}
		}
		rec := fz.sendRoute(t, fortisRoute{r.method, r.path + "?" + query, r.as, r.foreign}, "")
		switch rec.Code {
		case 200, 404, 410, 422:
		default:
			t.Fatalf("GET %s?%s answered %d: %s", r.path, query, rec.Code, rec.Body)
		}
		if rec.Code == 200 && !r.foreign {
			// A list never shows another merchant's or an unreachable location's records (the
			// meta links echo the query, which may name them).
			var body map[string]any
			json.Unmarshal(rec.Body.Bytes(), &body)
			delete(body, "meta")
			shown, _ := json.Marshal(body)
			for _, id := range []string{"{otherVault}", "{otherContact}", "{l2Vault}", "{l2Contact}", "{otherLoc}", "{otherUser}", "{otherSale}", "{l2Sale}"} {
				if strings.Contains(string(shown), fz.ids[id]) && !(r.as == "restricted" && strings.HasPrefix(id, "{l2")) {
					t.Fatalf("GET %s?%s shows %s: %s", r.path, query, id, rec.Body)
				}
			}
		}
	})
}

// FuzzUserAuth sends arbitrary user credentials as headers, query parameters or HTTP Basic
// (§1.2) and checks the answer: only the merchant user's own credentials list the vaults,
// anything else is the 401 envelope.
func FuzzUserAuth(f *testing.F) {
	fz := mustFortisFuzzer(f)
	u := fz.user
	for _, s := range []struct {
		mode         uint8
		dev, id, key string
	}{
		{0, u.dev, u.id, u.key}, {1, u.dev, u.id, u.key}, {2, u.dev, u.id, u.key},
		{0, u.dev, u.id, u.key + "x"}, {0, fz.otherUser.dev, u.id, u.key}, {0, u.dev, fz.otherUser.id, fz.otherUser.key},
		{1, u.dev, "", ""}, {2, u.dev, u.id + ":" + u.key, ""}, {2, "", u.id, u.key}, {0, "\xff", "\x00", ""},
		{3, u.dev, u.id, u.key}, {0, u.dev, u.id, strings.ToUpper(u.key)}, {0, u.dev, " " + u.id, u.key},
	} {
		f.Add(s.mode, s.dev, s.id, s.key)
	}
	f.Fuzz(func(t *testing.T, mode uint8, dev, id, key string) {
		header := map[string]string{}
		q := url.Values{}
		switch mode % 4 {
		case 0:
			header["developer-id"], header["user-id"], header["user-api-key"] = dev, id, key
		case 1:
			q.Set("developer-id", dev)
			q.Set("user-id", id)
			q.Set("user-api-key", key)
		case 2:
			header["developer-id"] = dev
			header["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+key))
		case 3: // headers win over Basic when either is set
			header["developer-id"], header["user-id"] = dev, id
			header["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+key))
		}
		for k, v := range header {
			if v == "" {
				delete(header, k)
			}
		}
		for k, v := range q {
			if v[0] == "" {
				q.Del(k)
			}
		}
		rec := fz.exchange(t, "GET", "/v2/accountvaults?"+q.Encode(), "", &userCreds{}, header)
		want := http.StatusUnauthorized
		// In mode 3 the user-id header wins over Basic and comes without a key: never valid.
		if ok := dev == u.dev && id == u.id && key == u.key; ok && mode%4 != 3 {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Fatalf("mode %d: %d, want %d: %s", mode%4, rec.Code, want, rec.Body)
		}
	})
}

// FuzzBrowserAuth sends arbitrary browser credentials (location-api-key, timestamp,
// hash-key; as headers or query parameters) to POST /v2/cardtickets: only a known location's
// key with a timestamp within ±900 s and its HMAC creates a ticket, anything else is a 401.
func FuzzBrowserAuth(f *testing.F) {
	fz := mustFortisFuzzer(f)
	fc := fz.creds.Fortis
	now := fz.clock.Now().Unix()
	sign := func(key string, ts int64) (string, string) {
		s := strconv.FormatInt(ts, 10)
		return s, vault.BrowserHashKey(fc.TicketHashKey, key, s)
	}
	for _, d := range []int64{0, 899, -900, 901, -901} {
		ts, h := sign(fc.LocationAPIKey, now+d)
		f.Add(false, fc.LocationAPIKey, ts, h)
		f.Add(true, fc.LocationAPIKey, ts, strings.ToUpper(h))
	}
	ts, h := sign(fc.LocationAPIKey, now)
	f.Add(false, fz.other.Fortis.LocationAPIKey, ts, h)
	f.Add(false, fc.LocationAPIKey, "+"+ts, h)
	f.Add(false, fc.LocationAPIKey, ts+".0", h)
	f.Add(false, fc.LocationAPIKey, "0"+ts, h)
	f.Add(false, "", "", "")
	f.Add(false, fc.LocationAPIKey, "99999999999999999999", h)
	const body = `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230"}}`
	f.Fuzz(func(t *testing.T, inQuery bool, key, ts, hash string) {
		header := map[string]string{}
		target := "/v2/cardtickets"
		if inQuery {
			q := url.Values{}
			for k, v := range map[string]string{"location-api-key": key, "timestamp": ts, "hash-key": hash} {
				if v != "" {
					q.Set(k, v)
				}
			}
			target += "?" + q.Encode()
		} else {
			for k, v := range map[string]string{"location-api-key": key, "timestamp": ts, "hash-key": hash} {
				if v != "" {
					header[k] = v
				}
			}
		}
		rec := fz.exchange(t, "POST", target, body, &userCreds{}, header)
		want := http.StatusUnauthorized
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil && len(ts) <= 12 && n >= now-900 && n <= now+900 &&
			key == fc.LocationAPIKey && strings.ToLower(hash) == vault.BrowserHashKey(fc.TicketHashKey, key, ts) {
			want = http.StatusCreated
		}
		if rec.Code != want {
			t.Fatalf("browser credentials (%q, %q, %q, query %v): %d, want %d: %s", key, ts, hash, inQuery, rec.Code, want, rec.Body)
		}
	})
}

// fortisTransactionRoutes are the routes that create transactions (and vaults with run_avs).
var fortisTransactionRoutes = []fortisRoute{
	{"POST", "/v2/transactions", "", false},
	{"POST", "/v2/transactions", "restricted", false},
	{"POST", "/v2/accountvaults", "", false},
}

// FuzzTransactionBody sends arbitrary bodies to POST /v2/transactions, as a user of the
// primary location and as one of the second location, and to POST /v2/accountvaults (run_avs):
// every answer is a 201 (declines included) or a 4xx in the Fortis envelope, never a 5xx or
// a panic, and a refused request stores nothing but a failed run_avs's transaction (§2.5).
func FuzzTransactionBody(f *testing.F) {
	fz := mustFortisFuzzer(f)
	for _, seed := range []struct {
		route int
		body  string
	}{
		{0, txnBody(rawSale("1.00", `"location_id":"{loc}","cvv":"999","billing_zip":"32606","save_account":1,"save_account_title":"x"`))},
		{0, txnBody(`"action":"refund","payment_method":"cc","transaction_amount":1.5,"previous_transaction_id":"{sale}"`)},
		{0, txnBody(`"action":"refund","payment_method":"cc","transaction_amount":"0.10","previous_transaction_api_id":"S1"`)},
		{0, txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"8.03","account_vault_id":"{vault}"`)},
		{0, txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"5.00","account_vault_api_id":"Card1","contact_id":"{contact}","order_num":"A1","transaction_c1":"c"`)},
		{0, txnBody(`"action":"authonly","payment_method":"cc","transaction_amount":"6.31","ticket":"{ticket}","billing_street":"5800 NW 39th AVE"`)},
		{0, txnBody(`"action":"debit","payment_method":"ach","transaction_amount":"1","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"x","ach_sec_code":"web","save_account":"1"`)},
		{0, txnBody(`"action":"avsonly","payment_method":"cc","ticket":"x","transaction_amount":[],"save_account":{}`)},
		{0, txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"-0.00","account_number":1e5,"exp_date":1228`)},
		{0, txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"{otherVault}"`)},
		{0, txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"{l2Vault}"`)},
		{0, txnBody(`"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"{otherSale}"`)},
		{0, txnBody(`"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"{l2Sale}"`)},
		{0, txnBody(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"{otherTicket}"`)},
		{0, txnBody(rawSale("1.00", `"product_transaction_id":"{otherProductTransaction}"`))},
		{0, txnBody(rawSale("1.00", `"location_id":"{otherLoc}"`))},
		{0, txnBody(rawSale("1.00", `"contact_id":"{otherContact}"`))},
		{0, txnBody(rawSale("99999999.99", `"transaction_api_id":"S1"`))},
		{1, txnBody(rawSale("2.00", `"location_id":"{loc2}"`))},
		{1, txnBody(`"action":"refund","payment_method":"cc","transaction_amount":"0.10","previous_transaction_id":"{sale}"`)},
		{2, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","run_avs":true,"billing_zip":"32615"}}`},
		{2, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_transaction_id":"{sale}"}}`},
		{2, `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_transaction_id":"{otherSale}"}}`},
		{0, `{"transaction":`}, {0, `[]`}, {0, ``},
	} {
		f.Add(uint8(seed.route), seed.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rec := fz.sendRoute(t, fortisTransactionRoutes[int(route)%len(fortisTransactionRoutes)], body)
		if rec.Code < 400 && rec.Code != http.StatusCreated {
			t.Fatalf("a create answered %d: %s", rec.Code, rec.Body)
		}
	})
}

// longDigitRun finds a run of 12 or more digits.
var longDigitRun = regexp.MustCompile(`[0-9]{12,}`)

// FuzzPathID sends arbitrary ids to every item route, by id and by api id: only the
// fixtures' own api ids may match; anything else is the 404 envelope (or 405/410 when the id
// changes the route or names a deleted vault), changes nothing, and never echoes a
// card-number-like digit run whole.
func FuzzPathID(f *testing.F) {
	fz := mustFortisFuzzer(f)
	for _, s := range []string{"", "x", "\x00", "\xff\xfe", "4111111111111111", "4111 1111 1111 1111", "..", "a/b", "{vault}",
		"Card1", "JS1", "S1", "01936f2e-8b7a-7c3d-9a41-5e2f0c6d8b19", strings.Repeat("9", 5000), "bininfo"} {
		for route := uint8(0); route < 6; route++ {
			f.Add(route, s)
		}
	}
	templates := []string{
		"/v2/accountvaults/%s", "/v2/accountvaults/%s?api_id=1", "/v2/contacts/%s?api_id=true&location_id={loc}",
		"/v2/transactions/%s", "/v2/accountvaults/%s/bininfo", "/v2/transactions/%s/bininfo",
	}
	apiIDs := map[string]bool{"Card1": true, "JS1": true}
	f.Fuzz(func(t *testing.T, route uint8, id string) {
		if id == "" {
			return // an empty id makes the path the collection's, with a trailing slash (§1.1)
		}
		tp := templates[int(route)%len(templates)]
		target := strings.Replace(fz.rep.Replace(tp), "%s", url.PathEscape(id), 1)
		before := fz.before(t)
		req := httptest.NewRequest("GET", "https://vault.example/", nil)
		req.URL.Path, req.URL.RawQuery, _ = strings.Cut(target, "?")
		if p, err := url.PathUnescape(req.URL.Path); err == nil {
			req.URL.RawPath, req.URL.Path = req.URL.Path, p
		}
		req.Header.Set("developer-id", fz.user.dev)
		req.Header.Set("user-id", fz.user.id)
		req.Header.Set("user-api-key", fz.user.key)
		rec := httptest.NewRecorder()
		fz.h.ServeHTTP(rec, req)
		fz.last = nil
		checkFortisAnswer(t, "GET "+target, rec)
		if rec.Code < 400 && !(strings.Contains(tp, "api_id") && apiIDs[id]) {
			t.Fatalf("GET %s: an unknown id answered %d: %s", target, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			// The decoded message, not the raw body: JSON writes a NUL as \u0000, whose
			// zeros run into digits that follow it.
			var ans struct{ Message string }
			json.Unmarshal(rec.Body.Bytes(), &ans)
			for _, run := range longDigitRun.FindAllString(id, -1) {
				if strings.Contains(ans.Message, run) {
					t.Fatalf("GET %s: the answer echoes a long digit run: %s", target, rec.Body)
				}
			}
		}
		after := fz.watch.Snapshot(t)
		if ch := before.Changed(after); len(ch) > 0 {
			t.Fatalf("GET %s changed %v", target, ch)
		}
		fz.last = &after
	})
}
