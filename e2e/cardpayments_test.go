package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// payvault is a running server for the card-payment tests: the real app.Main on
// 127.0.0.1:0 over a fresh embedded store, with its logs checked for card numbers and secrets.
type payvault struct {
	url   string
	basic string // basic is the sandbox merchant's server credential.
	acct  string
}

func startPayvault(t *testing.T) *payvault {
	t.Helper()
	s := MustServer(t)
	s.logs.Forbid("5200400000000009", "4111111111111111")
	c := s.main.Credentials
	return &payvault{url: s.url, acct: c.Paysafe.AccountNumber,
		basic: "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Paysafe.APIKeyID+":"+c.Paysafe.APIKeySecret))}
}

// paysafeReply is a decoded Paysafe answer.
type paysafeReply struct {
	status int
	raw    []byte
	body   map[string]any
}

func (r paysafeReply) str(k string) string { s, _ := r.body[k].(string); return s }

func (r paysafeReply) num(k string) float64 { n, _ := r.body[k].(float64); return n }

func (r paysafeReply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// call sends one request as the Paysafe SDKs do and fails the test unless the status is want
// (any status when want is 0). With want 0 it only reports errors, so goroutines may use it.
func (p *payvault) call(t *testing.T, want int, method, path, body string) paysafeReply {
	t.Helper()
	fail := t.Fatalf
	if want == 0 {
		fail = t.Errorf
	}
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		fail("%v", err)
		return paysafeReply{}
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	req.Header.Set("Authorization", p.basic)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("%v", err)
		return paysafeReply{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := paysafeReply{status: resp.StatusCode, raw: raw}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		fail("%s %s: not JSON: %s", method, path, raw)
	}
	if want != 0 && r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, raw)
	}
	return r
}

func (p *payvault) txn(path string) string { return "/cardpayments/v1/accounts/" + p.acct + "/" + path }

// TestCardPaymentsEndToEnd vaults a card, authorizes without settling, settles, refunds in
// two parts and is refused a further refund; then verifies a card, takes the decline path, and
// races two auths on one single-use token.
func TestCardPaymentsEndToEnd(t *testing.T) {
	p := startPayvault(t)

	// Vault a card: a profile with a nested card.
	prof := p.call(t, 201, "POST", "/customervault/v1/profiles/",
		`{"merchantCustomerId":"e2e-1","locale":"en_US","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",
		  "card":{"cardNum":"5200400000000009","cardExpiry":{"month":12,"year":2040},"billingAddress":{"street":"10 Main St","country":"US","zip":"10014"}}}`)
	token := prof.body["cards"].([]any)[0].(map[string]any)["paymentToken"].(string)

	// Auth with settleWithAuth false.
	auth := p.call(t, 200, "POST", p.txn("auths/"), `{"merchantRefNum":"e2e-order","amount":10000,"settleWithAuth":false,"card":{"paymentToken":"`+token+`"}}`)
	aid := auth.str("id")
	if auth.str("status") != "COMPLETED" || auth.num("availableToSettle") != 10000 || auth.str("avsResponse") != "MATCH" {
		t.Fatalf("auth = %s", auth.raw)
	}
	if pr, _ := auth.body["profile"].(map[string]any); pr["firstName"] != "Ada" {
		t.Errorf("auth profile = %s", auth.raw)
	}

	// Settle the whole auth.
	st := p.call(t, 200, "POST", p.txn("auths/"+aid+"/settlements/"), `{"merchantRefNum":"e2e-settle"}`)
	sid := st.str("id")
	if st.num("amount") != 10000 || st.num("availableToRefund") != 10000 || st.str("status") != "PENDING" {
		t.Fatalf("settlement = %s", st.raw)
	}
	if g := p.call(t, 200, "GET", p.txn("auths/"+aid), ""); g.num("availableToSettle") != 0 {
		t.Errorf("auth after settle = %s", g.raw)
	}

	// Partial refund, then the rest.
	p.call(t, 200, "POST", p.txn("settlements/"+sid+"/refunds"), `{"merchantRefNum":"e2e-refund-1","amount":2500}`)
	if g := p.call(t, 200, "GET", p.txn("settlements/"+sid), ""); g.num("availableToRefund") != 7500 {
		t.Errorf("settlement after partial refund = %s", g.raw)
	}
	rest := p.call(t, 200, "POST", p.txn("settlements/"+sid+"/refunds"), `{"merchantRefNum":"e2e-refund-2"}`)
	if rest.num("amount") != 7500 {
		t.Errorf("refund of the rest = %s", rest.raw)
	}

	// A further refund is refused: the settlement is fully refunded.
	over := p.call(t, 402, "POST", p.txn("settlements/"+sid+"/refunds"), `{"merchantRefNum":"e2e-refund-3","amount":1}`)
	if over.errCode() != "3404" || over.str("id") == "" {
		t.Errorf("further refund = %s", over.raw)
	}
	refunds := p.call(t, 200, "GET", p.txn("refunds?merchantRefNum=e2e-refund-2"), "")
	if items, _ := refunds.body["refunds"].([]any); len(items) != 1 {
		t.Errorf("refund list = %s", refunds.raw)
	}

	// Verify a card: approved, the card VERIFIED.
	v := p.call(t, 200, "POST", p.txn("verifications"), `{"merchantRefNum":"e2e-verify","card":{"paymentToken":"`+token+`","cvv":"111"}}`)
	if v.str("status") != "COMPLETED" || v.str("cvvVerification") != "MATCH" {
		t.Errorf("verification = %s", v.raw)
	}
	card := p.call(t, 200, "GET", "/customervault/v1/profiles/"+prof.str("id")+"/cards/"+prof.body["cards"].([]any)[0].(map[string]any)["id"].(string), "")
	if card.str("storedCredentialTokenStatus") != "VERIFIED" {
		t.Errorf("card after verification = %s", card.raw)
	}

	// The decline path: 402 with the transaction id, stored FAILED.
	d := p.call(t, 402, "POST", p.txn("auths"), `{"merchantRefNum":"e2e-decline","amount":5,"card":{"paymentToken":"`+token+`"}}`)
	if d.errCode() != "3009" || d.str("id") == "" {
		t.Fatalf("decline = %s", d.raw)
	}
	if rc, _ := d.body["riskReasonCode"].([]any); len(rc) != 1 || rc[0] != 1005.0 {
		t.Errorf("riskReasonCode = %s", d.raw)
	}
	if g := p.call(t, 200, "GET", p.txn("auths/"+d.str("id")), ""); g.str("status") != "FAILED" || g.errCode() != "3009" {
		t.Errorf("declined auth lookup = %s", g.raw)
	}

	// Two concurrent auths with one single-use token: exactly one succeeds.
	sut := p.call(t, 200, "POST", "/customervault/v1/singleusetokens", `{"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040}}}`).str("paymentToken")
	var wg sync.WaitGroup
	results := make(chan paysafeReply, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- p.call(t, 0, "POST", p.txn("auths"), `{"merchantRefNum":"e2e-sut-`+strconv.Itoa(i)+`","amount":100,"card":{"paymentToken":"`+sut+`"}}`)
		}()
	}
	wg.Wait()
	close(results)
	ok, refused := 0, 0
	for r := range results {
		switch {
		case r.status == 200:
			ok++
		case r.status == 400 && r.errCode() == "5500":
			refused++
		default:
			t.Errorf("single-use auth: %d %s", r.status, r.raw)
		}
	}
	if ok != 1 || refused != 1 {
		t.Errorf("%d auths succeeded and %d were refused with one single-use token; want 1 and 1", ok, refused)
	}
}
