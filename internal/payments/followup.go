package payments

import (
	"context"
	"encoding/json"
	"time"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/vault"
)

// FollowUp is a transaction that draws on an earlier one: a settlement or a void of an auth,
// a refund of a settlement or a sale.
type FollowUp struct {
	API      string          // API names the calling vendor API.
	Location *vault.Location // Location is the account; the parent must be in it.
	ParentID string
	// Amount is in minor units; 0 takes everything available.
	Amount         int64
	MerchantRefNum string
	DupCheck       bool // DupCheck refuses a MerchantRefNum already used in the account for the type.
	APIID          string
	OrderNum       string
	Extras         json.RawMessage
	// ProfileID names the payer's profile; it overrides the parent's and must be a profile
	// in the follow-up's location (Invalid, Field profile_id). Without it the follow-up takes
	// the parent's profile while that profile exists: a deleted one stays on the parent only.
	ProfileID string
}

// Settle captures (part of) an approved auth. Several partial settlements are allowed. The
// new settlement is PENDING until its batch time. Kinds: NotFound (the auth), Conflict
// (ErrNotApproved, ErrNothingLeft, ErrExceedsAvailable, ErrDuplicateRef), Invalid (amount),
// Unavailable, Internal.
func (s *Service) Settle(ctx context.Context, p *vault.Principal, f FollowUp) (*Transaction, error) {
	return s.drawOn(ctx, p, "payments.Settle", TypeSettlement, f)
}

// Void releases (part of) what an auth has left to settle; the auth stays COMPLETED.
// Kinds: NotFound (the auth), Conflict (ErrNotApproved, ErrNothingLeft, ErrHasSettlements,
// ErrExceedsAvailable, ErrDuplicateRef), Invalid (amount), Unavailable, Internal.
func (s *Service) Void(ctx context.Context, p *vault.Principal, f FollowUp) (*Transaction, error) {
	return s.drawOn(ctx, p, "payments.Void", TypeVoid, f)
}

// Refund returns (part of) what a settlement or a sale has left to refund. A PENDING or
// COMPLETED settlement can be refunded; the refund is PENDING until its batch time.
// Kinds: NotFound (the settlement or sale), Conflict (ErrNothingLeft, ErrExceedsAvailable,
// ErrDuplicateRef), Invalid (amount), Unavailable, Internal.
func (s *Service) Refund(ctx context.Context, p *vault.Principal, f FollowUp) (*Transaction, error) {
	return s.drawOn(ctx, p, "payments.Refund", TypeRefund, f)
}

// parentTypes are the types a follow-up of each type may draw on.
var parentTypes = map[Type][]Type{
	TypeSettlement: {TypeAuth},
	TypeVoid:       {TypeAuth},
	TypeRefund:     {TypeSettlement, TypeSale},
}

// drawOn runs a follow-up: the first write locks the parent, checks the money rule and
// reserves the amount while recording the follow-up RECEIVED; the processor is called with no
// transaction open; the second write completes it or, on failure, releases the reservation.
func (s *Service) drawOn(ctx context.Context, p *vault.Principal, op string, ty Type, f FollowUp) (*Transaction, error) {
	loc := f.Location
	if loc == nil || loc.MerchantID != p.MerchantID() || !p.CanReach(loc.ID) {
		return nil, vault.E(op, vault.Forbidden)
	}
	if f.Amount < 0 || f.Amount > MaxAmount {
		return nil, vault.E(op, vault.Invalid, vault.Field("amount"), vault.ErrFormat)
	}
	if f.Extras != nil && !json.Valid(f.Extras) {
		return nil, vault.E(op, vault.Internal, vault.ErrFormat)
	}
	// The parent's processor serves the follow-up; read it before any transaction opens.
	first, err := s.store.GetTransaction(ctx, p.MerchantID(), f.ParentID)
	if err != nil {
		return nil, vault.E(op, err)
	}
	if !s.visible(p, first, loc.ID, parentTypes[ty]) {
		return nil, vault.E(op, vault.NotFound, vault.ID(f.ParentID))
	}
	name := ""
	if first.ProductTransactionID != "" {
		if pt, err := s.store.GetProductTransaction(ctx, p.MerchantID(), first.ProductTransactionID); err == nil {
			name = pt.Processor
		}
	}
	proc, err := s.processor(p.Merchant, name)
	if err != nil {
		return nil, vault.E(op, err)
	}

	var t *Transaction
	err = s.write(ctx, func(tx Tx) error {
		t = nil
		now := s.Now()
		if f.DupCheck && f.MerchantRefNum != "" {
			if err := s.checkRef(ctx, tx, p, loc, ty, f.MerchantRefNum); err != nil {
				return err
			}
		}
		parent, err := tx.LockTransaction(ctx, p.MerchantID(), f.ParentID)
		if err != nil {
			return err
		}
		if !s.visible(p, parent, loc.ID, parentTypes[ty]) {
			return vault.E(vault.NotFound, vault.ID(f.ParentID))
		}
		parent.applyBatch(now)
		amount, err := s.drawRule(ctx, tx, ty, parent, f.Amount)
		if err != nil {
			return err
		}
		profileID, err := payer(ctx, tx, p, loc, f.ProfileID, parent.ProfileID)
		if err != nil {
			return err
		}
		parent.Available -= amount
		parent.Modified = now
		if err := tx.UpdateTransaction(ctx, parent); err != nil {
			return err
		}
		nt := &Transaction{
			ID: vault.NewID(), MerchantID: p.MerchantID(), LocationID: loc.ID, AccountNumber: loc.AccountNumber,
			API: f.API, Type: ty, Status: StatusReceived, ParentID: parent.ID, MerchantRefNum: f.MerchantRefNum,
			APIID: f.APIID, OrderNum: f.OrderNum, Amount: amount, Currency: parent.Currency,
			PaymentMethod: parent.PaymentMethod, InstrumentID: parent.InstrumentID, ProfileID: profileID,
			ProductTransactionID: parent.ProductTransactionID, Card: parent.Card, RoutingNumber: parent.RoutingNumber,
			AccountType: parent.AccountType, ACHSecCode: parent.ACHSecCode, Billing: parent.Billing,
			Customer: parent.Customer, Extras: f.Extras, Node: s.cfg.Node, TxnTime: now, Created: now, Modified: now,
		}
		if p.User != nil {
			nt.CreatedUserID = p.User.ID
		}
		if err := insertReceived(ctx, tx, nt, true); err != nil {
			return err
		}
		t = nt
		return nil
	})
	if err != nil {
		return nil, vault.E(op, err)
	}
	idempotency.Made(ctx, t.ID)
	out, perr := s.call(ctx, proc, &Request{
		API: f.API, TransactionID: t.ID, Type: ty, Amount: t.Amount, Currency: t.Currency,
		PaymentMethod: t.PaymentMethod, Brand: t.Card.Brand,
	})
	done, err := s.record(ctx, t, out, perr, hooks{}, false)
	if err != nil {
		return nil, vault.E(op, &inFlight{id: t.ID, err: err})
	}
	return done, nil
}

// drawRule checks what a follow-up of type ty may take from its locked parent and returns
// the amount it takes (everything available when asked for 0).
func (s *Service) drawRule(ctx context.Context, tx Tx, ty Type, parent *Transaction, amount int64) (int64, error) {
	switch ty {
	case TypeSettlement:
		if !parent.Approved() {
			return 0, vault.E(vault.Conflict, ErrNotApproved)
		}
		if parent.Available == 0 {
			return 0, vault.E(vault.Conflict, ErrNothingLeft)
		}
	case TypeVoid:
		if !parent.Approved() {
			return 0, vault.E(vault.Conflict, ErrNotApproved)
		}
		if parent.Available == 0 {
			kids, err := tx.ListChildren(ctx, parent.MerchantID, parent.ID)
			if err != nil {
				return 0, err
			}
			for _, k := range kids {
				if k.Type == TypeSettlement && k.Status != StatusFailed && k.Status != StatusCancelled {
					return 0, vault.E(vault.Conflict, ErrHasSettlements)
				}
			}
			return 0, vault.E(vault.Conflict, ErrNothingLeft)
		}
	case TypeRefund:
		if !parent.Approved() || parent.Available == 0 {
			return 0, vault.E(vault.Conflict, ErrNothingLeft)
		}
	}
	if amount == 0 {
		amount = parent.Available
	}
	if amount > parent.Available {
		return 0, vault.E(vault.Conflict, vault.Field("amount"), ErrExceedsAvailable)
	}
	return amount, nil
}

// Cancel cancels a PENDING settlement or refund (ty) in a location. A settlement can be
// cancelled only while it has no PENDING or COMPLETED refund; its amount goes back to its
// auth's available-to-settle and it has nothing left to refund. A refund's amount goes back
// to its parent's available-to-refund. Kinds: NotFound, Conflict (ErrNotPending).
func (s *Service) Cancel(ctx context.Context, p *vault.Principal, loc *vault.Location, id string, ty Type) (*Transaction, error) {
	const op = "payments.Cancel"
	if ty != TypeSettlement && ty != TypeRefund {
		return nil, vault.E(op, vault.Invalid, vault.Field("type"), vault.ErrFormat)
	}
	var out *Transaction
	err := s.write(ctx, func(tx Tx) error {
		out = nil
		now := s.Now()
		first, err := tx.GetTransaction(ctx, p.MerchantID(), id)
		if err != nil {
			return err
		}
		if !s.visible(p, first, loc.ID, []Type{ty}) {
			return vault.E(vault.NotFound, vault.ID(id))
		}
		parent, err := tx.LockTransaction(ctx, p.MerchantID(), first.ParentID)
		if err != nil {
			return err
		}
		cur, err := tx.LockTransaction(ctx, p.MerchantID(), id)
		if err != nil {
			return err
		}
		cur.applyBatch(now)
		if cur.Status != StatusPending {
			return vault.E(vault.Conflict, ErrNotPending)
		}
		if ty == TypeSettlement {
			kids, err := tx.ListChildren(ctx, p.MerchantID(), cur.ID)
			if err != nil {
				return err
			}
			for _, k := range kids {
				switch k.EffectiveStatus(now) {
				case StatusReceived, StatusPending, StatusCompleted:
					return vault.E(vault.Conflict, ErrNotPending)
				}
			}
		}
		parent.applyBatch(now)
		parent.Available += cur.Amount
		parent.Modified = now
		cur.Status, cur.Available, cur.CompletesAt, cur.Modified = StatusCancelled, 0, time.Time{}, now
		if err := tx.UpdateTransaction(ctx, parent); err != nil {
			return err
		}
		if err := tx.UpdateTransaction(ctx, cur); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return nil, vault.E(op, err)
	}
	return out, nil
}
