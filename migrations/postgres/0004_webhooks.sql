-- Webhooks shared by every replica: subscriptions (secrets sealed), the outbox with its retry
-- schedule and its claims (which replica is sending a delivery, until when: database clock), the
-- attempt log, and the fan-out cursor (the last event sequence number turned into outbox rows).
-- Times the gateway computes (schedules, logs) are unix milliseconds, as in the embedded store.
CREATE TABLE webhook_subscriptions (
    id            TEXT PRIMARY KEY,
    partner       TEXT NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    secret        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'failing')),
    from_seq      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    failing_since BIGINT
);
CREATE INDEX webhook_subscriptions_partner ON webhook_subscriptions (partner, created_at);

CREATE TABLE webhook_outbox (
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    round_attempts  BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      UUID,
    claimed_until   TIMESTAMPTZ,
    PRIMARY KEY (subscription_id, event_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_attempt_at);
CREATE INDEX webhook_outbox_sub_pending ON webhook_outbox (subscription_id, event_seq)
    WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    id              BIGSERIAL PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    status          TEXT NOT NULL,
    response_code   INTEGER,
    error           TEXT,
    duration_ms     BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_sub ON webhook_attempts (subscription_id, at);

CREATE TABLE webhook_fanout (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO webhook_fanout (id, seq) VALUES (1, 0);
