package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
	_ "modernc.org/sqlite"
)

// binary is the payvault binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "payvault-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "payvault")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build payvault: %v\n%s", err, out)
		os.Exit(1)
	}
	// RunMainThen stops the PostgreSQL server a test started (copy-store's).
	storetest.RunMainThen(m, func() { os.RemoveAll(dir) })
}

// server is a payvault serve subprocess.
type server struct {
	cmd    *exec.Cmd
	stdout *logtest.SyncBuffer
	stderr *logtest.SyncBuffer
	url    string
	done   chan error
}

var servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// MustServe starts `payvault serve` in dir with args and waits until it answers /healthz.
func MustServe(tb testing.TB, dir string, env []string, args ...string) *server {
	tb.Helper()
	s := startServe(tb, dir, env, args...)
	s.mustServing(tb)
	return s
}

// startServe starts `payvault serve` in dir with args, and does not wait for it.
func startServe(tb testing.TB, dir string, env []string, args ...string) *server {
	tb.Helper()
	s := &server{stdout: &logtest.SyncBuffer{}, stderr: &logtest.SyncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(binary, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	tb.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// mustServing waits until s answers /healthz.
func (s *server) mustServing(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case err := <-s.done:
			tb.Fatalf("payvault serve exited: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s.url == "" {
		tb.Fatalf("payvault serve did not start\nstderr:\n%s", s.stderr)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for time.Now().Before(deadline) {
		resp, err := client.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("healthz never answered 200\nstderr:\n%s", s.stderr)
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *server) Stop(tb testing.TB) {
	tb.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			tb.Errorf("payvault serve exited with %v after SIGTERM\nstderr:\n%s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		tb.Fatal("payvault serve did not stop after SIGTERM")
	}
}

func run(tb testing.TB, dir string, env []string, args ...string) (string, string, error) {
	tb.Helper()
	// A command that should end but serves instead (a refusal that regressed) is killed,
	// and fails its test, rather than hanging the run.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// credentialKeys is the CLI contract's JSON shape.
var credentialKeys = map[string][]string{
	"":        {"fortis", "merchant_id", "paysafe"},
	"paysafe": {"account_number", "api_key_id", "api_key_secret", "single_use_key_id", "single_use_key_secret"},
	"fortis":  {"developer_id", "location_api_key", "location_id", "ticket_hash_key", "user_api_key", "user_id"},
}

func checkCredentialShape(tb testing.TB, raw []byte) map[string]any {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("credentials are not one JSON object: %v\n%s", err, raw)
	}
	for section, want := range credentialKeys {
		obj := v
		if section != "" {
			obj, _ = v[section].(map[string]any)
		}
		var got []string
		for k, val := range obj {
			got = append(got, k)
			if s, ok := val.(string); section != "" && (!ok || s == "") {
				tb.Errorf("%s.%s = %v, want a non-empty string", section, k, val)
			}
		}
		if d := cmp.Diff(want, sorted(got)); d != "" {
			tb.Errorf("credential keys of %q (-want +got)\n%s", section, d)
		}
	}
	return v
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// firstJSON returns the first top-level JSON object in text.
func firstJSON(tb testing.TB, text string) []byte {
	tb.Helper()
	i := strings.Index(text, "{")
	if i < 0 {
		tb.Fatalf("no JSON in output:\n%s", text)
	}
	dec := json.NewDecoder(strings.NewReader(text[i:]))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		tb.Fatalf("bad JSON in output: %v\n%s", err, text)
	}
	return raw
}

func TestFirstStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)

	// The data dir, its database (WAL) and the 0600 master key exist.
	data := filepath.Join(dir, "payvault-data")
	st, err := os.Stat(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("master.key mode = %v, want 0600", st.Mode().Perm())
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "payvault.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	db.Close()

	// The sandbox merchant's credentials are printed once, in the contract's shape, with a curl.
	out := s.stdout.String()
	checkCredentialShape(t, firstJSON(t, out))
	if !strings.Contains(out, "curl ") || !strings.Contains(out, s.url+"/customervault/v1/profiles") {
		t.Errorf("no working curl line in:\n%s", out)
	}
	if !strings.Contains(out, "Admin API token") {
		t.Errorf("the generated admin token is not printed:\n%s", out)
	}

	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !bytes.Contains(body, []byte("payvault_http_requests_total")) {
			t.Errorf("/metrics lacks payvault_http_requests_total")
		}
	}
	// Unknown routes answer JSON.
	resp, err := http.Get(s.url + "/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("unknown route: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp.Body.Close()

	// merchant create works while the server runs on the same store.
	stdout, stderr, err := run(t, dir, nil, "merchant", "create", "--name", "Second", "--account-number", "5550001", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	m2 := checkCredentialShape(t, []byte(stdout))
	if got := m2["paysafe"].(map[string]any)["account_number"]; got != "5550001" {
		t.Errorf("account_number = %v", got)
	}
	if strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
		t.Errorf("--json printed more than one line:\n%s", stdout)
	}
	// The same account number again is refused.
	if _, _, err := run(t, dir, nil, "merchant", "create", "--name", "Third", "--account-number", "5550001", "--json"); err == nil {
		t.Error("a taken account number was accepted")
	}
	s.Stop(t)

	// A second start keeps the data and prints no new credentials.
	s2 := MustServe(t, dir, nil)
	if strings.Contains(s2.stdout.String(), "api_key_secret") {
		t.Errorf("second start printed credentials:\n%s", s2.stdout)
	}
	s2.Stop(t)
	stdout, _, err = run(t, dir, nil, "keys", "status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ks struct {
		Primary uint32 `json:"primary_key_id"`
		Keys    []struct {
			ID      uint32 `json:"id"`
			Status  string `json:"status"`
			Records int    `json:"records"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(stdout), &ks); err != nil || ks.Primary == 0 || len(ks.Keys) == 0 {
		t.Fatalf("keys status --json = %s (%v)", stdout, err)
	}

}

// TestKeysStatusLegacyLine: the text status always says how many instruments are not yet
// bound to their payment token, 0 included, since docs/operations.md (Upgrading, step 6)
// has the operator watch that line until it reads 0.
func TestKeysStatusLegacyLine(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, err := run(t, dir, nil, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	out, stderr, err := run(t, dir, nil, "keys", "status")
	if err != nil {
		t.Fatalf("keys status: %v\n%s", err, stderr)
	}
	if want := "instruments not yet bound to their payment token: 0\n"; !strings.Contains(out, want) {
		t.Errorf("keys status printed no %q:\n%s", want, out)
	}
}

func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, err := run(t, dir, nil, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	status := func() uint32 {
		out, _, err := run(t, dir, nil, "keys", "status", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Primary uint32 `json:"primary_key_id"`
		}
		json.Unmarshal([]byte(out), &v)
		return v.Primary
	}
	before := status()
	if _, stderr, err := run(t, dir, nil, "keys", "rotate"); err != nil {
		t.Fatalf("rotate: %v\n%s", err, stderr)
	}
	if after := status(); after == before || after == 0 {
		t.Errorf("primary before %d, after %d", before, after)
	}
}

func TestStartRefusals(t *testing.T) {
	dir := t.TempDir()
	key := "PAYVAULT_MASTER_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"fail/database-without-master-key", nil, []string{"serve", "--database", "postgres://nobody@127.0.0.1:1/x"}, "needs a master key: give --unseal"},
		{"fail/bad-master-key", []string{"PAYVAULT_MASTER_KEY=not-base64!"}, []string{"migrate"}, "master key"},
		{"fail/tls-cert-without-key", nil, []string{"serve", "--tls-cert", "x.pem"}, "--tls-cert and --tls-key go together"},
		{"fail/listen-without-port", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1"}, "--listen: address 127.0.0.1: missing port in address"},
		{"fail/listen-bad-port", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:99999"}, "--listen: address 99999: invalid port"},
		// A token's life bounds how long its CVV is kept: a negative one made every token
		// expired at birth, and a zero one is no life at all.
		{"fail/negative-sut-ttl", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--sut-ttl=-5s"}, "--sut-ttl must be positive"},
		{"fail/zero-sut-ttl", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--sut-ttl=0s"}, "--sut-ttl must be positive"},
		// A token's life is how long its CVV is kept: at most a day.
		{"fail/day-long-sut-ttl", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--sut-ttl=24h1s"}, "--sut-ttl may not exceed 24h"},
		{"fail/tls-key-pair-missing", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--tls-cert", "x.pem", "--tls-key", "x.key"}, "payvault: TLS: open"},
		// A secret's variable that is set but empty (a secret that did not arrive) is not read
		// as unset: payvault would make a master key or an admin token of its own.
		{"fail/empty-master-key-env", []string{"PAYVAULT_MASTER_KEY="}, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0"}, "PAYVAULT_MASTER_KEY is set but empty"},
		{"fail/create-empty-master-key-env", []string{"PAYVAULT_MASTER_KEY="}, []string{"merchant", "create", "--name", "X", "--data", "both", "--json"}, "PAYVAULT_MASTER_KEY is set but empty"},
		{"fail/empty-admin-token-env", []string{"PAYVAULT_ADMIN_TOKEN="}, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0"}, "PAYVAULT_ADMIN_TOKEN is set but empty"},
		// A secret is never a plain flag: every user of the machine reads a command line (ps,
		// /proc/PID/cmdline).
		{"fail/admin-token-flag", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--admin-token", "flag-token-123456789"}, "--admin-token is not a flag"},
		{"fail/admin-token-flag-equals", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--admin-token=flag-token-123456789"}, "--admin-token is not a flag"},
		{"fail/master-key-flag", nil, []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--master-key", base64.StdEncoding.EncodeToString(make([]byte, 32))}, "--master-key is not a flag"},
		{"fail/create-master-key-flag", nil, []string{"merchant", "create", "--name", "X", "--data", "both", "--json", "--master-key=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}, "--master-key is not a flag"},
		{"fail/copy-store-master-key-flag", nil, []string{"copy-store", "--data", "both", "--database", "postgres://nobody@127.0.0.1:1/x", "--master-key", base64.StdEncoding.EncodeToString(make([]byte, 32))}, "--master-key is not a flag"},
		{"fail/bench-credentials-flag", nil, []string{"bench", "--target", "http://127.0.0.1:1", "--credentials", "{}"}, "--credentials is not a flag"},
		// Every command that reads a secret from its environment refuses it set but empty.
		{"fail/copy-store-empty-master-key-env", []string{"PAYVAULT_MASTER_KEY="}, []string{"copy-store", "--data", "both", "--database", "postgres://nobody@127.0.0.1:1/x"}, "PAYVAULT_MASTER_KEY is set but empty"},
		{"fail/bench-empty-credentials-env", []string{"PAYVAULT_BENCH_CREDENTIALS="}, []string{"bench", "--target", "http://127.0.0.1:1"}, "PAYVAULT_BENCH_CREDENTIALS is set but empty"},
		{"fail/bench-empty-master-key-env", []string{"PAYVAULT_BENCH_MASTER_KEY="}, []string{"bench", "--database", "postgres://nobody@127.0.0.1:1/x"}, "PAYVAULT_BENCH_MASTER_KEY is set but empty"},
		{"fail/serve-data-and-database", []string{key}, []string{"serve", "--data", "both", "--database", "postgres://nobody@127.0.0.1:1/x?sslmode=bogus"}, "give only one"},
		{"fail/create-data-and-database", []string{key}, []string{"merchant", "create", "--name", "X", "--data", "both", "--database", "postgres://nobody@127.0.0.1:1/x", "--json"}, "give only one"},
		{"fail/create-data-and-database-env", []string{key, "PAYVAULT_DATABASE_URL=postgres://nobody@127.0.0.1:1/x"}, []string{"merchant", "create", "--name", "X", "--data", "both", "--json"}, "give only one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := run(t, dir, tt.env, tt.args...)
			if err == nil || !strings.Contains(stderr, tt.want) {
				t.Errorf("err = %v, stderr = %q; want failure mentioning %q", err, stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "both")); !os.IsNotExist(err) {
				t.Errorf("a refused start wrote its --data dir: %v", err)
			}
		})
	}
	// A wrong master key refuses to start with a clear message.
	if _, stderr, err := run(t, dir, nil, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	wrong := "PAYVAULT_MASTER_KEY=" + strings.Repeat("A", 43) + "="
	_, stderr, err := run(t, dir, []string{wrong}, "keys", "status")
	if err == nil || !strings.Contains(stderr, "master key does not open") {
		t.Errorf("wrong master key: err = %v, stderr = %q", err, stderr)
	}
}

// TestSecretNotAFlag: a secret is read from the environment or a file only, never from a flag
// (every user of the machine reads a command line), so no command's help lists one, and one
// given as a flag all the same is refused with where to give it instead, without repeating it.
func TestSecretNotAFlag(t *testing.T) {
	dir := t.TempDir()
	secretFlag := regexp.MustCompile(`--(master-key|admin-token|credentials)([^-\w]|$)`)
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"merchant", "create", "--help"}, {"keys", "rewrap", "--help"}, {"copy-store", "--help"}, {"bench", "--help"}} {
		out, stderr, err := run(t, dir, nil, args...)
		if err != nil || !strings.Contains(out, "Usage: payvault") {
			t.Errorf("%v: err %v\n%s%s", args, err, out, stderr)
		}
		if m := secretFlag.FindString(out); m != "" {
			t.Errorf("%v lists the secret flag %q:\n%s", args, m, out)
		}
	}
	const secret = "c2VjcmV0LW5ldmVyLXJlcGVhdGVkLTAxMjM0NTY3ODk="
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"fail/master-key", []string{"keys", "status", "--data", "both", "--master-key", secret}, "--master-key is not a flag, since a command line is visible to every user of the machine: set PAYVAULT_MASTER_KEY"},
		{"fail/master-key-equals", []string{"migrate", "--data", "both", "--master-key=" + secret}, "--master-key-file"},
		{"fail/master-key-before-command", []string{"--master-key", secret, "migrate", "--data", "both"}, "--master-key is not a flag"},
		{"fail/admin-token", []string{"serve", "--data", "both", "--listen", "127.0.0.1:0", "--admin-token", secret}, "set PAYVAULT_ADMIN_TOKEN or give --admin-token-file"},
		{"fail/bench-master-key", []string{"bench", "--database", "postgres://nobody@127.0.0.1:1/x", "--master-key=" + secret}, "PAYVAULT_BENCH_MASTER_KEY for bench"},
		{"fail/credentials", []string{"bench", "--target", "http://127.0.0.1:1", "--credentials=" + secret}, "set PAYVAULT_BENCH_CREDENTIALS or give --credentials-file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := run(t, dir, nil, tt.args...)
			if err == nil || !strings.Contains(stderr, tt.want) {
				t.Errorf("err = %v, stderr = %q; want a failure mentioning %q", err, stderr, tt.want)
			}
			if strings.Contains(out+stderr, secret) {
				t.Errorf("the refusal repeats the secret: stdout %q, stderr %q", out, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "both")); !os.IsNotExist(err) {
				t.Errorf("a refused command wrote its --data dir: %v", err)
			}
		})
	}
}

// TestMerchantCreateRefusals: merchant create refuses a bad account number or command line with
// an error on stderr and writes nothing to stdout, which holds only the credentials (other tools
// read it).
func TestMerchantCreateRefusals(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, err := run(t, dir, nil, "merchant", "create", "--name", "First", "--account-number", "5550002", "--json"); err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"fail/empty-account-number", []string{"--name", "X", "--account-number", ""}, "--account-number is empty"},
		{"fail/bad-account-number", []string{"--name", "X", "--account-number", "12ab"}, "--account-number must be 1 to 11 digits"},
		{"fail/long-account-number", []string{"--name", "X", "--account-number", strings.Repeat("1", 21)}, "--account-number must be 1 to 11 digits"},
		{"fail/taken-account-number", []string{"--name", "X", "--account-number", "5550002"}, "--account-number 5550002 is another merchant's: choose another, or leave the flag out for a random number"},
		// A command line kong cannot parse: its usage goes to stderr with the error.
		{"fail/no-name", nil, "missing flags: --name"},
		{"fail/unknown-flag", []string{"--name", "X", "--acount-number", "5550003"}, "unknown flag --acount-number"},
		{"fail/flag-without-value", []string{"--name", "X", "--account-number"}, "--account-number: expected string value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := run(t, dir, nil, append([]string{"merchant", "create", "--json"}, tt.args...)...)
			if err == nil || !strings.Contains(stderr, tt.want) {
				t.Errorf("err = %v, stderr = %q; want a failure mentioning %q", err, stderr, tt.want)
			}
			if out != "" {
				t.Errorf("stdout = %q; want nothing", out)
			}
		})
	}
}

// TestToolNeedsStore: the key and audit commands refuse a --data dir without a store (a typo)
// instead of creating a store, and a master key, of their own there; migrate creates one, and
// so does merchant create, as the CLI contract always has, saying so on stderr.
func TestToolNeedsStore(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"keys", "status"},
		{"keys", "rotate"},
		{"audit", "verify"},
	} {
		t.Run("fail/"+strings.Join(args[:2], "-"), func(t *testing.T) {
			out, stderr, err := run(t, dir, nil, append(args, "--data", "typo")...)
			if err == nil || !strings.Contains(stderr, "no store in typo") || out != "" {
				t.Errorf("err = %v, stdout = %q, stderr = %q; want a refusal naming the dir", err, out, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "typo")); !os.IsNotExist(err) {
				t.Errorf("the refused command created its --data dir: %v", err)
			}
		})
	}
	t.Run("ok/merchant-create-makes-a-store", func(t *testing.T) {
		out, stderr, err := run(t, dir, nil, "merchant", "create", "--name", "X", "--data", "new", "--json")
		if err != nil {
			t.Fatalf("merchant create on a fresh dir: %v\n%s", err, stderr)
		}
		checkCredentialShape(t, []byte(out))
		if !strings.Contains(stderr, "new held no store; created a new one there") {
			t.Errorf("stderr = %q; want a notice that a new store was created", stderr)
		}
		// The second one finds the store, and says nothing of it.
		out, stderr, err = run(t, dir, nil, "merchant", "create", "--name", "Y", "--data", "new", "--json")
		if err != nil || strings.Contains(stderr, "held no store") {
			t.Fatalf("second merchant create: %v\n%s", err, stderr)
		}
		checkCredentialShape(t, []byte(out))
	})
	if _, stderr, err := run(t, dir, nil, "migrate", "--data", "fresh"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	out, stderr, err := run(t, dir, nil, "merchant", "create", "--name", "X", "--data", "fresh", "--json")
	if err != nil {
		t.Fatalf("merchant create after migrate: %v\n%s", err, stderr)
	}
	checkCredentialShape(t, []byte(out))
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"merchant", "create", "--help"}, {"migrate", "--help"}, {"keys", "status", "--help"}, {"keys", "rotate", "--help"}, {"copy-store", "--help"}} {
		out, stderr, err := run(t, t.TempDir(), nil, args...)
		if err != nil || !strings.Contains(out, "Usage: payvault") {
			t.Errorf("%v: err %v\n%s%s", args, err, out, stderr)
		}
		// `payvault help [command…]` prints the same help, and exits 0 too.
		hout, stderr, err := run(t, t.TempDir(), nil, append([]string{"help"}, args[:len(args)-1]...)...)
		if err != nil {
			t.Errorf("help %v: %v\n%s", args[:len(args)-1], err, stderr)
		}
		if d := cmp.Diff(out, hout); d != "" {
			t.Errorf("help %v differs from --help (-want +got)\n%s", args[:len(args)-1], d)
		}
	}
	// Every --data flag states its default.
	for _, args := range [][]string{{"backup", "--help"}, {"keys", "status", "--help"}, {"copy-store", "--help"}} {
		out, _, _ := run(t, t.TempDir(), nil, args...)
		if !strings.Contains(strings.Join(strings.Fields(out), " "), "--data=DIR Data directory of the embedded store (default ./payvault-data)") {
			t.Errorf("%v: --data does not state its default:\n%s", args, out)
		}
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := mustSelfSigned(t, dir)
	s := MustServe(t, dir, nil, "--tls-cert", cert, "--tls-key", key, "--public-base-url", "https://vault.example.com")
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("url = %s", s.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.StatusCode != 200 {
		t.Errorf("healthz over TLS: %d, tls=%v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP to the TLS port gets a JSON 400, not a 200 and not plain text.
	resp, err = http.Get("http://" + strings.TrimPrefix(s.url, "https://") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"details":["The request could not be parsed: plain HTTP sent to the HTTPS port."]`) {
		t.Errorf("plain HTTP to the TLS listener: %d %s", resp.StatusCode, b)
	}
	s.Stop(t)
}

func mustSelfSigned(tb testing.TB, dir string) (string, string) {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		tb.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(priv)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certPath, keyPath
}

func TestSplitAndUnseal(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	out, stderr, err := run(t, dir, nil, "keys", "split", "--shares", "5", "--threshold", "3", "--delete-key-file")
	if err != nil {
		t.Fatalf("split: %v\n%s", err, stderr)
	}
	shares := strings.Fields(out)
	if len(shares) != 5 {
		t.Fatalf("got %d shares:\n%s", len(shares), out)
	}
	if _, err := os.Stat(filepath.Join(dir, "payvault-data", "master.key")); !os.IsNotExist(err) {
		t.Fatalf("master.key still exists: %v", err)
	}
	// Without the key the store refuses to start, and no new key is created.
	// Both name the shares (--unseal) as a way to give the key.
	for _, args := range [][]string{{"keys", "status"}, {"keys", "rewrap", "--new-master-key-file", filepath.Join(dir, "new.key")}} {
		if _, stderr, err := run(t, dir, nil, args...); err == nil || !strings.Contains(stderr, "no master.key") || !strings.Contains(stderr, "--unseal") {
			t.Errorf("%v without key: err %v, %s", args, err, stderr)
		}
	}
	// Three shares on stdin unseal it; the key never reaches the disk.
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--unseal")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(shares[4] + "\n" + shares[0] + "\n" + shares[2] + "\n")
	var errb logtest.SyncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !servingRE.MatchString(errb.String()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !servingRE.MatchString(errb.String()) {
		cmd.Process.Kill()
		t.Fatalf("unsealed server did not start:\n%s", errb.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "payvault-data", "master.key")); !os.IsNotExist(err) {
		t.Errorf("unseal wrote a key file: %v", err)
	}
	// Share files work too; two shares are not enough.
	f := filepath.Join(dir, "shares.txt")
	os.WriteFile(f, []byte(shares[1]+"\n"+shares[3]+"\n"), 0o600)
	if _, stderr, err := run(t, dir, nil, "serve", "--listen", "127.0.0.1:0", "--unseal", "--share-file", f); err == nil || !strings.Contains(stderr, "unseal") {
		t.Errorf("two shares: err %v, %s", err, stderr)
	}
	// A typo in a share is caught.
	i := len(shares[1]) - 12
	typo := byte('x')
	if shares[1][i] == typo {
		typo = 'y'
	}
	bad := []byte(shares[1][:i] + string(typo) + shares[1][i+1:] + "\n")
	os.WriteFile(f, bad, 0o600)
	if _, stderr, err := run(t, dir, nil, "serve", "--unseal", "--share-file", f); err == nil || !strings.Contains(stderr, "checksum") {
		t.Errorf("typo: err %v, %s", err, stderr)
	}
}

func TestRotateRekeyRetire(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil) // the sandbox merchant's location holds a sealed ticket hash key
	s.Stop(t)
	type status struct {
		Primary uint32 `json:"primary_key_id"`
		Keys    []struct {
			ID      uint32 `json:"id"`
			Keyset  string `json:"keyset"`
			Status  string `json:"status"`
			Records int    `json:"records"`
		} `json:"keys"`
	}
	get := func() status {
		out, stderr, err := run(t, dir, nil, "keys", "status", "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var st status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	old := get().Primary
	if _, stderr, err := run(t, dir, nil, "keys", "rotate"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	// Right after the rotation a serving node may not have reloaded the keysets yet, and still
	// seal under the old key: retire says when to retry instead of stranding such a record. It
	// waits before it counts, so that every such record is committed before the count.
	if _, stderr, err := run(t, dir, nil, "keys", "retire", fmt.Sprint(old)); err == nil || !strings.Contains(stderr, "retry after") {
		t.Errorf("retire right after the rotation: %v %s", err, stderr)
	}
	backdateKeysets(t, dir)
	if _, stderr, err := run(t, dir, nil, "keys", "retire", fmt.Sprint(old)); err == nil || !strings.Contains(stderr, "still protects") {
		t.Errorf("retiring a key in use: %v %s", err, stderr)
	}
	if _, stderr, err := run(t, dir, nil, "keys", "rekey"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	st := get()
	for _, k := range st.Keys {
		if k.Keyset == "data" && k.ID == old && k.Records != 0 {
			t.Errorf("old key still has %d records", k.Records)
		}
	}
	if _, stderr, err := run(t, dir, nil, "keys", "retire", fmt.Sprint(old)); err != nil {
		t.Errorf("retire: %v %s", err, stderr)
	}
	if _, _, err := run(t, dir, nil, "keys", "retire", fmt.Sprint(st.Primary)); err == nil {
		t.Error("the primary key was retired")
	}
	for _, k := range get().Keys {
		if k.Keyset == "data" && k.ID == old && k.Status != "disabled" {
			t.Errorf("retired key status = %q", k.Status)
		}
	}
	// Retiring is the reversible step: `keys enable` undoes it (for a record a node still sealed
	// under the old key before it saw the rotation, say), and the key can be retired again.
	if _, stderr, err := run(t, dir, nil, "keys", "enable", fmt.Sprint(old)); err != nil {
		t.Errorf("enable: %v %s", err, stderr)
	}
	for _, k := range get().Keys {
		if k.Keyset == "data" && k.ID == old && k.Status != "enabled" {
			t.Errorf("enabled key status = %q", k.Status)
		}
	}
	if _, stderr, err := run(t, dir, nil, "keys", "enable", "12345"); err == nil || !strings.Contains(stderr, "no such key") {
		t.Errorf("enabling a key the keyset does not hold: %v %s", err, stderr)
	}
	backdateKeysets(t, dir)
	if _, stderr, err := run(t, dir, nil, "keys", "retire", fmt.Sprint(old)); err != nil {
		t.Errorf("retire again: %v %s", err, stderr)
	}

	// A retired key is destroyed only when told twice; it is then gone, and the server
	// still starts and reads every record (all sealed under the new primary).
	if _, stderr, err := run(t, dir, nil, "keys", "destroy", fmt.Sprint(old)); err == nil || !strings.Contains(stderr, "--yes") {
		t.Errorf("destroy without --yes: %v %s", err, stderr)
	}
	if _, stderr, err := run(t, dir, nil, "keys", "destroy", "--yes", fmt.Sprint(st.Primary)); err == nil {
		t.Errorf("the primary key was destroyed: %s", stderr)
	}
	if _, stderr, err := run(t, dir, nil, "keys", "destroy", "--yes", fmt.Sprint(old)); err != nil {
		t.Fatalf("destroy: %v %s", err, stderr)
	}
	for _, k := range get().Keys {
		if k.ID == old {
			t.Errorf("destroyed key still listed: %+v", k)
		}
	}
	s = MustServe(t, dir, nil)
	s.Stop(t)
}

// backdateKeysets moves the last change of every keyset in dir's store an hour back, as if
// the serving nodes had long reloaded it, so that `keys retire` need not wait for them.
func backdateKeysets(tb testing.TB, dir string) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "payvault-data", "payvault.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE keysets SET updated_at = updated_at - ?", time.Hour.Milliseconds()); err != nil {
		tb.Fatal(err)
	}
}

// TestRekeyReportsUnreadable: `keys rekey` re-encrypts every record it can open, lists the
// one it cannot by id, and exits non-zero; `keys retire` of its key then says why it refuses.
func TestRekeyReportsUnreadable(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	for _, name := range []string{"Shop A", "Shop B"} {
		if _, stderr, err := run(t, dir, nil, "merchant", "create", "--name", name, "--json"); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
	}
	// The first location (by id) gets another location's ticket hash key, as after restoring
	// the wrong row: sealed for another record, it does not open.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "payvault-data", "payvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	var bad string
	if err := db.QueryRow("SELECT MIN(id) FROM locations").Scan(&bad); err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec("UPDATE locations SET ticket_hash_key = (SELECT ticket_hash_key FROM locations WHERE id <> ? ORDER BY id LIMIT 1) WHERE id = ?", bad, bad)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("corrupted %d locations", n)
	}
	db.Close()
	out, stderr, err := run(t, dir, nil, "keys", "status", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var st struct {
		Primary uint32 `json:"primary_key_id"`
	}
	json.Unmarshal([]byte(out), &st)
	if _, stderr, err := run(t, dir, nil, "keys", "rotate"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out, stderr, err = run(t, dir, nil, "keys", "rekey")
	if err == nil || !strings.Contains(stderr, "1 records do not open") {
		t.Errorf("rekey with an unreadable record: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "re-encrypted 2 records") || !strings.Contains(out, fmt.Sprintf("unreadable: locations %s (", bad)) {
		t.Errorf("rekey output does not report the unreadable location %s:\n%s", bad, out)
	}
	backdateKeysets(t, dir) // the retire wait has passed: it counts
	if _, stderr, err := run(t, dir, nil, "keys", "retire", fmt.Sprint(st.Primary)); err == nil || !strings.Contains(stderr, "still protects 1 records") || !strings.Contains(stderr, "payvault keys rekey") {
		t.Errorf("retiring the key of the unreadable record: %v %s", err, stderr)
	}
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	tamper := []struct {
		name, sql string
	}{
		{"fail/edited", "UPDATE audit_log SET record_id = 'x' WHERE seq = 2 AND merchant_id = (SELECT merchant_id FROM audit_log WHERE merchant_id <> '' LIMIT 1)"},
		{"fail/deleted", "DELETE FROM audit_log WHERE seq = 2 AND merchant_id = (SELECT merchant_id FROM audit_log WHERE merchant_id <> '' LIMIT 1)"},
		{"fail/reordered", "UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3) AND merchant_id = (SELECT merchant_id FROM audit_log WHERE merchant_id <> '' LIMIT 1); " +
			"UPDATE audit_log SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq IN (-2, -3)"},
		{"fail/truncated", "DELETE FROM audit_log WHERE merchant_id = (SELECT merchant_id FROM audit_log WHERE merchant_id <> '' LIMIT 1) AND seq = (SELECT MAX(seq) FROM audit_log WHERE merchant_id = (SELECT merchant_id FROM audit_log WHERE merchant_id <> '' LIMIT 1))"},
	}
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := MustServe(t, dir, nil)
			s.Stop(t)
			if _, _, err := run(t, dir, nil, "merchant", "create", "--name", "Audited", "--json"); err != nil {
				t.Fatal(err)
			}
			if out, stderr, err := run(t, dir, nil, "audit", "verify"); err != nil {
				t.Fatalf("untouched chain fails: %v\n%s%s", err, out, stderr)
			}
			db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "payvault-data", "payvault.db"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.Exec(tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				t.Fatal("tampering changed nothing")
			}
			db.Close()
			out, _, err := run(t, dir, nil, "audit", "verify")
			if err == nil {
				t.Errorf("audit verify passed a tampered chain:\n%s", out)
			}
		})
	}
}

// TestFirstStartHintsOnWildcardListen: with --listen 0.0.0.0 the first start's curl names
// 127.0.0.1, not the wildcard [::], and with --public-base-url the demo link is on that origin,
// where the hosted fields load from.
func TestFirstStartHintsOnWildcardListen(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil, "--listen", "0.0.0.0:0", "--public-base-url", "https://vault.example.com")
	defer s.Stop(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	out := s.stdout.String()
	for _, want := range []string{" http://127.0.0.1:" + port + "/customervault/v1/profiles\n", "Or pay in a browser: https://vault.example.com/demo/checkout\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("first start output lacks %q:\n%s", want, out)
		}
	}
}

// TestAuditVerifyJSON: --json prints an empty problems list on an intact chain (as GET
// /admin/v1/audit/verify does), never null.
func TestAuditVerifyJSON(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	out, stderr, err := run(t, dir, nil, "audit", "verify", "--json")
	if err != nil {
		t.Fatalf("audit verify --json: %v\n%s", err, stderr)
	}
	if want := `{"ok":true,"problems":[]}` + "\n"; out != want {
		t.Errorf("audit verify --json = %q, want %q", out, want)
	}
}

func TestRewrapMasterKey(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	newKey := filepath.Join(dir, "new.key")
	if _, stderr, err := run(t, dir, nil, "keys", "rewrap", "--new-master-key-file", newKey); err != nil {
		t.Fatalf("rewrap: %v\n%s", err, stderr)
	}
	if _, _, err := run(t, dir, nil, "keys", "status"); err == nil {
		t.Error("the old master key still opens the store")
	}
	if out, stderr, err := run(t, dir, nil, "keys", "status", "--master-key-file", newKey); err != nil {
		t.Errorf("the new master key does not open the store: %v\n%s%s", err, out, stderr)
	}
}

// TestRewrapWaitsAfterKeyChange: right after a key change (operations.md's ceremony: rotate,
// retire, destroy, then rewrap) a serving node may not have reloaded the keysets yet, and once
// they are under the new master key it could never load the change, so its writes that seal
// would be refused until it is restarted. The rewrap says when to retry, leaves the keysets
// under the old key and removes the new key file it made; once the wait has passed it runs.
func TestRewrapWaitsAfterKeyChange(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	if _, stderr, err := run(t, dir, nil, "keys", "rotate"); err != nil {
		t.Fatalf("rotate: %v\n%s", err, stderr)
	}
	newKey := filepath.Join(dir, "new.key")
	if _, stderr, err := run(t, dir, nil, "keys", "rewrap", "--new-master-key-file", newKey); err == nil || !strings.Contains(stderr, "retry after") {
		t.Errorf("rewrap right after a rotation: %v %s; want it refused, saying when to retry", err, stderr)
	}
	if _, err := os.Stat(newKey); !os.IsNotExist(err) {
		t.Errorf("the refused rewrap left its new key file: %v", err)
	}
	if _, stderr, err := run(t, dir, nil, "keys", "status"); err != nil {
		t.Errorf("the old master key no longer opens the store after the refused rewrap: %v\n%s", err, stderr)
	}
	backdateKeysets(t, dir)
	if _, stderr, err := run(t, dir, nil, "keys", "rewrap", "--new-master-key-file", newKey); err != nil {
		t.Fatalf("rewrap once the wait has passed: %v\n%s", err, stderr)
	}
	if out, stderr, err := run(t, dir, nil, "keys", "status", "--master-key-file", newKey); err != nil {
		t.Errorf("the new master key does not open the store: %v\n%s%s", err, out, stderr)
	}
}

// TestRewrapRefusedMakesNoKey: a rewrap refused after it made the new key file (here a wrong
// old key; a store that copy-store moved, or whose schema is behind, is refused at the same
// point) removes that file again, so no random key that wraps nothing is left behind; a key
// file that existed before is kept.
func TestRewrapRefusedMakesNoKey(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	wrong := filepath.Join(dir, "wrong.key")
	if err := os.WriteFile(wrong, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		exists bool
	}{
		{"fail/new-file", false},
		{"fail/existing-file", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			newKey := filepath.Join(t.TempDir(), "new.key")
			if tt.exists {
				if err := os.WriteFile(newKey, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, stderr, err := run(t, dir, nil, "keys", "rewrap", "--master-key-file", wrong, "--new-master-key-file", newKey)
			if err == nil || !strings.Contains(stderr, "does not open") {
				t.Fatalf("rewrap with a wrong key: err %v, %s", err, stderr)
			}
			if _, err := os.Stat(newKey); tt.exists != (err == nil) {
				t.Errorf("after the refusal, new key file exists = %v, want %v", err == nil, tt.exists)
			}
		})
	}
}

// TestKeyCeremonyUnsealed runs operations.md's key ceremony after the key file is gone: every
// command that opens the store takes --unseal, and a rewrapped key is split in turn and its
// file deleted, so that the whole key never stays on disk.
func TestKeyCeremonyUnsealed(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	out, stderr, err := run(t, dir, nil, "keys", "split", "--shares", "3", "--threshold", "2", "--delete-key-file")
	if err != nil {
		t.Fatalf("split: %v\n%s", err, stderr)
	}
	shares := filepath.Join(dir, "shares.txt")
	os.WriteFile(shares, []byte(out), 0o600)
	unseal := []string{"--unseal", "--share-file", shares}
	for _, args := range [][]string{
		{"keys", "rotate"}, {"keys", "rotate", "--fingerprint"}, {"keys", "status"}, {"keys", "rekey"},
		{"keys", "verify"}, {"audit", "verify"}, {"merchant", "create", "--name", "Shop", "--json"}, {"migrate"},
	} {
		if out, stderr, err := run(t, dir, nil, append(args, unseal...)...); err != nil {
			t.Errorf("%v --unseal: %v\n%s%s", args, err, out, stderr)
		}
	}
	newKey := filepath.Join(dir, "new.key")
	backdateKeysets(t, dir) // every node has loaded the rotations (TestRewrapWaitsAfterKeyChange)
	out, stderr, err = run(t, dir, nil, append([]string{"keys", "rewrap", "--new-master-key-file", newKey}, unseal...)...)
	if err != nil {
		t.Fatalf("rewrap --unseal: %v\n%s", err, stderr)
	}
	// Unsealed from shares, the next step is to split the new key, not to start from its file.
	if want := "keys split --shares N --threshold M --master-key-file " + newKey + " --delete-key-file"; !strings.Contains(out, want) || strings.Contains(out, "PAYVAULT_MASTER_KEY") {
		t.Errorf("rewrap --unseal says:\n%s\nwant %q in it, and no key file or environment to restart with", out, want)
	}
	out, stderr, err = run(t, dir, nil, "keys", "split", "--shares", "3", "--threshold", "2", "--master-key-file", newKey, "--delete-key-file")
	if err != nil {
		t.Fatalf("split of the new key: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(newKey); !os.IsNotExist(err) {
		t.Errorf("the new key file is still there: %v", err)
	}
	os.WriteFile(shares, []byte(out), 0o600)
	if out, stderr, err := run(t, dir, nil, append([]string{"keys", "status"}, unseal...)...); err != nil {
		t.Errorf("the new shares do not open the store: %v\n%s%s", err, out, stderr)
	}
	// --share-file alone is a mistake, not a silent fallback to another key source.
	if _, stderr, err := run(t, dir, nil, "keys", "status", "--share-file", shares); err == nil || !strings.Contains(stderr, "--share-file needs --unseal") {
		t.Errorf("--share-file without --unseal: %v %s", err, stderr)
	}
}

// TestKeysSplitChecksTheKey: keys split refuses a key that does not open the store's keysets
// (a mistyped --master-key-file in the ceremony), before it prints a share or deletes the
// file, so that custodians never hold shares that open nothing. Where there is no store yet
// (a key made for a PostgreSQL database before its first node starts), any key is split.
func TestKeysSplitChecksTheKey(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	t.Run("fail/wrong-key", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "wrong.key")
		os.WriteFile(wrong, []byte(strings.Repeat("A", 43)+"=\n"), 0o600)
		out, stderr, err := run(t, dir, nil, "keys", "split", "--shares", "3", "--threshold", "2", "--master-key-file", wrong, "--delete-key-file")
		if err == nil || !strings.Contains(stderr, "does not open") {
			t.Fatalf("split of a wrong key: err %v\n%s", err, stderr)
		}
		if strings.Contains(out, "payvault-share-v1") {
			t.Errorf("shares of a wrong key were printed:\n%s", out)
		}
		if _, err := os.Stat(wrong); err != nil {
			t.Errorf("the key file was deleted: %v", err)
		}
	})
	t.Run("ok/no-store", func(t *testing.T) {
		empty := t.TempDir()
		wrong := filepath.Join(t.TempDir(), "wrong.key")
		os.WriteFile(wrong, []byte(strings.Repeat("A", 43)+"=\n"), 0o600)
		out, stderr, err := run(t, empty, nil, "keys", "split", "--shares", "3", "--threshold", "2", "--master-key-file", wrong)
		if err != nil || strings.Count(out, "payvault-share-v1") != 3 {
			t.Fatalf("split with no store: err %v\n%s%s", err, out, stderr)
		}
		if _, err := os.Stat(filepath.Join(empty, "payvault-data")); !os.IsNotExist(err) {
			t.Errorf("split made a data dir: %v", err)
		}
	})
}

// TestMasterKeyFlagBeatsEnvironment: an explicit --master-key-file wins over an ambient
// PAYVAULT_MASTER_KEY, so a wrong file is never silently ignored.
func TestMasterKeyFlagBeatsEnvironment(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	s.Stop(t)
	good, err := os.ReadFile(filepath.Join(dir, "payvault-data", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrong, []byte(strings.Repeat("A", 43)+"=\n"), 0o600)
	env := []string{"PAYVAULT_MASTER_KEY=" + strings.TrimSpace(string(good))}
	if _, _, err := run(t, dir, env, "keys", "status"); err != nil {
		t.Fatalf("the environment's key: %v", err)
	}
	_, stderr, err := run(t, dir, env, "keys", "status", "--master-key-file", wrong)
	if err == nil {
		t.Fatal("a wrong --master-key-file was ignored for the environment's key")
	}
	if strings.Contains(stderr, "payvault: payvault:") {
		t.Errorf("the error is prefixed twice: %s", stderr)
	}
}

// TestFirstStartCredentialsWhenListenFails: a first start that commits the sandbox merchant
// and then cannot listen still shows its credentials, which no later start would.
func TestFirstStartCredentialsWhenListenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	out, stderr, err := run(t, dir, nil, "serve", "--listen", ln.Addr().String())
	if err == nil || !strings.Contains(stderr, "listen") {
		t.Fatalf("serve on a taken address: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, `"api_key_secret"`) || !strings.Contains(out, `"ticket_hash_key"`) {
		t.Errorf("no credentials shown:\n%s", out)
	}
}

// TestBackupWhileServing: `payvault backup` copies the embedded store while a server writes to
// it, without the master key; the copy (0600) put in a data dir opens with the key, holds what
// was committed before it began and verifies its audit chains. An existing file, a missing
// store and PostgreSQL are refused, and leave no file behind.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	s := MustServe(t, dir, nil)
	out, stderr, err := run(t, dir, nil, "merchant", "create", "--name", "Backed", "--json")
	if err != nil {
		t.Fatalf("merchant create: %v\n%s", err, stderr)
	}
	ps := checkCredentialShape(t, firstJSON(t, out))["paysafe"].(map[string]any)
	do := func(url, method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.SetBasicAuth(ps["api_key_id"].(string), ps["api_key_secret"].(string))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, p := do(s.url, "POST", "/customervault/v1/profiles", `{"merchantCustomerId":"backed-1","locale":"en_US",`+
		`"card":{"cardNum":"4111111111111111","cardExpiry":{"month":12,"year":2050}}}`)
	if status != 201 {
		t.Fatalf("profile with a card: %d %v", status, p)
	}
	cardID := p["cards"].([]any)[0].(map[string]any)["id"].(string)

	// The server keeps writing while the copy is made.
	stop, wrote := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { wrote <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if st, _ := do(s.url, "POST", "/customervault/v1/profiles", fmt.Sprintf(`{"merchantCustomerId":"busy-%d","locale":"en_US"}`, n)); st != 201 {
				t.Errorf("profile create during the backup: %d", st)
				return
			}
			n++
		}
	}()
	time.Sleep(50 * time.Millisecond)
	out, stderr, err = run(t, dir, nil, "backup", "--out", "copy.db")
	close(stop)
	if n := <-wrote; n == 0 {
		t.Error("no write ran during the backup")
	}
	if err != nil {
		t.Fatalf("backup: %v\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "copy.db") || !strings.Contains(out, "master key is not in it") {
		t.Errorf("backup said:\n%s", out)
	}
	s.Stop(t)
	st, err := os.Stat(filepath.Join(dir, "copy.db"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v, %v; want mode 0600", st, err)
	}

	// Restored: the copy in a data dir of its own, opened with the master key.
	restored := filepath.Join(dir, "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "copy.db"), filepath.Join(restored, "payvault.db")); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "payvault-data", "master.key")
	if out, stderr, err := run(t, dir, nil, "audit", "verify", "--data", restored, "--master-key-file", key); err != nil {
		t.Errorf("audit verify on the copy: %v\n%s%s", err, out, stderr)
	}
	if out, stderr, err := run(t, dir, nil, "keys", "verify", "--data", restored, "--master-key-file", key); err != nil || !strings.Contains(out, "0 unreadable, 0 fingerprint mismatches, 0 fingerprint keys not held") {
		t.Errorf("keys verify on the copy: %v\n%s%s", err, out, stderr)
	}
	s2 := MustServe(t, dir, nil, "--data", restored, "--master-key-file", key)
	if status, c := do(s2.url, "GET", "/customervault/v1/profiles/"+p["id"].(string)+"/cards/"+cardID, ""); status != 200 || c["lastDigits"] != "1111" {
		t.Errorf("the card in the copy: %d %v", status, c)
	}
	s2.Stop(t)

	for _, args := range [][]string{
		{"backup", "--data", restored, "--out", filepath.Join(restored, "payvault.db")},
		{"backup", "--data", filepath.Join(dir, "none"), "--out", "none.db"},
		{"backup", "--database", "postgres://127.0.0.1/x", "--out", "pg.db"},
	} {
		if out, _, err := run(t, dir, nil, args...); err == nil {
			t.Errorf("%v: no refusal:\n%s", args, out)
		}
	}
	for _, f := range []string{"none.db", "pg.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused backup left %s: %v", f, err)
		}
	}
}
