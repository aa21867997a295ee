//! Dataverse throttles the application user, not the request: after a 429 every call waits until
//! its `Retry-After` has passed instead of being sent into certain refusal. A call whose deadline
//! comes before the pause ends fails at once with the remaining wait, without a wire call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;

/// Pause when a 429 carries no usable `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// When upstream calls may resume; shared by every call of the process.
#[derive(Debug, Default)]
pub struct ThrottleGate {
    paused_until: Mutex<Option<Instant>>,
    /// With a cluster: its slots and the pause every replica sees (`stack/shared.rs`).
    pub cluster: super::shared::SharedLimits,
}

impl ThrottleGate {
    /// The pause left, if any.
    pub fn remaining(&self) -> Option<Duration> {
        let until = (*self.paused_until.lock().ok()?)?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Waits out the pause, or fails at once when it ends after `deadline`. Loops: another 429 may
    /// extend the pause while this call waits.
    pub async fn wait(&self, deadline: Instant) -> Result<(), UpstreamError> {
        while let Some(wait) = self.remaining() {
            if Instant::now() + wait > deadline {
                return Err(UpstreamError::Throttled {
                    retry_after: Some(wait),
                });
            }
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Extends the pause to `now + wait` (never shortens it).
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let Ok(mut slot) = self.paused_until.lock() else {
            return;
        };
        let now = Instant::now();
        let previous = slot.filter(|u| *u > now).unwrap_or(now);
        if until > previous {
            // Only the extension counts: `_sum` is the time upstream calls were held back.
            metrics::histogram!("upstream_throttle_pause_seconds")
                .record((until - previous).as_secs_f64());
            *slot = Some(until);
        }
    }
}

#[derive(Clone)]
pub(super) struct ThrottleLayer(pub Arc<ThrottleGate>);

#[derive(Clone)]
pub(super) struct Throttle<S> {
    state: Arc<ThrottleGate>,
    inner: S,
}

super::layer_for!(ThrottleLayer => Throttle);

impl<S: Inner> Service<UpstreamRequest> for Throttle<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let gate = self.state.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            gate.wait(req.deadline).await?;
            let result = inner.oneshot(req).await;
            if let Err(UpstreamError::Throttled { retry_after }) = &result {
                metrics::counter!("upstream_throttled_total").increment(1);
                gate.pause(retry_after.unwrap_or(DEFAULT_PAUSE));
                gate.cluster.paused(retry_after.unwrap_or(DEFAULT_PAUSE));
            }
            result
        })
    }
}
