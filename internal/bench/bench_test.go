package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

func TestMain(m *testing.M) { storetest.RunMain(m) }

// tiny is a run small enough for a unit test: every phase, a few hundred requests.
func tiny(tb testing.TB) Config {
	return Config{Concurrency: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
		MaxRequests: 200, Profiles: 8, Timeout: 2 * time.Minute}
}

// serverLog returns a writer that fails the test if the server logs a PAN.
func serverLog(tb testing.TB) *logtest.Capture {
	_, c := logtest.New(tb)
	return c
}

func checkReport(t *testing.T, rep *Report, phases []string) {
	t.Helper()
	var got []string
	for _, p := range rep.Phases {
		got = append(got, p.Phase)
		if p.Requests == 0 || p.Errors != 0 || p.RPS <= 0 || p.P50 <= 0 || p.P99 < p.P50 || p.RSSMB <= 0 {
			t.Errorf("phase %s: %+v", p.Phase, p)
		}
		if p.Requests > 200 {
			t.Errorf("phase %s: %d requests, beyond the bound of 200", p.Phase, p.Requests)
		}
	}
	if d := cmp.Diff(phases, got); d != "" {
		t.Errorf("phases (-want +got)\n%s", d)
	}
	if rep.Phases[0].Ratio != 1 {
		t.Errorf("noop ratio = %v", rep.Phases[0].Ratio)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, p := range phases {
		if !strings.Contains(table.String(), p) {
			t.Errorf("table lacks %s:\n%s", p, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Phases) != len(phases) {
		t.Errorf("JSON round trip: %v, %d phases", err, len(back.Phases))
	}
}

func TestRun(t *testing.T) {
	t.Run("ok/embedded", func(t *testing.T) {
		cfg := tiny(t)
		c := serverLog(t)
		cfg.ServerLog = c
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Engine != "sqlite" || !rep.InProcess {
			t.Errorf("engine %q, in process %v", rep.Engine, rep.InProcess)
		}
		checkReport(t, rep, AllPhases)
		if !strings.Contains(c.String(), "/bench/noop") {
			t.Error("the server's access log was not written to ServerLog")
		}
	})
	t.Run("ok/postgres", func(t *testing.T) {
		cfg := tiny(t)
		cfg.DatabaseURL = storetest.PostgresDSN(t)
		cfg.ServerLog = serverLog(t)
		cfg.Warmup, cfg.Duration = 300*time.Millisecond, time.Second
		cfg.Phases = []string{PhaseTokenize, PhaseAuth}
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Engine != "postgres" {
			t.Errorf("engine %q", rep.Engine)
		}
		checkReport(t, rep, []string{PhaseNoop, PhaseTokenize, PhaseAuth})
	})
	t.Run("ok/profiles", func(t *testing.T) {
		cfg := tiny(t)
		cfg.ServerLog = serverLog(t)
		cfg.CPUProfileDir = t.TempDir()
		cfg.Phases = []string{PhaseLookup}
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, rep, []string{PhaseNoop, PhaseLookup})
		for _, name := range []string{"noop.pprof", "noop.trace", "lookup.pprof", "lookup.trace"} {
			b, err := os.ReadFile(filepath.Join(cfg.CPUProfileDir, name))
			if err != nil || len(b) == 0 {
				t.Errorf("%s: %d bytes, %v", name, len(b), err)
				continue
			}
			// An execution trace starts "go 1.NN trace"; a CPU profile is gzipped.
			if want := strings.HasSuffix(name, ".trace"); want != bytes.HasPrefix(b, []byte("go 1.")) {
				t.Errorf("%s starts %q", name, b[:min(len(b), 16)])
			}
		}
	})
	t.Run("ok/seeded-then-reused", func(t *testing.T) {
		cfg := tiny(t)
		cfg.DataDir = t.TempDir()
		cfg.ServerLog = serverLog(t)
		cfg.SeedCards, cfg.CardsPerProfile = 25, 4
		cfg.Phases = []string{PhaseLookup}
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, rep, []string{PhaseNoop, PhaseLookup})
		if rep.SeedCards != 25 || rep.SeedRate <= 0 {
			t.Errorf("seeded %d at %v/s", rep.SeedCards, rep.SeedRate)
		}
		if fi, err := os.Stat(cfg.DataDir + "/" + stateFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("state file: %v", err)
		}
		rep, err = Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.SeedCards != 25 || rep.SeedRate != 0 {
			t.Errorf("second run seeded again: %d at %v/s", rep.SeedCards, rep.SeedRate)
		}
	})
}

// TestSeedResumes resumes a seed that stopped after its third profile.
func TestSeedResumes(t *testing.T) {
	cfg := tiny(t)
	cfg.DataDir = t.TempDir()
	cfg.ServerLog = serverLog(t)
	cfg.SeedCards, cfg.CardsPerProfile = 12, 4
	cfg.Phases = []string{PhaseLookup}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	path := cfg.DataDir + "/" + stateFile
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st seedState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	// As if a seed of 40 had stopped with its first three profiles done.
	st.Seeded, st.Target, st.NextProfile = 0, 40, 3
	b, _ = json.Marshal(st)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	cfg.SeedCards, cfg.Progress = 40, &progress
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, []string{PhaseNoop, PhaseLookup})
	if !strings.Contains(progress.String(), "resuming after 12 cards") {
		t.Errorf("progress does not show the resumption:\n%s", progress.String())
	}
	b, _ = os.ReadFile(path)
	json.Unmarshal(b, &st)
	if st.Seeded != 40 || st.Attempt != 1 {
		t.Errorf("state after resuming: seeded %d, attempt %d", st.Seeded, st.Attempt)
	}
}

// mustStartServer starts an in-process server of a tiny config and stops it when t ends.
func mustStartServer(t *testing.T) *server {
	t.Helper()
	cfg := tiny(t)
	cfg.ServerLog = serverLog(t)
	srv, err := startServer(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	return srv
}

// TestTarget points the bench at a server it did not start, with the merchant's credentials.
func TestTarget(t *testing.T) {
	srv := mustStartServer(t)
	target := tiny(t)
	target.Target = "http://" + srv.addr
	target.Credentials = srv.creds
	target.Phases = []string{PhaseLookup, PhaseFortisList}
	rep, err := Run(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if rep.InProcess || rep.Engine != "target" {
		t.Errorf("engine %q, in process %v", rep.Engine, rep.InProcess)
	}
	checkReport(t, rep, []string{PhaseNoop, PhaseLookup, PhaseFortisList})
}

func TestConfig(t *testing.T) {
	creds := &vault.MerchantCredentials{Paysafe: vault.PaysafeCredentials{APIKeyID: "k"}, Fortis: vault.FortisCredentials{UserID: "u"}}
	tests := []struct {
		name string
		cfg  Config
		want string // a part of the error
	}{
		{"fail/remote-target", Config{Target: "http://10.1.2.3:8080", Credentials: creds}, "loopback"},
		{"fail/public-name", Config{Target: "http://example.com:80", Credentials: creds}, ""},
		{"fail/https", Config{Target: "https://127.0.0.1:8443", Credentials: creds}, "http://"},
		{"fail/path", Config{Target: "http://127.0.0.1:8080/v2", Credentials: creds}, "bare"},
		{"fail/no-port", Config{Target: "http://127.0.0.1", Credentials: creds}, "port"},
		{"fail/target-without-credentials", Config{Target: "http://127.0.0.1:8080"}, "credentials"},
		{"fail/target-with-seed", Config{Target: "http://127.0.0.1:8080", Credentials: creds, SeedCards: 10}, "in-process"},
		{"fail/remote-database", Config{DatabaseURL: "postgres://u:secretpw@db.example.com:5432/x"}, "this machine"},
		{"fail/concurrency", Config{Concurrency: MaxConcurrency + 1}, "concurrency"},
		{"fail/duration", Config{Duration: time.Hour}, "duration"},
		{"fail/phase", Config{Phases: []string{"nope"}}, "unknown phase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Progress = nil
			_, err := Run(context.Background(), tt.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error shows the database password: %q", err)
			}
		})
	}
}

func TestVisaPAN(t *testing.T) {
	seen := map[string]bool{}
	for n := int64(0); n < 1000; n++ {
		p := visaPAN("123456", n*99991)
		if len(p) != 16 || !card.Luhn(p) || p[0] != '4' || seen[p] {
			t.Fatalf("visaPAN(%d) = %s", n, p)
		}
		seen[p] = true
	}
}

func TestLoopbackDSN(t *testing.T) {
	for _, ok := range []string{"postgres://postgres@/db?host=/tmp/pg", "postgres://u@127.0.0.1:5432/db", "postgres://u@localhost/db", "postgresql://u@[::1]:5432/db"} {
		if err := checkLoopbackDSN(context.Background(), ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"postgres://u@192.168.1.2/db", "mysql://127.0.0.1/db", "postgres://u@/db?host=10.0.0.1"} {
		if err := checkLoopbackDSN(context.Background(), bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestListenerPID(t *testing.T) {
	srv := mustStartServer(t)
	_, port, _ := strings.Cut(srv.addr, ":")
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	pid, err := listenerPID(p)
	if err != nil {
		t.Skipf("cannot read /proc here: %v", err)
	}
	if pid != os.Getpid() {
		t.Errorf("listener pid %d, want %d", pid, os.Getpid())
	}
	if _, err := http.Get("http://" + srv.addr + "/bench/noop"); err != nil {
		t.Error(err)
	}
}
