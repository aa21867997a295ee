//! Send slots: at most `max_concurrent_sends` deliveries in flight, shared fairly. A send takes, in
//! order, a slot of its receiver's origin (scheme, host, port: at most an eighth of the total), of its
//! partner (at most a quarter, always more than one origin's share) and of the total. A receiver that
//! never answers therefore holds only its origin's share however many subscriptions point at it, and
//! one partner's slow receivers hold only that partner's share: other receivers (the same partner's
//! other origins included) still find free slots.
//!
//! Deliveries wait for their slot ([`SendSlots::acquire`]); a test send (`POST
//! /v1/webhooks/{id}/test`, answered while the partner waits) takes one only if it is free now
//! ([`SendSlots::try_acquire`]), so tests can neither exceed the limits nor queue without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Keyed semaphores are forgotten once idle, when there are more than this many.
const KEEP_IDLE: usize = 1024;

pub struct SendSlots {
    total: Arc<Semaphore>,
    per_origin: usize,
    per_partner: usize,
    origins: Mutex<HashMap<String, Arc<Semaphore>>>,
    partners: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The three permits of one send, released together when dropped.
pub struct Slot {
    _permits: [OwnedSemaphorePermit; 3],
}

impl SendSlots {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        let per_origin = (max / 8).max(1);
        Self {
            total: Arc::new(Semaphore::new(max)),
            per_origin,
            per_partner: (max / 4).max(per_origin + 1),
            origins: Mutex::new(HashMap::new()),
            partners: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot for a send by `partner` to `url`.
    pub async fn acquire(&self, partner: &str, url: &str) -> Option<Slot> {
        let o = keyed(&self.origins, &origin(url), self.per_origin)
            .acquire_owned()
            .await
            .ok()?;
        let p = keyed(&self.partners, partner, self.per_partner)
            .acquire_owned()
            .await
            .ok()?;
        let t = self.total.clone().acquire_owned().await.ok()?;
        Some(Slot {
            _permits: [o, p, t],
        })
    }

    /// A slot for a send by `partner` to `url` if one is free now (same three limits, same
    /// order); None when any of them is used up. Permits taken before a refusal are given back.
    pub fn try_acquire(&self, partner: &str, url: &str) -> Option<Slot> {
        let o = keyed(&self.origins, &origin(url), self.per_origin)
            .try_acquire_owned()
            .ok()?;
        let p = keyed(&self.partners, partner, self.per_partner)
            .try_acquire_owned()
            .ok()?;
        let t = self.total.clone().try_acquire_owned().ok()?;
        Some(Slot {
            _permits: [o, p, t],
        })
    }
}

/// A receiver's origin (scheme, host, port); the URL itself if it does not parse.
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

/// The semaphore of `key` (made with `n` permits); `url_policy::Lookups` keys its own by partner.
pub(super) fn keyed(
    map: &Mutex<HashMap<String, Arc<Semaphore>>>,
    key: &str,
    n: usize,
) -> Arc<Semaphore> {
    let mut map = match map.lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    if map.len() > KEEP_IDLE {
        // Nobody holds or waits for an entry only the map references.
        map.retain(|_, s| Arc::strong_count(s) > 1);
    }
    map.entry(key.to_string())
        .or_insert_with(|| Arc::new(Semaphore::new(n)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_origin_leaves_slots_for_others() {
        let slots = SendSlots::new(4);
        let held = slots
            .acquire("p", "http://127.0.0.1:1/a")
            .await
            .expect("first");
        let same_origin = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            slots.acquire("p", "http://127.0.0.1:1/b"),
        )
        .await;
        assert!(same_origin.is_err(), "one slot per origin at 4 in total");
        let other = slots
            .acquire("p", "http://127.0.0.1:2/a")
            .await
            .expect("another origin of the same partner");
        drop((held, other));
    }

    #[tokio::test]
    async fn try_acquire_refuses_at_once_and_counts_sends_in_flight() {
        let slots = SendSlots::new(8);
        let held = slots
            .acquire("p", "http://127.0.0.1:1/a")
            .await
            .expect("a delivery");
        assert!(
            slots.try_acquire("p", "http://127.0.0.1:1/b").is_none(),
            "the origin's one slot is the delivery's"
        );
        let other = slots
            .try_acquire("p", "http://127.0.0.1:2/a")
            .expect("another origin");
        // A refusal on the partner's share gives back the origin permit it had taken.
        let third = slots.try_acquire("p", "http://127.0.0.1:3/a");
        assert!(third.is_none(), "the partner's share is 2 at 8 in total");
        drop(held);
        assert!(slots.try_acquire("p", "http://127.0.0.1:3/a").is_some());
        drop(other);
        assert!(slots.try_acquire("p", "http://127.0.0.1:1/b").is_some());
    }
}
