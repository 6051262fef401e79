-- The directory's change log: one row per version, written by the triggers that move the
-- version, in the same transaction (so in the order of commits), holding the user as the
-- directory's filters see and its cards show them, before and after. A side is NULL when
-- the user did not exist or was inactive then. A node that counted a filter at one version
-- adds, for each later change, whether the user matches now less whether they matched
-- then, instead of counting again, and keeps the pages it read up to date the same way.
-- It is pruned by version, not by age (so it has no `created_at` of its own), and a version
-- it does not hold (pruned, or moved by a bulk write that logged nothing) means: count
-- again.
CREATE TABLE directory_changes (
    version          INTEGER PRIMARY KEY,
    user_id          BIGINT  NOT NULL,
    old_username_key TEXT,
    old_username     TEXT,
    old_first_name   TEXT,
    old_last_name    TEXT,
    old_bio          TEXT,
    old_created_at   BIGINT,
    old_avatar       TEXT,
    new_username_key TEXT,
    new_username     TEXT,
    new_first_name   TEXT,
    new_last_name    TEXT,
    new_bio          TEXT,
    new_created_at   BIGINT,
    new_avatar       TEXT
);

DROP TRIGGER directory_totals_insert;
DROP TRIGGER directory_totals_delete;
DROP TRIGGER directory_totals_update;
DROP TRIGGER directory_version_update;
CREATE TRIGGER directory_totals_insert AFTER INSERT ON users WHEN new.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users + 1, version = version + 1 WHERE id = 1;
    INSERT INTO directory_changes (version, user_id,
        new_username_key, new_username, new_first_name, new_last_name, new_bio, new_created_at, new_avatar)
    SELECT version, new.id,
        new.username_key, new.username, new.first_name, new.last_name, new.bio, new.created_at, new.avatar
    FROM directory_totals WHERE id = 1;
END;
CREATE TRIGGER directory_totals_delete AFTER DELETE ON users WHEN old.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users - 1, version = version + 1 WHERE id = 1;
    INSERT INTO directory_changes (version, user_id,
        old_username_key, old_username, old_first_name, old_last_name, old_bio, old_created_at, old_avatar)
    SELECT version, old.id,
        old.username_key, old.username, old.first_name, old.last_name, old.bio, old.created_at, old.avatar
    FROM directory_totals WHERE id = 1;
END;
CREATE TRIGGER directory_totals_update AFTER UPDATE OF is_active ON users WHEN old.is_active <> new.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users + (CASE WHEN new.is_active THEN 1 ELSE -1 END),
        version = version + 1 WHERE id = 1;
    INSERT INTO directory_changes (version, user_id,
        old_username_key, old_username, old_first_name, old_last_name, old_bio, old_created_at, old_avatar,
        new_username_key, new_username, new_first_name, new_last_name, new_bio, new_created_at, new_avatar)
    SELECT version, new.id,
        CASE WHEN old.is_active THEN old.username_key END, CASE WHEN old.is_active THEN old.username END,
        CASE WHEN old.is_active THEN old.first_name END, CASE WHEN old.is_active THEN old.last_name END,
        CASE WHEN old.is_active THEN old.bio END, CASE WHEN old.is_active THEN old.created_at END,
        CASE WHEN old.is_active THEN old.avatar END,
        CASE WHEN new.is_active THEN new.username_key END, CASE WHEN new.is_active THEN new.username END,
        CASE WHEN new.is_active THEN new.first_name END, CASE WHEN new.is_active THEN new.last_name END,
        CASE WHEN new.is_active THEN new.bio END, CASE WHEN new.is_active THEN new.created_at END,
        CASE WHEN new.is_active THEN new.avatar END
    FROM directory_totals WHERE id = 1;
END;
-- What a directory card shows, a search matches or an ordering sorts by, of a user the
-- directory shows (the username's lookup key too: short terms match it).
CREATE TRIGGER directory_version_update
AFTER UPDATE OF username, username_key, first_name, last_name, bio, avatar, created_at ON users
WHEN new.is_active AND old.is_active AND (old.username IS NOT new.username
    OR old.username_key IS NOT new.username_key OR old.first_name IS NOT new.first_name
    OR old.last_name IS NOT new.last_name OR old.bio IS NOT new.bio OR old.avatar IS NOT new.avatar
    OR old.created_at IS NOT new.created_at) BEGIN
    UPDATE directory_totals SET version = version + 1 WHERE id = 1;
    INSERT INTO directory_changes (version, user_id,
        old_username_key, old_username, old_first_name, old_last_name, old_bio, old_created_at, old_avatar,
        new_username_key, new_username, new_first_name, new_last_name, new_bio, new_created_at, new_avatar)
    SELECT version, new.id,
        old.username_key, old.username, old.first_name, old.last_name, old.bio, old.created_at, old.avatar,
        new.username_key, new.username, new.first_name, new.last_name, new.bio, new.created_at, new.avatar
    FROM directory_totals WHERE id = 1;
END;
