package payments

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/token"
	"github.com/payvault/payvault/internal/vault"
)

// MaxAmount is the largest amount, in minor units, the core accepts. Vendor APIs apply their
// own, smaller limits.
const MaxAmount = 99_999_999_999

// Source says where an authorization's account data comes from. The first set field wins, in
// this order: Token, InstrumentID, InstrumentAPIID, TransactionID, TransactionAPIID, Number.
type Source struct {
	// Token is a payment token: C… (a vault card), P… (its profile's default card) or a
	// one-time token of TokenKinds (an SC… single-use token, a Fortis ticket). An authorization
	// consumes a one-time token; a verification only reads it.
	Token      string
	TokenKinds []string

	InstrumentID    string // InstrumentID is a vaulted instrument's id (Fortis account_vault_id).
	InstrumentAPIID string // InstrumentAPIID is a vaulted instrument's api id in the transaction's location.

	TransactionID    string // TransactionID reuses the account data of an earlier transaction.
	TransactionAPIID string // TransactionAPIID names that transaction by its api id in the location.

	Number        string      // Number is a raw PAN or bank account number.
	Expiry        card.Expiry // Expiry goes with a raw PAN.
	HolderName    string
	RoutingNumber string // RoutingNumber goes with a raw bank account.
	AccountType   string
	ACHSecCode    string

	CVV string // CVV may accompany any card source.

	// Brand is the brand the calling API's own table gives a raw PAN; empty lets the product's
	// table decide (ErrBrand when it has none). An API with brands of its own (Paysafe's Solo)
	// sets it, so that a number it accepts is not refused by a table without them.
	Brand card.Brand

	// Peek reads a one-time token without consuming it: the transaction is a check that
	// precedes the token's real use (a Fortis run_avs before the vault create that consumes it).
	Peek bool

	// SameLocation requires a vaulted instrument or earlier transaction to be in the
	// transaction's location (Fortis). Without it a merchant's vault tokens work in all its
	// accounts (Paysafe).
	SameLocation bool
}

// AuthRequest is an authorization-like transaction: an auth, a sale, a verification, an
// AVS-only check or a debit.
type AuthRequest struct {
	API      string          // API names the calling vendor API.
	Type     Type            // Type is TypeAuth, TypeSale, TypeVerification, TypeAVSOnly or TypeDebit.
	Location *vault.Location // Location is the account the transaction runs in.
	Amount   int64           // Amount is in minor units; ignored for verifications and AVS-only checks.
	// SettleWithAuth settles an approved auth at once: a PENDING settlement of the whole
	// amount is created with it.
	SettleWithAuth bool
	// Step marks a check run as one step of another request (a Fortis vault's run_avs), whose
	// answer is not the transaction's: the request's Idempotency-Key is not bound to it
	// (insertReceived), and a retry of the request may run it again.
	Step           bool
	MerchantRefNum string
	// DupCheck refuses a MerchantRefNum already used in the account for the same type
	// (ErrDuplicateRef, Conflict).
	DupCheck             bool
	APIID                string // APIID is unique per location (Conflict, Field api_id).
	OrderNum             string
	ProductTransactionID string // ProductTransactionID picks the merchant service; its processor, auto_decline_cvv and vt_require_* apply.
	PaymentMethod        string // PaymentMethod is MethodCard (the default) or MethodACH.
	Source               Source
	Billing              *Billing // Billing overrides the instrument's billing address.
	// BillingMerge applies only Billing's non-empty fields over the source's address instead
	// of replacing it (Fortis: request fields override a vault's or ticket's).
	BillingMerge bool
	// ProfileID names the payer's profile; it overrides the vaulted instrument's and must be
	// a profile in the transaction's location (Invalid, Field profile_id).
	ProfileID string
	// AcceptExpired leaves an expired card to the processor instead of refusing it (the
	// Fortis sandbox accepts any expiry; a live processor declines).
	AcceptExpired bool
	Extras        json.RawMessage
	// AfterApproval runs inside the write transaction that completes an approved transaction,
	// before the transaction is written, so it may set t.InstrumentID (an instrument it
	// created from the transaction, Fortis save_account) and t.Extras. When it fails with Kind
	// Invalid, Conflict or NotFound its writes are rolled back and the transaction is
	// completed without it, so the processor's answer is never lost; the callback knows it
	// failed. Any other error leaves the transaction RECEIVED for Recover. It may run more
	// than once (a retried write) and must reset what it records on each run.
	AfterApproval func(ctx context.Context, tx Tx, t *Transaction) error
	// AfterResolved runs instead, inside the write that finds the transaction completed
	// already, with the transaction as stored: an earlier completion whose COMMIT's answer
	// was lost (its AfterApproval's writes are stored, though a later run of it was rolled
	// back), or Recover (which runs no AfterApproval). It reads there what a committed run
	// of AfterApproval left (recorded in t.Extras, say), so that the caller's answer needs no
	// read after the commit and shows no record a rolled-back run made. It may run more than
	// once, and its error is the store's (the completion is tried again or left in flight).
	AfterResolved func(ctx context.Context, tx Tx, t *Transaction) error
	// Unlinked records the transaction with no InstrumentID whatever its source: a check run
	// for a vault that does not exist yet (a Fortis vault create's run_avs), which names no
	// vault, not even the one its account data came from.
	Unlinked bool
}

// resolved is an authorization's account data after the source is resolved.
type resolved struct {
	number     string
	cvv        string
	instrument *vault.Instrument
	// linked is the instrument an earlier transaction source names: the account data is the
	// earlier transaction's, and so is the vault it belongs to.
	linked    string
	snapshot  CardSnapshot
	routing   string
	acctType  string
	secCode   string
	billing   *Billing
	customer  *vault.Customer
	profileID string
}

// Authorize runs an authorization-like transaction. The returned transaction is final:
// COMPLETED or PENDING when approved, FAILED (with Decision, Code and ErrorCode) when declined
// or faulted. An error means the request was refused before it was recorded (nothing was
// stored and no token consumed) or could not be completed; Kinds: Invalid (Field token with
// vault.ErrUnusable or vault.ErrNoDefaultCard; number, expiry or cvv; billing_street or
// billing_zip with vault.ErrRequired when the service's vt_require_* flag asks for a field that
// the card transaction's billing, the source's with Billing applied, lacks), Conflict
// (ErrDuplicateRef; Field api_id), NotFound, Unavailable (vault.ErrNotConfigured), Internal.
func (s *Service) Authorize(ctx context.Context, p *vault.Principal, req AuthRequest) (*Transaction, error) {
	const op = "payments.Authorize"
	if !req.Type.isAuthorization() {
		return nil, vault.E(op, vault.Invalid, vault.Field("type"), vault.ErrFormat)
	}
	loc := req.Location
	if loc == nil || loc.MerchantID != p.MerchantID() || !p.CanReach(loc.ID) {
		return nil, vault.E(op, vault.Forbidden)
	}
	if req.PaymentMethod == "" {
		req.PaymentMethod = MethodCard
	}
	if (req.PaymentMethod == MethodACH) != (req.Type == TypeDebit) {
		return nil, vault.E(op, vault.Invalid, vault.Field("payment_method"), vault.ErrFormat)
	}
	if !req.Type.hasAmount() {
		req.Amount = 0
	} else if req.Amount < 1 || req.Amount > MaxAmount {
		return nil, vault.E(op, vault.Invalid, vault.Field("amount"), vault.ErrFormat)
	}
	if req.Extras != nil && !json.Valid(req.Extras) {
		return nil, vault.E(op, vault.Internal, errors.New("extras are not JSON"))
	}
	autoDeclineCVV := false
	var need requiredBilling
	procName := ""
	if req.ProductTransactionID != "" {
		pt, err := s.store.GetProductTransaction(ctx, p.MerchantID(), req.ProductTransactionID)
		if err != nil || pt.LocationID != loc.ID || !pt.Active || pt.PaymentMethod != req.PaymentMethod {
			if err == nil || vault.KindOf(err) == vault.NotFound {
				return nil, vault.E(op, vault.Invalid, vault.Field("product_transaction_id"), vault.ErrUnusable)
			}
			return nil, vault.E(op, err)
		}
		autoDeclineCVV, procName = pt.AutoDeclineCVV == 1, pt.Processor
		if req.PaymentMethod == MethodCard {
			need = requiredBilling{street: pt.VTRequireStreet, zip: pt.VTRequireZip}
		}
	}
	proc, err := s.processor(p.Merchant, procName)
	if err != nil {
		return nil, vault.E(op, err)
	}

	// Any source but a one-time token (which the write consumes) is resolved before the
	// write, unless the store reads more cheaply inside its writes (SQLite: its one write
	// connection keeps its page cache, a read connection drops its own at every commit). A
	// vault instrument, a profile's default card or an earlier transaction is reusable:
	// reading it is no uniqueness or money rule, and the write path is serial, so on
	// PostgreSQL, where each statement of a write is a round trip its whole batch waits out,
	// its reads are better done here, side by side. The auth is then ordered as of this read:
	// a card deleted meanwhile is like one deleted just after the auth. Under dupCheck a
	// source's error waits for the write, so that a request failing both reports the
	// reference first. A store that reads ahead (TokenReadsAhead) reads a card token's
	// instrument in the write instead, in one statement with its batch's other such reads
	// (vault.WithTokenRead): one statement a batch instead of one an auth (on PostgreSQL,
	// one round trip).
	var pre *resolved
	var preErr error
	wctx := ctx
	switch {
	case s.ahead && token.Parse(req.Source.Token).Instrument():
		wctx = vault.WithTokenRead(ctx, req.Source.Token)
	case s.early:
		pre, preErr = s.resolve(ctx, s.store, nil, p, loc, &req, s.Now())
		if preErr != nil && !(req.DupCheck && req.MerchantRefNum != "") {
			return nil, vault.E(op, preErr)
		}
	}

	// First write: validate, consume, record RECEIVED.
	var t *Transaction
	var preq *Request
	verified := false // the vault card was VERIFIED when read
	err = s.write(wctx, func(tx Tx) error {
		t, preq, verified = nil, nil, false
		now := s.Now()
		if req.DupCheck && req.MerchantRefNum != "" {
			if err := s.checkRef(ctx, tx, p, loc, req.Type, req.MerchantRefNum); err != nil {
				return err
			}
		}
		res, err := pre, preErr
		if res == nil && err == nil {
			res, err = s.resolve(ctx, tx, tx, p, loc, &req, now)
		}
		if err != nil {
			return err
		}
		if err := need.check(res.billing); err != nil {
			return err
		}
		nt := &Transaction{
			ID: vault.NewID(), MerchantID: p.MerchantID(), LocationID: loc.ID, AccountNumber: loc.AccountNumber,
			API: req.API, Type: req.Type, Status: StatusReceived, MerchantRefNum: req.MerchantRefNum,
			APIID: req.APIID, OrderNum: req.OrderNum, Amount: req.Amount, Currency: loc.Currency,
			SettleWithAuth: req.SettleWithAuth && req.Type == TypeAuth, PaymentMethod: req.PaymentMethod,
			ProfileID: res.profileID, ProductTransactionID: req.ProductTransactionID, Card: res.snapshot,
			RoutingNumber: res.routing, AccountType: res.acctType, ACHSecCode: res.secCode,
			Billing: res.billing, Customer: res.customer, Extras: req.Extras,
			Node: s.cfg.Node, TxnTime: now, Created: now, Modified: now,
		}
		switch {
		case req.Unlinked:
		case res.instrument != nil:
			nt.InstrumentID = res.instrument.ID
			verified = res.instrument.Verified()
		default:
			nt.InstrumentID = res.linked
		}
		if req.ProfileID != "" {
			if nt.ProfileID, err = payer(ctx, tx, p, loc, req.ProfileID, ""); err != nil {
				return err
			}
		}
		if p.User != nil {
			nt.CreatedUserID = p.User.ID
		}
		if err := s.sealNumber(nt, res.number); err != nil {
			return err
		}
		if err := insertReceived(ctx, tx, nt, !req.Step); err != nil {
			return err
		}
		t = nt
		preq = &Request{
			API: req.API, TransactionID: nt.ID, Type: nt.Type, Amount: nt.Amount, Currency: nt.Currency,
			PaymentMethod: nt.PaymentMethod, Brand: nt.Card.Brand, Number: res.number, ExpMonth: nt.Card.ExpMonth,
			ExpYear: nt.Card.ExpYear, CVV: res.cvv, RoutingNumber: nt.RoutingNumber, AutoDeclineCVV: autoDeclineCVV,
		}
		if nt.Billing != nil {
			preq.Billing = *nt.Billing
		}
		return nil
	})
	if err != nil {
		return nil, vault.E(op, err)
	}
	if !req.Step {
		idempotency.Made(ctx, t.ID)
	}

	// The processor call, with no database transaction open. A client that goes away does
	// not cut it short: the answer is recorded either way.
	out, perr := s.call(ctx, proc, preq)
	preq.Number, preq.CVV = "", ""

	// Second write: complete. A refused AfterApproval does not lose the answer: the
	// transaction is completed without it.
	h := hooks{after: req.AfterApproval, resolved: req.AfterResolved}
	done, err := s.record(ctx, t, out, perr, h, verified)
	var af *afterFailed
	if errors.As(err, &af) && slices.Contains([]vault.Kind{vault.Invalid, vault.Conflict, vault.NotFound}, vault.KindOf(af.err)) {
		h.after = nil
		done, err = s.record(ctx, t, out, perr, h, verified)
	}
	if err != nil {
		return nil, vault.E(op, &inFlight{id: t.ID, err: err})
	}
	return done, nil
}

// linkProfile gives res the payer of the earlier transaction prev, as a refund of prev has
// it, while that profile exists: a deleted one stays on prev but is not passed on.
func linkProfile(ctx context.Context, r reader, p *vault.Principal, res *resolved, prev *Transaction) error {
	id, err := payer(ctx, r, p, nil, "", prev.ProfileID)
	if id != "" {
		res.profileID, res.customer = id, prev.Customer
	}
	return err
}

// payer returns the profile a new transaction in loc names: named, which must be a profile
// of loc (Invalid, Field profile_id), or else inherited (an earlier transaction's) while that
// profile exists, so that a deleted profile stays on the earlier transaction only. loc may
// be nil when nothing is named.
func payer(ctx context.Context, r reader, p *vault.Principal, loc *vault.Location, named, inherited string) (string, error) {
	id := named
	if id == "" {
		id = inherited
	}
	if id == "" {
		return "", nil
	}
	prof, err := r.GetProfile(ctx, p.MerchantID(), id)
	switch {
	case err != nil && vault.KindOf(err) != vault.NotFound:
		return "", err
	case named == "" && err != nil:
		return "", nil
	case named != "" && (err != nil || prof.LocationID != loc.ID):
		return "", vault.E(vault.Invalid, vault.Field("profile_id"), vault.ErrUnusable, vault.ID(named))
	}
	return id, nil
}

// requiredBilling are the billing fields a merchant service's vt_require_* flags require.
type requiredBilling struct{ street, zip bool }

// check refuses a billing address that lacks a required field: the address the transaction
// carries, so a field that the vault, ticket or earlier transaction supplies is there.
func (r requiredBilling) check(b *Billing) error {
	var have Billing
	if b != nil {
		have = *b
	}
	var missing []error
	if r.street && have.Street == "" {
		missing = append(missing, vault.E(vault.Invalid, vault.Field("billing_street"), vault.ErrRequired))
	}
	if r.zip && have.Zip == "" {
		missing = append(missing, vault.E(vault.Invalid, vault.Field("billing_zip"), vault.ErrRequired))
	}
	return errors.Join(missing...) // each missing field, for an API that reports them all
}

// call runs one processor call under the processor timeout, detached from ctx's cancellation.
func (s *Service) call(ctx context.Context, proc Processor, r *Request) (*Outcome, error) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ProcessorTimeout)
	defer cancel()
	return proc.Process(pctx, r)
}

// mergeBilling returns base with every non-empty field of over applied.
func mergeBilling(base, over Billing) *Billing {
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&base.Street, over.Street}, {&base.Street2, over.Street2}, {&base.City, over.City},
		{&base.State, over.State}, {&base.Country, over.Country}, {&base.Zip, over.Zip}, {&base.Phone, over.Phone},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	return &base
}

// checkRef refuses a merchant reference already used in the account for the type (dupCheck).
// The key lock serialises concurrent checks of the same reference.
func (s *Service) checkRef(ctx context.Context, tx Tx, p *vault.Principal, loc *vault.Location, ty Type, ref string) error {
	if err := tx.LockKey(ctx, "ref|"+loc.AccountNumber+"|"+string(ty)+"|"+ref); err != nil {
		return err
	}
	n, err := tx.CountByRef(ctx, p.MerchantID(), loc.AccountNumber, ty, ref)
	if err != nil {
		return err
	}
	if n > 0 {
		return vault.E(vault.Conflict, vault.Field("merchant_ref_num"), ErrDuplicateRef)
	}
	return nil
}

// reader is what resolve reads through: a write transaction, or the store.
type reader interface {
	vault.Reader
	Reader
}

// resolve finds the account data of an authorization through r. A one-time token needs the
// write transaction tx, which consumes it unless the transaction is a verification; without
// tx (nil) resolve returns neither data nor error for one.
func (s *Service) resolve(ctx context.Context, r reader, tx Tx, p *vault.Principal, loc *vault.Location, req *AuthRequest, now time.Time) (*resolved, error) {
	src := req.Source
	wantKind := instrumentKind(req.PaymentMethod)
	res := &resolved{cvv: src.CVV}
	unusable := vault.E(vault.Invalid, vault.Field("token"), vault.ErrUnusable)
	switch {
	case src.Token != "":
		switch token.Parse(src.Token) {
		case token.Card, token.Bank:
			in, cust, err := r.GetInstrumentByTokenWithCustomer(ctx, p.MerchantID(), src.Token)
			if err != nil {
				if vault.KindOf(err) == vault.NotFound {
					return nil, unusable
				}
				return nil, err
			}
			if err := s.fromInstrument(ctx, r, p, loc, res, in, &cust, wantKind, src.SameLocation, "token"); err != nil {
				return nil, err
			}
		case token.Profile:
			prof, err := r.GetProfileBy(ctx, p.MerchantID(), "token", src.Token, "")
			if err != nil {
				if vault.KindOf(err) == vault.NotFound {
					return nil, unusable
				}
				return nil, err
			}
			if wantKind != vault.KindCard {
				return nil, unusable
			}
			cards, err := r.ListProfileInstruments(ctx, p.MerchantID(), prof.ID, vault.KindCard)
			if err != nil {
				return nil, err
			}
			var def *vault.Instrument
			for _, c := range cards {
				if c.DefaultCard {
					def = c
					break
				}
			}
			if def == nil {
				return nil, vault.E(vault.Invalid, vault.Field("token"), vault.ErrNoDefaultCard)
			}
			cust := vault.Customer{FirstName: prof.FirstName, LastName: prof.LastName, Email: prof.Email}
			if err := s.fromInstrument(ctx, r, p, loc, res, def, &cust, wantKind, src.SameLocation, "token"); err != nil {
				return nil, err
			}
		default:
			if len(src.TokenKinds) == 0 {
				return nil, unusable
			}
			if tx == nil {
				return nil, nil
			}
			if err := s.fromOneTimeToken(ctx, tx, p, loc, res, req, wantKind); err != nil {
				return nil, err
			}
		}
	case src.InstrumentID != "" || src.InstrumentAPIID != "":
		in, field, err := vault.SourceInstrument(ctx, r, p.MerchantID(), loc.ID, src.InstrumentID, src.InstrumentAPIID)
		if err != nil {
			return nil, err
		}
		if err := s.fromInstrument(ctx, r, p, loc, res, in, nil, wantKind, src.SameLocation, field); err != nil {
			return nil, err
		}
	case src.TransactionID != "" || src.TransactionAPIID != "":
		field := transactionField(src.TransactionID)
		locID := sourceLocation(loc.ID, src.SameLocation || src.TransactionID == "")
		prev, number, err := s.accountOf(ctx, r, p.MerchantID(), locID, src.TransactionID, src.TransactionAPIID)
		if err != nil {
			if vault.KindOf(err) == vault.NotFound {
				return nil, vault.E(vault.Invalid, vault.Field(field), vault.ErrUnusable)
			}
			return nil, err
		}
		if !copyable(p, prev, req.PaymentMethod, req.API) || number == "" {
			return nil, vault.E(vault.Invalid, vault.Field(field), vault.ErrUnusable)
		}
		res.number, res.snapshot, res.linked = number, prev.Card, prev.InstrumentID
		res.routing, res.acctType, res.secCode = prev.RoutingNumber, prev.AccountType, prev.ACHSecCode
		res.billing = prev.Billing
		if err := linkProfile(ctx, r, p, res, prev); err != nil {
			return nil, err
		}
	case src.Number != "":
		res.number = src.Number
		if wantKind == vault.KindCard {
			snap, err := rawCard(src.Number, src.Expiry, src.Brand)
			if err != nil {
				return nil, err
			}
			snap.HolderName = src.HolderName
			res.snapshot = snap
		} else {
			if err := vault.CheckRouting(p.Merchant, src.RoutingNumber); err != nil {
				return nil, err
			}
			if !card.Digits(src.Number) || len(src.Number) < 4 || len(src.Number) > 19 {
				return nil, vault.E(vault.Invalid, vault.Field("number"), vault.ErrFormat)
			}
			res.snapshot = CardSnapshot{LastFour: src.Number[len(src.Number)-4:], HolderName: src.HolderName}
			res.routing, res.acctType, res.secCode = src.RoutingNumber, src.AccountType, src.ACHSecCode
		}
	default:
		return nil, vault.E(vault.Invalid, vault.Field("number"), vault.ErrRequired)
	}
	if src.HolderName != "" {
		// The transaction keeps the holder name in the clear: never a card number.
		if err := vault.CheckName("holder_name", src.HolderName); err != nil {
			return nil, err
		}
		res.snapshot.HolderName = src.HolderName
	}
	if wantKind == vault.KindCard {
		exp := card.Expiry{Month: res.snapshot.ExpMonth, Year: res.snapshot.ExpYear}
		if exp.Expired(now) && !req.AcceptExpired {
			return nil, vault.E(vault.Invalid, vault.Field("expiry"), vault.ErrExpired)
		}
		if src.CVV != "" && (!card.Digits(src.CVV) || len(src.CVV) < 3 || len(src.CVV) > 4) {
			return nil, vault.E(vault.Invalid, vault.Field("cvv"), vault.ErrFormat)
		}
	}
	switch {
	case req.Billing == nil:
	case req.BillingMerge && res.billing != nil:
		res.billing = mergeBilling(*res.billing, *req.Billing)
	default:
		b := *req.Billing
		res.billing = &b
	}
	return res, nil
}
