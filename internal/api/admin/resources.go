package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/vault"
)

// merchantJSON is a merchant, without secrets.
type merchantJSON struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Live              bool     `json:"live"`
	Processor         string   `json:"processor"`
	DefaultLocationID string   `json:"default_location_id"`
	AllowedOrigins    []string `json:"allowed_origins"`
	CreatedAt         string   `json:"created_at"`
}

func toMerchantJSON(m *vault.Merchant) merchantJSON {
	return merchantJSON{ID: m.ID, Name: m.Name, Live: m.Live, Processor: m.Processor, DefaultLocationID: m.DefaultLocationID,
		AllowedOrigins: orEmpty(m.AllowedOrigins), CreatedAt: ts(m.Created)}
}

// locationJSON is a location; ticket_hash_key appears only in the create response.
type locationJSON struct {
	ID             string   `json:"id"`
	MerchantID     string   `json:"merchant_id"`
	Name           string   `json:"name"`
	AccountNumber  string   `json:"account_number"`
	Currency       string   `json:"currency"`
	LocationAPIKey string   `json:"location_api_key"`
	LocationAPIID  string   `json:"location_api_id,omitempty"`
	ParentID       string   `json:"parent_id,omitempty"`
	TZ             string   `json:"tz"`
	DefaultCC      string   `json:"default_cc_product_transaction_id"`
	DefaultACH     string   `json:"default_ach_product_transaction_id"`
	AllowedOrigins []string `json:"allowed_origins"`
	CreatedAt      string   `json:"created_at"`
	TicketHashKey  string   `json:"ticket_hash_key,omitempty"`
}

func toLocationJSON(l *vault.Location) locationJSON {
	return locationJSON{ID: l.ID, MerchantID: l.MerchantID, Name: l.Name, AccountNumber: l.AccountNumber, Currency: l.Currency,
		LocationAPIKey: l.APIKey, LocationAPIID: l.APIID, ParentID: l.ParentID, TZ: l.TZ, DefaultCC: l.DefaultCC,
		DefaultACH: l.DefaultACH, AllowedOrigins: orEmpty(l.AllowedOrigins), CreatedAt: ts(l.Created)}
}

// userJSON is a Fortis user; user_api_key appears only when it is created or replaced.
type userJSON struct {
	ID                string   `json:"id"`
	MerchantID        string   `json:"merchant_id"`
	Username          string   `json:"username"`
	Email             string   `json:"email,omitempty"`
	FirstName         string   `json:"first_name,omitempty"`
	LastName          string   `json:"last_name,omitempty"`
	Status            int      `json:"status"`
	UserTypeID        int      `json:"user_type_id"`
	PrimaryLocationID string   `json:"primary_location_id"`
	LocationIDs       []string `json:"location_ids"`
	CreatedAt         string   `json:"created_at"`
	ModifiedAt        string   `json:"modified_at"`
	UserAPIKey        string   `json:"user_api_key,omitempty"`
}

func toUserJSON(u *vault.User) userJSON {
	return userJSON{ID: u.ID, MerchantID: u.MerchantID, Username: u.Username, Email: u.Email, FirstName: u.FirstName,
		LastName: u.LastName, Status: u.Status, UserTypeID: u.UserTypeID, PrimaryLocationID: u.PrimaryLocationID,
		LocationIDs: orEmpty(u.LocationIDs), CreatedAt: ts(u.Created), ModifiedAt: ts(u.Modified)}
}

// productTransactionJSON is a location's merchant service.
type productTransactionJSON struct {
	ID              string `json:"id"`
	MerchantID      string `json:"merchant_id"`
	LocationID      string `json:"location_id"`
	PaymentMethod   string `json:"payment_method"`
	Processor       string `json:"processor"`
	Title           string `json:"title"`
	IndustryType    string `json:"industry_type"`
	RunAVSOnCreate  bool   `json:"run_avs_on_create"`
	AutoDeclineCVV  int    `json:"auto_decline_cvv"`
	VTRequireZip    bool   `json:"vt_require_zip"`
	VTRequireStreet bool   `json:"vt_require_street"`
	Active          bool   `json:"active"`
	CreatedAt       string `json:"created_at"`
}

func toProductTransactionJSON(p *vault.ProductTransaction) productTransactionJSON {
	return productTransactionJSON{ID: p.ID, MerchantID: p.MerchantID, LocationID: p.LocationID, PaymentMethod: p.PaymentMethod,
		Processor: p.Processor, Title: p.Title, IndustryType: p.IndustryType, RunAVSOnCreate: p.RunAVSOnCreate,
		AutoDeclineCVV: p.AutoDeclineCVV, VTRequireZip: p.VTRequireZip, VTRequireStreet: p.VTRequireStreet,
		Active: p.Active, CreatedAt: ts(p.Created)}
}

// mandateJSON is a mandate as the operator sees it.
type mandateJSON struct {
	ID               string `json:"id"`
	MerchantID       string `json:"merchant_id"`
	ProfileID        string `json:"profile_id"`
	BankAccountID    string `json:"bank_account_id"`
	Reference        string `json:"reference"`
	Status           string `json:"status"`
	StatusChangeDate string `json:"status_change_date"`
	StatusReasonCode string `json:"status_reason_code,omitempty"`
	StatusReason     string `json:"status_reason,omitempty"`
	PaymentToken     string `json:"payment_token"`
}

// listJSON is a list answer.
type listJSON[T any] struct {
	List  []T `json:"list"`
	Total int `json:"total"`
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// merchant returns the path's merchant, 404 when unknown.
func (a *API) merchant(ctx context.Context, r *http.Request) (*vault.Merchant, error) {
	return a.vault.Store().GetMerchant(ctx, r.PathValue("mid"))
}

// handleMerchantCreate answers POST /admin/v1/merchants. It is the code path of
// `payvault merchant create`: vault.Service.CreateMerchant. The answer carries the new
// credentials, shown only now; it is marked no-store and must never be kept by any
// idempotency or response cache.
func (a *API) handleMerchantCreate(w http.ResponseWriter, r *http.Request) error {
	idempotency.NoStore(r.Context()) // the answer carries secrets
	var in struct {
		Name          string `json:"name"`
		Live          bool   `json:"live"`
		AccountNumber string `json:"account_number"`
	}
	if err := decode(r, &in, "name"); err != nil {
		return err
	}
	creds, err := a.vault.CreateMerchant(r.Context(), vault.NewMerchant{Name: in.Name, Live: in.Live, AccountNumber: in.AccountNumber})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/merchants/"+creds.MerchantID)
	writeJSON(w, http.StatusCreated, creds)
	return nil
}

// handleMerchantList answers GET /admin/v1/merchants, oldest first.
func (a *API) handleMerchantList(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.vault.Store().ListMerchants(r.Context())
	if err != nil {
		return err
	}
	out := listJSON[merchantJSON]{List: []merchantJSON{}, Total: len(ms)}
	for _, m := range ms {
		out.List = append(out.List, toMerchantJSON(m))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleMerchantGet answers GET /admin/v1/merchants/{mid}.
func (a *API) handleMerchantGet(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r.Context(), r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMerchantJSON(m))
	return nil
}

// originsBody is the body of the allowed-origins PUTs.
type originsBody struct {
	AllowedOrigins []string `json:"allowed_origins"`
}

// handleMerchantOrigins answers PUT /admin/v1/merchants/{mid}/allowed-origins: it replaces
// the browser origins allowed on the merchant's token endpoints and hosted fields.
func (a *API) handleMerchantOrigins(w http.ResponseWriter, r *http.Request) error {
	var in originsBody
	if err := decode(r, &in, "allowed_origins"); err != nil {
		return err
	}
	out, err := a.vault.SetAllowedOrigins(r.Context(), r.PathValue("mid"), "", in.AllowedOrigins)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, originsBody{AllowedOrigins: orEmpty(out)})
	return nil
}

// handleLocationOrigins answers PUT /admin/v1/merchants/{mid}/locations/{lid}/allowed-origins.
func (a *API) handleLocationOrigins(w http.ResponseWriter, r *http.Request) error {
	var in originsBody
	if err := decode(r, &in, "allowed_origins"); err != nil {
		return err
	}
	out, err := a.vault.SetAllowedOrigins(r.Context(), r.PathValue("mid"), r.PathValue("lid"), in.AllowedOrigins)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, originsBody{AllowedOrigins: orEmpty(out)})
	return nil
}

// handleLocationCreate answers POST /admin/v1/merchants/{mid}/locations. A parent_id must be
// another location of the merchant and a tz an IANA time zone (vault.CreateLocation checks
// both). The answer carries the location's ticket hash key, shown only now.
func (a *API) handleLocationCreate(w http.ResponseWriter, r *http.Request) error {
	idempotency.NoStore(r.Context()) // the answer carries secrets
	var in struct {
		Name          string `json:"name"`
		AccountNumber string `json:"account_number"`
		Currency      string `json:"currency"`
		LocationAPIID string `json:"location_api_id"`
		ParentID      string `json:"parent_id"`
		TZ            string `json:"tz"`
	}
	if err := decode(r, &in, "name"); err != nil {
		return err
	}
	if _, err := a.merchant(r.Context(), r); err != nil {
		return err
	}
	lc, err := a.vault.CreateLocation(r.Context(), r.PathValue("mid"), vault.NewLocation{Name: in.Name, AccountNumber: in.AccountNumber,
		Currency: in.Currency, APIID: in.LocationAPIID, ParentID: in.ParentID, TZ: in.TZ})
	if err != nil {
		return err
	}
	out := toLocationJSON(lc.Location)
	out.TicketHashKey = lc.TicketHashKey
	w.Header().Set("Location", "/admin/v1/merchants/"+lc.Location.MerchantID+"/locations/"+lc.Location.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// handleLocationList answers GET /admin/v1/merchants/{mid}/locations.
func (a *API) handleLocationList(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.merchant(r.Context(), r); err != nil {
		return err
	}
	ls, total, err := a.vault.Store().ListLocations(r.Context(), r.PathValue("mid"), vault.Query{Sort: []vault.SortKey{{Field: "id"}}})
	if err != nil {
		return err
	}
	out := listJSON[locationJSON]{List: []locationJSON{}, Total: total}
	for _, l := range ls {
		out.List = append(out.List, toLocationJSON(l))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleLocationGet answers GET /admin/v1/merchants/{mid}/locations/{lid}.
func (a *API) handleLocationGet(w http.ResponseWriter, r *http.Request) error {
	l, err := a.vault.Store().GetLocation(r.Context(), r.PathValue("mid"), r.PathValue("lid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toLocationJSON(l))
	return nil
}

// handleUserCreate answers POST /admin/v1/merchants/{mid}/users. A tz must be an IANA time
// zone. The answer carries the user's api key, shown only now.
func (a *API) handleUserCreate(w http.ResponseWriter, r *http.Request) error {
	idempotency.NoStore(r.Context()) // the answer carries secrets
	var in struct {
		Username          string   `json:"username"`
		Email             string   `json:"email"`
		FirstName         string   `json:"first_name"`
		LastName          string   `json:"last_name"`
		PrimaryLocationID string   `json:"primary_location_id"`
		LocationIDs       []string `json:"location_ids"`
		UserAPIKey        string   `json:"user_api_key"`
		TZ                string   `json:"tz"`
	}
	if err := decode(r, &in, "username"); err != nil {
		return err
	}
	m, err := a.merchant(r.Context(), r)
	if err != nil {
		return err
	}
	if in.PrimaryLocationID == "" {
		in.PrimaryLocationID = m.DefaultLocationID
	}
	u, key, err := a.vault.CreateUser(r.Context(), m.ID, vault.NewUser{Username: in.Username, Email: in.Email, FirstName: in.FirstName,
		LastName: in.LastName, PrimaryLocationID: in.PrimaryLocationID, LocationIDs: in.LocationIDs, APIKey: in.UserAPIKey, TZ: in.TZ})
	if err != nil {
		return err
	}
	out := toUserJSON(u)
	out.UserAPIKey = key
	w.Header().Set("Location", "/admin/v1/merchants/"+m.ID+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// user returns the path's user of the path's merchant.
func (a *API) user(r *http.Request) (*vault.User, error) {
	u, err := a.vault.Store().GetUser(r.Context(), r.PathValue("uid"))
	if err != nil {
		return nil, err
	}
	if u.MerchantID != r.PathValue("mid") {
		return nil, vault.E(vault.NotFound)
	}
	return u, nil
}

// handleUserList answers GET /admin/v1/merchants/{mid}/users.
func (a *API) handleUserList(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.merchant(r.Context(), r); err != nil {
		return err
	}
	us, total, err := a.vault.Store().ListUsers(r.Context(), r.PathValue("mid"), vault.Query{Sort: []vault.SortKey{{Field: "id"}}})
	if err != nil {
		return err
	}
	out := listJSON[userJSON]{List: []userJSON{}, Total: total}
	for _, u := range us {
		out.List = append(out.List, toUserJSON(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleUserGet answers GET /admin/v1/merchants/{mid}/users/{uid}.
func (a *API) handleUserGet(w http.ResponseWriter, r *http.Request) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

// handleUserUpdate answers PUT /admin/v1/merchants/{mid}/users/{uid}: it changes the
// locations, status (1 active, 0 disabled) or api key; absent fields keep their value.
func (a *API) handleUserUpdate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PrimaryLocationID *string   `json:"primary_location_id"`
		LocationIDs       *[]string `json:"location_ids"`
		Status            *int      `json:"status"`
		UserAPIKey        *string   `json:"user_api_key"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if _, err := a.user(r); err != nil {
		return err
	}
	u, err := a.vault.UpdateUser(r.Context(), r.PathValue("mid"), r.PathValue("uid"), vault.UserUpdate{
		PrimaryLocationID: in.PrimaryLocationID, LocationIDs: in.LocationIDs, Status: in.Status, APIKey: in.UserAPIKey})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

// handleProductTransactionCreate answers POST /admin/v1/merchants/{mid}/product-transactions.
func (a *API) handleProductTransactionCreate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		LocationID      string `json:"location_id"`
		PaymentMethod   string `json:"payment_method"`
		Title           string `json:"title"`
		Processor       string `json:"processor"`
		RunAVSOnCreate  bool   `json:"run_avs_on_create"`
		AutoDeclineCVV  int    `json:"auto_decline_cvv"`
		VTRequireZip    bool   `json:"vt_require_zip"`
		VTRequireStreet bool   `json:"vt_require_street"`
		MakeDefault     bool   `json:"make_default"`
	}
	if err := decode(r, &in, "payment_method"); err != nil {
		return err
	}
	m, err := a.merchant(r.Context(), r)
	if err != nil {
		return err
	}
	if in.LocationID == "" {
		in.LocationID = m.DefaultLocationID
	}
	p, err := a.vault.CreateProductTransaction(r.Context(), m.ID, vault.NewProductTransaction{LocationID: in.LocationID,
		PaymentMethod: in.PaymentMethod, Title: in.Title, Processor: in.Processor, RunAVSOnCreate: in.RunAVSOnCreate,
		AutoDeclineCVV: in.AutoDeclineCVV, VTRequireZip: in.VTRequireZip, VTRequireStreet: in.VTRequireStreet, MakeDefault: in.MakeDefault})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/merchants/"+m.ID+"/product-transactions/"+p.ID)
	writeJSON(w, http.StatusCreated, toProductTransactionJSON(p))
	return nil
}

// handleProductTransactionList answers GET /admin/v1/merchants/{mid}/product-transactions.
func (a *API) handleProductTransactionList(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.merchant(r.Context(), r); err != nil {
		return err
	}
	ps, total, err := a.vault.Store().ListProductTransactions(r.Context(), r.PathValue("mid"), vault.Query{Sort: []vault.SortKey{{Field: "id"}}})
	if err != nil {
		return err
	}
	out := listJSON[productTransactionJSON]{List: []productTransactionJSON{}, Total: total}
	for _, p := range ps {
		out.List = append(out.List, toProductTransactionJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleProductTransactionGet answers GET /admin/v1/merchants/{mid}/product-transactions/{id}.
func (a *API) handleProductTransactionGet(w http.ResponseWriter, r *http.Request) error {
	p, err := a.vault.Store().GetProductTransaction(r.Context(), r.PathValue("mid"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toProductTransactionJSON(p))
	return nil
}

// handleMandateStatus answers POST /admin/v1/mandates/{id}/status, the operator's mandate
// control (Paysafe §2.10): {"status":"ACTIVE"} and the other lifecycle moves, with an optional
// reason. It returns the mandate.
func (a *API) handleMandateStatus(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Status     string `json:"status"`
		Reason     string `json:"reason"`
		ReasonCode string `json:"reason_code"`
	}
	if err := decode(r, &in, "status"); err != nil {
		return err
	}
	if in.Status == "" {
		return badRequest("invalid", "status is required.", "status")
	}
	m, err := a.vault.SetMandateStatus(r.Context(), r.PathValue("id"), in.Status, in.ReasonCode, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, mandateJSON{ID: m.ID, MerchantID: m.MerchantID, ProfileID: m.ProfileID, BankAccountID: m.InstrumentID,
		Reference: m.Reference, Status: m.Status, StatusChangeDate: ts(m.StatusChanged), StatusReasonCode: m.StatusReasonCode,
		StatusReason: m.StatusReason, PaymentToken: m.Token})
	return nil
}
