//! The innermost service: one reqwest exchange, body read in full, non-2xx turned into
//! `UpstreamError` (so the layers above match on variants, not on status codes).

use tower::Service;

use super::{always_ready, BoxFuture, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;
use crate::upstream::wire;

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
            let mut rb = http.request(req.method, req.url).headers(req.headers);
            if let Some(body) = req.body {
                rb = rb.body(body);
            }
            let resp = rb.send().await.map_err(UpstreamError::from_reqwest)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(UpstreamError::from_reqwest)?;
            if status.is_success() {
                return Ok(Reply {
                    status,
                    headers,
                    body,
                });
            }
            let err = wire::error_from_response(status, &headers, &body);
            // Dataverse's own id for the request: what its support asks for.
            if let Some(id) = headers
                .get("x-ms-service-request-id")
                .and_then(|v| v.to_str().ok())
            {
                tracing::info!(service_request_id = %id, status = status.as_u16(), "Dataverse refused a call");
            }
            Err(err)
        })
    }
}
