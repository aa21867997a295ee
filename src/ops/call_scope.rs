//! What the upstream layers need to know about the partner request they serve, without knowing
//! partners: an opaque fairness key (so one caller's burst cannot starve the others in the upstream
//! queue) and the request's deadline (so retries and waits never outlive it). A task-local set by
//! the partner-route deadline layer; background work (readiness, refresh) runs without one.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct CallScope {
    /// Who the upstream calls are made for (the partner id); `None` shares one background queue.
    pub caller: Option<Arc<str>>,
    /// When the partner stops waiting.
    pub deadline: Option<Instant>,
}

tokio::task_local! {
    static SCOPE: CallScope;
}

/// Runs `fut` with `scope` as the current call scope.
pub async fn scope<F: Future>(scope: CallScope, fut: F) -> F::Output {
    SCOPE.scope(scope, fut).await
}

/// The current scope; the default (no caller, no deadline) outside a partner request.
pub fn current() -> CallScope {
    SCOPE.try_with(Clone::clone).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn visible_inside_the_scope_only() {
        assert!(current().caller.is_none());
        let seen = scope(
            CallScope {
                caller: Some("acme".into()),
                deadline: None,
            },
            async { current().caller },
        )
        .await;
        assert_eq!(seen.as_deref(), Some("acme"));
        assert!(current().caller.is_none());
    }
}
