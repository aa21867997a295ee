//! Notices between replicas over Redis pub/sub: response-cache invalidations (a hire, a change
//! event: whatever invalidates locally is published, and every other replica applies it) and freed
//! cluster slots (wakes waiters). One subscriber task per process on its own connection, which it
//! opens again after a loss; after a gap it drops every cached list, since notices sent meanwhile
//! are gone (entries by id age out within `[cache] response_ttl_ms`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::connection::{Redis, OP_TIMEOUT};
use super::status::Concern;
use crate::cache::response::{Invalidation, Resource};
use crate::cache::ResponseCache;

/// Longest pause between attempts to subscribe again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Publishes every local invalidation as `<replica> <invalidation>` (in the background: the
/// request that invalidated does not wait for Redis).
pub(super) fn announce_invalidations(
    redis: Arc<Redis>,
    responses: &ResponseCache,
    replica: String,
) {
    let channel = redis.key("invalidate");
    responses.on_invalidate(Arc::new(move |inv: Invalidation| {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (redis, channel) = (redis.clone(), channel.clone());
        let message = format!("{replica} {}", inv.to_wire());
        rt.spawn(async move {
            let sent = redis
                .run(|mut conn| async move {
                    redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(message)
                        .query_async::<i64>(&mut conn)
                        .await
                })
                .await;
            if sent.is_none() {
                redis.status.fallback(Concern::Invalidation);
            }
        });
    }));
}

/// Runs until `shutdown`: applies other replicas' invalidations and wakes slot waiters.
pub(super) fn spawn_subscriber(
    redis: Arc<Redis>,
    responses: ResponseCache,
    freed: Arc<Notify>,
    replica: String,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let (inv_channel, freed_channel) = (redis.key("invalidate"), redis.key("slots-freed"));
        let mut backoff = Duration::from_millis(100);
        let mut connected_before = false;
        loop {
            let subscribed = tokio::time::timeout(OP_TIMEOUT * 4, async {
                let mut pubsub = redis.client.get_async_pubsub().await?;
                pubsub.subscribe(&inv_channel).await?;
                pubsub.subscribe(&freed_channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            })
            .await;
            let pubsub = match subscribed {
                Ok(Ok(p)) => p,
                Ok(Err(_)) | Err(_) => {
                    redis.status.failed("cannot subscribe to notices");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            if connected_before {
                // Notices published while unsubscribed are lost.
                responses.apply(Invalidation::Lists(Resource::Candidates));
                responses.apply(Invalidation::Lists(Resource::RecruitingRequests));
            }
            connected_before = true;
            let mut messages = pubsub.into_on_message();
            loop {
                let msg = tokio::select! {
                    () = shutdown.cancelled() => return,
                    m = messages.next() => m,
                };
                let Some(msg) = msg else { break };
                if msg.get_channel_name() == freed_channel {
                    freed.notify_waiters();
                    continue;
                }
                let Ok(text) = std::str::from_utf8(msg.get_payload_bytes()) else {
                    continue;
                };
                let Some((from, wire)) = text.split_once(' ') else {
                    continue;
                };
                if from == replica {
                    continue;
                }
                if let Some(inv) = Invalidation::from_wire(wire) {
                    responses.apply(inv);
                }
            }
            redis.status.failed("notice subscription lost");
        }
    });
}
