//! One integration test binary: each module starts real servers on 127.0.0.1:0 and speaks HTTP.

// A test binary has no outside: `pub` in the harness only shares helpers between test modules.
#![allow(unreachable_pub)]

mod common;

mod auth;
mod authorization;
mod boards;
mod boards_browser;
mod browser;
mod candidates_read;
mod candidates_write;
mod changes;
mod cli;
mod cluster;
mod cluster_redis;
mod cold_start;
mod credential_rotation;
mod deploy;
mod docs_try_it;
mod doctor;
mod gateway_ops;
mod hardening;
mod hot_path;
mod metrics;
mod onboarding_browser;
mod openapi;
mod operator;
mod pacing;
mod pg_changes;
mod pg_webhooks;
mod pg_writes;
mod read_api;
mod readme;
mod resilience;
mod sandbox_conformance;
mod sandbox_entra;
mod sandbox_tls;
mod scan_cost;
mod shutdown;
mod state_postgres;
mod state_store;
mod trace_context;
mod webhook_rights;
mod webhook_rotation;
mod webhook_store;
mod webhook_walkthrough;
mod webhooks;
mod write_isolation;
mod write_recovery;
