//! ats-gateway: a partner-facing REST gateway in front of the Dynamics 365 HR ATS (Dataverse) API.

pub mod sandbox;

pub mod app;
pub mod auth;
// pub mod cli;
pub mod api;
pub mod config;
pub mod ops;
