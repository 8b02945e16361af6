package httpx

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/bank"
)

// minRedactDigits is the shortest digit run RedactDigits masks: the shortest card number.
const minRedactDigits = 12

// uuidText matches a whole dashed UUID, whose digit groups are never account data. It must
// stand alone (\b: no letter, digit or underscore either side), or else a card number glued to
// UUID-shaped text ("4111111111111111-1111-1111-1111-111111111111") would pass as one.
var uuidText = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)

// maxJoiners is the most separator characters in a row that still join two digit groups
// into one run: "4111 - 1111" is one run, as are "4111.1111", "4111--1111", "4111/1111" and
// "4111\u00a01111" (a no-break space).
const maxJoiners = 3

// maxBlankJoiners is the most spaces and tabs in a row that still join two digit groups, for
// numbers laid out in columns.
const maxBlankJoiners = 8

// RedactDigits masks every run of 12 or more digits in s, such as a card number a client put
// into a URL, keeping the last four digits: "4111111111111111" becomes "************1111".
// A digit is any decimal digit, ASCII or not (a full-width "４" is masked as one "*"). Digit
// groups joined by up to three characters that are neither letters nor digits (spaces, dashes,
// dots, slashes, commas, line breaks, and beyond ASCII no-break, thin and zero-width spaces,
// soft hyphens and dashes), or by up to eight spaces and tabs, count as one run, so a
// formatted number is masked whatever separates its groups; UUIDs are left alone. It
// is applied to whatever a request sends that the server writes to a log, echoes in an error or
// repeats in a link.
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

// minBankDigits is the shortest all-digit id RedactID masks: a bank account number of five
// digits or more keeps only its last four.
const minBankDigits = 5

// RedactID returns an id a client put into a URL path as an error message or a log line may
// repeat it: with RedactDigits applied, and masked but for its last four characters when the
// whole id is a bank account number (all digits, five or more) or a valid IBAN (in any case,
// spaces aside), which no payvault id is. An IBAN also keeps its country and check digits, as
// the APIs show it. (A mistyped IBAN is left to RedactDigits: the checksum is what tells an
// IBAN from a Fortis id such as "ad12…", which has an Andorran IBAN's shape.)
func RedactID(id string) string {
	if m, ok := maskBankID(id); ok {
		return m
	}
	return RedactDigits(id)
}

// maskBankID masks s when it is wholly a bank account number or a valid IBAN (spaces aside, in
// any case), and reports whether it did.
func maskBankID(s string) (string, bool) {
	if len(s) < minBankDigits {
		return s, false
	}
	digits := true
	for i := 0; i < len(s); i++ {
		digits = digits && isDigit(s[i])
	}
	if digits {
		return strings.Repeat("*", len(s)-4) + s[len(s)-4:], true
	}
	return maskIBAN(s)
}

// RedactValue returns a value a client sent in a query string (a filter, a reference) as a
// log line, an error message or a link may repeat it: with RedactDigits applied, and then
// every valid IBAN left in it (in any case, compact or in groups of four) masked as the APIs
// show one, for an IBAN's digit runs may all be short ("NL91ABNA0417164300"). Unlike RedactID
// it keeps a number of fewer than 12 digits: in a query that is an order number or an id as
// often as not.
func RedactValue(v string) string {
	r := RedactDigits(v)
	if m, ok := maskIBANs(r); ok {
		return m
	}
	return r
}

// maskIBANs masks each valid IBAN in s, and reports whether there was one.
func maskIBANs(s string) (string, bool) {
	var b strings.Builder
	last := 0
	for i := 0; i+4 <= len(s); i++ {
		if !isLetter(s[i]) || !isLetter(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
			continue
		}
		end, ok := ibanEnd(s, i)
		if !ok {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(bank.MaskIBAN(bank.NormalizeIBAN(s[i:end])))
		last, i = end, end-1
	}
	if last == 0 {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// ibanEnd returns the end of the shortest valid IBAN that starts at s[i], if one does: letters
// and digits, possibly grouped by single spaces.
func ibanEnd(s string, i int) (int, bool) {
	var buf [34]byte
	n := 0
	for j := i; j < len(s) && n < len(buf); j++ {
		c := s[j]
		if c == ' ' && s[j-1] != ' ' {
			continue
		}
		if !isLetter(c) && !isDigit(c) {
			break
		}
		if isLetter(c) {
			c &^= 0x20
		}
		buf[n] = c
		n++
		if n >= 15 && bank.ValidIBAN(string(buf[:n])) {
			return j + 1, true
		}
	}
	return 0, false
}

// maskIBAN masks s when it is wholly a valid IBAN (spaces aside, in any case), and reports
// whether it did.
func maskIBAN(s string) (string, bool) {
	// An IBAN starts with its country and two check digits and is at most 34 characters
	// (42 printed in groups of four): a cheap test before the normalised copy.
	if len(s) < minBankDigits || len(s) > 42 || !isLetter(s[0]) || !isLetter(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return s, false
	}
	if n := bank.NormalizeIBAN(s); bank.ValidIBAN(n) {
		return bank.MaskIBAN(n), true
	}
	return s, false
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// redactPath is RedactDigits for a URL path, with RedactID's masking of each segment that is
// wholly a bank account number or an IBAN. A number after "accounts" is left to RedactDigits:
// it is a Paysafe merchant account number (/cardpayments/v1/accounts/{n}), which is no
// account data; an IBAN there is masked all the same.
func redactPath(p string) string {
	var b strings.Builder
	last, prev := 0, ""
	for start := 0; start <= len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		seg := p[start:end]
		var m string
		var ok bool
		if prev == "accounts" {
			m, ok = maskIBAN(seg)
		} else {
			m, ok = maskBankID(seg)
		}
		if ok {
			b.WriteString(p[last:start])
			b.WriteString(m)
			last = end
		}
		prev, start = seg, end+1
	}
	if last == 0 {
		return RedactDigits(p)
	}
	b.WriteString(p[last:])
	return RedactDigits(b.String())
}

// hasLongDigitRun is a quick test: does s hold a run of minRedactDigits digits at all?
func hasLongDigitRun(s string) bool {
	found := false
	longRuns(s, func(int, int) bool { found = true; return false })
	return found
}

// longRuns calls fn with the bounds of each run of s that holds minRedactDigits digits or
// more, in order, until fn returns false.
func longRuns(s string, fn func(start, end int) bool) {
	for i := 0; i < len(s); {
		if c := s[i]; c < '0' || c > '9' && c < utf8.RuneSelf {
			i++ // most bytes of a path: no digit, ASCII
			continue
		}
		// runeDigitAt, spelt out here and in digitRun so that ASCII costs no call.
		n, ok := 1, isDigit(s[i])
		if s[i] >= utf8.RuneSelf {
			n, ok = wideDigitAt(s, i)
		}
		if !ok {
			i += n
			continue
		}
		end, digits := digitRun(s, i)
		if digits >= minRedactDigits && !fn(i, end) {
			return
		}
		i = end
	}
}

// digitRun returns the end of the run that starts with the digit at s[i], and how many digits
// it holds: digit groups joined by up to maxJoiners separator characters are one run.
func digitRun(s string, i int) (end, digits int) {
	for j := i; j < len(s); {
		n, ok := 1, isDigit(s[j])
		if s[j] >= utf8.RuneSelf {
			n, ok = wideDigitAt(s, j)
		}
		if ok {
			digits++
			j += n
			end = j
			continue
		}
		k, joiners := j, 0
		for k < len(s) && joiners < maxJoiners {
			n, ok := 1, false
			if c := s[k]; c < utf8.RuneSelf {
				ok = isJoiner(c) // the common case, spelt out: wideJoinerAt does not inline
			} else {
				n, ok = wideJoinerAt(s, k)
			}
			if !ok {
				break
			}
			k += n
			joiners++
		}
		if joiners == maxJoiners && isSpace(s[j:k]) {
			// Groups aligned with spaces or tabs ("4111    1111    1111    1111") may sit
			// further apart: a blank gap of up to maxBlankJoiners bytes joins them.
			for k < len(s) && joiners < maxBlankJoiners && (s[k] == ' ' || s[k] == '\t') {
				k++
				joiners++
			}
		}
		if k == j || k == len(s) {
			break
		}
		if _, ok := runeDigitAt(s, k); !ok {
			break
		}
		j = k
	}
	return end, digits
}

// redactRuns masks the long runs of s, which holds no UUID, but for their last four digits:
// each masked digit, ASCII or not, becomes one "*".
func redactRuns(s string) string {
	var b strings.Builder
	last := 0
	longRuns(s, func(start, end int) bool {
		b.WriteString(s[last:start])
		total := 0
		for i := start; i < end; {
			n, ok := runeDigitAt(s, i)
			if ok {
				total++
			}
			i += n
		}
		masked := 0
		for i := start; i < end; {
			n, ok := runeDigitAt(s, i)
			if ok && masked < total-4 {
				b.WriteByte('*')
				masked++
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
		}
		last = end
		return true
	})
	b.WriteString(s[last:])
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// runeDigitAt reports whether s holds a decimal digit at byte i, ASCII or not (a full-width
// or an Arabic-Indic digit), and the length of the character there.
func runeDigitAt(s string, i int) (int, bool) {
	if c := s[i]; c >= utf8.RuneSelf {
		return wideDigitAt(s, i)
	}
	return 1, '0' <= s[i] && s[i] <= '9'
}

// wideDigitAt is runeDigitAt for a character beyond ASCII.
func wideDigitAt(s string, i int) (int, bool) {
	r, n := utf8.DecodeRuneInString(s[i:])
	return n, unicode.IsDigit(r)
}

// wideJoinerAt reports whether the character beyond ASCII at byte i of s may stand between
// two digit groups of one number, as an ASCII separator may (isJoiner): any character but a
// letter or a digit, such as a no-break, thin or zero-width space, a soft hyphen or a dash. It
// also returns the character's length.
func wideJoinerAt(s string, i int) (int, bool) {
	r, n := utf8.DecodeRuneInString(s[i:])
	return n, !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// isSpace reports whether s holds only spaces and tabs.
func isSpace(s string) bool { return strings.Trim(s, " \t") == "" }

// isJoiner reports whether c may stand between two digit groups of one number: any ASCII
// byte but a letter or a digit.
func isJoiner(c byte) bool {
	return c < utf8.RuneSelf && !isDigit(c) && !isLetter(c)
}

// RedactQuerySegment returns a raw name=value query segment with its name and its value
// masked as RedactValue masks them (a valid IBAN, a long digit run). Each is read unescaped,
// so that %20-separated digits count as one run; a segment with nothing to mask is returned
// as it came.
func RedactQuerySegment(seg string) string {
	name, val, found := strings.Cut(seg, "=")
	rn, nameChanged := redactEscaped(name)
	if !found {
		return rn
	}
	rv, valChanged := redactEscaped(val)
	if !nameChanged && !valChanged {
		return seg
	}
	return rn + "=" + rv
}

// redactEscaped masks the long digit runs of a query-escaped string, returning it as it came
// when there are none.
func redactEscaped(raw string) (string, bool) {
	v, err := url.QueryUnescape(raw)
	if err != nil {
		v = raw
	}
	if r := RedactValue(v); r != v {
		return url.QueryEscape(r), true
	}
	return raw, false
}
