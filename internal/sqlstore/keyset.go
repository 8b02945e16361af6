package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/vault"
)

var _ keys.KeysetStore = (*Store)(nil)

// LoadKeyset implements keys.KeysetStore. On PostgreSQL it is a read with the read bound
// (stall.go), so that the keyring's poller does not wait on a database that stopped answering.
func (s *Store) LoadKeyset(ctx context.Context, name string) ([]byte, int64, error) {
	ctx, end := s.q.readBound(ctx)
	defer end()
	return loadKeyset(ctx, s.wdb, s.rb.bind(s.dialect, loadKeysetQuery), name)
}

// loadKeysetQuery reads a keyset by name, with a ? placeholder.
const loadKeysetQuery = "SELECT blob, version FROM keysets WHERE name = ?"

// loadKeyset reads keyset name through db with query (loadKeysetQuery bound for db's
// engine), and maps no row to keys.ErrNoKeyset.
func loadKeyset(ctx context.Context, db querier, query, name string) ([]byte, int64, error) {
	var blob []byte
	var version int64
	err := db.QueryRowContext(ctx, query, name).Scan(&blob, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, keys.ErrNoKeyset
	}
	if err != nil {
		return nil, 0, err
	}
	return blob, version, nil
}

// KeysetChangedAt returns when keyset name was last written (created, rotated, a key in it
// retired, enabled or destroyed, or rewrapped), and the time now, both by the database's
// clock (dbNowSQL), so that the wait since the change (app.Main.RetireKey) and the key fence
// (keyfence.go) are measured on one clock, whatever the clocks of the nodes. Like LoadKeyset
// it reads the database written to, never a replica. It returns a NotFound error when no
// keyset of that name is stored.
func (s *Store) KeysetChangedAt(ctx context.Context, name string) (changed, now time.Time, err error) {
	ctx, end := s.q.readBound(ctx)
	defer end()
	var changedMS, nowMS int64
	err = s.wdb.QueryRowContext(ctx, s.rb.bind(s.dialect, "SELECT updated_at, "+dbNowSQL(s.dialect)+" FROM keysets WHERE name = ?"), name).Scan(&changedMS, &nowMS)
	if err != nil {
		return time.Time{}, time.Time{}, mapErr("sqlstore.KeysetChangedAt", err)
	}
	return time.UnixMilli(changedMS), time.UnixMilli(nowMS), nil
}

var _ keys.KeyStateStore = (*Store)(nil)

// StoreKeyset implements keys.KeysetStore with a compare-and-swap on the version. A change is
// recorded on the system audit chain in the same transaction. The keyset's KeyState is not
// known here, so its key fence row is deleted: the keyset is not fenced until it is stored
// with one (StoreKeysetState, which the keys package uses).
func (s *Store) StoreKeyset(ctx context.Context, name string, blob []byte, expect int64) error {
	return s.storeKeyset(ctx, name, blob, expect, nil)
}

// StoreKeysetState implements keys.KeyStateStore: StoreKeyset that also writes the keyset's
// key fence row (keyfence.go) in the same transaction, by the database's clock: the keys
// (to), the primary key a rotation demotes, and when the keys and when the primary changed.
// A keyset without a row yet takes from (the keys of version expect) for what it held.
func (s *Store) StoreKeysetState(ctx context.Context, name string, blob []byte, expect int64, from, to keys.KeyState) error {
	return s.storeKeyset(ctx, name, blob, expect, &[2]keys.KeyState{from, to})
}

// keyFenceUpsertSQL writes a keyset's key fence row. Its arguments are the name, the new
// primary and digest, the primary demoted (for a keyset without a row), and now twice. Every
// right-hand side reads the row as it was.
const keyFenceUpsertSQL = `INSERT INTO key_fence (name, primary_key, keys_state, demoted_key, changed_at, primary_changed_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET
changed_at = CASE WHEN key_fence.keys_state = excluded.keys_state AND key_fence.primary_key = excluded.primary_key THEN key_fence.changed_at ELSE excluded.changed_at END,
primary_changed_at = CASE WHEN key_fence.primary_key = excluded.primary_key THEN key_fence.primary_changed_at ELSE excluded.primary_changed_at END,
demoted_key = CASE WHEN key_fence.primary_key = excluded.primary_key THEN key_fence.demoted_key ELSE key_fence.primary_key END,
primary_key = excluded.primary_key, keys_state = excluded.keys_state`

// storeKeyset implements StoreKeyset and StoreKeysetState (states: from and to; nil when not
// known).
func (s *Store) storeKeyset(ctx context.Context, name string, blob []byte, expect int64, states *[2]keys.KeyState) error {
	return s.Write(ctx, func(vt vault.Tx) error {
		t := vt.(*tx)
		var now int64
		if err := t.row(ctx, "SELECT "+dbNowSQL(s.dialect)).Scan(&now); err != nil {
			return err
		}
		var res sql.Result
		var err error
		if expect == 0 {
			res, err = t.exec(ctx, "INSERT INTO keysets (name, version, blob, updated_at) VALUES (?, 1, ?, ?) ON CONFLICT (name) DO NOTHING", name, blob, now)
		} else {
			res, err = t.exec(ctx, "UPDATE keysets SET version = version + 1, blob = ?, updated_at = ? WHERE name = ? AND version = ?", blob, now, name, expect)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != 1 {
			return keys.ErrKeysetConflict
		}
		if states == nil {
			_, err = t.exec(ctx, "DELETE FROM key_fence WHERE name = ?", name)
		} else {
			from, to := states[0], states[1]
			var demoted int64
			if from.Primary != to.Primary {
				demoted = int64(from.Primary)
			}
			_, err = t.exec(ctx, keyFenceUpsertSQL, name, int64(to.Primary), to.Digest, demoted, now, now)
		}
		if err != nil {
			return err
		}
		return t.audit(ctx, "", vault.AuditKeyChange, "keyset", name)
	})
}

// LoadKeyState implements keys.KeyStateStore: it reads keyset name's key fence row.
func (s *Store) LoadKeyState(ctx context.Context, name string) (keys.KeyState, bool, error) {
	ctx, end := s.q.readBound(ctx)
	defer end()
	var primary, digest int64
	err := s.wdb.QueryRowContext(ctx, s.rb.bind(s.dialect, "SELECT primary_key, keys_state FROM key_fence WHERE name = ?"), name).Scan(&primary, &digest)
	if errors.Is(err, sql.ErrNoRows) {
		return keys.KeyState{}, false, nil
	}
	if err != nil {
		return keys.KeyState{}, false, err
	}
	return keys.KeyState{Primary: uint32(primary), Digest: digest}, true, nil
}

// sealedTables are the tables holding sealed columns, each with a dek_id.
var sealedTables = []string{"instruments", "onetime_tokens", "locations", "transactions"}

// CountSealedByKey returns, per data key id, how many records hold data sealed under it.
func (s *Store) CountSealedByKey(ctx context.Context) (map[uint32]int, error) {
	out := map[uint32]int{}
	for _, t := range sealedTables {
		rows, err := s.rdb.QueryContext(ctx, "SELECT dek_id, COUNT(*) FROM "+t+" WHERE dek_id <> 0 GROUP BY dek_id")
		if err != nil {
			return nil, mapErr("sqlstore.CountSealedByKey", err)
		}
		for rows.Next() {
			var id int64
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, mapErr("sqlstore.CountSealedByKey", err)
			}
			out[uint32(id)] += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr("sqlstore.CountSealedByKey", err)
		}
	}
	return out, nil
}
