package vault

import (
	"context"
	"slices"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/token"
)

// NewOneTimeToken is the input of CreateOneTimeToken.
type NewOneTimeToken struct {
	Kind       string      // Kind is TokenCard, TokenACH, TokenEFT or TokenTicket.
	LocationID string      // LocationID is where a ticket may be used; the default location otherwise.
	Number     string      // Number is the PAN or bank account number.
	Expiry     card.Expiry // Expiry goes with a card.
	CVV        string      // CVV is sealed and destroyed on consumption or expiry.
	Meta       TokenMeta   // Meta carries the non-secret fields the caller set.
}

// CreateOneTimeToken seals account data behind a single-use token or ticket.
// Kinds: Invalid (with Field).
func (s *Service) CreateOneTimeToken(ctx context.Context, p *Principal, in NewOneTimeToken) (*OneTimeToken, error) {
	const op = "vault.CreateOneTimeToken"
	ctx = s.sealing(ctx) // before sealRecord
	now := s.Now()
	t := &OneTimeToken{ID: newID(), MerchantID: p.MerchantID(), Kind: in.Kind, Meta: in.Meta, Created: now}
	t.LocationID = in.LocationID
	if t.LocationID == "" {
		t.LocationID = p.defaultLocation()
	}
	if !p.CanReach(t.LocationID) {
		return nil, E(op, Invalid, Field("location_id"), ErrUnusable)
	}
	if err := in.Meta.checkNames(); err != nil {
		return nil, E(op, err)
	}
	ttl := s.cfg.SUTTTL
	switch in.Kind {
	case TokenCard, TokenTicket:
		probe := &Instrument{Kind: KindCard, ExpMonth: in.Expiry.Month, ExpYear: in.Expiry.Year}
		if err := s.validateAccount(p, probe, Secret{Number: in.Number}); err != nil {
			return nil, E(op, err)
		}
		if in.CVV != "" && (!card.Digits(in.CVV) || len(in.CVV) < 3 || len(in.CVV) > 4) {
			return nil, E(op, Invalid, Field("cvv"), ErrFormat)
		}
		t.Meta.BIN, t.Meta.LastFour, t.Meta.PANLength = card.BIN(in.Number), card.Last4(in.Number), len(in.Number)
		t.Meta.ExpMonth, t.Meta.ExpYear = in.Expiry.Month, in.Expiry.Year
		t.Meta.Brand, t.Meta.Category = "", ""
		if b, ok := card.DefaultBrand(in.Number); ok {
			t.Meta.Brand = string(b)
		}
		if s.bins != nil {
			if info, ok := s.bins.Lookup(in.Number); ok {
				t.Meta.Category = info.Type
			}
		}
		t.Meta.HasCVV = in.CVV != ""
		if in.Kind == TokenTicket {
			ttl = s.cfg.TicketTTL
			t.Token = t.ID
		} else {
			t.Token = token.New(token.SUTCard)
		}
	case TokenACH:
		probe := &Instrument{Kind: KindACH, RoutingNumber: in.Meta.RoutingNumber, AccountType: in.Meta.AccountType}
		if err := s.validateAccount(p, probe, Secret{Number: in.Number}); err != nil {
			return nil, E(op, err)
		}
		t.Meta.LastFour = in.Number[len(in.Number)-4:]
		t.Token = token.New(token.SUTACH)
	case TokenEFT:
		probe := &Instrument{Kind: KindEFT, TransitNumber: in.Meta.TransitNumber, InstitutionID: in.Meta.InstitutionID}
		if err := s.validateAccount(p, probe, Secret{Number: in.Number}); err != nil {
			return nil, E(op, err)
		}
		t.Meta.LastFour = in.Number[len(in.Number)-4:]
		t.Token = token.New(token.SUTEFT)
	default:
		return nil, E(op, Invalid, Field("kind"), ErrFormat)
	}
	t.Expires = now.Add(ttl)
	var err error
	if t.Sealed.KeyID, err = s.sealRecord(op,
		sealedField{oneTimeAD(t, "number"), []byte(in.Number), &t.Sealed.Number},
		sealedField{oneTimeAD(t, "cvv"), []byte(in.CVV), &t.Sealed.CVV}); err != nil {
		return nil, err
	}
	if err := s.write(ctx, func(tx Tx) error { return tx.InsertOneTimeToken(ctx, t) }); err != nil {
		return nil, E(op, err)
	}
	return t, nil
}

// consumeToken marks a one-time token used inside tx and returns it with its opened data.
// A token of another merchant, location or kind, or one consumed or expired, is Invalid
// (Field token, ErrUnusable), exactly like one that never existed.
func (s *Service) consumeToken(ctx context.Context, tx Tx, p *Principal, value, locationID string, kinds []string) (*OneTimeToken, Secret, error) {
	t, sec, err := s.lookupToken(ctx, tx, p, value, locationID, kinds)
	if err != nil {
		return nil, Secret{}, err
	}
	ok, err := tx.ConsumeOneTimeToken(ctx, p.MerchantID(), t.ID, s.Now())
	if err != nil {
		return nil, Secret{}, err
	}
	if !ok {
		return nil, Secret{}, E(Invalid, Field("token"), ErrUnusable)
	}
	return t, sec, nil
}

// ConsumeToken marks a one-time token used inside tx (for payments) and returns it with its
// opened number and CVV. Kinds: Invalid (Field token).
func (s *Service) ConsumeToken(ctx context.Context, tx Tx, p *Principal, value, locationID string, kinds ...string) (*OneTimeToken, Secret, error) {
	return s.consumeToken(ctx, tx, p, value, locationID, kinds)
}

// PeekToken returns a usable one-time token with its opened data without consuming it (a
// verification never consumes). Kinds: Invalid (Field token).
func (s *Service) PeekToken(ctx context.Context, r Reader, p *Principal, value, locationID string, kinds ...string) (*OneTimeToken, Secret, error) {
	return s.lookupToken(ctx, r, p, value, locationID, kinds)
}

func (s *Service) lookupToken(ctx context.Context, r Reader, p *Principal, value, locationID string, kinds []string) (*OneTimeToken, Secret, error) {
	unusable := E(Invalid, Field("token"), ErrUnusable)
	t, err := r.GetOneTimeToken(ctx, p.MerchantID(), value)
	if err != nil {
		if KindOf(err) == NotFound {
			return nil, Secret{}, unusable
		}
		return nil, Secret{}, err
	}
	now := s.Now()
	if !t.Consumed.IsZero() || !now.Before(t.Expires) || (len(kinds) > 0 && !slices.Contains(kinds, t.Kind)) {
		return nil, Secret{}, unusable
	}
	if t.Kind == TokenTicket && locationID != "" && t.LocationID != locationID {
		return nil, Secret{}, unusable
	}
	if !p.CanReach(t.LocationID) && t.Kind == TokenTicket {
		return nil, Secret{}, unusable
	}
	number, err := s.open("vault.lookupToken", oneTimeAD(t, "number"), 0, t.Sealed.Number)
	if err != nil {
		return nil, Secret{}, err
	}
	cvv, err := s.open("vault.lookupToken", oneTimeAD(t, "cvv"), 0, t.Sealed.CVV)
	if err != nil {
		return nil, Secret{}, err
	}
	return t, Secret{Number: number, CVV: cvv}, nil
}

// SweepTokens deletes expired one-time tokens with their sealed data, a write per chunk that
// the store chooses, until none is left. It returns how many went.
func (s *Service) SweepTokens(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		err := s.write(ctx, func(tx Tx) error {
			var err error
			n, err = tx.SweepOneTimeTokens(ctx, s.Now())
			return err
		})
		total += n
		if err != nil || n == 0 {
			return total, Wrap("vault.SweepTokens", err)
		}
	}
}

// oneTimeAD is the associated data of a one-time token's field: its merchant, id, the field
// and the token that finds it (for a ticket, its id again).
func oneTimeAD(t *OneTimeToken, field string) keys.AD {
	return keys.AD{Merchant: t.MerchantID, Record: t.ID, Field: field, Token: t.Token}
}
