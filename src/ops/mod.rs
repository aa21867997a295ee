//! Operations: logging setup, health and readiness, metrics.
pub mod health;
pub mod metrics;
pub mod logging;
