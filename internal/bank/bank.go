// Package bank validates bank account identifiers: US ABA routing numbers, UK sort codes,
// Canadian transit and institution numbers, account numbers, IBANs and BICs.
//
// Every function is pure: no I/O and no state. The functions report validity as a bool and
// never build an error, so no account data can leak into an error string or a log line.
package bank

// RoutingFormat reports whether s has the format of an ABA routing number: exactly nine ASCII
// digits. It does not check the checksum; see ABAChecksum.
func RoutingFormat(s string) bool {
	return len(s) == 9 && digits(s)
}

// ABAChecksum reports whether routing is nine ASCII digits d1…d9 whose weighted sum
// 3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) is a multiple of ten, the check that the American
// Bankers Association routing number scheme defines. For example 072000326 and 211589828
// pass, and 123456789 and 100020200 fail.
func ABAChecksum(routing string) bool {
	if !RoutingFormat(routing) {
		return false
	}
	weights := [3]int{3, 7, 1}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += weights[i%3] * int(routing[i]-'0')
	}
	return sum%10 == 0
}

// SortCode normalises a UK sort code. It removes every '-' and ' ' from s and returns the
// result if that is exactly six ASCII digits, so "20-74-05" and "20 74 05" both give "207405".
// It returns "" and false otherwise.
func SortCode(s string) (string, bool) {
	var b [6]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c < '0' || c > '9' || n == len(b):
			return "", false
		}
		b[n] = c
		n++
	}
	if n != len(b) {
		return "", false
	}
	return string(b[:]), true
}

// Transit reports whether s is a Canadian branch transit number: exactly five ASCII digits.
func Transit(s string) bool {
	return len(s) == 5 && digits(s)
}

// Institution reports whether s is a Canadian financial institution number: exactly three
// ASCII digits.
func Institution(s string) bool {
	return len(s) == 3 && digits(s)
}

// AccountNumber reports whether s is an account number of ASCII digits only, whose length is
// between minLen and maxLen inclusive.
func AccountNumber(s string, minLen, maxLen int) bool {
	return len(s) >= minLen && len(s) <= maxLen && digits(s)
}

// digits reports whether s is non-empty and made only of the ASCII digits 0-9.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
