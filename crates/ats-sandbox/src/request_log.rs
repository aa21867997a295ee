//! The Dataverse requests the emulator saw, newest last, bounded: their correlation headers
//! (`x-ms-client-request-id`, W3C `traceparent` / `tracestate`) and the `x-ms-service-request-id`
//! the emulator answered with, as Dataverse does on every response. Read over `/_sandbox/requests`,
//! so tests can check what a client sent without a mock of their own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::server::EmulatorState;

/// Entries kept; older ones are dropped first.
const CAPACITY: usize = 1_000;
/// Longest header value kept (a client may send anything).
const MAX_VALUE: usize = 1_024;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub status: u16,
    pub client_request_id: Option<String>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub service_request_id: String,
}

#[derive(Debug, Default)]
pub(crate) struct RequestLog(Mutex<VecDeque<Entry>>);

impl RequestLog {
    fn push(&self, e: Entry) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == CAPACITY {
            q.pop_front();
        }
        q.push_back(e);
    }

    pub(crate) fn snapshot(&self) -> Vec<Entry> {
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(MAX_VALUE)
            .collect()
    })
}

/// Middleware on the Dataverse routes: answers with a fresh `x-ms-service-request-id` and logs
/// the exchange.
pub(crate) async fn record(
    State(st): State<Arc<EmulatorState>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    let target = req.uri().path_and_query().map_or_else(String::new, |p| {
        p.as_str().chars().take(MAX_VALUE).collect()
    });
    let h = req.headers();
    let (client_request_id, traceparent, tracestate) = (
        header(h, "x-ms-client-request-id"),
        header(h, "traceparent"),
        header(h, "tracestate"),
    );
    let mut resp = next.run(req).await;
    let service_request_id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&service_request_id) {
        resp.headers_mut().insert("x-ms-service-request-id", v);
    }
    st.requests.push(Entry {
        method,
        target,
        status: resp.status().as_u16(),
        client_request_id,
        traceparent,
        tracestate,
        service_request_id,
    });
    resp
}
