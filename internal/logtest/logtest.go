// Package logtest captures a test server's logs and fails the test when account data or a
// secret shows up in them.
package logtest

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/bank"
)

// Capture is a concurrency-safe log sink that is checked when the test ends.
type Capture struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	forbid  []string
	checked bool
}

// New returns a logger writing into a Capture. When the test ends the capture is checked:
// any Luhn-valid 13–19 digit run (a PAN), IBAN-shaped text or forbidden string fails it.
func New(tb testing.TB) (*slog.Logger, *Capture) {
	tb.Helper()
	c := &Capture{}
	tb.Cleanup(func() { c.Check(tb) })
	return slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug})), c
}

// Write implements io.Writer.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// Forbid adds secrets (API secrets, account numbers, CVVs…) that must never be logged. Values
// shorter than 6 characters are checked only as whole JSON string values.
func (c *Capture) Forbid(secrets ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			c.forbid = append(c.forbid, s)
		}
	}
}

// String returns everything logged so far.
func (c *Capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Check fails tb if the logs hold a PAN, an IBAN or a forbidden value.
func (c *Capture) Check(tb testing.TB) {
	tb.Helper()
	logs := c.String()
	c.mu.Lock()
	forbid := append([]string(nil), c.forbid...)
	c.mu.Unlock()
	for _, p := range Leaks(logs, forbid) {
		tb.Errorf("logs leak %s", p)
	}
}

// Leaks lists what in text looks like account data or is one of the forbidden values. It is
// used by log checks and by tests of error strings and metrics.
func Leaks(text string, forbid []string) []string {
	var out []string
	// Record ids are UUIDs; their digit groups, joined across dashes, can look like a PAN.
	for _, run := range digitRuns(foldDigits(uuidPattern.ReplaceAllString(text, "uuid"))) {
		if len(run) >= 13 && len(run) <= 19 && luhn(run) {
			out = append(out, "a Luhn-valid number ending "+run[len(run)-4:])
		}
	}
	for _, m := range ibanShape.FindAllString(text, -1) {
		if iban := strings.ReplaceAll(m, " ", ""); looksLikeIBAN(iban) {
			out = append(out, "an IBAN ending "+iban[len(iban)-4:])
		}
	}
	for _, s := range forbid {
		if len(s) >= 6 && strings.Contains(text, s) {
			out = append(out, "a forbidden value ending "+tail(s))
		} else if len(s) < 6 && strings.Contains(text, `"`+s+`"`) {
			out = append(out, "a forbidden short value")
		}
	}
	return out
}

// invisibleEscapes are how a text or JSON log handler may escape a space or an invisible
// character a client sent inside a number: no-break, figure, thin and narrow no-break spaces
// read as a space, and zero-width spaces and joiners, soft hyphens and byte order marks as
// nothing.
var invisibleEscapes = strings.NewReplacer(
	`\u00a0`, " ", `\u2007`, " ", `\u2009`, " ", `\u202f`, " ",
	`\u200b`, "", `\u200c`, "", `\u200d`, "", `\u2060`, "", `\u00ad`, "", `\ufeff`, "",
)

// foldDigits returns s with its escaped invisible characters undone (invisibleEscapes), the
// same characters as runes likewise, and every decimal digit of another script (full-width,
// Arabic-Indic, …) as its ASCII digit, so that a card number sent in any of them is seen.
func foldDigits(s string) string {
	s = invisibleEscapes.Replace(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case '\u00a0', '\u2007', '\u2009', '\u202f':
			return ' '
		case '\u200b', '\u200c', '\u200d', '\u2060', '\u00ad', '\ufeff':
			return -1
		}
		if r < utf8.RuneSelf || !unicode.IsDigit(r) {
			return r
		}
		// Unicode's decimal digits come in runs that start at a zero (Nd, 0 to 9, some
		// runs several sets long): the digit's value is its distance from the run's start.
		zero := r
		for unicode.IsDigit(zero - 1) {
			zero--
		}
		return '0' + (r-zero)%10
	}, s)
}

// ibanShape matches text shaped like an IBAN, compact or printed in groups of four.
var ibanShape = regexp.MustCompile(`[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}`)

// looksLikeIBAN reports whether s, or a prefix of it (the match may run on into the next
// word), is a valid IBAN: registry length and MOD 97 check.
func looksLikeIBAN(s string) bool {
	for n := 15; n <= len(s) && n <= 34; n++ {
		if bank.ValidIBAN(s[:n]) {
			return true
		}
	}
	return false
}

// uuidPattern matches a dashed UUID, which is never account data.
var uuidPattern = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)

func tail(s string) string {
	if len(s) <= 4 {
		return "…"
	}
	return s[len(s)-4:]
}

// digitRuns returns the maximal runs of ASCII digits in s, also joining runs separated by
// single spaces or dashes (a formatted PAN). A run glued to a letter on either side is part of
// an identifier or a file name (such as a test's temp dir, "TestSeed000123…"), not a number
// on its own, and is left out.
func digitRuns(s string) []string {
	var out []string
	var cur strings.Builder
	glued := false
	flush := func(next int) {
		if cur.Len() > 0 {
			if !glued && !(next < len(s) && isLetter(s[next])) {
				out = append(out, cur.String())
			}
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if cur.Len() == 0 {
				glued = i > 0 && isLetter(s[i-1])
			}
			cur.WriteByte(c)
		case (c == ' ' || c == '-') && cur.Len() > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			// keep joining
		default:
			flush(i)
		}
	}
	flush(len(s))
	return out
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func luhn(d string) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}
