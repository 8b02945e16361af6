package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/bench"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// benchCmd is `payvault bench`. Its --database and master key are never read from the
// serve command's environment variables, so that it cannot be pointed at a production
// database by accident.
type benchCmd struct {
	Target          string        `help:"Base URL of a running payvault on this machine (http://127.0.0.1:8080), started with --public-rate-limit 0 for the sut phase; without it a server is started in this process." placeholder:"URL"`
	CredentialsFile string        `help:"JSON credentials of a merchant on --target, as printed by 'payvault merchant create --json' (or set PAYVAULT_BENCH_CREDENTIALS to that JSON)." placeholder:"FILE" type:"path"`
	ServerPID       int           `help:"Process id of the --target server, for its RSS and CPU (found from the listening port when 0)." placeholder:"PID"`
	Data            string        `help:"Data directory of the in-process embedded store; kept, with the seeded cards, for later runs (a temporary directory when empty)." placeholder:"DIR"`
	Database        string        `help:"PostgreSQL URL (postgres://..., on this machine) for the in-process server instead of the embedded store." placeholder:"DSN"`
	MasterKeyFile   string        `help:"File holding the base64 master key for --database; overrides PAYVAULT_BENCH_MASTER_KEY; when neither is set, a random one kept in --data (or used once, for a fresh database, without it)." placeholder:"FILE" type:"path"`
	Committers      int           `help:"Group-commit goroutines of the in-process server on PostgreSQL (0: the store's default)."`
	Concurrency     int           `help:"Connections, each with one request in flight." default:"64"`
	Duration        time.Duration `help:"Measured time per phase." default:"10s"`
	Warmup          time.Duration `help:"Unmeasured load before each phase's measurement." default:"2s"`
	Requests        int           `help:"Most measured requests per phase." default:"10000000"`
	Timeout         time.Duration `help:"Bound on the whole run, seeding aside." default:"30m"`
	Phases          string        `help:"Comma-separated phases to run: noop (always run: the ceiling), tokenize, lookup, sut, auth, fortis-create, fortis-list." default:"tokenize,lookup,sut,auth,fortis-create,fortis-list"`
	Profiles        int           `help:"Profiles the tokenize phase spreads its cards over." default:"1000"`
	SeedCards       int           `help:"Cards to load through the vault service before the phases (in-process only); lookups pick among them." placeholder:"N"`
	CardsPerProfile int           `help:"Seeded cards per profile." default:"10"`
	CPUProfile      string        `name:"cpuprofile" help:"Directory for a CPU profile and a 2 s execution trace of each phase (in-process only; go tool pprof, go tool trace)." placeholder:"DIR" type:"path"`
	ServerLog       string        `help:"File for the in-process server's log, access log included (formatted and discarded when empty)." placeholder:"FILE" type:"path"`
	JSON            bool          `help:"Print the report as JSON." name:"json"`
}

func (c *benchCmd) Run(ctx context.Context) error {
	cfg := bench.Config{
		Target: c.Target, ServerPID: c.ServerPID, DataDir: c.Data, DatabaseURL: c.Database, Committers: c.Committers,
		Concurrency: c.Concurrency, Duration: c.Duration, Warmup: c.Warmup, MaxRequests: c.Requests, Timeout: c.Timeout,
		Profiles: c.Profiles, SeedCards: c.SeedCards, CardsPerProfile: c.CardsPerProfile, CPUProfileDir: c.CPUProfile,
		Progress: os.Stderr,
	}
	for _, p := range strings.Split(c.Phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Phases = append(cfg.Phases, p)
		}
	}
	if cfg.Phases == nil {
		cfg.Phases = []string{}
	}
	if c.Target != "" {
		creds, err := c.readCredentials()
		if err != nil {
			return err
		}
		cfg.Credentials = creds
	}
	if c.Database != "" {
		mk, err := c.masterKey()
		if err != nil {
			return err
		}
		cfg.MasterKey = mk
	}
	if c.CPUProfile != "" {
		if err := os.MkdirAll(c.CPUProfile, 0o700); err != nil {
			return err
		}
	}
	if c.ServerLog != "" {
		f, err := os.OpenFile(c.ServerLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.ServerLog = f
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		if rep != nil && len(rep.Phases) > 0 {
			rep.WriteTable(os.Stderr)
		}
		return err
	}
	if c.JSON {
		return rep.WriteJSON(os.Stdout)
	}
	return rep.WriteTable(os.Stdout)
}

// masterKey is the master key for --database: --master-key-file's, or else
// PAYVAULT_BENCH_MASTER_KEY (read only without the file, as serve reads PAYVAULT_MASTER_KEY),
// or nil for a random one.
func (c *benchCmd) masterKey() (*keys.MasterKey, error) {
	var mk keys.MasterKey
	var err error
	if c.MasterKeyFile != "" {
		mk, err = keys.ReadMasterKeyFile(c.MasterKeyFile)
	} else {
		var v string
		if v, err = secretEnv("PAYVAULT_BENCH_MASTER_KEY"); err != nil || v == "" {
			return nil, err
		}
		mk, err = keys.ParseMasterKey(v)
	}
	if err != nil {
		return nil, err
	}
	return &mk, nil
}

func (c *benchCmd) readCredentials() (*vault.MerchantCredentials, error) {
	var b []byte
	if c.CredentialsFile != "" {
		f, err := os.Open(c.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("--credentials-file: %w", err)
		}
		defer f.Close()
		if b, err = io.ReadAll(io.LimitReader(f, 1<<16)); err != nil {
			return nil, err
		}
	} else {
		v, err := secretEnv("PAYVAULT_BENCH_CREDENTIALS")
		if err != nil {
			return nil, err
		}
		if v == "" {
			return nil, errors.New("--target needs --credentials-file or PAYVAULT_BENCH_CREDENTIALS")
		}
		b = []byte(v)
	}
	var creds vault.MerchantCredentials
	if err := json.Unmarshal(b, &creds); err != nil {
		return nil, fmt.Errorf("credentials: not the JSON of 'payvault merchant create --json'")
	}
	return &creds, nil
}
