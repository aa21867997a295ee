//! One audit line per partner request (partner, method, route, status, upstream calls, duration),
//! never a header, query string, body or token. The upstream client counts its calls through a
//! task-local set up here.

use std::cell::Cell;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::principal::AuthenticatedPartner;

tokio::task_local! {
    static UPSTREAM_CALLS: Cell<u32>;
}

/// Counts one upstream (Dataverse/Entra) call for the current request's audit line. A no-op
/// outside a request (or in a task spawned off it).
pub fn record_upstream_call() {
    let _ = UPSTREAM_CALLS.try_with(|c| c.set(c.get().saturating_add(1)));
}

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
    let (resp, upstream_calls) = UPSTREAM_CALLS
        .scope(Cell::new(0), async {
            let resp = next.run(req).await;
            (resp, UPSTREAM_CALLS.with(Cell::get))
        })
        .await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counter_is_per_scope_and_inert_outside() {
        record_upstream_call();
        let n = UPSTREAM_CALLS
            .scope(Cell::new(0), async {
                record_upstream_call();
                record_upstream_call();
                UPSTREAM_CALLS.with(Cell::get)
            })
            .await;
        assert_eq!(n, 2);
    }
}
