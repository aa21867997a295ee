//! Durable state: for writes, idempotency records (one per partner and `Idempotency-Key`) and write
//! plans (the journal of upstream steps), behind [`WriteStore`]; for the changes feed, fingerprints
//! and events, behind [`changes::ChangeStore`]. Narrow traits, so a shared backend (Redis, Postgres)
//! can replace the embedded one ([`sqlite::SqliteStore`]) without touching the callers.

pub mod changes;
pub mod sqlite;
mod sqlite_changes;
pub mod state_dir;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A boxed future, so the trait stays object-safe (`Arc<dyn WriteStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an idempotency key stands for once its request finished successfully.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: u16,
    /// `Location` of the created resource.
    pub location: Option<String>,
    /// The created resource's id.
    pub resource_id: Option<Uuid>,
    /// The first response body; `None` when the outcome was reached by recovery (no request was
    /// waiting for it), in which case the replay renders the resource as it is.
    pub body: Option<Value>,
}

/// The answer to "may this request run under this key?".
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// Recorded as in flight: run it, then `complete` or `release`.
    Started,
    /// The same key and body finished before: answer with this.
    Replay(Outcome),
    /// The same key is still running.
    InFlight,
    /// The key was used with another body.
    Mismatch,
}

/// A write plan as the store keeps it: the document is the plan's own JSON (the store does not
/// know its shape); `open` plans are the ones recovery must complete or undo.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRecord {
    pub id: Uuid,
    pub partner: String,
    pub key: String,
    pub open: bool,
    pub doc: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store: {0}")]
    Backend(String),
    #[error("state store: corrupt record: {0}")]
    Corrupt(String),
}

/// Idempotency records and write plans. Keys are scoped per partner; records expire after the
/// store's TTL (an expired key is free again).
pub trait WriteStore: Send + Sync {
    /// Atomically: a fresh (or expired, or released) key is recorded as in flight with the body's
    /// fingerprint; otherwise says what the key already stands for.
    fn begin<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Begin, StoreError>>;

    /// The request under `key` succeeded: later requests with it replay `outcome`.
    fn complete<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
        outcome: &'a Outcome,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The request under `key` failed and left nothing behind: the key is free for a retry.
    fn release<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Inserts or replaces a plan (called before and after every upstream step).
    fn save_plan<'a>(&'a self, plan: &'a PlanRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Plans not yet finished (completed or undone), oldest first.
    fn open_plans(&self) -> BoxFuture<'_, Result<Vec<PlanRecord>, StoreError>>;

    /// Keys recorded as in flight (after a crash: those without an open plan are released).
    fn in_flight_keys(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>>;

    /// Drops expired idempotency records and finished plans older than the TTL; returns how many.
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
}
