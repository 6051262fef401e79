-- Provider identities (Google, GitHub) linked to users. A sign-in finds its user by
-- (provider, subject), the provider's stable id of the person, so a change of e-mail on
-- either side keeps the link. One identity per provider and user.
CREATE TABLE user_identities (
    provider      TEXT   NOT NULL,
    subject       TEXT   NOT NULL,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The provider's verified e-mail at the last sign-in.
    email         TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);
