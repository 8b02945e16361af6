-- +goose Up
-- PostgreSQL only (its 00015 restores transactions_merchant for its generic plans); SQLite
-- reads a transaction by merchant and id through the primary key. Kept so both engines number
-- their migrations alike.
SELECT 1;

-- +goose Down
SELECT 1;
