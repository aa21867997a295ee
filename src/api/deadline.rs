//! The partner request deadline. It sits inside the audit and rate-limit layers, so a request that
//! runs out of time still gets its audit line, `RateLimit-*` headers and a problem+json 504.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::ApiError;

/// Middleware (`from_fn_with_state(timeout, deadline)`).
pub async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(
                timeout_ms = limit.as_millis() as u64,
                "request deadline reached"
            );
            ApiError::UpstreamTimeout.into_response()
        }
    }
}
