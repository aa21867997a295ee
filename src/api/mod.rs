//! The partner-facing REST API (`/v1/...`): one file per resource; handlers stay thin.
pub mod candidates;
pub mod cursor;
pub mod deadline;
pub mod listing;
pub mod openapi;
pub mod params;
pub mod recruiting_requests;
pub mod reference;
pub mod respond;
pub mod route_scopes;
