package paysafe

import (
	"net/http"

	"github.com/payvault/payvault/internal/vault"
)

// addressRoutes registers the address routes (§2.3).
func (a *API) addressRoutes() {
	a.handle(http.MethodPost, "/customervault/v1/profiles/{p}/addresses", serverOnly, a.handleAddressCreate)
	a.handle(http.MethodGet, "/customervault/v1/profiles/{p}/addresses/{id}", serverOnly, a.handleAddressGet)
	a.handle(http.MethodPut, "/customervault/v1/profiles/{p}/addresses/{id}", serverOnly, a.handleAddressUpdate)
	a.handle(http.MethodDelete, "/customervault/v1/profiles/{p}/addresses/{id}", serverOnly, a.handleAddressDelete)
}

// handleAddressCreate answers POST /customervault/v1/profiles/{p}/addresses.
func (a *API) handleAddressCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	pid := r.PathValue("p")
	if _, err := a.vault.GetProfile(r.Context(), p, pid); err != nil {
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return err
	}
	var ad vault.Address
	o.readAddress(&ad)
	def := o.boolean("defaultShippingAddressIndicator")
	if err := o.errs.err(); err != nil {
		return err
	}
	out, err := a.vault.CreateAddress(r.Context(), p, pid, &ad, vault.AddressOptions{DefaultShipping: def})
	if err != nil {
		return err
	}
	a.writeCreated(w, r, "/customervault/v1/profiles/"+pid+"/addresses/"+out.ID, toAddressJSON(out))
	return nil
}

// handleAddressGet answers GET /customervault/v1/profiles/{p}/addresses/{id}.
func (a *API) handleAddressGet(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	out, err := a.vault.GetAddress(r.Context(), p, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, toAddressJSON(out))
	return nil
}

// handleAddressUpdate answers PUT /customervault/v1/profiles/{p}/addresses/{id}: country is
// required, the other fields are replaced, and defaultShippingAddressIndicator changes the
// default only when given.
func (a *API) handleAddressUpdate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	pid, id := r.PathValue("p"), r.PathValue("id")
	if _, err := a.vault.GetAddress(r.Context(), p, pid, id); err != nil {
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return err
	}
	var next vault.Address
	o.readAddress(&next)
	def := o.boolean("defaultShippingAddressIndicator")
	if err := o.errs.err(); err != nil {
		return err
	}
	out, err := a.vault.UpdateAddress(r.Context(), p, pid, id, func(cur *vault.Address) error {
		cur.NickName, cur.Street, cur.Street2, cur.City = next.NickName, next.Street, next.Street2, next.City
		cur.State, cur.Country, cur.Zip = next.State, next.Country, next.Zip
		cur.RecipientName, cur.Phone = next.RecipientName, next.Phone
		return nil
	}, vault.AddressOptions{DefaultShipping: def})
	if err != nil {
		return err
	}
	writeOK(w, toAddressJSON(out))
	return nil
}

// handleAddressDelete answers DELETE /customervault/v1/profiles/{p}/addresses/{id}; cards and
// bank accounts that used it as their billing address lose the link.
func (a *API) handleAddressDelete(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	pid, id := r.PathValue("p"), r.PathValue("id")
	if _, err := a.vault.GetAddress(r.Context(), p, pid, id); err != nil {
		return err
	}
	if err := a.vault.DeleteAddress(r.Context(), p, pid, id); err != nil {
		return err
	}
	writeDeleted(w)
	return nil
}
