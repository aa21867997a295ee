//! Sends the current trace upstream (W3C `traceparent`, and the caller's `tracestate`): each wire
//! attempt is a new child span of the gateway's span (same trace id and sampled flag, its own
//! parent id), so Dataverse-side telemetry joins the partner's trace. Outside a request or
//! background unit of work a call starts a trace of its own.

use reqwest::header::HeaderValue;
use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::ops::trace_context::{self, TraceContext, TRACEPARENT, TRACESTATE};
use crate::upstream::error::UpstreamError;

#[derive(Clone)]
pub(super) struct TraceContextLayer;

impl<S> tower::Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService { inner }
    }
}

#[derive(Clone)]
pub(super) struct TraceContextService<S> {
    inner: S,
}

impl<S: Inner> Service<UpstreamRequest> for TraceContextService<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, mut req: UpstreamRequest) -> Self::Future {
        let cx = trace_context::current().unwrap_or_else(TraceContext::new_root);
        // Hex digits and dashes only: always a valid header value.
        if let Ok(v) = HeaderValue::from_str(&cx.child_traceparent()) {
            req.headers.insert(TRACEPARENT, v);
        }
        if let Some(Ok(v)) = cx.tracestate().map(HeaderValue::from_str) {
            req.headers.insert(TRACESTATE, v);
        }
        Box::pin(self.inner.clone().oneshot(req))
    }
}
