-- Every node keeps the users (and the owners of API tokens) it reads most; these triggers
-- tell every listening node, in the changing transaction, which users changed, whichever
-- process made the change. Many rows at once (a bulk update) send one 'all'.
CREATE OR REPLACE FUNCTION notify_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT;
    changed RECORD;
BEGIN
    SELECT count(*) INTO n FROM old_rows;
    IF n > 64 THEN
        PERFORM pg_notify('userd_users', 'all');
    ELSE
        FOR changed IN SELECT DISTINCT id FROM old_rows LOOP
            PERFORM pg_notify('userd_users', changed.id::text);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION notify_api_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT;
    changed RECORD;
BEGIN
    SELECT count(*) INTO n FROM old_rows;
    IF n > 64 THEN
        PERFORM pg_notify('userd_users', 'all');
    ELSE
        FOR changed IN SELECT DISTINCT user_id FROM old_rows LOOP
            PERFORM pg_notify('userd_users', changed.user_id::text);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notify_users_changed();
CREATE TRIGGER users_notify_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notify_users_changed();
CREATE TRIGGER api_tokens_notify_update AFTER UPDATE ON api_tokens
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notify_api_tokens_changed();
CREATE TRIGGER api_tokens_notify_delete AFTER DELETE ON api_tokens
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION notify_api_tokens_changed();
