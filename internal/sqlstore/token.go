package sqlstore

import (
	"context"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

func tokenCols(t *vault.OneTimeToken) []col {
	return []col{
		{"id", &t.ID}, {"merchant_id", &t.MerchantID}, {"location_id", &t.LocationID}, {"token", &t.Token},
		{"kind", &t.Kind}, {"meta", asJSON(&t.Meta)}, {"dek_id", &t.Sealed.KeyID},
		{"number_sealed", &t.Sealed.Number}, {"cvv_sealed", &t.Sealed.CVV}, {"created_at", ms(&t.Created)},
		{"expires_at", ms(&t.Expires)}, {"consumed_at", ms(&t.Consumed)},
	}
}

// GetOneTimeToken implements vault.Reader.
func (q *q) GetOneTimeToken(ctx context.Context, merchantID, token string) (*vault.OneTimeToken, error) {
	t := &vault.OneTimeToken{}
	cs := tokenCols(t)
	err := q.row(ctx, "SELECT "+names(cs)+" FROM onetime_tokens WHERE merchant_id = ? AND token = ?", merchantID, token).Scan(ptrs(cs)...)
	return t, mapErr("sqlstore.GetOneTimeToken", err, token)
}

// InsertOneTimeToken implements vault.Tx.
func (t *tx) InsertOneTimeToken(ctx context.Context, tok *vault.OneTimeToken) error {
	cs := tokenCols(tok)
	if _, _, err := t.execQueued(ctx, false, insertSQL("onetime_tokens", cs), vals(cs)...); err != nil {
		return mapErr("sqlstore.InsertOneTimeToken", err)
	}
	return t.audit(ctx, tok.MerchantID, vault.AuditTokenCreate, "token", tok.ID)
}

// ConsumeOneTimeToken implements vault.Tx. The conditional UPDATE is the single point of
// truth: of two concurrent consumers exactly one sees a row change.
func (t *tx) ConsumeOneTimeToken(ctx context.Context, merchantID, id string, now time.Time) (bool, error) {
	res, err := t.exec(ctx, "UPDATE onetime_tokens SET consumed_at = ?, cvv_sealed = NULL WHERE merchant_id = ? AND id = ? AND consumed_at = 0 AND expires_at > ?",
		toMS(now), merchantID, id, toMS(now))
	if err != nil {
		return false, mapErr("sqlstore.ConsumeOneTimeToken", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n != 1 {
		return false, mapErr("sqlstore.ConsumeOneTimeToken", err)
	}
	return true, t.audit(ctx, merchantID, vault.AuditTokenConsume, "token", id)
}

// SweepOneTimeTokens implements vault.Tx. It deletes at most 1,000 tokens a write (5,000 held
// the one SQLite writer for 52 ms, and longer with their audit records). It takes the expired
// tokens in the expiry index's order, so it reads only those; in id order SQLite read every
// live token (272 ms of the writer at 200,000, BenchmarkSweepTokens). The id breaks ties, so
// that two PostgreSQL nodes sweeping at once delete in the same order.
func (t *tx) SweepOneTimeTokens(ctx context.Context, now time.Time) (int, error) {
	rows, err := t.query(ctx, "SELECT merchant_id, id FROM onetime_tokens WHERE expires_at <= ? ORDER BY expires_at, id LIMIT 1000", toMS(now))
	if err != nil {
		return 0, mapErr("sqlstore.SweepOneTimeTokens", err)
	}
	type ref struct{ merchant, id string }
	var gone []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.merchant, &r.id); err != nil {
			rows.Close()
			return 0, mapErr("sqlstore.SweepOneTimeTokens", err)
		}
		gone = append(gone, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, mapErr("sqlstore.SweepOneTimeTokens", err)
	}
	deleted := 0
	for _, r := range gone {
		res, err := t.exec(ctx, "DELETE FROM onetime_tokens WHERE id = ?", r.id)
		if err != nil {
			return 0, mapErr("sqlstore.SweepOneTimeTokens", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, mapErr("sqlstore.SweepOneTimeTokens", err)
		}
		if n == 0 {
			continue // another PostgreSQL node's sweep deleted it first, and audits it
		}
		if err := t.audit(ctx, r.merchant, vault.AuditAccountDelete, "token", r.id); err != nil {
			return 0, err
		}
		deleted++
	}
	return deleted, nil
}
