-- +goose Up
-- A Fortis list answers totalCount on every page: a COUNT(*) over every active vault of the
-- location, linear in the vaults (27-38 lists/s at about 67,000 vaults, a sequential scan of
-- 100 ms each; 15 ms once VACUUM lets it scan the index alone).
--
-- instrument_counts holds signed changes to the count of active instruments per merchant,
-- location and kind; a count is their sum. Rows are only ever added by writers, never
-- updated, so the nodes' batches never queue on one another here, as they would on a counter
-- row per location. A batch adds one row per key for the instruments it inserted
-- (txConn.counted); the triggers below add one per update or delete that changes a count,
-- which are rare. A reader that sums many rows folds the merchant's rows into one per key
-- (Store.foldCounts), so a count stays a read of a few rows.
CREATE TABLE instrument_counts (
    merchant_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    n           BIGINT NOT NULL
);
CREATE INDEX instrument_counts_key ON instrument_counts (merchant_id, location_id, kind) INCLUDE (n);

INSERT INTO instrument_counts (merchant_id, location_id, kind, n)
SELECT merchant_id, location_id, kind, COUNT(*) FROM instruments WHERE deleted_at = 0
GROUP BY merchant_id, location_id, kind;

-- +goose StatementBegin
CREATE FUNCTION instruments_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.deleted_at = 0 THEN
        INSERT INTO instrument_counts (merchant_id, location_id, kind, n)
        VALUES (OLD.merchant_id, OLD.location_id, OLD.kind, -1);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.deleted_at = 0 THEN
        INSERT INTO instrument_counts (merchant_id, location_id, kind, n)
        VALUES (NEW.merchant_id, NEW.location_id, NEW.kind, 1);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER instruments_count_update AFTER UPDATE OF merchant_id, location_id, kind, deleted_at ON instruments
FOR EACH ROW WHEN ((OLD.deleted_at = 0) <> (NEW.deleted_at = 0) OR OLD.merchant_id <> NEW.merchant_id
    OR OLD.location_id <> NEW.location_id OR OLD.kind <> NEW.kind)
EXECUTE FUNCTION instruments_count_change();

CREATE TRIGGER instruments_count_delete AFTER DELETE ON instruments
FOR EACH ROW WHEN (OLD.deleted_at = 0)
EXECUTE FUNCTION instruments_count_change();

-- +goose Down
DROP TRIGGER instruments_count_delete ON instruments;
DROP TRIGGER instruments_count_update ON instruments;
DROP FUNCTION instruments_count_change();
DROP TABLE instrument_counts;
