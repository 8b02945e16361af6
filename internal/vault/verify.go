package vault

import "context"

// MarkCardVerified records, inside tx, that a card passed an approved authorization or
// verification: its stored-credential status becomes VERIFIED (Paysafe
// storedCredentialTokenStatus). A missing, deleted or non-card instrument is left alone, and
// the instrument's modification time does not change. Kinds: Internal.
func (s *Service) MarkCardVerified(ctx context.Context, tx Tx, merchantID, id string) error {
	// Most approvals are of a card marked already: one narrow read answers them.
	profileID, ok, err := tx.UnverifiedCard(ctx, merchantID, id)
	if err != nil || !ok {
		return Wrap("vault.MarkCardVerified", err)
	}
	if profileID != "" {
		// Instrument writes are serialised by their profile's lock, taken before the row's.
		if _, err := tx.LockProfileLocation(ctx, merchantID, profileID); err != nil && KindOf(err) != NotFound {
			return Wrap("vault.MarkCardVerified", err)
		}
	}
	// The update restates the conditions, so a card deleted or marked meanwhile is left alone.
	return Wrap("vault.MarkCardVerified", tx.SetCardVerified(ctx, merchantID, id))
}
