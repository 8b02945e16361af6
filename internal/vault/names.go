package vault

import (
	"errors"

	"github.com/payvault/payvault/internal/card"
)

// The vault keeps card numbers only sealed, yet a person's name or a label is stored in the
// clear. No legitimate name or label holds a card number, while a cardholder who types the
// number into the name box of a payment page, or an integration that sends it as the holder
// name, would leave it there: so each record kind refuses, in one place, any such field that
// holds a probable card number (card.ContainsPAN). References and free text that may hold
// long numbers (merchant references, customer ids, descriptions) are not checked.

// namedText is a name or label field: its core name and value.
type namedText struct {
	field string
	value string
}

// refuseCardNumbers returns an Invalid error (ErrCardNumber) for each field whose value holds
// a probable card number, joined, or nil. The errors name the fields, never the values.
func refuseCardNumbers(fields ...namedText) error {
	var errs []error
	for _, f := range fields {
		if card.ContainsPAN(f.value) {
			errs = append(errs, E(Invalid, Field(f.field), ErrCardNumber))
		}
	}
	return errors.Join(errs...)
}

// CheckName refuses a name stored outside the vault's records (a transaction's holder name)
// that holds a probable card number, as the vault refuses its own: Invalid on field, with
// ErrCardNumber.
func CheckName(field, value string) error {
	return refuseCardNumbers(namedText{field, value})
}

// CheckNames refuses an instrument whose holder name, nickname or title holds a card number.
// The vault checks it on every create and update; an API that creates one only after a
// processor's approval (Fortis save_account) checks it before the processor is called.
func (in *Instrument) CheckNames() error {
	return refuseCardNumbers(
		namedText{"holder_name", in.HolderName},
		namedText{"nick_name", in.NickName},
		namedText{"title", in.Title})
}

// checkNames refuses a profile whose first, middle or last name, or company name, holds a
// card number.
func (prof *Profile) checkNames() error {
	return refuseCardNumbers(
		namedText{"first_name", prof.FirstName},
		namedText{"middle_name", prof.MiddleName},
		namedText{"last_name", prof.LastName},
		namedText{"company_name", prof.CompanyName})
}

// checkNames refuses an address whose nickname or recipient's name holds a card number.
func (a *Address) checkNames() error {
	return refuseCardNumbers(
		namedText{"nick_name", a.NickName},
		namedText{"recipient_name", a.RecipientName})
}

// checkNames refuses token metadata whose card or account holder name, or whose customer's
// name, holds a card number.
func (m *TokenMeta) checkNames() error {
	var c Customer
	if m.Profile != nil {
		c = *m.Profile
	}
	return refuseCardNumbers(
		namedText{"holder_name", m.HolderName},
		namedText{"holder_name", m.AccountHolder},
		namedText{"first_name", c.FirstName},
		namedText{"last_name", c.LastName})
}
