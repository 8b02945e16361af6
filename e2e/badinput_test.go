package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
)

// The bad-input matrix (issue 10, point 4) sends hundreds of malformed requests to the real
// server, on SQLite and on PostgreSQL, across the Paysafe vault and card payments APIs, the
// Fortis API and the admin API. Every one must get a 4xx in its API's envelope with the
// code the specs document, and none may create or change a record: the database is
// snapshot before and after each request. Card-payment attempts that reach validation are
// the exception the Paysafe spec makes (§2.12): they are stored FAILED with their error, and
// the matrix checks that they are.

// paysafeCodes are the §1.8 codes the matrix expects, with their status and exact message.
var paysafeCodes = map[string]struct {
	status  int
	message string
}{
	"3002": {400, "You submitted an invalid card number or brand or combination of card number and brand with your request."},
	"3006": {400, "You submitted an expired credit card number with your request."},
	"3009": {402, "Your request has been declined by the issuing bank."},
	"3031": {400, "The confirmation number you submitted with your request references a transaction that is not on hold."},
	"3203": {402, "The Authorization is either fully settled or cancelled."},
	"3204": {402, "The requested Settlement amount exceeds the remaining Authorization amount."},
	"3402": {402, "The requested Refund amount exceeds the remaining Settlement amount."},
	"5023": {400, "You submitted a request that is not parseable."},
	"5031": {409, "The transaction you have submitted has already been processed."},
	"5068": {400, "Either you submitted a request that is missing a mandatory field or the value of a field does not match the format expected."},
	"5269": {404, "The ID(s) specified in the URL do not correspond to the values in the system."},
	"5270": {403, "The credentials provided with the request do not have permission to access the requested data."},
	"5273": {404, "Your client reached our application but we were unable to service your request due to an invalid URL."},
	"5279": {401, "The authentication credentials are invalid."},
	"5280": {401, "The required authentication credentials were not provided."},
	"5281": {405, "The request uses an action (e.g., GET, POST, or PUT) that is not supported by the resource."},
	"5500": {400, "Either the payment token is invalid or the corresponding profile or credit card is not active."},
	"7503": {409, "Card number already in use"},
	"7505": {409, "The merchantCustomerId provided for this profile has already been used for another profile"},
	"7508": {400, "You submitted an invalid card number or brand or combination of card number and brand with your request."},
	"7511": {400, "The billing address specified could not be found in this profile."},
}

// adminCodes are the admin README's error codes with their status.
var adminCodes = map[string]int{
	"bad_json": 400, "invalid": 400, "unauthorized": 401, "not_found": 404, "method_not_allowed": 405,
	"conflict": 409, "too_large": 413,
}

// badCase is one malformed request and the answer its spec documents.
type badCase struct {
	name               string
	method, path, body string
	auth               string            // auth is the Authorization header; "" sends none.
	header             map[string]string // header adds headers (Fortis credentials).
	status             int
	code               string   // code is the Paysafe or admin error code.
	fields             []string // fields are Paysafe's fieldErrors as "field: error", when checked.
	fortis             string   // fortis is the exact Fortis error body.
	// stored marks a card-payment attempt that the Paysafe §2.12 stores as a FAILED
	// transaction, or a Fortis vault create whose failed run_avs stores its avsonly one (§2.5).
	stored bool
}

// fortisError is §1.4's body for a status and message.
func fortisError(status int, message string) string {
	names := map[int]string{400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 410: "Gone", 413: "Payload Too Large"}
	return `{"name":` + quote(names[status]) + `,"message":` + quote(message) + `,"code":0,"status":` + strconv.Itoa(status) + `}`
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// noise is n letters and digits that do not compress: hex of a SHA-256 chain.
func noise(n int) string {
	var b strings.Builder
	sum := sha256.Sum256([]byte("noise"))
	for b.Len() < n {
		b.WriteString(hex.EncodeToString(sum[:]))
		sum = sha256.Sum256(sum[:])
	}
	return b.String()[:n]
}

// badServer is a running payvault with the fixtures the matrix aims at.
type badServer struct {
	main *app.Main
	url  string
	logs *logtest.Capture
	ids  map[string]string
	rep  *strings.Replacer
	// secrets are the account data and credentials the server has been given; they are
	// forbidden in its logs.
	secrets []string
	// seen, when set, is shown every answer.
	seen func(method, path string, header http.Header, body []byte)
}

// forbid adds secrets that must never appear in the logs (or in /metrics and URLs).
func (s *badServer) forbid(secrets ...string) {
	s.logs.Forbid(secrets...)
	s.secrets = append(s.secrets, secrets...)
}

// mustBadServer starts payvault on SQLite, or on a fresh PostgreSQL database, with no
// simulated processor delays.
func mustBadServer(t *testing.T, postgres bool) *badServer {
	t.Helper()
	log, capture := logtest.New(t)
	const adminToken = "e2e-admin-token-0123456789abcdef"
	zero := 0.0
	cfg := app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, AdminToken: adminToken, Out: io.Discard, SimulatorDelayScale: &zero}
	if postgres {
		cfg.DatabaseURL = storetest.PostgresDSN(t)
		cfg.MasterKey = base64.StdEncoding.EncodeToString([]byte("bad-input-matrix-master-key-0123"))
	}
	m, err := app.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Listen(); err != nil {
		m.Close()
		t.Fatal(err)
	}
	c := m.Credentials
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		m.Close()
	})
	s := &badServer{main: m, url: m.URL(), logs: capture, ids: map[string]string{"{admin}": "Bearer " + adminToken}}
	s.forbid(adminToken, c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret, c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
	s.set("{admin}", "Bearer "+adminToken)
	return s
}

// noRedirects is a client that shows a redirect instead of following it: an SDK that does not
// follow one (or does not keep its method and body) must get the API's JSON answer at once.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send makes one request with the placeholders in path, body and headers replaced.
func (s *badServer) send(t *testing.T, method, path, body, auth string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(s.rep.Replace(body))
	}
	req, err := http.NewRequest(method, s.url+s.rep.Replace(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", s.rep.Replace(auth))
	}
	for k, v := range header {
		req.Header.Set(k, s.rep.Replace(v))
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if s.seen != nil {
		s.seen(method, req.URL.String(), resp.Header, raw)
	}
	return resp.StatusCode, resp.Header, raw
}

// must makes a request that must succeed and returns its decoded body.
func (s *badServer) must(t *testing.T, method, path, body, auth string, header map[string]string) map[string]any {
	t.Helper()
	status, _, raw := s.send(t, method, path, body, auth, header)
	if status >= 300 {
		t.Fatalf("fixture %s %s: %d %s", method, path, status, raw)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

// set records a fixture value under a placeholder and rebuilds the replacer.
func (s *badServer) set(k, v string) string {
	s.ids[k] = v
	var pairs []string
	for k, v := range s.ids {
		pairs = append(pairs, k, v)
	}
	s.rep = strings.NewReplacer(pairs...)
	return v
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// fixtures creates, for the sandbox merchant (A) and a second merchant made through the admin
// API (B), a profile with an address, a card, one bank account of each kind, a mandate and a
// single-use token; card-payment transactions; Fortis vaults, contacts and tickets; and a
// second location of A with its own user.
func (s *badServer) fixtures(t *testing.T) {
	c := s.main.Credentials
	s.set("{acct}", c.Paysafe.AccountNumber)
	s.set("{ps}", basicAuth(c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret))
	s.set("{sutKey}", basicAuth(c.Paysafe.SingleUseKeyID, c.Paysafe.SingleUseKeySecret))
	s.set("{keyID}", c.Paysafe.APIKeyID)
	s.set("{dev}", c.Fortis.DeveloperID)
	s.set("{user}", c.Fortis.UserID)
	s.set("{userKey}", c.Fortis.UserAPIKey)
	s.set("{loc}", c.Fortis.LocationID)
	s.set("{locKey}", c.Fortis.LocationAPIKey)

	b := s.must(t, "POST", "/admin/v1/merchants", `{"name":"Merchant B"}`, "{admin}", nil)
	bp, bf := b["paysafe"].(map[string]any), b["fortis"].(map[string]any)
	s.forbid(bp["api_key_secret"].(string), bp["single_use_key_secret"].(string), bf["user_api_key"].(string), bf["ticket_hash_key"].(string))
	s.set("{mid}", s.main.Credentials.MerchantID)
	s.set("{midB}", b["merchant_id"].(string))
	s.set("{psB}", basicAuth(bp["api_key_id"].(string), bp["api_key_secret"].(string)))
	s.set("{sutKeyB}", basicAuth(bp["single_use_key_id"].(string), bp["single_use_key_secret"].(string)))
	s.set("{acctB}", bp["account_number"].(string))
	s.set("{devB}", bf["developer_id"].(string))
	s.set("{userB}", bf["user_id"].(string))
	s.set("{userKeyB}", bf["user_api_key"].(string))
	s.set("{locB}", bf["location_id"].(string))

	for _, m := range []string{"", "B"} {
		auth := "{ps" + m + "}"
		p := s.set("{profile"+m+"}", s.must(t, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"mcid`+m+`","locale":"en_US"}`, auth, nil)["id"].(string))
		prof := "/customervault/v1/profiles/" + p
		a := s.set("{address"+m+"}", s.must(t, "POST", prof+"/addresses", `{"country":"US","zip":"10014"}`, auth, nil)["id"].(string))
		card := s.must(t, "POST", prof+"/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"billingAddressId":"`+a+`"}`, auth, nil)
		s.set("{card"+m+"}", card["id"].(string))
		s.set("{cardToken"+m+"}", card["paymentToken"].(string))
		s.set("{profileToken"+m+"}", s.must(t, "GET", prof, "", auth, nil)["paymentToken"].(string))
		s.set("{ach"+m+"}", s.must(t, "POST", prof+"/achbankaccounts", `{"accountHolderName":"XYZ","accountNumber":"3366570418","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"`+a+`"}`, auth, nil)["id"].(string))
		bacs := s.set("{bacs"+m+"}", s.must(t, "POST", prof+"/bacsbankaccounts", `{"accountHolderName":"Sally","accountNumber":"55779911","sortCode":"070116","billingAddressId":"`+a+`"}`, auth, nil)["id"].(string))
		s.set("{eft"+m+"}", s.must(t, "POST", prof+"/eftbankaccounts", `{"accountHolderName":"Sally","accountNumber":"44889922","transitNumber":"25039","institutionId":"001","billingAddressId":"`+a+`"}`, auth, nil)["id"].(string))
		s.set("{sepa"+m+"}", s.must(t, "POST", prof+"/sepabankaccounts", `{"accountHolderName":"Sally","iban":"DE89370400440532013000","billingAddressId":"`+a+`"}`, auth, nil)["id"].(string))
		s.set("{mandate"+m+"}", s.must(t, "POST", prof+"/bacsbankaccounts/"+bacs+"/mandates", `{"reference":"REF1"}`, auth, nil)["id"].(string))
		s.set("{sut"+m+"}", s.must(t, "POST", "/customervault/v1/singleusetokens", `{"card":{"cardNum":"5200400000000009","cardExpiry":{"month":12,"year":2050}}}`, auth, nil)["paymentToken"].(string))
		s.set("{sutach"+m+"}", s.must(t, "POST", "/customervault/v1/achsingleusetokens", `{"achBankAccount":{"accountHolderName":"XYZ","accountNumber":"988948193","routingNumber":"211589828","accountType":"CHECKING"},"billingAddress":{"country":"US"}}`, auth, nil)["paymentToken"].(string))
		acct := "/cardpayments/v1/accounts/{acct" + m + "}/"
		auth1 := s.set("{auth"+m+"}", s.must(t, "POST", acct+"auths", `{"merchantRefNum":"ref-auth","amount":1000,"card":{"paymentToken":"{cardToken`+m+`}"}}`, auth, nil)["id"].(string))
		settled := s.set("{settlement"+m+"}", s.must(t, "POST", acct+"auths", `{"merchantRefNum":"ref-settled","amount":500,"settleWithAuth":true,"card":{"paymentToken":"{cardToken`+m+`}"}}`, auth, nil)["id"].(string))
		s.set("{refund"+m+"}", s.must(t, "POST", acct+"settlements/"+settled+"/refunds", `{"merchantRefNum":"ref-refund","amount":100}`, auth, nil)["id"].(string))
		s.set("{voidauth"+m+"}", s.must(t, "POST", acct+"auths/"+auth1+"/voidauths", `{"merchantRefNum":"ref-void","amount":100}`, auth, nil)["id"].(string))
		s.set("{verification"+m+"}", s.must(t, "POST", acct+"verifications", `{"merchantRefNum":"ref-verify","card":{"paymentToken":"{cardToken`+m+`}"}}`, auth, nil)["id"].(string))

		fh := map[string]string{"developer-id": "{dev" + m + "}", "user-id": "{user" + m + "}", "user-api-key": "{userKey" + m + "}"}
		loc := "{loc" + m + "}"
		s.set("{contact"+m+"}", s.must(t, "POST", "/v2/contacts", `{"contact":{"location_id":"`+loc+`","last_name":"Smith","contact_api_id":"JS1"}}`, "", fh)["contact"].(map[string]any)["id"].(string))
		s.set("{vault"+m+"}", s.must(t, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"5454545454545454","exp_date":"1228","account_vault_api_id":"Card1"}}`, "", fh)["accountvault"].(map[string]any)["id"].(string))
		s.set("{achVault"+m+"}", s.must(t, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"ach","account_number":"700953657","routing":"072000326","account_type":"checking","is_company":false,"account_holder_name":"John"}}`, "", fh)["accountvault"].(map[string]any)["id"].(string))
		s.set("{ticket"+m+"}", s.must(t, "POST", "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"4012888888881881","exp_date":"1230"}}`, "", fh)["cardticket"].(map[string]any)["id"].(string))
		s.set("{sale"+m+"}", s.must(t, "POST", "/v2/transactions", `{"transaction":{"location_id":"`+loc+`","action":"sale","payment_method":"cc","transaction_amount":"9.00","account_number":"4111111111111111","exp_date":"1228","transaction_api_id":"S1"}}`, "", fh)["transaction"].(map[string]any)["id"].(string))
		s.set("{achDebit"+m+"}", s.must(t, "POST", "/v2/transactions", `{"transaction":{"location_id":"`+loc+`","action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"x","ach_sec_code":"WEB"}}`, "", fh)["transaction"].(map[string]any)["id"].(string))
		gone := s.set("{goneVault"+m+"}", s.must(t, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`, "", fh)["accountvault"].(map[string]any)["id"].(string))
		if status, _, raw := s.send(t, "DELETE", "/v2/accountvaults/"+gone, "", "", fh); status != 204 {
			t.Fatalf("delete: %d %s", status, raw)
		}
	}
	s.set("{pt}", s.must(t, "GET", "/v2/producttransactions", "", "", s.fortisAuth())["producttransactions"].([]any)[0].(map[string]any)["id"].(string))
	s.set("{ptB}", s.must(t, "GET", "/v2/producttransactions", "", "", map[string]string{"developer-id": "{devB}", "user-id": "{userB}", "user-api-key": "{userKeyB}"})["producttransactions"].([]any)[0].(map[string]any)["id"].(string))

	// A second location of A, reached only by its own user.
	l2 := s.must(t, "POST", "/admin/v1/merchants/{mid}/locations", `{"name":"Second"}`, "{admin}", nil)
	s.forbid(l2["ticket_hash_key"].(string))
	s.set("{loc2}", l2["id"].(string))
	u2 := s.must(t, "POST", "/admin/v1/merchants/{mid}/users", `{"username":"second","primary_location_id":"{loc2}"}`, "{admin}", nil)
	s.forbid(u2["user_api_key"].(string))
	s.set("{user2}", u2["id"].(string))
	s.set("{userKey2}", u2["user_api_key"].(string))
	f2 := map[string]string{"developer-id": "{dev}", "user-id": "{user2}", "user-api-key": "{userKey2}"}
	s.set("{vault2}", s.must(t, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc2}","payment_method":"cc","account_number":"5454545454545454","exp_date":"1228","account_vault_api_id":"Card2"}}`, "", f2)["accountvault"].(map[string]any)["id"].(string))
	s.set("{contact2}", s.must(t, "POST", "/v2/contacts", `{"contact":{"location_id":"{loc2}","last_name":"Second"}}`, "", f2)["contact"].(map[string]any)["id"].(string))
	s.set("{sale2}", s.must(t, "POST", "/v2/transactions", `{"transaction":{"location_id":"{loc2}","action":"sale","payment_method":"cc","transaction_amount":"2.00","account_number":"4111111111111111","exp_date":"1228"}}`, "", f2)["transaction"].(map[string]any)["id"].(string))
	s.set("{ticket2}", s.must(t, "POST", "/v2/cardtickets", `{"cardticket":{"location_id":"{loc2}","account_number":"4012888888881881","exp_date":"1230"}}`, "", f2)["cardticket"].(map[string]any)["id"].(string))
	s.forbid("4111111111111111", "5200400000000009", "5454545454545454", "4012888888881881", "3366570418", "55779911", "44889922", "988948193", "700953657", "DE89370400440532013000")
}

// fortisAuth is the sandbox merchant's user credentials.
func (s *badServer) fortisAuth() map[string]string {
	return map[string]string{"developer-id": "{dev}", "user-id": "{user}", "user-api-key": "{userKey}"}
}

// check sends c and checks its status, its API's envelope and the documented code.
// fortisPath reports whether the Fortis API answers path p: its first segment, after any
// empty ones, is v2 in any case (//v2/..., /V2/... get its 404).
func fortisPath(p string) bool {
	first, _, _ := strings.Cut(strings.TrimLeft(p, "/"), "/")
	first, _, _ = strings.Cut(first, "?")
	return strings.EqualFold(first, "v2")
}

func (s *badServer) check(t *testing.T, c badCase) {
	t.Helper()
	status, header, raw := s.send(t, c.method, c.path, c.body, c.auth, c.header)
	if status >= 500 {
		t.Fatalf("server error %d: %s", status, raw)
	}
	if status != c.status {
		t.Fatalf("status %d, want %d: %s", status, c.status, raw)
	}
	switch {
	case fortisPath(c.path):
		if ct := header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if d := cmp.Diff(s.rep.Replace(c.fortis), string(raw)); d != "" {
			t.Errorf("body (-want +got)\n%s", d)
		}
	case strings.HasPrefix(c.path, "/admin/v1"):
		var b struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(raw, &b); err != nil || b.Error.Code != c.code || adminCodes[c.code] != status || b.Error.Message == "" {
			t.Errorf("want admin code %s, got %s", c.code, raw)
		}
		if header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type %q", header.Get("Content-Type"))
		}
	default:
		var b struct {
			Error struct {
				Code, Message string
				FieldErrors   []struct{ Field, Error string }
				Links         []struct{ Rel, Href string }
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatalf("not JSON: %s", raw)
		}
		e := b.Error
		want, ok := paysafeCodes[c.code]
		if e.Code != c.code || !ok || want.status != status && !(c.code == "5023" && status == 413) {
			t.Fatalf("code %q, want %q: %s", e.Code, c.code, raw)
		}
		if e.Message != want.message && !strings.HasPrefix(e.Message, want.message+": ") && !strings.HasPrefix(e.Message, want.message+" - ") {
			t.Errorf("message %q", e.Message)
		}
		if len(e.Links) == 0 || e.Links[0].Rel != "errorinfo" || !strings.HasSuffix(e.Links[0].Href, "#ErrorCode"+c.code) {
			t.Errorf("links %v", e.Links)
		}
		if header.Get("X-Application-Status-Code") != c.code || header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", header)
		}
		if status == 401 && header.Get("WWW-Authenticate") != `Basic realm="authSecurity"` {
			t.Errorf("401 without WWW-Authenticate")
		}
		if c.fields != nil {
			var got []string
			for _, fe := range e.FieldErrors {
				got = append(got, fe.Field+": "+fe.Error)
			}
			slices.Sort(got)
			want := slices.Clone(c.fields)
			slices.Sort(want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("fieldErrors (-want +got)\n%s", d)
			}
		}
	}
}

// TestBadInputMatrix runs the matrix on SQLite and on PostgreSQL.
func TestBadInputMatrix(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := mustBadServer(t, engine == "postgres")
			s.fixtures(t)
			cases := badCases()
			counts := map[string]int{}
			db := s.main.Store.DB()
			// Nothing but the requests writes while the matrix runs, so each case's "after"
			// is the next one's "before".
			last := storetest.MustSnapshot(t, db)
			for _, c := range cases {
				api := "paysafe"
				switch {
				case fortisPath(c.path):
					api = "fortis"
				case strings.HasPrefix(c.path, "/admin/v1"):
					api = "admin"
				case strings.HasPrefix(c.path, "/cardpayments"):
					api = "cardpayments"
				}
				counts[api]++
				t.Run(api+"/"+c.name, func(t *testing.T) {
					// The codes are digits: the query needs no placeholder (whose syntax differs).
					failed := "SELECT * FROM transactions WHERE status = 'FAILED' AND error_code = '" + c.code + "'"
					notFailed := "SELECT * FROM transactions WHERE status <> 'FAILED'"
					before := last
					nBefore, _ := storetest.MustDigest(t, db, failed)
					_, okBefore := storetest.MustDigest(t, db, notFailed)
					s.check(t, c)
					after := storetest.MustSnapshot(t, db)
					last = after
					var except []string
					if c.stored && api == "fortis" {
						// §2.5: a failed run_avs stores its avsonly transaction, and nothing else.
						except = []string{"transactions", "audit_log", "audit_heads"}
						if after.Rows["transactions"] != before.Rows["transactions"]+1 {
							t.Errorf("transactions %d → %d, want the avsonly one", before.Rows["transactions"], after.Rows["transactions"])
						}
					} else if c.stored {
						except = []string{"transactions", "audit_log", "audit_heads"}
						if n, _ := storetest.MustDigest(t, db, failed); n != nBefore+1 {
							t.Errorf("the refused payment was not stored FAILED with error %s (%d → %d)", c.code, nBefore, n)
						}
						if _, okAfter := storetest.MustDigest(t, db, notFailed); okAfter != okBefore {
							t.Errorf("a refused payment changed a transaction that is not FAILED")
						}
						if after.Rows["transactions"] != before.Rows["transactions"]+1 {
							t.Errorf("transactions %d → %d, want one more", before.Rows["transactions"], after.Rows["transactions"])
						}
					}
					if ch := before.Changed(after, except...); len(ch) > 0 {
						t.Errorf("a refused request changed %v", ch)
					}
				})
			}
			total := 0
			for _, n := range counts {
				total += n
			}
			t.Logf("%d malformed requests: %v", total, counts)
			if total < 300 {
				t.Errorf("only %d cases", total)
			}
		})
	}
}

// badCases is the matrix.
func badCases() []badCase {
	var cs []badCase
	add := func(c ...badCase) { cs = append(cs, c...) }
	const big = 1<<20 + 10
	oversize := `{"x":"` + strings.Repeat("a", big) + `"}`
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	ps, sut := "{ps}", "{sutKey}"
	prof, profB := "/customervault/v1/profiles/{profile}", "/customervault/v1/profiles/{profileB}"
	acct, acctB := "/cardpayments/v1/accounts/{acct}", "/cardpayments/v1/accounts/{acctB}"

	// Paysafe: credentials on representative routes (§1.2).
	for _, r := range []struct{ method, path, body string }{
		{"GET", prof, ""}, {"POST", "/customervault/v1/profiles", `{"merchantCustomerId":"new","locale":"en_US"}`},
		{"PUT", prof, `{"merchantCustomerId":"mcid","locale":"en_US"}`}, {"DELETE", prof, ""},
		{"POST", prof + "/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2040}}`},
		{"GET", prof + "/cards/{card}", ""}, {"DELETE", prof + "/achbankaccounts/{ach}", ""}, {"GET", prof + "/mandates/{mandate}", ""},
		{"POST", acct + "/auths", `{"merchantRefNum":"x","amount":1,"card":{"paymentToken":"{cardToken}"}}`},
		{"GET", acct + "/auths?merchantRefNum=ref-auth", ""}, {"POST", acct + "/settlements/{settlement}/refunds", `{"merchantRefNum":"r","amount":1}`},
	} {
		for _, a := range []struct {
			name, auth, code string
			status           int
		}{
			{"no-credentials", "", "5280", 401},
			{"bearer", "Bearer abc", "5280", 401},
			{"digest", `Digest username="x"`, "5280", 401},
			{"undecodable", "Basic !!!notbase64", "5279", 401},
			{"empty", "Basic Og==", "5279", 401},
			{"no-colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("justakey")), "5279", 401},
			{"unknown-key", basicAuth("key_unknown", "secret"), "5279", 401},
			{"wrong-secret", basicAuth("{keyID}", "wrong-secret"), "5279", 401},
			{"sut-key", sut, "5270", 403},
		} {
			add(badCase{name: "auth-" + a.name + "/" + r.method + r.path, method: r.method, path: r.path, body: r.body, auth: a.auth, status: a.status, code: a.code})
		}
	}
	// Paysafe: unknown routes (5273) and wrong methods (5281).
	for _, p := range []string{"/customervault/v2/profiles", "/customervault/v1/nothing", prof + "/nothing", prof + "/cards/{card}/extra",
		acct + "/nothing", "/cardpayments/v2/accounts/{acct}/auths", "/", "/v1/profiles", "/adminx", "/customervault/v1/profiles/{profile}/mandates"} {
		add(badCase{name: "unknown-route" + p, method: "GET", path: p, auth: ps, status: 404, code: "5273"})
	}
	for _, r := range []struct{ method, path string }{
		{"DELETE", "/customervault/v1/profiles"}, {"PATCH", prof}, {"POST", prof}, {"PUT", "/customervault/v1/profiles"},
		{"PATCH", prof + "/cards/{card}"}, {"POST", prof + "/addresses/{address}"}, {"GET", "/customervault/v1/singleusetokens"},
		{"DELETE", acct + "/auths/{auth}"}, {"POST", acct + "/settlements/{settlement}"}, {"PUT", acct + "/verifications"},
		{"DELETE", acct + "/refunds/{refund}"}, {"POST", "/customervault/monitor"},
	} {
		add(badCase{name: "wrong-method/" + r.method + r.path, method: r.method, path: r.path, auth: ps, status: 405, code: "5281"})
	}
	// Paysafe: malformed bodies on every create and update route.
	type route struct{ method, path string }
	creates := []route{
		{"POST", "/customervault/v1/profiles"}, {"POST", prof + "/addresses"}, {"POST", prof + "/cards"},
		{"POST", prof + "/achbankaccounts"}, {"POST", prof + "/bacsbankaccounts"}, {"POST", prof + "/eftbankaccounts"},
		{"POST", prof + "/sepabankaccounts"}, {"POST", prof + "/bacsbankaccounts/{bacs}/mandates"},
		{"POST", "/customervault/v1/singleusetokens"}, {"POST", "/customervault/v1/achsingleusetokens"}, {"POST", "/customervault/v1/eftsingleusetokens"},
	}
	updates := []route{
		{"PUT", prof}, {"PUT", prof + "/addresses/{address}"}, {"PUT", prof + "/cards/{card}"}, {"PUT", prof + "/achbankaccounts/{ach}"},
		{"PUT", prof + "/bacsbankaccounts/{bacs}"}, {"PUT", prof + "/eftbankaccounts/{eft}"}, {"PUT", prof + "/sepabankaccounts/{sepa}"},
		{"PUT", prof + "/mandates/{mandate}"},
	}
	bodies := []struct{ name, body string }{
		{"bad-json", `{"merchantCustomerId":`}, {"unquoted-key", `{merchantCustomerId:"x"}`}, {"array", `[{"country":"US"}]`},
		{"string", `"x"`}, {"number", `42`}, {"null", `null`}, {"trailing-data", `{"country":"US"}{}`},
		{"invalid-utf8", "{\"country\":\"U\xffS\"}"}, {"nan", `{"amount":NaN}`}, {"infinity", `{"amount":Infinity}`},
		{"single-quotes", `{'country':'US'}`}, {"deep-nesting", `{"x":` + deep + `}`}, {"comment", "{\"country\":\"US\" /* c */}"},
	}
	for _, r := range append(slices.Clone(creates), updates...) {
		for _, b := range bodies {
			add(badCase{name: b.name + "/" + r.method + r.path, method: r.method, path: r.path, body: b.body, auth: ps, status: 400, code: "5023"})
		}
		add(badCase{name: "oversize/" + r.method + r.path, method: r.method, path: r.path, body: oversize, auth: ps, status: 413, code: "5023"})
	}
	// Paysafe: wrong types, missing and extra fields, huge and negative numbers (§1.4, §3).
	for _, v := range []struct {
		name, method, path, body string
		fields                   []string
	}{
		{"empty-body", "POST", "/customervault/v1/profiles", ``, []string{"merchantCustomerId: may not be empty", "locale: may not be empty"}},
		{"empty-object", "POST", "/customervault/v1/profiles", `{}`, []string{"merchantCustomerId: may not be empty", "locale: may not be empty"}},
		{"only-unknown-fields", "POST", "/customervault/v1/profiles", `{"colour":"red","id":"x","status":"ACTIVE"}`, []string{"merchantCustomerId: may not be empty", "locale: may not be empty"}},
		{"object-for-string", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":{"a":1},"locale":"en_US"}`, []string{"merchantCustomerId: Invalid value"}},
		{"array-for-string", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":["a"],"locale":"en_US"}`, []string{"merchantCustomerId: Invalid value"}},
		{"number-locale", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n1","locale":5}`, []string{"locale: Invalid Locale"}},
		{"blank-mcid", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"","locale":"en_US"}`, []string{"merchantCustomerId: may not be empty", "merchantCustomerId: size must be between 1 and 100"}},
		{"long-mcid", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"` + strings.Repeat("m", 101) + `","locale":"en_US"}`, []string{"merchantCustomerId: size must be between 1 and 100"}},
		{"long-name", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n2","locale":"en_US","firstName":"` + strings.Repeat("é", 81) + `"}`, []string{"firstName: size must be between 0 and 80"}},
		{"bad-email", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n3","locale":"en_US","email":"john.@smith@somedomain.com"}`, []string{"email: not a well-formed email address"}},
		{"bad-gender", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n4","locale":"en_US","gender":"X"}`, []string{"gender: Invalid Gender"}},
		{"bad-ip", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n5","locale":"en_US","ip":"999.1.1.1"}`, []string{"ip: Invalid IP Address"}},
		{"dob-string", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n6","locale":"en_US","dateOfBirth":"1990-12-27"}`, []string{"dateOfBirth: Invalid value"}},
		{"dob-negative-year", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n7","locale":"en_US","dateOfBirth":{"year":-1990,"month":12,"day":27}}`, []string{"dateOfBirth: Invalid Date of Birth"}},
		{"dob-huge-day", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n8","locale":"en_US","dateOfBirth":{"year":1990,"month":12,"day":99999999999999999999}}`, []string{"dateOfBirth.day: Invalid value"}},
		{"nul-in-string", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"a\u0000b","locale":"en_US"}`, []string{"merchantCustomerId: Invalid value"}},
		{"nested-card-bad", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n9","locale":"en_US","card":{"cardNum":"4111111111111112","cardExpiry":{"month":12,"year":2050}}}`, []string{"card.cardNum: Luhn checksum failed"}},
		{"nested-card-no-country", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"n10","locale":"en_US","card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050},"billingAddress":{"zip":"1"}}}`, []string{"card.billingAddress.country: may not be empty"}},
		{"put-missing-locale", "PUT", prof, `{"merchantCustomerId":"mcid"}`, []string{"locale: may not be empty"}},
		{"address-missing-country", "POST", prof + "/addresses", `{"zip":"10014"}`, []string{"country: may not be empty"}},
		{"address-bad-country", "POST", prof + "/addresses", `{"country":"XX"}`, []string{"country: Invalid Country"}},
		{"address-number-country", "POST", prof + "/addresses", `{"country":12}`, []string{"country: Invalid Country"}},
		{"address-long-zip", "POST", prof + "/addresses", `{"country":"US","zip":"12345678901"}`, []string{"zip: size must be between 0 and 10"}},
		{"address-bool-default", "PUT", prof + "/addresses/{address}", `{"country":"US","defaultShippingAddressIndicator":"maybe"}`, []string{"defaultShippingAddressIndicator: Invalid value"}},
		{"card-missing-all", "POST", prof + "/cards", `{}`, []string{"cardNum: may not be empty", "cardExpiry: may not be null"}},
		{"card-spaces", "POST", prof + "/cards", `{"cardNum":"4111 1111 1111 1111","cardExpiry":{"month":12,"year":2050}}`, []string{"cardNum: must contain only digits"}},
		{"card-luhn", "POST", prof + "/cards", `{"cardNum":"4111111111111112","cardExpiry":{"month":12,"year":2050}}`, []string{"cardNum: Luhn checksum failed"}},
		{"card-short", "POST", prof + "/cards", `{"cardNum":"41112","cardExpiry":{"month":12,"year":2050}}`, []string{"cardNum: size must be between 12 and 20", "cardNum: Luhn checksum failed"}},
		{"card-month-13", "POST", prof + "/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":13,"year":2050}}`, []string{"cardExpiry.month: must be between 1 and 12"}},
		{"card-month-negative", "POST", prof + "/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":-1,"year":2050}}`, []string{"cardExpiry.month: must be between 1 and 12"}},
		{"card-year-huge", "POST", prof + "/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":1e400}}`, []string{"cardExpiry.year: Invalid value"}},
		{"card-year-20-digits", "POST", prof + "/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":99999999999999999999}}`, []string{"cardExpiry.year: Invalid value"}},
		{"card-year-fraction", "POST", prof + "/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":1.5,"year":2050}}`, []string{"cardExpiry.month: Invalid value"}},
		{"card-expiry-string", "POST", prof + "/cards", `{"cardNum":"4111111111111111","cardExpiry":"12/50"}`, []string{"cardExpiry: Invalid value"}},
		{"card-number-huge-exponent", "POST", prof + "/cards", `{"cardNum":4e999,"cardExpiry":{"month":1,"year":2050}}`, []string{"cardNum: Invalid value"}},
		{"card-bool", "POST", prof + "/cards", `{"cardNum":true,"cardExpiry":{"month":1,"year":2050}}`, []string{"cardNum: must contain only digits"}},
		{"put-card-no-expiry", "PUT", prof + "/cards/{card}", `{"holderName":"x"}`, []string{"cardExpiry: may not be null"}},
		{"ach-bad", "POST", prof + "/achbankaccounts", `{"accountHolderName":"X","accountNumber":"abc","routingNumber":"12345678","accountType":"BROKERAGE","billingAddressId":"{address}"}`, []string{"accountNumber: Invalid account number", "routingNumber: Invalid routing number", "accountType: Invalid Account Type"}},
		{"ach-missing", "POST", prof + "/achbankaccounts", `{"accountHolderName":"X","accountType":"CHECKING","billingAddressId":"{address}"}`, []string{"accountNumber: may not be empty", "routingNumber: may not be empty"}},
		{"bacs-bad", "POST", prof + "/bacsbankaccounts", `{"accountHolderName":"X","accountNumber":"12345678901","sortCode":"12-34","billingAddressId":"{address}"}`, []string{"accountNumber: Invalid account number", "sortCode: Invalid sort code"}},
		{"eft-bad", "POST", prof + "/eftbankaccounts", `{"accountHolderName":"X","accountNumber":"12345","transitNumber":"1234","institutionId":"12","billingAddressId":"{address}"}`, []string{"transitNumber: Invalid transit number", "institutionId: Invalid institution ID"}},
		{"sepa-bad", "POST", prof + "/sepabankaccounts", `{"accountHolderName":"X","iban":"DE00370400440532013000","bic":"XXXX","billingAddressId":"{address}"}`, []string{"iban: Invalid IBAN", "bic: Invalid BIC"}},
		{"mandate-long-reference", "POST", prof + "/bacsbankaccounts/{bacs}/mandates", `{"reference":"` + strings.Repeat("r", 36) + `"}`, []string{"reference: size must be between 1 and 35"}},
		{"mandate-no-reference", "POST", prof + "/sepabankaccounts/{sepa}/mandates", `{}`, []string{"reference: may not be empty"}},
		{"mandate-activate", "PUT", prof + "/mandates/{mandate}", `{"status":"ACTIVE"}`, []string{"status: Invalid Status"}},
		{"sut-no-card", "POST", "/customervault/v1/singleusetokens", `{}`, []string{"card: may not be null"}},
		{"sut-bad-cvv", "POST", "/customervault/v1/singleusetokens", `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2050},"cvv":"12345"}}`, []string{"card.cvv: size must be between 3 and 4"}},
	} {
		add(badCase{name: "invalid/" + v.name, method: v.method, path: v.path, body: v.body, auth: ps, status: 400, code: "5068", fields: v.fields})
	}
	add(badCase{name: "brand/unknown-brand", method: "POST", path: prof + "/cards", body: `{"cardNum":"6200000000000005","cardExpiry":{"month":1,"year":2050}}`, auth: ps, status: 400, code: "7508", fields: []string{"cardNum: Invalid card number or brand"}})
	add(badCase{name: "conflict/duplicate-card", method: "POST", path: prof + "/cards", body: `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2051}}`, auth: ps, status: 409, code: "7503"})
	add(badCase{name: "conflict/duplicate-mcid", method: "POST", path: "/customervault/v1/profiles", body: `{"merchantCustomerId":"mcid","locale":"en_US"}`, auth: ps, status: 409, code: "7505"})
	add(badCase{name: "lookup/missing-mcid", method: "GET", path: "/customervault/v1/profiles", auth: ps, status: 400, code: "5068", fields: []string{"merchantCustomerId: may not be empty"}})
	add(badCase{name: "lookup/unknown-mcid", method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=nope", auth: ps, status: 404, code: "5269"})
	add(badCase{name: "lookup/pan-as-mcid", method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=4111111111111111", auth: ps, status: 404, code: "5269"})
	for _, id := range []string{"%00", "%FF%FE", "4111111111111111", strings.Repeat("a", 5000), "%20", "C%00"} {
		add(badCase{name: "odd-id/" + id[:min(len(id), 12)], method: "GET", path: "/customervault/v1/profiles/" + id, auth: ps, status: 404, code: "5269"})
	}
	// A dot segment is cleaned away (the path is then unknown); an encoded slash stays inside
	// its segment, an unknown id.
	add(badCase{name: "odd-id/dot-dot", method: "GET", path: "/customervault/v1/profiles/..", auth: ps, status: 404, code: "5273"})
	for _, p := range []string{"//customervault/v1/profiles", "/customervault/./v1/profiles", "/customervault/v1/profiles/../x", prof + "/cards/..", "/customervault//v1/profiles"} {
		add(badCase{name: "odd-path/" + p, method: "GET", path: p, auth: ps, status: 404, code: "5273"})
	}
	add(badCase{name: "odd-id/encoded-slash", method: "GET", path: "/customervault/v1/profiles/%2F", auth: ps, status: 404, code: "5269"})
	// A bank account number or an IBAN sent as an id: 404, and neither the answer nor the
	// access log repeats it (the log capture fails the test on an IBAN or the forbidden number).
	add(badCase{name: "odd-id/iban", method: "GET", path: prof + "/sepabankaccounts/NL91ABNA0417164300", auth: ps, status: 404, code: "5269"})
	add(badCase{name: "odd-id/account-number", method: "DELETE", path: prof + "/achbankaccounts/988948193", auth: ps, status: 404, code: "5269"})
	add(badCase{name: "odd-id/encoded-slash-delete", method: "DELETE", path: "/customervault/v1/profiles/a%2F..%2F{profile}", auth: ps, status: 404, code: "5269"})

	// Paysafe: another merchant's ids and tokens behave as nonexistent (§1.2).
	for _, r := range []struct{ method, path, body string }{
		{"GET", profB, ""}, {"PUT", profB, `{"merchantCustomerId":"x","locale":"en_US"}`}, {"DELETE", profB, ""},
		{"POST", profB + "/addresses", `{"country":"US"}`}, {"GET", profB + "/addresses/{addressB}", ""},
		{"PUT", profB + "/addresses/{addressB}", `{"country":"US"}`}, {"DELETE", profB + "/addresses/{addressB}", ""},
		{"GET", prof + "/addresses/{addressB}", ""}, {"POST", profB + "/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2050}}`},
		{"GET", profB + "/cards/{cardB}", ""}, {"GET", prof + "/cards/{cardB}", ""}, {"PUT", prof + "/cards/{cardB}", `{"cardExpiry":{"month":1,"year":2050}}`},
		{"DELETE", prof + "/cards/{cardB}", ""}, {"GET", prof + "/achbankaccounts/{achB}", ""}, {"PUT", prof + "/achbankaccounts/{achB}", `{"accountHolderName":"x","billingAddressId":"{address}","accountType":"CHECKING"}`},
		{"DELETE", prof + "/achbankaccounts/{achB}", ""}, {"GET", prof + "/bacsbankaccounts/{bacsB}", ""}, {"DELETE", prof + "/eftbankaccounts/{eftB}", ""},
		{"GET", prof + "/sepabankaccounts/{sepaB}", ""}, {"GET", prof + "/mandates/{mandateB}", ""}, {"PUT", prof + "/mandates/{mandateB}", `{"status":"CANCELLED"}`},
		{"DELETE", prof + "/mandates/{mandateB}", ""}, {"POST", prof + "/bacsbankaccounts/{bacsB}/mandates", `{"reference":"x"}`},
		{"GET", profB + "/mandates/{mandateB}", ""}, {"POST", profB + "/sepabankaccounts", `{"accountHolderName":"x","iban":"DE89370400440532013000","billingAddressId":"{addressB}"}`},
		{"GET", prof + "/cards/{card}x", ""}, {"GET", "/customervault/v1/profiles/{cardToken}", ""},
	} {
		add(badCase{name: "foreign-id/" + r.method + r.path, method: r.method, path: r.path, body: r.body, auth: ps, status: 404, code: "5269"})
	}
	add(badCase{name: "foreign-id/lookup-other-mcid", method: "GET", path: "/customervault/v1/profiles?merchantCustomerId=mcidB", auth: ps, status: 404, code: "5269"})
	for _, v := range []struct{ name, method, path, body, field string }{
		{"profile-card-sut", "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"f1","locale":"en_US","card":{"singleUseToken":"{sutB}"}}`, "card.singleUseToken"},
		{"card-sut", "POST", prof + "/cards", `{"singleUseToken":"{sutB}"}`, "singleUseToken"},
		{"ach-sut", "POST", prof + "/achbankaccounts", `{"singleUseToken":"{sutachB}","billingAddressId":"{address}"}`, "singleUseToken"},
		{"card-sut-is-a-card-token", "POST", prof + "/cards", `{"singleUseToken":"{cardToken}"}`, "singleUseToken"},
	} {
		add(badCase{name: "foreign-token/" + v.name, method: v.method, path: v.path, body: v.body, auth: ps, status: 400, code: "5068",
			fields: []string{v.field + ": The specified value does not exist in the system."}})
	}
	for _, v := range []struct{ name, method, path, body string }{
		{"card-billing-address", "POST", prof + "/cards", `{"cardNum":"4012888888881881","cardExpiry":{"month":1,"year":2050},"billingAddressId":"{addressB}"}`},
		{"ach-billing-address", "POST", prof + "/achbankaccounts", `{"accountHolderName":"X","accountNumber":"1234567","routingNumber":"211589828","accountType":"CHECKING","billingAddressId":"{addressB}"}`},
		{"put-card-billing-address", "PUT", prof + "/cards/{card}", `{"cardExpiry":{"month":12,"year":2050},"billingAddressId":"{addressB}"}`},
	} {
		add(badCase{name: "foreign-address/" + v.name, method: v.method, path: v.path, body: v.body, auth: ps, status: 400, code: "7511",
			fields: []string{"billingAddressId: The specified value does not exist in the system."}})
	}

	// Card payments: malformed requests. Those that reach validation are stored FAILED (§2.12).
	for _, v := range []struct {
		name, body, code string
		fields           []string
	}{
		{"no-fields", `{}`, "5068", []string{"merchantRefNum: may not be empty", "amount: may not be null", "card: may not be null"}},
		{"negative-amount", `{"merchantRefNum":"m1","amount":-1,"card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"amount: must be greater than or equal to 1"}},
		{"zero-amount", `{"merchantRefNum":"m2","amount":0,"card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"amount: must be greater than or equal to 1"}},
		{"huge-amount", `{"merchantRefNum":"m3","amount":100000000,"card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"amount: must be less than or equal to 99999999"}},
		{"exponent-amount", `{"merchantRefNum":"m4","amount":1e400,"card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"amount: Invalid value"}},
		{"fraction-amount", `{"merchantRefNum":"m5","amount":10.5,"card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"amount: Invalid value"}},
		{"string-nan-amount", `{"merchantRefNum":"m6","amount":"NaN","card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"amount: Invalid value"}},
		{"string-infinity-amount", `{"merchantRefNum":"m7","amount":"Infinity","card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"amount: Invalid value"}},
		{"long-ref", `{"merchantRefNum":"` + strings.Repeat("r", 256) + `","amount":1,"card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"merchantRefNum: size must be between 1 and 255"}},
		// Stored FAILED all the same: an incompressible 3,000-character reference would not fit
		// PostgreSQL's index on references.
		{"long-random-ref", `{"merchantRefNum":"` + noise(3000) + `","amount":1,"card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"merchantRefNum: size must be between 1 and 255"}},
		{"card-not-object", `{"merchantRefNum":"m8","amount":1,"card":"{cardToken}"}`, "5068", []string{"card: Invalid value"}},
		{"settle-not-bool", `{"merchantRefNum":"m9","amount":1,"settleWithAuth":"maybe","card":{"paymentToken":"{cardToken}"}}`, "5068", []string{"settleWithAuth: Invalid value"}},
		{"raw-card-luhn", `{"merchantRefNum":"m10","amount":1,"card":{"cardNum":"4111111111111112","cardExpiry":{"month":1,"year":2050}}}`, "5068", []string{"card.cardNum: Luhn checksum failed"}},
		{"no-brand", `{"merchantRefNum":"m11","amount":1,"card":{"cardNum":"6200000000000005","cardExpiry":{"month":1,"year":2050}}}`, "3002", nil},
		{"expired", `{"merchantRefNum":"m12","amount":1,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":1,"year":2001}}}`, "3006", nil},
		{"foreign-card-token", `{"merchantRefNum":"m13","amount":1,"card":{"paymentToken":"{cardTokenB}"}}`, "5500", nil},
		{"foreign-profile-token", `{"merchantRefNum":"m14","amount":1,"card":{"paymentToken":"{profileTokenB}"}}`, "5500", nil},
		{"foreign-sut", `{"merchantRefNum":"m15","amount":1,"card":{"paymentToken":"{sutB}"}}`, "5500", nil},
		{"bank-token", `{"merchantRefNum":"m16","amount":1,"card":{"paymentToken":"{sutach}"}}`, "5500", nil},
		{"made-up-token", `{"merchantRefNum":"m17","amount":1,"card":{"paymentToken":"Cxxxxxxxxxxxxxx"}}`, "5500", nil},
		{"declined", `{"merchantRefNum":"m18","amount":5,"card":{"paymentToken":"{cardToken}"}}`, "3009", nil},
		{"dup-check", `{"merchantRefNum":"ref-auth","amount":1,"dupCheck":true,"card":{"paymentToken":"{cardToken}"}}`, "5031", nil},
	} {
		add(badCase{name: "auth/" + v.name, method: "POST", path: acct + "/auths", body: v.body, auth: ps, status: paysafeCodes[v.code].status, code: v.code, fields: v.fields, stored: true})
	}
	for _, v := range []struct {
		name, path, body, code string
	}{
		{"settle-too-much", acct + "/auths/{auth}/settlements", `{"merchantRefNum":"s1","amount":999999}`, "3204"},
		{"settle-settled", acct + "/auths/{settlement}/settlements", `{"merchantRefNum":"s2","amount":1}`, "3203"},
		{"refund-too-much", acct + "/settlements/{settlement}/refunds", `{"merchantRefNum":"r1","amount":999999}`, "3402"},
		{"settle-no-ref", acct + "/auths/{auth}/settlements", `{"amount":1}`, "5068"},
		{"verify-no-card", acct + "/verifications", `{"merchantRefNum":"v1"}`, "5068"},
	} {
		add(badCase{name: "payment/" + v.name, method: "POST", path: v.path, body: v.body, auth: ps, status: paysafeCodes[v.code].status, code: v.code, stored: true})
	}
	for _, b := range bodies[:8] {
		add(badCase{name: "auth-body/" + b.name, method: "POST", path: acct + "/auths", body: b.body, auth: ps, status: 400, code: "5023"})
	}
	add(badCase{name: "auth-body/oversize", method: "POST", path: acct + "/auths", body: oversize, auth: ps, status: 413, code: "5023"})
	for _, v := range []struct{ name, method, path, body, code string }{
		{"foreign-account-auth", "POST", acctB + "/auths", `{"merchantRefNum":"x","amount":1,"card":{"paymentToken":"{cardToken}"}}`, "5270"},
		{"foreign-account-list", "GET", acctB + "/auths?merchantRefNum=ref-auth", "", "5270"},
		{"foreign-account-get", "GET", acctB + "/auths/{authB}", "", "5270"},
		{"unknown-account", "GET", "/cardpayments/v1/accounts/0000000000/auths?merchantRefNum=x", "", "5270"},
		{"foreign-auth", "GET", acct + "/auths/{authB}", "", "5269"},
		{"foreign-auth-settle", "POST", acct + "/auths/{authB}/settlements", `{"merchantRefNum":"x","amount":1}`, "5269"},
		{"foreign-auth-void", "POST", acct + "/auths/{authB}/voidauths", `{"merchantRefNum":"x","amount":1}`, "5269"},
		{"foreign-settlement", "GET", acct + "/settlements/{settlementB}", "", "5269"},
		{"foreign-settlement-refund", "POST", acct + "/settlements/{settlementB}/refunds", `{"merchantRefNum":"x","amount":1}`, "5269"},
		{"foreign-settlement-cancel", "PUT", acct + "/settlements/{settlementB}", `{"status":"CANCELLED"}`, "5269"},
		{"foreign-refund", "GET", acct + "/refunds/{refundB}", "", "5269"},
		{"foreign-refund-cancel", "PUT", acct + "/refunds/{refundB}", `{"status":"CANCELLED"}`, "5269"},
		{"foreign-void", "GET", acct + "/voidauths/{voidauthB}", "", "5269"},
		{"foreign-verification", "GET", acct + "/verifications/{verificationB}", "", "5269"},
		{"auth-as-settlement", "GET", acct + "/settlements/{auth}", "", "5269"},
		{"auth-is-never-held", "PUT", acct + "/auths/{auth}", `{"status":"COMPLETED"}`, "3031"},
		{"list-no-ref", "GET", acct + "/auths", "", "5068"},
		{"list-bad-date", "GET", acct + "/settlements?merchantRefNum=x&startDate=yesterday", "", "5068"},
		{"list-bad-limit", "GET", acct + "/refunds?merchantRefNum=x&limit=-5", "", "5068"},
		{"list-word-offset", "GET", acct + "/voidauths?merchantRefNum=x&offset=ten", "", "5068"},
		{"list-huge-limit", "GET", acct + "/verifications?merchantRefNum=x&limit=99999999999999999999", "", "5068"},
		{"cancel-bad-status", "PUT", acct + "/settlements/{settlement}", `{"status":"COMPLETED"}`, "5068"},
	} {
		add(badCase{name: "payment/" + v.name, method: v.method, path: v.path, body: v.body, auth: ps, status: paysafeCodes[v.code].status, code: v.code})
	}

	// Fortis: credentials (§1.2).
	fh := map[string]string{"developer-id": "{dev}", "user-id": "{user}", "user-api-key": "{userKey}"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	unauthorized := fortisError(401, "Your request was made with invalid credentials.")
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v2/accountvaults", ""}, {"POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`},
		{"GET", "/v2/accountvaults/{vault}", ""}, {"PUT", "/v2/accountvaults/{vault}", `{"accountvault":{"title":"x"}}`},
		{"DELETE", "/v2/accountvaults/{vault}", ""}, {"GET", "/v2/contacts", ""}, {"POST", "/v2/contacts", `{"contact":{"location_id":"{loc}","last_name":"x"}}`},
		{"GET", "/v2/locations/{loc}", ""}, {"GET", "/v2/accountvaults/{vault}/bininfo", ""},
		{"GET", "/v2/transactions", ""}, {"GET", "/v2/transactions/{sale}", ""},
		{"POST", "/v2/transactions", `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228"}}`},
	} {
		for _, a := range []struct {
			name   string
			header map[string]string
		}{
			{"none", nil},
			{"no-developer-id", with(fh, "developer-id", "")},
			{"wrong-key", with(fh, "user-api-key", "0123456789abcdef0123456789abcdef")},
			{"unknown-user", with(fh, "user-id", "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")},
			{"other-merchants-developer", with(fh, "developer-id", "{devB}")},
			{"other-merchants-key", with(fh, "user-api-key", "{userKeyB}")},
			{"basic-wrong", map[string]string{"developer-id": "{dev}", "Authorization": basicAuth("{user}", "nope")}},
			{"browser-credentials", map[string]string{"location-api-key": "{locKey}", "timestamp": "1", "hash-key": "00"}},
		} {
			add(badCase{name: "auth-" + a.name + "/" + r.method + r.path, method: r.method, path: r.path, body: r.body, header: a.header, status: 401, fortis: unauthorized})
		}
	}
	for _, h := range []map[string]string{
		{"location-api-key": "{locKey}", "timestamp": "1", "hash-key": "00"},
		{"location-api-key": "{locKey}", "timestamp": "abc", "hash-key": "00"},
		{"location-api-key": "nope", "timestamp": "1700000000", "hash-key": "00"},
		{"location-api-key": "{locKey}"},
		{"timestamp": "1", "hash-key": "00"},
	} {
		add(badCase{name: "auth-browser/" + strconv.Itoa(len(cs)), method: "POST", path: "/v2/cardtickets", body: `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230"}}`, header: h, status: 401, fortis: unauthorized})
	}
	// Fortis: routes and methods.
	// A filter of more values than a statement may bind is refused, not a server error.
	many := strings.TrimSuffix(strings.Repeat("a,", 1001), ",")
	for _, p := range []string{"/v2/accountvaults", "/v2/contacts", "/v2/transactions", "/v2/locations", "/v2/users", "/v2/producttransactions"} {
		add(badCase{name: "list-too-many-values" + p, method: "GET", path: p + "?id=" + many, header: fh, status: 422, fortis: `{"errors":{"id":["Id has more than 1000 values."]}}`})
	}
	add(badCase{name: "list-too-many-locations", method: "GET", path: "/v2/accountvaults?location_id=" + many, header: fh, status: 422, fortis: `{"errors":{"location_id":["Location Id has more than 1000 values."]}}`})
	for _, p := range []string{"/v2/nothing", "/v2", "/v2//accountvaults", "/v2/contacts/../accountvaults", "/v2/./accountvaults", "/v2/accountvaults/{vault}/nothing", "/v2/cardtickets/{ticket}", "/v2/tokens", "/v2/accountvaults/{vault}/bininfo/x", "/v2/recurrings", "/v2/contacts/{contact}/notes",
		"//v2/accountvaults", "//v2/accountvaults/{vault}", "/V2/accountvaults", "/V2", "//V2/contacts/{contact}"} {
		add(badCase{name: "unknown-route" + p, method: "GET", path: p, header: fh, status: 404, fortis: fortisError(404, "Page not found.")})
	}
	for _, r := range []struct{ method, path, allow string }{
		{"POST", "/v2/accountvaults/{vault}", "GET, PUT, DELETE"}, {"DELETE", "/v2/accountvaults", "GET, POST"}, {"PATCH", "/v2/accountvaults/{vault}", "GET, PUT, DELETE"},
		{"PUT", "/v2/accountvaults/{vault}/bininfo", "GET"}, {"POST", "/v2/locations", "GET"}, {"PUT", "/v2/locations/{loc}", "GET"},
		{"DELETE", "/v2/users/{user}", "GET"}, {"POST", "/v2/producttransactions", "GET"}, {"PUT", "/v2/contacts", "GET, POST"},
		{"GET", "/v2/cardtickets", "POST, OPTIONS"}, {"DELETE", "/v2/cardtickets", "POST, OPTIONS"}, {"POST", "/v2/contacts/{contact}", "GET, PUT, DELETE"},
		{"PUT", "/v2/transactions/{sale}", "GET"}, {"DELETE", "/v2/transactions/{sale}", "GET"}, {"POST", "/v2/transactions/{sale}", "GET"},
		{"DELETE", "/v2/transactions", "GET, POST"}, {"PUT", "/v2/transactions/{sale}/bininfo", "GET"},
	} {
		add(badCase{name: "wrong-method/" + r.method + r.path, method: r.method, path: r.path, header: fh, status: 405,
			fortis: fortisError(405, "Method Not Allowed. This URL can only handle the following request methods: "+r.allow+".")})
	}
	// Fortis: malformed bodies.
	badJSON := fortisError(400, "Invalid JSON data in request body: Syntax error.")
	for _, r := range []struct{ method, path, wrapper string }{
		{"POST", "/v2/accountvaults", "accountvault"}, {"PUT", "/v2/accountvaults/{vault}", "accountvault"}, {"POST", "/v2/contacts", "contact"},
		{"PUT", "/v2/contacts/{contact}", "contact"}, {"POST", "/v2/cardtickets", "cardticket"}, {"POST", "/v2/transactions", "transaction"},
	} {
		for _, b := range []struct{ name, body string }{
			{"bad-json", `{"` + r.wrapper + `":`}, {"array", `[{}]`}, {"wrapper-string", `{"` + r.wrapper + `":"x"}`}, {"wrapper-array", `{"` + r.wrapper + `":[]}`},
			{"trailing-data", `{"` + r.wrapper + `":{}} {}`}, {"invalid-utf8", "{\"" + r.wrapper + "\":{\"title\":\"\xff\"}}"},
			{"deep-nesting", `{"` + r.wrapper + `":{"x":` + deep + `}}`}, {"nan", `{"` + r.wrapper + `":{"title":NaN}}`},
		} {
			add(badCase{name: b.name + "/" + r.method + r.path, method: r.method, path: r.path, body: b.body, header: fh, status: 400, fortis: badJSON})
		}
		add(badCase{name: "oversize/" + r.method + r.path, method: r.method, path: r.path, body: oversize, header: fh, status: 413, fortis: fortisError(413, "Request body is too large.")})
	}
	// Fortis: validation (422, §1.4 templates).
	txn := func(fields string) string { return `{"transaction":{` + fields + `}}` }
	vaultBody := func(fields string) string {
		return `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"` + fields + `}}`
	}
	for _, v := range []struct{ name, method, path, body, errors string }{
		{"no-attributes", "POST", "/v2/accountvaults", `{}`, `{"account_number":["Account Number cannot be blank."],"location_id":["Location Id cannot be blank."],"payment_method":["Payment Method cannot be blank."]}`},
		{"letters-in-number", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111abcd11111111","exp_date":"1228"}}`, `{"account_number":["Account Number is invalid."]}`},
		{"luhn", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111112","exp_date":"1228"}}`, `{"account_number":["Account Number is invalid."]}`},
		{"unknown-brand", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"9111111111111111","exp_date":"1228"}}`, `{"account_number":["Account Number is invalid."]}`},
		{"month-13", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1328"}}`, `{"exp_date":["Exp Date is invalid."]}`},
		{"slash-expiry", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","account_number":"4111111111111111","exp_date":"12/28"}}`, `{"exp_date":["Exp Date should contain 4 characters."]}`},
		{"long-title", "POST", "/v2/accountvaults", vaultBody(`,"title":"` + strings.Repeat("t", 17) + `"`), `{"title":["Title should contain at most 16 characters."]}`},
		{"object-title", "POST", "/v2/accountvaults", vaultBody(`,"title":{"a":1}`), `{"title":["Title must be a string."]}`},
		{"float-title", "POST", "/v2/accountvaults", vaultBody(`,"title":1.5`), `{"title":["Title must be a string."]}`},
		{"huge-number-title", "POST", "/v2/accountvaults", vaultBody(`,"title":1e400`), `{"title":["Title must be a string."]}`},
		{"nul-title", "POST", "/v2/accountvaults", vaultBody(`,"title":"a\u0000b"`), `{"title":["Title is invalid."]}`},
		{"bad-state", "POST", "/v2/accountvaults", vaultBody(`,"billing_state":"FLA"`), `{"billing_state":["Billing State should contain 2 characters."]}`},
		{"bad-zip", "POST", "/v2/accountvaults", vaultBody(`,"billing_zip":"!!!!!"`), `{"billing_zip":["Billing Zip is invalid."]}`},
		{"bad-ssn4", "POST", "/v2/accountvaults", vaultBody(`,"ssn4":"12345"`), `{"ssn4":["Ssn4 should contain at most 4 characters."]}`},
		{"negative-terms", "POST", "/v2/accountvaults", vaultBody(`,"terms_agree":-1`), `{"terms_agree":["Terms Agree is invalid."]}`},
		{"bad-terms-ip", "POST", "/v2/accountvaults", vaultBody(`,"terms_agree_ip":"x.x.x.x"`), `{"terms_agree_ip":["Terms Agree Ip is invalid."]}`},
		{"bad-method", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"ck","account_number":"4111111111111111"}}`, `{"payment_method":["Payment Method is invalid."]}`},
		{"long-method", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cash","account_number":"4111111111111111"}}`, `{"payment_method":["Payment Method should contain at most 3 characters."]}`},
		{"ach-bad", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"ach","account_number":"700953657","routing":"07200032","account_type":"brokerage","is_company":"yes","account_holder_name":"x"}}`, `{"account_type":["Account Type is invalid."],"is_company":["Is Company must be either \"1\" or \"0\"."],"routing":["Routing should contain 9 characters."]}`},
		{"taken-api-id", "POST", "/v2/accountvaults", vaultBody(`,"account_vault_api_id":"Card1"`), `{"account_vault_api_id":["Account Vault Api Id \"Card1\" has already been taken."]}`},
		{"locked-number", "PUT", "/v2/accountvaults/{vault}", `{"accountvault":{"account_number":"4111111111111111"}}`, `{"account_number":["Account Number cannot be changed."]}`},
		{"clear-exp", "PUT", "/v2/accountvaults/{vault}", `{"accountvault":{"exp_date":null}}`, `{"exp_date":["Exp Date cannot be blank."]}`},
		{"contact-no-attributes", "POST", "/v2/contacts", `{"contact":{}}`, `{"location_id":["Location Id cannot be blank."],"last_name":["Last Name cannot be blank."]}`},
		{"contact-bad", "POST", "/v2/contacts", `{"contact":{"location_id":"{loc}","last_name":"x","email":"not-an-email","state":"FLA","home_phone":"123","date_of_birth":"1980-13-01","header_message_type":5,"email_trx_receipt":"maybe"}}`,
			`{"email":["Email is not a valid email address."],"state":["State should contain 2 characters."],"home_phone":["Home Phone should contain 10 characters."],"email_trx_receipt":["Email Trx Receipt must be either \"1\" or \"0\"."],"date_of_birth":["The format of Date Of Birth is invalid."],"header_message_type":["Header Message Type is invalid."]}`},
		{"contact-short-email", "POST", "/v2/contacts", `{"contact":{"location_id":"{loc}","last_name":"x","email":"a@b"}}`, `{"email":["Email should contain at least 5 characters."]}`},
		{"contact-taken-api-id", "POST", "/v2/contacts", `{"contact":{"location_id":"{loc}","last_name":"x","contact_api_id":"JS1"}}`, `{"contact_api_id":["Contact Api Id \"JS1\" has already been taken."]}`},
		{"contact-huge-balance", "POST", "/v2/contacts", `{"contact":{"location_id":"{loc}","last_name":"x","contact_balance":"1e400"}}`, `{"contact_balance":["Contact Balance is invalid."]}`},
		{"ticket-bad", "POST", "/v2/cardtickets", `{"cardticket":{"location_id":"{loc}","account_number":"4111111111111112","exp_date":"0000","cvv":"12"}}`, `{"account_number":["Account Number is invalid."],"exp_date":["Exp Date is invalid."],"cvv":["Cvv should contain at least 3 characters."]}`},
		{"txn-no-attributes", "POST", "/v2/transactions", `{"transaction":{}}`, `{"account_number":["Account Number cannot be blank."],"action":["Action cannot be blank."],"payment_method":["Payment Method cannot be blank."],"transaction_amount":["Transaction Amount cannot be blank."]}`},
		{"txn-bad-action", "POST", "/v2/transactions", txn(`"action":"capture","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228"`), `{"action":["Action is invalid."]}`},
		{"txn-word-amount", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"ten","account_number":"4111111111111111","exp_date":"1228"`), `{"transaction_amount":["Transaction Amount must be a number."]}`},
		{"txn-zero-amount", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"0.00","account_number":"4111111111111111","exp_date":"1228"`), `{"transaction_amount":["Transaction amount must be greater than zero for the following actions: [sale, authonly, authcomplete, authincrement, debit, credit, refund, tipadjust]"]}`},
		{"txn-negative-amount", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":-5,"account_number":"4111111111111111","exp_date":"1228"`), `{"transaction_amount":["Transaction amount must be greater than zero for the following actions: [sale, authonly, authcomplete, authincrement, debit, credit, refund, tipadjust]"]}`},
		{"txn-huge-amount", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"99999999999.00","account_number":"4111111111111111","exp_date":"1228"`), `{"transaction_amount":["Transaction Amount must be a number."]}`},
		{"txn-exponent-amount", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":1e400,"account_number":"4111111111111111","exp_date":"1228"`), `{"transaction_amount":["Transaction Amount must be a number."]}`},
		{"txn-no-source", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00"`), `{"account_number":["Account Number cannot be blank."]}`},
		{"txn-luhn", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111112","exp_date":"1228"`), `{"account_number":["Account Number is invalid."]}`},
		{"txn-ach-no-sec-code", "POST", "/v2/transactions", txn(`"action":"debit","payment_method":"ach","transaction_amount":"1.00","account_number":"700953657","routing":"072000326","account_type":"checking","account_holder_name":"x"`), `{"ach_sec_code":["ach_sec_code cannot be blank"]}`},
		{"txn-refund-no-original", "POST", "/v2/transactions", txn(`"action":"refund","payment_method":"cc","transaction_amount":"1.00"`), `{"previous_transaction_id":["Previous Transaction Id cannot be blank."]}`},
		{"txn-refund-too-much", "POST", "/v2/transactions", txn(`"action":"refund","payment_method":"cc","transaction_amount":"100.00","previous_transaction_id":"{sale}"`), `{"transaction_amount":["Transaction Amount is invalid."]}`},
		{"txn-taken-api-id", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228","transaction_api_id":"S1"`), `{"transaction_api_id":["Transaction Api Id \"S1\" has already been taken."]}`},
		{"txn-bad-order-num", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228","order_num":"!!"`), `{"order_num":["Order Num is invalid."]}`},
		{"ticket-no-location", "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230"}}`, `{"location_id":["Location Id cannot be blank."]}`},
	} {
		add(badCase{name: "invalid/" + v.name, method: v.method, path: v.path, body: v.body, header: fh, status: 422, fortis: `{"errors":` + v.errors + `}`})
	}
	// Fortis: another merchant's, or another location's, ids (§1.3: 404; bodies: §2.4 "is invalid.").
	f2 := map[string]string{"developer-id": "{dev}", "user-id": "{user2}", "user-api-key": "{userKey2}"}
	for _, r := range []struct {
		name, method, path, body string
		header                   map[string]string
		id                       string
	}{
		{"vault", "GET", "/v2/accountvaults/{vaultB}", "", fh, "{vaultB}"},
		{"vault-put", "PUT", "/v2/accountvaults/{vaultB}", `{"accountvault":{"title":"x"}}`, fh, "{vaultB}"},
		{"vault-delete", "DELETE", "/v2/accountvaults/{vaultB}", "", fh, "{vaultB}"},
		{"vault-bininfo", "GET", "/v2/accountvaults/{vaultB}/bininfo", "", fh, "{vaultB}"},
		{"gone-vault", "GET", "/v2/accountvaults/{goneVaultB}", "", fh, "{goneVaultB}"},
		{"contact", "GET", "/v2/contacts/{contactB}", "", fh, "{contactB}"},
		{"contact-put", "PUT", "/v2/contacts/{contactB}", `{"contact":{"last_name":"x"}}`, fh, "{contactB}"},
		{"contact-delete", "DELETE", "/v2/contacts/{contactB}", "", fh, "{contactB}"},
		{"location", "GET", "/v2/locations/{locB}", "", fh, "{locB}"},
		{"user", "GET", "/v2/users/{userB}", "", fh, "{userB}"},
		{"product-transaction", "GET", "/v2/producttransactions/{ptB}", "", fh, "{ptB}"},
		{"other-location-vault", "GET", "/v2/accountvaults/{vault2}", "", fh, "{vault2}"},
		{"other-location-vault-put", "PUT", "/v2/accountvaults/{vault2}", `{"accountvault":{"title":"x"}}`, fh, "{vault2}"},
		{"other-location-vault-delete", "DELETE", "/v2/accountvaults/{vault2}", "", fh, "{vault2}"},
		{"other-location-contact", "GET", "/v2/contacts/{contact2}", "", fh, "{contact2}"},
		{"other-location", "GET", "/v2/locations/{loc2}", "", fh, "{loc2}"},
		{"other-location-user", "GET", "/v2/users/{user2}", "", fh, "{user2}"},
		{"restricted-user-vault", "GET", "/v2/accountvaults/{vault}", "", f2, "{vault}"},
		{"restricted-user-contact-put", "PUT", "/v2/contacts/{contact}", `{"contact":{"last_name":"x"}}`, f2, "{contact}"},
		{"api-id-other-location", "GET", "/v2/accountvaults/Card2?api_id=1", "", fh, "Card2"},
		{"api-id-other-merchant", "GET", "/v2/contacts/JS1?api_id=1&location_id={locB}", "", fh, "JS1"},
		{"transaction", "GET", "/v2/transactions/{saleB}", "", fh, "{saleB}"},
		{"transaction-bininfo", "GET", "/v2/transactions/{saleB}/bininfo", "", fh, "{saleB}"},
		{"other-location-transaction", "GET", "/v2/transactions/{sale2}", "", fh, "{sale2}"},
		{"restricted-user-transaction", "GET", "/v2/transactions/{sale}", "", f2, "{sale}"},
	} {
		add(badCase{name: "foreign-id/" + r.name, method: r.method, path: r.path, body: r.body, header: r.header, status: 404, fortis: fortisError(404, "Object not found: "+r.id)})
	}
	for _, v := range []struct{ name, method, path, body, errors string }{
		{"list-other-location", "GET", "/v2/accountvaults?location_id={loc2}", "", `{"location_id":["location_id provided is not valid"]}`},
		{"list-other-merchant", "GET", "/v2/contacts?location_id={loc},{locB}", "", `{"location_id":["location_id provided is not valid"]}`},
		{"create-other-merchant-location", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{locB}","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`, `{"location_id":["location_id provided is not valid"]}`},
		{"create-other-location", "POST", "/v2/contacts", `{"contact":{"location_id":"{loc2}","last_name":"x"}}`, `{"location_id":["location_id provided is not valid"]}`},
		{"other-merchant-contact", "POST", "/v2/accountvaults", vaultBody(`,"contact_id":"{contactB}"`), `{"contact_id":["Contact Id is invalid."]}`},
		{"other-location-contact", "PUT", "/v2/accountvaults/{vault}", `{"accountvault":{"contact_id":"{contact2}"}}`, `{"contact_id":["Contact Id is invalid."]}`},
		{"other-merchant-ticket", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","ticket":"{ticketB}"}}`, `{"ticket":["Ticket is invalid."]}`},
		{"other-location-ticket", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","ticket":"{ticket2}"}}`, `{"ticket":["Ticket is invalid."]}`},
		{"other-merchant-vault-source", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_id":"{vaultB}"}}`, `{"previous_account_vault_id":["Previous Account Vault Id is invalid."]}`},
		{"other-location-vault-source", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_id":"{vault2}"}}`, `{"previous_account_vault_id":["Previous Account Vault Id is invalid."]}`},
		{"deleted-vault-source", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_id":"{goneVault}"}}`, `{"previous_account_vault_id":["Previous Account Vault Id is invalid."]}`},
		{"other-location-api-id-source", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_account_vault_api_id":"Card2"}}`, `{"previous_account_vault_api_id":["Previous Account Vault Api Id is invalid."]}`},
		{"txn-other-merchant-vault", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"{vaultB}"`), `{"account_vault_id":["Account Vault Id is invalid."]}`},
		{"txn-other-location-vault", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_vault_id":"{vault2}"`), `{"account_vault_id":["Account Vault Id is invalid."]}`},
		{"txn-other-merchant-ticket", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","ticket":"{ticketB}"`), `{"ticket":["Ticket is invalid."]}`},
		{"txn-refund-other-merchant", "POST", "/v2/transactions", txn(`"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"{saleB}"`), `{"previous_transaction_id":["Previous Transaction Id is invalid."]}`},
		{"txn-refund-other-location", "POST", "/v2/transactions", txn(`"action":"refund","payment_method":"cc","transaction_amount":"1.00","previous_transaction_id":"{sale2}"`), `{"previous_transaction_id":["Previous Transaction Id is invalid."]}`},
		{"txn-other-merchant-contact", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228","contact_id":"{contactB}"`), `{"contact_id":["Contact Id is invalid."]}`},
		{"txn-other-merchant-service", "POST", "/v2/transactions", txn(`"action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228","product_transaction_id":"{ptB}"`), `{"product_transaction_id":["Product Transaction Id is invalid."]}`},
		{"txn-other-merchant-location", "POST", "/v2/transactions", txn(`"location_id":"{locB}","action":"sale","payment_method":"cc","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1228"`), `{"location_id":["location_id provided is not valid"]}`},
		{"txn-list-other-location", "GET", "/v2/transactions?location_id={loc2}", "", `{"location_id":["location_id provided is not valid"]}`},
		{"vault-from-other-merchant-transaction", "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"{loc}","payment_method":"cc","previous_transaction_id":"{saleB}"}}`, `{"previous_transaction_id":["Previous Transaction Id is invalid."]}`},
		{"ticket-other-location", "POST", "/v2/cardtickets", `{"cardticket":{"location_id":"{locB}","account_number":"4111111111111111","exp_date":"1230"}}`, `{"location_id":["location_id provided is not valid"]}`},
	} {
		add(badCase{name: "foreign-id/" + v.name, method: v.method, path: v.path, body: v.body, header: fh, status: 422, fortis: `{"errors":` + v.errors + `}`})
	}
	add(badCase{name: "run-avs-denied", method: "POST", path: "/v2/accountvaults", body: vaultBody(`,"run_avs":true,"billing_zip":"32615"`), header: fh,
		status: 422, fortis: `{"errors":{"run_avs":["Account Verification failed"]}}`, stored: true})
	add(badCase{name: "gone/put", method: "PUT", path: "/v2/accountvaults/{goneVault}", body: `{"accountvault":{"title":"x"}}`, header: fh, status: 410, fortis: fortisError(410, "The record has been deleted.")})
	add(badCase{name: "gone/delete", method: "DELETE", path: "/v2/accountvaults/{goneVault}", header: fh, status: 410, fortis: fortisError(410, "The record has been deleted.")})
	add(badCase{name: "ach-bininfo", method: "GET", path: "/v2/accountvaults/{achVault}/bininfo", header: fh, status: 404, fortis: fortisError(404, "BIN info is not available for ach accounts.")})
	add(badCase{name: "ach-transaction-bininfo", method: "GET", path: "/v2/transactions/{achDebit}/bininfo", header: fh, status: 404, fortis: fortisError(404, "BIN info is not available for ach accounts.")})
	add(badCase{name: "pan-in-path", method: "GET", path: "/v2/accountvaults/4111111111111111", header: fh, status: 404, fortis: fortisError(404, "Object not found: ************1111")})
	add(badCase{name: "account-number-in-path", method: "GET", path: "/v2/accountvaults/988948193", header: fh, status: 404, fortis: fortisError(404, "Object not found: *****8193")})
	add(badCase{name: "iban-in-path", method: "GET", path: "/v2/contacts/NL91ABNA0417164300", header: fh, status: 404, fortis: fortisError(404, "Object not found: NL91**********4300")})
	add(badCase{name: "encoded-slash-id", method: "GET", path: "/v2/accountvaults/%2F?api_id=1", header: fh, status: 404, fortis: fortisError(404, "Object not found: /")})
	add(badCase{name: "encoded-slash-delete", method: "DELETE", path: "/v2/accountvaults/x%2F..%2F{vault}", header: fh, status: 404, fortis: fortisError(404, "Object not found: x/../{vault}")})

	// Admin API.
	adm := "{admin}"
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/admin/v1/merchants", ""}, {"POST", "/admin/v1/merchants", `{"name":"x"}`}, {"GET", "/admin/v1/merchants/{mid}", ""},
		{"POST", "/admin/v1/merchants/{mid}/locations", `{"name":"x"}`}, {"PUT", "/admin/v1/merchants/{mid}/allowed-origins", `{"allowed_origins":[]}`},
		{"POST", "/admin/v1/mandates/{mandate}/status", `{"status":"ACTIVE"}`},
	} {
		for _, a := range []struct{ name, auth string }{{"none", ""}, {"wrong", "Bearer nope"}, {"basic", basicAuth("admin", "e2e-admin-token-0123456789abcdef")}, {"paysafe-key", ps}} {
			add(badCase{name: "auth-" + a.name + "/" + r.method + r.path, method: r.method, path: r.path, body: r.body, auth: a.auth, status: 401, code: "unauthorized"})
		}
	}
	for _, p := range []string{"/admin/v1", "/admin/v1/nothing", "/admin/v1/merchants/{mid}/nothing", "/admin/v1/mandates"} {
		add(badCase{name: "unknown-route" + p, method: "GET", path: p, auth: adm, status: 404, code: "not_found"})
	}
	for _, r := range []struct{ method, path string }{{"DELETE", "/admin/v1/merchants"}, {"PUT", "/admin/v1/merchants/{mid}"}, {"GET", "/admin/v1/mandates/{mandate}/status"}, {"PATCH", "/admin/v1/merchants/{mid}/users/{user}"}} {
		add(badCase{name: "wrong-method/" + r.method + r.path, method: r.method, path: r.path, auth: adm, status: 405, code: "method_not_allowed"})
	}
	for _, r := range []string{"/admin/v1/merchants", "/admin/v1/merchants/{mid}/locations", "/admin/v1/merchants/{mid}/users"} {
		for _, b := range []struct{ name, body, code string }{
			{"bad-json", `{"name":`, "bad_json"}, {"trailing-data", `{} {}`, "bad_json"}, {"invalid-utf8", "{\"name\":\"\xff\"}", "bad_json"},
			{"unknown-field", `{"name":"x","colour":"red"}`, "invalid"}, {"wrong-type", `{"name":5}`, "invalid"}, {"nul", `{"name":"a\u0000"}`, "invalid"},
			{"array", `[]`, "invalid"}, {"deep-nesting", `{"name":` + deep + `}`, "bad_json"},
		} {
			add(badCase{name: b.name + "/POST" + r, method: "POST", path: r, body: b.body, auth: adm, status: 400, code: b.code})
		}
		add(badCase{name: "oversize/POST" + r, method: "POST", path: r, body: oversize, auth: adm, status: 413, code: "too_large"})
	}
	for _, v := range []struct {
		name, method, path, body, code string
		status                         int
	}{
		{"unknown-merchant", "GET", "/admin/v1/merchants/nope", "", "not_found", 404},
		{"unknown-merchant-location", "POST", "/admin/v1/merchants/nope/locations", `{"name":"x"}`, "not_found", 404},
		{"unknown-location", "GET", "/admin/v1/merchants/{mid}/locations/nope", "", "not_found", 404},
		{"other-merchants-location", "GET", "/admin/v1/merchants/{mid}/locations/{locB}", "", "not_found", 404},
		{"other-merchants-user", "GET", "/admin/v1/merchants/{mid}/users/{userB}", "", "not_found", 404},
		{"unknown-mandate", "POST", "/admin/v1/mandates/nope/status", `{"status":"ACTIVE"}`, "not_found", 404},
		{"missing-name", "POST", "/admin/v1/merchants", `{}`, "invalid", 400},
		{"long-account-number", "POST", "/admin/v1/merchants", `{"name":"x","account_number":"123456789012345678901"}`, "invalid", 400},
		{"bad-payment-method", "POST", "/admin/v1/merchants/{mid}/product-transactions", `{"payment_method":"cash"}`, "invalid", 400},
		{"foreign-primary-location", "POST", "/admin/v1/merchants/{mid}/users", `{"username":"x","primary_location_id":"{locB}"}`, "invalid", 400},
		{"bad-origin", "PUT", "/admin/v1/merchants/{mid}/allowed-origins", `{"allowed_origins":["javascript:alert(1)"]}`, "invalid", 400},
		{"taken-account", "POST", "/admin/v1/merchants", `{"name":"x","account_number":"{acct}"}`, "conflict", 409},
		{"bad-mandate-status", "POST", "/admin/v1/mandates/{mandate}/status", `{"status":"BOGUS"}`, "invalid", 400},
	} {
		add(badCase{name: "invalid/" + v.name, method: v.method, path: v.path, body: v.body, auth: adm, status: v.status, code: v.code})
	}
	return cs
}

// TestBadInputMatrixSize keeps the matrix at the size issue 10 asks for, without a server.
func TestBadInputMatrixSize(t *testing.T) {
	counts := map[string]int{}
	for _, c := range badCases() {
		counts[strings.SplitN(strings.TrimPrefix(c.path, "/"), "/", 2)[0]]++
	}
	if n := len(badCases()); n < 300 {
		t.Errorf("%d cases: %v", n, counts)
	}
}

// TestAsteriskTarget: a request whose target is "*" (RFC 9112's asterisk form, meant for
// OPTIONS) with another method gets the Paysafe JSON 404, not an empty 200.
func TestAsteriskTarget(t *testing.T) {
	s := mustBadServer(t, false)
	for _, method := range []string{"GET", "POST", "DELETE"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(body), `"code":"5273"`) {
			t.Errorf("%s *: %d %q", method, resp.StatusCode, body)
		}
	}
}

// TestUnparsableRequests: a request Go's HTTP server cannot parse never reaches a handler, and
// net/http would answer it in plain text (501 and 505 among its answers). payvault has the
// API that owns the request line's path answer in its own envelope, with a 4xx, and logs it
// with the path's digits masked.
func TestUnparsableRequests(t *testing.T) {
	s := mustBadServer(t, false)
	const pan = "4111111111111111"
	tests := []struct {
		name, req string
		status    int
		want      string // a fragment of the body
	}{
		{"fail/paysafe-space-in-target", "GET /customervault/v1/profiles/" + pan + " x HTTP/1.1\r\nHost: a\r\n\r\n",
			400, `{"error":{"code":"5023","message":"You submitted a request that is not parseable.","details":["The request could not be parsed: the request is not valid HTTP/1.1."]`},
		{"fail/cardpayments-transfer-coding", "POST /cardpayments/v1/accounts/1/auths HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n",
			400, `"details":["The request could not be parsed: unsupported Transfer-Encoding."]`},
		{"fail/unknown-path-version", "GET /nowhere HTTP/2.5\r\nHost: a\r\n\r\n",
			400, `"details":["The request could not be parsed: unsupported protocol version."]`},
		{"fail/fortis-no-host", "GET /v2/accountvaults HTTP/1.1\r\n\r\n",
			400, `{"name":"Bad Request","message":"The request could not be parsed: missing required Host header.","code":0,"status":400}`},
		{"fail/fortis-headers-too-large", "GET /v2/accountvaults HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n",
			431, `{"name":"Request Header Fields Too Large","message":"The request could not be parsed: the request's headers are over the size limit.","code":0,"status":431}`},
		{"fail/admin-expect", "POST /admin/v1/merchants HTTP/1.1\r\nHost: a\r\nExpect: later\r\nContent-Length: 2\r\n\r\n{}",
			417, `{"error":{"code":"bad_request","message":"The request could not be parsed: unsupported Expect header."}}`},
		// "OPTIONS *" asks about the server, not a resource: net/http's own handler would
		// answer it 200 with an empty body. It is an unknown route like any other.
		{"fail/options-asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			404, `{"error":{"code":"5273"`},
		{"fail/hosted-bad-escape", "GET /hosted/v1/fields/%zz HTTP/1.1\r\nHost: a\r\n\r\n",
			400, `{"error":{"code":"bad_request","message":"The request could not be parsed: the request is not valid HTTP/1.1."}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(conn, tt.req)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
				!strings.Contains(string(body), tt.want) || !json.Valid(body) {
				t.Errorf("answer %d %q %s; want %d with %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.want)
			}
		})
	}
	logs := s.logs.String()
	if strings.Contains(logs, pan) {
		t.Error("the log holds the card number of an unparsable request's path")
	}
	if !strings.Contains(logs, `"path":"/admin/v1/merchants","status":417`) {
		t.Error("the unparsable requests are not in the access log")
	}
}
