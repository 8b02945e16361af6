// Command payvault is the payvault server and its operator CLI.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/kong"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// storeFlags select the store and its master key; every command that opens the store has them.
type storeFlags struct {
	Data          string   `help:"Data directory of the embedded store (default ./payvault-data); not with --database." placeholder:"DIR"`
	Database      string   `help:"PostgreSQL URL (postgres://...); replaces the embedded store, so not with --data." placeholder:"DSN" env:"PAYVAULT_DATABASE_URL"`
	MasterKeyFile string   `help:"File holding the base64 master key; overrides PAYVAULT_MASTER_KEY and the data dir's key file." placeholder:"FILE" type:"path"`
	Unseal        bool     `help:"Take the master key from Shamir shares (from --share-file or stdin); the whole key never touches disk."`
	ShareFile     []string `help:"File holding one or more master key shares (repeatable); used with --unseal." placeholder:"FILE" type:"path"`
	LogFormat     string   `help:"Log format: text or json." enum:"text,json" default:"text"`
}

// with opens the existing store, keyring and services for a command that does not serve,
// runs fn, and closes them. An embedded store that does not exist yet is refused, not created.
// A store whose schema is older than this payvault's is refused (app.Config.Migrate), and so
// is one that copy-store moved to PostgreSQL (app.MovedFile).
func (f storeFlags) with(ctx context.Context, fn func(*app.Main) error) error {
	return f.run(ctx, func(c *app.Config) { c.ExistingStore = true }, fn)
}

// read is with for a command that only reads the store (keys status, audit verify): it opens
// a store that copy-store moved to PostgreSQL too (app.Config.ReadOnly).
func (f storeFlags) read(ctx context.Context, fn func(*app.Main) error) error {
	return f.run(ctx, func(c *app.Config) { c.ExistingStore, c.ReadOnly = true, true }, fn)
}

// run is with, the configuration set by set (nil: an embedded store that does not exist yet
// is created, for merchant create; app.Config.Migrate migrates an older schema, for migrate).
func (f storeFlags) run(ctx context.Context, set func(*app.Config), fn func(*app.Main) error) error {
	cfg, err := f.config(os.Stderr)
	if err != nil {
		return err
	}
	if set != nil {
		set(&cfg)
	}
	m, err := app.OpenTool(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	return fn(m)
}

// config is the app configuration the flags select; with --unseal it reads the master key's
// shares first.
func (f storeFlags) config(out io.Writer) (app.Config, error) {
	var h slog.Handler
	if f.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, nil)
	} else {
		h = slog.NewTextHandler(os.Stderr, nil)
	}
	if f.Data != "" && f.Database != "" {
		// Each selects a store: taking one silently would write to a store the operator did
		// not mean (the --data default is applied only when --database is absent).
		return app.Config{}, fmt.Errorf("--data and --database (or PAYVAULT_DATABASE_URL) select different stores; give only one")
	}
	dataDir := f.Data
	if dataDir == "" && f.Database == "" {
		dataDir = app.DefaultDataDir
	}
	cfg := app.Config{DataDir: dataDir, DatabaseURL: f.Database, Logger: slog.New(h), Out: out}
	if err := setMasterKey(&cfg, f.Unseal, f.ShareFile, f.MasterKeyFile); err != nil {
		return app.Config{}, err
	}
	return cfg, nil
}

// setMasterKey sets where cfg's master key comes from, first to last: --unseal's shares (read
// now), --master-key-file, PAYVAULT_MASTER_KEY (read only when neither is given), and else the
// data dir's key file.
func setMasterKey(cfg *app.Config, unseal bool, shareFiles []string, keyFile string) error {
	cfg.MasterKeyFile = keyFile
	switch {
	case unseal:
		mk, err := readShares(shareFiles, os.Stdin, os.Stderr)
		if err != nil {
			return err
		}
		cfg.MasterKeyValue = mk
	case len(shareFiles) > 0:
		return fmt.Errorf("--share-file needs --unseal")
	case keyFile == "":
		v, err := secretEnv("PAYVAULT_MASTER_KEY")
		if err != nil {
			return err
		}
		cfg.MasterKey = v
	}
	return nil
}

// secretEnv returns the secret in the environment variable name, or "" when it is unset.
// Secrets are read from the environment (or a file), never from a flag (see envOnly). One that
// is set but empty, a secret that did not arrive, is refused rather than read as unset: payvault
// would then use or make a master key file, or an admin token, of its own. A blank one is
// refused further on (app.Config).
func secretEnv(name string) (string, error) {
	v, ok := os.LookupEnv(name)
	if ok && v == "" {
		return "", fmt.Errorf("%s is set but empty: give its value, or unset it", name)
	}
	return v, nil
}

type cli struct {
	Serve     serveCmd     `cmd:"" help:"Serve the Paysafe and Fortis APIs, the admin API and the hosted fields."`
	Merchant  merchantCmd  `cmd:"" help:"Manage merchants."`
	Migrate   migrateCmd   `cmd:"" help:"Apply database migrations and exit."`
	Keys      keysCmd      `cmd:"" help:"Inspect, rotate and retire the data and fingerprint keys, split and rewrap the master key, and verify the sealed data."`
	Audit     auditCmd     `cmd:"" help:"Verify the audit chains (the admin API reads them: GET /admin/v1/merchants/{mid}/audit)."`
	Backup    backupCmd    `cmd:"" help:"Copy the embedded store to a file, consistently, while servers run on it."`
	Export    exportCmd    `cmd:"" help:"Export a merchant's cards and bank accounts to a new file, encrypted to a recipient's OpenPGP public key."`
	Import    importCmd    `cmd:"" help:"Import an export (payvault export) into a merchant of this store, keeping its payment tokens; checks the whole file first."`
	CopyStore copyStoreCmd `cmd:"" name:"copy-store" help:"Copy the embedded store into an empty PostgreSQL database, and verify the copy (stop the server first)."`
	Bench     benchCmd     `cmd:"" help:"Measure throughput and latency of the main API calls against a server on this machine."`
	Help      helpCmd      `cmd:"" help:"Show the help of payvault, or of a command (as --help does)."`
}

type helpCmd struct {
	Command []string `arg:"" optional:"" help:"The command to show the help of, e.g. keys status." placeholder:"COMMAND"`
}

// Run prints the help that "payvault COMMAND --help" prints, and exits 0 (kong's --help
// exits); a command that does not exist is refused as it is with --help.
func (h *helpCmd) Run(kctx *kong.Context) error {
	_, err := kctx.Kong.Parse(append(slices.Clone(h.Command), "--help"))
	return err
}

// maxSUTTTL bounds --sut-ttl: a single-use token keeps its CVV for its life (Paysafe's is 899
// s), and sensitive authentication data is not to be kept beyond the authorization it is for.
const maxSUTTTL = 24 * time.Hour

type serveCmd struct {
	storeFlags
	Listen                string        `help:"Address to listen on." default:"127.0.0.1:8080"`
	AdminTokenFile        string        `help:"File holding the admin API bearer token; overrides PAYVAULT_ADMIN_TOKEN." placeholder:"FILE" type:"path"`
	TLSCert               string        `help:"TLS certificate (PEM) to serve HTTPS." placeholder:"FILE" type:"path"`
	TLSKey                string        `help:"TLS private key (PEM)." placeholder:"FILE" type:"path"`
	PublicBaseURL         string        `help:"Scheme and host used in every Location header and link, e.g. https://vault.example.com." placeholder:"URL"`
	TLSTerminatedUpstream bool          `help:"A trusted proxy terminates TLS in front of payvault, so live credentials are accepted over its plain HTTP, and a client's address (for the rate limits) is the last X-Forwarded-For entry."`
	Demo                  bool          `help:"Serve the demo checkout page for sandbox merchants (on unless --no-demo or --demo=false)." default:"true" negatable:""`
	RetainDeleted         time.Duration `help:"Crypto-erase a deleted card or bank account's sealed data this long after deletion (0 keeps it)." default:"720h"`
	RetainTransactions    time.Duration `help:"Crypto-erase a transaction's sealed account number this long after it (0 keeps it)." default:"9480h"`
	SUTTTL                time.Duration `name:"sut-ttl" help:"Life of a Paysafe single-use token (sutTtlSeconds), and so of the CVV it holds; more than 0, at most 24h." default:"899s"`
	BACSMandateActivation time.Duration `help:"How long a new BACS mandate stays PENDING before it turns ACTIVE (bacsMandateActivationSeconds)." default:"168h"`
	RateLimit             float64       `help:"Requests per second each credential may make on this node (a public single-use-token or browser key: each merchant); 0 turns the limit off." default:"20000"`
	RateBurst             int           `help:"Requests a credential may make at once (its bucket size) before --rate-limit paces it." default:"40000"`
	PublicRateLimit       float64       `help:"Requests per second each client address may make on this node with a merchant's public single-use-token or browser key, on top of --rate-limit; 0 turns the limit off." default:"10"`
	PublicRateBurst       int           `help:"Requests a client address may make at once with a public key (its bucket size) before --public-rate-limit paces it." default:"50"`
	AuthFailureLimit      float64       `help:"Failed authentications per second a client address may make on this node before its requests are refused with 429; 0 turns the limit off." default:"5"`
	AuthFailureBurst      int           `help:"Failed authentications a client address may make in a row (its bucket size) before --auth-failure-limit paces it." default:"50"`
	BatchDelay            time.Duration `help:"How long a settlement or refund stays PENDING before it is COMPLETED (batchDelaySeconds)." default:"24h"`
	SimulatorDelayScale   float64       `help:"Multiplier on the sandbox processor's simulated delays (simulatorDelayScale); 0 means none." default:"1"`
	MerchantDescriptor    string        `help:"Paysafe merchantDescriptor shown on a transaction whose request sends none, as JSON: dynamicDescriptor (at most 20 characters) and phone (at most 13)." default:"{\"dynamicDescriptor\":\"DD Line 1\",\"phone\":\"000-111000099\"}" placeholder:"JSON"`
	ListLimitDefault      int           `help:"Paysafe transaction lists: the limit when a request asks for none (listLimitDefault)." default:"10"`
	ListLimitMax          int           `help:"Paysafe transaction lists: the largest limit a request may ask for; more is read as this (listLimitMax)." default:"50"`
}

func (c *serveCmd) Run(ctx context.Context) error {
	adminToken := ""
	if c.AdminTokenFile == "" {
		// --admin-token-file beats the environment's token, which is then not read at all.
		var err error
		if adminToken, err = secretEnv("PAYVAULT_ADMIN_TOKEN"); err != nil {
			return err
		}
	}
	// A malformed --listen is refused before a first start creates the data dir, the master
	// key and the sandbox merchant; an address that is taken is known only when it is bound.
	if _, err := net.ResolveTCPAddr("tcp", c.Listen); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if err := checkPublicBaseURL(c.PublicBaseURL); err != nil {
		return err
	}
	cfg, err := c.config(os.Stdout)
	if err != nil {
		return err
	}
	cfg.Listen = c.Listen
	// A server node waits for its database at start; the other commands fail at once.
	cfg.WaitForDatabase = true
	cfg.AdminToken, cfg.AdminTokenFile = adminToken, c.AdminTokenFile
	cfg.TLSCert, cfg.TLSKey = c.TLSCert, c.TLSKey
	cfg.PublicBaseURL, cfg.TLSTerminatedUpstream, cfg.Demo = c.PublicBaseURL, c.TLSTerminatedUpstream, c.Demo
	cfg.RetainDeleted, cfg.RetainTransactions = c.RetainDeleted, c.RetainTransactions
	if c.SUTTTL <= 0 {
		// A token's life is how long its CVV is kept; none (or less) is a mistake, not a setting.
		return fmt.Errorf("--sut-ttl must be positive")
	}
	if c.SUTTTL > maxSUTTTL {
		return fmt.Errorf("--sut-ttl may not exceed %s: an unused token keeps its CVV that long", maxSUTTTL)
	}
	cfg.SUTTTL, cfg.BACSMandateActivation = c.SUTTTL, c.BACSMandateActivation
	if c.RateLimit < 0 || c.RateBurst < 0 || c.PublicRateLimit < 0 || c.PublicRateBurst < 0 || c.AuthFailureLimit < 0 || c.AuthFailureBurst < 0 {
		return fmt.Errorf("--rate-limit, --rate-burst, --public-rate-limit, --public-rate-burst, --auth-failure-limit and --auth-failure-burst may not be negative")
	}
	cfg.RateLimit, cfg.RateBurst = c.RateLimit, c.RateBurst
	cfg.PublicRateLimit, cfg.PublicRateBurst = c.PublicRateLimit, c.PublicRateBurst
	cfg.AuthFailureRate, cfg.AuthFailureBurst = c.AuthFailureLimit, c.AuthFailureBurst
	if c.SimulatorDelayScale < 0 {
		return fmt.Errorf("--simulator-delay-scale must not be negative")
	}
	cfg.BatchDelay, cfg.SimulatorDelayScale = c.BatchDelay, &c.SimulatorDelayScale
	if cfg.DescriptorName, cfg.DescriptorPhone, err = parseDescriptor(c.MerchantDescriptor); err != nil {
		return err
	}
	if c.ListLimitDefault < 1 || c.ListLimitMax < c.ListLimitDefault {
		return fmt.Errorf("--list-limit-default must be at least 1, and --list-limit-max at least --list-limit-default")
	}
	cfg.ListLimitDefault, cfg.ListLimitMax = c.ListLimitDefault, c.ListLimitMax
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	m, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Listen(); err != nil {
		if m.Credentials != nil {
			// The first start committed the sandbox merchant before it tried the address; its
			// credentials are shown now or never.
			printFirstStart(os.Stdout, m)
		}
		return err
	}
	if m.Credentials != nil {
		printFirstStart(os.Stdout, m)
	}
	return m.Run(ctx)
}

// checkPublicBaseURL refuses a --public-base-url that is not an http or https URL with a
// host, and nothing a link could not be built on (user info, a query, a fragment): every
// Location header and link starts with it, and the hosted fields and the token endpoints
// take its scheme and host as payvault's own origin, which a malformed one would match
// nothing, or not what the operator meant. It is checked before a first start creates
// anything.
func checkPublicBaseURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("--public-base-url must be the scheme and host browsers reach payvault at, e.g. https://vault.example.com")
	}
	return nil
}

// parseDescriptor reads --merchant-descriptor: a JSON object with dynamicDescriptor and phone
// (the Paysafe request's limits: 20 and 13 characters), at least one of them set.
func parseDescriptor(s string) (name, phone string, err error) {
	var d struct {
		DynamicDescriptor string `json:"dynamicDescriptor"`
		Phone             string `json:"phone"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil || dec.More() {
		return "", "", fmt.Errorf(`--merchant-descriptor must be a JSON object like {"dynamicDescriptor":"DD Line 1","phone":"000-111000099"}`)
	}
	if d.DynamicDescriptor == "" && d.Phone == "" || utf8.RuneCountInString(d.DynamicDescriptor) > 20 || utf8.RuneCountInString(d.Phone) > 13 {
		return "", "", fmt.Errorf("--merchant-descriptor needs a dynamicDescriptor of at most 20 characters or a phone of at most 13, or both")
	}
	return d.DynamicDescriptor, d.Phone, nil
}

// printFirstStart shows the sandbox merchant's credentials once, with a curl that works.
func printFirstStart(w io.Writer, m *app.Main) {
	c := m.Credentials
	b, _ := json.MarshalIndent(c, "", "  ")
	fmt.Fprintf(w, "payvault: first start. A sandbox merchant was created; its credentials are shown only now:\n%s\n", b)
	if m.AdminTokenGenerated != "" {
		fmt.Fprintf(w, "\nAdmin API token (shown only now; set PAYVAULT_ADMIN_TOKEN to choose your own):\n%s\n", m.AdminTokenGenerated)
	}
	fmt.Fprintf(w, "\nTry it:\n  curl -s -u %s:%s -H 'Content-Type: application/json' -d '{\"merchantCustomerId\":\"demo-1\",\"locale\":\"en_US\"}' %s/customervault/v1/profiles\n\n",
		c.Paysafe.APIKeyID, c.Paysafe.APIKeySecret, localURL(m))
	if m.Config.Demo {
		// The hosted fields load from --public-base-url when it is set, so the page must too.
		demo := localURL(m)
		if m.Config.PublicBaseURL != "" {
			demo = strings.TrimRight(m.Config.PublicBaseURL, "/")
		}
		fmt.Fprintf(w, "Or pay in a browser: %s/demo/checkout\n\n", demo)
	}
}

// localURL is the server's URL on this machine: its listen address, with a wildcard host
// (--listen 0.0.0.0:8080 listens on [::]) replaced by 127.0.0.1, which it also answers and a
// browser can open.
func localURL(m *app.Main) string {
	u := m.URL()
	scheme, _, _ := strings.Cut(u, "://")
	host, port, err := net.SplitHostPort(m.Addr())
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsUnspecified() {
		return u
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", port)
}

type merchantCmd struct {
	Create merchantCreateCmd `cmd:"" help:"Create a merchant and print its credentials once."`
}

type merchantCreateCmd struct {
	storeFlags
	Name          string  `help:"Merchant name." required:""`
	AccountNumber *string `help:"Payment account number of the default location: 1 to 11 digits (random when omitted)." placeholder:"N"`
	Live          bool    `help:"Create a live merchant (strict checks, no sandbox processor)."`
	JSON          bool    `help:"Print one JSON object." name:"json"`
}

func (c *merchantCreateCmd) Run(ctx context.Context) error {
	account := ""
	if c.AccountNumber != nil {
		// An empty value (a script's unset variable) is refused, as the admin API refuses
		// "account_number": "", rather than read as omitted and answered with a random number.
		if account = *c.AccountNumber; account == "" {
			return fmt.Errorf("--account-number is empty: give 1 to 11 digits, or leave the flag out for a random number")
		}
	}
	// The merchant's checks come before the store is opened (or made).
	nm := vault.NewMerchant{Name: c.Name, Live: c.Live, AccountNumber: account}
	if err := nm.Check(); err != nil {
		switch {
		case errors.Is(err, vault.ErrRequired):
			return errors.New("--name is empty: give the merchant's name")
		case errors.Is(err, vault.ErrLength):
			return fmt.Errorf("--name is longer than %d characters", vault.MaxMerchantName)
		case errors.Is(err, vault.ErrFormat):
			return errors.New("--account-number must be 1 to 11 digits")
		}
		return err
	}
	// A store that does not exist yet is made, as it always has been (a provisioning script
	// may create its merchants before the first serve, and the CLI contract stays as it was);
	// stderr says so, since a mistyped --data or --database would otherwise pass unnoticed.
	return c.run(ctx, nil, func(m *app.Main) error {
		switch {
		case m.NewStore && m.Config.DatabaseURL == "":
			fmt.Fprintf(os.Stderr, "payvault: %s held no store; created a new one there. If you meant a running server's store, check --data.\n", m.Config.DataDir)
		case m.NewStore:
			fmt.Fprintln(os.Stderr, "payvault: the database held no payvault store; created a new one there. If you meant a running server's store, check --database.")
		}
		creds, err := m.Vault.CreateMerchant(ctx, nm)
		if err != nil {
			if account != "" && vault.KindOf(err) == vault.Conflict {
				return fmt.Errorf("--account-number %s is another merchant's: choose another, or leave the flag out for a random number", account)
			}
			return err
		}
		if c.JSON {
			return json.NewEncoder(os.Stdout).Encode(creds)
		}
		b, _ := json.MarshalIndent(creds, "", "  ")
		fmt.Printf("Merchant %q created. Its secrets are shown only now:\n%s\n", c.Name, b)
		return nil
	})
}

type migrateCmd struct {
	storeFlags
}

func (c *migrateCmd) Run(ctx context.Context) error {
	return c.run(ctx, func(c *app.Config) { c.Migrate = true }, func(m *app.Main) error {
		v, err := m.Store.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("schema is at version %d\n", v)
		return nil
	})
}

type keysCmd struct {
	Status  keysStatusCmd  `cmd:"" help:"Show the data, fingerprint and server keys and how many records each protects."`
	Rotate  keysRotateCmd  `cmd:"" help:"Add a new data key (or fingerprint key) and make it primary."`
	Split   keysSplitCmd   `cmd:"" help:"Split the master key into Shamir shares (split knowledge, dual control)."`
	Retire  keysRetireCmd  `cmd:"" help:"Disable a data key (or fingerprint key) once no record uses it."`
	Enable  keysEnableCmd  `cmd:"" help:"Enable a retired data key (or fingerprint key) again."`
	Destroy keysDestroyCmd `cmd:"" help:"Delete a retired key from its keyset for good (crypto-shredding)."`
	Rekey   keysRekeyCmd   `cmd:"" help:"Re-encrypt every record under the primary keys now (servers also do it in the background); list the records that do not open, and exit non-zero if any."`
	Rewrap  keysRewrapCmd  `cmd:"" help:"Rotate the master key: re-encrypt the stored keysets under a new master key."`
	Verify  keysVerifyCmd  `cmd:"" help:"Check, reading only, that every sealed record opens and every fingerprint matches its number; list the records that fail, and exit non-zero if any."`
}

type keysStatusCmd struct {
	storeFlags
	JSON bool `help:"Print one JSON object." name:"json"`
}

func (c *keysStatusCmd) Run(ctx context.Context) error {
	return c.read(ctx, func(m *app.Main) error {
		st, err := m.KeyStatus(ctx)
		if err != nil {
			return err
		}
		if c.JSON {
			return json.NewEncoder(os.Stdout).Encode(st)
		}
		fmt.Printf("primary data key: %d\n", st.PrimaryKeyID)
		for _, k := range st.Keys {
			fmt.Printf("  %-6s key %-12d %-9s %d records\n", k.Keyset, k.ID, k.Status, k.Records)
		}
		// Printed at 0 too: the upgrade has the operator watch this line until it reads 0.
		fmt.Printf("instruments not yet bound to their payment token: %d", st.LegacyADRecords)
		if st.LegacyADRecords > 0 {
			fmt.Print(" (re-encryption re-seals them: the servers' background job, or payvault keys rekey)")
		}
		fmt.Println()
		return nil
	})
}

type keysRotateCmd struct {
	storeFlags
	Fingerprint bool `help:"Rotate the fingerprint (MAC) key instead of the data key."`
}

func (c *keysRotateCmd) Run(ctx context.Context) error {
	return c.with(ctx, func(m *app.Main) error {
		which := "data"
		if c.Fingerprint {
			which = "mac"
		}
		id, err := m.Keyring.Rotate(ctx, which)
		if err != nil {
			return err
		}
		fmt.Printf("new primary %s key: %d (running servers pick it up within seconds)\n", which, id)
		return nil
	})
}

// keyArg names one key: the KEY argument and --fingerprint.
type keyArg struct {
	storeFlags
	Key         uint32 `arg:"" help:"Key id."`
	Fingerprint bool   `help:"A fingerprint (MAC) key instead of a data key."`
}

// change applies fn to the key in its keyset ("data", or "mac" with --fingerprint) and prints
// that the key is done.
func (k keyArg) change(ctx context.Context, done string, fn func(m *app.Main, which string, id uint32) error) error {
	return k.with(ctx, func(m *app.Main) error {
		which := "data"
		if k.Fingerprint {
			which = "mac"
		}
		if err := fn(m, which, k.Key); err != nil {
			return err
		}
		fmt.Printf("%s key %d %s\n", which, k.Key, done)
		return nil
	})
}

type keysRetireCmd struct{ keyArg }

func (c *keysRetireCmd) Run(ctx context.Context) error {
	return c.change(ctx, "retired", func(m *app.Main, which string, id uint32) error { return m.RetireKey(ctx, which, id) })
}

type keysEnableCmd struct{ keyArg }

// Run undoes keys retire: what the key sealed opens again, and it can be retired again later.
func (c *keysEnableCmd) Run(ctx context.Context) error {
	return c.change(ctx, "enabled (running servers pick it up within seconds)", func(m *app.Main, which string, id uint32) error {
		return m.Keyring.Enable(ctx, which, id)
	})
}

type keysDestroyCmd struct {
	storeFlags
	Key         uint32 `arg:"" help:"Key id to destroy; it must have been retired."`
	Fingerprint bool   `help:"Destroy a fingerprint (MAC) key instead of a data key."`
	Yes         bool   `help:"Confirm: nothing the key sealed can be read again, from any copy made after this, and it cannot be undone."`
}

func (c *keysDestroyCmd) Run(ctx context.Context) error {
	which := "data"
	if c.Fingerprint {
		which = "mac"
	}
	if !c.Yes {
		return fmt.Errorf("destroying %s key %d cannot be undone; run again with --yes", which, c.Key)
	}
	return c.with(ctx, func(m *app.Main) error {
		if err := m.DestroyKey(ctx, which, c.Key); err != nil {
			return err
		}
		fmt.Printf("%s key %d destroyed\n", which, c.Key)
		return nil
	})
}

type keysRekeyCmd struct {
	storeFlags
}

func (c *keysRekeyCmd) Run(ctx context.Context) error {
	return c.with(ctx, func(m *app.Main) error {
		rep, err := m.Rekey(ctx)
		fmt.Printf("re-encrypted %d records\n", rep.Rewritten)
		if rep.Bound > 0 {
			fmt.Printf("%d of them instruments now bound to their payment token\n", rep.Bound)
		}
		if err == nil {
			if left, cerr := m.Store.CountLegacyAD(ctx); cerr == nil && left > 0 {
				fmt.Printf("%d instruments are still not bound to their payment token (changed meanwhile, or unreadable below)\n", left)
			}
		}
		if rep.Changed > 0 {
			fmt.Printf("%d records changed meanwhile were left for the servers' background job (or run this again)\n", rep.Changed)
		}
		if err != nil {
			return err
		}
		for _, u := range rep.UnreadableRecords {
			fmt.Printf("unreadable: %s %s (merchant %s, key %d, field %s)\n", u.Table, u.ID, u.MerchantID, u.KeyID, u.Field)
		}
		if more := rep.Unreadable - len(rep.UnreadableRecords); more > 0 {
			fmt.Printf("unreadable: %d more not listed\n", more)
		}
		if rep.Unreadable > 0 {
			return fmt.Errorf("%d records do not open and were not re-encrypted; restore each from a backup or delete it, then run this again", rep.Unreadable)
		}
		return nil
	})
}

type keysVerifyCmd struct {
	storeFlags
	JSON bool `help:"Print one JSON object." name:"json"`
}

// Help is the long help of keys verify.
func (c *keysVerifyCmd) Help() string {
	return `Reads every record of every sealed table (cards, bank accounts, single-use tokens,
locations, transactions) in batches, opens each sealed field bound to its merchant, record,
field and payment token, as a payment would, and recomputes each card's or bank account's
fingerprint from its number under the fingerprint's own key. It writes nothing, so it may run
beside servers on the same store.

Run it after restoring a backup, after copy-store (on the target), before keys destroy, and
periodically. It finds ciphertexts altered, moved to another record, or left under a key this
store does not hold enabled, payment tokens swapped between records, altered fingerprints,
sealed data deleted, and a record whose key column names another data key than the one that
sealed it (keys retire and keys destroy count a key's records by that column).
It cannot see a change to a column that is not in the associated data (a card's expiry or
holder name, say).

Each failing record is listed (at most 100) by table, id, merchant, key id and field, never by
its data; the exit status is non-zero when any record fails. Restore each from a backup, or
delete it.

It then reads the names and labels stored in the clear (holder names, nicknames, titles,
profile and recipient names), and lists and counts, by table and field, the records holding a
card number, which the APIs refuse now but a store written before may hold. A card number in
the clear is what a vault exists to prevent, so these make the exit status non-zero too.`
}

func (c *keysVerifyCmd) Run(ctx context.Context) error {
	return c.read(ctx, func(m *app.Main) error {
		start := time.Now()
		rep, err := m.VerifySealed(ctx)
		if err != nil {
			return err
		}
		elapsed := time.Since(start)
		rate := float64(rep.Records) / max(elapsed.Seconds(), 1e-9)
		names, err := m.ScanNames(ctx)
		if err != nil {
			return err
		}
		if c.JSON {
			json.NewEncoder(os.Stdout).Encode(struct {
				OK bool `json:"ok"`
				*vault.VerifyReport
				ElapsedSeconds   float64           `json:"elapsed_seconds"`
				RecordsPerSecond float64           `json:"records_per_second"`
				Names            *vault.NameReport `json:"names"`
			}{rep.ProblemCount() == 0 && names.Holding == 0, rep, math.Round(elapsed.Seconds()*1000) / 1000, math.Round(rate), names}) // rounded: a long run of digits would read as a card number
		} else {
			for _, t := range rep.Tables {
				fmt.Printf("%-15s %d records, %d sealed fields opened, %s\n", t.Table+":", t.Records, t.Fields, verifyCounts(t))
			}
			for _, p := range rep.Problems {
				fmt.Printf("problem: %s %s (merchant %s, key %d, field %s): %s\n", p.Table, p.ID, p.MerchantID, p.KeyID, p.Field, p.Problem.Text())
			}
			if more := rep.ProblemCount() - len(rep.Problems); more > 0 {
				fmt.Printf("problem: %d more not listed\n", more)
			}
			fmt.Printf("verified %d records in %s (%.0f records/s): %s\n", rep.Records, elapsed.Round(time.Millisecond), rate, verifyCounts(rep.VerifiedTable))
			printNames(names)
		}
		if n := rep.ProblemCount(); n > 0 {
			return fmt.Errorf("%d records do not verify (%s); restore each from a backup or delete it, then run this again", n, verifyCounts(rep.VerifiedTable))
		}
		if names.Holding > 0 {
			return fmt.Errorf("%d records hold a card number in a name or label in the clear; correct or delete each (docs/operations.md), then run this again", names.Holding)
		}
		return nil
	})
}

// printNames prints what keys verify found of card numbers in names and labels: each record
// (at most vault.MaxNameRecordsListed) by table, id, merchant and field, and the counts.
func printNames(rep *vault.NameReport) {
	n := rep.Holding
	if n == 0 {
		fmt.Printf("names: no name or label of %d records holds a card number\n", rep.Records)
		return
	}
	for _, r := range rep.Listed {
		fmt.Printf("card number in a name: %s %s (merchant %s, field %s)\n", r.Table, r.ID, r.MerchantID, r.Field)
	}
	if more := n - len(rep.Listed); more > 0 {
		fmt.Printf("card number in a name: %d more not listed\n", more)
	}
	var by []string
	for _, f := range rep.Found {
		by = append(by, fmt.Sprintf("%s.%s %d", f.Table, f.Field, f.Records))
	}
	fmt.Printf("names: %d records hold a card number in the clear, in %s (stored before payvault refused it there): correct or delete each (docs/operations.md)\n", n, strings.Join(by, ", "))
}

// verifyCounts is a verification's problem counts in words.
func verifyCounts(t vault.VerifiedTable) string {
	return fmt.Sprintf("%d unreadable, %d fingerprint mismatches, %d fingerprint keys not held, %d sealed under another key than their record names, %d with sealed data missing",
		t.Unreadable, t.FingerprintMismatches, t.FingerprintKeysMissing, t.KeyMismatches, t.SealedMissing)
}

type auditCmd struct {
	Verify auditVerifyCmd `cmd:"" help:"Verify every merchant's audit chain; exit non-zero on any edited, deleted or reordered record."`
}

type auditVerifyCmd struct {
	storeFlags
	JSON bool `help:"Print the problems as JSON." name:"json"`
}

func (c *auditVerifyCmd) Run(ctx context.Context) error {
	return c.read(ctx, func(m *app.Main) error {
		problems, err := m.Store.VerifyAudit(ctx, m.Keyring)
		if err != nil {
			return err
		}
		if c.JSON {
			if problems == nil {
				// An empty list, as GET /admin/v1/audit/verify answers, not null.
				problems = []vault.AuditProblem{}
			}
			json.NewEncoder(os.Stdout).Encode(map[string]any{"ok": len(problems) == 0, "problems": problems})
		} else {
			for _, p := range problems {
				fmt.Printf("merchant %q record %d: %s\n", p.MerchantID, p.Seq, p.Problem)
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("audit chain broken: %d problems", len(problems))
		}
		if !c.JSON {
			fmt.Println("audit chains verify")
		}
		return nil
	})
}

type backupCmd struct {
	Data     string `help:"Data directory of the embedded store (default ./payvault-data)." default:"./payvault-data" placeholder:"DIR"`
	Database string `help:"PostgreSQL URL: refused, since PostgreSQL is backed up with its own tools." placeholder:"DSN" env:"PAYVAULT_DATABASE_URL"`
	Out      string `help:"File to write the copy to; it must not exist yet, and its folder must (the file is created 0600, no folder is)." required:"" placeholder:"FILE" type:"path"`
}

func (c *backupCmd) Run(ctx context.Context) error {
	if c.Database != "" {
		return fmt.Errorf("backup copies the embedded store; back up PostgreSQL with pg_dump, or base backups and WAL archiving (docs/operations.md)")
	}
	size, moved, err := app.Backup(ctx, c.Data, c.Out)
	if err != nil {
		return err
	}
	fmt.Printf("backed up %s to %s (%d bytes, checked). The master key is not in it: keep the key that opens it apart from it.\n", app.SQLitePath(c.Data), c.Out, size)
	if moved {
		fmt.Printf("The store was copied to PostgreSQL (%s): the backup carries the mark, and a store restored from it is refused as this one is.\n", app.MovedFile)
	}
	return nil
}

type exportCmd struct {
	storeFlags
	MerchantID string `help:"The merchant whose cards and bank accounts to export." required:"" placeholder:"ID"`
	Recipient  string `help:"File holding the recipient's OpenPGP public key (armored or binary): the export is encrypted to it." required:"" placeholder:"KEYFILE" type:"path"`
	Out        string `help:"File to write the encrypted export to; it must not exist yet, and its folder must (the file is created 0600, no folder is)." required:"" placeholder:"FILE" type:"path"`
}

func (c *exportCmd) Run(ctx context.Context) error {
	// The key is checked before the store is opened: a wrong key costs nothing.
	rcpt, err := app.ReadRecipient(c.Recipient, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("recipient: %s %s\n", rcpt.Fingerprint, rcpt.UserID)
	return c.with(ctx, func(m *app.Main) error {
		rep, err := m.Export(ctx, c.MerchantID, rcpt, c.Out)
		if rep != nil {
			fmt.Printf("exported merchant %s (%s) to %s: %d records", rep.Header.Merchant.ID, rep.Header.Merchant.Name, c.Out, rep.Records)
			for _, k := range vault.ExportKinds {
				fmt.Printf(", %s %d", k, rep.Counts[k])
			}
			fmt.Printf("; %d mandates (%d bytes, %s), encrypted to %s; recorded on the merchant's audit chain\n", rep.Mandates, rep.Bytes, rep.Took.Round(time.Millisecond), rcpt.Fingerprint)
			for _, id := range rep.UnreadableIDs {
				fmt.Printf("unreadable: instrument %s\n", id)
			}
			if more := rep.Unreadable - len(rep.UnreadableIDs); more > 0 {
				fmt.Printf("unreadable: %d more not listed\n", more)
			}
		}
		return err
	})
}

type importCmd struct {
	storeFlags
	MerchantID     string `help:"The merchant of this store to import into (it may differ from the export's)." required:"" placeholder:"ID"`
	Key            string `help:"File holding the OpenPGP private key (armored or binary) the export was encrypted to." required:"" placeholder:"KEYFILE" type:"path"`
	PassphraseFile string `help:"File holding the private key's passphrase, when it has one." placeholder:"FILE" type:"path"`
	In             string `help:"The export file (payvault export --out)." required:"" placeholder:"FILE" type:"path"`
	DryRun         bool   `help:"Check the whole file against the target (format, every record, collisions) and report; write nothing."`
}

func (c *importCmd) Run(ctx context.Context) error {
	var pass []byte
	if c.PassphraseFile != "" {
		b, err := os.ReadFile(c.PassphraseFile)
		if err != nil {
			return fmt.Errorf("payvault: the passphrase: %w", err)
		}
		pass = bytes.TrimRight(b, "\r\n")
	}
	// The key is checked before the store is opened: a wrong key costs nothing.
	key, err := app.ReadImportKey(c.Key, pass)
	if err != nil {
		return err
	}
	fmt.Printf("key: %s %s\n", key.Fingerprint, key.UserID)
	return c.with(ctx, func(m *app.Main) error {
		rep, err := m.Import(ctx, c.MerchantID, key, c.In, app.ImportOptions{DryRun: c.DryRun})
		if rep != nil {
			printImport(c.MerchantID, c.DryRun, rep)
		}
		return err
	})
}

// printImport prints what an import found and did: counts, and problems by line and id.
func printImport(mid string, dryRun bool, rep *app.ImportReport) {
	h := rep.Header
	fmt.Printf("export of merchant %s (%s), created %s: %d records", h.Merchant.ID, h.Merchant.Name, h.Created.Format(time.RFC3339), rep.Records)
	for _, k := range vault.ExportKinds {
		fmt.Printf(", %s %d", k, rep.Counts[k])
	}
	fmt.Printf("\nchecked against merchant %s: %d to create (%d with a new id, their id being taken; %d mandates with a new id), %d already imported, %d unreadable (skipped), %d profiles; %d invalid, %d collisions",
		mid, rep.ToCreate, rep.NewIDs, rep.NewMandateIDs, rep.AlreadyImported, rep.Unreadable, rep.Profiles, rep.Invalid, rep.Collisions)
	if rep.OtherMerchant > 0 {
		fmt.Printf(" (%d with another merchant of this store)", rep.OtherMerchant)
	}
	fmt.Println()
	for _, p := range rep.Problems {
		fmt.Printf("line %d: %v\n", p.Line, p.ImportProblem)
	}
	if more := rep.Invalid + rep.Collisions - len(rep.Problems); more > 0 {
		fmt.Printf("%d more problems not listed\n", more)
	}
	switch {
	case dryRun:
		fmt.Println("dry run: nothing was written")
	case rep.Batches > 0 || rep.Created > 0 || rep.Recorded:
		fmt.Printf("imported %d instruments, %d profiles, %d addresses, %d mandates in %d transactions (%s); recorded on the merchant's audit chain\n",
			rep.Created, rep.ProfilesCreated, rep.AddressesCreated, rep.MandatesCreated, rep.Batches, rep.Took.Round(time.Millisecond))
	}
}

type copyStoreCmd struct {
	Data          string   `help:"Data directory of the embedded store (default ./payvault-data): the store to copy." default:"./payvault-data" placeholder:"DIR"`
	Database      string   `help:"PostgreSQL URL (postgres://...) of the empty database to copy into." required:"" placeholder:"DSN" env:"PAYVAULT_DATABASE_URL"`
	MasterKeyFile string   `help:"File holding the base64 master key; overrides PAYVAULT_MASTER_KEY and the data dir's key file." placeholder:"FILE" type:"path"`
	Unseal        bool     `help:"Take the master key from Shamir shares (from --share-file or stdin)."`
	ShareFile     []string `help:"File holding one or more master key shares (repeatable); used with --unseal." placeholder:"FILE" type:"path"`
}

func (c *copyStoreCmd) Run(ctx context.Context) error {
	cfg := app.Config{DataDir: c.Data, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), Out: os.Stdout}
	if err := setMasterKey(&cfg, c.Unseal, c.ShareFile, c.MasterKeyFile); err != nil {
		return err
	}
	rep, err := app.CopyStore(ctx, cfg, c.Database)
	if err != nil {
		return err
	}
	var total int64
	for _, t := range rep.Tables {
		fmt.Printf("  %-22s %d rows\n", t.Table, t.Rows)
		total += t.Rows
	}
	fmt.Printf("copied %d rows of %d tables into PostgreSQL in %s, and verified them: row counts, every row compared value for value, audit chains, key status, and sealed values opened under the copied keysets (a sample: %d)\n",
		total, len(rep.Tables), rep.Took.Round(time.Millisecond), rep.Sealed)
	if rep.AuditProblems > 0 {
		fmt.Printf("note: the embedded store's audit chains had %d problems before the copy (payvault audit verify), and the copy has the same\n", rep.AuditProblems)
	}
	key := "the same master key"
	switch {
	case c.Unseal:
		key = "--unseal and the same shares"
	case c.MasterKeyFile != "":
		key = "--master-key-file " + c.MasterKeyFile
	case cfg.MasterKey != "":
		key = "the same PAYVAULT_MASTER_KEY"
	default:
		key = "the master key of " + filepath.Join(c.Data, "master.key") + " (--master-key-file, or its contents in PAYVAULT_MASTER_KEY)"
	}
	fmt.Printf("The keysets were copied as they are: start every node with --database and %s. Keep %s, stopped, until you are satisfied; it is marked moved (%s), so serve and the commands that write refuse it.\n", key, c.Data, filepath.Join(c.Data, app.MovedFile))
	return nil
}

type keysRewrapCmd struct {
	storeFlags
	NewMasterKeyFile string `help:"File holding the new base64 master key; created (0600, random) when it does not exist." required:"" placeholder:"FILE" type:"path"`
}

func (c *keysRewrapCmd) Run(ctx context.Context) error {
	cfg, err := c.config(os.Stderr)
	if err != nil {
		return err
	}
	oldKey, err := app.ExistingMasterKey(cfg)
	if err != nil {
		return err
	}
	if err := app.CheckOutFolder(c.NewMasterKeyFile); err != nil {
		return err
	}
	newKey, created, err := keys.LoadOrCreateMasterKeyFile(c.NewMasterKeyFile)
	if err != nil {
		return err
	}
	if newKey == oldKey {
		// Refused before the store is opened: keys.Rewrap would refuse it too, but its failure
		// says to keep the file and run again, which would refuse again.
		return fmt.Errorf("the new master key in %s is the store's master key now: give a file that does not exist yet (a new random key is written to it), or one holding another key", c.NewMasterKeyFile)
	}
	cfg.ExistingStore = true
	m, err := app.OpenTool(ctx, cfg)
	if err != nil {
		if created {
			// Refused before any keyset was touched (a wrong old key, a moved store, a
			// schema behind): leave no random key that wraps nothing. Once Rewrap has
			// begun, the file stays whatever happens, since it may wrap some keysets.
			os.Remove(c.NewMasterKeyFile)
		}
		return err
	}
	defer m.Close()
	if err := m.RewrapMasterKey(ctx, oldKey, newKey); err != nil {
		if errors.Is(err, app.ErrKeysetsUnsettled) {
			if created {
				os.Remove(c.NewMasterKeyFile) // refused before any keyset was touched, as above
			}
			return err
		}
		return fmt.Errorf("%w; the new master key in %s may already wrap some keysets: keep it, and run the same rewrap again to finish", err, c.NewMasterKeyFile)
	}
	if created {
		fmt.Fprintf(os.Stderr, "A new master key was written to %s.\n", c.NewMasterKeyFile)
	}
	if c.Unseal {
		// The old key came from shares: the ceremony goes on with the new key's shares, not a
		// key file or the environment (docs/operations.md, Key ceremony, step 5).
		fmt.Printf("The keysets are now under the new master key. Split it and delete its file (payvault keys split --shares N --threshold M --master-key-file %s --delete-key-file), restart every node with --unseal and the new shares, then destroy the old shares once no backup made before now needs them.\n", c.NewMasterKeyFile)
	} else {
		fmt.Println("The keysets are now under the new master key. Restart every node with it (PAYVAULT_MASTER_KEY, --master-key-file or the data dir's master.key), then destroy the old key once no backup made before now needs it.")
	}
	if app.KeyFromDataDir(cfg) {
		fmt.Printf("The data dir's master.key still holds the OLD key: replace it with %s (or start with --master-key-file %s) before the next start.\n", c.NewMasterKeyFile, c.NewMasterKeyFile)
	}
	return nil
}

// envOnly are the secrets payvault takes from its environment (secretEnv) or a file only, with
// where to give each instead. None is a flag: given as one, a secret would sit in the command
// line, which every user of the machine reads (ps, /proc/PID/cmdline). The names are the flags
// a user may try all the same.
var envOnly = map[string]string{
	"--master-key":  "set PAYVAULT_MASTER_KEY (PAYVAULT_BENCH_MASTER_KEY for bench) or give --master-key-file",
	"--admin-token": "set PAYVAULT_ADMIN_TOKEN or give --admin-token-file",
	"--credentials": "set PAYVAULT_BENCH_CREDENTIALS or give --credentials-file",
}

// secretFlag returns, when err is kong's refusal of one of envOnly as an unknown flag, an
// error saying where to give that secret instead, and nil otherwise. kong's error type for
// an unknown flag is unexported, so its message is matched: "unknown flag --NAME", maybe
// followed by ", did you mean ...?". It never holds the flag's value.
func secretFlag(err error) error {
	msg := err.Error()
	for name, instead := range envOnly {
		if rest, ok := strings.CutPrefix(msg, "unknown flag "+name); ok && (rest == "" || strings.HasPrefix(rest, ",")) {
			return fmt.Errorf("%s is not a flag, since a command line is visible to every user of the machine: %s", name, instead)
		}
	}
	return nil
}

func main() {
	var c cli
	parser := kong.Must(&c,
		kong.Name("payvault"),
		kong.Description("payvault: a self-hosted payment-data vault speaking the Paysafe Customer Vault and Fortis v2 APIs."),
		kong.UsageOnError(),
	)
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		if serr := secretFlag(err); serr != nil {
			// Said alone, without the usage: the flag is not misspelt, it does not exist.
			fmt.Fprintln(os.Stderr, "payvault:", serr)
			os.Exit(1)
		}
		// The usage shown with a parse error goes to stderr, with the error: stdout holds only
		// what a command prints (merchant create --json's credentials), and --help's help.
		parser.Stdout = os.Stderr
		parser.FatalIfErrorf(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "payvault:", oneLine(strings.TrimPrefix(err.Error(), "payvault: ")))
		os.Exit(1)
	}
}

// oneLine is an error message on one line, as a refusal is printed: the PostgreSQL driver
// lists each failed connection attempt on a line of its own (a host's addresses, sslmode
// prefer's second attempt), which a log collector or a script reading stderr would take
// for separate messages. Each line is kept, after "; ", or after a space where the line
// before ends with a colon.
func oneLine(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	var b strings.Builder
	for _, l := range lines {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		switch s := b.String(); {
		case s == "":
		case strings.HasSuffix(s, ":"):
			b.WriteString(" ")
		default:
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}
