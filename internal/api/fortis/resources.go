package fortis

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/payvault/payvault/internal/vault"
)

// This file serves the read-only companions of §3.1–§3.3: users, locations and product
// transactions. They are provisioned through the admin API.

// unix is a timestamp in Unix seconds, or null when unset.
func unix(t interface {
	IsZero() bool
	Unix() int64
}) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

// locationObject is a location's representation (§3.2); its ticket hash key is shown to users
// with access.
func (a *API) locationObject(r *http.Request, l *vault.Location) (object, error) {
	key, err := a.svc.RevealTicketHashKey(l)
	if err != nil {
		return nil, err
	}
	return object{
		{"id", l.ID}, {"name", str(l.Name)}, {"parent_id", str(l.ParentID)}, {"account_number", str(l.AccountNumber)},
		{"location_api_id", str(l.APIID)}, {"location_api_key", str(l.APIKey)}, {"ticket_hash_key", str(key)},
		{"address1", str(l.Address1)}, {"address2", str(l.Address2)}, {"city", str(l.City)}, {"state", str(l.State)},
		{"zip_code", str(l.ZipCode)}, {"office_phone", str(l.OfficePhone)}, {"office_ext_phone", str(l.OfficeExtPhone)},
		{"fax", str(l.Fax)}, {"aba", nil}, {"dda", nil}, {"tz", str(l.TZ)}, {"receipt_logo", nil},
		{"branding_domain_id", nil}, {"developer_company_id", nil}, {"default_cc", str(l.DefaultCC)},
		{"default_ach", str(l.DefaultACH)}, {"email_reply_to", str(l.EmailReplyTo)}, {"location_c1", str(l.C1)},
		{"location_c2", str(l.C2)}, {"location_c3", str(l.C3)}, {"contact_email_trx_receipt_default", false},
		{"recurring_notification_days_default", nil}, {"show_contact_notes", false}, {"show_contact_files", false},
		{"created_ts", l.Created.Unix()}, {"modified_ts", unix(l.Modified)},
		{"_links", links(a.href(r, "locations", l.ID))},
	}, nil
}

// userObject is a user's representation (§3.1); its api key is never shown.
func (a *API) userObject(r *http.Request, u *vault.User) object {
	return object{
		{"id", u.ID}, {"domain_id", str(u.DomainID)}, {"contact_id", str(u.ContactID)}, {"username", str(u.Username)},
		{"email", str(u.Email)}, {"user_type_id", u.UserTypeID}, {"locale", str(u.Locale)}, {"status", u.Status},
		{"tz", str(u.TZ)}, {"last_login_ts", nil}, {"created_ts", u.Created.Unix()}, {"modified_ts", unix(u.Modified)},
		{"primary_location_id", str(u.PrimaryLocationID)}, {"branding_domain_url", nil},
		{"created_user_id", str(u.CreatedUserID)}, {"user_api_key", nil}, {"user_hash_key", nil},
		{"first_name", str(u.FirstName)}, {"last_name", str(u.LastName)},
		{"_links", links(a.href(r, "users", u.ID))},
	}
}

// productObject is a product transaction's representation (§3.3).
func (a *API) productObject(r *http.Request, pt *vault.ProductTransaction) object {
	active := 0
	if pt.Active {
		active = 1
	}
	return object{
		{"id", pt.ID}, {"location_id", pt.LocationID}, {"payment_method", pt.PaymentMethod},
		{"processor", str(pt.Processor)}, {"title", str(pt.Title)}, {"industry_type", str(pt.IndustryType)},
		{"run_avs_on_accountvault_create", pt.RunAVSOnCreate}, {"auto_decline_cvv", pt.AutoDeclineCVV},
		{"vt_require_zip", pt.VTRequireZip}, {"vt_require_street", pt.VTRequireStreet}, {"active", active},
		{"created_ts", pt.Created.Unix()}, {"modified_ts", unix(pt.Modified)},
		{"_links", links(a.href(r, "producttransactions", pt.ID))},
	}
}

// shareLocation reports whether user u shares a location the principal can reach.
func shareLocation(p *vault.Principal, u *vault.User) bool {
	if p.User != nil && u.ID == p.User.ID {
		return true
	}
	return inLocation(u, p.CanReach)
}

// inLocation reports whether any of the user's locations, the primary among them, is one
// that in accepts.
func inLocation(u *vault.User, in func(locationID string) bool) bool {
	return in(u.PrimaryLocationID) || slices.ContainsFunc(u.LocationIDs, in)
}

var locationList = &listDef{
	collection: "locations",
	fields: map[string]listField{
		"id": {col: "id", kind: filterExact}, "parent_id": {col: "parent_id", kind: filterExact},
		"location_api_id": {col: "api_id", kind: filterExact}, "name": {col: "name", kind: filterContains},
		"created_ts": {col: "created_at", kind: filterTime}, "modified_ts": {col: "updated_at", kind: filterTime},
	},
	sort: map[string]string{"id": "id", "name": "name", "created_ts": "created_at"},
}

var userList = &listDef{
	collection: "users",
	fields: map[string]listField{
		"id": {col: "id", kind: filterExact}, "primary_location_id": {col: "primary_location_id", kind: filterExact},
		"status": {col: "status", kind: filterNumber}, "username": {col: "username", kind: filterContains},
		"email": {col: "email", kind: filterContains}, "first_name": {col: "first_name", kind: filterContains},
		"last_name":  {col: "last_name", kind: filterContains},
		"created_ts": {col: "created_at", kind: filterTime}, "modified_ts": {col: "updated_at", kind: filterTime},
	},
	sort: map[string]string{"id": "id", "username": "username", "last_name": "last_name", "first_name": "first_name",
		"email": "email", "created_ts": "created_at", "modified_ts": "updated_at"},
}

var productList = &listDef{
	collection: "producttransactions",
	fields: map[string]listField{
		"id": {col: "id", kind: filterExact}, "payment_method": {col: "payment_method", kind: filterExact},
		"title":      {col: "title", kind: filterContains},
		"created_ts": {col: "created_at", kind: filterTime}, "modified_ts": {col: "updated_at", kind: filterTime},
	},
	sort: map[string]string{"id": "id", "title": "title", "payment_method": "payment_method", "created_ts": "created_at"},
}

// expandLocation adds a location's expands (§3.2).
func (a *API) expandLocation(r *http.Request, p *vault.Principal, l *lookups, loc *vault.Location, o object, names []string) (object, error) {
	return expand(o, names, func(n string) (v any, ok bool, err error) {
		ok = true
		switch n {
		case "product_transactions":
			pts, _, err2 := a.svc.Store().ListProductTransactions(r.Context(), p.MerchantID(), vault.Query{
				Filters: []vault.Filter{{Field: "location_id", Op: vault.OpIn, Values: []string{loc.ID}}},
				Sort:    []vault.SortKey{{Field: "id"}}})
			items := []object{}
			for _, pt := range pts {
				items = append(items, a.productObject(r, pt))
			}
			v, err = items, err2
		case "parent":
			v, err = l.locationObj(r, loc.ParentID)
		case "created_user", "branding_domain", "developer_company", "product_recurring", "product_file", "terminal":
		default:
			ok = false
		}
		return v, ok, err
	})
}

// expandUser adds a user's expands: its primary location and its accessible locations.
func (a *API) expandUser(r *http.Request, l *lookups, u *vault.User, o object, names []string) (object, error) {
	return expand(o, names, func(n string) (v any, ok bool, err error) {
		ok = true
		switch n {
		case "primary_location":
			v, err = l.locationObj(r, u.PrimaryLocationID)
		case "locations":
			items := []object{}
			for _, id := range u.LocationIDs {
				loc, err2 := l.locationObj(r, id)
				if err2 != nil {
					return nil, false, err2
				}
				if lo, ok := loc.(object); ok {
					items = append(items, lo)
				}
			}
			v = items
		case "created_user":
			v, err = l.userObj(r, u.CreatedUserID)
		default:
			ok = false
		}
		return v, ok, err
	})
}

// expandProduct adds a product transaction's expands: its location.
func (a *API) expandProduct(r *http.Request, l *lookups, pt *vault.ProductTransaction, o object, names []string) (object, error) {
	return expand(o, names, func(n string) (any, bool, error) {
		if n != "location" {
			return nil, false, nil
		}
		v, err := l.locationObj(r, pt.LocationID)
		return v, true, err
	})
}

// handleLocationGet serves GET /v2/locations/{id}: an accessible location.
func (a *API) handleLocationGet(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	l := newLookups(a, p)
	id := pathID(r)
	loc, err := l.location(r.Context(), strings.ToLower(id))
	if err == nil && loc == nil {
		err = errNotFound(id)
	}
	var o object
	if err == nil {
		o, err = a.locationObject(r, loc)
	}
	if err == nil {
		o, err = a.expandLocation(r, p, l, loc, o, expandNames(r))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, object{{"location", o}})
}

// handleLocationList serves GET /v2/locations: the accessible locations, or those of the
// location_id parameter, each of which must be accessible (§1.6).
func (a *API) handleLocationList(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	locs, err := accessibleScope(r, p)
	lr := a.parseList(r, p, locationList)
	if err := withScopeErr(err, lr); err != nil {
		a.writeError(w, r, err)
		return
	}
	if locs != nil {
		lr.scope("id", locs)
	}
	serveList(a, w, r, p, lr, "locations",
		func(ctx context.Context, q vault.Query) ([]*vault.Location, int, error) {
			return a.svc.Store().ListLocations(ctx, p.MerchantID(), q)
		},
		func(l *lookups, loc *vault.Location, names []string) (object, error) {
			o, err := a.locationObject(r, loc)
			if err != nil {
				return nil, err
			}
			return a.expandLocation(r, p, l, loc, o, names)
		})
}

// handleUserGet serves GET /v2/users/{id}: the caller or a user sharing an accessible location.
func (a *API) handleUserGet(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	l := newLookups(a, p)
	id := pathID(r)
	u, err := l.user(r.Context(), strings.ToLower(id))
	if err == nil && (u == nil || !shareLocation(p, u)) {
		err = errNotFound(id)
	}
	var o object
	if err == nil {
		o, err = a.expandUser(r, l, u, a.userObject(r, u), expandNames(r))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, object{{"user", o}})
}

// handleUserList serves GET /v2/users: the caller and the users who share an accessible
// location or, with the location_id parameter (each of its locations accessible, §1.6),
// the users of those locations. Reach is decided per user, so the page is cut after that
// check.
func (a *API) handleUserList(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	locs, err := listLocations(r, p)
	lr := a.parseList(r, p, userList)
	if err := withScopeErr(err, lr); err != nil {
		a.writeError(w, r, err)
		return
	}
	listed := func(u *vault.User) bool { return shareLocation(p, u) }
	if locs != nil {
		listed = func(u *vault.User) bool {
			return inLocation(u, func(id string) bool { return slices.Contains(locs, id) })
		}
	}
	serveList(a, w, r, p, lr, "users",
		func(ctx context.Context, q vault.Query) ([]*vault.User, int, error) {
			// Which users share a location is decided here, so the page is cut here too.
			offset := q.Offset
			q.Limit, q.Offset = 0, 0
			users, _, err := a.svc.Store().ListUsers(ctx, p.MerchantID(), q)
			if err != nil {
				return nil, 0, err
			}
			users = slices.DeleteFunc(users, func(u *vault.User) bool { return !listed(u) })
			start := min(offset, len(users))
			return users[start:min(start+lr.size, len(users))], len(users), nil
		},
		func(l *lookups, u *vault.User, names []string) (object, error) {
			return a.expandUser(r, l, u, a.userObject(r, u), names)
		})
}

// handleProductTransactionGet serves GET /v2/producttransactions/{id}.
func (a *API) handleProductTransactionGet(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	l := newLookups(a, p)
	id := pathID(r)
	pt, err := l.product(r.Context(), strings.ToLower(id))
	if err == nil && (pt == nil || !p.CanReach(pt.LocationID)) {
		err = errNotFound(id)
	}
	var o object
	if err == nil {
		o, err = a.expandProduct(r, l, pt, a.productObject(r, pt), expandNames(r))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, object{{"producttransaction", o}})
}

// handleProductTransactionList serves GET /v2/producttransactions: those of the accessible
// locations, or of the location_id parameter's.
func (a *API) handleProductTransactionList(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	locs, err := accessibleScope(r, p)
	lr := a.parseList(r, p, productList)
	if err := withScopeErr(err, lr); err != nil {
		a.writeError(w, r, err)
		return
	}
	if locs != nil {
		lr.scope("location_id", locs)
	}
	serveList(a, w, r, p, lr, "producttransactions",
		func(ctx context.Context, q vault.Query) ([]*vault.ProductTransaction, int, error) {
			return a.svc.Store().ListProductTransactions(ctx, p.MerchantID(), q)
		},
		func(l *lookups, pt *vault.ProductTransaction, names []string) (object, error) {
			return a.expandProduct(r, l, pt, a.productObject(r, pt), names)
		})
}
