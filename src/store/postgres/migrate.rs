//! Versioned migrations, embedded in the binary and applied in order at start. One transaction
//! under a transaction-scoped advisory lock: a replica starting while another migrates waits, then
//! finds the work done; a failed migration leaves the schema as it was (Postgres DDL is
//! transactional).

use super::{backend, Conn};
use crate::store::StoreError;

/// Every migration, in order; a version is never edited once released, only added.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "gateway_keys",
        include_str!("../../../migrations/postgres/0001_gateway_keys.sql"),
    ),
    (
        2,
        "writes",
        include_str!("../../../migrations/postgres/0002_writes.sql"),
    ),
    (
        3,
        "changes",
        include_str!("../../../migrations/postgres/0003_changes.sql"),
    ),
    (
        4,
        "webhooks",
        include_str!("../../../migrations/postgres/0004_webhooks.sql"),
    ),
    (
        10,
        "partners",
        include_str!("../../../migrations/postgres/0010_partners.sql"),
    ),
    (
        11,
        "webhook_secret_rotation",
        include_str!("../../../migrations/postgres/0011_webhook_secret_rotation.sql"),
    ),
    (
        12,
        "scan_window_calls",
        include_str!("../../../migrations/postgres/0012_scan_window_calls.sql"),
    ),
    (
        13,
        "baseline_representation",
        include_str!("../../../migrations/postgres/0013_baseline_representation.sql"),
    ),
];

/// The advisory lock's key: any constant no other application of the database uses.
const LOCK_KEY: i64 = 0x6174_735f_6777_0001;

pub(super) async fn run(conn: &mut Conn) -> Result<(), StoreError> {
    let tx = conn.transaction().await.map_err(backend)?;
    // Waiting for another replica's migration, or building an index on a large table, may take
    // longer than the statement timeout the pool's connections carry.
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(backend)?;
    let applied: Vec<i64> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(newer) = applied.iter().max().filter(|v| **v > latest()) {
        return Err(StoreError::Backend(format!(
            "the Postgres schema is at version {newer}, newer than this binary knows ({}): run the newer gateway, or restore",
            latest()
        )));
    }
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError::Backend(format!("migration {version} ({name}): {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(backend)?;
        tracing::info!(version, name, "Postgres migration applied");
    }
    tx.commit().await.map_err(backend)
}

/// The newest schema version this binary knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// What `doctor` finds at `[state] url`, without changing anything (no migration is run).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaStatus {
    /// The newest migration applied (0: a fresh database, migrated by the first replica's start).
    pub applied: i64,
    /// The newest this binary knows.
    pub known: i64,
}

/// Connects to `url` (5 s at most) and reads the schema version.
pub async fn probe(url: &str) -> Result<SchemaStatus, StoreError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
        backend(format!(
            "state.url is not a Postgres URL ({})",
            super::redact(&e.to_string(), url)
        ))
    })?;
    config.application_name("ats-gateway doctor");
    config.connect_timeout(std::time::Duration::from_secs(5));
    let (client, conn) = config
        .connect(super::tls()?)
        .await
        .map_err(|e| StoreError::Unavailable(super::redact(&e.to_string(), url)))?;
    tokio::spawn(conn);
    let applied = match client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
    {
        Ok(row) => row.try_get(0).map_err(backend)?,
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => 0,
        Err(e) => return Err(backend(super::redact(&e.to_string(), url))),
    };
    Ok(SchemaStatus {
        applied,
        known: latest(),
    })
}
