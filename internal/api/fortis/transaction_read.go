package fortis

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// The Fortis type_id of each core type (§3.7).
var typeIDs = map[payments.Type]int{
	payments.TypeSale: 20, payments.TypeAuth: 20, payments.TypeAVSOnly: 21,
	payments.TypeRefund: 30, payments.TypeDebit: 50,
}

// approvedStatus is the Fortis status_id of an approved transaction of each core type.
var approvedStatus = map[payments.Type]int{
	payments.TypeSale: 101, payments.TypeAuth: 102, payments.TypeRefund: 111,
	payments.TypeAVSOnly: 121, payments.TypeDebit: 131,
}

// statusDeclined is the status_id of a declined or failed transaction.
const statusDeclined = 301

// fortisTypes are the core types this API shows.
var fortisTypes = []string{
	string(payments.TypeSale), string(payments.TypeAuth), string(payments.TypeAVSOnly),
	string(payments.TypeRefund), string(payments.TypeDebit),
}

// settledStatuses are the statuses a transaction has once its processor answered; one still
// RECEIVED (its processor call in flight) is not shown.
var settledStatuses = []string{
	string(payments.StatusCompleted), string(payments.StatusPending),
	string(payments.StatusFailed), string(payments.StatusCancelled),
}

// money is a two-decimal string of an amount in cents.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// statusID is a transaction's status_id.
func statusID(t *payments.Transaction) int {
	if t.Approved() {
		return approvedStatus[t.Type]
	}
	return statusDeclined
}

// reason is a transaction's reason_code_id and verbiage. A transaction whose processor gave no
// answer reads as 1627 SYSTEM_ERROR.
func reason(t *payments.Transaction) (code any, verbiage any) {
	if t.Code == "" {
		return mustAtoi(reasonSystemFail), "SYSTEM_ERROR"
	}
	return mustAtoi(t.Code), str(t.Message)
}

func mustAtoi(s string) any {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil
	}
	return n
}

// txnObject is a transaction's representation (§3.7), without expands. exp_date is stored
// but never shown.
func (a *API) txnObject(r *http.Request, t *payments.Transaction) (object, error) {
	x := payments.DecodeExtras[txnExtras](t)
	isCard := t.PaymentMethod == payments.MethodCard
	var firstSix, routing, accountType, achSec any
	if isCard {
		firstSix = str(t.Card.BIN)
		accountType = str(cardAccountType(t.Card.BIN, t.Card.Brand))
	} else {
		routing = str(t.RoutingNumber)
		accountType = str(strings.ToLower(t.AccountType))
		achSec = str(t.ACHSecCode)
	}
	vaultID := str(t.InstrumentID)
	if x.VaultCheck {
		vaultID = nil
	}
	var b payments.Billing
	if t.Billing != nil {
		b = *t.Billing
	}
	approved := t.Approved()
	authAmount, authCode := "0.00", any(nil)
	if approved {
		authAmount, authCode = money(t.Amount), t.AuthCode
	}
	var avs, avsEnhanced any
	if t.AVS != "" {
		avs, avsEnhanced = avsFields(t.AVS)
	}
	code, verbiage := reason(t)
	return object{
		{"id", t.ID},
		{"payment_method", t.PaymentMethod},
		{"account_vault_id", vaultID},
		{"recurring_id", nil},
		{"first_six", firstSix},
		{"last_four", str(t.Card.LastFour)},
		{"account_holder_name", str(t.Card.HolderName)},
		{"transaction_amount", money(t.Amount)},
		{"description", str(x.Description)},
		{"avs", avs},
		{"batch", nil},
		{"order_num", str(t.OrderNum)},
		{"verbiage", verbiage},
		{"routing", routing},
		{"created_ts", t.Created.Unix()},
		{"modified_ts", nil},
		{"transaction_api_id", str(t.APIID)},
		{"auth_amount", authAmount},
		{"auth_code", authCode},
		{"status_id", statusID(t)},
		{"type_id", typeIDs[t.Type]},
		{"location_id", t.LocationID},
		{"reason_code_id", code},
		{"contact_id", str(t.ProfileID)},
		{"billing_zip", str(b.Zip)},
		{"billing_street", str(b.Street)},
		{"billing_city", str(b.City)},
		{"billing_state", str(b.State)},
		{"billing_phone", str(b.Phone)},
		{"product_transaction_id", str(t.ProductTransactionID)},
		{"avs_enhanced", avsEnhanced},
		{"cvv_response", cvvResponse(t.CVV)},
		{"created_user_id", str(t.CreatedUserID)},
		{"account_type", accountType},
		{"is_recurring", false},
		{"is_accountvault", x.FromVault && !x.VaultCheck},
		{"transaction_c1", str(x.C1)},
		{"transaction_c2", str(x.C2)},
		{"transaction_c3", str(x.C3)},
		{"entry_mode_id", "K"},
		{"ach_sec_code", achSec},
		{"_links", links(a.href(r, "transactions", t.ID))},
	}, nil
}

// txnList is the transaction list of §3.7, in store columns.
var txnList = &listDef{
	collection: "transactions",
	fields: map[string]listField{
		"id":                  {col: "id", kind: filterExact},
		"contact_id":          {col: "profile_id", kind: filterExact},
		"account_vault_id":    {col: "instrument_id", kind: filterExact},
		"payment_method":      {col: "payment_method", kind: filterExact},
		"status_id":           {col: "outcome", kind: filterExact, values: outcomesOfStatus},
		"type_id":             {col: "type", kind: filterExact, values: typesOfTypeID},
		"reason_code_id":      {col: "reason_code", kind: filterExact, values: codesOfReason},
		"transaction_api_id":  {col: "api_id", kind: filterExact},
		"first_six":           {col: "bin", kind: filterExact},
		"last_four":           {col: "last_four", kind: filterExact},
		"order_num":           {col: "order_num", kind: filterExact},
		"transaction_amount":  {col: "amount", kind: filterNumber, number: parseCents},
		"created_ts":          {col: "created_at", kind: filterTime},
		"account_holder_name": {col: "holder_name", kind: filterContains},
	},
	sort: map[string]string{
		"id": "id", "created_ts": "created_at", "transaction_amount": "amount", "status_id": "outcome",
		"type_id": "type", "last_four": "last_four",
	},
	ranks: map[string][][]string{
		// status_id: 101 sale, 102 authonly, 111 refund, 121 avsonly, 131 debit, then 301.
		"status_id": {{"sale:approved"}, {"auth:approved"}, {"refund:approved"}, {"avsonly:approved"}, {"debit:approved"}},
		// type_id: 20 sale and authonly, 21 avsonly, 30 refund, 50 debit.
		"type_id": {{"auth", "sale"}, {"avsonly"}, {"refund"}, {"debit"}},
	},
}

// outcomesOfStatus maps a status_id filter value to the core outcomes it stands for.
func outcomesOfStatus(v string) []string {
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	if n == statusDeclined {
		var out []string
		for _, ty := range fortisTypes {
			out = append(out, ty+":failed", ty+":cancelled")
		}
		return out
	}
	for ty, s := range approvedStatus {
		if s == n {
			return []string{string(ty) + ":approved"}
		}
	}
	return nil
}

// typesOfTypeID maps a type_id filter value to the core types it stands for.
func typesOfTypeID(v string) []string {
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	var out []string
	for _, ty := range fortisTypes {
		if typeIDs[payments.Type(ty)] == n {
			out = append(out, ty)
		}
	}
	return out
}

// codesOfReason maps a reason_code_id filter value to the stored reason codes: 1627 also
// stands for a transaction whose processor gave no answer.
func codesOfReason(v string) []string {
	if _, err := strconv.Atoi(v); err != nil {
		return nil
	}
	if v == reasonSystemFail {
		return []string{v, ""}
	}
	return []string{v}
}

// fortisTransaction reports whether the API shows t: one of its own, answered.
func fortisTransaction(t *payments.Transaction) bool {
	return t.API == api && t.Status != payments.StatusReceived
}

// addressedTxn returns the transaction in the path; another API's, another merchant's or an
// inaccessible location's is 404.
func (a *API) addressedTxn(r *http.Request, p *vault.Principal) (*payments.Transaction, error) {
	id := pathID(r)
	t, err := a.opt.Payments.Get(r.Context(), p, "", strings.ToLower(id))
	if vault.KindOf(err) == vault.NotFound || (err == nil && !fortisTransaction(t)) {
		return nil, errNotFound(id)
	}
	return t, err
}

// expandTxn adds a transaction's expands in the order requested.
func (a *API) expandTxn(r *http.Request, l *lookups, t *payments.Transaction, o object, names []string) (object, error) {
	return expand(o, names, func(n string) (v any, ok bool, err error) {
		ok = true
		switch n {
		case "contact":
			v, err = l.profileObj(r, t.ProfileID)
		case "location":
			v, err = l.locationObj(r, t.LocationID)
		case "created_user":
			v, err = l.userObj(r, t.CreatedUserID)
		case "product_transaction":
			v, err = l.productObj(r, t.ProductTransactionID)
		case "account_vault":
			if id, _ := o.get("account_vault_id"); id != nil {
				v, err = l.vaultObj(r, id.(string))
			}
		default:
			ok = false
		}
		return v, ok, err
	})
}

// handleTransactionGet serves GET /v2/transactions/{id}.
func (a *API) handleTransactionGet(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	t, err := a.addressedTxn(r, p)
	var o object
	if err == nil {
		o, err = a.txnObject(r, t)
	}
	if err == nil {
		o, err = a.expandTxn(r, newLookups(a, p), t, o, expandNames(r))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, object{{"transaction", o}})
}

// handleTransactionList serves GET /v2/transactions: the primary location's transactions, or
// the location_id parameter's, with filters, sort, pages and expands.
func (a *API) handleTransactionList(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	locs, err := primaryScope(r, p)
	lr := a.parseList(r, p, txnList)
	if err := withScopeErr(err, lr); err != nil {
		a.writeError(w, r, err)
		return
	}
	lr.scope("location_id", locs)
	lr.q.Filters = append(lr.q.Filters,
		vault.Filter{Field: "api", Op: vault.OpIn, Values: []string{api}},
		vault.Filter{Field: "status", Op: vault.OpIn, Values: settledStatuses})
	serveList(a, w, r, p, lr, "transactions",
		func(ctx context.Context, q vault.Query) ([]*payments.Transaction, int, error) {
			return a.opt.Payments.List(ctx, p, q)
		},
		func(l *lookups, t *payments.Transaction, names []string) (object, error) {
			o, err := a.txnObject(r, t)
			if err != nil {
				return nil, err
			}
			return a.expandTxn(r, l, t, o, names)
		})
}

// handleTransactionBINInfo serves GET /v2/transactions/{id}/bininfo: a cc transaction's BIN
// info (§4); an ach transaction's is 404.
func (a *API) handleTransactionBINInfo(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	t, err := a.addressedTxn(r, p)
	if err == nil && t.PaymentMethod != payments.MethodCard {
		err = errStatus(http.StatusNotFound, msgBINForACH)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, object{{"bininfo", a.binInfo(t.Card.BIN, t.Card.Brand)}})
}
