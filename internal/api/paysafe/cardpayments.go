package paysafe

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// api is the name the payments core records for this API's transactions; the sandbox picks
// the Paysafe trigger table by it.
const api = "paysafe"

// cardPaymentRoutes registers the Card Payments API (§2.12–§2.17). Every route needs a server
// credential, and {acct} must be an account of the credential's merchant.
func (a *API) cardPaymentRoutes() {
	const base = "/cardpayments/v1/accounts/{acct}"
	a.handle(http.MethodPost, base+"/auths", serverOnly, a.handleAuthCreate)
	a.handle(http.MethodGet, base+"/auths", serverOnly, a.listHandler(payments.TypeAuth, "auths"))
	a.handle(http.MethodGet, base+"/auths/{id}", serverOnly, a.handleAuthGet)
	a.handle(http.MethodPut, base+"/auths/{id}", serverOnly, a.handleAuthUpdate)
	a.handle(http.MethodPost, base+"/auths/{id}/settlements", serverOnly, a.handleSettlementCreate)
	a.handle(http.MethodPost, base+"/auths/{id}/voidauths", serverOnly, a.handleVoidAuthCreate)
	a.handle(http.MethodGet, base+"/settlements", serverOnly, a.listHandler(payments.TypeSettlement, "settlements"))
	a.handle(http.MethodGet, base+"/settlements/{id}", serverOnly, a.handleSettlementGet)
	a.handle(http.MethodPut, base+"/settlements/{id}", serverOnly, a.handleSettlementCancel)
	a.handle(http.MethodPost, base+"/settlements/{id}/refunds", serverOnly, a.handleRefundCreate)
	a.handle(http.MethodGet, base+"/voidauths", serverOnly, a.listHandler(payments.TypeVoid, "voidAuths"))
	a.handle(http.MethodGet, base+"/voidauths/{id}", serverOnly, a.getHandler(payments.TypeVoid))
	a.handle(http.MethodGet, base+"/refunds", serverOnly, a.listHandler(payments.TypeRefund, "refunds"))
	a.handle(http.MethodGet, base+"/refunds/{id}", serverOnly, a.getHandler(payments.TypeRefund))
	a.handle(http.MethodPut, base+"/refunds/{id}", serverOnly, a.handleRefundCancel)
	a.handle(http.MethodPost, base+"/verifications", serverOnly, a.handleVerificationCreate)
	a.handle(http.MethodGet, base+"/verifications", serverOnly, a.listHandler(payments.TypeVerification, "verifications"))
	a.handle(http.MethodGet, base+"/verifications/{id}", serverOnly, a.getHandler(payments.TypeVerification))
}

// account returns the {acct} of the request when the credential's merchant owns it (403/5270
// otherwise).
func (a *API) account(r *http.Request, p *vault.Principal) (*vault.Location, error) {
	return a.cfg.Payments.Account(r.Context(), p, r.PathValue("acct"))
}

// handleAuthCreate answers POST /cardpayments/v1/accounts/{acct}/auths: 200 approved, 402
// declined, 500 simulated fault, each with the transaction stored.
func (a *API) handleAuthCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.authorize(w, r, p, payments.TypeAuth)
}

// handleVerificationCreate answers POST /cardpayments/v1/accounts/{acct}/verifications. A
// verification never consumes a single-use token.
func (a *API) handleVerificationCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.authorize(w, r, p, payments.TypeVerification)
}

// authorize runs an auth or a verification.
func (a *API) authorize(w http.ResponseWriter, r *http.Request, p *vault.Principal, ty payments.Type) error {
	loc, err := a.account(r, p)
	if err != nil {
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return err
	}
	in := a.readAuth(o, ty == payments.TypeVerification)
	stub := &payments.Transaction{API: api, Type: ty, MerchantRefNum: in.ref, Amount: in.amount,
		SettleWithAuth: in.settleWithAuth}
	if err := o.errs.err(); err != nil {
		return a.failTxn(w, r, p, loc, stub, in.extras, err)
	}
	if in.card.noBrand {
		return a.failTxn(w, r, p, loc, stub, in.extras, newError("3002"))
	}
	t, err := a.cfg.Payments.Authorize(r.Context(), p, payments.AuthRequest{
		API: api, Type: ty, Location: loc, Amount: in.amount, SettleWithAuth: in.settleWithAuth,
		MerchantRefNum: in.ref, DupCheck: in.dupCheck, Source: in.card.source(), Billing: in.billing,
		Extras: payments.EncodeExtras(in.extras),
	})
	if err != nil {
		return a.failTxn(w, r, p, loc, stub, in.extras, a.paymentError(r, err, ty))
	}
	return a.writeTxnCreated(w, r, p, loc, t)
}

// writeTxnCreated answers the request that created t, once t has its outcome: declined or
// failed in the card-payment error envelope, otherwise the transaction. It writes nothing
// when it fails.
func (a *API) writeTxnCreated(w http.ResponseWriter, r *http.Request, p *vault.Principal, loc *vault.Location, t *payments.Transaction) error {
	if t.Status == payments.StatusFailed {
		return a.writeFailed(w, r, t)
	}
	var body any
	switch t.Type {
	case payments.TypeAuth:
		// An auth Authorize returned carries its settlement (Settled), so answering it needs
		// no read after its commit; one read back (refreshTxn, a retry's answer) reads it.
		st := t.Settled
		if t.SettleWithAuth && st == nil {
			var err error
			if st, err = a.cfg.Payments.Settlement(r.Context(), p, loc.ID, t.ID); err != nil {
				return err
			}
		}
		body = a.toAuthJSON(r, t, st, renderCreate)
	case payments.TypeVerification:
		body = a.toVerificationJSON(r, t, renderCreate)
	default:
		body = a.toTxnJSON(r, t)
	}
	setTxnID(w, t.ID)
	writeOK(w, body)
	return nil
}

// refreshTxn is the idempotency.Refresh of card payments: a retry of a payment whose answer
// was kept while its outcome was open (the processor was called, the outcome not recorded)
// gets, once recovery has completed the transaction, the answer its request would have had.
// While the transaction is still RECEIVED, or cannot be read, it writes nothing and reports
// false, and the kept 503 is replayed.
func (a *API) refreshTxn(w http.ResponseWriter, r *http.Request, p *vault.Principal, id string) bool {
	loc, err := a.account(r, p)
	if err != nil {
		return false
	}
	t, err := a.cfg.Payments.Get(r.Context(), p, loc.ID, id)
	if err != nil || t.Status == payments.StatusReceived {
		return false
	}
	return a.writeTxnCreated(w, r, p, loc, t) == nil
}

// handleAuthGet answers GET /cardpayments/v1/accounts/{acct}/auths/{id}.
func (a *API) handleAuthGet(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.getHandler(payments.TypeAuth)(w, r, p)
}

// handleAuthUpdate answers PUT /cardpayments/v1/accounts/{acct}/auths/{id}: auths are never
// held, so completing or cancelling one is always 400/3031.
func (a *API) handleAuthUpdate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	loc, err := a.account(r, p)
	if err != nil {
		return err
	}
	if _, err := a.cfg.Payments.Get(r.Context(), p, loc.ID, r.PathValue("id"), payments.TypeAuth); err != nil {
		return err
	}
	return newError("3031")
}

// getHandler answers GET …/{auths|voidauths|refunds|verifications}/{id}: another account's or
// merchant's id is 404/5269.
func (a *API) getHandler(ty payments.Type) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		loc, err := a.account(r, p)
		if err != nil {
			return err
		}
		t, err := a.cfg.Payments.Get(r.Context(), p, loc.ID, r.PathValue("id"), ty)
		if err != nil {
			return err
		}
		if !ours(t) {
			return notOurs(t)
		}
		writeOK(w, a.toTxnJSON(r, t))
		return nil
	}
}

// ours reports whether t is part of this API's view of the core. A refund made through
// another API (a Fortis refund, drawn on a Fortis sale, which this API does not show) is not a
// Paysafe refund: it is neither shown nor cancelled here, as the Fortis API shows no Paysafe
// transaction. Auths are shared (a Fortis authonly is a Paysafe auth).
func ours(t *payments.Transaction) bool {
	return t.Type != payments.TypeRefund || t.API == api
}

// notOurs is the answer for a transaction that is not ours: the unknown id's 404/5269.
func notOurs(t *payments.Transaction) error {
	return vault.E("paysafe.transaction", vault.NotFound, vault.ID(t.ID))
}

// handleSettlementGet answers GET /cardpayments/v1/accounts/{acct}/settlements/{id}; a
// settlement made with its auth is found under the auth's id.
func (a *API) handleSettlementGet(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	loc, err := a.account(r, p)
	if err != nil {
		return err
	}
	t, err := a.cfg.Payments.Settlement(r.Context(), p, loc.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, a.toSettlementJSON(r, t))
	return nil
}

// handleSettlementCreate answers POST /cardpayments/v1/accounts/{acct}/auths/{id}/settlements.
func (a *API) handleSettlementCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.followUp(w, r, p, payments.TypeSettlement)
}

// handleVoidAuthCreate answers POST /cardpayments/v1/accounts/{acct}/auths/{id}/voidauths.
func (a *API) handleVoidAuthCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.followUp(w, r, p, payments.TypeVoid)
}

// handleRefundCreate answers POST /cardpayments/v1/accounts/{acct}/settlements/{id}/refunds.
func (a *API) handleRefundCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.followUp(w, r, p, payments.TypeRefund)
}

// followUp runs a settlement, a voidauth or a refund on the transaction in the path.
func (a *API) followUp(w http.ResponseWriter, r *http.Request, p *vault.Principal, ty payments.Type) error {
	loc, err := a.account(r, p)
	if err != nil {
		return err
	}
	var parent *payments.Transaction
	if ty == payments.TypeRefund {
		parent, err = a.cfg.Payments.Settlement(r.Context(), p, loc.ID, r.PathValue("id"))
	} else {
		parent, err = a.cfg.Payments.Get(r.Context(), p, loc.ID, r.PathValue("id"), payments.TypeAuth)
	}
	if err != nil {
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return err
	}
	in := readFollowUp(o)
	stub := &payments.Transaction{API: api, Type: ty, ParentID: parent.ID, MerchantRefNum: in.ref, Amount: in.amount}
	if err := o.errs.err(); err != nil {
		return a.failTxn(w, r, p, loc, stub, in.extras, err)
	}
	fu := payments.FollowUp{API: api, Location: loc, ParentID: parent.ID, Amount: in.amount,
		MerchantRefNum: in.ref, DupCheck: in.dupCheck, Extras: payments.EncodeExtras(in.extras)}
	var t *payments.Transaction
	switch ty {
	case payments.TypeSettlement:
		t, err = a.cfg.Payments.Settle(r.Context(), p, fu)
	case payments.TypeVoid:
		t, err = a.cfg.Payments.Void(r.Context(), p, fu)
	default:
		t, err = a.cfg.Payments.Refund(r.Context(), p, fu)
	}
	if err != nil {
		return a.failTxn(w, r, p, loc, stub, in.extras, a.paymentError(r, err, ty))
	}
	return a.writeTxnCreated(w, r, p, loc, t)
}

// handleSettlementCancel answers PUT /cardpayments/v1/accounts/{acct}/settlements/{id} with
// {"status":"CANCELLED"}: only a PENDING settlement without refunds (else 402/3415).
func (a *API) handleSettlementCancel(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.cancel(w, r, p, payments.TypeSettlement)
}

// handleRefundCancel answers PUT /cardpayments/v1/accounts/{acct}/refunds/{id} with
// {"status":"CANCELLED"}: only a PENDING refund (else 402/3415).
func (a *API) handleRefundCancel(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	return a.cancel(w, r, p, payments.TypeRefund)
}

// cancel cancels a settlement or a refund.
func (a *API) cancel(w http.ResponseWriter, r *http.Request, p *vault.Principal, ty payments.Type) error {
	loc, err := a.account(r, p)
	if err != nil {
		return err
	}
	var cur *payments.Transaction
	if ty == payments.TypeSettlement {
		cur, err = a.cfg.Payments.Settlement(r.Context(), p, loc.ID, r.PathValue("id"))
	} else {
		cur, err = a.cfg.Payments.Get(r.Context(), p, loc.ID, r.PathValue("id"), ty)
	}
	if err != nil {
		return err
	}
	if !ours(cur) {
		return notOurs(cur)
	}
	o, err := readObject(r)
	if err != nil {
		return err
	}
	if s, st := o.str("status"); st != present || s != "CANCELLED" {
		if st != bad {
			o.fail("status", "Invalid Status")
		}
		return o.errs.err()
	}
	t, err := a.cfg.Payments.Cancel(r.Context(), p, loc, cur.ID, ty)
	if err != nil {
		return a.paymentError(r, err, ty)
	}
	writeOK(w, a.toTxnJSON(r, t))
	return nil
}

// listHandler answers GET …/{auths|settlements|voidauths|refunds|verifications}?merchantRefNum=…
// with limit (10, at most 50), offset and the startDate ≤ txnTime < endDate window, newest
// first, and a next link while more remain.
func (a *API) listHandler(ty payments.Type, key string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		loc, err := a.account(r, p)
		if err != nil {
			return err
		}
		lq, err := a.readListQuery(r)
		if err != nil {
			return err
		}
		// The account number, which the location implies, lets the store find the reference
		// through its index of (account number, type, reference) instead of reading every
		// transaction of the merchant.
		q := vault.Query{
			Filters: []vault.Filter{
				{Field: "location_id", Op: vault.OpIn, Values: []string{loc.ID}},
				{Field: "account_number", Op: vault.OpIn, Values: []string{loc.AccountNumber}},
				{Field: "type", Op: vault.OpIn, Values: []string{string(ty)}},
				{Field: "merchant_ref_num", Op: vault.OpIn, Values: []string{lq.ref}},
			},
			Sort:  []vault.SortKey{{Field: "txn_at", Desc: true}, {Field: "id", Desc: true}},
			Limit: lq.limit, Offset: lq.offset,
		}
		if lq.hasStart || lq.hasEnd {
			lo, hi := int64(0), int64(1)<<52
			if lq.hasStart {
				lo = lq.start.Unix()
			}
			if lq.hasEnd {
				hi = lq.end.Unix() - 1
			}
			q.Filters = append(q.Filters, vault.Filter{Field: "txn_at", Op: vault.OpRange, Lo: lo, Hi: hi})
		}
		list, total, err := a.cfg.Payments.List(r.Context(), p, q)
		if err != nil {
			return err
		}
		items := make([]any, 0, len(list))
		for _, t := range list {
			items = append(items, a.toTxnJSON(r, t))
		}
		body := map[string]any{key: items}
		if lq.offset+len(list) < total {
			// A card number or an IBAN in the merchantRefNum is masked, as in the access log
			// and the Fortis list links: payvault never writes one into a URL.
			v := url.Values{}
			v.Set("merchantRefNum", httpx.RedactValue(lq.ref))
			v.Set("limit", strconv.Itoa(lq.limit))
			v.Set("offset", strconv.Itoa(lq.offset+lq.limit))
			if lq.hasStart {
				v.Set("startDate", timestamp(lq.start))
			}
			if lq.hasEnd {
				v.Set("endDate", timestamp(lq.end))
			}
			body["links"] = []link{{Rel: "next", Href: a.baseURL(r) + strings.TrimSuffix(r.URL.Path, "/") + "?" + v.Encode()}}
		}
		writeOK(w, body)
		return nil
	}
}

// listQuery is a list request's parameters. hasStart and hasEnd say whether the window has
// each bound: a bound may be Go's zero time (0001-01-01T00:00:00Z).
type listQuery struct {
	ref              string
	limit, offset    int
	start, end       time.Time
	hasStart, hasEnd bool
}

// readListQuery reads the list parameters (§2.12); a bad one is 5068. A limit over the
// configured largest is read as that.
func (a *API) readListQuery(r *http.Request) (listQuery, error) {
	vals := r.URL.Query()
	errs := &fieldErrs{}
	lq := listQuery{ref: vals.Get("merchantRefNum"), limit: a.cfg.ListLimitDefault}
	if strings.TrimSpace(lq.ref) == "" {
		errs.add("merchantRefNum", msgEmpty)
	}
	if s := vals.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			errs.add("limit", msgInvalidValue)
		case n < 1:
			errs.add("limit", "must be greater than or equal to 1")
		default:
			lq.limit = min(n, a.cfg.ListLimitMax)
		}
	}
	if s := vals.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			errs.add("offset", msgInvalidValue)
		case n < 0:
			errs.add("offset", "must be greater than or equal to 0")
		default:
			lq.offset = n
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
		has  *bool
	}{{"startDate", &lq.start, &lq.hasStart}, {"endDate", &lq.end, &lq.hasEnd}} {
		s := vals.Get(d.name)
		if s == "" {
			continue
		}
		t, ok := parseDate(s)
		if !ok {
			errs.add(d.name, "Invalid date format")
			continue
		}
		*d.dst, *d.has = ceilSecond(t), true
	}
	return lq, errs.err()
}

// ceilSecond rounds t up to a whole second. txnTime is kept in whole seconds, so for it
// start ≤ txnTime < end holds exactly when ceil(start) ≤ txnTime < ceil(end): the window
// filters in whole seconds and its next link renders it without changing it.
func ceilSecond(t time.Time) time.Time {
	if t.Nanosecond() == 0 {
		return t
	}
	return t.Truncate(time.Second).Add(time.Second)
}

// parseDate reads an ISO-8601 date-time (or date) in UTC. The Python SDK does not URL-encode
// query values, so a space stands for the + of an offset.
func parseDate(s string) (time.Time, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "+")
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// setTxnID sets X-Applicationuid to the transaction id, as card-payment POSTs answer (§1.5).
func setTxnID(w http.ResponseWriter, id string) {
	w.Header().Set("X-Applicationuid", "GUID="+id)
}

// paymentError maps a payments-core error of an operation on a transaction type to the
// Paysafe code (§1.8, §2.12–§2.16). Errors it does not know go to toAPIError with the card
// field names of a payment request.
func (a *API) paymentError(r *http.Request, err error, ty payments.Type) error {
	ve := vault.AsError(err)
	if ve == nil {
		return err
	}
	switch {
	case ve.Kind == vault.Invalid && ve.Field == "token" && errors.Is(err, vault.ErrNoDefaultCard):
		return newError("5501")
	case ve.Kind == vault.Invalid && ve.Field == "token":
		return newError("5500")
	case ve.Kind == vault.Invalid && errors.Is(err, vault.ErrExpired):
		return newError("3006")
	case ve.Kind == vault.Invalid && errors.Is(err, vault.ErrBrand):
		return newError("3002")
	case ve.Kind == vault.Unavailable && errors.Is(err, vault.ErrNotConfigured):
		return newError("5040")
	case errors.Is(err, payments.ErrDuplicateRef):
		return newError("5031")
	case ve.Kind == vault.Conflict:
		if code := moneyCode(err, ty); code != "" {
			return newError(code)
		}
	case ve.Kind == vault.Invalid:
		return wireCtx{kind: vault.KindCard, prefix: "card."}.wrap(err)
	}
	return err
}

// moneyCode is the Paysafe code of a money rule refusing an operation on a transaction type.
func moneyCode(err error, ty payments.Type) string {
	switch ty {
	case payments.TypeSettlement:
		switch {
		case errors.Is(err, payments.ErrExceedsAvailable):
			return "3204"
		case errors.Is(err, payments.ErrNotApproved), errors.Is(err, payments.ErrNothingLeft):
			return "3203"
		case errors.Is(err, payments.ErrNotPending):
			return "3415"
		}
	case payments.TypeVoid:
		switch {
		case errors.Is(err, payments.ErrHasSettlements):
			return "3502"
		case errors.Is(err, payments.ErrExceedsAvailable):
			return "3501"
		case errors.Is(err, payments.ErrNotApproved), errors.Is(err, payments.ErrNothingLeft):
			return "3203"
		}
	case payments.TypeRefund:
		switch {
		case errors.Is(err, payments.ErrExceedsAvailable):
			return "3402"
		case errors.Is(err, payments.ErrNotApproved), errors.Is(err, payments.ErrNothingLeft):
			return "3404"
		case errors.Is(err, payments.ErrNotPending):
			return "3415"
		}
	}
	return ""
}

// failTxn answers a transaction-creating request refused after it reached validation: the
// refusal is stored as a FAILED transaction with its error, so that it has an id and can be
// looked up, and answered in the card-payment envelope.
func (a *API) failTxn(w http.ResponseWriter, r *http.Request, p *vault.Principal, loc *vault.Location, stub *payments.Transaction, x txnExtras, err error) error {
	e := a.toAPIError(r, err)
	idempotency.KeepIfStored(r.Context(), err)
	if errors.Is(err, payments.ErrInFlight) {
		// The processor was called and the outcome is not recorded: recovery completes the
		// transaction, and a retry must not reach the processor again. It gets this answer,
		// which names the transaction like every card-payment answer, until then, and the
		// transaction's own answer after (the core said idempotency.Made; refreshTxn). Every
		// card payment's error comes through here, before toAPIError drops its cause.
		idempotency.Keep(r.Context())
		if id := payments.InFlightID(err); id != "" {
			setTxnID(w, id)
		}
		return e
	}
	if e.status() >= 500 && e.Code == "1000" {
		// Nothing was decided: answer plainly, store nothing, let a retry run again.
		return e
	}
	x.FieldErrors, x.ErrorMessage = e.FieldErrors, e.Message
	// RecordFailed keeps none of the values refused for their fields (payments.WithoutRefused).
	stub.ErrorCode, stub.Extras = e.Code, payments.EncodeExtras(x)
	if rerr := a.cfg.Payments.RecordFailed(r.Context(), p, loc, stub); rerr != nil {
		if vault.KindOf(rerr) == vault.Unavailable {
			// The database cannot serve (a restart, say): the refusal is not recorded, so the
			// answer is the outage's, 503 with Retry-After, and a retry decides again.
			return errUnavailable()
		}
		a.log.LogAttrs(r.Context(), slog.LevelError, "paysafe: recording a refused transaction failed",
			slog.String("id", httpx.InfoFrom(r.Context()).ID), slog.String("err", rerr.Error()))
		return newError("1000")
	}
	stub.AccountNumber = loc.AccountNumber
	a.writeTxnError(w, r, stub, e)
	return nil
}

// writeFailed answers a transaction the processor declined (402, riskReasonCode 1005) or
// that faulted (500).
func (a *API) writeFailed(w http.ResponseWriter, r *http.Request, t *payments.Transaction) error {
	a.writeTxnError(w, r, t, a.failure(t))
	return nil
}

// writeTxnError writes the card-payment error envelope of a stored FAILED transaction. A
// server-error status is the transaction's real outcome and is kept for idempotent replays.
func (a *API) writeTxnError(w http.ResponseWriter, r *http.Request, t *payments.Transaction, e *apiError) {
	body := txnErrorJSON{Links: []link{a.selfLink(r, t)}, ID: wireID(t), MerchantRefNum: t.MerchantRefNum, Error: e.object(r)}
	if t.Decision == payments.Declined {
		body.RiskReasonCode = []int{1005}
	}
	if t.Type == payments.TypeAuth {
		swa := t.SettleWithAuth
		body.SettleWithAuth = &swa
	}
	if e.status() >= 500 {
		idempotency.Keep(r.Context())
	}
	setTxnID(w, t.ID)
	w.Header().Set("X-Application-Status-Code", e.Code)
	writeJSON(w, e.status(), body)
}
