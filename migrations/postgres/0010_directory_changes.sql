-- The directory's change log: one row per version, written by the triggers that move the
-- version, in the same transaction (the row lock on `directory_totals` orders writers, so
-- versions follow the order of commits), holding each user as the directory's filters see
-- and its cards show them, before and after. A side is NULL when the user did not exist or
-- was inactive then. A node that counted a filter at one version adds, for each later
-- change, whether the user matches now less whether they matched then, instead of counting
-- again, and keeps the pages it read up to date the same way. It is pruned by version, not
-- by age (so it has no `created_at` of its own), and a version it does not hold (pruned,
-- or moved by a bulk statement of more than 1,000 rows, which logs nothing) means: count
-- again.
CREATE TABLE directory_changes (
    version          BIGINT PRIMARY KEY,
    user_id          BIGINT NOT NULL,
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

CREATE OR REPLACE FUNCTION directory_totals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added BIGINT;
    top BIGINT;
BEGIN
    SELECT count(*) INTO added FROM new_rows WHERE is_active;
    IF added = 0 THEN
        RETURN NULL;
    ELSIF added > 1000 THEN
        UPDATE directory_totals SET active_users = active_users + added, version = version + 1 WHERE id = 1;
        RETURN NULL;
    END IF;
    UPDATE directory_totals SET active_users = active_users + added, version = version + added WHERE id = 1
    RETURNING version INTO top;
    IF top IS NULL THEN
        RETURN NULL; -- no totals row: `copy-data` is replacing it
    END IF;
    INSERT INTO directory_changes (version, user_id,
        new_username_key, new_username, new_first_name, new_last_name, new_bio, new_created_at, new_avatar)
    SELECT top - added + row_number() OVER (ORDER BY id), id, username_key, username, first_name, last_name, bio,
        created_at, avatar
    FROM new_rows WHERE is_active;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION directory_totals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    removed BIGINT;
    top BIGINT;
BEGIN
    SELECT count(*) INTO removed FROM old_rows WHERE is_active;
    IF removed = 0 THEN
        RETURN NULL;
    ELSIF removed > 1000 THEN
        UPDATE directory_totals SET active_users = active_users - removed, version = version + 1 WHERE id = 1;
        RETURN NULL;
    END IF;
    UPDATE directory_totals SET active_users = active_users - removed, version = version + removed WHERE id = 1
    RETURNING version INTO top;
    IF top IS NULL THEN
        RETURN NULL; -- no totals row: `copy-data` is replacing it
    END IF;
    INSERT INTO directory_changes (version, user_id,
        old_username_key, old_username, old_first_name, old_last_name, old_bio, old_created_at, old_avatar)
    SELECT top - removed + row_number() OVER (ORDER BY id), id, username_key, username, first_name, last_name, bio,
        created_at, avatar
    FROM old_rows WHERE is_active;
    RETURN NULL;
END
$$;
-- What a directory card shows, a search matches or an ordering sorts by, of a user the
-- directory shows (the username's lookup key too: short terms match it).
CREATE OR REPLACE FUNCTION directory_totals_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT;
    changed BIGINT;
    top BIGINT;
BEGIN
    SELECT count(*) FILTER (WHERE n.is_active AND NOT o.is_active) - count(*) FILTER (WHERE o.is_active AND NOT n.is_active),
           count(*) FILTER (WHERE (n.is_active OR o.is_active)
               AND (n.is_active, n.username, n.username_key, n.first_name, n.last_name, n.bio, n.avatar, n.created_at)
                   IS DISTINCT FROM (o.is_active, o.username, o.username_key, o.first_name, o.last_name, o.bio, o.avatar, o.created_at))
    INTO delta, changed
    FROM new_rows n JOIN old_rows o USING (id);
    IF changed = 0 THEN
        RETURN NULL;
    ELSIF changed > 1000 THEN
        UPDATE directory_totals SET active_users = active_users + delta, version = version + 1 WHERE id = 1;
        RETURN NULL;
    END IF;
    UPDATE directory_totals SET active_users = active_users + delta, version = version + changed WHERE id = 1
    RETURNING version INTO top;
    IF top IS NULL THEN
        RETURN NULL; -- no totals row: `copy-data` is replacing it
    END IF;
    INSERT INTO directory_changes (version, user_id,
        old_username_key, old_username, old_first_name, old_last_name, old_bio, old_created_at, old_avatar,
        new_username_key, new_username, new_first_name, new_last_name, new_bio, new_created_at, new_avatar)
    SELECT top - changed + row_number() OVER (ORDER BY id), id,
        CASE WHEN o.is_active THEN o.username_key END, CASE WHEN o.is_active THEN o.username END,
        CASE WHEN o.is_active THEN o.first_name END, CASE WHEN o.is_active THEN o.last_name END,
        CASE WHEN o.is_active THEN o.bio END, CASE WHEN o.is_active THEN o.created_at END,
        CASE WHEN o.is_active THEN o.avatar END,
        CASE WHEN n.is_active THEN n.username_key END, CASE WHEN n.is_active THEN n.username END,
        CASE WHEN n.is_active THEN n.first_name END, CASE WHEN n.is_active THEN n.last_name END,
        CASE WHEN n.is_active THEN n.bio END, CASE WHEN n.is_active THEN n.created_at END,
        CASE WHEN n.is_active THEN n.avatar END
    FROM new_rows n JOIN old_rows o USING (id)
    WHERE (n.is_active OR o.is_active)
        AND (n.is_active, n.username, n.username_key, n.first_name, n.last_name, n.bio, n.avatar, n.created_at)
            IS DISTINCT FROM (o.is_active, o.username, o.username_key, o.first_name, o.last_name, o.bio, o.avatar, o.created_at);
    RETURN NULL;
END
$$;
