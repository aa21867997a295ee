//! Entra's metadata endpoints (OpenID Connect discovery v2.0/v1, signing keys, instance discovery), named
//! under the host the client used, so `localhost` and `127.0.0.1` each get consistent documents.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use uuid::Uuid;

use crate::entra::AadError;

use super::EmulatorState;

/// `scheme://host[:port]` from the `Host` header, with the emulator's own scheme; the emulator's URL when
/// the header is absent or not a plain host (it is echoed into URLs, so nothing else gets through).
fn base(st: &EmulatorState, headers: &HeaderMap) -> String {
    let scheme = st.url.split_once("://").map_or("http", |(s, _)| s);
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map_or_else(|| st.url.clone(), |h| format!("{scheme}://{h}"))
}

fn answer(result: Result<Value, AadError>, headers: &HeaderMap) -> Response {
    match result {
        Ok(body) => crate::entra::json_response(StatusCode::OK, &body, Uuid::new_v4()),
        Err(e) => e.into_response(headers),
    }
}

pub(super) async fn openid_v2(
    State(st): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(
        st.entra
            .openid_configuration_v2(&base(&st, &headers), &tenant),
        &headers,
    )
}

pub(super) async fn openid_v1(
    State(st): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(
        st.entra
            .openid_configuration_v1(&base(&st, &headers), &tenant),
        &headers,
    )
}

pub(super) async fn keys(
    State(st): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(
        st.entra.signing_keys(&base(&st, &headers), &tenant),
        &headers,
    )
}

pub(super) async fn instance(
    State(st): State<Arc<EmulatorState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    answer(
        st.entra.instance_discovery(
            &base(&st, &headers),
            q.get("authorization_endpoint").map(String::as_str),
        ),
        &headers,
    )
}
