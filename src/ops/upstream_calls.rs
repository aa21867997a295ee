//! Per-request count of upstream calls (for the audit line): a task-local the upstream client bumps
//! and the audit middleware reads. Lives in `ops` so neither `upstream` nor `auth` knows the other.
//! The counter is shared (not a `Cell` inside the scope) so the audit line can still read it when
//! the request is dropped half-way (client gone).

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

tokio::task_local! {
    static UPSTREAM_CALLS: Arc<AtomicU32>;
}

/// Counts one upstream (Dataverse/Entra) call for the current request. A no-op outside a request
/// (or in a task spawned off it).
pub fn record() {
    let _ = UPSTREAM_CALLS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
}

/// `fut`, to be spawned off the current request, with its upstream calls counted on that
/// request's counter (a spawned task does not inherit task-locals).
pub fn carried<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let current = UPSTREAM_CALLS.try_with(Arc::clone).ok();
    async move {
        match current {
            Some(c) => UPSTREAM_CALLS.scope(c, fut).await,
            None => fut.await,
        }
    }
}

/// One request's counter.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU32>);

impl Counter {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Runs `fut` with this counter as the current request's.
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        UPSTREAM_CALLS.scope(self.0.clone(), fut).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counter_is_per_scope_and_inert_outside() {
        record();
        let counter = Counter::default();
        counter
            .scope(async {
                record();
                record();
            })
            .await;
        assert_eq!(counter.get(), 2);
        assert_eq!(Counter::default().get(), 0);
    }
}
