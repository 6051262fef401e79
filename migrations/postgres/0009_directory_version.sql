-- A version of what the directory shows, moved in the same transaction as any change to
-- it: nodes cache counts and pages of the directory under the version they were read at,
-- so a cached answer is only ever served while nothing it depends on has changed.
ALTER TABLE directory_totals ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION directory_totals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added BIGINT;
BEGIN
    SELECT count(*) INTO added FROM new_rows WHERE is_active;
    IF added <> 0 THEN
        UPDATE directory_totals SET active_users = active_users + added, version = version + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION directory_totals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    removed BIGINT;
BEGIN
    SELECT count(*) INTO removed FROM old_rows WHERE is_active;
    IF removed <> 0 THEN
        UPDATE directory_totals SET active_users = active_users - removed, version = version + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION directory_totals_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT;
    changed BIGINT;
BEGIN
    SELECT count(*) FILTER (WHERE n.is_active AND NOT o.is_active) - count(*) FILTER (WHERE o.is_active AND NOT n.is_active),
           count(*) FILTER (WHERE (n.is_active OR o.is_active)
               AND (n.is_active, n.username, n.first_name, n.last_name, n.bio, n.avatar)
                   IS DISTINCT FROM (o.is_active, o.username, o.first_name, o.last_name, o.bio, o.avatar))
    INTO delta, changed
    FROM new_rows n JOIN old_rows o USING (id);
    IF changed <> 0 THEN
        UPDATE directory_totals SET active_users = active_users + delta, version = version + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;
