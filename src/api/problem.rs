//! The partner API's one error type and its one mapping to HTTP: RFC 9457 `application/problem+json`
//! (`/work/shared/design/api-conventions.md`). `instance` and `request_id` are filled in by the
//! `problem_context` middleware, so errors can be raised anywhere without request plumbing.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer-ish location: `#/page_size`, `#/person/first_name`.
    pub pointer: String,
    pub detail: String,
}

// For the OpenAPI document only: bodies are built by `into_response`, completed by `problem_context`.
/// An RFC 9457 problem: the body of every error answer (`application/problem+json`).
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `/problems/{slug}`, a page explaining the problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What to do about it (never upstream text).
    pub detail: String,
    /// The request path.
    pub instance: String,
    /// The `X-Request-Id` of the request: quote it when reporting a problem.
    pub request_id: String,
    /// Each invalid parameter or field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid parameter {name}: {detail}")]
    InvalidParameter { name: String, detail: String },
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized: {description}")]
    /// `error` is the RFC 6750 code; `None` when the request carried no credentials at all, which
    /// RFC 6750 §3.1 answers with a bare challenge.
    Unauthorized {
        error: Option<&'static str>,
        description: String,
    },
    #[error("missing scope {scope}")]
    MissingScope { scope: String },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("cursor expired")]
    CursorExpired,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("rate limited")]
    RateLimited { retry_after: u64, limit: u64 },
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// Dataverse refused the gateway itself (credentials, role, table not generated): the operator must act.
    #[error("upstream misconfigured: {0}")]
    UpstreamMisconfigured(String),
    /// Dataverse failed or answered something unusable.
    #[error("upstream failed: {0}")]
    UpstreamFailed(String),
    /// Dataverse throttled us; partners should slow down.
    #[error("upstream throttled")]
    UpstreamThrottled { retry_after: u64 },
    /// Dataverse or Entra unavailable (or the breaker is open).
    #[error("upstream unavailable: {0}")]
    UpstreamUnavailable(String),
    #[error("upstream timeout")]
    UpstreamTimeout,
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn param(name: &str, detail: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.to_string(),
            detail: detail.into(),
        }
    }

    /// (status, type slug, title) — the single table of the mapping.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            InvalidParameter { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                "Invalid parameter",
            ),
            BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Unauthorized { .. } => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            MissingScope { .. } => (StatusCode::FORBIDDEN, "missing-scope", "Missing scope"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            CursorExpired => (StatusCode::GONE, "cursor-expired", "Cursor expired"),
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Validation failed",
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            NotAcceptable(_) => (
                StatusCode::NOT_ACCEPTABLE,
                "not-acceptable",
                "Not acceptable",
            ),
            UpstreamMisconfigured(_) => (
                StatusCode::BAD_GATEWAY,
                "upstream-misconfigured",
                "HR system refused the gateway",
            ),
            UpstreamFailed(_) => (
                StatusCode::BAD_GATEWAY,
                "upstream-failed",
                "HR system error",
            ),
            UpstreamThrottled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "upstream-throttled",
                "HR system is throttling requests",
            ),
            UpstreamUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream-unavailable",
                "HR system unavailable",
            ),
            UpstreamTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "HR system timed out",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// What the partner reads: actionable, never an upstream body, URL or secret.
    fn detail(&self) -> String {
        use ApiError::*;
        match self {
            InvalidParameter { name, detail } => format!("{name} {detail}"),
            BadRequest(d) | NotFound(d) | Conflict(d) | NotAcceptable(d) => d.clone(),
            Unauthorized { description, .. } => description.clone(),
            MissingScope { scope } => format!("this route needs the scope `{scope}`, which your token does not carry"),
            MethodNotAllowed => "this route does not accept that method; see /docs".into(),
            CursorExpired => "the cursor has expired; restart the listing without a cursor".into(),
            Validation(errs) => format!("{} field(s) failed validation", errs.len()),
            RateLimited { retry_after, .. } => format!("rate limit exceeded; retry after {retry_after} s"),
            UpstreamMisconfigured(_) => "the HR system refused the gateway's credentials or permissions; the operator has been told (see /readyz)".into(),
            UpstreamFailed(_) => "the HR system answered with an error; retry later, and report the request_id if it persists".into(),
            UpstreamThrottled { retry_after } => format!("the HR system is throttling requests; retry after {retry_after} s"),
            UpstreamUnavailable(_) => "the HR system is unavailable; retry later".into(),
            UpstreamTimeout => "the HR system did not answer in time; retry later".into(),
            Internal(_) => "unexpected error; report the request_id".into(),
        }
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.classify();
        match &self {
            ApiError::Internal(why)
            | ApiError::UpstreamFailed(why)
            | ApiError::UpstreamMisconfigured(why)
            | ApiError::UpstreamUnavailable(why) => {
                tracing::warn!(problem = slug, reason = %why, "request failed")
            }
            _ => tracing::debug!(problem = slug, "request refused"),
        }
        let mut body = json!({
            "type": format!("/problems/{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail(),
        });
        let errors: Option<Vec<FieldError>> = match &self {
            ApiError::InvalidParameter { name, detail } => Some(vec![FieldError {
                pointer: format!("#/{name}"),
                detail: detail.clone(),
            }]),
            ApiError::Validation(errs) => Some(errs.clone()),
            _ => None,
        };
        if let (Some(errs), Some(obj)) = (errors, body.as_object_mut()) {
            obj.insert(
                "errors".into(),
                serde_json::to_value(errs).unwrap_or(Value::Null),
            );
        }
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::Unauthorized { error, description } => {
                let v = match error {
                    Some(error) => format!(
                        "Bearer realm=\"ats-gateway\", error=\"{error}\", error_description=\"{}\"",
                        description.replace('"', "'")
                    ),
                    None => "Bearer realm=\"ats-gateway\"".to_string(),
                };
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            ApiError::MissingScope { scope } => {
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "Bearer realm=\"ats-gateway\", error=\"insufficient_scope\", scope=\"{scope}\""
                )) {
                    h.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            ApiError::RateLimited { retry_after, .. }
            | ApiError::UpstreamThrottled { retry_after } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::UpstreamUnavailable(_) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(5u64));
            }
            _ => {}
        }
        resp
    }
}

/// Human-readable explanation served at `/problems/{slug}`.
pub fn explain(slug: &str) -> Option<&'static str> {
    Some(match slug {
        "invalid-parameter" => "A query or path parameter is malformed or out of range. `errors[].pointer` names it; fix the value and retry.",
        "bad-request" => "The request could not be understood (for example a tampered or foreign cursor). Restart the listing or fix the request.",
        "unauthorized" => "No valid bearer token. Get one at POST /oauth2/token (client_credentials) and send `Authorization: Bearer <token>`.",
        "missing-scope" => "Your token lacks the scope this route needs. Ask the operator to grant it, then request a token with that scope.",
        "method-not-allowed" => "The route exists but not for this HTTP method. /docs lists each route's methods.",
        "not-found" => "The resource does not exist, or your partner profile may not see it.",
        "conflict" => "The request conflicts with an earlier one (for example an Idempotency-Key reused with a different body).",
        "cursor-expired" => "The cursor is too old. Restart the listing without a cursor.",
        "validation-failed" => "The body failed validation. Every failing field is listed in `errors` with a JSON pointer.",
        "rate-limited" => "You exceeded your partner rate limit. Wait `Retry-After` seconds; `RateLimit-*` headers show your budget.",
        "not-acceptable" => "The requested representation or language is not available.",
        "upstream-misconfigured" => "Dataverse refused the gateway (credentials, application user, security role, or a table not generated). Operators: /readyz and the gateway's log name the cause.",
        "upstream-failed" => "Dataverse answered with an error the gateway could not turn into data. Retry later; report the request_id if it persists.",
        "upstream-throttled" => "Dataverse service protection is throttling the gateway's application user. Wait `Retry-After` seconds.",
        "upstream-unavailable" => "Dataverse or Entra ID is unavailable. Wait `Retry-After` seconds.",
        "upstream-timeout" => "Dataverse did not answer in time. Retry later, perhaps with a smaller page_size.",
        "internal" => "An unexpected error in the gateway. Report the request_id.",
        _ => return None,
    })
}

/// The one mapping from upstream failures to partner problems. Upstream detail goes to the log
/// (via the variant's reason), never to the partner.
impl From<crate::upstream::error::UpstreamError> for ApiError {
    fn from(e: crate::upstream::error::UpstreamError) -> Self {
        use crate::upstream::error::UpstreamError as U;
        let reason = e.to_string();
        match e {
            U::Unauthorized | U::Forbidden { .. } | U::Config(_) => {
                ApiError::UpstreamMisconfigured(reason)
            }
            // 0x8006088a: the entity set does not exist (virtual table not generated in this environment).
            U::NotFound { ref code, .. } if code == "0x8006088a" => {
                ApiError::UpstreamMisconfigured(reason)
            }
            U::NotFound { .. } => ApiError::NotFound("the resource does not exist".into()),
            U::Throttled { retry_after } => ApiError::UpstreamThrottled {
                retry_after: retry_after.map_or(5, |d| d.as_secs().max(1)),
            },
            U::Unavailable { .. } | U::Network(_) => ApiError::UpstreamUnavailable(reason),
            U::Timeout => ApiError::UpstreamTimeout,
            U::TokenEndpoint(ref t)
                if t.status >= 500 || t.status == 0 || t.error == "temporarily_unavailable" =>
            {
                ApiError::UpstreamUnavailable(reason)
            }
            U::TokenEndpoint(_) => ApiError::UpstreamMisconfigured(reason),
            U::BadRequest { .. }
            | U::Rejected { .. }
            | U::ServerError { .. }
            | U::BadResponse(_) => ApiError::UpstreamFailed(reason),
            // The gateway refused to build its own request: a gateway bug (partner input is
            // checked before it reaches the builder), never an upstream failure.
            U::InvalidRequest(_) => ApiError::Internal(reason),
        }
    }
}

/// Completes problem bodies with `instance` (the request path) and `request_id`, so handlers and
/// extractors can raise `ApiError` without carrying the request around. Also makes the request id
/// current (`ops::request_id`) for the upstream client: this is the innermost layer that sees it.
pub async fn problem_context(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let resp = crate::ops::request_id::scope(request_id.clone(), next.run(req)).await;
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !is_problem {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (parts.status, "").into_response();
    };
    let mut v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("instance".into(), Value::String(path));
        if let Some(id) = request_id {
            obj.insert("request_id".into(), Value::String(id));
        }
    }
    let out = serde_json::to_vec(&v).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_an_explained_type() {
        let all = [
            ApiError::param("page_size", "must be between 1 and 200"),
            ApiError::BadRequest("x".into()),
            ApiError::Unauthorized {
                error: Some("invalid_token"),
                description: "x".into(),
            },
            ApiError::MissingScope {
                scope: "reference:read".into(),
            },
            ApiError::NotFound("x".into()),
            ApiError::MethodNotAllowed,
            ApiError::Conflict("x".into()),
            ApiError::CursorExpired,
            ApiError::Validation(vec![]),
            ApiError::RateLimited {
                retry_after: 1,
                limit: 1,
            },
            ApiError::NotAcceptable("x".into()),
            ApiError::UpstreamMisconfigured("x".into()),
            ApiError::UpstreamFailed("x".into()),
            ApiError::UpstreamThrottled { retry_after: 1 },
            ApiError::UpstreamUnavailable("x".into()),
            ApiError::UpstreamTimeout,
            ApiError::Internal("x".into()),
        ];
        for e in all {
            let (_, slug, _) = e.classify();
            assert!(explain(slug).is_some(), "{slug}");
        }
    }

    #[test]
    fn internal_reasons_do_not_leak() {
        let e = ApiError::UpstreamFailed("https://contoso.crm.dynamics.com secret body".into());
        assert!(!e.detail().contains("contoso"));
    }
}
