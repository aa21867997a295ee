//! One audit line per partner request (partner, method, route, status, upstream calls, duration),
//! never a header, query string, body or token. The upstream client counts its calls through a
//! task-local set up here.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::principal::AuthenticatedPartner;

/// Kept for callers of the earlier name; the counter lives in `ops::upstream_calls`.
pub use crate::ops::upstream_calls::record as record_upstream_call;

/// Middleware (`axum::middleware::from_fn`), placed outside `authenticate`.
pub async fn audit(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    // The route template, not the raw path: no ids or query strings in the audit trail.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "<unmatched>".to_string());
    let start = Instant::now();
    let (resp, upstream_calls) = crate::ops::upstream_calls::counted(next.run(req)).await;
    let partner = resp
        .extensions()
        .get::<AuthenticatedPartner>()
        .map(|p| p.0.as_str())
        .unwrap_or("-");
    tracing::info!(
        target: "audit",
        partner,
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        upstream_calls,
        duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        "partner request"
    );
    resp
}
