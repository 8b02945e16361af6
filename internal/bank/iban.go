package bank

import (
	"strings"
	"unicode/utf8"
)

// NormalizeIBAN returns s without its spaces and in upper case, the form that ValidIBAN checks
// and that should be stored. "de89 3704 0044 0532 0130 00" becomes "DE89370400440532013000".
func NormalizeIBAN(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, " ", ""))
}

// ValidIBAN reports whether s is a valid IBAN in normalised form (see NormalizeIBAN): two
// upper-case letters naming a country of the SWIFT IBAN registry, two check digits from 02 to
// 98, then upper-case letters and digits, with the length the registry gives for that
// country, and the ISO 7064 MOD 97-10 check: with the first four characters moved to the end
// and each letter replaced by two digits (A=10 … Z=35), the number is 1 modulo 97.
//
// ISO 13616-1 computes check digits as 98 minus a remainder, so 00, 01 and 99 never occur
// although 01 and 99 can satisfy the modulo check; they are rejected.
func ValidIBAN(s string) bool {
	if len(s) < 5 {
		return false
	}
	if !upperAlpha(s[0]) || !upperAlpha(s[1]) || !digit(s[2]) || !digit(s[3]) {
		return false
	}
	if n := ibanLength(s[:2]); n == 0 || len(s) != n {
		return false
	}
	if check := int(s[2]-'0')*10 + int(s[3]-'0'); check < 2 || check > 98 {
		return false
	}
	r := 0
	for i := 4; i < len(s); i++ {
		c := s[i]
		switch {
		case digit(c):
			r = (r*10 + int(c-'0')) % 97
		case upperAlpha(c):
			r = (r*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	r = (r*100 + int(s[0]-'A') + 10) % 97
	r = (r*100 + int(s[1]-'A') + 10) % 97
	r = (r*100 + int(s[2]-'0')*10 + int(s[3]-'0')) % 97
	return r == 1
}

// MaskIBAN returns s with every character but the first four and the last four replaced by
// '*', keeping its length in characters: "DE89370400440532013000" becomes
// "DE89**************3000". A string of eight characters or fewer has nothing that could be
// safely shown and is masked whole. MaskIBAN is meant for a normalised IBAN; it counts runes,
// so any string keeps its rune count.
func MaskIBAN(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= 8 {
		return strings.Repeat("*", n)
	}
	// Find the byte offsets where the fifth and the last four runes start, so the kept parts
	// are copied byte for byte.
	head, tail := 0, 0
	i := 0
	for off := range s {
		if i == 4 {
			head = off
		}
		if i == n-4 {
			tail = off
			break
		}
		i++
	}
	return s[:head] + strings.Repeat("*", n-8) + s[tail:]
}

// digit reports whether c is an ASCII digit.
func digit(c byte) bool { return '0' <= c && c <= '9' }

// upperAlpha reports whether c is an ASCII upper-case letter.
func upperAlpha(c byte) bool { return 'A' <= c && c <= 'Z' }
