package fortis

import (
	"context"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// This file reports a request's unusable account source together with its other field
// errors (§1.4: all failing fields at once). A source that names a record (a ticket, a
// vault, an earlier transaction) is resolved inside the core's write, which stays the
// authority, and that write only runs once every other field is valid. So when a 422 is
// coming anyway, the source is also read here, through plain reads that store and consume
// nothing (a ticket is only peeked, and stays usable), and its error joins the others with
// the key and message the write gives it. A request without another error never reaches
// this check: the happy path reads nothing more.
//
// The check reports only what the write would refuse. A part of the rule it cannot decide
// (the location, when location_id failed; the payment method or action, when they failed)
// is left out, and an error reading the record reports nothing.

// sourceUse is what a request does with an earlier transaction it names.
type sourceUse int

const (
	useUnknown sourceUse = iota // useUnknown: the action failed, so either use is possible.
	useCopy                     // useCopy copies its account data (a vault, a sale).
	useRefund                   // useRefund refunds it (an approved cc sale of this API).
)

// sourceRef is the record a request's source names, with what the write checks it against.
type sourceRef struct {
	field    string // field is the wire field of the source.
	ticket   string
	vaultID  string
	vaultAPI string
	txnID    string
	txnAPI   string
	loc      string // loc is the request's location ("" when location_id failed).
	kind     string // kind is the instrument kind asked for ("" when payment_method failed).
	use      sourceUse
}

// reportSource adds ref's error to e when the write would refuse the source: only when e
// already holds a field's error (a 422 is coming) and the source's own field has none.
func (a *API) reportSource(ctx context.Context, p *vault.Principal, e *fieldErrors, ref sourceRef) {
	if len(e.msgs) == 0 || e.fault != nil || ref.field == "" || e.failed(ref.field) {
		return
	}
	if a.sourceUnusable(ctx, p, ref) {
		e.add(ref.field, msgInvalid(ref.field))
	}
}

// sourceUnusable reports whether the write would refuse ref, as far as plain reads decide.
func (a *API) sourceUnusable(ctx context.Context, p *vault.Principal, ref sourceRef) bool {
	switch {
	case ref.ticket != "":
		// A ticket is lower-cased, so it never parses as a Paysafe token: the write looks it
		// up as a one-time token, as PeekToken does, and consumes it.
		_, _, err := a.svc.PeekToken(ctx, a.svc.Store(), p, ref.ticket, ref.loc, vault.TokenTicket)
		return vault.KindOf(err) == vault.Invalid
	case ref.vaultID != "" || ref.vaultAPI != "":
		var in *vault.Instrument
		var err error
		switch {
		case ref.vaultID != "":
			in, err = a.svc.GetInstrument(ctx, p, ref.vaultID)
		case ref.loc != "":
			in, err = a.svc.Store().GetInstrumentByAPIID(ctx, p.MerchantID(), ref.loc, ref.vaultAPI)
		default:
			return false
		}
		if err != nil {
			return vault.KindOf(err) == vault.NotFound
		}
		return !in.Active() || !p.CanReach(in.LocationID) || (ref.loc != "" && in.LocationID != ref.loc) ||
			(ref.kind != "" && in.Kind != ref.kind)
	case (ref.txnID != "" || ref.txnAPI != "") && a.opt.Payments != nil:
		var t *payments.Transaction
		var err error
		switch {
		case ref.txnID != "":
			t, err = a.opt.Payments.Get(ctx, p, ref.loc, ref.txnID)
		case ref.loc != "":
			t, err = a.opt.Payments.GetByAPIID(ctx, p, ref.loc, ref.txnAPI)
		default:
			return false
		}
		if err != nil {
			return vault.KindOf(err) == vault.NotFound
		}
		switch ref.use {
		case useRefund:
			return !refundable(t)
		case useCopy:
			// A transaction with no number of its own has its parent's, which is not read here.
			noNumber := len(t.Sealed.Number) == 0 && t.ParentID == ""
			return noNumber || (ref.kind != "" && t.PaymentMethod != paymentMethod(ref.kind))
		}
	}
	return false
}

// reportVaultSource adds a vault create's source error to its other field errors.
func (a *API) reportVaultSource(ctx context.Context, p *vault.Principal, d *vaultDraft) {
	ref := sourceRef{
		field: d.srcField, ticket: d.src.Token, vaultID: d.src.InstrumentID, vaultAPI: d.src.InstrumentAPIID,
		txnID: d.src.TransactionID, txnAPI: d.src.TransactionAPIID, loc: d.in.LocationID, use: useCopy,
	}
	if !d.errs.failed("payment_method") {
		ref.kind = d.in.Kind
	}
	a.reportSource(ctx, p, d.errs, ref)
}

// reportTxnSource adds a transaction's source error to its other field errors.
func (a *API) reportTxnSource(ctx context.Context, p *vault.Principal, d *txnDraft) {
	ref := sourceRef{
		field: d.srcField, ticket: d.src.Token, vaultID: d.src.InstrumentID, vaultAPI: d.src.InstrumentAPIID,
		txnID: d.src.TransactionID, txnAPI: d.src.TransactionAPIID,
	}
	if d.loc != nil {
		ref.loc = d.loc.ID
	}
	switch d.method {
	case payments.MethodCard:
		ref.kind = vault.KindCard
	case payments.MethodACH:
		ref.kind = vault.KindACH
	}
	switch {
	case d.ty == payments.TypeRefund:
		ref.use = useRefund
	case d.ty != "":
		ref.use = useCopy
	}
	a.reportSource(ctx, p, d.errs, ref)
}
