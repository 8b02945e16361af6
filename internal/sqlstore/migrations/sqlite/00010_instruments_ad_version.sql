-- +goose Up
-- The associated data of an instrument's sealed fields binds its payment token since this
-- release (keys.AD.Token, "payvault/v2"), so that a database writer who swaps two cards'
-- tokens makes neither open. ad_version says which binding a row's fields have: 1 for every
-- row sealed before (merchant, record and field only), 2 for every row sealed now. The
-- re-encryption job re-seals the rows of version 1 and sets 2; 00011 indexes them. Readers
-- never trust the column: they try the version 2 binding first and fall back to version 1.
-- A constant default: adding the column rewrites no row.
ALTER TABLE instruments ADD COLUMN ad_version INTEGER NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE instruments DROP COLUMN ad_version;
