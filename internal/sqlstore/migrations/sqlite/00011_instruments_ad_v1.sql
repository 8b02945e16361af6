-- +goose Up
-- The instruments still sealed without their payment token (ad_version 1, 00010), for the
-- re-encryption job and the count in payvault keys status: at first every card and bank
-- account that holds sealed data, then none once the job has re-sealed them, so a new card,
-- sealed with version 2, never enters it. IF NOT EXISTS: see 00008.
CREATE INDEX IF NOT EXISTS instruments_ad_v1 ON instruments (id) WHERE ad_version = 1 AND dek_id <> 0;

-- +goose Down
DROP INDEX instruments_ad_v1;
