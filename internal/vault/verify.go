package vault

import "context"

// MarkCardVerified records, inside tx, that a card passed an approved authorization or
// verification: its stored-credential status becomes VERIFIED (Paysafe
// storedCredentialTokenStatus). A missing, deleted or non-card instrument is left alone, and
// the instrument's modification time does not change. Kinds: Internal.
func (s *Service) MarkCardVerified(ctx context.Context, tx Tx, merchantID, id string) error {
	in, err := tx.GetInstrument(ctx, merchantID, id)
	if err != nil {
		if KindOf(err) == NotFound {
			return nil
		}
		return Wrap("vault.MarkCardVerified", err)
	}
	if in.Kind != KindCard || !in.Active() || in.StoredCredentialStatus == "VERIFIED" {
		return nil
	}
	if in.ProfileID != "" {
		// Instrument writes are serialised by their profile's lock; re-read under it.
		if _, err := tx.LockProfileLocation(ctx, merchantID, in.ProfileID); err != nil && KindOf(err) != NotFound {
			return Wrap("vault.MarkCardVerified", err)
		}
		if in, err = tx.GetInstrument(ctx, merchantID, id); err != nil {
			return Wrap("vault.MarkCardVerified", err)
		}
		if !in.Active() {
			return nil
		}
	}
	in.StoredCredentialStatus = "VERIFIED"
	return Wrap("vault.MarkCardVerified", tx.UpdateInstrument(ctx, in))
}
