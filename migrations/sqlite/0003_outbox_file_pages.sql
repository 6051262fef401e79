-- Effects to carry out after a transaction commits (revocation announcements), written
-- in the same transaction as the change that causes them.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    -- Hidden from claimers until then: the deliverer's lease.
    due_at     BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX outbox_due ON outbox (due_at);

-- Keyset pages of a user's files, newest first.
CREATE INDEX files_user_created ON files (user_id, created_at DESC, id);
