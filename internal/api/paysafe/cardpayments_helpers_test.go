package paysafe_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// payEnv is env with the payments core and idempotency configured: the Paysafe API as the
// server runs it, on a sandbox processor with the Paysafe trigger table whose delays are
// capped at a few milliseconds.
type payEnv struct {
	*env
	ps   *payments.Service
	acct string // acct is the merchant's account number.
}

// mustPayEnv starts the Paysafe API with card payments over a real SQLite store; wrap, if
// given, wraps the sandbox processor (to hold a call in flight).
func mustPayEnv(tb testing.TB, wrap ...func(payments.Processor) payments.Processor) *payEnv {
	tb.Helper()
	return mustPayEnvOver(tb, nil, wrap...)
}

// payConfig, when set, adjusts the API's configuration in the envs made meanwhile.
var payConfig func(*paysafe.Config)

// mustPayEnvOver is mustPayEnv with the payments service's store wrapped by over, if given.
func mustPayEnvOver(tb testing.TB, over func(storetest.Store) payments.Store, wrap ...func(payments.Processor) payments.Processor) *payEnv {
	tb.Helper()
	// A store a test takes away stays away: do not wait long for it to come back.
	return mustPayEnvRetry(tb, over, 50*time.Millisecond, wrap...)
}

// mustPayEnvRetry is mustPayEnvOver with the payments core trying a completion again for up
// to retry (payments.Config.CompleteRetry).
func mustPayEnvRetry(tb testing.TB, over func(storetest.Store) payments.Store, retry time.Duration, wrap ...func(payments.Processor) payments.Processor) *payEnv {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Path: filepath.Join(tb.TempDir(), "t.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var mk keys.MasterKey
	copy(mk[:], "paysafe-test-master-key-0123456789")
	kr, err := keys.Open(ctx, st, mk, keys.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	bins, err := card.LoadBINs()
	if err != nil {
		tb.Fatal(err)
	}
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	svc := vault.NewService(st, kr, bins, vault.Config{Now: clk.Now})
	sandbox := payments.NewSandbox(map[string]*payments.Triggers{"paysafe": paysafe.SandboxTriggers()},
		payments.SandboxConfig{DelayScale: 1, MaxDelay: 5 * time.Millisecond})
	var proc payments.Processor = sandbox
	for _, w := range wrap {
		proc = w(proc)
	}
	var pst payments.Store = st
	if over != nil {
		pst = over(st)
	}
	ps := payments.NewService(pst, svc, kr, payments.Config{
		Processors: map[string]payments.Processor{payments.SandboxName: proc}, Now: clk.Now,
		CompleteRetry: retry,
	})
	log, capture := logtest.New(tb)
	e := &env{svc: svc, store: st, clock: clk, logs: capture, doc: MustOpenAPI(tb)}
	if e.router, err = legacy.NewRouter(e.doc); err != nil {
		tb.Fatal(err)
	}
	e.creds = e.MustMerchant(tb, false)
	cfg := paysafe.Config{Vault: svc, Logger: log, Payments: ps,
		Idempotency: idempotency.New(st, kr, idempotency.Config{Now: clk.Now})}
	if payConfig != nil {
		payConfig(&cfg)
	}
	api := paysafe.New(cfg)
	e.h = httpx.Wrap(api, httpx.Options{Logger: log})
	srv := httptest.NewServer(e.h)
	tb.Cleanup(srv.Close)
	e.url = srv.URL
	return &payEnv{env: e, ps: ps, acct: e.creds.Paysafe.AccountNumber}
}

// path is an account-scoped card-payments path.
func (e *payEnv) path(rest string) string {
	return "/cardpayments/v1/accounts/" + e.acct + "/" + rest
}

// mustVaultCard creates a profile (test/test/test@test.com) with an address (US 10014) and a
// card, and returns the card's payment token and the profile's.
func (e *payEnv) mustVaultCard(tb testing.TB, mcid, pan string, month, year int) (cardToken, profileToken string) {
	tb.Helper()
	prof := e.must(tb, 201, call{method: "POST", path: "/customervault/v1/profiles",
		body: `{"merchantCustomerId":"` + mcid + `","locale":"en_US","firstName":"test","lastName":"test","email":"test@test.com"}`})
	pid := prof.str("id")
	aid := e.MustAddress(tb, pid)
	c := e.must(tb, 201, call{method: "POST", path: "/customervault/v1/profiles/" + pid + "/cards",
		body: `{"cardNum":"` + pan + `","cardExpiry":{"month":` + strconv.Itoa(month) + `,"year":` + strconv.Itoa(year) + `},"billingAddressId":"` + aid + `"}`})
	return c.str("paymentToken"), prof.str("paymentToken")
}

// mustSUT creates a single-use card token.
func (e *payEnv) mustSUT(tb testing.TB, body string) string {
	tb.Helper()
	return e.must(tb, 200, call{method: "POST", path: "/customervault/v1/singleusetokens", body: body}).str("paymentToken")
}

// mustAuth runs an approved auth with a raw Visa card and returns its id.
func (e *payEnv) mustAuth(tb testing.TB, ref string, amount int, settle bool) string {
	tb.Helper()
	return e.must(tb, 200, call{method: "POST", path: e.path("auths"), body: `{"merchantRefNum":"` + ref + `","amount":` + strconv.Itoa(amount) +
		`,"settleWithAuth":` + strconv.FormatBool(settle) + `,"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`}).str("id")
}

var (
	txnUUID  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	txnToken = regexp.MustCompile(`^(S[CAE]|[PCBM])[A-Za-z0-9]{14}$`)
	txnTime  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
	txnAuth  = regexp.MustCompile(`^[0-9]{6}$`)
)

// normalizeTxn replaces ids (labelled in order of a sorted walk, so that references between
// them must match), tokens, times, auth codes and account numbers by stable labels.
func normalizeTxn(v any, acct string) any {
	labels := map[string]string{}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := map[string]any{}
			for _, k := range keys {
				out[k] = walk(k, v[k])
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				out[i] = walk(key, x)
			}
			return out
		case string:
			switch {
			case txnToken.MatchString(v):
				return "<token " + txnToken.FindStringSubmatch(v)[1] + ">"
			case txnTime.MatchString(v):
				return "<time>"
			case key == "authCode" && txnAuth.MatchString(v):
				return "<authCode>"
			}
			if acct != "" {
				v = regexp.MustCompile(`/accounts/[0-9]+/`).ReplaceAllString(v, "/accounts/<acct>/")
			}
			return txnUUID.ReplaceAllStringFunc(v, func(id string) string {
				if _, ok := labels[id]; !ok {
					labels[id] = "<id" + strconv.Itoa(len(labels)+1) + ">"
				}
				return labels[id]
			})
		}
		return v
	}
	return walk("", v)
}

// jsonOf decodes a JSON document for comparison.
func jsonOf(tb testing.TB, b []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}
