-- +goose Up
-- The node that recorded a transaction RECEIVED and completes it ('' when unknown). Once that
-- node is known to be gone (killed, crashed), any node may resolve the transaction at once
-- instead of waiting out the processor timeout (payments.Recover).
ALTER TABLE transactions ADD COLUMN node_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE transactions DROP COLUMN node_id;
