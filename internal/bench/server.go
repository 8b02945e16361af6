package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// server is a payvault started in this process for the bench.
type server struct {
	m      *app.Main
	engine string
	addr   string
	creds  *vault.MerchantCredentials
	tmp    string // tmp is a temporary data dir, removed by stop.
	state  string // state is the seed state file, when the data dir is kept.
	cfg    *Config
	cancel context.CancelFunc
	done   chan error
}

// stateFile keeps, in a kept data dir, the bench merchant and a sample of the seeded cards,
// so that the 10-million-card store is seeded once and measured many times.
const stateFile = "bench-state.json"

// seedState is the content of stateFile. It holds the bench merchant's sandbox credentials,
// so the file is written 0600 inside the data dir, next to the master key.
type seedState struct {
	Credentials *vault.MerchantCredentials `json:"credentials"`
	Seeded      int                        `json:"seeded"` // Seeded is the cards seeded once complete; 0 while in progress.
	PerProfile  int                        `json:"cards_per_profile"`
	Target      int                        `json:"target"`       // Target is the cards asked for.
	RunID       string                     `json:"run_id"`       // RunID makes the PANs and profile names.
	Attempt     int                        `json:"attempt"`      // Attempt counts resumptions.
	NextProfile int                        `json:"next_profile"` // NextProfile is where a resumed seed starts.
	Cards       []cardRef                  `json:"cards"`
}

// startServer opens and serves payvault on 127.0.0.1 with a merchant of its own.
func startServer(ctx context.Context, cfg *Config) (*server, error) {
	s := &server{engine: "sqlite", cfg: cfg}
	dir := cfg.DataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "payvault-bench-"); err != nil {
			return nil, err
		}
		s.tmp = dir
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		s.state = filepath.Join(dir, stateFile)
	}
	// The rate limits are serve's defaults, so that their cost is measured too, but for the
	// per-client limit of public keys, which is off: the sut phase makes thousands of
	// single-use tokens a second from one address, as no shopper does.
	acfg := app.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: io.Discard, Committers: cfg.Committers,
		RateLimit: 20000, RateBurst: 40000, PublicRateLimit: 0, AuthFailureRate: 5, AuthFailureBurst: 50}
	if cfg.DatabaseURL != "" {
		if err := checkLoopbackDSN(ctx, cfg.DatabaseURL); err != nil {
			s.removeTmp()
			return nil, err
		}
		s.engine = "postgres"
		acfg.DatabaseURL, acfg.MasterKeyValue = cfg.DatabaseURL, cfg.MasterKey
		switch {
		case acfg.MasterKeyValue != nil:
		case s.tmp == "":
			// A kept data dir keeps the generated key too, so that a later run on the same
			// database (and its seeded cards) can open it.
			mk, _, err := keys.LoadOrCreateMasterKeyFile(filepath.Join(dir, "bench-master.key"))
			if err != nil {
				return nil, err
			}
			acfg.MasterKeyValue = &mk
		default:
			mk := keys.NewMasterKey()
			acfg.MasterKeyValue = &mk
		}
	}
	w := cfg.ServerLog
	if w == nil {
		w = io.Discard
	}
	acfg.Logger = slog.New(slog.NewTextHandler(w, nil))
	m, err := app.Open(ctx, acfg)
	if err != nil {
		s.removeTmp()
		return nil, err
	}
	s.m = m
	if err := m.Listen(); err != nil {
		s.stop()
		return nil, err
	}
	s.addr = m.Addr()
	if st := s.loadState(); st != nil {
		s.creds = st.Credentials
	} else if s.creds, err = m.Vault.CreateMerchant(ctx, vault.NewMerchant{Name: "bench"}); err != nil {
		s.stop()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- m.Run(rctx) }()
	return s, nil
}

// stop drains the server, closes it and removes a temporary data dir.
func (s *server) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	if s.m != nil {
		s.m.Close()
	}
	s.removeTmp()
}

func (s *server) removeTmp() {
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

func (s *server) loadState() *seedState {
	if s.state == "" {
		return nil
	}
	b, err := os.ReadFile(s.state)
	if err != nil {
		return nil
	}
	var st seedState
	if json.Unmarshal(b, &st) != nil || st.Credentials == nil {
		return nil
	}
	return &st
}

func (s *server) saveState(st *seedState) error {
	if s.state == "" {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := s.state + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.state)
}

// seed loads cfg.SeedCards cards through the vault service (validation, fingerprints,
// sealing under each card's AD, insert, audit record), CardsPerProfile on each of a run of
// profiles, from many goroutines so that group commit fills its batches. It skips what the
// Paysafe card create adds, the duplicate check and the first-card lookup: its numbers are
// distinct by construction and it knows which card comes first. It keeps a sample for the
// lookup and auth phases.
//
// In a kept data dir it records its progress every checkpointEvery: a run seeded with as
// many cards is reused as it is, and an interrupted one resumes after its last completed
// profile (profiles it had begun are made again under new names, so a resumed store may hold
// a few more cards than asked). It returns the cards per second.
func (s *server) seed(ctx context.Context, r *runner) (float64, error) {
	cfg := s.cfg
	st := s.loadState()
	if st != nil && st.Seeded >= cfg.SeedCards && len(st.Cards) > 0 {
		r.progress("seed: reusing %d cards seeded earlier in %s", st.Seeded, cfg.DataDir)
		cfg.SeedCards = st.Seeded
		r.cards = st.Cards
		return 0, nil
	}
	p, err := s.m.Vault.AuthenticateAPIKey(ctx, s.creds.Paysafe.APIKeyID, s.creds.Paysafe.APIKeySecret)
	if err != nil {
		return 0, err
	}
	n, per := cfg.SeedCards, cfg.CardsPerProfile
	runID, attempt, from := r.runID, 0, 0
	var sample []cardRef
	if st != nil && st.RunID != "" && st.PerProfile == per && st.Target == n {
		runID, attempt, from, sample = st.RunID, st.Attempt+1, st.NextProfile, st.Cards
		r.progress("seed: resuming after %d cards", from*per)
	}
	profiles := (n + per - 1) / per
	stride := max(1, n/maxSample)
	exp := card.Expiry{Month: 12, Year: 2040}
	yes, no := true, false
	workers := max(256, cfg.Concurrency)
	var (
		next, done atomic.Int64
		mu         sync.Mutex
		failed     error
		failOnce   sync.Once
		wg         sync.WaitGroup
	)
	// at[w] is the profile worker w is making (math.MaxInt64 once it is done): every profile
	// below the least of them is complete.
	at := make([]atomic.Int64, workers)
	next.Store(int64(from))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) { failOnce.Do(func() { failed = err; cancel() }) }
	keep := func(i int, prof string, in *vault.Instrument) {
		if i%stride == 0 {
			mu.Lock()
			sample = append(sample, cardRef{Profile: prof, ID: in.ID, Token: in.Token})
			mu.Unlock()
		}
	}
	state := func(seeded, nextProfile int) *seedState {
		mu.Lock()
		defer mu.Unlock()
		return &seedState{Credentials: s.creds, Seeded: seeded, PerProfile: per, Target: n, RunID: runID,
			Attempt: attempt, NextProfile: nextProfile, Cards: slices.Clone(sample)}
	}
	start := time.Now()
	r.progress("seed: %d cards on %d profiles", n, profiles)
	for w := range workers {
		at[w].Store(math.MaxInt64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer at[w].Store(math.MaxInt64)
			for ctx.Err() == nil {
				pi := int(next.Add(1)) - 1
				if pi >= profiles {
					return
				}
				at[w].Store(int64(pi))
				first := pi * per
				cnt := min(per, n-first)
				prof, in, err := s.m.Vault.CreateProfileWithInstrument(ctx, p,
					&vault.Profile{MerchantCustomerID: fmt.Sprintf("seed-%s-%d-%d", runID, attempt, pi), Locale: "en_US"},
					&vault.Instrument{Kind: vault.KindCard, HolderName: "BENCH SEED"},
					vault.Source{Number: visaPAN(runID, int64(first)), Expiry: exp}, vault.CreateOptions{Default: &yes})
				if err != nil {
					fail(fmt.Errorf("bench: seed: %w", err))
					return
				}
				keep(first, prof.ID, in)
				for j := 1; j < cnt; j++ {
					in, err := s.m.Vault.CreateInstrument(ctx, p,
						&vault.Instrument{Kind: vault.KindCard, ProfileID: prof.ID, HolderName: "BENCH SEED"},
						vault.Source{Number: visaPAN(runID, int64(first+j)), Expiry: exp}, vault.CreateOptions{Default: &no})
					if err != nil {
						fail(fmt.Errorf("bench: seed: %w", err))
						return
					}
					keep(first+j, prof.ID, in)
				}
				done.Add(int64(cnt))
			}
		}()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		saved := time.Now()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
			}
			d := done.Load()
			el := time.Since(start)
			r.progress("seed: %d/%d cards, %.0f/s, %v", int64(from*per)+d, n, float64(d)/el.Seconds(), el.Round(time.Second))
			if time.Since(saved) >= seedCheckpointEvery {
				low := int64(math.MaxInt64)
				for w := range at {
					low = min(low, at[w].Load())
				}
				if low == math.MaxInt64 {
					low = next.Load()
				}
				low = min(low, int64(profiles))
				if err := s.saveState(state(0, int(low))); err != nil {
					r.progress("seed: cannot save progress: %v", err)
				}
				saved = time.Now()
			}
		}
	}()
	wg.Wait()
	close(stopProgress)
	<-progressDone
	if failed != nil {
		return 0, failed
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("bench: seed: %w", err)
	}
	if len(sample) == 0 {
		return 0, errors.New("bench: seed: no cards")
	}
	rate := float64(done.Load()) / time.Since(start).Seconds()
	r.progress("seed: %d cards in %v (%.0f/s)", n, time.Since(start).Round(time.Second), rate)
	if s.engine == "postgres" {
		// The statistics autovacuum gathers within a minute or so of a bulk load: without them
		// the planner still believes the loaded tables empty (tokenize ran at 272/s, not
		// 2,300/s). Only the loaded ones: a table analysed while empty (transactions, here)
		// is planned as tiny, and a connection's cached generic plan then scans it as it grows
		// (auth fell from ~750/s to ~400/s) until autovacuum analyses it again.
		if _, err := s.m.Store.DB().ExecContext(ctx, "ANALYZE profiles, instruments"); err != nil {
			return 0, fmt.Errorf("bench: seed: analyze: %w", err)
		}
	}
	r.cards = sample
	return rate, s.saveState(state(n, profiles))
}

// seedCheckpointEvery is how often seeding records its progress in a kept data dir.
const seedCheckpointEvery = time.Minute
