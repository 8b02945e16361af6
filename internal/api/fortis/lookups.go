package fortis

import (
	"context"
	"net/http"

	"github.com/payvault/payvault/internal/vault"
)

// lookups fetches the records that expands embed, once per request.
type lookups struct {
	a         *API
	p         *vault.Principal
	locations map[string]*vault.Location
	users     map[string]*vault.User
	profiles  map[string]*vault.Profile
	products  map[string]*vault.ProductTransaction
}

func newLookups(a *API, p *vault.Principal) *lookups {
	return &lookups{a: a, p: p, locations: map[string]*vault.Location{}, users: map[string]*vault.User{},
		profiles: map[string]*vault.Profile{}, products: map[string]*vault.ProductTransaction{}}
}

// cached returns m[id], loading it with get the first time; a missing record is nil.
func cached[T any](ctx context.Context, m map[string]*T, id string, get func(context.Context, string) (*T, error)) (*T, error) {
	if id == "" {
		return nil, nil
	}
	if v, ok := m[id]; ok {
		return v, nil
	}
	v, err := get(ctx, id)
	if vault.KindOf(err) == vault.NotFound {
		v, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	m[id] = v
	return v, nil
}

func (l *lookups) location(ctx context.Context, id string) (*vault.Location, error) {
	if !l.p.CanReach(id) {
		return nil, nil
	}
	return cached(ctx, l.locations, id, func(ctx context.Context, id string) (*vault.Location, error) {
		return l.a.svc.Store().GetLocation(ctx, l.p.MerchantID(), id)
	})
}

// user returns a user the principal may read (§3.1: itself and users who share a location it
// reaches), or nil: an expand never shows a user whose GET is 404.
func (l *lookups) user(ctx context.Context, id string) (*vault.User, error) {
	return cached(ctx, l.users, id, func(ctx context.Context, id string) (*vault.User, error) {
		u, err := l.a.svc.Store().GetUser(ctx, id)
		if err == nil && (u.MerchantID != l.p.MerchantID() || !shareLocation(l.p, u)) {
			return nil, vault.E(vault.NotFound)
		}
		return u, err
	})
}

func (l *lookups) profile(ctx context.Context, id string) (*vault.Profile, error) {
	return cached(ctx, l.profiles, id, func(ctx context.Context, id string) (*vault.Profile, error) {
		return l.a.svc.GetProfile(ctx, l.p, id)
	})
}

func (l *lookups) product(ctx context.Context, id string) (*vault.ProductTransaction, error) {
	return cached(ctx, l.products, id, func(ctx context.Context, id string) (*vault.ProductTransaction, error) {
		return l.a.svc.Store().GetProductTransaction(ctx, l.p.MerchantID(), id)
	})
}

// locationObj embeds a location, or null.
func (l *lookups) locationObj(r *http.Request, id string) (any, error) {
	loc, err := l.location(r.Context(), id)
	if err != nil || loc == nil {
		return nil, err
	}
	return l.a.locationObject(r, loc)
}

// userObj embeds a user, or null.
func (l *lookups) userObj(r *http.Request, id string) (any, error) {
	u, err := l.user(r.Context(), id)
	if err != nil || u == nil {
		return nil, err
	}
	return l.a.userObject(r, u), nil
}

// profileObj embeds a contact, or null.
func (l *lookups) profileObj(r *http.Request, id string) (any, error) {
	prof, err := l.profile(r.Context(), id)
	if err != nil || prof == nil {
		return nil, err
	}
	return l.a.contactObject(r, prof), nil
}

// productObj embeds a product transaction, or null.
func (l *lookups) productObj(r *http.Request, id string) (any, error) {
	pt, err := l.product(r.Context(), id)
	if err != nil || pt == nil || !l.p.CanReach(pt.LocationID) {
		return nil, err
	}
	return l.a.productObject(r, pt), nil
}

// vaultObj embeds an account vault (a deleted one shows "active":0), or null.
func (l *lookups) vaultObj(r *http.Request, id string) (any, error) {
	in, err := l.a.svc.GetInstrument(r.Context(), l.p, id)
	if vault.KindOf(err) == vault.NotFound || (err == nil && !fortisKind(in.Kind)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return l.a.vaultObject(r, in)
}
