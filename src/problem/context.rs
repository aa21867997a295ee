//! The layer that completes problem answers: it takes the [`Problem`] that `ApiError::into_response`
//! left in the response extensions, fills the absolute `type`, `instance` (the request path; an
//! invite link's as its template) and `request_id`, and writes the body. An error answer that
//! carries no problem and is not JSON (an extractor's or a layer's plain-text rejection, an empty
//! 504) becomes one too, or RFC 6749 JSON on the token endpoint; so every error a partner sees has
//! a known, bounded shape. Also makes the request id current (`ops::request_id`) for the upstream
//! client. `trace_id` comes from the trace made current outside (`ops::trace_context`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;

use super::{Problem, PROBLEM_JSON};

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
/// In a response's extensions: an error answer in its own deliberate shape (the invite page's HTML),
/// left as it is.
#[derive(Debug, Clone, Copy)]
pub struct OwnErrorBody;

pub async fn problem_context(
    State(base): State<Arc<ProblemBase>>,
    req: Request,
    next: Next,
) -> Response {
    // An invite link's token is a credential: a problem body (pasted into a ticket, kept by a
    // proxy) names the route template instead.
    let path = crate::ops::logging::loggable_path(req.uri().path()).to_string();
    let request_id = req
        .headers()
        .get(crate::ops::request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let base = base.resolve(req.headers());
    let mut resp = crate::ops::request_id::scope(request_id.clone(), next.run(req)).await;
    let mut problem = match resp.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None => {
            let status = resp.status();
            let is_json = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            // A page written for people (a job board's 404) stays a page.
            let is_html = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
            // Success, or an error in a deliberate JSON shape (RFC 6749 at the token endpoint, /readyz).
            let own = resp.extensions().get::<OwnErrorBody>().is_some();
            if is_json || is_html || own || !(status.is_client_error() || status.is_server_error())
            {
                return resp;
            }
            if path == "/oauth2/token" {
                return oauth_error_for(status);
            }
            let (mut parts, _) = resp.into_parts();
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
            resp = Response::from_parts(parts, axum::body::Body::empty());
            Problem::for_status(status)
        }
    };
    let trace_id = crate::ops::trace_context::current().map(|c| c.trace_id());
    problem.complete(&base, &path, request_id.as_deref(), trace_id);
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(problem.to_body()))
}

/// The token endpoint speaks RFC 6749 §5.2 even for answers its handler did not write (a body over
/// the limit refused by a layer, a timeout).
fn oauth_error_for(status: StatusCode) -> Response {
    use crate::auth::token_endpoint::OAuthError;
    let (code, description) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("invalid_request", "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => (
            "invalid_request",
            crate::auth::token_endpoint::BODY_NOT_IN_TIME,
        ),
        s if s.is_server_error() => (
            "temporarily_unavailable",
            "the token endpoint could not answer; retry shortly",
        ),
        _ => ("invalid_request", "the request could not be understood"),
    };
    OAuthError {
        status: Some(status),
        ..OAuthError::new(code, description)
    }
    .into_response()
}
