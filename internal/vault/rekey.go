package vault

import (
	"context"
	"slices"
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
	// Token is the payment token that finds the record (instruments, one-time tokens), which
	// its fields are bound to (keys.AD.Token); "" on records found by their id.
	Token string
	// ADVersion is an instrument's Sealed.ADVersion: ADv1 records are stale until re-sealed
	// bound to their token. It is 0 on other records.
	ADVersion int
}

// SealedStore finds and rewrites records sealed under old keys. The SQL store implements it.
type SealedStore interface {
	// StaleSealed returns up to limit records of table with an id after the given one (all
	// records when after is ""), in id order, whose data key is not primary, or (for
	// instruments) whose fingerprint's MAC key is not macPrimary or whose fields are sealed
	// with ADv1. It returns Internal for an unknown table, and Unavailable or Internal when
	// the store fails.
	StaleSealed(ctx context.Context, table string, primary, macPrimary uint32, after string, limit int) ([]SealedRecord, error)
	// ResealRecord replaces a record's sealed fields, fingerprint and AD version, in one
	// statement, if its data key, sealed fields, fingerprint and token are still old's; it
	// reports whether it did.
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

// MaxUnreadableListed is how many unreadable records a RekeyReport lists by id; it counts
// them all.
const MaxUnreadableListed = 100

// UnreadableRecord is a stale record whose sealed data did not open, so it could not be
// re-encrypted: its ciphertext was altered, restored into another row, or is sealed under a
// data key this keyring does not hold enabled. It names the record, never its data.
type UnreadableRecord struct {
	Table      string `json:"table"`
	ID         string `json:"id"`
	MerchantID string `json:"merchant_id"`
	KeyID      uint32 `json:"key_id"` // KeyID is the record's data key.
	Field      string `json:"field"`  // Field is the first sealed field that did not open.
}

// RekeyReport is what a re-encryption pass did.
type RekeyReport struct {
	// Rewritten counts the records re-encrypted under the primary keys.
	Rewritten int
	// Bound counts the instruments among them that were sealed with ADv1 and are now bound to
	// their payment token (ADv2).
	Bound int
	// Changed counts the stale records changed while they were re-encrypted; they are left for
	// a later pass.
	Changed int
	// Unreadable counts the stale records whose sealed data did not open; they are skipped.
	Unreadable int
	// UnreadableByKey counts them by their data key.
	UnreadableByKey map[uint32]int
	// UnreadableRecords lists the first MaxUnreadableListed of them, in the order found.
	UnreadableRecords []UnreadableRecord
}

func (rep *RekeyReport) add(u UnreadableRecord) {
	rep.Unreadable++
	if rep.UnreadableByKey == nil {
		rep.UnreadableByKey = map[uint32]int{}
	}
	rep.UnreadableByKey[u.KeyID]++
	if len(rep.UnreadableRecords) < MaxUnreadableListed {
		rep.UnreadableRecords = append(rep.UnreadableRecords, u)
	}
}

// RekeyPass is one walk over every sealed table, from each table's first record to its last:
// Step advances it by a batch. Its zero value is a pass at its start. The records it skips
// (unreadable, or changed meanwhile) are behind its cursor, so they cannot hold it up; a
// later pass reads them again.
type RekeyPass struct {
	// Report is what the pass has done so far.
	Report RekeyReport
	table  int    // table is the index in SealedTables of the table being walked.
	after  string // after is the id of the last record read in it.
	done   bool
}

// Done reports whether the pass has walked every table to its end.
func (p *RekeyPass) Done() bool { return p.done }

// Step re-encrypts the next batch of up to limit stale records of pass p, adds what it did to
// p.Report and reports whether p is done. A record whose sealed data does not open is counted
// and listed as unreadable, and skipped. A record changed concurrently is counted as changed
// and left for a later pass, so a crash or a second node running the job at once is harmless:
// progress lives in the data itself, and the cursor only in p. It returns an error (and keeps
// p where it was in the batch) when the store fails or sealing fails.
func (r *Rekeyer) Step(ctx context.Context, p *RekeyPass, limit int) (bool, error) {
	const op = "vault.Rekeyer.Step"
	ctx = Sealing(ctx, r.keys) // before any record is re-sealed: ResealRecord's writes carry it
	tables := r.store.SealedTables()
	if p.table >= len(tables) {
		p.done = true
	}
	if p.done {
		return true, nil
	}
	limit = max(limit, 1)
	table := tables[p.table]
	primary, macPrimary := r.keys.PrimaryKeyID(), r.keys.PrimaryMACKeyID()
	recs, err := r.store.StaleSealed(ctx, table, primary, macPrimary, p.after, limit)
	if err != nil {
		return false, E(op, err)
	}
	for _, rec := range recs {
		next, unreadable, err := r.reseal(rec)
		if err != nil {
			return false, E(op, err)
		}
		if unreadable != "" {
			p.Report.add(UnreadableRecord{Table: table, ID: rec.ID, MerchantID: rec.MerchantID, KeyID: rec.KeyID, Field: unreadable})
			p.after = rec.ID
			continue
		}
		ok, err := r.store.ResealRecord(ctx, rec, next)
		if err != nil {
			return false, E(op, err)
		}
		if ok {
			p.Report.Rewritten++
			if rec.ADVersion == ADv1 {
				p.Report.Bound++
			}
		} else {
			p.Report.Changed++
		}
		p.after = rec.ID
	}
	if len(recs) < limit {
		p.table, p.after = p.table+1, ""
		p.done = p.table >= len(tables)
	}
	return p.done, nil
}

// reseal opens rec's sealed fields (OpenRecord) and seals them again under the primary key,
// bound to its token when it has one (an ADv1 instrument becomes ADv2: it is bound to the
// token it has now), recomputing its fingerprint. It returns the name of the first field that
// does not open (and no record) when one does not. It returns an error when sealing fails.
// When the primary key changed between two fields' seals, it seals them all again (as
// Service.sealRecord does), so that the record's key column names the key of every field.
func (r *Rekeyer) reseal(rec SealedRecord) (next SealedRecord, unreadable string, err error) {
	err = untilOneKey("vault.Rekeyer.reseal", func() (mixed bool, err error) {
		next, unreadable, mixed, err = r.resealOnce(rec)
		return mixed, err // an unreadable record is not mixed: it stops here too
	})
	if err != nil {
		return SealedRecord{}, "", err
	}
	return next, unreadable, nil
}

// resealOnce is one attempt of reseal; mixed reports fields sealed under different keys.
func (r *Rekeyer) resealOnce(rec SealedRecord) (next SealedRecord, unreadable string, mixed bool, err error) {
	next = SealedRecord{Table: rec.Table, ID: rec.ID, MerchantID: rec.MerchantID, Token: rec.Token, ADVersion: rec.ADVersion, Fields: map[string][]byte{}}
	if rec.ADVersion != 0 {
		next.ADVersion = ADv2
	}
	next.Fingerprint = rec.Fingerprint
	unreadable, err = OpenRecord(r.keys, rec, func(field string, ad keys.AD, pt []byte) error {
		if field == "number" && rec.Fingerprint != "" && len(pt) > 0 {
			next.Fingerprint = r.keys.FingerprintsOf(rec.MerchantID, pt)[0]
		}
		nct, err := r.keys.Seal(pt, ad)
		if err != nil {
			return E(Internal, err)
		}
		next.Fields[field] = nct
		id, _ := keys.KeyID(nct)
		mixed = mixed || (next.KeyID != 0 && id != next.KeyID)
		next.KeyID = id
		return nil
	})
	if unreadable != "" || err != nil {
		return SealedRecord{}, unreadable, false, err
	}
	if next.KeyID == 0 {
		next.KeyID = rec.KeyID
	}
	return next, "", mixed, nil
}

// OpenRecord opens rec's non-empty sealed fields in field-name order (so that an unreadable
// record names the same field every time), each with its associated data: merchant, record,
// field and the record's token, under rec.ADVersion (OpenSealed). It calls fn with each
// field's AD and plaintext, and clears the plaintext when fn returns (fn must not keep it).
// It returns the name of the first field that does not open, and opens no further field; the
// error from Open, which could only repeat that, is dropped. It returns fn's first error. The
// re-encryption job, keys verify and copy-store's check of its sample all open records
// through it.
func OpenRecord(kr Keyring, rec SealedRecord, fn func(field string, ad keys.AD, pt []byte) error) (string, error) {
	fields := make([]string, 0, len(rec.Fields))
	for field, ct := range rec.Fields {
		if len(ct) > 0 {
			fields = append(fields, field)
		}
	}
	slices.Sort(fields)
	for _, field := range fields {
		ad := keys.AD{Merchant: rec.MerchantID, Record: rec.ID, Field: field, Token: rec.Token}
		pt, _, err := OpenSealed(kr, rec.Fields[field], ad, rec.ADVersion)
		if err != nil {
			return field, nil
		}
		err = fn(field, ad, pt)
		clear(pt)
		if err != nil {
			return "", err
		}
	}
	return "", nil
}

// Run makes one pass over every sealed table (see Step) in batches of batch records, and
// returns its report: the records it re-encrypted, and those it skipped. It stops early only
// on an error or when ctx ends, with the report so far.
func (r *Rekeyer) Run(ctx context.Context, batch int) (*RekeyReport, error) {
	var p RekeyPass
	for ctx.Err() == nil {
		done, err := r.Step(ctx, &p, batch)
		if err != nil || done {
			return &p.Report, err
		}
	}
	return &p.Report, ctx.Err()
}

// FingerprintKeyID returns the MAC key id a stored fingerprint was made with.
func FingerprintKeyID(fp string) string {
	if i := strings.IndexByte(fp, ':'); i > 0 {
		return fp[:i]
	}
	return ""
}
