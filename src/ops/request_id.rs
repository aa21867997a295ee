//! The partner request's id (`X-Request-Id`). A caller's id is accepted only when it is short
//! visible ASCII: the id is echoed, logged and sent upstream, so an unbounded or control-character
//! value must not travel (`sanitize` drops it and `SetRequestIdLayer` generates a fresh one). For
//! the duration of the request it is a task-local the upstream client reads to send as
//! `x-ms-client-request-id`, so Dataverse logs correlate with ours without handlers passing it on.

use std::future::Future;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";
const MAX_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: Option<String>;
}

pub fn acceptable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| b.is_ascii_graphic())
}

/// Middleware (`from_fn`), outside `SetRequestIdLayer`.
pub async fn sanitize(mut req: Request, next: Next) -> Response {
    if req
        .headers()
        .get(HEADER)
        .is_some_and(|v| !acceptable(v.as_bytes()))
    {
        req.headers_mut().remove(HEADER);
    }
    next.run(req).await
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

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        assert!(acceptable(b"01J9ZX-abc_123"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"has space"));
        assert!(!acceptable("ünicode".as_bytes()));
        assert!(!acceptable(&[b'a'; 129]));
        assert!(acceptable(&[b'a'; 128]));
    }

    #[tokio::test]
    async fn visible_inside_the_scope_only() {
        assert_eq!(current(), None);
        let seen = scope(Some("r-1".into()), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("r-1"));
        assert_eq!(current(), None);
    }
}
