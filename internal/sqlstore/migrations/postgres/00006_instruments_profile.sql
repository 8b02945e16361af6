-- +goose Up
-- A profile's instruments had two indexes, (profile_id, kind) and (profile_id, fingerprint),
-- and a card create inserted into both: two random pages of the write batch per card. One index
-- serves both the profile's lists and the duplicate-card check, which always name the profile.
DROP INDEX instruments_fingerprint;
DROP INDEX instruments_profile;
CREATE INDEX instruments_profile ON instruments (profile_id, kind, fingerprint) WHERE profile_id <> '';

-- +goose Down
DROP INDEX instruments_profile;
CREATE INDEX instruments_profile ON instruments (profile_id, kind) WHERE profile_id <> '';
CREATE INDEX instruments_fingerprint ON instruments (profile_id, fingerprint) WHERE fingerprint <> '';
