package app

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// TestUpgradeScrubsRefused: a FAILED Paysafe auth that a payvault before the rule stored with
// the card number refused as its customerIp, descriptor phone and shipping zip gives it back
// on GET and in lists until the upgrade; the first start of this payvault removes those
// values from the row (and says so), and keeps the rest of it, as it keeps every value of an
// auth that was not refused. A later start finds it done. On both engines.
func TestUpgradeScrubsRefused(t *testing.T) {
	const pan = "4111111111111111"
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			dir, key, dsn := t.TempDir(), keys.NewMasterKey().Base64(), ""
			if engine == "postgres" {
				dir, dsn = "", storetest.PostgresDSN(t)
			}
			config := func() (Config, *logtest.Capture) {
				log, capture := logtest.New(t)
				return Config{Listen: "127.0.0.1:0", DataDir: dir, MasterKey: key, Logger: log, Out: &nopWriter{}, AdminToken: testAdminToken, DatabaseURL: dsn}, capture
			}
			start := func() (*Main, *logtest.Capture, string) {
				t.Helper()
				cfg, capture := config()
				m, err := Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(m.Handler)
				t.Cleanup(func() { srv.Close(); m.Close() })
				return m, capture, srv.URL
			}
			m, _, u := start()
			creds := m.Credentials.Paysafe
			h := basicAuth(creds.APIKeyID, creds.APIKeySecret)
			acct := u + "/cardpayments/v1/accounts/" + creds.AccountNumber + "/"
			kept := copyCall(t, 200, "POST", acct+"auths", `{"merchantRefNum":"kept","amount":100,"customerIp":"10.0.0.1","description":"tea",`+
				`"merchantDescriptor":{"dynamicDescriptor":"SHOP","phone":"5551234"},"shippingDetails":{"city":"Town","zip":"M5H 2N2"},`+
				`"card":{"cardNum":"5200400000000009","cardExpiry":{"month":12,"year":2050}}}`, h)
			keptPath := acct + "auths/" + kept.body["id"].(string)
			keptBefore := strings.ReplaceAll(copyCall(t, 200, "GET", keptPath, "", h).raw, u, "")

			// The refused auth as the older payvault stored it, in a store it left unscrubbed.
			insertOld := func(m *Main, ref string) string {
				t.Helper()
				loc, err := m.Store.GetLocationByAccount(ctx, creds.AccountNumber)
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now().UTC().Truncate(time.Millisecond)
				old := &payments.Transaction{ID: vault.NewID(), API: "paysafe", Type: payments.TypeAuth, Status: payments.StatusFailed,
					Reason: payments.ReasonRejected, MerchantID: loc.MerchantID, LocationID: loc.ID, AccountNumber: loc.AccountNumber,
					MerchantRefNum: ref, Amount: 100, Currency: loc.Currency, PaymentMethod: payments.MethodCard, ErrorCode: "5068",
					TxnTime: now, Created: now, Modified: now,
					Extras: []byte(`{"shippingDetails":{"city":"Town","country":"US","zip":"` + pan + `"},"customerIp":"` + pan +
						`","description":"tea","merchantDescriptor":{"dynamicDescriptor":"SHOP","phone":"` + pan + `"},` +
						`"fieldErrors":[{"field":"customerIp","error":"Invalid IP Address"},{"field":"merchantDescriptor.phone","error":"size must be between 0 and 13"},` +
						`{"field":"shippingDetails.zip","error":"size must be between 0 and 10"}],"errorMessage":"Field validation error."}`)}
				if err := m.Store.Write(ctx, func(tx vault.Tx) error { return tx.(payments.Tx).InsertTransaction(ctx, old) }); err != nil {
					t.Fatal(err)
				}
				if _, err := m.Store.DB().ExecContext(ctx, "DELETE FROM settings WHERE name = 'upgrade.refused_scrubbed'"); err != nil {
					t.Fatal(err)
				}
				return old.ID
			}
			// rowHoldsPAN reports whether a transaction's row holds the card number.
			rowHoldsPAN := func(m *Main, id string) bool {
				t.Helper()
				var req string
				q := "SELECT request FROM transactions WHERE id = ?"
				if engine == "postgres" {
					q = "SELECT request FROM transactions WHERE id = $1"
				}
				if err := m.Store.DB().QueryRowContext(ctx, q, id).Scan(&req); err != nil {
					t.Fatal(err)
				}
				return strings.Contains(req, pan)
			}
			old := insertOld(m, "refused")
			reads := []string{acct + "auths/" + old, acct + "auths?merchantRefNum=refused"}
			if g := copyCall(t, 200, "GET", reads[0], "", h); !strings.Contains(g.raw, pan) {
				t.Fatalf("the older payvault's row does not show the card number: %s", g.raw)
			}
			m.Close()

			m, capture, u := start()
			acct = u + "/cardpayments/v1/accounts/" + creds.AccountNumber + "/"
			if !strings.Contains(capture.String(), "removed refused values from stored transactions") {
				t.Errorf("the upgrade did not say it scrubbed: %s", capture.String())
			}
			for _, path := range []string{acct + "auths/" + old, acct + "auths?merchantRefNum=refused"} {
				g := copyCall(t, 200, "GET", path, "", h)
				if strings.Contains(g.raw, pan) {
					t.Errorf("GET %s repeats the refused card number: %s", path, g.raw)
				}
				for _, want := range []string{`"description":"tea"`, `"dynamicDescriptor":"SHOP"`, `"city":"Town"`, `"FAILED"`, `"5068"`} {
					if !strings.Contains(g.raw, want) {
						t.Errorf("GET %s lost %s: %s", path, want, g.raw)
					}
				}
			}
			if rowHoldsPAN(m, old) {
				t.Error("the row still holds the card number")
			}
			keptPath = acct + "auths/" + kept.body["id"].(string)
			if d := cmp.Diff(keptBefore, strings.ReplaceAll(copyCall(t, 200, "GET", keptPath, "", h).raw, u, "")); d != "" {
				t.Errorf("the auth that was not refused changed (-before +after)\n%s", d)
			}
			m.Close()

			m, capture, _ = start()
			if strings.Contains(capture.String(), "refused values") {
				t.Errorf("a later start scrubbed again: %s", capture.String())
			}

			// payvault migrate, with no migration pending, finishes a scrub a crash left
			// unfinished.
			late := insertOld(m, "refused-late")
			m.Close()
			cfg, _ := config()
			cfg.Listen, cfg.Migrate = "", true
			tool, err := OpenTool(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tool.Close()
			if rowHoldsPAN(tool, late) || rowHoldsPAN(tool, old) {
				t.Error("payvault migrate left the card number in a refused transaction")
			}
		})
	}
}
