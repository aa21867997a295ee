//! One wire attempt's time limit: the configured timeout, never past the caller's deadline.

use std::time::{Duration, Instant};

use tower::{Service, ServiceExt};

use super::{always_ready, layer_for, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;

#[derive(Clone)]
pub(super) struct TimeoutLayer(pub Duration);

#[derive(Clone)]
pub(super) struct Timeout<S> {
    state: Duration,
    inner: S,
}

layer_for!(TimeoutLayer => Timeout);

impl<S: Inner> Service<UpstreamRequest> for Timeout<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let limit = self
            .state
            .min(req.deadline.saturating_duration_since(Instant::now()));
        let inner = self.inner.clone();
        Box::pin(async move {
            if limit.is_zero() {
                return Err(UpstreamError::Timeout);
            }
            tokio::time::timeout(limit, inner.oneshot(req))
                .await
                .unwrap_or(Err(UpstreamError::Timeout))
        })
    }
}
