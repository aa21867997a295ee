//! CORS for browser partners: an origin is allowed when some partner in the *live* registry lists
//! it. Preflights are answered here, before authentication; `authenticate` then checks that the
//! token's partner owns the origin.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderName, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::AuthService;

pub fn cors_layer(auth: Arc<AuthService>) -> CorsLayer {
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
