//! Prometheus metrics: one process-wide recorder (tests start many apps in one process), an HTTP
//! middleware that counts partner requests by matched route (never by raw path: ids would explode
//! label cardinality, and partner input must not reach labels), and the `/metrics` handler.
//!
//! Every label value comes from a closed set: the method from the standard methods (anything else
//! is `_OTHER`, OpenTelemetry's rule), the route from the router's templates (else `unmatched`),
//! the status from the three-digit codes.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Histogram buckets (seconds): from a cached lookup to a slow upstream page. Histograms rather
/// than summaries, so percentiles aggregate across replicas.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the recorder once (at start, so start-up calls are counted); later calls reuse it.
/// `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// `# HELP` for every metric the gateway records.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "http_requests_total",
        "Partner-facing HTTP requests by route template, method and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Partner-facing HTTP request duration by route template and method."
    );
    describe_counter!(
        "upstream_requests_total",
        "Dataverse calls sent (each wire attempt) by entity set and status."
    );
    describe_histogram!(
        "upstream_request_duration_seconds",
        Unit::Seconds,
        "Duration of each Dataverse wire attempt by entity set and status."
    );
    describe_counter!(
        "upstream_coalesced_total",
        "Dataverse reads that joined an identical read already in flight instead of calling."
    );
    describe_counter!(
        "upstream_retries_total",
        "Dataverse calls re-sent by the retry layer, by entity set and reason."
    );
    describe_counter!(
        "upstream_retries_exhausted_total",
        "Retries refused because the retry budget was spent."
    );
    describe_counter!(
        "upstream_throttled_total",
        "429 answers from Dataverse (service protection)."
    );
    describe_histogram!(
        "upstream_throttle_pause_seconds",
        Unit::Seconds,
        "How far each 429 extended the pause of all upstream calls; the sum is the time paused."
    );
    describe_gauge!(
        "upstream_breaker_state",
        "Circuit breaker toward Dataverse: 0 closed, 1 open, 2 half-open."
    );
    describe_counter!(
        "upstream_breaker_transitions_total",
        "Circuit breaker state changes, by the state entered."
    );
    describe_gauge!(
        "upstream_in_flight",
        "Dataverse calls in flight under the process-wide cap."
    );
    describe_gauge!(
        "upstream_queue_depth",
        "Dataverse calls waiting for a slot under the cap."
    );
    describe_histogram!(
        "upstream_queue_wait_seconds",
        Unit::Seconds,
        "Time calls waited for a slot under the cap."
    );
    describe_counter!(
        "upstream_queue_rejections_total",
        "Calls refused after the bounded wait for a slot (503 to the partner)."
    );
    describe_counter!(
        "upstream_token_requests_total",
        "Entra token requests by outcome (ok, error)."
    );
    describe_histogram!(
        "upstream_token_request_duration_seconds",
        Unit::Seconds,
        "Entra token request duration."
    );
    describe_counter!(
        "webhook_deliveries_total",
        "Webhook delivery attempts by result (delivered, http_error, timeout, connect_error, blocked_address, error)."
    );
    describe_histogram!(
        "webhook_delivery_duration_seconds",
        Unit::Seconds,
        "Duration of each webhook delivery attempt by result."
    );
    describe_histogram!(
        "webhook_delivery_lag_seconds",
        Unit::Seconds,
        "From an event's detection to its acknowledged delivery (retries included)."
    );
    describe_gauge!(
        "webhook_outbox_pending",
        "Webhook deliveries waiting (due or scheduled for retry) for active subscriptions."
    );
    describe_counter!(
        "webhook_subscriptions_failing_total",
        "Subscriptions marked failing after a delivery spent its retry schedule."
    );
}

/// `/metrics` on the ops listener: readiness is evaluated first (cached), so `gateway_ready` is
/// current in every scrape.
pub async fn scrape(axum::extract::State(st): axum::extract::State<crate::app::App>) -> Response {
    super::health::check(&st).await;
    render().await
}

pub async fn render() -> Response {
    let body = handle().map(|h| h.render()).unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}

pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_str().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// The method as a label: the standard methods by name, anything else `_OTHER` (a caller can send
/// any token as a method, and each distinct value would be a new series).
pub fn method_label(m: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    KNOWN
        .iter()
        .find(|k| *k == m)
        .map_or("_OTHER", Method::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"X00001METHOD").expect("token");
        assert_eq!(method_label(&odd), "_OTHER");
        let lower = Method::from_bytes(b"get").expect("token");
        assert_eq!(method_label(&lower), "_OTHER");
    }
}
