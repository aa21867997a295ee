//! The gateway's one partner-facing error type and its one mapping to HTTP: RFC 9457
//! `application/problem+json`. `ApiError::into_response` builds the [`Problem`] once and leaves it in
//! the response extensions; the [`context`] layer completes it (absolute `type`, `instance`,
//! `request_id`) and writes the body, so errors can be raised anywhere (handlers, extractors, auth
//! layers) without request plumbing. Problem types live in one table ([`types`]).

pub mod body;
pub mod context;
pub mod types;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use context::problem_context;
pub use types::ProblemType;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Longest `detail` (and each `errors[].detail`): details may quote partner input.
const MAX_DETAIL_CHARS: usize = 1024;
/// Longest `instance` (the request path, up to the head limit otherwise).
const MAX_INSTANCE_CHARS: usize = 256;
/// Most `errors[]` entries in one problem.
pub const MAX_ERRORS: usize = 50;

/// `s` cut to at most `max` characters (marked with `…`).
pub fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer to the parameter or body field: `#/page_size`, `#/person/first_name`.
    #[schema(example = "#/page_size")]
    pub pointer: String,
    #[schema(example = "must be between 1 and 200")]
    pub detail: String,
}

/// An RFC 9457 problem: the body of every error answer (`application/problem+json`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "https://gateway.example.com/problems/invalid-parameter",
    "title": "Invalid parameter",
    "status": 400,
    "detail": "page_size must be between 1 and 200",
    "instance": "/v1/recruiting-requests",
    "request_id": "6f1c2d4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "errors": [{"pointer": "#/page_size", "detail": "must be between 1 and 200"}]
}))]
pub struct Problem {
    /// Absolute URI of a page explaining the problem and its fix (`{base}/problems/{slug}`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What to do about it (never upstream text).
    pub detail: String,
    /// The request path.
    pub instance: String,
    /// The `X-Request-Id` of the request: quote it when reporting a problem.
    pub request_id: String,
    /// The W3C trace id of the request (the caller's `traceparent`, else a new one; also in
    /// `traceresponse`): quote it with the request id.
    pub trace_id: String,
    /// Each invalid parameter or field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    #[serde(skip)]
    #[schema(ignore)]
    pub problem_type: &'static ProblemType,
}

impl Problem {
    pub fn status(&self) -> StatusCode {
        self.problem_type.status
    }

    /// The problem for an error answer that is not one (its status kept; its body, which may
    /// quote the request, not).
    pub fn for_status(status: StatusCode) -> Self {
        let t = types::for_status(status);
        let detail = match t.slug {
            "not-found" => "no such resource; see /docs",
            "method-not-allowed" => "this route does not accept that method; see /docs",
            "too-large" => "the request body is larger than the gateway accepts",
            "request-timeout" => "the request body did not arrive in time",
            "timeout" => "the request took too long; retry later",
            "unsupported-media-type" => {
                "this route takes a JSON body: send it as Content-Type: application/json"
            }
            "internal" => "unexpected error; report the request_id",
            _ => "the request could not be understood (malformed path, query, headers or body)",
        };
        Problem {
            kind: format!("/problems/{}", t.slug),
            title: t.title.to_string(),
            status: status.as_u16(),
            detail: detail.to_string(),
            instance: String::new(),
            request_id: String::new(),
            trace_id: String::new(),
            errors: None,
            problem_type: t,
        }
    }

    /// The body as sent: `type` made absolute under `base` (`https://host/problems`).
    pub fn complete(
        &mut self,
        base: &str,
        instance: &str,
        request_id: Option<&str>,
        trace_id: Option<String>,
    ) {
        self.kind = format!("{}/{}", base.trim_end_matches('/'), self.problem_type.slug);
        self.instance = bounded(instance, MAX_INSTANCE_CHARS);
        if let Some(id) = request_id {
            self.request_id = id.to_string();
        }
        if let Some(id) = trace_id {
            self.trace_id = id;
        }
    }

    pub fn to_body(&self) -> Vec<u8> {
        // A struct of strings and numbers: serialisation cannot fail; an empty object if it did.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// `Clone`: one failed computation answers every request that waited for it (response cache).
#[derive(Debug, Clone, thiserror::Error)]
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
    /// A query parameter names a company outside the partner's companies (which the partner knows).
    #[error("company {company} not allowed")]
    CompanyNotAllowed {
        parameter: &'static str,
        company: String,
        yours: Vec<String>,
    },
    /// A valid token sent from a browser origin its partner does not list.
    #[error("origin not allowed for this client")]
    OriginNotAllowed,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A required precondition header (`Idempotency-Key`) is missing.
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    /// An `Idempotency-Key` reused with another body.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// A write failed part-way and was undone: the cause's status and type, with a detail saying
    /// which step failed and what was undone.
    #[error("write failed: {detail}")]
    WriteFailed {
        cause: Box<ApiError>,
        detail: String,
    },
    #[error("cursor expired")]
    CursorExpired,
    /// A changes-feed cursor whose following events were removed by retention.
    #[error("changes cursor past retention")]
    ChangesCursorExpired { retention_days: u32 },
    /// A changes-feed cursor past the newest event: the state store was restored or replaced.
    #[error("changes cursor ahead of the feed")]
    ChangesCursorAhead,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("rate limited")]
    RateLimited { retry_after: u64, limit: u64 },
    /// No webhook send slot free for a test delivery (`webhooks::slots`).
    #[error("webhook send slots busy")]
    WebhookSendsBusy { retry_after: u64 },
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// A JSON route's body sent as another media type, or without one (`json_body`).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
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
    /// The request body did not arrive in full within `[gateway] body_read_timeout_ms`: the
    /// client's doing, not HR's (`problem::body`); the connection is closed after the answer.
    #[error("request body not received in time")]
    RequestTimeout,
    /// The gateway's shared state store (Postgres) is unreachable or silent past `[state]
    /// timeout_ms`: any route that needs it answers 503 with `Retry-After` (a hire before it
    /// writes anything, with its own detail through `WriteFailed`).
    #[error("state store unavailable: {0}")]
    StateUnavailable(String),
    /// A hire written to HR (or perhaps written) whose outcome the gateway has not recorded yet:
    /// recovery records it (or undoes the hire); a retry with the same key gets it.
    #[error("hire outcome pending: {0}")]
    HireOutcomePending(String),
    /// A hire whose plan recovery closed as failed (neither completed nor undone): the key's
    /// answer for good; an operator checks HR.
    #[error("hire needs an operator")]
    HireNeedsOperator,
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

    /// The variant's row in the problem-type table.
    pub fn problem_type(&self) -> &'static ProblemType {
        use types as t;
        use ApiError::*;
        match self {
            InvalidParameter { .. } => &t::INVALID_PARAMETER,
            BadRequest(_) => &t::BAD_REQUEST,
            Unauthorized { .. } => &t::UNAUTHORIZED,
            MissingScope { .. } => &t::MISSING_SCOPE,
            CompanyNotAllowed { .. } => &t::COMPANY_NOT_ALLOWED,
            OriginNotAllowed => &t::ORIGIN_NOT_ALLOWED,
            NotFound(_) => &t::NOT_FOUND,
            MethodNotAllowed => &t::METHOD_NOT_ALLOWED,
            NotAcceptable(_) => &t::NOT_ACCEPTABLE,
            UnsupportedMediaType(_) => &t::UNSUPPORTED_MEDIA_TYPE,
            Conflict(_) => &t::CONFLICT,
            PreconditionRequired(_) => &t::IDEMPOTENCY_KEY_REQUIRED,
            IdempotencyKeyReused => &t::IDEMPOTENCY_KEY_REUSED,
            WriteFailed { cause, .. } => cause.problem_type(),
            Validation(_) => &t::VALIDATION_FAILED,
            CursorExpired => &t::CURSOR_EXPIRED,
            ChangesCursorExpired { .. } | ChangesCursorAhead => &t::CHANGES_CURSOR_EXPIRED,
            RateLimited { .. } => &t::RATE_LIMITED,
            WebhookSendsBusy { .. } => &t::WEBHOOK_SENDS_BUSY,
            UpstreamMisconfigured(_) => &t::UPSTREAM_MISCONFIGURED,
            UpstreamFailed(_) => &t::UPSTREAM_FAILED,
            UpstreamThrottled { .. } => &t::UPSTREAM_THROTTLED,
            UpstreamUnavailable(_) => &t::UPSTREAM_UNAVAILABLE,
            UpstreamTimeout => &t::UPSTREAM_TIMEOUT,
            RequestTimeout => &t::REQUEST_TIMEOUT,
            StateUnavailable(_) => &t::STATE_UNAVAILABLE,
            HireOutcomePending(_) => &t::HIRE_OUTCOME_PENDING,
            HireNeedsOperator => &t::HIRE_NEEDS_OPERATOR,
            Internal(_) => &t::INTERNAL,
        }
    }

    /// The `Retry-After` (seconds) of an answer that asks the client to come back; a failed
    /// write's is its cause's.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. }
            | ApiError::UpstreamThrottled { retry_after }
            | ApiError::WebhookSendsBusy { retry_after } => Some(*retry_after),
            ApiError::UpstreamUnavailable(_)
            | ApiError::StateUnavailable(_)
            | ApiError::HireOutcomePending(_) => Some(5),
            ApiError::WriteFailed { cause, .. } => cause.retry_after(),
            _ => None,
        }
    }

    /// What the partner reads: actionable, never an upstream body, URL or secret.
    fn detail(&self) -> String {
        use ApiError::*;
        match self {
            InvalidParameter { name, detail } => format!("{name} {detail}"),
            BadRequest(d) | NotFound(d) | Conflict(d) | NotAcceptable(d) | UnsupportedMediaType(d) | PreconditionRequired(d) => d.clone(),
            IdempotencyKeyReused => "this Idempotency-Key was used with a different body; use a new key for a different request".into(),
            WriteFailed { detail, .. } => detail.clone(),
            Unauthorized { description, .. } => description.clone(),
            MissingScope { scope } => format!("this route needs the scope `{scope}`, which your token does not carry"),
            CompanyNotAllowed { parameter, company, yours } => format!("{parameter} `{company}` is not one of your companies ({})", yours.join(", ")),
            OriginNotAllowed => "this origin is not allowed for this client".into(),
            MethodNotAllowed => "this route does not accept that method; see /docs".into(),
            CursorExpired => "the cursor has expired; restart the listing without a cursor".into(),
            ChangesCursorExpired { retention_days } => format!("events after this cursor are past the feed's retention ({retention_days} days): take a fresh cursor with GET /v1/changes?start=latest, re-read the lists (GET /v1/recruiting-requests, GET /v1/candidates), then continue from that cursor"),
            ChangesCursorAhead => "this cursor is ahead of the feed's newest event: the gateway's state store was restored or replaced since it was issued, so events may be missing: take a fresh cursor with GET /v1/changes?start=latest, re-read the lists (GET /v1/recruiting-requests, GET /v1/candidates), then continue from that cursor".into(),
            Validation(errs) => format!("{} field(s) failed validation", errs.len()),
            RateLimited { retry_after, .. } => format!("rate limit exceeded; retry after {retry_after} s"),
            WebhookSendsBusy { retry_after } => format!("every send slot this receiver or your partner may use is taken by deliveries in flight, so the test was not sent; retry after {retry_after} s"),
            UpstreamMisconfigured(_) => "the HR system refused the gateway's credentials or permissions; the operator has been told (`ats-gateway doctor` and the gateway's log name the cause)".into(),
            UpstreamFailed(_) => "the HR system answered with an error; retry later, and report the request_id if it persists".into(),
            UpstreamThrottled { retry_after } => format!("the HR system is throttling requests; retry after {retry_after} s"),
            UpstreamUnavailable(_) => "the HR system is unavailable; retry later".into(),
            UpstreamTimeout => "the HR system did not answer in time; retry later".into(),
            RequestTimeout => "the request body did not all arrive in time after the request's headers, so nothing was done; send the whole body at once (its Content-Length matching it) and retry".into(),
            StateUnavailable(_) => "the gateway's state store is unavailable or did not answer in time; retry later. A change this request asked for may or may not have been made: check before repeating it".into(),
            HireOutcomePending(_) => "the hire's outcome is not recorded yet; the gateway records it in the background. Retry later with the same Idempotency-Key".into(),
            HireNeedsOperator => "the hire under this Idempotency-Key could be neither completed nor undone (the gateway's record of its writes is inconsistent), so the operator must check what HR holds for it; report this request_id and the Idempotency-Key. This key keeps this answer: do not send the hire again under a new key before the operator has checked, or the candidate may be created twice".into(),
            Internal(_) => "unexpected error; report the request_id".into(),
        }
    }

    /// The problem as this error describes it; `instance`, `request_id` and the absolute `type`
    /// are filled in by the context layer.
    pub fn to_problem(&self) -> Problem {
        let t = self.problem_type();
        let errors = match self {
            ApiError::InvalidParameter { name, detail } => Some(vec![FieldError {
                pointer: format!("#/{name}"),
                detail: detail.clone(),
            }]),
            ApiError::Validation(errs) => Some(errs.clone()),
            ApiError::CompanyNotAllowed { parameter, .. } => Some(vec![FieldError {
                pointer: format!("#/{parameter}"),
                detail: "is not one of your companies".into(),
            }]),
            _ => None,
        };
        // Bounded: pointers and details may quote partner input.
        let errors = errors.map(|errs| {
            errs.into_iter()
                .take(MAX_ERRORS)
                .map(|e| FieldError {
                    pointer: bounded(&e.pointer, MAX_INSTANCE_CHARS),
                    detail: bounded(&e.detail, MAX_DETAIL_CHARS),
                })
                .collect()
        });
        Problem {
            kind: format!("/problems/{}", t.slug),
            title: t.title.to_string(),
            status: t.status.as_u16(),
            detail: bounded(&self.detail(), MAX_DETAIL_CHARS),
            instance: String::new(),
            request_id: String::new(),
            trace_id: String::new(),
            errors,
            problem_type: t,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let slug = problem.problem_type.slug;
        match &self {
            ApiError::Internal(why)
            | ApiError::UpstreamFailed(why)
            | ApiError::UpstreamMisconfigured(why)
            | ApiError::UpstreamUnavailable(why)
            | ApiError::StateUnavailable(why) => {
                tracing::warn!(problem = slug, reason = %why, "request failed")
            }
            // A slow or stalled client, worth seeing at a glance; never an error of the gateway's.
            ApiError::RequestTimeout => {
                tracing::info!(problem = slug, "request body not received in time")
            }
            _ => tracing::debug!(problem = slug, "request refused"),
        }
        // The body as it stands (relative `type`) in case no context layer completes it.
        let mut resp = (problem.status(), problem.to_body()).into_response();
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
            _ => {}
        }
        if let Some(secs) = self.retry_after() {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // The rest of the body may still come: the connection cannot carry another request.
        if matches!(self, ApiError::RequestTimeout) {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp.extensions_mut().insert(problem);
        resp
    }
}

/// The one mapping from state store failures to problems, for every route that uses the store: a
/// store that is away or silent is 503 `state-unavailable` with `Retry-After`, as a hire answers;
/// anything else (a corrupt record, a refused statement) is the gateway's own fault, 500. The
/// reason goes to the log only.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as S;
        match e {
            S::Unavailable(why) => ApiError::StateUnavailable(why),
            S::Backend(_) | S::Corrupt(_) => ApiError::Internal(e.to_string()),
        }
    }
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
            // Rounded up: a partner coming back after a rounded-down wait would be refused again.
            // Dataverse's 429 or the gateway's own refusal while paused: the partner waits alike.
            U::Throttled { retry_after, .. } => ApiError::UpstreamThrottled {
                retry_after: retry_after.map_or(5, |d| {
                    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
                }),
            },
            U::Unavailable { .. }
            | U::Network(_)
            | U::CircuitOpen { .. }
            | U::Overloaded { .. } => ApiError::UpstreamUnavailable(reason),
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
            ApiError::OriginNotAllowed,
            ApiError::MethodNotAllowed,
            ApiError::Conflict("x".into()),
            ApiError::PreconditionRequired("x".into()),
            ApiError::IdempotencyKeyReused,
            ApiError::CursorExpired,
            ApiError::ChangesCursorExpired { retention_days: 7 },
            ApiError::ChangesCursorAhead,
            ApiError::Validation(vec![]),
            ApiError::RateLimited {
                retry_after: 1,
                limit: 1,
            },
            ApiError::NotAcceptable("x".into()),
            ApiError::UnsupportedMediaType("x".into()),
            ApiError::UpstreamMisconfigured("x".into()),
            ApiError::UpstreamFailed("x".into()),
            ApiError::UpstreamThrottled { retry_after: 1 },
            ApiError::UpstreamUnavailable("x".into()),
            ApiError::UpstreamTimeout,
            ApiError::RequestTimeout,
            ApiError::StateUnavailable("x".into()),
            ApiError::HireOutcomePending("x".into()),
            ApiError::HireNeedsOperator,
            ApiError::Internal("x".into()),
        ];
        for e in all {
            let t = e.problem_type();
            assert_eq!(types::by_slug(t.slug), Some(t));
            assert_eq!(e.into_response().status(), t.status);
        }
    }

    #[test]
    fn details_are_bounded() {
        assert_eq!(bounded("abc", 5), "abc");
        assert_eq!(bounded("abcdef", 3), "abc…");
        assert_eq!(bounded("ééééé", 2), "éé…");
        let p = ApiError::param("status", "x".repeat(100_000)).to_problem();
        assert!(p.detail.chars().count() <= MAX_DETAIL_CHARS + 1);
        let errs = p.errors.expect("errors");
        assert!(errs[0].detail.chars().count() <= MAX_DETAIL_CHARS + 1);
        for status in [400u16, 404, 405, 408, 413, 415, 431, 500, 504] {
            let status = StatusCode::from_u16(status).expect("status");
            let p = Problem::for_status(status);
            assert_eq!(p.status, status.as_u16());
            assert!(types::by_slug(p.problem_type.slug).is_some());
        }
    }

    #[test]
    fn an_unavailable_store_is_503_with_retry_after_and_a_broken_one_500_without_its_reason() {
        use crate::store::StoreError;
        let away = ApiError::from(StoreError::Unavailable(
            "Postgres did not answer within 1000 ms".into(),
        ));
        assert_eq!(away.problem_type().slug, "state-unavailable");
        let resp = away.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        for broken in [
            StoreError::Corrupt("row 7: secret column garbled".into()),
            StoreError::Backend("duplicate key value violates constraint".into()),
        ] {
            let e = ApiError::from(broken);
            assert_eq!(e.problem_type().slug, "internal");
            let p = e.to_problem();
            assert!(!p.detail.contains("row 7") && !p.detail.contains("duplicate"));
            let resp = e.into_response();
            assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(!resp.headers().contains_key(header::RETRY_AFTER));
        }
    }

    #[test]
    fn internal_reasons_do_not_leak() {
        let e = ApiError::UpstreamFailed("https://contoso.crm.dynamics.com secret body".into());
        assert!(!e.detail().contains("contoso"));
    }
}
