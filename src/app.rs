//! The gateway's HTTP server: ops routes and (as they land) the partner API, with cross-cutting
//! tower layers (request id, tracing, timeout, body limit).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;

pub struct AppState {
    pub config: Config,
}

pub struct GatewayHandle {
    pub url: String,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn start(config: Config, listener: TcpListener) -> std::io::Result<GatewayHandle> {
    let addr = listener.local_addr()?;
    let timeout = Duration::from_millis(config.gateway.request_timeout_ms);
    let state = Arc::new(AppState { config });
    let app = router(state, timeout);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "gateway server stopped");
        }
    });
    Ok(GatewayHandle {
        url: format!("http://{addr}"),
        task,
    })
}

pub fn router(state: Arc<AppState>, timeout: Duration) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

async fn readyz(
    axum::extract::State(_st): axum::extract::State<Arc<AppState>>,
) -> impl IntoResponse {
    Json(json!({"status": "ready"}))
}
