package card

import (
	"errors"
	"fmt"
)

// Brand is a card network. Its value is the lower-case name used in storage and in the
// native API.
type Brand string

// The brands of DefaultTable.
const (
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Amex       Brand = "amex"
	Discover   Brand = "discover"
	Diners     Brand = "diners"
	JCB        Brand = "jcb"
	UnionPay   Brand = "unionpay"
	Maestro    Brand = "maestro"
)

// maxPrefixDigits is the longest prefix a Range may test. ISO/IEC 7812 IINs have at most
// eight digits; nine keep a margin and still fit an int on every platform.
const maxPrefixDigits = 9

// Range is a range of card number prefixes: a PAN matches when its first Digits digits, read
// as a number, lie between Lo and Hi inclusive. Range{Lo: 2221, Hi: 2720, Digits: 4} matches
// 2221… to 2720…; Range{Lo: 4, Hi: 4, Digits: 1} matches every number starting with 4.
type Range struct {
	Lo, Hi int
	Digits int
}

// Prefix returns the Range that matches the single prefix p, with as many digits as p has:
// Prefix(34) matches numbers starting with 34.
func Prefix(p int) Range {
	return Range{Lo: p, Hi: p, Digits: numDigits(p)}
}

// Span returns the Range from lo to hi inclusive on as many digits as lo has: Span(51, 55)
// matches numbers starting with 51, 52, 53, 54 or 55. Table.Validate reports a Span whose hi
// has more digits than its lo.
func Span(lo, hi int) Range {
	return Range{Lo: lo, Hi: hi, Digits: numDigits(lo)}
}

// Matches reports whether pan starts with r.Digits ASCII digits whose value lies in r. Only
// those leading digits are examined.
func (r Range) Matches(pan string) bool {
	if r.Digits < 1 || r.Digits > maxPrefixDigits || len(pan) < r.Digits {
		return false
	}
	v := 0
	for i := 0; i < r.Digits; i++ {
		c := pan[i]
		if c < '0' || c > '9' {
			return false
		}
		v = v*10 + int(c-'0')
	}
	return r.Lo <= v && v <= r.Hi
}

// Rule is one row of a brand table: the prefixes that select it, the card number lengths
// it allows and the length of its card security code. Name is the key a vendor uses for the
// row (for example Paysafe's "VE" for Visa Electron), and Brand the network it belongs to.
type Rule struct {
	Name     string
	Brand    Brand
	Prefixes []Range
	Lengths  []int
	CVVLen   int
}

// HasLength reports whether r allows card numbers of n digits.
func (r Rule) HasLength(n int) bool {
	for _, l := range r.Lengths {
		if l == n {
			return true
		}
	}
	return false
}

// Lengths returns the lengths from lo to hi inclusive, for Rule.Lengths: Lengths(16, 19) is
// []int{16, 17, 18, 19}.
func Lengths(lo, hi int) []int {
	if hi < lo {
		return nil
	}
	l := make([]int, 0, hi-lo+1)
	for n := lo; n <= hi; n++ {
		l = append(l, n)
	}
	return l
}

// Table is an ordered brand table. Vendor API packages define their own tables as data, and
// DefaultTable gives the product's own.
type Table []Rule

// MatchPrefix returns the first rule of t that has a prefix matching pan, whatever the length
// of pan, and false if none does. Only the leading digits of pan are examined, so a partial
// number can be matched while it is typed.
func (t Table) MatchPrefix(pan string) (Rule, bool) {
	// prefix[d] is the value of the first d digits of pan, for d up to n.
	var prefix [maxPrefixDigits + 1]int
	n := 0
	for v := 0; n < len(pan) && n < maxPrefixDigits; {
		c := pan[n]
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int(c-'0')
		n++
		prefix[n] = v
	}
	for _, r := range t {
		for _, p := range r.Prefixes {
			if p.Digits >= 1 && p.Digits <= n && p.Lo <= prefix[p.Digits] && prefix[p.Digits] <= p.Hi {
				return r, true
			}
		}
	}
	return Rule{}, false
}

// Match returns the rule for the card number pan: the first rule of t whose prefixes match.
// It returns false if pan is not all ASCII digits, if no rule matches, or if the first
// matching rule does not allow the length of pan; later rules are not tried then, as both
// vendor specifications define it.
func (t Table) Match(pan string) (Rule, bool) {
	if !Digits(pan) {
		return Rule{}, false
	}
	r, ok := t.MatchPrefix(pan)
	if !ok || !r.HasLength(len(pan)) {
		return Rule{}, false
	}
	return r, true
}

// Validate reports the first mistake in t: a rule without a name, prefixes or lengths, a
// prefix range that is empty or has more digits than it says, or a length or CVV length out of
// range. Tables are data, so each package that defines one tests it with Validate.
func (t Table) Validate() error {
	if len(t) == 0 {
		return errors.New("card: empty brand table")
	}
	for i, r := range t {
		if r.Name == "" {
			return fmt.Errorf("card: brand table rule %d has no name", i)
		}
		if len(r.Prefixes) == 0 {
			return fmt.Errorf("card: brand table rule %q has no prefixes", r.Name)
		}
		for _, p := range r.Prefixes {
			if p.Digits < 1 || p.Digits > maxPrefixDigits {
				return fmt.Errorf("card: brand table rule %q: prefix digits %d out of 1-%d", r.Name, p.Digits, maxPrefixDigits)
			}
			if p.Lo < 0 || p.Lo > p.Hi || numDigits(p.Hi) > p.Digits {
				return fmt.Errorf("card: brand table rule %q: bad prefix range %d-%d on %d digits", r.Name, p.Lo, p.Hi, p.Digits)
			}
		}
		if len(r.Lengths) == 0 {
			return fmt.Errorf("card: brand table rule %q has no lengths", r.Name)
		}
		for _, l := range r.Lengths {
			if l < 1 || l > 19 {
				return fmt.Errorf("card: brand table rule %q: length %d out of 1-19", r.Name, l)
			}
		}
		if r.CVVLen < 3 || r.CVVLen > 4 {
			return fmt.Errorf("card: brand table rule %q: CVV length %d out of 3-4", r.Name, r.CVVLen)
		}
	}
	return nil
}

// defaultTable is DefaultTable built once, for DefaultBrand. It is never handed out, so
// nothing can change it.
var defaultTable = DefaultTable()

// DefaultBrand returns the brand of the card number pan by the product's brand table, as
// DefaultTable().Match does, without building the table on every call.
func DefaultBrand(pan string) (Brand, bool) {
	r, ok := defaultTable.Match(pan)
	return r.Brand, ok
}

// DefaultTable returns the product's brand table, a new value on every call.
//
// The prefixes and lengths are the ISO/IEC 7812 issuer registrations as published in the
// IIN table of the Wikipedia article "Payment card number", reconciled with the vendor
// tables in the Paysafe Customer Vault reference §3 and the Fortis Account Vaults reference
// §2.3. Order matters: Discover's 622126–622925 comes before UnionPay's 62.
func DefaultTable() Table {
	return Table{
		{Name: string(Visa), Brand: Visa, CVVLen: 3,
			Prefixes: []Range{Prefix(4)},
			Lengths:  []int{13, 16, 19}},
		{Name: string(Mastercard), Brand: Mastercard, CVVLen: 3,
			Prefixes: []Range{Span(51, 55), Span(2221, 2720)},
			Lengths:  []int{16}},
		{Name: string(Amex), Brand: Amex, CVVLen: 4,
			Prefixes: []Range{Prefix(34), Prefix(37)},
			Lengths:  []int{15}},
		{Name: string(Discover), Brand: Discover, CVVLen: 3,
			Prefixes: []Range{Prefix(6011), Span(622126, 622925), Span(644, 649), Prefix(65)},
			Lengths:  Lengths(16, 19)},
		{Name: string(Diners), Brand: Diners, CVVLen: 3,
			Prefixes: []Range{Span(300, 305), Prefix(3095), Prefix(36), Prefix(38), Prefix(39)},
			Lengths:  Lengths(14, 19)},
		{Name: string(JCB), Brand: JCB, CVVLen: 3,
			Prefixes: []Range{Span(3528, 3589)},
			Lengths:  Lengths(16, 19)},
		{Name: string(UnionPay), Brand: UnionPay, CVVLen: 3,
			Prefixes: []Range{Prefix(62), Prefix(81)},
			Lengths:  Lengths(16, 19)},
		{Name: string(Maestro), Brand: Maestro, CVVLen: 3,
			Prefixes: []Range{Prefix(5018), Prefix(5020), Prefix(5038), Prefix(5893), Prefix(6304), Prefix(6759), Span(6761, 6763)},
			Lengths:  Lengths(12, 19)},
	}
}

// numDigits returns the number of decimal digits of n, counting 0 as one digit.
func numDigits(n int) int {
	d := 1
	for n >= 10 || n <= -10 {
		n /= 10
		d++
	}
	return d
}
