//! Durable state of the changes feed: one fingerprint per record the scanner has seen (a hash of
//! its partner representation, plus that representation, so an update can name its changed fields
//! and a deletion can show what was deleted) and the ordered event log. One narrow trait,
//! [`ChangeStore`], implemented by the embedded backend (`sqlite_changes.rs`) and Postgres
//! (`postgres/changes.rs`, where replicas share the feed and one of them scans, under a lease).

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::{BoxFuture, StoreError};
use crate::changes::event::{Event, NewEvent, ResourceType};

/// What the store remembers of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub hash: String,
    pub company: String,
    /// The representation as it was when `hash` was taken.
    pub data: Value,
}

/// A record's fingerprint to store (insert or replace).
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub resource: ResourceType,
    pub id: Uuid,
    pub known: Known,
}

/// Everything one scan learnt, written in one transaction: either all of it or none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanRecord {
    pub upserts: Vec<Fingerprint>,
    pub removals: Vec<(ResourceType, Uuid)>,
    /// In the order they must appear in the feed.
    pub events: Vec<NewEvent>,
    /// Resources whose first complete scan (of this representation version) this was; later
    /// scans emit every event for them.
    pub baselined: Vec<(ResourceType, i32)>,
    /// The scan lease's fencing token the scan ran under: a shared store records the scan only
    /// while that token is current (a stale leader cannot record). `None`: a writer outside the
    /// scanner (tests, fixtures), recorded unfenced.
    pub fence: Option<i64>,
    /// The scanner's calls in its budget window, this scan's included: kept with the lease, so
    /// the next leader's window starts from it ([`ScanLease::window_calls`]).
    pub window_calls: u32,
}

/// The scan lease as one replica sees it ([`ChangeStore::scan_lease`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanLease {
    /// The fencing token while this replica holds the lease; `None`: another replica does.
    pub token: Option<i64>,
    /// Time since the cluster's last fenced scan was recorded (`None`: none yet, or one process).
    pub since_scan: Option<Duration>,
    /// The newest event's `seq`, so every replica's watchers learn of events another recorded.
    pub last_seq: i64,
    /// The scanner's calls in its budget window as of the cluster's last recorded scan (0: none,
    /// or one process).
    pub window_calls: u32,
}

/// Where the retained log starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedBounds {
    /// Every event with `seq <= purged_through` was removed by retention (0: none yet).
    pub purged_through: i64,
    /// The newest event's `seq` (0: no event yet).
    pub last_seq: i64,
}

pub trait ChangeStore: Send + Sync {
    /// The stored fingerprints of those `ids` of `resource` that the store knows.
    fn known<'a>(
        &'a self,
        resource: ResourceType,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, Result<HashMap<Uuid, Known>, StoreError>>;

    /// Every id of `resource` with a fingerprint (what a complete scan must see, or delete).
    fn known_ids(&self, resource: ResourceType) -> BoxFuture<'_, Result<Vec<Uuid>, StoreError>>;

    /// The representation version ([`ResourceType::representation`]) of the resource's newest
    /// baseline; `None` before its first complete scan.
    fn baseline(&self, resource: ResourceType) -> BoxFuture<'_, Result<Option<i32>, StoreError>>;

    /// Writes a scan's fingerprints, removals and events in one transaction; the events get their
    /// sequence numbers and the commit time, and are returned in order. Taken by value: a baseline
    /// scan holds every record's data, and a store writing on another thread would otherwise copy
    /// all of it on the caller's (async) thread first.
    fn record_scan<'a>(&'a self, scan: ScanRecord)
        -> BoxFuture<'a, Result<Vec<Event>, StoreError>>;

    /// Up to `limit` events with `seq > after`, oldest first.
    fn events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Event>, StoreError>>;

    /// Up to `limit` events with `after < seq <= through` of one of `companies` (compared
    /// ignoring case; empty: every company), oldest first. The store filters, so a partner's page
    /// never reads the events of companies it may not see.
    fn events_of<'a>(
        &'a self,
        after: i64,
        through: i64,
        companies: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Event>, StoreError>>;

    /// One event by sequence number (`None` when unknown or purged).
    fn event(&self, seq: i64) -> BoxFuture<'_, Result<Option<Event>, StoreError>>;

    /// Retention: removes events that occurred before `before` (Unix ms); returns how many.
    fn purge_events_before(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>>;

    fn feed_bounds(&self) -> BoxFuture<'_, Result<FeedBounds, StoreError>>;

    /// Takes the scan lease for `ttl` when it is free or expired, renews it when this replica
    /// holds it (an embedded store: always held, one process scans).
    fn scan_lease(&self, ttl: Duration) -> BoxFuture<'_, Result<ScanLease, StoreError>>;

    /// Gives the lease under `token` up (graceful shutdown), so another replica takes over at its
    /// next attempt instead of after the expiry.
    fn release_scan_lease(&self, token: i64) -> BoxFuture<'_, Result<(), StoreError>>;
}

tokio::task_local! {
    static QUERIES: Cell<u32>;
}

/// Counts one statement a shared backend sent for the current task (no-op outside [`counting`]).
pub(crate) fn count_query() {
    let _ = QUERIES.try_with(|c| c.set(c.get().saturating_add(1)));
}

/// Runs `fut` and answers how many statements the store sent for it (a scan's database cost;
/// the embedded store counts none).
pub async fn counting<F: Future>(fut: F) -> (F::Output, u32) {
    QUERIES
        .scope(Cell::new(0), async {
            let out = fut.await;
            (out, QUERIES.with(Cell::get))
        })
        .await
}
