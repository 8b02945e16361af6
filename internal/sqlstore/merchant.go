package sqlstore

import (
	"context"

	"github.com/payvault/payvault/internal/vault"
)

func merchantCols(m *vault.Merchant) []col {
	return []col{
		{"id", &m.ID}, {"name", &m.Name}, {"live", &m.Live}, {"default_location_id", &m.DefaultLocationID},
		{"allowed_origins", asJSON(&m.AllowedOrigins)}, {"processor", &m.Processor}, {"created_at", ms(&m.Created)},
	}
}

// GetMerchant implements vault.Reader.
func (q *q) GetMerchant(ctx context.Context, id string) (*vault.Merchant, error) {
	m := &vault.Merchant{}
	cs := merchantCols(m)
	err := q.row(ctx, "SELECT "+names(cs)+" FROM merchants WHERE id = ?", id).Scan(ptrs(cs)...)
	return m, mapErr("sqlstore.GetMerchant", err, id)
}

// LockMerchant implements vault.Tx. On PostgreSQL the row lock is SELECT … FOR UPDATE;
// SQLite's write transactions are serial already.
func (t *tx) LockMerchant(ctx context.Context, id string) (*vault.Merchant, error) {
	m := &vault.Merchant{}
	cs := merchantCols(m)
	err := t.row(ctx, "SELECT "+names(cs)+" FROM merchants WHERE id = ?"+t.forUpdate(), id).Scan(ptrs(cs)...)
	return m, mapErr("sqlstore.LockMerchant", err, id)
}

// ListMerchants implements vault.Reader.
func (q *q) ListMerchants(ctx context.Context) ([]*vault.Merchant, error) {
	return listAll(ctx, q, "SELECT "+names(merchantCols(&vault.Merchant{}))+" FROM merchants ORDER BY created_at, id", nil,
		func() (*vault.Merchant, []col) { m := &vault.Merchant{}; return m, merchantCols(m) })
}

// CountMerchants implements vault.Reader.
func (q *q) CountMerchants(ctx context.Context) (int, error) {
	var n int
	err := q.row(ctx, "SELECT COUNT(*) FROM merchants").Scan(&n)
	return n, mapErr("sqlstore.CountMerchants", err)
}

// InsertMerchant implements vault.Tx.
func (t *tx) InsertMerchant(ctx context.Context, m *vault.Merchant) error {
	cs := merchantCols(m)
	if _, err := t.exec(ctx, insertSQL("merchants", cs), vals(cs)...); err != nil {
		return mapErr("sqlstore.InsertMerchant", err)
	}
	return t.audit(ctx, m.ID, vault.AuditMerchantCreate, "merchant", m.ID)
}

// UpdateMerchant implements vault.Tx.
func (t *tx) UpdateMerchant(ctx context.Context, m *vault.Merchant) error {
	cs := without(merchantCols(m), "id", "created_at")
	return t.execOne(ctx, "sqlstore.UpdateMerchant", m.ID, updateSQL("merchants", cs, "id = ?"), append(vals(cs), m.ID)...)
}

func locationCols(l *vault.Location, sealed *vault.Sealed) []col {
	return []col{
		{"id", &l.ID}, {"merchant_id", &l.MerchantID}, {"name", &l.Name}, {"account_number", &l.AccountNumber},
		{"currency", &l.Currency}, {"api_key", &l.APIKey}, {"api_id", &l.APIID},
		{"dek_id", &sealed.KeyID}, {"ticket_hash_key", &sealed.Extra},
		{"parent_id", &l.ParentID}, {"address1", &l.Address1}, {"address2", &l.Address2}, {"city", &l.City},
		{"state", &l.State}, {"zip_code", &l.ZipCode}, {"office_phone", &l.OfficePhone},
		{"office_ext_phone", &l.OfficeExtPhone}, {"fax", &l.Fax}, {"tz", &l.TZ}, {"default_cc", &l.DefaultCC},
		{"default_ach", &l.DefaultACH}, {"email_reply_to", &l.EmailReplyTo}, {"c1", &l.C1}, {"c2", &l.C2},
		{"c3", &l.C3}, {"allowed_origins", asJSON(&l.AllowedOrigins)}, {"created_at", ms(&l.Created)},
		{"updated_at", ms(&l.Modified)},
	}
}

// LocationRecord is a location with its sealed ticket hash key, as stored.
type locationRow struct {
	vault.Location
	sealed vault.Sealed
}

func (q *q) getLocation(ctx context.Context, op, where string, args ...any) (*vault.Location, error) {
	r := &locationRow{}
	cs := locationCols(&r.Location, &r.sealed)
	err := q.row(ctx, "SELECT "+names(cs)+" FROM locations WHERE "+where, args...).Scan(ptrs(cs)...)
	if err != nil {
		return nil, mapErr(op, err, lastString(args))
	}
	r.Location.TicketHashKey = ""
	r.Location.SealedTicketKey = r.sealed
	return &r.Location, nil
}

// GetLocation implements vault.Reader.
func (q *q) GetLocation(ctx context.Context, merchantID, id string) (*vault.Location, error) {
	return q.getLocation(ctx, "sqlstore.GetLocation", "merchant_id = ? AND id = ?", merchantID, id)
}

// GetLocationByAccount implements vault.Reader.
func (q *q) GetLocationByAccount(ctx context.Context, acct string) (*vault.Location, error) {
	return q.getLocation(ctx, "sqlstore.GetLocationByAccount", "account_number = ?", acct)
}

// GetLocationByAPIKey implements vault.Reader.
func (q *q) GetLocationByAPIKey(ctx context.Context, key string) (*vault.Location, error) {
	return q.getLocation(ctx, "sqlstore.GetLocationByAPIKey", "api_key = ?", key)
}

var locationList = listSpec{
	table: "locations",
	fields: map[string]fieldKind{
		"id": fLower, "parent_id": fLower, "api_id": fText, "name": fText, "account_number": fText,
		"created_at": fTime, "updated_at": fTime,
	},
}

// ListLocations implements vault.Reader.
func (q *q) ListLocations(ctx context.Context, merchantID string, qry vault.Query) ([]*vault.Location, int, error) {
	return list(ctx, q, locationList, merchantID, qry, func() (*vault.Location, []col) {
		l := &vault.Location{}
		return l, locationCols(l, &l.SealedTicketKey)
	}, func(l *vault.Location) {})
}

// InsertLocation implements vault.Tx.
func (t *tx) InsertLocation(ctx context.Context, l *vault.Location, sealed vault.Sealed) error {
	cs := locationCols(l, &sealed)
	if _, err := t.exec(ctx, insertSQL("locations", cs), vals(cs)...); err != nil {
		return mapErr("sqlstore.InsertLocation", err)
	}
	return t.audit(ctx, l.MerchantID, vault.AuditCredentialCreate, "location", l.ID)
}

// UpdateLocation implements vault.Tx.
func (t *tx) UpdateLocation(ctx context.Context, l *vault.Location) error {
	sealed := l.SealedTicketKey
	cs := without(locationCols(l, &sealed), "id", "merchant_id", "account_number", "api_key", "created_at")
	if sealed.Extra == nil {
		cs = without(cs, "dek_id", "ticket_hash_key")
	}
	return t.execOne(ctx, "sqlstore.UpdateLocation", l.ID, updateSQL("locations", cs, "merchant_id = ? AND id = ?"), append(vals(cs), l.MerchantID, l.ID)...)
}

func productCols(p *vault.ProductTransaction) []col {
	return []col{
		{"id", &p.ID}, {"merchant_id", &p.MerchantID}, {"location_id", &p.LocationID},
		{"payment_method", &p.PaymentMethod}, {"processor", &p.Processor}, {"title", &p.Title},
		{"industry_type", &p.IndustryType}, {"run_avs_on_create", &p.RunAVSOnCreate},
		{"auto_decline_cvv", &p.AutoDeclineCVV}, {"vt_require_zip", &p.VTRequireZip},
		{"vt_require_street", &p.VTRequireStreet}, {"active", &p.Active}, {"created_at", ms(&p.Created)},
		{"updated_at", ms(&p.Modified)},
	}
}

// GetProductTransaction implements vault.Reader.
func (q *q) GetProductTransaction(ctx context.Context, merchantID, id string) (*vault.ProductTransaction, error) {
	p := &vault.ProductTransaction{}
	cs := productCols(p)
	err := q.row(ctx, "SELECT "+names(cs)+" FROM product_transactions WHERE merchant_id = ? AND id = ?", merchantID, id).Scan(ptrs(cs)...)
	return p, mapErr("sqlstore.GetProductTransaction", err, id)
}

var productList = listSpec{
	table: "product_transactions",
	fields: map[string]fieldKind{
		"id": fLower, "location_id": fLower, "payment_method": fFold, "title": fText,
		"created_at": fTime, "updated_at": fTime,
	},
}

// ListProductTransactions implements vault.Reader.
func (q *q) ListProductTransactions(ctx context.Context, merchantID string, qry vault.Query) ([]*vault.ProductTransaction, int, error) {
	return list(ctx, q, productList, merchantID, qry, func() (*vault.ProductTransaction, []col) {
		p := &vault.ProductTransaction{}
		return p, productCols(p)
	}, nil)
}

// InsertProductTransaction implements vault.Tx.
func (t *tx) InsertProductTransaction(ctx context.Context, p *vault.ProductTransaction) error {
	cs := productCols(p)
	_, err := t.exec(ctx, insertSQL("product_transactions", cs), vals(cs)...)
	return mapErr("sqlstore.InsertProductTransaction", err)
}

// UpdateProductTransaction implements vault.Tx.
func (t *tx) UpdateProductTransaction(ctx context.Context, p *vault.ProductTransaction) error {
	cs := without(productCols(p), "id", "merchant_id", "location_id", "payment_method", "created_at")
	return t.execOne(ctx, "sqlstore.UpdateProductTransaction", p.ID, updateSQL("product_transactions", cs, "merchant_id = ? AND id = ?"), append(vals(cs), p.MerchantID, p.ID)...)
}

func apiKeyCols(k *vault.APIKey) []col {
	return []col{{"id", &k.ID}, {"merchant_id", &k.MerchantID}, {"kind", &k.Kind}, {"secret_hash", &k.SecretHash}, {"created_at", ms(&k.Created)}}
}

// GetAPIKey implements vault.Reader.
func (q *q) GetAPIKey(ctx context.Context, keyID string) (*vault.APIKey, error) {
	k := &vault.APIKey{}
	cs := apiKeyCols(k)
	err := q.row(ctx, "SELECT "+names(cs)+" FROM api_keys WHERE id = ?", keyID).Scan(ptrs(cs)...)
	return k, mapErr("sqlstore.GetAPIKey", err)
}

// InsertAPIKey implements vault.Tx.
func (t *tx) InsertAPIKey(ctx context.Context, k *vault.APIKey) error {
	cs := apiKeyCols(k)
	if _, err := t.exec(ctx, insertSQL("api_keys", cs), vals(cs)...); err != nil {
		return mapErr("sqlstore.InsertAPIKey", err)
	}
	return t.audit(ctx, k.MerchantID, vault.AuditCredentialCreate, "api_key", k.ID)
}

// GetDeveloper implements vault.Reader.
func (q *q) GetDeveloper(ctx context.Context, id string) (*vault.Developer, error) {
	d := &vault.Developer{}
	err := q.row(ctx, "SELECT id, merchant_id, created_at FROM developers WHERE id = ?", id).Scan(&d.ID, &d.MerchantID, ms(&d.Created))
	return d, mapErr("sqlstore.GetDeveloper", err)
}

// InsertDeveloper implements vault.Tx.
func (t *tx) InsertDeveloper(ctx context.Context, d *vault.Developer) error {
	_, err := t.exec(ctx, "INSERT INTO developers (id, merchant_id, created_at) VALUES (?, ?, ?)", d.ID, d.MerchantID, toMS(d.Created))
	return mapErr("sqlstore.InsertDeveloper", err)
}

func userCols(u *vault.User) []col {
	return []col{
		{"id", &u.ID}, {"merchant_id", &u.MerchantID}, {"username", &u.Username}, {"email", &u.Email},
		{"first_name", &u.FirstName}, {"last_name", &u.LastName}, {"key_hash", &u.KeyHash}, {"status", &u.Status},
		{"user_type_id", &u.UserTypeID}, {"locale", &u.Locale}, {"tz", &u.TZ},
		{"primary_location_id", &u.PrimaryLocationID}, {"location_ids", asJSON(&u.LocationIDs)},
		{"contact_id", &u.ContactID}, {"domain_id", &u.DomainID}, {"created_user_id", &u.CreatedUserID},
		{"created_at", ms(&u.Created)}, {"updated_at", ms(&u.Modified)},
	}
}

// GetUser implements vault.Reader.
func (q *q) GetUser(ctx context.Context, id string) (*vault.User, error) {
	u := &vault.User{}
	cs := userCols(u)
	err := q.row(ctx, "SELECT "+names(cs)+" FROM users WHERE id = ?", id).Scan(ptrs(cs)...)
	return u, mapErr("sqlstore.GetUser", err, id)
}

var userList = listSpec{
	table: "users",
	fields: map[string]fieldKind{
		"id": fLower, "username": fText, "email": fText, "first_name": fText, "last_name": fText,
		"primary_location_id": fLower, "status": fInt, "created_at": fTime, "updated_at": fTime,
	},
}

// ListUsers implements vault.Reader.
func (q *q) ListUsers(ctx context.Context, merchantID string, qry vault.Query) ([]*vault.User, int, error) {
	return list(ctx, q, userList, merchantID, qry, func() (*vault.User, []col) {
		u := &vault.User{}
		return u, userCols(u)
	}, nil)
}

// InsertUser implements vault.Tx.
func (t *tx) InsertUser(ctx context.Context, u *vault.User) error {
	cs := userCols(u)
	if _, err := t.exec(ctx, insertSQL("users", cs), vals(cs)...); err != nil {
		return mapErr("sqlstore.InsertUser", err)
	}
	return t.audit(ctx, u.MerchantID, vault.AuditCredentialCreate, "user", u.ID)
}

// UpdateUser implements vault.Tx.
func (t *tx) UpdateUser(ctx context.Context, u *vault.User) error {
	cs := without(userCols(u), "id", "merchant_id", "created_at")
	if err := t.execOne(ctx, "sqlstore.UpdateUser", u.ID, updateSQL("users", cs, "merchant_id = ? AND id = ?"), append(vals(cs), u.MerchantID, u.ID)...); err != nil {
		return err
	}
	return t.audit(ctx, u.MerchantID, vault.AuditCredentialUpdate, "user", u.ID)
}

// GetSetting implements vault.Reader.
func (q *q) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := q.row(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&v)
	return v, mapErr("sqlstore.GetSetting", err, name)
}

// SetSetting implements vault.Tx.
func (t *tx) SetSetting(ctx context.Context, name, value string) error {
	_, err := t.exec(ctx, "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value)
	return mapErr("sqlstore.SetSetting", err)
}

// ClaimSetting implements vault.Tx.
func (t *tx) ClaimSetting(ctx context.Context, name, value string) (bool, error) {
	res, err := t.exec(ctx, "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, value)
	if err != nil {
		return false, mapErr("sqlstore.ClaimSetting", err)
	}
	n, err := res.RowsAffected()
	return n == 1, mapErr("sqlstore.ClaimSetting", err)
}

// execOne runs a statement that must touch exactly one row; zero rows is NotFound.
func (q *q) execOne(ctx context.Context, op, id, query string, args ...any) error {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return vault.E(op, vault.NotFound, vault.ID(id))
	}
	return nil
}

func lastString(args []any) string {
	if len(args) == 0 {
		return ""
	}
	s, _ := args[len(args)-1].(string)
	return s
}
