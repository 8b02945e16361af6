package app

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
)

const waitMsg = `"msg":"database unavailable; waiting for it"`

// TestOpenWaitsForPostgres: a serving node (WaitForDatabase, as `serve` sets it) started
// while its PostgreSQL is down waits, logging each attempt at WARN, and starts once the
// server is up; a tool (OpenTool) fails at once. With the server up, a wrong password, a
// database that does not exist and a wrong master key fail at once too, waiting or not.
func TestOpenWaitsForPostgres(t *testing.T) {
	pg := storetest.OwnPostgres(t)
	const password = "pw-for-the-wait-test-0123"
	dsn, err := pg.NewPasswordDatabase("payvault_wait", password)
	if err != nil {
		t.Fatal(err)
	}
	mk := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	log, capture := logtest.New(t)
	capture.Forbid(password)
	cfg := Config{DatabaseURL: dsn, MasterKey: mk, Logger: log, Out: &nopWriter{}}

	// A tool does not wait, even with WaitForDatabase.
	cfg.WaitForDatabase = true
	start := time.Now()
	if m, err := OpenTool(context.Background(), cfg); err == nil {
		m.Close()
		t.Fatal("OpenTool succeeded with PostgreSQL down")
	} else if d := time.Since(start); d > 2*time.Second || strings.Contains(capture.String(), waitMsg) {
		t.Errorf("OpenTool waited (%v, logs %s) before %v", d, capture, err)
	} else {
		t.Logf("OpenTool with PostgreSQL down failed in %v: %v", d.Round(time.Millisecond), err)
	}

	// The serving node waits until PostgreSQL is started, a second later.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		m   *Main
		err error
	}
	done := make(chan result, 1)
	start = time.Now()
	go func() {
		m, err := Open(ctx, cfg)
		done <- result{m, err}
	}()
	time.Sleep(time.Second)
	select {
	case r := <-done:
		t.Fatalf("Open returned while PostgreSQL was down: %v", r.err)
	default:
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Since(start)
	r := <-done
	if r.err != nil {
		t.Fatalf("Open after PostgreSQL started: %v\nlogs:\n%s", r.err, capture)
	}
	defer r.m.Close()
	forbidSecrets(capture, r.m, "")
	t.Logf("PostgreSQL up after %v, Open returned after %v", up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	logs := capture.String()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, waitMsg) || strings.Contains(l, `"msg":"database available"`) {
			t.Log(l)
		}
	}
	if n := strings.Count(logs, waitMsg); n < 2 {
		t.Errorf("%d WARN lines while waiting; want one an attempt, at least 2:\n%s", n, logs)
	}
	if !strings.Contains(logs, `"level":"WARN","msg":"database unavailable; waiting for it","attempt":1,"retry_in":"500ms","err":"sqlstore: connect to postgres:`) {
		t.Errorf("the first WARN line does not say the attempt, the wait and the error:\n%s", logs)
	}
	if !strings.Contains(logs, `"msg":"database available"`) {
		t.Errorf("no line says the database is available:\n%s", logs)
	}
	if r.m.Credentials == nil {
		t.Error("the first start made no sandbox merchant")
	}
	if n, err := r.m.Store.CountMerchants(ctx); err != nil || n != 1 {
		t.Errorf("merchants = %d, %v", n, err)
	}

	// Misconfigurations fail at once: well under the first retry, with no WARN line.
	wrongPassword := strings.Replace(dsn, ":"+password+"@", ":not-the-password@", 1)
	noDatabase := pg.DSN("no_such_database")
	for _, tt := range []struct {
		name, dsn, mk, code, want string
	}{
		{"wrong password", wrongPassword, mk, "28P01", "password authentication failed"},
		{"no such database", noDatabase, mk, "3D000", "does not exist"},
		{"wrong master key", dsn, base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))), "", "master key does not open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, capture := logtest.New(t)
			capture.Forbid(password)
			c := Config{DatabaseURL: tt.dsn, MasterKey: tt.mk, Logger: log, Out: &nopWriter{}, WaitForDatabase: true}
			start := time.Now()
			m, err := Open(ctx, c)
			d := time.Since(start)
			if err == nil {
				m.Close()
				t.Fatal("Open succeeded")
			}
			t.Logf("failed in %v: %v", d.Round(time.Millisecond), err)
			if d >= dbRetryFirst {
				t.Errorf("took %v; want under the first retry's %v", d, dbRetryFirst)
			}
			if strings.Contains(capture.String(), waitMsg) {
				t.Errorf("it waited:\n%s", capture)
			}
			var pgErr *pgconn.PgError
			if tt.code != "" && (!errors.As(err, &pgErr) || pgErr.Code != tt.code) {
				t.Errorf("err = %v; want SQLSTATE %s", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("err shows the password: %v", err)
			}
		})
	}
}

// TestOpenStopsWaiting: a serving node waiting for a database that never comes stops when
// its context ends (SIGINT or SIGTERM in `serve`) and fails with the last error. A DSN that
// does not parse fails at once.
func TestOpenStopsWaiting(t *testing.T) {
	mk := base64.StdEncoding.EncodeToString(make([]byte, 32))
	// No PostgreSQL listens in an empty temp dir.
	dsn := "postgres://postgres:pw-never-logged-0123@/payvault?sslmode=disable&host=" + t.TempDir()
	log, capture := logtest.New(t)
	capture.Forbid("pw-never-logged-0123")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1200*time.Millisecond, cancel) // after the attempts at 0 and 0.5 s, before the one at 1.5 s
	start := time.Now()
	m, err := Open(ctx, Config{DatabaseURL: dsn, MasterKey: mk, Logger: log, Out: &nopWriter{}, WaitForDatabase: true})
	d := time.Since(start)
	if err == nil {
		m.Close()
		t.Fatal("Open succeeded without a database")
	}
	t.Logf("stopped after %v: %v", d.Round(time.Millisecond), err)
	if d > 1200*time.Millisecond+500*time.Millisecond {
		t.Errorf("stopped %v after the start, %v after the cancel", d, d-1200*time.Millisecond)
	}
	if !strings.Contains(err.Error(), "stopped waiting for the database") || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("err = %v; want the last connection error", err)
	}
	logs := capture.String()
	if n := strings.Count(logs, waitMsg); n != 2 {
		t.Errorf("%d WARN lines; want 2 (attempts at 0 and 0.5 s):\n%s", n, logs)
	}
	if !strings.Contains(logs, `"attempt":2,"retry_in":"1s"`) {
		t.Errorf("the second attempt's line does not say it waits 1 s:\n%s", logs)
	}

	// A DSN that does not parse.
	start = time.Now()
	m, err = Open(context.Background(), Config{DatabaseURL: "postgres://u@db.internal:notaport/x", MasterKey: mk, Logger: log, Out: &nopWriter{}, WaitForDatabase: true})
	if err == nil {
		m.Close()
		t.Fatal("Open succeeded with a DSN that does not parse")
	}
	if d := time.Since(start); d >= dbRetryFirst || strings.Count(capture.String(), waitMsg) != 2 {
		t.Errorf("a DSN that does not parse waited (%v): %v", d, err)
	}
}
