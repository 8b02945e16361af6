// Package vault is payvault's domain core: merchants and their credentials, customer
// profiles and addresses, stored payment instruments (cards and ACH, BACS, EFT and SEPA bank
// accounts), mandates and one-time tokens. Both vendor APIs (internal/api/paysafe and
// internal/api/fortis) and the admin API call it; it knows no HTTP, JSON or vendor field name.
// Money movements live beside it, in internal/payments.
//
// # Callers and tenancy
//
// Every operation on a merchant's data takes a *Principal, the authenticated caller that the
// API packages obtain from this package (API keys, Fortis users, browser HMACs; credential
// secrets are kept only as hashes and compared in constant time). Every read and write is
// scoped to the principal's merchant, and to the locations its credential may reach: another
// merchant's record is NotFound, exactly as an id that does not exist, so ids cannot be
// probed.
//
// # Account data
//
// A card number, bank account number, IBAN, ssn4 or dl_number is validated (internal/card,
// internal/bank), fingerprinted and sealed before it reaches a Store, and opened only where a
// payment or an export needs it (RevealNumber, RevealIdentity):
//
//   - Seal and open go through the Keyring (internal/keys): AEAD under a versioned data key,
//     with associated data that binds the merchant, the record id, the field and, for an
//     instrument or a one-time token, its payment token (keys.AD). A ciphertext moved to
//     another row, field, merchant or token does not open. OpenSealed also opens what was
//     sealed before tokens were bound (Sealed.ADVersion ADv1), until re-encryption (Rekeyer)
//     re-seals it.
//   - A Verifier opens every sealed record of a store, reading only, as re-encryption does,
//     and checks every fingerprint against its number (`payvault keys verify`), so damage a
//     database writer did is found before a payment or an export meets it.
//   - Fingerprints are keyed HMACs per merchant, under every enabled MAC key, so duplicate
//     detection survives a MAC-key rotation.
//   - A CVV is kept only inside a one-time token, for the token's life.
//   - A name or label kept in the clear (an instrument's holder name, nickname and title, a
//     profile's first, middle and last name, a one-time token's holder and customer names)
//     is refused, Invalid with ErrCardNumber, when it holds a probable card number
//     (card.ContainsPAN), on create and on update (names.go).
//
// # Writes
//
// Every write runs through Store.Write, and a nil error means it committed durably. The
// store may gather the writes of many requests into one transaction (group commit), so the
// rules that must hold against concurrent writers (the duplicate card, a token used once,
// the first card of a profile) are checked inside the write function, against the
// transaction, never before it. A write function touches only its Tx and never waits on
// anything slow.
//
// # Errors
//
// Every error is an *Error with a Kind (Invalid, NotFound, Conflict, ...) that each API
// package maps to its vendor's status and envelope. An Error names fields and record ids,
// never their values, so it is safe to log.
package vault
