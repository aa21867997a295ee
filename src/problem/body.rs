//! Request bodies read in full. `server.rs` puts one deadline on every request body
//! (`[gateway] body_read_timeout_ms`); a body that missed it reaches the route as a read error,
//! told apart here from the others so it is the client's 408 `request-timeout`, not a 400.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Whether the body could not be read because it did not arrive within its deadline.
pub fn timed_out(e: &BytesRejection) -> bool {
    // axum wraps the body's error once or twice: look down the whole chain.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

/// The whole body as `Bytes` (the extractor the routes with a body take): a body past its
/// deadline is 408 `request-timeout`; any other failure is axum's rejection as before (413 over
/// the size limit, else 400), made a problem by the context layer.
pub struct FullBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for FullBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(e) if timed_out(&e) => Err(ApiError::RequestTimeout.into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use std::time::Duration;
    use tower_http::timeout::DeadlineBody;

    /// A body that never sends anything.
    struct Stalled;

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_body_past_its_deadline_is_a_408_and_closes_the_connection() {
        let body = DeadlineBody::new(Duration::from_millis(10), Stalled);
        let req = Request::new(axum::body::Body::new(body));
        let Err(resp) = FullBody::from_request(req, &()).await else {
            panic!("a stalled body cannot be read");
        };
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(resp.headers()["connection"], "close");
        let problem = resp
            .extensions()
            .get::<super::super::Problem>()
            .expect("a problem");
        assert_eq!(problem.problem_type.slug, "request-timeout");
    }

    /// A body cut short (the client hung up).
    struct Broken;

    impl http_body::Body for Broken {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(Some(Err(std::io::ErrorKind::UnexpectedEof.into())))
        }
    }

    #[tokio::test]
    async fn other_body_failures_keep_their_status() {
        let body = DeadlineBody::new(Duration::from_secs(60), Broken);
        let req = Request::new(axum::body::Body::new(body));
        let Err(resp) = FullBody::from_request(req, &()).await else {
            panic!("a broken body cannot be read");
        };
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get("connection").is_none());
    }
}
