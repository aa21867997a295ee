//! Partner rate limits for the whole cluster: GCRA (as governor computes it in `auth/rate_limit.rs`:
//! one cell every 1/`per_second` s, `burst` at once) in one Lua script, so a decision is one round
//! trip (EVALSHA) and atomic across replicas. The state is one key per partner holding its
//! theoretical arrival time in microseconds of Redis' clock (so replicas' clocks do not matter),
//! expiring once the bucket is full again. Without Redis: this replica's own limiter with its share
//! of the quota (`replicas_hint`).

use std::sync::Arc;

use futures::future::BoxFuture;
use redis::Script;

use super::connection::Redis;
use super::status::Concern;
use crate::auth::config::RateLimitConfig;
use crate::auth::rate_limit::{Decision, RateLimiters, SharedQuota};

/// Returns `{allowed, remaining, µs}`: µs until the bucket is full (allowed) or until the next
/// request may pass (limited). Numbers are formatted by hand: Lua would print 1.7e15 as `1.7e+15`.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), new_tat - now}
";

pub(super) struct ClusterQuota {
    redis: Arc<Redis>,
    script: Script,
    /// The per-replica fallback.
    local: RateLimiters,
    replicas_hint: u32,
}

impl ClusterQuota {
    pub(super) fn new(redis: Arc<Redis>, replicas_hint: u32) -> Self {
        Self {
            redis,
            script: Script::new(GCRA),
            local: RateLimiters::default(),
            replicas_hint: replicas_hint.max(1),
        }
    }

    async fn shared(&self, partner_id: &str, cfg: RateLimitConfig) -> Option<Decision> {
        let limit = cfg.burst.max(1);
        let interval_us = 1_000_000 / u64::from(cfg.per_second.max(1));
        let key = self.redis.key(&format!("rl:{partner_id}"));
        let (allowed, remaining, wait_us): (i64, i64, i64) = self
            .redis
            .run(|mut conn| async move {
                self.script
                    .key(key)
                    .arg(interval_us)
                    .arg(limit)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        let secs = u64::try_from(wait_us).unwrap_or(0).div_ceil(1_000_000);
        Some(if allowed == 1 {
            Decision::Allowed {
                limit,
                remaining: u32::try_from(remaining).unwrap_or(0).min(limit),
                reset: secs,
            }
        } else {
            Decision::Limited {
                limit,
                retry_after: secs.max(1),
            }
        })
    }

    /// This replica's share of `cfg` while Redis is unreachable.
    fn share(&self, cfg: RateLimitConfig) -> RateLimitConfig {
        RateLimitConfig {
            per_second: (cfg.per_second / self.replicas_hint).max(1),
            burst: (cfg.burst / self.replicas_hint).max(1),
        }
    }
}

impl SharedQuota for ClusterQuota {
    fn check<'a>(&'a self, partner_id: &'a str, cfg: RateLimitConfig) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            if let Some(d) = self.shared(partner_id, cfg).await {
                return d;
            }
            self.redis.status.fallback(Concern::RateLimit);
            self.local.check(partner_id, self.share(cfg))
        })
    }
}
