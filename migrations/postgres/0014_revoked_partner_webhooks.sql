-- Revoking a partner deletes its webhook subscriptions with their outbox and log; before that
-- fix a revocation kept them, and their deliveries waited, held, for an id that never comes back.
-- Once: the subscriptions such a revocation left (a partner revoked in `partners`, the
-- subscription created before its revocation; `revoked_at` is in seconds). A config partner later
-- given the id keeps the subscriptions it made itself. The same rule as the embedded store's
-- (`REVOKED_PARTNERS_SUBSCRIPTIONS`).
WITH s AS (DELETE FROM webhook_subscriptions s USING partners p
           WHERE p.id = s.partner AND p.revoked_at IS NOT NULL
             AND s.created_at < (p.revoked_at + 1) * 1000
           RETURNING s.id),
     o AS (DELETE FROM webhook_outbox WHERE subscription_id IN (SELECT id FROM s))
DELETE FROM webhook_attempts WHERE subscription_id IN (SELECT id FROM s);
