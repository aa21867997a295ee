//! Entra's token-endpoint error body (docs/entra-client-credentials.md#token-errors): `error`, an `AADSTS<n>:
//! …` description with trace, correlation and timestamp lines, `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id`, `error_uri`. Texts never include a secret or an assertion, only identifiers the caller
//! already sent. Codes/statuses come from the table in docs/entra-client-credentials.md#token-errors; the
//! ones marked [inf] are the emulator's own choice.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AadError {
    pub status: StatusCode,
    /// OAuth `error` value, e.g. `invalid_client`.
    pub error: &'static str,
    /// AADSTS number.
    pub code: u32,
    /// Message after `AADSTS<n>: `.
    pub text: String,
}

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const UNAUTH: StatusCode = StatusCode::UNAUTHORIZED;

impl AadError {
    fn new(status: StatusCode, error: &'static str, code: u32, text: impl Into<String>) -> Self {
        Self {
            status,
            error,
            code,
            text: text.into(),
        }
    }

    pub(crate) fn unknown_tenant(tenant: &str) -> Self {
        Self::new(BAD, "invalid_request", 90002, format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ))
    }
    pub(crate) fn malformed_tenant(tenant: &str) -> Self {
        Self::new(BAD, "invalid_request", 900023, format!(
            "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
        ))
    }
    /// `/common` and `/consumers` cannot identify the tenant for an app-only token.
    pub(crate) fn tenantless_endpoint() -> Self {
        Self::new(BAD, "invalid_request", 9001023,
            "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")
    }
    /// [inf] `/organizations` carries no tenant either; Entra's exact answer is not documented.
    pub(crate) fn no_tenant_information() -> Self {
        Self::new(BAD, "invalid_request", 50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.")
    }
    pub(crate) fn missing_parameter(name: &str) -> Self {
        Self::new(
            BAD,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }
    /// [inf] code 9000411 for a parameter sent twice.
    pub(crate) fn duplicated_parameter(name: &str) -> Self {
        Self::new(
            BAD,
            "invalid_request",
            9000411,
            format!("The request is not properly formatted. The parameter '{name}' is duplicated."),
        )
    }
    /// [inf] generic invalid request (90023) for protocol misuse without a documented code: conflicting
    /// client ids, two credentials at once, bad `client_assertion_type`, unreadable Basic header.
    pub(crate) fn invalid_request(what: &str) -> Self {
        Self::new(
            BAD,
            "invalid_request",
            90023,
            format!("The authentication service request is not valid: {what}."),
        )
    }
    pub(crate) fn unsupported_grant(grant: &str) -> Self {
        Self::new(
            BAD,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }
    pub(crate) fn unknown_client(client_id: &str, tenant_name: &str) -> Self {
        Self::new(BAD, "unauthorized_client", 700016, format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ))
    }
    /// [inf] status and `error` for a disabled application.
    pub(crate) fn disabled_app(client_id: &str) -> Self {
        Self::new(
            BAD,
            "unauthorized_client",
            7000112,
            format!("Application '{client_id}' is disabled."),
        )
    }
    pub(crate) fn invalid_secret(client_id: &str) -> Self {
        Self::new(UNAUTH, "invalid_client", 7000215, format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ))
    }
    pub(crate) fn expired_secret(client_id: &str) -> Self {
        Self::new(UNAUTH, "invalid_client", 7000222, format!(
            "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
        ))
    }
    pub(crate) fn no_credential() -> Self {
        Self::new(UNAUTH, "invalid_client", 7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
    }
    /// [inf] 400 invalid_request for an assertion that is not a readable JWT or lacks a required claim.
    pub(crate) fn malformed_assertion(what: &str) -> Self {
        Self::new(
            BAD,
            "invalid_request",
            50027,
            format!("JWT token is invalid or malformed: {what}."),
        )
    }
    pub(crate) fn bad_assertion_signature() -> Self {
        Self::new(
            UNAUTH,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        )
    }
    /// The thumbprint is the hex of what the client sent (public information, never key material).
    pub(crate) fn unknown_certificate(thumbprint_hex: &str, client_id: &str) -> Self {
        Self::new(UNAUTH, "invalid_client", 700027, format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint_hex}', Please check the keys configured for app Id '{client_id}'.]"
        ))
    }
    /// [inf] text; the code is the one Entra uses for signature problems.
    pub(crate) fn expired_certificate(thumbprint_hex: &str) -> Self {
        Self::new(UNAUTH, "invalid_client", 700027, format!(
            "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '{thumbprint_hex}']"
        ))
    }
    /// [inf] status 401 / invalid_client.
    pub(crate) fn assertion_time_range(now: i64, nbf: Option<i64>, exp: i64) -> Self {
        let nbf = nbf
            .map(|n| format!(", not before {}", fmt_unix(n)))
            .unwrap_or_default();
        Self::new(UNAUTH, "invalid_client", 700024, format!(
            "Client assertion is not within its valid time range. Current time: {}, expiry time of assertion {}{nbf}.",
            fmt_unix(now), fmt_unix(exp)
        ))
    }
    /// [obs] AADSTS700023 for an `aud` that is not this tenant's token endpoint.
    pub(crate) fn assertion_audience() -> Self {
        Self::new(UNAUTH, "invalid_client", 700023,
            "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .")
    }
    /// [inf] code 700021 for `iss`/`sub` that are not the client id.
    pub(crate) fn assertion_client_mismatch() -> Self {
        Self::new(UNAUTH, "invalid_client", 700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .")
    }
    /// [inf] Entra documents no code for a replayed `jti`; 50012 is its generic "authentication failed".
    pub(crate) fn assertion_replayed() -> Self {
        Self::new(UNAUTH, "invalid_client", 50012,
            "Authentication failed. The client assertion has already been used (its 'jti' was seen before).")
    }
    /// The token endpoint's transient failure (sandbox fault knob `token_outage`): OAuth's
    /// `temporarily_unavailable`, AADSTS90033 "A transient error has occurred".
    pub(crate) fn temporarily_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        )
    }
    /// Instance discovery for an authority on a host this (emulated) cloud does not serve.
    pub(crate) fn invalid_instance(endpoint: &str) -> Self {
        Self::new(BAD, "invalid_instance", 50049, format!(
            "Unknown or invalid instance. The authorization endpoint '{endpoint}' is not on this host."
        ))
    }
    pub(crate) fn invalid_scope(scope: &str) -> Self {
        Self::new(BAD, "invalid_scope", 70011, format!(
            "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
        ))
    }
    pub(crate) fn scope_without_default(scope: &str) -> Self {
        Self::new(BAD, "invalid_scope", 1002012, format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ))
    }
    pub(crate) fn unknown_resource(resource: &str, tenant_name: &str) -> Self {
        Self::new(BAD, "invalid_resource", 500011, format!(
            "The resource principal named {resource} was not found in the tenant named {tenant_name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
        ))
    }

    /// Builds the JSON body for one occurrence (fresh trace and correlation ids).
    pub(crate) fn body(
        &self,
        now: DateTime<Utc>,
        trace_id: Uuid,
        correlation_id: Uuid,
    ) -> serde_json::Value {
        let ts = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {ts}",
                self.code, self.text
            ),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace_id.to_string(),
            "correlation_id": correlation_id.to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

fn fmt_unix(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%m/%d/%Y %H:%M:%S").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// Entra echoes `client-request-id` as the correlation id when the client sends one.
pub(crate) fn correlation_id(headers: &axum::http::HeaderMap) -> Uuid {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
        .unwrap_or_else(Uuid::new_v4)
}

/// JSON response with the no-cache headers the token endpoint always sends.
pub(crate) fn json_response(
    status: StatusCode,
    body: &serde_json::Value,
    request_id: Uuid,
) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&request_id.to_string()) {
        h.insert("x-ms-request-id", v);
    }
    resp
}

impl AadError {
    pub(crate) fn into_response(self, headers: &axum::http::HeaderMap) -> Response {
        let trace_id = Uuid::new_v4();
        let body = self.body(Utc::now(), trace_id, correlation_id(headers));
        json_response(self.status, &body, trace_id)
    }
}
