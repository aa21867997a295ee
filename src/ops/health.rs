//! Health (`/healthz`: the process runs) and readiness (`/readyz`: a valid Dataverse token, a
//! recent good upstream probe, a sound state store (hire tables), and not draining), served on the ops listener only. The answer is a
//! status word; the cause goes to the log (operators), never into the body.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::{App, AppState};

/// Why the gateway is (not) ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Dataverse or its token endpoint is not usable, or the state store is broken (cause logged).
    NotReady,
    /// SIGTERM received: finishing requests in flight, accepting no new ones.
    Draining,
}

impl Readiness {
    fn word(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::NotReady => "not_ready",
            Readiness::Draining => "draining",
        }
    }
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Evaluates readiness (the upstream probe, `WhoAmI()`, runs at most every 5 s) and exports it as
/// the `gateway_ready` gauge.
pub async fn check(st: &AppState) -> Readiness {
    let r = evaluate(st).await;
    metrics::gauge!("gateway_ready").set(if r == Readiness::Ready { 1.0 } else { 0.0 });
    r
}

async fn evaluate(st: &AppState) -> Readiness {
    if st.shutdown().is_cancelled() {
        return Readiness::Draining;
    }
    let client = st.client.clone();
    let store = st.webhooks.store().clone();
    let probe = st
        .readiness
        .get_with((), async move {
            // A broken state store fails every hire: not ready, whatever Dataverse says.
            store
                .check()
                .await
                .map_err(|e| format!("state store broken: {e}"))?;
            client
                .get_json("WhoAmI()")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
    if let Err(reason) = probe {
        tracing::warn!(reason = %reason, "not ready: upstream probe failed");
        return Readiness::NotReady;
    }
    // The probe may be a few seconds old: the token it used must still be valid now.
    match st.client.tokens().expires_in().await {
        Some(left) if !left.is_zero() => Readiness::Ready,
        _ => {
            tracing::warn!("not ready: no valid Dataverse token");
            Readiness::NotReady
        }
    }
}

pub async fn readyz(State(st): State<App>) -> Response {
    let r = check(&st).await;
    let status = match r {
        Readiness::Ready => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(json!({"status": r.word()}))).into_response()
}
