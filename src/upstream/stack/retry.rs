//! The retry policy (a `tower::retry::Policy`): only calls marked idempotent are re-sent; a 429 is
//! re-sent after the throttle gate's pause, 5xx, timeouts and connect errors after an exponential
//! backoff with full jitter. Every retry must fit before the caller's deadline and be allowed by a
//! shared budget (`TpsBudget`: retries at most a set share of calls, plus a small floor), so a sick
//! upstream never sees a retry storm.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tower::retry::budget::{Budget, TpsBudget};
use tower::retry::{Policy, Retry};

use super::{Reply, ResilienceConfig, UpstreamRequest};
use crate::upstream::error::{ThrottledBy, UpstreamError};

/// An attempt needs at least this much time left to be worth sending.
const MIN_ATTEMPT: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub(super) struct RetryPolicy {
    budget: Arc<TpsBudget>,
    max_retries: u32,
    base: Duration,
    cap: Duration,
    /// Per call (the policy is cloned for each call).
    retries: u32,
    deposited: bool,
}

impl RetryPolicy {
    pub(super) fn new(cfg: &ResilienceConfig) -> Self {
        Self {
            // 10 s window; a floor of 5 retries a second so a quiet gateway can still retry.
            budget: Arc::new(TpsBudget::new(
                Duration::from_secs(10),
                5,
                cfg.retry_budget.clamp(0.0, 1000.0),
            )),
            max_retries: cfg.max_retries,
            base: cfg.backoff_base,
            cap: cfg.backoff_cap,
            retries: 0,
            deposited: false,
        }
    }

    /// Full jitter: uniform in [0, min(cap, base·2^n)].
    fn backoff(&self) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << self.retries.min(16))
            .min(self.cap);
        exp.mul_f64(rand::random::<f64>())
    }
}

/// Why a failed call may be sent again, as a metric label.
fn retry_reason(e: &UpstreamError) -> Option<&'static str> {
    Some(match e {
        // The gateway's own refusal already waits past the deadline: a retry would meet it again.
        UpstreamError::Throttled {
            by: ThrottledBy::Gateway,
            ..
        } => return None,
        UpstreamError::Throttled { .. } => "throttled",
        UpstreamError::Unavailable { .. } | UpstreamError::ServerError { .. } => "server_error",
        UpstreamError::Timeout => "timeout",
        UpstreamError::Network(_) => "network",
        _ => return None,
    })
}

impl Policy<UpstreamRequest, Reply, UpstreamError> for RetryPolicy {
    type Future = BoxFuture<'static, ()>;

    fn retry(
        &mut self,
        req: &mut UpstreamRequest,
        result: &mut Result<Reply, UpstreamError>,
    ) -> Option<Self::Future> {
        if !self.deposited {
            self.deposited = true;
            self.budget.deposit();
        }
        let err = result.as_ref().err()?;
        if !req.idempotent || self.retries >= self.max_retries {
            return None;
        }
        let reason = retry_reason(err)?;
        // After a 429 the gate holds the call until the pause ends; here only check it fits.
        let delay = match err {
            UpstreamError::Throttled { retry_after, .. } => {
                let wait = retry_after.unwrap_or_default();
                if Instant::now() + wait + MIN_ATTEMPT > req.deadline {
                    return None;
                }
                Duration::ZERO
            }
            _ => self.backoff(),
        };
        if Instant::now() + delay + MIN_ATTEMPT > req.deadline {
            return None;
        }
        if !self.budget.withdraw() {
            metrics::counter!("upstream_retries_exhausted_total").increment(1);
            return None;
        }
        self.retries += 1;
        metrics::counter!("upstream_retries_total", "entity_set" => req.label.to_string(), "reason" => reason)
            .increment(1);
        tracing::debug!(
            reason,
            retry = self.retries,
            delay_ms = delay.as_millis() as u64,
            "retrying upstream call"
        );
        Some(Box::pin(tokio::time::sleep(delay)))
    }

    fn clone_request(&mut self, req: &UpstreamRequest) -> Option<UpstreamRequest> {
        req.idempotent.then(|| req.clone())
    }
}

pub(super) struct RetryLayer(RetryPolicy);

impl RetryLayer {
    pub(super) fn new(cfg: &ResilienceConfig) -> Self {
        Self(RetryPolicy::new(cfg))
    }
}

impl<S> tower::Layer<S> for RetryLayer {
    type Service = Retry<RetryPolicy, S>;
    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(self.0.clone(), inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_under_the_cap() {
        let mut p = RetryPolicy::new(&ResilienceConfig::default());
        for n in 0..8 {
            p.retries = n;
            let d = p.backoff();
            let ceiling = Duration::from_millis(100 * (1 << n)).min(Duration::from_secs(2));
            assert!(d <= ceiling, "{n}: {d:?} > {ceiling:?}");
        }
    }
}
