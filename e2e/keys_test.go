package e2e

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/card"
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
