//! Whether the limits are shared right now or this replica runs on its own share (Redis
//! unreachable). One state for the connection: a failure switches every concern to its fallback
//! for [`RETRY_AFTER`], so a request pays Redis' short timeout at most once per period, not each
//! time; the first call after it tries Redis again. Logged once per change, counted per decision
//! taken without Redis (`cluster_fallback_total{concern}`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a replica keeps to its fallback after a Redis failure before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What the cluster shares; each has its own fallback (README, "Running several replicas").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    RateLimit,
    Slots,
    Pause,
    Invalidation,
}

impl Concern {
    pub fn label(self) -> &'static str {
        match self {
            Concern::RateLimit => "rate_limit",
            Concern::Slots => "upstream_slots",
            Concern::Pause => "throttle_pause",
            Concern::Invalidation => "cache_invalidation",
        }
    }
}

#[derive(Debug)]
pub struct ClusterStatus {
    started: Instant,
    /// Milliseconds since `started` before which Redis is not tried (0: use it).
    retry_at_ms: AtomicU64,
    down: AtomicBool,
}

impl Default for ClusterStatus {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            retry_at_ms: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }
}

impl ClusterStatus {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether to ask Redis now (false while a recent failure's period runs).
    pub fn usable(&self) -> bool {
        self.now_ms() >= self.retry_at_ms.load(Ordering::Relaxed)
    }

    /// A Redis call failed or timed out: fall back for a while. `why` never holds the URL.
    pub fn failed(&self, why: &str) {
        let retry = self.now_ms() + u64::try_from(RETRY_AFTER.as_millis()).unwrap_or(1_000);
        self.retry_at_ms.store(retry, Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                reason = %why,
                "cluster: Redis unreachable; per-replica limits (limit / replicas_hint) until it answers again"
            );
            metrics::gauge!("cluster_redis_up").set(0.0);
        }
    }

    /// A Redis call answered.
    pub fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("cluster: Redis answers again; limits are shared");
            metrics::gauge!("cluster_redis_up").set(1.0);
        }
        self.retry_at_ms.store(0, Ordering::Relaxed);
    }

    /// One decision taken without Redis.
    pub fn fallback(&self, concern: Concern) {
        metrics::counter!("cluster_fallback_total", "concern" => concern.label()).increment(1);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// For `/readyz`: `shared` or `fallback` (the replica stays ready either way).
    pub fn word(&self) -> &'static str {
        if self.is_down() {
            "fallback"
        } else {
            "shared"
        }
    }
}
