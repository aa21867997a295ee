//! Operations: the ops listener (health, readiness, metrics), logging setup, request-scoped context.
pub mod call_scope;
pub mod credential;
pub mod health;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod request_id;
pub mod telemetry;
pub mod trace_context;
pub mod upstream_calls;
