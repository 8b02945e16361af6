package vault

import "context"

// AddressOptions are the per-API rules of an address write.
type AddressOptions struct {
	// DefaultShipping sets the default-shipping flag: true makes the address the profile's only
	// default, false clears it on this address, nil leaves it unchanged (false on create).
	DefaultShipping *bool
}

// CreateAddress stores a new address of a profile the principal can reach.
// Kinds: NotFound (the profile).
func (s *Service) CreateAddress(ctx context.Context, p *Principal, profileID string, a *Address, opt AddressOptions) (*Address, error) {
	const op = "vault.CreateAddress"
	out := *a
	if err := out.checkNames(); err != nil {
		return nil, E(op, err)
	}
	err := s.write(ctx, func(tx Tx) error {
		if _, err := s.lockReachableProfile(ctx, tx, p, profileID); err != nil {
			return err
		}
		out.ID, out.MerchantID, out.ProfileID, out.Status, out.Created = newID(), p.MerchantID(), profileID, "ACTIVE", s.Now()
		out.DefaultShipping = opt.DefaultShipping != nil && *opt.DefaultShipping
		if err := tx.InsertAddress(ctx, &out); err != nil {
			return err
		}
		if out.DefaultShipping {
			return tx.ClearDefaultShipping(ctx, out.MerchantID, profileID, out.ID)
		}
		return nil
	})
	if err != nil {
		return nil, E(op, err)
	}
	return &out, nil
}

// GetAddress returns an address of a profile the principal can reach. Kinds: NotFound (with
// ID the profile's or the address's id, whichever is missing).
func (s *Service) GetAddress(ctx context.Context, p *Principal, profileID, id string) (*Address, error) {
	const op = "vault.GetAddress"
	if _, err := s.GetProfile(ctx, p, profileID); err != nil {
		return nil, E(op, err)
	}
	a, err := s.store.GetAddress(ctx, p.MerchantID(), profileID, id)
	if err != nil {
		return nil, E(op, err)
	}
	return a, nil
}

// ListAddresses returns the addresses of a profile the principal can reach, oldest first.
// Kinds: NotFound.
func (s *Service) ListAddresses(ctx context.Context, p *Principal, profileID string) ([]*Address, error) {
	const op = "vault.ListAddresses"
	if _, err := s.GetProfile(ctx, p, profileID); err != nil {
		return nil, E(op, err)
	}
	list, err := s.store.ListAddresses(ctx, p.MerchantID(), profileID)
	if err != nil {
		return nil, E(op, err)
	}
	return list, nil
}

// UpdateAddress applies mutate to a copy of an address and stores it. The id, merchant,
// profile, status and creation time cannot change; the default-shipping flag follows opt.
// Kinds: NotFound, and whatever mutate returns.
func (s *Service) UpdateAddress(ctx context.Context, p *Principal, profileID, id string, mutate func(*Address) error, opt AddressOptions) (*Address, error) {
	const op = "vault.UpdateAddress"
	var out *Address
	err := s.write(ctx, func(tx Tx) error {
		if _, err := s.lockReachableProfile(ctx, tx, p, profileID); err != nil {
			return err
		}
		cur, err := tx.GetAddress(ctx, p.MerchantID(), profileID, id)
		if err != nil {
			return err
		}
		next := *cur
		if err := mutate(&next); err != nil {
			return err
		}
		next.ID, next.MerchantID, next.ProfileID, next.Status, next.Created = cur.ID, cur.MerchantID, cur.ProfileID, cur.Status, cur.Created
		if err := next.checkNames(); err != nil {
			return err
		}
		next.DefaultShipping = cur.DefaultShipping
		if opt.DefaultShipping != nil {
			next.DefaultShipping = *opt.DefaultShipping
		}
		if err := tx.UpdateAddress(ctx, &next); err != nil {
			return err
		}
		if next.DefaultShipping {
			if err := tx.ClearDefaultShipping(ctx, next.MerchantID, profileID, next.ID); err != nil {
				return err
			}
		}
		out = &next
		return nil
	})
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// DeleteAddress removes an address and unlinks it from the profile's cards and bank
// accounts; it is never refused for being in use. Kinds: NotFound.
func (s *Service) DeleteAddress(ctx context.Context, p *Principal, profileID, id string) error {
	const op = "vault.DeleteAddress"
	return Wrap(op, s.write(ctx, func(tx Tx) error {
		if _, err := s.lockReachableProfile(ctx, tx, p, profileID); err != nil {
			return err
		}
		return tx.DeleteAddress(ctx, p.MerchantID(), profileID, id)
	}))
}

// lockReachableProfile locks an active profile the principal can reach.
func (s *Service) lockReachableProfile(ctx context.Context, tx Tx, p *Principal, profileID string) (*Profile, error) {
	prof, err := tx.LockProfile(ctx, p.MerchantID(), profileID)
	if err != nil {
		return nil, err
	}
	if !p.CanReach(prof.LocationID) {
		return nil, E(NotFound, ID(profileID))
	}
	return prof, nil
}
