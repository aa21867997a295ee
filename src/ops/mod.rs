//! Operations: logging setup, health and readiness, metrics, request-scoped context.
pub mod call_scope;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod request_id;
pub mod upstream_calls;
