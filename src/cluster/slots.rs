//! The cap on Dataverse calls in flight for the whole cluster, and the 429 pause every replica
//! honours. The cap is a semaphore of expiring slots: a sorted set of slot ids scored by their
//! expiry (Redis' clock), so a replica that dies mid-call holds its slots only until they expire.
//! Acquiring (one script: drop expired slots, count, add) also reads the pause key, so a call learns
//! of another replica's 429 in the same round trip. A waiter retries when a slot is freed (a
//! notice on the `slots` channel, published only when the set was full) or every [`POLL`].
//! Without Redis: a local semaphore of `cap ÷ replicas_hint`, and each replica's own pause. A slot
//! this replica could not free while Redis was away is freed by its next acquire script, so the
//! cluster has it back as soon as Redis answers, not only when it expires.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use redis::Script;
use tokio::sync::{Notify, Semaphore};

use super::connection::Redis;
use super::status::Concern;
use crate::upstream::stack::{ClusterLimits, SlotGrant, SlotGuard};
use crate::upstream::UpstreamError;

/// `1` granted, `0` full, `-ms` paused by a replica's 429 for that long. `ARGV[4..]`: this
/// replica's slots left over from a Redis outage, freed first.
const ACQUIRE: &str = r"
for i = 4, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return -pause end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
";

/// Frees a slot; tells waiting replicas only when the set was full.
const RELEASE: &str = r"
local full = redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
if full then redis.call('PUBLISH', ARGV[3], '1') end
return 1
";

/// Extends the pause to `ARGV[1]` ms from now, never shortens it.
const PAUSE: &str = r"
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
";

/// How often a waiter asks again when no release notice came.
const POLL: Duration = Duration::from_millis(25);

/// Left-over slots remembered at most (more than a replica holds at once: the rest expire).
const MAX_UNFREED: usize = 256;

/// Slots whose frees all failed (Redis away), with when they expire by themselves: the next
/// acquire script that runs frees them, so an outage does not leave them counting against every
/// replica's cap until then (with the cap full, every call would wait for them and fail).
#[derive(Default)]
struct Unfreed(Mutex<Vec<(String, Instant)>>);

impl Unfreed {
    fn add(&self, id: String, expires: Instant) {
        if let Ok(mut left) = self.0.lock() {
            let now = Instant::now();
            left.retain(|(_, e)| *e > now);
            if left.len() < MAX_UNFREED && expires > now {
                left.push((id, expires));
            }
        }
    }

    /// The ids not expired yet.
    fn pending(&self) -> Vec<String> {
        let Ok(mut left) = self.0.lock() else {
            return Vec::new();
        };
        let now = Instant::now();
        left.retain(|(_, e)| *e > now);
        left.iter().map(|(id, _)| id.clone()).collect()
    }

    /// `ids` were freed by a script that ran.
    fn freed(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        if let Ok(mut left) = self.0.lock() {
            left.retain(|(id, _)| !ids.contains(id));
        }
    }
}

pub(super) struct ClusterSlots {
    redis: Arc<Redis>,
    scripts: Arc<(Script, Script, Script)>,
    cap: usize,
    /// How long a slot lives if its replica never frees it (longer than any call).
    slot_ttl: Duration,
    /// The longest wait for a slot (`[dataverse] queue_timeout_ms`).
    max_wait: Duration,
    replica: String,
    next: AtomicU64,
    /// Woken by release notices (`notices.rs`).
    pub(super) freed: Arc<Notify>,
    /// The per-replica fallback: `cap ÷ replicas_hint` calls.
    local: Arc<Semaphore>,
    unfreed: Arc<Unfreed>,
}

pub(super) struct SlotSettings {
    pub(super) cap: usize,
    pub(super) slot_ttl: Duration,
    pub(super) max_wait: Duration,
    pub(super) replicas_hint: u32,
    pub(super) replica: String,
}

/// A slot in Redis, freed on drop (in the background: the call's answer does not wait for it).
struct RedisSlot {
    redis: Arc<Redis>,
    scripts: Arc<(Script, Script, Script)>,
    id: String,
    cap: usize,
    unfreed: Arc<Unfreed>,
    /// When Redis drops it by itself.
    expires: Instant,
}

impl Drop for RedisSlot {
    fn drop(&mut self) {
        free_slot(
            Freeing {
                redis: self.redis.clone(),
                scripts: self.scripts.clone(),
                cap: self.cap,
                unfreed: self.unfreed.clone(),
            },
            std::mem::take(&mut self.id),
            self.expires,
        );
    }
}

/// What freeing a slot needs.
struct Freeing {
    redis: Arc<Redis>,
    scripts: Arc<(Script, Script, Script)>,
    cap: usize,
    unfreed: Arc<Unfreed>,
}

/// Tries to free slot `id` soon after a short Redis failure; after that the next acquire script
/// frees it (or it expires by itself).
const FREE_TRIES: u32 = 3;
const FREE_RETRY: Duration = Duration::from_millis(500);

/// Frees slot `id` in the background (the call's answer does not wait for it), even while this
/// replica is on its fallback: a slot left until it expires (`slot_ttl`) counts against every
/// replica's cap meanwhile. A few tries, then it is left to the next acquire script ([`Unfreed`]).
fn free_slot(f: Freeing, id: String, expires: Instant) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return; // it expires by itself
    };
    rt.spawn(async move {
        let Freeing {
            redis,
            scripts,
            cap,
            unfreed,
        } = f;
        let (key, channel) = (redis.key("slots"), redis.key("slots-freed"));
        for n in 0..FREE_TRIES {
            if n > 0 {
                tokio::time::sleep(FREE_RETRY).await;
            }
            let (scripts, key, channel, id) =
                (scripts.clone(), key.clone(), channel.clone(), id.clone());
            let freed = redis
                .attempt(|mut conn| async move {
                    scripts
                        .1
                        .key(key)
                        .arg(id)
                        .arg(cap)
                        .arg(channel)
                        .invoke_async::<i64>(&mut conn)
                        .await
                })
                .await;
            if freed.is_some() {
                return;
            }
        }
        // Counted: an operator sees an outage's slots left to the next acquire (or expiry).
        metrics::counter!("cluster_slot_frees_deferred_total").increment(1);
        unfreed.add(id, expires);
    });
}

impl ClusterSlots {
    pub(super) fn new(redis: Arc<Redis>, s: SlotSettings) -> Self {
        let share = (s.cap / s.replicas_hint.max(1) as usize).max(1);
        Self {
            redis,
            scripts: Arc::new((
                Script::new(ACQUIRE),
                Script::new(RELEASE),
                Script::new(PAUSE),
            )),
            cap: s.cap.max(1),
            slot_ttl: s.slot_ttl,
            max_wait: s.max_wait,
            replica: s.replica,
            next: AtomicU64::new(0),
            freed: Arc::new(Notify::new()),
            local: Arc::new(Semaphore::new(share)),
            unfreed: Arc::new(Unfreed::default()),
        }
    }

    fn freeing(&self) -> Freeing {
        Freeing {
            redis: self.redis.clone(),
            scripts: self.scripts.clone(),
            cap: self.cap,
            unfreed: self.unfreed.clone(),
        }
    }

    /// One try: `Some(1)` granted, `Some(0)` full, `Some(-ms)` paused; `None` Redis unusable.
    /// Any answer means the script ran and freed the left-over slots it was given.
    async fn try_acquire(&self, id: &str) -> Option<i64> {
        let (slots, pause) = (self.redis.key("slots"), self.redis.key("pause"));
        let ttl = u64::try_from(self.slot_ttl.as_millis()).unwrap_or(u64::MAX);
        let scripts = self.scripts.clone();
        let (cap, id) = (self.cap, id.to_string());
        let left = self.unfreed.pending();
        let answer = self
            .redis
            .run(|mut conn| {
                let left = left.clone();
                async move {
                    scripts
                        .0
                        .key(slots)
                        .key(pause)
                        .arg(cap)
                        .arg(id)
                        .arg(ttl)
                        .arg(left)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await;
        if answer.is_some() {
            self.unfreed.freed(&left);
        }
        answer
    }

    async fn acquire(self: Arc<Self>, deadline: Instant) -> Result<SlotGrant, UpstreamError> {
        let started = Instant::now();
        let until = deadline.min(started + self.max_wait);
        let id = format!(
            "{}:{}",
            self.replica,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        loop {
            // Registered before asking, so a release between the answer and the wait is not lost.
            let freed = self.freed.clone();
            let notified = freed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let asked = self.redis.status.usable();
            // About when Redis drops the slot by itself (it counts from the script's run).
            let expires = Instant::now() + self.slot_ttl;
            match self.try_acquire(&id).await {
                Some(1) => {
                    return Ok(SlotGrant::Granted(Some(Box::new(RedisSlot {
                        redis: self.redis.clone(),
                        scripts: self.scripts.clone(),
                        id,
                        cap: self.cap,
                        unfreed: self.unfreed.clone(),
                        expires,
                    }))))
                }
                Some(ms) if ms < 0 => {
                    return Ok(SlotGrant::Paused(Duration::from_millis(ms.unsigned_abs())))
                }
                Some(_) => {}
                None => {
                    // Asked, the script may have run and only its answer been late: the slot
                    // it may have added is freed, not left to expire.
                    if asked {
                        free_slot(self.freeing(), id, expires);
                    }
                    return self.acquire_local(until, started).await;
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                metrics::counter!("upstream_queue_rejections_total").increment(1);
                return Err(UpstreamError::Overloaded {
                    waited: started.elapsed(),
                });
            }
            let _ = tokio::time::timeout(left.min(POLL), notified).await;
        }
    }

    async fn acquire_local(
        &self,
        until: Instant,
        started: Instant,
    ) -> Result<SlotGrant, UpstreamError> {
        self.redis.status.fallback(Concern::Slots);
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.local.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(SlotGrant::Granted(Some(Box::new(permit) as SlotGuard))),
            _ => {
                metrics::counter!("upstream_queue_rejections_total").increment(1);
                Err(UpstreamError::Overloaded {
                    waited: started.elapsed(),
                })
            }
        }
    }
}

/// The stack holds it through `ThrottleGate::cluster`.
pub(super) struct SharedSlots(pub Arc<ClusterSlots>);

impl ClusterLimits for SharedSlots {
    fn slot(&self, deadline: Instant) -> BoxFuture<'static, Result<SlotGrant, UpstreamError>> {
        Box::pin(self.0.clone().acquire(deadline))
    }

    fn paused(&self, wait: Duration) {
        let slots = self.0.clone();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let key = slots.redis.key("pause");
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            let scripts = slots.scripts.clone();
            let done = slots
                .redis
                .run(|mut conn| async move {
                    scripts
                        .2
                        .key(key)
                        .arg(ms)
                        .invoke_async::<i64>(&mut conn)
                        .await
                })
                .await;
            if done.is_none() {
                // This replica pauses (the stack did); the others learn of their own 429s.
                slots.redis.status.fallback(Concern::Pause);
            }
        });
    }
}
