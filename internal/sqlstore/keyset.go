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

// KeysetChangedAt returns when keyset name was last written (created, rotated, or a key in it
// retired, enabled or destroyed), by the clock of the process that wrote it. Like LoadKeyset
// it reads the database written to, never a replica. It returns a NotFound error when no keyset of that name is stored.
func (s *Store) KeysetChangedAt(ctx context.Context, name string) (time.Time, error) {
	ctx, end := s.q.readBound(ctx)
	defer end()
	var ms int64
	err := s.wdb.QueryRowContext(ctx, s.rb.bind(s.dialect, "SELECT updated_at FROM keysets WHERE name = ?"), name).Scan(&ms)
	if err != nil {
		return time.Time{}, mapErr("sqlstore.KeysetChangedAt", err)
	}
	return time.UnixMilli(ms), nil
}

// StoreKeyset implements keys.KeysetStore with a compare-and-swap on the version. A change is
// recorded on the system audit chain in the same transaction.
func (s *Store) StoreKeyset(ctx context.Context, name string, blob []byte, expect int64) error {
	now := time.Now().UnixMilli()
	return s.Write(ctx, func(vt vault.Tx) error {
		t := vt.(*tx)
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
		return t.audit(ctx, "", vault.AuditKeyChange, "keyset", name)
	})
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
