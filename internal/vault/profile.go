package vault

import (
	"context"
	"time"

	"github.com/payvault/payvault/internal/token"
)

// Profile is a customer: a Paysafe profile and a Fortis contact are the same record.
type Profile struct {
	ID                 string
	MerchantID         string
	LocationID         string
	Token              string // Token is the profile's payment token (P…).
	Status             string // Status is "ACTIVE".
	MerchantCustomerID string // MerchantCustomerID is unique per merchant when set.
	Locale             string
	FirstName          string
	MiddleName         string
	LastName           string
	DOB                Date
	IP                 string
	Gender             string
	Nationality        string
	Email              string
	Phone              string // Phone is the Paysafe phone and the Fortis home_phone.
	CellPhone          string
	ContactAPIID       string // ContactAPIID is unique per location when set.
	CompanyName        string
	AccountNumber      string // AccountNumber is the merchant's own customer account reference, not bank data.
	Address            string
	City               string
	State              string
	Zip                string
	OfficePhone        string
	OfficeExtPhone     string
	ContactBalance     string
	EmailTrxReceipt    bool
	HeaderMessage      string
	HeaderMessageType  int
	C1, C2, C3         string
	CreatedUserID      string
	Created            time.Time
	Modified           time.Time // Modified is zero until the first update.
}

// Date is a calendar date whose parts are zero when unset.
type Date struct{ Year, Month, Day int }

// IsZero reports whether no part is set.
func (d Date) IsZero() bool { return d == Date{} }

// Address is a postal address of a profile.
type Address struct {
	ID              string
	MerchantID      string
	ProfileID       string
	NickName        string
	Street          string
	Street2         string
	City            string
	State           string
	Country         string
	Zip             string
	RecipientName   string
	Phone           string
	DefaultShipping bool
	Status          string
	Created         time.Time
}

// CreateProfile stores a new profile in the principal's reach. Kinds: Invalid, Conflict
// (Field merchant_customer_id or contact_api_id).
func (s *Service) CreateProfile(ctx context.Context, p *Principal, prof *Profile) (*Profile, error) {
	const op = "vault.CreateProfile"
	if err := s.prepareProfile(op, p, prof); err != nil {
		return nil, err
	}
	if err := s.write(ctx, func(tx Tx) error { return tx.InsertProfile(ctx, prof) }); err != nil {
		return nil, E(op, err)
	}
	return prof, nil
}

// prepareProfile fills in the server fields of a new profile and checks its location and its
// names (checkNames).
func (s *Service) prepareProfile(op string, p *Principal, prof *Profile) error {
	if err := prof.checkNames(); err != nil {
		return E(op, err)
	}
	prof.ID = newID()
	prof.MerchantID = p.MerchantID()
	prof.Token = token.New(token.Profile)
	prof.Status = "ACTIVE"
	prof.Created = s.Now()
	prof.Modified = time.Time{}
	if prof.LocationID == "" {
		prof.LocationID = p.defaultLocation()
	}
	if !p.CanReach(prof.LocationID) {
		return E(op, Invalid, Field("location_id"), ErrUnusable)
	}
	if p.User != nil && prof.CreatedUserID == "" {
		prof.CreatedUserID = p.User.ID
	}
	return nil
}

// defaultLocation is where a principal's records go when the request names no location.
func (p *Principal) defaultLocation() string {
	switch {
	case p.Location != "":
		return p.Location
	case p.User != nil:
		return p.User.PrimaryLocationID
	default:
		return p.Merchant.DefaultLocationID
	}
}

// DefaultLocation returns where the principal's records go when a request names none.
func (p *Principal) DefaultLocation() string { return p.defaultLocation() }

// GetProfile returns a profile the principal can reach. Kinds: NotFound.
func (s *Service) GetProfile(ctx context.Context, p *Principal, id string) (*Profile, error) {
	const op = "vault.GetProfile"
	prof, err := s.store.GetProfile(ctx, p.MerchantID(), id)
	if err != nil {
		return nil, E(op, err)
	}
	if !p.CanReach(prof.LocationID) {
		return nil, E(op, NotFound, ID(id))
	}
	return prof, nil
}

// CheckProfile is GetProfile for callers that need only to know that the profile exists
// and the principal can reach it: it reads one column rather than the whole row.
// Kinds: NotFound.
func (s *Service) CheckProfile(ctx context.Context, p *Principal, id string) error {
	const op = "vault.CheckProfile"
	loc, err := s.store.GetProfileLocation(ctx, p.MerchantID(), id)
	if err != nil {
		return E(op, err)
	}
	if !p.CanReach(loc) {
		return E(op, NotFound, ID(id))
	}
	return nil
}

// FindProfile returns the profile whose field (merchant_customer_id, token, or contact_api_id
// within locationID) is value. Kinds: NotFound.
func (s *Service) FindProfile(ctx context.Context, p *Principal, field, value, locationID string) (*Profile, error) {
	const op = "vault.FindProfile"
	prof, err := s.store.GetProfileBy(ctx, p.MerchantID(), field, value, locationID)
	if err != nil {
		return nil, E(op, err)
	}
	if !p.CanReach(prof.LocationID) {
		return nil, E(op, NotFound, ID(value))
	}
	return prof, nil
}

// UpdateProfile applies mutate to a copy of the profile and stores the result. The id, merchant,
// token, status and creation time cannot change; the location may change only within the
// principal's reach. Kinds: NotFound, Invalid, Conflict, and whatever mutate returns.
func (s *Service) UpdateProfile(ctx context.Context, p *Principal, id string, mutate func(*Profile) error) (*Profile, error) {
	const op = "vault.UpdateProfile"
	var out *Profile
	err := s.write(ctx, func(tx Tx) error {
		cur, err := tx.LockProfile(ctx, p.MerchantID(), id)
		if err != nil {
			return err
		}
		if !p.CanReach(cur.LocationID) {
			return E(NotFound, ID(id))
		}
		next := *cur
		if err := mutate(&next); err != nil {
			return err
		}
		next.ID, next.MerchantID, next.Token, next.Status, next.Created = cur.ID, cur.MerchantID, cur.Token, cur.Status, cur.Created
		next.CreatedUserID = cur.CreatedUserID
		if err := next.checkNames(); err != nil {
			return err
		}
		if next.LocationID != cur.LocationID && !p.CanReach(next.LocationID) {
			return E(Invalid, Field("location_id"), ErrUnusable)
		}
		next.Modified = s.Now()
		if err := tx.UpdateProfile(ctx, &next); err != nil {
			return err
		}
		out = &next
		return nil
	})
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// DeleteMode says what happens to a deleted profile's instruments.
type DeleteMode uint8

// The delete modes.
const (
	// Cascade deletes the profile's addresses, instruments and mandates (Paysafe).
	Cascade DeleteMode = iota + 1
	// Detach keeps the instruments and unlinks them from the profile (Fortis contacts).
	Detach
)

// DeleteProfile deletes a profile in one transaction; its payment tokens stop working.
// Kinds: NotFound.
func (s *Service) DeleteProfile(ctx context.Context, p *Principal, id string, mode DeleteMode) error {
	const op = "vault.DeleteProfile"
	err := s.write(ctx, func(tx Tx) error {
		cur, err := tx.LockProfile(ctx, p.MerchantID(), id)
		if err != nil {
			return err
		}
		if !p.CanReach(cur.LocationID) {
			return E(NotFound, ID(id))
		}
		now := s.Now()
		switch mode {
		case Detach:
			if err := tx.DetachProfileInstruments(ctx, p.MerchantID(), id); err != nil {
				return err
			}
		default:
			if err := tx.DeleteMandatesOf(ctx, p.MerchantID(), id, ""); err != nil {
				return err
			}
			if err := tx.DeleteProfileInstruments(ctx, p.MerchantID(), id, now); err != nil {
				return err
			}
			addrs, err := tx.ListAddresses(ctx, p.MerchantID(), id)
			if err != nil {
				return err
			}
			for _, a := range addrs {
				if err := tx.DeleteAddress(ctx, p.MerchantID(), id, a.ID); err != nil {
					return err
				}
			}
		}
		return tx.DeleteProfile(ctx, p.MerchantID(), id, now)
	})
	return Wrap(op, err)
}
