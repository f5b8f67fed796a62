-- axum-token-auth PostgreSQL stores (feature `postgres`), applied by
-- `PostgresStore::migrate()` through `sqlx::migrate!("./migrations")`.
-- Times are seconds since the Unix epoch (bigint); token ids are stored only as
-- SHA-256 digests (bytea, 32 bytes). Plain CREATE statements: a name clash with an
-- existing table fails the migration (which sqlx runs in a transaction) instead of
-- silently reusing a foreign table.

-- Revoked token ids (RevocationStore), kept until the token would expire anyway.
CREATE TABLE revoked_tokens (
    digest     bytea  PRIMARY KEY CHECK (octet_length(digest) = 32),
    expires_at bigint NOT NULL
);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);

-- Refresh families (RefreshStore): one row per login.
CREATE TABLE refresh_families (
    id                  text   PRIMARY KEY,
    user_id             text   NOT NULL,
    created_at          bigint NOT NULL,
    last_used_at        bigint NOT NULL,
    expires_at          bigint NOT NULL,
    user_agent          text,
    -- the current refresh token and the access token issued with it
    current_digest      bytea  NOT NULL CHECK (octet_length(current_digest) = 32),
    current_access_jti  text   NOT NULL,
    -- the immediate parent, kept for the grace retry and compromise checks
    previous_digest     bytea  CHECK (octet_length(previous_digest) = 32),
    previous_access_jti text,
    previous_rotated_at bigint,
    previous_successor  jsonb,
    -- access tokens of the family that may still be alive: [{"jti": .., "expires_at": ..}]
    access              jsonb  NOT NULL DEFAULT '[]'::jsonb,
    CHECK ((previous_digest IS NULL) = (previous_successor IS NULL))
);
CREATE INDEX refresh_families_user_id_idx ON refresh_families (user_id, created_at);
CREATE INDEX refresh_families_expires_at_idx ON refresh_families (expires_at);

-- Scope grants (GrantStore).
CREATE TABLE scope_grants (
    tenant     text   NOT NULL,
    principal  text   NOT NULL,
    scope      text   NOT NULL,
    granted_by text   NOT NULL,
    granted_at bigint NOT NULL,
    PRIMARY KEY (tenant, principal, scope)
);

-- The append-only audit trail of grants and revokes.
CREATE TABLE scope_audit (
    id        bigserial PRIMARY KEY,
    tenant    text   NOT NULL,
    principal text   NOT NULL,
    scope     text   NOT NULL,
    action    text   NOT NULL CHECK (action IN ('grant', 'revoke')),
    actor     text   NOT NULL,
    at        bigint NOT NULL
);
CREATE INDEX scope_audit_tenant_idx ON scope_audit (tenant, id);
CREATE INDEX scope_audit_tenant_principal_idx ON scope_audit (tenant, principal, id);

CREATE FUNCTION scope_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'scope_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER scope_audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON scope_audit
    FOR EACH STATEMENT EXECUTE FUNCTION scope_audit_append_only();
