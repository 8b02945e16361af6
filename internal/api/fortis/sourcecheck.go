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
// coming anyway, the core is asked whether its write would refuse the source
// (payments.CheckSource: the same rules, through plain reads that store and consume
// nothing; a ticket is only peeked, and stays usable), and its error joins the others with
// the key and message the write gives it. A request without another error never reaches
// this check: the happy path reads nothing more.
//
// This file only maps: the request to the core's check, and the core's refusal to the
// source's field error. What the check cannot decide (the location, when location_id
// failed; the payment method or action, when they failed) the core leaves out, and an
// error reading the record reports nothing.

// reportSource adds the error of the source in field to e when the core would refuse it:
// only when e already holds a field's error (a 422 is coming) and field has none.
func (a *API) reportSource(ctx context.Context, p *vault.Principal, e *fieldErrors, field string, c payments.SourceCheck) {
	if len(e.msgs) == 0 || e.fault != nil || field == "" || e.failed(field) || a.opt.Payments == nil {
		return
	}
	if vault.KindOf(a.opt.Payments.CheckSource(ctx, p, c)) == vault.Invalid {
		e.add(field, msgInvalid(field))
	}
}

// reportVaultSource adds a vault create's source error to its other field errors.
func (a *API) reportVaultSource(ctx context.Context, p *vault.Principal, d *vaultDraft) {
	c := payments.SourceCheck{
		Token: d.src.Token, TokenKinds: d.src.TokenKinds, InstrumentID: d.src.InstrumentID, InstrumentAPIID: d.src.InstrumentAPIID,
		TransactionID: d.src.TransactionID, TransactionAPIID: d.src.TransactionAPIID, LocationID: d.in.LocationID, Use: payments.UseCopy,
		API: api,
	}
	if !d.errs.failed("payment_method") {
		c.PaymentMethod = paymentMethod(d.in.Kind)
	}
	a.reportSource(ctx, p, d.errs, d.srcField, c)
}

// reportTxnSource adds a transaction's source error to its other field errors.
func (a *API) reportTxnSource(ctx context.Context, p *vault.Principal, d *txnDraft) {
	c := payments.SourceCheck{
		Token: d.src.Token, TokenKinds: d.src.TokenKinds, InstrumentID: d.src.InstrumentID, InstrumentAPIID: d.src.InstrumentAPIID,
		TransactionID: d.src.TransactionID, TransactionAPIID: d.src.TransactionAPIID, PaymentMethod: d.method,
		API: api,
	}
	if d.loc != nil {
		c.LocationID = d.loc.ID
	}
	switch {
	case d.ty == payments.TypeRefund:
		c.Use, c.Refundable = payments.UseRefund, refundable
	case d.ty != "":
		c.Use = payments.UseCopy
	}
	a.reportSource(ctx, p, d.errs, d.srcField, c)
}
