package fortis

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/vault"
)

// vaultFieldOrder is the field table of §2.2 (422 keys follow it), then the other keys of
// the representation.
var vaultFieldOrder = []string{
	"account_holder_name", "account_number", "account_type", "account_vault_api_id",
	"accountvault_c1", "accountvault_c2", "accountvault_c3", "ach_sec_code", "billing_address",
	"billing_city", "billing_phone", "billing_state", "billing_zip", "contact_id", "created_ts",
	"customer_id", "dl_number", "dl_state", "dob_year", "exp_date", "expiring_in_months",
	"first_six", "has_recurring", "id", "is_company", "last_four", "location_id", "modified_ts",
	"payment_method", "previous_account_vault_api_id", "previous_account_vault_id",
	"previous_transaction_api_id", "previous_transaction_id", "routing", "run_avs", "ssn4",
	"terms_agree", "terms_agree_ip", "ticket", "title", "track_data",
	"active", "created_user_id", "cau_summary_status_id", "cau_last_updated_ts",
}

// vaultSources are the account-data sources of §2.4, in the order the first present wins.
var vaultSources = []string{
	"account_number", "track_data", "ticket", "previous_account_vault_id",
	"previous_account_vault_api_id", "previous_transaction_id", "previous_transaction_api_id",
}

// achSecCodes are the SEC codes an ach vault may carry.
var achSecCodes = map[string]bool{"WEB": true, "PPD": true, "CCD": true, "TEL": true, "POP": true, "C21": true}

// fortisKinds are the instrument kinds the Fortis API shows: cc and ach vaults.
func fortisKind(kind string) bool { return kind == vault.KindCard || kind == vault.KindACH }

// paymentMethod is the Fortis name of an instrument kind.
func paymentMethod(kind string) string {
	if kind == vault.KindCard {
		return "cc"
	}
	return kind
}

// vaultObject is an account vault's representation (§2.1), without expands.
func (a *API) vaultObject(r *http.Request, in *vault.Instrument) (object, error) {
	ssn4, dl, err := a.svc.RevealIdentity(in)
	if err != nil {
		return nil, err
	}
	if ssn4 != "" || dl != "" {
		// Identity data is sealed at rest: an idempotent POST's answer that shows it is not
		// kept in the idempotency record (a repeat of the request is refused, not replayed).
		idempotency.NoStore(r.Context())
	}
	isCard := in.Kind == vault.KindCard
	var firstSix, expDate, routing, achSec, expiring any
	accountType := strings.ToLower(in.AccountType)
	if isCard {
		firstSix = str(in.BIN)
		accountType = cardAccountType(in.BIN, in.Brand)
		if exp := (card.Expiry{Month: in.ExpMonth, Year: in.ExpYear}); exp.Valid() {
			expDate = exp.MMYY()
			expiring = exp.MonthsUntil(a.svc.Now())
		}
	} else {
		routing = str(in.RoutingNumber)
		achSec = str(in.ACHSecCode)
	}
	active := 1
	if !in.Active() {
		active = 0
	}
	return object{
		{"id", in.ID},
		{"payment_method", paymentMethod(in.Kind)},
		{"title", str(in.Title)},
		{"account_holder_name", str(in.HolderName)},
		{"first_six", firstSix},
		{"last_four", str(in.LastFour)},
		{"billing_address", str(in.BillingStreet)},
		{"billing_zip", str(in.BillingZip)},
		{"exp_date", expDate},
		{"routing", routing},
		{"account_type", str(accountType)},
		{"location_id", in.LocationID},
		{"contact_id", str(in.ProfileID)},
		{"created_ts", in.Created.Unix()},
		{"modified_ts", in.Modified.Unix()},
		{"account_vault_api_id", str(in.APIID)},
		{"dl_number", str(dl)},
		{"dl_state", str(in.DLState)},
		{"customer_id", str(in.CustomerID)},
		{"ssn4", str(ssn4)},
		{"dob_year", str(in.DOBYear)},
		{"billing_state", str(in.BillingState)},
		{"billing_city", str(in.BillingCity)},
		{"billing_phone", str(in.BillingPhone)},
		{"accountvault_c1", str(in.C1)},
		{"accountvault_c2", str(in.C2)},
		{"accountvault_c3", str(in.C3)},
		{"expiring_in_months", expiring},
		{"has_recurring", false},
		{"ach_sec_code", achSec},
		{"active", active},
		{"created_user_id", str(in.CreatedUserID)},
		{"cau_summary_status_id", 0},
		{"cau_last_updated_ts", nil},
		{"_links", links(a.href(r, "accountvaults", in.ID))},
	}, nil
}

// vaultDraft is a validated vault create: the instrument's plain fields, where its account
// data comes from, and the request's overrides of copied data. Transactions' save_account
// validates its vault fields through the same parse (parseVault with fromTxn).
type vaultDraft struct {
	in        vault.Instrument
	src       vault.Source
	srcField  string // srcField is the wire name of the source used.
	exp       *card.Expiry
	isCompany *bool
	runAVS    *bool           // runAVS is the request's run_avs (§2.5).
	loc       *vault.Location // loc is the location read when location_id was checked (nil when not).
	apiID     string
	errs      *fieldErrors
}

// parseVaultCreate validates a POST /v2/accountvaults body in field-table order and resolves
// the references it can check before the store transaction (location, contact, api id). When
// a field failed, the core checks the source too, so that the 422 also reports it
// (sourcecheck.go).
func (a *API) parseVaultCreate(ctx context.Context, p *vault.Principal, in *input) *vaultDraft {
	d := a.parseVault(ctx, p, in, false)
	a.reportVaultSource(ctx, p, d)
	return d
}

// parseVault is parseVaultCreate. With fromTxn, the account data comes from a transaction
// not yet made (save_account): no source field is read, and the caller sets
// d.src.TransactionID once the transaction exists.
func (a *API) parseVault(ctx context.Context, p *vault.Principal, in *input, fromTxn bool) *vaultDraft {
	d := &vaultDraft{errs: in.errs}
	d.src.TransactionAPI = api // a transaction of the Paysafe API is unknown here, and no source
	e := in.errs

	// location_id and payment_method decide what the other rules mean.
	loc, locationID := a.bodyLocationRecord(ctx, p, in, true)
	d.loc = loc
	method, _ := in.str("payment_method")
	method = strings.ToLower(method)
	switch {
	case e.failed("payment_method"):
	case method == "":
		e.add("payment_method", msgRequired("payment_method"))
	case !in.length("payment_method", method, 2, 3):
	case method != "cc" && method != "ach":
		e.add("payment_method", msgInvalid("payment_method"))
	}
	isCard, isACH := method == "cc", method == "ach"
	d.in.LocationID = locationID
	d.in.Kind = vault.KindCard
	if isACH {
		d.in.Kind = vault.KindACH
	}

	// The source: the first present wins; the others are ignored.
	for _, f := range vaultSources {
		if fromTxn {
			d.srcField = "previous_transaction_id"
			break
		}
		if v, ok := in.str(f); !ok || v != "" {
			d.srcField = f
			break
		}
	}
	raw := false
	switch d.srcField {
	case "":
		e.add("account_number", msgRequired("account_number"))
	case "account_number":
		v, _ := in.str("account_number")
		switch {
		case e.failed("account_number"):
		case !in.length("account_number", v, 4, 19):
		case !card.Digits(v):
			e.add("account_number", msgInvalid("account_number"))
		case isCard && !validCard(v):
			e.add("account_number", msgInvalid("account_number"))
		}
		d.src.Number, raw = v, true
	case "track_data":
		v, _ := in.str("track_data")
		if e.failed("track_data") || !in.length("track_data", v, 0, 256) {
			break
		}
		t, err := card.ParseTrack(v)
		if err != nil || !isCard || !validCard(t.PAN) {
			if method != "" {
				e.add("track_data", msgInvalid("track_data"))
			}
			break
		}
		d.src.Number, d.src.Expiry = t.PAN, t.Expiry
		d.in.HolderName = t.Name
	case "ticket":
		v, _ := in.str("ticket")
		if e.failed("ticket") || !in.length("ticket", v, 1, 36) {
			break
		}
		if isACH {
			e.add("ticket", msgInvalid("ticket"))
		}
		d.src.Token, d.src.TokenKinds = strings.ToLower(v), []string{vault.TokenTicket}
	case "previous_account_vault_id":
		v, _ := in.str(d.srcField)
		if in.length(d.srcField, v, 24, 36) {
			d.src.InstrumentID = strings.ToLower(v)
		}
	case "previous_account_vault_api_id":
		v, _ := in.str(d.srcField)
		if in.length(d.srcField, v, 0, 64) {
			d.src.InstrumentAPIID = v
		}
	case "previous_transaction_id":
		v, _ := in.str(d.srcField)
		if !fromTxn && in.length(d.srcField, v, 24, 36) {
			d.src.TransactionID = strings.ToLower(v)
		}
	case "previous_transaction_api_id":
		v, _ := in.str(d.srcField)
		if in.length(d.srcField, v, 0, 64) {
			d.src.TransactionAPIID = v
		}
	}

	// account_holder_name: required for raw ach; for other ach sources once merged.
	if v := in.text("account_holder_name", 1, 32); v != "" {
		d.in.HolderName = v
	} else if isACH && raw && !e.failed("account_holder_name") {
		e.add("account_holder_name", msgRequired("account_holder_name"))
	}

	// account_type: ach only; a raw ach account defaults to checking. A card ignores it,
	// whatever its value (§2.2 "cc: ign.").
	if v, _ := in.strFor(!isCard, "account_type"); isACH && !e.failed("account_type") {
		switch {
		case v == "":
			if raw {
				d.in.AccountType = "CHECKING"
			}
		case !in.length("account_type", v, 1, 32):
		case !strings.EqualFold(v, "checking") && !strings.EqualFold(v, "savings"):
			e.add("account_type", msgInvalid("account_type"))
		default:
			d.in.AccountType = strings.ToUpper(v)
		}
	}

	d.apiID = a.vaultAPIID(ctx, p, in, locationID, "")
	d.in.APIID = d.apiID
	d.in.C1 = in.text("accountvault_c1", 0, 128)
	d.in.C2 = in.text("accountvault_c2", 0, 128)
	d.in.C3 = in.text("accountvault_c3", 0, 128)

	if v, _ := in.strFor(!isCard, "ach_sec_code"); isACH && v != "" && !e.failed("ach_sec_code") && in.length("ach_sec_code", v, 3, 3) {
		if !achSecCodes[strings.ToUpper(v)] {
			e.add("ach_sec_code", msgInvalid("ach_sec_code"))
		}
		d.in.ACHSecCode = strings.ToUpper(v)
	}
	d.in.BillingStreet = in.text("billing_address", 1, 32)
	d.in.BillingCity = in.text("billing_city", 1, 36)
	d.in.BillingPhone = billingPhone(in)
	d.in.BillingState = letters(in, "billing_state", 2)
	d.in.BillingZip = zip(in, "billing_zip", 5, 10)
	d.in.ProfileID = a.bodyContact(ctx, p, in, locationID)
	d.in.CustomerID = in.text("customer_id", 1, 50)

	d.src.DLNumber = in.text("dl_number", 1, 50)
	d.in.DLState = letters(in, "dl_state", 2)
	dlPair(in, d.src.DLNumber != "", d.in.DLState != "")

	if v := in.text("dob_year", 4, 4); v != "" && !card.Digits(v) {
		e.add("dob_year", msgInvalid("dob_year"))
	} else {
		d.in.DOBYear = v
	}

	// exp_date: required for a raw card; it overrides what another source supplies. A bank
	// account ignores it, whatever its value (§2.2 "ach: ign.").
	if v, _ := in.strFor(!isACH, "exp_date"); isCard && !e.failed("exp_date") {
		switch {
		case v == "":
			if raw {
				e.add("exp_date", msgRequired("exp_date"))
			}
		case !in.length("exp_date", v, 4, 4):
		default:
			exp, err := card.ParseMMYY(v)
			if err != nil {
				e.add("exp_date", msgInvalid("exp_date"))
				break
			}
			d.exp = &exp
			d.src.Expiry = exp
		}
	}

	// is_company: ach only; a card ignores it, whatever its value (§2.2 "cc: ign.").
	if isACH {
		if v, set, ok := in.boolean("is_company"); ok && set {
			d.isCompany = &v
			d.in.IsCompany = v
		}
	}

	// routing: required for a raw bank account and taken from any other source (§2.4), so
	// ignored then, as on a card, whatever its value.
	if v, _ := in.strFor(!isCard && (raw || !isACH), "routing"); isACH && raw && !e.failed("routing") {
		switch {
		case v == "":
			e.add("routing", msgRequired("routing"))
		case !in.length("routing", v, 9, 9):
		case !card.Digits(v) || vault.CheckRouting(p.Merchant, v) != nil:
			e.add("routing", msgInvalid("routing"))
		default:
			d.in.RoutingNumber = v
		}
	}

	// run_avs: cc only; a bank account ignores it, whatever its value (§2.5).
	if !isACH {
		if v, set, ok := in.boolean("run_avs"); ok && set {
			d.runAVS = &v
		}
	}
	d.src.SSN4 = ssn4(in)
	d.in.TermsAgree = termsAgree(in)
	d.in.TermsAgreeIP = termsAgreeIP(in)
	d.in.Title = in.text("title", 1, 16)
	return d
}

// bodyLocation validates a body's location_id: required when told, 24–36 characters, and a
// location the principal can reach. It returns "" when invalid or absent.
func (a *API) bodyLocation(ctx context.Context, p *vault.Principal, in *input, required bool) string {
	_, id := a.bodyLocationRecord(ctx, p, in, required)
	return id
}

// bodyLocationRecord is bodyLocation that also returns the location it read (nil when none),
// without its ticket key.
func (a *API) bodyLocationRecord(ctx context.Context, p *vault.Principal, in *input, required bool) (*vault.Location, string) {
	v, ok := in.str("location_id")
	switch {
	case !ok:
		return nil, ""
	case v == "":
		if required {
			in.errs.add("location_id", msgRequired("location_id"))
		}
		return nil, ""
	case !in.length("location_id", v, 24, 36):
		return nil, ""
	}
	v = strings.ToLower(v)
	if !p.CanReach(v) {
		in.errs.add("location_id", msgLocation)
		return nil, ""
	}
	loc, err := a.svc.Location(ctx, p.MerchantID(), v)
	if err != nil {
		in.errs.lookupFailed("location_id", msgLocation, err)
		return nil, ""
	}
	return loc, v
}

// bodyContact validates a body's contact_id: 24–36 characters and a contact in locationID.
func (a *API) bodyContact(ctx context.Context, p *vault.Principal, in *input, locationID string) string {
	v := in.text("contact_id", 24, 36)
	if v == "" {
		return ""
	}
	v = strings.ToLower(v)
	prof, err := a.svc.GetProfile(ctx, p, v)
	if err != nil {
		in.errs.lookupFailed("contact_id", msgInvalid("contact_id"), err)
		return ""
	}
	if locationID != "" && prof.LocationID != locationID {
		in.errs.add("contact_id", msgInvalid("contact_id"))
		return ""
	}
	return v
}

// vaultAPIID validates account_vault_api_id: 1–36 letters and digits, not taken by another
// active vault of the location (selfID is the vault being updated).
func (a *API) vaultAPIID(ctx context.Context, p *vault.Principal, in *input, locationID, selfID string) string {
	const f = "account_vault_api_id"
	v := in.text(f, 1, 36)
	if v == "" {
		return ""
	}
	if !alnum(v) {
		in.errs.add(f, msgInvalid(f))
		return ""
	}
	if locationID != "" {
		if cur, err := a.svc.Store().GetInstrumentByAPIID(ctx, p.MerchantID(), locationID, v); err == nil && cur.Active() && cur.ID != selfID {
			in.errs.add(f, msgTaken(f, v))
		}
	}
	return v
}

// billingPhone validates billing_phone: up to 10 digits.
func billingPhone(in *input) string {
	v := in.text("billing_phone", 1, 10)
	if v != "" && !card.Digits(v) {
		in.errs.add("billing_phone", msgInvalid("billing_phone"))
		return ""
	}
	return v
}

// letters validates an n-letter code (states), stored upper-case.
func letters(in *input, f string, n int) string {
	v := in.text(f, n, n)
	if v != "" && !allLetters(v) {
		in.errs.add(f, msgInvalid(f))
		return ""
	}
	return strings.ToUpper(v)
}

// zip validates a postal code: letters, digits, spaces and dashes.
func zip(in *input, f string, min, max int) string {
	v := in.text(f, min, max)
	if v != "" && !zipChars(v) {
		in.errs.add(f, msgInvalid(f))
		return ""
	}
	return v
}

// dlPair applies the rule that dl_number and dl_state go together.
func dlPair(in *input, hasNumber, hasState bool) {
	switch {
	case hasNumber && !hasState && !in.errs.failed("dl_state"):
		in.errs.add("dl_state", msgRequired("dl_state"))
	case hasState && !hasNumber && !in.errs.failed("dl_number"):
		in.errs.add("dl_number", msgRequired("dl_number"))
	}
}

// ssn4 validates ssn4: four digits.
func ssn4(in *input) string {
	v := in.text("ssn4", 0, 4)
	if v != "" && (len(v) != 4 || !card.Digits(v)) {
		in.errs.add("ssn4", msgInvalid("ssn4"))
		return ""
	}
	return v
}

// termsAgree validates terms_agree: the integer 0 or 1.
func termsAgree(in *input) int {
	v, set, ok := in.integer("terms_agree")
	if !ok || !set {
		return 0
	}
	if v != 0 && v != 1 {
		in.errs.add("terms_agree", msgInvalid("terms_agree"))
		return 0
	}
	return int(v)
}

// termsAgreeIP validates terms_agree_ip: a dotted IPv4 address.
func termsAgreeIP(in *input) string {
	v := in.text("terms_agree_ip", 0, 15)
	if v == "" {
		return ""
	}
	if ip := net.ParseIP(v); ip == nil || ip.To4() == nil || strings.Count(v, ".") != 3 {
		in.errs.add("terms_agree_ip", msgInvalid("terms_agree_ip"))
		return ""
	}
	return v
}

// before is the vault create's pre-store step, inside the store transaction once the source
// is resolved: the request's overrides of copied data, the rules on the merged record, and
// the defaults. run_avs (§2.5) cannot run here, since no processor call may happen inside a
// store transaction: see accountvault_avs.go.
func (d *vaultDraft) before(ctx context.Context, tx vault.Tx, in *vault.Instrument, number string) error {
	if d.exp != nil && in.Kind == vault.KindCard {
		in.ExpMonth, in.ExpYear = d.exp.Month, d.exp.Year
	}
	if d.isCompany != nil {
		in.IsCompany = *d.isCompany
	}
	if in.Kind == vault.KindACH {
		if in.HolderName == "" {
			return invalid(vaultFieldOrder, "account_holder_name", msgRequired("account_holder_name"))
		}
		if in.AccountType == "" {
			in.AccountType = "CHECKING"
		}
		if in.ACHSecCode == "" {
			in.ACHSecCode = "WEB"
			if in.IsCompany {
				in.ACHSecCode = "CCD"
			}
		}
	}
	return nil
}

// vaultCoreError turns a core error of a vault create or update into the field error of the
// wire field that caused it; other errors pass through.
func vaultCoreError(err error, srcField, apiID string) error {
	e := vault.AsError(err)
	if e == nil {
		return err
	}
	if fe := cardNumberFields(err, vaultFieldOrder); fe != nil {
		return fe
	}
	field := ""
	msg := ""
	switch {
	case e.Kind == vault.Conflict && e.Field == "api_id":
		field, msg = "account_vault_api_id", msgTaken("account_vault_api_id", apiID)
	case e.Kind != vault.Invalid:
		return err
	case strings.HasPrefix(e.Field, "billing_") && errors.Is(err, vault.ErrRequired):
		// run_avs on a service with vt_require_* flags (§2.5, §3.3): the check needs each
		// billing field the vault lacks, reported on the vault's own field, all of them (§1.4).
		fe := newFieldErrors(vaultFieldOrder)
		for _, f := range vault.Fields(err) {
			if f == "billing_street" {
				f = "billing_address"
			}
			if strings.HasPrefix(f, "billing_") {
				fe.add(f, msgRequired(f))
			}
		}
		return fe.err()
	case e.Field == "location_id":
		field, msg = "location_id", msgLocation
	case e.Field == "profile_id":
		field = "contact_id"
	case e.Field == "token":
		field = "ticket"
	case e.Field == "instrument_id":
		field = "previous_account_vault_id"
	case e.Field == "instrument_api_id":
		field = "previous_account_vault_api_id"
	case e.Field == "transaction_id":
		field = "previous_transaction_id"
	case e.Field == "transaction_api_id":
		field = "previous_transaction_api_id"
	case e.Field == "number":
		field = srcField
		if field == "" {
			field = "account_number"
		}
		if errors.Is(e.Err, vault.ErrRequired) {
			msg = msgRequired(field)
		}
	case e.Field == "expiry":
		field = "exp_date"
	case e.Field == "routing_number":
		field = "routing"
	case e.Field == "account_type":
		field = "account_type"
	default:
		field = e.Field
	}
	if msg == "" {
		msg = msgInvalid(field)
	}
	return invalid(vaultFieldOrder, field, msg)
}

// handleAccountVaultCreate serves POST /v2/accountvaults.
func (a *API) handleAccountVaultCreate(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.post(w, r, p, "accountvaults", func(w http.ResponseWriter, r *http.Request) {
		in, err := readBody(r, "accountvault", vaultFieldOrder)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ctx := r.Context()
		d := a.parseVaultCreate(ctx, p, in)
		if err := d.errs.err(); err != nil {
			a.writeError(w, r, err)
			return
		}
		out, err := a.createVault(r, p, d)
		if err != nil {
			a.writeError(w, r, vaultCoreError(err, d.srcField, d.apiID))
			return
		}
		a.writeVault(w, r, p, http.StatusCreated, out, false)
	})
}

// writeVault answers one vault, with the request's expands when asked to.
func (a *API) writeVault(w http.ResponseWriter, r *http.Request, p *vault.Principal, status int, in *vault.Instrument, expand bool) {
	o, err := a.vaultObject(r, in)
	if err == nil && expand {
		o, err = a.expandVault(r, p, newLookups(a, p), in, o, expandNames(r))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, object{{"accountvault", o}})
}

// addressedVault returns the vault a path addresses: by id, or by api id in the location_id
// of the query (the primary location by default). Another tenant's vault, an inaccessible
// location and a non-Fortis instrument are all 404.
func (a *API) addressedVault(r *http.Request, p *vault.Principal) (*vault.Instrument, error) {
	ctx := r.Context()
	id := pathID(r)
	var in *vault.Instrument
	var err error
	byAPIID, loc, ok := apiIDLocation(r, p)
	switch {
	case !ok:
		return nil, errNotFound(id)
	case byAPIID:
		in, err = a.svc.Store().GetInstrumentByAPIID(ctx, p.MerchantID(), loc, id)
	default:
		in, err = a.svc.GetInstrument(ctx, p, strings.ToLower(id))
	}
	if vault.KindOf(err) == vault.NotFound || (err == nil && !fortisKind(in.Kind)) {
		return nil, errNotFound(id)
	}
	return in, err
}

// handleAccountVaultGet serves GET /v2/accountvaults/{id}; a deleted vault shows "active":0.
func (a *API) handleAccountVaultGet(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	in, err := a.addressedVault(r, p)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeVault(w, r, p, http.StatusOK, in, true)
}

// handleAccountVaultDelete serves DELETE /v2/accountvaults/{id}: a soft delete answered 204;
// a deleted vault is 410.
func (a *API) handleAccountVaultDelete(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	in, err := a.addressedVault(r, p)
	if err == nil {
		err = a.svc.DeleteInstrument(r.Context(), p, in.ID)
	}
	if err != nil {
		if vault.KindOf(err) == vault.NotFound {
			err = errNotFound(pathID(r))
		}
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAccountVaultBINInfo serves GET /v2/accountvaults/{id}/bininfo.
func (a *API) handleAccountVaultBINInfo(w http.ResponseWriter, r *http.Request) {
	p, r, err := a.authUser(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	in, err := a.addressedVault(r, p)
	switch {
	case err != nil:
	case !in.Active():
		err = errStatus(http.StatusGone, msgGone)
	case in.Kind != vault.KindCard:
		err = errStatus(http.StatusNotFound, msgBINForACH)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, object{{"bininfo", a.binInfo(in.BIN, in.Brand)}})
}
