package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

const testAdminToken = "app-test-admin-token-0123456789abcdef"

// mustApp opens payvault on a fresh data dir, with its handler served by httptest.
func mustApp(t *testing.T) (*Main, string) {
	t.Helper()
	log, capture := logtest.New(t)
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, Out: &nopWriter{}, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	forbidSecrets(capture, m, testAdminToken)
	srv := httptest.NewServer(m.Handler)
	t.Cleanup(srv.Close)
	return m, srv.URL
}

type exchange struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func send(t *testing.T, method, url, body string, header map[string]string) exchange {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	x := exchange{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &x.body)
	return x
}

// TestFortisIdempotency: the Fortis API's POSTs replay the first answer for a repeated key and
// refuse a reused key with the Fortis envelope.
func TestFortisIdempotency(t *testing.T) {
	m, url := mustApp(t)
	f := m.Credentials.Fortis
	h := map[string]string{"developer-id": f.DeveloperID, "user-id": f.UserID, "user-api-key": f.UserAPIKey, "Idempotency-Key": "contact-1"}
	body := `{"contact":{"location_id":"` + f.LocationID + `","last_name":"Key"}}`
	first := send(t, "POST", url+"/v2/contacts", body, h)
	second := send(t, "POST", url+"/v2/contacts", body, h)
	if first.status != 201 || second.status != 201 || first.raw != second.raw || second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s / %d %s", first.status, first.raw, second.status, second.raw)
	}
	c := send(t, "POST", url+"/v2/contacts", strings.Replace(body, "Key", "Other", 1), h)
	want := map[string]any{"name": "Conflict", "message": "The Idempotency-Key was already used with a different request.", "code": 0.0, "status": 409.0}
	if d := cmp.Diff(want, c.body); d != "" || c.status != 409 {
		t.Errorf("conflict %d (-want +got)\n%s", c.status, d)
	}
}

// TestFortisIdempotencyPerCredential: a Fortis user's or a location's browser keys are its
// own. A request's body does not say everything it means: a transaction or a card ticket with no
// location_id runs in the user's primary location or the browser credential's location. So a
// second user (or a second location's browser) sending the same key with the same body must run
// its own request, not be handed the first one's answer: a sale in a location it cannot reach,
// which never ran its own payment, or a ticket that does not work in its location.
func TestFortisIdempotencyPerCredential(t *testing.T) {
	m, url := mustApp(t)
	f := m.Credentials.Fortis
	admin := map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": "application/json"}
	loc := send(t, "POST", url+"/admin/v1/merchants/"+m.Credentials.MerchantID+"/locations", `{"name":"Second"}`, admin)
	if loc.status != 201 {
		t.Fatalf("location: %d %s", loc.status, loc.raw)
	}
	l2 := loc.body["id"].(string)
	u := send(t, "POST", url+"/admin/v1/merchants/"+m.Credentials.MerchantID+"/users",
		`{"username":"second","email":"second@example.com","first_name":"S","last_name":"U","primary_location_id":"`+l2+`","location_ids":["`+l2+`"]}`, admin)
	if u.status != 201 {
		t.Fatalf("user: %d %s", u.status, u.raw)
	}
	userA := map[string]string{"developer-id": f.DeveloperID, "user-id": f.UserID, "user-api-key": f.UserAPIKey, "Idempotency-Key": "order-1"}
	userB := map[string]string{"developer-id": f.DeveloperID, "user-id": u.body["id"].(string), "user-api-key": u.body["user_api_key"].(string), "Idempotency-Key": "order-1"}
	sale := `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"10.00","account_number":"4111111111111111","exp_date":"1230"}}`
	a := send(t, "POST", url+"/v2/transactions", sale, userA)
	b := send(t, "POST", url+"/v2/transactions", sale, userB)
	if a.status != 201 || b.status != 201 {
		t.Fatalf("sales: %d %s / %d %s", a.status, a.raw, b.status, b.raw)
	}
	ta, tb := a.body["transaction"].(map[string]any), b.body["transaction"].(map[string]any)
	if b.header.Get("Idempotent-Replayed") != "" || tb["id"] == ta["id"] || tb["location_id"] != l2 {
		t.Errorf("the second user's sale got %s (replayed %q), want its own sale in %s; the first user's is %s in %s",
			tb["id"], b.header.Get("Idempotent-Replayed"), l2, ta["id"], ta["location_id"])
	}
	if again := send(t, "POST", url+"/v2/transactions", sale, userB); again.header.Get("Idempotent-Replayed") != "true" || again.raw != b.raw {
		t.Errorf("the second user's repeat: %d %s", again.status, again.raw)
	}

	browser := func(apiKey, hashKey string) map[string]string {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(hashKey))
		mac.Write([]byte(apiKey + ts))
		return map[string]string{"location-api-key": apiKey, "timestamp": ts, "hash-key": hex.EncodeToString(mac.Sum(nil)), "Idempotency-Key": "ticket-1"}
	}
	ticket := `{"cardticket":{"account_number":"4111111111111111","exp_date":"1230"}}`
	t1 := send(t, "POST", url+"/v2/cardtickets", ticket, browser(f.LocationAPIKey, f.TicketHashKey))
	t2 := send(t, "POST", url+"/v2/cardtickets", ticket, browser(loc.body["location_api_key"].(string), loc.body["ticket_hash_key"].(string)))
	if t1.status != 201 || t2.status != 201 {
		t.Fatalf("tickets: %d %s / %d %s", t1.status, t1.raw, t2.status, t2.raw)
	}
	k1, k2 := t1.body["cardticket"].(map[string]any)["id"], t2.body["cardticket"].(map[string]any)["id"]
	if t2.header.Get("Idempotent-Replayed") != "" || k1 == k2 {
		t.Fatalf("the second location's browser got ticket %s (replayed %q), the first location's is %s", k2, t2.header.Get("Idempotent-Replayed"), k1)
	}
	delete(userB, "Idempotency-Key")
	use := send(t, "POST", url+"/v2/transactions", `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"11.00","ticket":"`+k2.(string)+`","location_id":"`+l2+`"}}`, userB)
	if use.status != 201 {
		t.Errorf("a sale with the second location's ticket: %d %s", use.status, use.raw)
	}
}

// TestAdminSecretsNotKept: an admin answer carrying credentials is never stored; a repeat of
// the key is refused rather than replayed (or run twice).
func TestAdminSecretsNotKept(t *testing.T) {
	m, url := mustApp(t)
	h := map[string]string{"Authorization": "Bearer " + testAdminToken, "Idempotency-Key": "merchant-1"}
	first := send(t, "POST", url+"/admin/v1/merchants", `{"name":"Shop"}`, h)
	if first.status != 201 {
		t.Fatalf("create: %d %s", first.status, first.raw)
	}
	again := send(t, "POST", url+"/admin/v1/merchants", `{"name":"Shop"}`, h)
	if again.status != 409 || strings.Contains(again.raw, "api_key_secret") {
		t.Errorf("repeat: %d %s", again.status, again.raw)
	}
	rec, err := m.Store.GetIdempotencyKey(context.Background(), "", "admin", "merchant-1")
	if err != nil || len(rec.Body) != 0 || rec.State != "secret" {
		t.Errorf("stored record = %+v, %v", rec, err)
	}
	n, err := m.Store.CountMerchants(context.Background())
	if err != nil || n != 2 {
		t.Errorf("%d merchants, want the sandbox one and one created", n)
	}
}

// TestAdminBatch: POST /admin/v1/batch completes pending settlements now.
func TestAdminBatch(t *testing.T) {
	m, url := mustApp(t)
	ps := m.Credentials.Paysafe
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(ps.APIKeyID+":"+ps.APIKeySecret))
	a := send(t, "POST", url+"/cardpayments/v1/accounts/"+ps.AccountNumber+"/auths",
		`{"merchantRefNum":"b","amount":100,"settleWithAuth":true,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`,
		map[string]string{"Authorization": basic})
	if a.status != 200 {
		t.Fatalf("auth: %d %s", a.status, a.raw)
	}
	st := func() string {
		return send(t, "GET", url+"/cardpayments/v1/accounts/"+ps.AccountNumber+"/settlements/"+a.body["id"].(string), "", map[string]string{"Authorization": basic}).body["status"].(string)
	}
	if s := st(); s != "PENDING" {
		t.Fatalf("settlement %s", s)
	}
	b := send(t, "POST", url+"/admin/v1/batch", ``, map[string]string{"Authorization": "Bearer " + testAdminToken})
	if b.status != 200 || b.body["completed"] != 1.0 {
		t.Errorf("batch: %d %s", b.status, b.raw)
	}
	if s := st(); s != "COMPLETED" {
		t.Errorf("settlement after batch %s", s)
	}
	if r := send(t, "POST", url+"/admin/v1/batch", ``, nil); r.status != 401 {
		t.Errorf("batch without the admin token: %d", r.status)
	}
	if r := send(t, "POST", url+"/admin/v1/batch", `{"merchant_id":"nope"}`, map[string]string{"Authorization": "Bearer " + testAdminToken}); r.status != 404 {
		t.Errorf("batch of an unknown merchant: %d %s", r.status, r.raw)
	}
}

// TestPaysafeLeavesFortisRefunds: a Fortis refund (of a Fortis sale) is not a Paysafe refund.
// The Paysafe API cannot see the sale it draws on, so it must neither show nor cancel it: a
// cancel through Paysafe gave the amount back to the sale, which Fortis then let be refunded
// a second time, while the first refund, approved (111) when Fortis answered it, read as
// declined (301).
func TestPaysafeLeavesFortisRefunds(t *testing.T) {
	m, url := mustApp(t)
	ps, f := m.Credentials.Paysafe, m.Credentials.Fortis
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(ps.APIKeyID+":"+ps.APIKeySecret))}
	fh := map[string]string{"developer-id": f.DeveloperID, "user-id": f.UserID, "user-api-key": f.UserAPIKey}
	sale := send(t, "POST", url+"/v2/transactions", `{"transaction":{"action":"sale","payment_method":"cc","account_number":"4111111111111111","exp_date":"1230","transaction_amount":"10.00"}}`, fh)
	if sale.status != 201 {
		t.Fatalf("sale: %d %s", sale.status, sale.raw)
	}
	refund := `{"transaction":{"action":"refund","payment_method":"cc","previous_transaction_id":"` + sale.body["transaction"].(map[string]any)["id"].(string) + `","transaction_amount":"10.00"}}`
	r := send(t, "POST", url+"/v2/transactions", refund, fh)
	if r.status != 201 {
		t.Fatalf("refund: %d %s", r.status, r.raw)
	}
	id := r.body["transaction"].(map[string]any)["id"].(string)
	path := url + "/cardpayments/v1/accounts/" + ps.AccountNumber + "/refunds/" + id
	if g := send(t, "GET", path, "", basic); g.status != 404 || !strings.Contains(g.raw, `"5269"`) {
		t.Errorf("Paysafe GET of a Fortis refund: %d %s", g.status, g.raw)
	}
	if c := send(t, "PUT", path, `{"status":"CANCELLED"}`, basic); c.status != 404 || !strings.Contains(c.raw, `"5269"`) {
		t.Errorf("Paysafe cancel of a Fortis refund: %d %s", c.status, c.raw)
	}
	if g := send(t, "GET", url+"/v2/transactions/"+id, "", fh); g.status != 200 || g.body["transaction"].(map[string]any)["status_id"] != 111.0 {
		t.Errorf("the Fortis refund afterwards: %d %s", g.status, g.raw)
	}
	if again := send(t, "POST", url+"/v2/transactions", refund, fh); again.status != 422 {
		t.Errorf("a second full refund of the sale: %d %s", again.status, again.raw)
	}
}

// TestRecoverOnStart: a transaction a crash left RECEIVED is failed when payvault starts.
func TestRecoverOnStart(t *testing.T) {
	m, _ := mustApp(t)
	ctx := context.Background()
	tr := insertInFlightAuth(t, m, m.Credentials.Paysafe.AccountNumber)
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(rctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := m.Store.GetTransaction(ctx, tr.MerchantID, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == payments.StatusFailed && got.Reason == payments.ReasonInterrupted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction still %s after start", got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestPaymentKeyNotStaleWhileKept: a payment's Idempotency-Key is not taken over as abandoned
// while the request that claimed it may still be storing its outcome. A payment runs up to the
// processor timeout plus the completion's retries before its answer exists, and its outcome is
// then kept trying for up to KeepFor (4 min) while the database is away. With the keys' stale
// limit at 5 minutes from the claim, a retry sent as the database came back took the key of a
// request that had run 80 s and was still storing its 503 (in flight), and called the
// processor a second time (found by the outage audit: PostgreSQL away 297 s).
func TestPaymentKeyNotStaleWhileKept(t *testing.T) {
	m, url := mustApp(t)
	f := m.Credentials.Fortis
	pc := m.Payments.Config()
	// The claim of a payment that ran as long as it may and is still storing its outcome.
	created := time.Now().Add(-(pc.ProcessorTimeout + pc.CompleteRetry + 4*time.Minute - time.Second)).UTC().Truncate(time.Millisecond)
	rec := &idempotency.Record{MerchantID: m.Credentials.MerchantID, Scope: "fortis:user:" + f.UserID, Key: "k-long",
		MAC: []byte("the running request's"), State: idempotency.StatePending, Created: created}
	if cur, err := m.Store.ClaimIdempotencyKey(context.Background(), rec, created.Add(-time.Hour), created.Add(-time.Hour)); err != nil || cur != nil {
		t.Fatalf("claim = %v, %v", cur, err)
	}
	h := map[string]string{"developer-id": f.DeveloperID, "user-id": f.UserID, "user-api-key": f.UserAPIKey, "Idempotency-Key": "k-long"}
	body := `{"transaction":{"action":"sale","payment_method":"cc","location_id":"` + f.LocationID +
		`","transaction_amount":"1.00","account_number":"4111111111111111","exp_date":"1230","order_num":"long1"}}`
	if r := send(t, "POST", url+"/v2/transactions", body, h); r.status == 201 {
		t.Errorf("retry ran the payment again (%s): the key was taken over while its request could still keep its outcome", r.raw)
	}
}

// insertInFlightAuth stores a Paysafe auth of the account, RECEIVED an hour ago, as a node
// that died during its processor call leaves it: recovery must resolve it.
func insertInFlightAuth(t *testing.T, m *Main, account string) *payments.Transaction {
	t.Helper()
	ctx := context.Background()
	loc, err := m.Store.GetLocationByAccount(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	tr := &payments.Transaction{ID: vault.NewID(), MerchantID: loc.MerchantID, LocationID: loc.ID, AccountNumber: loc.AccountNumber,
		API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusReceived, Amount: 100, Currency: "USD", PaymentMethod: "cc",
		TxnTime: old, Created: old, Modified: old}
	if err := m.Store.Write(ctx, func(tx vault.Tx) error { return tx.(payments.Tx).InsertTransaction(ctx, tr) }); err != nil {
		t.Fatal(err)
	}
	return tr
}
