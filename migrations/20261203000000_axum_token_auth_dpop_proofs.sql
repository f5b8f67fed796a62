-- The ids of DPoP proofs already used (RFC 9449 §11.1; store::ProofReplay): 16 bytes of
-- the SHA-256 of the proof key's thumbprint and the proof's jti, kept until the end of
-- the proof's window (seconds since the epoch). An id is claimed by one
-- INSERT … ON CONFLICT, so of any number of instances exactly one accepts a proof;
-- expired rows are reused in place and deleted in bounded batches.
CREATE TABLE token_auth_dpop_proofs (
    id         bytea  PRIMARY KEY CHECK (octet_length(id) = 16),
    expires_at bigint NOT NULL
);
CREATE INDEX token_auth_dpop_proofs_expires_at_idx ON token_auth_dpop_proofs (expires_at);
