//! The gateway's HTTP server: state construction from config, the router (partner API, auth, ops),
//! and the cross-cutting tower layers (request id, tracing, metrics, timeout, body limit, CORS).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, Path};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api::cursor::CursorSealer;
use crate::api::openapi;
use crate::auth::{AuthService, ReloadSource};
use crate::config::{Config, DataverseConfig};
use crate::ops::metrics;
use crate::problem;
use crate::resolve::lookups::{LookupRef, LookupResolver};
use crate::resolve::options::OptionCatalog;
use crate::upstream::{
    self, ClientCredential, DataverseClient, Secret, TokenConfig, TokenProvider, UpstreamError,
};

pub struct AppState {
    pub config: Config,
    pub client: Arc<DataverseClient>,
    pub options: OptionCatalog,
    pub lookups: LookupResolver,
    pub reference: moka::future::Cache<String, Arc<Vec<LookupRef>>>,
    pub cursors: CursorSealer,
    /// Mapped partner responses by shaping (`[cache]`), invalidated by writes and change events.
    pub responses: crate::cache::ResponseCache,
    pub auth: Arc<AuthService>,
    /// Hires: the durable store (idempotency records, write plans) and the plans running now.
    pub hires: crate::writes::Hires,
    /// Webhook subscriptions, the outbox and the delivery client (state in the same store).
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Where the durable state lives (`state.path`, or the temporary directory chosen at start).
    pub state_dir: std::path::PathBuf,
    /// The changes feed: fingerprints and events in the same durable store, and the watch that
    /// fires when a scan records events.
    pub changes: crate::changes::Changes,
    /// The last upstream readiness probe (`ops::health`).
    pub(crate) readiness: moka::future::Cache<(), Result<(), String>>,
    shutdown: tokio_util::sync::CancellationToken,
    /// The state directory when none is configured; removed when the state is dropped.
    _scratch: Option<tempfile::TempDir>,
}

impl AppState {
    /// Cancelled when the process begins to shut down (SIGTERM): readiness turns false, the partner
    /// listener stops accepting, and background workers stop at their next safe point (select on
    /// `shutdown().cancelled()` between units of work, never inside one).
    pub fn shutdown(&self) -> &tokio_util::sync::CancellationToken {
        &self.shutdown
    }
}

/// The router's state: a cheap handle on `AppState`.
#[derive(Clone)]
pub struct App(pub Arc<AppState>);

impl std::ops::Deref for App {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

impl FromRef<App> for Arc<AuthService> {
    fn from_ref(app: &App) -> Self {
        app.0.auth.clone()
    }
}

pub struct GatewayHandle {
    pub url: String,
    /// The ops listener (`/metrics`, `/healthz`, `/readyz`).
    pub ops_url: String,
    pub state: Arc<AppState>,
    pub task: tokio::task::JoinHandle<()>,
    /// `state.shutdown()`. Cancel to drain: `task` ends once every partner connection has closed
    /// (or `gateway.shutdown_grace_ms` passed), then the ops listener stops.
    pub shutdown: tokio_util::sync::CancellationToken,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("dataverse: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("{key}: {problem}")]
    Config { key: &'static str, problem: String },
    #[error("auth: {0}")]
    Auth(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The Dataverse client for a config: certificate when configured, else the client secret.
pub fn dataverse_client(
    d: &DataverseConfig,
    default_deadline: Duration,
) -> Result<DataverseClient, StartError> {
    let credential = match (&d.certificate_file, &d.private_key_file) {
        (Some(cert), Some(key)) => {
            let read = |p: &std::path::PathBuf, k: &'static str| {
                std::fs::read_to_string(p).map_err(|e| StartError::Config {
                    key: k,
                    problem: format!("cannot read {} ({e})", p.display()),
                })
            };
            let cert_pem = read(cert, "dataverse.certificate_file")?;
            let key_pem = read(key, "dataverse.private_key_file")?;
            ClientCredential::Certificate(upstream::CertificateCredential::from_pem(
                &cert_pem,
                &Secret::new(key_pem),
            )?)
        }
        _ => ClientCredential::Secret(Secret::new(d.client_secret.expose())),
    };
    let tokens = TokenProvider::new(TokenConfig::for_dataverse(
        &d.authority,
        &d.tenant_id,
        &d.client_id,
        &d.org_url,
        credential,
    ))?;
    let mut cfg = upstream::DataverseConfig::new(&d.org_url);
    cfg.default_deadline = default_deadline;
    cfg.resilience = upstream::ResilienceConfig {
        attempt_timeout: Duration::from_millis(d.timeout_ms),
        max_concurrency: d.max_concurrency,
        queue_timeout: Duration::from_millis(d.queue_timeout_ms),
        breaker_failures: d.breaker_failures,
        breaker_open: Duration::from_millis(d.breaker_open_ms),
        retry_budget: d.retry_budget_percent as f32 / 100.0,
        max_retries: d.max_retries,
        ..Default::default()
    };
    Ok(DataverseClient::new(cfg, tokens)?)
}

pub async fn build_state(
    config: Config,
    reload: Option<ReloadSource>,
) -> Result<Arc<AppState>, StartError> {
    let client = Arc::new(dataverse_client(
        &config.dataverse,
        Duration::from_millis(config.gateway.request_timeout_ms),
    )?);
    let auth = AuthService::new(&config.auth).map_err(|e| StartError::Auth(e.to_string()))?;
    auth.spawn_reloader(reload);
    let ttl = Duration::from_secs(config.gateway.reference_ttl_secs);
    // Tests and the sandbox: a fresh directory, unless `[state] path` says otherwise. The state
    // holds it, so it is removed when the gateway stops instead of piling up in the temp dir.
    let (state_dir, scratch) = match config.state.path.clone() {
        Some(path) => (path, None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("ats-gateway-state-")
                .tempdir()?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let store = crate::store::sqlite::SqliteStore::open(
        &state_dir,
        Duration::from_secs(config.state.idempotency_ttl_secs),
    )
    .map_err(|e| StartError::Config {
        key: "state.path",
        problem: e.to_string(),
    })?;
    tracing::info!(path = %state_dir.display(), "state store opened");
    // No configured key: one kept in the state directory, so `/v1/changes` cursors (which live as
    // long as the events) survive a restart.
    let cursor_key = match config.gateway.cursor_key.expose() {
        "" => {
            crate::store::state_dir::key_file(&state_dir, crate::store::state_dir::CURSOR_KEY_FILE)
                .map_err(|e| StartError::Config {
                    key: "gateway.cursor_key",
                    problem: e.to_string(),
                })?
        }
        hex => parse_key(hex)?,
    };
    let cursors = CursorSealer::new(cursor_key, config.gateway.cursor_ttl_secs);
    let store = Arc::new(store);
    let changes = crate::changes::Changes::open(store.clone())
        .await
        .map_err(|e| StartError::Config {
            key: "state.path",
            problem: e.to_string(),
        })?;
    let webhooks = crate::webhooks::Webhooks::new(&config.webhooks, store.clone(), &state_dir)
        .map_err(|e| StartError::Config {
            key: "webhooks",
            problem: e.to_string(),
        })?;
    Ok(Arc::new(AppState {
        hires: crate::writes::Hires::new(store),
        changes,
        webhooks: Arc::new(webhooks),
        state_dir,
        options: OptionCatalog::new(client.clone(), ttl),
        lookups: LookupResolver::new(client.clone(), ttl, 100_000),
        reference: moka::future::Cache::builder()
            .max_capacity(256)
            .time_to_live(ttl)
            .build(),
        readiness: moka::future::Cache::builder()
            .max_capacity(1)
            .time_to_live(Duration::from_secs(5))
            .build(),
        cursors,
        responses: crate::cache::ResponseCache::new(
            Duration::from_millis(config.cache.response_ttl_ms),
            config.cache.response_max_bytes,
        ),
        auth,
        client,
        config,
        shutdown: tokio_util::sync::CancellationToken::new(),
        _scratch: scratch,
    }))
}

pub(crate) fn parse_key(hex: &str) -> Result<[u8; 32], StartError> {
    let bad = || StartError::Config {
        key: "gateway.cursor_key",
        problem: "must be 64 hex characters (32 bytes)".into(),
    };
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    bytes.try_into().map_err(|_| bad())
}

/// Starts the gateway on `listener` (partners) and `gateway.ops_listen` (ops).
pub async fn start(config: Config, listener: TcpListener) -> Result<GatewayHandle, StartError> {
    start_with(config, listener, None).await
}

/// `start`, with where a reload (SIGHUP, file change) re-reads the auth configuration from.
pub async fn start_with(
    config: Config,
    listener: TcpListener,
    reload: Option<ReloadSource>,
) -> Result<GatewayHandle, StartError> {
    let addr = listener.local_addr()?;
    let ops_listener = TcpListener::bind(config.gateway.ops_listen)
        .await
        .map_err(|e| StartError::Config {
            key: "gateway.ops_listen",
            problem: format!("cannot listen on {} ({e})", config.gateway.ops_listen),
        })?;
    let ops_addr = ops_listener.local_addr()?;
    let grace = Duration::from_millis(config.gateway.shutdown_grace_ms);
    // Before anything records: metrics from the first second, not from the first scrape.
    crate::ops::metrics::handle();
    let timeout = Duration::from_millis(config.gateway.request_timeout_ms);
    let limits = crate::server::Limits::from_config(&config.gateway)
        .map_err(|(key, problem)| StartError::Config { key, problem })?;
    let state = build_state(config, reload).await?;
    // Unfinished hires of an earlier process are completed or undone before writes are served
    // (reads are served meanwhile if Dataverse is slow; writes answer 503 until it is done).
    let recovery = tokio::time::timeout(timeout, crate::writes::recover_at_start(&state)).await;
    if recovery.is_err() {
        tracing::warn!(
            "recovery of unfinished writes is taking long; continuing in the background"
        );
    }
    let maintenance = crate::writes::spawn_maintenance(state.clone());
    // The changes scanner stops by itself on the shutdown token.
    let _scanner = crate::changes::Changes::spawn_scanner(state.clone());
    let app = router(App(state.clone()), timeout);
    let ops_app = crate::ops::listener::router(App(state.clone()));
    let shutdown = state.shutdown().clone();
    // Webhook deliveries stop at a safe point once shutdown begins (an unsent delivery stays queued).
    crate::webhooks::delivery::spawn(state.clone(), shutdown.child_token());
    // The ops listener outlives the partner drain, so probes see `draining` and scrapes continue.
    let ops_stop = tokio_util::sync::CancellationToken::new();
    let partner = crate::server::serve(listener, app, limits, shutdown.clone(), grace);
    let ops = crate::server::serve(ops_listener, ops_app, limits, ops_stop.clone(), grace);
    let task = tokio::spawn(async move {
        let partner_then_stop = async {
            partner.await;
            // The maintenance pass ends with the server (its plans are journalled).
            maintenance.abort();
            ops_stop.cancel();
        };
        tokio::join!(partner_then_stop, ops);
    });
    Ok(GatewayHandle {
        url: format!("http://{addr}"),
        ops_url: format!("http://{ops_addr}"),
        state,
        task,
        shutdown,
    })
}

pub fn router(state: App, timeout: Duration) -> Router {
    // The recorder before the first request, so nothing is counted into the void before a scrape.
    let _ = metrics::handle();
    let request_id = HeaderName::from_static(crate::ops::request_id::HEADER);
    // Routes and their OpenAPI operations come from one declaration (`api::routes`).
    let (partner_api, _) = crate::api::routes().split_for_parts();
    let partner_api = partner_api
        // Each route's scope, from its OpenAPI attribute; a route layer, so it sees the matched
        // path and runs inside `protect`'s authentication.
        .route_layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            crate::api::route_scopes::require_scope,
        ))
        // Set per method router before `protect`, so CORS still answers preflights (OPTIONS).
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(crate::api::accept::require_json))
        // Innermost, so audit, rate-limit headers and problem+json still wrap a timed-out request.
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            crate::api::deadline::deadline,
        ));
    Router::new()
        .merge(crate::auth::router())
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], openapi::document_json()) }))
        .merge(crate::api::docs::router())
        .route("/problems/{slug}", get(problem_page))
        .method_not_allowed_fallback(method_not_allowed)
        // Merged after the fallback above: it applies to the routes present when it is set.
        .merge(crate::auth::protect(partner_api, state.auth.clone()))
        .fallback(|| async { problem::ApiError::NotFound("no such route; see /docs".into()) })
        .with_state(state.clone())
        .layer(axum::Extension(crate::public_url::PublicUrl(
            state.config.gateway.public_url.as_str().into(),
        )))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(RequestBodyLimitLayer::new(1024 * 1024))
        // Backstop for the ops routes; partner routes meet their own deadline first.
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, timeout + Duration::from_secs(1)))
        // Outside the limits, so their plain-text answers become problem+json too.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(problem::context::ProblemBase {
                problem_base_url: state.config.gateway.problem_base_url.clone(),
                public_url: state.config.gateway.public_url.clone(),
            }),
            problem::problem_context,
        ))
        // gzip / br when the client asks and the body is worth it. Outside problem_context, which
        // rewrites problem bodies.
        .layer(compression())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            // Bounded: a method is any token and a path up to the head limit.
            let path = req.uri().path();
            let path = path.get(..path.len().min(256)).unwrap_or("");
            let cx = req.extensions().get::<crate::ops::trace_context::TraceContext>();
            let trace_id = cx.map(|c| c.trace_id()).unwrap_or_default();
            // `partner` and `route` are recorded once authentication and routing have run.
            let span = tracing::info_span!("request", method = crate::ops::metrics::method_label(req.method()), path = %path, request_id = %id, trace_id = %trace_id, partner = tracing::field::Empty, route = tracing::field::Empty);
            // Exported (when on) as the span `traceresponse` names.
            if let Some(cx) = cx {
                crate::ops::telemetry::start_root(&span, cx);
            }
            span
        }))
        // Outside the span, which carries its trace id.
        .layer(axum::middleware::from_fn(crate::ops::trace_context::accept))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::from_fn(crate::ops::request_id::sanitize))
}

/// Below about a packet, compressing costs CPU and saves nothing on the wire (tower-http's default
/// threshold is 32 bytes). Level 4 rather than each codec's default: brotli's default is 11, which
/// costs milliseconds per page of dynamic JSON for a few percent of size.
fn compression(
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
    tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .br(true)
        .quality(tower_http::CompressionLevel::Precise(4))
        .compress_when(
            SizeAbove::new(1024)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE),
        )
}

async fn method_not_allowed() -> problem::ApiError {
    problem::ApiError::MethodNotAllowed
}

async fn problem_page(Path(slug): Path<String>) -> Response {
    match problem::types::by_slug(&slug) {
        Some(t) => axum::response::Html(format!(
            "<!doctype html><title>{title}</title><h1>{title}</h1><p>HTTP {status}. {text}</p>",
            title = t.title,
            status = t.status.as_u16(),
            text = t.explanation
        ))
        .into_response(),
        None => problem::ApiError::NotFound(format!("no problem type `{slug}`")).into_response(),
    }
}
