package fortis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// contactFieldOrder is the contact representation's order (§3.5); 422 keys follow it.
var contactFieldOrder = []string{
	"id", "location_id", "account_number", "contact_api_id", "company_name", "first_name", "last_name",
	"email", "address", "city", "state", "zip", "home_phone", "cell_phone", "office_phone",
	"office_ext_phone", "contact_balance", "email_trx_receipt", "created_ts", "modified_ts",
	"date_of_birth", "header_message", "header_message_type", "contact_c1", "contact_c2", "contact_c3",
	"created_user_id", "update_if_exists",
}

// contactPutAllowed are the contact fields a PUT may change.
var contactPutAllowed = map[string]bool{
	"account_number": true, "contact_api_id": true, "company_name": true, "first_name": true, "last_name": true,
	"email": true, "address": true, "city": true, "state": true, "zip": true, "home_phone": true,
	"cell_phone": true, "office_phone": true, "office_ext_phone": true, "contact_balance": true,
	"email_trx_receipt": true, "date_of_birth": true, "header_message": true, "header_message_type": true,
	"contact_c1": true, "contact_c2": true, "contact_c3": true,
}

// contactObject is a contact's representation (§3.5): the core profile.
func (a *API) contactObject(r *http.Request, p *vault.Profile) object {
	var dob any
	if !p.DOB.IsZero() {
		dob = fmt.Sprintf("%04d-%02d-%02d", p.DOB.Year, p.DOB.Month, p.DOB.Day)
	}
	return object{
		{"id", p.ID}, {"location_id", p.LocationID}, {"account_number", str(p.AccountNumber)},
		{"contact_api_id", str(p.ContactAPIID)}, {"company_name", str(p.CompanyName)},
		{"first_name", str(p.FirstName)}, {"last_name", str(p.LastName)}, {"email", str(p.Email)},
		{"address", str(p.Address)}, {"city", str(p.City)}, {"state", str(p.State)}, {"zip", str(p.Zip)},
		{"home_phone", str(p.Phone)}, {"cell_phone", str(p.CellPhone)}, {"office_phone", str(p.OfficePhone)},
		{"office_ext_phone", str(p.OfficeExtPhone)}, {"contact_balance", str(moneyText(p.ContactBalance))},
		{"email_trx_receipt", p.EmailTrxReceipt}, {"created_ts", p.Created.Unix()}, {"modified_ts", unix(p.Modified)},
		{"date_of_birth", dob}, {"header_message", str(p.HeaderMessage)},
		{"header_message_type", p.HeaderMessageType}, {"contact_c1", str(p.C1)}, {"contact_c2", str(p.C2)},
		{"contact_c3", str(p.C3)}, {"created_user_id", str(p.CreatedUserID)},
		{"_links", links(a.href(r, "contacts", p.ID))},
	}
}

var numberPattern = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// contactSetters apply each validated field to a profile; a PUT applies only the fields its
// body names.
var contactSetters = map[string]func(d, s *vault.Profile){
	"account_number":      func(d, s *vault.Profile) { d.AccountNumber = s.AccountNumber },
	"contact_api_id":      func(d, s *vault.Profile) { d.ContactAPIID = s.ContactAPIID },
	"company_name":        func(d, s *vault.Profile) { d.CompanyName = s.CompanyName },
	"first_name":          func(d, s *vault.Profile) { d.FirstName = s.FirstName },
	"last_name":           func(d, s *vault.Profile) { d.LastName = s.LastName },
	"email":               func(d, s *vault.Profile) { d.Email = s.Email },
	"address":             func(d, s *vault.Profile) { d.Address = s.Address },
	"city":                func(d, s *vault.Profile) { d.City = s.City },
	"state":               func(d, s *vault.Profile) { d.State = s.State },
	"zip":                 func(d, s *vault.Profile) { d.Zip = s.Zip },
	"home_phone":          func(d, s *vault.Profile) { d.Phone = s.Phone },
	"cell_phone":          func(d, s *vault.Profile) { d.CellPhone = s.CellPhone },
	"office_phone":        func(d, s *vault.Profile) { d.OfficePhone = s.OfficePhone },
	"office_ext_phone":    func(d, s *vault.Profile) { d.OfficeExtPhone = s.OfficeExtPhone },
	"contact_balance":     func(d, s *vault.Profile) { d.ContactBalance = s.ContactBalance },
	"email_trx_receipt":   func(d, s *vault.Profile) { d.EmailTrxReceipt = s.EmailTrxReceipt },
	"date_of_birth":       func(d, s *vault.Profile) { d.DOB = s.DOB },
	"header_message":      func(d, s *vault.Profile) { d.HeaderMessage = s.HeaderMessage },
	"header_message_type": func(d, s *vault.Profile) { d.HeaderMessageType = s.HeaderMessageType },
	"contact_c1":          func(d, s *vault.Profile) { d.C1 = s.C1 },
	"contact_c2":          func(d, s *vault.Profile) { d.C2 = s.C2 },
	"contact_c3":          func(d, s *vault.Profile) { d.C3 = s.C3 },
}

// parseContact validates the contact fields present in the body (§3.5) into a profile.
// selfID is the contact being updated (for contact_api_id's uniqueness), locationID its
// location.
func (a *API) parseContact(ctx context.Context, p *vault.Principal, in *input, locationID, selfID string, post bool) *vault.Profile {
	e := in.errs
	prof := &vault.Profile{LocationID: locationID}
	prof.AccountNumber = in.text("account_number", 0, 32)
	if v := in.text("contact_api_id", 0, 36); v != "" {
		prof.ContactAPIID = v
		if locationID != "" {
			if cur, err := a.svc.FindProfile(ctx, p, "contact_api_id", v, locationID); err == nil && cur.ID != selfID && !(post && updateIfExists(in)) {
				e.add("contact_api_id", msgTaken("contact_api_id", v))
			}
		}
	}
	prof.CompanyName = in.text("company_name", 0, 64)
	prof.FirstName = in.text("first_name", 0, 64)
	prof.LastName = in.text("last_name", 1, 64)
	if prof.LastName == "" && (post || in.has("last_name")) && !e.failed("last_name") {
		e.add("last_name", msgRequired("last_name"))
	}
	if v := in.text("email", 5, 64); v != "" && !vault.ValidEmail(v) {
		e.add("email", msgEmail("email"))
	} else {
		prof.Email = v
	}
	prof.Address = in.text("address", 0, 255)
	prof.City = in.text("city", 0, 100)
	prof.State = letters(in, "state", 2)
	prof.Zip = zip(in, "zip", 4, 12)
	prof.Phone = phone(in, "home_phone", 10, 10)
	prof.CellPhone = phone(in, "cell_phone", 10, 10)
	prof.OfficePhone = phone(in, "office_phone", 10, 10)
	prof.OfficeExtPhone = phone(in, "office_ext_phone", 0, 10)
	if v := in.text("contact_balance", 0, 12); v != "" {
		if b, ok := balanceText(v); !ok {
			e.add("contact_balance", msgNumber("contact_balance"))
		} else if len(strings.TrimPrefix(b, "-")) > maxBalanceWhole+3 {
			e.add("contact_balance", msgInvalid("contact_balance"))
		} else {
			prof.ContactBalance = b
		}
	}
	if v, set, ok := in.boolean("email_trx_receipt"); ok && set {
		prof.EmailTrxReceipt = v
	}
	if v, _ := in.str("date_of_birth"); v != "" && !e.failed("date_of_birth") {
		t, err := time.Parse("2006-01-02", v)
		if err != nil || len(v) != 10 {
			e.add("date_of_birth", msgDate("date_of_birth"))
		} else {
			prof.DOB = vault.Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()}
		}
	}
	prof.HeaderMessage = in.text("header_message", 0, 250)
	if v, set, ok := in.integer("header_message_type"); ok && set {
		if v < 0 || v > 4 {
			e.add("header_message_type", msgInvalid("header_message_type"))
		}
		prof.HeaderMessageType = int(v)
	}
	prof.C1 = in.text("contact_c1", 0, 128)
	prof.C2 = in.text("contact_c2", 0, 128)
	prof.C3 = in.text("contact_c3", 0, 128)
	return prof
}

// upsertTarget returns the contact a POST with update_if_exists updates: the one with the
// body's contact_api_id in locationID, or nil when the POST creates one.
func (a *API) upsertTarget(ctx context.Context, p *vault.Principal, in *input, locationID string) (*vault.Profile, error) {
	if !updateIfExists(in) || locationID == "" {
		return nil, nil
	}
	apiID, ok := rawString(in.raw["contact_api_id"])
	if !ok || apiID == "" {
		return nil, nil
	}
	cur, err := a.svc.FindProfile(ctx, p, "contact_api_id", apiID, locationID)
	if vault.KindOf(err) == vault.NotFound {
		return nil, nil
	}
	return cur, err
}

// yiiNumber is what the vendor's Yii NumberValidator takes for "a number" (§1.4 "must be a
// number."): an optional sign, digits with at most one decimal point and at least one digit
// after it (".5" but not "5."), and an optional exponent ("1e5").
var yiiNumber = regexp.MustCompile(`^([-+]?)([0-9]*)\.?([0-9]+)(?:[eE]([-+]?[0-9]+))?$`)

// maxBalanceWhole is the most whole digits a contact_balance keeps: 12, the most its 12
// characters give without an exponent.
const maxBalanceWhole = 12

// balanceText returns a contact_balance, a number as Yii's NumberValidator takes it, as
// two-decimal money (moneyText); false when it is not a number. A value with an exponent
// is written out first, its digits bounded: one past maxBalanceWhole whole digits at most,
// and anything below 0.0001 is 0.
func balanceText(v string) (string, bool) {
	m := yiiNumber.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	sign, whole, frac := m[1], m[2], m[3]
	if !strings.Contains(v, ".") {
		// "123" matched as whole "12", frac "3": the digits are all whole.
		whole, frac = whole+frac, ""
	}
	exp := 0
	if m[4] != "" {
		n, err := strconv.Atoi(m[4])
		if err != nil { // out of range: past any bound either way
			n = 1 << 40
			if m[4][0] == '-' {
				n = -n
			}
		}
		exp = n
	}
	digits := strings.TrimLeft(whole+frac, "0")
	point := len(whole) - (len(whole+frac) - len(digits)) + exp // digits before the point
	var plain string
	switch {
	case digits == "" || point < -4:
		plain = "0"
	case point > maxBalanceWhole:
		plain = "1" + strings.Repeat("0", maxBalanceWhole+1) // too big, whatever it is
	case point <= 0:
		plain = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		plain = digits + strings.Repeat("0", point-len(digits))
	default:
		plain = digits[:point] + "." + digits[point:]
	}
	if sign == "-" {
		plain = "-" + plain
	}
	return moneyText(plain), true
}

// updateIfExists reports whether a POST asks to update the contact with its contact_api_id.
func updateIfExists(in *input) bool {
	raw, ok := in.raw["update_if_exists"]
	if !ok {
		return false
	}
	v, set, ok := rawBool(raw)
	return ok && set && v
}

// phone validates a phone number of digits.
func phone(in *input, f string, min, max int) string {
	v := in.text(f, min, max)
	if v != "" && !card.Digits(v) {
		in.errs.add(f, msgInvalid(f))
		return ""
	}
	return v
}

// contactCoreError turns a core error of a contact write into its field error.
func contactCoreError(err error, apiID string) error {
	e := vault.AsError(err)
	switch {
	case e == nil:
		return err
	case e.Kind == vault.Conflict && e.Field == "contact_api_id":
		return invalid(contactFieldOrder, "contact_api_id", msgTaken("contact_api_id", apiID))
	case e.Kind == vault.Invalid && e.Field == "location_id":
		return invalid(contactFieldOrder, "location_id", msgLocation)
	case e.Kind == vault.Invalid && errors.Is(err, vault.ErrCardNumber):
		return cardNumberFields(err, contactFieldOrder)
	}
	return err
}

// handleContactCreate serves POST /v2/contacts; with update_if_exists, a contact_api_id that
// exists in the location updates that contact and answers 200.
func (a *API) handleContactCreate(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.post(w, r, p, "contacts", func(w http.ResponseWriter, r *http.Request) {
		in, err := readBody(r, "contact", contactFieldOrder)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ctx := r.Context()
		locationID := a.bodyLocation(ctx, p, in, true)
		in.boolean("update_if_exists")
		// update_if_exists that finds its contact validates the body as an update of it:
		// the contact already has a last_name, so the body need not repeat it (as a Yii
		// model loaded from the database passes "required" for attributes it does not
		// change); a last_name sent blank is still refused.
		existing, err := a.upsertTarget(ctx, p, in, locationID)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		create, selfID := existing == nil, ""
		if !create {
			selfID = existing.ID
		}
		prof := a.parseContact(ctx, p, in, locationID, selfID, create)
		if err := in.errs.err(); err != nil {
			a.writeError(w, r, err)
			return
		}
		upsert := updateIfExists(in) && prof.ContactAPIID != ""
		for attempt := 0; ; attempt++ {
			if upsert {
				cur, err := a.svc.FindProfile(ctx, p, "contact_api_id", prof.ContactAPIID, locationID)
				if err == nil {
					out, err := a.svc.UpdateProfile(ctx, p, cur.ID, func(v *vault.Profile) error {
						for f, set := range contactSetters {
							if in.has(f) {
								set(v, prof)
							}
						}
						return nil
					})
					if err != nil {
						a.writeError(w, r, contactCoreError(err, prof.ContactAPIID))
						return
					}
					writeJSON(w, http.StatusOK, object{{"contact", a.contactObject(r, out)}})
					return
				}
				if vault.KindOf(err) != vault.NotFound {
					a.writeError(w, r, err)
					return
				}
			}
			if !create && prof.LastName == "" {
				// The contact was deleted since it was found: this is a create after all.
				a.writeError(w, r, invalid(contactFieldOrder, "last_name", msgRequired("last_name")))
				return
			}
			created, err := a.svc.CreateProfile(ctx, p, prof)
			if err != nil {
				// A racing create of the same contact_api_id: update the winner instead.
				if upsert && attempt == 0 && vault.KindOf(err) == vault.Conflict {
					continue
				}
				a.writeError(w, r, contactCoreError(err, prof.ContactAPIID))
				return
			}
			writeJSON(w, http.StatusCreated, object{{"contact", a.contactObject(r, created)}})
			return
		}
	})
}

// addressedContact returns the contact a path addresses, by id or by api id in the query's
// location_id (the primary location by default).
func (a *API) addressedContact(r *http.Request, p *vault.Principal) (*vault.Profile, error) {
	id := pathID(r)
	var prof *vault.Profile
	var err error
	byAPIID, loc, ok := apiIDLocation(r, p)
	switch {
	case !ok:
		return nil, errNotFound(id)
	case byAPIID:
		prof, err = a.svc.FindProfile(r.Context(), p, "contact_api_id", id, loc)
	default:
		prof, err = a.svc.GetProfile(r.Context(), p, strings.ToLower(id))
	}
	if vault.KindOf(err) == vault.NotFound {
		return nil, errNotFound(id)
	}
	return prof, err
}

// expandContact adds a contact's expands (§3.5).
func (a *API) expandContact(r *http.Request, l *lookups, prof *vault.Profile, o object, names []string) (object, error) {
	return expand(o, names, func(n string) (v any, ok bool, err error) {
		ok = true
		switch n {
		case "location":
			v, err = l.locationObj(r, prof.LocationID)
		case "created_user":
			v, err = l.userObj(r, prof.CreatedUserID)
		case "user":
		case "notes":
			v = []object{}
		default:
			ok = false
		}
		return v, ok, err
	})
}

// handleContactGet serves GET /v2/contacts/{id}.
func (a *API) handleContactGet(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	prof, err := a.addressedContact(r, p)
	var o object
	if err == nil {
		o, err = a.expandContact(r, newLookups(a, p), prof, a.contactObject(r, prof), expandNames(r))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, object{{"contact", o}})
}

// handleContactUpdate serves PUT /v2/contacts/{id}: a partial update.
func (a *API) handleContactUpdate(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	in, err := readBody(r, "contact", contactFieldOrder)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	cur, err := a.addressedContact(r, p)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	lockedFields(in, contactFieldOrder, contactPutAllowed, a.contactObject(r, cur))
	next := a.parseContact(r.Context(), p, in, cur.LocationID, cur.ID, false)
	if err := in.errs.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	out, err := a.svc.UpdateProfile(r.Context(), p, cur.ID, func(v *vault.Profile) error {
		for f, set := range contactSetters {
			if in.has(f) {
				set(v, next)
			}
		}
		return nil
	})
	if err != nil {
		a.writeError(w, r, contactCoreError(err, next.ContactAPIID))
		return
	}
	writeJSON(w, http.StatusOK, object{{"contact", a.contactObject(r, out)}})
}

// handleContactDelete serves DELETE /v2/contacts/{id}: a hard delete (a second one is 404)
// that detaches the contact's vaults and keeps them.
func (a *API) handleContactDelete(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	prof, err := a.addressedContact(r, p)
	if err == nil {
		err = a.svc.DeleteProfile(r.Context(), p, prof.ID, vault.Detach)
		if vault.KindOf(err) == vault.NotFound {
			err = errNotFound(pathID(r))
		}
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var contactList = &listDef{
	collection: "contacts",
	fields: map[string]listField{
		"id": {col: "id", kind: filterExact}, "contact_api_id": {col: "contact_api_id", kind: filterExact},
		"account_number": {col: "account_number", kind: filterExact},
		"first_name":     {col: "first_name", kind: filterContains}, "last_name": {col: "last_name", kind: filterContains},
		"company_name": {col: "company_name", kind: filterContains}, "email": {col: "email", kind: filterContains},
		"home_phone": {col: "phone", kind: filterContains}, "cell_phone": {col: "cell_phone", kind: filterContains},
		"office_phone": {col: "office_phone", kind: filterContains}, "office_ext_phone": {col: "office_ext_phone", kind: filterContains},
		"address": {col: "address", kind: filterContains}, "city": {col: "city", kind: filterContains},
		"zip":        {col: "zip", kind: filterContains},
		"created_ts": {col: "created_at", kind: filterTime}, "modified_ts": {col: "updated_at", kind: filterTime},
	},
	sort: map[string]string{"id": "id", "created_ts": "created_at", "modified_ts": "updated_at", "first_name": "first_name",
		"last_name": "last_name", "company_name": "company_name", "email": "email", "contact_api_id": "contact_api_id"},
}

// handleContactList serves GET /v2/contacts: the primary location's contacts, or the
// location_id parameter's.
func (a *API) handleContactList(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	locs, err := primaryScope(r, p)
	lr := a.parseList(r, p, contactList)
	if err := withScopeErr(err, lr); err != nil {
		a.writeError(w, r, err)
		return
	}
	lr.scope("location_id", locs)
	serveList(a, w, r, p, lr, "contacts",
		func(ctx context.Context, q vault.Query) ([]*vault.Profile, int, error) {
			return a.svc.Store().ListProfiles(ctx, p.MerchantID(), q)
		},
		func(l *lookups, prof *vault.Profile, names []string) (object, error) {
			return a.expandContact(r, l, prof, a.contactObject(r, prof), names)
		})
}

// moneyText is a decimal number as money is shown (§1.5 "Money is a two-decimal string"):
// two decimals, rounded half away from zero, without leading zeros ("12.5" is "12.50",
// "007" is "7.00", "1.005" is "1.01", "-0.001" is "0.00"). Text that is not a number
// (numberPattern), the empty string included, is returned as it is.
func moneyText(v string) string {
	if !numberPattern.MatchString(v) {
		return v
	}
	neg := strings.HasPrefix(v, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(v, "-"), ".")
	frac += "000"
	cents := []byte(strings.TrimLeft(whole, "0") + frac[:2])
	if frac[2] >= '5' {
		i := len(cents) - 1
		for ; i >= 0 && cents[i] == '9'; i-- {
			cents[i] = '0'
		}
		if i < 0 {
			cents = append([]byte{'1'}, cents...)
		} else {
			cents[i]++
		}
	}
	for len(cents) < 3 {
		cents = append([]byte{'0'}, cents...)
	}
	out := string(cents[:len(cents)-2]) + "." + string(cents[len(cents)-2:])
	if neg && out != "0.00" {
		out = "-" + out
	}
	return out
}
