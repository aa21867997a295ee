//! Accepts a caller's `X-Request-Id` only when it is short visible ASCII: the id is echoed, logged
//! and sent upstream, so an unbounded or control-character value must not travel. Anything else is
//! dropped here and `SetRequestIdLayer` generates a fresh one.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";
const MAX_LEN: usize = 128;

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

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        assert!(acceptable(b"01J9ZX-abc_123"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"has space"));
        assert!(!acceptable("ünicode".as_bytes()));
        assert!(!acceptable(&[b'a'; 129]));
        assert!(acceptable(&[b'a'; 128]));
    }
}
