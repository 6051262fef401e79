-- Documents 000 and 001: personal API tokens, uploaded files, Stripe billing.

-- One personal API token per user: a SHA-256 for lookup and an AES-256-GCM ciphertext
-- (key derived from USERD_SECRET_KEY) so the API can show it again.
CREATE TABLE api_tokens (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB   NOT NULL UNIQUE,
    token_enc  BLOB   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE files (
    id           TEXT   PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    size         BIGINT NOT NULL DEFAULT 0,
    sha256       TEXT,
    status       TEXT   NOT NULL,
    storage_key  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX files_user_status ON files (user_id, status);
CREATE INDEX files_status_created ON files (status, created_at);

ALTER TABLE users ADD COLUMN stripe_customer_id TEXT;
CREATE UNIQUE INDEX users_stripe_customer_id ON users (stripe_customer_id);

-- Stripe events already handled, so a redelivered event is applied once.
CREATE TABLE stripe_events (
    id         TEXT   PRIMARY KEY,
    type       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
