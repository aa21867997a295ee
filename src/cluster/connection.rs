//! The Redis connection: one `ConnectionManager` (multiplexed, reconnecting by itself) for scripts
//! and publishes; every call bounded by [`OP_TIMEOUT`] and reported to [`ClusterStatus`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::status::ClusterStatus;

/// The longest a request waits on Redis before its concern falls back (loopback answers in well
/// under a millisecond; a healthy network in a few).
pub(super) const OP_TIMEOUT: Duration = Duration::from_millis(250);

pub(super) struct Redis {
    pub(super) client: redis::Client,
    conn: ConnectionManager,
    /// Prefix of every key and channel (`[cluster] key_prefix`).
    pub(super) prefix: String,
    pub(super) status: Arc<ClusterStatus>,
}

impl Redis {
    /// Connects lazily: a gateway starts while Redis is down (and runs on its fallback).
    pub(super) fn open(url: &str, prefix: &str) -> Result<Self, String> {
        // The error text of a bad URL may quote it (and its password): say only what is wrong.
        let client = redis::Client::open(url)
            .map_err(|e| format!("not a redis:// or rediss:// URL ({:?})", e.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT * 2))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("redis connection ({:?})", e.kind()))?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_string(),
            status: Arc::new(ClusterStatus::default()),
        })
    }

    pub(super) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs `op` on the connection unless a recent failure put the cluster on its fallback;
    /// `None`: not asked, failed or too slow (the caller falls back).
    pub(super) async fn run<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.status.usable() {
            return None;
        }
        self.attempt(op).await
    }

    /// Runs `op` even while on the fallback, bounded by the same timeout: for undoing what this
    /// replica holds in Redis (a slot), which must not wait out the fallback and leak meanwhile.
    pub(super) async fn attempt<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(OP_TIMEOUT, op(self.conn.clone())).await {
            Ok(Ok(v)) => {
                self.status.succeeded();
                Some(v)
            }
            Ok(Err(e)) => {
                self.status.failed(&format!("{:?}", e.kind()));
                None
            }
            Err(_) => {
                self.status.failed("no answer within the timeout");
                None
            }
        }
    }
}
