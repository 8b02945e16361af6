package paysafe

import (
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/vault"
)

// mandateRoutes registers the mandate routes (§2.10): created under a BACS or SEPA account,
// read, updated and deleted under the profile.
func (a *API) mandateRoutes() {
	for _, k := range bankKinds() {
		if k.hasMandates() {
			a.handle(http.MethodPost, "/customervault/v1/profiles/{p}/"+k.path+"/{bankId}/mandates", serverOnly, a.handleMandateCreate(k))
		}
	}
	a.handle(http.MethodGet, "/customervault/v1/profiles/{p}/mandates/{id}", serverOnly, a.handleMandateGet)
	a.handle(http.MethodPut, "/customervault/v1/profiles/{p}/mandates/{id}", serverOnly, a.handleMandateUpdate)
	a.handle(http.MethodDelete, "/customervault/v1/profiles/{p}/mandates/{id}", serverOnly, a.handleMandateDelete)
}

// handleMandateCreate answers POST /customervault/v1/profiles/{p}/{bacs,sepa}bankaccounts/{bankId}/mandates:
// BACS mandates start PENDING, SEPA mandates ACTIVE.
func (a *API) handleMandateCreate(k bankKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
		pid := r.PathValue("p")
		in, err := a.vault.GetProfileInstrument(r.Context(), p, pid, r.PathValue("bankId"), k.kind)
		if err != nil {
			return err
		}
		o, err := readObject(r)
		if err != nil {
			return err
		}
		ref := o.reqString("reference", 1, vault.MaxMandateReference)
		if err := o.errs.err(); err != nil {
			return err
		}
		m, err := a.vault.CreateMandate(r.Context(), p, pid, in.ID, ref)
		if err != nil {
			return err
		}
		a.writeCreated(w, r, "/customervault/v1/profiles/"+pid+"/mandates/"+m.ID, toMandateJSON(m))
		return nil
	}
}

// handleMandateGet answers GET /customervault/v1/profiles/{p}/mandates/{id}.
func (a *API) handleMandateGet(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	m, err := a.vault.GetMandate(r.Context(), p, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, toMandateJSON(m))
	return nil
}

// handleMandateUpdate answers PUT /customervault/v1/profiles/{p}/mandates/{id}: the merchant
// may only cancel ({"status":"CANCELLED"}).
func (a *API) handleMandateUpdate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	pid, id := r.PathValue("p"), r.PathValue("id")
	if _, err := a.vault.GetMandate(r.Context(), p, pid, id); err != nil {
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return err
	}
	status, st := o.str("status")
	switch {
	case st == bad:
	case st == absent || strings.TrimSpace(status) == "":
		o.fail("status", msgEmpty)
	case status != vault.MandateCancelled:
		o.fail("status", "Invalid Status")
	}
	if err := o.errs.err(); err != nil {
		return err
	}
	m, err := a.vault.CancelMandate(r.Context(), p, pid, id)
	if err != nil {
		return err
	}
	writeOK(w, toMandateJSON(m))
	return nil
}

// handleMandateDelete answers DELETE /customervault/v1/profiles/{p}/mandates/{id}.
func (a *API) handleMandateDelete(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	if err := a.vault.DeleteMandate(r.Context(), p, r.PathValue("p"), r.PathValue("id")); err != nil {
		return err
	}
	writeDeleted(w)
	return nil
}
