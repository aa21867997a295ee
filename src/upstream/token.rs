//! Entra ID client-credentials tokens for Dataverse (docs/entra-client-credentials.md).
//!
//! One [`TokenProvider`] per (tenant, client, scope). Tokens live in a moka cache whose entries expire
//! shortly before the token does; concurrent cold callers share one token request (moka's
//! `try_get_with` single flight); a background task fetches the next token ahead of expiry so no
//! caller waits on the token endpoint in steady state; `invalidate*` drops a token Dataverse refused.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use moka::future::Cache;
use moka::Expiry;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::error::{TokenEndpointError, UpstreamError};
use super::secret::Secret;

/// Refresh when less than this share of the lifetime is left (capped by [`REFRESH_MARGIN_CAP`]).
const REFRESH_SHARE: f64 = 0.2;
const REFRESH_MARGIN_CAP: Duration = Duration::from_secs(300);
/// Treat a token as expired this long before Entra says, to absorb clock skew and latency.
const EXPIRY_SKEW_SHARE: f64 = 0.1;
const EXPIRY_SKEW_CAP: Duration = Duration::from_secs(60);
/// Tokens shorter-lived than this are not refreshed in the background (avoids a hot loop).
const MIN_REFRESHABLE_LIFETIME: Duration = Duration::from_secs(1);
/// Assertions are valid for five minutes (Entra recommends ≤ 10).
const ASSERTION_LIFETIME_SECS: i64 = 300;
const SUMMARY_MAX_CHARS: usize = 300;

/// A bearer token for Dataverse. Prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Secret);

impl AccessToken {
    /// The raw token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken({:?})", self.0)
    }
}

/// A certificate credential: the private key signs an RS256 client assertion whose header carries
/// `x5t` = base64url(SHA-1(certificate DER)).
#[derive(Clone)]
pub struct CertificateCredential {
    key: EncodingKey,
    x5t: String,
    /// SHA-256 of the private key PEM: tells a changed key apart without keeping its text.
    key_digest: [u8; 32],
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t", &self.x5t)
            .field("key", &"***")
            .finish()
    }
}

impl CertificateCredential {
    /// `cert_pem` holds the certificate (other PEM blocks are skipped); `key_pem` the RSA private key
    /// (PKCS#1 or PKCS#8).
    pub fn from_pem(cert_pem: &str, key_pem: &Secret) -> Result<Self, UpstreamError> {
        let blocks = pem::parse_many(cert_pem)
            .map_err(|e| UpstreamError::Config(format!("certificate PEM: {e}")))?;
        let der = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .map(|b| b.contents().to_vec())
            .ok_or_else(|| UpstreamError::Config("no CERTIFICATE block in PEM".to_string()))?;
        x509_parser::parse_x509_certificate(&der)
            .map_err(|e| UpstreamError::Config(format!("certificate is not valid X.509: {e}")))?;
        // Never echo the key parser's input; its error text is generic.
        let key = EncodingKey::from_rsa_pem(key_pem.expose().as_bytes())
            .map_err(|e| UpstreamError::Config(format!("private key: {e}")))?;
        Ok(Self {
            key,
            x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
            key_digest: sha2::Sha256::digest(key_pem.expose().as_bytes()).into(),
        })
    }

    /// base64url SHA-1 thumbprint of the certificate (the `x5t` header).
    pub fn thumbprint(&self) -> &str {
        &self.x5t
    }

    fn assertion(&self, client_id: &str, token_url: &str) -> Result<String, UpstreamError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: i64,
            iat: i64,
            exp: i64,
        }
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            aud: token_url,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_string());
        header.x5t = Some(self.x5t.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| UpstreamError::Config(format!("cannot sign client assertion: {e}")))
    }
}

#[derive(Debug, Clone)]
pub enum ClientCredential {
    Secret(Secret),
    Certificate(CertificateCredential),
}

impl ClientCredential {
    /// Equal for the same credential, different for another (a rotation is a change of this).
    /// A digest, so comparing never needs the secret's text kept elsewhere.
    pub fn fingerprint(&self) -> [u8; 32] {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        match self {
            ClientCredential::Secret(s) => {
                h.update(b"secret\0");
                h.update(s.expose().as_bytes());
            }
            ClientCredential::Certificate(c) => {
                h.update(b"certificate\0");
                h.update(c.x5t.as_bytes());
                h.update(c.key_digest);
            }
        }
        h.finalize().into()
    }

    /// `client_secret` or `certificate`, for log lines and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientCredential::Secret(_) => "client_secret",
            ClientCredential::Certificate(_) => "certificate",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Full token endpoint URL, e.g. `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
    pub token_url: String,
    pub tenant_id: String,
    pub client_id: String,
    /// `{org_url}/.default`.
    pub scope: String,
    pub credential: ClientCredential,
    /// Timeout for one token request.
    pub timeout: Duration,
}

impl TokenConfig {
    /// Config for Dataverse: token URL `{authority}/{tenant}/oauth2/v2.0/token`, scope `{org_url}/.default`.
    pub fn for_dataverse(
        authority: &str,
        tenant_id: &str,
        client_id: &str,
        org_url: &str,
        credential: ClientCredential,
    ) -> Self {
        Self {
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                authority.trim_end_matches('/'),
                tenant_id
            ),
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            scope: format!("{}/.default", org_url.trim_end_matches('/')),
            credential,
            timeout: Duration::from_secs(10),
        }
    }

    fn cache_key(&self) -> String {
        format!("{}|{}|{}", self.tenant_id, self.client_id, self.scope)
    }
}

#[derive(Debug)]
struct CachedToken {
    token: AccessToken,
    /// When the cache drops the entry (a little before the real expiry).
    expires_at: Instant,
    /// When the background task fetches the next one.
    refresh_at: Instant,
    lifetime: Duration,
}

impl CachedToken {
    fn new(token: AccessToken, lifetime: Duration) -> Self {
        let now = Instant::now();
        let skew = lifetime.mul_f64(EXPIRY_SKEW_SHARE).min(EXPIRY_SKEW_CAP);
        let margin = lifetime.mul_f64(REFRESH_SHARE).min(REFRESH_MARGIN_CAP);
        Self {
            token,
            expires_at: now + lifetime.saturating_sub(skew),
            refresh_at: now + lifetime.saturating_sub(margin),
            lifetime,
        }
    }
}

/// Per-entry expiry: each cached token expires at its own `expires_at`.
struct TokenExpiry;

impl Expiry<String, Arc<CachedToken>> for TokenExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<CachedToken>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Arc<CachedToken>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(updated_at))
    }
}

/// Cheap to clone; clones share the cache and the refresh task.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("token_url", &self.inner.cfg.token_url)
            .field("client_id", &self.inner.cfg.client_id)
            .finish_non_exhaustive()
    }
}

struct Inner {
    cfg: TokenConfig,
    /// The credential in force: `cfg.credential` until a rotation replaces it (see [`TokenProvider::rotate`]).
    credential: Mutex<Arc<ClientCredential>>,
    key: String,
    http: reqwest::Client,
    cache: Cache<String, Arc<CachedToken>>,
    refresher: Mutex<Option<tokio::task::AbortHandle>>,
    /// After the endpoint failed transiently with no token cached: fail fast until then (doubling),
    /// so an outage is not met with one token request per partner call.
    cold_backoff: Mutex<ColdBackoff>,
}

#[derive(Default)]
struct ColdBackoff {
    failures: u32,
    until: Option<Instant>,
    last: Option<UpstreamError>,
}

const COLD_BACKOFF_BASE: Duration = Duration::from_millis(250);
const COLD_BACKOFF_CAP: Duration = Duration::from_secs(30);
const REFRESH_BACKOFF_BASE: Duration = Duration::from_millis(500);

/// The token endpoint (or the way to it) is down, as opposed to refusing the credential.
fn endpoint_down(e: &UpstreamError) -> bool {
    match e {
        UpstreamError::TokenEndpoint(t) => {
            t.status == 0 || t.status >= 500 || t.error == "temporarily_unavailable"
        }
        UpstreamError::Timeout | UpstreamError::Network(_) => true,
        _ => false,
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.refresher.lock() {
            if let Some(h) = slot.take() {
                h.abort();
            }
        }
    }
}

impl TokenProvider {
    pub fn new(cfg: TokenConfig) -> Result<Self, UpstreamError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| UpstreamError::Config(format!("http client: {e}")))?;
        Ok(Self::with_http(cfg, http))
    }

    /// Uses a caller-provided reqwest client (shared connection pool, custom TLS roots).
    pub fn with_http(cfg: TokenConfig, http: reqwest::Client) -> Self {
        let cache = Cache::builder()
            .max_capacity(16)
            .expire_after(TokenExpiry)
            .build();
        Self {
            inner: Arc::new(Inner {
                key: cfg.cache_key(),
                credential: Mutex::new(Arc::new(cfg.credential.clone())),
                cfg,
                http,
                cache,
                refresher: Mutex::new(None),
                cold_backoff: Mutex::new(ColdBackoff::default()),
            }),
        }
    }

    /// A valid token: from the cache, or fetched once for all concurrent callers. While the
    /// endpoint is down and no token is cached, fails fast with the last error (backing off).
    pub async fn token(&self) -> Result<AccessToken, UpstreamError> {
        if let Some(entry) = self.inner.cache.get(&self.inner.key).await {
            return Ok(entry.token.clone());
        }
        if let Some(err) = self.inner.backing_off() {
            return Err(err);
        }
        let inner = Arc::clone(&self.inner);
        let result = self
            .inner
            .cache
            .try_get_with(self.inner.key.clone(), async move {
                let fresh = Arc::new(inner.fetch().await?);
                inner.spawn_refresher(Arc::clone(&fresh));
                Ok::<_, UpstreamError>(fresh)
            })
            .await
            .map_err(|e: Arc<UpstreamError>| (*e).clone());
        self.inner.note_cold_result(result.as_ref().err());
        Ok(result?.token.clone())
    }

    /// Switches to `next` only once it got a token: the token is cached (requests from now on send
    /// it) and refreshed ahead like any other. On failure the credential in force stays, with its
    /// token, and the error (an AADSTS code for a refused credential) is returned.
    pub async fn rotate(&self, next: ClientCredential) -> Result<(), UpstreamError> {
        let fresh = Arc::new(counted(self.inner.request_token_with(&next)).await?);
        if let Ok(mut c) = self.inner.credential.lock() {
            *c = Arc::new(next);
        }
        self.inner
            .cache
            .insert(self.inner.key.clone(), Arc::clone(&fresh))
            .await;
        self.inner.note_cold_result(None);
        self.inner.spawn_refresher(fresh);
        Ok(())
    }

    /// The fingerprint of the credential in force ([`ClientCredential::fingerprint`]).
    pub fn credential_fingerprint(&self) -> Option<[u8; 32]> {
        self.inner.credential.lock().ok().map(|c| c.fingerprint())
    }

    /// When the cached token stops being usable (`None`: no token cached).
    pub async fn expires_in(&self) -> Option<Duration> {
        let entry = self.inner.cache.get(&self.inner.key).await?;
        Some(entry.expires_at.saturating_duration_since(Instant::now()))
    }

    /// Drops the cached token and stops background refresh; the next call fetches a new token.
    pub async fn invalidate(&self) {
        self.inner.stop_refresher();
        self.inner.cache.invalidate(&self.inner.key).await;
    }

    /// Invalidates only if `rejected` is still the cached token, so many concurrent 401s on the same
    /// token cause one new token request, not one each.
    pub async fn invalidate_token(&self, rejected: &AccessToken) {
        if let Some(current) = self.inner.cache.get(&self.inner.key).await {
            if current.token == *rejected {
                self.invalidate().await;
            }
        }
    }
}

/// A token request, counted by outcome and timed (a fetch and a rotation's first request alike).
async fn counted(
    request: impl std::future::Future<Output = Result<CachedToken, UpstreamError>>,
) -> Result<CachedToken, UpstreamError> {
    let started = Instant::now();
    let result = request.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("upstream_token_requests_total", "outcome" => outcome).increment(1);
    metrics::histogram!("upstream_token_request_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    result
}

impl Inner {
    fn backing_off(&self) -> Option<UpstreamError> {
        let b = self.cold_backoff.lock().ok()?;
        let until = b.until?;
        (Instant::now() < until).then(|| b.last.clone()).flatten()
    }

    fn note_cold_result(&self, err: Option<&UpstreamError>) {
        let Ok(mut b) = self.cold_backoff.lock() else {
            return;
        };
        match err {
            Some(e) if endpoint_down(e) => {
                let wait = COLD_BACKOFF_BASE
                    .saturating_mul(1 << b.failures.min(10))
                    .min(COLD_BACKOFF_CAP);
                b.failures += 1;
                b.until = Some(Instant::now() + wait);
                b.last = Some(e.clone());
            }
            _ => *b = ColdBackoff::default(),
        }
    }

    fn stop_refresher(&self) {
        if let Ok(mut slot) = self.refresher.lock() {
            if let Some(h) = slot.take() {
                h.abort();
            }
        }
    }

    /// Starts the background loop that replaces `first` (and its successors) ahead of expiry.
    fn spawn_refresher(self: &Arc<Self>, first: Arc<CachedToken>) {
        if first.lifetime < MIN_REFRESHABLE_LIFETIME {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let task = tokio::spawn(refresh_loop(weak, first));
        if let Ok(mut slot) = self.refresher.lock() {
            if let Some(old) = slot.replace(task.abort_handle()) {
                old.abort();
            }
        }
    }

    async fn fetch(&self) -> Result<CachedToken, UpstreamError> {
        crate::ops::upstream_calls::record();
        counted(self.request_token()).await
    }

    async fn request_token(&self) -> Result<CachedToken, UpstreamError> {
        let credential = self
            .credential
            .lock()
            .map(|c| Arc::clone(&c))
            .map_err(|_| UpstreamError::Config("credential lock poisoned".into()))?;
        self.request_token_with(&credential).await
    }

    async fn request_token_with(
        &self,
        credential: &ClientCredential,
    ) -> Result<CachedToken, UpstreamError> {
        let cfg = &self.cfg;
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", cfg.client_id.clone()),
            ("scope", cfg.scope.clone()),
            ("grant_type", "client_credentials".to_string()),
        ];
        match credential {
            ClientCredential::Secret(s) => form.push(("client_secret", s.expose().to_string())),
            ClientCredential::Certificate(c) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                ));
                form.push((
                    "client_assertion",
                    c.assertion(&cfg.client_id, &cfg.token_url)?,
                ));
            }
        }
        let resp = self
            .http
            .post(&cfg.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(cfg.timeout)
            .form(&form)
            .send()
            .await
            .map_err(UpstreamError::from_reqwest)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(UpstreamError::from_reqwest)?;
        if !status.is_success() {
            return Err(UpstreamError::TokenEndpoint(parse_token_error(
                status.as_u16(),
                &body,
            )));
        }
        let ok: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::BadResponse(format!("token response: {e}")))?;
        let lifetime = ok.lifetime()?;
        if ok.access_token.is_empty() {
            return Err(UpstreamError::BadResponse(
                "token response without access_token".to_string(),
            ));
        }
        Ok(CachedToken::new(
            AccessToken(Secret::new(ok.access_token)),
            lifetime,
        ))
    }
}

async fn refresh_loop(weak: Weak<Inner>, first: Arc<CachedToken>) {
    let mut current = first;
    let mut failures: u32 = 0;
    loop {
        tokio::time::sleep_until(current.refresh_at.into()).await;
        let Some(inner) = weak.upgrade() else { return };
        match inner.fetch().await {
            Ok(next) => {
                let next = Arc::new(next);
                inner
                    .cache
                    .insert(inner.key.clone(), Arc::clone(&next))
                    .await;
                tracing::debug!(
                    lifetime_s = next.lifetime.as_secs(),
                    "token refreshed ahead of expiry"
                );
                if next.lifetime < MIN_REFRESHABLE_LIFETIME {
                    return;
                }
                failures = 0;
                current = next;
            }
            Err(err) => {
                // Keep serving the current token; retry with a doubling backoff while it is still
                // valid, then let the next caller fetch cold.
                tracing::warn!(error = %err, "background token refresh failed");
                let left = current.expires_at.saturating_duration_since(Instant::now());
                let backoff = REFRESH_BACKOFF_BASE
                    .saturating_mul(1 << failures.min(10))
                    .min(left / 2)
                    .max(Duration::from_millis(100));
                failures += 1;
                if backoff >= left {
                    return;
                }
                drop(inner);
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// A number on v2.0, a string on the legacy v1 endpoint.
    expires_in: serde_json::Value,
}

impl TokenResponse {
    fn lifetime(&self) -> Result<Duration, UpstreamError> {
        let secs = match &self.expires_in {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        secs.map(Duration::from_secs)
            .ok_or_else(|| UpstreamError::BadResponse("token response: bad expires_in".to_string()))
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Option<Vec<u32>>,
}

/// Parses an Entra error body; the summary keeps only the `AADSTS…: text` line.
fn parse_token_error(status: u16, body: &[u8]) -> TokenEndpointError {
    let Ok(parsed) = serde_json::from_slice::<OAuthErrorBody>(body) else {
        return TokenEndpointError {
            status,
            error: format!("http_{status}"),
            aadsts: None,
            summary: String::new(),
        };
    };
    let description = parsed.error_description.unwrap_or_default();
    let first_line = description.lines().next().unwrap_or("").trim();
    let summary: String = crate::upstream::error::redact_identifiers(first_line)
        .chars()
        .take(SUMMARY_MAX_CHARS)
        .collect();
    let aadsts = parsed
        .error_codes
        .and_then(|c| c.first().copied())
        .or_else(|| aadsts_from_text(first_line));
    TokenEndpointError {
        status,
        error: parsed.error,
        aadsts,
        summary,
    }
}

fn aadsts_from_text(text: &str) -> Option<u32> {
    let rest = &text[text.find("AADSTS")? + "AADSTS".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::testutil::{spawn_server, wait_until};
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Form, Json, Router};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SECRET_VALUE: &str = "very-secret-value~123";

    #[derive(Default)]
    struct MockEntra {
        hits: AtomicUsize,
        expires_in: u64,
        delay_ms: u64,
        fail_with: Option<(u16, serde_json::Value)>,
        forms: Mutex<Vec<HashMap<String, String>>>,
    }

    async fn token_handler(
        State(m): State<Arc<MockEntra>>,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        let n = m.hits.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut forms) = m.forms.lock() {
            forms.push(form);
        }
        if m.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(m.delay_ms)).await;
        }
        if let Some((status, body)) = &m.fail_with {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
            return (status, Json(body.clone())).into_response();
        }
        Json(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": m.expires_in,
            "ext_expires_in": m.expires_in,
            "access_token": format!("tok-{n}"),
        }))
        .into_response()
    }

    async fn start(
        mock: MockEntra,
        credential: ClientCredential,
    ) -> (TokenProvider, Arc<MockEntra>) {
        let mock = Arc::new(mock);
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token_handler))
            .with_state(Arc::clone(&mock));
        let addr = spawn_server(app).await;
        let cfg = TokenConfig::for_dataverse(
            &format!("http://{addr}"),
            "tenant-1",
            "client-1",
            "https://org.example.test/",
            credential,
        );
        (TokenProvider::new(cfg).expect("provider"), mock)
    }

    fn secret() -> ClientCredential {
        ClientCredential::Secret(Secret::new(SECRET_VALUE))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thousand_concurrent_cold_callers_share_one_request() {
        let mock = MockEntra {
            expires_in: 3599,
            delay_ms: 50,
            ..Default::default()
        };
        let (tp, mock) = start(mock, secret()).await;
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let tp = tp.clone();
                tokio::spawn(async move { tp.token().await })
            })
            .collect();
        for t in tasks {
            let tok = t.await.expect("join").expect("token");
            assert_eq!(tok.expose(), "tok-1");
        }
        assert_eq!(mock.hits.load(Ordering::SeqCst), 1);
        let form = mock.forms.lock().expect("lock")[0].clone();
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["scope"], "https://org.example.test/.default");
        assert_eq!(form["client_id"], "client-1");
        assert_eq!(form["client_secret"], SECRET_VALUE);
    }

    #[tokio::test]
    async fn refreshes_ahead_of_expiry_without_blocking_callers() {
        // Refresh is due at 80% of the lifetime, the cache drops the token at 90%: the 0.8 s
        // between them is the slack a loaded machine gets. No wall-clock assertion: what proves
        // "ahead" is that no caller ever had to fetch (hits stays at 2).
        let mock = MockEntra {
            expires_in: 8,
            ..Default::default()
        };
        let (tp, mock) = start(mock, secret()).await;
        assert_eq!(tp.token().await.expect("token").expose(), "tok-1");
        assert!(
            wait_until(Duration::from_secs(10), || mock.hits.load(Ordering::SeqCst)
                >= 2)
            .await,
            "no background refresh"
        );
        // The refresher stores its token right after the mock answered; until then the cached
        // predecessor (still valid) is served.
        let mut tok = tp.token().await.expect("token");
        for _ in 0..100 {
            if tok.expose() == "tok-2" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            tok = tp.token().await.expect("token");
        }
        assert_eq!(tok.expose(), "tok-2");
        assert_eq!(
            mock.hits.load(Ordering::SeqCst),
            2,
            "a caller had to fetch: the refresh was not ahead"
        );
    }

    #[tokio::test]
    async fn invalidate_forces_a_new_token_but_stale_invalidation_does_not() {
        let mock = MockEntra {
            expires_in: 3599,
            ..Default::default()
        };
        let (tp, mock) = start(mock, secret()).await;
        let first = tp.token().await.expect("token");
        tp.invalidate_token(&first).await;
        let second = tp.token().await.expect("token");
        assert_eq!(second.expose(), "tok-2");
        // A late 401 carrying the old token must not throw away the new one.
        tp.invalidate_token(&first).await;
        assert_eq!(tp.token().await.expect("token").expose(), "tok-2");
        tp.invalidate().await;
        assert_eq!(tp.token().await.expect("token").expose(), "tok-3");
        assert_eq!(mock.hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn token_endpoint_errors_are_typed_and_secret_free() {
        let body = serde_json::json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 6f6c4645\r\nCorrelation ID: 5fc87507\r\nTimestamp: 2023-05-06 06:03:00Z",
            "error_codes": [7000215],
            "timestamp": "2023-05-06 06:03:00Z",
        });
        let mock = MockEntra {
            fail_with: Some((401, body)),
            ..Default::default()
        };
        let (tp, mock) = start(mock, secret()).await;
        let err = tp.token().await.expect_err("must fail");
        let UpstreamError::TokenEndpoint(e) = &err else {
            panic!("unexpected {err:?}");
        };
        assert_eq!(e.status, 401);
        assert_eq!(e.error, "invalid_client");
        assert_eq!(e.aadsts, Some(7000215));
        assert!(e
            .summary
            .starts_with("AADSTS7000215: Invalid client secret provided."));
        assert!(!e.summary.contains("Trace ID"));
        for text in [format!("{err}"), format!("{err:?}"), format!("{tp:?}")] {
            assert!(!text.contains(SECRET_VALUE), "{text}");
        }
        // Errors are not cached: the next caller tries again.
        assert!(tp.token().await.is_err());
        assert_eq!(mock.hits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn non_json_error_and_code_from_text() {
        let e = parse_token_error(502, b"<html>bad gateway</html>");
        assert_eq!(e.error, "http_502");
        assert_eq!(e.aadsts, None);
        let e = parse_token_error(
            400,
            br#"{"error":"invalid_scope","error_description":"AADSTS1002012: The provided value for scope x is not valid."}"#,
        );
        assert_eq!(e.error, "invalid_scope");
        assert_eq!(e.aadsts, Some(1002012));
    }

    #[tokio::test]
    async fn certificate_credential_sends_a_valid_rs256_assertion() {
        let cert = CertificateCredential::from_pem(
            include_str!("testdata/test_cert.pem"),
            &Secret::new(include_str!("testdata/test_key.pem")),
        )
        .expect("cert");
        assert_eq!(cert.thumbprint(), "jOoAdWnHC_yMxBqHGYnWn_AzNII");
        assert!(!format!("{cert:?}").contains("PRIVATE"));
        let mock = MockEntra {
            expires_in: 3599,
            ..Default::default()
        };
        let (tp, mock) = start(mock, ClientCredential::Certificate(cert)).await;
        tp.token().await.expect("token");
        let form = mock.forms.lock().expect("lock")[0].clone();
        assert!(!form.contains_key("client_secret"));
        assert_eq!(
            form["client_assertion_type"],
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        let jwt = &form["client_assertion"];
        let header = jsonwebtoken::decode_header(jwt).expect("header");
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.x5t.as_deref(), Some("jOoAdWnHC_yMxBqHGYnWn_AzNII"));
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(include_bytes!("testdata/test_pub.pem"))
            .expect("pub key");
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.set_audience(&[tp.inner.cfg.token_url.as_str()]);
        v.set_issuer(&["client-1"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v).expect("valid");
        let c = data.claims;
        assert_eq!(c["sub"], "client-1");
        assert!(uuid::Uuid::parse_str(c["jti"].as_str().unwrap_or("")).is_ok());
        let nbf = c["nbf"].as_i64().unwrap_or(0);
        assert_eq!(
            c["exp"].as_i64().unwrap_or(0) - nbf,
            ASSERTION_LIFETIME_SECS
        );
    }

    #[test]
    fn bad_certificate_material_is_a_config_error() {
        let err = CertificateCredential::from_pem("not pem", &Secret::new("x")).expect_err("bad");
        assert!(matches!(err, UpstreamError::Config(_)));
        let err = CertificateCredential::from_pem(
            include_str!("testdata/test_cert.pem"),
            &Secret::new("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        )
        .expect_err("bad key");
        assert!(matches!(err, UpstreamError::Config(_)));
    }
}
