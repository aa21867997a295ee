//! The ops listener's router (`[gateway] ops_listen`): `/metrics`, `/healthz`, `/readyz`. A
//! separate port, so scrapes and probes never reach partners and partners never reach them.

use axum::http::HeaderName;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use super::health::ReadinessCheck;
use crate::problem::ApiError;

/// What the ops routes read: readiness, and the Dataverse credential's configured expiry.
#[derive(Clone)]
pub struct OpsState {
    pub health: ReadinessCheck,
    /// The `[dataverse]` section whose credential is in force (follows a rotation).
    pub dataverse: crate::upstream::rotation::InForce,
    /// With `[cluster] redis_url`: whether limits are shared now (`/readyz` says so).
    pub cluster: Option<Arc<crate::cluster::status::ClusterStatus>>,
}

/// `extra`: more ops routes (the operator API), with their own state and guard.
pub fn router(state: OpsState, extra: Router) -> Router {
    let request_id = HeaderName::from_static(super::request_id::HEADER);
    Router::new()
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        .route("/metrics", get(super::metrics::scrape))
        .with_state(state)
        .merge(extra)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async {
            ApiError::NotFound("ops routes: /metrics, /healthz, /readyz, /operator/v1/…".into())
        })
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(crate::problem::context::ProblemBase::default()),
            crate::problem::problem_context,
        ))
        // As on the partner listener: every problem carries a request id and a trace id to
        // quote (a caller's id if acceptable, else a fresh one), never an empty one.
        .layer(axum::middleware::from_fn(crate::ops::trace_context::accept))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::from_fn(super::request_id::sanitize))
}
