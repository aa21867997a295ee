//! Webhook state on Postgres (`store::webhooks::WebhookStore`), shared by every replica.
//!
//! Deliveries are claimed: a replica takes the subscription's row lock (`FOR UPDATE SKIP LOCKED`,
//! so replicas never wait on each other) and, in the same short transaction, claims the oldest due
//! delivery unless another replica holds a live claim on one of that subscription's deliveries. A
//! claim names the replica and ends at `claimed_until`: recording the attempt ends it; a replica
//! that dies mid-send loses it when it expires, and another replica sends the same event (same
//! `webhook-id`). So each subscription has one sender in the cluster at a time, as with one process
//! (`webhooks::slots`, oldest due first).
//!
//! Every time a replica compares or stores for the others is the database clock's ([`DB_NOW_MS`],
//! `now()`): claim expiry, and the due time (`next_attempt_at`) of new, held, retried, re-enabled
//! and redelivered rows, callers giving waits, not times. With the replica's clock, one running
//! ahead would claim deliveries before they are due, one behind would hold them back. Only what is
//! logged or displayed (an attempt's `at`, `created_at`, `failing_since`), the 30-day purge and
//! secret rotation's grace (checked by the signing replica anyway) stay on the replica's clock.
//!
//! Fan-out locks the cursor row: the rows for events at or below the cursor were queued by whoever
//! moved it, and inserts are keyed by (subscription, event), so replicas fanning out the same
//! events at once queue each once. It reads the subscriptions under that lock, and a creation
//! reads its `from_seq` under it (`FOR SHARE`), so a subscription created during a pass is either
//! read by the pass or starts after the cursor the pass leaves.

use std::time::Duration;

use tokio_postgres::Row;

use super::{backend, queries, PgStore};
use crate::store::webhooks::{
    wait_ms, AfterAttempt, AttemptRow, FanOutRows, LoggedAttempt, NewSubscription, OutboxInsert,
    OutboxRow, PreviousSecret, Redeliver, SubscriptionRow, WebhookStore,
};
use crate::store::{BoxFuture, StoreError};

const SUB_COLUMNS: &str = "id, partner, url, events, secret, status, from_seq, created_at, failing_since, previous_secret, previous_secret_expires_at";

fn sub_row(r: &Row) -> Result<SubscriptionRow, StoreError> {
    let events: String = r.try_get(3).map_err(backend)?;
    Ok(SubscriptionRow {
        id: r.try_get(0).map_err(backend)?,
        partner: r.try_get(1).map_err(backend)?,
        url: r.try_get(2).map_err(backend)?,
        events: serde_json::from_str(&events).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        secret: r.try_get(4).map_err(backend)?,
        failing: r.try_get::<_, String>(5).map_err(backend)? == "failing",
        from_seq: r.try_get(6).map_err(backend)?,
        created_at: r.try_get(7).map_err(backend)?,
        failing_since: r.try_get(8).map_err(backend)?,
        previous_secret: match (
            r.try_get::<_, Option<String>>(9).map_err(backend)?,
            r.try_get::<_, Option<i64>>(10).map_err(backend)?,
        ) {
            (Some(secret), Some(expires_at)) => Some(PreviousSecret { secret, expires_at }),
            _ => None,
        },
    })
}

const OUTBOX_COLUMNS: &str = "o.subscription_id, o.event_id, o.event_seq, o.event_type, o.body, o.recorded_at, o.attempts, o.round_attempts";

fn outbox_row(r: &Row) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        subscription_id: r.try_get(0).map_err(backend)?,
        event_id: r.try_get(1).map_err(backend)?,
        event_seq: r.try_get(2).map_err(backend)?,
        event_type: r.try_get(3).map_err(backend)?,
        body: r.try_get(4).map_err(backend)?,
        recorded_at: r.try_get(5).map_err(backend)?,
        attempts: r.try_get(6).map_err(backend)?,
        round_attempts: r.try_get(7).map_err(backend)?,
    })
}

fn status(delivered: bool) -> &'static str {
    if delivered {
        "delivered"
    } else {
        "failed"
    }
}

/// Now on the database clock, in unix ms. `now()` (the transaction's start), not
/// `clock_timestamp()`: one instant for the whole statement, every row compared with and every
/// time stored from the same now, as `claimed_until` is. Each statement using it runs alone or in
/// a short transaction, so that instant is at most a few round trips old (a fan-out that waited
/// for the cursor's lock queues its rows due a little earlier: due now all the same).
const DB_NOW_MS: &str = "floor(extract(epoch FROM now()) * 1000)::bigint";

/// A live claim of another replica on one of the subscription's pending deliveries.
const CLAIMED_ELSEWHERE: &str = "EXISTS (SELECT 1 FROM webhook_outbox c
      WHERE c.subscription_id = o.subscription_id AND c.state = 'pending'
        AND c.claimed_by <> $REPLICA AND c.claimed_until > now())";

/// Revoking a partner deletes its webhook subscriptions with their outbox and log; before that
/// fix a revocation kept them, and their deliveries waited, held, for an id that never comes back.
/// Deleted at every start ([`PgStore::connect`]), not by a migration: it changes no schema, so a
/// rollback to an older release still finds the schema version it knows, and once nothing is left
/// it deletes nothing. The subscriptions of a partner revoked in `partners`, created before its
/// revocation (`revoked_at` is in seconds): a config partner later given the id keeps the
/// subscriptions it made itself. The embedded store's rule is the same
/// (`REVOKED_PARTNERS_SUBSCRIPTIONS`).
pub(super) const REVOKED_LEFTOVERS: &str =
    "WITH s AS (DELETE FROM webhook_subscriptions s USING partners p
                WHERE p.id = s.partner AND p.revoked_at IS NOT NULL
                  AND s.created_at < (p.revoked_at + 1) * 1000
                RETURNING s.id),
          o AS (DELETE FROM webhook_outbox WHERE subscription_id IN (SELECT id FROM s))
     DELETE FROM webhook_attempts WHERE subscription_id IN (SELECT id FROM s)";

fn claimed_elsewhere(replica_param: &str) -> String {
    CLAIMED_ELSEWHERE.replace("$REPLICA", replica_param)
}

impl WebhookStore for PgStore {
    fn create_subscription(
        &self,
        new: NewSubscription,
        max_per_partner: usize,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>> {
        self.bounded(async move {
            let events = serde_json::to_string(&new.events).map_err(backend)?;
            let max = i64::try_from(max_per_partner).unwrap_or(i64::MAX);
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await.map_err(backend)?;
            // One creation per partner at a time across replicas, so the limit holds.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('webhooks:' || $1, 0))",
                &[&new.partner],
            )
            .await
            .map_err(backend)?;
            // The cursor row's lock, held to the commit: a fan-out pass in progress (it holds the
            // lock from before it reads the subscriptions) finishes first, and the next one reads
            // this subscription. So every event after `from_seq` is queued for it. The feed is
            // read by a statement after the lock, so it is never older than that pass's events.
            let cursor: i64 = tx
                .query_one("SELECT seq FROM webhook_fanout WHERE id = 1 FOR SHARE", &[])
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
            let last_seq: i64 = tx
                .query_one("SELECT last_seq FROM change_feed WHERE id = 1", &[])
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
            let from_seq = cursor.max(last_seq);
            let n = tx
                .execute(
                    "INSERT INTO webhook_subscriptions (id, partner, url, events, secret, status, from_seq, created_at, failing_since)
                     SELECT $1, $2, $3, $4, $5, 'active', $6, $7, NULL
                     WHERE (SELECT count(*) FROM webhook_subscriptions WHERE partner = $2) < $8",
                    &[&new.id, &new.partner, &new.url, &events, &new.secret, &from_seq, &new.created_at, &max],
                )
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            queries("webhooks.create_subscription", 6);
            Ok((n > 0).then_some(new.into_row(from_seq)))
        })
    }

    fn subscriptions(
        &self,
        partner: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<SubscriptionRow>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let rows = conn
                .query(
                    &format!("SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE ($1::text IS NULL OR partner = $1) ORDER BY created_at, id"),
                    &[&partner],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.subscriptions", 1);
            rows.iter().map(sub_row).collect()
        })
    }

    fn subscription(
        &self,
        partner: Option<String>,
        id: String,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let row = conn
                .query_opt(
                    &format!("SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1 AND ($2::text IS NULL OR partner = $2)"),
                    &[&id, &partner],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.subscription", 1);
            row.as_ref().map(sub_row).transpose()
        })
    }

    fn rotate_secret(
        &self,
        partner: String,
        id: String,
        secret: String,
        now: i64,
        previous_until: i64,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            // One statement, under the row's lock: two rotations at once on two replicas apply
            // one after the other, each replacing the secret the other left. The right-hand sides
            // read the row as it was, so `THEN secret` takes the one being replaced. A previous
            // secret still signing stays (a receiver whose rotation answer was lost holds it).
            let row = conn
                .query_opt(
                    &format!(
                        "UPDATE webhook_subscriptions SET
                           previous_secret = CASE WHEN previous_secret IS NOT NULL AND previous_secret_expires_at > $3::BIGINT THEN previous_secret
                                                  WHEN $4::BIGINT > $3::BIGINT THEN secret END,
                           previous_secret_expires_at = CASE WHEN previous_secret IS NOT NULL AND previous_secret_expires_at > $3::BIGINT THEN previous_secret_expires_at
                                                             WHEN $4::BIGINT > $3::BIGINT THEN $4::BIGINT END,
                           secret = $5
                         WHERE id = $1 AND partner = $2 RETURNING {SUB_COLUMNS}"
                    ),
                    &[&id, &partner, &now, &previous_until, &secret],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.rotate_secret", 1);
            row.as_ref().map(sub_row).transpose()
        })
    }

    fn delete_subscription(
        &self,
        partner: String,
        id: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            // One statement: the subscription, its outbox and its log go together.
            let n: i64 = conn
                .query_one(
                    "WITH s AS (DELETE FROM webhook_subscriptions WHERE id = $1 AND partner = $2 RETURNING id),
                          o AS (DELETE FROM webhook_outbox WHERE subscription_id IN (SELECT id FROM s)),
                          a AS (DELETE FROM webhook_attempts WHERE subscription_id IN (SELECT id FROM s))
                     SELECT count(*) FROM s",
                    &[&id, &partner],
                )
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
            queries("webhooks.delete_subscription", 1);
            Ok(n > 0)
        })
    }

    fn enable_subscription(
        &self,
        partner: String,
        id: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            // One statement (one transaction). Only a failing subscription's queue starts over:
            // resetting an active one's would let repeated enables skip the backoff, and it would
            // never become failing. `found` answers whether it exists, active or not.
            let n: i64 = conn
                .query_one(
                    &format!("WITH s AS (UPDATE webhook_subscriptions SET status = 'active', failing_since = NULL
                                WHERE id = $1 AND partner = $2 AND status = 'failing' RETURNING id),
                          o AS (UPDATE webhook_outbox SET state = 'pending', round_attempts = 0, next_attempt_at = {DB_NOW_MS}
                                WHERE subscription_id IN (SELECT id FROM s) AND state IN ('pending', 'failed')),
                          found AS (SELECT id FROM webhook_subscriptions WHERE id = $1 AND partner = $2)
                     SELECT count(*) FROM found"),
                    &[&id, &partner],
                )
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
            queries("webhooks.enable_subscription", 1);
            Ok(n > 0)
        })
    }

    fn redeliver(
        &self,
        partner: String,
        id: String,
        event_id: String,
    ) -> BoxFuture<'_, Result<Redeliver, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let row = conn
                .query_one(
                    &format!("WITH s AS (SELECT status FROM webhook_subscriptions WHERE id = $1 AND partner = $2),
                          o AS (UPDATE webhook_outbox SET state = 'pending', round_attempts = 0, next_attempt_at = {DB_NOW_MS}
                                WHERE subscription_id = $1 AND event_id = $3
                                  AND EXISTS (SELECT 1 FROM s WHERE status = 'active') RETURNING 1)
                     SELECT (SELECT status FROM s), (SELECT count(*) FROM o)"),
                    &[&id, &partner, &event_id],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.redeliver", 1);
            let status: Option<String> = row.try_get(0).map_err(backend)?;
            let queued: i64 = row.try_get(1).map_err(backend)?;
            Ok(match status.as_deref() {
                None => Redeliver::NoSuchSubscription,
                Some("failing") => Redeliver::SubscriptionFailing,
                Some(_) if queued > 0 => Redeliver::Queued,
                Some(_) => Redeliver::NoSuchEvent,
            })
        })
    }

    fn attempts(
        &self,
        id: String,
        event_id: Option<String>,
        before: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LoggedAttempt>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = conn
                .query(
                    "SELECT a.id, a.event_id, a.attempt, a.at, a.status, a.response_code, a.error, a.duration_ms, o.next_attempt_at
                     FROM webhook_attempts a LEFT JOIN webhook_outbox o
                       ON o.subscription_id = a.subscription_id AND o.event_id = a.event_id
                          AND o.state = 'pending' AND o.attempts = a.attempt
                     WHERE a.subscription_id = $1 AND ($2::text IS NULL OR a.event_id = $2) AND ($3::bigint IS NULL OR a.id < $3)
                     ORDER BY a.id DESC LIMIT $4",
                    &[&id, &event_id, &before, &limit],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.attempts", 1);
            rows.iter()
                .map(|r| {
                    Ok(LoggedAttempt {
                        position: r.try_get(0).map_err(backend)?,
                        next_attempt_at: r.try_get(8).map_err(backend)?,
                        attempt: AttemptRow {
                            event_id: r.try_get(1).map_err(backend)?,
                            attempt: r.try_get(2).map_err(backend)?,
                            at: r.try_get(3).map_err(backend)?,
                            delivered: r.try_get::<_, String>(4).map_err(backend)? == "delivered",
                            response_code: r
                                .try_get::<_, Option<i32>>(5)
                                .map_err(backend)?
                                .and_then(|c| u16::try_from(c).ok()),
                            error: r.try_get(6).map_err(backend)?,
                            duration_ms: r.try_get(7).map_err(backend)?,
                        },
                    })
                })
                .collect()
        })
    }

    fn fanout_cursor(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let row = conn
                .query_opt("SELECT seq FROM webhook_fanout WHERE id = 1", &[])
                .await
                .map_err(backend)?;
            queries("webhooks.fanout_cursor", 1);
            row.map_or(Ok(0), |r| r.try_get(0).map_err(backend))
        })
    }

    fn fan_out(
        &self,
        through_seq: i64,
        rows: FanOutRows,
    ) -> BoxFuture<'_, Result<usize, StoreError>> {
        self.bounded(async move {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await.map_err(backend)?;
            // Replicas fanning out at once take turns here; what the cursor covers is queued.
            let cursor: i64 = tx
                .query_one(
                    "SELECT seq FROM webhook_fanout WHERE id = 1 FOR UPDATE",
                    &[],
                )
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
            // Read after the lock (a statement of its own, so it sees every creation committed
            // before): a creation waiting for the lock reads the cursor this pass leaves.
            let subs = tx
                .query(
                    &format!(
                        "SELECT {SUB_COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id"
                    ),
                    &[],
                )
                .await
                .map_err(backend)?
                .iter()
                .map(sub_row)
                .collect::<Result<Vec<_>, _>>()?;
            let built = rows(&subs);
            let rows: Vec<&OutboxInsert> = built.iter().filter(|r| r.event_seq > cursor).collect();
            let mut n = 5;
            if !rows.is_empty() {
                let col =
                    |f: fn(&OutboxInsert) -> String| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
                let subs = col(|r| r.subscription_id.clone());
                let ids = col(|r| r.event_id.clone());
                let types = col(|r| r.event_type.clone());
                let bodies = col(|r| r.body.clone());
                let seqs: Vec<i64> = rows.iter().map(|r| r.event_seq).collect();
                let recorded: Vec<i64> = rows.iter().map(|r| r.recorded_at).collect();
                tx.execute(
                    &format!("INSERT INTO webhook_outbox (subscription_id, event_id, event_seq, event_type, body, recorded_at, state, next_attempt_at)
                     SELECT u.sub, u.evt, u.seq, u.typ, u.body, u.rec, 'pending', {DB_NOW_MS}
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])
                          AS u(sub, evt, seq, typ, body, rec)
                     WHERE EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.id = u.sub)
                     ON CONFLICT (subscription_id, event_id) DO NOTHING"),
                    &[&subs, &ids, &seqs, &types, &bodies, &recorded],
                )
                .await
                .map_err(backend)?;
                n += 1;
            }
            tx.execute(
                "UPDATE webhook_fanout SET seq = GREATEST(seq, $1) WHERE id = 1",
                &[&through_seq],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            queries("webhooks.fan_out", n);
            Ok(built.len())
        })
    }

    fn due_subscriptions(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let rows = conn
                .query(
                    &format!(
                        "SELECT DISTINCT o.subscription_id FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id
                         WHERE o.state = 'pending' AND o.next_attempt_at <= {DB_NOW_MS} AND s.status = 'active' AND NOT {}",
                        claimed_elsewhere("$1")
                    ),
                    &[&self.replica()],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.due_subscriptions", 1);
            rows.iter().map(|r| r.try_get(0).map_err(backend)).collect()
        })
    }

    fn outbox_summary(&self) -> BoxFuture<'_, Result<(Option<Duration>, i64), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            // A subscription another replica is sending is looked at again when that claim ends.
            // How long until then, from the database's now: a time would be read against this
            // replica's clock.
            let row = conn
                .query_one(
                    &format!("WITH c AS (SELECT subscription_id,
                                       (extract(epoch FROM max(claimed_until)) * 1000)::bigint AS until_ms
                                FROM webhook_outbox
                                WHERE state = 'pending' AND claimed_by <> $1 AND claimed_until > now()
                                GROUP BY subscription_id)
                     SELECT (MIN(GREATEST(o.next_attempt_at, COALESCE(c.until_ms, 0))) - {DB_NOW_MS})::bigint, COUNT(*)
                     FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id
                          LEFT JOIN c ON c.subscription_id = o.subscription_id
                     WHERE o.state = 'pending' AND s.status = 'active'"),
                    &[&self.replica()],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.outbox_summary", 1);
            // NULL with nothing pending; a due time already past is no wait.
            let wait: Option<i64> = row.try_get(0).map_err(backend)?;
            Ok((
                wait.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
                row.try_get(1).map_err(backend)?,
            ))
        })
    }

    fn next_delivery(
        &self,
        id: String,
        lease: Duration,
    ) -> BoxFuture<'_, Result<Option<OutboxRow>, StoreError>> {
        self.bounded(async move {
            let lease_ms = wait_ms(lease);
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await.map_err(backend)?;
            // The subscription's lock serialises claimers; another replica holding it is sending
            // (or claiming) for it now, so this one does not wait.
            let locked = tx
                .query_opt(
                    "SELECT 1 FROM webhook_subscriptions WHERE id = $1 AND status = 'active' FOR UPDATE SKIP LOCKED",
                    &[&id],
                )
                .await
                .map_err(backend)?;
            if locked.is_none() {
                tx.rollback().await.map_err(backend)?;
                queries("webhooks.claim", 3);
                return Ok(None);
            }
            // A statement after the lock: it sees every claim committed before.
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE webhook_outbox o SET claimed_by = $2, claimed_until = now() + $3::bigint * interval '1 millisecond'
                         WHERE (o.subscription_id, o.event_id) = (
                             SELECT o.subscription_id, o.event_id FROM webhook_outbox o
                             WHERE o.subscription_id = $1 AND o.state = 'pending' AND o.next_attempt_at <= {DB_NOW_MS}
                               AND NOT {}
                             ORDER BY o.event_seq LIMIT 1)
                         RETURNING {OUTBOX_COLUMNS}",
                        claimed_elsewhere("$2")
                    ),
                    &[&id, &self.replica(), &lease_ms],
                )
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            queries("webhooks.claim", 4);
            row.as_ref().map(outbox_row).transpose()
        })
    }

    fn release_delivery<'a>(&'a self, row: &'a OutboxRow) -> BoxFuture<'a, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            conn.execute(
                "UPDATE webhook_outbox SET claimed_by = NULL, claimed_until = NULL
                 WHERE subscription_id = $1 AND event_id = $2 AND claimed_by = $3",
                &[&row.subscription_id, &row.event_id, &self.replica()],
            )
            .await
            .map_err(backend)?;
            queries("webhooks.release", 1);
            Ok(())
        })
    }

    fn outbox_row(
        &self,
        partner: String,
        id: String,
        event_id: String,
    ) -> BoxFuture<'_, Result<Option<OutboxRow>, StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let row = conn
                .query_opt(
                    &format!(
                        "SELECT {OUTBOX_COLUMNS}
                         FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id
                         WHERE o.subscription_id = $1 AND o.event_id = $2 AND s.partner = $3"
                    ),
                    &[&id, &event_id, &partner],
                )
                .await
                .map_err(backend)?;
            queries("webhooks.outbox_row", 1);
            row.as_ref().map(outbox_row).transpose()
        })
    }

    fn hold_subscription(
        &self,
        id: String,
        hold: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            conn.execute(
                &format!("UPDATE webhook_outbox SET next_attempt_at = GREATEST(next_attempt_at, {DB_NOW_MS} + $2),
                        claimed_until = CASE WHEN claimed_by = $3 THEN NULL ELSE claimed_until END,
                        claimed_by = CASE WHEN claimed_by = $3 THEN NULL ELSE claimed_by END
                 WHERE subscription_id = $1 AND state = 'pending'"),
                &[&id, &wait_ms(hold), &self.replica()],
            )
            .await
            .map_err(backend)?;
            queries("webhooks.hold", 1);
            Ok(())
        })
    }

    fn drop_delivery(&self, id: String, event_id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            conn.execute(
                "DELETE FROM webhook_outbox WHERE subscription_id = $1 AND event_id = $2",
                &[&id, &event_id],
            )
            .await
            .map_err(backend)?;
            queries("webhooks.drop", 1);
            Ok(())
        })
    }

    fn log_attempt(
        &self,
        id: String,
        attempt: AttemptRow,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.bounded(async move {
            let conn = self.conn().await?;
            let code = attempt.response_code.map(i32::from);
            conn.execute(
                "INSERT INTO webhook_attempts (subscription_id, event_id, attempt, at, status, response_code, error, duration_ms)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = $1)",
                &[&id, &attempt.event_id, &attempt.attempt, &attempt.at, &status(attempt.delivered), &code, &attempt.error, &attempt.duration_ms],
            )
            .await
            .map_err(backend)?;
            queries("webhooks.log_attempt", 1);
            Ok(())
        })
    }

    fn record_attempt<'a>(
        &'a self,
        row: &'a OutboxRow,
        attempt: AttemptRow,
        after: AfterAttempt,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.bounded(async move {
            // A retry is due after its wait from the database's now; a finished row keeps the
            // attempt's time (only the purge reads it).
            let (state, retry_after) = match after {
                AfterAttempt::Delivered => ("delivered", None),
                AfterAttempt::RetryAfter(wait) => ("pending", Some(wait_ms(wait))),
                AfterAttempt::Exhausted => ("failed", None),
            };
            let exhausted = after == AfterAttempt::Exhausted;
            let code = attempt.response_code.map(i32::from);
            let conn = self.conn().await?;
            // One statement, so one transaction: the log line, the outcome (ending this replica's
            // claim) and, when the schedule is spent, the subscription marked failing. The
            // outcome only while the claim is still this replica's: one that outlived its lease
            // and was taken over (or already finished by the new holder) is the new holder's, and
            // a late retry must not send a delivered event again. The log line is kept (the
            // attempt happened), unless the subscription was deleted meanwhile.
            let applied: bool = conn
                .query_one(
                &format!("WITH a AS (INSERT INTO webhook_attempts (subscription_id, event_id, attempt, at, status, response_code, error, duration_ms)
                            SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = $1)),
                      o AS (UPDATE webhook_outbox SET state = $9, attempts = attempts + 1, round_attempts = round_attempts + 1,
                                   next_attempt_at = COALESCE({DB_NOW_MS} + $10::bigint, $4), claimed_until = NULL, claimed_by = NULL
                            WHERE subscription_id = $1 AND event_id = $2 AND claimed_by = $12
                            RETURNING 1),
                      f AS (UPDATE webhook_subscriptions SET status = 'failing', failing_since = $4
                            WHERE id = $1 AND $11 AND EXISTS (SELECT 1 FROM o))
                 SELECT EXISTS (SELECT 1 FROM o)"),
                &[
                    &row.subscription_id,
                    &row.event_id,
                    &attempt.attempt,
                    &attempt.at,
                    &status(attempt.delivered),
                    &code,
                    &attempt.error,
                    &attempt.duration_ms,
                    &state,
                    &retry_after,
                    &exhausted,
                    &self.replica(),
                ],
            )
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
            queries("webhooks.record_attempt", 1);
            Ok(applied)
        })
    }

    fn purge_webhook_history(&self, before: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let conn = self.bounded(self.conn()).await?;
            // In batches, oldest first: a backlog deleted in one statement would outlive the
            // statement timeout, be cancelled, and never shrink. A failing subscription is sent
            // nothing until enabled: its queue keeps the events of the history's horizon, no older
            // bodies (personal data); active subscriptions' rows are never dropped unsent.
            let stmt = self
                .io(conn.prepare_cached(
                    "WITH o AS (DELETE FROM webhook_outbox
                                WHERE state = 'delivered' AND next_attempt_at < $1
                                  AND (subscription_id, event_id) IN (
                                    SELECT subscription_id, event_id FROM webhook_outbox
                                    WHERE state = 'delivered' AND next_attempt_at < $1 LIMIT $2)
                                RETURNING 1),
                          f AS (DELETE FROM webhook_outbox
                                WHERE (subscription_id, event_id) IN (
                                    SELECT o.subscription_id, o.event_id FROM webhook_outbox o
                                    JOIN webhook_subscriptions s ON s.id = o.subscription_id
                                    WHERE s.status = 'failing' AND o.state IN ('pending', 'failed')
                                      AND o.recorded_at < $1
                                    LIMIT $2)
                                RETURNING 1),
                          a AS (DELETE FROM webhook_attempts
                                WHERE id IN (SELECT id FROM webhook_attempts WHERE at < $1
                                             ORDER BY id LIMIT $2)
                                RETURNING 1)
                     SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM f), (SELECT count(*) FROM a)",
                ))
                .await?;
            let purged = self
                .purge_in_batches(&conn, &stmt, &[&before], || queries("webhooks.purge", 1))
                .await?;
            // Sealed secrets kept no longer than they sign.
            self.io(conn.execute(
                "UPDATE webhook_subscriptions SET previous_secret = NULL, previous_secret_expires_at = NULL WHERE previous_secret_expires_at <= $1",
                &[&chrono::Utc::now().timestamp_millis()],
            ))
            .await?;
            queries("webhooks.purge", 1);
            Ok(purged)
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.ping())
    }

    fn shared(&self) -> bool {
        true
    }
}

/// `state migrate`: copies the embedded store's webhooks (subscriptions, undelivered outbox rows,
/// the attempt log of those subscriptions, and the fan-out cursor, so events already queued are
/// not queued again; not those of partners revoked before their subscriptions went with them) in
/// one Postgres transaction. Rows already there are left as they are;
/// returns (table, rows copied).
pub async fn import_sqlite(
    pg: &PgStore,
    src: &rusqlite::Connection,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let sqlite = |e: rusqlite::Error| StoreError::Backend(format!("reading SQLite: {e}"));
    type Sub = (
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        Option<i64>,
    );
    // A file no gateway with secret rotation has opened lacks its columns: no previous secrets.
    let columns =
        crate::store::sqlite::webhooks::readable_columns(src, "webhook_subscriptions", SUB_COLUMNS)
            .map_err(sqlite)?;
    // A file an older gateway last wrote may still hold subscriptions of partners it revoked:
    // left behind, as the embedded store's one-time step and `REVOKED_LEFTOVERS` delete them.
    let has_partners: bool = src
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'partners')",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    let kept = |column: &str| {
        if has_partners {
            format!(
                "{column} NOT IN ({})",
                crate::store::sqlite::webhooks::REVOKED_PARTNERS_SUBSCRIPTIONS
            )
        } else {
            "1".to_string()
        }
    };
    let subs: Vec<Sub> = src
        .prepare(&format!(
            "SELECT {columns} FROM webhook_subscriptions WHERE {} ORDER BY created_at, id",
            kept("id")
        ))
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })?
            .collect()
        })
        .map_err(sqlite)?;
    type Out = (
        String,
        String,
        i64,
        String,
        String,
        i64,
        String,
        i64,
        i64,
        i64,
    );
    let outbox: Vec<Out> = src
        .prepare(&format!(
            "SELECT subscription_id, event_id, event_seq, event_type, body, recorded_at, state, attempts, round_attempts, next_attempt_at
             FROM webhook_outbox WHERE state IN ('pending', 'failed') AND {} ORDER BY event_seq",
            kept("subscription_id")
        ))
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
            })?
            .collect()
        })
        .map_err(sqlite)?;
    type Att = (
        String,
        String,
        i64,
        i64,
        String,
        Option<i64>,
        Option<String>,
        i64,
    );
    let attempts: Vec<Att> = src
        .prepare(&format!(
            "SELECT subscription_id, event_id, attempt, at, status, response_code, error, duration_ms
             FROM webhook_attempts WHERE {} ORDER BY rowid",
            kept("subscription_id")
        ))
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?
            .collect()
        })
        .map_err(sqlite)?;
    let cursor: i64 = src
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM webhook_fanout",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite)?;

    let mut conn = pg.conn().await?;
    let tx = conn.transaction().await.map_err(backend)?;
    let (mut n_subs, mut n_out, mut n_att) = (0u64, 0u64, 0u64);
    for s in &subs {
        n_subs += tx
            .execute(
                &format!(
                    "INSERT INTO webhook_subscriptions ({SUB_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING"
                ),
                &[&s.0, &s.1, &s.2, &s.3, &s.4, &s.5, &s.6, &s.7, &s.8, &s.9, &s.10],
            )
            .await
            .map_err(backend)?;
    }
    for o in &outbox {
        n_out += tx
            .execute(
                "INSERT INTO webhook_outbox (subscription_id, event_id, event_seq, event_type, body, recorded_at, state, attempts, round_attempts, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (subscription_id, event_id) DO NOTHING",
                &[&o.0, &o.1, &o.2, &o.3, &o.4, &o.5, &o.6, &o.7, &o.8, &o.9],
            )
            .await
            .map_err(backend)?;
    }
    // Only on a first import: a second one would log every attempt twice.
    let logged: i64 = tx
        .query_one("SELECT count(*) FROM webhook_attempts", &[])
        .await
        .map_err(backend)?
        .try_get(0)
        .map_err(backend)?;
    if logged == 0 {
        for a in &attempts {
            let code = a.5.and_then(|c| i32::try_from(c).ok());
            n_att += tx
                .execute(
                    "INSERT INTO webhook_attempts (subscription_id, event_id, attempt, at, status, response_code, error, duration_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[&a.0, &a.1, &a.2, &a.3, &a.4, &code, &a.6, &a.7],
                )
                .await
                .map_err(backend)?;
        }
    }
    tx.execute(
        "UPDATE webhook_fanout SET seq = GREATEST(seq, $1) WHERE id = 1",
        &[&cursor],
    )
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(vec![
        ("webhook_subscriptions", n_subs),
        ("webhook_outbox", n_out),
        ("webhook_attempts", n_att),
    ])
}
