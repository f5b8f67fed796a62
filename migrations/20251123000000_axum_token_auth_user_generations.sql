-- A subject's generation: "revoke everything of this user" is one increment here; tokens
-- carrying an older generation (claim `gen`) are refused.
CREATE TABLE token_auth_user_generations (
    subject    text   PRIMARY KEY,
    generation bigint NOT NULL CHECK (generation >= 0)
);
