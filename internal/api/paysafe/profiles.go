package paysafe

import (
	"context"
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/vault"
)

// profileRoutes registers the profile routes (§2.2).
func (a *API) profileRoutes() {
	a.handle(http.MethodPost, "/customervault/v1/profiles", serverOnly, a.handleProfileCreate)
	a.handle(http.MethodGet, "/customervault/v1/profiles", serverOnly, a.handleProfileLookup)
	a.handle(http.MethodGet, "/customervault/v1/profiles/{p}", serverOnly, a.handleProfileGet)
	a.handle(http.MethodPut, "/customervault/v1/profiles/{p}", serverOnly, a.handleProfileUpdate)
	a.handle(http.MethodDelete, "/customervault/v1/profiles/{p}", serverOnly, a.handleProfileDelete)
}

// readProfile reads the profile's mutable fields into prof, replacing them (§1.9).
func (a *API) readProfile(o obj, prof *vault.Profile) {
	prof.MerchantCustomerID = o.reqString("merchantCustomerId", 1, 100)
	prof.Locale = o.reqEnum("locale", "Invalid Locale", "en_US", "fr_CA", "en_GB")
	prof.FirstName = o.optString("firstName", 80)
	prof.MiddleName = o.optString("middleName", 80)
	prof.LastName = o.optString("lastName", 80)
	prof.DOB = o.readDOB("dateOfBirth", a.cfg.Now())
	prof.IP = o.readIP("ip")
	prof.Gender = o.enum("gender", "Invalid Gender", "M", "F")
	prof.Nationality = o.optString("nationality", 255)
	prof.Email = o.readEmail("email")
	prof.Phone = o.optString("phone", 40)
	prof.CellPhone = o.optString("cellPhone", 40)
}

// handleProfileCreate answers POST /customervault/v1/profiles, with or without a nested card
// (a raw card with an optional billingAddress, or a singleUseToken).
func (a *API) handleProfileCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	o, err := readObject(r)
	if err != nil {
		return err
	}
	prof := &vault.Profile{}
	a.readProfile(o, prof)
	co, st := o.object("card")
	if st != present {
		if err := o.errs.err(); err != nil {
			return err
		}
		out, err := a.vault.CreateProfile(r.Context(), p, prof)
		if err != nil {
			return a.profileConflict(r.Context(), p, prof.MerchantCustomerID, err)
		}
		a.writeCreated(w, r, "/customervault/v1/profiles/"+out.ID, toProfileJSON(out))
		return nil
	}

	c := a.readCard(co, cardInProfile)
	if err := o.errs.err(); err != nil {
		return err
	}
	if err := c.brandError(); err != nil {
		return err
	}
	yes := true
	opt := vault.CreateOptions{CheckDuplicate: true, Default: &yes}
	in, src := c.instrument(&opt)
	mcid := prof.MerchantCustomerID
	var addrs []*vault.Address // read in the create's write: a read after it could fail a stored create
	opt.Addresses = &addrs
	prof, card, err := a.vault.CreateProfileWithInstrument(r.Context(), p, prof, in, src, opt)
	if err != nil {
		return a.profileConflict(r.Context(), p, mcid, wireCtx{kind: vault.KindCard, prefix: "card."}.wrap(err))
	}
	body := toProfileJSON(prof)
	al := make([]addressJSON, 0, len(addrs))
	for _, ad := range addrs {
		al = append(al, toAddressJSON(ad))
	}
	cj := a.toCardJSON(card)
	cj.StoredCredentialTokenStatus = ""
	cj.SingleUseToken = c.token
	body.Addresses, body.Cards = &al, &[]cardJSON{cj}
	a.writeCreated(w, r, "", body) // no Location for a profile created with a card (§1.5)
	return nil
}

// profileConflict turns a merchantCustomerId conflict into 7505 naming the profile that holds
// the value; other errors pass through.
func (a *API) profileConflict(ctx context.Context, p *vault.Principal, mcid string, err error) error {
	e := vault.AsError(err)
	if e == nil || e.Kind != vault.Conflict || e.Field != "merchant_customer_id" {
		return err
	}
	holder, ferr := a.vault.FindProfile(ctx, p, "merchant_customer_id", mcid, "")
	if ferr != nil {
		return err
	}
	return vault.E(vault.Conflict, vault.Field("merchant_customer_id"), vault.ID(holder.ID), vault.ErrDuplicate)
}

// handleProfileGet answers GET /customervault/v1/profiles/{p}[?fields=…].
func (a *API) handleProfileGet(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	prof, err := a.vault.GetProfile(r.Context(), p, r.PathValue("p"))
	if err != nil {
		return err
	}
	body, err := a.profileWithFields(r, p, prof)
	if err != nil {
		return err
	}
	writeOK(w, body)
	return nil
}

// handleProfileLookup answers GET /customervault/v1/profiles?merchantCustomerId=X[&fields=…]
// with the profile object itself.
func (a *API) handleProfileLookup(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	mcid := r.URL.Query().Get("merchantCustomerId")
	if strings.TrimSpace(mcid) == "" {
		return invalid(fieldError{Field: "merchantCustomerId", Error: msgEmpty})
	}
	prof, err := a.vault.FindProfile(r.Context(), p, "merchant_customer_id", mcid, "")
	if err != nil {
		if vault.KindOf(err) == vault.NotFound {
			return refNotFound(mcid)
		}
		return err
	}
	body, err := a.profileWithFields(r, p, prof)
	if err != nil {
		return err
	}
	writeOK(w, body)
	return nil
}

// profileFields parses fields: a comma list, order- and case-insensitive, unknown values ignored.
func profileFields(r *http.Request) map[string]bool {
	out := map[string]bool{}
	for _, v := range r.URL.Query()["fields"] {
		for _, f := range strings.Split(v, ",") {
			out[strings.ToLower(strings.TrimSpace(f))] = true
		}
	}
	return out
}

// profileWithFields renders a profile with the subcomponents the request's fields ask for.
func (a *API) profileWithFields(r *http.Request, p *vault.Principal, prof *vault.Profile) (profileJSON, error) {
	ctx := r.Context()
	body := toProfileJSON(prof)
	fields := profileFields(r)
	if fields["addresses"] {
		addrs, err := a.vault.ListAddresses(ctx, p, prof.ID)
		if err != nil {
			return body, err
		}
		l := make([]addressJSON, 0, len(addrs))
		for _, ad := range addrs {
			l = append(l, toAddressJSON(ad))
		}
		body.Addresses = &l
	}
	var all []*vault.Instrument
	if fields["cards"] || fields["achbankaccounts"] || fields["bacsbankaccounts"] || fields["eftbankaccounts"] || fields["sepabankaccounts"] {
		var err error
		if all, err = a.vault.Store().ListProfileInstruments(ctx, p.MerchantID(), prof.ID, ""); err != nil {
			return body, err
		}
	}
	if fields["cards"] {
		l := []cardJSON{}
		for _, in := range all {
			if in.Kind == vault.KindCard {
				c := a.toCardJSON(in)
				c.StoredCredentialTokenStatus = "" // embedded cards omit it (§2.2)
				l = append(l, c)
			}
		}
		body.Cards = &l
	}
	for _, b := range []struct {
		field, kind string
		dst         **[]bankJSON
	}{
		{"achbankaccounts", vault.KindACH, &body.ACHBankAccounts},
		{"bacsbankaccounts", vault.KindBACS, &body.BACSBankAccounts},
		{"eftbankaccounts", vault.KindEFT, &body.EFTBankAccounts},
		{"sepabankaccounts", vault.KindSEPA, &body.SEPABankAccounts},
	} {
		if !fields[b.field] {
			continue
		}
		l := []bankJSON{}
		for _, in := range all {
			if in.Kind != b.kind {
				continue
			}
			ms, err := a.mandatesOf(ctx, p, in)
			if err != nil {
				return body, err
			}
			l = append(l, toBankJSON(in, ms))
		}
		*b.dst = &l
	}
	return body, nil
}

// handleProfileUpdate answers PUT /customervault/v1/profiles/{p}: it replaces the mutable
// fields; card is ignored.
func (a *API) handleProfileUpdate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	id := r.PathValue("p")
	// An unknown profile is a 404 whatever the body holds (malformed, or with field errors).
	// The update itself locks the profile, so a valid request reads it once; a refused one
	// looks it up before it answers.
	profileErr := func(err error) error {
		if perr := a.vault.CheckProfile(r.Context(), p, id); perr != nil {
			return perr
		}
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return profileErr(err)
	}
	var next vault.Profile
	a.readProfile(o, &next)
	if err := o.errs.err(); err != nil {
		return profileErr(err)
	}
	out, err := a.vault.UpdateProfile(r.Context(), p, id, func(cur *vault.Profile) error {
		cur.MerchantCustomerID, cur.Locale = next.MerchantCustomerID, next.Locale
		cur.FirstName, cur.MiddleName, cur.LastName = next.FirstName, next.MiddleName, next.LastName
		cur.DOB, cur.IP, cur.Gender, cur.Nationality = next.DOB, next.IP, next.Gender, next.Nationality
		cur.Email, cur.Phone, cur.CellPhone = next.Email, next.Phone, next.CellPhone
		return nil
	})
	if err != nil {
		return a.profileConflict(r.Context(), p, next.MerchantCustomerID, err)
	}
	writeOK(w, toProfileJSON(out))
	return nil
}

// handleProfileDelete answers DELETE /customervault/v1/profiles/{p}: it removes the profile's
// addresses, cards, bank accounts and mandates in one transaction and retires their tokens.
func (a *API) handleProfileDelete(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	if err := a.vault.DeleteProfile(r.Context(), p, r.PathValue("p"), vault.Cascade); err != nil {
		return err
	}
	writeDeleted(w)
	return nil
}
