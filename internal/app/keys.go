package app

import (
	"context"
	"sort"

	"github.com/payvault/payvault/internal/vault"
)

// KeyStatus is the output of `payvault keys status --json`.
type KeyStatus struct {
	PrimaryKeyID uint32    `json:"primary_key_id"`
	Keys         []KeyInfo `json:"keys"`
	// LegacyADRecords counts the instruments still sealed without their payment token in the
	// associated data (vault.ADv1); re-encryption re-seals them.
	LegacyADRecords int `json:"legacy_ad_records"`
}

// KeyInfo describes one key.
type KeyInfo struct {
	ID      uint32 `json:"id"`
	Keyset  string `json:"keyset"`
	Status  string `json:"status"`
	Records int    `json:"records"`
}

// KeyStatus reports every key and how many stored records each data key protects, and how
// many instruments are not yet bound to their payment token.
func (m *Main) KeyStatus(ctx context.Context) (*KeyStatus, error) {
	counts, err := m.Store.CountSealedByKey(ctx)
	if err != nil {
		return nil, err
	}
	legacy, err := m.Store.CountLegacyAD(ctx)
	if err != nil {
		return nil, err
	}
	st := m.Keyring.Status()
	out := &KeyStatus{PrimaryKeyID: st.Primary, LegacyADRecords: legacy}
	for _, k := range st.Keys {
		info := KeyInfo{ID: k.ID, Keyset: k.Keyset, Status: k.Status}
		switch k.Keyset {
		case "data":
			info.Records = counts[k.ID]
		case "mac":
			if info.Records, err = m.Store.CountFingerprintsByKey(ctx, k.ID); err != nil {
				return nil, err
			}
		}
		out.Keys = append(out.Keys, info)
	}
	sort.Slice(out.Keys, func(i, j int) bool {
		if out.Keys[i].Keyset != out.Keys[j].Keyset {
			return out.Keys[i].Keyset < out.Keys[j].Keyset
		}
		return out.Keys[i].ID < out.Keys[j].ID
	})
	return out, nil
}

// DestroyKey deletes a retired data or fingerprint key from its keyset for good, so that no
// leftover copy of what it sealed (a WAL frame, a freed page, a dead row version) can be
// opened again. The primary key is refused (keys.ErrPrimaryKey), whatever it protects. The key
// must have been retired first (keys.ErrKeyEnabled otherwise), and no
// record may use it, which is counted again here as RetireKey does (keys.ErrKeyInUse).
func (m *Main) DestroyKey(ctx context.Context, which string, id uint32) error {
	if err := m.notPrimary(ctx, which, id); err != nil {
		return err
	}
	if err := m.keyUnused(ctx, which, id); err != nil {
		return err
	}
	if err := m.Keyring.Destroy(ctx, which, id); err != nil {
		return err
	}
	m.Config.Logger.Info("key destroyed", "keyset", which, "key_id", id)
	return nil
}

// keyOps exposes key management and the audit to the admin API.
type keyOps struct{ m *Main }

func (k keyOps) KeyStatus(ctx context.Context) (any, error)   { return k.m.KeyStatus(ctx) }
func (k keyOps) RekeyStatus(ctx context.Context) (any, error) { return k.m.RekeyProgress(ctx) }
func (k keyOps) RotateKey(ctx context.Context, keyset string) (uint32, error) {
	return k.m.Keyring.Rotate(ctx, keyset)
}
func (k keyOps) RetireKey(ctx context.Context, keyset string, id uint32) error {
	return k.m.RetireKey(ctx, keyset, id)
}
func (k keyOps) DestroyKey(ctx context.Context, keyset string, id uint32) error {
	return k.m.DestroyKey(ctx, keyset, id)
}
func (k keyOps) ListAudit(ctx context.Context, merchantID string, after int64, limit int) ([]vault.AuditRecord, error) {
	return k.m.Store.ListAudit(ctx, merchantID, after, limit)
}
func (k keyOps) VerifyAudit(ctx context.Context) ([]vault.AuditProblem, error) {
	return k.m.Store.VerifyAudit(ctx, k.m.Keyring)
}
