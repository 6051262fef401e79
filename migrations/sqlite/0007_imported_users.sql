-- Users brought in by `userd import django`, by their id in the system they came from:
-- a re-run skips them, and the legacy tokens that name them (simplejwt's `user_id`)
-- find them.
CREATE TABLE imported_users (
    source     TEXT   NOT NULL,
    legacy_id  TEXT   NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (source, legacy_id)
);
CREATE INDEX imported_users_user ON imported_users (user_id);

-- The signing secret of the tokens Django's simplejwt issued (its SECRET_KEY), sealed
-- with USERD_SECRET_KEY, so every node sharing the database accepts them until they
-- expire. `tracks_outstanding`: simplejwt's outstanding refresh tokens were imported as
-- sessions, so a refresh token without one is refused.
CREATE TABLE legacy_jwt_secrets (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    secret_enc         BLOB    NOT NULL,
    tracks_outstanding BOOLEAN NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);
