-- Users of every surface, their login sessions, the refresh blacklist and signing keys.
-- Timestamps are microseconds since the Unix epoch (UTC), the same on both backends.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id         TEXT    NOT NULL UNIQUE,
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL UNIQUE,
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    username            TEXT    NOT NULL,
    username_key        TEXT    NOT NULL UNIQUE,
    password_hash       TEXT,
    first_name          TEXT    NOT NULL DEFAULT '',
    last_name           TEXT    NOT NULL DEFAULT '',
    company_name        TEXT    NOT NULL DEFAULT '',
    bio                 TEXT    NOT NULL DEFAULT '',
    avatar              TEXT,
    tz                  TEXT,
    plan                TEXT,
    subscription_status TEXT,
    is_staff            BOOLEAN NOT NULL DEFAULT FALSE,
    is_active           BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id          TEXT   PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT   NOT NULL,
    secret_hash BLOB,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE refresh_blacklist (
    jti        TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_blacklist_expires_at ON refresh_blacklist (expires_at);

CREATE TABLE signing_keys (
    kid         TEXT   PRIMARY KEY,
    alg         TEXT   NOT NULL,
    private_enc BLOB   NOT NULL,
    public      BLOB   NOT NULL,
    created_at  BIGINT NOT NULL
);
