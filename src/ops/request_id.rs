//! The partner request's id (`X-Request-Id`) for the duration of its handling: a task-local the
//! upstream client reads to send as `x-ms-client-request-id`, so Dataverse logs correlate with ours
//! without handlers passing the id around.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: Option<String>;
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: Future>(id: Option<String>, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request's id; `None` outside a request (or in a task spawned off it, such as a
/// background token refresh).
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn visible_inside_the_scope_only() {
        assert_eq!(current(), None);
        let seen = scope(Some("r-1".into()), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("r-1"));
        assert_eq!(current(), None);
    }
}
