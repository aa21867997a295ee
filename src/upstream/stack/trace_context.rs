//! Sends the current trace upstream (W3C `traceparent`, and the caller's `tracestate`): each wire
//! attempt is a new child span of the gateway's span (same trace id and sampled flag, its own
//! parent id), so Dataverse-side telemetry joins the partner's trace. Outside a request or
//! background unit of work a call starts a trace of its own. With span export on
//! (`ops::telemetry`), each attempt is also exported as a client span with that id.

use reqwest::header::HeaderValue;
use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::ops::telemetry;
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
        let span_id = trace_context::new_span_id();
        // Hex digits and dashes only: always a valid header value.
        if let Ok(v) = HeaderValue::from_str(&cx.child_traceparent(span_id)) {
            req.headers.insert(TRACEPARENT, v);
        }
        if let Some(Ok(v)) = cx.tracestate().map(HeaderValue::from_str) {
            req.headers.insert(TRACESTATE, v);
        }
        if !telemetry::enabled() {
            return Box::pin(self.inner.clone().oneshot(req));
        }
        // Exported only: a client span with the id Dataverse sees as its parent. Never entered,
        // so log lines keep the request's span; closed (ended) when the attempt is over.
        let span = tracing::info_span!(
            "upstream",
            otel.kind = "client",
            entity_set = %req.label,
            http.request.method = %req.method,
            http.response.status_code = tracing::field::Empty,
            service_request_id = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        telemetry::start_child(&span, &cx, span_id);
        let call = self.inner.clone().oneshot(req);
        Box::pin(async move {
            let result = call.await;
            match &result {
                Ok(reply) => {
                    span.record("http.response.status_code", reply.status.as_u16());
                    if let Some(id) = reply
                        .headers
                        .get("x-ms-service-request-id")
                        .and_then(|v| v.to_str().ok())
                    {
                        span.record("service_request_id", id);
                    }
                }
                Err(_) => {
                    span.record("otel.status_code", "ERROR");
                }
            }
            result
        })
    }
}
