//! `POST /oauth2/token` (client_credentials, RFC 6749 §4.4) and `GET /.well-known/jwks.json`.
//! Errors are RFC 6749 §5.2 JSON, not problem+json: OAuth client libraries expect that shape.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use sha2::Digest;

use crate::auth::registry::Partner;
use crate::auth::scopes::Scope;
use crate::auth::secrets;
use crate::auth::AuthService;

/// How long a token request may wait for a secret-check slot.
const SECRET_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
    /// The client authenticated with HTTP Basic: a 401 then carries a Basic challenge.
    pub basic: bool,
    /// A status other than the code's usual one (413 for a body too large, 408 for one not
    /// received in time, 429 when limited).
    pub status: Option<StatusCode>,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            basic: false,
            status: None,
            retry_after: None,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or(match self.code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        });
        let body = TokenError {
            error: self.code,
            error_description: self.description,
        };
        let mut resp = (status, Json(body)).into_response();
        no_store(resp.headers_mut());
        let retry_after = self
            .retry_after
            .or((status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // The rest of a late body may still come: the connection cannot carry another request.
        if status == StatusCode::REQUEST_TIMEOUT {
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
        }
        if status == StatusCode::UNAUTHORIZED && self.basic {
            resp.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ats-gateway\""),
            );
        }
        resp
    }
}

fn no_store(h: &mut HeaderMap) {
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Client credentials as presented, before any check.
#[derive(Clone)]
struct ClientAuth {
    client_id: String,
    secret: String,
    basic: bool,
}

/// The form a partner posts (RFC 6749 §4.4); the secret may come as HTTP Basic instead.
#[derive(utoipa::ToSchema, Default)]
pub struct TokenRequest {
    /// Always `client_credentials`.
    #[schema(value_type = String, required = true)]
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Space-separated subset of the partner's scopes; all of them when absent.
    scope: Option<String>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct TokenResponse {
    /// ES256 JWT; send as `Authorization: Bearer …`.
    access_token: String,
    /// `Bearer`.
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

/// RFC 6749 §5.2 error body (OAuth clients expect it, not problem+json).
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct TokenError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `temporarily_unavailable`.
    error: &'static str,
    error_description: String,
}

/// Get an access token
///
/// OAuth 2.0 client credentials (RFC 6749 §4.4): authenticate with `client_id` and `client_secret`
/// in the form, or with HTTP Basic. The token is a short-lived ES256 JWT carrying the granted
/// scopes; request a subset with `scope`. Errors are RFC 6749 JSON, not problem+json.
#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "auth",
    operation_id = "issueToken",
    request_body(
        content = TokenRequest,
        content_type = "application/x-www-form-urlencoded",
        example = json!({"grant_type": "client_credentials", "client_id": "acme-ats", "client_secret": "acme-demo-secret", "scope": "recruiting-requests:read reference:read"})
    ),
    responses(
        (status = 200, description = "A short-lived access token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`")),
            example = json!({"access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln", "token_type": "Bearer", "expires_in": 900, "scope": "recruiting-requests:read reference:read"})),
        (status = 400, description = "Malformed request, unsupported grant type or scope", body = TokenError,
            example = json!({"error": "unsupported_grant_type", "error_description": "only grant_type=client_credentials is supported"})),
        (status = 401, description = "Unknown client or wrong secret", body = TokenError,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"ats-gateway\"` when the client used HTTP Basic")),
            example = json!({"error": "invalid_client", "error_description": "client authentication failed"})),
        (status = 408, description = "The body did not all arrive within the gateway's bound after the headers; the connection is closed", body = TokenError,
            example = json!({"error": "invalid_request", "error_description": "the request body did not arrive in time"})),
        (status = 413, description = "Body too large", body = TokenError,
            example = json!({"error": "invalid_request", "error_description": "the request body is too large"})),
        (status = 429, description = "Too many failed attempts for this client id or from this address; retry after `Retry-After`", body = TokenError,
            headers(("Retry-After" = u64, description = "Seconds to wait")),
            example = json!({"error": "invalid_client", "error_description": "too many failed authentication attempts; retry after Retry-After seconds"})),
        (status = 503, description = "Too many token requests at once; retry after `Retry-After`", body = TokenError,
            headers(("Retry-After" = u64, description = "Seconds to wait")),
            example = json!({"error": "temporarily_unavailable", "error_description": "too many token requests; retry shortly"})),
    )
)]
pub async fn token(
    State(auth): State<Arc<AuthService>>,
    headers: HeaderMap,
    ext: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let peer = crate::client_addr::client_ip(&ext);
    match issue(&auth, peer, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn issue(
    auth: &Arc<AuthService>,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let body = body.map_err(|e| {
        let (status, description) = body_problem(&e);
        OAuthError {
            status: Some(status),
            ..OAuthError::new("invalid_request", description)
        }
    })?;
    let form = parse_form(headers, &body)?;
    let grant = form
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
    // Refresh tokens, codes and passwords do not exist here: every other grant is unsupported.
    if grant != "client_credentials" {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        ));
    }
    let client = client_auth(headers, &form)?;
    let (partner, sid) = authenticate_client(auth, peer, client.clone()).await?;
    let refuse = |code: &'static str, d: &str| OAuthError {
        basic: client.basic,
        ..OAuthError::new(code, d)
    };
    if partner.disabled {
        return Err(refuse("unauthorized_client", "this client is disabled"));
    }
    let scopes =
        granted_scopes(&partner, form.scope.as_deref()).map_err(|d| refuse("invalid_scope", &d))?;
    let issued = auth
        .issue_token(&partner.id, &client.client_id, &scopes, sid.as_deref())
        .map_err(|e| {
            tracing::error!(error = %e, "token signing failed");
            OAuthError::new("server_error", "token could not be issued")
        })?;
    tracing::Span::current().record("partner", partner.id.as_str());
    tracing::info!(partner = %partner.id, scope = %issued.scope, "access token issued");
    let mut resp = Json(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: issued.scope,
    })
    .into_response();
    no_store(resp.headers_mut());
    Ok(resp)
}

/// The status and what a partner reads when the body could not be read (too large, not received
/// in time, cut short).
fn body_problem(e: &BytesRejection) -> (StatusCode, &'static str) {
    if crate::problem::body::timed_out(e) {
        // A slow or stalled client, never the gateway's error.
        tracing::info!("token request body not received in time");
        (StatusCode::REQUEST_TIMEOUT, BODY_NOT_IN_TIME)
    } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (e.status(), "the request body is too large")
    } else {
        (e.status(), "the request body could not be read")
    }
}

/// The description of a 408: the body did not arrive within `[gateway] body_read_timeout_ms`.
pub const BODY_NOT_IN_TIME: &str = "the request body did not arrive in time";

fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut form = TokenRequest::default();
    for (k, v) in form_urlencoded::parse(body) {
        let slot = match &*k {
            "grant_type" => &mut form.grant_type,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            "scope" => &mut form.scope,
            // RFC 6749 §3.2: unknown parameters are ignored.
            _ => continue,
        };
        // RFC 6749 §3.2: a parameter without a value counts as omitted.
        if v.is_empty() {
            continue;
        }
        // RFC 6749 §3.2: parameters must not be repeated.
        if slot.replace(v.into_owned()).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("parameter `{k}` is repeated"),
            ));
        }
    }
    Ok(form)
}

/// Client authentication in the body or with HTTP Basic (RFC 6749 §2.3.1), never both.
fn client_auth(headers: &HeaderMap, form: &TokenRequest) -> Result<ClientAuth, OAuthError> {
    // As on the API routes: several Authorization headers are ambiguous, so refused.
    if headers.get_all(AUTHORIZATION).iter().nth(1).is_some() {
        return Err(OAuthError::new(
            "invalid_request",
            "several Authorization headers; send one",
        ));
    }
    let basic = headers
        .get(AUTHORIZATION)
        .map(|v| parse_basic(v).ok_or_else(basic_malformed))
        .transpose()?;
    let in_body = form.client_secret.is_some();
    match basic {
        Some(_) if in_body => Err(OAuthError::new(
            "invalid_request",
            "use one client authentication method, not both",
        )),
        Some((id, secret)) => {
            if form.client_id.as_ref().is_some_and(|b| *b != id) {
                return Err(OAuthError::new(
                    "invalid_request",
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            Ok(ClientAuth {
                client_id: id,
                secret,
                basic: true,
            })
        }
        None => match (&form.client_id, &form.client_secret) {
            (Some(id), Some(secret)) => Ok(ClientAuth {
                client_id: id.clone(),
                secret: secret.clone(),
                basic: false,
            }),
            _ => Err(OAuthError::new(
                "invalid_client",
                "client authentication is required (client_id + client_secret, or HTTP Basic)",
            )),
        },
    }
}

fn basic_malformed() -> OAuthError {
    OAuthError {
        basic: true,
        ..OAuthError::new("invalid_client", "malformed Basic credentials")
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(v: &HeaderValue) -> Option<(String, String)> {
    let v = v.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// An attempt whose secret was not checked yet: given back if it is dropped before (the checks
/// busy, a client that stopped waiting for a slot, a pool that never ran the check).
struct Pending(Option<crate::auth::attempts::Attempt>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            a.not_checked();
        }
    }
}

/// Limits failed attempts (per client id and per address) before the argon2 check, then runs the
/// check on the secret-check pool; at most a few run at once per gateway, and a caller that cannot
/// get a slot soon is told to retry rather than queueing without bound.
async fn authenticate_client(
    auth: &Arc<AuthService>,
    peer: Option<IpAddr>,
    c: ClientAuth,
) -> Result<(Arc<Partner>, Option<String>), OAuthError> {
    let fail = || OAuthError {
        basic: c.basic,
        ..OAuthError::new("invalid_client", "client authentication failed")
    };
    let attempt = auth.attempts.begin(&c.client_id, peer).map_err(|wait| {
        tracing::info!(client = %loggable_client_id(&auth.registry(), &c.client_id), retry_after = wait, "client authentication refused: too many failed attempts");
        OAuthError {
            basic: c.basic,
            retry_after: Some(wait),
            status: Some(StatusCode::TOO_MANY_REQUESTS),
            ..OAuthError::new(
                "invalid_client",
                "too many failed authentication attempts; retry after Retry-After seconds",
            )
        }
    })?;
    // Until a check slot is taken: a request dropped meanwhile (the client gave up waiting for
    // one) cost nothing and does not count as a failure.
    let mut pending = Pending(Some(attempt));
    let busy = || {
        OAuthError::new(
            "temporarily_unavailable",
            "too many token requests; retry shortly",
        )
    };
    let permit = tokio::time::timeout(
        SECRET_CHECK_WAIT,
        auth.secret_checks.clone().acquire_owned(),
    )
    .await;
    let Ok(Ok(permit)) = permit else {
        tracing::warn!("token endpoint saturated: secret checks busy");
        return Err(busy()); // not checked: `pending` gives the attempt back
    };
    let reg = auth.registry();
    let partner = reg.by_client_id(&c.client_id).cloned();
    let secret = c.secret.clone();
    let checked = partner.clone();
    // From here the check runs to its end whether or not anyone waits for it (the pool does not
    // stop a job), so the job settles the attempt itself: a client that sends a wrong secret and
    // hangs up has still spent a check, and its failure counts. Only a job the pool never ran
    // gives it back (`Pending`'s drop).
    let unchecked = Pending(pending.0.take());
    let counter = auth.clone();
    let checked = secrets::run_check(move || {
        let _permit = permit;
        let mut unchecked = unchecked;
        let attempt = unchecked.0.take();
        let ok = match checked {
            // `Some(store id)` on a match (`Some(None)`: a config secret, which has no id); the
            // id is also the tokens' `sid`.
            Some(p) => p.verify_secret(&secret).map(|s| s.id.clone()),
            None => {
                secrets::burn_verification(&secret);
                None
            }
        };
        counter
            .secret_checks_done
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Settled before the slot is freed, so the next check sees this outcome. A failure keeps
        // what the attempt took.
        if let (Some(a), true) = (attempt, ok.is_some()) {
            a.succeeded();
        }
        ok
    })
    .await;
    let Some(ok) = checked else {
        return Err(busy()); // not checked: the job's `Pending` gave the attempt back
    };
    match (partner, ok) {
        (Some(p), Some(id)) => {
            if let Some(id) = &id {
                auth.usage.secret_used(id.clone());
            }
            Ok((p, id))
        }
        (Some(_), None) => {
            tracing::info!(client_id = %c.client_id, reason = "secret mismatch", "client authentication failed");
            Err(fail())
        }
        (None, _) => {
            tracing::info!(client = %loggable_client_id(&reg, &c.client_id), reason = "unknown client_id", "client authentication failed");
            Err(fail())
        }
    }
}

/// A client id for the log: a registered one as is; anything else (a swapped secret, a 900 KB
/// string) only as its length and a short hash, so the log never holds what the caller typed.
fn loggable_client_id(reg: &crate::auth::Registry, client_id: &str) -> String {
    if reg.by_client_id(client_id).is_some() {
        return client_id.to_string();
    }
    let h = sha2::Sha256::digest(client_id.as_bytes());
    let hex: String = h[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("unknown(len={}, sha256={hex})", client_id.len())
}

/// No `scope` = everything allowed; otherwise the requested subset, and any scope outside the
/// partner's list (or unknown) refuses the whole request.
fn granted_scopes(partner: &Partner, requested: Option<&str>) -> Result<BTreeSet<Scope>, String> {
    let granted: BTreeSet<Scope> = match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => partner.scopes.clone(),
        Some(req) => {
            let asked = Scope::parse_list(req).map_err(|e| e.to_string())?;
            if let Some(s) = asked.iter().find(|s| !partner.scopes.contains(s)) {
                return Err(format!("scope `{s}` is not granted to this client"));
            }
            asked.into_iter().collect()
        }
    };
    if granted.is_empty() {
        return Err("this client has no scopes".into());
    }
    Ok(granted)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): where the token endpoint and the keys
/// are, and what they support, so OAuth clients and docs UIs configure themselves.
pub async fn metadata(
    State(auth): State<Arc<AuthService>>,
    public: Option<axum::Extension<crate::public_url::PublicUrl>>,
    headers: HeaderMap,
) -> Response {
    // Without `gateway.public_url` the URLs come from the request's `Host`: a shared cache must
    // not hand one host's answer to another.
    let from_host = public
        .as_ref()
        .is_none_or(|axum::Extension(p)| p.0.trim().is_empty());
    let base = public.map_or_else(
        || crate::public_url::base("", &headers),
        |axum::Extension(p)| p.resolve(&headers),
    );
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    // The tokens' `iss` when it is a URL (RFC 8414 §2), else the gateway's own base URL.
    let issuer = match auth.settings.issuer.as_str() {
        i if i.starts_with("https://") || i.starts_with("http://") => i.to_string(),
        _ => base.clone(),
    };
    let mut resp = Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}/oauth2/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": [],
        "scopes_supported": scopes,
        "service_documentation": format!("{base}/docs"),
    }))
    .into_response();
    resp.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    if from_host {
        resp.headers_mut()
            .insert(axum::http::header::VARY, HeaderValue::from_static("Host"));
    }
    resp
}

pub async fn jwks(State(auth): State<Arc<AuthService>>) -> Response {
    let mut resp = Json(auth.jwks()).into_response();
    resp.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_dropped_before_its_check_does_not_count() {
        let l =
            crate::auth::attempts::AttemptLimiter::new(crate::auth::config::FailedAttemptsConfig {
                per_client: 1,
                per_address: 1,
                regain_ms: 3_600_000,
            });
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        for _ in 0..3 {
            // A client that stopped waiting: the request's future, and its pending attempt, dropped.
            drop(Pending(Some(
                l.begin("acme", Some(a)).expect("not limited"),
            )));
        }
        // A checked failure counts.
        let checked = Pending(Some(l.begin("acme", Some(a)).expect("not limited")))
            .0
            .take();
        drop(checked);
        assert!(l.begin("acme", Some(a)).is_err(), "the failure counted");
    }

    /// Once a check slot is taken the check runs to its end, so a client that hangs up after
    /// sending a wrong secret has cost a check: the failure counts. A right secret still gives its
    /// attempt back.
    #[tokio::test]
    async fn a_check_under_way_settles_its_attempt_when_the_request_is_dropped() {
        use crate::auth::config::{AuthConfig, FailedAttemptsConfig, PartnerConfig};
        use std::future::Future;
        let hash = secrets::hash_secret("right");
        let partner = |id: &str| PartnerConfig {
            id: id.into(),
            display_name: String::new(),
            client_id: id.into(),
            client_secret_hashes: vec![hash.clone()],
            scopes: vec![Scope::ReferenceRead],
            companies: vec!["usmf".into()],
            rate_limit: Default::default(),
            cors_origins: vec![],
            disabled: false,
        };
        let auth = AuthService::new(&AuthConfig {
            partners: vec![partner("p"), partner("q")],
            failed_attempts: FailedAttemptsConfig {
                per_client: 1,
                per_address: 1,
                regain_ms: 3_600_000,
            },
            ..Default::default()
        })
        .expect("service");
        let slots = u32::try_from(secrets::pool_size()).expect("slots");
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for (client, secret, peer) in [("p", "wrong", a), ("q", "right", b)] {
            let c = ClientAuth {
                client_id: client.into(),
                secret: secret.into(),
                basic: false,
            };
            let mut request = Box::pin(authenticate_client(&auth, Some(peer), c));
            // One poll takes the attempt and a free slot and hands the check to the pool.
            let waiting = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(request.as_mut().poll(cx).is_pending())
            })
            .await;
            assert!(waiting, "the check is under way");
            // The client stops waiting; once every slot is free again, the check ended and
            // settled its attempt.
            drop(request);
            drop(auth.secret_checks.acquire_many(slots).await.expect("slots"));
        }
        assert!(
            auth.attempts.begin("p", Some(a)).is_err(),
            "the wrong secret counted"
        );
        assert!(
            auth.attempts.begin("q", Some(b)).is_ok(),
            "the right secret gave its attempt back"
        );
        assert_eq!(auth.secret_checks_done(), 2, "and both checks are counted");
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let v = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("my%20id:s%3Acret")))
            .expect("hv");
        assert_eq!(parse_basic(&v), Some(("my id".into(), "s:cret".into())));
        let bad = HeaderValue::from_static("Basic !!!");
        assert_eq!(parse_basic(&bad), None);
        let bearer = HeaderValue::from_static("Bearer abc");
        assert_eq!(parse_basic(&bearer), None);
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        // No `expect_err`: TokenRequest has no Debug, so a secret can never be printed.
        let Err(e) = parse_form(&h, b"grant_type=a&grant_type=b") else {
            panic!("a repeated parameter was accepted");
        };
        assert_eq!(e.code, "invalid_request");
        assert!(parse_form(&HeaderMap::new(), b"grant_type=a").is_err());
    }

    #[test]
    fn known_parameters_are_read_unknown_and_empty_ones_ignored() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        let Ok(f) = parse_form(
            &h,
            b"grant_type=client_credentials&client_id=a%20b&scope=&x=1&x=2",
        ) else {
            panic!("a valid form was refused");
        };
        assert_eq!(f.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(f.client_id.as_deref(), Some("a b"));
        assert_eq!(f.scope, None);
        assert_eq!(f.client_secret, None);
    }
}
