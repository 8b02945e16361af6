package sqlstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// The audit chain. Every operation on account data or credentials appends a record in the
// same transaction as the operation (see the calls to t.audit), chained per merchant by an
// HMAC under the server keyset's audit purpose, so write access to the database alone cannot
// rewrite history undetected.

const auditPurpose = "audit"

// SetAuditMAC installs the MAC used for the audit chain. Until it is set, no audit records are
// written (tools that only migrate).
func (s *Store) SetAuditMAC(m vault.AuditMAC) { s.auditMAC.Store(&m) }

func (q *q) macer() vault.AuditMAC {
	if q.audit == nil {
		return nil
	}
	p := q.audit.Load()
	if p == nil {
		return nil
	}
	return *p
}

// auditInput is the canonical byte string a record's MAC covers.
func auditInput(r *vault.AuditRecord, prev []byte) []byte {
	var b bytes.Buffer
	put := func(s string) {
		binary.Write(&b, binary.BigEndian, uint32(len(s)))
		b.WriteString(s)
	}
	b.WriteString("payvault audit v1")
	put(r.MerchantID)
	binary.Write(&b, binary.BigEndian, r.Seq)
	binary.Write(&b, binary.BigEndian, r.At.UnixMilli())
	put(r.Op)
	put(r.Actor)
	put(r.RecordType)
	put(r.RecordID)
	binary.Write(&b, binary.BigEndian, uint32(len(prev)))
	b.Write(prev)
	return b.Bytes()
}

// audit appends a record to a merchant's chain inside the transaction.
func (t *tx) audit(ctx context.Context, merchantID, op, recordType, recordID string) error {
	mac := t.macer()
	if mac == nil {
		return nil
	}
	// The transaction keeps the head: it reads it once and writes it back before it commits
	// (batch.go, auditHead).
	c := t.db.(*txConn)
	h, ok := c.head(merchantID)
	if !ok {
		err := t.row(ctx, "SELECT seq, mac FROM audit_heads WHERE merchant_id = ?"+t.forUpdate(), merchantID).Scan(&h.seq, &h.mac)
		switch {
		case err == nil:
			h.stored = true
		case isNoRows(err):
			h.mac = []byte{}
		default:
			return mapErr("sqlstore.audit", err)
		}
	}
	prev := h.mac
	r := &vault.AuditRecord{MerchantID: merchantID, Seq: h.seq + 1, At: time.Now().UTC().Truncate(time.Millisecond),
		Op: op, Actor: vault.ActorFrom(ctx), RecordType: recordType, RecordID: recordID}
	sum := mac.ServerMAC(auditPurpose, auditInput(r, prev))
	if _, err := t.exec(ctx, "INSERT INTO audit_log (merchant_id, seq, at, op, actor, record_type, record_id, prev_mac, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.MerchantID, r.Seq, toMS(r.At), r.Op, r.Actor, r.RecordType, r.RecordID, prev, sum); err != nil {
		return mapErr("sqlstore.audit", err)
	}
	h.seq, h.mac, h.dirty = r.Seq, sum, true
	c.setHead(merchantID, h)
	return nil
}

// Audit appends a record in its own transaction (for operations outside a Write, such as key
// changes).
func (s *Store) Audit(ctx context.Context, merchantID, op, recordType, recordID string) error {
	return s.Write(ctx, func(vt vault.Tx) error { return vt.(*tx).audit(ctx, merchantID, op, recordType, recordID) })
}

// ListAudit returns a merchant's audit records after seq, oldest first.
func (q *q) ListAudit(ctx context.Context, merchantID string, afterSeq int64, limit int) ([]vault.AuditRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := q.query(ctx, "SELECT merchant_id, seq, at, op, actor, record_type, record_id FROM audit_log WHERE merchant_id = ? AND seq > ? ORDER BY seq LIMIT ?", merchantID, afterSeq, limit)
	if err != nil {
		return nil, mapErr("sqlstore.ListAudit", err)
	}
	defer rows.Close()
	var out []vault.AuditRecord
	for rows.Next() {
		var r vault.AuditRecord
		if err := rows.Scan(&r.MerchantID, &r.Seq, ms(&r.At), &r.Op, &r.Actor, &r.RecordType, &r.RecordID); err != nil {
			return nil, mapErr("sqlstore.ListAudit", err)
		}
		out = append(out, r)
	}
	return out, mapErr("sqlstore.ListAudit", rows.Err())
}

// VerifyAudit walks every chain and reports each break: an edited record (bad MAC), a deleted
// or reordered one (a gap, or a prev_mac that is not the previous record's MAC), or a truncated
// tail (the head does not match the last record).
func (s *Store) VerifyAudit(ctx context.Context, mac vault.AuditMAC) ([]vault.AuditProblem, error) {
	heads := map[string]struct {
		seq int64
		mac []byte
	}{}
	rows, err := s.q.query(ctx, "SELECT merchant_id, seq, mac FROM audit_heads")
	if err != nil {
		return nil, mapErr("sqlstore.VerifyAudit", err)
	}
	for rows.Next() {
		var m string
		var h struct {
			seq int64
			mac []byte
		}
		if err := rows.Scan(&m, &h.seq, &h.mac); err != nil {
			rows.Close()
			return nil, mapErr("sqlstore.VerifyAudit", err)
		}
		heads[m] = h
	}
	rows.Close()
	rows, err = s.q.query(ctx, "SELECT merchant_id, seq, at, op, actor, record_type, record_id, prev_mac, mac FROM audit_log ORDER BY merchant_id, seq")
	if err != nil {
		return nil, mapErr("sqlstore.VerifyAudit", err)
	}
	defer rows.Close()
	var problems []vault.AuditProblem
	bad := func(m string, seq int64, format string, args ...any) {
		problems = append(problems, vault.AuditProblem{MerchantID: m, Seq: seq, Problem: fmt.Sprintf(format, args...)})
	}
	var cur string
	var lastSeq int64
	var lastMAC []byte
	seen := map[string]bool{}
	finish := func() {
		if cur == "" && !seen[""] {
			return
		}
		h, ok := heads[cur]
		if !ok {
			bad(cur, lastSeq, "chain has no head")
		} else if h.seq != lastSeq || !bytes.Equal(h.mac, lastMAC) {
			bad(cur, lastSeq, "chain ends at %d but its head is at %d (records removed from the end?)", lastSeq, h.seq)
		}
		delete(heads, cur)
	}
	first := true
	for rows.Next() {
		var r vault.AuditRecord
		var prev, sum []byte
		if err := rows.Scan(&r.MerchantID, &r.Seq, ms(&r.At), &r.Op, &r.Actor, &r.RecordType, &r.RecordID, &prev, &sum); err != nil {
			return nil, mapErr("sqlstore.VerifyAudit", err)
		}
		if first || r.MerchantID != cur {
			if !first {
				finish()
			}
			first = false
			cur, lastSeq, lastMAC = r.MerchantID, 0, []byte{}
			seen[cur] = true
		}
		if r.Seq != lastSeq+1 {
			bad(r.MerchantID, r.Seq, "expected record %d (records deleted or reordered)", lastSeq+1)
		}
		if !bytes.Equal(prev, lastMAC) {
			bad(r.MerchantID, r.Seq, "does not chain to the previous record")
		}
		if !mac.VerifyServerMAC(auditPurpose, auditInput(&r, prev), sum) {
			bad(r.MerchantID, r.Seq, "MAC does not verify (record edited)")
		}
		lastSeq, lastMAC = r.Seq, sum
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("sqlstore.VerifyAudit", err)
	}
	if !first {
		finish()
	}
	for m, h := range heads {
		bad(m, h.seq, "head without records (chain deleted?)")
	}
	return problems, nil
}
