-- +goose Up
-- A transaction found by merchant and id (a payment's completion, GetTransaction) needs an
-- index that both bound. 00014 dropped transactions_merchant for transactions_location
-- (merchant_id, location_id, api, id, status), where only merchant_id bounds such a read: a
-- generic plan made while the table was empty, or one that rates a merchant as rare, read the
-- merchant's whole range for one row (TestCompleteReceivedPlanCached). IF NOT EXISTS: see 00008.
CREATE INDEX IF NOT EXISTS transactions_merchant ON transactions (merchant_id, id);

-- +goose Down
DROP INDEX IF EXISTS transactions_merchant;
