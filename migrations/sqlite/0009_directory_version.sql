-- A version of what the directory shows, moved in the same transaction as any change to
-- it: nodes cache counts and pages of the directory under the version they were read at,
-- so a cached answer is only ever served while nothing it depends on has changed.
ALTER TABLE directory_totals ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

DROP TRIGGER directory_totals_insert;
DROP TRIGGER directory_totals_delete;
DROP TRIGGER directory_totals_update;
CREATE TRIGGER directory_totals_insert AFTER INSERT ON users WHEN new.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users + 1, version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER directory_totals_delete AFTER DELETE ON users WHEN old.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users - 1, version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER directory_totals_update AFTER UPDATE OF is_active ON users WHEN old.is_active <> new.is_active BEGIN
    UPDATE directory_totals SET active_users = active_users + (CASE WHEN new.is_active THEN 1 ELSE -1 END),
        version = version + 1 WHERE id = 1;
END;
-- What a directory card shows or a search matches, of a user the directory shows.
CREATE TRIGGER directory_version_update AFTER UPDATE OF username, first_name, last_name, bio, avatar ON users
WHEN new.is_active AND old.is_active AND (old.username IS NOT new.username OR old.first_name IS NOT new.first_name
    OR old.last_name IS NOT new.last_name OR old.bio IS NOT new.bio OR old.avatar IS NOT new.avatar) BEGIN
    UPDATE directory_totals SET version = version + 1 WHERE id = 1;
END;
