package payments

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

var _ vault.TransactionSource = (*Service)(nil)

// fromInstrument fills res from a vaulted instrument: its opened number, its card data, its
// billing address and its profile's names, which cust holds when the caller read them with
// the instrument (nil: read them here).
func (s *Service) fromInstrument(ctx context.Context, r vault.Reader, p *vault.Principal, loc *vault.Location, res *resolved, in *vault.Instrument, cust *vault.Customer, wantKind string, sameLocation bool, field string) error {
	if !in.UsableBy(p, wantKind, sourceLocation(loc.ID, sameLocation)) {
		return vault.E(vault.Invalid, vault.Field(field), vault.ErrUnusable)
	}
	number, err := s.vault.RevealNumber(in)
	if err != nil {
		return err
	}
	res.number, res.instrument, res.profileID = number, in, in.ProfileID
	res.snapshot = CardSnapshot{Brand: in.Brand, BIN: in.BIN, LastFour: in.LastFour, PANLength: in.PANLength,
		ExpMonth: in.ExpMonth, ExpYear: in.ExpYear, HolderName: in.HolderName}
	res.routing, res.acctType, res.secCode = in.RoutingNumber, in.AccountType, in.ACHSecCode
	switch {
	case in.BillingAddressID != "" && in.ProfileID != "":
		a, err := r.GetAddress(ctx, p.MerchantID(), in.ProfileID, in.BillingAddressID)
		if err == nil {
			res.billing = &Billing{Street: a.Street, Street2: a.Street2, City: a.City, State: a.State, Country: a.Country, Zip: a.Zip, Phone: a.Phone}
		} else if vault.KindOf(err) != vault.NotFound {
			return err
		}
	case in.BillingStreet != "" || in.BillingCity != "" || in.BillingState != "" || in.BillingZip != "" || in.BillingPhone != "":
		res.billing = &Billing{Street: in.BillingStreet, City: in.BillingCity, State: in.BillingState, Zip: in.BillingZip, Phone: in.BillingPhone}
	}
	if in.ProfileID == "" {
		return nil
	}
	if cust == nil {
		prof, err := r.GetProfile(ctx, p.MerchantID(), in.ProfileID)
		if err != nil {
			if vault.KindOf(err) == vault.NotFound {
				return nil
			}
			return err
		}
		cust = &vault.Customer{FirstName: prof.FirstName, LastName: prof.LastName, Email: prof.Email}
	}
	if *cust != (vault.Customer{}) {
		c := *cust
		res.customer = &c
	}
	return nil
}

// fromOneTimeToken fills res from a single-use token or ticket, consuming it unless the
// transaction is a verification or the source asks to peek (which only read it).
func (s *Service) fromOneTimeToken(ctx context.Context, tx Tx, p *vault.Principal, loc *vault.Location, res *resolved, req *AuthRequest, wantKind string) error {
	src := req.Source
	var t *vault.OneTimeToken
	var sec vault.Secret
	var err error
	if req.Type == TypeVerification || src.Peek {
		t, sec, err = s.vault.PeekToken(ctx, tx, p, src.Token, loc.ID, src.TokenKinds...)
	} else {
		t, sec, err = s.vault.ConsumeToken(ctx, tx, p, src.Token, loc.ID, src.TokenKinds...)
	}
	if err != nil {
		return err
	}
	if !t.Fits(wantKind) {
		return vault.E(vault.Invalid, vault.Field("token"), vault.ErrUnusable)
	}
	isCard := wantKind == vault.KindCard
	m := t.Meta
	res.number = sec.Number
	if res.cvv == "" {
		res.cvv = sec.CVV
	}
	if isCard {
		res.snapshot = CardSnapshot{Brand: m.Brand, BIN: m.BIN, LastFour: m.LastFour, PANLength: m.PANLength,
			ExpMonth: m.ExpMonth, ExpYear: m.ExpYear, HolderName: m.HolderName}
	} else {
		res.snapshot = CardSnapshot{LastFour: m.LastFour, HolderName: m.AccountHolder}
		res.routing, res.acctType = m.RoutingNumber, m.AccountType
	}
	switch {
	case m.Billing != nil:
		a := m.Billing
		res.billing = &Billing{Street: a.Street, Street2: a.Street2, City: a.City, State: a.State, Country: a.Country, Zip: a.Zip, Phone: a.Phone}
	case m.BillingZip != "":
		res.billing = &Billing{Zip: m.BillingZip}
	}
	if m.Profile != nil && *m.Profile != (vault.Customer{}) {
		c := *m.Profile
		res.customer = &c
	}
	return nil
}

// rawCard checks a raw card and returns its snapshot; brand, when set, is the number's brand
// by the calling API's table, else the product's table decides. Kinds: Invalid (Field number
// with vault.ErrFormat, ErrLength, ErrLuhn or ErrBrand; Field expiry with vault.ErrExpiry).
func rawCard(number string, exp card.Expiry, brand card.Brand) (CardSnapshot, error) {
	if !card.Digits(number) {
		return CardSnapshot{}, vault.E(vault.Invalid, vault.Field("number"), vault.ErrFormat)
	}
	if len(number) < 12 || len(number) > 19 {
		return CardSnapshot{}, vault.E(vault.Invalid, vault.Field("number"), vault.ErrLength)
	}
	if !card.Luhn(number) {
		return CardSnapshot{}, vault.E(vault.Invalid, vault.Field("number"), vault.ErrLuhn)
	}
	if brand == "" {
		b, ok := card.DefaultBrand(number)
		if !ok {
			return CardSnapshot{}, vault.E(vault.Invalid, vault.Field("number"), vault.ErrBrand)
		}
		brand = b
	}
	if !exp.Valid() {
		return CardSnapshot{}, vault.E(vault.Invalid, vault.Field("expiry"), vault.ErrExpiry)
	}
	return CardSnapshot{Brand: string(brand), BIN: card.BIN(number), LastFour: card.Last4(number),
		PANLength: len(number), ExpMonth: exp.Month, ExpYear: exp.Year}, nil
}

// accountOf returns a transaction by id or api id (in locationID, which an api id needs),
// together with its opened account number. A settlement, void or refund has the number of
// the transaction it draws on. Kinds: NotFound.
func (s *Service) accountOf(ctx context.Context, r Reader, merchantID, locationID, id, apiID string) (*Transaction, string, error) {
	t, from, err := numbered(ctx, r, merchantID, locationID, id, apiID)
	if err != nil {
		return nil, "", err
	}
	number, err := s.openNumber(from)
	if err != nil {
		return nil, "", err
	}
	if number == "" {
		return nil, "", vault.E(vault.NotFound, vault.ID(t.ID))
	}
	return t, number, nil
}

// numbered returns a transaction by id or api id (in locationID, which an api id needs),
// together with the transaction that holds its sealed account number: itself, or for a
// settlement, void or refund the transaction it draws on. It opens nothing. Kinds: NotFound,
// also when none holds a number.
func numbered(ctx context.Context, r Reader, merchantID, locationID, id, apiID string) (t, from *Transaction, err error) {
	switch {
	case id != "":
		t, err = r.GetTransaction(ctx, merchantID, id)
	case apiID != "" && locationID != "":
		t, err = r.GetTransactionByAPIID(ctx, merchantID, locationID, apiID)
	default:
		return nil, nil, vault.E(vault.NotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	if locationID != "" && t.LocationID != locationID {
		return nil, nil, vault.E(vault.NotFound, vault.ID(t.ID))
	}
	from = t
	for depth := 0; len(from.Sealed.Number) == 0 && from.ParentID != "" && depth < 4; depth++ {
		if from, err = r.GetTransaction(ctx, merchantID, from.ParentID); err != nil {
			return nil, nil, err
		}
	}
	if len(from.Sealed.Number) == 0 {
		return nil, nil, vault.E(vault.NotFound, vault.ID(t.ID))
	}
	return t, from, nil
}

// copyable reports whether p's payment of method ("": any) through vendor API api ("": any)
// may copy the account data of the earlier transaction t: t is in a location p reaches, was
// paid by that method and made through that API (another API's transactions are not the
// caller's: its reads answer them as unknown).
func copyable(p *vault.Principal, t *Transaction, method, api string) bool {
	return p.CanReach(t.LocationID) && (method == "" || t.PaymentMethod == method) && t.madeThrough(api)
}

// madeThrough reports whether t was made through vendor API api ("": any API): another API's
// transactions are not the caller's, and its reads answer them as unknown.
func (t *Transaction) madeThrough(api string) bool { return api == "" || t.API == api }

// AccountData implements vault.TransactionSource: it returns the account data of a
// transaction in a location, made through vendor API api ("": any), expiry included, so that
// a vault can be created from it. Kinds: NotFound.
func (s *Service) AccountData(ctx context.Context, tx vault.Tx, merchantID, locationID, id, apiID, api string) (*vault.AccountData, error) {
	r, ok := tx.(Reader)
	if !ok {
		return nil, vault.E("payments.AccountData", vault.Internal, ErrTxUnsupported)
	}
	t, number, err := s.accountOf(ctx, r, merchantID, locationID, id, apiID)
	if err == nil && !t.madeThrough(api) {
		err = vault.E(vault.NotFound, vault.ID(t.ID))
	}
	if err != nil {
		return nil, vault.E("payments.AccountData", err)
	}
	ad := &vault.AccountData{
		Kind: vault.KindCard, Number: number, Expiry: card.Expiry{Month: t.Card.ExpMonth, Year: t.Card.ExpYear},
		RoutingNumber: t.RoutingNumber, AccountType: t.AccountType, ACHSecCode: t.ACHSecCode, HolderName: t.Card.HolderName,
	}
	if t.PaymentMethod == MethodACH {
		ad.Kind = vault.KindACH
	}
	if b := t.Billing; b != nil {
		ad.BillingStreet, ad.BillingCity, ad.BillingState, ad.BillingZip, ad.BillingPhone = b.Street, b.City, b.State, b.Zip, b.Phone
	}
	return ad, nil
}

// checkExtras refuses Extras that are not JSON.
func checkExtras(t *Transaction) error {
	if t.Extras != nil && !json.Valid(t.Extras) {
		return vault.E(vault.Internal, errors.New("extras are not JSON"))
	}
	return nil
}

// verifyingTypes are the types whose approval marks a vault card VERIFIED.
var verifyingTypes = []Type{TypeAuth, TypeSale, TypeVerification}

func verifies(ty Type) bool { return slices.Contains(verifyingTypes, ty) }
