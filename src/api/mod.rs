//! The partner-facing REST API (`/v1/...`): one file per resource; handlers stay thin.
pub mod problem;
