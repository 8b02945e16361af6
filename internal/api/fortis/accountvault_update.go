package fortis

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// vaultPutAllowed are the fields a PUT may change (§2.2's PUT column).
var vaultPutAllowed = map[string]bool{
	"account_holder_name": true, "account_vault_api_id": true, "accountvault_c1": true,
	"accountvault_c2": true, "accountvault_c3": true, "ach_sec_code": true, "billing_address": true,
	"billing_city": true, "billing_phone": true, "billing_state": true, "billing_zip": true,
	"contact_id": true, "customer_id": true, "dl_number": true, "dl_state": true, "exp_date": true,
	"ssn4": true, "terms_agree": true, "terms_agree_ip": true, "title": true,
}

// vaultPutSetters copy each PUT-allowed field from the validated record to the stored one.
var vaultPutSetters = map[string]func(dst, src *vault.Instrument){
	"account_holder_name":  func(d, s *vault.Instrument) { d.HolderName = s.HolderName },
	"account_vault_api_id": func(d, s *vault.Instrument) { d.APIID = s.APIID },
	"accountvault_c1":      func(d, s *vault.Instrument) { d.C1 = s.C1 },
	"accountvault_c2":      func(d, s *vault.Instrument) { d.C2 = s.C2 },
	"accountvault_c3":      func(d, s *vault.Instrument) { d.C3 = s.C3 },
	"ach_sec_code":         func(d, s *vault.Instrument) { d.ACHSecCode = s.ACHSecCode },
	"billing_address":      func(d, s *vault.Instrument) { d.BillingStreet = s.BillingStreet },
	"billing_city":         func(d, s *vault.Instrument) { d.BillingCity = s.BillingCity },
	"billing_phone":        func(d, s *vault.Instrument) { d.BillingPhone = s.BillingPhone },
	"billing_state":        func(d, s *vault.Instrument) { d.BillingState = s.BillingState },
	"billing_zip":          func(d, s *vault.Instrument) { d.BillingZip = s.BillingZip },
	"contact_id":           func(d, s *vault.Instrument) { d.ProfileID = s.ProfileID },
	"customer_id":          func(d, s *vault.Instrument) { d.CustomerID = s.CustomerID },
	"dl_state":             func(d, s *vault.Instrument) { d.DLState = s.DLState },
	"exp_date":             func(d, s *vault.Instrument) { d.ExpMonth, d.ExpYear = s.ExpMonth, s.ExpYear },
	"terms_agree":          func(d, s *vault.Instrument) { d.TermsAgree = s.TermsAgree },
	"terms_agree_ip":       func(d, s *vault.Instrument) { d.TermsAgreeIP = s.TermsAgreeIP },
	"title":                func(d, s *vault.Instrument) { d.Title = s.Title },
}

// shownAsInteger are the flags the representation shows as the integer 1 or 0 (§1.5): a PUT
// compares them as booleans, so "active":true is what an active vault shows.
var shownAsInteger = map[string]bool{"active": true}

// shownLowerCase are the ids and enums a create takes in any case and stores (and shows)
// lower-case (§1.5, §2.2): a PUT compares them as a create would store them, so "CC" is what
// a cc vault shows.
var shownLowerCase = map[string]bool{
	"id": true, "payment_method": true, "account_type": true, "location_id": true,
	"created_user_id": true,
}

// lockedFields applies §2.6 to every known field a PUT may not change: it fails with
// "cannot be changed." unless its value equals what the representation shows.
func lockedFields(in *input, order []string, allowed map[string]bool, shown object) {
	for _, f := range order {
		raw, ok := in.raw[f]
		if !ok || allowed[f] {
			continue
		}
		cur, _ := shown.get(f)
		if n, ok := cur.(int); ok && shownAsInteger[f] {
			cur = n != 0
		}
		if s, ok := rawString(raw); ok && shownLowerCase[f] {
			raw, _ = json.Marshal(strings.ToLower(s))
		}
		if !sameAsShown(raw, cur) {
			in.errs.add(f, msgLocked(f))
		}
	}
}

// sameAsShown reports whether a raw request value equals a shown value, under the input type
// rules: a client may PUT back the record it has just read.
func sameAsShown(raw json.RawMessage, shown any) bool {
	switch v := shown.(type) {
	case nil:
		s, ok := rawString(raw)
		return ok && s == ""
	case string:
		s, ok := rawString(raw)
		return ok && s == v
	case bool:
		b, set, ok := rawBool(raw)
		return ok && set && b == v
	case int:
		n, set, ok := rawInt(raw)
		return ok && set && n == int64(v)
	case int64:
		n, set, ok := rawInt(raw)
		return ok && set && n == v
	case object, []object:
		want, err := marshal(v)
		return err == nil && bytes.Equal(bytes.TrimSpace(raw), want)
	}
	return false
}

// cleared reports whether a field is present in the body as null or "".
func (in *input) cleared(field string) bool {
	raw, ok := in.raw[field]
	if !ok {
		return false
	}
	s, ok := rawString(raw)
	return ok && s == ""
}

// handleAccountVaultUpdate serves PUT /v2/accountvaults/{id}: a partial update.
func (a *API) handleAccountVaultUpdate(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	in, err := readBody(r, "accountvault", vaultFieldOrder)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	cur, err := a.addressedVault(r, p)
	if err == nil && !cur.Active() {
		err = errStatus(http.StatusGone, msgGone)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	shown, err := a.vaultObject(r, cur)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	lockedFields(in, vaultFieldOrder, vaultPutAllowed, shown)
	e := in.errs
	isCard := cur.Kind == vault.KindCard
	next := *cur
	var su vault.SecretUpdate

	if in.has("account_holder_name") {
		next.HolderName = in.text("account_holder_name", 1, 32)
		if next.HolderName == "" && !isCard && in.cleared("account_holder_name") {
			e.add("account_holder_name", msgRequired("account_holder_name"))
		}
	}
	apiID := cur.APIID
	if in.has("account_vault_api_id") {
		apiID = a.vaultAPIID(ctx, p, in, cur.LocationID, cur.ID)
		next.APIID = apiID
	}
	setText(in, "accountvault_c1", 0, 128, &next.C1)
	setText(in, "accountvault_c2", 0, 128, &next.C2)
	setText(in, "accountvault_c3", 0, 128, &next.C3)
	if v, _ := in.strFor(!isCard, "ach_sec_code"); !isCard && in.has("ach_sec_code") && !e.failed("ach_sec_code") {
		switch {
		case v == "":
			e.add("ach_sec_code", msgRequired("ach_sec_code"))
		case !in.length("ach_sec_code", v, 3, 3):
		case !achSecCodes[strings.ToUpper(v)]:
			e.add("ach_sec_code", msgInvalid("ach_sec_code"))
		default:
			next.ACHSecCode = strings.ToUpper(v)
		}
	}
	setText(in, "billing_address", 1, 32, &next.BillingStreet)
	setText(in, "billing_city", 1, 36, &next.BillingCity)
	if in.has("billing_phone") {
		next.BillingPhone = billingPhone(in)
	}
	if in.has("billing_state") {
		next.BillingState = letters(in, "billing_state", 2)
	}
	if in.has("billing_zip") {
		next.BillingZip = zip(in, "billing_zip", 5, 10)
	}
	if in.has("contact_id") {
		next.ProfileID = a.bodyContact(ctx, p, in, cur.LocationID)
	}
	setText(in, "customer_id", 1, 50, &next.CustomerID)
	hasDL := cur.HasDLNumber
	if in.has("dl_number") {
		v := in.text("dl_number", 1, 50)
		su.DLNumber, hasDL = &v, v != ""
	}
	if in.has("dl_state") {
		next.DLState = letters(in, "dl_state", 2)
	}
	if in.has("dl_number") || in.has("dl_state") {
		dlPair(in, hasDL, next.DLState != "")
	}
	if v, _ := in.strFor(isCard, "exp_date"); isCard && in.has("exp_date") && !e.failed("exp_date") {
		switch {
		case v == "":
			e.add("exp_date", msgRequired("exp_date"))
		case !in.length("exp_date", v, 4, 4):
		default:
			exp, err := card.ParseMMYY(v)
			if err != nil {
				e.add("exp_date", msgInvalid("exp_date"))
				break
			}
			next.ExpMonth, next.ExpYear = exp.Month, exp.Year
		}
	}
	if in.has("ssn4") {
		v := ssn4(in)
		su.SSN4 = &v
	}
	if in.has("terms_agree") {
		next.TermsAgree = termsAgree(in)
	}
	if in.has("terms_agree_ip") {
		next.TermsAgreeIP = termsAgreeIP(in)
	}
	setText(in, "title", 1, 16, &next.Title)
	if err := e.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	out, err := a.svc.UpdateInstrument(ctx, p, cur.ID, func(v *vault.Instrument) error {
		// Only the fields the body names change, on the record as the transaction reads it.
		for f, set := range vaultPutSetters {
			if in.has(f) {
				set(v, &next)
			}
		}
		return nil
	}, su)
	if err != nil {
		a.writeError(w, r, vaultCoreError(err, "", apiID))
		return
	}
	a.writeVault(w, r, p, http.StatusOK, out, false)
}

// setText applies a PUT of an optional length-checked string: null or "" clears it.
func setText(in *input, field string, min, max int, dst *string) {
	if in.has(field) {
		*dst = in.text(field, min, max)
	}
}
