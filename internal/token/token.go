// Package token makes and classifies payvault's payment tokens: a kind prefix and 14
// characters from crypto/rand. The core stores tokens; the API layers choose which kinds
// they show and parse.
package token

import "github.com/payvault/payvault/internal/keys"

// Kind is a token's prefix.
type Kind string

// The token kinds.
const (
	Profile  Kind = "P"  // Profile is a customer profile (a Fortis contact).
	Card     Kind = "C"  // Card is a stored card.
	Bank     Kind = "B"  // Bank is a stored bank account (ACH, BACS, EFT, SEPA).
	Mandate  Kind = "M"  // Mandate is a direct-debit mandate.
	SUTCard  Kind = "SC" // SUTCard is a single-use card token.
	SUTACH   Kind = "SA" // SUTACH is a single-use ACH token.
	SUTEFT   Kind = "SE" // SUTEFT is a single-use EFT token.
	Unknown  Kind = ""   // Unknown is anything else.
	bodySize      = 14
)

// New returns a fresh token of kind k.
func New(k Kind) string {
	return string(k) + keys.RandomString(bodySize, keys.Alnum)
}

// Parse classifies s. It returns Unknown for anything that is not a well-formed token.
func Parse(s string) Kind {
	if len(s) < bodySize+1 {
		return Unknown
	}
	prefix := s[:len(s)-bodySize]
	for i := len(s) - bodySize; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return Unknown
		}
	}
	switch k := Kind(prefix); k {
	case Profile, Card, Bank, Mandate, SUTCard, SUTACH, SUTEFT:
		return k
	}
	return Unknown
}

// Instrument reports whether k is a stored instrument's token kind (a card or a bank account).
func (k Kind) Instrument() bool { return k == Card || k == Bank }

// SingleUse reports whether k is a single-use token kind.
func (k Kind) SingleUse() bool { return k == SUTCard || k == SUTACH || k == SUTEFT }
