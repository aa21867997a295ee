-- Keys every replica must share when the configuration sets none (the changes cursor key, the
-- webhook sealing key): made once by the first replica, read by the others.
CREATE TABLE gateway_keys (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
