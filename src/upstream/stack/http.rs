//! The innermost service: one reqwest exchange, body read in full, non-2xx turned into
//! `UpstreamError` (so the layers above match on variants, not on status codes).

use tower::Service;

use super::{always_ready, BoxFuture, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;
use crate::upstream::wire;

/// Dataverse's id for a request, on every response.
const SERVICE_REQUEST_ID: &str = "x-ms-service-request-id";

#[derive(Clone)]
pub(super) struct HttpService {
    http: reqwest::Client,
}

impl HttpService {
    pub(super) fn new(http: reqwest::Client) -> Self {
        Self { http }
    }
}

impl Service<UpstreamRequest> for HttpService {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        let http = self.http.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let (label, method) = (req.label.clone(), req.method.clone());
            // The span id this attempt was sent as (`trace_context` layer): what Dataverse saw as parent.
            let span_id = req
                .headers
                .get(crate::ops::trace_context::TRACEPARENT)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.get(36..52))
                .unwrap_or("")
                .to_string();
            let mut rb = http.request(req.method, req.url).headers(req.headers);
            if let Some(body) = req.body {
                rb = rb.body(body);
            }
            let resp = rb.send().await.map_err(UpstreamError::from_reqwest)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(UpstreamError::from_reqwest)?;
            // Dataverse's own id for the request: what its support asks for. Bounded, visible
            // ASCII only (it is logged).
            let service_request_id = headers
                .get(SERVICE_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .filter(|v| crate::ops::request_id::acceptable(v.as_bytes()))
                .unwrap_or("-");
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            // One line per wire attempt, refusals included (their status says so). Background
            // work (the change scanner's pages) logs its calls at debug: its own line sums them up.
            macro_rules! call_line {
                ($level:expr) => {
                    tracing::event!(
                        target: "upstream",
                        $level,
                        entity_set = %label,
                        method = %method,
                        status = status.as_u16(),
                        service_request_id,
                        span_id = %span_id,
                        duration_ms,
                        "upstream call"
                    )
                };
            }
            if status.is_success() && crate::ops::request_id::current().is_none() {
                call_line!(tracing::Level::DEBUG);
            } else {
                call_line!(tracing::Level::INFO);
            }
            if status.is_success() {
                return Ok(Reply {
                    status,
                    headers,
                    body,
                });
            }
            Err(wire::error_from_response(status, &headers, &body))
        })
    }
}
