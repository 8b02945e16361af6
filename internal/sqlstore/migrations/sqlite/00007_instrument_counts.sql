-- +goose Up
-- A Fortis list answers totalCount on every page: a COUNT(*) over every active vault of the
-- location, linear in the vaults (48 lists/s at about 130,000 vaults, 95% of it the count).
-- instrument_counts keeps the count of active instruments per merchant, location and kind in
-- the write that changes it, so an unfiltered list reads a row or two instead
-- (ListInstruments). Inserts are counted by the store, once per key and batch (txConn.counted:
-- a trigger per inserted row cost about 25 µs of the one writer's time per card); updates and
-- deletes, which are rare, by the triggers below. A key has one row here: SQLite's writes are
-- serial, so the counter rows cost no contention. On PostgreSQL every node's batches would
-- queue on them, and its 00007 keeps rows of changes instead.
CREATE TABLE instrument_counts (
    merchant_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, location_id, kind)
);

INSERT INTO instrument_counts (merchant_id, location_id, kind, n)
SELECT merchant_id, location_id, kind, COUNT(*) FROM instruments WHERE deleted_at = 0
GROUP BY merchant_id, location_id, kind;

-- +goose StatementBegin
CREATE TRIGGER instruments_count_update AFTER UPDATE OF merchant_id, location_id, kind, deleted_at ON instruments
WHEN (OLD.deleted_at = 0) <> (NEW.deleted_at = 0) OR OLD.merchant_id <> NEW.merchant_id
    OR OLD.location_id <> NEW.location_id OR OLD.kind <> NEW.kind
BEGIN
    UPDATE instrument_counts SET n = n - 1
    WHERE OLD.deleted_at = 0 AND merchant_id = OLD.merchant_id AND location_id = OLD.location_id AND kind = OLD.kind;
    INSERT INTO instrument_counts (merchant_id, location_id, kind, n)
    SELECT NEW.merchant_id, NEW.location_id, NEW.kind, 1 WHERE NEW.deleted_at = 0
    ON CONFLICT (merchant_id, location_id, kind) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER instruments_count_delete AFTER DELETE ON instruments WHEN OLD.deleted_at = 0
BEGIN
    UPDATE instrument_counts SET n = n - 1
    WHERE merchant_id = OLD.merchant_id AND location_id = OLD.location_id AND kind = OLD.kind;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER instruments_count_delete;
DROP TRIGGER instruments_count_update;
DROP TABLE instrument_counts;
