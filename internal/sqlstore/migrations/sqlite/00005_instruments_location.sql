-- +goose Up
-- A Fortis list counts the merchant's active vaults of its locations (meta.pagination.totalCount)
-- on every page. Through instruments_merchant that count read every row of the table; this index
-- holds the columns it filters on, so the count reads the index alone.
CREATE INDEX instruments_location ON instruments (merchant_id, location_id, kind, id) WHERE deleted_at = 0;

-- +goose Down
DROP INDEX instruments_location;
