package fortis

import (
	"net/http"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/vault"
)

// credential reads a credential from its header or, failing that, its query parameter (its
// last value, as PHP reads a repeated parameter).
func credential(r *http.Request, name string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return query(r).get(name)
}

// userCredentials returns the user id and api key from the first source present: the
// user-id/user-api-key headers, the same names as query parameters, or HTTP Basic.
func userCredentials(r *http.Request) (id, key string) {
	if id, key = r.Header.Get("user-id"), r.Header.Get("user-api-key"); id != "" || key != "" {
		return id, key
	}
	q := query(r)
	if id, key = q.get("user-id"), q.get("user-api-key"); id != "" || key != "" {
		return id, key
	}
	id, key, _ = r.BasicAuth()
	return id, key
}

// authUser authenticates a Fortis user (developer-id plus user credentials). It returns the
// request with the user as the audit actor, and records the merchant and user id for the
// access log. Any failure is a 401.
func (a *API) authUser(r *http.Request) (*vault.Principal, *http.Request, error) {
	if err := a.opt.Limits.CheckClient(r); err != nil {
		return nil, r, err
	}
	dev := credential(r, "developer-id")
	id, key := userCredentials(r)
	if dev == "" || id == "" || key == "" {
		a.opt.Limits.Failed(r)
		return nil, r, errStatus(http.StatusUnauthorized, msgUnauthorized)
	}
	p, err := a.svc.AuthenticateUser(r.Context(), dev, id, key)
	if err != nil {
		if vault.KindOf(err) == vault.Unauthenticated {
			a.opt.Limits.Failed(r)
		}
		return nil, r, err
	}
	if err := a.secure(r, p); err != nil {
		return nil, r, err
	}
	if err := a.opt.Limits.CheckCredential("fortis-user:" + p.CredID); err != nil {
		return nil, r, err
	}
	return p, a.note(r, p, "fortis:user:"+p.CredID), nil
}

// authBrowser authenticates a browser by its location's HMAC credential. The location api
// key is public, so browsers share their merchant's rate-limit bucket, each client address
// with a bucket of its own within it.
func (a *API) authBrowser(r *http.Request) (*vault.Principal, *http.Request, error) {
	if err := a.opt.Limits.CheckClient(r); err != nil {
		return nil, r, err
	}
	p, err := a.svc.AuthenticateBrowser(r.Context(), credential(r, "location-api-key"), credential(r, "timestamp"), credential(r, "hash-key"))
	if err != nil {
		if vault.KindOf(err) == vault.Unauthenticated {
			a.opt.Limits.Failed(r)
		}
		return nil, r, err
	}
	if err := a.secure(r, p); err != nil {
		return nil, r, err
	}
	if err := a.opt.Limits.CheckPublic(r, "fortis-browser:"+p.MerchantID()); err != nil {
		return nil, r, err
	}
	return p, a.note(r, p, "fortis:browser:"+p.Location), nil
}

// secure refuses a live merchant's credentials on a request that did not arrive over TLS
// (directly, from loopback, or through a trusted TLS-terminating proxy).
func (a *API) secure(r *http.Request, p *vault.Principal) error {
	if p.Merchant.Live && !httpx.Secure(r, a.opt.TrustedUpstream) {
		return vault.E("fortis.secure", vault.Unauthenticated, vault.ErrLiveOverPlainHT)
	}
	return nil
}

// note records the principal in the request's log info (ids only, never secrets) and returns
// the request with actor as its audit actor.
func (a *API) note(r *http.Request, p *vault.Principal, actor string) *http.Request {
	info := httpx.InfoFrom(r.Context())
	info.Merchant, info.Cred = p.MerchantID(), p.CredID
	return r.WithContext(vault.WithActor(r.Context(), actor))
}
