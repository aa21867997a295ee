//! The shared state store, when `[state] url` is Postgres: reachable from here, and its schema
//! version one this binary can run on (older: `serve` migrates at start; newer: refused).

use super::Check;
use crate::config::{StateConfig, StateLocation};

/// `None` with the embedded SQLite store (nothing shared to reach).
pub async fn check(state: &StateConfig) -> Option<Check> {
    let Ok(StateLocation::Postgres { url }) = state.location() else {
        return None;
    };
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        crate::store::postgres::probe(url.expose()),
    )
    .await;
    Some(match probe {
        Err(_) => Check::fail(
            "state",
            "Postgres at state.url did not answer within 10 s",
            "check that Postgres runs and this host reaches it (host, port, firewall)",
        ),
        Ok(Err(e)) => Check::fail(
            "state",
            format!("cannot use Postgres at state.url: {e}"),
            "check state.url (host, port, database, user), that Postgres accepts this host (pg_hba.conf) and sslmode",
        ),
        Ok(Ok(s)) if s.applied > s.known => Check::fail(
            "state",
            format!(
                "the Postgres schema is at version {}, newer than this binary knows ({})",
                s.applied, s.known
            ),
            "run the gateway version that migrated it (or newer)",
        ),
        Ok(Ok(s)) if s.applied < s.known => Check::pass(
            "state",
            format!(
                "Postgres reachable; schema at version {} (this binary: {})",
                s.applied, s.known
            ),
        )
        .advise("the first replica to start migrates the schema (under a lock)"),
        Ok(Ok(s)) => Check::pass(
            "state",
            format!("Postgres reachable; schema at version {}", s.applied),
        ),
    })
}
