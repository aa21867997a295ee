//! The upstream call as a tower stack, one concern per layer (outermost first):
//!
//! ```text
//! coalesce     identical reads in flight at once share one call (their retries too)
//! retry        idempotent calls only: 429 after the pause, 5xx/timeout/connect errors with
//!              exponential backoff and jitter, inside a retry budget and the caller's deadline
//! breaker      after consecutive outages every call fails fast; half-open probes close it
//! bearer       the Entra token, one re-send with a fresh token after a 401
//! request_id   x-ms-client-request-id / X-Request-Id from the partner request
//! trace        W3C traceparent (a new child span per attempt) / tracestate of the current trace
//! pacing       held while the budget Dataverse reported is down to the call's reserve; each
//!              answer's budget headers feed the estimate and the concurrency cap (dop hint)
//! throttle     a 429 pauses every call until its Retry-After (Dataverse throttles the user)
//! concurrency  one process-wide cap, round-robin across callers, bounded wait
//! metrics      per wire attempt: count, duration, status
//! timeout      per attempt, never past the deadline
//! http         reqwest: send, read the body, non-2xx → `UpstreamError`
//! ```
//!
//! The client builds an [`UpstreamRequest`] (method, URL, headers, body, idempotency, deadline,
//! caller) and sends it through [`Stack::service`].

mod bearer;
mod breaker;
mod coalesce;
mod concurrency;
mod http;
mod metrics;
mod pacing;
mod request_id;
mod retry;
mod shared;
mod throttle;
mod timeout;
mod trace_context;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;
use url::Url;

use super::error::UpstreamError;
use super::token::TokenProvider;

pub use breaker::{Breaker, BreakerState};
pub use coalesce::Flights;
pub use concurrency::FairLimiter;
pub use shared::{ClusterLimits, SlotGrant, SlotGuard};
pub use throttle::ThrottleGate;

/// One upstream call as the layers see it; cloned for a retry.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    pub url: Url,
    /// `entity_set` metric label (a code-chosen name, never partner text).
    pub label: Arc<str>,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// May be sent again without changing the outcome (reads; writes the caller vouches for).
    pub idempotent: bool,
    /// Nothing is sent, waited for or retried past this.
    pub deadline: Instant,
    /// Fairness key in the upstream queue (the partner); `None` for background work.
    pub caller: Option<Arc<str>>,
    /// Who waits first when the reported budget runs low.
    pub priority: super::pacing::Priority,
}

/// A successful (2xx) response, body fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub type UpstreamService = BoxCloneSyncService<UpstreamRequest, Reply, UpstreamError>;
type BoxFuture = futures::future::BoxFuture<'static, Result<Reply, UpstreamError>>;

/// Tuning of the resilience layers.
#[derive(Debug, Clone)]
pub struct ResilienceConfig {
    /// One wire attempt, body included.
    pub attempt_timeout: Duration,
    /// Upstream calls in flight for the whole process (Dataverse allows 52 per user).
    pub max_concurrency: usize,
    /// Longest wait for a slot under the cap before the call fails as overloaded.
    pub queue_timeout: Duration,
    /// Consecutive outages (5xx, timeouts, connect errors) that open the breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before a probe is let through.
    pub breaker_open: Duration,
    /// Retries allowed as a share of calls (0.2 = at most ~20 % extra upstream load).
    pub retry_budget: f32,
    /// Retries of one call at most.
    pub max_retries: u32,
    /// First backoff step (doubling, full jitter, capped at `backoff_cap`).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Length of Dataverse's service-protection window (the budget headers do not say it).
    pub budget_window: Duration,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(30),
            max_concurrency: 48,
            queue_timeout: Duration::from_secs(3),
            breaker_failures: 5,
            breaker_open: Duration::from_secs(5),
            retry_budget: 0.2,
            max_retries: 3,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(2),
            budget_window: Duration::from_secs(300),
        }
    }
}

/// The composed service and handles on its shared state (for readiness and tests).
#[derive(Clone)]
pub struct Stack {
    pub service: UpstreamService,
    pub breaker: Arc<Breaker>,
    pub gate: Arc<ThrottleGate>,
    pub limiter: Arc<FairLimiter>,
    pub flights: Arc<Flights>,
    pub budget: Arc<super::pacing::Budget>,
}

impl Stack {
    pub fn new(cfg: &ResilienceConfig, tokens: TokenProvider, http: reqwest::Client) -> Self {
        let breaker = Arc::new(Breaker::new(cfg.breaker_failures, cfg.breaker_open));
        let gate = Arc::new(ThrottleGate::default());
        let limiter = Arc::new(FairLimiter::new(cfg.max_concurrency, cfg.queue_timeout));
        let flights = Arc::new(Flights::default());
        let budget = Arc::new(super::pacing::Budget::new(cfg.budget_window));
        let service = ServiceBuilder::new()
            .layer(retry::RetryLayer::new(cfg))
            .layer(breaker::BreakerLayer(breaker.clone()))
            .layer(bearer::BearerLayer(tokens))
            .layer(request_id::RequestIdLayer)
            .layer(trace_context::TraceContextLayer)
            .layer(pacing::PacingLayer(budget.clone(), limiter.clone()))
            .layer(throttle::ThrottleLayer(gate.clone()))
            .layer(concurrency::ConcurrencyLayer(limiter.clone(), gate.clone()))
            .layer(metrics::MetricsLayer)
            .layer(timeout::TimeoutLayer(cfg.attempt_timeout))
            .service(http::HttpService::new(http));
        Self {
            service: BoxCloneSyncService::new(tower::Layer::layer(
                &coalesce::CoalesceLayer(flights.clone()),
                BoxCloneSyncService::new(service),
            )),
            breaker,
            gate,
            limiter,
            flights,
            budget,
        }
    }
}

/// A layer whose service wraps `S` in `Self::Service` given shared state `T`: the boilerplate of
/// `Layer` for the stack's services, which all hold `(state, inner)`.
macro_rules! layer_for {
    ($layer:ty => $service:ident) => {
        impl<S> tower::Layer<S> for $layer {
            type Service = $service<S>;
            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    state: self.0.clone(),
                    inner,
                }
            }
        }
    };
}
pub(crate) use layer_for;

/// `poll_ready` for the stack's services: each call waits for what it needs (a slot, the pause)
/// inside its future, where the request (caller, deadline) is known.
macro_rules! always_ready {
    () => {
        fn poll_ready(
            &mut self,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), UpstreamError>> {
            std::task::Poll::Ready(Ok(()))
        }
    };
}
pub(crate) use always_ready;

/// What every inner service of the stack is.
pub trait Inner:
    tower::Service<UpstreamRequest, Response = Reply, Error = UpstreamError, Future = BoxFuture>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> Inner for S where
    S: tower::Service<UpstreamRequest, Response = Reply, Error = UpstreamError, Future = BoxFuture>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// A GET of the stack's tests, by a partner, due in 5 s.
#[cfg(test)]
pub(super) fn test_request() -> UpstreamRequest {
    UpstreamRequest {
        method: Method::GET,
        url: Url::parse("http://dataverse.test/api/data/v9.2/things").expect("url"),
        label: "things".into(),
        headers: HeaderMap::new(),
        body: None,
        idempotent: true,
        deadline: Instant::now() + Duration::from_secs(5),
        caller: None,
        priority: super::pacing::Priority::Partner,
    }
}
