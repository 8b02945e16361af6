-- +goose Up
-- Commit marks (commitlost.go) are written on PostgreSQL only: SQLite commits in this
-- process, so no COMMIT's answer is lost. The table is here so that both engines have the
-- same schema and versions (copy-store). IF NOT EXISTS: see 00008.
CREATE TABLE IF NOT EXISTS commit_marks (
    mark BLOB PRIMARY KEY,
    claimed INTEGER NOT NULL DEFAULT 0,
    at INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE commit_marks;
