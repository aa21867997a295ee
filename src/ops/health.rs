//! Health (`/healthz`: the process runs) and readiness (`/readyz`: a valid Dataverse token, a
//! recent good upstream probe, a sound state store (hire tables), and not draining), served on the ops listener only. The answer is a
//! status word; the cause goes to the log (operators), never into the body.
//!
//! With a shared state store (Postgres, several replicas) the state check is a ping, and an
//! unreachable Postgres does not make the replica unready: reads are still served (hires answer
//! 503 with `Retry-After`, webhook deliveries and the scanner pause and resume by themselves), and
//! taking every replica out of the load balancer would stop those reads too. The body then says
//! `"state_store": "unreachable"` next to the status word.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::listener::OpsState;
use crate::store::webhooks::WebhookStore;
use crate::upstream::DataverseClient;

/// What readiness looks at, and nothing else: the Dataverse client (its token and a `WhoAmI()`
/// probe, cached 5 s), the state store and the process's shutdown token. Built once in `app.rs`.
#[derive(Clone)]
pub struct ReadinessCheck {
    client: Arc<DataverseClient>,
    /// The durable state (embedded: the hire tables are checked with the probe; shared: a ping).
    store: Arc<dyn WebhookStore>,
    /// The last probe: `Ok(true)` when only the shared state store is unreachable.
    readiness: moka::future::Cache<(), Result<bool, String>>,
    shutdown: CancellationToken,
}

impl ReadinessCheck {
    pub fn new(
        client: Arc<DataverseClient>,
        store: Arc<dyn WebhookStore>,
        shutdown: CancellationToken,
    ) -> Self {
        ReadinessCheck {
            client,
            store,
            readiness: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(Duration::from_secs(5))
                .build(),
            shutdown,
        }
    }

    fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The client the probe uses (metrics read its token's lifetime).
    pub fn client(&self) -> &DataverseClient {
        &self.client
    }
}

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
pub async fn check(st: &ReadinessCheck) -> Readiness {
    check_state(st).await.0
}

/// Readiness, and whether the shared state store is unreachable (which alone leaves the replica
/// ready).
async fn check_state(st: &ReadinessCheck) -> (Readiness, bool) {
    let r = evaluate(st).await;
    metrics::gauge!("gateway_ready").set(if r.0 == Readiness::Ready { 1.0 } else { 0.0 });
    r
}

async fn evaluate(st: &ReadinessCheck) -> (Readiness, bool) {
    if st.shutdown().is_cancelled() {
        return (Readiness::Draining, false);
    }
    let client = st.client.clone();
    let store = st.store.clone();
    let probe = st
        .readiness
        .get_with((), async move {
            let unreachable = match store.check().await {
                Ok(()) => false,
                // Shared and away: reads go on, writes and deliveries wait for it (module doc).
                Err(e) if store.shared() => {
                    tracing::warn!(error = %e, "state store unreachable: hires answer 503, deliveries paused; staying ready for reads");
                    true
                }
                // A broken embedded store fails every hire: not ready, whatever Dataverse says.
                Err(e) => return Err(format!("state store broken: {e}")),
            };
            client
                .get_json("WhoAmI()")
                .await
                .map(|_| unreachable)
                .map_err(|e| e.to_string())
        })
        .await;
    let unreachable = match probe {
        Ok(unreachable) => unreachable,
        Err(reason) => {
            tracing::warn!(reason = %reason, "not ready: upstream probe failed");
            return (Readiness::NotReady, false);
        }
    };
    // The probe may be a few seconds old: the token it used must still be valid now.
    match st.client.tokens().expires_in().await {
        Some(left) if !left.is_zero() => (Readiness::Ready, unreachable),
        _ => {
            tracing::warn!("not ready: no valid Dataverse token");
            (Readiness::NotReady, unreachable)
        }
    }
}

pub async fn readyz(State(st): State<OpsState>) -> Response {
    let (r, unreachable) = check_state(&st.health).await;
    let status = match r {
        Readiness::Ready => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut body = json!({"status": r.word()});
    if unreachable {
        body["state_store"] = json!("unreachable");
    }
    // Redis unreachable leaves the replica ready (limits fall back to its share): said, not failed.
    if let Some(cluster) = &st.cluster {
        body["cluster"] = json!(cluster.word());
    }
    (status, Json(body)).into_response()
}
