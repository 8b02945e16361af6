package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/logtest"
)

// The README's "A 5-minute tour" is a promise to a new user: this test runs it as written. It
// reads the tour's ```sh blocks, starts the built binary as the tour's prose says, runs every
// curl command through bash with the tour's variables set to the first start's credentials,
// and checks each answer against the comment the README puts beside it. It keys on the blocks,
// the comments and the placeholders, not on line numbers or wording, and names the README line
// of whatever fails.

// readmePath is the README, relative to this package.
const readmePath = "../README.md"

// tourCommand is one command of a tour block, as bash runs it.
type tourCommand struct {
	line    int    // line is the README line the command starts on.
	code    string // code is the command without its comments.
	comment string // comment is what the README says of the answer: the inline comment and any comment lines after it.
}

// tourExport is one `export NAME=VALUE # comment` line of a tour block.
type tourExport struct {
	line                 int
	name, value, comment string
}

// tourStep is one numbered step of the tour.
type tourStep struct {
	n        int
	prose    string
	preamble []string // preamble holds the block lines that are neither export nor curl (a bash array of headers).
	exports  []tourExport
	commands []tourCommand
}

var (
	tourHeading = regexp.MustCompile(`^\*\*(\d+)\. `)
	exportLine  = regexp.MustCompile(`^export ([A-Z_]+)=(\S*)$`)
	proseCmd    = regexp.MustCompile("`go run ./cmd/payvault ([^`]+)`")
	wantStatus  = regexp.MustCompile(`^(?:→\s*)?(\d{3})(?:/(\d{4}))?\b`)
	wantJSON    = regexp.MustCompile(`"(\w+)":("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false)`)
	wantWord    = regexp.MustCompile(`^([a-z]\w*) (-?\d+(?:\.\d+)?)$`)
	placeholder = regexp.MustCompile(`<\w+Id>|\b[A-Z]…`)
	pvPath      = regexp.MustCompile(`\$PV(/[^\s"'?]*)`)
	againClaim  = regexp.MustCompile(`again[^.]*?\b(\d{3})/(\d{4})\b`)
	showsUpIn   = regexp.MustCompile("shows up in `GET (/[^`?]+)`")
)

// MustReadTour parses the README's tour section into its steps.
func MustReadTour(tb testing.TB) []tourStep {
	tb.Helper()
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	var steps []tourStep
	in, fence := false, false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			if in {
				return steps
			}
			in = strings.Contains(strings.ToLower(l), "tour")
			continue
		case !in:
			continue
		case strings.HasPrefix(l, "```"):
			fence = l == "```sh"
			continue
		}
		if m := tourHeading.FindStringSubmatch(l); m != nil && !fence {
			n, _ := strconv.Atoi(m[1])
			steps = append(steps, tourStep{n: n})
		}
		if len(steps) == 0 {
			continue
		}
		s := &steps[len(steps)-1]
		if !fence {
			s.prose += l + "\n"
			continue
		}
		// A block line: gather the logical command (\ continuations and open quotes).
		start, text := i, l
		code, comment, open := shellSplit(text)
		for (open || strings.HasSuffix(strings.TrimSpace(code), `\`)) && i+1 < len(lines) && lines[i+1] != "```" {
			i++
			text += "\n" + lines[i]
			code, comment, open = shellSplit(text)
		}
		if open {
			tb.Fatalf("README.md:%d: unclosed quote in the tour's sh block", start+1)
		}
		code = strings.TrimSpace(code)
		switch {
		case code == "" && comment != "":
			if n := len(s.commands); n > 0 {
				s.commands[n-1].comment += " " + comment
			}
		case code == "":
		case strings.HasPrefix(code, "export "):
			m := exportLine.FindStringSubmatch(code)
			if m == nil {
				tb.Fatalf("README.md:%d: cannot read export %q", start+1, code)
			}
			s.exports = append(s.exports, tourExport{line: start + 1, name: m[1], value: m[2], comment: comment})
		case strings.HasPrefix(code, "curl "):
			s.commands = append(s.commands, tourCommand{line: start + 1, code: code, comment: comment})
		default:
			s.preamble = append(s.preamble, code)
		}
	}
	if len(steps) == 0 {
		tb.Fatalf("%s has no tour section with numbered steps", readmePath)
	}
	return steps
}

// shellSplit splits shell text into its code and its comments, as bash reads them, and says
// whether a quote is still open at the end.
func shellSplit(text string) (code, comment string, open bool) {
	var c, cm strings.Builder
	var quote rune
	escaped := false
	prev := ' '
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case escaped:
			escaped = false
		case quote == 0 && r == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			j := i
			for j < len(rs) && rs[j] != '\n' {
				j++
			}
			cm.WriteString(strings.TrimSpace(strings.TrimPrefix(string(rs[i:j]), "#")) + " ")
			i = j - 1
			prev = '#'
			continue
		case r == '\\' && quote != '\'':
			escaped = true
		case quote == 0 && (r == '\'' || r == '"'):
			quote = r
		case quote != 0 && r == quote:
			quote = 0
		}
		c.WriteRune(r)
		prev = r
	}
	return c.String(), strings.TrimSpace(cm.String()), quote != 0
}

// tourServer is `payvault serve` started as the tour's first step says.
type tourServer struct {
	url    string
	dir    string
	binary string
	creds  map[string]any
	stdout *logtest.SyncBuffer
	stderr *logtest.SyncBuffer
}

// MustServeTour builds payvault and starts the tour's serve command in a fresh directory (so
// its default ./payvault-data is new) on a free port, and waits for /healthz.
func MustServeTour(tb testing.TB, steps []tourStep) *tourServer {
	tb.Helper()
	s := &tourServer{dir: tb.TempDir(), stdout: &logtest.SyncBuffer{}, stderr: &logtest.SyncBuffer{}}
	s.binary = filepath.Join(tb.TempDir(), "payvault")
	if out, err := exec.Command("go", "build", "-o", s.binary, "github.com/payvault/payvault/cmd/payvault").CombinedOutput(); err != nil {
		tb.Fatalf("build payvault: %v\n%s", err, out)
	}
	args := strings.Fields(mustProseCommand(tb, steps, "serve"))
	cmd := exec.Command(s.binary, append(args, "--listen", "127.0.0.1:0")...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = s.dir, s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("payvault serve exited with %v after SIGTERM\nstderr:\n%s", err, s.stderr)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			tb.Error("payvault serve did not stop after SIGTERM")
		}
		s.checkLogs(tb)
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			tb.Fatalf("payvault %s exited: %v\nstderr:\n%s", strings.Join(args, " "), err, s.stderr)
		default:
		}
		// The port the kernel chose, from the log's "serving" line.
		if m := tourServingRE.FindStringSubmatch(s.stderr.String()); m != nil && s.healthy(m[1]) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("GET /healthz never answered 200\nstderr:\n%s", s.stderr)
		}
	}
	out := s.stdout.String()
	i := strings.Index(out, "{")
	if i < 0 || json.NewDecoder(strings.NewReader(out[i:])).Decode(&s.creds) != nil {
		tb.Fatalf("the first start printed no credentials JSON:\n%s", out)
	}
	return s
}

// healthy sets s.url to url when GET /healthz there answers 200.
func (s *tourServer) healthy(url string) bool {
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	s.url = url
	return true
}

// tourServingRE finds the address in serve's "serving" log line.
var tourServingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// checkLogs fails tb if the server's log holds account data or a secret its first start printed.
func (s *tourServer) checkLogs(tb testing.TB) {
	tb.Helper()
	var secrets []string
	for _, path := range []string{"paysafe.api_key_secret", "paysafe.single_use_key_secret", "fortis.user_api_key", "fortis.ticket_hash_key"} {
		if v, ok := s.cred(path); ok {
			secrets = append(secrets, v)
		}
	}
	for _, leak := range logtest.Leaks(s.stderr.String(), secrets) {
		tb.Errorf("payvault serve's log leaks %s", leak)
	}
}

// cred is the first start's credential at a dotted path such as paysafe.api_key_id.
func (s *tourServer) cred(path string) (string, bool) {
	section, key, ok := strings.Cut(path, ".")
	obj, _ := s.creds[section].(map[string]any)
	v, _ := obj[key].(string)
	return v, ok && v != ""
}

// mustProseCommand is the arguments of the tour's `go run ./cmd/payvault VERB …` in its prose.
func mustProseCommand(tb testing.TB, steps []tourStep, verb string) string {
	tb.Helper()
	for _, s := range steps {
		for _, m := range proseCmd.FindAllStringSubmatch(s.prose, -1) {
			if strings.HasPrefix(m[1], verb+" ") || m[1] == verb {
				return m[1]
			}
		}
	}
	tb.Fatalf("the tour's prose has no `go run ./cmd/payvault %s …`", verb)
	return ""
}

// tourRun is the state of a tour run: its environment and the ids the answers gave.
type tourRun struct {
	srv      *tourServer
	env      []string
	preamble []string
	ids      map[string]string         // ids maps a placeholder (<profileId>, C…) to its value.
	answers  map[string]map[string]any // answers maps a GET path to its last answer.
}

// tourAnswer is one command's answer.
type tourAnswer struct {
	status int
	body   map[string]any
	raw    string
}

// export sets a tour variable: its comment names the credentials it takes, and a URL is the server's.
func (r *tourRun) export(tb testing.TB, e tourExport) {
	tb.Helper()
	var value string
	switch {
	case e.comment == "" && strings.HasPrefix(e.value, "http://"):
		// The tour's address is serve's default; the test serves on its own port.
		help, _ := exec.Command(r.srv.binary, "serve", "--help").CombinedOutput()
		if !strings.Contains(string(help), `--listen="`+strings.TrimPrefix(e.value, "http://")+`"`) {
			tb.Errorf("README.md:%d: export %s=%s is not the address serve listens on by default (serve --help)", e.line, e.name, e.value)
		}
		value = r.srv.url
	default:
		var parts []string
		for _, path := range strings.Split(e.comment, ":") {
			v, ok := r.srv.cred(strings.TrimSpace(path))
			if !ok {
				tb.Fatalf("README.md:%d: export %s: its comment %q names no credential of the first start", e.line, e.name, e.comment)
			}
			parts = append(parts, v)
		}
		value = strings.Join(parts, ":")
	}
	r.env = append(r.env, e.name+"="+value)
}

// do runs one command through bash and returns its answer.
func (r *tourRun) do(tb testing.TB, step int, c tourCommand) tourAnswer {
	tb.Helper()
	code := c.code
	for k, v := range r.ids {
		code = strings.ReplaceAll(code, k, v)
	}
	if m := placeholder.FindString(code); m != "" {
		tb.Fatalf("README.md:%d (step %d): placeholder %s: no earlier answer gave it", c.line, step, m)
	}
	script := strings.Join(append(append([]string(nil), r.preamble...), "curl -w '\\n%{http_code}' "+strings.TrimPrefix(code, "curl ")), "\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(append(os.Environ(), "no_proxy=127.0.0.1"), r.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("README.md:%d (step %d): %v\n%s\nstderr: %s", c.line, step, err, c.code, stderr.String())
	}
	// -w puts the status on the last line.
	i := strings.LastIndex(string(out), "\n")
	a := tourAnswer{raw: string(out[:max(i, 0)])}
	a.status, _ = strconv.Atoi(string(out[i+1:]))
	// "The number is never echoed": no answer holds a whole card number.
	for _, leak := range logtest.Leaks(a.raw, nil) {
		tb.Errorf("README.md:%d (step %d): the answer holds %s", c.line, step, leak)
	}
	if strings.TrimSpace(a.raw) != "" {
		if err := json.Unmarshal([]byte(a.raw), &a.body); err != nil {
			tb.Fatalf("README.md:%d (step %d): the answer is not a JSON object: %s\n%s", c.line, step, a.raw, c.code)
		}
	}
	return a
}

// check compares an answer with what the README's comment says of it, and learns the ids it gives.
func (r *tourRun) check(tb testing.TB, step int, c tourCommand, a tourAnswer) {
	tb.Helper()
	where := fmt.Sprintf("README.md:%d (step %d)", c.line, step)
	want := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c.comment), "→"))
	wantCode := ""
	if m := wantStatus.FindStringSubmatch(want); m != nil {
		if s, _ := strconv.Atoi(m[1]); a.status != s {
			tb.Fatalf("%s: answered %d, the README says %s\n%s\n%s", where, a.status, m[1], c.code, a.raw)
		}
		wantCode, want = m[2], want[len(m[0]):]
	} else if a.status < 200 || a.status > 299 {
		tb.Fatalf("%s: answered %d, want 2xx\n%s\n%s", where, a.status, c.code, a.raw)
	}
	if wantCode != "" {
		e, _ := a.body["error"].(map[string]any)
		if got, _ := e["code"].(string); got != wantCode {
			tb.Errorf("%s: error code %q, the README says %s\n%s", where, got, wantCode, a.raw)
		}
	}
	fields := wantJSON.FindAllStringSubmatch(want, -1)
	for _, part := range strings.Split(want, ",") {
		if m := wantWord.FindStringSubmatch(strings.TrimSpace(part)); m != nil {
			fields = append(fields, m)
		}
	}
	for _, f := range fields {
		name, lit := f[1], f[2]
		got, ok := a.body[name]
		if !ok {
			tb.Errorf("%s: the answer has no %q, the README shows it\n%s", where, name, a.raw)
			continue
		}
		if p := strings.Trim(lit, `"`); placeholder.MatchString(p) {
			if s, ok := got.(string); ok {
				r.learn(p, s)
			}
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(lit), &v); err != nil {
			tb.Fatalf("%s: cannot read the README's %s:%s", where, name, lit)
		}
		if fmt.Sprint(v) != fmt.Sprint(got) {
			tb.Errorf("%s: %s is %v, the README says %s\n%s", where, name, got, lit, a.raw)
		}
	}
	// A created record's id is the placeholder named for its collection: …/addresses → <addressId>.
	if m := pvPath.FindStringSubmatch(c.code); m != nil && isPost(c.code) && a.status/100 == 2 {
		coll := m[1][strings.LastIndex(m[1], "/")+1:]
		if strings.HasSuffix(coll, "sses") {
			coll = strings.TrimSuffix(coll, "es")
		} else {
			coll = strings.TrimSuffix(coll, "s")
		}
		if id, ok := a.body["id"].(string); ok {
			r.learn("<"+coll+"Id>", id)
		}
	}
}

// learn records a placeholder's value, the first answer that gives it.
func (r *tourRun) learn(p, v string) {
	if _, ok := r.ids[p]; !ok {
		r.ids[p] = v
	}
}

// isPost reports whether a curl command sends a body.
func isPost(code string) bool { return strings.Contains(code, " -d ") }

func TestReadmeTour(t *testing.T) {
	steps := MustReadTour(t)
	srv := MustServeTour(t, steps)
	for name, mode := range map[string]os.FileMode{"payvault-data": 0o700, "payvault-data/master.key": 0o600} {
		if fi, err := os.Stat(filepath.Join(srv.dir, name)); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("the tour's serve did not create ./%s with mode %o: %v", name, mode, err)
		}
	}
	r := &tourRun{srv: srv, ids: map[string]string{}, answers: map[string]map[string]any{}}
	ran, lastDigits := 0, ""
	for _, s := range steps {
		for _, e := range s.exports {
			r.export(t, e)
		}
		r.preamble = append(r.preamble, s.preamble...)
		var card tourCommand
		var cardAnswer tourAnswer
		for _, c := range s.commands {
			a := r.do(t, s.n, c)
			r.check(t, s.n, c, a)
			ran++
			if m := pvPath.FindStringSubmatch(c.code); m != nil && isPost(c.code) && strings.HasSuffix(m[1], "/cards") {
				card, cardAnswer = c, a
			}
			if m := pvPath.FindStringSubmatch(c.code); m != nil && !isPost(c.code) {
				r.answers[m[1]] = a.body
			}
		}
		// "the same number again on this profile answers 409/7503"
		if m := againClaim.FindStringSubmatch(s.prose); m != nil {
			if card.code == "" {
				t.Fatalf("step %d says a repeat answers %s/%s, but vaults no card", s.n, m[1], m[2])
			}
			r.check(t, s.n, tourCommand{line: card.line, code: card.code, comment: m[1] + "/" + m[2]}, r.do(t, s.n, card))
		}
		if cardAnswer.body != nil {
			lastDigits, _ = cardAnswer.body["lastDigits"].(string)
		}
	}
	if ran == 0 {
		t.Fatal("the tour ran no curl command")
	}
	t.Logf("ran %d tour commands", ran)

	// "Alice's Paysafe card from step 2 shows up in GET /v2/accountvaults too"
	for _, s := range steps {
		m := showsUpIn.FindStringSubmatch(s.prose)
		if m == nil {
			continue
		}
		list := r.answers[m[1]]
		if list == nil {
			t.Fatalf("step %d says the card shows up in GET %s, but the tour does not list it", s.n, m[1])
		}
		found, listed := false, 0
		for _, items := range list { // the list is the answer's one array (Fortis: "accountvaults")
			items, _ := items.([]any)
			for _, it := range items {
				v, _ := it.(map[string]any)
				found = found || (lastDigits != "" && v["last_four"] == lastDigits)
				listed++
			}
		}
		if !found {
			t.Errorf("step %d: GET %s lists %d records, none ending %q", s.n, m[1], listed, lastDigits)
		}
	}

	// Step 6: the backup, while it serves, with the built binary.
	args := strings.Fields(mustProseCommand(t, steps, "backup"))
	out := filepath.Join(t.TempDir(), "backup.db")
	for i := range args {
		switch {
		case args[i] == "--out" && i+1 < len(args):
			args[i+1] = out
		case strings.HasPrefix(args[i], "--out="):
			args[i] = "--out=" + out
		}
	}
	cmd := exec.Command(srv.binary, args...)
	cmd.Dir = srv.dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("payvault %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Errorf("payvault %s wrote no backup: %v", strings.Join(args, " "), err)
	}
}
