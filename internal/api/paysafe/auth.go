package paysafe

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/vault"
)

// access says which credentials a route accepts (§1.2).
type access uint8

const (
	serverOnly    access = iota // serverOnly routes need a server credential.
	tokenCreation               // tokenCreation routes accept a single-use-token key too.
	public                      // public routes (the monitors) check no credentials.
)

// authenticate checks the HTTP Basic credentials of r for a route: 401/5280 when missing or
// not Basic, 401/5279 when wrong, 403/5270 for a single-use-token key outside token creation
// and for a live merchant's credentials over plain HTTP, 429/1200 over the rate limits. It
// records the merchant and key id (never the secret) for the access log.
func (a *API) authenticate(r *http.Request, acc access) (*vault.Principal, error) {
	if err := a.cfg.Limits.CheckClient(r); err != nil {
		return nil, err
	}
	p, err := a.checkCredentials(r)
	if err != nil {
		if vault.KindOf(err) == vault.Unauthenticated || errors.As(err, new(*apiError)) {
			a.cfg.Limits.Failed(r)
		}
		return nil, err
	}
	info := httpx.InfoFrom(r.Context())
	info.Merchant, info.Cred = p.MerchantID(), p.CredID
	if p.Kind == vault.CredSUT && acc != tokenCreation {
		return nil, newError("5270")
	}
	if p.Merchant.Live && !httpx.Secure(r, a.cfg.TrustedUpstream) {
		return nil, newError("5270")
	}
	// A server key has its own bucket; the public single-use-token key shares its merchant's,
	// and each client address has its own within it.
	if p.Kind == vault.CredSUT {
		err = a.cfg.Limits.CheckPublic(r, "paysafe-sut:"+p.MerchantID())
	} else {
		err = a.cfg.Limits.CheckCredential("paysafe:" + p.CredID)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkCredentials reads the HTTP Basic credentials of r and authenticates them.
func (a *API) checkCredentials(r *http.Request) (*vault.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, enc, _ := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" || !strings.EqualFold(scheme, "Basic") {
		return nil, newError("5280")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return nil, newError("5279")
	}
	keyID, secret, ok := strings.Cut(string(raw), ":")
	if !ok || keyID == "" || secret == "" {
		return nil, newError("5279")
	}
	p, err := a.vault.AuthenticateAPIKey(r.Context(), keyID, secret)
	if err != nil {
		if vault.KindOf(err) == vault.Unauthenticated {
			return nil, newError("5279")
		}
		return nil, err
	}
	return p, nil
}

type principalKey struct{}

// withPrincipal returns ctx carrying the authenticated principal.
func withPrincipal(ctx context.Context, p *vault.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the request's principal, or nil on a public route.
func principalFrom(ctx context.Context) *vault.Principal {
	p, _ := ctx.Value(principalKey{}).(*vault.Principal)
	return p
}
