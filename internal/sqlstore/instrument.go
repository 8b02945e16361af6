package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payvault/payvault/internal/vault"
)

func instrumentCols(in *vault.Instrument) []col {
	return []col{
		{"id", &in.ID}, {"merchant_id", &in.MerchantID}, {"location_id", &in.LocationID},
		{"profile_id", &in.ProfileID}, {"token", &in.Token}, {"kind", &in.Kind}, {"status", &in.Status},
		{"dek_id", &in.Sealed.KeyID}, {"number_sealed", &in.Sealed.Number}, {"ssn4_sealed", &in.Sealed.SSN4},
		{"dl_number_sealed", &in.Sealed.DLNumber}, {"ad_version", &in.Sealed.ADVersion}, {"fingerprint", &in.Fingerprint},
		{"bin", &in.BIN}, {"last_four", &in.LastFour}, {"pan_length", &in.PANLength}, {"brand", &in.Brand},
		{"category", &in.Category}, {"exp_month", &in.ExpMonth}, {"exp_year", &in.ExpYear},
		{"holder_name", &in.HolderName}, {"stored_credential_status", &in.StoredCredentialStatus},
		{"default_card", &in.DefaultCard}, {"routing_number", &in.RoutingNumber},
		{"account_type", &in.AccountType}, {"sort_code", &in.SortCode}, {"transit_number", &in.TransitNumber},
		{"institution_id", &in.InstitutionID}, {"iban_masked", &in.IBANMasked}, {"bic", &in.BIC},
		{"is_company", &in.IsCompany}, {"ach_sec_code", &in.ACHSecCode}, {"nick_name", &in.NickName},
		{"merchant_ref_num", &in.MerchantRefNum}, {"billing_address_id", &in.BillingAddressID},
		{"title", &in.Title}, {"api_id", &in.APIID}, {"billing_street", &in.BillingStreet},
		{"billing_city", &in.BillingCity}, {"billing_state", &in.BillingState}, {"billing_zip", &in.BillingZip},
		{"billing_phone", &in.BillingPhone}, {"customer_id", &in.CustomerID}, {"dl_state", &in.DLState},
		{"dob_year", &in.DOBYear}, {"c1", &in.C1}, {"c2", &in.C2}, {"c3", &in.C3},
		{"terms_agree", &in.TermsAgree}, {"terms_agree_ip", &in.TermsAgreeIP},
		{"created_user_id", &in.CreatedUserID}, {"created_at", ms(&in.Created)},
		{"updated_at", ms(&in.Modified)}, {"deleted_at", ms(&in.Deleted)},
	}
}

func newInstrument() (*vault.Instrument, []col) {
	in := &vault.Instrument{}
	return in, instrumentCols(in)
}

// fixInstrument derives the presence flags from the sealed columns.
func fixInstrument(in *vault.Instrument) {
	in.HasSSN4 = len(in.Sealed.SSN4) > 0
	in.HasDLNumber = len(in.Sealed.DLNumber) > 0
}

func (q *q) getInstrument(ctx context.Context, op, id, where string, args ...any) (*vault.Instrument, error) {
	in, cs := newInstrument()
	if err := q.row(ctx, "SELECT "+names(cs)+" FROM instruments WHERE "+where, args...).Scan(ptrs(cs)...); err != nil {
		return nil, mapErr(op, err, id)
	}
	fixInstrument(in)
	return in, nil
}

// GetInstrument implements vault.Reader.
func (q *q) GetInstrument(ctx context.Context, merchantID, id string) (*vault.Instrument, error) {
	return q.getInstrument(ctx, "sqlstore.GetInstrument", id, "merchant_id = ? AND id = ?", merchantID, id)
}

// GetInstrumentByToken implements vault.Reader.
func (q *q) GetInstrumentByToken(ctx context.Context, merchantID, token string) (*vault.Instrument, error) {
	return q.getInstrument(ctx, "sqlstore.GetInstrumentByToken", token, "merchant_id = ? AND token = ? AND deleted_at = 0", merchantID, token)
}

// withCustomerSQL reads instruments with their profiles' names (Customer); the caller adds
// its WHERE. The profile's columns are renamed in a subquery (which both engines flatten into
// a join on its primary key), so that the instrument's own names stay unambiguous.
var withCustomerSQL = withCustomerHead +
	" LEFT JOIN (SELECT id AS p_id, merchant_id AS p_merchant, first_name AS p_first, last_name AS p_last, email AS p_email FROM profiles WHERE deleted_at = 0) p" +
	" ON p_id = profile_id AND p_merchant = merchant_id"

// withCustomerLateralSQL is withCustomerSQL for many instruments on PostgreSQL: each
// instrument's profile is read by its key, in a subquery the planner may not flatten (OFFSET
// 0). Flattened into a join, a read of a batch's few cards (readahead.go) hashed every profile
// of a store of 1,000 (TestBatchReadPlansPostgres): 1.1-1.4 ms a batch against 0.3.
var withCustomerLateralSQL = withCustomerHead +
	" LEFT JOIN LATERAL (SELECT first_name AS p_first, last_name AS p_last, email AS p_email FROM profiles" +
	" WHERE id = instruments.profile_id AND merchant_id = instruments.merchant_id AND deleted_at = 0 OFFSET 0) p ON true"

// withCustomerHead is the columns and FROM of withCustomerSQL and withCustomerLateralSQL,
// whose join names the profile's columns p_first, p_last and p_email.
var withCustomerHead = func() string {
	_, cs := newInstrument()
	return "SELECT " + names(cs) + ", COALESCE(p_first, ''), COALESCE(p_last, ''), COALESCE(p_email, '') FROM instruments"
}()

// byTokenWithCustomerSQL is GetInstrumentByTokenWithCustomer's query.
var byTokenWithCustomerSQL = withCustomerSQL + " WHERE merchant_id = ? AND token = ? AND deleted_at = 0"

// GetInstrumentByTokenWithCustomer implements vault.Reader (withCustomerSQL). In a write
// marked with vault.WithTokenRead, the card may have been read ahead with its batch's
// (readahead.go).
func (q *q) GetInstrumentByTokenWithCustomer(ctx context.Context, merchantID, token string) (*vault.Instrument, vault.Customer, error) {
	if c, ok := q.db.(*txConn); ok {
		if in, cust, ok := c.aheadCard(merchantID, token); ok {
			return in, cust, nil
		}
	}
	in, cs := newInstrument()
	var c vault.Customer
	err := q.row(ctx, byTokenWithCustomerSQL, merchantID, token).Scan(append(ptrs(cs), &c.FirstName, &c.LastName, &c.Email)...)
	if err != nil {
		return nil, c, mapErr("sqlstore.GetInstrumentByTokenWithCustomer", err, token)
	}
	fixInstrument(in)
	return in, c, nil
}

// GetInstrumentByAPIID implements vault.Reader.
func (q *q) GetInstrumentByAPIID(ctx context.Context, merchantID, locationID, apiID string) (*vault.Instrument, error) {
	if apiID == "" {
		return nil, vault.E("sqlstore.GetInstrumentByAPIID", vault.NotFound)
	}
	// "api_id <> ''" lets instruments_api_id_any, which holds deleted rows too, serve it.
	return q.getInstrument(ctx, "sqlstore.GetInstrumentByAPIID", apiID,
		"merchant_id = ? AND location_id = ? AND api_id = ? AND api_id <> '' ORDER BY deleted_at = 0 DESC, deleted_at DESC LIMIT 1", merchantID, locationID, apiID)
}

var instrumentList = listSpec{
	table:   "instruments",
	counted: countedInstruments,
	split:   &listSplit{base: activeOnly, fields: []string{"location_id", "kind"}, literal: "kind"},
	indexes: []listIndex{
		{name: "instruments_profile", fields: []string{"profile_id"}, cond: "profile_id <> ''"},
		{name: "instruments_api_id_any", fields: []string{"location_id", "api_id"}, cond: "api_id <> ''"},
	},
	fields: map[string]fieldKind{
		"id": fLower, "location_id": fLower, "profile_id": fLower, "kind": fLower, "token": fText,
		"account_type": fFold, "brand": fFold, "api_id": fText, "bin": fText, "last_four": fText,
		"exp_month": fInt, "exp_year": fInt, "ach_sec_code": fFold, "customer_id": fText,
		"billing_state": fFold, "routing_number": fText, "created_user_id": fLower, "title": fText,
		"holder_name": fText, "billing_street": fText, "billing_city": fText, "billing_zip": fText,
		"billing_phone": fText, "c1": fText, "c2": fText, "c3": fText, "created_at": fTime,
		"updated_at": fTime, "deleted_at": fTime, "exp_mmyy": fInt, "brand_or_account_type": fFold,
	},
	exprs: map[string]string{
		// exp_mmyy is the expiry as the integer MMYY (0919 is 919), so that it sorts as the
		// four-digit text does; it is 0 for bank accounts.
		"exp_mmyy": "(exp_month * 100 + exp_year % 100)",
		// brand_or_account_type is a card's brand or a bank account's type, lower-case.
		"brand_or_account_type": "(CASE WHEN kind = 'card' THEN brand ELSE LOWER(account_type) END)",
	},
}

// activeOnly is ListInstruments' base condition for a list of active instruments only, the
// lists countedInstruments may count.
const activeOnly = "deleted_at = 0"

// countedInstruments counts a list of active instruments from instrument_counts (migration
// 00007: flushCounts adds inserts, triggers count updates and deletes), when its only filters
// are location_id and kind: an unfiltered Fortis list. Values are lower-cased as
// listSpec.where does for them.
func countedInstruments(s listSpec, merchantID string, qry vault.Query) (total, summed string, args []any, ok bool) {
	if s.base != activeOnly {
		return "", "", nil, false
	}
	where := " FROM instrument_counts WHERE merchant_id = ?"
	args = []any{merchantID}
	seen := map[string]bool{}
	for _, f := range qry.Filters {
		if f.Field != "location_id" && f.Field != "kind" || f.Op != vault.OpIn || len(f.Values) == 0 || seen[f.Field] {
			return "", "", nil, false
		}
		seen[f.Field] = true
		where += " AND " + f.Field + " IN (" + placeholders(len(f.Values)) + ")"
		for _, v := range f.Values {
			args = append(args, strings.ToLower(v))
		}
	}
	return "SELECT COALESCE(SUM(n), 0)" + where, "SELECT COUNT(*)" + where, args, true
}

// ListInstruments implements vault.Reader. The pseudo-field "active" filters on deletion
// ("1" active, "0" deleted); without it only active instruments are listed.
func (q *q) ListInstruments(ctx context.Context, merchantID string, qry vault.Query) ([]*vault.Instrument, int, error) {
	spec := instrumentList
	spec.base = activeOnly
	var fs []vault.Filter
	for _, f := range qry.Filters {
		if f.Field != "active" {
			fs = append(fs, f)
			continue
		}
		active, deleted := false, false
		for _, v := range f.Values {
			switch v {
			case "1", "true":
				active = true
			case "0", "false":
				deleted = true
			}
		}
		switch {
		case active && deleted:
			spec.base = ""
		case deleted:
			spec.base = "deleted_at <> 0"
		case !active:
			spec.base = "1 = 0"
		}
	}
	qry.Filters = fs
	return list(ctx, q, spec, merchantID, qry, newInstrument, fixInstrument)
}

// ListProfileInstruments implements vault.Reader.
func (q *q) ListProfileInstruments(ctx context.Context, merchantID, profileID, kind string) ([]*vault.Instrument, error) {
	_, cs := newInstrument()
	query := "SELECT " + names(cs) + " FROM instruments WHERE merchant_id = ? AND profile_id = ? AND deleted_at = 0" + onProfile(profileID)
	args := []any{merchantID, profileID}
	if kind != "" {
		query += " AND kind = ?"
		args = append(args, kind)
	}
	out, err := listAll(ctx, q, query+" ORDER BY created_at, id", args, newInstrument)
	for _, in := range out {
		fixInstrument(in)
	}
	return out, err
}

// InsertInstrument implements vault.Tx.
func (t *tx) InsertInstrument(ctx context.Context, in *vault.Instrument) error {
	cs := instrumentCols(in)
	if _, _, err := t.execQueued(ctx, false, insertSQL("instruments", cs), vals(cs)...); err != nil {
		return mapErr("sqlstore.InsertInstrument", err)
	}
	t.count(in)
	return t.audit(ctx, in.MerchantID, vault.AuditAccountCreate, "instrument", in.ID)
}

// UpdateInstrument implements vault.Tx.
func (t *tx) UpdateInstrument(ctx context.Context, in *vault.Instrument) error {
	cs := without(instrumentCols(in), "id", "merchant_id", "token", "kind", "created_at", "stored_credential_status")
	if err := t.execOne(ctx, "sqlstore.UpdateInstrument", in.ID,
		updateSQL("instruments", cs, "merchant_id = ? AND id = ?"), append(vals(cs), in.MerchantID, in.ID)...); err != nil {
		return err
	}
	return t.audit(ctx, in.MerchantID, vault.AuditAccountUpdate, "instrument", in.ID)
}

// unverifiedCard is the condition of SetCardVerified. It says "not deleted" as deleted_at < 1
// (deleted_at is 0 or a time in milliseconds), not deleted_at = 0, so that PostgreSQL cannot
// use the partial index instruments_location (… WHERE deleted_at = 0) for it: on a table not
// yet analysed, the planner preferred that index (merchant_id, kind and id, though not its
// second column, location_id) to instruments_merchant (merchant_id, id), and so read every
// card of the merchant to mark one; auth ran at 177/s instead of about 1,600 on a new
// database until autovacuum first analysed instruments (docs/benchmarks.md).
const unverifiedCard = "merchant_id = ? AND id = ? AND kind = 'card' AND deleted_at < 1 AND stored_credential_status <> 'VERIFIED'"

// SetCardVerified implements vault.Tx. It sets one column, which no index holds, so it costs
// a fraction of UpdateInstrument, which rewrites every column and index entry of the row. In
// a PostgreSQL batch it is queued. Its audit record is appended first and dropped
// (pendingAudit.dropped) when the UPDATE marks no card: the card deleted, or marked
// meanwhile (by another auth of the same batch, say), which does not run the batch again.
func (t *tx) SetCardVerified(ctx context.Context, merchantID, id string) error {
	const op = "sqlstore.SetCardVerified"
	c := t.db.(*txConn)
	c.forgetCard(id)
	i := len(c.pending)
	if err := t.audit(ctx, merchantID, vault.AuditAccountUpdate, "instrument", id); err != nil {
		return err
	}
	drop := func(changed int64) {
		if changed == 0 && len(c.pending) > i {
			c.pending[i].dropped = true // nothing changed, nothing to audit
		}
	}
	res, queued, err := t.execChecked(ctx, func(tag pgconn.CommandTag) error { drop(tag.RowsAffected()); return nil },
		"UPDATE instruments SET stored_credential_status = 'VERIFIED' WHERE "+unverifiedCard, merchantID, id)
	if err != nil || queued {
		return mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	drop(n)
	return nil
}

// DeleteInstrument implements vault.Tx.
func (t *tx) DeleteInstrument(ctx context.Context, merchantID, id string, at time.Time) error {
	if err := t.execOne(ctx, "sqlstore.DeleteInstrument", id,
		"UPDATE instruments SET deleted_at = ?, default_card = FALSE WHERE merchant_id = ? AND id = ? AND deleted_at = 0", toMS(at), merchantID, id); err != nil {
		return err
	}
	return t.audit(ctx, merchantID, vault.AuditAccountDelete, "instrument", id)
}

// CheckProfileInstruments implements vault.Tx.
func (t *tx) CheckProfileInstruments(ctx context.Context, merchantID, profileID, kind string, fps []string) (string, bool, error) {
	const op = "sqlstore.CheckProfileInstruments"
	if profileID == "" {
		return "", false, vault.E(op, vault.Invalid, vault.Field("profile_id"), vault.ErrRequired)
	}
	cond := profileKindCond(profileID)
	dup := "''"
	var args []any
	if len(fps) > 0 {
		args = append(args, merchantID, profileID, kind)
		dup = "(SELECT id FROM instruments WHERE " + cond + fingerprintIn(fps) + " ORDER BY created_at LIMIT 1)"
		args = appendStrings(args, fps)
	}
	args = append(args, merchantID, profileID, kind)
	var dupID string
	var has bool
	err := t.row(ctx, "SELECT COALESCE("+dup+", ''), EXISTS (SELECT 1 FROM instruments WHERE "+cond+")", args...).Scan(&dupID, &has)
	if err != nil {
		return "", false, mapErr(op, err)
	}
	return dupID, has, nil
}

// InsertProfileCard implements vault.Tx. On PostgreSQL, where each statement is a round trip,
// the check and the insert are one statement (INSERT … SELECT … WHERE NOT EXISTS … RETURNING),
// which saves a card create one round trip in three, and in a batch it is queued
// (txConn.queue), which saves the last. It runs after the profile's lock
// (LockProfileLocation), so its snapshot holds every card committed before the lock was
// granted, on any node. On SQLite it is CheckProfileInstruments, then InsertInstrument: there
// is no round trip to save, and the one statement measured 12% slower (SQLite materialises an
// INSERT … SELECT that reads its own table).
func (t *tx) InsertProfileCard(ctx context.Context, in *vault.Instrument, fps []string, defaultIfFirst bool) (string, error) {
	const op = "sqlstore.InsertProfileCard"
	if t.d != Postgres || in.ProfileID == "" {
		return t.checkInsertCard(ctx, in, fps, defaultIfFirst)
	}
	cs := profileCardCols(in)
	args := vals(cs)
	if !t.writeArgsOK(args) {
		return "", mapErr(op, errUnstorable)
	}
	// default_card, last among the columns here, is an expression: the card is the default
	// when the caller says so, or when it may be and the profile has no other card (the
	// statement's own row is not in its snapshot).
	args = append(args[:len(args)-1], in.DefaultCard, defaultIfFirst, in.MerchantID, in.ProfileID, in.Kind)
	query := profileCardSQL(cs, len(fps))
	if len(fps) > 0 {
		args = appendStrings(append(args, in.MerchantID, in.ProfileID, in.Kind), fps)
	}
	query = t.rb.bind(t.d, query)
	c := t.db.(*txConn)
	if c.queue(queuedStmt{query: query, args: args, scan: func(row pgx.Row) error { return row.Scan(&in.DefaultCard) }}) {
		// A duplicate makes the statement return no row, and the batch runs again with
		// savepoints, where the statement runs at once and the duplicate is found below.
		t.count(in)
		return "", t.audit(ctx, in.MerchantID, vault.AuditAccountCreate, "instrument", in.ID)
	}
	wrote := c.wrote
	err := c.QueryRowContext(ctx, query, args...).Scan(&in.DefaultCard)
	if errors.Is(err, sql.ErrNoRows) {
		// A duplicate: nothing was inserted, so the fn has written no more than before (a
		// batch need not run again with savepoints when it fails). Find the duplicate's id;
		// when it was deleted between the two statements, the card is no longer one.
		c.wrote = wrote
		return t.checkInsertCard(ctx, in, fps, defaultIfFirst)
	}
	if err != nil {
		return "", mapErr(op, err)
	}
	t.count(in)
	return "", t.audit(ctx, in.MerchantID, vault.AuditAccountCreate, "instrument", in.ID)
}

// checkInsertCard is InsertProfileCard in two statements: CheckProfileInstruments, then
// InsertInstrument.
func (t *tx) checkInsertCard(ctx context.Context, in *vault.Instrument, fps []string, defaultIfFirst bool) (string, error) {
	dupID, has, err := t.CheckProfileInstruments(ctx, in.MerchantID, in.ProfileID, in.Kind, fps)
	if err != nil || dupID != "" {
		return dupID, err
	}
	if defaultIfFirst && !has {
		in.DefaultCard = true
	}
	return "", t.InsertInstrument(ctx, in)
}

// profileCardCols is instrumentCols with default_card moved last.
func profileCardCols(in *vault.Instrument) []col {
	cs := instrumentCols(in)
	i := slices.IndexFunc(cs, func(c col) bool { return c.name == "default_card" })
	return append(append(cs[:i:i], cs[i+1:]...), cs[i])
}

// profileCardSQL is InsertProfileCard's statement on PostgreSQL for the columns cs, whose last
// is default_card, and n fingerprints. Its arguments are vals(cs) without the last, then the
// caller's default, whether the card may become the default, the merchant, the profile and the
// kind, then, when n > 0, those three again and the fingerprints.
func profileCardSQL(cs []col, n int) string {
	return memoSQL("insert-profile-card", "instruments", strconv.Itoa(n), cs, func(cs []col) string {
		cond := profileKindCond("-")
		q := "INSERT INTO instruments (" + buildNames(cs) + ") SELECT " + placeholders(len(cs)-1) +
			", (? OR (? AND NOT EXISTS (SELECT 1 FROM instruments WHERE " + cond + ")))"
		if n > 0 {
			q += " WHERE NOT EXISTS (SELECT 1 FROM instruments WHERE " + cond + fingerprintIn(make([]string, n)) + ")"
		}
		return q + " RETURNING default_card"
	})
}

// profileKindCond selects a profile's active instruments of a kind; its arguments are the
// merchant, the profile and the kind.
func profileKindCond(profileID string) string {
	return "merchant_id = ? AND profile_id = ? AND kind = ? AND deleted_at = 0" + onProfile(profileID)
}

// fingerprintIn narrows profileKindCond to the fingerprints fps (at least one); its
// arguments are fps.
func fingerprintIn(fps []string) string {
	return " AND fingerprint <> '' AND fingerprint IN (" + placeholders(len(fps)) + ")"
}

func appendStrings(args []any, ss []string) []any {
	for _, s := range ss {
		args = append(args, s)
	}
	return args
}

// onProfile restates, for a non-empty profile id, the condition of the partial indexes on
// instruments, that profile_id is not empty: a planner cannot infer it from "profile_id = ?",
// and without it a profile's lookups scan all of the merchant's instruments.
func onProfile(profileID string) string {
	if profileID == "" {
		return ""
	}
	return " AND profile_id <> ''"
}

// SetDefaultCard implements vault.Tx.
func (t *tx) SetDefaultCard(ctx context.Context, merchantID, profileID, id string) error {
	_, err := t.exec(ctx, "UPDATE instruments SET default_card = (id = ?) WHERE merchant_id = ? AND profile_id = ? AND kind = 'card' AND deleted_at = 0 AND (default_card OR id = ?)"+onProfile(profileID),
		id, merchantID, profileID, id)
	return mapErr("sqlstore.SetDefaultCard", err)
}

// DetachProfileInstruments implements vault.Tx.
func (t *tx) DetachProfileInstruments(ctx context.Context, merchantID, profileID string) error {
	_, err := t.exec(ctx, "UPDATE instruments SET profile_id = '', default_card = FALSE, billing_address_id = '' WHERE merchant_id = ? AND profile_id = ?"+onProfile(profileID), merchantID, profileID)
	return mapErr("sqlstore.DetachProfileInstruments", err)
}

// DeleteProfileInstruments implements vault.Tx.
func (t *tx) DeleteProfileInstruments(ctx context.Context, merchantID, profileID string, at time.Time) error {
	ids, err := t.ids(ctx, "SELECT id FROM instruments WHERE merchant_id = ? AND profile_id = ? AND deleted_at = 0"+onProfile(profileID), merchantID, profileID)
	if err != nil {
		return err
	}
	if _, err := t.exec(ctx, "UPDATE instruments SET deleted_at = ?, default_card = FALSE WHERE merchant_id = ? AND profile_id = ? AND deleted_at = 0"+onProfile(profileID), toMS(at), merchantID, profileID); err != nil {
		return mapErr("sqlstore.DeleteProfileInstruments", err)
	}
	for _, id := range ids {
		if err := t.audit(ctx, merchantID, vault.AuditAccountDelete, "instrument", id); err != nil {
			return err
		}
	}
	return nil
}

// ids returns the first column of every row.
func (q *q) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, mapErr("sqlstore.ids", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr("sqlstore.ids", err)
		}
		out = append(out, id)
	}
	return out, mapErr("sqlstore.ids", rows.Err())
}

func mandateCols(m *vault.Mandate) []col {
	return []col{
		{"id", &m.ID}, {"merchant_id", &m.MerchantID}, {"profile_id", &m.ProfileID},
		{"instrument_id", &m.InstrumentID}, {"token", &m.Token}, {"reference", &m.Reference},
		{"status", &m.Status}, {"status_changed_at", ms(&m.StatusChanged)},
		{"status_reason_code", &m.StatusReasonCode}, {"status_reason", &m.StatusReason},
		{"created_at", ms(&m.Created)},
	}
}

func newMandate() (*vault.Mandate, []col) {
	m := &vault.Mandate{}
	return m, mandateCols(m)
}

// GetMandate implements vault.Reader.
func (q *q) GetMandate(ctx context.Context, merchantID, id string) (*vault.Mandate, error) {
	m, cs := newMandate()
	err := q.row(ctx, "SELECT "+names(cs)+" FROM mandates WHERE merchant_id = ? AND id = ?"+q.forUpdate(), merchantID, id).Scan(ptrs(cs)...)
	return m, mapErr("sqlstore.GetMandate", err, id)
}

// GetMandateByID implements vault.Reader.
func (q *q) GetMandateByID(ctx context.Context, id string) (*vault.Mandate, error) {
	m, cs := newMandate()
	err := q.row(ctx, "SELECT "+names(cs)+" FROM mandates WHERE id = ?", id).Scan(ptrs(cs)...)
	return m, mapErr("sqlstore.GetMandateByID", err, id)
}

// ListMandates implements vault.Reader.
func (q *q) ListMandates(ctx context.Context, merchantID, instrumentID string) ([]*vault.Mandate, error) {
	_, cs := newMandate()
	return listAll(ctx, q, "SELECT "+names(cs)+" FROM mandates WHERE merchant_id = ? AND instrument_id = ? ORDER BY created_at, id",
		[]any{merchantID, instrumentID}, newMandate)
}

// InsertMandate implements vault.Tx.
func (t *tx) InsertMandate(ctx context.Context, m *vault.Mandate) error {
	cs := mandateCols(m)
	_, _, err := t.execQueued(ctx, false, insertSQL("mandates", cs), vals(cs)...)
	return mapErr("sqlstore.InsertMandate", err)
}

// UpdateMandate implements vault.Tx.
func (t *tx) UpdateMandate(ctx context.Context, m *vault.Mandate) error {
	cs := []col{{"status", &m.Status}, {"status_changed_at", ms(&m.StatusChanged)}, {"status_reason_code", &m.StatusReasonCode}, {"status_reason", &m.StatusReason}}
	return t.execOne(ctx, "sqlstore.UpdateMandate", m.ID, updateSQL("mandates", cs, "merchant_id = ? AND id = ?"), append(vals(cs), m.MerchantID, m.ID)...)
}

// DeleteMandate implements vault.Tx.
func (t *tx) DeleteMandate(ctx context.Context, merchantID, id string) error {
	return t.execOne(ctx, "sqlstore.DeleteMandate", id, "DELETE FROM mandates WHERE merchant_id = ? AND id = ?", merchantID, id)
}

// DeleteMandatesOf implements vault.Tx.
func (t *tx) DeleteMandatesOf(ctx context.Context, merchantID, profileID, instrumentID string) error {
	var err error
	if instrumentID != "" {
		_, err = t.exec(ctx, "DELETE FROM mandates WHERE merchant_id = ? AND instrument_id = ?", merchantID, instrumentID)
	} else {
		_, err = t.exec(ctx, "DELETE FROM mandates WHERE merchant_id = ? AND profile_id = ?", merchantID, profileID)
	}
	return mapErr("sqlstore.DeleteMandatesOf", err)
}

// ListActiveInstrumentsAfter implements vault.InstrumentPager: a page of a merchant's active
// instruments after an id, read through instruments_merchant (merchant_id, id), so that every
// page costs the same however deep the walk is.
func (q *q) ListActiveInstrumentsAfter(ctx context.Context, merchantID, afterID string, limit int) ([]*vault.Instrument, error) {
	_, cs := newInstrument()
	out, err := listAll(ctx, q, "SELECT "+names(cs)+" FROM instruments WHERE merchant_id = ? AND id > ? AND deleted_at = 0 ORDER BY id LIMIT ?",
		[]any{merchantID, afterID, limit}, newInstrument)
	if err != nil {
		return nil, mapErr("sqlstore.ListActiveInstrumentsAfter", err)
	}
	for _, in := range out {
		fixInstrument(in)
	}
	return out, nil
}

// FindInstruments implements vault.InstrumentFinder: two index lookups (token, the primary
// key, both unique in the store) in one statement. The merchant is checked here, not in the
// statement: with it there, SQLite (which keeps no statistics for these tables) read every
// instrument of the merchant through instruments_merchant instead of the token's index, for
// each batch of an import (TestFindPlans).
func (q *q) FindInstruments(ctx context.Context, merchantID string, tokens, ids []string) ([]*vault.Instrument, error) {
	out, err := findByTokenOrID(ctx, q, "instruments", tokens, ids, newInstrument, func(in *vault.Instrument) string { return in.ID })
	if err != nil {
		return nil, mapErr("sqlstore.FindInstruments", err)
	}
	out = slices.DeleteFunc(out, func(in *vault.Instrument) bool { return in.MerchantID != merchantID })
	for _, in := range out {
		fixInstrument(in)
	}
	return out, nil
}

// FindMandates implements vault.InstrumentFinder: two index lookups (token, the primary
// key) in one statement, over every merchant's mandates.
func (q *q) FindMandates(ctx context.Context, tokens, ids []string) ([]*vault.Mandate, error) {
	out, err := findByTokenOrID(ctx, q, "mandates", tokens, ids, newMandate, func(m *vault.Mandate) string { return m.ID })
	return out, mapErr("sqlstore.FindMandates", err)
}

// holderRow is a vault.Holder as a row reads it.
type holderRow struct {
	vault.Holder
	deletedAt int64
}

// holderCols are the columns FindHolders reads of each table it serves.
var holderCols = map[string]func(h *holderRow) []col{
	"instruments": func(h *holderRow) []col {
		return []col{{"id", &h.ID}, {"token", &h.Token}, {"merchant_id", &h.MerchantID}, {"deleted_at", &h.deletedAt}}
	},
	"profiles": func(h *holderRow) []col {
		return []col{{"id", &h.ID}, {"token", &h.Token}, {"merchant_id", &h.MerchantID}, {"deleted_at", &h.deletedAt}}
	},
	"addresses": func(h *holderRow) []col {
		return []col{{"id", &h.ID}, {"merchant_id", &h.MerchantID}, {"profile_id", &h.ProfileID}}
	},
}

// FindHolders implements vault.InstrumentFinder: two index lookups (token, the primary key)
// in one statement, over every merchant's rows.
func (q *q) FindHolders(ctx context.Context, table string, tokens, ids []string) ([]vault.Holder, error) {
	const op = "sqlstore.FindHolders"
	cols, ok := holderCols[table]
	if !ok || (table == "addresses" && len(tokens) > 0) {
		return nil, vault.E(op, vault.Invalid, vault.Field("table"))
	}
	newRow := func() (*holderRow, []col) {
		h := &holderRow{}
		return h, cols(h)
	}
	list, err := findByTokenOrID(ctx, q, table, tokens, ids, newRow, func(h *holderRow) string { return h.ID })
	if err != nil {
		return nil, mapErr(op, err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]vault.Holder, len(list))
	for i, h := range list {
		out[i] = h.Holder
		out[i].Deleted = h.deletedAt != 0
	}
	return out, nil
}

// findByTokenOrID returns the rows of table whose token is among tokens or whose id is among
// ids (each unique in the store), each once, in one statement.
func findByTokenOrID[T any](ctx context.Context, q *q, table string, tokens, ids []string, newRow func() (*T, []col), id func(*T) string) ([]*T, error) {
	if len(tokens) == 0 && len(ids) == 0 {
		return nil, nil
	}
	_, cs := newRow()
	var parts []string
	var args []any
	for _, by := range []struct {
		col  string
		vals []string
	}{{"token", tokens}, {"id", ids}} {
		if len(by.vals) > 0 {
			parts = append(parts, "SELECT "+names(cs)+" FROM "+table+" WHERE "+by.col+" IN ("+placeholders(len(by.vals))+")")
			args = appendStrings(args, by.vals)
		}
	}
	list, err := listAll(ctx, q, strings.Join(parts, " UNION ALL "), args, newRow)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	seen := map[string]bool{}
	for _, v := range list {
		if !seen[id(v)] {
			seen[id(v)] = true
			out = append(out, v)
		}
	}
	return out, nil
}

// ListMandatesOf implements vault.InstrumentPager: the mandates of a page of instruments, in
// one statement through mandates_instrument.
func (q *q) ListMandatesOf(ctx context.Context, merchantID string, instrumentIDs []string) ([]*vault.Mandate, error) {
	if len(instrumentIDs) == 0 {
		return nil, nil
	}
	_, cs := newMandate()
	out, err := listAll(ctx, q, "SELECT "+names(cs)+" FROM mandates WHERE instrument_id IN ("+placeholders(len(instrumentIDs))+") AND merchant_id = ? ORDER BY instrument_id, created_at, id",
		append(appendStrings(nil, instrumentIDs), merchantID), newMandate)
	return out, mapErr("sqlstore.ListMandatesOf", err)
}

var _ vault.InstrumentFinder = (*Store)(nil)
