//! Waiting for what another task or process does: a check polled every 100 ms (a check is often an
//! HTTP request under a partner rate limit), for a bounded time.

use std::future::Future;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);

/// Polls `check` until it gives a value or `limit` passes: the value and how long it took.
pub async fn poll<T, F, Fut>(limit: Duration, mut check: F) -> Option<(T, Duration)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some((v, start.elapsed()));
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// [`poll`] that must succeed: fails the test, naming `what`, when `limit` passes first.
pub async fn within<T, F, Fut>(limit: Duration, what: &str, check: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll(limit, check).await {
        Some(found) => found,
        None => panic!("{what}: not within {limit:?}"),
    }
}

/// A yes/no check: how long until it held, if it did within `limit`.
pub async fn until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll(limit, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
    .map(|((), took)| took)
}

/// [`until`] that must hold: fails the test, naming `what`, when `limit` passes first.
pub async fn holds_within<F, Fut>(limit: Duration, what: &str, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    match until(limit, check).await {
        Some(took) => took,
        None => panic!("{what}: not within {limit:?}"),
    }
}
