//! The `/_sandbox/` admin routes: request counters, the request log and fault injection.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::faults::{FaultKind, FaultSpec};

use super::EmulatorState;

pub(super) async fn stats(State(st): State<Arc<EmulatorState>>) -> Response {
    Json(st.stats.snapshot()).into_response()
}

pub(super) async fn stats_reset(State(st): State<Arc<EmulatorState>>) -> StatusCode {
    st.stats.reset();
    st.protection.reset();
    StatusCode::NO_CONTENT
}

pub(super) async fn faults_list(State(st): State<Arc<EmulatorState>>) -> Response {
    Json(st.faults.list()).into_response()
}

pub(super) async fn faults_add(State(st): State<Arc<EmulatorState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultSpec>(&body) {
        Ok(spec) => {
            if let FaultKind::ServerError { status } | FaultKind::LostResponse { status } =
                spec.kind
            {
                if !(500..=599).contains(&status) {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"error": "status must be 5xx"})),
                    )
                        .into_response();
                }
            }
            st.faults.add(spec);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("invalid fault: {e}")})),
        )
            .into_response(),
    }
}

pub(super) async fn faults_clear(State(st): State<Arc<EmulatorState>>) -> StatusCode {
    st.faults.clear();
    StatusCode::NO_CONTENT
}

/// The Dataverse requests seen, oldest first (at most the last 1,000).
pub(super) async fn requests_list(State(st): State<Arc<EmulatorState>>) -> Response {
    Json(st.requests.snapshot()).into_response()
}

pub(super) async fn requests_clear(State(st): State<Arc<EmulatorState>>) -> StatusCode {
    st.requests.clear();
    StatusCode::NO_CONTENT
}
