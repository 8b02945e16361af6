package card

import "time"

// Expiry is a card's expiry month. A card is valid through the end of that month in UTC.
type Expiry struct {
	Month int // 1 to 12
	Year  int // four digits, 2000 to 2099
}

// Valid reports whether e has a month from 1 to 12 and a year from 2000 to 2099. It does not
// compare e with the current date; see Expired.
func (e Expiry) Valid() bool {
	return e.Month >= 1 && e.Month <= 12 && e.Year >= 2000 && e.Year <= 2099
}

// Expired reports whether the card has expired at now: whether the whole of its expiry month,
// in UTC, lies before now. A card that expires in November 2026 is still valid on 30 November
// 2026 at 23:59:59 UTC and expired from 1 December 2026.
func (e Expiry) Expired(now time.Time) bool {
	return e.MonthsUntil(now) < 0
}

// MonthsUntil returns the number of months from now's month, in UTC, to the expiry month:
// (Year*12 + Month) - (now's year*12 + now's month). It is 0 during the expiry month and
// negative once the card has expired. In November 2026 an expiry of 0919 gives -86 and 1228
// gives 25.
func (e Expiry) MonthsUntil(now time.Time) int {
	now = now.UTC()
	return (e.Year*12 + e.Month) - (now.Year()*12 + int(now.Month()))
}

// MMYY returns e as four digits, the month then the last two digits of the year, as Fortis
// writes exp_date: September 2019 is "0919". The result is meaningful only for a Valid e.
func (e Expiry) MMYY() string {
	m, y := mod100(e.Month), mod100(e.Year)
	b := [4]byte{byte('0' + m/10), byte('0' + m%10), byte('0' + y/10), byte('0' + y%10)}
	return string(b[:])
}

// ParseMMYY parses a Fortis exp_date: exactly four ASCII digits, a month from 01 to 12 and a
// two-digit year of the 2000s. "0919" is September 2019. Past dates are accepted. Any other
// input returns ErrExpiry, whose text does not contain the input.
func ParseMMYY(s string) (Expiry, error) {
	if len(s) != 4 || !Digits(s) {
		return Expiry{}, ErrExpiry
	}
	e := Expiry{Month: twoDigits(s[0:2]), Year: 2000 + twoDigits(s[2:4])}
	if !e.Valid() {
		return Expiry{}, ErrExpiry
	}
	return e, nil
}

// parseYYMM parses the expiry of track data: four ASCII digits, the year of the 2000s then
// the month from 01 to 12.
func parseYYMM(s string) (Expiry, bool) {
	if len(s) != 4 || !Digits(s) {
		return Expiry{}, false
	}
	e := Expiry{Month: twoDigits(s[2:4]), Year: 2000 + twoDigits(s[0:2])}
	return e, e.Valid()
}

// twoDigits returns the value of two ASCII digits.
func twoDigits(s string) int {
	return int(s[0]-'0')*10 + int(s[1]-'0')
}

// mod100 returns n modulo 100 in the range 0 to 99, for negative n too.
func mod100(n int) int {
	n %= 100
	if n < 0 {
		n += 100
	}
	return n
}
