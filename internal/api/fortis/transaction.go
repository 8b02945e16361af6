package fortis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// This file serves POST /v2/transactions (§3.7) on the vendor-neutral payments core: the
// request is validated here in the Fortis vocabulary, the core runs the money movement, and
// the answer is the transaction's Fortis representation. A declined transaction is a 201.

// txnFieldOrder is the order of a transaction's 422 keys: its request fields, alphabetically,
// as the vendor's field tables are.
var txnFieldOrder = []string{
	"account_holder_name", "account_number", "account_type", "account_vault_api_id", "account_vault_id",
	"ach_sec_code", "action", "billing_city", "billing_phone", "billing_state", "billing_street", "billing_zip",
	"contact_id", "cvv", "description", "exp_date", "location_id", "order_num", "payment_method",
	"previous_transaction_api_id", "previous_transaction_id", "product_transaction_id", "routing", "run_avs",
	"save_account", "save_account_title", "ticket", "transaction_amount", "transaction_api_id",
	"transaction_c1", "transaction_c2", "transaction_c3",
}

// txnSources are the account sources of a transaction, in the order the first present wins.
var txnSources = []string{
	"account_number", "account_vault_id", "account_vault_api_id", "ticket",
	"previous_transaction_id", "previous_transaction_api_id",
}

// txnAction is what an action does: its core type and the one payment method it takes.
type txnAction struct {
	ty     payments.Type
	method string
}

// txnActions are the actions of §3.7.
var txnActions = map[string]txnAction{
	"sale":     {payments.TypeSale, payments.MethodCard},
	"authonly": {payments.TypeAuth, payments.MethodCard},
	"avsonly":  {payments.TypeAVSOnly, payments.MethodCard},
	"refund":   {payments.TypeRefund, payments.MethodCard},
	"debit":    {payments.TypeDebit, payments.MethodACH},
}

// msgAmountPositive is the fixed text of §1.4 for an amount that is not positive.
const msgAmountPositive = "Transaction amount must be greater than zero for the following actions: [sale, authonly, authcomplete, authincrement, debit, credit, refund, tipadjust]"

// msgSecCodeBlank is the fixed text of §1.4 for a raw ach account without an SEC code.
const msgSecCodeBlank = "ach_sec_code cannot be blank"

// txnExtras are the request fields the core keeps for this API without interpreting them.
type txnExtras struct {
	Description string `json:"description,omitempty"`
	C1          string `json:"c1,omitempty"`
	C2          string `json:"c2,omitempty"`
	C3          string `json:"c3,omitempty"`
	// FromVault marks a transaction whose source was a vault (is_accountvault).
	FromVault bool `json:"from_vault,omitempty"`
	// VaultCheck marks the avsonly that a vault create's run_avs ran (§2.5): it shows no
	// account_vault_id, even when its account data came from a vault.
	VaultCheck bool `json:"vault_check,omitempty"`
	// VaultID, on such an avsonly, is the vault the create stored in the write that approved
	// it; never shown (the avsonly names no vault). An answer given after that write's
	// COMMIT answer was lost reads the vault by it (createVaultWithAVS).
	VaultID string `json:"vault_id,omitempty"`
}

// txnDraft is a validated POST /v2/transactions.
type txnDraft struct {
	action   string
	ty       payments.Type
	method   string
	loc      *vault.Location
	ptID     string
	noACH    bool // noACH: an ach transaction in a location without an ach service (403).
	amount   int64
	src      payments.Source
	srcField string
	billing  payments.Billing
	profile  string
	orderNum string
	apiID    string
	extras   txnExtras
	// save is the vault that save_account creates on approval, validated up front.
	save *vaultDraft
	errs *fieldErrors
}

// parseTransaction validates a POST /v2/transactions body. Every rule that can be checked
// before the processor is called is checked here, save_account's vault fields included; the
// core checks the source only when a field failed, so that the 422 also reports it
// (sourcecheck.go).
func (a *API) parseTransaction(ctx context.Context, p *vault.Principal, in *input) *txnDraft {
	d := &txnDraft{errs: in.errs}
	e := in.errs

	// action and payment_method decide what the rest means.
	d.action = strings.ToLower(in.text("action", 1, 32))
	d.method = strings.ToLower(in.text("payment_method", 2, 3))
	switch {
	case d.method == "" && !e.failed("payment_method"):
		e.add("payment_method", msgRequired("payment_method"))
	case d.method != "" && d.method != payments.MethodCard && d.method != payments.MethodACH:
		e.add("payment_method", msgInvalid("payment_method"))
		d.method = ""
	}
	act, known := txnActions[d.action]
	switch {
	case e.failed("action"):
	case d.action == "":
		e.add("action", msgRequired("action"))
	case !known || (d.method != "" && act.method != d.method):
		e.add("action", msgInvalid("action"))
	default:
		d.ty = act.ty
	}
	isCard, isACH := d.method == payments.MethodCard, d.method == payments.MethodACH

	// location_id defaults to the primary location.
	loc, locID := a.bodyLocationRecord(ctx, p, in, false)
	if locID == "" && !e.failed("location_id") {
		locID = p.DefaultLocation()
	}
	if loc == nil && locID != "" {
		var err error
		if loc, err = a.svc.Location(ctx, p.MerchantID(), locID); err != nil {
			e.lookupFailed("location_id", msgLocation, err)
		}
	}
	d.loc = loc

	// product_transaction_id: the location's service for the method unless named.
	var pt *vault.ProductTransaction
	if v := in.text("product_transaction_id", 24, 36); v != "" {
		got, err := a.svc.ProductTransaction(ctx, p.MerchantID(), strings.ToLower(v))
		if err != nil {
			e.lookupFailed("product_transaction_id", msgInvalid("product_transaction_id"), err)
		} else if d.loc == nil || got.LocationID != d.loc.ID || !got.Active || (d.method != "" && got.PaymentMethod != d.method) {
			e.add("product_transaction_id", msgInvalid("product_transaction_id"))
		} else {
			pt = got
		}
	} else if d.loc != nil && d.method != "" && !e.failed("product_transaction_id") {
		id := d.loc.DefaultCC
		if isACH {
			id = d.loc.DefaultACH
		}
		if id != "" {
			if got, err := a.svc.ProductTransaction(ctx, p.MerchantID(), id); err == nil && got.Active {
				pt = got
			}
		}
		switch {
		case pt != nil:
		case isCard:
			e.add("product_transaction_id", msgRequired("product_transaction_id"))
		default:
			d.noACH = true
		}
	}
	if pt != nil {
		d.ptID = pt.ID
	}

	// transaction_amount: required except for avsonly, whose amount is 0.00.
	if d.ty != payments.TypeAVSOnly {
		d.amount = amount(in, "transaction_amount")
	}

	a.parseTxnSource(ctx, p, in, d, isCard, isACH)

	// The billing address. A service's vt_require_* flags make street or zip required on cc
	// (§3.3) in the billing the transaction carries: the request's over its source's. A raw
	// account has no other, so it is checked here with the other fields; a vault, ticket or
	// earlier transaction is checked by the core once it is read (payments.AuthRequest). A
	// refund carries its sale's billing and is never refused for it.
	d.billing.Street = in.text("billing_street", 1, 32)
	d.billing.City = in.text("billing_city", 1, 36)
	d.billing.State = letters(in, "billing_state", 2)
	d.billing.Zip = zip(in, "billing_zip", 4, 12)
	if v := in.text("billing_phone", 10, 10); v != "" && !card.Digits(v) {
		e.add("billing_phone", msgInvalid("billing_phone"))
	} else {
		d.billing.Phone = v
	}
	if pt != nil && isCard && d.srcField == "account_number" && d.ty != payments.TypeRefund {
		if pt.VTRequireStreet && d.billing.Street == "" && !e.failed("billing_street") {
			e.add("billing_street", msgRequired("billing_street"))
		}
		if pt.VTRequireZip && d.billing.Zip == "" && !e.failed("billing_zip") {
			e.add("billing_zip", msgRequired("billing_zip"))
		}
	}

	if d.loc != nil {
		d.profile = a.bodyContact(ctx, p, in, d.loc.ID)
	}
	d.extras.Description = in.text("description", 1, 64)
	if v := in.text("order_num", 1, 32); v != "" && !alnum(v) {
		e.add("order_num", msgInvalid("order_num"))
	} else {
		d.orderNum = v
	}
	if d.orderNum == "" {
		d.orderNum = a.orderNum()
	}
	if v := in.text("transaction_api_id", 1, 64); v != "" {
		d.apiID = v
		if d.loc != nil {
			if _, err := a.opt.Payments.GetByAPIID(ctx, p, d.loc.ID, v); err == nil {
				e.add("transaction_api_id", msgTaken("transaction_api_id", v))
			}
		}
	}
	d.extras.C1 = in.text("transaction_c1", 1, 128)
	d.extras.C2 = in.text("transaction_c2", 1, 128)
	d.extras.C3 = in.text("transaction_c3", 1, 128)

	// save_account (§0.1 #7): the vault is validated now, created on approval.
	in.text("save_account_title", 1, 16)
	save, set, _ := in.boolean("save_account")
	if save && set && d.ty != "" && d.ty != payments.TypeRefund && !d.extras.FromVault {
		d.save = a.parseSaveAccount(ctx, p, in, d)
	}
	a.reportTxnSource(ctx, p, d)
	return d
}

// parseTxnSource validates the account source: the first present of txnSources.
func (a *API) parseTxnSource(ctx context.Context, p *vault.Principal, in *input, d *txnDraft, isCard, isACH bool) {
	e := in.errs
	for _, f := range txnSources {
		if v, ok := in.str(f); !ok || v != "" {
			d.srcField = f
			break
		}
	}
	if d.ty == payments.TypeRefund && d.srcField != "" && !strings.HasPrefix(d.srcField, "previous_transaction") {
		// A refund draws on an earlier sale; it has no other source.
		e.add("previous_transaction_id", msgRequired("previous_transaction_id"))
		return
	}
	d.src.SameLocation = true
	d.src.HolderName = in.text("account_holder_name", 1, 32)
	switch d.srcField {
	case "":
		if d.ty == payments.TypeRefund {
			e.add("previous_transaction_id", msgRequired("previous_transaction_id"))
		} else {
			e.add("account_number", msgRequired("account_number"))
		}
	case "account_number":
		a.parseTxnRaw(in, d, p, isCard, isACH)
	case "account_vault_id":
		if v := in.text("account_vault_id", 24, 36); v != "" {
			d.src.InstrumentID = strings.ToLower(v)
		}
		d.extras.FromVault = true
	case "account_vault_api_id":
		d.src.InstrumentAPIID = in.text("account_vault_api_id", 1, 36)
		d.extras.FromVault = true
	case "ticket":
		if v := in.text("ticket", 1, 36); v != "" {
			if isACH {
				e.add("ticket", msgInvalid("ticket"))
			}
			d.src.Token, d.src.TokenKinds = strings.ToLower(v), []string{vault.TokenTicket}
		}
	case "previous_transaction_id":
		if v := in.text("previous_transaction_id", 24, 36); v != "" {
			d.src.TransactionID = strings.ToLower(v)
		}
	case "previous_transaction_api_id":
		d.src.TransactionAPIID = in.text("previous_transaction_api_id", 1, 64)
	}
	// cvv: a card's (§3.7); a bank account ignores it, whatever it holds, as it does exp_date.
	if isACH {
		return
	}
	if v := in.text("cvv", 3, 4); v != "" && isCard {
		if !card.Digits(v) {
			e.add("cvv", msgInvalid("cvv"))
		} else {
			d.src.CVV = v
		}
	}
}

// parseTxnRaw validates a raw card or bank account.
func (a *API) parseTxnRaw(in *input, d *txnDraft, p *vault.Principal, isCard, isACH bool) {
	e := in.errs
	v := in.text("account_number", 4, 19)
	switch {
	case v == "":
	case !card.Digits(v):
		e.add("account_number", msgInvalid("account_number"))
	case isCard && !validCard(v):
		e.add("account_number", msgInvalid("account_number"))
	default:
		d.src.Number = v
	}
	if isCard {
		switch exp, _ := in.str("exp_date"); {
		case e.failed("exp_date"):
		case exp == "":
			e.add("exp_date", msgRequired("exp_date"))
		case !in.length("exp_date", exp, 4, 4):
		default:
			x, err := card.ParseMMYY(exp)
			if err != nil {
				e.add("exp_date", msgInvalid("exp_date"))
			}
			d.src.Expiry = x
		}
	}
	if !isACH {
		return
	}
	switch r, _ := in.str("routing"); {
	case e.failed("routing"):
	case r == "":
		e.add("routing", msgRequired("routing"))
	case !in.length("routing", r, 9, 9):
	case !card.Digits(r) || vault.CheckRouting(p.Merchant, r) != nil:
		e.add("routing", msgInvalid("routing"))
	default:
		d.src.RoutingNumber = r
	}
	switch t, _ := in.str("account_type"); {
	case e.failed("account_type"):
	case t == "":
		e.add("account_type", msgRequired("account_type"))
	case !strings.EqualFold(t, "checking") && !strings.EqualFold(t, "savings"):
		e.add("account_type", msgInvalid("account_type"))
	default:
		d.src.AccountType = strings.ToUpper(t)
	}
	if d.src.HolderName == "" && !e.failed("account_holder_name") {
		e.add("account_holder_name", msgRequired("account_holder_name"))
	}
	switch c, _ := in.str("ach_sec_code"); {
	case e.failed("ach_sec_code"):
	case c == "":
		e.add("ach_sec_code", msgSecCodeBlank)
	case !achSecCodes[strings.ToUpper(c)]:
		e.add("ach_sec_code", msgInvalid("ach_sec_code"))
	default:
		d.src.ACHSecCode = strings.ToUpper(c)
	}
}

// saveAccountFields maps the transaction fields a saved vault takes to the vault's names.
var saveAccountFields = [][2]string{
	{"location_id", "location_id"}, {"payment_method", "payment_method"}, {"save_account_title", "title"},
	{"account_holder_name", "account_holder_name"}, {"billing_street", "billing_address"},
	{"billing_city", "billing_city"}, {"billing_state", "billing_state"}, {"billing_zip", "billing_zip"},
	{"billing_phone", "billing_phone"}, {"contact_id", "contact_id"},
}

// parseSaveAccount validates the vault save_account creates with the vault create's own rules
// (parseVault), its account data to come from the transaction itself. A vault rule a field
// fails is reported under the transaction's name for the field.
func (a *API) parseSaveAccount(ctx context.Context, p *vault.Principal, in *input, d *txnDraft) *vaultDraft {
	vin := &input{raw: map[string]json.RawMessage{}, errs: newFieldErrors(vaultFieldOrder)}
	for _, f := range saveAccountFields {
		if raw, ok := in.raw[f[0]]; ok && !in.errs.failed(f[0]) {
			vin.raw[f[1]] = raw
		}
	}
	if d.loc != nil {
		vin.raw["location_id"], _ = json.Marshal(d.loc.ID)
	}
	vd := a.parseVault(ctx, p, vin, true)
	if vd != nil {
		// The vault is made only after the approval: a name it would refuse then is refused
		// now, before the processor is called.
		if err := vd.in.CheckNames(); err != nil {
			for _, f := range vault.Fields(err) {
				f = wireName(f)
				vin.errs.add(f, msgInvalid(f))
			}
		}
	}
	for _, f := range saveAccountFields {
		if msg, ok := vin.errs.msgs[f[1]]; ok && !in.errs.failed(f[0]) {
			// The vault's message names the vault's field; name the transaction's.
			in.errs.add(f[0], strings.Replace(msg, label(f[1]), label(f[0]), 1))
		}
	}
	return vd
}

// amount reads a money field: a JSON number or string of at most 10 characters with at most
// two decimals, in cents; a value that breaks that rule "must be a number." (§3.7). A value
// that is not positive gets the fixed message of §1.4.
func amount(in *input, f string) int64 {
	raw, present := in.raw[f]
	var v string
	if present {
		raw = bytes.TrimSpace(raw)
		switch {
		case isNull(raw):
		case len(raw) > 0 && raw[0] == '"':
			if json.Unmarshal(raw, &v) != nil {
				in.errs.add(f, msgNumber(f))
				return 0
			}
			v = strings.TrimSpace(v)
		default:
			v = string(raw)
		}
	}
	if v == "" {
		in.errs.add(f, msgRequired(f))
		return 0
	}
	n, ok := parseCents(v)
	if len(v) > 10 {
		ok = false
	}
	switch {
	case !ok:
		in.errs.add(f, msgNumber(f))
	case n <= 0:
		in.errs.add(f, msgAmountPositive)
	default:
		return n
	}
	return 0
}

// parseCents parses a decimal amount with at most two decimals ("10", "10.5", "-1.00") into
// cents, without floating point.
func parseCents(v string) (int64, bool) {
	neg := strings.HasPrefix(v, "-")
	v = strings.TrimPrefix(v, "-")
	whole, frac, hasFrac := strings.Cut(v, ".")
	if !card.Digits(whole) || len(whole) > 15 || (hasFrac && (len(frac) < 1 || len(frac) > 2 || !card.Digits(frac))) {
		return 0, false
	}
	var n int64
	for _, c := range whole + (frac + "00")[:2] {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// orderNum is a generated order number: twelve random digits.
func (a *API) orderNum() string {
	if a.opt.OrderNum != nil {
		return a.opt.OrderNum()
	}
	return keys.RandomDigits(12)
}

// txnCoreError turns a core error of a transaction into the 422 of the wire field that caused
// it; other errors pass through.
func txnCoreError(err error, d *txnDraft) error {
	e := vault.AsError(err)
	if e == nil {
		return err
	}
	field := ""
	msg := ""
	switch {
	case e.Kind == vault.Conflict && e.Field == "api_id":
		field, msg = "transaction_api_id", msgTaken("transaction_api_id", d.apiID)
	case e.Kind == vault.Conflict && (errors.Is(err, payments.ErrExceedsAvailable) || errors.Is(err, payments.ErrNothingLeft)):
		field = "transaction_amount"
	case e.Kind == vault.NotFound && d.ty == payments.TypeRefund:
		field = d.srcField
	case e.Kind != vault.Invalid:
		return err
	case e.Field == "token":
		field = "ticket"
	case e.Field == "instrument_id":
		field = "account_vault_id"
	case e.Field == "instrument_api_id":
		field = "account_vault_api_id"
	case e.Field == "transaction_id":
		field = "previous_transaction_id"
	case e.Field == "transaction_api_id":
		field = "previous_transaction_api_id"
	case e.Field == "number":
		field = "account_number"
	case e.Field == "expiry":
		field = "exp_date"
	case e.Field == "routing_number":
		field = "routing"
	case e.Field == "profile_id":
		field = "contact_id"
	case e.Field == "amount":
		field = "transaction_amount"
	case e.Field == "holder_name":
		field = wireName(e.Field)
	default:
		field = e.Field
	}
	if msg == "" && strings.HasPrefix(field, "billing_") && errors.Is(err, vault.ErrRequired) {
		// §1.4: every failing field is reported, and the core names each billing field missing.
		fe := newFieldErrors(txnFieldOrder)
		for _, f := range vault.Fields(err) {
			if strings.HasPrefix(f, "billing_") {
				fe.add(f, msgRequired(f))
			}
		}
		return fe.err()
	}
	if msg == "" {
		msg = msgInvalid(field)
	}
	return invalid(txnFieldOrder, field, msg)
}

// handleTransactionCreate serves POST /v2/transactions: 201 with the transaction, approved or
// declined.
func (a *API) handleTransactionCreate(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.post(w, r, p, "transactions", func(w http.ResponseWriter, r *http.Request) {
		in, err := readBody(r, "transaction", txnFieldOrder)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d := a.parseTransaction(r.Context(), p, in)
		if err := d.errs.err(); err != nil {
			a.writeError(w, r, err)
			return
		}
		if d.noACH {
			a.writeError(w, r, errStatus(http.StatusForbidden, msgNoACH))
			return
		}
		var t *payments.Transaction
		if d.ty == payments.TypeRefund {
			t, err = a.refund(r.Context(), p, d)
		} else {
			t, err = a.authorize(r.Context(), p, d)
		}
		if err != nil {
			a.writeError(w, r, txnCoreError(err, d))
			return
		}
		o, err := a.txnObject(r, t)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, object{{"transaction", o}})
	})
}

// refreshTxn is the idempotency.Refresh of POST /v2/transactions: a retry of a transaction
// whose answer was kept while its outcome was open (the processor was called, the outcome not
// recorded) gets, once recovery has completed it, the 201 its request would have had. While
// the transaction is still RECEIVED, or cannot be read, it writes nothing and reports false,
// and the kept 503 is replayed.
func (a *API) refreshTxn(w http.ResponseWriter, r *http.Request, p *vault.Principal, id string) bool {
	if a.opt.Payments == nil {
		return false
	}
	t, err := a.opt.Payments.Get(r.Context(), p, "", id)
	if err != nil || t.Status == payments.StatusReceived {
		return false
	}
	o, err := a.txnObject(r, t)
	if err != nil {
		return false
	}
	writeJSON(w, http.StatusCreated, object{{"transaction", o}})
	return true
}

// authorize runs a sale, authonly, avsonly or debit. With save_account, the vault is created
// from the transaction's own account data in the write transaction that completes an
// approval, so a declined or failed transaction never leaves a vault and an approved one
// never lacks it (unless the vault's rules refuse it at that point, which leaves the approval
// recorded and the vault unmade: account_vault_id stays null).
func (a *API) authorize(ctx context.Context, p *vault.Principal, d *txnDraft) (*payments.Transaction, error) {
	req := payments.AuthRequest{
		API: api, Type: d.ty, Location: d.loc, Amount: d.amount, APIID: d.apiID, OrderNum: d.orderNum,
		ProductTransactionID: d.ptID, PaymentMethod: d.method, Source: d.src, ProfileID: d.profile,
		AcceptExpired: true, Extras: payments.EncodeExtras(d.extras),
	}
	if d.billing != (payments.Billing{}) {
		b := d.billing
		req.Billing, req.BillingMerge = &b, true
	}
	if d.save != nil {
		save := d.save
		req.AfterApproval = func(ctx context.Context, tx payments.Tx, t *payments.Transaction) error {
			src := save.src
			src.TransactionID = t.ID
			v, err := a.svc.CreateInstrumentIn(ctx, tx, p, &save.in, src, vault.CreateOptions{Before: save.before})
			if err != nil {
				return err
			}
			t.InstrumentID = v.ID
			return nil
		}
	}
	return a.opt.Payments.Authorize(ctx, p, req)
}

// refundable reports whether a Fortis refund may draw on t: an approved cc sale made through
// this API.
func refundable(t *payments.Transaction) bool {
	return t.Type == payments.TypeSale && t.API == api && t.PaymentMethod == payments.MethodCard && t.Approved()
}

// refund refunds (part of) an approved cc sale of the location. The core locks the sale and
// checks what is left to refund in the transaction that records the refund, so concurrent
// refunds never exceed it.
func (a *API) refund(ctx context.Context, p *vault.Principal, d *txnDraft) (*payments.Transaction, error) {
	var parent *payments.Transaction
	var err error
	if d.src.TransactionID != "" {
		parent, err = a.opt.Payments.Get(ctx, p, d.loc.ID, d.src.TransactionID, payments.TypeSale)
	} else {
		parent, err = a.opt.Payments.GetByAPIID(ctx, p, d.loc.ID, d.src.TransactionAPIID, payments.TypeSale)
	}
	if err == nil && !refundable(parent) {
		err = vault.E(vault.NotFound)
	}
	if err != nil {
		if vault.KindOf(err) == vault.NotFound {
			return nil, invalid(txnFieldOrder, d.srcField, msgInvalid(d.srcField))
		}
		return nil, err
	}
	return a.opt.Payments.Refund(ctx, p, payments.FollowUp{
		API: api, Location: d.loc, ParentID: parent.ID, Amount: d.amount, APIID: d.apiID,
		OrderNum: d.orderNum, Extras: payments.EncodeExtras(d.extras), ProfileID: d.profile,
	})
}
