// Package bench is payvault's load driver, behind `payvault bench`. It starts a server in
// this process (the embedded store in a temporary directory, or PostgreSQL) or targets one
// already running on this machine, and measures, one after another at a fixed concurrency:
// the no-op endpoint (the machine's ceiling), tokenize (Paysafe card create), card lookup,
// single-use token create, auth by token, Fortis accountvault create and a Fortis list. For
// each it reports requests/s, the ratio to the ceiling, p50, p99, errors, the server's RSS and
// CPU per request.
//
// It only ever talks to loopback addresses, and every phase is bounded in time and in count.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/vault"
)

// The phases, in the order they run.
const (
	PhaseNoop         = "noop"          // GET /bench/noop: the ceiling
	PhaseTokenize     = "tokenize"      // POST /customervault/v1/profiles/{p}/cards, a fresh PAN
	PhaseLookup       = "lookup"        // GET /customervault/v1/profiles/{p}/cards/{id}
	PhaseToken        = "sut"           // POST /customervault/v1/singleusetokens
	PhaseAuth         = "auth"          // POST /cardpayments/v1/accounts/{a}/auths by card token
	PhaseFortisCreate = "fortis-create" // POST /v2/accountvaults, a fresh PAN
	PhaseFortisList   = "fortis-list"   // GET /v2/accountvaults (first page)
)

// AllPhases lists every phase in running order.
var AllPhases = []string{PhaseNoop, PhaseTokenize, PhaseLookup, PhaseToken, PhaseAuth, PhaseFortisCreate, PhaseFortisList}

// Bounds on a run.
const (
	MaxConcurrency = 1024
	MaxDuration    = 10 * time.Minute // per phase
	MaxSeedCards   = 100_000_000      // the PAN generator's range
	maxSample      = 100_000          // cards kept for lookups and auths
	defaultTimeout = 30 * time.Minute // the whole run, seeding aside
	seedTimeout    = 24 * time.Hour   // seeding
)

// Config is one bench run.
type Config struct {
	// Target is the base URL of a running server (http://127.0.0.1:8080); empty starts one
	// in this process. It must be a loopback address.
	Target string
	// Credentials are the merchant's on Target (`payvault merchant create --json`).
	Credentials *vault.MerchantCredentials
	// ServerPID is the Target server's process, for its RSS and CPU; 0 finds the process
	// listening on the target port.
	ServerPID int

	// DataDir is the in-process server's embedded store (and, with DatabaseURL, where the
	// seed state is kept); empty is a temporary directory removed afterwards.
	DataDir string
	// DatabaseURL makes the in-process server use PostgreSQL (on this machine only).
	DatabaseURL string
	// MasterKey is the master key for DatabaseURL; nil uses the one kept in DataDir
	// (bench-master.key, created on the first run) or, without DataDir, generates one, which
	// only suits a fresh database.
	MasterKey *keys.MasterKey
	// Committers is the PostgreSQL group-commit goroutines of the in-process server (0: the
	// store's default).
	Committers int
	// ServerLog receives the in-process server's log (the access log included); nil
	// discards it after formatting.
	ServerLog io.Writer

	Concurrency int           // Concurrency is the number of connections, one request in flight each.
	Duration    time.Duration // Duration is the measured time per phase.
	Warmup      time.Duration // Warmup runs each phase this long before measuring.
	MaxRequests int           // MaxRequests bounds the measured requests per phase.
	Timeout     time.Duration // Timeout bounds the whole run, seeding aside.
	Phases      []string      // Phases to run (the no-op ceiling always runs); nil is all.
	Profiles    int           // Profiles the tokenize phase spreads its cards over.

	// SeedCards, when positive, loads this many cards through the vault service before the
	// phases (in-process only); lookups then pick among them. With DataDir the seeded cards
	// are kept and a later run with as many or fewer reuses them.
	SeedCards       int
	CardsPerProfile int // CardsPerProfile is the seeded cards per profile.

	// CPUProfileDir, when set, receives a CPU profile of each phase's measured window, and an
	// execution trace of its first traceWindow (in-process only; both cover the whole process,
	// load generator included).
	CPUProfileDir string

	// Progress receives progress lines; nil is silent.
	Progress io.Writer
}

// Result is the measurement of one phase.
type Result struct {
	Phase     string  `json:"phase"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	Seconds   float64 `json:"seconds"`
	RPS       float64 `json:"requests_per_second"`
	Ratio     float64 `json:"ratio_to_noop"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
	RSSMB     float64 `json:"server_rss_mb"`
	CPUPerReq float64 `json:"server_cpu_us_per_request"`
	// WritesPerCommit is the mean group-commit batch (in-process only).
	WritesPerCommit float64 `json:"writes_per_commit,omitempty"`
	FirstError      string  `json:"first_error,omitempty"`
}

// Report is a whole run.
type Report struct {
	Engine      string    `json:"engine"` // Engine is sqlite, postgres, or target.
	InProcess   bool      `json:"in_process"`
	Concurrency int       `json:"concurrency"`
	Duration    float64   `json:"duration_seconds"`
	Warmup      float64   `json:"warmup_seconds"`
	SeedCards   int       `json:"seed_cards"`
	SeedRate    float64   `json:"seed_cards_per_second,omitempty"`
	GoVersion   string    `json:"go_version"`
	CPUs        int       `json:"cpus"`
	CPUModel    string    `json:"cpu_model"`
	LoadBefore  []float64 `json:"load_average_before"`
	LoadAfter   []float64 `json:"load_average_after"`
	Started     time.Time `json:"started"`
	Phases      []Result  `json:"phases"`
}

func (c *Config) check() error {
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return fmt.Errorf("bench: concurrency must be 1-%d", MaxConcurrency)
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration < 0 || c.Duration > MaxDuration || c.Warmup < 0 || c.Warmup > MaxDuration {
		return fmt.Errorf("bench: duration and warmup must be 0-%v", MaxDuration)
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 10_000_000
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.Profiles <= 0 {
		c.Profiles = 1000
	}
	if c.CardsPerProfile <= 0 {
		c.CardsPerProfile = 10
	}
	if c.SeedCards < 0 || c.SeedCards > MaxSeedCards {
		return fmt.Errorf("bench: seed cards must be 0-%d", MaxSeedCards)
	}
	if c.Phases == nil {
		c.Phases = AllPhases
	}
	for _, p := range c.Phases {
		if !slices.Contains(AllPhases, p) {
			return fmt.Errorf("bench: unknown phase %q (phases: %v)", p, AllPhases)
		}
	}
	if c.Target != "" {
		if c.DatabaseURL != "" || c.SeedCards > 0 || c.CPUProfileDir != "" {
			return errors.New("bench: --database, --seed-cards and --cpuprofile need the in-process server (no --target)")
		}
		if c.Credentials == nil || c.Credentials.Paysafe.APIKeyID == "" || c.Credentials.Fortis.UserID == "" {
			return errors.New("bench: --target needs the merchant's credentials (--credentials-file or PAYVAULT_BENCH_CREDENTIALS)")
		}
	}
	return nil
}

// cardRef is a stored card the lookup and auth phases use.
type cardRef struct {
	Profile string `json:"p"`
	ID      string `json:"i"`
	Token   string `json:"t"`
}

// runner holds what the phases share.
type runner struct {
	cfg      Config
	addr     string // addr is the server's host:port.
	pid      int    // pid is the server's process.
	creds    *vault.MerchantCredentials
	paysafe  string // paysafe is the Authorization header line of the server API key.
	sutKey   string // sutKey is the Authorization header line of the single-use-token key.
	fortis   string // fortis is the Fortis user's header lines.
	runID    string // runID makes this run's PANs and references unique.
	pans     atomic.Int64
	seq      atomic.Int64
	conns    []*conn
	stats    func() sqlstore.WriteStats // stats, in process, reads the store's group-commit counters.
	profiles []string
	cards    []cardRef
	ceiling  float64
}

// Run runs the bench and returns its report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	rep := &Report{
		Concurrency: cfg.Concurrency, Duration: cfg.Duration.Seconds(), Warmup: cfg.Warmup.Seconds(),
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Started: time.Now().UTC(),
	}
	r := &runner{cfg: cfg, runID: randomDigits(6)}
	var srv *server
	if cfg.Target == "" {
		var err error
		if srv, err = startServer(ctx, &cfg); err != nil {
			return nil, err
		}
		defer srv.stop()
		r.addr, r.pid, r.creds, r.stats = srv.addr, os.Getpid(), srv.creds, srv.m.Store.WriteStats
		rep.InProcess, rep.Engine = true, srv.engine
		if cfg.SeedCards > 0 {
			sctx, cancel := context.WithTimeout(ctx, seedTimeout)
			rate, err := srv.seed(sctx, r)
			cancel()
			if err != nil {
				return nil, err
			}
			rep.SeedCards, rep.SeedRate = cfg.SeedCards, rate
		}
	} else {
		u, err := checkLoopbackURL(ctx, cfg.Target)
		if err != nil {
			return nil, err
		}
		r.addr, r.creds, rep.Engine = u.Host, cfg.Credentials, "target"
		r.pid = cfg.ServerPID
		if r.pid == 0 {
			port, _ := strconv.Atoi(u.Port())
			if r.pid, err = listenerPID(port); err != nil {
				return nil, err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r.setCredentials()
	r.conns = make([]*conn, cfg.Concurrency)
	for i := range r.conns {
		r.conns[i] = newConn(r.addr, r.addr)
	}
	defer func() {
		for _, c := range r.conns {
			c.close()
		}
	}()
	before := loadAvg()
	rep.LoadBefore = before[:]
	for _, name := range AllPhases {
		if name != PhaseNoop && !slices.Contains(cfg.Phases, name) {
			continue
		}
		res, err := r.phase(ctx, name)
		if err != nil {
			return rep, err
		}
		if name == PhaseNoop {
			r.ceiling = res.RPS
		}
		if r.ceiling > 0 {
			res.Ratio = res.RPS / r.ceiling
		}
		rep.Phases = append(rep.Phases, res)
	}
	after := loadAvg()
	rep.LoadAfter = after[:]
	return rep, nil
}

func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench: "+format+"\n", args...)
	}
}

func (r *runner) setCredentials() {
	c := r.creds
	basic := func(id, secret string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)) + "\r\n"
	}
	r.paysafe = basic(c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret)
	r.sutKey = r.paysafe
	if c.Paysafe.SingleUseKeyID != "" {
		r.sutKey = basic(c.Paysafe.SingleUseKeyID, c.Paysafe.SingleUseKeySecret)
	}
	r.fortis = "developer-id: " + c.Fortis.DeveloperID + "\r\nuser-id: " + c.Fortis.UserID + "\r\nuser-api-key: " + c.Fortis.UserAPIKey + "\r\n"
}

// pan returns a fresh Luhn-valid 16-digit Visa number: 4, the run's 6 digits, a counter of 8
// digits and the check digit.
func (r *runner) pan() string { return visaPAN(r.runID, r.pans.Add(1)) }

func visaPAN(runID string, n int64) string {
	var d [16]byte
	d[0] = '4'
	copy(d[1:7], runID)
	for i := 14; i >= 7; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	d[15], _ = card.CheckDigit(string(d[:15]))
	return string(d[:])
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	b := make([]byte, n)
	var seed [8]byte
	rand.Read(seed[:])
	rng := mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:]), 0))
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

// worker is one connection's loop.
type worker struct {
	r        *runner
	c        *conn
	rng      *mrand.Rand
	req      request
	lat      []time.Duration
	errs     int64
	firstErr string
	last     time.Time
	cards    []cardRef
	ids      []string
}

// spec says what a phase sends and expects.
type spec struct {
	want  int                          // want is the status of a success.
	next  func(w *worker)              // next fills w.req.
	after func(w *worker, body []byte) // after, when set, sees each successful answer.
}

// window bounds a run of requests: warm-up until start, measured until end or limit.
type window struct {
	start, end time.Time
	limit      int64
}

// drive runs s on every connection over win and returns the workers.
func (r *runner) drive(ctx context.Context, s spec, win window) []*worker {
	var taken atomic.Int64
	ws := make([]*worker, len(r.conns))
	var wg sync.WaitGroup
	for i := range ws {
		var seed [8]byte
		rand.Read(seed[:])
		w := &worker{r: r, c: r.conns[i], rng: mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:]), uint64(i))),
			lat: make([]time.Duration, 0, 4096)}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(win.end) {
					return
				}
				measuring := !now.Before(win.start)
				if measuring && taken.Add(1) > win.limit {
					return
				}
				s.next(w)
				t0 := time.Now()
				status, body, err := w.c.do(&w.req)
				t1 := time.Now()
				ok := err == nil && status == s.want
				if measuring && !t1.After(win.end) {
					w.lat = append(w.lat, t1.Sub(t0))
					w.last = t1
					if !ok {
						w.errs++
						if w.firstErr == "" {
							w.firstErr = describeFailure(status, body, err)
						}
					}
				}
				if ok && s.after != nil {
					s.after(w, body)
				}
				if err != nil {
					time.Sleep(10 * time.Millisecond) // a refused connection must not spin
				}
			}
		}()
	}
	wg.Wait()
	return ws
}

// describeFailure names a failed request by its status and vendor error code, never its body.
func describeFailure(status int, body []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	s := "status " + strconv.Itoa(status)
	if code := jsonString(body, "code"); code != "" {
		s += " code " + code
	}
	return s
}

// phase warms up, measures and summarises one phase.
func (r *runner) phase(ctx context.Context, name string) (Result, error) {
	s, err := r.prepare(ctx, name)
	if err != nil {
		return Result{Phase: name}, err
	}
	r.progress("%s: warm-up %v, then %v at concurrency %d", name, r.cfg.Warmup, r.cfg.Duration, r.cfg.Concurrency)
	now := time.Now()
	win := window{start: now.Add(r.cfg.Warmup), end: now.Add(r.cfg.Warmup + r.cfg.Duration), limit: int64(r.cfg.MaxRequests)}
	mon := r.monitor(name, win.start)
	var before sqlstore.WriteStats
	if r.stats != nil {
		before = r.stats()
	}
	ws := r.drive(ctx, s, win)
	rss, cpu := mon.stop()
	if err := ctx.Err(); err != nil {
		return Result{Phase: name}, fmt.Errorf("bench: phase %s: %w", name, err)
	}
	res := summarise(name, win, ws)
	res.RSSMB = float64(rss) / (1 << 20)
	if res.Requests > 0 {
		res.CPUPerReq = float64(cpu.Microseconds()) / float64(res.Requests)
	}
	if r.stats != nil {
		if d := r.stats(); d.Commits > before.Commits {
			res.WritesPerCommit = float64(d.Writes-before.Writes) / float64(d.Commits-before.Commits)
		}
	}
	if name == PhaseTokenize {
		r.keepCards(ws)
	}
	r.progress("%s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors", name, res.RPS, res.P50, res.P99, res.Errors)
	return res, nil
}

func summarise(name string, win window, ws []*worker) Result {
	var lats []time.Duration
	res := Result{Phase: name}
	var last time.Time
	for _, w := range ws {
		lats = append(lats, w.lat...)
		res.Errors += w.errs
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
		if w.last.After(last) {
			last = w.last
		}
	}
	res.Requests = int64(len(lats))
	if len(lats) == 0 {
		return res
	}
	span := win.end.Sub(win.start)
	if d := last.Sub(win.start); d > 0 && d < span {
		span = d // the request limit ended the phase early
	}
	res.Seconds = span.Seconds()
	res.RPS = float64(res.Requests) / res.Seconds
	slices.Sort(lats)
	pct := func(p float64) float64 {
		return float64(lats[min(len(lats)-1, int(float64(len(lats))*p))]) / float64(time.Millisecond)
	}
	res.P50, res.P99, res.Max = pct(0.50), pct(0.99), float64(lats[len(lats)-1])/float64(time.Millisecond)
	return res
}

// traceWindow bounds each phase's execution trace: at 64 connections a trace grows by about
// 5 MB a second. Two seconds show where each goroutine spends its time (go tool trace).
const traceWindow = 2 * time.Second

// monitor samples the server's RSS through a phase, and its CPU time and (in process) a CPU
// profile over the measured window and an execution trace of its start.
type monitor struct {
	done chan struct{}
	out  chan [2]int64
}

func (r *runner) monitor(name string, start time.Time) *monitor {
	m := &monitor{done: make(chan struct{}), out: make(chan [2]int64, 1)}
	go func() {
		var peak int64
		sample := func() {
			if v, err := rssBytes(r.pid); err == nil && v > peak {
				peak = v
			}
		}
		var cpu0 time.Duration
		started := false
		var prof, tr *os.File
		var traceTimer <-chan time.Time
		stopTrace := func() {
			if tr != nil {
				trace.Stop()
				tr.Close()
				tr, traceTimer = nil, nil
			}
		}
		begin := func() {
			started = true
			cpu0, _ = cpuTime(r.pid)
			if r.cfg.CPUProfileDir != "" {
				f, err := os.Create(filepath.Join(r.cfg.CPUProfileDir, name+".pprof"))
				if err == nil && pprof.StartCPUProfile(f) == nil {
					prof = f
				} else if f != nil {
					f.Close()
				}
				f, err = os.Create(filepath.Join(r.cfg.CPUProfileDir, name+".trace"))
				if err == nil && trace.Start(f) == nil {
					tr, traceTimer = f, time.After(traceWindow)
				} else if f != nil {
					f.Close()
				}
			}
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		if !time.Now().Before(start) {
			begin()
		}
		for {
			select {
			case <-m.done:
				if !started {
					begin()
				}
				cpu1, _ := cpuTime(r.pid)
				stopTrace()
				if prof != nil {
					pprof.StopCPUProfile()
					prof.Close()
				}
				sample()
				m.out <- [2]int64{peak, int64(cpu1 - cpu0)}
				return
			case <-traceTimer:
				stopTrace()
			case now := <-t.C:
				if !started && !now.Before(start) {
					begin()
				}
				sample()
			}
		}
	}()
	return m
}

// stop returns the peak RSS in bytes and the CPU time over the measured window.
func (m *monitor) stop() (int64, time.Duration) {
	close(m.done)
	v := <-m.out
	return v[0], time.Duration(v[1])
}

// keepCards keeps up to maxSample of the cards the tokenize phase created.
func (r *runner) keepCards(ws []*worker) {
	for _, w := range ws {
		room := maxSample - len(r.cards)
		if room <= 0 {
			break
		}
		r.cards = append(r.cards, w.cards[:min(room, len(w.cards))]...)
		w.cards = nil
	}
}

// setup runs s until n requests succeeded (or ctx ends), unmeasured, for a phase's fixtures.
func (r *runner) setup(ctx context.Context, what string, n int, s spec) ([]*worker, error) {
	r.progress("setup: %d %s", n, what)
	var ok atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	after := s.after
	s.after = func(w *worker, body []byte) {
		if after != nil {
			after(w, body)
		}
		if ok.Add(1) >= int64(n) {
			cancel()
		}
	}
	now := time.Now()
	ws := r.drive(ctx, s, window{start: now, end: now.Add(r.cfg.Timeout), limit: int64(n) * 2})
	if ok.Load() < int64(n) {
		first := ""
		for _, w := range ws {
			if w.firstErr != "" {
				first = w.firstErr
				break
			}
		}
		return ws, fmt.Errorf("bench: setup of %s: %d of %d succeeded (%s)", what, ok.Load(), n, first)
	}
	return ws, nil
}
