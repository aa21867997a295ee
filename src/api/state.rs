//! The partner routes' state: every handle a handler may use, assembled by `app.rs` at start.

use std::sync::Arc;

use axum::extract::FromRef;

use super::cursor::CursorSealer;
use crate::auth::AuthService;
use crate::config::Config;

/// What the partner routes use: the resource reader, the hire, webhooks, the changes feed, auth,
/// cursors and the configuration.
pub struct AppState {
    pub config: Config,
    pub cursors: CursorSealer,
    /// The Dataverse client, label and lookup resolvers, reference lists and the partner response
    /// cache (`resources/`): every read of a resource goes through it.
    pub reader: crate::resources::Reader,
    pub auth: Arc<AuthService>,
    /// Hires: the durable store (idempotency records, write plans) and the plans running now.
    pub hiring: Arc<crate::writes::HireContext>,
    /// Webhook subscriptions, the outbox and the delivery client (state in the same store).
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// What deliveries use (shared with the dispatcher): a redelivery is shaped the same way.
    pub deliveries: Arc<crate::webhooks::DeliveryContext>,
    /// Where the durable state lives (`state.path`, or the temporary directory chosen at start).
    /// The shared state backend when `[state] url` is Postgres (readiness, doctor, leases).
    pub postgres: Option<crate::store::postgres::PgStore>,
    pub state_dir: std::path::PathBuf,
    /// The changes feed: fingerprints and events in the same durable store, and the watch that
    /// fires when a scan records events.
    pub changes: Arc<crate::changes::Changes>,
    /// `[[boards]]` and the snapshot they are served from (`/boards/…`, public).
    pub boards: Arc<crate::boards::Boards>,
    /// The operator API's handles (stored partners, operator tokens); the invite page uses them.
    pub operator: crate::operator::OperatorContext,
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
    /// The state directory when none is configured; removed when the state is dropped.
    pub(crate) _scratch: Option<tempfile::TempDir>,
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

/// What every partner read handler takes, as one extractor: the state, the partner, the request
/// headers (language, conditional requests) and the raw query string (the cache key's shaping).
pub struct Call {
    pub st: App,
    pub principal: crate::auth::Principal,
    pub headers: axum::http::HeaderMap,
    pub raw_query: Option<String>,
}

impl axum::extract::FromRequestParts<App> for Call {
    type Rejection = crate::problem::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &App,
    ) -> Result<Self, Self::Rejection> {
        let principal = crate::auth::Principal::from_request_parts(parts, st).await?;
        Ok(Call {
            st: st.clone(),
            principal,
            headers: parts.headers.clone(),
            raw_query: parts.uri.query().map(str::to_owned),
        })
    }
}
