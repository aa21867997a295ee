//! Opens the state `[state]` names: the embedded SQLite file (one process) or Postgres (several
//! replicas). The one place that chooses a backend; callers get the narrow store traits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::changes::ChangeStore;
use super::partners::PartnerStore;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::webhooks::WebhookStore;
use super::{StoreError, WriteStore};
use crate::config::{StateConfig, StateLocation};

/// The opened state, one handle per concern.
pub struct Stores {
    pub writes: Arc<dyn WriteStore>,
    pub changes: Arc<dyn ChangeStore>,
    pub partners: Arc<dyn PartnerStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    /// The shared backend, when `[state] url` is Postgres.
    pub postgres: Option<PgStore>,
    /// The state directory (SQLite's file, generated key files).
    pub dir: PathBuf,
    /// A temporary state directory (tests, the sandbox): removed when the state is dropped.
    pub scratch: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("dir", &self.dir)
            .field("postgres", &self.postgres)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot create a temporary state directory ({0})")]
    Scratch(std::io::Error),
    /// The embedded store (its directory: `[state] path`, or the `sqlite://` URL).
    #[error("{0}")]
    Sqlite(StoreError),
    #[error("{0}")]
    Postgres(StoreError),
}

impl OpenError {
    /// The configuration key an operator should look at.
    pub fn key(&self) -> &'static str {
        match self {
            OpenError::Config(crate::config::ConfigError::Invalid { key, .. }) => key,
            OpenError::Sqlite(_) | OpenError::Scratch(_) => "state.path",
            OpenError::Config(_) | OpenError::Postgres(_) => "state.url",
        }
    }
}

/// Opens the configured state; `dir` unset means a fresh temporary directory.
pub async fn open(cfg: &StateConfig) -> Result<Stores, OpenError> {
    let ttl = Duration::from_secs(cfg.idempotency_ttl_secs);
    let lease = Duration::from_secs(cfg.lease_secs);
    let location = cfg.location()?;
    let dir = match &location {
        StateLocation::Sqlite { dir, .. } => dir.clone(),
        StateLocation::Postgres { .. } => cfg.path.clone(),
    };
    let (dir, scratch) = match dir {
        Some(path) => (path, None),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("ats-gateway-state-")
                .tempdir()
                .map_err(OpenError::Scratch)?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    // One backend for every concern: the one `[state]` names. With Postgres no SQLite file is
    // opened (nor its directory locked): replicas may share a directory.
    match &location {
        StateLocation::Postgres { url } => {
            let pg = PgStore::connect(url.expose(), cfg.pool_size, ttl)
                .await
                .map_err(OpenError::Postgres)?
                .with_lease(lease)
                .with_timeout(Duration::from_millis(cfg.timeout_ms));
            Ok(Stores {
                writes: Arc::new(pg.clone()),
                changes: Arc::new(pg.clone()),
                partners: Arc::new(pg.clone()),
                webhooks: Arc::new(pg.clone()),
                postgres: Some(pg),
                dir,
                scratch,
            })
        }
        StateLocation::Sqlite { file, .. } => {
            let sqlite = Arc::new(
                SqliteStore::open_file(&dir, file, ttl)
                    .map_err(OpenError::Sqlite)?
                    .with_lease(lease),
            );
            Ok(Stores {
                writes: sqlite.clone(),
                changes: sqlite.clone(),
                partners: sqlite.clone(),
                webhooks: sqlite,
                postgres: None,
                dir,
                scratch,
            })
        }
    }
}
