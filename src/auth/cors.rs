//! CORS for browser partners: an origin is allowed when some partner in the *live* registry lists
//! it. Preflights are answered here, before authentication; `authenticate` then checks that the
//! token's partner owns the origin.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, HeaderName, Method, Request, Response};
use futures::future::Either;
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

use crate::auth::AuthService;

/// CORS for the partner routes, answering only real preflights. `CorsLayer` answers every
/// `OPTIONS` as one (200 and CORS headers, no authentication), so a plain `OPTIONS` with no
/// `Origin` looked like a route that exists for a method it does not serve; it now goes on to the
/// routes like any other method they do not serve (405 with `Allow`).
pub fn cors_layer(auth: Arc<AuthService>) -> PreflightsLayer {
    PreflightsLayer {
        cors: cors_config(auth),
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method` (Fetch standard).
fn is_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

#[derive(Clone)]
pub struct PreflightsLayer {
    cors: CorsLayer,
}

impl<S> Layer<S> for PreflightsLayer {
    type Service = Preflights<S>;

    fn layer(&self, inner: S) -> Preflights<S> {
        Preflights {
            cors: self.cors.layer(inner),
        }
    }
}

/// [`PreflightsLayer`]'s service: `Cors` for every request but a non-preflight `OPTIONS`, which
/// goes straight to the service inside (`Cors::poll_ready` only polls that service, so it is ready
/// for either call).
#[derive(Clone)]
pub struct Preflights<S> {
    cors: Cors<S>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Preflights<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<<Cors<S> as Service<Request<ReqBody>>>::Future, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.cors.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if req.method() == Method::OPTIONS && !is_preflight(&req) {
            Either::Right(self.cors.get_mut().call(req))
        } else {
            Either::Left(self.cors.call(req))
        }
    }
}

fn cors_config(auth: Arc<AuthService>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _parts| {
            origin
                .to_str()
                .is_ok_and(|o| auth.registry().origin_allowed(o))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("tracestate"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("traceresponse"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            HeaderName::from_static("ratelimit-policy"),
            HeaderName::from_static("ratelimit"),
            header::CONTENT_LANGUAGE,
            HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(Duration::from_secs(600))
}
