//! Durable state of webhooks: subscriptions (secrets sealed by the caller), the outbox (one row per
//! event and subscription, with its retry schedule), the attempt log and the fan-out cursor. One
//! narrow trait, [`WebhookStore`], implemented by the embedded backend (`sqlite/webhooks.rs`, one
//! process) and by Postgres (`postgres/webhooks.rs`, several replicas: a delivery is claimed by one
//! replica at a time, under a lease).
//!
//! Due times, holds, retries and claims are the store's clock, never the caller's: callers pass
//! waits ([`Duration`]) and the store adds them to its own now. On Postgres that is the database
//! clock, one for every replica, so a replica whose clock is off neither sends a delivery early
//! nor holds it back; the embedded store has one process, so its clock is that process's.

use std::time::Duration;

use super::{BoxFuture, StoreError};

/// A subscription as stored (`secret` sealed; times in unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRow {
    pub id: String,
    pub partner: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub failing: bool,
    /// Events with a sequence number above this reach the subscription (those recorded before it
    /// was created do not).
    pub from_seq: i64,
    pub created_at: i64,
    pub failing_since: Option<i64>,
    /// The secret the last rotation replaced (sealed as `secret` is), while it still signs.
    pub previous_secret: Option<PreviousSecret>,
}

/// A replaced signing secret: deliveries are signed with it too until `expires_at` (unix ms), so
/// receivers can switch to the new one without rejecting anything meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousSecret {
    /// Sealed, like `SubscriptionRow::secret` (same subscription id as associated data).
    pub secret: String,
    pub expires_at: i64,
}

impl SubscriptionRow {
    /// The previous secret if it still signs at `now` (unix ms).
    pub fn previous_at(&self, now: i64) -> Option<&PreviousSecret> {
        self.previous_secret.as_ref().filter(|p| now < p.expires_at)
    }
}

/// A subscription to insert; where it starts ([`SubscriptionRow::from_seq`]) the store decides,
/// in the insert's transaction ([`WebhookStore::create_subscription`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    pub id: String,
    pub partner: String,
    pub url: String,
    pub events: Vec<String>,
    /// Sealed by the caller.
    pub secret: String,
    pub created_at: i64,
}

impl NewSubscription {
    /// The row as stored, once the store has decided where its events start.
    pub fn into_row(self, from_seq: i64) -> SubscriptionRow {
        SubscriptionRow {
            id: self.id,
            partner: self.partner,
            url: self.url,
            events: self.events,
            secret: self.secret,
            failing: false,
            from_seq,
            created_at: self.created_at,
            failing_since: None,
            previous_secret: None,
        }
    }
}

/// Builds a fan-out's outbox rows from the subscriptions as the store reads them inside the
/// fan-out's transaction (`webhooks::outbox`: which subscription matches an event, and the body
/// it keeps, are not the store's to decide).
pub type FanOutRows = Box<dyn FnOnce(&[SubscriptionRow]) -> Vec<OutboxInsert> + Send>;

/// One event for one subscription, as fan-out writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxInsert {
    pub subscription_id: String,
    pub event_id: String,
    pub event_seq: i64,
    pub event_type: String,
    /// The event with its company (`webhooks::outbox`), shaped again for the partner at each send.
    pub body: String,
    pub recorded_at: i64,
}

/// A pending delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub subscription_id: String,
    pub event_id: String,
    pub event_seq: i64,
    pub event_type: String,
    pub body: String,
    pub recorded_at: i64,
    /// Attempts made so far (all rounds).
    pub attempts: i64,
    /// Attempts in the current round (since creation, re-enable or redeliver).
    pub round_attempts: i64,
}

/// One logged attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub event_id: String,
    pub attempt: i64,
    pub at: i64,
    pub delivered: bool,
    pub response_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A logged attempt as the delivery log shows it: its position (for paging) and, when this was the
/// event's latest attempt and the event is still pending, when the next one is due (unix ms).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedAttempt {
    pub position: i64,
    pub attempt: AttemptRow,
    pub next_attempt_at: Option<i64>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterAttempt {
    Delivered,
    /// Retry after this wait, from the store's now (not the caller's: with replicas, the
    /// database's).
    RetryAfter(Duration),
    /// The schedule is spent: the delivery is `failed` and the subscription `failing`.
    Exhausted,
}

/// A wait in whole milliseconds, as the stores add it to their now. Waits are at most 30 days
/// (`webhooks.retry_schedule_ms` is checked at start), so the sum stays within `i64`.
pub(crate) fn wait_ms(wait: Duration) -> i64 {
    i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)
}

/// What a redeliver request found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Redeliver {
    Queued,
    NoSuchSubscription,
    NoSuchEvent,
    SubscriptionFailing,
}

pub trait WebhookStore: Send + Sync {
    /// Inserts an active subscription unless the partner already has `max_per_partner` (`None`
    /// then); the subscription as stored. Its `from_seq` is read in the insert's transaction: the
    /// newest recorded event, or the fan-out cursor if that is further, read under the cursor's
    /// lock. So a fan-out pass either reads the subscription or has moved the cursor before
    /// `from_seq` is read ([`WebhookStore::fan_out`]): it is queued every event after `from_seq`.
    fn create_subscription(
        &self,
        new: NewSubscription,
        max_per_partner: usize,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>>;

    /// A partner's subscriptions (`partner` = None: everyone's), oldest first.
    fn subscriptions(
        &self,
        partner: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<SubscriptionRow>, StoreError>>;

    /// One subscription (of `partner`, when given).
    fn subscription(
        &self,
        partner: Option<String>,
        id: String,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>>;

    /// Rotates a partner's subscription's secret, in one statement: `secret` (sealed) becomes the
    /// current one. A previous secret still signing at `now` (unix ms) stays the previous one, with
    /// its own expiry: a receiver that never installed the secret being replaced (a rotation whose
    /// answer was lost) still holds it. Otherwise the replaced secret becomes the previous one,
    /// valid until `previous_until`, or none when that is not after `now` (no grace). The
    /// subscription as it now is; None if there is none.
    fn rotate_secret(
        &self,
        partner: String,
        id: String,
        secret: String,
        now: i64,
        previous_until: i64,
    ) -> BoxFuture<'_, Result<Option<SubscriptionRow>, StoreError>>;

    /// Deletes a partner's subscription with its outbox and log; `false` if there was none.
    fn delete_subscription(
        &self,
        partner: String,
        id: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Re-enables a partner's failing subscription: `active` again, and every undelivered event
    /// (the one that spent its schedule included) due now (the store's) with a fresh schedule, in
    /// one transaction. An active one is left as it is, its retries on their schedule. `true` if
    /// the subscription exists (active or failing), `false` if there is none.
    fn enable_subscription(
        &self,
        partner: String,
        id: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Queues one event again for a partner's subscription (delivered or not), due now (the
    /// store's) with a fresh schedule.
    fn redeliver(
        &self,
        partner: String,
        id: String,
        event_id: String,
    ) -> BoxFuture<'_, Result<Redeliver, StoreError>>;

    /// A subscription's attempts, newest first (one event's, when given), at most `limit`, those
    /// logged before the attempt `before` (a position from an earlier page) only.
    fn attempts(
        &self,
        id: String,
        event_id: Option<String>,
        before: Option<i64>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<LoggedAttempt>, StoreError>>;

    /// The last event sequence number fanned out (0 before the first).
    fn fanout_cursor(&self) -> BoxFuture<'_, Result<i64, StoreError>>;

    /// In one transaction, holding the cursor's lock: every subscription read, `rows` built from
    /// them for the events up to `through_seq`, inserted, and the cursor moved there (never
    /// backwards; a row already present, or for an event the cursor had passed, is left out).
    /// The subscriptions are read under the lock, not before it: one created meanwhile is either
    /// read here or starts after the cursor this moves. Safe when several processes fan out the
    /// same events at once: each (subscription, event) is queued once. The rows are due now (the
    /// store's). Returns how many rows were built.
    fn fan_out(
        &self,
        through_seq: i64,
        rows: FanOutRows,
    ) -> BoxFuture<'_, Result<usize, StoreError>>;

    /// Active subscriptions with a delivery due now (the store's) that no other process is
    /// sending.
    fn due_subscriptions(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;

    /// How long until the next pending delivery of an active subscription can be sent (due, and
    /// not claimed by another process; zero if one can be now), and how many are pending.
    fn outbox_summary(&self) -> BoxFuture<'_, Result<(Option<Duration>, i64), StoreError>>;

    /// Claims the subscription's oldest delivery due now (the store's), if it is active and no
    /// other process is sending one of its deliveries: the claim holds for `lease` (then another
    /// process may send it, with the same event id). The embedded store has one process: no claim
    /// needed.
    fn next_delivery(
        &self,
        id: String,
        lease: Duration,
    ) -> BoxFuture<'_, Result<Option<OutboxRow>, StoreError>>;

    /// Gives a claimed delivery back unsent (shutdown cut its send short): due again at once.
    fn release_delivery<'a>(&'a self, row: &'a OutboxRow) -> BoxFuture<'a, Result<(), StoreError>>;

    /// One queued event of a partner's subscription (any state).
    fn outbox_row(
        &self,
        partner: String,
        id: String,
        event_id: String,
    ) -> BoxFuture<'_, Result<Option<OutboxRow>, StoreError>>;

    /// Holds a subscription's pending deliveries for `hold` from now (the store's) without
    /// counting an attempt (and gives back this process's claims): its partner may not receive
    /// anything now.
    fn hold_subscription(
        &self,
        id: String,
        hold: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Removes one queued event: its partner may no longer see it, so it is never sent again.
    fn drop_delivery(&self, id: String, event_id: String) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Logs an attempt that has no outbox row (a test event).
    fn log_attempt(&self, id: String, attempt: AttemptRow)
        -> BoxFuture<'_, Result<(), StoreError>>;

    /// Logs an attempt and applies its consequence (ending the claim), in one transaction.
    /// `false` when the consequence was not applied: the claim was no longer this process's (taken
    /// over after its lease, or the row finished or dropped meanwhile), so neither the outbox row
    /// nor the subscription changed.
    fn record_attempt<'a>(
        &'a self,
        row: &'a OutboxRow,
        attempt: AttemptRow,
        after: AfterAttempt,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Drops delivered outbox rows and attempts older than `before` (unix ms), and a failing
    /// subscription's undelivered rows of events recorded before it; returns how many.
    /// Previous secrets past their expiry are forgotten too (not counted): they sign nothing more.
    fn purge_webhook_history(&self, before: i64) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Readiness: the store answers now (and, embedded, its hire tables are sound).
    fn check(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Whether the store is shared by several processes (Postgres): unreachable then means
    /// "paused", not "broken" (`ops::health`).
    fn shared(&self) -> bool;
}
