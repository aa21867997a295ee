-- Webhook secret rotation: the secret a rotation replaced (sealed like `secret`) keeps signing
-- deliveries, next to the new one, until `previous_secret_expires_at` (unix ms, the gateway's
-- clock, as every webhook time). A later rotation overwrites both; NULL: no previous secret.
ALTER TABLE webhook_subscriptions
    ADD COLUMN previous_secret TEXT,
    ADD COLUMN previous_secret_expires_at BIGINT;
