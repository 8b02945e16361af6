-- +goose Up
-- The audit log: one hash chain per merchant ('' is the system chain), each record MACed with
-- the audit key over its fields and the previous record's MAC. It never holds secrets.
CREATE TABLE audit_log (
    merchant_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    op          TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    record_type TEXT NOT NULL DEFAULT '',
    record_id   TEXT NOT NULL DEFAULT '',
    prev_mac    BYTEA NOT NULL,
    mac         BYTEA NOT NULL,
    PRIMARY KEY (merchant_id, seq)
);

-- The head of each chain, so that appends serialise per merchant and truncation shows.
CREATE TABLE audit_heads (
    merchant_id TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    mac         BYTEA NOT NULL
);

-- +goose Down
DROP TABLE audit_heads;
DROP TABLE audit_log;
