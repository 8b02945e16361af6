-- +goose Up
-- A Fortis transaction list pages a location's own transactions (api = 'fortis', answered) in
-- id order and counts them (meta.pagination.totalCount) on every page. Through
-- transactions_merchant (merchant_id, id) both read every transaction of the merchant, and a
-- page of a small location beside a large one read the large one's rows too. This index holds
-- a location's transactions of one API in id order, with the status the list filters on, so
-- that a page reads its own rows and the count reads the index alone (listSplit in
-- internal/sqlstore/list.go). It leads with the merchant, so it serves what
-- transactions_merchant served (a merchant's pending transactions), and replaces it: every
-- payment writes one index entry, as before. IF NOT EXISTS: see 00008.
CREATE INDEX IF NOT EXISTS transactions_location ON transactions (merchant_id, location_id, api, id, status);
DROP INDEX IF EXISTS transactions_merchant;

-- +goose Down
CREATE INDEX IF NOT EXISTS transactions_merchant ON transactions (merchant_id, id);
DROP INDEX transactions_location;
