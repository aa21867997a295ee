//! Check `cluster`: with `[cluster] redis_url`, Redis answers (else the replicas run on their
//! per-replica fallback); without it, no line, unless state is shared (Postgres) and limits are not.

use std::time::Duration;

use super::Check;
use crate::config::Config;

const NAME: &str = "cluster";

pub(super) async fn check(config: &Config, state_is_postgres: bool) -> Option<Check> {
    if let Some(warning) =
        crate::cluster::per_replica_limits_warning(state_is_postgres, &config.cluster)
    {
        return Some(Check::pass(NAME, "no [cluster] redis_url").advise(warning));
    }
    Some(match crate::cluster::ping(&config.cluster, Duration::from_secs(3)).await {
        // One replica: nothing to say.
        Ok(None) => return None,
        Ok(Some(at)) => Check::pass(
            NAME,
            format!("Redis at {at} answers: partner limits, the Dataverse cap, the 429 pause and cache invalidation are shared"),
        ),
        Err(why) => Check::fail(
            NAME,
            format!("Redis unreachable ({why}): each replica falls back to limit / replicas_hint"),
            "Start Redis or correct [cluster] redis_url (rediss:// for TLS); the gateway keeps serving meanwhile and switches back by itself.",
        ),
    })
}
