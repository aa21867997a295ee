//! Webhooks: partners subscribe a URL to event types and the gateway pushes each event it records
//! (the changes feed's events, shaped for that partner) there, signed per Standard Webhooks, at
//! least once. `subscriptions.rs` (body checks, the partner view), `signing.rs` (HMAC signatures,
//! sealed secrets), `url_policy.rs` (https and public addresses only, at creation and at every
//! connection), `outbox.rs` (fan-out of recorded events into the durable outbox, shaping at send
//! time), `delivery.rs` (the dispatcher and the per-subscription workers: retries with backoff,
//! `failing`), `slots.rs` (fair send slots per origin and partner, test sends included). A
//! rotated secret keeps signing next to its successor for `secret_rotation_grace_ms`. The state
//! lives behind `store::webhooks::WebhookStore` (SQLite for one process, Postgres for replicas,
//! where each delivery is claimed by one replica at a time).

pub mod delivery;
pub mod outbox;
pub mod receiver;
pub mod signing;
pub mod slots;
pub mod subscriptions;
pub mod url_policy;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Notify};

use crate::config::WebhooksConfig;
use crate::store::webhooks::WebhookStore;

use signing::SecretSealer;
use url_policy::UrlPolicy;

/// Name of the generated key file (in the state directory) when `webhooks.secret_key` is empty.
pub const KEY_FILE: &str = "webhook-secrets.key";

/// The longest `webhooks.secret_rotation_grace_ms`: a replaced secret that keeps signing for
/// longer would make rotating it (after a leak) pointless.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What deliveries use, and nothing else: the webhooks handle (subscriptions, outbox, client), the
/// changes feed (its events and the watch that wakes the dispatcher) and the partner registry (each
/// subscriber's current rights). Built once in `app.rs`.
pub struct DeliveryContext {
    pub webhooks: Arc<Webhooks>,
    pub changes: Arc<crate::changes::Changes>,
    pub auth: Arc<crate::auth::AuthService>,
}

/// The webhooks handle in `AppState`.
pub struct Webhooks {
    pub(crate) store: Arc<dyn WebhookStore>,
    pub(crate) sealer: SecretSealer,
    pub policy: UrlPolicy,
    /// The DNS lookups subscribing makes (bounded: `url_policy::Lookups`).
    pub lookups: url_policy::Lookups,
    pub(crate) http: reqwest::Client,
    pub(crate) schedule: Vec<Duration>,
    pub(crate) timeout: Duration,
    /// How long this replica's delivery claims last, in ms: [`delivery::claim_lease`] of the
    /// timeout, unless [`Webhooks::set_claim_lease`] changed it.
    claim_lease_ms: AtomicU64,
    /// How long a rotated-out secret keeps signing (`webhooks.secret_rotation_grace_ms`).
    pub(crate) rotation_grace: Duration,
    /// Deliveries in flight, shared fairly between receivers and partners (`slots.rs`).
    pub(crate) sends: slots::SendSlots,
    /// Wakes the dispatcher: a subscription was created, re-enabled or asked to redeliver.
    pub(crate) wake: Notify,
    /// `true` once the dispatcher and its workers have stopped (after shutdown).
    pub(crate) stopped: watch::Sender<bool>,
}

/// The longest wait `webhooks.retry_schedule_ms` may list: 30 days.
const MAX_RETRY_WAIT_MS: u64 = 30 * 24 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("webhooks.secret_key: must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("webhooks.retry_schedule_ms: {0}")]
    BadSchedule(&'static str),
    #[error("webhooks.secret_rotation_grace_ms: must be at most 604800000 (7 days)")]
    BadGrace,
    #[error("webhooks: {0}")]
    Io(String),
}

impl Webhooks {
    pub fn new(
        cfg: &WebhooksConfig,
        store: Arc<dyn WebhookStore>,
        state_dir: &Path,
        shared_key: Option<[u8; 32]>,
    ) -> Result<Self, SetupError> {
        if cfg.retry_schedule_ms.is_empty() {
            return Err(SetupError::BadSchedule("must list at least one wait"));
        }
        if cfg.retry_schedule_ms.contains(&0) {
            return Err(SetupError::BadSchedule("waits must be positive"));
        }
        // A due time is the store's now plus the wait, in i64 milliseconds: a wait of centuries
        // would overflow it (on Postgres an error on every attempt, so the event resent forever).
        if cfg.retry_schedule_ms.iter().any(|&w| w > MAX_RETRY_WAIT_MS) {
            return Err(SetupError::BadSchedule(
                "waits must be at most 2592000000 (30 days)",
            ));
        }
        let rotation_grace = Duration::from_millis(cfg.secret_rotation_grace_ms);
        if rotation_grace > MAX_ROTATION_GRACE {
            return Err(SetupError::BadGrace);
        }
        let key = match cfg.secret_key.expose() {
            // With replicas, the key they all share (every replica must open every secret);
            // otherwise generated once and kept in the state directory (owner-only), like the
            // cursor key.
            "" => match shared_key {
                Some(key) => key,
                None => crate::store::state_dir::key_file(state_dir, KEY_FILE)
                    .map_err(|e| SetupError::Io(e.to_string()))?,
            },
            hex => parse_hex_key(hex).ok_or(SetupError::BadKey)?,
        };
        let policy = UrlPolicy {
            allow_private: cfg.allow_private_urls,
        };
        let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
        let http =
            url_policy::client(policy, timeout).map_err(|e| SetupError::Io(e.to_string()))?;
        Ok(Self {
            store,
            sealer: SecretSealer::new(key),
            policy,
            lookups: url_policy::Lookups::default(),
            http,
            schedule: cfg
                .retry_schedule_ms
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            timeout,
            claim_lease_ms: AtomicU64::new(millis(delivery::claim_lease(timeout))),
            rotation_grace,
            sends: slots::SendSlots::new(cfg.max_concurrent_sends),
            wake: Notify::new(),
            stopped: watch::Sender::new(false),
        })
    }

    pub fn store(&self) -> &Arc<dyn WebhookStore> {
        &self.store
    }

    /// When a secret replaced now stops signing (unix ms).
    pub fn previous_secret_until(&self, now: i64) -> i64 {
        now.saturating_add(i64::try_from(self.rotation_grace.as_millis()).unwrap_or(i64::MAX))
    }

    /// Seconds a partner should wait for a send slot: a send holds one for at most the timeout.
    pub fn send_slot_wait_secs(&self) -> u64 {
        let t = self.timeout;
        (t.as_secs() + u64::from(t.subsec_nanos() > 0)).max(1)
    }

    /// How long a delivery this replica claims stays its own.
    pub(crate) fn claim_lease(&self) -> Duration {
        Duration::from_millis(self.claim_lease_ms.load(Ordering::Relaxed))
    }

    /// Sets how long the claims this replica takes from now on last. For tests: with a zero lease
    /// another replica may take over a delivery this one is still sending, as after a lease that
    /// ran out, without waiting for one to run out.
    pub fn set_claim_lease(&self, lease: Duration) {
        self.claim_lease_ms.store(millis(lease), Ordering::Relaxed);
    }

    /// Tells the dispatcher to look for due deliveries now.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Waits until the dispatcher and every worker have stopped (after the shutdown token fired).
    pub async fn stopped(&self) {
        let mut rx = self.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A 32-byte key in hex (surrounding white space allowed: the key file may end with a newline).
fn parse_hex_key(hex: &str) -> Option<[u8; 32]> {
    crate::config::hex_key(hex.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_a_day() {
        let total: u64 = WebhooksConfig::default().retry_schedule_ms.iter().sum();
        assert!(total >= 24 * 3600 * 1000, "{total} ms");
    }

    #[test]
    fn a_grace_longer_than_a_week_or_a_wait_longer_than_30_days_is_refused() {
        let state = std::env::temp_dir().join(format!("atsgw-grace-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn WebhookStore> = Arc::new(
            crate::store::sqlite::SqliteStore::open(&state, Duration::from_secs(60))
                .expect("store"),
        );
        let mut cfg = WebhooksConfig {
            secret_rotation_grace_ms: MAX_ROTATION_GRACE.as_millis() as u64 + 1,
            ..WebhooksConfig::default()
        };
        let dir = std::env::temp_dir();
        assert!(matches!(
            Webhooks::new(&cfg, store.clone(), &dir, Some([1; 32])),
            Err(SetupError::BadGrace)
        ));
        cfg.secret_rotation_grace_ms = 0;
        // A retry wait past 30 days is refused too (its due time would overflow).
        cfg.retry_schedule_ms = vec![1000, MAX_RETRY_WAIT_MS + 1];
        assert!(matches!(
            Webhooks::new(&cfg, store.clone(), &dir, Some([1; 32])),
            Err(SetupError::BadSchedule(_))
        ));
        cfg.retry_schedule_ms = WebhooksConfig::default().retry_schedule_ms;
        let wh = Webhooks::new(&cfg, store, &dir, Some([1; 32])).expect("no grace is fine");
        assert_eq!(wh.previous_secret_until(1_000), 1_000);
        assert_eq!(
            WebhooksConfig::default().secret_rotation_grace_ms,
            24 * 3600 * 1000
        );
        drop(wh);
        let _ = std::fs::remove_dir_all(&state);
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("atsgw-whkey-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let a = crate::store::state_dir::key_file(&dir, KEY_FILE).expect("created");
        let b = crate::store::state_dir::key_file(&dir, KEY_FILE).expect("read");
        assert_eq!(a, b);
        assert!(parse_hex_key("zz").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
