package vault

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/token"
)

// Mandate statuses. CANCELLED, DECLINED and REJECTED are final.
const (
	MandateInitial   = "INITIAL"
	MandatePending   = "PENDING"
	MandateDeclined  = "DECLINED"
	MandateBatched   = "BATCHED"
	MandateActive    = "ACTIVE"
	MandateCancelled = "CANCELLED"
	MandateRejected  = "REJECTED"
	MandateDisputed  = "DISPUTED"
	MandateInactive  = "INACTIVE"
)

// mandateStatuses are all the mandate statuses.
var mandateStatuses = []string{MandateInitial, MandatePending, MandateDeclined, MandateBatched, MandateActive, MandateCancelled,
	MandateRejected, MandateDisputed, MandateInactive}

// MaxMandateReference is the longest mandate reference, in characters (the Paysafe API's
// 1 to 35); the API and an import check it.
const MaxMandateReference = 35

// MandateMerchantCancelled is the status reason of a mandate the merchant cancelled.
const MandateMerchantCancelled = "MERCHANT_CANCELLED"

// DefaultBACSMandateActivation is how long a new BACS mandate stays PENDING by default.
const DefaultBACSMandateActivation = 7 * 24 * time.Hour

// mandateFinal reports whether no transition leads out of status.
func mandateFinal(status string) bool {
	return status == MandateCancelled || status == MandateDeclined || status == MandateRejected
}

// operatorTransitions are the moves an operator may make, besides cancelling any non-final
// mandate.
var operatorTransitions = map[string][]string{
	MandatePending: {MandateActive, MandateDeclined, MandateRejected},
	MandateActive:  {MandateDisputed, MandateInactive},
}

// effective applies the time-based transition lazily: a PENDING mandate becomes ACTIVE
// BACSMandateActivation after its creation. Mandates are only ever PENDING on BACS accounts.
func (s *Service) effective(m *Mandate) *Mandate {
	if m.Status != MandatePending {
		return m
	}
	at := m.Created.Add(s.cfg.BACSMandateActivation)
	if s.Now().Before(at) {
		return m
	}
	out := *m
	out.Status, out.StatusChanged = MandateActive, at.UTC().Truncate(time.Millisecond)
	return &out
}

// newMandate builds a mandate on a BACS or SEPA account: BACS mandates start PENDING and
// SEPA mandates ACTIVE.
func (s *Service) newMandate(in *Instrument, reference string) (*Mandate, error) {
	// A blank reference is missing; any other is kept exactly as sent (§2.10 echoes it).
	if strings.TrimSpace(reference) == "" {
		return nil, E(Invalid, Field("reference"), ErrRequired)
	}
	status := MandateActive
	if in.Kind == KindBACS {
		status = MandatePending
	}
	now := s.Now()
	return &Mandate{
		ID: newID(), MerchantID: in.MerchantID, ProfileID: in.ProfileID, InstrumentID: in.ID,
		Token: token.New(token.Mandate), Reference: reference, Status: status, StatusChanged: now, Created: now,
	}, nil
}

// insertMandates stores mandates for the references on a new instrument, in its transaction,
// and returns them.
func (s *Service) insertMandates(ctx context.Context, tx Tx, in *Instrument, refs []string) ([]*Mandate, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if in.Kind != KindBACS && in.Kind != KindSEPA {
		return nil, E(Invalid, Field("mandates"), ErrUnusable)
	}
	out := make([]*Mandate, 0, len(refs))
	for _, ref := range refs {
		m, err := s.newMandate(in, ref)
		if err != nil {
			return nil, err
		}
		if err := tx.InsertMandate(ctx, m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// CreateMandate adds a mandate to an active BACS or SEPA account of a profile.
// Kinds: NotFound (the profile or the account), Invalid (Field reference).
func (s *Service) CreateMandate(ctx context.Context, p *Principal, profileID, instrumentID, reference string) (*Mandate, error) {
	const op = "vault.CreateMandate"
	var out *Mandate
	err := s.write(ctx, func(tx Tx) error {
		if _, err := s.lockReachableProfile(ctx, tx, p, profileID); err != nil {
			return err
		}
		in, err := tx.GetInstrument(ctx, p.MerchantID(), instrumentID)
		if err != nil {
			return err
		}
		if !in.Active() || in.ProfileID != profileID || (in.Kind != KindBACS && in.Kind != KindSEPA) {
			return E(NotFound, ID(instrumentID))
		}
		m, err := s.newMandate(in, reference)
		if err != nil {
			return err
		}
		out = m
		return tx.InsertMandate(ctx, m)
	})
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// GetMandate returns a mandate of a profile, with its time-based transition applied.
// Kinds: NotFound (the profile or the mandate).
func (s *Service) GetMandate(ctx context.Context, p *Principal, profileID, id string) (*Mandate, error) {
	const op = "vault.GetMandate"
	if _, err := s.GetProfile(ctx, p, profileID); err != nil {
		return nil, E(op, err)
	}
	m, err := s.store.GetMandate(ctx, p.MerchantID(), id)
	if err != nil {
		return nil, E(op, err)
	}
	if m.ProfileID != profileID {
		return nil, E(op, NotFound, ID(id))
	}
	return s.effective(m), nil
}

// ListMandates returns an instrument's mandates, oldest first, with their time-based
// transitions applied. Kinds: NotFound.
func (s *Service) ListMandates(ctx context.Context, p *Principal, instrumentID string) ([]*Mandate, error) {
	const op = "vault.ListMandates"
	if _, err := s.GetInstrument(ctx, p, instrumentID); err != nil {
		return nil, E(op, err)
	}
	list, err := s.store.ListMandates(ctx, p.MerchantID(), instrumentID)
	if err != nil {
		return nil, E(op, err)
	}
	for i, m := range list {
		list[i] = s.effective(m)
	}
	return list, nil
}

// CancelMandate is the merchant's cancellation: any non-final mandate becomes CANCELLED with
// the reason MERCHANT_CANCELLED; an already cancelled one is returned unchanged.
// Kinds: NotFound, Invalid (Field status, ErrBadStatus) for a declined or rejected mandate.
func (s *Service) CancelMandate(ctx context.Context, p *Principal, profileID, id string) (*Mandate, error) {
	const op = "vault.CancelMandate"
	var out *Mandate
	err := s.write(ctx, func(tx Tx) error {
		if _, err := s.lockReachableProfile(ctx, tx, p, profileID); err != nil {
			return err
		}
		m, err := tx.GetMandate(ctx, p.MerchantID(), id)
		if err != nil {
			return err
		}
		if m.ProfileID != profileID {
			return E(NotFound, ID(id))
		}
		out, err = s.transition(ctx, tx, m, MandateCancelled, "", MandateMerchantCancelled)
		return err
	})
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// transition moves a mandate (after its time-based transition) to status and stores it.
func (s *Service) transition(ctx context.Context, tx Tx, m *Mandate, status, reasonCode, reason string) (*Mandate, error) {
	m = s.effective(m)
	if m.Status == status {
		return m, nil
	}
	ok := !mandateFinal(m.Status) && (status == MandateCancelled || slices.Contains(operatorTransitions[m.Status], status))
	if !ok {
		return nil, E(Invalid, Field("status"), ErrBadStatus)
	}
	next := *m
	next.Status, next.StatusChanged = status, s.Now()
	next.StatusReasonCode, next.StatusReason = reasonCode, reason
	if err := tx.UpdateMandate(ctx, &next); err != nil {
		return nil, err
	}
	return &next, nil
}

// SetMandateStatus is the operator's control: it moves any merchant's mandate along the
// lifecycle (PENDING to ACTIVE, DECLINED or REJECTED; ACTIVE to DISPUTED or INACTIVE; any
// non-final status to CANCELLED) with an optional reason. Setting the current status changes
// nothing. Kinds: NotFound, Invalid (Field status, ErrBadStatus).
func (s *Service) SetMandateStatus(ctx context.Context, id, status, reasonCode, reason string) (*Mandate, error) {
	const op = "vault.SetMandateStatus"
	var out *Mandate
	err := s.write(ctx, func(tx Tx) error {
		m, err := tx.GetMandateByID(ctx, id)
		if err != nil {
			return err
		}
		if _, err := tx.LockProfile(ctx, m.MerchantID, m.ProfileID); err != nil && KindOf(err) != NotFound {
			return err
		}
		if m, err = tx.GetMandate(ctx, m.MerchantID, id); err != nil {
			return err
		}
		out, err = s.transition(ctx, tx, m, strings.ToUpper(status), reasonCode, reason)
		return err
	})
	if err != nil {
		return nil, E(op, err)
	}
	return out, nil
}

// DeleteMandate removes a mandate of a profile. Kinds: NotFound.
func (s *Service) DeleteMandate(ctx context.Context, p *Principal, profileID, id string) error {
	const op = "vault.DeleteMandate"
	return Wrap(op, s.write(ctx, func(tx Tx) error {
		if _, err := s.lockReachableProfile(ctx, tx, p, profileID); err != nil {
			return err
		}
		m, err := tx.GetMandate(ctx, p.MerchantID(), id)
		if err != nil {
			return err
		}
		if m.ProfileID != profileID {
			return E(NotFound, ID(id))
		}
		return tx.DeleteMandate(ctx, p.MerchantID(), id)
	}))
}
