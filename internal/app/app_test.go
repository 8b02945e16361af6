package app

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

func TestMain(m *testing.M) { storetest.RunMain(m) }

// mustOpen opens a serving Main on a fresh embedded store, logging to log, and closes it when
// the test ends.
func mustOpen(t *testing.T, log *slog.Logger) *Main {
	t.Helper()
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, Out: &nopWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestRunDrains shows that cancelling Run lets an in-flight request finish.
func TestRunDrains(t *testing.T) {
	log, capture := logtest.New(t)
	m := mustOpen(t, log)
	forbidSecrets(capture, m, "")
	started := make(chan struct{})
	m.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("done"))
	})
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	respc := make(chan int, 1)
	go func() {
		resp, err := http.Get(m.URL() + "/slow")
		if err != nil {
			respc <- -1
			return
		}
		resp.Body.Close()
		respc <- resp.StatusCode
	}()
	<-started
	cancel()
	if code := <-respc; code != 200 {
		t.Errorf("in-flight request got %d during shutdown", code)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestNodesStartTogether starts three nodes on one fresh PostgreSQL at once: exactly one
// creates the sandbox merchant, exactly one logs that it migrated the schema (the others
// waited for its migration lock and applied nothing), and all share one keyring.
func TestNodesStartTogether(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	mk := base64.StdEncoding.EncodeToString(make([]byte, 32))
	var mu sync.Mutex
	var mains []*Main
	var logs []*logtest.Capture
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log, capture := logtest.New(t)
			m, err := Open(context.Background(), Config{DatabaseURL: dsn, MasterKey: mk, Logger: log, AdminToken: "admin-token-for-tests-0123"})
			if err != nil {
				t.Error(err)
				return
			}
			forbidSecrets(capture, m, "admin-token-for-tests-0123")
			mu.Lock()
			mains = append(mains, m)
			logs = append(logs, capture)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(mains) != 3 {
		t.Fatalf("%d nodes started", len(mains))
	}
	created := 0
	for _, m := range mains {
		defer m.Close()
		if m.Credentials != nil {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d nodes created a sandbox merchant, want 1", created)
	}
	migrated := 0
	for _, l := range logs {
		migrated += strings.Count(l.String(), "migrated the schema")
	}
	if migrated != 1 {
		t.Errorf("%d nodes logged that they migrated the schema, want 1", migrated)
	}
	n, err := mains[0].Store.CountMerchants(context.Background())
	if err != nil || n != 1 {
		t.Errorf("merchants = %d, %v", n, err)
	}
	ct, err := mains[1].Keyring.Seal([]byte("x"), keys.AD{Merchant: "m", Record: "r", Field: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mains[2].Keyring.Open(ct, keys.AD{Merchant: "m", Record: "r", Field: "f"}); err != nil {
		t.Errorf("nodes do not share a keyring: %v", err)
	}
	if ok, _ := mains[0].CheckAdminToken(context.Background(), "admin-token-for-tests-0123"); !ok {
		t.Error("the admin token is refused")
	}
	if ok, _ := mains[0].CheckAdminToken(context.Background(), "wrong"); ok {
		t.Error("admin token check wrong")
	}

	// A serving node bounds its reads of a database that stops answering; a CLI tool on the
	// same database does not (keys status counts every record of a key).
	tool, err := OpenTool(context.Background(), Config{DatabaseURL: dsn, MasterKey: mk, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	if got := [2]time.Duration{mains[0].Store.ReadWait(), tool.Store.ReadWait()}; got != [2]time.Duration{30 * time.Second, 0} {
		t.Errorf("read bounds of a node and a tool = %v, want [30s 0s]", got)
	}
}

// forbidSecrets registers every secret a started Main knows with its log capture: the admin
// token and the sandbox merchant's credentials.
func forbidSecrets(c *logtest.Capture, m *Main, adminToken string) {
	c.Forbid(adminToken, m.AdminTokenGenerated)
	if cr := m.Credentials; cr != nil {
		c.Forbid(cr.Paysafe.APIKeySecret, cr.Paysafe.SingleUseKeySecret, cr.Fortis.UserAPIKey, cr.Fortis.TicketHashKey)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestRetention shows that the app erases deleted account data once its retention passes.
func TestRetention(t *testing.T) {
	log, capture := logtest.New(t)
	now := time.Now()
	clock := func() time.Time { return now }
	m, err := Open(context.Background(), Config{DataDir: t.TempDir(), Logger: log, Out: &nopWriter{}, RetainDeleted: 24 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	forbidSecrets(capture, m, "")
	ctx := context.Background()
	p, prof := mustSandboxProfile(t, m, "r")
	in, err := m.Vault.CreateInstrument(ctx, p, &vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID},
		vault.Source{Number: "4111111111111111", Expiry: card.Expiry{Month: 1, Year: 2040}}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Vault.DeleteInstrument(ctx, p, in.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := m.EraseExpired(ctx); err != nil || n != 0 {
		t.Fatalf("erased %d within retention (%v)", n, err)
	}
	now = now.Add(25 * time.Hour)
	if n, err := m.EraseExpired(ctx); err != nil || n != 1 {
		t.Fatalf("erased %d past retention (%v)", n, err)
	}
}

// TestAdminTokenRefusals: a blank PAYVAULT_ADMIN_TOKEN or an unreadable or empty
// --admin-token-file fails the start before anything is created: no data dir, no key, no store.
func TestAdminTokenRefusals(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"fail/blank-token", Config{AdminToken: " \t\n"}, "PAYVAULT_ADMIN_TOKEN is blank"},
		{"fail/missing-token-file", Config{AdminTokenFile: filepath.Join(t.TempDir(), "nope")}, "admin token file"},
		{"fail/empty-token-file", Config{AdminTokenFile: empty}, "admin token file is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			cfg := tt.cfg
			cfg.DataDir, cfg.Listen = dir, "127.0.0.1:0"
			cfg.Logger, _ = logtest.New(t)
			m, err := Open(context.Background(), cfg)
			if err == nil {
				m.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the refused start created its data dir: %v", err)
			}
		})
	}
}

// TestAdminTokenFileBeatsEnvironment: --admin-token-file beats PAYVAULT_ADMIN_TOKEN, as
// --master-key-file beats PAYVAULT_MASTER_KEY: the flag given on the command line is the token,
// and a token left in the environment is not.
func TestAdminTokenFileBeatsEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(file, []byte("file-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log, _ := logtest.New(t)
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, Out: &nopWriter{},
		AdminToken: "env-token-0123456789", AdminTokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got := map[string]bool{}
	for _, token := range []string{"file-token-0123456789", "env-token-0123456789"} {
		if got[token], err = m.CheckAdminToken(context.Background(), token); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{"file-token-0123456789": true, "env-token-0123456789": false}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("admin tokens accepted (-want +got)\n%s", d)
	}
	if m.AdminTokenGenerated != "" {
		t.Error("a token was generated although one was given")
	}
}

// TestMasterKeyFileRefusals: a --master-key-file that is missing or not a file fails the start
// with that error alone, not a WARN about the mode of a file that is not there.
func TestMasterKeyFileRefusals(t *testing.T) {
	for _, tt := range []struct{ name, path string }{
		{"fail/missing", filepath.Join(t.TempDir(), "nope.key")},
		{"fail/directory", t.TempDir()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, capture := logtest.New(t)
			m, err := Open(context.Background(), Config{DataDir: filepath.Join(t.TempDir(), "data"), Listen: "127.0.0.1:0", MasterKeyFile: tt.path, Logger: log})
			if err == nil {
				m.Close()
				t.Fatal("started")
			}
			if strings.Contains(capture.String(), "not private") {
				t.Errorf("err = %v, with a WARN about the mode:\n%s", err, capture)
			}
		})
	}
}

// TestSecondServeRefused: a second server on the same data dir is refused with one plain
// sentence naming the dir, not the store's internal error chain.
func TestSecondServeRefused(t *testing.T) {
	log, _ := logtest.New(t)
	dir := filepath.Join(t.TempDir(), "data")
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: log, Out: &nopWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m2, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: log, Out: &nopWriter{}})
	if err == nil {
		m2.Close()
		t.Fatal("a second server opened the data dir")
	}
	want := "payvault: another payvault serve is using the store in " + dir + " (" + filepath.Join(dir, "payvault.db") + "-serve.lock is locked): stop it first, or give this one another --data"
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

// TestFirstStartLogsMigration: a server that makes or moves the schema says so in its log
// (an upgrade was otherwise silent on a server); a start on a current schema does not.
func TestFirstStartLogsMigration(t *testing.T) {
	log, capture := logtest.New(t)
	dir := t.TempDir()
	m, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: log, Out: &nopWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if got := strings.Count(capture.String(), "migrated the schema"); got != 1 || !strings.Contains(capture.String(), `"msg":"migrated the schema","from":0,`) {
		t.Fatalf("first start: %d migration lines, want one from 0:\n%s", got, capture)
	}
	m, err = Open(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: log, Out: &nopWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if got := strings.Count(capture.String(), "migrated the schema"); got != 1 {
		t.Errorf("a restart on the current schema logged a migration:\n%s", capture)
	}
}

// TestStoreConfigPromoteGrace: a serving node counts every node alive after a failover for
// as long as payments would wait before resolving a transaction whatever its node. A node
// started after a failover from a quiet spell (no write replayed in the 45 s before it) must
// not fail, as interrupted, a payment whose node has not yet taken its lock on the new
// primary and may still complete it.
func TestStoreConfigPromoteGrace(t *testing.T) {
	m := mustOpen(t, slog.New(slog.DiscardHandler))
	want := payments.RecoverAge(m.Payments.Config().ProcessorTimeout)
	for _, bootstrap := range []bool{true, false} {
		if got := storeConfig(Config{DatabaseURL: "postgres://127.0.0.1/x"}, bootstrap).PromoteGrace; got < want {
			t.Errorf("storeConfig(bootstrap %v).PromoteGrace = %s; want at least %s, the age at which payments resolves a RECEIVED transaction whatever its node", bootstrap, got, want)
		}
	}
}
