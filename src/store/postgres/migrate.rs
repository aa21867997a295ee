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
        3,
        "changes",
        include_str!("../../../migrations/postgres/0003_changes.sql"),
    ),
    (
        10,
        "partners",
        include_str!("../../../migrations/postgres/0010_partners.sql"),
    ),
];

/// The advisory lock's key: any constant no other application of the database uses.
const LOCK_KEY: i64 = 0x6174_735f_6777_0001;

pub(super) async fn run(conn: &mut Conn) -> Result<(), StoreError> {
    let tx = conn.transaction().await.map_err(backend)?;
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

fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}
