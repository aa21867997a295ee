//! The one table of problem types: slug (the last segment of the absolute `type` URI), status,
//! title and the explanation served at `/problems/{slug}`. `ApiError::problem_type` picks a row;
//! the OpenAPI examples and the problem pages read the same rows.

use axum::http::StatusCode;

#[derive(Debug, PartialEq, Eq)]
pub struct ProblemType {
    pub slug: &'static str,
    pub status: StatusCode,
    pub title: &'static str,
    /// What the problem means and how to fix it (the `/problems/{slug}` page).
    pub explanation: &'static str,
}

macro_rules! types {
    ($($name:ident = ($slug:literal, $status:ident, $title:literal, $explanation:literal);)*) => {
        $(pub const $name: ProblemType = ProblemType {
            slug: $slug,
            status: StatusCode::$status,
            title: $title,
            explanation: $explanation,
        };)*
        /// Every problem type, for the pages and the documentation.
        pub const ALL: &[&ProblemType] = &[$(&$name),*];
    };
}

types! {
    INVALID_PARAMETER = ("invalid-parameter", BAD_REQUEST, "Invalid parameter",
        "A query or path parameter is malformed, out of range, empty or unknown. `errors[].pointer` names it; fix the value and retry.");
    BAD_REQUEST = ("bad-request", BAD_REQUEST, "Bad request",
        "The request could not be understood (for example a tampered or foreign cursor). Restart the listing or fix the request.");
    UNAUTHORIZED = ("unauthorized", UNAUTHORIZED, "Authentication required",
        "No valid bearer token. Get one at POST /oauth2/token (client_credentials) and send `Authorization: Bearer <token>`.");
    MISSING_SCOPE = ("missing-scope", FORBIDDEN, "Missing scope",
        "Your token lacks the scope this route needs. Ask the operator to grant it, then request a token with that scope.");
    COMPANY_NOT_ALLOWED = ("company-not-allowed", FORBIDDEN, "Company not allowed",
        "A `company` parameter names a legal entity outside your partner profile's companies; `detail` lists yours. Ask the operator to add the company, or leave the parameter out to list all of yours.");
    ORIGIN_NOT_ALLOWED = ("origin-not-allowed", FORBIDDEN, "Origin not allowed",
        "The request came from a browser origin that is not registered for your client. Ask the operator to add the origin to your partner profile's CORS origins.");
    NOT_FOUND = ("not-found", NOT_FOUND, "Not found",
        "The resource does not exist, or your partner profile may not see it.");
    METHOD_NOT_ALLOWED = ("method-not-allowed", METHOD_NOT_ALLOWED, "Method not allowed",
        "The route exists but not for this HTTP method. /docs lists each route's methods.");
    NOT_ACCEPTABLE = ("not-acceptable", NOT_ACCEPTABLE, "Not acceptable",
        "The `Accept` header asks for a representation this route does not produce. Partner routes answer `application/json` (errors `application/problem+json`).");
    UNSUPPORTED_MEDIA_TYPE = ("unsupported-media-type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type",
        "The route takes a JSON body and the request's `Content-Type` is not JSON, or names a charset other than UTF-8, or is missing while a body is sent. Send `Content-Type: application/json` (`application/*+json` and `charset=utf-8` are accepted too).");
    CONFLICT = ("conflict", CONFLICT, "Conflict",
        "The request conflicts with one still running (for example the same Idempotency-Key in flight). Retry once it has finished to get its outcome.");
    IDEMPOTENCY_KEY_REQUIRED = ("idempotency-key-required", PRECONDITION_REQUIRED, "Idempotency-Key required",
        "This route creates records in HR and needs an `Idempotency-Key` header (any unique string of up to 255 visible characters, e.g. a UUID), so a retry after a timeout replays the first outcome instead of creating a duplicate person.");
    IDEMPOTENCY_KEY_REUSED = ("idempotency-key-reused", UNPROCESSABLE_ENTITY, "Idempotency-Key reused with another body",
        "The Idempotency-Key was already used with a different body. A key stands for one request: use a new key for a new request.");
    VALIDATION_FAILED = ("validation-failed", UNPROCESSABLE_ENTITY, "Validation failed",
        "The body failed validation. Every failing field is listed in `errors` with a JSON pointer into the body (a member repeated in its object too: send each once).");
    CURSOR_EXPIRED = ("cursor-expired", GONE, "Cursor expired",
        "The cursor is too old. Restart the listing without a cursor.");
    CHANGES_CURSOR_EXPIRED = ("changes-cursor-expired", GONE, "Changes cursor expired",
        "Events after this cursor are older than the feed keeps them (`[changes] retention_days`), so some changes can no longer be delivered; or the cursor is ahead of the feed's newest event, because the gateway's state store was restored or replaced since it was issued, so the feed it belonged to is gone. Either way, take a fresh cursor with `GET /v1/changes?start=latest`, re-read the lists (`GET /v1/recruiting-requests`, `GET /v1/candidates`), then continue the feed from that cursor.");
    RATE_LIMITED = ("rate-limited", TOO_MANY_REQUESTS, "Too many requests",
        "You exceeded your partner rate limit. Wait `Retry-After` seconds; the `RateLimit` and `RateLimit-*` headers show your budget.");
    WEBHOOK_SENDS_BUSY = ("webhook-sends-busy", TOO_MANY_REQUESTS, "Webhook send slots busy",
        "A test delivery needs a free send slot, as every delivery does: a receiver origin gets at most an eighth of the gateway's concurrent sends, a partner a quarter. They are all in use by deliveries or tests in flight, so the test was not sent (tests are not queued). Wait `Retry-After` seconds (a send holds its slot for at most the delivery timeout) and send it again.");
    UPSTREAM_MISCONFIGURED = ("upstream-misconfigured", BAD_GATEWAY, "HR system refused the gateway",
        "Dataverse refused the gateway (credentials, application user, security role, or a table not generated). Operators: `ats-gateway doctor`, /readyz on the ops listener and the gateway's log name the cause.");
    UPSTREAM_FAILED = ("upstream-failed", BAD_GATEWAY, "HR system error",
        "Dataverse answered with an error the gateway could not turn into data. Retry later; report the request_id if it persists.");
    UPSTREAM_THROTTLED = ("upstream-throttled", TOO_MANY_REQUESTS, "HR system is throttling requests",
        "Dataverse service protection is throttling the gateway's application user. Wait `Retry-After` seconds.");
    UPSTREAM_UNAVAILABLE = ("upstream-unavailable", SERVICE_UNAVAILABLE, "HR system unavailable",
        "Dataverse or Entra ID is unavailable. Wait `Retry-After` seconds.");
    UPSTREAM_TIMEOUT = ("upstream-timeout", GATEWAY_TIMEOUT, "HR system timed out",
        "Dataverse did not answer in time. Retry later, perhaps with a smaller page_size.");
    STATE_UNAVAILABLE = ("state-unavailable", SERVICE_UNAVAILABLE, "Gateway state unavailable",
        "The gateway cannot reach its state store (the database its replicas share), or the store did not answer within the gateway's bound (`[state] timeout_ms`). Reads of recruiting requests, candidates and reference lists still work; what needs the store (hires, the changes feed, webhook subscriptions) waits for it. Wait `Retry-After` seconds and retry: a hire refused this way wrote nothing, so retry it with the same Idempotency-Key; another change may or may not have been made, so check before repeating it.");
    HIRE_OUTCOME_PENDING = ("hire-outcome-pending", SERVICE_UNAVAILABLE, "Hire outcome pending",
        "The candidate was written to HR, or may have been, but the gateway could not record this request's outcome (its state store failed at that moment); `detail` says which. It records the hire, or undoes what was written, in the background. Do not send the hire again under a new key: wait `Retry-After` seconds and retry with the same Idempotency-Key and body. The retry answers the candidate once it is recorded (`Idempotent-Replayed: true`), 409 while it is still being settled, and runs the hire again if it was undone.");
    HIRE_NEEDS_OPERATOR = ("hire-needs-operator", CONFLICT, "Hire needs an operator",
        "The gateway could neither complete nor undo the hire sent under this Idempotency-Key: its record of the hire's writes was found inconsistent, so what HR holds for it cannot be told automatically. The gateway closed it and logged it for the operator. The key keeps this answer until it expires: ask the operator (quote the request_id and the Idempotency-Key) to check HR before sending the hire again under a new key, or the candidate may be created twice.");
    INTERNAL = ("internal", INTERNAL_SERVER_ERROR, "Internal error",
        "An unexpected error in the gateway. Report the request_id.");
    TOO_LARGE = ("too-large", PAYLOAD_TOO_LARGE, "Request too large",
        "The request body is larger than the gateway accepts (1 MiB). Send less.");
    REQUEST_TIMEOUT = ("request-timeout", REQUEST_TIMEOUT, "Request body not received in time",
        "The request body did not all arrive within the gateway's bound (`gateway.body_read_timeout_ms`, 10 s by default) after its headers, so nothing was done and the connection was closed. Send the whole body at once, with a `Content-Length` that matches it, and retry on a new connection.");
    TIMEOUT = ("timeout", GATEWAY_TIMEOUT, "Timed out",
        "The request took longer than the gateway allows. Retry later.");
    HEADERS_TOO_LARGE = ("headers-too-large", REQUEST_HEADER_FIELDS_TOO_LARGE, "Request head too large",
        "The request has more headers than the gateway reads (100), or its request line and headers together are larger than it reads (`gateway.max_header_bytes`). Send fewer or shorter headers.");
    URI_TOO_LONG = ("uri-too-long", URI_TOO_LONG, "Request line too long",
        "The request line (method, path and query) is longer than the gateway reads. Shorten the query: filter values are short codes, and a list is paged with `cursor`.");
    TOO_MANY_CONNECTIONS = ("too-many-connections", SERVICE_UNAVAILABLE, "Too many connections",
        "The gateway is at its limit of open connections. Retry after `Retry-After` seconds, and reuse connections.");
}

/// The row for an error answer no `ApiError` described (an extractor's or a layer's rejection).
pub fn for_status(status: StatusCode) -> &'static ProblemType {
    match status {
        StatusCode::NOT_FOUND => &NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => &METHOD_NOT_ALLOWED,
        StatusCode::PAYLOAD_TOO_LARGE => &TOO_LARGE,
        StatusCode::REQUEST_TIMEOUT => &REQUEST_TIMEOUT,
        StatusCode::GATEWAY_TIMEOUT => &TIMEOUT,
        StatusCode::NOT_ACCEPTABLE => &NOT_ACCEPTABLE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => &UNSUPPORTED_MEDIA_TYPE,
        s if s.is_server_error() => &INTERNAL,
        _ => &BAD_REQUEST,
    }
}

/// The row for a slug (the `/problems/{slug}` page).
pub fn by_slug(slug: &str) -> Option<&'static ProblemType> {
    ALL.iter().copied().find(|t| t.slug == slug)
}
