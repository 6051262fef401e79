-- Document 003: the follow graph, the counters a posts service keeps, and the user
-- directory's indexes (substring search, orderings, the total of active users).

CREATE TABLE follows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    follower_id  BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    following_id BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    UNIQUE (follower_id, following_id)
);
CREATE INDEX follows_following ON follows (following_id, follower_id);

-- Set by a posts service through the staff endpoint; userd only keeps them.
ALTER TABLE users ADD COLUMN posts_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN likes_received BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN comments_received BIGINT NOT NULL DEFAULT 0;

-- Each ordering of the directory, over active users only, read from either end.
CREATE INDEX users_dir_username ON users (username_key, id) WHERE is_active;
CREATE INDEX users_dir_created ON users (created_at, id) WHERE is_active;
CREATE INDEX users_dir_first ON users (lower(first_name), id) WHERE is_active;
CREATE INDEX users_dir_last ON users (lower(last_name), id) WHERE is_active;
-- The few inactive users, so a search's total can subtract theirs without a join.
CREATE INDEX users_inactive ON users (id) WHERE NOT is_active;

-- Substring search (three characters or more) over the searchable fields, kept in step
-- with `users` by triggers, so in the same transaction as the row.
CREATE VIRTUAL TABLE users_search USING fts5(
    username, first_name, last_name, bio,
    content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, username, first_name, last_name, bio)
    VALUES (new.id, new.username, new.first_name, new.last_name, new.bio);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, username, first_name, last_name, bio)
    VALUES ('delete', old.id, old.username, old.first_name, old.last_name, old.bio);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF username, first_name, last_name, bio ON users BEGIN
    INSERT INTO users_search (users_search, rowid, username, first_name, last_name, bio)
    VALUES ('delete', old.id, old.username, old.first_name, old.last_name, old.bio);
    INSERT INTO users_search (rowid, username, first_name, last_name, bio)
    VALUES (new.id, new.username, new.first_name, new.last_name, new.bio);
END;

-- The number of active users, so the directory's total is not a count of a million rows.
CREATE TABLE directory_totals (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    active_users BIGINT  NOT NULL
);
INSERT INTO directory_totals (id, active_users) SELECT 1, COUNT(*) FROM users WHERE is_active;

CREATE TRIGGER directory_totals_insert AFTER INSERT ON users WHEN new.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users + 1 WHERE id = 1;
END;
CREATE TRIGGER directory_totals_delete AFTER DELETE ON users WHEN old.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users - 1 WHERE id = 1;
END;
CREATE TRIGGER directory_totals_update AFTER UPDATE OF is_active ON users WHEN old.is_active <> new.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users + (CASE WHEN new.is_active THEN 1 ELSE -1 END) WHERE id = 1;
END;
