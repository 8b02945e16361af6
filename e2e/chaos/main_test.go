// Package chaos holds the fault tests: `payvault serve` runs as a real subprocess, clients
// write through the real HTTP APIs, and the server is killed with SIGKILL at random moments
// (crash_test.go) or run as several nodes on one PostgreSQL (nodes_test.go), or on a
// PostgreSQL primary that fails over to its standby (failover_test.go). After every
// restart the tests check that every acknowledged write is there, that nothing is half
// written, and that the money rules hold, both through the APIs and in the database itself.
//
// The randomness is seeded: PAYVAULT_CHAOS_SEED replays a run, PAYVAULT_CHAOS_KILLS sets the
// number of kills (20 by default on the embedded store, a quarter of that on PostgreSQL).
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

// binary is the payvault binary, built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "payvault-chaos-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "payvault")
	build := exec.Command("go", "build", "-o", binary, "github.com/payvault/payvault/cmd/payvault")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build payvault: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	storetest.RunMainThen(m, func() { os.RemoveAll(dir) })
}

// node is one `payvault serve` subprocess.
type node struct {
	cmd    *exec.Cmd
	stdout *logtest.SyncBuffer
	stderr *logtest.SyncBuffer
	url    string
	done   chan struct{}
	err    error // err is Wait's answer, set before done closes.
}

var servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// nodeConfig says how to start a node.
type nodeConfig struct {
	dir  string   // dir is the working directory (the embedded store lives in dir/payvault-data).
	env  []string // env is added to the environment.
	args []string // args follow `serve --listen 127.0.0.1:0 --public-rate-limit 0`.
}

// startNode starts `payvault serve` without waiting for it. Its clients make single-use
// tokens and tickets from one address far faster than any shopper, so the per-client limit of
// public keys is off.
func startNode(tb testing.TB, cfg nodeConfig) *node {
	tb.Helper()
	n := &node{stdout: &logtest.SyncBuffer{}, stderr: &logtest.SyncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(binary, append([]string{"serve", "--listen", "127.0.0.1:0", "--public-rate-limit", "0"}, cfg.args...)...)
	n.cmd.Dir = cfg.dir
	n.cmd.Env = append(os.Environ(), cfg.env...)
	n.cmd.Stdout, n.cmd.Stderr = n.stdout, n.stderr
	if err := n.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { n.err = n.cmd.Wait(); close(n.done) }()
	tb.Cleanup(func() {
		select {
		case <-n.done:
		default:
			n.cmd.Process.Kill()
			<-n.done
		}
		n.checkLogs(tb)
	})
	return n
}

// checkLogs fails tb if the node's log (stderr) holds a card number, an IBAN or one of the
// secrets its first start printed (the sandbox merchant's credentials, a generated admin
// token), as every test server's log must not.
func (n *node) checkLogs(tb testing.TB) {
	tb.Helper()
	var secrets []string
	out := n.stdout.String()
	if i := strings.Index(out, "{"); i >= 0 {
		var c vault.MerchantCredentials
		if json.NewDecoder(strings.NewReader(out[i:])).Decode(&c) == nil {
			secrets = append(secrets, c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret, c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
		}
	}
	if m := adminTokenRE.FindStringSubmatch(out); m != nil {
		secrets = append(secrets, m[1])
	}
	for _, leak := range logtest.Leaks(n.stderr.String(), secrets) {
		tb.Errorf("payvault serve's log leaks %s", leak)
	}
}

// adminTokenRE finds a generated admin token in a first start's output.
var adminTokenRE = regexp.MustCompile(`Admin API token[^\n]*\n([A-Za-z0-9]+)`)

// MustNode starts `payvault serve` and waits until /healthz answers 200.
func MustNode(tb testing.TB, cfg nodeConfig) *node {
	tb.Helper()
	n := startNode(tb, cfg)
	n.mustReady(tb)
	return n
}

// mustReady waits for the serving line and a 200 from /healthz.
func (n *node) mustReady(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for n.url == "" && time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(n.stderr.String()); m != nil {
			n.url = m[1]
			break
		}
		select {
		case <-n.done:
			tb.Fatalf("payvault serve exited: %v\nstderr:\n%s", n.err, tail(n.stderr.String()))
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n.url == "" {
		tb.Fatalf("payvault serve did not start\nstderr:\n%s", tail(n.stderr.String()))
	}
	for time.Now().Before(deadline) {
		resp, err := http.Get(n.url + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("healthz never answered 200\nstderr:\n%s", tail(n.stderr.String()))
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill(tb testing.TB) {
	tb.Helper()
	n.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		tb.Fatal("payvault serve survived SIGKILL for 30 s")
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (n *node) stop(tb testing.TB) {
	tb.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		if n.err != nil {
			tb.Errorf("payvault serve exited with %v after SIGTERM\nstderr:\n%s", n.err, tail(n.stderr.String()))
		}
	case <-time.After(30 * time.Second):
		tb.Fatal("payvault serve did not stop after SIGTERM")
	}
}

// tail returns the end of a long log.
func tail(s string) string {
	const max = 6000
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// runCLI runs a payvault command to completion.
func runCLI(tb testing.TB, cfg nodeConfig, args ...string) (string, error) {
	tb.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = cfg.dir
	cmd.Env = append(os.Environ(), cfg.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// firstStartCredentials returns the sandbox merchant's credentials a first start printed.
func firstStartCredentials(tb testing.TB, n *node) *vault.MerchantCredentials {
	tb.Helper()
	out := n.stdout.String()
	i := strings.Index(out, "{")
	if i < 0 {
		tb.Fatalf("no credentials in the first start's output:\n%s", out)
	}
	var c vault.MerchantCredentials
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(&c); err != nil || c.Paysafe.APIKeyID == "" {
		tb.Fatalf("bad credentials (%v) in:\n%s", err, out)
	}
	return &c
}

// mustMerchant creates a sandbox merchant with the CLI and returns its credentials.
func mustMerchant(tb testing.TB, cfg nodeConfig, name string) *vault.MerchantCredentials {
	tb.Helper()
	out, err := runCLI(tb, cfg, append([]string{"merchant", "create", "--name", name, "--json"}, storeArgs(cfg)...)...)
	if err != nil {
		tb.Fatalf("merchant create: %v\n%s", err, out)
	}
	var c vault.MerchantCredentials
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		tb.Fatalf("merchant create printed %q: %v", out, err)
	}
	return &c
}

// storeArgs repeats a node's --database flag for a CLI command.
func storeArgs(cfg nodeConfig) []string {
	for i, a := range cfg.args {
		if a == "--database" && i+1 < len(cfg.args) {
			return []string{"--database", cfg.args[i+1]}
		}
	}
	return nil
}

// deadlineCtx is a context for one phase of a test.
func deadlineCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
