package bank

import "github.com/payvault/payvault/internal/country"

// ValidBIC reports whether s, with its ASCII letters upper-cased, is a business identifier
// code (ISO 9362): a four-letter party prefix, a two-letter country code, a two-character
// party suffix of letters or digits, and an optional three-character branch code of letters
// or digits, as in "ABNANL2A" or "DEUTDEFF500". The country code must be an ISO 3166-1
// alpha-2 code, or XK, which SWIFT assigns to Kosovo. Other characters, spaces included, are
// never accepted.
func ValidBIC(s string) bool {
	if len(s) != 8 && len(s) != 11 {
		return false
	}
	var b [11]byte
	for i := 0; i < len(s); i++ {
		b[i] = upperASCII(s[i])
	}
	for i := 0; i < 6; i++ {
		if !upperAlpha(b[i]) {
			return false
		}
	}
	for i := 6; i < len(s); i++ {
		if !upperAlpha(b[i]) && !digit(b[i]) {
			return false
		}
	}
	cc := string(b[4:6])
	return cc == "XK" || country.Valid(cc)
}

// upperASCII maps an ASCII lower-case letter to upper case and leaves every other byte alone.
func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
