package fortis

import "github.com/payvault/payvault/internal/card"

// brandTable is the Fortis brand table of §2.3: the first matching prefix decides, every
// brand takes 13 to 19 digits, and a card with no match is invalid. A rule's Name is the
// Fortis account_type; its Brand is the core's brand.
var brandTable = card.Table{
	{Name: "amex", Brand: card.Amex, CVVLen: 4, Prefixes: []card.Range{card.Prefix(34), card.Prefix(37)}, Lengths: card.Lengths(13, 19)},
	{Name: "visa", Brand: card.Visa, CVVLen: 3, Prefixes: []card.Range{card.Prefix(4)}, Lengths: card.Lengths(13, 19)},
	{Name: "mc", Brand: card.Mastercard, CVVLen: 3, Prefixes: []card.Range{card.Span(51, 55), card.Span(2221, 2720)}, Lengths: card.Lengths(13, 19)},
	{Name: "disc", Brand: card.Discover, CVVLen: 3, Prefixes: []card.Range{card.Prefix(6011), card.Span(644, 649), card.Prefix(65), card.Span(622126, 622925)}, Lengths: card.Lengths(13, 19)},
	{Name: "jcb", Brand: card.JCB, CVVLen: 3, Prefixes: []card.Range{card.Span(3528, 3589)}, Lengths: card.Lengths(13, 19)},
	{Name: "diners", Brand: card.Diners, CVVLen: 3, Prefixes: []card.Range{card.Span(300, 305), card.Prefix(36), card.Prefix(38), card.Prefix(39)}, Lengths: card.Lengths(13, 19)},
}

// brandNames maps core brands to Fortis account types, for cards stored through another API.
var brandNames = map[string]string{
	string(card.Visa): "visa", string(card.Mastercard): "mc", string(card.Amex): "amex",
	string(card.Discover): "disc", string(card.JCB): "jcb", string(card.Diners): "diners",
}

// accountTypeOfBrand maps a Fortis account type to the core brand, for filters.
var brandOfAccountType = map[string]string{
	"visa": string(card.Visa), "mc": string(card.Mastercard), "amex": string(card.Amex),
	"disc": string(card.Discover), "jcb": string(card.JCB), "diners": string(card.Diners),
}

// validCard reports whether pan is a Fortis cc number: 13 to 19 digits, Luhn-valid, of a
// known brand.
func validCard(pan string) bool {
	if len(pan) < 13 || len(pan) > 19 || !card.Digits(pan) || !card.Luhn(pan) {
		return false
	}
	_, ok := brandTable.Match(pan)
	return ok
}

// cardAccountType is the account_type a cc vault shows: the Fortis name of its core brand or,
// when the core found none, the Fortis brand of its first digits.
func cardAccountType(bin, brand string) string {
	if n, ok := brandNames[brand]; ok {
		return n
	}
	if r, ok := brandTable.MatchPrefix(bin); ok {
		return r.Name
	}
	return brand
}
