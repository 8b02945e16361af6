-- +goose Up
-- GetInstrumentByAPIID looks for the active instrument with an api id in a location and, failing
-- that, the most recently deleted one. The unique index instruments_api_id holds active rows
-- only, so the fallback (and every miss) scanned the merchant's instruments; this index holds
-- deleted rows too.
CREATE INDEX instruments_api_id_any ON instruments (location_id, api_id) WHERE api_id <> '';

-- +goose Down
DROP INDEX instruments_api_id_any;
