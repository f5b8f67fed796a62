-- Every stored revocation and every "revoke everything of a user" is announced with
-- NOTIFY by a trigger, inside the writing transaction: PostgreSQL delivers it when (and
-- only if) that transaction commits, so a store keeping the revocations in process
-- memory (LISTEN) cannot miss a committed one, whoever wrote it.
--
-- The channel is named after the schema holding the table ('token_auth:' || schema,
-- cut to PostgreSQL's 63-byte identifier limit), so stores in different schemas of one
-- database never hear each other. Payloads:
--   r:{digest hex}:{expires_at}                    a revoked token
--   c:{generation}:{issued_through}:{subject}      a subject's cutoff
-- (Stores add a heartbeat, 'h', on the same channel.)

CREATE OR REPLACE FUNCTION token_auth_notify_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('token_auth:' || TG_TABLE_SCHEMA, 63),
                      'r:' || encode(NEW.digest, 'hex') || ':' || NEW.expires_at);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION token_auth_notify_cutoff() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('token_auth:' || TG_TABLE_SCHEMA, 63),
                      'c:' || NEW.generation || ':' || NEW.issued_through || ':' || NEW.subject);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS token_auth_notify ON revoked_tokens;
CREATE TRIGGER token_auth_notify
    AFTER INSERT OR UPDATE ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION token_auth_notify_revoked();

DROP TRIGGER IF EXISTS token_auth_notify ON token_auth_user_generations;
CREATE TRIGGER token_auth_notify
    AFTER INSERT OR UPDATE ON token_auth_user_generations
    FOR EACH ROW EXECUTE FUNCTION token_auth_notify_cutoff();
