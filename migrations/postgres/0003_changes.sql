-- The changes feed shared by every replica: fingerprints of what the scanner has seen, the event
-- log, the feed's counter and the scanner's lease. JSON is kept as text: the gateway renders it
-- with its keys in order, and jsonb would reorder them.
CREATE TABLE change_fingerprints (
    resource TEXT NOT NULL,
    id       UUID NOT NULL,
    company  TEXT NOT NULL,
    hash     TEXT NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (resource, id)
);

CREATE TABLE change_events (
    seq         BIGINT PRIMARY KEY,
    type        TEXT NOT NULL,
    resource_id UUID NOT NULL,
    company     TEXT NOT NULL,
    -- Unix ms, by the database's clock (one clock for every replica).
    occurred_at BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX change_events_occurred ON change_events (occurred_at);
-- A partner's page reads its companies in sequence order.
CREATE INDEX change_events_company ON change_events (lower(company), seq);

-- One row. `last_seq` is the cluster's sequence: bumped in the transaction that inserts the
-- events, so a rolled-back scan leaves no gap (a SEQUENCE would), and its row lock orders
-- recording transactions, so sequence order is commit order.
CREATE TABLE change_feed (
    id             SMALLINT PRIMARY KEY CHECK (id = 1),
    last_seq       BIGINT NOT NULL,
    purged_through BIGINT NOT NULL
);
INSERT INTO change_feed (id, last_seq, purged_through) VALUES (1, 0, 0);

-- Resources whose first complete scan has been recorded.
CREATE TABLE change_baselines (
    resource TEXT PRIMARY KEY
);

-- One row: which replica scans. `token` (the fence) grows on every change of holder; a scan is
-- recorded only while its token is current and unexpired (checked in the recording transaction).
CREATE TABLE change_scan_lease (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    holder     UUID,
    token      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    -- The last recorded scan, so a new holder keeps the cluster's interval.
    scanned_at TIMESTAMPTZ
);
INSERT INTO change_scan_lease (id, holder, token, expires_at) VALUES (1, NULL, 0, '-infinity');
