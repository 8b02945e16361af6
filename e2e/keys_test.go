package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// luhnPAN returns a fresh Luhn-valid 16-digit Visa number.
func luhnPAN(r *rand.Rand) string {
	d := make([]byte, 16)
	d[0] = '4'
	for i := 1; i < 15; i++ {
		d[i] = byte('0' + r.IntN(10))
	}
	d[15], _ = card.CheckDigit(string(d[:15]))
	return string(d)
}

// TestRotateUnderLoad rotates the data and fingerprint keys through the admin API while
// clients write and read cards: no request fails, the background job leaves no record under
// the old keys, the old data key can then be retired, and the audit chain verifies.
func TestRotateUnderLoad(t *testing.T) {
	s := MustServer(t, func(c *app.Config) { c.KeyRefresh = 100 * time.Millisecond })
	c := s.main.Credentials
	auth := basic{c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret}.header()
	admin := "Bearer " + s.admin
	prof := s.send(t, auth, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"rot","locale":"en_US"}`)
	if prof.status != 201 {
		t.Fatalf("profile: %d %s", prof.status, prof.raw)
	}
	pid := prof.str("id")
	before := s.send(t, admin, "GET", "/admin/v1/keys", "")
	oldKey := int(before.body["keys"].(map[string]any)["primary_key_id"].(float64))

	var failed, done atomic.Int64
	var mu sync.Mutex
	var cards []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				pan := luhnPAN(r)
				cr := s.send(t, auth, "POST", "/customervault/v1/profiles/"+pid+"/cards", fmt.Sprintf(`{"cardNum":"%s","cardExpiry":{"month":12,"year":2040}}`, pan))
				if cr.status != 201 {
					if cr.status != 409 { // a random repeat of a number is the only allowed refusal
						failed.Add(1)
						t.Errorf("card create: %d %s", cr.status, cr.raw)
					}
					continue
				}
				id := cr.str("id")
				if g := s.send(t, auth, "GET", "/customervault/v1/profiles/"+pid+"/cards/"+id, ""); g.status != 200 {
					failed.Add(1)
					t.Errorf("card get: %d", g.status)
				}
				tok := s.send(t, basic{c.Paysafe.SingleUseKeyID, c.Paysafe.SingleUseKeySecret}.header(), "POST", "/customervault/v1/singleusetokens",
					fmt.Sprintf(`{"card":{"cardNum":"%s","cardExpiry":{"month":12,"year":2040},"cvv":"123"}}`, luhnPAN(r)))
				if tok.status != 200 {
					failed.Add(1)
					t.Errorf("token: %d %s", tok.status, tok.raw)
				}
				mu.Lock()
				cards = append(cards, cr.str("paymentToken"))
				mu.Unlock()
				done.Add(3)
			}
		}(uint64(w))
	}
	time.Sleep(500 * time.Millisecond)
	for _, ks := range []string{"data", "mac"} {
		if r := s.send(t, admin, "POST", "/admin/v1/keys/rotate", `{"keyset":"`+ks+`"}`); r.status != 200 {
			t.Fatalf("rotate %s: %d %s", ks, r.status, r.raw)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during rotation", failed.Load(), done.Load())
	}
	t.Logf("%d requests, none failed, during a data and a fingerprint key rotation", done.Load())

	// The background job drains the old keys.
	deadline := time.Now().Add(20 * time.Second)
	var keys map[string]any
	for {
		r := s.send(t, admin, "GET", "/admin/v1/keys", "")
		keys = r.body
		stale := r.body["reencryption"].(map[string]any)["stale_records"].(float64)
		oldFP := 0.0
		for _, k := range r.body["keys"].(map[string]any)["keys"].([]any) {
			km := k.(map[string]any)
			if km["keyset"] == "mac" && km["status"] != "primary" {
				oldFP += km["records"].(float64)
			}
		}
		if stale == 0 && oldFP == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records left under old keys: %v", r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The writers have stopped: the retire wait (twice the key refresh and the store's write
	// bound, TestRetireWaitsForRefresh) is passed by dating the keysets' last change back.
	if _, err := s.main.Store.DB().Exec("UPDATE keysets SET updated_at = updated_at - 3600000"); err != nil {
		t.Fatal(err)
	}
	if r := s.send(t, admin, "POST", fmt.Sprintf("/admin/v1/keys/%d/retire", oldKey), `{"keyset":"data"}`); r.status != 200 {
		t.Fatalf("retire old key: %d %s (%v)", r.status, r.raw, keys)
	}
	// Every card still opens (a verification decrypts the PAN) after the old key is retired.
	acct := c.Paysafe.AccountNumber
	for i, tok := range cards {
		if i%10 != 0 {
			continue
		}
		v := s.send(t, auth, "POST", "/cardpayments/v1/accounts/"+acct+"/verifications", fmt.Sprintf(`{"merchantRefNum":"v%d","card":{"paymentToken":"%s"}}`, i, tok))
		if v.status != 200 {
			t.Errorf("verification with card %d after retire: %d %s", i, v.status, v.raw)
		}
	}
	if r := s.send(t, admin, "GET", "/admin/v1/audit/verify", ""); r.status != 200 || r.body["ok"] != true {
		t.Errorf("audit verify: %d %s", r.status, r.raw)
	}
	audit := s.send(t, admin, "GET", "/admin/v1/merchants/"+c.MerchantID+"/audit?limit=5", "")
	if recs, _ := audit.body["records"].([]any); audit.status != 200 || len(recs) != 5 {
		t.Errorf("audit list: %d %s", audit.status, audit.raw)
	}
}

// TestAuditRecordsUse shows that creating, using and deleting account data through the APIs
// lands on the merchant's audit chain with the credential as the actor.
func TestAuditRecordsUse(t *testing.T) {
	s := MustServer(t)
	c := s.main.Credentials
	auth := basic{c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret}.header()
	p := s.send(t, auth, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"au","locale":"en_US"}`)
	card := s.send(t, auth, "POST", "/customervault/v1/profiles/"+p.str("id")+"/cards", `{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2040}}`)
	tok := s.send(t, basic{c.Paysafe.SingleUseKeyID, c.Paysafe.SingleUseKeySecret}.header(), "POST", "/customervault/v1/singleusetokens",
		`{"card":{"cardNum":"5200400000000009","cardExpiry":{"month":12,"year":2040}}}`)
	acct := "/cardpayments/v1/accounts/" + c.Paysafe.AccountNumber + "/auths"
	for i, pt := range []string{card.str("paymentToken"), tok.str("paymentToken")} {
		if r := s.send(t, auth, "POST", acct, fmt.Sprintf(`{"merchantRefNum":"a%d","amount":100,"card":{"paymentToken":"%s"}}`, i, pt)); r.status != 200 {
			t.Fatalf("auth: %d %s", r.status, r.raw)
		}
	}
	s.send(t, auth, "DELETE", "/customervault/v1/profiles/"+p.str("id"), "")
	r := s.send(t, "Bearer "+s.admin, "GET", "/admin/v1/merchants/"+c.MerchantID+"/audit?limit=1000", "")
	seen := map[string]string{}
	for _, rec := range r.body["records"].([]any) {
		m := rec.(map[string]any)
		seen[m["op"].(string)] = m["actor"].(string)
	}
	for _, op := range []string{"account_data.create", "token.create", "token.consume", "account_data.use", "account_data.delete"} {
		if seen[op] == "" {
			t.Errorf("no %s record in %v", op, seen)
		}
	}
	if seen["account_data.use"] != "paysafe:"+c.Paysafe.APIKeyID {
		t.Errorf("payment actor = %q", seen["account_data.use"])
	}
}

// TestRekeyReportsUnreadable: after a rotation, the background job re-encrypts every card but
// one whose ciphertext was tampered with, and reports that one, by id, in GET /admin/v1/keys
// (validated against the admin OpenAPI document), in the payvault_rekey_unreadable_records
// gauge and in a WARN line; retiring the old key is refused with the reason.
func TestRekeyReportsUnreadable(t *testing.T) {
	s := MustServer(t, func(c *app.Config) { c.KeyRefresh = 50 * time.Millisecond })
	ctx := context.Background()
	c := s.main.Credentials
	auth := basic{c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret}.header()
	admin := "Bearer " + s.admin
	prof := s.send(t, auth, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"ur","locale":"en_US"}`)
	for _, pan := range []string{"4111111111111111", "5200400000000009", "4012888888881881"} {
		if r := s.send(t, auth, "POST", "/customervault/v1/profiles/"+prof.str("id")+"/cards", `{"cardNum":"`+pan+`","cardExpiry":{"month":12,"year":2040}}`); r.status != 201 {
			t.Fatalf("card create: %d %s", r.status, r.raw)
		}
	}
	// The first card by id gets a flipped tag byte (primary 0: every sealed card is listed).
	cards, err := s.main.Store.StaleSealed(ctx, "instruments", 0, s.main.Keyring.PrimaryMACKeyID(), "", 10)
	if err != nil || len(cards) != 3 {
		t.Fatalf("cards: %d, %v", len(cards), err)
	}
	bad := cards[0]
	next := bad
	next.Fields = maps.Clone(bad.Fields)
	next.Fields["number"] = slices.Clone(bad.Fields["number"])
	next.Fields["number"][len(next.Fields["number"])-1] ^= 1
	// The tampering carries the keys as a node's write would (MustServer counts writes of
	// sealed data that carry none).
	if ok, err := s.main.Store.ResealRecord(vault.Sealing(ctx, s.main.Keyring), bad, next); err != nil || !ok {
		t.Fatalf("tampering: %v, %v", ok, err)
	}
	oldKey := s.main.Keyring.PrimaryKeyID()
	if r := s.send(t, admin, "POST", "/admin/v1/keys/rotate", `{"keyset":"data"}`); r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.raw)
	}

	router := adminRouter(t, s)
	deadline := time.Now().Add(20 * time.Second)
	var rk map[string]any
	for {
		r := s.send(t, admin, "GET", "/admin/v1/keys", "")
		validateAdmin(t, router, "GET", s.url+"/admin/v1/keys", r)
		rk = r.body["reencryption"].(map[string]any)
		if rk["stale_records"].(float64) == 1 && rk["unreadable_records"].(float64) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not settle on the one unreadable card: %s", r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := []any{map[string]any{"table": "instruments", "id": bad.ID, "merchant_id": c.MerchantID, "key_id": float64(oldKey), "field": "number"}}
	if d := cmp.Diff(want, rk["unreadable"]); d != "" {
		t.Errorf("unreadable records (-want +got)\n%s", d)
	}
	// The retire wait (TestRetireWaitsForRefresh) is passed by dating the keysets' last change
	// back: retire counts only after it.
	if _, err := s.main.Store.DB().Exec("UPDATE keysets SET updated_at = updated_at - 3600000"); err != nil {
		t.Fatal(err)
	}
	r := s.send(t, admin, "POST", fmt.Sprintf("/admin/v1/keys/%d/retire", oldKey), `{"keyset":"data"}`)
	if r.status != 409 || !strings.Contains(string(r.raw), "1 of which the last re-encryption pass could not open") {
		t.Errorf("retire: %d %s", r.status, r.raw)
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "\npayvault_rekey_unreadable_records 1\n") {
		t.Errorf("no payvault_rekey_unreadable_records 1 in the metrics")
	}
	if logs := s.logs.String(); !strings.Contains(logs, "rekey: records whose sealed data does not open") || !strings.Contains(logs, "instruments/"+bad.ID) {
		t.Errorf("no WARN line naming instruments/%s", bad.ID)
	}
	s.logs.Forbid(base64.StdEncoding.EncodeToString(next.Fields["number"]))
	// Every other card opens under the new key.
	for _, rec := range cards[1:] {
		in, err := s.main.Vault.Store().GetInstrument(ctx, c.MerchantID, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if in.Sealed.KeyID != s.main.Keyring.PrimaryKeyID() {
			t.Errorf("card %s still under key %d", rec.ID, in.Sealed.KeyID)
		}
		if _, err := s.main.Vault.RevealNumber(in); err != nil {
			t.Errorf("card %s after rekey: %v", rec.ID, err)
		}
	}
}

// adminRouter routes requests to the operations of the admin OpenAPI document s serves.
func adminRouter(tb testing.TB, s *server) routers.Router {
	tb.Helper()
	resp, err := http.Get(s.url + "/admin/v1/openapi.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	spec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		tb.Fatal(err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return router
}

// validateAdmin checks a bodiless admin request's answer against the admin OpenAPI document.
func validateAdmin(tb testing.TB, router routers.Router, method, url string, r response) {
	tb.Helper()
	req, _ := http.NewRequest(method, url, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		tb.Fatalf("%s %s: no operation in openapi.yaml: %v", method, url, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header, Options: opts}
	out.SetBodyBytes(r.raw)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		tb.Fatalf("%s %s: response does not match openapi.yaml: %v\n%s", method, url, err, r.raw)
	}
}
