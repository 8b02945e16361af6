package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/vault"
)

// TestTokenSwapRefused plays a database writer without the master key who swaps the payment
// tokens of two cards on one profile: an auth with card A's token must not charge card B. It
// answers the generic 500/1000, names neither card, and logs the internal error as a sealed
// field that does not open (tampered), by key id, never by data.
func TestTokenSwapRefused(t *testing.T) {
	s := MustServer(t)
	const panA, panB = "5200400000000009", "4111111111111111"
	s.logs.Forbid(panA, panB)
	c := s.main.Credentials
	p := &payvault{url: s.url, acct: c.Paysafe.AccountNumber,
		basic: "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Paysafe.APIKeyID+":"+c.Paysafe.APIKeySecret))}
	prof := p.call(t, 201, "POST", "/customervault/v1/profiles/",
		`{"merchantCustomerId":"e2e-swap","locale":"en_US","firstName":"Ada","card":{"cardNum":"`+panA+`","cardExpiry":{"month":12,"year":2040}}}`)
	tokA := prof.body["cards"].([]any)[0].(map[string]any)["paymentToken"].(string)
	tokB := p.call(t, 201, "POST", "/customervault/v1/profiles/"+prof.str("id")+"/cards",
		`{"cardNum":"`+panB+`","cardExpiry":{"month":11,"year":2041}}`).str("paymentToken")
	p.call(t, 200, "POST", p.txn("auths"), `{"merchantRefNum":"e2e-swap-before","amount":100,"card":{"paymentToken":"`+tokA+`"}}`)

	// Tokens are drawn from letters and digits, so they are written inline (unique: 3 steps).
	db := s.main.Store.DB()
	for _, q := range []string{
		"UPDATE instruments SET token = 'swap' WHERE token = '" + tokA + "'",
		"UPDATE instruments SET token = '" + tokA + "' WHERE token = '" + tokB + "'",
		"UPDATE instruments SET token = '" + tokB + "' WHERE token = 'swap'",
	} {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}

	r := p.call(t, 500, "POST", p.txn("auths"), `{"merchantRefNum":"e2e-swap-after","amount":100,"card":{"paymentToken":"`+tokA+`"}}`)
	if r.errCode() != "1000" {
		t.Errorf("error code %q, want 1000", r.errCode())
	}
	for _, digits := range []string{panA, panB, "1111", "0009"} {
		if strings.Contains(string(r.raw), digits) {
			t.Errorf("the answer names a card (%s): %s", digits, r.raw)
		}
	}
	if logs := s.logs.String(); !strings.Contains(logs, "paysafe: internal error") || !strings.Contains(logs, "ciphertext does not open: tampered") {
		t.Errorf("the refused auth is not logged as a sealed field that does not open:\n%s", logs)
	}

	// keys verify finds both cards without a payment touching them, by id and never by number,
	// beside the running server.
	rep, err := s.main.VerifySealed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var swapped []string
	for _, pr := range rep.Problems {
		if pr.Table == "instruments" && pr.Problem == vault.ProblemUnreadable && pr.Field == "number" {
			swapped = append(swapped, pr.ID)
		}
	}
	b, _ := json.Marshal(rep)
	if rep.Unreadable != 2 || len(swapped) != 2 || rep.ProblemCount() != 2 || strings.Contains(string(b), panA) || strings.Contains(string(b), panB) {
		t.Errorf("keys verify after the swap: %s; want both cards unreadable", b)
	}
}
