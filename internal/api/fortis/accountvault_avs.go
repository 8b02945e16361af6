package fortis

import (
	"context"
	"errors"
	"net/http"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// This file runs §2.5's run_avs: an avsonly transaction on the location's default cc service
// before a cc vault is stored.
//
// The payments core never holds a database transaction open across a processor call (a
// crash or a slow processor must not pin locks or lose the answer), so the check cannot run
// inside the vault create's transaction, as a vault.CreateOptions.Before would. The flow is
// the core's own three steps instead:
//
//  1. The avsonly is recorded RECEIVED in a short write. Its account data comes from the
//     vault's source, read but not consumed: a ticket is only peeked (payments.Source.Peek),
//     so a failed check leaves it usable.
//  2. The processor is called with no transaction open.
//  3. The write that completes the avsonly also creates the vault (AuthRequest.AfterApproval),
//     consuming the ticket there: the vault exists exactly when the check passed, and a
//     concurrent use of the same ticket makes one of the two creates fail. A declined check
//     completes the avsonly (301, reason 1655) and creates nothing; the answer is 422
//     run_avs "Account Verification failed". When the vault's own rules refuse it at that
//     point (the ticket was used meanwhile), the core completes the avsonly without it and
//     the answer is that 422.
//
// A crash between 1 and 3 leaves the avsonly RECEIVED; payments.Service.Recover fails it
// later, and no vault was stored. Either way the avsonly is recorded and can be listed, with
// type_id 21, amount 0.00 and account_vault_id null (§2.5's decision).

// errAVSUnrecorded is why a vault create whose run_avs check could not be recorded answers
// 503.
var errAVSUnrecorded = errors.New("fortis: run_avs: the check's outcome could not be recorded")

// msgVerificationFailed is the fixed text of a failed run_avs (§1.4).
const msgVerificationFailed = "Account Verification failed"

// avsService returns the cc service a vault create's run_avs runs on, or nil when the check
// does not apply: ach vaults, run_avs false, or run_avs absent and the location's default cc
// service without run_avs_on_accountvault_create. run_avs true without a cc service is 422.
func (a *API) avsService(ctx context.Context, p *vault.Principal, d *vaultDraft) (*vault.Location, *vault.ProductTransaction, error) {
	if a.opt.Payments == nil || d.in.Kind != vault.KindCard || (d.runAVS != nil && !*d.runAVS) {
		return nil, nil, nil
	}
	loc := d.loc // read when the body's location_id was checked
	var err error
	if loc == nil || loc.ID != d.in.LocationID {
		if loc, err = a.svc.Location(ctx, p.MerchantID(), d.in.LocationID); err != nil {
			return nil, nil, err
		}
	}
	var pt *vault.ProductTransaction
	if loc.DefaultCC != "" {
		pt, err = a.svc.ProductTransaction(ctx, p.MerchantID(), loc.DefaultCC)
		if err != nil && vault.KindOf(err) != vault.NotFound {
			return nil, nil, err
		}
		if pt != nil && !pt.Active {
			pt = nil
		}
	}
	switch {
	case d.runAVS == nil && (pt == nil || !pt.RunAVSOnCreate):
		return nil, nil, nil
	case pt == nil:
		return nil, nil, invalid(vaultFieldOrder, "product_transaction_id", msgRequired("product_transaction_id"))
	}
	return loc, pt, nil
}

// createVaultWithAVS runs the avsonly, and creates the vault in the write that completes it
// when it passes (see the file comment).
func (a *API) createVaultWithAVS(ctx context.Context, p *vault.Principal, d *vaultDraft, loc *vault.Location, pt *vault.ProductTransaction) (*vault.Instrument, error) {
	src := payments.Source{
		Number: d.src.Number, Expiry: d.src.Expiry, HolderName: d.in.HolderName,
		Token: d.src.Token, TokenKinds: d.src.TokenKinds, Peek: true,
		InstrumentID: d.src.InstrumentID, InstrumentAPIID: d.src.InstrumentAPIID,
		TransactionID: d.src.TransactionID, TransactionAPIID: d.src.TransactionAPIID,
		SameLocation: true,
	}
	var created *vault.Instrument
	var createErr error
	resolved := false // the completion found the avsonly completed already
	t, err := a.opt.Payments.Authorize(ctx, p, payments.AuthRequest{
		API: api, Type: payments.TypeAVSOnly, Location: loc, ProductTransactionID: pt.ID,
		PaymentMethod: payments.MethodCard, Source: src, OrderNum: a.orderNum(), ProfileID: d.in.ProfileID,
		Billing:      &payments.Billing{Street: d.in.BillingStreet, Zip: d.in.BillingZip},
		BillingMerge: true, AcceptExpired: true, Extras: payments.EncodeExtras(txnExtras{VaultCheck: true}), Step: true, Unlinked: true,
		AfterApproval: func(ctx context.Context, tx payments.Tx, t *payments.Transaction) error {
			created, createErr = nil, nil
			v, err := a.svc.CreateInstrumentIn(ctx, tx, p, &d.in, d.src, vault.CreateOptions{Before: d.before})
			if err != nil {
				createErr = err
				return err
			}
			created = v
			t.Extras = payments.EncodeExtras(txnExtras{VaultCheck: true, VaultID: v.ID})
			return nil
		},
		// A completion whose COMMIT's answer was lost is tried again, and that run of
		// AfterApproval is rolled back: the vault is the one the committed run stored,
		// read in the write that finds the avsonly completed, not after it.
		AfterResolved: func(ctx context.Context, tx payments.Tx, t *payments.Transaction) error {
			created, createErr, resolved = nil, nil, true
			id := payments.DecodeExtras[txnExtras](t).VaultID
			if id == "" {
				return nil // Recover completed it, with no vault
			}
			v, err := tx.GetInstrument(ctx, p.MerchantID(), id)
			if err != nil {
				return err
			}
			created = v
			return nil
		},
	})
	switch {
	case errors.Is(err, payments.ErrInFlight):
		// The check's outcome could not be recorded (the database went away during it), so
		// no vault was stored and recovery will fail the avsonly. It moved no money, so
		// unlike a payment it may run again: the 503 is not kept for the Idempotency-Key, and
		// a retry with the same key runs the whole create again instead of getting this 503
		// for the key's 24 hours.
		return nil, vault.E(vault.Unavailable, errAVSUnrecorded)
	case err != nil:
		return nil, err
	case !t.Approved():
		return nil, invalid(vaultFieldOrder, "run_avs", msgVerificationFailed)
	case created == nil && createErr != nil:
		return nil, createErr
	case created == nil && resolved:
		// Recover completed the check (the node's own completion was late) and made no
		// vault: nothing is stored, a retry runs the create again.
		return nil, vault.E(vault.Unavailable, errAVSUnrecorded)
	case created == nil:
		return nil, invalid(vaultFieldOrder, "run_avs", msgVerificationFailed)
	}
	return created, nil
}

// createVault stores a validated vault create, with run_avs's check first when it applies.
func (a *API) createVault(r *http.Request, p *vault.Principal, d *vaultDraft) (*vault.Instrument, error) {
	ctx := r.Context()
	loc, pt, err := a.avsService(ctx, p, d)
	if err != nil {
		return nil, err
	}
	if pt != nil {
		return a.createVaultWithAVS(ctx, p, d, loc, pt)
	}
	return a.svc.CreateInstrument(ctx, p, &d.in, d.src, vault.CreateOptions{Before: d.before})
}
