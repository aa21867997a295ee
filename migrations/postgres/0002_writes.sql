-- Hires: idempotency records (one per partner and Idempotency-Key) and write plans (the journal of
-- upstream steps). A key in flight and an open plan are held by one replica (`holder`) until
-- `lease_until` (the database's clock, so replicas' clock skew does not matter); the holder renews
-- the lease while it runs them, another replica takes them over only once it expired.
CREATE TABLE idempotency (
    partner     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    outcome     JSONB,
    expires_at  TIMESTAMPTZ NOT NULL,
    holder      UUID,
    lease_until TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (partner, key)
);
CREATE INDEX idempotency_expiry ON idempotency (expires_at) WHERE state = 'completed';
CREATE INDEX idempotency_in_flight ON idempotency (lease_until) WHERE state = 'in_flight';

CREATE TABLE plans (
    id          UUID PRIMARY KEY,
    partner     TEXT NOT NULL,
    key         TEXT NOT NULL,
    open        BOOLEAN NOT NULL,
    doc         JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    holder      UUID,
    lease_until TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX plans_open ON plans (lease_until) WHERE open;
CREATE INDEX plans_key ON plans (partner, key) WHERE open;
CREATE INDEX plans_closed ON plans (updated_at) WHERE NOT open;

-- One row per step, so a journal write is one step's size; a closed plan keeps none.
CREATE TABLE plan_steps (
    plan UUID NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    idx  INTEGER NOT NULL,
    doc  JSONB NOT NULL,
    PRIMARY KEY (plan, idx)
);
