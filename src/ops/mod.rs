//! Operations: logging setup, health and readiness, metrics.
pub mod health;
pub mod logging;
pub mod metrics;
pub mod request_id;
pub mod upstream_calls;
