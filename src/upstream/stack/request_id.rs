//! Sends the partner request's id upstream (`x-ms-client-request-id`, and `X-Request-Id`), so
//! Dataverse's logs correlate with ours. An id the client already set wins; outside a partner
//! request each call gets a fresh one.

use reqwest::header::HeaderValue;
use tower::{Service, ServiceExt};

use super::{always_ready, BoxFuture, Inner, Reply, UpstreamRequest};
use crate::upstream::error::UpstreamError;
use crate::upstream::wire::header_request_id;

pub(super) const CLIENT_REQUEST_ID: &str = "x-ms-client-request-id";

#[derive(Clone)]
pub(super) struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestId { inner }
    }
}

#[derive(Clone)]
pub(super) struct RequestId<S> {
    inner: S,
}

impl<S: Inner> Service<UpstreamRequest> for RequestId<S> {
    type Response = Reply;
    type Error = UpstreamError;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, mut req: UpstreamRequest) -> Self::Future {
        if !req.headers.contains_key(CLIENT_REQUEST_ID) {
            match crate::ops::request_id::current().and_then(|id| header_request_id(&id)) {
                Some(id) => {
                    req.headers.insert(CLIENT_REQUEST_ID, id.clone());
                    req.headers.insert("x-request-id", id);
                }
                None => {
                    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                        req.headers.insert(CLIENT_REQUEST_ID, v);
                    }
                }
            }
        }
        Box::pin(self.inner.clone().oneshot(req))
    }
}
