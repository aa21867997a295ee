//! The Entra token endpoint (client credentials).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::entra::AadError;

use super::EmulatorState;

pub(super) async fn token(
    State(st): State<Arc<EmulatorState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.stats
        .token_requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let verdict = st.faults.for_token();
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    if verdict.fail.is_some() {
        return AadError::temporarily_unavailable().into_response(&headers);
    }
    let token_url = format!("{}/{}/oauth2/v2.0/token", st.url, tenant);
    let resp = st.entra.token(&tenant, &token_url, &headers, &body);
    if resp.status().is_success() {
        st.stats
            .tokens_issued
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    resp
}
