//! Dataverse throttles the application user, not the request: after a 429 every call waits until
//! its `Retry-After` has passed instead of being sent into certain refusal. A call whose deadline
//! comes before the pause ends fails at once with the remaining wait, without a wire call. Only a
//! 429 from Dataverse itself starts or extends the pause (here and for the cluster) and counts as
//! throttled: the gateway's own refusals (`ThrottledBy::Gateway`) follow a pause, never make one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::{ThrottledBy, UpstreamError};

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
                    by: ThrottledBy::Gateway,
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
            if let Err(UpstreamError::Throttled {
                retry_after,
                by: ThrottledBy::Dataverse,
            }) = &result
            {
                metrics::counter!("upstream_throttled_total").increment(1);
                gate.pause(retry_after.unwrap_or(DEFAULT_PAUSE));
                gate.cluster.paused(retry_after.unwrap_or(DEFAULT_PAUSE));
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower::ServiceExt;

    use super::*;
    use crate::upstream::pacing::{Budget, Priority};
    use crate::upstream::stack::pacing::PacingLayer;
    use crate::upstream::stack::shared::{ClusterLimits, SlotGrant};
    use crate::upstream::stack::FairLimiter;

    /// A cluster that counts the pauses it is told of.
    #[derive(Default)]
    struct Cluster {
        paused: AtomicUsize,
    }

    impl ClusterLimits for Cluster {
        fn slot(
            &self,
            _: Instant,
        ) -> futures::future::BoxFuture<'static, Result<SlotGrant, UpstreamError>> {
            Box::pin(async { Ok(SlotGrant::Granted(None)) })
        }
        fn paused(&self, _: Duration) {
            self.paused.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Pacing over the throttle layer over a call refused as throttled `by` Dataverse (its 429)
    /// or by the gateway below (as the concurrency layer does during another replica's pause),
    /// with a budget of 100 reported before.
    async fn refused(by: ThrottledBy) -> (Arc<ThrottleGate>, Arc<Cluster>, Arc<Budget>) {
        let gate = Arc::new(ThrottleGate::default());
        let cluster = Arc::new(Cluster::default());
        gate.cluster.install(cluster.clone());
        let budget = Arc::new(Budget::new(Duration::from_secs(30)));
        let seq = budget.admit(Priority::Partner, None).expect("admitted");
        budget.settle(seq);
        budget.report(seq, 100);
        let inner = tower::service_fn(move |_: UpstreamRequest| -> BoxFuture {
            Box::pin(async move {
                Err(UpstreamError::Throttled {
                    retry_after: Some(Duration::from_secs(2)),
                    by,
                })
            })
        });
        let limiter = Arc::new(FairLimiter::new(4, Duration::from_secs(1)));
        let service = tower::ServiceBuilder::new()
            .layer(PacingLayer(budget.clone(), limiter))
            .layer(ThrottleLayer(gate.clone()))
            .service(inner);
        let err = service
            .oneshot(crate::upstream::stack::test_request())
            .await
            .expect_err("refused");
        assert!(
            matches!(err, UpstreamError::Throttled { by: b, .. } if b == by),
            "{err:?}"
        );
        (gate, cluster, budget)
    }

    #[tokio::test]
    async fn only_dataverses_429_pauses_tells_the_cluster_and_drops_the_estimate() {
        let (gate, cluster, budget) = refused(ThrottledBy::Dataverse).await;
        assert!(gate.remaining().is_some(), "paused");
        assert_eq!(cluster.paused.load(Ordering::SeqCst), 1, "cluster told");
        assert_eq!(
            budget.remaining(),
            None,
            "estimate dropped: one call at a time"
        );

        let (gate, cluster, budget) = refused(ThrottledBy::Gateway).await;
        assert!(gate.remaining().is_none(), "no pause of its own");
        assert_eq!(
            cluster.paused.load(Ordering::SeqCst),
            0,
            "nothing re-broadcast"
        );
        assert_eq!(
            budget.remaining(),
            Some(100),
            "estimate kept, the unsent call not counted"
        );
    }
}
