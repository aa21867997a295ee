//! Per wire attempt: `upstream_requests_total` and `upstream_request_duration_seconds` by entity set
//! and status, and the partner request's upstream-call count (for its audit line).

use std::time::Instant;

use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;

#[derive(Clone)]
pub(super) struct MetricsLayer;

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Metrics { inner }
    }
}

#[derive(Clone)]
pub(super) struct Metrics<S> {
    inner: S,
}

impl<S: Inner> Service<UpstreamRequest> for Metrics<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            crate::ops::upstream_calls::record();
            let label = req.label.to_string();
            let started = Instant::now();
            let result = inner.oneshot(req).await;
            let status = match &result {
                Ok(reply) => reply.status.as_u16().to_string(),
                Err(e) => e.status_label(),
            };
            metrics::counter!("upstream_requests_total", "entity_set" => label.clone(), "status" => status.clone())
                .increment(1);
            metrics::histogram!("upstream_request_duration_seconds", "entity_set" => label, "status" => status)
                .record(started.elapsed().as_secs_f64());
            result
        })
    }
}
