package payments

import (
	"context"

	"github.com/payvault/payvault/internal/token"
	"github.com/payvault/payvault/internal/vault"
)

// SourceUse is what a request does with an earlier transaction its source names.
type SourceUse int

const (
	// UseAny: the use is not known (the request's action failed), so only a transaction no
	// use could take is refused.
	UseAny SourceUse = iota
	// UseCopy copies the transaction's account data into a payment or an instrument.
	UseCopy
	// UseRefund refunds the transaction.
	UseRefund
)

// SourceCheck is the account source of a request that will not be written (another of its
// fields failed), with what the write would check it against. The first set source wins, in
// the order of Source: Token, InstrumentID, InstrumentAPIID, TransactionID, TransactionAPIID.
type SourceCheck struct {
	Token      string   // Token is a vault token (C…, P…) or a one-time token of TokenKinds.
	TokenKinds []string // TokenKinds are the one-time token kinds the caller accepts.

	InstrumentID    string // InstrumentID is a vaulted instrument's id.
	InstrumentAPIID string // InstrumentAPIID is a vaulted instrument's api id in LocationID.

	TransactionID    string // TransactionID is an earlier transaction's id.
	TransactionAPIID string // TransactionAPIID is an earlier transaction's api id in LocationID.

	// LocationID is the request's location, which an instrument, ticket or earlier
	// transaction must be in (the rule of Source.SameLocation); empty when it is not known
	// (the request's failed) or not a rule.
	LocationID string
	// PaymentMethod is MethodCard or MethodACH; empty when it is not known.
	PaymentMethod string
	// API is the calling vendor API, whose transactions alone an earlier transaction may be
	// (empty: any API's), as AuthRequest.API and vault.Source.TransactionAPI say.
	API string
	// Use is what the request does with an earlier transaction.
	Use SourceUse
	// Refundable is the calling API's subset of the transactions the core refunds (nil: all
	// of them); a refund refuses the others.
	Refundable func(*Transaction) bool
}

// CheckSource reports whether the write of a request would refuse its account source, through
// plain reads that store and consume nothing: a one-time token is only peeked, and stays
// usable. It applies the rules that Authorize, Refund and vault.CreateInstrument apply to a
// source, and a rule that needs what the check does not know (LocationID, PaymentMethod, Use)
// is left out. A profile token (P…) is left to the write. Kinds: Invalid (Field token,
// instrument_id, instrument_api_id, transaction_id or transaction_api_id, with
// vault.ErrUnusable) when the source is refused; nil when it is usable or the rules it
// breaks are unknown; Unavailable or Internal when a read failed.
func (s *Service) CheckSource(ctx context.Context, p *vault.Principal, c SourceCheck) error {
	const op = "payments.CheckSource"
	if err := s.checkSource(ctx, p, c); err != nil {
		return vault.E(op, err)
	}
	return nil
}

func (s *Service) checkSource(ctx context.Context, p *vault.Principal, c SourceCheck) error {
	mid := p.MerchantID()
	kind := ""
	if c.PaymentMethod != "" {
		kind = instrumentKind(c.PaymentMethod)
	}
	switch {
	case c.Token != "":
		unusable := vault.E(vault.Invalid, vault.Field("token"), vault.ErrUnusable)
		switch token.Parse(c.Token) {
		case token.Card, token.Bank:
			in, _, err := s.store.GetInstrumentByTokenWithCustomer(ctx, mid, c.Token)
			if vault.KindOf(err) == vault.NotFound || (err == nil && !in.UsableBy(p, kind, c.LocationID)) {
				return unusable
			}
			return err
		case token.Profile:
			return nil
		}
		if len(c.TokenKinds) == 0 {
			return unusable
		}
		t, _, err := s.vault.PeekToken(ctx, s.store, p, c.Token, c.LocationID, c.TokenKinds...)
		if err == nil && kind != "" && !t.Fits(kind) {
			return unusable
		}
		return err
	case c.InstrumentID != "" || c.InstrumentAPIID != "":
		if c.InstrumentID == "" && c.LocationID == "" {
			return nil
		}
		in, field, err := vault.SourceInstrument(ctx, s.store, mid, c.LocationID, c.InstrumentID, c.InstrumentAPIID)
		if err == nil && !in.UsableBy(p, kind, c.LocationID) {
			return vault.E(vault.Invalid, vault.Field(field), vault.ErrUnusable)
		}
		return err
	case c.TransactionID != "" || c.TransactionAPIID != "":
		if c.TransactionID == "" && c.LocationID == "" {
			return nil
		}
		field := transactionField(c.TransactionID)
		unusable := vault.E(vault.Invalid, vault.Field(field), vault.ErrUnusable)
		var t *Transaction
		var err error
		switch c.Use {
		case UseCopy:
			t, _, err = numbered(ctx, s.store, mid, c.LocationID, c.TransactionID, c.TransactionAPIID)
			if err == nil && !copyable(p, t, c.PaymentMethod, c.API) {
				return unusable
			}
		case UseRefund:
			t, err = s.parent(ctx, p, c.LocationID, c.TransactionID, c.TransactionAPIID, parentTypes[TypeRefund])
			if err == nil && c.Refundable != nil && !c.Refundable(t) {
				return unusable
			}
		default:
			// Whatever the request does with it, another API's transaction is no source.
			t, err = s.parent(ctx, p, c.LocationID, c.TransactionID, c.TransactionAPIID, nil)
			if err == nil && !t.madeThrough(c.API) {
				return unusable
			}
		}
		if vault.KindOf(err) == vault.NotFound {
			return unusable
		}
		return err
	}
	return nil
}

// parent returns the transaction a follow-up of one of types (all: none) would draw on, by id
// or by api id in locationID. Kinds: NotFound.
func (s *Service) parent(ctx context.Context, p *vault.Principal, locationID, id, apiID string, types []Type) (*Transaction, error) {
	if id != "" {
		return s.Get(ctx, p, locationID, id, types...)
	}
	return s.GetByAPIID(ctx, p, locationID, apiID, types...)
}

// transactionField is the field of an earlier transaction named by id, else by api id.
func transactionField(id string) string {
	if id != "" {
		return "transaction_id"
	}
	return "transaction_api_id"
}

// sourceLocation is the location a source must be in: the transaction's with same, any ("")
// without.
func sourceLocation(locationID string, same bool) string {
	if same {
		return locationID
	}
	return ""
}

// instrumentKind is the kind of instrument a payment of method takes.
func instrumentKind(method string) string {
	if method == MethodACH {
		return vault.KindACH
	}
	return vault.KindCard
}
