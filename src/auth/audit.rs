//! One audit line per partner request (partner, method, route, status, upstream calls, duration),
//! never a header, query string, body or token. The upstream client counts its calls through a
//! task-local set up here.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::principal::AuthenticatedPartner;
use crate::ops::upstream_calls::Counter;

/// Status logged for a request whose client went away before the answer (nginx's convention).
const CLIENT_CLOSED: u16 = 499;

/// The line in the making. Written on drop, so a request cancelled half-way (client disconnect)
/// still leaves its line.
struct AuditLine {
    /// Bounded like the metric label: a made-up method is `_OTHER`.
    method: &'static str,
    /// The route template (shared with the router, not copied), `None` when unmatched.
    route: Option<MatchedPath>,
    start: Instant,
    calls: Counter,
    partner: Option<Arc<str>>,
    status: u16,
    usage: Arc<crate::auth::usage::UsageMeter>,
}

impl Drop for AuditLine {
    fn drop(&mut self) {
        if let Some(p) = &self.partner {
            self.usage
                .record(p, self.status, u64::from(self.calls.get()));
        }
        tracing::info!(
            target: "audit",
            partner = self.partner.as_deref().unwrap_or("-"),
            method = self.method,
            route = self.route.as_ref().map_or("<unmatched>", MatchedPath::as_str),
            status = self.status,
            upstream_calls = self.calls.get(),
            duration_ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
            "partner request"
        );
    }
}

/// Middleware (`axum::middleware::from_fn`), placed outside `authenticate`.
pub async fn audit(
    State(usage): State<Arc<crate::auth::usage::UsageMeter>>,
    req: Request,
    next: Next,
) -> Response {
    let mut line = AuditLine {
        method: crate::ops::metrics::method_label(req.method()),
        // The route template, not the raw path: no ids or query strings in the audit trail.
        route: req.extensions().get::<MatchedPath>().cloned(),
        start: Instant::now(),
        calls: Counter::default(),
        partner: None,
        status: CLIENT_CLOSED,
        usage,
    };
    let resp = line.calls.clone().scope(next.run(req)).await;
    line.partner = resp
        .extensions()
        .get::<AuthenticatedPartner>()
        .map(|p| p.0.clone());
    line.status = resp.status().as_u16();
    resp
}
