package card

import (
	"unicode"
	"unicode/utf8"
)

// ContainsPAN reports whether s holds a probable card number: 13 to 19 consecutive digits
// that pass Luhn. Digits stay consecutive across a single space or dash between two of them
// ("4111 1111 1111 1111", "4111-1111-1111-1111"), and any stretch of a longer run counts,
// so a number with other digits before or after it ("4111111111111111 12 30") is found too.
// A digit is any Unicode decimal digit, so full-width and other scripts' digits count.
//
// It is meant for text no legitimate value of which holds a card number (a person's name,
// a label), where the vault refuses such a value rather than keep it in the clear. It runs in
// time linear in len(s), allocates nothing, and never panics, whatever s holds.
func ContainsPAN(s string) bool {
	var last [19]byte // last holds the run's latest digits, the newest at last[n%19]
	n := 0            // n is the length of the current run
	sep := false      // sep says a separator followed the run's last digit
	for _, r := range s {
		d, ok := digitValue(r)
		switch {
		case ok:
			last[n%len(last)] = d
			n++
			sep = false
			if n >= 13 && luhnTail(&last, n) {
				return true
			}
		case (r == ' ' || r == '-') && n > 0 && !sep:
			sep = true
		default:
			n, sep = 0, false
		}
	}
	return false
}

// luhnTail reports whether the run's last 13 to 19 digits, for any of those lengths, pass
// Luhn. last holds the run's latest digits as ContainsPAN keeps them; n is the run's length.
func luhnTail(last *[19]byte, n int) bool {
	sum := 0
	for k := 0; k < len(last) && k < n; k++ {
		sum += luhnDigit(last[(n-1-k)%len(last)], k%2 == 1)
		if k >= 12 && sum%10 == 0 {
			return true
		}
	}
	return false
}

// luhnDigit is d's share of a Luhn sum: d itself, or, when doubled, twice d less 9 if over 9.
func luhnDigit(d byte, double bool) int {
	v := int(d)
	if double {
		v *= 2
		if v > 9 {
			v -= 9
		}
	}
	return v
}

// digitValue returns the value of r when it is a decimal digit of any script.
func digitValue(r rune) (byte, bool) {
	if r >= '0' && r <= '9' {
		return byte(r - '0'), true
	}
	if r < utf8.RuneSelf || !unicode.IsDigit(r) {
		return 0, false
	}
	// Unicode's decimal digits come in runs that start at a zero, the longest 50 long: the
	// digit's value is its distance from the run's start.
	zero := r
	for unicode.IsDigit(zero - 1) {
		zero--
	}
	return byte((r - zero) % 10), true
}
