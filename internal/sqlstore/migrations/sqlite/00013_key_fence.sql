-- +goose Up
-- The key fence (keyfence.go, docs/security.md "Rotation"): for the data and the mac keyset, the
-- keys as they stand (the primary key id and a digest of every key's id and status, which the
-- encrypted blob does not show), the primary key the last rotation demoted, and when the keys
-- last changed and when the primary last changed, in ms since the epoch by the database's
-- clock. A write that sealed or fingerprinted under keys that are no longer current may commit
-- only within the fence bound of the change. A keyset without a row here (stored before this
-- migration, and not changed since) is not fenced. It is written with the keyset, in its
-- transaction (keyset.go). IF NOT EXISTS: see 00008.
CREATE TABLE IF NOT EXISTS key_fence (
    name               TEXT PRIMARY KEY,
    primary_key        INTEGER NOT NULL,
    keys_state         INTEGER NOT NULL,
    demoted_key        INTEGER NOT NULL,
    changed_at         INTEGER NOT NULL,
    primary_changed_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE key_fence;
