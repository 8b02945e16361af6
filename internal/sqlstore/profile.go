package sqlstore

import (
	"context"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

func profileCols(p *vault.Profile) []col {
	return []col{
		{"id", &p.ID}, {"merchant_id", &p.MerchantID}, {"location_id", &p.LocationID}, {"token", &p.Token},
		{"status", &p.Status}, {"merchant_customer_id", &p.MerchantCustomerID}, {"locale", &p.Locale},
		{"first_name", &p.FirstName}, {"middle_name", &p.MiddleName}, {"last_name", &p.LastName},
		{"dob_year", &p.DOB.Year}, {"dob_month", &p.DOB.Month}, {"dob_day", &p.DOB.Day}, {"ip", &p.IP},
		{"gender", &p.Gender}, {"nationality", &p.Nationality}, {"email", &p.Email}, {"phone", &p.Phone},
		{"cell_phone", &p.CellPhone}, {"contact_api_id", &p.ContactAPIID}, {"company_name", &p.CompanyName},
		{"account_number", &p.AccountNumber}, {"address", &p.Address}, {"city", &p.City}, {"state", &p.State},
		{"zip", &p.Zip}, {"office_phone", &p.OfficePhone}, {"office_ext_phone", &p.OfficeExtPhone},
		{"contact_balance", &p.ContactBalance}, {"email_trx_receipt", &p.EmailTrxReceipt},
		{"header_message", &p.HeaderMessage}, {"header_message_type", &p.HeaderMessageType},
		{"c1", &p.C1}, {"c2", &p.C2}, {"c3", &p.C3}, {"created_user_id", &p.CreatedUserID},
		{"created_at", ms(&p.Created)}, {"updated_at", ms(&p.Modified)},
	}
}

func newProfile() (*vault.Profile, []col) {
	p := &vault.Profile{}
	return p, profileCols(p)
}

// GetProfile implements vault.Reader.
func (q *q) GetProfile(ctx context.Context, merchantID, id string) (*vault.Profile, error) {
	p, cs := newProfile()
	err := q.row(ctx, "SELECT "+names(cs)+" FROM profiles WHERE merchant_id = ? AND id = ? AND deleted_at = 0", merchantID, id).Scan(ptrs(cs)...)
	return p, mapErr("sqlstore.GetProfile", err, id)
}

// GetProfileLocation implements vault.Reader.
func (q *q) GetProfileLocation(ctx context.Context, merchantID, id string) (string, error) {
	var loc string
	err := q.row(ctx, "SELECT location_id FROM profiles WHERE merchant_id = ? AND id = ? AND deleted_at = 0", merchantID, id).Scan(&loc)
	return loc, mapErr("sqlstore.GetProfileLocation", err, id)
}

// LockProfile implements vault.Tx.
func (t *tx) LockProfile(ctx context.Context, merchantID, id string) (*vault.Profile, error) {
	p, cs := newProfile()
	err := t.row(ctx, "SELECT "+names(cs)+" FROM profiles WHERE merchant_id = ? AND id = ? AND deleted_at = 0"+t.forUpdate(), merchantID, id).Scan(ptrs(cs)...)
	return p, mapErr("sqlstore.LockProfile", err, id)
}

// LockProfileLocation implements vault.Tx.
func (t *tx) LockProfileLocation(ctx context.Context, merchantID, id string) (string, error) {
	if c, ok := t.db.(*txConn); ok {
		if p, ok := c.locked[id]; ok && p.merchant == merchantID {
			return p.location, nil // locked with its batch (lockProfiles)
		}
	}
	var loc string
	err := t.row(ctx, "SELECT location_id FROM profiles WHERE merchant_id = ? AND id = ? AND deleted_at = 0"+t.forUpdate(), merchantID, id).Scan(&loc)
	return loc, mapErr("sqlstore.LockProfileLocation", err, id)
}

// profileLookupFields are the columns GetProfileBy accepts.
var profileLookupFields = map[string]bool{"merchant_customer_id": true, "token": true, "contact_api_id": true}

// GetProfileBy implements vault.Reader.
func (q *q) GetProfileBy(ctx context.Context, merchantID, field, value, locationID string) (*vault.Profile, error) {
	if !profileLookupFields[field] {
		return nil, vault.E("sqlstore.GetProfileBy", vault.Internal, vault.Field(field))
	}
	p, cs := newProfile()
	query := "SELECT " + names(cs) + " FROM profiles WHERE merchant_id = ? AND " + field + " = ? AND deleted_at = 0"
	if cond := lookupCond(field); cond != "" && value != "" {
		// A planner cannot infer the partial index's condition from "field = ?"; without it
		// SQLite reads every profile of the merchant.
		query += " AND " + cond
	}
	args := []any{merchantID, value}
	if locationID != "" {
		query += " AND location_id = ?"
		args = append(args, locationID)
	}
	err := q.row(ctx, query+" ORDER BY id DESC LIMIT 1", args...).Scan(ptrs(cs)...)
	return p, mapErr("sqlstore.GetProfileBy", err, value)
}

// lookupCond is the partial condition of the index that serves a lookup by field: the
// condition of the profileList index that ends with it, or "" (the token's unique index has
// none).
func lookupCond(field string) string {
	for _, ix := range profileList.indexes {
		if ix.fields[len(ix.fields)-1] == field {
			return ix.cond
		}
	}
	return ""
}

var profileList = listSpec{
	table: "profiles",
	base:  "deleted_at = 0", // which the partial indexes below also need
	// A Fortis contact list is its locations' contacts: profiles_location (migration 00009).
	split: &listSplit{base: "deleted_at = 0", fields: []string{"location_id"}},
	indexes: []listIndex{
		{name: "profiles_contact_api_id", fields: []string{"location_id", "contact_api_id"}, cond: "contact_api_id <> ''"},
		{name: "profiles_mcid", fields: []string{"merchant_customer_id"}, cond: "merchant_customer_id <> ''"},
	},
	fields: map[string]fieldKind{
		"id": fLower, "location_id": fLower, "contact_api_id": fText, "account_number": fText,
		"merchant_customer_id": fText, "first_name": fText, "last_name": fText, "company_name": fText,
		"email": fText, "phone": fText, "cell_phone": fText, "office_phone": fText, "office_ext_phone": fText,
		"address": fText, "city": fText, "zip": fText, "state": fText, "created_at": fTime, "updated_at": fTime,
		"created_user_id": fLower,
	},
}

// ListProfiles implements vault.Reader.
func (q *q) ListProfiles(ctx context.Context, merchantID string, qry vault.Query) ([]*vault.Profile, int, error) {
	return list(ctx, q, profileList, merchantID, qry, newProfile, nil)
}

// InsertProfile implements vault.Tx.
func (t *tx) InsertProfile(ctx context.Context, p *vault.Profile) error {
	cs := profileCols(p)
	_, _, err := t.execQueued(ctx, false, insertSQL("profiles", cs), vals(cs)...)
	return mapErr("sqlstore.InsertProfile", err)
}

// UpdateProfile implements vault.Tx.
func (t *tx) UpdateProfile(ctx context.Context, p *vault.Profile) error {
	cs := without(profileCols(p), "id", "merchant_id", "token", "created_at")
	return t.execOne(ctx, "sqlstore.UpdateProfile", p.ID,
		updateSQL("profiles", cs, "merchant_id = ? AND id = ? AND deleted_at = 0"), append(vals(cs), p.MerchantID, p.ID)...)
}

// DeleteProfile implements vault.Tx.
func (t *tx) DeleteProfile(ctx context.Context, merchantID, id string, at time.Time) error {
	return t.execOne(ctx, "sqlstore.DeleteProfile", id,
		"UPDATE profiles SET deleted_at = ? WHERE merchant_id = ? AND id = ? AND deleted_at = 0", toMS(at), merchantID, id)
}

func addressCols(a *vault.Address) []col {
	return []col{
		{"id", &a.ID}, {"merchant_id", &a.MerchantID}, {"profile_id", &a.ProfileID}, {"nick_name", &a.NickName},
		{"street", &a.Street}, {"street2", &a.Street2}, {"city", &a.City}, {"state", &a.State},
		{"country", &a.Country}, {"zip", &a.Zip}, {"recipient_name", &a.RecipientName}, {"phone", &a.Phone},
		{"default_shipping", &a.DefaultShipping}, {"status", &a.Status}, {"created_at", ms(&a.Created)},
	}
}

func newAddress() (*vault.Address, []col) {
	a := &vault.Address{}
	return a, addressCols(a)
}

// GetAddress implements vault.Reader. In a write marked with vault.WithTokenRead, a card's
// billing address may have been read ahead with its batch's (readahead.go).
func (q *q) GetAddress(ctx context.Context, merchantID, profileID, id string) (*vault.Address, error) {
	if c, ok := q.db.(*txConn); ok {
		if a, ok := c.aheadAddress(merchantID, profileID, id); ok {
			return a, nil
		}
	}
	a, cs := newAddress()
	err := q.row(ctx, "SELECT "+names(cs)+" FROM addresses WHERE merchant_id = ? AND profile_id = ? AND id = ?", merchantID, profileID, id).Scan(ptrs(cs)...)
	return a, mapErr("sqlstore.GetAddress", err, id)
}

// ListAddresses implements vault.Reader.
func (q *q) ListAddresses(ctx context.Context, merchantID, profileID string) ([]*vault.Address, error) {
	_, cs := newAddress()
	return listAll(ctx, q, "SELECT "+names(cs)+" FROM addresses WHERE merchant_id = ? AND profile_id = ? ORDER BY created_at, id",
		[]any{merchantID, profileID}, newAddress)
}

// InsertAddress implements vault.Tx.
func (t *tx) InsertAddress(ctx context.Context, a *vault.Address) error {
	cs := addressCols(a)
	_, _, err := t.execQueued(ctx, false, insertSQL("addresses", cs), vals(cs)...)
	return mapErr("sqlstore.InsertAddress", err)
}

// UpdateAddress implements vault.Tx.
func (t *tx) UpdateAddress(ctx context.Context, a *vault.Address) error {
	cs := without(addressCols(a), "id", "merchant_id", "profile_id", "created_at")
	return t.execOne(ctx, "sqlstore.UpdateAddress", a.ID,
		updateSQL("addresses", cs, "merchant_id = ? AND profile_id = ? AND id = ?"), append(vals(cs), a.MerchantID, a.ProfileID, a.ID)...)
}

// DeleteAddress implements vault.Tx.
func (t *tx) DeleteAddress(ctx context.Context, merchantID, profileID, id string) error {
	if _, err := t.exec(ctx, "UPDATE instruments SET billing_address_id = '' WHERE merchant_id = ? AND profile_id = ? AND billing_address_id = ?"+onProfile(profileID), merchantID, profileID, id); err != nil {
		return mapErr("sqlstore.DeleteAddress", err)
	}
	return t.execOne(ctx, "sqlstore.DeleteAddress", id, "DELETE FROM addresses WHERE merchant_id = ? AND profile_id = ? AND id = ?", merchantID, profileID, id)
}

// ClearDefaultShipping implements vault.Tx.
func (t *tx) ClearDefaultShipping(ctx context.Context, merchantID, profileID, exceptID string) error {
	_, err := t.exec(ctx, "UPDATE addresses SET default_shipping = FALSE WHERE merchant_id = ? AND profile_id = ? AND id <> ? AND default_shipping", merchantID, profileID, exceptID)
	return mapErr("sqlstore.ClearDefaultShipping", err)
}
