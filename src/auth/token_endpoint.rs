//! `POST /oauth2/token` (client_credentials, RFC 6749 §4.4) and `GET /.well-known/jwks.json`.
//! Errors are RFC 6749 §5.2 JSON, not problem+json: OAuth client libraries expect that shape.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

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
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            basic: false,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match self.code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({"error": self.code, "error_description": self.description});
        let mut resp = (status, Json(body)).into_response();
        no_store(resp.headers_mut());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(1u64));
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
struct ClientAuth {
    client_id: String,
    secret: String,
    basic: bool,
}

/// The form a partner posts (RFC 6749 §4.4); the secret may come as HTTP Basic instead.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form; `parse_form` reads it
pub struct TokenRequest {
    /// Always `client_credentials`.
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Space-separated subset of the partner's scopes; all of them when absent.
    scope: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the JSON built in `handle`
pub struct TokenResponse {
    /// ES256 JWT; send as `Authorization: Bearer …`.
    access_token: String,
    /// `Bearer`.
    token_type: String,
    expires_in: u64,
    scope: String,
}

/// RFC 6749 §5.2 error body (OAuth clients expect it, not problem+json).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `temporarily_unavailable`.
    error: String,
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
        (status = 503, description = "Too many token requests at once; retry after `Retry-After`", body = TokenError,
            headers(("Retry-After" = u64, description = "Seconds to wait")),
            example = json!({"error": "temporarily_unavailable", "error_description": "too many token requests; retry shortly"})),
    )
)]
pub async fn token(
    State(auth): State<Arc<AuthService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // argon2 costs CPU and ~19 MiB per check: at most a few at once, and a caller that cannot get
    // a slot soon is told to retry rather than queueing without bound.
    let permit = tokio::time::timeout(
        SECRET_CHECK_WAIT,
        auth.secret_checks.clone().acquire_owned(),
    )
    .await;
    let Ok(Ok(permit)) = permit else {
        tracing::warn!("token endpoint saturated: secret checks busy");
        return OAuthError::new(
            "temporarily_unavailable",
            "too many token requests; retry shortly",
        )
        .into_response();
    };
    // Off the async workers, but with the caller's subscriber and span so the blocking thread's
    // log lines land in the same place.
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    let span = tracing::Span::current();
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        tracing::dispatcher::with_default(&dispatch, || {
            span.in_scope(|| handle(&auth, &headers, &body))
        })
    })
    .await;
    match result {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => e.into_response(),
        Err(_) => OAuthError::new("server_error", "unexpected error").into_response(),
    }
}

fn handle(auth: &AuthService, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let form = parse_form(headers, body)?;
    let grant = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
    // Refresh tokens, codes and passwords do not exist here: every other grant is unsupported.
    if grant != "client_credentials" {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        ));
    }
    let client = client_auth(headers, &form)?;
    let partner = authenticate_client(auth, &client)?;
    let refuse = |code: &'static str, d: &str| OAuthError {
        basic: client.basic,
        ..OAuthError::new(code, d)
    };
    if partner.disabled {
        return Err(refuse("unauthorized_client", "this client is disabled"));
    }
    let scopes = granted_scopes(&partner, form.get("scope").map(String::as_str))
        .map_err(|d| refuse("invalid_scope", &d))?;
    let issued = auth
        .issue_token(&partner.id, &client.client_id, &scopes)
        .map_err(|e| {
            tracing::error!(error = %e, "token signing failed");
            OAuthError::new("server_error", "token could not be issued")
        })?;
    tracing::info!(partner = %partner.id, scope = %issued.scope, "access token issued");
    let mut resp = Json(json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }))
    .into_response();
    no_store(resp.headers_mut());
    Ok(resp)
}

fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
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
    let mut form = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if form.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("parameter `{k}` is repeated"),
            ));
        }
    }
    Ok(form)
}

/// Client authentication in the body or with HTTP Basic (RFC 6749 §2.3.1), never both.
fn client_auth(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<ClientAuth, OAuthError> {
    let basic = headers
        .get(AUTHORIZATION)
        .map(|v| parse_basic(v).ok_or_else(basic_malformed))
        .transpose()?;
    let in_body = form.contains_key("client_secret");
    match basic {
        Some(_) if in_body => Err(OAuthError::new(
            "invalid_request",
            "use one client authentication method, not both",
        )),
        Some((id, secret)) => {
            if form.get("client_id").is_some_and(|b| *b != id) {
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
        None => match (form.get("client_id"), form.get("client_secret")) {
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

fn authenticate_client(auth: &AuthService, c: &ClientAuth) -> Result<Arc<Partner>, OAuthError> {
    let fail = || OAuthError {
        basic: c.basic,
        ..OAuthError::new("invalid_client", "client authentication failed")
    };
    let reg = auth.registry();
    let Some(partner) = reg.by_client_id(&c.client_id).cloned() else {
        secrets::burn_verification(&c.secret);
        tracing::info!(client_id = %c.client_id, reason = "unknown client_id", "client authentication failed");
        return Err(fail());
    };
    if !partner.verify_secret(&c.secret) {
        tracing::info!(client_id = %c.client_id, reason = "secret mismatch", "client authentication failed");
        return Err(fail());
    }
    Ok(partner)
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
        let e = parse_form(&h, b"grant_type=a&grant_type=b").expect_err("repeated");
        assert_eq!(e.code, "invalid_request");
        assert!(parse_form(&HeaderMap::new(), b"grant_type=a").is_err());
    }
}
