-- +goose Up
-- The retention job (EraseSealed, hourly and at start, on the one writer) looked for records
-- past retention that still hold sealed data by reading every instrument and every
-- transaction: 162 ms of the writer at 200,000 of each, seconds at millions. These indexes
-- hold only the records that still hold sealed data (dek_id <> 0; erasing sets it to 0), in
-- the order retention reaches them. A live card is never in the first, so a card create does
-- not write it; a transaction enters the second at its right end. IF NOT EXISTS lets an
-- operator build them beforehand with CREATE INDEX CONCURRENTLY (docs/operations.md).
CREATE INDEX IF NOT EXISTS instruments_erasable ON instruments (deleted_at) WHERE deleted_at <> 0 AND dek_id <> 0;
CREATE INDEX IF NOT EXISTS transactions_erasable ON transactions (created_at) WHERE dek_id <> 0;

-- +goose Down
DROP INDEX transactions_erasable;
DROP INDEX instruments_erasable;
