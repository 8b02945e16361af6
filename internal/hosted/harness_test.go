package hosted_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/payvault/payvault/internal/app"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/vault"
)

// The test binary drives one headless Chromium; each test gets its own tab.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// chromiumPath returns the system Chromium, or "" when there is none.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// startBrowser starts the binary's Chromium with a fresh profile. A start that fails
// is tried again, up to three times, each with a new profile: one CI run saw Chromium
// crash as it started (crashpad wrote a dump; no FATAL line), and every browser test
// of the binary failed with it. Each failed try is written to stderr with the exit
// status, so a run that fails all three says how. The last try also starts Chromium
// without its zygote (the forking helper that starts renderers), in case that is what
// failed.
func startBrowser(path string) {
	var errs []error
	for try := 1; try <= 3; try++ {
		var extra []chromedp.ExecAllocatorOption
		if try == 3 {
			extra = append(extra, chromedp.Flag("no-zygote", true))
		}
		err := startBrowserOnce(path, extra...)
		if err == nil {
			if try > 1 {
				fmt.Fprintf(os.Stderr, "Chromium started on try %d\n", try)
			}
			return
		}
		fmt.Fprintf(os.Stderr, "Chromium try %d failed: %v\n", try, err)
		errs = append(errs, fmt.Errorf("try %d: %w", try, err))
		time.Sleep(time.Duration(try) * time.Second)
	}
	browser.err = errors.Join(errs...)
}

// startBrowserOnce makes one try; on failure it stops what it started and removes the
// profile, and the error names how the process ended.
func startBrowserOnce(path string, extra ...chromedp.ExecAllocatorOption) error {
	dir, err := os.MkdirTemp("", "payvault-chromium-")
	if err != nil {
		return err
	}
	var cmd *exec.Cmd
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			cmd = c
			// What chromedp does when no ModifyCmdFunc is given: Chromium dies with the test binary.
			c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.WindowSize(1024, 900),
	}, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	// The first action starts the browser; it must run on the long-lived context.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		if cmd != nil && cmd.ProcessState != nil {
			err = fmt.Errorf("%w (Chromium %s)", err, cmd.ProcessState)
		}
		os.RemoveAll(dir)
		return err
	}
	browser.dir = dir
	browser.ctx = ctx
	browser.cancel = func() { cancel(); cancelAlloc() }
	return nil
}

// MustTab returns a new tab in the test binary's browser. Without Chromium the test is
// skipped, or fails under CI=true. When the test fails, a screenshot of the tab is saved
// in the test's output dir (TEST_OUTPUT_DIR, or t.ArtifactDir(), kept with go test -artifacts).
func MustTab(tb testing.TB) context.Context {
	tb.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("Chromium is not installed (/usr/bin/chromium); CI=true needs it")
		}
		tb.Skip("Chromium is not installed")
	}
	browser.once.Do(func() { startBrowser(path) })
	if browser.err != nil {
		tb.Fatalf("start Chromium: %v", browser.err)
	}
	tab, closeTab := chromedp.NewContext(browser.ctx)
	tb.Cleanup(closeTab)
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	tb.Cleanup(func() {
		cancel()
		if tb.Failed() {
			sctx, stop := context.WithTimeout(tab, 10*time.Second)
			defer stop()
			saveScreenshot(tb, sctx)
		}
	})
	return ctx
}

// saveScreenshot writes a full-page screenshot of the tab into the test's output dir.
func saveScreenshot(tb testing.TB, ctx context.Context) {
	dir := os.Getenv("TEST_OUTPUT_DIR")
	if dir == "" {
		dir = tb.ArtifactDir()
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		tb.Logf("screenshot failed: %v", err)
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name()) + ".jpg"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		tb.Logf("screenshot not saved: %v", err)
		return
	}
	tb.Logf("screenshot: %s", path)
}

// Test cards: Luhn-valid, never logged, never in a URL or a postMessage.
const (
	panVisa    = "4111111111111111"
	panAmex    = "378282246310005"
	panBadLuhn = "4111111111111112"
	cvvTest    = "123"
)

// vaultServer is a running payvault (the real app.Main) with its first-start credentials.
type vaultServer struct {
	URL   string
	Main  *app.Main
	Creds *vault.MerchantCredentials
	Logs  *logtest.Capture
}

// MustVault starts payvault on 127.0.0.1:0 with a fresh SQLite store, logging through
// logtest (test card numbers and every secret forbidden).
func MustVault(tb testing.TB, demo bool) *vaultServer {
	tb.Helper()
	return MustVaultConfig(tb, app.Config{Demo: demo})
}

// MustVaultConfig is MustVault with the rest of cfg (its rate limits, say); it sets the
// listen address, data dir, logger and output itself.
func MustVaultConfig(tb testing.TB, cfg app.Config) *vaultServer {
	tb.Helper()
	log, capture := logtest.New(tb)
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Listen, cfg.DataDir, cfg.Logger, cfg.Out = "127.0.0.1:0", tb.TempDir(), log, io.Discard
	m, err := app.Open(ctx, cfg)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if err := m.Listen(); err != nil {
		cancel()
		m.Close()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
		m.Close()
	})
	c := m.Credentials
	if c == nil {
		tb.Fatal("no first-start credentials")
	}
	capture.Forbid(panVisa, panAmex, panBadLuhn, "4111 1111 1111 1111", c.Paysafe.APIKeySecret, c.Paysafe.SingleUseKeySecret,
		c.Fortis.UserAPIKey, c.Fortis.TicketHashKey)
	s := &vaultServer{URL: m.URL(), Main: m, Creds: c, Logs: capture}
	for i := 0; ; i++ {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 100 {
			tb.Fatalf("payvault did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// fortisCredentials computes the location's browser credential as a merchant server does.
func (s *vaultServer) fortisCredentials(tb testing.TB) map[string]string {
	tb.Helper()
	return s.fortisCredentialsAt(tb, time.Now())
}

// fortisCredentialsAt computes the location's browser credential for the timestamp at.
func (s *vaultServer) fortisCredentialsAt(tb testing.TB, at time.Time) map[string]string {
	tb.Helper()
	ts := fmt.Sprint(at.Unix())
	c := s.Creds.Fortis
	return map[string]string{"locationApiKey": c.LocationAPIKey, "timestamp": ts, "hashKey": vault.BrowserHashKey(c.TicketHashKey, c.LocationAPIKey, ts)}
}

// shopPage is a merchant's checkout page on its own origin. It loads payvault.js from the
// vault, mounts the fields with opts, and records what it sees for the test: readiness,
// change events and tokenize results.
var shopPage = template.Must(template.New("shop").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test shop</title>
<script src="{{.Vault}}/hosted/v1/payvault.js"></script>
</head><body>
<h1>Test shop</h1>
<div id="fields"></div>
<script>
window.shop = { ready: false, failed: '', states: [], submits: 0, readyCalls: 0 };
const opts = {{.Options}};
opts.onReady = () => { shop.readyCalls++; };
opts.onChange = (s) => shop.states.push(s);
opts.onSubmit = () => { shop.submits++; };
try {
  shop.fields = Payvault.mount('#fields', opts);
  shop.fields.ready.then(() => { shop.ready = true; }, (e) => { shop.failed = e.code; });
} catch (e) {
  shop.failed = 'mount: ' + e.message;
}
shop.tokenize = () => shop.fields.tokenize().then((r) => ({ ok: true, result: r }), (e) => ({ ok: false, code: e.code, fields: e.fields }));
</script>
</body></html>`))

// MustShop serves a merchant page on a new origin that mounts payvault's fields with opts.
func MustShop(tb testing.TB, vaultURL string, opts map[string]any) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := shopPage.Execute(w, map[string]any{"Vault": template.URL(vaultURL), "Options": opts}); err != nil {
			tb.Errorf("shop page: %v", err)
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// recorder keeps every request URL the tab makes and every postMessage payload any of its
// frames receives, so that tests can show a PAN never appears in them.
type recorder struct {
	mu       sync.Mutex
	requests []*network.Request
	docs     []string // docs are the URLs of the documents that made the requests
	messages []string
}

// MustRecord starts recording the tab's requests and postMessages; it must run before the
// navigation it observes.
func MustRecord(tb testing.TB, ctx context.Context) *recorder {
	tb.Helper()
	rec := &recorder{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			rec.mu.Lock()
			rec.requests = append(rec.requests, e.Request)
			rec.docs = append(rec.docs, e.DocumentURL)
			rec.mu.Unlock()
		}
	}); err != nil {
		tb.Fatal(err)
	}
	capture := func(ctx context.Context, payload string) (chromedp.Void, error) {
		rec.mu.Lock()
		rec.messages = append(rec.messages, payload)
		rec.mu.Unlock()
		return chromedp.Void{}, nil
	}
	err := chromedp.Do(ctx,
		chromedp.ExposeFunc("testCaptureMessage", capture),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `window.addEventListener('message', (e) => {
  try { window.testCaptureMessage(location.origin + ' <- ' + e.origin + ' ' + JSON.stringify(e.data)); } catch (_) {}
}, true);`,
			})
			return err
		}),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// Requests returns the requests so far whose URL has prefix.
func (r *recorder) Requests(prefix string) []*network.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*network.Request
	for _, q := range r.requests {
		if strings.HasPrefix(q.URL, prefix) {
			out = append(out, q)
		}
	}
	return out
}

// Documents returns the URLs of the documents that made the requests whose URL has prefix.
func (r *recorder) Documents(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, q := range r.requests {
		if strings.HasPrefix(q.URL, prefix) {
			out = append(out, r.docs[i])
		}
	}
	return out
}

// Messages returns the postMessage payloads so far.
func (r *recorder) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

// CheckNoPAN fails the test when a card number shows up in a request URL or a postMessage.
func (r *recorder) CheckNoPAN(tb testing.TB, pans ...string) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var forms []string
	for _, p := range pans {
		forms = append(forms, p, spaced(p))
	}
	check := func(what, text string) {
		for _, f := range forms {
			if strings.Contains(text, f) {
				tb.Errorf("a card number ending %s is in %s", f[len(f)-4:], what)
			}
		}
	}
	for _, q := range r.requests {
		check("a request URL", q.URL)
	}
	for _, m := range r.messages {
		check("a postMessage payload", m)
	}
}

// spaced groups a card number by four, as the fields display it.
func spaced(pan string) string {
	var b strings.Builder
	for i, c := range pan {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// MustFrame waits for the tab's payvault iframe to be ready (payvault.js marks it) and
// returns its node, whose content document is then the fields' page.
func MustFrame(tb testing.TB, ctx context.Context) *chromedp.Node {
	tb.Helper()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitReady(chromedp.CSS("iframe[data-payvault-ready]"))); err != nil {
		tb.Fatalf("the fields did not load: %v", err)
	}
	nodes, err := chromedp.Run(wctx, chromedp.Nodes(chromedp.CSS("iframe[data-payvault-ready]"), chromedp.Populate(-1, true)))
	if err != nil || len(nodes) == 0 {
		tb.Fatalf("no iframe: %v", err)
	}
	frame := nodes[0]
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#pv-form input"), chromedp.FromNode(frame))); err != nil {
		tb.Fatalf("the fields did not show: %v", err)
	}
	return frame
}

// MustType types text into the input sel of the frame, as a user would.
func MustType(tb testing.TB, ctx context.Context, frame *chromedp.Node, sel, text string) {
	tb.Helper()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.FromNode(frame))); err != nil {
		tb.Fatalf("type into %s: %v", sel, err)
	}
}

// frameText returns the text of sel in the frame.
func frameText(tb testing.TB, ctx context.Context, frame *chromedp.Node, sel string) string {
	tb.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel), chromedp.FromNode(frame)))
	if err != nil {
		tb.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// frameAttr returns the attribute name of sel in the frame.
func frameAttr(tb testing.TB, ctx context.Context, frame *chromedp.Node, sel, name string) string {
	tb.Helper()
	a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name, chromedp.FromNode(frame)))
	if err != nil {
		tb.Fatalf("read %s[%s]: %v", sel, name, err)
	}
	return a.Value
}

// MustEval evaluates a page expression (awaiting a promise) into T.
func MustEval[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("evaluate %q: %v", expr, err)
	}
	return v
}

// MustPoll waits until a page expression is truthy and returns it.
func MustPoll[T any](tb testing.TB, ctx context.Context, expr string, timeout time.Duration) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		tb.Fatalf("waiting for %q: %v", expr, err)
	}
	return v
}

// tokenizeResult is what shop.tokenize() resolves to.
type tokenizeResult struct {
	OK     bool     `json:"ok"`
	Code   string   `json:"code"`
	Fields []string `json:"fields"`
	Result struct {
		Token string `json:"token"`
		Card  struct {
			Brand    string `json:"brand"`
			LastFour string `json:"lastFour"`
			ExpMonth int    `json:"expMonth"`
			ExpYear  int    `json:"expYear"`
		} `json:"card"`
		BankAccount struct {
			LastFour    string `json:"lastFour"`
			AccountType string `json:"accountType"`
		} `json:"bankAccount"`
	} `json:"result"`
}

// doJSON sends a JSON request to the vault with extra headers and decodes the answer.
func doJSON(tb testing.TB, method, url string, headers map[string]string, body any) (int, map[string]any) {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(method, url, strings.NewReader(string(b)))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil && !errors.Is(err, io.EOF) {
		tb.Fatalf("%s %s: decode: %v", method, url, err)
	}
	return resp.StatusCode, out
}

// futureExpiry is an expiry date two years ahead, as MM/YY.
func futureExpiry() (string, int, int) {
	t := time.Now().AddDate(2, 0, 0)
	return fmt.Sprintf("%02d/%02d", int(t.Month()), t.Year()%100), int(t.Month()), t.Year()
}
