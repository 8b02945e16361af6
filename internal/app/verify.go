package app

import (
	"context"

	"github.com/payvault/payvault/internal/vault"
)

// verifyBatch is how many records VerifySealed reads at a time: its memory is bounded by it.
const verifyBatch = 1000

// VerifySealed checks, reading only, that every sealed record of the store opens and every
// instrument's fingerprint matches its number (vault.Verifier), for `payvault keys verify`. It
// reloads the keysets first, so that a rotation made on another node is seen. It is safe
// while servers run on the same store: each batch is one read statement, and it writes
// nothing.
func (m *Main) VerifySealed(ctx context.Context) (*vault.VerifyReport, error) {
	m.Keyring.Refresh(ctx) // a failure leaves the keys loaded at open, which are read-only too
	return vault.NewVerifier(m.Store, m.Keyring).Run(ctx, verifyBatch)
}

// ScanNames counts, reading only, the stored records whose name or label holds a probable
// card number (vault.ScanNames), for `payvault keys verify`: records stored before the vault
// refused them. It is safe while servers run on the same store.
func (m *Main) ScanNames(ctx context.Context) (*vault.NameReport, error) {
	return vault.ScanNames(ctx, m.Store, verifyBatch)
}
