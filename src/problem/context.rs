//! The layer that completes problem answers: it takes the [`Problem`] that `ApiError::into_response`
//! left in the response extensions, fills the absolute `type`, `instance` (the request path) and
//! `request_id`, and writes the body. Also makes the request id current (`ops::request_id`) for the
//! upstream client: this is the innermost layer that sees it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use super::Problem;

/// Where problem `type` URIs point: `gateway.problem_base_url`, else `{public base}/problems`.
#[derive(Debug, Clone, Default)]
pub struct ProblemBase {
    pub problem_base_url: String,
    pub public_url: String,
}

impl ProblemBase {
    fn resolve(&self, headers: &axum::http::HeaderMap) -> String {
        let configured = self.problem_base_url.trim().trim_end_matches('/');
        if configured.is_empty() {
            format!(
                "{}/problems",
                crate::public_url::base(&self.public_url, headers)
            )
        } else {
            configured.to_string()
        }
    }
}

/// Middleware (`from_fn_with_state(Arc<ProblemBase>, problem_context)`).
pub async fn problem_context(
    State(base): State<Arc<ProblemBase>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let request_id = req
        .headers()
        .get(crate::ops::request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let base = base.resolve(req.headers());
    let mut resp = crate::ops::request_id::scope(request_id.clone(), next.run(req)).await;
    let Some(mut problem) = resp.extensions_mut().remove::<Problem>() else {
        return resp;
    };
    problem.complete(&base, &path, request_id.as_deref());
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(problem.to_body()))
}
