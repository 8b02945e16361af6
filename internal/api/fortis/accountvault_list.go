package fortis

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// vaultList is the account-vault list of §2.7, in store columns.
var vaultList = &listDef{
	collection: "accountvaults",
	fields: map[string]listField{
		"id":                   {col: "id", kind: filterExact},
		"contact_id":           {col: "profile_id", kind: filterExact},
		"payment_method":       {col: "kind", kind: filterExact, value: kindOfMethod},
		"account_type":         {col: "brand_or_account_type", kind: filterExact, value: storedAccountType},
		"account_vault_api_id": {col: "api_id", kind: filterExact},
		"first_six":            {col: "bin", kind: filterExact},
		"last_four":            {col: "last_four", kind: filterExact},
		"exp_date":             {col: "exp_mmyy", kind: filterExact, value: expMMYY},
		"ach_sec_code":         {col: "ach_sec_code", kind: filterExact},
		"customer_id":          {col: "customer_id", kind: filterExact},
		"billing_state":        {col: "billing_state", kind: filterExact},
		"routing":              {col: "routing_number", kind: filterExact},
		"active":               {col: "active", kind: filterExact, value: activeValue},
		"has_recurring":        {kind: filterFalse},
		"created_user_id":      {col: "created_user_id", kind: filterExact},
		"created_ts":           {col: "created_at", kind: filterTime},
		"modified_ts":          {col: "updated_at", kind: filterTime},
		"title":                {col: "title", kind: filterContains},
		"account_holder_name":  {col: "holder_name", kind: filterContains},
		"billing_address":      {col: "billing_street", kind: filterContains},
		"billing_city":         {col: "billing_city", kind: filterContains},
		"billing_zip":          {col: "billing_zip", kind: filterContains},
		"billing_phone":        {col: "billing_phone", kind: filterContains},
		"accountvault_c1":      {col: "c1", kind: filterContains},
		"accountvault_c2":      {col: "c2", kind: filterContains},
		"accountvault_c3":      {col: "c3", kind: filterContains},
		// dl_number is sealed at rest (§0.1 #11), so no query can search it.
		"dl_number": {kind: filterNever},
	},
	sort: map[string]string{
		"id": "id", "created_ts": "created_at", "modified_ts": "updated_at", "title": "title",
		"account_holder_name": "holder_name", "payment_method": "kind", "account_type": "brand_or_account_type",
		"first_six": "bin", "last_four": "last_four", "exp_date": "exp_mmyy", "account_vault_api_id": "api_id",
		"customer_id": "customer_id", "contact_id": "profile_id", "billing_zip": "billing_zip",
	},
}

// kindOfMethod maps a payment_method filter value to the instrument kind.
func kindOfMethod(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "cc":
		return vault.KindCard, true
	case "ach":
		return vault.KindACH, true
	}
	return "", false
}

// storedAccountType maps an account_type filter value to the stored brand or bank account type.
func storedAccountType(v string) (string, bool) {
	v = strings.ToLower(v)
	if b, ok := brandOfAccountType[v]; ok {
		return b, true
	}
	return v, v == "checking" || v == "savings"
}

// activeValue maps an active filter value to the store's "1" or "0", ignoring case as
// §1.5's booleans are read (1/0, true/false); anything else matches nothing.
func activeValue(v string) (string, bool) {
	switch strings.ToLower(v) {
	case "1", "true":
		return "1", true
	case "0", "false":
		return "0", true
	}
	return "", false
}

// expMMYY maps an exp_date filter value to the stored integer MMYY.
func expMMYY(v string) (string, bool) {
	exp, err := card.ParseMMYY(v)
	if err != nil {
		return "", false
	}
	return strconv.Itoa(exp.Month*100 + exp.Year%100), true
}

// expandVault adds a vault's expands (§2.7) in the order requested.
func (a *API) expandVault(r *http.Request, p *vault.Principal, l *lookups, in *vault.Instrument, o object, names []string) (object, error) {
	return expand(o, names, func(n string) (v any, ok bool, err error) {
		ok = true
		switch n {
		case "location":
			v, err = l.locationObj(r, in.LocationID)
		case "contact":
			v, err = l.profileObj(r, in.ProfileID)
		case "created_user":
			v, err = l.userObj(r, in.CreatedUserID)
		case "product_transaction":
			var loc *vault.Location
			if loc, err = l.location(r.Context(), in.LocationID); err == nil && loc != nil {
				id := loc.DefaultCC
				if in.Kind == vault.KindACH {
					id = loc.DefaultACH
				}
				v, err = l.productObj(r, id)
			}
		case "signature", "account_vault_cau_product_transaction":
		case "account_vault_cau_logs":
			v = []object{}
		default:
			ok = false
		}
		return v, ok, err
	})
}

// handleAccountVaultList serves GET /v2/accountvaults: the primary location's active vaults,
// or the location_id parameter's, with filters, sort, pages and expands.
func (a *API) handleAccountVaultList(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	locs, err := primaryScope(r, p)
	lr := a.parseList(r, p, vaultList)
	if err := withScopeErr(err, lr); err != nil {
		a.writeError(w, r, err)
		return
	}
	lr.scope("location_id", locs)
	lr.q.Filters = append(lr.q.Filters, vault.Filter{Field: "kind", Op: vault.OpIn, Values: []string{vault.KindCard, vault.KindACH}})
	serveList(a, w, r, p, lr, "accountvaults",
		func(ctx context.Context, q vault.Query) ([]*vault.Instrument, int, error) {
			return a.svc.Store().ListInstruments(ctx, p.MerchantID(), q)
		},
		func(l *lookups, in *vault.Instrument, names []string) (object, error) {
			o, err := a.vaultObject(r, in)
			if err != nil {
				return nil, err
			}
			return a.expandVault(r, p, l, in, o, names)
		})
}
