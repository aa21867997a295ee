//! Webhook state (`store::webhooks::WebhookStore`) in the same SQLite file: subscriptions (secrets sealed by the caller), the outbox
//! (one row per event and subscription, with its retry schedule), the attempt log, and the fan-out
//! cursor (the last event sequence number turned into outbox rows). The cursor moves in the same
//! transaction that inserts the rows, so a crash between the two cannot lose or double an event.
//! One process uses the file, so due times are on its clock ([`now_ms`]).

use std::time::Duration;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{backend, SqliteStore};
use crate::store::webhooks::{
    wait_ms, AfterAttempt, AttemptRow, FanOutRows, LoggedAttempt, NewSubscription, OutboxRow,
    PreviousSecret, Redeliver, SubscriptionRow, WebhookStore,
};
use crate::store::{BoxFuture, StoreError};

/// Now, in unix ms: the store's clock, which due times are compared with and computed from.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id            TEXT PRIMARY KEY,
    partner       TEXT NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    secret        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'failing')),
    from_seq      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    failing_since INTEGER,
    previous_secret            TEXT,
    previous_secret_expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_partner ON webhook_subscriptions (partner, created_at);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    recorded_at     INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    round_attempts  INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    status          TEXT NOT NULL,
    response_code   INTEGER,
    error           TEXT,
    duration_ms     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_sub ON webhook_attempts (subscription_id, at);
CREATE TABLE IF NOT EXISTS webhook_fanout (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
";

/// Columns added after the first release, for files made before them (`CREATE TABLE IF NOT
/// EXISTS` leaves an existing table as it is): (table, column, its definition).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("webhook_subscriptions", "previous_secret", "TEXT"),
    (
        "webhook_subscriptions",
        "previous_secret_expires_at",
        "INTEGER",
    ),
];

/// The subscriptions a partner's revocation deletes with it, left by gateways whose revocation
/// kept them (their deliveries held forever: the id never comes back): those of a partner revoked
/// in the operator API's table, created before its revocation (`revoked_at` is in seconds). A
/// config partner later given the id keeps the subscriptions it made itself.
pub(crate) const REVOKED_PARTNERS_SUBSCRIPTIONS: &str =
    "SELECT s.id FROM webhook_subscriptions s JOIN partners p ON p.id = s.partner
     WHERE p.revoked_at IS NOT NULL AND s.created_at < (p.revoked_at + 1) * 1000";

/// One-time step (`sqlite::one_time_steps`): [`REVOKED_PARTNERS_SUBSCRIPTIONS`] deleted with their
/// outbox rows and attempts.
pub(super) fn forget_revoked_partners_subscriptions() -> String {
    format!(
        "DELETE FROM webhook_attempts WHERE subscription_id IN ({REVOKED_PARTNERS_SUBSCRIPTIONS});
         DELETE FROM webhook_outbox WHERE subscription_id IN ({REVOKED_PARTNERS_SUBSCRIPTIONS});
         DELETE FROM webhook_subscriptions WHERE id IN ({REVOKED_PARTNERS_SUBSCRIPTIONS});"
    )
}

fn has_column(conn: &rusqlite::Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        params![table, column],
        |r| r.get(0),
    )
}

/// Brings a file made by an older gateway up to `SCHEMA`: each missing column added, once.
pub(super) fn upgrade(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    for (table, column, def) in ADDED_COLUMNS {
        if !has_column(conn, table, column).map_err(backend)? {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {def}"))
                .map_err(backend)?;
        }
    }
    Ok(())
}

/// `columns` (comma-separated, of `table`) as a file no gateway has upgraded can answer them, for
/// reading it as it is (`state migrate`): each added column it lacks is read as `NULL`.
pub(crate) fn readable_columns(
    conn: &rusqlite::Connection,
    table: &str,
    columns: &str,
) -> rusqlite::Result<String> {
    let mut out = Vec::new();
    for column in columns.split(',').map(str::trim) {
        let added = ADDED_COLUMNS
            .iter()
            .any(|(t, c, _)| *t == table && *c == column);
        out.push(if added && !has_column(conn, table, column)? {
            "NULL"
        } else {
            column
        });
    }
    Ok(out.join(", "))
}

fn sub_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(SubscriptionRow, String)> {
    Ok((
        SubscriptionRow {
            id: r.get(0)?,
            partner: r.get(1)?,
            url: r.get(2)?,
            events: Vec::new(),
            secret: r.get(4)?,
            failing: r.get::<_, String>(5)? == "failing",
            from_seq: r.get(6)?,
            created_at: r.get(7)?,
            failing_since: r.get(8)?,
            previous_secret: match (r.get(9)?, r.get(10)?) {
                (Some(secret), Some(expires_at)) => Some(PreviousSecret { secret, expires_at }),
                _ => None,
            },
        },
        r.get(3)?,
    ))
}

const OUTBOX_COLUMNS: &str = "o.subscription_id, o.event_id, o.event_seq, o.event_type, o.body, o.recorded_at, o.attempts, o.round_attempts";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        subscription_id: r.get(0)?,
        event_id: r.get(1)?,
        event_seq: r.get(2)?,
        event_type: r.get(3)?,
        body: r.get(4)?,
        recorded_at: r.get(5)?,
        attempts: r.get(6)?,
        round_attempts: r.get(7)?,
    })
}

const SUB_COLUMNS: &str = "id, partner, url, events, secret, status, from_seq, created_at, failing_since, previous_secret, previous_secret_expires_at";

/// A rotation's previous secret (`?3`: now, `?4`: the replaced secret's end): the previous one
/// while it still signs, else the secret being replaced if `?4` is after now, else none.
const ROTATED: &str = "previous_secret = CASE WHEN previous_secret IS NOT NULL AND previous_secret_expires_at > ?3 THEN previous_secret WHEN ?4 > ?3 THEN secret END,
     previous_secret_expires_at = CASE WHEN previous_secret IS NOT NULL AND previous_secret_expires_at > ?3 THEN previous_secret_expires_at WHEN ?4 > ?3 THEN ?4 END";

fn with_events(
    (mut row, events): (SubscriptionRow, String),
) -> Result<SubscriptionRow, StoreError> {
    row.events = serde_json::from_str(&events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(row)
}

/// A partner's subscriptions (`partner` = None: everyone's), oldest first.
fn subscriptions(
    conn: &rusqlite::Connection,
    partner: Option<&str>,
) -> Result<Vec<SubscriptionRow>, StoreError> {
    let sql = format!(
        "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE (?1 IS NULL OR partner = ?1) ORDER BY created_at, id"
    );
    let mut stmt = conn.prepare(&sql).map_err(backend)?;
    let rows = stmt.query_map(params![partner], sub_row).map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(with_events))
        .collect()
}

/// The fan-out cursor: the last event sequence number fanned out (0 before the first).
fn cursor(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(conn
        .query_row("SELECT seq FROM webhook_fanout WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)?
        .unwrap_or(0))
}

impl WebhookStore for SqliteStore {
    /// Inserts a subscription unless the partner already has `max_per_partner`; `None` then.
    fn create_subscription(
        &self,
        new: NewSubscription,
        max_per_partner: usize,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let n: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM webhook_subscriptions WHERE partner = ?1",
                    params![new.partner],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if usize::try_from(n).unwrap_or(usize::MAX) >= max_per_partner {
                return Ok(None);
            }
            // Read in the insert's transaction, on the one connection: no event is recorded and
            // no fan-out pass runs between this read and the insert.
            let from_seq = crate::store::sqlite_changes::last_seq(&tx)?.max(cursor(&tx)?);
            let events = serde_json::to_string(&new.events).map_err(backend)?;
            tx.execute(
                "INSERT INTO webhook_subscriptions (id, partner, url, events, secret, status, from_seq, created_at, failing_since) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, NULL)",
                params![new.id, new.partner, new.url, events, new.secret, from_seq, new.created_at],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(Some(new.into_row(from_seq)))
        })
    }

    /// A partner's subscriptions (`partner` = None: everyone's), oldest first.
    fn subscriptions(
        &self,
        partner: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<SubscriptionRow>, StoreError>> {
        self.run(move |conn| subscriptions(conn, partner.as_deref()))
    }

    /// One subscription (of `partner`, when given).
    fn subscription(
        &self,
        partner: Option<String>,
        id: String,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>> {
        self.run(move |conn| {
            let sql = format!(
                "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE id = ?1 AND (?2 IS NULL OR partner = ?2)"
            );
            conn.query_row(&sql, params![id, partner], sub_row)
                .optional()
                .map_err(backend)?
                .map(with_events)
                .transpose()
        })
    }

    /// Rotates a partner's subscription's secret in one statement (see the trait: a previous
    /// secret still signing stays; else the current one becomes the previous one, if any grace).
    fn rotate_secret(
        &self,
        partner: String,
        id: String,
        secret: String,
        now: i64,
        previous_until: i64,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>> {
        self.run(move |conn| {
            // The right-hand sides read the row as it was: `THEN secret` takes the secret being
            // replaced.
            let sql = format!(
                "UPDATE webhook_subscriptions SET {ROTATED}, secret = ?5
                 WHERE id = ?1 AND partner = ?2 RETURNING {SUB_COLUMNS}"
            );
            conn.query_row(
                &sql,
                params![id, partner, now, previous_until, secret],
                sub_row,
            )
            .optional()
            .map_err(backend)?
            .map(with_events)
            .transpose()
        })
    }

    /// Deletes a partner's subscription with its outbox and log; `false` if there was none.
    fn delete_subscription(
        &self,
        partner: String,
        id: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let n = tx
                .execute(
                    "DELETE FROM webhook_subscriptions WHERE id = ?1 AND partner = ?2",
                    params![id, partner],
                )
                .map_err(backend)?;
            if n > 0 {
                tx.execute(
                    "DELETE FROM webhook_outbox WHERE subscription_id = ?1",
                    params![id],
                )
                .map_err(backend)?;
                tx.execute(
                    "DELETE FROM webhook_attempts WHERE subscription_id = ?1",
                    params![id],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(n > 0)
        })
    }

    /// Re-enables a partner's failing subscription: `active` again, and every undelivered event
    /// (the one that spent its schedule included) due now with a fresh schedule. An active one is
    /// left as it is (its retries keep their schedule). `false` if there is none.
    fn enable_subscription(
        &self,
        partner: String,
        id: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |conn| {
            let now = now_ms();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let enabled = tx
                .execute(
                    "UPDATE webhook_subscriptions SET status = 'active', failing_since = NULL WHERE id = ?1 AND partner = ?2 AND status = 'failing'",
                    params![id, partner],
                )
                .map_err(backend)?;
            // Only a failing subscription's queue starts over: resetting an active one's would let
            // repeated enables skip the backoff, and it would never become failing.
            let found = if enabled > 0 {
                tx.execute(
                    "UPDATE webhook_outbox SET state = 'pending', round_attempts = 0, next_attempt_at = ?2 WHERE subscription_id = ?1 AND state IN ('pending', 'failed')",
                    params![id, now],
                )
                .map_err(backend)?;
                true
            } else {
                tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = ?1 AND partner = ?2)",
                    params![id, partner],
                    |r| r.get::<_, bool>(0),
                )
                .map_err(backend)?
            };
            tx.commit().map_err(backend)?;
            Ok(found)
        })
    }

    /// Queues one event again for a partner's subscription (delivered or not), due now with a
    /// fresh schedule.
    fn redeliver(
        &self,
        partner: String,
        id: String,
        event_id: String,
    ) -> BoxFuture<'_, Result<Redeliver, StoreError>> {
        self.run(move |conn| {
            let now = now_ms();
            let tx = conn.transaction().map_err(backend)?;
            let status: Option<String> = tx
                .query_row(
                    "SELECT status FROM webhook_subscriptions WHERE id = ?1 AND partner = ?2",
                    params![id, partner],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let answer = match status.as_deref() {
                None => Redeliver::NoSuchSubscription,
                Some("failing") => Redeliver::SubscriptionFailing,
                Some(_) => {
                    let n = tx
                        .execute(
                            "UPDATE webhook_outbox SET state = 'pending', round_attempts = 0, next_attempt_at = ?3 WHERE subscription_id = ?1 AND event_id = ?2",
                            params![id, event_id, now],
                        )
                        .map_err(backend)?;
                    if n > 0 {
                        Redeliver::Queued
                    } else {
                        Redeliver::NoSuchEvent
                    }
                }
            };
            tx.commit().map_err(backend)?;
            Ok(answer)
        })
    }

    /// A subscription's attempts, newest first (one event's, when given), at most `limit`, those
    /// logged before the attempt `before` (a position from an earlier page) only; each with its
    /// position.
    fn attempts(
        &self,
        id: String,
        event_id: Option<String>,
        before: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LoggedAttempt>, StoreError>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT a.rowid, a.event_id, a.attempt, a.at, a.status, a.response_code, a.error, a.duration_ms, o.next_attempt_at
                     FROM webhook_attempts a LEFT JOIN webhook_outbox o
                       ON o.subscription_id = a.subscription_id AND o.event_id = a.event_id
                          AND o.state = 'pending' AND o.attempts = a.attempt
                     WHERE a.subscription_id = ?1 AND (?2 IS NULL OR a.event_id = ?2) AND (?3 IS NULL OR a.rowid < ?3)
                     ORDER BY a.rowid DESC LIMIT ?4",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![id, event_id, before, limit as i64], |r| {
                    Ok(LoggedAttempt {
                        position: r.get(0)?,
                        next_attempt_at: r.get(8)?,
                        attempt: AttemptRow {
                            event_id: r.get(1)?,
                            attempt: r.get(2)?,
                            at: r.get(3)?,
                            delivered: r.get::<_, String>(4)? == "delivered",
                            response_code: r
                                .get::<_, Option<i64>>(5)?
                                .and_then(|c| u16::try_from(c).ok()),
                            error: r.get(6)?,
                            duration_ms: r.get(7)?,
                        },
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
    }

    /// The last event sequence number fanned out (0 before the first).
    fn fanout_cursor(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.run(|conn| cursor(conn))
    }

    /// In one transaction: the subscriptions read, the outbox rows built from them for events up
    /// to `through_seq` inserted, and the cursor moved there (never backwards; a row already
    /// present, or for an event the cursor had passed, is left out).
    fn fan_out(
        &self,
        through_seq: i64,
        rows: FanOutRows,
    ) -> BoxFuture<'_, Result<usize, StoreError>> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let now = now_ms();
            let cursor = cursor(&tx)?;
            let rows = rows(&subscriptions(&tx, None)?);
            {
                let mut insert = tx
                    .prepare(
                        "INSERT OR IGNORE INTO webhook_outbox (subscription_id, event_id, event_seq, event_type, body, recorded_at, state, next_attempt_at)
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7 WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = ?1)",
                    )
                    .map_err(backend)?;
                for r in rows.iter().filter(|r| r.event_seq > cursor) {
                    insert
                        .execute(params![r.subscription_id, r.event_id, r.event_seq, r.event_type, r.body, r.recorded_at, now])
                        .map_err(backend)?;
                }
            }
            tx.execute(
                "INSERT INTO webhook_fanout (id, seq) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                params![through_seq],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(rows.len())
        })
    }

    /// Active subscriptions with a delivery due now.
    fn due_subscriptions(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT DISTINCT o.subscription_id FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id
                     WHERE o.state = 'pending' AND o.next_attempt_at <= ?1 AND s.status = 'active'",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![now_ms()], |r| r.get(0))
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
    }

    /// How long until the next pending delivery of an active subscription falls due (zero if one
    /// is due), and how many are pending.
    fn outbox_summary(&self) -> BoxFuture<'_, Result<(Option<Duration>, i64), StoreError>> {
        self.run(|conn| {
            let (next, pending): (Option<i64>, i64) = conn
                .query_row(
                    "SELECT MIN(o.next_attempt_at), COUNT(*) FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id
                     WHERE o.state = 'pending' AND s.status = 'active'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(backend)?;
            let wait = next.map(|t| {
                Duration::from_millis(u64::try_from(t.saturating_sub(now_ms())).unwrap_or(0))
            });
            Ok((wait, pending))
        })
    }

    /// The subscription's oldest delivery due now, if it is active.
    fn next_delivery(
        &self,
        id: String,
        _lease: Duration,
    ) -> BoxFuture<'_, Result<Option<OutboxRow>, StoreError>> {
        self.run(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {OUTBOX_COLUMNS}
                     FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id
                     WHERE o.subscription_id = ?1 AND o.state = 'pending' AND o.next_attempt_at <= ?2 AND s.status = 'active'
                     ORDER BY o.event_seq LIMIT 1"
                ),
                params![id, now_ms()],
                outbox_row,
            )
            .optional()
            .map_err(backend)
        })
    }

    /// One queued event of a partner's subscription (any state).
    fn outbox_row(
        &self,
        partner: String,
        id: String,
        event_id: String,
    ) -> BoxFuture<'_, Result<Option<OutboxRow>, StoreError>> {
        self.run(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {OUTBOX_COLUMNS}
                     FROM webhook_outbox o JOIN webhook_subscriptions s ON s.id = o.subscription_id
                     WHERE o.subscription_id = ?1 AND o.event_id = ?2 AND s.partner = ?3"
                ),
                params![id, event_id, partner],
                outbox_row,
            )
            .optional()
            .map_err(backend)
        })
    }

    /// Holds a subscription's pending deliveries for `hold` without counting an attempt: its
    /// partner may not receive anything now (disabled, removed, scope gone).
    fn hold_subscription(
        &self,
        id: String,
        hold: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE webhook_outbox SET next_attempt_at = MAX(next_attempt_at, ?2) WHERE subscription_id = ?1 AND state = 'pending'",
                params![id, now_ms().saturating_add(wait_ms(hold))],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// Removes one queued event: its partner may no longer see it, so it is never sent again.
    fn drop_delivery(&self, id: String, event_id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM webhook_outbox WHERE subscription_id = ?1 AND event_id = ?2",
                params![id, event_id],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// Logs an attempt that has no outbox row (a test event).
    fn log_attempt(
        &self,
        id: String,
        attempt: AttemptRow,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO webhook_attempts (subscription_id, event_id, attempt, at, status, response_code, error, duration_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = ?1)",
                params![
                    id,
                    attempt.event_id,
                    attempt.attempt,
                    attempt.at,
                    if attempt.delivered { "delivered" } else { "failed" },
                    attempt.response_code.map(i64::from),
                    attempt.error,
                    attempt.duration_ms
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    /// Logs an attempt and applies its consequence, in one transaction.
    fn record_attempt<'a>(
        &'a self,
        row: &'a OutboxRow,
        attempt: AttemptRow,
        after: AfterAttempt,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (sub, event) = (row.subscription_id.clone(), row.event_id.clone());
        self.run(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            tx.execute(
                // Not for a subscription deleted while the attempt was in flight.
                "INSERT INTO webhook_attempts (subscription_id, event_id, attempt, at, status, response_code, error, duration_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = ?1)",
                params![
                    sub,
                    event,
                    attempt.attempt,
                    attempt.at,
                    if attempt.delivered { "delivered" } else { "failed" },
                    attempt.response_code.map(i64::from),
                    attempt.error,
                    attempt.duration_ms
                ],
            )
            .map_err(backend)?;
            let (state, next) = match after {
                AfterAttempt::Delivered => ("delivered", attempt.at),
                AfterAttempt::RetryAfter(wait) => ("pending", now_ms().saturating_add(wait_ms(wait))),
                AfterAttempt::Exhausted => ("failed", attempt.at),
            };
            let applied = tx.execute(
                "UPDATE webhook_outbox SET state = ?3, attempts = attempts + 1, round_attempts = round_attempts + 1, next_attempt_at = ?4 WHERE subscription_id = ?1 AND event_id = ?2",
                params![sub, event, state, next],
            )
            .map_err(backend)?
                > 0;
            // Not for a row dropped (or a subscription deleted) while the attempt was in flight.
            if applied && after == AfterAttempt::Exhausted {
                tx.execute(
                    "UPDATE webhook_subscriptions SET status = 'failing', failing_since = ?2 WHERE id = ?1",
                    params![sub, attempt.at],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(applied)
        })
    }

    /// One process: a delivery is never claimed by another, so there is nothing to give back.
    fn release_delivery<'a>(
        &'a self,
        _row: &'a OutboxRow,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(SqliteStore::check(self))
    }

    fn shared(&self) -> bool {
        false
    }

    /// Drops delivered outbox rows and attempts older than `before` (unix ms); returns how many.
    fn purge_webhook_history(&self, before: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run(move |conn| {
            let a = conn
                .execute(
                    "DELETE FROM webhook_outbox WHERE state = 'delivered' AND next_attempt_at < ?1",
                    params![before],
                )
                .map_err(backend)?;
            // A failing subscription is sent nothing until enabled: its queue keeps the events of
            // the history's horizon, no older bodies (personal data). Active subscriptions' rows
            // are never dropped unsent (a gateway down that long still delivers them).
            let failing = conn
                .execute(
                    "DELETE FROM webhook_outbox WHERE state IN ('pending', 'failed') AND recorded_at < ?1
                       AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE status = 'failing')",
                    params![before],
                )
                .map_err(backend)?;
            let b = conn
                .execute(
                    "DELETE FROM webhook_attempts WHERE at < ?1",
                    params![before],
                )
                .map_err(backend)?;
            // Sealed secrets kept no longer than they sign.
            conn.execute(
                "UPDATE webhook_subscriptions SET previous_secret = NULL, previous_secret_expires_at = NULL WHERE previous_secret_expires_at <= ?1",
                params![now_ms()],
            )
            .map_err(backend)?;
            Ok((a + failing + b) as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::webhooks::OutboxInsert;

    const LEASE: Duration = Duration::from_secs(30);
    const HOUR: Duration = Duration::from_secs(3600);

    fn store() -> SqliteStore {
        let d = std::env::temp_dir().join(format!("atsgw-wh-{}", uuid::Uuid::new_v4()));
        SqliteStore::open(&d, Duration::from_secs(60)).expect("open")
    }

    fn sub(id: &str) -> NewSubscription {
        NewSubscription {
            id: id.into(),
            partner: "p".into(),
            url: "https://x.example/h".into(),
            events: vec!["candidate.created".into()],
            secret: "sealed".into(),
            created_at: 1,
        }
    }

    /// Fan-out rows given as they are, whatever the subscriptions.
    fn given(rows: Vec<OutboxInsert>) -> FanOutRows {
        Box::new(move |_| rows)
    }

    fn row(sub: &str, seq: i64) -> OutboxInsert {
        OutboxInsert {
            subscription_id: sub.into(),
            event_id: format!("evt_{seq}"),
            event_seq: seq,
            event_type: "candidate.created".into(),
            body: "{}".into(),
            recorded_at: 1,
        }
    }

    #[tokio::test]
    async fn fan_out_is_idempotent_and_the_cursor_never_goes_back() {
        let s = store();
        assert!(s
            .create_subscription(sub("a"), 2)
            .await
            .expect("create")
            .is_some());
        s.fan_out(2, given(vec![row("a", 1), row("a", 2), row("gone", 2)]))
            .await
            .expect("fan out");
        s.fan_out(1, given(vec![row("a", 1)])).await.expect("again");
        assert_eq!(s.fanout_cursor().await.expect("cursor"), 2);
        assert_eq!(
            s.outbox_summary().await.expect("summary"),
            (Some(Duration::ZERO), 2),
            "due now"
        );
        let first = s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .expect("due");
        assert_eq!(first.event_id, "evt_1", "oldest first");
        // Held for an hour from the store's now: nothing due until then.
        s.hold_subscription("a".into(), HOUR).await.expect("hold");
        assert!(s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .is_none());
        assert!(s.due_subscriptions().await.expect("due").is_empty());
        let (wait, _) = s.outbox_summary().await.expect("summary");
        assert!(
            wait.is_some_and(|w| w > HOUR - Duration::from_secs(60) && w <= HOUR),
            "{wait:?}"
        );
    }

    fn failed_attempt(r: &OutboxRow, at: i64) -> AttemptRow {
        AttemptRow {
            event_id: r.event_id.clone(),
            attempt: r.attempts + 1,
            at,
            delivered: false,
            response_code: Some(503),
            error: Some("the receiver answered 503".into()),
            duration_ms: 3,
        }
    }

    #[tokio::test]
    async fn enabling_an_active_subscription_keeps_its_retry_schedule() {
        let s = store();
        s.create_subscription(sub("a"), 2).await.expect("create");
        s.fan_out(2, given(vec![row("a", 1), row("a", 2)]))
            .await
            .expect("fan out");
        // evt_1 retries in an hour, evt_2 at once.
        for (event, retry_after) in [("evt_1", HOUR), ("evt_2", Duration::ZERO)] {
            let r = s
                .next_delivery("a".into(), LEASE)
                .await
                .expect("read")
                .expect("due");
            assert_eq!(r.event_id, event);
            s.record_attempt(
                &r,
                failed_attempt(&r, 11),
                AfterAttempt::RetryAfter(retry_after),
            )
            .await
            .expect("record");
        }
        // Active: enable answers that it exists and changes nothing.
        assert!(s
            .enable_subscription("p".into(), "a".into())
            .await
            .expect("enable"));
        let first = s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .expect("due at its retry");
        assert_eq!(
            (
                first.event_id.as_str(),
                first.attempts,
                first.round_attempts
            ),
            ("evt_2", 1, 1),
            "evt_1 still waiting for its retry"
        );
        assert!(!s
            .enable_subscription("p".into(), "none".into())
            .await
            .expect("missing"));

        // Failing: enable makes every undelivered row due now, with a fresh schedule.
        s.record_attempt(
            &first,
            failed_attempt(&first, 1_001),
            AfterAttempt::Exhausted,
        )
        .await
        .expect("record");
        assert!(s
            .enable_subscription("p".into(), "a".into())
            .await
            .expect("enable"));
        let again = s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .expect("due now, not in an hour");
        assert_eq!(
            (again.event_id.as_str(), again.round_attempts),
            ("evt_1", 0)
        );
        let delivered = AttemptRow {
            delivered: true,
            response_code: Some(204),
            error: None,
            ..failed_attempt(&again, 1_501)
        };
        s.record_attempt(&again, delivered, AfterAttempt::Delivered)
            .await
            .expect("record");
        let second = s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .expect("due now");
        assert_eq!(
            (second.event_id.as_str(), second.round_attempts),
            ("evt_2", 0)
        );
        let a = s
            .subscription(None, "a".into())
            .await
            .expect("read")
            .expect("there");
        assert!(!a.failing && a.failing_since.is_none());
    }

    #[test]
    fn a_file_from_before_secret_rotation_gains_its_columns_once() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        // The table as the first release made it.
        let old = SCHEMA.replace(
            "failing_since INTEGER,\n    previous_secret            TEXT,\n    previous_secret_expires_at INTEGER\n",
            "failing_since INTEGER\n",
        );
        assert_ne!(old, SCHEMA);
        conn.execute_batch(&old).expect("old schema");
        conn.execute(
            "INSERT INTO webhook_subscriptions (id, partner, url, events, secret, status, from_seq, created_at) VALUES ('a', 'p', 'u', '[]', 's', 'active', 0, 1)",
            [],
        )
        .expect("old row");
        // Read as it is (`state migrate`): the columns it lacks as NULL.
        let columns =
            readable_columns(&conn, "webhook_subscriptions", SUB_COLUMNS).expect("columns");
        assert_eq!(
            columns,
            SUB_COLUMNS.replace("previous_secret, previous_secret_expires_at", "NULL, NULL")
        );
        let (row, _) = conn
            .query_row(
                &format!("SELECT {columns} FROM webhook_subscriptions"),
                [],
                sub_row,
            )
            .expect("read as it is");
        assert_eq!(row.previous_secret, None);
        upgrade(&conn).expect("upgrade");
        assert_eq!(
            readable_columns(&conn, "webhook_subscriptions", SUB_COLUMNS).expect("columns"),
            SUB_COLUMNS
        );
        upgrade(&conn).expect("a second time changes nothing");
        let (row, _) = conn
            .query_row(
                &format!("SELECT {SUB_COLUMNS} FROM webhook_subscriptions"),
                [],
                sub_row,
            )
            .expect("read with the new columns");
        assert_eq!(row.previous_secret, None);
    }

    #[tokio::test]
    async fn an_exhausted_delivery_fails_the_subscription_until_enabled() {
        let s = store();
        s.create_subscription(sub("a"), 2).await.expect("create");
        s.fan_out(1, given(vec![row("a", 1)]))
            .await
            .expect("fan out");
        let r = s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .expect("due");
        let attempt = AttemptRow {
            event_id: r.event_id.clone(),
            attempt: 1,
            at: 11,
            delivered: false,
            response_code: Some(500),
            error: Some("the receiver answered 500".into()),
            duration_ms: 3,
        };
        assert!(s
            .record_attempt(&r, attempt, AfterAttempt::Exhausted)
            .await
            .expect("record"));
        let a = s
            .subscription(None, "a".into())
            .await
            .expect("read")
            .expect("there");
        assert!(a.failing && a.failing_since == Some(11));
        assert!(s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .is_none());
        assert_eq!(
            s.redeliver("p".into(), "a".into(), "evt_1".into())
                .await
                .expect("redeliver"),
            Redeliver::SubscriptionFailing
        );
        assert!(!s
            .enable_subscription("q".into(), "a".into())
            .await
            .expect("other partner"));
        assert!(s
            .enable_subscription("p".into(), "a".into())
            .await
            .expect("enable"));
        let again = s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .expect("due again");
        assert_eq!((again.attempts, again.round_attempts), (1, 0));
        assert!(
            s.create_subscription(sub("b"), 1)
                .await
                .expect("limit")
                .is_none(),
            "one per partner here"
        );
    }

    /// A delivery dropped while its attempt was in flight: the attempt's outcome applies to
    /// nothing, so the subscription is not marked failing and the caller is told.
    #[tokio::test]
    async fn an_attempt_on_a_dropped_delivery_applies_nothing() {
        let s = store();
        s.create_subscription(sub("a"), 2).await.expect("create");
        s.fan_out(1, given(vec![row("a", 1)]))
            .await
            .expect("fan out");
        let r = s
            .next_delivery("a".into(), LEASE)
            .await
            .expect("read")
            .expect("due");
        s.drop_delivery("a".into(), r.event_id.clone())
            .await
            .expect("drop");
        assert!(!s
            .record_attempt(&r, failed_attempt(&r, 11), AfterAttempt::Exhausted)
            .await
            .expect("record"));
        let a = s
            .subscription(None, "a".into())
            .await
            .expect("read")
            .expect("there");
        assert!(!a.failing, "not marked failing");
    }
}
