package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// Kept counts of instruments (migration 00007, instrument_counts).
//
// A Fortis list answers totalCount on every page, and counting a location's active vaults
// row by row is linear in them. So each store keeps the counts in the writes that change
// them, and a list whose only filters are location and kind reads them instead
// (countedInstruments). Inserts are counted by the store, once per key and batch
// (txConn.counted, flushCounts); updates and deletes, which are rare, by triggers.
//
// On SQLite, whose writes are serial, a key has one row. On PostgreSQL the writers only add
// rows (one per key and batch, or per trigger), so the nodes' batches never queue on one
// another, and foldCounts folds a merchant's rows into one per key. A fold starts when a list
// sums more than foldAfter rows, and when a node has added foldEvery rows for the merchant
// since its last fold, so that a merchant whose vaults are never listed does not pile up rows.

// countKey is a key of instrument_counts.
type countKey struct{ merchant, location, kind string }

// count notes an instrument the fn inserted, for flushCounts. Every insert into instruments
// goes through InsertInstrument or InsertProfileCard, and each calls it.
func (t *tx) count(in *vault.Instrument) {
	if c, ok := t.db.(*txConn); ok && in.Deleted.IsZero() {
		c.counted = append(c.counted, countKey{in.MerchantID, in.LocationID, in.Kind})
	}
}

// flushCounts adds the active instruments the transaction's fns inserted to instrument_counts
// (migration 00007). On SQLite it adds them to the key's one row, a statement per key. On
// PostgreSQL it inserts a row per key, all in one statement, which a batch that pipelines its
// statements queues so that it goes with the rest.
func (c *txConn) flushCounts() error {
	if len(c.counted) == 0 {
		return nil
	}
	n := map[countKey]int64{}
	var keys []countKey
	for _, k := range c.counted {
		if n[k] == 0 {
			keys = append(keys, k)
		}
		n[k]++
	}
	c.counted = c.counted[:0]
	if !c.pg {
		for _, k := range keys {
			if _, err := c.execDirect(context.Background(), "INSERT INTO instrument_counts (merchant_id, location_id, kind, n) VALUES (?, ?, ?, ?) "+
				"ON CONFLICT (merchant_id, location_id, kind) DO UPDATE SET n = n + excluded.n", k.merchant, k.location, k.kind, n[k]); err != nil {
				return err
			}
		}
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 4*len(keys))
	b.WriteString("INSERT INTO instrument_counts (merchant_id, location_id, kind, n) VALUES ")
	for i, k := range keys {
		c.countMerchants = append(c.countMerchants, k.merchant)
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d)", 4*i+1, 4*i+2, 4*i+3, 4*i+4)
		args = append(args, k.merchant, k.location, k.kind, n[k])
	}
	if c.queue(queuedStmt{query: b.String(), args: args}) {
		return nil
	}
	_, err := c.execDirect(context.Background(), b.String(), args...)
	return err
}

// foldAfter is the number of rows of counts beyond which a list folds them (PostgreSQL).
const foldAfter = 64

// foldEvery is the number of rows of counts a node adds for a merchant between the folds its
// writes start (PostgreSQL).
const foldEvery = 4 * foldAfter

// addedCountRows notes the rows of counts a committed transaction added, one merchant per
// row, and starts a fold for a merchant this node has added foldEvery rows for since it last
// started one. Each node counts only its own rows, so a merchant has at most about foldEvery
// rows per node, beside those of its triggers, between folds.
func (s *Store) addedCountRows(merchants []string) {
	for _, m := range merchants {
		v, ok := s.countRows.Load(m)
		if !ok {
			v, _ = s.countRows.LoadOrStore(m, new(atomic.Int64))
		}
		n := v.(*atomic.Int64)
		if n.Add(1) >= foldEvery && s.startFold(m) {
			n.Store(0)
		}
	}
}

// foldLockClass is the first key of the two-key advisory locks that let one node at a time
// fold a merchant's counts (see nodeLockClass).
const foldLockClass = 0x7076666c // "pvfl"

// startFold runs foldCounts for a merchant in the background, unless a fold already runs in
// this process: one at a time holds at most one of the pool's connections, which the
// committers need. A fold skipped, or failed, leaves the rows as they are, and a later list
// or write tries again. It reports whether it started one.
func (s *Store) startFold(merchantID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || !s.folding.CompareAndSwap(false, true) {
		return false
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		defer s.folding.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.foldCounts(ctx, merchantID)
	}()
	return true
}

// errFoldBusy is foldCounts' answer when another node folds the merchant's counts.
var errFoldBusy = errors.New("sqlstore: another node folds these counts")

// foldCounts replaces a merchant's rows of counts by their sums, one row per key, in one
// statement (PostgreSQL). The statement's snapshot holds the rows it deletes and sums, and
// no other: rows that batches add meanwhile stay, and every snapshot sees either the rows
// or their sum. One node folds a merchant at a time (a transaction-scoped advisory lock;
// the others skip), so two folds never delete the same rows in different orders.
func (s *Store) foldCounts(ctx context.Context, merchantID string) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var got bool
	if err := tx.QueryRowContext(ctx, "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", foldLockClass, merchantID).Scan(&got); err != nil {
		return err
	}
	if !got {
		return errFoldBusy
	}
	if _, err := tx.ExecContext(ctx, `WITH d AS (DELETE FROM instrument_counts WHERE merchant_id = $1 RETURNING location_id, kind, n)
INSERT INTO instrument_counts (merchant_id, location_id, kind, n)
SELECT $1, location_id, kind, SUM(n) FROM d GROUP BY location_id, kind HAVING SUM(n) <> 0`, merchantID); err != nil {
		return err
	}
	return tx.Commit()
}
