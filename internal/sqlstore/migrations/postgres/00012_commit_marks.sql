-- +goose Up
-- Commit marks (commitlost.go): each PostgreSQL write transaction inserts a random mark just
-- before its COMMIT, so that when the COMMIT's answer is lost the committer can tell from the
-- mark alone whether it committed, and fence it off when it did not (claimed: a committer
-- inserted the mark after the transaction was lost, so the transaction can never commit).
-- Marks older than commitMarkKeep are deleted (Store.pruneCommitMarks). IF NOT EXISTS: see
-- 00008.
CREATE TABLE IF NOT EXISTS commit_marks (
    mark BYTEA PRIMARY KEY,
    claimed BOOLEAN NOT NULL DEFAULT FALSE,
    -- at is when the mark was made, in ms since the epoch, by the server's clock (one clock
    -- for every node, for the pruning).
    at BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT
);

-- +goose Down
DROP TABLE commit_marks;
