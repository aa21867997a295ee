//! Prometheus metrics: one process-wide recorder (tests start many apps in one process), an HTTP
//! middleware that times partner-port requests by matched route (never by raw path: ids would
//! explode label cardinality, and partner input must not reach labels), and the `/metrics` handler
//! on the ops listener. Partner-side names follow the OpenTelemetry HTTP semantic conventions
//! (`http.server.request.duration` → `http_server_request_duration_seconds`).
//!
//! Every label value comes from a closed set: the method from the standard methods (anything else
//! is `_OTHER`, OpenTelemetry's rule), the route from the router's templates (else `unmatched`),
//! the status from the three-digit codes, the partner from the configured partner ids (else
//! `anonymous`), cache names from the code.

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

/// Buckets (seconds) of the changes scan duration.
const SCAN_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Installs the recorder once (at start, so start-up calls are counted); later calls reuse it.
/// `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                // A scan of a large environment takes minutes, not milliseconds.
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "changes_scan_duration_seconds".into(),
                    ),
                    SCAN_BUCKETS,
                )
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            zero();
            Some(handle)
        })
        .as_ref()
}

/// Label-less counters of rare events exist from the start (at 0), so `rate()` and alerts see a
/// series before the first event.
fn zero() {
    for name in [
        "upstream_throttled_total",
        "upstream_retries_exhausted_total",
        "upstream_queue_rejections_total",
        "http_connections_refused_total",
        "log_lines_dropped_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
}

/// `# HELP` for every metric the gateway records.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "cluster_fallback_total",
        "Decisions taken without Redis while it was unreachable, by concern (rate_limit, upstream_slots, throttle_pause, cache_invalidation): each used this replica's share instead of the cluster's state."
    );
    describe_counter!(
        "cluster_slot_frees_deferred_total",
        "Upstream slots this replica could not free in Redis while it was away: freed by its next acquire once Redis answers (else they expire)."
    );
    describe_gauge!(
        "cluster_redis_up",
        "1 while the limits replicas share through Redis are in force, 0 while this replica runs on its fallback (only with [cluster] redis_url)."
    );
    describe_counter!(
        "log_lines_dropped_total",
        "Log lines dropped because the log sink fell behind (the writer never blocks requests)."
    );
    describe_histogram!(
        "http_server_request_duration_seconds",
        Unit::Seconds,
        "Partner-port HTTP requests: duration by route template (http_route), method (http_request_method), status (http_response_status_code) and partner (configured id, else anonymous). Its _count is the request count."
    );
    describe_counter!(
        "http_connections_refused_total",
        "Partner-port connections refused at the connection cap (503)."
    );
    describe_gauge!(
        "http_connections_open",
        "Open connections on the gateway's listeners."
    );
    describe_counter!(
        "rate_limit_rejections_total",
        "Partner requests refused by the partner's rate limit (429), by partner."
    );
    describe_counter!(
        "cache_requests_total",
        "Cache lookups by cache and result (hit, miss; for the response cache also stale: served while one refresh runs)."
    );
    describe_gauge!(
        "gateway_ready",
        "1 when /readyz answers ready (valid token, recent good upstream probe, not draining), else 0."
    );
    describe_gauge!(
        "gateway_warmup_done",
        "1 once the warm-up after start (option sets, the first page's lookups, reference lists; background, one call at a time) has finished, 0 while it runs."
    );
    describe_gauge!(
        "gateway_warmup_upstream_calls",
        "Dataverse calls the warm-up after start made (set when it finishes)."
    );
    describe_counter!(
        "upstream_paced_total",
        "Upstream calls held because the budget Dataverse reported was down to the call's reserve, by priority (partner, background); each hold counts once per check."
    );
    describe_gauge!(
        "upstream_budget_remaining",
        "Dataverse requests left in the service-protection window, as estimated from the newest answer's x-ms-ratelimit-burst-remaining-xrm-requests and the calls sent since."
    );
    describe_gauge!(
        "upstream_concurrency_cap",
        "The upstream concurrency cap in force: [dataverse] max_concurrency, or Dataverse's x-ms-dop-hint when lower."
    );
    describe_gauge!(
        "token_expires_in_seconds",
        Unit::Seconds,
        "Seconds until the cached Dataverse access token stops being used (0: none cached)."
    );
    describe_gauge!(
        "dataverse_credential_expires_in_seconds",
        Unit::Seconds,
        "Seconds until the Dataverse client credential expires, by kind (client_secret from dataverse.client_secret_expires_at, certificate from the PEM's notAfter); negative when expired."
    );
    describe_histogram!(
        "hire_write_duration_seconds",
        Unit::Seconds,
        "Duration of a completed hire's upstream write plan."
    );
    describe_counter!(
        "state_store_queries_total",
        "Statements sent to the shared state store (Postgres), by store operation (op)."
    );
    describe_counter!(
        "hire_undone_total",
        "Failed hires whose written rows were undone, by whether the undo completed (complete)."
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
    describe_histogram!(
        "changes_scan_duration_seconds",
        Unit::Seconds,
        "Duration of each changes scan, by outcome (complete, partial)."
    );
    describe_counter!(
        "changes_scans_total",
        "Changes scans by outcome (complete; partial: a read failed, no deletions emitted)."
    );
    describe_gauge!(
        "changes_scan_upstream_calls",
        "Dataverse calls the last changes scan made."
    );
    describe_counter!(
        "changes_scan_upstream_calls_total",
        "Dataverse calls made by changes scans."
    );
    describe_gauge!(
        "changes_scan_budget_share",
        "Share of the Dataverse budget (6,000 requests per 5 minutes) changes scans used in the window ending with the last scan; at most [changes] max_budget_share."
    );
    describe_gauge!(
        "changes_scan_yield_seconds",
        Unit::Seconds,
        "Time the last changes scan waited for partner calls queued at the upstream concurrency cap."
    );
    describe_counter!(
        "changes_events_total",
        "Change events recorded, by event type."
    );
    describe_gauge!(
        "changes_scan_leader",
        "1 while this replica holds the scan lease (it scans for the cluster), else 0."
    );
    describe_counter!(
        "changes_scan_takeovers_total",
        "Times this replica took the scan lease (a new fencing token)."
    );
    describe_gauge!(
        "changes_scan_paused",
        "1 while the scanner waits for the state store to answer, else 0."
    );
    describe_gauge!(
        "changes_scan_store_queries",
        "Statements the last changes scan sent to the shared state store (Postgres)."
    );
}

/// `/metrics` on the ops listener. Gauges that are states rather than events are set now:
/// readiness (its probe is cached), the token's and the credential's remaining lifetime.
pub async fn scrape(
    axum::extract::State(st): axum::extract::State<super::listener::OpsState>,
) -> Response {
    super::health::check(&st.health).await;
    let token_left = st
        .health
        .client()
        .tokens()
        .expires_in()
        .await
        .unwrap_or_default();
    metrics::gauge!("token_expires_in_seconds").set(token_left.as_secs_f64());
    if let Some((kind, at)) = super::credential::expiry(&st.dataverse.get()) {
        let left = (at - chrono::Utc::now()).num_seconds();
        metrics::gauge!("dataverse_credential_expires_in_seconds", "kind" => kind).set(left as f64);
    }
    render().await
}

/// Counts one cache lookup (`cache_requests_total{cache, result}`).
pub fn cache_lookup(cache: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("cache_requests_total", "cache" => cache, "result" => result).increment(1);
}

/// [`cache_lookup`] for a batch of lookups (one counter update per result, not per lookup).
pub fn cache_lookups(cache: &'static str, hits: u64, misses: u64) {
    if hits > 0 {
        metrics::counter!("cache_requests_total", "cache" => cache, "result" => "hit")
            .increment(hits);
    }
    if misses > 0 {
        metrics::counter!("cache_requests_total", "cache" => cache, "result" => "miss")
            .increment(misses);
    }
}

/// The value of a moka entry, counted as a hit unless this call computed it (`is_fresh`).
pub fn cached<K, V>(cache: &'static str, entry: moka::Entry<K, V>) -> V {
    cache_lookup(cache, !entry.is_fresh());
    entry.into_value()
}

static DROPPED_LOG_LINES: OnceLock<tracing_appender::non_blocking::ErrorCounter> = OnceLock::new();

/// The log writer's count of dropped lines, reported at each scrape.
pub fn watch_dropped_log_lines(counter: tracing_appender::non_blocking::ErrorCounter) {
    let _ = DROPPED_LOG_LINES.set(counter);
}

pub async fn render() -> Response {
    if let Some(c) = DROPPED_LOG_LINES.get() {
        metrics::counter!("log_lines_dropped_total").absolute(c.dropped_lines() as u64);
    }
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

/// The route a request matched, as its template (never the raw path: no ids), or `unmatched`
/// (the fallbacks). The metric label and the request's log span both use it; routing must have
/// run (a per-route layer).
pub fn route_label<B>(req: &axum::http::Request<B>) -> &str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
}

/// Middleware on the partner router: `http_server_request_duration_seconds`.
pub async fn track(req: Request, next: Next) -> Response {
    let route = route_label(&req).to_string();
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_str().to_string();
    // Set by authentication from a verified token, so always a configured partner id.
    let partner = resp
        .extensions()
        .get::<crate::auth::principal::AuthenticatedPartner>()
        .map_or(metrics::SharedString::const_str("anonymous"), |p| {
            // The shared id from authentication: no copy per request.
            metrics::SharedString::from(p.0.clone())
        });
    metrics::histogram!(
        "http_server_request_duration_seconds",
        "http_route" => route,
        "http_request_method" => method,
        "http_response_status_code" => status,
        "partner" => partner
    )
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
