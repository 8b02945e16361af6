package paysafe

import (
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/bank"
	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/country"
	"github.com/payvault/payvault/internal/vault"
)

// This file holds the vendor format rules of §2 and §3: lengths, enums and their messages.
// Business rules (tenancy, duplicates, tokens, the ABA rule by merchant mode) stay in the core.

// enum reads an optional enumerated string; a value outside values records msg.
func (o obj) enum(name, msg string, values ...string) string {
	s, st := o.str(name)
	if st != present || s == "" {
		return ""
	}
	for _, v := range values {
		if s == v {
			return s
		}
	}
	o.fail(name, msg)
	return ""
}

// reqEnum reads a required enumerated string.
func (o obj) reqEnum(name, msg string, values ...string) string {
	s, st := o.str(name)
	if st == bad {
		return ""
	}
	if st == absent || strings.TrimSpace(s) == "" {
		o.fail(name, msgEmpty)
		return ""
	}
	return o.enum(name, msg, values...)
}

// reqID reads a required reference to another record; an unknown one is the caller's to
// report (7511 for a billing address), so only presence is checked here.
func (o obj) reqID(name string) string {
	s, st := o.str(name)
	if st == absent || (st == present && strings.TrimSpace(s) == "") {
		o.fail(name, msgEmpty)
		return ""
	}
	return s
}

// readPAN reads a card number (§3): digits, 12–20 long, Luhn (reported alongside the length
// error). It returns the number and whether it passed; the brand is checked separately.
func (o obj) readPAN(name string) (string, bool) {
	s, st := o.str(name)
	switch {
	case st == bad:
		return "", false
	case st == absent || strings.TrimSpace(s) == "":
		o.fail(name, msgEmpty)
		return "", false
	case !card.Digits(s):
		o.fail(name, "must contain only digits")
		return "", false
	}
	ok := true
	if len(s) < 12 || len(s) > 20 {
		o.fail(name, "size must be between 12 and 20")
		ok = false
	}
	if !card.Luhn(s) {
		o.fail(name, "Luhn checksum failed")
		ok = false
	}
	return s, ok
}

// readExpiry reads a required cardExpiry {month, year}. A past date is accepted: stored cards
// may have expired, and payments refuse them later (§4.1).
func (o obj) readExpiry(name string) card.Expiry {
	e, st := o.object(name)
	if st == absent {
		o.fail(name, msgNull)
	}
	if st != present {
		return card.Expiry{}
	}
	var out card.Expiry
	m, mst := e.integer("month")
	switch {
	case mst == absent:
		e.fail("month", msgNull)
	case mst == present && (m < 1 || m > 12):
		e.fail("month", "must be between 1 and 12")
	default:
		out.Month = m
	}
	y, yst := e.integer("year")
	switch {
	case yst == absent:
		e.fail("year", msgNull)
	case yst == present && (y < 2000 || y > 2099):
		e.fail("year", "must be a four-digit year")
	default:
		out.Year = y
	}
	return out
}

// readCVV reads an optional CVV of 3 or 4 digits; a JSON number is accepted.
func (o obj) readCVV(name string) string {
	s, st := o.str(name)
	if st != present || s == "" {
		return ""
	}
	if !card.Digits(s) || len(s) < 3 || len(s) > 4 {
		o.fail(name, "size must be between 3 and 4")
		return ""
	}
	return s
}

// readAddress reads the §2.3 address fields into a (replacing them: absent clears).
func (o obj) readAddress(a *vault.Address) {
	a.NickName = o.optString("nickName", 50)
	a.Street = o.optString("street", 50)
	a.Street2 = o.optString("street2", 50)
	a.City = o.optString("city", 40)
	a.State = o.optString("state", 40)
	a.Zip = o.optString("zip", 10)
	a.RecipientName = o.optString("recipientName", 255)
	a.Phone = o.optString("phone", 40)
	a.Country = o.readCountry("country")
}

// readCountry reads a required ISO 3166-1 alpha-2 code in any case, returned upper-case.
func (o obj) readCountry(name string) string {
	s, st := o.str(name)
	switch {
	case st == bad:
		return ""
	case st == absent || strings.TrimSpace(s) == "":
		o.fail(name, msgEmpty)
		return ""
	case !country.Valid(strings.ToUpper(s)):
		o.fail(name, "Invalid Country")
		return ""
	}
	return strings.ToUpper(s)
}

// readEmail reads an optional email address (§3): the 255-character limit is part of the
// email rule, so an over-long address is "not a well-formed email address" too.
func (o obj) readEmail(name string) string {
	s, st := o.str(name)
	if st != present || strings.TrimSpace(s) == "" {
		return ""
	}
	if utf8.RuneCountInString(s) > 255 || !validEmail(s) {
		o.fail(name, "not a well-formed email address")
	}
	return s
}

// readIP reads an optional IPv4 or IPv6 literal. The rule has no length of its own (§2.2): a
// value too long to be an address is just "Invalid IP Address".
func (o obj) readIP(name string) string {
	s, st := o.str(name)
	if st != present || strings.TrimSpace(s) == "" {
		return ""
	}
	if net.ParseIP(s) == nil {
		o.fail(name, "Invalid IP Address")
	}
	return s
}

// readDOB reads an optional dateOfBirth {year, month, day}: all three parts, a real date
// from 1900 on and not in the future.
func (o obj) readDOB(name string, now time.Time) vault.Date {
	d, st := o.object(name)
	if st != present {
		return vault.Date{}
	}
	y, yst := d.integer("year")
	m, mst := d.integer("month")
	day, dst := d.integer("day")
	if yst == bad || mst == bad || dst == bad {
		return vault.Date{}
	}
	ok := true
	if dst == present && (day < 1 || day > 31) {
		d.fail("day", "must be between 1 and 31")
		ok = false
	}
	if mst == present && (m < 1 || m > 12) {
		d.fail("month", "must be between 1 and 12")
		ok = false
	}
	if !ok {
		return vault.Date{}
	}
	t := time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC)
	if yst != present || mst != present || dst != present || y < 1900 || t.Day() != day || t.After(now) {
		o.fail(name, "Invalid Date of Birth")
		return vault.Date{}
	}
	return vault.Date{Year: y, Month: m, Day: day}
}

// readDigits reads a required bank identifier that must satisfy ok, recording msg otherwise.
func (o obj) readDigits(name, msg string, ok func(string) bool) string {
	s, st := o.str(name)
	switch {
	case st == bad:
		return ""
	case st == absent || strings.TrimSpace(s) == "":
		o.fail(name, msgEmpty)
		return ""
	case !ok(s):
		o.fail(name, msg)
		return ""
	}
	return s
}

// accountNumberRule checks a bank account number of minLen to maxLen digits.
func accountNumberRule(minLen, maxLen int) func(string) bool {
	return func(s string) bool { return bank.AccountNumber(s, minLen, maxLen) }
}

// sortCodeRule accepts six digits after removing '-' and spaces.
func sortCodeRule(s string) bool { _, ok := bank.SortCode(s); return ok }

// ibanRule checks an IBAN after removing spaces and upper-casing.
func ibanRule(s string) bool { return bank.ValidIBAN(bank.NormalizeIBAN(s)) }

// bicRule checks a BIC in any case.
func bicRule(s string) bool { return bank.ValidBIC(strings.ToUpper(s)) }

// validEmail applies the §3 email rule: one @; a local part of 1–64 allowed characters with
// no leading, trailing or double dot; a domain of two or more labels of letters, digits and
// hyphens, none starting or ending with a hyphen.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") || len(local) < 1 || len(local) > 64 {
		return false
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !(alnum(c) || strings.IndexByte("!#$%&'*+/=?^_`{}~-|.", c) >= 0) {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !(alnum(l[i]) || l[i] == '-') {
				return false
			}
		}
	}
	return true
}

func alnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
