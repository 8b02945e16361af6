package vault

import (
	"context"
	"crypto/subtle"
	"maps"
	"slices"
	"strconv"

	"github.com/payvault/payvault/internal/keys"
)

// SealedLister lists every stored record's sealed fields, for verification. The SQL store
// implements it.
type SealedLister interface {
	// SealedRecords returns up to limit records of table with an id after the given one (all
	// records when after is ""), in id order, whatever keys sealed them. It returns Internal
	// for an unknown table, and Unavailable or Internal when the store fails.
	SealedRecords(ctx context.Context, table, after string, limit int) ([]SealedRecord, error)
	// SealedTables lists the tables holding sealed data.
	SealedTables() []string
}

// VerifyKeyring is what verification needs from the keyring. *keys.Keyring implements it.
type VerifyKeyring interface {
	Keyring
	// Refresh reloads the keysets from the store, so that a key added since (a rotation made
	// on another node meanwhile) opens what it sealed.
	Refresh(ctx context.Context) error
}

// Verifier checks, reading only, that every sealed record of a store opens, bound to its
// merchant, id, field and token as it was sealed, and that every instrument's fingerprint is
// the one its number makes. It cannot write: it holds the store only as a SealedLister.
type Verifier struct {
	store SealedLister
	keys  VerifyKeyring
}

// NewVerifier returns a Verifier.
func NewVerifier(store SealedLister, kr VerifyKeyring) *Verifier {
	return &Verifier{store: store, keys: kr}
}

// VerifyProblemKind says what is wrong with a record.
type VerifyProblemKind string

// The kinds of problem Verify reports.
const (
	// ProblemUnreadable: a sealed field does not open. Its ciphertext was altered, or moved
	// to another record, or its record's token was changed (swapped with another record's),
	// or it is sealed under a data key this keyring does not hold enabled.
	ProblemUnreadable VerifyProblemKind = "unreadable"
	// ProblemFingerprintMismatch: the instrument's number opens, but its stored fingerprint is
	// not the one the number makes under the fingerprint's own MAC key (or names no key).
	ProblemFingerprintMismatch VerifyProblemKind = "fingerprint_mismatch"
	// ProblemFingerprintKeyMissing: the fingerprint names a MAC key this keyring does not hold
	// enabled (retired, destroyed, or from another store), so it cannot be checked.
	ProblemFingerprintKeyMissing VerifyProblemKind = "fingerprint_key_missing"
	// ProblemKeyMismatch: a sealed field opens, but under a data key other than the one its
	// record's key column names (or the record says it holds no sealed data). keys retire and
	// keys destroy count a key's records by that column, and the re-encryption job picks
	// records by it, so the field would be lost with a key they believe unused.
	ProblemKeyMismatch VerifyProblemKind = "key_mismatch"
	// ProblemSealedMissing: the record names a data key, but its number (or, in a table
	// without one, every sealed field) is empty: the ciphertext was deleted.
	ProblemSealedMissing VerifyProblemKind = "sealed_missing"
)

// Text is the kind in words, for an operator.
func (k VerifyProblemKind) Text() string {
	switch k {
	case ProblemUnreadable:
		return "does not open"
	case ProblemFingerprintMismatch:
		return "fingerprint does not match"
	case ProblemFingerprintKeyMissing:
		return "fingerprint key not held"
	case ProblemKeyMismatch:
		return "sealed under another key than its record names"
	case ProblemSealedMissing:
		return "sealed data missing"
	}
	return string(k)
}

// VerifyProblem is a record that failed a check. It names the record, never its data.
type VerifyProblem struct {
	Table      string            `json:"table"`
	ID         string            `json:"id"`
	MerchantID string            `json:"merchant_id"`
	Problem    VerifyProblemKind `json:"problem"`
	// KeyID is the key the check needed: the record's data key when Field does not open or
	// is missing, the data key that sealed Field when its record names another, or the MAC
	// key that made the fingerprint (0 when it names none).
	KeyID uint32 `json:"key_id"`
	// Field is the first sealed field that did not open, or "fingerprint".
	Field string `json:"field"`
}

// VerifiedTable counts what Verify found in one table.
type VerifiedTable struct {
	Table string `json:"table,omitempty"`
	// Records counts the records read, crypto-erased ones (with no sealed field) included.
	Records int `json:"records"`
	// Fields counts the sealed fields that opened.
	Fields int `json:"fields_opened"`
	// Unreadable counts the records with a field that does not open.
	Unreadable int `json:"unreadable"`
	// FingerprintMismatches counts the instruments whose fingerprint does not match.
	FingerprintMismatches int `json:"fingerprint_mismatches"`
	// FingerprintKeysMissing counts the instruments whose fingerprint's MAC key is not held.
	FingerprintKeysMissing int `json:"fingerprint_keys_missing"`
	// KeyMismatches counts the records with a field sealed under another data key than the
	// record names.
	KeyMismatches int `json:"key_mismatches"`
	// SealedMissing counts the records that name a data key and lack their sealed data.
	SealedMissing int `json:"sealed_missing"`
}

func (t *VerifiedTable) add(o VerifiedTable) {
	t.Records += o.Records
	t.Fields += o.Fields
	t.Unreadable += o.Unreadable
	t.FingerprintMismatches += o.FingerprintMismatches
	t.FingerprintKeysMissing += o.FingerprintKeysMissing
	t.KeyMismatches += o.KeyMismatches
	t.SealedMissing += o.SealedMissing
}

// MaxVerifyProblemsListed is how many problem records a VerifyReport lists; it counts them all.
const MaxVerifyProblemsListed = 100

// VerifyReport is what a verification found.
type VerifyReport struct {
	// VerifiedTable holds the totals over every table (Table is "").
	VerifiedTable
	// Tables counts each sealed table, in the store's order.
	Tables []VerifiedTable `json:"tables"`
	// Problems lists the first MaxVerifyProblemsListed records with a problem, in the order
	// found.
	Problems []VerifyProblem `json:"problems"`
}

// ProblemCount is how many records have a problem.
func (rep *VerifyReport) ProblemCount() int {
	return rep.Unreadable + rep.FingerprintMismatches + rep.FingerprintKeysMissing + rep.KeyMismatches + rep.SealedMissing
}

// Run reads every record of every sealed table, in id order in batches of batch records (its
// memory is bounded by a batch, whatever the store's size), opens each sealed field with its
// associated data as the re-encryption job does, and checks each instrument's fingerprint
// against its number in constant time. The plaintexts are cleared after use and appear
// nowhere in the report. A record that fails a check is checked once more after the keysets
// are reloaded, since a node may have sealed it under a key rotated in after this keyring
// was loaded. It returns the report so far and an error when the store fails or ctx ends.
func (v *Verifier) Run(ctx context.Context, batch int) (*VerifyReport, error) {
	const op = "vault.Verifier.Run"
	batch = max(batch, 1)
	rep := &VerifyReport{Tables: []VerifiedTable{}, Problems: []VerifyProblem{}}
	for _, table := range v.store.SealedTables() {
		tc := VerifiedTable{Table: table}
		after := ""
		for {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			recs, err := v.store.SealedRecords(ctx, table, after, batch)
			if err != nil {
				return rep, E(op, err)
			}
			var bad []SealedRecord
			for _, rec := range recs {
				if v.check(rec, &tc) != nil {
					bad = append(bad, rec)
				}
			}
			if len(bad) > 0 {
				v.keys.Refresh(ctx) // a failure keeps the keys in use, which the second check uses
				for _, rec := range bad {
					if p := v.check(rec, &tc); p != nil {
						rep.add(*p, &tc)
					}
				}
			}
			tc.Records += len(recs)
			if len(recs) < batch {
				break
			}
			after = recs[len(recs)-1].ID
		}
		rep.Tables = append(rep.Tables, tc)
		rep.VerifiedTable.add(tc)
	}
	return rep, nil
}

func (rep *VerifyReport) add(p VerifyProblem, tc *VerifiedTable) {
	switch p.Problem {
	case ProblemUnreadable:
		tc.Unreadable++
	case ProblemFingerprintMismatch:
		tc.FingerprintMismatches++
	case ProblemFingerprintKeyMissing:
		tc.FingerprintKeysMissing++
	case ProblemKeyMismatch:
		tc.KeyMismatches++
	case ProblemSealedMissing:
		tc.SealedMissing++
	}
	if len(rep.Problems) < MaxVerifyProblemsListed {
		rep.Problems = append(rep.Problems, p)
	}
}

// check opens rec's sealed fields and checks its fingerprint, counting the fields that open
// in tc when all of them do, and returns its problem, or nil. It also checks that each field
// is sealed under the data key the record names, and that a record naming one holds its
// sealed data.
func (v *Verifier) check(rec SealedRecord, tc *VerifiedTable) *VerifyProblem {
	var opened int
	var fpProblem VerifyProblemKind
	var otherKey uint32
	var otherField string
	unreadable, _ := OpenRecord(v.keys, rec, func(field string, _ keys.AD, pt []byte) error {
		opened++
		if id, _ := keys.KeyID(rec.Fields[field]); id != rec.KeyID && otherField == "" {
			otherKey, otherField = id, field
		}
		if field == "number" && rec.Fingerprint != "" {
			fpProblem = v.checkFingerprint(rec, pt)
		}
		return nil
	})
	missing := ""
	if rec.KeyID != 0 {
		missing = missingSealed(rec)
	}
	p := &VerifyProblem{Table: rec.Table, ID: rec.ID, MerchantID: rec.MerchantID}
	switch {
	case unreadable != "":
		p.Problem, p.Field, p.KeyID = ProblemUnreadable, unreadable, rec.KeyID
		return p
	case otherField != "":
		p.Problem, p.Field, p.KeyID = ProblemKeyMismatch, otherField, otherKey
		return p
	case missing != "":
		p.Problem, p.Field, p.KeyID = ProblemSealedMissing, missing, rec.KeyID
		return p
	case fpProblem != "":
		p.Problem, p.Field = fpProblem, "fingerprint"
		id, _ := strconv.ParseUint(FingerprintKeyID(rec.Fingerprint), 10, 32)
		p.KeyID = uint32(id)
		return p
	}
	tc.Fields += opened
	return nil
}

// missingSealed returns the sealed field a record naming a data key lacks: its number, in a
// table that has one (every instrument, single-use token and sealed transaction is sealed
// for its number); otherwise the first of its fields when none holds data. It returns "" when
// nothing is missing.
func missingSealed(rec SealedRecord) string {
	if ct, ok := rec.Fields["number"]; ok {
		if len(ct) == 0 {
			return "number"
		}
		return ""
	}
	fields := slices.Sorted(maps.Keys(rec.Fields))
	for _, f := range fields {
		if len(rec.Fields[f]) > 0 {
			return ""
		}
	}
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// checkFingerprint compares rec's stored fingerprint, in constant time, with the one number
// makes under the MAC key the stored one names.
func (v *Verifier) checkFingerprint(rec SealedRecord, number []byte) VerifyProblemKind {
	id := FingerprintKeyID(rec.Fingerprint)
	if id == "" {
		return ProblemFingerprintMismatch
	}
	for _, fp := range v.keys.FingerprintsOf(rec.MerchantID, number) {
		if FingerprintKeyID(fp) != id {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(fp), []byte(rec.Fingerprint)) != 1 {
			return ProblemFingerprintMismatch
		}
		return ""
	}
	return ProblemFingerprintKeyMissing
}
