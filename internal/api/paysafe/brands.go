package paysafe

import "github.com/payvault/payvault/internal/card"

// brandTable returns the Paysafe cardType table of §3, in its order: the first row with a
// matching prefix decides, and the number's length must be one of that row's lengths. A
// number no row accepts has no Paysafe brand (7508 in the vault, 3002 in payments). The
// sub-brands VE, VD (debit Visa), SO and MD are rows of their own, before VI and MC.
func brandTable() card.Table {
	p, s := card.Prefix, card.Span
	return card.Table{
		{Name: "AM", Brand: card.Amex, CVVLen: 4, Prefixes: []card.Range{p(34), p(37)}, Lengths: []int{15}},
		{Name: "DC", Brand: card.Diners, CVVLen: 3, Prefixes: []card.Range{s(300, 305), p(3095), p(36), p(38), p(39)}, Lengths: card.Lengths(14, 19)},
		{Name: "JC", Brand: card.JCB, CVVLen: 3, Prefixes: []card.Range{s(3528, 3589)}, Lengths: card.Lengths(16, 19)},
		{Name: "DI", Brand: card.Discover, CVVLen: 3, Prefixes: []card.Range{p(6011), s(622126, 622925), s(644, 649), p(65)}, Lengths: card.Lengths(16, 19)},
		{Name: "SO", Brand: card.Maestro, CVVLen: 3, Prefixes: []card.Range{p(6334), p(6767)}, Lengths: []int{16, 18, 19}},
		{Name: "MD", Brand: card.Maestro, CVVLen: 3, Prefixes: []card.Range{p(5018), p(5020), p(5038), p(5893), p(6304), p(6759), s(6761, 6763)}, Lengths: card.Lengths(12, 19)},
		{Name: "MC", Brand: card.Mastercard, CVVLen: 3, Prefixes: []card.Range{s(51, 55), s(2221, 2720)}, Lengths: []int{16}},
		{Name: "VE", Brand: card.Visa, CVVLen: 3, Prefixes: []card.Range{p(4026), p(417500), p(4405), p(4508), p(4844), p(4913), p(4917)}, Lengths: []int{16}},
		{Name: "VD", Brand: card.Visa, CVVLen: 3, Prefixes: []card.Range{
			s(413733, 413737), s(446200, 446299), s(453978, 453979), p(454313), s(454432, 454435), p(454742),
			s(456725, 456745), s(465830, 465879), s(465901, 465950), s(484409, 484410), s(490960, 490979),
			s(492181, 492182), p(498824)}, Lengths: []int{13, 16, 19}},
		{Name: "VI", Brand: card.Visa, CVVLen: 3, Prefixes: []card.Range{p(4)}, Lengths: []int{13, 16, 19}},
	}
}

// cardType returns the Paysafe cardType of a number, or "" when it has none.
func (a *API) cardType(pan string) string {
	if r, ok := a.brands.Match(pan); ok {
		return r.Name
	}
	return ""
}

// storedCardType returns the cardType of a stored card from its BIN and length: every prefix
// of the table has at most six digits, so the BIN decides.
func (a *API) storedCardType(bin string, panLength int) string {
	if r, ok := a.brands.MatchPrefix(bin); ok && r.HasLength(panLength) {
		return r.Name
	}
	return ""
}

// cardCategory is DEBIT for the debit sub-brands and CREDIT otherwise (§2.4).
func cardCategory(cardType string) string {
	switch cardType {
	case "VD", "VE", "MD", "SO":
		return "DEBIT"
	case "":
		return ""
	}
	return "CREDIT"
}
