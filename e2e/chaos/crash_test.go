package chaos

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/storetest"
)

// envInt reads a positive integer from the environment.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		tb.Fatalf("%s=%q is not a count", name, v)
	}
	return n
}

// chaosSeed returns PAYVAULT_CHAOS_SEED or a fresh random seed, and logs it.
func chaosSeed(tb testing.TB) uint64 {
	tb.Helper()
	if v := os.Getenv("PAYVAULT_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("PAYVAULT_CHAOS_SEED=%q is not a number", v)
		}
		tb.Logf("seed %d (from PAYVAULT_CHAOS_SEED)", s)
		return s
	}
	var b [8]byte
	crand.Read(b[:])
	s := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7]&0x7f)<<56
	tb.Logf("seed %d (replay with PAYVAULT_CHAOS_SEED=%d)", s, s)
	return s
}

// newMasterKey returns a base64 master key for a PostgreSQL-backed node.
func newMasterKey() string {
	var b [32]byte
	crand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// crashRun is one kill -9 campaign against one store.
type crashRun struct {
	cfg     nodeConfig
	kills   int
	workers int
}

// TestCrashEmbedded kills `payvault serve` on the embedded store with SIGKILL at random moments
// while clients write, 20 times (PAYVAULT_CHAOS_KILLS), restarting it after each, and checks
// after every restart that every acknowledged write is there, that nothing is half written,
// that the money rules hold and that no transaction is left RECEIVED.
func TestCrashEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos tests are not short")
	}
	// Single-use tokens live a day, so that long runs (PAYVAULT_CHAOS_KILLS=200) find the early ones alive.
	runCrash(t, crashRun{cfg: nodeConfig{dir: t.TempDir(), args: []string{"--sut-ttl", "24h"}}, kills: envInt(t, "PAYVAULT_CHAOS_KILLS", 20), workers: 6})
}

// TestCrashPostgres is TestCrashEmbedded on PostgreSQL, with a quarter of the kills.
func TestCrashPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos tests are not short")
	}
	dsn := storetest.PostgresDSN(t)
	cfg := nodeConfig{dir: t.TempDir(), env: []string{"PAYVAULT_MASTER_KEY=" + newMasterKey()}, args: []string{"--database", dsn, "--sut-ttl", "24h"}}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	waitPostgresSettled(context.Background(), t, db)
	db.Close()
	runCrash(t, crashRun{cfg: cfg, kills: max(1, envInt(t, "PAYVAULT_CHAOS_KILLS", 20)/4), workers: 6})
}

func runCrash(t *testing.T, run crashRun) {
	seed := chaosSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	began := time.Now()
	var logs []*node // every incarnation, for the log scan at the end
	n := MustNode(t, run.cfg)
	logs = append(logs, n)
	creds := firstStartCredentials(t, n)
	l := newLedger()
	hc := newHTTPClient()
	db := openDB(t, run.cfg)
	defer db.Close()
	ctx := deadlineCtx(t, max(10*time.Minute, time.Duration(run.kills)*15*time.Second))

	kills, startupKills, rotations, checked := 0, 0, 0, 0
	for cycle := range run.kills {
		l.mu.Lock()
		l.cycle = cycle
		l.mu.Unlock()
		// Now and then the data key is rotated beside the running server, so that later
		// starts re-encrypt in the background while clients write and kills strike.
		if cycle%5 == 2 {
			if out, err := runCLI(t, run.cfg, append([]string{"keys", "rotate"}, storeArgs(run.cfg)...)...); err != nil {
				t.Fatalf("keys rotate: %v\n%s", err, out)
			}
			rotations++
		}
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i := range run.workers {
			w := &worker{t: t, l: l, c: &client{hc: hc, url: n.url, creds: creds}, rng: rand.New(rand.NewPCG(seed, uint64(cycle*1000+i+1)))}
			wg.Add(1)
			go func() { defer wg.Done(); w.run(wctx) }()
		}
		time.Sleep(time.Duration(50+rng.IntN(750)) * time.Millisecond)
		n.kill(t)
		kills++
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()

		// Now and then the next start is killed too, in the middle of its start-up.
		if rng.IntN(5) == 0 {
			m := startNode(t, run.cfg)
			logs = append(logs, m)
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			m.kill(t)
			startupKills++
		}
		restart := time.Now()
		n = MustNode(t, run.cfg)
		logs = append(logs, n)
		last := cycle == run.kills-1
		verify := time.Now()
		checkDB(ctx, t, db)
		dbTime := time.Since(verify)
		checked = l.verifyAPI(ctx, t, &client{hc: hc, url: n.url, creds: creds}, seed, last)
		t.Logf("kill %d: restarted in %v, checked the database in %v, %d records through the APIs in %v", kills,
			verify.Sub(restart).Round(time.Millisecond), dbTime.Round(time.Millisecond), checked, (time.Since(verify) - dbTime).Round(time.Millisecond))
		if t.Failed() {
			t.Fatalf("after kill %d: %s", kills, l.summary())
		}
	}
	// Nothing was left behind by the last start either, and the audit chains verify.
	checkDB(ctx, t, db)
	resolved := countRows(ctx, t, db, "SELECT COUNT(*) FROM transactions WHERE status = 'FAILED' AND result LIKE '%interrupted%'")
	n.stop(t)
	if out, err := runCLI(t, run.cfg, append([]string{"audit", "verify"}, storeArgs(run.cfg)...)...); err != nil {
		t.Errorf("audit verify after %d kills: %v\n%s", kills, err, out)
	}
	// Where the re-encryption after the rotations stands (it runs in the background, and kills cut it short).
	if out, err := runCLI(t, run.cfg, append([]string{"keys", "status"}, storeArgs(run.cfg)...)...); err != nil {
		t.Errorf("keys status: %v\n%s", err, out)
	} else {
		t.Logf("keys status after the last stop:\n%s", strings.TrimSpace(out))
	}
	// No card number reached a log.
	for _, m := range logs {
		out := m.stdout.String() + m.stderr.String()
		for _, pan := range l.pans {
			if strings.Contains(out, pan) {
				t.Errorf("a card number appears in the server's output")
				break
			}
		}
	}
	t.Logf("%d kills (%d during start-up), %d key rotations, %s; %d payments cut off in flight were resolved by start-up recovery; "+
		"the last verification checked %d records through the APIs; %v in all",
		kills, startupKills, rotations, l.summary(), resolved, checked, time.Since(began).Round(time.Millisecond))
}
