package vault

import (
	"context"
	"strings"

	"github.com/payvault/payvault/internal/keys"
)

// SealedRecord is one stored record's sealed fields, for re-encryption. Fields maps the AD
// field name (as used when sealing) to its ciphertext; absent or empty fields are skipped.
type SealedRecord struct {
	Table       string
	ID          string
	MerchantID  string
	KeyID       uint32
	Fields      map[string][]byte
	Fingerprint string // Fingerprint is set on card instruments; it is recomputed when its MAC key is not primary.
}

// SealedStore finds and rewrites records sealed under old keys. The SQL store implements it.
type SealedStore interface {
	// StaleSealed returns up to limit records of table whose data key is not primary, or (for
	// instruments) whose fingerprint's MAC key is not macPrimary.
	StaleSealed(ctx context.Context, table string, primary, macPrimary uint32, limit int) ([]SealedRecord, error)
	// ResealRecord replaces a record's sealed fields and fingerprint if its data key is still
	// rec.KeyID and its fingerprint still rec.Fingerprint; it reports whether it did.
	ResealRecord(ctx context.Context, old SealedRecord, next SealedRecord) (bool, error)
	// SealedTables lists the tables holding sealed data.
	SealedTables() []string
}

// Rekeyer re-encrypts sealed data under the primary keys, in batches.
type Rekeyer struct {
	store SealedStore
	keys  RekeyKeyring
}

// RekeyKeyring is what re-encryption needs from the keyring.
type RekeyKeyring interface {
	Keyring
	// PrimaryKeyID is the data key Seal uses.
	PrimaryKeyID() uint32
	// PrimaryMACKeyID is the MAC key Fingerprint uses.
	PrimaryMACKeyID() uint32
}

// NewRekeyer returns a Rekeyer.
func NewRekeyer(store SealedStore, kr RekeyKeyring) *Rekeyer { return &Rekeyer{store: store, keys: kr} }

// Step re-encrypts up to limit stale records per table and returns how many it rewrote. A
// record changed concurrently is skipped and found again by a later step, so a crash or a
// second node running the job at once is harmless: progress lives in the data itself.
func (r *Rekeyer) Step(ctx context.Context, limit int) (int, error) {
	const op = "vault.Rekeyer.Step"
	primary, macPrimary := r.keys.PrimaryKeyID(), r.keys.PrimaryMACKeyID()
	done := 0
	for _, table := range r.store.SealedTables() {
		recs, err := r.store.StaleSealed(ctx, table, primary, macPrimary, limit)
		if err != nil {
			return done, E(op, err)
		}
		for _, rec := range recs {
			next := SealedRecord{Table: rec.Table, ID: rec.ID, MerchantID: rec.MerchantID, Fields: map[string][]byte{}}
			var number string
			for field, ct := range rec.Fields {
				if len(ct) == 0 {
					continue
				}
				ad := keys.AD{Merchant: rec.MerchantID, Record: rec.ID, Field: field}
				pt, err := r.keys.Open(ct, ad)
				if err != nil {
					return done, E(op, Internal, Field(table+"."+field), ID(rec.ID), err)
				}
				if field == "number" {
					number = string(pt)
				}
				nct, err := r.keys.Seal(pt, ad)
				clear(pt)
				if err != nil {
					return done, E(op, Internal, err)
				}
				next.Fields[field] = nct
				next.KeyID, _ = keys.KeyID(nct)
			}
			if next.KeyID == 0 {
				next.KeyID = rec.KeyID
			}
			next.Fingerprint = rec.Fingerprint
			if rec.Fingerprint != "" && number != "" {
				next.Fingerprint = r.keys.Fingerprints(rec.MerchantID, number)[0]
			}
			ok, err := r.store.ResealRecord(ctx, rec, next)
			if err != nil {
				return done, E(op, err)
			}
			if ok {
				done++
			}
		}
	}
	return done, nil
}

// Run steps until nothing stale is left or ctx ends, and returns the total rewritten.
func (r *Rekeyer) Run(ctx context.Context, batch int) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := r.Step(ctx, batch)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, ctx.Err()
}

// FingerprintKeyID returns the MAC key id a stored fingerprint was made with.
func FingerprintKeyID(fp string) string {
	if i := strings.IndexByte(fp, ':'); i > 0 {
		return fp[:i]
	}
	return ""
}
