package sqlstore

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/vault"
)

// Scrubbing refused values from transactions stored before the rule.
//
// A request Paysafe refuses is stored as a FAILED transaction with its field errors in its
// extras, and payments.RecordFailed keeps none of the values refused for their fields (a
// card number sent as the customerIp). Versions before that rule kept them, in the clear, in
// the transaction's request column. ScrubRefused applies the rule to those rows once, after
// the upgrade, and records in the settings table that it has gone through every transaction,
// so that later starts read one row and nothing else.

// settingRefusedScrubbed is the setting ScrubRefused writes once it has gone through every
// transaction; its value is when, in ms since the epoch. Deleting it has the next start go
// through them again.
const settingRefusedScrubbed = "upgrade.refused_scrubbed"

// scrubBatch is how many transactions ScrubRefused reads a statement, in id order, and writes
// at most in one write transaction.
var scrubBatch = 1000

// scrubLockClass is the first key of the advisory lock a PostgreSQL node holds while it
// scrubs (see foldLockClass).
const scrubLockClass = 0x70767372 // "pvsr"

// ErrScrubBusy is ScrubRefused's answer on PostgreSQL when another session is scrubbing the
// same database now: that node finishes the work and records it.
var ErrScrubBusy = errors.New("sqlstore: another node is scrubbing refused values from the transactions")

// ScrubRefused removes from every FAILED Paysafe transaction the values its stored field
// errors name (payments.WithoutRefused), as payments.RecordFailed has done since it was
// written, and returns how many transactions it changed. Once it has gone through every
// transaction it records so (settingRefusedScrubbed), and from then on it only reads that.
//
// It reads scrubBatch transactions a statement in id order, and rewrites those it changes in
// one write (Store.Write) a batch, each a compare-and-swap on the column as read: it holds no
// long lock, and a crash, a second process doing the same, or a write meanwhile leaves every
// row either as it was or scrubbed. Run again, it finds the rows it scrubbed with nothing left
// to drop and writes none of them. On PostgreSQL one session at a time runs it (an advisory
// lock); a node that finds it held gets ErrScrubBusy at once and may serve.
func (s *Store) ScrubRefused(ctx context.Context) (int, error) {
	const op = "sqlstore.ScrubRefused"
	if done, err := s.refusedScrubbed(ctx); err != nil || done {
		return 0, err
	}
	if s.dialect == Postgres {
		conn, err := s.wdb.Conn(ctx)
		if err != nil {
			return 0, mapErr(op, err)
		}
		defer func() {
			// The lock is the session's, and ends with it: the connection is closed, not
			// put back into the pool with the lock still held by a failed unlock.
			conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
		}()
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, 0)", scrubLockClass).Scan(&got); err != nil {
			return 0, mapErr(op, err)
		}
		if !got {
			return 0, ErrScrubBusy
		}
		// The node that held the lock may have finished just before.
		if done, err := s.refusedScrubbed(ctx); err != nil || done {
			return 0, err
		}
	}
	type change struct{ id, old, scrubbed string }
	total := 0
	for after := ""; ; {
		// Every transaction's id, and the request only of those the rule may change: the
		// statement reads scrubBatch rows by the primary key, whatever their kind.
		rows, err := s.q.query(ctx, "SELECT id, CASE WHEN api = ? AND status = ? AND request LIKE ? THEN request ELSE '' END FROM transactions WHERE id > ? ORDER BY id LIMIT ?",
			"paysafe", string(payments.StatusFailed), `%"fieldErrors"%`, after, scrubBatch)
		if err != nil {
			return total, mapErr(op, err)
		}
		var changes []change
		n := 0
		for rows.Next() {
			var id, req string
			if err := rows.Scan(&id, &req); err != nil {
				rows.Close()
				return total, mapErr(op, err)
			}
			n, after = n+1, id
			if scrubbed, ok := scrubRequest(req); ok {
				changes = append(changes, change{id, req, scrubbed})
			}
		}
		if err := rows.Err(); err != nil {
			return total, mapErr(op, err)
		}
		if len(changes) > 0 {
			written := 0 // set by the write's last run: a batch may run its fns again
			err := s.Write(ctx, func(vt vault.Tx) error {
				t := vt.(*tx)
				written = 0
				for _, c := range changes {
					res, err := t.exec(ctx, "UPDATE transactions SET request = ? WHERE id = ? AND request = ?", c.scrubbed, c.id, c.old)
					if err != nil {
						return mapErr(op, err)
					}
					if k, err := res.RowsAffected(); err == nil {
						written += int(k)
					}
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			total += written
		}
		if n < scrubBatch {
			break
		}
	}
	err := s.Write(ctx, func(vt vault.Tx) error {
		_, err := vt.(*tx).ClaimSetting(ctx, settingRefusedScrubbed, strconv.FormatInt(time.Now().UnixMilli(), 10))
		return err
	})
	return total, err
}

// refusedScrubbed reports whether ScrubRefused has gone through every transaction.
func (s *Store) refusedScrubbed(ctx context.Context) (bool, error) {
	_, err := s.q.GetSetting(ctx, settingRefusedScrubbed)
	if vault.KindOf(err) == vault.NotFound {
		return false, nil
	}
	return err == nil, err
}

// scrubRequest returns a transaction's request column without the values its extras' field
// errors name, and whether that changed it.
func scrubRequest(req string) (string, bool) {
	if req == "" {
		return "", false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal([]byte(req), &doc) != nil || len(doc["extras"]) == 0 {
		return "", false
	}
	scrubbed := payments.WithoutRefused(doc["extras"])
	if bytes.Equal(scrubbed, doc["extras"]) {
		return "", false
	}
	doc["extras"] = scrubbed
	b, err := json.Marshal(doc)
	if err != nil {
		return "", false
	}
	return string(b), true
}
