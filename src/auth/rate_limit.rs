//! Per-partner rate limits (governor GCRA, one limiter per partner id, so one partner's burst never
//! slows another). Runs after authentication; answers 429 with `Retry-After` and stamps
//! `RateLimit-Limit/-Remaining/-Reset` on every partner response.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::auth::config::RateLimitConfig;
use crate::auth::principal::Principal;
use crate::auth::AuthService;
use crate::problem::ApiError;

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        limit: u32,
        remaining: u32,
        reset: u64,
    },
    Limited {
        limit: u32,
        retry_after: u64,
    },
}

/// A quota kept outside the process (`cluster/`: one GCRA state per partner for every replica).
pub trait SharedQuota: Send + Sync {
    fn check<'a>(
        &'a self,
        partner_id: &'a str,
        cfg: RateLimitConfig,
    ) -> futures::future::BoxFuture<'a, Decision>;
}

#[derive(Default)]
pub struct RateLimiters {
    limiters: Mutex<HashMap<String, (RateLimitConfig, Arc<Limiter>)>>,
    /// With a cluster: the shared quota decides instead of the limiters above.
    shared: std::sync::OnceLock<Arc<dyn SharedQuota>>,
}

impl AuthService {
    /// Partner limits hold for the cluster from now on (installed once, at start).
    pub fn share_rate_limits(&self, quota: Arc<dyn SharedQuota>) {
        let _ = self.limiters.shared.set(quota);
    }
}

impl RateLimiters {
    async fn decide(&self, partner_id: &str, cfg: RateLimitConfig) -> Decision {
        match self.shared.get() {
            Some(shared) => shared.check(partner_id, cfg).await,
            None => self.check(partner_id, cfg),
        }
    }

    /// The partner's limiter, rebuilt when a reload changed its quota.
    fn limiter(&self, partner_id: &str, cfg: RateLimitConfig) -> Arc<Limiter> {
        let mut map = match self.limiters.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match map.get(partner_id) {
            Some((c, l)) if *c == cfg => l.clone(),
            _ => {
                let l = Arc::new(RateLimiter::direct(quota(cfg)).with_middleware());
                map.insert(partner_id.to_string(), (cfg, l.clone()));
                l
            }
        }
    }

    pub fn check(&self, partner_id: &str, cfg: RateLimitConfig) -> Decision {
        let limiter = self.limiter(partner_id, cfg);
        let limit = cfg.burst.max(1);
        match limiter.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                // Seconds until the bucket is full again.
                let missing = u64::from(limit.saturating_sub(remaining));
                let reset = missing.div_ceil(u64::from(cfg.per_second.max(1)));
                Decision::Allowed {
                    limit,
                    remaining,
                    reset,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Decision::Limited {
                    limit,
                    retry_after: retry_after.max(1),
                }
            }
        }
    }

    /// Drops limiters of partners no longer in the registry.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        if let Ok(mut map) = self.limiters.lock() {
            map.retain(|id, _| keep(id));
        }
    }
}

fn quota(cfg: RateLimitConfig) -> Quota {
    let per_second = NonZeroU32::new(cfg.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(cfg.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The current IETF draft's structured fields (`RateLimit-Policy`, `RateLimit`: quota `q` per
/// window `w`, remaining `r`, seconds until full `t`) and the earlier draft's three fields.
fn stamp(resp: &mut Response, cfg: RateLimitConfig, remaining: u32, reset: u64) {
    let limit = cfg.burst.max(1);
    let window = u64::from(limit).div_ceil(u64::from(cfg.per_second.max(1)));
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("\"partner\";q={limit};w={window}")) {
        h.insert(POLICY, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"partner\";r={remaining};t={reset}")) {
        h.insert(RATELIMIT, v);
    }
    h.insert(LIMIT, HeaderValue::from(limit));
    h.insert(REMAINING, HeaderValue::from(remaining));
    h.insert(RESET, HeaderValue::from(reset));
}

/// Middleware (`from_fn_with_state`), placed inside `authenticate`. Unauthenticated requests pass
/// untouched: the handler's `Principal` extractor refuses them.
pub async fn rate_limit(
    State(auth): State<Arc<AuthService>>,
    req: Request,
    next: Next,
) -> Response {
    // An `Arc` bump, not a copy of the partner id.
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return next.run(req).await;
    };
    let partner_id = principal.partner_id.as_str();
    let Some(cfg) = auth.registry().partner(partner_id).map(|p| p.rate_limit) else {
        return next.run(req).await;
    };
    match auth.limiters.decide(partner_id, cfg).await {
        Decision::Allowed {
            remaining, reset, ..
        } => {
            let mut resp = next.run(req).await;
            stamp(&mut resp, cfg, remaining, reset);
            resp
        }
        Decision::Limited { limit, retry_after } => {
            tracing::info!(partner = %partner_id, retry_after, "partner rate limit exceeded");
            metrics::counter!("rate_limit_rejections_total", "partner" => principal.partner_key.clone())
                .increment(1);
            let mut resp = ApiError::RateLimited {
                retry_after,
                limit: u64::from(limit),
            }
            .into_response();
            stamp(&mut resp, cfg, 0, retry_after);
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_have_separate_buckets() {
        let l = RateLimiters::default();
        let cfg = RateLimitConfig {
            per_second: 1,
            burst: 2,
        };
        assert!(matches!(
            l.check("a", cfg),
            Decision::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            l.check("a", cfg),
            Decision::Allowed { remaining: 0, .. }
        ));
        assert!(matches!(
            l.check("a", cfg),
            Decision::Limited { retry_after: 1, .. }
        ));
        assert!(matches!(
            l.check("b", cfg),
            Decision::Allowed { remaining: 1, .. }
        ));
    }

    #[test]
    fn a_new_quota_takes_effect() {
        let l = RateLimiters::default();
        let small = RateLimitConfig {
            per_second: 1,
            burst: 1,
        };
        assert!(matches!(l.check("a", small), Decision::Allowed { .. }));
        assert!(matches!(l.check("a", small), Decision::Limited { .. }));
        let big = RateLimitConfig {
            per_second: 1,
            burst: 5,
        };
        assert!(matches!(
            l.check("a", big),
            Decision::Allowed { limit: 5, .. }
        ));
    }
}
