package sqlstore

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

var (
	_ vault.SealedStore  = (*Store)(nil)
	_ vault.SealedLister = (*Store)(nil)
)

// sealedColumns maps each table's AD field names to their columns.
var sealedColumns = map[string]map[string]string{
	"instruments":    {"number": "number_sealed", "ssn4": "ssn4_sealed", "dl_number": "dl_number_sealed"},
	"onetime_tokens": {"number": "number_sealed", "cvv": "cvv_sealed"},
	"locations":      {"ticket_hash_key": "ticket_hash_key"},
	"transactions":   {"number": "number_sealed"},
}

// tokenTables are the sealed tables whose records a payment token finds (column token), and
// whose sealed fields are bound to it.
var tokenTables = []string{"instruments", "onetime_tokens"}

// SealedTables implements vault.SealedStore.
func (s *Store) SealedTables() []string { return append([]string(nil), sealedTables...) }

// StaleSealed implements vault.SealedStore. It reads the table in id (primary key) order from
// after, so that a pass of batches reads each record once.
func (s *Store) StaleSealed(ctx context.Context, table string, primary, macPrimary uint32, after string, limit int) ([]vault.SealedRecord, error) {
	where := "dek_id <> 0 AND dek_id <> ?"
	args := []any{int64(primary)}
	if table == "instruments" {
		where = "(" + where + ") OR (fingerprint <> '' AND fingerprint NOT LIKE ?) OR (" + legacyAD + ")"
		args = append(args, strconv.FormatUint(uint64(macPrimary), 10)+":%")
	}
	return s.sealedRecords(ctx, "sqlstore.StaleSealed", table, where, args, after, limit)
}

// SealedRecords implements vault.SealedLister: every record of the table, whatever its keys
// (a crypto-erased one too, with no sealed fields), in id (primary key) order from after, one
// batch a statement, so that a reader holds no snapshot between batches.
func (s *Store) SealedRecords(ctx context.Context, table, after string, limit int) ([]vault.SealedRecord, error) {
	return s.sealedRecords(ctx, "sqlstore.SealedRecords", table, "", nil, after, limit)
}

// sealedRecords reads up to limit records of table with an id after the given one that match
// where ("" for all), with args for its placeholders, in id order: their sealed fields, and
// their token, fingerprint and AD version where the table has them. It returns Internal for
// an unknown table.
func (s *Store) sealedRecords(ctx context.Context, op, table, where string, args []any, after string, limit int) ([]vault.SealedRecord, error) {
	cols, ok := sealedColumns[table]
	if !ok {
		return nil, vault.E(op, vault.Internal, vault.Field(table))
	}
	fields := make([]string, 0, len(cols))
	for f := range cols {
		fields = append(fields, f)
	}
	slices.Sort(fields) // one query text per table, so that its prepared statement is reused
	sel := "id, merchant_id, dek_id"
	for _, f := range fields {
		sel += ", " + cols[f]
	}
	tok := slices.Contains(tokenTables, table)
	if tok {
		sel += ", token"
	}
	fp := table == "instruments"
	if fp {
		sel += ", fingerprint, ad_version"
	}
	q := "SELECT " + sel + " FROM " + table + " WHERE id > ?"
	if where != "" {
		q += " AND (" + where + ")"
	}
	args = append(append([]any{after}, args...), limit)
	rows, err := s.q.query(ctx, q+" ORDER BY id LIMIT ?", args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []vault.SealedRecord
	for rows.Next() {
		rec := vault.SealedRecord{Table: table, Fields: map[string][]byte{}}
		blobs := make([][]byte, len(fields))
		dest := []any{&rec.ID, &rec.MerchantID, &rec.KeyID}
		for i := range blobs {
			dest = append(dest, &blobs[i])
		}
		if tok {
			dest = append(dest, &rec.Token)
		}
		if fp {
			dest = append(dest, &rec.Fingerprint, &rec.ADVersion)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, mapErr(op, err)
		}
		for i, f := range fields {
			rec.Fields[f] = blobs[i]
		}
		out = append(out, rec)
	}
	return out, mapErr(op, rows.Err())
}

// ResealRecord implements vault.SealedStore: a compare-and-swap on the key id, every sealed
// column as it was read, the fingerprint and the token, so a record changed meanwhile is left
// for the next pass. Comparing the key id alone is not enough: consuming a single-use token
// destroys its CVV without changing the key id, and writing the re-sealed CVV back would
// restore it. The fields, the key id, the fingerprint and the AD version change in one
// statement, so a crash leaves the record wholly as it was or wholly re-sealed.
func (s *Store) ResealRecord(ctx context.Context, old, next vault.SealedRecord) (bool, error) {
	cols := sealedColumns[old.Table]
	set := "dek_id = ?"
	args := []any{int64(next.KeyID)}
	for f, ct := range next.Fields {
		c, ok := cols[f]
		if !ok {
			return false, vault.E("sqlstore.ResealRecord", vault.Internal, vault.Field(f))
		}
		set += ", " + c + " = ?"
		args = append(args, ct)
	}
	if old.Table == "instruments" {
		set += ", fingerprint = ?, ad_version = ?"
		args = append(args, next.Fingerprint, next.ADVersion)
	}
	where := "id = ? AND dek_id = ?"
	args = append(args, old.ID, int64(old.KeyID))
	for f, c := range cols {
		if ct := old.Fields[f]; len(ct) > 0 {
			where += " AND " + c + " = ?"
			args = append(args, ct)
		} else {
			where += " AND (" + c + " IS NULL OR length(" + c + ") = 0)"
		}
	}
	if old.Table == "instruments" {
		where += " AND fingerprint = ?"
		args = append(args, old.Fingerprint)
	}
	if slices.Contains(tokenTables, old.Table) {
		where += " AND token = ?"
		args = append(args, old.Token)
	}
	var changed bool
	err := s.Write(ctx, func(t vault.Tx) error {
		res, err := t.(*tx).exec(ctx, "UPDATE "+old.Table+" SET "+set+" WHERE "+where, args...)
		if err != nil {
			return mapErr("sqlstore.ResealRecord", err)
		}
		n, err := res.RowsAffected()
		changed = n == 1
		return mapErr("sqlstore.ResealRecord", err)
	})
	return changed, err
}

// legacyAD selects the instruments whose sealed fields are bound to merchant, record and field
// only (vault.ADv1), through the partial index instruments_ad_v1 (migrations 00010 and 00011).
const legacyAD = "ad_version = 1 AND dek_id <> 0"

// CountLegacyAD returns how many instruments still hold fields sealed with vault.ADv1, not
// bound to their payment token: the re-encryption job re-seals them (an index scan, of an
// index that is empty once it has).
func (s *Store) CountLegacyAD(ctx context.Context) (int, error) {
	n, err := s.q.count(ctx, "SELECT COUNT(*) FROM instruments WHERE "+legacyAD)
	return n, mapErr("sqlstore.CountLegacyAD", err)
}

// CountFingerprintsByKey returns how many stored fingerprints were made with MAC key id.
func (s *Store) CountFingerprintsByKey(ctx context.Context, id uint32) (int, error) {
	n, err := s.q.count(ctx, "SELECT COUNT(*) FROM instruments WHERE fingerprint LIKE ?", strconv.FormatUint(uint64(id), 10)+":%")
	return n, mapErr("sqlstore.CountFingerprintsByKey", err)
}

// EraseSealed crypto-erases up to limit records: instruments deleted before deletedBefore and
// transactions created before txBefore (a zero time skips that table). Their sealed columns
// are destroyed (and, with SQLite's secure_delete, overwritten on disk); the non-secret
// bookkeeping stays. Each erased record is audited in the same transaction.
func (s *Store) EraseSealed(ctx context.Context, deletedBefore, txBefore time.Time, limit int) (int, error) {
	// Each job reads its records through its partial index (migration 00008), in its order:
	// "dek_id <> 0" restates the index's condition, which erasing makes false.
	type job struct {
		table, where, order string
		at                  time.Time
	}
	jobs := []job{
		{"instruments", "deleted_at <> 0 AND deleted_at < ? AND dek_id <> 0", "deleted_at, id", deletedBefore},
		{"transactions", "created_at < ? AND dek_id <> 0", "created_at, id", txBefore},
	}
	total := 0
	for _, j := range jobs {
		if j.at.IsZero() {
			continue
		}
		cols := sealedColumns[j.table]
		set := "dek_id = 0"
		notNull := ""
		for _, c := range cols {
			set += ", " + c + " = NULL"
			if notNull != "" {
				notNull += " OR "
			}
			notNull += c + " IS NOT NULL"
		}
		if j.table == "instruments" {
			set += ", fingerprint = ''"
		}
		erased := 0 // set by the write's last run: a batch may run its fns again
		err := s.Write(ctx, func(vt vault.Tx) error {
			t := vt.(*tx)
			erased = 0
			rows, err := t.query(ctx, "SELECT merchant_id, id FROM "+j.table+" WHERE "+j.where+" AND ("+notNull+") ORDER BY "+j.order+" LIMIT ?", toMS(j.at), limit)
			if err != nil {
				return mapErr("sqlstore.EraseSealed", err)
			}
			var refs [][2]string
			for rows.Next() {
				var r [2]string
				if err := rows.Scan(&r[0], &r[1]); err != nil {
					rows.Close()
					return mapErr("sqlstore.EraseSealed", err)
				}
				refs = append(refs, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return mapErr("sqlstore.EraseSealed", err)
			}
			for _, r := range refs {
				res, err := t.exec(ctx, "UPDATE "+j.table+" SET "+set+" WHERE id = ? AND dek_id <> 0", r[1])
				if err != nil {
					return mapErr("sqlstore.EraseSealed", err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return mapErr("sqlstore.EraseSealed", err)
				}
				if n == 0 {
					continue // another PostgreSQL node erased it first, and audits it
				}
				if err := t.audit(ctx, r[0], vault.AuditAccountErase, strings.TrimSuffix(j.table, "s"), r[1]); err != nil {
					return err
				}
				erased++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += erased
	}
	return total, nil
}

// nameColumns are the tables and columns NameColumns reads (vault.ScanNames): the names and
// labels in the clear.
var nameColumns = map[string][]string{
	"instruments":    {"holder_name", "nick_name", "title"},
	"profiles":       {"first_name", "middle_name", "last_name", "company_name"},
	"addresses":      {"nick_name", "recipient_name"},
	"onetime_tokens": {"meta"},
	"transactions":   {"holder_name"},
}

var _ vault.NameLister = (*Store)(nil)

// NameColumns implements vault.NameLister: the records of table with an id after the given
// one, in id (primary key) order, one batch a statement.
func (s *Store) NameColumns(ctx context.Context, table string, columns []string, after string, limit int) ([]vault.NameRow, error) {
	const op = "sqlstore.NameColumns"
	known, ok := nameColumns[table]
	if !ok || len(columns) == 0 {
		return nil, vault.E(op, vault.Internal, vault.Field(table))
	}
	sel := "id, merchant_id"
	for _, c := range columns {
		if !slices.Contains(known, c) {
			return nil, vault.E(op, vault.Internal, vault.Field(table+"."+c))
		}
		sel += ", " + c
	}
	rows, err := s.q.query(ctx, "SELECT "+sel+" FROM "+table+" WHERE id > ? ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []vault.NameRow
	for rows.Next() {
		r := vault.NameRow{Values: make([]string, len(columns))}
		dest := []any{&r.ID, &r.MerchantID}
		for i := range r.Values {
			dest = append(dest, &r.Values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, r)
	}
	return out, mapErr(op, rows.Err())
}
