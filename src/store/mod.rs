//! Durable state: for writes, idempotency records (one per partner and `Idempotency-Key`) and write
//! plans (the journal of upstream steps), behind [`WriteStore`]; for the changes feed, fingerprints
//! and events, behind [`changes::ChangeStore`]; for webhooks, subscriptions, outbox and attempt
//! log, behind [`webhooks::WebhookStore`]. Narrow traits, so a shared backend (Redis, Postgres)
//! can replace the embedded one ([`sqlite::SqliteStore`]) without touching the callers. [`open`]
//! chooses the backend `[state] url` names: SQLite for one process, Postgres ([`postgres`]) for
//! several replicas.

pub mod changes;
pub mod migrate_state;
pub mod open;
pub mod partners;
pub mod postgres;
pub mod sqlite;
mod sqlite_changes;
pub mod state_dir;
pub mod webhooks;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A boxed future, so the trait stays object-safe (`Arc<dyn WriteStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an idempotency key stands for once its request finished: the status and the created
/// resource's id (none for a hire closed as failed, [`Outcome::failed`]), never its body (a
/// replay renders the resource again, through the partner's rights at that time, so no personal
/// fields are kept in the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: u16,
    /// `Location` of the created resource.
    pub location: Option<String>,
    /// The created resource's id.
    pub resource_id: Option<Uuid>,
    /// The first response's body, for that response only: never stored (`None` on every replay).
    #[serde(skip)]
    pub body: Option<Value>,
}

impl Outcome {
    /// The key's request failed for good (its plan was closed as failed): no resource, and the
    /// replay answers a problem, never a body.
    pub fn failed(&self) -> bool {
        !(200..300).contains(&self.status)
    }
}

/// The answer to "may this request run under this key?".
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// Recorded as in flight: run it, then close its plan with the outcome, or `release` it.
    Started,
    /// The same key and body finished before: answer with this.
    Replay(Outcome),
    /// The same key is still running.
    InFlight,
    /// The key was used with another body.
    Mismatch,
}

/// A write plan as the store keeps it: the plan's own JSON (`doc`) and one document per step
/// (the store knows neither shape); `open` plans are the ones recovery must complete or undo.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRecord {
    pub id: Uuid,
    pub partner: String,
    pub key: String,
    pub open: bool,
    pub doc: Value,
    /// In step order.
    pub steps: Vec<Value>,
}

/// Progress of a saved plan: its own document (with `open`) and/or one step's, written together.
/// A write is the size of a step, not of the plan (a plan of n steps costs O(n) bytes, not O(n²)).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanUpdate {
    pub id: Uuid,
    pub plan: Option<(bool, Value)>,
    pub step: Option<(usize, Value)>,
    /// When the plan closes completed: its key's outcome, recorded in the same transaction, so a
    /// hire HR holds never leaves its key in flight (to be freed and written twice) once the plan
    /// is closed.
    pub outcome: Option<Outcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store: {0}")]
    Backend(String),
    /// The shared backend cannot be reached now (Postgres down or partitioned away): nothing was
    /// written; the caller may answer 503 with `Retry-After` and try again later.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    #[error("state store: corrupt record: {0}")]
    Corrupt(String),
}

/// Idempotency records and write plans. Keys are scoped per partner; records expire after the
/// store's TTL (an expired key is free again, unless a plan of it is still open). An in-flight key
/// and an open plan are held by one replica under a lease (the recovery period): another replica
/// takes them over only once it expired, and a holder that lost its lease can no longer journal
/// (its writes fail).
///
/// `begin`: a fresh or released key starts, and so does an expired one without an open plan; an
/// in-flight key whose lease expired and that has no open plan is taken over (its request died
/// before writing anything); otherwise the key is in flight, replays or mismatches. A key's
/// outcome is recorded by the `save_progress` that closes its plan completed.
pub trait WriteStore: Send + Sync {
    /// Atomically: a fresh (or released, or expired without an open plan) key is recorded as in
    /// flight with the body's fingerprint; otherwise says what the key already stands for.
    fn begin<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Begin, StoreError>>;

    /// The request under `key` failed and left nothing behind: the key is free for a retry. Never
    /// while a plan of the key is open (a plan saved although its caller saw the save fail, e.g.
    /// the reply lost: its outcome is recovery's to settle): then `Ok(false)`, the key kept.
    fn release<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Inserts (or replaces) a plan with all its steps: once, when the plan is made.
    fn save_plan<'a>(&'a self, plan: &'a PlanRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records a saved plan's progress (before and after every upstream step), atomically.
    fn save_progress<'a>(&'a self, update: &'a PlanUpdate)
        -> BoxFuture<'a, Result<(), StoreError>>;

    /// Plans not yet finished (completed or undone), oldest first.
    fn open_plans(&self) -> BoxFuture<'_, Result<Vec<PlanRecord>, StoreError>>;

    /// Extends the leases of the plans and in-flight keys this replica's live tasks are running
    /// (`begin` and `save_plan` take a lease of the store's recovery period; every journal write
    /// renews its plan's).
    fn renew<'a>(
        &'a self,
        plans: &'a [Uuid],
        keys: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Takes over open plans whose lease expired (the replica running them died or stopped
    /// renewing), atomically, so two replicas never claim one plan, and returns them with this
    /// replica's own open plans (the caller skips those its live tasks run: the others, e.g. an
    /// undo that could not finish, are its to settle now); only `key`'s when given. Each comes back
    /// held by this replica under a fresh lease, and so does its key. Oldest first.
    fn claim_expired<'a>(
        &'a self,
        key: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<Vec<PlanRecord>, StoreError>>;

    /// Frees in-flight keys whose lease expired and that have no open plan (their request died
    /// before writing anything upstream); returns how many.
    fn release_orphans(&self) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Drops expired idempotency records and finished plans older than the TTL; returns how many.
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
}
