//! Dataverse's error body, `{"error":{"code":"0x…","message":"…"}}` (docs/dataverse-web-api.md#errors), as
//! the emulator's one error type. Every emulator failure is one of these; none is a 500 unless asked for.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DvError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Extra headers (e.g. `Retry-After` on 429, `WWW-Authenticate` on 401).
    pub headers: Vec<(&'static str, String)>,
}

impl DvError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            headers: Vec::new(),
        }
    }
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    /// 400 for a query the OData layer cannot parse or type-check (Dataverse uses code `0x0`).
    pub(crate) fn bad_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "0x0", message)
    }
    /// `Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.y'.`
    pub(crate) fn unknown_property(prop: &str, logical: &str) -> Self {
        Self::bad_query(format!(
            "Could not find a property named '{prop}' on type 'Microsoft.Dynamics.CRM.{logical}'."
        ))
    }
    /// 404 for an unknown entity set or function (`0x8006088a`).
    pub(crate) fn resource_not_found(segment: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "0x8006088a",
            format!("Resource not found for the segment '{segment}'."),
        )
    }
    /// 403 for a caller with no (application) user in the environment (`0x80072560`).
    pub(crate) fn not_a_member() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "0x80072560",
            "The user is not a member of the organization.",
        )
    }
    /// 404 for a missing record (`0x80040217` ObjectDoesNotExist).
    pub(crate) fn record_not_found(logical: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "0x80040217",
            format!("{logical} With Id = {id} Does Not Exist"),
        )
    }
    /// 400 for a bad write payload (`0x80048d19`).
    pub(crate) fn bad_payload(set: &str, inner: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "0x80048d19",
            format!("Error identified in Payload provided by the user for Entity :'{set}' ----> InnerException : {inner}"),
        )
    }
}

impl std::fmt::Display for DvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for DvError {}

impl IntoResponse for DvError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert("OData-Version", HeaderValue::from_static("4.0"));
        h.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; odata.metadata=minimal"),
        );
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        resp
    }
}
