//! The partner request deadline. It sits inside the audit and rate-limit layers, so a request that
//! runs out of time still gets its audit line, `RateLimit-*` headers and a problem+json 504. It also
//! sets the upstream call scope (partner as fairness key, the deadline), so upstream waits and
//! retries stay inside it. A stalled request body never reaches it: the body's own deadline
//! (`[gateway] body_read_timeout_ms`, shorter, checked at start; `server.rs`) answers 408 first,
//! so the 504 here is about the work the request asked for, not the client.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::principal::Principal;
use crate::ops::call_scope::{self, CallScope};
use crate::problem::ApiError;

/// Middleware (`from_fn_with_state(timeout, deadline)`).
pub async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let scope = CallScope {
        caller: req
            .extensions()
            .get::<Principal>()
            .map(|p| p.partner_key.clone()),
        deadline: Some(Instant::now() + limit),
    };
    match tokio::time::timeout(limit, call_scope::scope(scope, next.run(req))).await {
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
