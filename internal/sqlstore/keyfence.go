package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

// The key fence.
//
// A node seals and fingerprints under the keys it loaded last, and reloads them only every
// key refresh; one whose refresh fails (an old master key after a rotation, a keyset it
// cannot decode), or that is frozen between sealing and its COMMIT, could otherwise commit
// records under a key that `payvault keys retire` has counted unused and disabled, and that
// `keys destroy` then deletes. So a write that stores sealed data or a fingerprint (a
// statement of its fn names dek_id) carries the keys it sealed under (vault.WithKeyStates:
// for each of the data and mac keysets, its primary key K and the digest D of its keys, read
// before the first seal), and its transaction reads, as its last statement before the COMMIT
// (on PostgreSQL in the last pipeline, with no round trip of its own), the key_fence rows and
// the database's clock, now. The write may commit only if, for each keyset,
//
//	(primary_key = K AND (keys_state = D OR now - changed_at < bound))
//	OR (demoted_key = K AND now - primary_changed_at < bound)
//
// that is: its primary key is still the primary, and its keys are the stored ones or changed
// less than bound ago; or its primary key was demoted by the last rotation, less than bound
// ago. bound is Store.KeyFence (twice the key refresh and the write bound). A write that
// fails it is rolled back and answered Unavailable (errKeyFence), nothing written; the other
// writes of its batch run again, each alone. A keyset with no key_fence row (not changed since
// the migration that made the table) is not fenced.
//
// `payvault keys retire K` (app.Main.RetireKey) counts K's records only once K is not the
// primary and the keyset's last change (keysets.updated_at, which every change sets with the
// key_fence row, by the same clock) is more than KeyFence and a margin old, by the database's
// clock. A write sealed under K that commits after that count would have passed the fence
// after it: K is no longer primary, so only the second clause could hold, with K's demotion
// less than bound before; but that demotion happened before the count, which came more than
// bound and the margin after it. So every write under K has committed before the count, and
// the count sees it.
//
// On PostgreSQL the statement also sets idle_in_transaction_session_timeout for the rest of
// the transaction (keyFenceIdle), so that a node frozen after the fence and before its COMMIT
// cannot commit later than that: PostgreSQL ends the session, and the transaction with it.

// errKeyFence is the error of a write the key fence refused.
var errKeyFence = errors.New("sqlstore: the keys this write sealed or fingerprinted under are no longer the stored ones, and changed longer ago than the key fence allows: this node has not loaded the keysets since (a node that logs keys: refresh failed, or was frozen); nothing was written")

// keyFenceIdle is the idle_in_transaction_session_timeout the key fence statement sets on
// PostgreSQL for the rest of its transaction, in ms: well under retireMargin in app.
const keyFenceIdle = 2000

// KeyFence is the key fence bound: how long after a keyset's keys changed a write sealed or
// fingerprinted under the keys before the change may still commit. It is twice the key
// refresh (Config.KeyRefresh: a node loads the change within one, and a write it sealed just
// before is queued within another) and WriteBound (such a write ends within it).
func (s *Store) KeyFence() time.Duration { return 2*s.keyRefresh + s.WriteBound() }

// dbNowSQL is the database's clock, in ms since the epoch: PostgreSQL's (one clock for every
// node), or on SQLite this host's, the only one that writes the file.
func dbNowSQL(d Dialect) string {
	if d == Postgres {
		return "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
	}
	return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
}

// keyFenceSQL reads, in one row, the key_fence rows of the data and mac keysets (zeros for a
// missing one) and the database's clock; on PostgreSQL it sets keyFenceIdle too. It is built
// once per dialect (keyFenceSQLs).
func keyFenceSQL(d Dialect) string {
	if d == Postgres {
		return keyFenceSQLs[1]
	}
	return keyFenceSQLs[0]
}

// keyFenceSQLs are keyFenceSQL's statements for SQLite and PostgreSQL.
var keyFenceSQLs = [2]string{buildKeyFenceSQL(SQLite), buildKeyFenceSQL(Postgres)}

func buildKeyFenceSQL(d Dialect) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, t := range []string{"d", "m"} {
		for _, c := range []string{"primary_key", "keys_state", "demoted_key", "changed_at", "primary_changed_at"} {
			b.WriteString("COALESCE(" + t + "." + c + ", 0), ")
		}
	}
	if d == Postgres {
		b.WriteString(dbNowSQL(d) + ", set_config('idle_in_transaction_session_timeout', '" + strconv.Itoa(keyFenceIdle) + "', true)")
	} else {
		b.WriteString("0") // the clock is read in this process (readKeyFence)
	}
	b.WriteString(" FROM (SELECT 1) AS one LEFT JOIN key_fence d ON d.name = 'data' LEFT JOIN key_fence m ON m.name = 'mac'")
	return b.String()
}

// fenceSet is one keyset's key_fence row; primary is 0 where there is none.
type fenceSet struct {
	primary, state, demoted, changed, primaryChanged int64
}

// allows applies the fence to a write that sealed under k, at now, with bound (ms).
func (f *fenceSet) allows(k keys.KeyState, now, bound int64) bool {
	if f.primary == 0 {
		return true // not fenced: no key change since the table was made
	}
	held := int64(k.Primary)
	return (f.primary == held && (f.state == k.Digest || now-f.changed < bound)) ||
		(f.demoted == held && now-f.primaryChanged < bound)
}

// keyFence is what the fence statement read: the data and mac rows and the database's clock.
type keyFence struct {
	data, mac fenceSet
	now       int64
}

// allows reports whether a write that sealed and fingerprinted under ks may commit.
func (f *keyFence) allows(ks vault.KeyStates, bound time.Duration) bool {
	b := bound.Milliseconds()
	return f.data.allows(ks.Data, f.now, b) && f.mac.allows(ks.MAC, f.now, b)
}

// scanKeyFence scans the answer of keyFenceSQL, a *sql.Row or a pipeline's pgx.Row.
func scanKeyFence(d Dialect, row interface{ Scan(...any) error }) (keyFence, error) {
	var f keyFence
	dest := []any{&f.data.primary, &f.data.state, &f.data.demoted, &f.data.changed, &f.data.primaryChanged,
		&f.mac.primary, &f.mac.state, &f.mac.demoted, &f.mac.changed, &f.mac.primaryChanged, &f.now}
	if d == Postgres {
		var set string
		dest = append(dest, &set)
	}
	return f, row.Scan(dest...)
}

// sealsKeys reports whether a statement that writes stores sealed data or a fingerprint: it
// names the column that says which data key sealed a record, and does not set it to 0 (the
// crypto-erase, which stores nothing sealed).
func sealsKeys(query string) bool {
	return strings.Contains(query, "dek_id") && !strings.Contains(query, "dek_id = 0")
}

// readKeyFence reads the key fence, when a fn of the transaction stored sealed data under
// key states (txConn.fenced): queued to go with the transaction's last pipeline where the
// transaction queues (its answer is there once that pipeline is sent), at once otherwise. It
// runs last before the COMMIT (flushAudit).
func (c *txConn) readKeyFence(s *Store) error {
	if !c.fenced {
		return nil
	}
	query := keyFenceSQL(s.dialect)
	if c.queue(queuedStmt{query: query, atEnd: true, scan: func(row pgx.Row) error {
		var err error
		c.fence, err = scanKeyFence(s.dialect, row)
		return err
	}}) {
		return nil
	}
	var err error
	c.fence, err = scanKeyFence(s.dialect, c.rowDirect(context.Background(), query))
	if s.dialect == SQLite {
		// The embedded store's clock is this host's, which SQLite's own reads too
		// (dbNowSQL), and its writes are this process's, under its write lock: read here,
		// it costs no date parsing in the statement.
		c.fence.now = time.Now().UnixMilli()
	}
	return err
}

// fenceRefuses reports whether the key fence the transaction read refuses a write that stored
// sealed data under ks (nil: it stored none, or carried no key states).
func (c *txConn) fenceRefuses(s *Store, ks *vault.KeyStates) bool {
	return ks != nil && c.fenced && !c.fence.allows(*ks, s.KeyFence())
}

// sealedUnder returns the key states of a write whose fn stored sealed data (txConn.sealed)
// and carried them (vault.WithKeyStates), and marks the transaction fenced; nil otherwise.
func (c *txConn) sealedUnder(ctx context.Context) *vault.KeyStates {
	if !c.sealed {
		return nil
	}
	ks, ok := vault.KeyStatesFrom(ctx)
	if !ok {
		c.nUnfenced.Add(1)
		return nil
	}
	c.fenced = true
	return &ks
}
