package vault

import "context"

// MarkCardVerified records, inside tx, that a card passed an approved authorization or
// verification: its stored-credential status becomes VERIFIED (Paysafe
// storedCredentialTokenStatus). A missing, deleted or non-card instrument is left alone, and
// the instrument's modification time does not change. Kinds: Internal.
func (s *Service) MarkCardVerified(ctx context.Context, tx Tx, merchantID, id string) error {
	// One statement, which changes nothing for a card marked already, deleted or missing.
	// It needs no profile lock: no other write changes the column (UpdateInstrument leaves
	// it), so none can undo the mark.
	return Wrap("vault.MarkCardVerified", tx.SetCardVerified(ctx, merchantID, id))
}
