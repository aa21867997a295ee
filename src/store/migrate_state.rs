//! `ats-gateway state migrate --from sqlite://… --to postgres://…`: moving one replica's state into
//! the Postgres several replicas share. Reads the SQLite file read-only, in one read transaction (a
//! consistent snapshot, even while the old process runs), applies the Postgres schema, copies each
//! concern's tables through its `import_sqlite` (each in one Postgres transaction), then counts
//! the target's rows to verify. A target that already holds state is refused unless `force`
//! (then source rows replace target rows with the same key; other target rows stay).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::postgres::PgStore;
use super::StoreError;

/// Tables some importer fills, checked empty before copying (unless `force`).
const TABLES: &[&str] = &[
    "idempotency",
    "plans",
    "plan_steps",
    "change_fingerprints",
    "change_events",
    "change_baselines",
    "webhook_subscriptions",
    "webhook_outbox",
    "webhook_attempts",
    "partners",
    "partner_secrets",
    "partner_invites",
    "operator_audit",
];

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    pub table: &'static str,
    /// Rows written by the import.
    pub copied: u64,
    /// Rows in the target table afterwards.
    pub in_target: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("--from must be sqlite://PATH (the file, or the directory holding {file}), got {0}", file = crate::config::SQLITE_FILE)]
    From(String),
    #[error("--to must be a postgres:// URL")]
    To,
    #[error("cannot read {path}: {error}")]
    Source { path: PathBuf, error: String },
    #[error("the target already holds state ({table}: {rows} rows); pass --force to copy over it")]
    NotEmpty { table: &'static str, rows: u64 },
    #[error(
        "verification failed: {table} has {in_target} rows in the target, {copied} were copied"
    )]
    Mismatch {
        table: &'static str,
        copied: u64,
        in_target: u64,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The SQLite file `--from` names.
fn source_file(from: &str) -> Result<PathBuf, MigrateError> {
    let path = from
        .strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| MigrateError::From(from.to_string()))?;
    let path = Path::new(path);
    Ok(if path.is_dir() {
        path.join(crate::config::SQLITE_FILE)
    } else {
        path.to_path_buf()
    })
}

async fn count(pg: &PgStore, table: &str) -> Result<u64, StoreError> {
    let conn = pg.conn().await?;
    // `table` comes from the importers' and TABLES' constants, never from input.
    let row = conn
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .map_err(super::postgres::pg)?;
    let n: i64 = row
        .try_get(0)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Copies, verifies and reports, table by table.
pub async fn migrate(from: &str, to: &str, force: bool) -> Result<Vec<Copied>, MigrateError> {
    let file = source_file(from)?;
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(MigrateError::To);
    }
    let source_err = |e: rusqlite::Error| MigrateError::Source {
        path: file.clone(),
        error: e.to_string(),
    };
    if !file.is_file() {
        return Err(MigrateError::Source {
            path: file.clone(),
            error: "no such file".into(),
        });
    }
    let src = rusqlite::Connection::open_with_flags(
        &file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(source_err)?;
    src.busy_timeout(Duration::from_secs(5))
        .map_err(source_err)?;
    // Connecting applies the schema (as a replica's start would).
    let pg = PgStore::connect(to, 2, Duration::from_secs(24 * 3600)).await?;
    if !force {
        for table in TABLES {
            let rows = count(&pg, table).await?;
            if rows > 0 {
                return Err(MigrateError::NotEmpty { table, rows });
            }
        }
    }
    // One snapshot for every importer: what the old process writes meanwhile is not half-seen.
    let snapshot = src.unchecked_transaction().map_err(source_err)?;
    let mut copied = super::postgres::writes::import_sqlite(&pg, &snapshot).await?;
    copied.extend(super::postgres::changes::import_sqlite(&pg, &snapshot).await?);
    copied.extend(super::postgres::webhooks::import_sqlite(&pg, &snapshot).await?);
    copied.extend(super::postgres::partners::import_sqlite(&pg, &snapshot).await?);
    drop(snapshot);
    let mut report = Vec::new();
    for (table, n) in copied.drain(..) {
        let in_target = count(&pg, table).await?;
        let verified = if force {
            in_target >= n
        } else {
            in_target == n
        };
        if !verified {
            return Err(MigrateError::Mismatch {
                table,
                copied: n,
                in_target,
            });
        }
        report.push(Copied {
            table,
            copied: n,
            in_target,
        });
    }
    Ok(report)
}

/// The report as the command prints it.
pub fn render(report: &[Copied]) -> String {
    let mut out = format!("{:<24} {:>10} {:>10}\n", "table", "copied", "in target");
    for c in report {
        out.push_str(&format!(
            "{:<24} {:>10} {:>10}\n",
            c.table, c.copied, c.in_target
        ));
    }
    out
}
