//! One process-wide cap on upstream calls in flight (Dataverse allows 52 concurrent requests per
//! application user, across all partners), shared fairly: waiting calls are queued per caller and
//! a freed slot goes to the callers in turn, so one partner's burst cannot starve the others. The
//! wait is bounded (the configured queue timeout, and the caller's deadline); past it the call fails
//! as `Overloaded`. The slot is held until the body is read: Dataverse counts the request until then.
//! A call that gets its slot while a 429 pause has begun (it queued before the pause) gives the
//! slot back and waits the pause out, so a queue never drains into a throttled upstream.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tower::{Service, ServiceExt};

use super::shared::SlotGrant;
use super::throttle::ThrottleGate;
use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;

/// The queue of calls made outside a partner request (readiness, cache warm-up).
const BACKGROUND: &str = "";

/// How often a call waiting for the queue to drain looks again.
const DRAIN_POLL: Duration = Duration::from_millis(5);

pub struct FairLimiter {
    max: usize,
    /// `max`, or lower when Dataverse suggests less parallelism (`x-ms-dop-hint`).
    cap: std::sync::atomic::AtomicUsize,
    max_wait: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    in_use: usize,
    waiting: usize,
    next_id: u64,
    queues: HashMap<Arc<str>, VecDeque<(u64, oneshot::Sender<Permit>)>>,
    /// Callers with waiting calls, in turn order.
    turn: VecDeque<Arc<str>>,
}

/// A slot under the cap; freed (or handed to the next caller in turn) on drop.
pub struct Permit {
    limiter: Option<Arc<FairLimiter>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(l) = self.limiter.take() {
            l.release();
        }
    }
}

/// Removes a waiting call from its queue if it stops waiting (timeout, or the request dropped).
struct Waiter<'a> {
    limiter: &'a FairLimiter,
    key: Arc<str>,
    id: u64,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let Ok(mut st) = self.limiter.state.lock() else {
            return;
        };
        let Some(q) = st.queues.get_mut(&self.key) else {
            return;
        };
        let before = q.len();
        q.retain(|(id, _)| *id != self.id);
        if q.len() < before {
            st.waiting -= 1;
            if st.queues.get(&self.key).is_some_and(VecDeque::is_empty) {
                st.queues.remove(&self.key);
                st.turn.retain(|k| *k != self.key);
            }
        }
        st.gauges();
    }
}

impl State {
    fn gauges(&self) {
        metrics::gauge!("upstream_in_flight").set(self.in_use as f64);
        metrics::gauge!("upstream_queue_depth").set(self.waiting as f64);
    }
}

impl FairLimiter {
    pub fn new(max: usize, max_wait: Duration) -> Self {
        Self {
            max: max.max(1),
            cap: std::sync::atomic::AtomicUsize::new(max.max(1)),
            max_wait,
            state: Mutex::new(State::default()),
        }
    }

    /// Caps calls in flight at `hint` when that is below the configured maximum (never above it).
    /// A lower cap takes effect as calls finish; a higher one hands slots to waiting calls now.
    pub fn limit_to(self: &Arc<Self>, hint: usize) {
        let cap = hint.clamp(1, self.max);
        let before = self.cap.swap(cap, std::sync::atomic::Ordering::Relaxed);
        if before != cap {
            metrics::gauge!("upstream_concurrency_cap").set(cap as f64);
        }
        while cap > before && self.grant_one() {}
    }

    /// The cap in force.
    pub fn cap(&self) -> usize {
        self.cap.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A free slot (under the cap) to the next waiting call; false when none was given.
    fn grant_one(self: &Arc<Self>) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        if st.in_use >= self.cap() || st.waiting == 0 {
            return false;
        }
        st.in_use += 1;
        drop(st);
        // `release` hands the slot just taken to the next caller in turn (or gives it back).
        Arc::clone(self).release();
        true
    }

    /// Calls in flight and calls waiting.
    pub fn load(&self) -> (usize, usize) {
        self.state
            .lock()
            .map(|s| (s.in_use, s.waiting))
            .unwrap_or_default()
    }

    /// Waits until no call waits for a slot, at most `max`: background work (a scan, the boards'
    /// first read) yields to partner calls queued at the cap before its next page. Answers the
    /// time waited.
    pub async fn drained(&self, max: Duration) -> Duration {
        if self.load().1 == 0 {
            return Duration::ZERO;
        }
        let started = Instant::now();
        while self.load().1 > 0 && started.elapsed() < max {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        started.elapsed()
    }

    /// A slot for `caller`, waiting at most the queue timeout and never past `deadline`.
    pub async fn acquire(
        self: &Arc<Self>,
        caller: Option<&Arc<str>>,
        deadline: Instant,
    ) -> Result<Permit, UpstreamError> {
        let key: Arc<str> = caller.cloned().unwrap_or_else(|| BACKGROUND.into());
        let (rx, id) = {
            let mut st = self
                .state
                .lock()
                .map_err(|_| UpstreamError::Network("limiter poisoned".to_string()))?;
            if st.in_use < self.cap() && st.waiting == 0 {
                st.in_use += 1;
                st.gauges();
                return Ok(Permit {
                    limiter: Some(self.clone()),
                });
            }
            let (tx, rx) = oneshot::channel();
            let id = st.next_id;
            st.next_id += 1;
            if !st.queues.contains_key(&key) {
                st.turn.push_back(key.clone());
            }
            st.queues
                .entry(key.clone())
                .or_default()
                .push_back((id, tx));
            st.waiting += 1;
            st.gauges();
            (rx, id)
        };
        let _waiter = Waiter {
            limiter: self,
            key,
            id,
        };
        let started = Instant::now();
        let limit = self
            .max_wait
            .min(deadline.saturating_duration_since(started));
        let outcome = tokio::time::timeout(limit, rx).await;
        let waited = started.elapsed();
        metrics::histogram!("upstream_queue_wait_seconds").record(waited.as_secs_f64());
        match outcome {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("upstream_queue_rejections_total").increment(1);
                Err(UpstreamError::Overloaded { waited })
            }
        }
    }

    /// Hands the freed slot to the next caller in turn, else returns it to the pool.
    fn release(self: Arc<Self>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        // Over a lowered cap: the slot is not handed on.
        while st.in_use <= self.cap() {
            let Some(key) = st.turn.pop_front() else {
                break;
            };
            let Some(q) = st.queues.get_mut(&key) else {
                continue;
            };
            let next = q.pop_front();
            let more = !q.is_empty();
            if more {
                st.turn.push_back(key);
            } else {
                st.queues.remove(&key);
            }
            let Some((_, tx)) = next else { continue };
            st.waiting -= 1;
            let permit = Permit {
                limiter: Some(self.clone()),
            };
            match tx.send(permit) {
                Ok(()) => {
                    st.gauges();
                    return;
                }
                // The waiter is gone: disarm the permit (we hold the lock) and try the next one.
                Err(mut unsent) => {
                    unsent.limiter = None;
                }
            }
        }
        st.in_use = st.in_use.saturating_sub(1);
        st.gauges();
    }
}

#[derive(Clone)]
pub(super) struct ConcurrencyLayer(pub Arc<FairLimiter>, pub Arc<ThrottleGate>);

impl<S> tower::Layer<S> for ConcurrencyLayer {
    type Service = Concurrency<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Concurrency {
            limiter: self.0.clone(),
            gate: self.1.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub(super) struct Concurrency<S> {
    limiter: Arc<FairLimiter>,
    gate: Arc<ThrottleGate>,
    inner: S,
}

impl<S: Inner> Service<UpstreamRequest> for Concurrency<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let limiter = self.limiter.clone();
        let gate = self.gate.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let _permits = loop {
                let permit = limiter.acquire(req.caller.as_ref(), req.deadline).await?;
                if gate.remaining().is_none() {
                    // With a cluster, also a cluster-wide slot; its answer may be another
                    // replica's 429 pause.
                    match gate.cluster.slot(req.deadline).await? {
                        SlotGrant::Granted(slot) => break (permit, slot),
                        SlotGrant::Paused(wait) => gate.pause(wait),
                    }
                }
                drop(permit);
                gate.wait(req.deadline).await?;
            };
            inner.oneshot(req).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[tokio::test]
    async fn freed_slots_go_to_callers_in_turn() {
        let limiter = Arc::new(FairLimiter::new(1, Duration::from_secs(5)));
        let held = limiter.acquire(None, far()).await.expect("first");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // A bursts five calls before B makes one.
        for (i, who) in ["a", "a", "a", "a", "a", "b"].into_iter().enumerate() {
            let (l, order) = (limiter.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let key: Arc<str> = who.into();
                let p = l.acquire(Some(&key), far()).await.expect("slot");
                order.lock().expect("lock").push(format!("{who}{i}"));
                tokio::task::yield_now().await;
                drop(p);
            }));
            // Queue them in this order.
            while limiter.load().1 < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for t in tasks {
            t.await.expect("join");
        }
        let order = order.lock().expect("lock").clone();
        assert_eq!(order.len(), 6);
        assert_eq!(
            order[1], "b5",
            "b is served second, not after a's burst: {order:?}"
        );
        assert_eq!(limiter.load(), (0, 0));
    }

    #[tokio::test]
    async fn the_wait_is_bounded_and_abandoned_waiters_leave_the_queue() {
        let limiter = Arc::new(FairLimiter::new(1, Duration::from_millis(50)));
        let held = limiter.acquire(None, far()).await.expect("first");
        let err = limiter
            .acquire(None, far())
            .await
            .err()
            .expect("overloaded");
        assert!(matches!(err, UpstreamError::Overloaded { .. }), "{err:?}");
        // A deadline closer than the queue timeout wins.
        let started = Instant::now();
        let soon = Instant::now() + Duration::from_millis(10);
        assert!(limiter.acquire(None, soon).await.is_err());
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(limiter.load(), (1, 0));
        drop(held);
        assert_eq!(limiter.load(), (0, 0));
        let again = limiter.acquire(None, far()).await;
        assert!(again.is_ok());
    }
}
