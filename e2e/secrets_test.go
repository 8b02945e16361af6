package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// TestNoSecretInLogsMetricsOrURLs (issue 10, point 6) takes one server through both vendor
// APIs and the admin API, on the happy paths and the error paths (refused bodies holding card
// numbers, card numbers in paths and queries, wrong credentials, declines, a simulated
// processor fault, invalid track data), with every PAN, CVV, account number, IBAN, track,
// API secret, user key, hash key and the admin token it was given registered. It then checks
// that none of them appears in the captured logs, in /metrics, in any URL the server emitted
// (Location headers, links and hrefs), or in the clear in the store's files (an
// Idempotency-Key and a refused customerIp holding account data among the requests).
func TestNoSecretInLogsMetricsOrURLs(t *testing.T) {
	s := mustBadServer(t, false)
	var urls []string
	echoes := map[string]bool{} // echoes are requests whose answers may echo their own query
	s.seen = func(method, path string, h http.Header, body []byte) {
		if echoes[path] {
			return
		}
		if l := h.Get("Location"); l != "" {
			urls = append(urls, l)
		}
		var v any
		if json.Unmarshal(body, &v) == nil {
			urls = append(urls, emittedURLs(v)...)
		}
	}
	s.fixtures(t)

	const (
		pan1, pan2, pan3, pan4  = "4530910000012345", "378282246310005", "6011111111111117", "4916338506082832"
		pan5, pan6, pan7, pan8  = "4005562231212149", "4485271031055802", "4556773060150333", "5405222222222226"
		pan9                    = "5435815271011988"
		badPAN1, badPAN2        = "6011111111111118", "5405222222222227"
		cvv1, cvv2, cvv3, cvv4  = "7319", "8424", "5813", "6173"
		ach, bacs, eft, iban    = "987654321012", "31926819", "77665544", "GB29NWBK60161331926819"
		fortisACH               = "123456780987"
		track1                  = "%B4485271031055802^PUBLIC/JOHN^2812101000000000?"
		track2                  = ";4556773060150333=28121010000000000?"
		badTrack                = "%B5435815271011988^NO EXPIRY?"
		wrongSecret             = "S3cr3t-wrong-9f8e7d6c5b4a"
		pan10, cvv5, fortisACH2 = "4012888888881881", "9991", "556677889900"
	)
	s.forbid(pan1, pan2, pan3, pan4, pan5, pan6, pan7, pan8, pan9, badPAN1, badPAN2, cvv1, cvv2, cvv3, cvv4,
		ach, bacs, eft, iban, fortisACH, track1, track2, badTrack, wrongSecret, "3704 0044 0532 0130 00", pan10, cvv5, fortisACH2)
	call := func(want int, method, path, body, auth string, header map[string]string) map[string]any {
		t.Helper()
		status, _, raw := s.send(t, method, path, body, auth, header)
		if status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, raw)
		}
		var m map[string]any
		json.Unmarshal(raw, &m)
		return m
	}
	ps, fh := "{ps}", s.fortisAuth()

	// Paysafe vault: a profile with a nested card, a card from a single-use token, bank
	// accounts of every kind, reads, updates and deletes.
	p := call(201, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"tour","locale":"en_US","card":{"cardNum":"`+pan1+`","cvv":"`+cvv1+`","cardExpiry":{"month":12,"year":2040},"billingAddress":{"country":"US","zip":"10014"}}}`, ps, nil)
	prof := "/customervault/v1/profiles/" + p["id"].(string)
	addr := p["addresses"].([]any)[0].(map[string]any)["id"].(string)
	sut := call(200, "POST", "/customervault/v1/singleusetokens", `{"card":{"cardNum":"`+pan2+`","cvv":"`+cvv2+`","cardExpiry":{"month":1,"year":2041}}}`, "{sutKey}", nil)["paymentToken"].(string)
	card := call(201, "POST", prof+"/cards", `{"singleUseToken":"`+sut+`"}`, ps, nil)["id"].(string)
	achID := call(201, "POST", prof+"/achbankaccounts", `{"accountHolderName":"T","accountNumber":"`+ach+`","routingNumber":"211589828","accountType":"SAVINGS","billingAddressId":"`+addr+`"}`, ps, nil)["id"].(string)
	call(201, "POST", prof+"/bacsbankaccounts", `{"accountHolderName":"T","accountNumber":"`+bacs+`","sortCode":"60-16-13","billingAddressId":"`+addr+`","mandates":{"reference":"TOUR"}}`, ps, nil)
	call(201, "POST", prof+"/eftbankaccounts", `{"accountHolderName":"T","accountNumber":"`+eft+`","transitNumber":"25039","institutionId":"001","billingAddressId":"`+addr+`"}`, ps, nil)
	call(201, "POST", prof+"/sepabankaccounts", `{"accountHolderName":"T","iban":"`+iban+`","billingAddressId":"`+addr+`","mandates":[{"reference":"TOUR"}]}`, ps, nil)
	call(200, "GET", prof+"?fields=cards,addresses,achbankaccounts,bacsbankaccounts,eftbankaccounts,sepabankaccounts", "", ps, nil)
	call(200, "GET", "/customervault/v1/profiles?merchantCustomerId=tour&fields=cards", "", ps, nil)
	call(200, "PUT", prof+"/cards/"+card, `{"cardExpiry":{"month":2,"year":2042},"holderName":"T"}`, ps, nil)
	call(200, "DELETE", prof+"/achbankaccounts/"+achID, "", ps, nil)
	// Vault error paths with account data in them.
	call(400, "POST", prof+"/cards", `{"cardNum":"`+badPAN1+`","cvv":"`+cvv3+`","cardExpiry":{"month":1,"year":2040}}`, ps, nil)
	call(400, "POST", prof+"/cards", `{"cardNum":"`+pan4+`","cardExpiry":{"month":1,"year":2040}`, ps, nil)
	call(409, "POST", prof+"/cards", `{"cardNum":"`+pan1+`","cardExpiry":{"month":1,"year":2040}}`, ps, nil)
	call(400, "POST", prof+"/sepabankaccounts", `{"accountHolderName":"T","iban":"DE89 3704 0044 0532 0130 00x","billingAddressId":"`+addr+`"}`, ps, nil)
	call(404, "GET", "/customervault/v1/profiles/"+pan4, "", ps, nil)
	call(404, "GET", "/customervault/v1/profiles?merchantCustomerId="+pan4, "", ps, nil)
	call(404, "GET", "/customervault/v1/cards/"+pan4+"/"+ach, "", ps, nil)
	call(401, "GET", prof, "", basicAuth("{keyID}", wrongSecret), nil)

	// Card payments: raw cards with CVVs, approved, declined, faulted and refused.
	acct := "/cardpayments/v1/accounts/{acct}/"
	auth := call(200, "POST", acct+"auths", `{"merchantRefNum":"tour-1","amount":2500,"card":{"cardNum":"`+pan3+`","cvv":"`+cvv3+`","cardExpiry":{"month":1,"year":2040}},"billingDetails":{"zip":"10014","country":"US"}}`, ps, nil)["id"].(string)
	st := call(200, "POST", acct+"auths/"+auth+"/settlements", `{"merchantRefNum":"tour-2"}`, ps, nil)["id"].(string)
	call(200, "POST", acct+"settlements/"+st+"/refunds", `{"merchantRefNum":"tour-3","amount":100}`, ps, nil)
	call(402, "POST", acct+"auths", `{"merchantRefNum":"tour-4","amount":5,"card":{"cardNum":"`+pan3+`","cvv":"`+cvv3+`","cardExpiry":{"month":1,"year":2040}}}`, ps, nil)
	call(500, "POST", acct+"auths", `{"merchantRefNum":"tour-5","amount":6,"card":{"cardNum":"`+pan3+`","cvv":"`+cvv3+`","cardExpiry":{"month":1,"year":2040}}}`, ps, nil)
	call(400, "POST", acct+"auths", `{"merchantRefNum":"tour-6","amount":1,"card":{"cardNum":"`+badPAN1+`","cvv":"`+cvv3+`","cardExpiry":{"month":1,"year":2040}}}`, ps, nil)
	call(400, "POST", acct+"auths", `{"merchantRefNum":"tour-7","amount":1,"card":{"cardNum":"`+pan3+`","cardExpiry":{"month":1,"year":2001}}}`, ps, nil)
	call(200, "POST", acct+"verifications", `{"merchantRefNum":"tour-8","card":{"cardNum":"`+pan3+`","cvv":"`+cvv3+`","cardExpiry":{"month":1,"year":2040}}}`, ps, nil)
	call(200, "GET", acct+"auths?merchantRefNum=tour-1&limit=1", "", ps, nil)
	// A card number or an IBAN as the Idempotency-Key, and one refused as the customerIp of
	// a payment that is stored as FAILED: neither may lie in the clear in the database.
	const idemPAN, idemIBAN, refusedPAN = "5105105105105100", "DE89370400440532013000", "6011000990139424"
	s.forbid(idemPAN, idemIBAN, refusedPAN)
	call(200, "POST", acct+"auths", `{"merchantRefNum":"tour-9","amount":100,"card":{"cardNum":"`+pan3+`","cardExpiry":{"month":1,"year":2040}}}`, ps, map[string]string{"Idempotency-Key": idemPAN})
	call(201, "POST", "/v2/contacts", `{"contact":{"location_id":"{loc}","last_name":"Tour"}}`, "", map[string]string{"Idempotency-Key": idemIBAN,
		"developer-id": fh["developer-id"], "user-id": fh["user-id"], "user-api-key": fh["user-api-key"]})
	call(400, "POST", acct+"auths", `{"merchantRefNum":"tour-10","amount":100,"customerIp":"`+refusedPAN+`","card":{"cardNum":"`+pan3+`","cardExpiry":{"month":1,"year":2040}}}`, ps, nil)

	// Fortis: vaults from a number, a bank account, both tracks and a browser ticket;
	// reads, lists, BIN info, updates and deletes.
	loc := "{loc}"
	v := call(201, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"`+pan5+`","exp_date":"1230","title":"tour"}}`, "", fh)["accountvault"].(map[string]any)["id"].(string)
	call(201, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"ach","account_number":"`+fortisACH+`","routing":"072000326","account_type":"savings","is_company":true,"account_holder_name":"T","ssn4":"1234","dl_number":"D1234567","dl_state":"FL"}}`, "", fh)
	call(201, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","track_data":"`+track1+`"}}`, "", fh)
	call(201, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","track_data":"`+track2+`"}}`, "", fh)
	ts := strconv.FormatInt(s.main.Vault.Now().Unix(), 10)
	hash := vault.BrowserHashKey(s.main.Credentials.Fortis.TicketHashKey, s.main.Credentials.Fortis.LocationAPIKey, ts)
	s.forbid(hash)
	ticket := call(201, "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"`+pan8+`","exp_date":"1230","cvv":"`+cvv4+`"}}`, "", map[string]string{"location-api-key": "{locKey}", "timestamp": ts, "hash-key": hash, "Origin": "https://shop.example"})["cardticket"].(map[string]any)["id"].(string)
	call(201, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","ticket":"`+ticket+`"}}`, "", fh)
	call(200, "GET", "/v2/accountvaults/"+v+"?expand=contact,location,created_user,product_transaction", "", "", fh)
	call(200, "GET", "/v2/accountvaults/"+v+"/bininfo", "", "", fh)
	call(200, "GET", "/v2/accountvaults?payment_method=cc,ach&sort=-created_ts&page_size=2&page=2&expand=contact", "", "", fh)
	call(200, "GET", "/v2/locations?expand=product_transactions", "", "", fh)
	call(200, "GET", "/v2/users/{user}?expand=locations", "", "", fh)
	call(200, "PUT", "/v2/accountvaults/"+v, `{"accountvault":{"exp_date":"0131"}}`, "", fh)
	call(204, "DELETE", "/v2/accountvaults/"+v, "", "", fh)
	// Fortis transactions: a sale with a raw card and CVV (saved as a vault), its refund, an
	// ach debit, a sale from a browser ticket, a decline, and reads.
	sale := call(201, "POST", "/v2/transactions", `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"25.00","account_number":"`+pan10+`","exp_date":"1230","cvv":"`+cvv5+`","billing_zip":"32606","save_account":1,"save_account_title":"tour"}}`, "", fh)["transaction"].(map[string]any)["id"].(string)
	call(201, "POST", "/v2/transactions", `{"transaction":{"action":"refund","payment_method":"cc","transaction_amount":"5.00","previous_transaction_id":"`+sale+`"}}`, "", fh)
	call(201, "POST", "/v2/transactions", `{"transaction":{"action":"debit","payment_method":"ach","transaction_amount":"3.00","account_number":"`+fortisACH2+`","routing":"072000326","account_type":"checking","account_holder_name":"T","ach_sec_code":"WEB"}}`, "", fh)
	ticket2 := call(201, "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"`+pan10+`","exp_date":"1230","cvv":"`+cvv5+`"}}`, "", map[string]string{"location-api-key": "{locKey}", "timestamp": ts, "hash-key": hash})["cardticket"].(map[string]any)["id"].(string)
	call(201, "POST", "/v2/transactions", `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"5.00","ticket":"`+ticket2+`"}}`, "", fh)
	call(201, "POST", "/v2/transactions", `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"5.00","account_number":"`+pan10+`","exp_date":"1230","cvv":"`+cvv5+`"}}`, "", fh)
	call(200, "GET", "/v2/transactions/"+sale+"?expand=account_vault,location,created_user", "", "", fh)
	call(200, "GET", "/v2/transactions/"+sale+"/bininfo", "", "", fh)
	call(200, "GET", "/v2/transactions?payment_method=cc&sort=-created_ts&page_size=1&page=2", "", "", fh)
	call(422, "POST", "/v2/transactions", `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"5.00","account_number":"`+badPAN2+`","exp_date":"1230","cvv":"`+cvv5+`"}}`, "", fh)
	call(422, "POST", "/v2/transactions", `{"transaction":{"action":"debit","payment_method":"ach","transaction_amount":"3.00","account_number":"`+fortisACH2+`","routing":"072000326","account_type":"checking","account_holder_name":"T"}}`, "", fh)
	// Fortis error paths.
	call(422, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","account_number":"`+badPAN2+`","exp_date":"1230"}}`, "", fh)
	call(422, "POST", "/v2/accountvaults", `{"accountvault":{"location_id":"`+loc+`","payment_method":"cc","track_data":"`+badTrack+`"}}`, "", fh)
	call(422, "POST", "/v2/cardtickets", `{"cardticket":{"location_id":"`+loc+`","account_number":"`+pan9+`","exp_date":"1330","cvv":"`+cvv4+`"}}`, "", fh)
	call(400, "POST", "/v2/accountvaults", `{"accountvault":{"account_number":"`+pan9+`"`, "", fh)
	call(401, "POST", "/v2/cardtickets", `{"cardticket":{"account_number":"`+pan9+`","exp_date":"1230"}}`, "", map[string]string{"location-api-key": "{locKey}", "timestamp": ts, "hash-key": wrongSecret})
	call(401, "GET", "/v2/accountvaults", "", "", map[string]string{"developer-id": "{dev}", "user-id": "{user}", "user-api-key": wrongSecret})
	call(401, "GET", "/v2/accountvaults?developer-id={dev}&user-id={user}&user-api-key="+wrongSecret, "", "", nil)
	call(404, "GET", "/v2/accountvaults/"+pan9, "", "", fh)
	// A client that filters by a card number gets it back in its own page links (§1.6 echoes
	// the query); the logs must still not hold it.
	echo := s.url + "/v2/accountvaults?title=" + pan9 + "&page_size=1"
	echoes[echo] = true
	call(200, "GET", "/v2/accountvaults?title="+pan9+"&page_size=1", "", "", fh)

	// Admin: credentials are shown once, in answers, and nowhere else.
	m := call(201, "POST", "/admin/v1/merchants", `{"name":"Tour"}`, "{admin}", nil)
	s.forbid(m["paysafe"].(map[string]any)["api_key_secret"].(string), m["paysafe"].(map[string]any)["single_use_key_secret"].(string),
		m["fortis"].(map[string]any)["user_api_key"].(string), m["fortis"].(map[string]any)["ticket_hash_key"].(string))
	call(401, "GET", "/admin/v1/merchants", "", "Bearer "+wrongSecret, nil)

	// Metrics.
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "payvault_http_requests_total") {
		t.Fatalf("no request metrics:\n%.500s", metrics)
	}

	logs := s.logs.String()
	for _, want := range []string{`"status":500`, `"status":422`, `"status":401`, `"status":402`, `"status":404`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs show no request with %s: the error paths were not exercised", want)
		}
	}
	for _, leak := range logtest.Leaks(logs, s.secrets) {
		t.Errorf("logs leak %s", leak)
	}
	// A sample's value is a measurement (a float such as 1.7638223899999998e+09 can hold a
	// Luhn-valid digit run), so card-number shapes are looked for in names and labels; the
	// known secrets are looked for everywhere.
	var labels strings.Builder
	for _, line := range strings.Split(string(metrics), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			labels.WriteString(line[:i] + "\n")
		}
	}
	for _, leak := range logtest.Leaks(labels.String(), s.secrets) {
		t.Errorf("/metrics leaks %s", leak)
	}
	for _, secret := range s.secrets {
		if len(secret) >= 6 && strings.Contains(string(metrics), secret) {
			t.Errorf("/metrics holds a secret ending %s", secret[len(secret)-4:])
		}
	}
	if id := uuidText.FindString(string(metrics)); id != "" {
		t.Errorf("/metrics holds a record id (labels must be route patterns): %s", id)
	}
	if len(urls) < 50 {
		t.Fatalf("only %d URLs seen", len(urls))
	}
	for _, u := range urls {
		if leaks := logtest.Leaks(u, s.secrets); len(leaks) > 0 {
			t.Errorf("the URL %q leaks %v", u, leaks)
		}
		if run := longDigits.FindString(uuidText.ReplaceAllString(u, "uuid")); run != "" {
			t.Errorf("the URL %q holds a long digit run", u)
		}
	}
	// The database: no secret long enough to be told apart from other bytes (card numbers,
	// account numbers, IBANs, API secrets) is in the embedded store's files, its WAL
	// included, in the clear.
	files, _ := filepath.Glob(filepath.Join(s.main.Config.DataDir, "payvault.db*"))
	if len(files) < 2 {
		t.Fatalf("store files = %v, want the database and its WAL", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range s.secrets {
			if len(secret) >= 8 && bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds a secret ending %s in the clear", filepath.Base(f), secret[len(secret)-4:])
			}
		}
	}
	t.Logf("%d URLs, %d bytes of logs and %d of metrics checked against %d secrets", len(urls), len(logs), len(metrics), len(s.secrets))
}

var (
	uuidText   = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	longDigits = regexp.MustCompile(`[0-9]{12,}`)
)

// emittedURLs returns every href and every string that is a URL in a decoded JSON answer.
func emittedURLs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			out = append(out, emittedURLs(e)...)
		}
	case []any:
		for _, e := range v {
			out = append(out, emittedURLs(e)...)
		}
	case string:
		if strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
			out = append(out, v)
		}
	}
	return out
}
