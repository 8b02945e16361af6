package app

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// The numbers the copy tests store; none may appear in a log line.
const (
	copyPAN1, copyPAN2, copyPAN3 = "4530910000012345", "378282246310005", "6011111111111117"
	copyPAN4, copyCVV1, copyCVV2 = "4005562231212149", "7319", "8424"
	copyACH, copyIBAN            = "987654321012", "GB29NWBK60161331926819"
	copyFortisACH                = "123456780987"
)

// copyCall sends a request and fails the test unless it answers want.
func copyCall(t *testing.T, want int, method, url, body string, h map[string]string) exchange {
	t.Helper()
	x := send(t, method, url, body, h)
	if x.status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, x.status, want, x.raw)
	}
	return x
}

func basicAuth(id, secret string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)), "Content-Type": "application/json"}
}

// copyFixture is an embedded store filled through the APIs, and what its reads answered.
type copyFixture struct {
	dir   string
	key   keys.MasterKey
	creds *vault.MerchantCredentials
	// reads maps a GET path to the body it answered on the embedded store.
	reads      map[string]string
	profile    string // profile is the Paysafe profile's path.
	payToken   string // payToken is a copied card's payment token.
	sut        string // sut is an unused single-use token.
	receivedID string // receivedID is a transaction left RECEIVED by the embedded store's node.
	saleBody   string // saleBody is a Fortis sale sent with Idempotency-Key copy-sale-1.
	keyStatus  *KeyStatus
}

// mustCopyFixture makes an embedded store and fills it through the Paysafe and Fortis APIs
// of a serving Main: a merchant's profile, address, cards, ACH and SEPA accounts with a
// mandate, single-use tokens, an auth with its settlement and refund, Fortis contacts,
// vaults and transactions, an idempotency key, and a transaction left in flight. The server
// is stopped when it returns.
func mustCopyFixture(t *testing.T, log *copyLog) *copyFixture {
	t.Helper()
	ctx := context.Background()
	f := &copyFixture{dir: t.TempDir(), key: keys.NewMasterKey(), reads: map[string]string{}}
	m, err := Open(ctx, Config{Listen: "127.0.0.1:0", DataDir: f.dir, MasterKey: f.key.Base64(), Logger: log.l, Out: &nopWriter{}, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	forbidSecrets(log.c, m, testAdminToken)
	srv := httptest.NewServer(m.Handler)
	defer srv.Close()
	f.creds = m.Credentials
	ps := basicAuth(f.creds.Paysafe.APIKeyID, f.creds.Paysafe.APIKeySecret)
	sutH := basicAuth(f.creds.Paysafe.SingleUseKeyID, f.creds.Paysafe.SingleUseKeySecret)
	fc := f.creds.Fortis
	fh := map[string]string{"developer-id": fc.DeveloperID, "user-id": fc.UserID, "user-api-key": fc.UserAPIKey, "Content-Type": "application/json"}
	u := srv.URL

	p := copyCall(t, 201, "POST", u+"/customervault/v1/profiles", `{"merchantCustomerId":"copy-1","locale":"en_US","card":{"cardNum":"`+copyPAN1+`","cvv":"`+copyCVV1+`","cardExpiry":{"month":12,"year":2040},"billingAddress":{"country":"US","zip":"10014"}}}`, ps).body
	f.profile = "/customervault/v1/profiles/" + p["id"].(string)
	addr := p["addresses"].([]any)[0].(map[string]any)["id"].(string)
	f.payToken = p["cards"].([]any)[0].(map[string]any)["paymentToken"].(string)
	sut := copyCall(t, 200, "POST", u+"/customervault/v1/singleusetokens", `{"card":{"cardNum":"`+copyPAN2+`","cvv":"`+copyCVV2+`","cardExpiry":{"month":1,"year":2041}}}`, sutH).body["paymentToken"].(string)
	copyCall(t, 201, "POST", u+f.profile+"/cards", `{"singleUseToken":"`+sut+`"}`, ps)
	f.sut = copyCall(t, 200, "POST", u+"/customervault/v1/singleusetokens", `{"card":{"cardNum":"`+copyPAN4+`","cvv":"`+copyCVV1+`","cardExpiry":{"month":2,"year":2042}}}`, sutH).body["paymentToken"].(string)
	ach := copyCall(t, 201, "POST", u+f.profile+"/achbankaccounts", `{"accountHolderName":"T","accountNumber":"`+copyACH+`","routingNumber":"211589828","accountType":"SAVINGS","billingAddressId":"`+addr+`"}`, ps).body["id"].(string)
	sepa := copyCall(t, 201, "POST", u+f.profile+"/sepabankaccounts", `{"accountHolderName":"T","iban":"`+copyIBAN+`","billingAddressId":"`+addr+`","mandates":[{"reference":"COPY"}]}`, ps).body["id"].(string)
	acct := u + "/cardpayments/v1/accounts/" + f.creds.Paysafe.AccountNumber + "/"
	auth := copyCall(t, 200, "POST", acct+"auths", `{"merchantRefNum":"copy-a","amount":2500,"card":{"cardNum":"`+copyPAN3+`","cvv":"`+copyCVV1+`","cardExpiry":{"month":1,"year":2040}},"billingDetails":{"zip":"10014","country":"US"}}`, ps).body["id"].(string)
	st := copyCall(t, 200, "POST", acct+"auths/"+auth+"/settlements", `{"merchantRefNum":"copy-s"}`, ps).body["id"].(string)
	copyCall(t, 200, "POST", acct+"settlements/"+st+"/refunds", `{"merchantRefNum":"copy-r","amount":100}`, ps)

	contact := copyCall(t, 201, "POST", u+"/v2/contacts", `{"contact":{"location_id":"`+fc.LocationID+`","last_name":"Copy"}}`, fh).body["contact"].(map[string]any)["id"].(string)
	vaultID := copyCall(t, 201, "POST", u+"/v2/accountvaults", `{"accountvault":{"location_id":"`+fc.LocationID+`","contact_id":"`+contact+`","payment_method":"cc","account_number":"`+copyPAN4+`","exp_date":"1230","title":"copy"}}`, fh).body["accountvault"].(map[string]any)["id"].(string)
	achVault := copyCall(t, 201, "POST", u+"/v2/accountvaults", `{"accountvault":{"location_id":"`+fc.LocationID+`","payment_method":"ach","account_number":"`+copyFortisACH+`","routing":"072000326","account_type":"savings","account_holder_name":"T"}}`, fh).body["accountvault"].(map[string]any)["id"].(string)
	idem := map[string]string{"Idempotency-Key": "copy-sale-1"}
	for k, v := range fh {
		idem[k] = v
	}
	f.saleBody = `{"transaction":{"action":"sale","payment_method":"cc","transaction_amount":"25.00","account_vault_id":"` + vaultID + `"}}`
	sale := copyCall(t, 201, "POST", u+"/v2/transactions", f.saleBody, idem).body["transaction"].(map[string]any)["id"].(string)

	for _, path := range []string{
		f.profile + "?fields=cards,addresses,achbankaccounts,sepabankaccounts",
		f.profile + "/achbankaccounts/" + ach,
		f.profile + "/sepabankaccounts/" + sepa,
		"/cardpayments/v1/accounts/" + f.creds.Paysafe.AccountNumber + "/auths/" + auth,
		"/v2/contacts/" + contact,
		"/v2/accountvaults/" + vaultID,
		"/v2/accountvaults/" + achVault,
		"/v2/transactions/" + sale,
	} {
		h := ps
		if strings.HasPrefix(path, "/v2/") {
			h = fh
		}
		// The links name the server: BASE stands for it.
		f.reads[path] = strings.ReplaceAll(copyCall(t, 200, "GET", u+path, "", h).raw, u, "BASE")
	}

	// Enough profiles that the copy analyses their table (analyzeAfterCopy), in parallel so
	// that they commit in a few batches.
	pr, err := m.Vault.AuthenticateAPIKey(ctx, f.creds.Paysafe.APIKeyID, f.creds.Paysafe.APIKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 1000)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = m.Vault.CreateProfile(ctx, pr, &vault.Profile{MerchantCustomerID: fmt.Sprintf("bulk-%d", i), Locale: "en_US"})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	// A payment this node left in flight: PostgreSQL's recovery resolves it.
	f.receivedID = insertInFlightAuth(t, m, f.creds.Paysafe.AccountNumber).ID
	if f.keyStatus, err = m.KeyStatus(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// copyLog is a test's logger and its capture, with the fixture's numbers forbidden.
type copyLog struct {
	l *slog.Logger
	c *logtest.Capture
}

func newCopyLog(t *testing.T) *copyLog {
	l, c := logtest.New(t)
	c.Forbid(copyPAN1, copyPAN2, copyPAN3, copyPAN4, copyCVV1, copyCVV2, copyACH, copyIBAN, copyFortisACH)
	return &copyLog{l: l, c: c}
}

// TestCopyStore copies an embedded store filled through the APIs into PostgreSQL, serves the
// copy with the same master key, and checks that everything reads and works as before.
func TestCopyStore(t *testing.T) {
	ctx := context.Background()
	log := newCopyLog(t)
	f := mustCopyFixture(t, log)
	dsn := storetest.PostgresDSN(t)

	rep, err := CopyStore(ctx, Config{DataDir: f.dir, MasterKey: f.key.Base64(), Logger: log.l}, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	rows := map[string]int64{}
	for _, tc := range rep.Tables {
		names = append(names, tc.Table)
		rows[tc.Table] = tc.Rows
	}
	if d := cmp.Diff(sqlstore.CopyTables(), names); d != "" {
		t.Errorf("tables (-want +got)\n%s", d)
	}
	for _, tbl := range []string{"merchants", "keysets", "instruments", "mandates", "onetime_tokens", "transactions", "idempotency", "audit_log", "profiles", "addresses"} {
		if rows[tbl] == 0 {
			t.Errorf("%s: no rows copied", tbl)
		}
	}
	if rep.Sealed == 0 {
		t.Error("no sealed field was opened")
	}
	// The copy's large tables are analysed: the planner knows their sizes before
	// autovacuum's first pass.
	stats, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn, SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	analysed := map[string]bool{}
	for _, tbl := range []string{"profiles", "mandates"} {
		var at sql.NullTime
		if err := stats.DB().QueryRow(`SELECT last_analyze FROM pg_stat_user_tables WHERE relname = $1`, tbl).Scan(&at); err != nil {
			t.Fatal(err)
		}
		analysed[tbl] = at.Valid
	}
	stats.Close()
	// profiles holds 1,001 rows; mandates one, which is left to autovacuum.
	if d := cmp.Diff(map[string]bool{"profiles": true, "mandates": false}, analysed); d != "" {
		t.Errorf("analysed after the copy (-want +got)\n%s", d)
	}

	pg, err := Open(ctx, Config{Listen: "127.0.0.1:0", DatabaseURL: dsn, MasterKey: f.key.Base64(), Logger: log.l, Out: &nopWriter{}, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if pg.Credentials != nil {
		t.Error("the copy was bootstrapped again: a new sandbox merchant was made")
	}
	if err := pg.Listen(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pg.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()
	u := pg.URL()
	ps := basicAuth(f.creds.Paysafe.APIKeyID, f.creds.Paysafe.APIKeySecret)
	fc := f.creds.Fortis
	fh := map[string]string{"developer-id": fc.DeveloperID, "user-id": fc.UserID, "user-api-key": fc.UserAPIKey, "Content-Type": "application/json"}

	t.Run("reads", func(t *testing.T) {
		for path, want := range f.reads {
			h := ps
			if strings.HasPrefix(path, "/v2/") {
				h = fh
			}
			got := strings.ReplaceAll(copyCall(t, 200, "GET", u+path, "", h).raw, u, "BASE")
			if got != want {
				t.Errorf("GET %s differs from the embedded store's answer", path) // bodies hold card data: not printed
			}
		}
	})
	t.Run("payment-by-token", func(t *testing.T) {
		acct := u + "/cardpayments/v1/accounts/" + f.creds.Paysafe.AccountNumber + "/"
		copyCall(t, 200, "POST", acct+"auths", `{"merchantRefNum":"copy-pg-1","amount":1200,"card":{"paymentToken":"`+f.payToken+`"}}`, ps)
	})
	t.Run("single-use-token", func(t *testing.T) {
		copyCall(t, 201, "POST", u+f.profile+"/cards", `{"singleUseToken":"`+f.sut+`"}`, ps)
	})
	t.Run("duplicate-card", func(t *testing.T) {
		x := copyCall(t, 409, "POST", u+f.profile+"/cards", `{"cardNum":"`+copyPAN1+`","cardExpiry":{"month":1,"year":2040}}`, ps)
		if code := fmt.Sprint(x.body["error"].(map[string]any)["code"]); code != "7503" {
			t.Errorf("code %s, want 7503", code)
		}
	})
	t.Run("idempotency-key", func(t *testing.T) {
		idem := map[string]string{"Idempotency-Key": "copy-sale-1"}
		for k, v := range fh {
			idem[k] = v
		}
		x := copyCall(t, 201, "POST", u+"/v2/transactions", f.saleBody, idem)
		if x.header.Get("Idempotent-Replayed") != "true" {
			t.Error("the copied idempotency key was not replayed")
		}
	})
	t.Run("audit", func(t *testing.T) {
		problems, err := pg.Store.VerifyAudit(ctx, pg.Keyring)
		if err != nil || len(problems) != 0 {
			t.Errorf("VerifyAudit = %v, %v", problems, err)
		}
	})
	t.Run("key-status", func(t *testing.T) {
		// Read before the requests above added records: compare the keys alone.
		st, err := pg.KeyStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids := func(s *KeyStatus) []string {
			var out []string
			for _, k := range s.Keys {
				out = append(out, fmt.Sprintf("%s/%d/%s", k.Keyset, k.ID, k.Status))
			}
			return out
		}
		if d := cmp.Diff(ids(f.keyStatus), ids(st)); d != "" || st.PrimaryKeyID != f.keyStatus.PrimaryKeyID {
			t.Errorf("keys (-sqlite +postgres)\n%s", d)
		}
	})
	t.Run("in-flight-resolved", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err := pg.Store.GetTransaction(ctx, f.creds.MerchantID, f.receivedID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != payments.StatusReceived {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the copied in-flight transaction is still RECEIVED")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// pgRows counts the rows of every payvault table of the database at dsn.
func pgRows(t *testing.T, dsn string) map[string]int {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: dsn, SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]int{}
	rows, err := s.DB().Query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, tbl := range tables {
		var n int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM "` + tbl + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

// TestCopyStoreKeyRotatedBeforeLock: keys rotated on the store after copy-store opened its
// keysets but before it locked the store for the copy are in the copy, and the copy
// verifies: the keysets it is checked against are read under the lock, as the rows are.
func TestCopyStoreKeyRotatedBeforeLock(t *testing.T) {
	ctx := context.Background()
	log := newCopyLog(t)
	f := mustCopyFixture(t, log)
	dsn := storetest.PostgresDSN(t)
	cfg := Config{DataDir: f.dir, MasterKey: f.key.Base64(), Logger: log.l}

	var rotated, rotatedMAC uint32
	rotate := func(ctx context.Context) error {
		// As `payvault keys rotate` and `keys rotate --fingerprint` would, beside copy-store.
		tool, err := OpenTool(ctx, Config{DataDir: f.dir, MasterKey: f.key.Base64(), Logger: log.l, ExistingStore: true})
		if err != nil {
			return err
		}
		defer tool.Close()
		if rotated, err = tool.Keyring.Rotate(ctx, "data"); err != nil {
			return err
		}
		rotatedMAC, err = tool.Keyring.Rotate(ctx, "mac")
		return err
	}
	if _, err := copyStore(ctx, cfg, dsn, rotate); err != nil {
		t.Fatalf("copy-store: %v", err)
	}
	pg, err := OpenTool(ctx, Config{DatabaseURL: dsn, MasterKey: f.key.Base64(), Logger: log.l, ExistingStore: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if got := pg.Keyring.PrimaryKeyID(); got != rotated {
		t.Errorf("the copy's primary data key = %d, want the rotated %d", got, rotated)
	}
	if got := pg.Keyring.PrimaryMACKeyID(); got != rotatedMAC {
		t.Errorf("the copy's primary fingerprint key = %d, want the rotated %d", got, rotatedMAC)
	}
}

// TestCopyStoreRefusals: each refusal writes nothing to the target.
func TestCopyStoreRefusals(t *testing.T) {
	ctx := context.Background()
	log := newCopyLog(t)
	f := mustCopyFixture(t, log)
	cfg := Config{DataDir: f.dir, MasterKey: f.key.Base64(), Logger: log.l}

	check := func(t *testing.T, dsn string, cfg Config, want string) {
		t.Helper()
		before := pgRows(t, dsn)
		_, err := CopyStore(ctx, cfg, dsn)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("CopyStore = %v, want an error containing %q", err, want)
		}
		if errors.Is(err, ErrCopyUnverified) {
			t.Errorf("refusal reported as a committed copy: %v", err)
		}
		if d := cmp.Diff(before, pgRows(t, dsn)); d != "" {
			t.Errorf("target changed (-before +after)\n%s", d)
		}
		mustNotBeMoved(t, cfg.DataDir)
	}

	t.Run("fail/non-empty-target", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		m, err := Open(ctx, Config{Listen: "127.0.0.1:0", DatabaseURL: dsn, MasterKey: f.key.Base64(), Logger: log.l, Out: &nopWriter{}, AdminToken: testAdminToken})
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		check(t, dsn, cfg, "already holds payvault data")
	})
	t.Run("fail/other-schema-version", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.DB().Exec("DELETE FROM goose_db_version WHERE version_id = (SELECT MAX(version_id) FROM goose_db_version)")
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		check(t, dsn, cfg, "schema is at version")
	})
	t.Run("fail/server-running", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		m, err := Open(ctx, Config{Listen: "127.0.0.1:0", DataDir: f.dir, MasterKey: f.key.Base64(), Logger: log.l, Out: &nopWriter{}, AdminToken: testAdminToken})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		check(t, dsn, cfg, "serve is using the store")
	})
	t.Run("fail/wrong-master-key", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		wrong := cfg
		wrong.MasterKey = keys.NewMasterKey().Base64()
		check(t, dsn, wrong, "master key does not open")
	})
	t.Run("fail/older-source-schema", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		old, _ := olderStore(t, "sqlite", f.key)
		old.Logger = log.l
		check(t, dsn, old, "payvault migrate --data")
	})
	t.Run("fail/no-store", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		none := cfg
		none.DataDir = t.TempDir()
		check(t, dsn, none, "no store in")
	})
	// A failure during the copy rolls it back: the target keeps the empty schema copy-store
	// gave it, with no row, and accepts the next attempt.
	mustExec := func(t *testing.T, query string) {
		t.Helper()
		s, err := sqlstore.Open(ctx, sqlstore.Config{Path: SQLitePath(f.dir), SkipMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.DB().Exec(query); err != nil {
			t.Fatal(err)
		}
	}
	rolledBack := func(t *testing.T, dsn string, want string) error {
		t.Helper()
		_, err := CopyStore(ctx, cfg, dsn)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("CopyStore = %v, want an error containing %q", err, want)
		}
		for tbl, n := range pgRows(t, dsn) {
			if n != 0 && tbl != "goose_db_version" {
				t.Errorf("%s: %d rows after a failed copy", tbl, n)
			}
		}
		mustNotBeMoved(t, cfg.DataDir)
		return err
	}
	t.Run("fail/value-does-not-convert", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		mustExec(t, "UPDATE instruments SET default_card = 2 WHERE id = (SELECT MAX(id) FROM instruments)")
		defer mustExec(t, "UPDATE instruments SET default_card = 0 WHERE default_card = 2")
		rolledBack(t, dsn, "instruments.default_card")
	})
	t.Run("fail/schemas-differ", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		mustExec(t, "ALTER TABLE settings ADD COLUMN extra TEXT")
		defer mustExec(t, "ALTER TABLE settings DROP COLUMN extra")
		rolledBack(t, dsn, "column settings.extra exists in the embedded store only")
	})
	t.Run("fail/sealed-field-does-not-open", func(t *testing.T) {
		// A card whose sealed number no longer opens (a damaged row, or one restored from
		// the wrong place) would be copied byte for byte, and would open on neither side.
		dsn := storetest.PostgresDSN(t)
		s, err := sqlstore.Open(ctx, sqlstore.Config{Path: SQLitePath(f.dir), SkipMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var id string
		var sealed []byte
		if err := s.DB().QueryRow("SELECT id, number_sealed FROM instruments WHERE dek_id <> 0 ORDER BY id LIMIT 1").Scan(&id, &sealed); err != nil {
			t.Fatal(err)
		}
		damaged := append([]byte(nil), sealed...)
		damaged[len(damaged)-1] ^= 1
		if _, err := s.DB().Exec("UPDATE instruments SET number_sealed = ? WHERE id = ?", damaged, id); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if _, err := s.DB().Exec("UPDATE instruments SET number_sealed = ? WHERE id = ?", sealed, id); err != nil {
				t.Fatal(err)
			}
		}()
		err = rolledBack(t, dsn, "instruments/"+id)
		if !strings.Contains(err.Error(), "do not open 1 sealed record of the sample") {
			t.Errorf("CopyStore = %v, want it to count 1 sealed record", err)
		}
		for _, secret := range []string{copyPAN1, copyPAN2, copyPAN3, copyPAN4, copyACH, copyIBAN, copyFortisACH} {
			if strings.Contains(err.Error(), secret) {
				t.Error("the error holds account data")
			}
		}
	})
	t.Run("ok/empty-schema-target", func(t *testing.T) {
		// A database migrated by payvault that holds no rows is accepted.
		dsn := storetest.PostgresDSN(t)
		s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := CopyStore(ctx, cfg, dsn); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCompareSealed: the check after the commit refuses a sample that differs from the
// source's, or that does not open under the target's keysets.
func TestCompareSealed(t *testing.T) {
	a, _ := mustApp(t)
	b, _ := mustApp(t)
	ad := keys.AD{Merchant: "m", Record: "r", Field: "number"}
	ct, err := a.Keyring.Seal([]byte(copyPAN1), ad)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(ct []byte) []vault.SealedRecord {
		return []vault.SealedRecord{{Table: "instruments", ID: "r", MerchantID: "m", KeyID: 1, Fields: map[string][]byte{"number": ct}}}
	}
	flipped := append([]byte(nil), ct...)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name     string
		src      []vault.SealedRecord // src is rec(ct) when nil
		dst      []vault.SealedRecord
		dstKeys  *keys.Keyring
		wantErr  string
		wantOpen int
	}{
		{name: "ok", dst: rec(ct), dstKeys: a.Keyring, wantOpen: 1},
		{name: "fail/differs", dst: rec(flipped), dstKeys: a.Keyring, wantErr: "differs"},
		{name: "fail/missing", dst: nil, dstKeys: a.Keyring, wantErr: "has 0 records"},
		{name: "fail/other-keysets", dst: rec(ct), dstKeys: b.Keyring, wantErr: "does not open under the copied keysets"},
		{name: "fail/opens-on-neither-side", src: rec(flipped), dst: rec(flipped), dstKeys: a.Keyring, wantErr: "does not open under the embedded store's keysets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if src == nil {
				src = rec(ct)
			}
			n, err := compareSealed(src, tc.dst, a.Keyring, tc.dstKeys)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("compareSealed = %v, want %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), copyPAN1) {
				t.Error("the error holds the card number")
			}
			if tc.wantErr == "" && n != tc.wantOpen {
				t.Errorf("opened %d, want %d", n, tc.wantOpen)
			}
		})
	}
}
