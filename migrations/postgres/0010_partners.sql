-- Partners managed through the operator API, shared by every replica: profiles (JSON),
-- secrets (argon2 hashes only), the generation every replica polls, the operator audit trail,
-- hourly usage, last seen, and invites (the token's SHA-256 only).
-- A revoked partner stays as a tombstone (`revoked_at`): its id and client id are never reused.
CREATE TABLE partners (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL UNIQUE,
    doc        TEXT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE partner_secrets (
    id           TEXT PRIMARY KEY,
    seq          BIGSERIAL NOT NULL,
    partner      TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX partner_secrets_partner ON partner_secrets (partner, seq);
CREATE TABLE partner_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO partner_generation (id, generation) VALUES (1, 0);
CREATE TABLE operator_audit (
    seq     BIGSERIAL PRIMARY KEY,
    at_ms   BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    partner TEXT,
    status  INTEGER NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX operator_audit_partner ON operator_audit (partner, seq);
CREATE TABLE partner_usage (
    partner        TEXT NOT NULL,
    hour           BIGINT NOT NULL,
    status         INTEGER NOT NULL,
    requests       BIGINT NOT NULL,
    upstream_calls BIGINT NOT NULL,
    PRIMARY KEY (partner, hour, status)
);
CREATE TABLE partner_last_seen (
    partner TEXT PRIMARY KEY,
    at      BIGINT NOT NULL
);
CREATE TABLE partner_invites (
    token_hash  TEXT PRIMARY KEY,
    grant_doc   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT,
    created_by  TEXT NOT NULL
);
