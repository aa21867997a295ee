//! The gateway's HTTP server: state construction from config, the router (partner API, auth, ops),
//! and the cross-cutting tower layers (request id, tracing, metrics, timeout, body limit, CORS).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api::cursor::CursorSealer;
use crate::api::openapi;
pub use crate::api::state::{App, AppState};
use crate::auth::{AuthService, ReloadSource};
use crate::config::Config;
use crate::ops::metrics;
use crate::problem;
use crate::resolve::lookups::LookupResolver;
use crate::resolve::options::OptionCatalog;
use crate::upstream::UpstreamError;

/// How long a stop may go on after both listeners have drained, for the state store's last
/// writes (audit records, the scan lease's release, the last usage flush): kept short, so
/// `preStop` + `shutdown_grace_ms` + this fits a pod's termination grace period (`deploy.rs`).
pub const STOP_TAIL: Duration = Duration::from_secs(3);

pub struct GatewayHandle {
    pub url: String,
    /// The ops listener (`/metrics`, `/healthz`, `/readyz`).
    pub ops_url: String,
    pub state: Arc<AppState>,
    pub task: tokio::task::JoinHandle<()>,
    /// `state.shutdown()`. Cancel to drain: `task` ends once every partner connection has closed
    /// (or `gateway.shutdown_grace_ms` passed), then the ops listener stops, then audit records
    /// still being written, the scan lease's release and a last usage flush get [`STOP_TAIL`] more.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The changes scanner; it stops (releasing its lease) on `shutdown`, and `task` waits for
    /// that. Aborting it instead is a replica's scanner dying with the lease held (failover tests).
    pub scanner: Option<tokio::task::AbortHandle>,
    /// The webhook dispatcher (it stops by itself on `shutdown`; aborting it drops its workers
    /// mid-send, as a crash would).
    pub deliveries: tokio::task::AbortHandle,
    /// The warm-up of the reference caches after start (`Warmup::done` waits for its report).
    pub warmup: crate::resources::warmup::Warmup,
    /// Held by [`start_held`] until [`GatewayHandle::release_background`]: the warm-up waits on it.
    background_gate: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl GatewayHandle {
    /// Lets background work that calls Dataverse at start (the warm-up) begin: `serve` and
    /// `sandbox` call it once their ready line is out. Idempotent; a no-op after [`start`].
    pub fn release_background(&self) {
        let gate = self.background_gate.lock().ok().and_then(|mut g| g.take());
        if let Some(go) = gate {
            let _ = go.send(());
        }
    }
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

impl From<crate::upstream::from_config::SetupError> for StartError {
    fn from(e: crate::upstream::from_config::SetupError) -> Self {
        use crate::upstream::from_config::SetupError;
        match e {
            SetupError::Read { key, problem } => StartError::Config { key, problem },
            SetupError::Upstream(e) => StartError::Upstream(e),
        }
    }
}

/// With the warm-up on, the boards' first read from Dataverse starts this long after it: the
/// partner pages right after start go first.
const BOARDS_AFTER_WARM_UP: Duration = Duration::from_secs(2);

/// `partner_url`: the partner listener's base URL for links (invites) when `gateway.public_url`
/// is not set.
pub async fn build_state(
    config: Config,
    reload: Option<ReloadSource>,
    partner_url: &str,
) -> Result<Arc<AppState>, StartError> {
    let partner_url = match config.gateway.public_url.trim() {
        "" => partner_url.to_string(),
        configured => configured.to_string(),
    };
    let client = Arc::new(crate::upstream::from_config::dataverse_client(
        &config.dataverse,
        Duration::from_millis(config.gateway.request_timeout_ms),
    )?);
    let auth = AuthService::new(&config.auth).map_err(|e| StartError::Auth(e.to_string()))?;
    auth.spawn_reloader(reload);
    let ttl = Duration::from_secs(config.gateway.reference_ttl_secs);
    // Tests and the sandbox: a fresh directory, unless `[state]` says otherwise. The state holds
    // it, so it is removed when the gateway stops instead of piling up in the temp dir.
    let stores = crate::store::open::open(&config.state)
        .await
        .map_err(|e| StartError::Config {
            key: e.key(),
            problem: e.to_string(),
        })?;
    tracing::info!(path = %stores.dir.display(), postgres = stores.postgres.is_some(), "state store opened");
    // No configured key: one every replica shares (Postgres), or one kept in the state directory,
    // so `/v1/changes` cursors (which live as long as the events) survive a restart.
    let cursor_key = match (config.gateway.cursor_key.expose(), &stores.postgres) {
        ("", Some(pg)) => pg
            .shared_key(crate::store::state_dir::CURSOR_KEY_FILE)
            .await
            .map_err(|e| StartError::Config {
                key: "gateway.cursor_key",
                problem: e.to_string(),
            })?,
        ("", None) => {
            crate::store::state_dir::key_file(&stores.dir, crate::store::state_dir::CURSOR_KEY_FILE)
                .map_err(|e| StartError::Config {
                    key: "gateway.cursor_key",
                    problem: e.to_string(),
                })?
        }
        (hex, _) => parse_key(hex)?,
    };
    let previous = config
        .gateway
        .previous_cursor_keys
        .iter()
        .map(|k| {
            crate::config::hex_key(k.expose()).ok_or_else(|| StartError::Config {
                key: "gateway.previous_cursor_keys",
                problem: crate::config::HEX_KEY_PROBLEM.into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cursors =
        CursorSealer::new(cursor_key, config.gateway.cursor_ttl_secs).with_previous(&previous);
    let state_dir = stores.dir.clone();
    let scratch = stores.scratch;
    let operator = crate::operator::OperatorContext::new(
        stores.partners.clone(),
        auth.clone(),
        config.operator.clone(),
        &partner_url,
    )
    .map_err(|e| StartError::Auth(e.to_string()))?;
    // The stored partners are in force before the first request.
    operator.refresh().await.map_err(|e| StartError::Config {
        key: "state.url",
        problem: e.to_string(),
    })?;
    let changes = crate::changes::Changes::open(stores.changes.clone())
        .await
        .map(Arc::new)
        .map_err(|e| StartError::Config {
            key: "state.url",
            problem: e.to_string(),
        })?;
    // No configured sealing key with replicas: the one they share (each must open every secret).
    let webhook_key =
        match (config.webhooks.secret_key.expose(), &stores.postgres) {
            ("", Some(pg)) => Some(pg.shared_key(crate::webhooks::KEY_FILE).await.map_err(
                |e| StartError::Config {
                    key: "webhooks.secret_key",
                    problem: e.to_string(),
                },
            )?),
            _ => None,
        };
    let webhooks = crate::webhooks::Webhooks::new(
        &config.webhooks,
        stores.webhooks.clone(),
        &state_dir,
        webhook_key,
    )
    .map(Arc::new)
    .map_err(|e| StartError::Config {
        key: "webhooks",
        problem: e.to_string(),
    })?;
    let reader = crate::resources::Reader {
        client: client.clone(),
        options: Arc::new(OptionCatalog::new(client.clone(), ttl)),
        lookups: Arc::new(LookupResolver::new(client.clone(), ttl, 100_000)),
        reference: moka::future::Cache::builder()
            .max_capacity(256)
            .time_to_live(ttl)
            .build(),
        responses: crate::cache::ResponseCache::new(
            Duration::from_millis(config.cache.response_ttl_ms),
            config.cache.response_max_bytes,
        ),
    };
    let boards = crate::boards::Boards::new(&config.boards)
        .map(Arc::new)
        .map_err(|(key, problem)| StartError::Config {
            key: "boards",
            problem: format!("{key}: {problem}"),
        })?;
    Ok(Arc::new(AppState {
        boards,
        reader: reader.clone(),
        hiring: Arc::new(crate::writes::HireContext {
            hires: crate::writes::Hires::new(
                stores.writes,
                Duration::from_secs(config.state.lease_secs),
            ),
            client,
            reader: reader.clone(),
        }),
        changes: changes.clone(),
        operator,
        deliveries: Arc::new(crate::webhooks::DeliveryContext {
            webhooks: webhooks.clone(),
            changes: changes.clone(),
            auth: auth.clone(),
        }),
        webhooks,
        state_dir,
        postgres: stores.postgres,
        cursors,
        auth,
        config,
        shutdown: tokio_util::sync::CancellationToken::new(),
        _scratch: scratch,
    }))
}

/// `gateway.cursor_key` as 32 bytes.
fn parse_key(hex: &str) -> Result<[u8; 32], StartError> {
    crate::config::hex_key(hex).ok_or_else(|| StartError::Config {
        key: "gateway.cursor_key",
        problem: crate::config::HEX_KEY_PROBLEM.into(),
    })
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
    start_reloading(config, listener, reload, None).await
}

/// `start_with`, with where a credential rotation re-reads the `[dataverse]` section from
/// (without one: the credential files the section in force names).
pub async fn start_reloading(
    config: Config,
    listener: TcpListener,
    reload: Option<ReloadSource>,
    dataverse: Option<crate::upstream::rotation::CredentialSource>,
) -> Result<GatewayHandle, StartError> {
    let gw = start_held(config, listener, reload, dataverse).await?;
    gw.release_background();
    Ok(gw)
}

/// `start_reloading`, with the warm-up held until [`GatewayHandle::release_background`]: the
/// listeners accept at once, and no Dataverse call of the warm-up precedes the caller's ready line.
pub async fn start_held(
    config: Config,
    listener: TcpListener,
    reload: Option<ReloadSource>,
    dataverse: Option<crate::upstream::rotation::CredentialSource>,
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
    let limits = crate::server::Limits::from_config(&config.gateway, &format!("http://{addr}"))
        .map_err(|(key, problem)| StartError::Config { key, problem })?;
    let state = build_state(config, reload, &format!("http://{addr}")).await?;
    // Stored partners followed on every replica; usage flushed. Stops on the shutdown token (the
    // last flush is the drain's, below).
    let sync = crate::operator::sync::spawn(state.operator.clone(), state.shutdown().clone());
    // Unfinished hires of an earlier process are completed or undone before writes are served
    // (reads are served meanwhile if Dataverse is slow; writes answer 503 until it is done).
    let recovery =
        tokio::time::timeout(timeout, crate::writes::recover_at_start(&state.hiring)).await;
    if recovery.is_err() {
        tracing::warn!(
            "recovery of unfinished writes is taking long; continuing in the background"
        );
    }
    // Shared limits before the first partner request (a no-op without `[cluster] redis_url`).
    let cluster = crate::cluster::start(
        &state.config.cluster,
        crate::cluster::Parts {
            auth: &state.auth,
            client: &state.reader.client,
            responses: &state.reader.responses,
            max_in_flight: state.config.dataverse.max_concurrency,
            attempt_timeout: Duration::from_millis(state.config.dataverse.timeout_ms),
            queue_timeout: Duration::from_millis(state.config.dataverse.queue_timeout_ms),
            shutdown: state.shutdown().clone(),
        },
    )
    .map_err(|problem| StartError::Config {
        key: "cluster.redis_url",
        problem,
    })?;
    // Shared state without shared limits: N replicas allow N times each limit.
    if let Some(warning) =
        crate::cluster::per_replica_limits_warning(state.postgres.is_some(), &state.config.cluster)
    {
        tracing::warn!("{warning}");
    }
    let maintenance = crate::writes::spawn_maintenance(state.hiring.clone());
    // The changes scanner stops by itself on the shutdown token.
    let scanner =
        crate::changes::Changes::spawn_scanner(Arc::new(crate::changes::scanner::ScanContext {
            settings: state.config.changes.clone(),
            client: state.reader.client.clone(),
            reader: state.reader.clone(),
            changes: state.changes.clone(),
            shutdown: state.shutdown().clone(),
        }));
    // The reference caches warmed in the background, one call at a time; the partner listener is
    // already accepting, so the first page never waits for it (stops on the shutdown token).
    let (background_gate, go) = tokio::sync::oneshot::channel();
    let warmup = if state.config.gateway.warm_up {
        crate::resources::warmup::spawn(state.reader.clone(), state.shutdown().clone(), go)
    } else {
        crate::resources::warmup::skipped()
    };
    // Boards: built once (a read from Dataverse after the warm-up), then kept current by the
    // scanner's events (stops on the shutdown token).
    let _boards = crate::boards::snapshot::spawn(
        state.boards.snapshot().clone(),
        crate::boards::snapshot::SnapshotContext {
            reader: state.reader.clone(),
            changes: state.changes.clone(),
            companies: state.boards.companies(),
            recheck: Duration::from_millis(state.config.changes.interval_ms()),
            shutdown: state.shutdown().clone(),
            after: warmup.clone(),
            settle: if state.config.gateway.warm_up {
                BOARDS_AFTER_WARM_UP
            } else {
                Duration::ZERO
            },
        },
    );
    let app = router(App(state.clone()), timeout);
    let credential_in_force =
        crate::upstream::rotation::InForce::new(state.config.dataverse.clone());
    crate::upstream::rotation::spawn(
        state.reader.client.tokens().clone(),
        credential_in_force.clone(),
        dataverse,
        Duration::from_millis(state.config.auth.reload_poll_ms.max(50)),
        state.shutdown().clone(),
    );
    let ops_app = crate::ops::listener::router(
        crate::ops::listener::OpsState {
            health: crate::ops::health::ReadinessCheck::new(
                state.reader.client.clone(),
                state.webhooks.store().clone(),
                state.shutdown().clone(),
            ),
            dataverse: credential_in_force,
            cluster,
        },
        crate::operator::router(state.operator.clone()),
    );
    let shutdown = state.shutdown().clone();
    // Webhook deliveries stop at a safe point once shutdown begins (an unsent delivery stays queued).
    let deliveries =
        crate::webhooks::delivery::spawn(state.deliveries.clone(), shutdown.child_token())
            .abort_handle();
    // The ops listener outlives the partner drain, so probes see `draining` and scrapes continue.
    let ops_stop = tokio_util::sync::CancellationToken::new();
    let partner = crate::server::serve(listener, app, limits.clone(), shutdown.clone(), grace);
    let ops = crate::server::serve(ops_listener, ops_app, limits, ops_stop.clone(), grace);
    let scanner_abort = scanner.as_ref().map(tokio::task::JoinHandle::abort_handle);
    // Once both listeners have drained, within STOP_TAIL (or `[state] timeout_ms` if shorter):
    // audit records still being written and the scanner's lease release are waited for, then
    // the usage counted is flushed a last time, so a stop loses neither a record about to land
    // nor the requests served while draining, and another replica scans at once.
    let operator = state.operator.clone();
    let tail = STOP_TAIL.min(Duration::from_millis(state.config.state.timeout_ms));
    let task = tokio::spawn(async move {
        let partner_then_stop = async {
            partner.await;
            // The maintenance pass ends with the server (its plans are journalled).
            maintenance.abort();
            ops_stop.cancel();
        };
        tokio::join!(partner_then_stop, ops);
        let finish = async {
            tokio::join!(
                operator.background_audits.finish(),
                // Stopped when the stop began; it releases its lease on the way out.
                async {
                    if let Some(scanner) = scanner {
                        let _ = scanner.await;
                    }
                },
                // Its own flush at the stop's start (and any it was in) done first: counts a
                // failed one put back are in the last flush below.
                async {
                    let _ = sync.await;
                }
            );
            crate::operator::sync::flush(&operator).await;
        };
        if tokio::time::timeout(tail, finish).await.is_err() {
            tracing::warn!(
                tail_ms = tail.as_millis() as u64,
                "stopping before the last audit records, the scan lease's release or the last usage flush completed (the state store is slow): audit lines are in the log; another replica scans once the lease expires"
            );
        }
    });
    Ok(GatewayHandle {
        url: format!("http://{addr}"),
        ops_url: format!("http://{ops_addr}"),
        state,
        task,
        shutdown,
        scanner: scanner_abort,
        deliveries,
        warmup,
        background_gate: std::sync::Mutex::new(Some(background_gate)),
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
        // Set per method router before `protect`, so its layers wrap the 405 too; CORS answers
        // real preflights before they reach it (a plain OPTIONS is a 405 like any other method).
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                // Inside `protect`, so audit, rate-limit headers and problem+json still wrap a
                // timed-out request.
                .layer(axum::middleware::from_fn_with_state(
                    timeout,
                    crate::api::deadline::deadline,
                ))
                .layer(axum::middleware::from_fn(crate::api::accept::require_json)),
        );
    Router::new()
        .merge(crate::auth::router())
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    openapi::document_json(),
                )
            }),
        )
        .merge(crate::api::docs::router())
        .route("/problems/{slug}", get(problem_page))
        .merge(crate::operator::onboarding::router(state.operator.clone()))
        .method_not_allowed_fallback(method_not_allowed)
        // Merged after the fallback above: it applies to the routes present when it is set.
        .merge(crate::auth::protect(partner_api, state.auth.clone()))
        // Public, outside `protect`: no token, their own rate limit and CORS.
        .merge(crate::boards::routes::router(state.boards.clone()))
        .fallback(|| async { problem::ApiError::NotFound("no such route; see /docs".into()) })
        .with_state(state.clone())
        // The cross-cutting layers as one, read top (outermost) to bottom. One `Router::layer`
        // call: each call boxes every route once more, and a request clones every box below the
        // one it enters (a dozen calls cost ~200 allocations per request). Per route, so
        // `metrics::track` still sees the matched route.
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(crate::ops::request_id::sanitize))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                // Outside the span, which carries its trace id.
                .layer(axum::middleware::from_fn(crate::ops::trace_context::accept))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                // gzip / br when the client asks and the body is worth it. Outside
                // problem_context, which rewrites problem bodies.
                .layer(compression())
                // Outside the limits, so their plain-text answers become problem+json too.
                .layer(axum::middleware::from_fn_with_state(
                    Arc::new(problem::context::ProblemBase {
                        problem_base_url: state.config.gateway.problem_base_url.clone(),
                        public_url: state.config.gateway.public_url.clone(),
                    }),
                    problem::problem_context,
                ))
                // Backstop for the ops routes; partner routes meet their own deadline first.
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::GATEWAY_TIMEOUT,
                    timeout + Duration::from_secs(1),
                ))
                .layer(RequestBodyLimitLayer::new(1024 * 1024))
                .map_request(boxed_body)
                .layer(axum::middleware::from_fn(metrics::track))
                .layer(axum::Extension(crate::public_url::PublicUrl(
                    state.config.gateway.public_url.as_str().into(),
                ))),
        )
}

/// The limited body as axum's own type again (what `Router::layer` did for each layer).
fn boxed_body(
    req: axum::http::Request<tower_http::body::Limited<axum::body::Body>>,
) -> axum::extract::Request {
    req.map(axum::body::Body::new)
}

/// The request's log span: `partner` is recorded once authentication has run.
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Bounded: a method is any token and a path up to the head limit.
    let path = crate::ops::logging::loggable_path(req.uri().path());
    let path = path.get(..path.len().min(256)).unwrap_or("");
    let cx = req
        .extensions()
        .get::<crate::ops::trace_context::TraceContext>();
    let trace_id = cx.map(|c| c.trace_id()).unwrap_or_default();
    // Routing ran before this per-route layer.
    let route = metrics::route_label(req);
    let span = tracing::info_span!("request", method = crate::ops::metrics::method_label(req.method()), path = %path, request_id = %id, trace_id = %trace_id, route, partner = tracing::field::Empty);
    // Exported (when on) as the span `traceresponse` names.
    if let Some(cx) = cx {
        crate::ops::telemetry::start_root(&span, cx);
    }
    span
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
