//! Limits the replicas of one gateway share through Redis (`[cluster] redis_url`): partner rate
//! limits (`quota.rs`), the cap on Dataverse calls in flight and the 429 pause (`slots.rs`), and
//! response-cache invalidation (`notices.rs`); the connection (`connection.rs`) and whether the
//! shared state or the per-replica fallback is in force (`status.rs`). Every concern fails open to
//! this replica's share (README, "Running several replicas"). Without `redis_url` nothing here runs
//! and every limit is the process's own, as with one replica.

mod connection;
mod notices;
mod quota;
mod slots;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use status::ClusterStatus;

use crate::auth::AuthService;
use crate::cache::ResponseCache;
use crate::config::ClusterConfig;
use crate::upstream::DataverseClient;

/// What the cluster plugs into.
pub struct Parts<'a> {
    pub auth: &'a AuthService,
    pub client: &'a DataverseClient,
    pub responses: &'a ResponseCache,
    /// `[dataverse] max_concurrency`: with a cluster, the cap for all replicas together.
    pub max_in_flight: usize,
    /// `[dataverse] timeout_ms` (a slot outlives any call) and `queue_timeout_ms` (longest wait).
    pub attempt_timeout: Duration,
    pub queue_timeout: Duration,
    pub shutdown: CancellationToken,
}

/// Installs the shared limits when `redis_url` is set; `None` otherwise. Never waits for Redis: a
/// replica starting while Redis is down serves with its fallback and switches when Redis answers.
pub fn start(cfg: &ClusterConfig, parts: Parts<'_>) -> Result<Option<Arc<ClusterStatus>>, String> {
    let url = cfg.redis_url.expose().trim();
    if url.is_empty() {
        return Ok(None);
    }
    let redis = Arc::new(connection::Redis::open(url, &cfg.key_prefix)?);
    let replica = uuid::Uuid::new_v4().simple().to_string();
    parts
        .auth
        .share_rate_limits(Arc::new(quota::ClusterQuota::new(
            redis.clone(),
            cfg.replicas_hint,
        )));
    let slots = Arc::new(slots::ClusterSlots::new(
        redis.clone(),
        slots::SlotSettings {
            cap: parts.max_in_flight,
            slot_ttl: parts.attempt_timeout + Duration::from_secs(5),
            max_wait: parts.queue_timeout,
            replicas_hint: cfg.replicas_hint,
            replica: replica.clone(),
        },
    ));
    parts
        .client
        .stack()
        .gate
        .cluster
        .install(Arc::new(slots::SharedSlots(slots.clone())));
    notices::announce_invalidations(redis.clone(), parts.responses, replica.clone());
    notices::spawn_subscriber(
        redis.clone(),
        parts.responses.clone(),
        slots.freed.clone(),
        replica,
        parts.shutdown,
    );
    metrics::gauge!("cluster_redis_up").set(1.0);
    tracing::info!(
        key_prefix = %cfg.key_prefix,
        replicas_hint = cfg.replicas_hint,
        "cluster: partner limits, the Dataverse cap, the 429 pause and cache invalidation shared through Redis"
    );
    Ok(Some(redis.status.clone()))
}

/// The startup warning and `doctor` advice when state is shared (Postgres) but limits are not.
pub fn per_replica_limits_warning(
    state_is_postgres: bool,
    cfg: &ClusterConfig,
) -> Option<&'static str> {
    (state_is_postgres && cfg.redis_url.expose().trim().is_empty()).then_some(
        "[state] url is Postgres (several replicas) but [cluster] redis_url is empty: partner rate limits, the Dataverse cap and the 429 pause are per replica (N replicas allow N times each); set [cluster] redis_url",
    )
}

/// `doctor`: Redis answers `PING` within `timeout` (`Ok(None)`: no cluster configured).
pub async fn ping(cfg: &ClusterConfig, timeout: Duration) -> Result<Option<String>, String> {
    let url = cfg.redis_url.expose().trim();
    if url.is_empty() {
        return Ok(None);
    }
    let client = redis::Client::open(url).map_err(|e| {
        format!(
            "[cluster] redis_url: not a redis:// or rediss:// URL ({:?})",
            e.kind()
        )
    })?;
    let where_ = {
        let info = client.get_connection_info();
        info.addr().to_string()
    };
    let answered = tokio::time::timeout(timeout, async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    })
    .await;
    match answered {
        Ok(Ok(_)) => Ok(Some(where_)),
        Ok(Err(e)) => Err(format!("{where_}: {:?}", e.kind())),
        Err(_) => Err(format!(
            "{where_}: no answer within {} ms",
            timeout.as_millis()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretString;

    #[test]
    fn postgres_state_without_redis_is_warned_about() {
        let mut cfg = ClusterConfig::default();
        assert!(per_replica_limits_warning(false, &cfg).is_none());
        assert!(per_replica_limits_warning(true, &cfg).is_some_and(|w| w.contains("redis_url")));
        cfg.redis_url = SecretString::new("redis://127.0.0.1:6379");
        assert!(per_replica_limits_warning(true, &cfg).is_none());
    }

    #[tokio::test]
    async fn tls_urls_are_accepted() {
        assert!(connection::Redis::open("rediss://:pw@redis.internal:6380/0", "p:").is_ok());
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let err = connection::Redis::open("http://user:hunter2@host", "p:")
            .err()
            .expect("refused");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn invalidations_cross_the_wire_unchanged() {
        use crate::cache::response::{Invalidation, Resource};
        let id = uuid::Uuid::new_v4();
        for inv in [
            Invalidation::One(Resource::Candidates, id),
            Invalidation::Lists(Resource::RecruitingRequests),
        ] {
            assert_eq!(Invalidation::from_wire(&inv.to_wire()), Some(inv));
        }
        for bad in [
            "",
            "one candidate",
            "lists nothing",
            "one candidate x",
            "lists candidate extra",
        ] {
            assert_eq!(Invalidation::from_wire(bad), None, "{bad}");
        }
    }
}
