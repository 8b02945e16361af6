package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/logtest"
)

// TestServeWaitsForDatabase: `payvault serve` started while its PostgreSQL cannot be reached
// waits for it, logging each attempt at WARN without the DSN's password, until SIGTERM, and
// then exits non-zero with the last error; `payvault merchant create` fails at once.
func TestServeWaitsForDatabase(t *testing.T) {
	const password = "pw-never-shown-0123"
	// No PostgreSQL listens in an empty temp dir.
	dsn := "postgres://payvault:" + password + "@/payvault?sslmode=disable&host=" + t.TempDir()
	env := []string{"PAYVAULT_MASTER_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
	dir := t.TempDir()

	start := time.Now()
	_, stderr, err := run(t, dir, env, "merchant", "create", "--name", "m", "--database", dsn)
	if d := time.Since(start); err == nil || d > 5*time.Second || strings.Contains(stderr, "waiting") {
		t.Errorf("merchant create: err = %v after %v; want a failure at once\nstderr:\n%s", err, d, stderr)
	}
	if strings.Contains(stderr, password) {
		t.Errorf("merchant create shows the password:\n%s", stderr)
	}

	out, errb := &logtest.SyncBuffer{}, &logtest.SyncBuffer{}
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--database", dsn)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	const warn = `level=WARN msg="database unavailable; waiting for it"`
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(errb.String(), warn) < 2 {
		select {
		case err := <-done:
			t.Fatalf("serve exited without waiting: %v\nstderr:\n%s", err, errb)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log that it waits\nstderr:\n%s", errb)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM\nstderr:\n%s", errb)
	}
	t.Logf("serve after SIGTERM: %v\nstderr:\n%s", err, errb)
	if err == nil {
		t.Error("serve exited 0 after it stopped waiting")
	}
	if !strings.Contains(errb.String(), "payvault: stopped waiting for the database: sqlstore: connect to postgres:") {
		t.Error("serve did not exit with the last error")
	}
	if strings.Contains(errb.String()+out.String(), password) {
		t.Error("serve shows the password")
	}
}
