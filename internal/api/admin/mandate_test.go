package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/vault"
)

// mandateAccount is the BACS account number of MustMandate's account.
const mandateAccount = "31926819"

// MustMandate creates a BACS account with one mandate, PENDING, for the merchant of c through
// the core, and returns the mandate's id. The account number may not appear in the logs.
func MustMandate(tb testing.TB, e *env, c *vault.MerchantCredentials, reference string) string {
	tb.Helper()
	e.logs.Forbid(mandateAccount)
	ctx := context.Background()
	p, err := e.svc.AuthenticateAPIKey(ctx, c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret)
	if err != nil {
		tb.Fatal(err)
	}
	prof, err := e.svc.CreateProfile(ctx, p, &vault.Profile{MerchantCustomerID: reference, Locale: "en_GB"})
	if err != nil {
		tb.Fatal(err)
	}
	in, err := e.svc.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindBACS, ProfileID: prof.ID, SortCode: "070116", HolderName: "Jo Bloggs"},
		vault.Source{Number: mandateAccount}, vault.CreateOptions{Mandates: []string{reference}})
	if err != nil {
		tb.Fatal(err)
	}
	ms, err := e.svc.ListMandates(ctx, p, in.ID)
	if err != nil || len(ms) != 1 || ms[0].Status != vault.MandatePending {
		tb.Fatalf("mandates %v, %v; want one PENDING", ms, err)
	}
	return ms[0].ID
}

// TestMandateStatus walks a mandate through the operator's status control: the lifecycle's
// transitions are 200 with the mandate, its current status again is 200 and changes nothing,
// any other transition (and any from a final status) is 400 invalid on status. No answer holds
// the account number.
func TestMandateStatus(t *testing.T) {
	e := MustEnv(t)
	c, _ := MustMerchant(t, e)
	id := MustMandate(t, e, c, "REF1")
	path := "/admin/v1/mandates/" + id + "/status"
	for _, tt := range []struct {
		name, body string
		want       errAnswer
		status     string // the mandate's status after the request
	}{
		{"fail/pending-to-disputed", `{"status":"DISPUTED"}`, errAnswer{400, "invalid", "status"}, "PENDING"},
		{"ok/pending-to-active", `{"status":"ACTIVE","reason":"confirmed","reason_code":"A1"}`, errAnswer{Status: 200}, "ACTIVE"},
		{"ok/same-status-changes-nothing", `{"status":"ACTIVE","reason":"again"}`, errAnswer{Status: 200}, "ACTIVE"},
		{"fail/active-to-declined", `{"status":"DECLINED"}`, errAnswer{400, "invalid", "status"}, "ACTIVE"},
		{"ok/active-to-cancelled", `{"status":"CANCELLED"}`, errAnswer{Status: 200}, "CANCELLED"},
		{"fail/cancelled-is-final", `{"status":"ACTIVE"}`, errAnswer{400, "invalid", "status"}, "CANCELLED"},
		{"fail/unknown-status", `{"status":"BOGUS"}`, errAnswer{400, "invalid", "status"}, "CANCELLED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "POST", path, tt.body, "")
			if d := cmp.Diff(tt.want, r.answer()); d != "" {
				t.Errorf("(-want +got)\n%s\n%s", d, r.raw)
			}
			if strings.Contains(string(r.raw), mandateAccount) {
				t.Errorf("the answer holds the account number: %s", r.raw)
			}
			m, err := e.store.GetMandateByID(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != tt.status {
				t.Errorf("status = %s, want %s", m.Status, tt.status)
			}
			if tt.name == "ok/same-status-changes-nothing" && (m.StatusReason != "confirmed" || r.str("status_reason") != "confirmed") {
				t.Errorf("reason = %q, answer %s; want the first reason kept", m.StatusReason, r.raw)
			}
		})
	}
}
