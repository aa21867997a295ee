//! The changes feed: the gateway detects changes in HR itself (the `mshr_` virtual tables have no
//! change tracking and no modification timestamp) and records them as ordered events.
//! `event.rs` is the event as partners see it, `visibility.rs` who may see which event (shared with
//! webhook deliveries); the events and fingerprints live in the durable store (`store::changes`);
//! `budget.rs` keeps the scanner to its share of the Dataverse budget, behind partner calls;
//! `lease.rs` lets one replica of several scan at a time.

pub mod budget;
pub mod detect;
pub mod event;
pub mod lease;
pub mod scanner;
pub mod visibility;

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};

use crate::store::changes::{ChangeStore, ScanRecord};
use crate::store::StoreError;

use event::Event;

/// The feed's handle (shared by the scanner, the feed's route and webhook deliveries): the store, and a watch of the newest recorded sequence number,
/// so consumers (webhook delivery) wake when events are recorded instead of polling the store.
pub struct Changes {
    store: Arc<dyn ChangeStore>,
    latest: watch::Sender<i64>,
    triggers: mpsc::Sender<scanner::Trigger>,
    /// Taken by the scanner task when it starts.
    trigger_rx: Mutex<Option<mpsc::Receiver<scanner::Trigger>>>,
}

impl Changes {
    /// The handle over `store`, its watch starting at the newest recorded event.
    pub async fn open(store: Arc<dyn ChangeStore>) -> Result<Self, StoreError> {
        let last = store.feed_bounds().await?.last_seq;
        let (triggers, rx) = mpsc::channel(8);
        Ok(Self {
            store,
            latest: watch::Sender::new(last),
            triggers,
            trigger_rx: Mutex::new(Some(rx)),
        })
    }

    pub fn store(&self) -> &Arc<dyn ChangeStore> {
        &self.store
    }

    /// Records a scan (one transaction), then tells the watchers; returns the recorded events.
    pub async fn record(&self, scan: ScanRecord) -> Result<Vec<Event>, StoreError> {
        let events = self.store.record_scan(scan).await?;
        if let Some(last) = events.last() {
            self.latest.send_replace(last.seq);
        }
        Ok(events)
    }

    /// Another replica recorded up to `last_seq`: wakes this replica's watchers (never backwards).
    pub fn observe(&self, last_seq: i64) {
        self.latest.send_if_modified(|seen| {
            let newer = last_seq > *seen;
            if newer {
                *seen = last_seq;
            }
            newer
        });
    }

    /// A receiver that sees the newest sequence number whenever events are recorded.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.latest.subscribe()
    }

    /// Starts the scanner (once; later calls return `None`).
    pub fn spawn_scanner(state: Arc<scanner::ScanContext>) -> Option<tokio::task::JoinHandle<()>> {
        let rx = state.changes.trigger_rx.lock().ok()?.take()?;
        Some(scanner::spawn(state, rx))
    }

    /// Runs a scan now (after the one in progress, if any) and answers its report: tests and
    /// operators get a deterministic scan instead of waiting for the interval. `None` when the
    /// scanner is not running.
    pub async fn scan_now(&self) -> Option<scanner::ScanReport> {
        let (tx, rx) = oneshot::channel();
        self.triggers.send(tx).await.ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use uuid::Uuid;

    use super::event::{Action, EventType, NewEvent, ResourceType};
    use super::*;

    #[tokio::test]
    async fn recording_wakes_watchers_with_the_newest_seq() {
        let dir = std::env::temp_dir().join(format!("atsgw-changes-{}", Uuid::new_v4()));
        let store =
            crate::store::sqlite::SqliteStore::open(&dir, Duration::from_secs(60)).expect("open");
        let changes = Changes::open(Arc::new(store)).await.expect("changes");
        let mut rx = changes.subscribe();
        assert_eq!(*rx.borrow_and_update(), 0);
        assert!(changes
            .record(ScanRecord::default())
            .await
            .expect("empty scan")
            .is_empty());
        assert!(!rx.has_changed().expect("open"), "no event, no wake-up");
        let scan = ScanRecord {
            events: vec![NewEvent {
                event_type: EventType::new(ResourceType::Candidate, Action::Created),
                resource_id: Uuid::new_v4(),
                company: "usmf".into(),
                data: json!({}),
                changed_fields: None,
                from: None,
                to: None,
            }],
            ..Default::default()
        };
        let recorded = changes.record(scan).await.expect("record");
        tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .expect("woken")
            .expect("open");
        assert_eq!(*rx.borrow(), recorded[0].seq);
    }
}
