//! Per-request count of upstream calls (for the audit line): a task-local the upstream client bumps
//! and the audit middleware reads. Lives in `ops` so neither `upstream` nor `auth` knows the other.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static UPSTREAM_CALLS: Cell<u32>;
}

/// Counts one upstream (Dataverse/Entra) call for the current request. A no-op outside a request
/// (or in a task spawned off it).
pub fn record() {
    let _ = UPSTREAM_CALLS.try_with(|c| c.set(c.get().saturating_add(1)));
}

/// Runs `fut` with a fresh counter and returns its output with the number of calls it made.
pub async fn counted<F: Future>(fut: F) -> (F::Output, u32) {
    UPSTREAM_CALLS
        .scope(Cell::new(0), async {
            let out = fut.await;
            (out, UPSTREAM_CALLS.with(Cell::get))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counter_is_per_scope_and_inert_outside() {
        record();
        let ((), n) = counted(async {
            record();
            record();
        })
        .await;
        assert_eq!(n, 2);
    }
}
