-- The account lifecycle: single-use tokens mailed to users (e-mail verification,
-- password reset), stored as SHA-256 hashes, and the security event log.

CREATE TABLE mail_tokens (
    token_hash BLOB   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'verify' or 'reset'
    purpose    TEXT   NOT NULL,
    -- The address the token was mailed to: a verification counts only while it is the user's.
    email_key  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX mail_tokens_user ON mail_tokens (user_id, purpose, created_at);
CREATE INDEX mail_tokens_expires_at ON mail_tokens (expires_at);

CREATE TABLE security_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT,
    created_at BIGINT  NOT NULL
);
CREATE INDEX security_events_user ON security_events (user_id, created_at, id);
CREATE INDEX security_events_created_at ON security_events (created_at);
