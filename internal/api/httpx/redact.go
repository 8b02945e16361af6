package httpx

import (
	"net/url"
	"regexp"
	"strings"
)

// minRedactDigits is the shortest digit run RedactDigits masks: the shortest card number.
const minRedactDigits = 12

// uuidText matches a dashed UUID, whose digit groups are never account data.
var uuidText = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// RedactDigits masks every run of 12 or more digits in s, such as a card number a client put
// into a URL, keeping the last four digits: "4111111111111111" becomes "************1111".
// Digits joined by single spaces, dashes or plus signs count as one run (a formatted number);
// UUIDs are left alone. It is applied to whatever a request sends that the server writes to
// a log or echoes in an error.
func RedactDigits(s string) string {
	if !hasLongDigitRun(s) {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range uuidText.FindAllStringIndex(s, -1) {
		b.WriteString(redactRuns(s[last:m[0]]))
		b.WriteString(s[m[0]:m[1]])
		last = m[1]
	}
	b.WriteString(redactRuns(s[last:]))
	return b.String()
}

// hasLongDigitRun is a quick test: does s hold minRedactDigits digits in a row at all, with
// separators allowed?
func hasLongDigitRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n++; n >= minRedactDigits {
				return true
			}
		case isJoiner(c) && n > 0 && i+1 < len(s) && isDigit(s[i+1]):
		default:
			n = 0
		}
	}
	return false
}

// redactRuns masks the long runs of s, which holds no UUID.
func redactRuns(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		// A run: digits, possibly joined by single separators.
		j, digits := i, 0
		for j < len(b) {
			if isDigit(b[j]) {
				digits++
				j++
			} else if isJoiner(b[j]) && j+1 < len(b) && isDigit(b[j+1]) {
				j++
			} else {
				break
			}
		}
		if digits >= minRedactDigits {
			keep := 4
			for k := j - 1; k >= i; k-- {
				if !isDigit(b[k]) {
					continue
				}
				if keep > 0 {
					keep--
					continue
				}
				b[k] = '*'
			}
		}
		i = j
	}
	return string(b)
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isJoiner(c byte) bool { return c == ' ' || c == '-' || c == '+' }

// redactQuerySegment returns a raw name=value query segment with any long digit run in its
// value masked. The value is read unescaped, so that %20-separated digits count as one run.
func redactQuerySegment(seg string) string {
	name, val, found := strings.Cut(seg, "=")
	if !found {
		return RedactDigits(seg)
	}
	v, err := url.QueryUnescape(val)
	if err != nil {
		v = val
	}
	if r := RedactDigits(v); r != v {
		return name + "=" + url.QueryEscape(r)
	}
	return seg
}
