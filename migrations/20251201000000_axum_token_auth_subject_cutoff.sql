-- "Revoke everything of a user" covers tokens without a generation claim too: the last
-- issue instant it covers (seconds since the epoch; 0 = never). A token without `gen`
-- whose `iat` is at or before it is refused.
ALTER TABLE token_auth_user_generations
    ADD COLUMN issued_through bigint NOT NULL DEFAULT 0 CHECK (issued_through >= 0);
