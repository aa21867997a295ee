//! The shared backend: Postgres, for several replicas acting as one gateway (`[state] url =
//! "postgres://…"`). One connection pool per replica (deadpool over tokio-postgres, TLS by
//! `sslmode` through rustls). The schema is versioned migrations embedded in the binary
//! (`migrations/postgres/`, listed in [`migrate`]), applied at start under an advisory lock, so two
//! replicas starting together never run one migration twice.
//!
//! Each concern implements its store trait in its own file here, as the embedded backend does.

pub mod changes;
mod migrate;
pub mod partners;
pub use migrate::{probe, SchemaStatus};
pub mod webhooks;
pub mod writes;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use uuid::Uuid;

use super::{BoxFuture, StoreError};

/// Waiting for a pooled connection (or a new one) longer than this means Postgres is away: the
/// caller answers (a hire 503 with `Retry-After`) instead of queueing behind a dead server.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Unacknowledged writes on a connection for longer than this fail it (`TCP_USER_TIMEOUT`).
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The server cancels a statement running longer: a hire's statements are a few row lookups, and
/// purges delete in batches of [`PURGE_BATCH`] rows, each a statement of its own. Migrations are
/// exempt (`SET LOCAL statement_timeout = 0`); a `statement_timeout` in the URL's `options` wins.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server keeps a session idle inside a transaction (see `connect`).
const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// How long readiness (and `doctor`) waits for Postgres: below a probe's own timeout, so a silent
/// server reads as unreachable (reads stay ready) rather than failing the probe on every replica.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest one store call waits for Postgres (`[state] timeout_ms`'s default; above
/// `STATEMENT_TIMEOUT`, so a slow statement is normally cancelled by the server first).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Rows one purge statement deletes at most, per table: a backlog (a retention shortened, a long
/// outage) is deleted in many short statements, never one that outlives `STATEMENT_TIMEOUT`.
const PURGE_BATCH: i64 = 5_000;

/// Statements one purge call runs at most; a larger backlog is left to the next pass.
const PURGE_BATCHES: usize = 200;

/// How a purge deletes: at most `rows` per table per statement, at most `statements` per call.
#[derive(Debug, Clone, Copy)]
struct PurgeBatches {
    rows: i64,
    statements: usize,
}

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    ttl: Duration,
    /// This process among the replicas: the holder named in leases and claims.
    replica: Uuid,
    /// How long a lease (a running hire's plan and key) lasts without renewal: `[state] lease_secs`.
    lease: Duration,
    purge: PurgeBatches,
    /// The client-side bound on one call (`[state] timeout_ms`): the server's `statement_timeout`
    /// cannot fire when the server never gets the statement or its answer never comes back.
    timeout: Duration,
    /// When a call last ran out of `timeout`: connections made before then are not used again
    /// (the one that call held may be silent for good), shared by every clone of the store.
    timed_out_at: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("PgStore")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

/// A failure the caller cannot fix by waiting (a refused statement, an unreadable row), except a
/// driver error from a server that is away: most of the stores' calls map their driver errors
/// here, and a closed or refused connection must answer 503 as [`pg`] makes it, not 500.
pub(crate) fn backend<E: std::fmt::Display + 'static>(e: E) -> StoreError {
    match (&e as &dyn std::any::Any).downcast_ref::<tokio_postgres::Error>() {
        Some(driver) if away(driver) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

/// A driver error: `Unavailable` when the server is away (connection closed or refused, shutting
/// down), so the caller answers 503 rather than 500.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    backend(e)
}

/// The server is away (connection closed or refused, shutting down, the statement cancelled).
fn away(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    e.is_closed()
        || io
        || e.code().is_some_and(|code| {
            *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::QUERY_CANCELED
                || code.code().starts_with("08")
        })
}

/// Counts `n` round trips to Postgres for `op` (`state_store_queries_total{op}`).
pub(crate) fn queries(op: &'static str, n: u64) {
    metrics::counter!("state_store_queries_total", "op" => op).increment(n);
}

/// A pooled connection.
pub type Conn = deadpool_postgres::Object;

impl PgStore {
    /// Connects (at most `pool_size` connections) and applies pending migrations. `ttl` is the
    /// idempotency records' lifetime, as for the embedded store.
    pub async fn connect(url: &str, pool_size: u32, ttl: Duration) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                backend(format!(
                    "state.url is not a Postgres URL ({})",
                    redact(&e.to_string(), url)
                ))
            })?;
        config.application_name("ats-gateway");
        config.connect_timeout(ACQUIRE_TIMEOUT);
        // A server that silently drops packets (not one that refuses) must not hold a hire for the
        // kernel's retransmission timeout: unacknowledged data fails the connection after
        // `IO_TIMEOUT`, an idle one is probed, and no statement runs longer than
        // `STATEMENT_TIMEOUT`. All three answer `Unavailable` (503), as a refused connection does.
        // None fires when the packets are acknowledged but never answered (a proxy whose server
        // is gone, a stopped server): every call is also bounded here (`bounded`, `io`).
        config.tcp_user_timeout(IO_TIMEOUT);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        config.keepalives_interval(Duration::from_secs(5));
        config.keepalives_retries(2);
        // A transaction whose client went silent (its ROLLBACK lost on the way) would keep its
        // locks (the fan-out cursor, the feed's counter) until the server's TCP gives up, hours
        // later: the server ends a session idle inside a transaction after
        // `IDLE_IN_TRANSACTION_TIMEOUT`, far longer than any gap between one call's statements.
        let timeout = format!(
            "-c statement_timeout={} -c idle_in_transaction_session_timeout={}",
            STATEMENT_TIMEOUT.as_millis(),
            IDLE_IN_TRANSACTION_TIMEOUT.as_millis()
        );
        // The server applies options in order, the last setting winning: the gateway's first, so
        // a `statement_timeout` the URL's own `options` set is the one in force.
        let options = match config.get_options() {
            Some(own) if !own.trim().is_empty() => format!("{timeout} {own}"),
            _ => timeout,
        };
        config.options(options);
        let manager = Manager::from_config(
            config,
            tls()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(usize::try_from(pool_size.max(1)).unwrap_or(1))
            .wait_timeout(Some(ACQUIRE_TIMEOUT))
            .create_timeout(Some(ACQUIRE_TIMEOUT))
            .recycle_timeout(Some(ACQUIRE_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(backend)?;
        let store = Self {
            pool,
            ttl,
            replica: Uuid::new_v4(),
            lease: Duration::from_secs(30),
            purge: PurgeBatches {
                rows: PURGE_BATCH,
                statements: PURGE_BATCHES,
            },
            timeout: CALL_TIMEOUT,
            timed_out_at: Arc::new(Mutex::new(None)),
        };
        let mut conn = store.conn().await.map_err(|e| {
            backend(format!(
                "cannot connect to Postgres ({})",
                redact(&e.to_string(), url)
            ))
        })?;
        migrate::run(&mut conn).await?;
        conn.batch_execute(webhooks::REVOKED_LEFTOVERS)
            .await
            .map_err(backend)?;
        Ok(store)
    }

    /// A connection from the pool (`Unavailable`, quickly, when Postgres is away), never one made
    /// before a call last timed out: those are closed instead.
    pub async fn conn(&self) -> Result<Conn, StoreError> {
        // Each stale connection is taken out of the pool for good, so at most all of them.
        for _ in 0..=self.pool.status().max_size {
            let conn = self
                .pool
                .get()
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            // Read after the checkout: a task waiting on a full pool may be handed the very
            // connection a call just gave up on, its cutoff recorded while this one waited.
            let cutoff = self.timed_out_at.lock().ok().and_then(|t| *t);
            match cutoff {
                Some(t) if Conn::metrics(&conn).created <= t => drop(Conn::take(conn)),
                _ => return Ok(conn),
            }
        }
        Err(StoreError::Unavailable(
            "no usable Postgres connection".into(),
        ))
    }

    /// The client-side bound (`[state] timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One store call (the pool checkout included) under the client-side bound: past it the
    /// call fails `Unavailable`, as a refused connection does (a route on the store answers 503).
    pub(crate) fn bounded<'a, T: Send + 'a>(
        &'a self,
        call: impl Future<Output = Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, call).await {
                Ok(done) => done,
                Err(_) => Err(self.no_answer()),
            }
        })
    }

    /// One statement under the client-side bound, for calls that run many (a scan's record, a
    /// purge) and so cannot be bounded as a whole; driver errors mapped by [`pg`].
    pub(crate) async fn io<T>(
        &self,
        statement: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, statement).await {
            Ok(done) => done.map_err(pg),
            Err(_) => Err(self.no_answer()),
        }
    }

    fn no_answer(&self) -> StoreError {
        if let Ok(mut at) = self.timed_out_at.lock() {
            *at = Some(Instant::now());
        }
        StoreError::Unavailable(format!(
            "Postgres did not answer within {} ms",
            self.timeout.as_millis()
        ))
    }

    /// Purges delete at most `rows` per table per statement and run at most `statements` per
    /// call (default 5,000 × 200). Small values let a test see the batches.
    pub fn with_purge_batches(mut self, rows: i64, statements: usize) -> Self {
        self.purge = PurgeBatches {
            rows: rows.max(1),
            statements: statements.max(1),
        };
        self
    }

    /// Runs a purge statement until every count it answers is under a batch, at most the
    /// statement cap times; the rows deleted in all. The statement's last parameter is the batch
    /// size (appended here to `params`); each column of its one row counts what one table lost.
    /// `each` counts every statement sent. Each statement is bounded by the store's timeout, not
    /// the whole purge (a backlog takes many).
    pub(crate) async fn purge_in_batches(
        &self,
        conn: &Conn,
        stmt: &tokio_postgres::Statement,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        each: impl Fn(),
    ) -> Result<u64, StoreError> {
        let PurgeBatches { rows, statements } = self.purge;
        let mut all = params.to_vec();
        all.push(&rows);
        let mut purged = 0;
        for _ in 0..statements {
            each();
            let row = self.io(conn.query_one(stmt, &all)).await?;
            let mut full = false;
            for i in 0..row.len() {
                let n: i64 = row.try_get(i).map_err(pg)?;
                purged += u64::try_from(n).unwrap_or(0);
                full |= n >= rows;
            }
            if !full {
                break;
            }
        }
        Ok(purged)
    }

    /// The recovery period (`[state] lease_secs`).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)
    }

    pub fn replica(&self) -> Uuid {
        self.replica
    }

    /// A 32-byte key every replica shares (the `/v1/changes` cursor key, the webhook sealing key,
    /// when the configuration sets none): made by the first replica that asks, read by the others.
    pub async fn shared_key(&self, name: &str) -> Result<[u8; 32], StoreError> {
        let fresh: [u8; 32] = rand::random();
        let conn = self.conn().await?;
        let row = conn
            .query_one(
                "INSERT INTO gateway_keys (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
                 RETURNING value",
                &[&name, &fresh.as_slice()],
            )
            .await
            .map_err(backend)?;
        let value: Vec<u8> = row.try_get(0).map_err(backend)?;
        value
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("key {name} is not 32 bytes")))
    }

    /// Whether Postgres answers now (readiness, doctor), within the client-side bound.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let bound = self.timeout.min(PING_TIMEOUT);
        let silent = || {
            StoreError::Unavailable(format!(
                "Postgres did not answer within {} ms",
                bound.as_millis()
            ))
        };
        let started = Instant::now();
        let conn = tokio::time::timeout(bound, self.conn())
            .await
            .map_err(|_| silent())??;
        let left = bound.saturating_sub(started.elapsed());
        let answer = tokio::time::timeout(left, conn.simple_query("SELECT 1")).await;
        match answer {
            Ok(done) => done.map(|_| ()).map_err(backend),
            Err(_) => {
                // This connection may be silent for good: closed, not pooled again. Others stay
                // (the short bound alone does not say Postgres is gone).
                drop(Conn::take(conn));
                Err(silent())
            }
        }
    }
}

/// TLS for `sslmode=require` (and `prefer`), verified against the system's roots.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot parse is skipped, as reqwest does.
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(backend)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A driver message without the URL's password, should the driver have echoed it.
fn redact(message: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
    {
        Some(pw) if !pw.is_empty() => message.replace(&pw, "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver error from a server that closes every connection (Postgres going down, a proxy
    /// cut) is `Unavailable` however the store maps it; other failures stay `Backend`.
    #[tokio::test]
    async fn a_closed_connection_is_unavailable_through_either_mapping() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                drop(conn);
            }
        });
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        for map in [backend::<tokio_postgres::Error>, pg] {
            let e = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .err()
                .expect("refused");
            assert!(
                matches!(map(e), StoreError::Unavailable(_)),
                "a closed connection is unavailable"
            );
        }
        assert!(matches!(
            backend("duplicate key value"),
            StoreError::Backend(_)
        ));
    }
}
