package sqlstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

// pendingAudit is an audit record a fn appended, waiting for its place in the chain.
type pendingAudit struct {
	merchant, op, actor, recordType, recordID string
	at                                        time.Time
	dropped                                   bool // dropped: its change did not happen (SetCardVerified)
}

// audit appends a record to a merchant's chain inside the transaction. The record is only
// noted here: flushAudit gives it its sequence number and MAC and stores it, with every other
// record of the transaction, just before COMMIT. So a transaction touches a merchant's chain
// head once, at its very end: on PostgreSQL the head's row lock (which serialises a
// merchant's appends) is held from there to COMMIT rather than through the whole batch, and
// heads are locked in merchant order, so two committers never wait on each other's heads in
// a cycle.
func (t *tx) audit(ctx context.Context, merchantID, op, recordType, recordID string) error {
	if t.macer() == nil {
		return nil
	}
	c := t.db.(*txConn)
	c.pending = append(c.pending, pendingAudit{merchant: merchantID, op: op, actor: vault.ActorFrom(ctx),
		recordType: recordType, recordID: recordID, at: time.Now().UTC().Truncate(time.Millisecond)})
	return nil
}

// auditInsertRows is the most records one INSERT statement stores; a few fixed sizes keep
// the number of distinct statements (each prepared once) small.
const auditInsertRows = 64

// flushAudit chains and stores the pending audit records, and reads the key fence last
// (readKeyFence): for each merchant, in merchant id
// order, it reads (on PostgreSQL, locks) the head, gives the merchant's records the next
// sequence numbers and their MACs in the order they were appended, writes the head back, and
// stores the records with multi-row INSERTs. It runs just before COMMIT. It first sends what
// the transaction queued; a head that queueCommitEnd read there is not read again, and where
// the transaction queues statements (PostgreSQL) the head writes and the INSERTs go together,
// in one round trip.
func (c *txConn) flushAudit(s *Store) error {
	if len(c.pending) == 0 {
		// The key fence goes last, with whatever is queued.
		if err := c.readKeyFence(s); err != nil {
			return err
		}
		return c.flush()
	}
	if err := c.flush(); err != nil {
		return err
	}
	mac := s.q.macer()
	if mac == nil {
		return errors.New("sqlstore: audit records pending without an audit MAC")
	}
	ctx := context.Background()
	merchants, byMerchant := c.auditMerchants()
	rows := make([]any, 0, 9*len(c.pending))
	for _, m := range merchants {
		h, ok := c.heads[m]
		if !ok {
			var err error
			if h, err = scanAuditHead(c.rowDirect(ctx, s.rb.bind(s.dialect, auditHeadSQL(s.dialect)), m)); err != nil {
				return err
			}
		}
		seq, prev := h.seq, h.mac
		for _, i := range byMerchant[m] {
			p := &c.pending[i]
			r := vault.AuditRecord{MerchantID: m, Seq: seq + 1, At: p.at, Op: p.op, Actor: p.actor, RecordType: p.recordType, RecordID: p.recordID}
			sum := mac.ServerMAC(auditPurpose, auditInput(&r, prev))
			rows = append(rows, r.MerchantID, r.Seq, toMS(r.At), r.Op, r.Actor, r.RecordType, r.RecordID, prev, sum)
			seq, prev = r.Seq, sum
		}
		query := "UPDATE audit_heads SET seq = ?, mac = ? WHERE merchant_id = ?"
		args := []any{seq, prev, m}
		if !h.stored {
			query, args = "INSERT INTO audit_heads (merchant_id, seq, mac) VALUES (?, ?, ?)", []any{m, seq, prev}
		}
		if err := c.execAtEnd(ctx, s.rb.bind(s.dialect, query), args...); err != nil {
			return err
		}
	}
	for len(rows) > 0 {
		n := min(len(rows)/9, auditInsertRows)
		if err := c.execAtEnd(ctx, s.rb.bind(s.dialect, auditInsertSQL(n)), rows[:9*n]...); err != nil {
			return err
		}
		rows = rows[9*n:]
	}
	c.pending = c.pending[:0]
	if err := c.readKeyFence(s); err != nil { // last, with the audit records
		return err
	}
	return c.flush()
}

// auditMerchants returns the merchants of the pending audit records, in id order (the order
// their heads are locked in), and the indexes of each one's records in c.pending.
func (c *txConn) auditMerchants() ([]string, map[string][]int) {
	byMerchant := map[string][]int{}
	var merchants []string
	for i, p := range c.pending {
		if p.dropped {
			continue
		}
		if _, ok := byMerchant[p.merchant]; !ok {
			merchants = append(merchants, p.merchant)
		}
		byMerchant[p.merchant] = append(byMerchant[p.merchant], i)
	}
	slices.Sort(merchants)
	return merchants, byMerchant
}

// auditHead is a merchant's audit chain head as a transaction read it; stored is false for
// a merchant whose chain has no record yet.
type auditHead struct {
	seq    int64
	mac    []byte
	stored bool
}

// execAtEnd runs a statement of the transaction's end (flushAudit): queued where the
// transaction queues statements, to go with the others in one round trip, else at once.
func (c *txConn) execAtEnd(ctx context.Context, query string, args ...any) error {
	if c.queue(queuedStmt{query: query, args: args, atEnd: true}) {
		return nil
	}
	_, err := c.execDirect(ctx, query, args...)
	return err
}

// auditHeadSQL reads a merchant's chain head; on PostgreSQL it locks the head's row, which
// serialises a merchant's appends. Its argument is the merchant.
func auditHeadSQL(d Dialect) string {
	if d == Postgres {
		return "SELECT seq, mac FROM audit_heads WHERE merchant_id = ? FOR UPDATE"
	}
	return "SELECT seq, mac FROM audit_heads WHERE merchant_id = ?"
}

// scanAuditHead scans the answer of auditHeadSQL, a *sql.Row or a pipeline's pgx.Row.
func scanAuditHead(row interface{ Scan(...any) error }) (auditHead, error) {
	h := auditHead{stored: true}
	err := row.Scan(&h.seq, &h.mac)
	if isNoRows(err) || errors.Is(err, pgx.ErrNoRows) {
		return auditHead{mac: []byte{}}, nil
	}
	return h, err
}

// queueCommitEnd queues, where the transaction queues statements (PostgreSQL: a batch, or a
// write running alone once its fn is done), the statements that its COMMIT needs, so that
// they go with its last pipeline instead of a round trip each: the reads of the chain heads
// (locked, in merchant order) of the merchants with pending audit records, for flushAudit,
// and the insert of the transaction's mark, for markCommit (commitlost.go). It is called just
// before that pipeline is sent, when no fn will run in the transaction again.
func (c *txConn) queueCommitEnd(s *Store) {
	if c.conn == nil || c.isolate || c.endOnly || c.queueErr != nil || c.broken != nil || c.heads != nil {
		return // not queued, or queued already
	}
	merchants, _ := c.auditMerchants()
	c.heads = make(map[string]auditHead, len(merchants))
	for _, m := range merchants {
		c.queue(queuedStmt{query: s.rb.bind(s.dialect, auditHeadSQL(s.dialect)), args: []any{m}, atEnd: true, scan: func(row pgx.Row) error {
			h, err := scanAuditHead(row)
			if err == nil {
				c.heads[m] = h
			}
			return err
		}})
	}
	c.queueMark()
}

// auditInsertSQL returns the INSERT of n audit records.
func auditInsertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO audit_log (merchant_id, seq, at, op, actor, record_type, record_id, prev_mac, mac) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	return b.String()
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
// tail (the head does not match the last record). The walk has no bound of its own beyond ctx.
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
	// The walk reads every record, which on a large store takes longer than a read's bound
	// (readWait): only ctx bounds it.
	walk := s.q
	walk.readWait = 0
	rows, err = walk.query(ctx, "SELECT merchant_id, seq, at, op, actor, record_type, record_id, prev_mac, mac FROM audit_log ORDER BY merchant_id, seq")
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
