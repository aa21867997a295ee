//! The client against a scripted mock Dataverse: headers, paging, errors, and the resilience stack.

use super::*;
use crate::upstream::error::ThrottledBy;
use crate::upstream::odata::Filter;
use crate::upstream::secret::Secret;
use crate::upstream::stack::BreakerState;
use crate::upstream::testutil::spawn_server;
use crate::upstream::token::{ClientCredential, TokenConfig};
use crate::upstream::wire::parse_retry_after;
use axum::body::Bytes as AxBytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap as AxHeaderMap, StatusCode as AxStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use reqwest::header::RETRY_AFTER;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const SET: &str = "mshr_hcmjobpostingentities";

/// A scripted answer: status, headers, body, delay before answering.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

struct Seen {
    method: String,
    uri: String,
    headers: AxHeaderMap,
    body: String,
}

#[derive(Default)]
struct Mock {
    token_hits: AtomicUsize,
    data_hits: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    script: Mutex<VecDeque<Answer>>,
    seen: Mutex<Vec<Seen>>,
}

async fn token(State(m): State<Arc<Mock>>) -> Json<Value> {
    let n = m.token_hits.fetch_add(1, Ordering::SeqCst) + 1;
    Json(
        serde_json::json!({"token_type":"Bearer","expires_in":3599,"access_token":format!("tok-{n}")}),
    )
}

async fn dataverse(State(m): State<Arc<Mock>>, req: Request) -> Response {
    m.data_hits.fetch_add(1, Ordering::SeqCst);
    let now = m.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    m.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_else(|_| AxBytes::new());
    m.seen.lock().expect("lock").push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let next = m.script.lock().expect("lock").pop_front();
    let a = next.unwrap_or_else(|| answer(200, serde_json::json!({"value": []})));
    if !a.delay.is_zero() {
        tokio::time::sleep(a.delay).await;
    }
    m.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut resp = (AxStatus::from_u16(a.status).unwrap_or(AxStatus::OK), a.body).into_response();
    for (k, v) in a.headers {
        resp.headers_mut()
            .insert(k, v.parse().expect("header value"));
    }
    resp
}

async fn start(
    script: Vec<Answer>,
    tweak: impl FnOnce(&mut DataverseConfig),
) -> (DataverseClient, Arc<Mock>, SocketAddr) {
    let mock = Arc::new(Mock::default());
    mock.script.lock().expect("lock").extend(script);
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .fallback(dataverse)
        .with_state(Arc::clone(&mock));
    let addr = spawn_server(app).await;
    let org = format!("http://{addr}");
    let tokens = TokenProvider::new(TokenConfig::for_dataverse(
        &org,
        "tenant-1",
        "client-1",
        &org,
        ClientCredential::Secret(Secret::new("s3cret")),
    ))
    .expect("tokens");
    let mut cfg = DataverseConfig::new(&org);
    tweak(&mut cfg);
    (
        DataverseClient::new(cfg, tokens).expect("client"),
        mock,
        addr,
    )
}

fn seen_header(m: &Mock, i: usize, name: &str) -> String {
    let seen = m.seen.lock().expect("lock");
    seen[i]
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<missing>")
        .to_string()
}

fn dv_error(code: &str, message: &str) -> Value {
    serde_json::json!({"error": {"code": code, "message": message}})
}

#[tokio::test]
async fn the_current_request_id_reaches_every_upstream_call() {
    let ok = || answer(200, serde_json::json!({"value": []}));
    let (client, mock, _) = start(vec![ok(), ok(), ok(), ok()], |_| {}).await;
    let q = Query::new(SET).select(&["mshr_title"]);
    crate::ops::request_id::scope(Some("partner-req-7".into()), async {
        client.get_page(&q, 5).await.expect("page");
        client.get_page(&q, 5).await.expect("page");
    })
    .await;
    // Not header-safe (too long, or not visible ASCII): a fresh id instead, never the text.
    for bad in ["x".repeat(129), "a b".to_string()] {
        crate::ops::request_id::scope(Some(bad), client.get_page(&q, 5))
            .await
            .expect("page");
    }
    assert_eq!(
        seen_header(&mock, 0, "x-ms-client-request-id"),
        "partner-req-7"
    );
    assert_eq!(
        seen_header(&mock, 1, "x-ms-client-request-id"),
        "partner-req-7"
    );
    assert_eq!(seen_header(&mock, 1, "x-request-id"), "partner-req-7");
    for i in [2, 3] {
        let id = seen_header(&mock, i, "x-ms-client-request-id");
        assert!(Uuid::parse_str(&id).is_ok(), "{id}");
    }
}

#[tokio::test]
async fn get_page_sends_documented_headers_and_follows_next_link_verbatim() {
    let (client, mock, addr) = start(vec![], |_| {}).await;
    let next = format!(
        "http://{addr}/api/data/v9.2/{SET}?$select=mshr_title&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"
    );
    mock.script.lock().expect("lock").extend([
        answer(
            200,
            serde_json::json!({"@odata.context":"x","@odata.count":3,
                "value":[{"mshr_title":"A"},{"mshr_title":"B"}],"@odata.nextLink": next}),
        ),
        answer(200, serde_json::json!({"value":[{"mshr_title":"C"}]})),
    ]);
    let q = Query::new(SET)
        .select(&["mshr_title"])
        .filter(Filter::eq("mshr_title", "R&D #1"))
        .count(true);
    // Inside a partner request, its id travels upstream (the request-id layer).
    let page = crate::ops::request_id::scope(Some("req-123".into()), client.get_page(&q, 2))
        .await
        .expect("page");
    assert_eq!(page.rows.len(), 2);
    assert_eq!(page.count, Some(3));
    assert_eq!(page.next_link.as_deref(), Some(next.as_str()));
    {
        let seen = mock.seen.lock().expect("lock");
        assert_eq!(seen[0].method, "GET");
        assert_eq!(
            seen[0].uri,
            format!("/api/data/v9.2/{}", q.to_relative_url())
        );
    }
    assert_eq!(seen_header(&mock, 0, "authorization"), "Bearer tok-1");
    assert_eq!(seen_header(&mock, 0, "accept"), "application/json");
    assert_eq!(seen_header(&mock, 0, "odata-maxversion"), "4.0");
    assert_eq!(seen_header(&mock, 0, "odata-version"), "4.0");
    assert_eq!(seen_header(&mock, 0, "if-none-match"), "null");
    assert_eq!(
        seen_header(&mock, 0, "prefer"),
        "odata.maxpagesize=2,odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\""
    );
    assert_eq!(seen_header(&mock, 0, "x-ms-client-request-id"), "req-123");
    assert_eq!(seen_header(&mock, 0, "x-request-id"), "req-123");

    let page2 = client.get_next(&next, 2).await.expect("page 2");
    assert_eq!(page2.rows.len(), 1);
    assert_eq!(page2.next_link, None);
    let seen = mock.seen.lock().expect("lock");
    assert_eq!(
        seen[1].uri,
        next.strip_prefix(&format!("http://{addr}"))
            .expect("same origin")
    );
}

#[tokio::test]
async fn get_next_refuses_foreign_links() {
    let (client, mock, addr) = start(vec![], |_| {}).await;
    for link in [
        "http://evil.example/api/data/v9.2/x?$skiptoken=1".to_string(),
        format!("https://{addr}/api/data/v9.2/x"),
        format!("http://{addr}/other/path"),
        "not a url".to_string(),
    ] {
        let err = client.get_next(&link, 10).await.expect_err("refused");
        assert!(
            matches!(err, UpstreamError::InvalidRequest(_)),
            "{link}: {err:?}"
        );
    }
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn unauthorized_invalidates_token_and_retries_once() {
    let (client, mock, _) = start(
        vec![
            answer(401, Value::Null),
            answer(200, serde_json::json!({"value":[]})),
        ],
        |_| {},
    )
    .await;
    client.get_page(&Query::new(SET), 10).await.expect("page");
    assert_eq!(mock.token_hits.load(Ordering::SeqCst), 2);
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 2);
    assert_eq!(seen_header(&mock, 1, "authorization"), "Bearer tok-2");

    // Twice in a row: exactly one retry, then Unauthorized.
    mock.script
        .lock()
        .expect("lock")
        .extend([answer(401, Value::Null), answer(401, Value::Null)]);
    let err = client
        .get_page(&Query::new(SET), 10)
        .await
        .expect_err("401");
    assert_eq!(err, UpstreamError::Unauthorized);
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 4);
}

fn throttled(retry_after: &str) -> Answer {
    let mut a = answer(429, dv_error("0x80072322", "Number of requests exceeded"));
    a.headers.push(("retry-after", retry_after.to_string()));
    a
}

#[tokio::test]
async fn a_429_pauses_every_call_then_reads_retry() {
    let (client, mock, _) = start(vec![throttled("1")], |_| {}).await;
    let t0 = Instant::now();
    client
        .get_page(&Query::new(SET), 10)
        .await
        .expect("retried after the pause");
    assert!(t0.elapsed() >= Duration::from_millis(900));
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 2);

    // A pause longer than the call may wait: returned at once, and later calls are held back
    // without reaching the wire until it ends.
    mock.script.lock().expect("lock").push_back(throttled("60"));
    let err = client
        .get_page(&Query::new(SET), 10)
        .await
        .expect_err("429");
    assert_eq!(
        err,
        UpstreamError::Throttled {
            retry_after: Some(Duration::from_secs(60)),
            by: ThrottledBy::Dataverse,
        }
    );
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 3);
    let t1 = Instant::now();
    let err = client
        .get_page(&Query::new(SET), 10)
        .await
        .expect_err("paused");
    assert!(
        matches!(err, UpstreamError::Throttled { retry_after: Some(d), by: ThrottledBy::Gateway } if d > Duration::from_secs(55))
    );
    assert!(t1.elapsed() < Duration::from_millis(500), "fails fast");
    assert_eq!(
        mock.data_hits.load(Ordering::SeqCst),
        3,
        "nothing sent while paused"
    );
}

#[tokio::test]
async fn reads_retry_server_errors_with_backoff_writes_never() {
    let (client, mock, _) = start(
        vec![
            answer(503, Value::Null),
            answer(500, dv_error("0x80040216", "x")),
        ],
        |_| {},
    )
    .await;
    client
        .get_page(&Query::new(SET), 10)
        .await
        .expect("third attempt answers");
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 3);

    mock.script
        .lock()
        .expect("lock")
        .push_back(answer(503, Value::Null));
    let body = serde_json::json!({"mshr_title": "Nurse"});
    let err = client.create(SET, &body).await.expect_err("503");
    assert_eq!(err, UpstreamError::Unavailable { status: 503 });
    assert_eq!(
        mock.data_hits.load(Ordering::SeqCst),
        4,
        "a write is sent once"
    );

    // The write plan's hook: writes it made safe to repeat are retried like reads.
    let id = Uuid::parse_str("7eb682f1-ca75-e511-80d4-00155d2a68d1").expect("uuid");
    mock.script
        .lock()
        .expect("lock")
        .push_back(answer(503, Value::Null));
    client
        .idempotent_writes()
        .update(SET, id, &body)
        .await
        .expect("retried");
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn retries_stay_inside_the_deadline() {
    let (client, mock, _) = start((0..10).map(|_| answer(503, Value::Null)).collect(), |c| {
        c.resilience.backoff_base = Duration::from_millis(400);
        c.resilience.backoff_cap = Duration::from_secs(5);
        c.resilience.max_retries = 10;
        c.resilience.breaker_failures = 100;
    })
    .await;
    let scope = crate::ops::call_scope::CallScope {
        caller: None,
        deadline: Some(Instant::now() + Duration::from_millis(300)),
    };
    let t0 = Instant::now();
    let err = crate::ops::call_scope::scope(scope, client.get_page(&Query::new(SET), 10))
        .await
        .expect_err("503");
    assert!(err.is_outage(), "{err:?}");
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert!(mock.data_hits.load(Ordering::SeqCst) < 10);
}

#[tokio::test]
async fn repeated_outages_open_the_circuit_and_a_probe_closes_it() {
    let (client, mock, _) = start((0..4).map(|_| answer(503, Value::Null)).collect(), |c| {
        c.resilience.max_retries = 0;
        c.resilience.breaker_failures = 4;
        c.resilience.breaker_open = Duration::from_millis(200);
    })
    .await;
    let q = Query::new(SET);
    for _ in 0..4 {
        assert!(client.get_page(&q, 10).await.is_err());
    }
    assert_eq!(client.stack().breaker.state(), BreakerState::Open);
    let err = client.get_page(&q, 10).await.expect_err("open");
    assert!(matches!(err, UpstreamError::CircuitOpen { .. }), "{err:?}");
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 4, "fails fast");
    // Fast failures until the open period ends; then the probe reaches the (healthy) mock.
    let t0 = Instant::now();
    let mut fast = 0;
    loop {
        match client.get_page(&q, 10).await {
            Ok(_) => break,
            Err(UpstreamError::CircuitOpen { .. }) if t0.elapsed() < Duration::from_secs(2) => {
                fast += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "open for its period"
    );
    assert!(fast > 0);
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 5, "one probe");
    assert_eq!(client.stack().breaker.state(), BreakerState::Closed);
}

#[tokio::test]
async fn dataverse_errors_become_typed_variants() {
    let (client, _mock, _) = start(
        vec![
            answer(
                403,
                dv_error(
                    "0x80040220",
                    "Principal user is missing prvReadmshr privilege",
                ),
            ),
            answer(400, dv_error("0x0", "Could not find a property named 'x'")),
            answer(503, Value::Null),
            answer(500, dv_error("0x80040216", "An unexpected error occurred.")),
            answer(412, dv_error("0x80060882", "version mismatch")),
            Answer {
                status: 200,
                headers: vec![],
                body: "<html>".to_string(),
                delay: Duration::ZERO,
            },
            answer(
                404,
                dv_error("0x80040217", "mshr_x With Id = 1 Does Not Exist"),
            ),
        ],
        |c| c.resilience.max_retries = 0,
    )
    .await;
    let q = Query::new(SET);
    assert_eq!(
        client.get_page(&q, 10).await.expect_err("403"),
        UpstreamError::Forbidden {
            code: "0x80040220".to_string(),
            message: "Principal user is missing prvReadmshr privilege".to_string()
        }
    );
    assert!(matches!(
        client.get_page(&q, 10).await.expect_err("400"),
        UpstreamError::BadRequest { code, .. } if code == "0x0"
    ));
    assert_eq!(
        client.get_page(&q, 10).await.expect_err("503"),
        UpstreamError::Unavailable { status: 503 }
    );
    assert_eq!(
        client.get_page(&q, 10).await.expect_err("500"),
        UpstreamError::ServerError {
            status: 500,
            code: "0x80040216".to_string()
        }
    );
    assert!(matches!(
        client.get_page(&q, 10).await.expect_err("412"),
        UpstreamError::Rejected { status: 412, .. }
    ));
    assert!(matches!(
        client.get_page(&q, 10).await.expect_err("html"),
        UpstreamError::BadResponse(_)
    ));
    assert_eq!(
        client
            .get_by_id(&q, Uuid::nil())
            .await
            .expect("404 is None"),
        None
    );
}

#[tokio::test]
async fn create_parses_entity_id_and_update_uses_if_match() {
    let id = Uuid::parse_str("7eb682f1-ca75-e511-80d4-00155d2a68d1").expect("uuid");
    let (client, mock, addr) = start(vec![], |_| {}).await;
    let mut created = answer(204, Value::Null);
    created.body = String::new();
    created.headers.push((
        "odata-entityid",
        format!("http://{addr}/api/data/v9.2/{SET}({id})"),
    ));
    mock.script
        .lock()
        .expect("lock")
        .extend([created, answer(204, Value::Null)]);
    let body = serde_json::json!({"mshr_title": "Nurse"});
    assert_eq!(client.create(SET, &body).await.expect("create"), id);
    client.update(SET, id, &body).await.expect("update");
    let seen = mock.seen.lock().expect("lock");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].uri, format!("/api/data/v9.2/{SET}"));
    assert_eq!(seen[0].body, body.to_string());
    assert!(seen[0].headers["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("application/json"));
    assert_eq!(seen[1].method, "PATCH");
    assert_eq!(seen[1].uri, format!("/api/data/v9.2/{SET}({id})"));
    assert_eq!(seen[1].headers["if-match"], "*");
}

#[tokio::test]
async fn slow_upstream_times_out() {
    let mut slow = answer(200, serde_json::json!({"value": []}));
    slow.delay = Duration::from_secs(2);
    let (client, _mock, _) = start(vec![slow], |c| {
        c.resilience.attempt_timeout = Duration::from_millis(200);
        c.resilience.max_retries = 0;
    })
    .await;
    let err = client
        .get_page(&Query::new(SET), 10)
        .await
        .expect_err("timeout");
    assert_eq!(err, UpstreamError::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_caps_requests_in_flight() {
    let script = (0..12)
        .map(|_| {
            let mut a = answer(200, serde_json::json!({"value": []}));
            a.delay = Duration::from_millis(50);
            a
        })
        .collect();
    let (client, mock, _) = start(script, |c| c.resilience.max_concurrency = 3).await;
    // Distinct page sizes: identical reads in flight would share one call.
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.get_page(&Query::new(SET), 10 + i).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("page");
    }
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 12);
    assert!(mock.max_in_flight.load(Ordering::SeqCst) <= 3);
}

#[tokio::test]
async fn invalid_queries_and_paths_never_reach_the_wire() {
    let (client, mock, _) = start(vec![], |_| {}).await;
    let q = Query::new(SET).filter(Filter::eq("mshr_amount", f64::INFINITY));
    assert!(matches!(
        client.get_page(&q, 10).await.expect_err("invalid"),
        UpstreamError::InvalidRequest(_)
    ));
    for p in ["/etc/passwd", "http://x/y", "../secret"] {
        assert!(matches!(
            client.get_json(p).await.expect_err("bad path"),
            UpstreamError::InvalidRequest(_)
        ));
    }
    assert_eq!(mock.data_hits.load(Ordering::SeqCst), 0);
    let v = client
        .get_json("EntityDefinitions(LogicalName='mshr_x')")
        .await
        .expect("json");
    assert_eq!(v, serde_json::json!({"value": []}));
}

#[test]
fn helpers_parse_wire_values() {
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, HeaderValue::from_static("1.5"));
    assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(1500)));
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(parse_retry_after(&h), None);
    let url = Url::parse("https://o.example/api/data/v9.2/mshr_xs(1)?$skiptoken=a").expect("url");
    assert_eq!(entity_set_label(&url), "mshr_xs");
    assert_eq!(
        prefer_header(Some(9000), false).as_deref(),
        Some("odata.maxpagesize=5000")
    );
    assert_eq!(prefer_header(None, false), None);
}
