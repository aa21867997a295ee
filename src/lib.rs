//! ats-gateway: a partner-facing REST gateway in front of the Dynamics 365 HR ATS (Dataverse) API.

pub mod api;
pub mod app;
pub mod auth;
pub mod boards;
pub mod cache;
pub mod changes;
pub mod cli;
pub mod cluster;
pub mod config;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod doctor;
pub mod file_stamp;
pub mod html;
pub mod model;
pub mod operator;
pub mod ops;
pub mod problem;
pub mod public_url;
pub mod resolve;
pub mod resources;
pub mod server;
pub mod store;
pub mod upstream;
pub mod webhooks;
pub mod writes;
