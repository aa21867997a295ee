//! Send slots: at most `max_concurrent_sends` deliveries in flight, shared fairly. A send takes, in
//! order, a slot of its receiver's origin (scheme, host, port: at most an eighth of the total), of its
//! partner (at most a quarter, always more than one origin's share) and of the total. A receiver that
//! never answers therefore holds only its origin's share however many subscriptions point at it, and
//! one partner's slow receivers hold only that partner's share: other receivers (the same partner's
//! other origins included) still find free slots.

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
        let origin = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| url.to_string());
        let o = keyed(&self.origins, &origin, self.per_origin)
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
}

fn keyed(map: &Mutex<HashMap<String, Arc<Semaphore>>>, key: &str, n: usize) -> Arc<Semaphore> {
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
}
