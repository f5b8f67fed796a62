-- When, why and by whom a token was revoked (RevocationStore::revoke_noted); optional.
ALTER TABLE revoked_tokens ADD COLUMN IF NOT EXISTS revoked_at bigint;
ALTER TABLE revoked_tokens ADD COLUMN IF NOT EXISTS reason text;
ALTER TABLE revoked_tokens ADD COLUMN IF NOT EXISTS revoked_by text;
