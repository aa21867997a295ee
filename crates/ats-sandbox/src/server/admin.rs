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

/// A client secret to add to or delete from an app (default: the gateway's demo app).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecretChange {
    value: String,
    #[serde(default)]
    client_id: Option<uuid::Uuid>,
    /// Default: ten years from now.
    #[serde(default)]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The change, or why it is refused (answered 400).
fn secret_change(body: &[u8]) -> Result<SecretChange, String> {
    let change: SecretChange =
        serde_json::from_slice(body).map_err(|e| format!("invalid secret change: {e}"))?;
    if change.value.is_empty() {
        return Err("value must not be empty".into());
    }
    Ok(change)
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

/// The apps' secrets: client id, hint (first three characters), expiry and tokens issued with it.
pub(super) async fn secrets_list(State(st): State<Arc<EmulatorState>>) -> Response {
    Json(st.entra.secrets()).into_response()
}

/// Adds a secret, as an operator does in the app registration before rotating the client to it.
pub(super) async fn secrets_add(State(st): State<Arc<EmulatorState>>, body: Bytes) -> Response {
    match secret_change(&body) {
        Ok(c) => {
            let expires_at = c
                .expires_at
                .unwrap_or_else(|| chrono::Utc::now() + chrono::Duration::days(3650));
            st.entra.add_secret(
                c.client_id.unwrap_or(st.config.client_id),
                c.value,
                expires_at,
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(msg) => bad_request(msg),
    }
}

/// Deletes a secret (the old one, once the client uses the new); 404 when the app has no such secret.
pub(super) async fn secrets_remove(State(st): State<Arc<EmulatorState>>, body: Bytes) -> Response {
    match secret_change(&body) {
        Ok(c) => match st
            .entra
            .remove_secret(c.client_id.unwrap_or(st.config.client_id), &c.value)
        {
            0 => StatusCode::NOT_FOUND.into_response(),
            _ => StatusCode::NO_CONTENT.into_response(),
        },
        Err(msg) => bad_request(msg),
    }
}
