//! Each replica's link to the shared partner state: reads the partner generation every
//! `[operator] poll_ms` and reloads the partners when it moved (so a revoke or a PATCH on any
//! replica is in force here within a second, cached tokens included: the registry swap moves the
//! local generation the verified-token cache checks), and adds the usage counted in memory to the
//! store every `usage_flush_ms`. Stops on the shutdown token after one more flush; the last flush
//! is the gateway's, once the listeners have drained and this task has ended (`app::start`), so
//! requests served while draining are counted too.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::OperatorContext;

/// Adds what this replica counted since the last flush; on a store error the counts are kept.
pub async fn flush(ctx: &OperatorContext) {
    let d = ctx.auth.usage.drain();
    if d.is_empty() {
        return;
    }
    let result = async {
        ctx.store.add_usage(&d.rows, &d.last_seen).await?;
        ctx.store.record_secret_use(&d.secret_uses).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "usage not flushed; kept for the next try");
        ctx.auth.usage.restore(d);
    }
}

pub fn spawn(ctx: OperatorContext, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(Duration::from_millis(ctx.config.poll_ms.max(50)));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush_tick =
            tokio::time::interval(Duration::from_millis(ctx.config.usage_flush_ms.max(100)));
        flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    flush(&ctx).await;
                    return;
                }
                _ = flush_tick.tick() => flush(&ctx).await,
                _ = poll.tick() => {
                    // A change made on this replica was applied already (`refresh` records it).
                    match ctx.store.generation().await {
                        Ok(g) if Some(g) != ctx.loaded_generation() => match ctx.refresh().await {
                            Ok((g, _)) => tracing::info!(generation = g, "stored partners reloaded"),
                            Err(e) => tracing::warn!(error = %e, "stored partners not reloaded; retrying"),
                        },
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "partner generation unreadable; retrying"),
                    }
                }
            }
        }
    })
}
