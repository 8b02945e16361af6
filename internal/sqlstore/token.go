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
	_, err := t.exec(ctx, insertSQL("onetime_tokens", cs), vals(cs)...)
	return mapErr("sqlstore.InsertOneTimeToken", err)
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
	return n == 1, mapErr("sqlstore.ConsumeOneTimeToken", err)
}

// SweepOneTimeTokens implements vault.Tx.
func (t *tx) SweepOneTimeTokens(ctx context.Context, now time.Time) (int, error) {
	res, err := t.exec(ctx, "DELETE FROM onetime_tokens WHERE expires_at <= ?", toMS(now))
	if err != nil {
		return 0, mapErr("sqlstore.SweepOneTimeTokens", err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr("sqlstore.SweepOneTimeTokens", err)
}
