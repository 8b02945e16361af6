// Package card validates and inspects payment card data: primary account numbers (PANs),
// the Luhn check digit, brand detection by IIN prefix tables, expiry dates, magnetic-stripe
// track data and issuer (BIN) information.
//
// Every function is pure and holds no state; the BIN range data is embedded and parsed once
// by LoadBINs into a value the caller keeps. Errors are constants of type Error, so their text
// can never contain a card number or any other part of the input.
package card

// Error is an error returned by this package. Its text is fixed and never contains any part
// of the input, which may be a card number.
type Error string

// Error returns the fixed text of e.
func (e Error) Error() string { return string(e) }

const (
	// ErrExpiry is returned by ParseMMYY for anything but four digits MMYY with a month from
	// 01 to 12.
	ErrExpiry Error = "card: expiry is not MMYY with a valid month"

	// ErrTrack is returned by ParseTrack for anything but a well-formed track 1 or track 2.
	ErrTrack Error = "card: track data is neither a valid track 1 nor a valid track 2"
)

// Digits reports whether s is non-empty and made only of the ASCII digits 0-9.
func Digits(s string) bool {
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

// Luhn reports whether digits is a non-empty string of ASCII digits that passes the Luhn
// (mod 10) check of ISO/IEC 7812-1: doubling every second digit from the right and
// subtracting 9 from any result over 9, the digits sum to a multiple of 10.
func Luhn(digits string) bool {
	sum, ok := luhnSum(digits, false)
	return ok && digits != "" && sum%10 == 0
}

// CheckDigit returns the Luhn check digit that, appended to payload, makes a number that passes
// Luhn; ok is false when payload is not a string of ASCII digits. Test-number generators use it.
func CheckDigit(payload string) (digit byte, ok bool) {
	sum, ok := luhnSum(payload, true)
	return byte('0' + (10-sum%10)%10), ok
}

// luhnSum sums digits from the right, doubling every second one (the rightmost too when
// double): the Luhn sum. ok is false when digits holds a non-digit.
func luhnSum(digits string, double bool) (sum int, ok bool) {
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += luhnDigit(c-'0', double)
		double = !double
	}
	return sum, true
}

// BIN returns the first six characters of pan, its bank identification number, or all of pan
// if it is shorter. PCI DSS allows the first six and last four digits to be shown.
func BIN(pan string) string {
	if len(pan) < 6 {
		return pan
	}
	return pan[:6]
}

// Last4 returns the last four characters of pan, or all of pan if it is shorter.
func Last4(pan string) string {
	if len(pan) < 4 {
		return pan
	}
	return pan[len(pan)-4:]
}
