//! Partner identity and authorization: the partner registry (hot-reloadable), the gateway's own
//! OAuth2 token endpoint and ES256 keys, external issuers (JWKS), strict JWT verification, the
//! `Principal` extractor, per-partner rate limits, CORS and the audit line.
//!
//! Wiring: `router()` serves `/oauth2/token` and `/.well-known/jwks.json`; `protect()` wraps the
//! partner API with CORS → audit → authenticate → rate limit. Both need `Arc<AuthService>`
//! reachable from the app state through `FromRef`.

pub mod attempts;
pub mod audit;
pub mod config;
pub mod cors;
pub mod external;
pub mod keys;
pub mod principal;
pub mod rate_limit;
pub mod registry;
pub mod scopes;
pub mod secrets;
pub mod token_endpoint;
pub mod usage;
pub mod verify;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Header};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::{
    AuthConfig, AuthConfigError, ExternalIssuerConfig, PartnerConfig, RateLimitConfig,
};
pub use principal::Principal;
pub use registry::{Partner, Registry};
pub use scopes::Scope;
pub use secrets::create_partner_secret;
pub use verify::TokenError;

use external::ExternalIssuer;
use keys::{KeyRing, SigningKey};
use rate_limit::RateLimiters;
use registry::SharedRegistry;

/// The token-issuing settings, fixed for the process lifetime.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    pub audience: String,
    pub token_ttl_secs: u64,
    pub leeway_secs: u64,
}

pub struct AuthService {
    pub settings: Settings,
    registry: SharedRegistry,
    /// What the registry in force is built from: the config's partners and the operator API's.
    sources: std::sync::Mutex<Sources>,
    /// Requests per partner, hour and status, and secrets' last use: counted here, flushed by
    /// the operator module's sync task.
    pub usage: Arc<usage::UsageMeter>,
    keys: KeyRing,
    external: Vec<ExternalIssuer>,
    limiters: RateLimiters,
    /// The auth config in force (partners, key files); a reload replaces it whole.
    config: std::sync::Mutex<AuthConfig>,
    /// Fixed for the process lifetime (its content is re-read on each reload).
    partners_file: Option<PathBuf>,
    reload_poll: Duration,
    /// Own tokens whose signature and claims were already checked (keyed by SHA-256 of the token):
    /// an ES256 verification per request is the gateway's largest CPU cost. Entries carry the
    /// token's `exp`; the partner's live rights are still applied on every request.
    pub(crate) verified: moka::sync::Cache<[u8; 32], Arc<verify::VerifiedOwn>>,
    /// Slots for argon2 secret checks at the token endpoint (the size of the check pool).
    pub(crate) secret_checks: Arc<tokio::sync::Semaphore>,
    /// Failed token-endpoint authentications, limited before the secret check.
    pub(crate) attempts: attempts::AttemptLimiter,
    /// Secret checks run so far (what a flood cost).
    pub(crate) secret_checks_done: std::sync::atomic::AtomicU64,
}

/// The two halves of the registry: config partners (re-read on reload) and stored partners
/// (re-read when the state store's partner generation moves).
struct Sources {
    config: Registry,
    stored: Vec<Arc<Partner>>,
}

/// Where a reload reads the auth configuration from: the main config file and environment, as at
/// start. Without one, a reload re-reads only the files the current config names.
pub struct ReloadSource {
    pub load: Box<dyn Fn() -> Result<AuthConfig, String> + Send + Sync>,
    /// Files whose change triggers a reload, besides SIGHUP (e.g. the main config file).
    pub watch: Vec<PathBuf>,
}

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
}

impl AuthService {
    /// Builds the service: validates config, loads the registry (inline + `partners_file`) and the
    /// signing key (PEM file, or a fresh P-256 key).
    pub fn new(cfg: &AuthConfig) -> Result<Arc<Self>, AuthConfigError> {
        cfg.validate()?;
        let signing = match &cfg.signing_key_file {
            Some(path) => SigningKey::from_pem_file(path)?,
            None => SigningKey::generate()?,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| AuthConfigError::invalid("auth.external_issuers", e.to_string()))?;
        let external = cfg
            .external_issuers
            .iter()
            .enumerate()
            .map(|(i, e)| {
                ExternalIssuer::new(
                    &format!("auth.external_issuers[{i}]"),
                    e.clone(),
                    http.clone(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let registry = build_registry(&cfg.partners, cfg.partners_file.as_deref())?;
        let sources = Sources {
            config: registry.with_stored(&[]),
            stored: Vec::new(),
        };
        let configured = load_keys(&cfg.previous_signing_key_files)?;
        tracing::info!(partners = registry.len(), kid = %signing.kid, "auth ready");
        let keys = KeyRing::new(signing, cfg.token_ttl_secs + cfg.leeway_secs);
        keys.set_configured(configured);
        Ok(Arc::new(Self {
            settings: Settings {
                issuer: cfg.issuer.clone(),
                audience: cfg.audience.clone(),
                token_ttl_secs: cfg.token_ttl_secs,
                leeway_secs: cfg.leeway_secs,
            },
            registry: SharedRegistry::new(registry),
            sources: std::sync::Mutex::new(sources),
            usage: Arc::default(),
            keys,
            external,
            limiters: RateLimiters::default(),
            config: std::sync::Mutex::new(cfg.clone()),
            partners_file: cfg.partners_file.clone(),
            reload_poll: Duration::from_millis(cfg.reload_poll_ms.max(50)),
            verified: moka::sync::Cache::builder()
                .max_capacity(50_000)
                .time_to_live(Duration::from_secs(300))
                .build(),
            secret_checks: Arc::new(tokio::sync::Semaphore::new(secrets::pool_size())),
            attempts: attempts::AttemptLimiter::new(cfg.failed_attempts),
            secret_checks_done: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// The current registry snapshot (cheap: one `Arc` clone).
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.snapshot()
    }

    /// Swaps in new config partners (the stored ones stay); in-flight requests keep the snapshot
    /// they started with.
    pub fn replace_registry(&self, reg: Registry) {
        let mut src = lock(&self.sources);
        src.config = reg;
        self.install(&src, "partner registry replaced");
    }

    /// Swaps in the operator API's partners as the state store holds them (config ones stay). A
    /// stored partner that does not check out is left out and logged.
    pub fn set_stored_partners(&self, stored: &[crate::store::partners::StoredPartner]) {
        let list = stored
            .iter()
            .filter_map(|p| {
                registry::from_stored(p)
                    .inspect_err(|e| tracing::error!(partner = %p.doc.id, error = %e, "stored partner left out"))
                    .ok()
                    .map(Arc::new)
            })
            .collect();
        let mut src = lock(&self.sources);
        src.stored = list;
        self.install(&src, "stored partners applied");
    }

    /// Under the sources lock, so a reload and a store refresh never undo each other.
    fn install(&self, src: &Sources, what: &'static str) {
        let reg = src.config.with_stored(&src.stored);
        self.limiters.retain(|id| reg.partner(id).is_some());
        tracing::info!(partners = reg.len(), "{what}");
        self.registry.replace(reg);
    }

    fn current_config(&self) -> AuthConfig {
        match self.config.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Applies a re-read auth config: partners (inline + `partners_file`), the signing key file and
    /// the verify-only key files (a replaced signing key verifies on only if listed there). All or
    /// nothing: on error nothing changes and the reason is logged. Issuer, audience, lifetimes and
    /// external issuers need a restart.
    pub fn reload(&self, cfg: &AuthConfig) -> Result<(), AuthConfigError> {
        let result = (|| {
            cfg.validate()?;
            let reg = build_registry(&cfg.partners, self.partners_file.as_deref())?;
            let signing = cfg
                .signing_key_file
                .as_deref()
                .map(SigningKey::from_pem_file)
                .transpose()?;
            let configured = load_keys(&cfg.previous_signing_key_files)?;
            Ok((reg, signing, configured))
        })();
        let (reg, signing, configured) = result.inspect_err(|e: &AuthConfigError| {
            tracing::error!(error = %e, "auth reload failed; keeping the previous partners and keys");
        })?;
        // Keys in one step: the replaced one is kept only if `previous_signing_key_files` lists
        // it (a leaked key replaced by a reload signs nothing valid after it).
        self.keys.reload(signing, configured);
        self.replace_registry(reg);
        match self.config.lock() {
            Ok(mut g) => *g = cfg.clone(),
            Err(p) => *p.into_inner() = cfg.clone(),
        }
        Ok(())
    }

    /// Rebuilds the registry from new inline partners, keeping the rest of the config.
    pub fn reload_partners(&self, partners: &[PartnerConfig]) -> Result<(), AuthConfigError> {
        let mut cfg = self.current_config();
        cfg.partners = partners.to_vec();
        self.reload(&cfg)
    }

    /// Re-reads the files the config in force names (`partners_file`, key files).
    pub fn reload_now(&self) -> Result<(), AuthConfigError> {
        self.reload(&self.current_config())
    }

    /// Reloads on SIGHUP and when a watched file changes (modification time and length, checked
    /// every `reload_poll_ms`): the partners file, the key files and `source.watch`. Requests in
    /// flight keep the snapshot they started with. Ends when the service is dropped.
    pub fn spawn_reloader(
        self: &Arc<Self>,
        source: Option<ReloadSource>,
    ) -> tokio::task::JoinHandle<()> {
        let cfg = self.current_config();
        let mut watch: Vec<PathBuf> = self.partners_file.iter().cloned().collect();
        watch.extend(cfg.signing_key_file.iter().cloned());
        watch.extend(cfg.previous_signing_key_files.iter().cloned());
        if let Some(s) = &source {
            watch.extend(s.watch.iter().cloned());
        }
        // Installed now, not in the task: a SIGHUP right after start must not hit the default
        // action, which ends the process.
        #[cfg(unix)]
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .inspect_err(
                |e| tracing::warn!(error = %e, "no SIGHUP handler; reload by file change only"),
            )
            .ok();
        #[cfg(not(unix))]
        let hup = None;
        tokio::spawn(reload_loop(
            Arc::downgrade(self),
            source,
            watch,
            self.reload_poll,
            hup,
        ))
    }

    /// Makes a new signing key current; the previous one stays in the JWKS until its tokens expire.
    pub fn rotate_signing_key(&self) -> Result<String, AuthConfigError> {
        self.keys.rotate()
    }

    /// How many client secrets the token endpoint has checked (argon2 runs).
    pub fn secret_checks_done(&self) -> u64 {
        self.secret_checks_done
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn current_kid(&self) -> String {
        self.keys.current().kid.clone()
    }

    pub fn jwks(&self) -> JwkSet {
        self.keys.jwks()
    }

    /// Signs an access token for `partner_id` with the current key; `sid` is the id of the stored
    /// secret the client authenticated with (none for a config secret): the token is refused once
    /// that secret is revoked or expired ([`registry::Partner::live_secret`]).
    pub fn issue_token(
        &self,
        partner_id: &str,
        client_id: &str,
        scopes: &BTreeSet<Scope>,
        sid: Option<&str>,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let key = self.keys.current();
        let now = keys::now();
        let ttl = self.settings.token_ttl_secs;
        let scope = Scope::join(scopes);
        let mut claims = json!({
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": partner_id,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let (Some(sid), Some(map)) = (sid, claims.as_object_mut()) {
            map.insert("sid".into(), sid.into());
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("at+jwt".into());
        let access_token = jsonwebtoken::encode(&header, &claims, &key.encoding)?;
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            scope,
        })
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<SigningKey>, AuthConfigError> {
    paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            SigningKey::from_pem_file(p).map_err(|e| {
                AuthConfigError::invalid(
                    format!("auth.previous_signing_key_files[{i}]"),
                    e.to_string(),
                )
            })
        })
        .collect()
}

fn build_registry(
    inline: &[PartnerConfig],
    file: Option<&Path>,
) -> Result<Registry, AuthConfigError> {
    let mut all = inline.to_vec();
    if let Some(f) = file {
        all.extend(Registry::load_file(f)?);
    }
    Registry::from_config(&all)
}

/// What identifies a version of the partners file: modification time and length.
use crate::file_stamp::file_stamp;

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

async fn reload_loop(
    weak: Weak<AuthService>,
    source: Option<ReloadSource>,
    watch: Vec<PathBuf>,
    poll: Duration,
    // `mut` is needed only where SIGHUP exists (unix).
    #[allow(unused_mut)] mut hup: Hangup,
) {
    let stamps = |paths: &[PathBuf]| paths.iter().map(|p| file_stamp(p)).collect::<Vec<_>>();
    let mut last = stamps(&watch);
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = {
            let _ = &mut hup;
            std::future::pending::<()>()
        };
        let forced = tokio::select! {
            _ = tick.tick() => false,
            _ = hangup => true,
        };
        let Some(svc) = weak.upgrade() else { return };
        let now = stamps(&watch);
        if !forced && now == last {
            continue;
        }
        last = now;
        tracing::info!(signal = forced, "reloading the auth configuration");
        // Errors are logged inside `reload`; the previous partners and keys stay in force.
        let _ = match &source {
            Some(s) => match (s.load)() {
                Ok(cfg) => svc.reload(&cfg),
                Err(e) => {
                    tracing::error!(error = %e, "auth reload failed: the configuration does not load; keeping the previous one");
                    continue;
                }
            },
            None => svc.reload_now(),
        };
    }
}

/// `/oauth2/token` (documented in the OpenAPI document), `/.well-known/jwks.json` and
/// `/.well-known/oauth-authorization-server` (RFC 8414 metadata).
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<AuthService>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(token_endpoint::token))
        .route("/.well-known/jwks.json", get(token_endpoint::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(token_endpoint::metadata),
        )
}

/// [`routes`] as a plain router.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<AuthService>: FromRef<S>,
{
    routes().split_for_parts().0
}

/// Wraps partner routes: CORS (preflight answered without auth) → audit → authenticate → rate
/// limit → handler. The scope check is `api::route_scopes::require_scope`, from each route's OpenAPI
/// `security`; handlers take `Principal` for its companies and PII right.
pub fn protect<S>(routes: Router<S>, auth: Arc<AuthService>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // One layer, read top (outermost) to bottom: each `Router::layer` boxes every route once
    // more, and a request clones every box below the one it enters.
    routes.layer(
        tower::ServiceBuilder::new()
            .layer(cors::cors_layer(auth.clone()))
            .layer(axum::middleware::from_fn_with_state(
                auth.usage.clone(),
                audit::audit,
            ))
            .layer(axum::middleware::from_fn_with_state(
                auth.clone(),
                principal::authenticate,
            ))
            .layer(axum::middleware::from_fn_with_state(
                auth,
                rate_limit::rate_limit,
            )),
    )
}
