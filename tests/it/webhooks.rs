//! Webhooks: subscriptions over real HTTP, and deliveries to receivers the test runs on
//! 127.0.0.1:0, each signature checked here with the test's own HMAC code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::common::{spawn_app_with, TestApp};

/// A delivery as a receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("delivery body is JSON")
    }
}

/// A receiver on 127.0.0.1:0: answers `fail_first` requests with `fail_status`, then 204; every
/// request (failed or not) is sent to `rx`.
pub struct Receiver {
    pub url: String,
    pub rx: mpsc::UnboundedReceiver<Received>,
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn receiver(fail_first: usize, fail_status: u16) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    receiver_on(listener, fail_first, fail_status)
}

fn receiver_on(listener: tokio::net::TcpListener, fail_first: usize, fail_status: u16) -> Receiver {
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let _ = tx.send(Received { headers, body });
                if n < fail_first {
                    StatusCode::from_u16(fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        rx,
        hits,
        task,
    }
}

impl Receiver {
    /// The next request, within `secs` seconds.
    pub async fn next(&mut self, secs: u64) -> Received {
        tokio::time::timeout(Duration::from_secs(secs), self.rx.recv())
            .await
            .expect("a delivery in time")
            .expect("receiver open")
    }
}

/// Verifies a Standard Webhooks signature with the subscription's `whsec_` secret (own code, not
/// the gateway's), and that the timestamp is current.
pub fn verify(secret: &str, got: &Received) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let h = |n: &str| {
        got.headers
            .get(n)
            .unwrap_or_else(|| panic!("{n} header"))
            .to_str()
            .expect("ascii")
            .to_string()
    };
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let ts_n: i64 = ts.parse().expect("unix seconds");
    assert!(
        (chrono::Utc::now().timestamp() - ts_n).abs() < 300,
        "timestamp is current"
    );
    let mut mac = <Hmac<Sha256>>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&got.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert!(
        sig.split(' ').any(|s| s == expected),
        "signature {sig} != {expected}"
    );
    assert_eq!(
        got.json()["id"].as_str(),
        Some(id.as_str()),
        "webhook-id is the event id"
    );
    // Each attempt is a trace of its own (W3C `traceparent`, sampled).
    let tp = h("traceparent");
    let p: Vec<&str> = tp.split('-').collect();
    assert!(
        p.len() == 4
            && p[0] == "00"
            && p[1].len() == 32
            && p[2].len() == 16
            && p[3] == "01"
            && tp
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && p[1] != "0".repeat(32),
        "traceparent {tp}"
    );
}

pub async fn post_json(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}{path}", app.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn subscribe(app: &TestApp, token: &str, url: &str, events: &[&str]) -> (String, String) {
    let (s, v) = post_json(
        app,
        "/v1/webhooks",
        token,
        json!({"url": url, "events": events}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    (
        v["id"].as_str().expect("id").to_string(),
        v["secret"].as_str().expect("secret").to_string(),
    )
}

/// A gateway whose sandbox switch allows receivers on 127.0.0.1, with `schedule` as retry waits.
pub async fn sandbox_app(schedule: &[u64]) -> TestApp {
    let schedule = schedule.to_vec();
    spawn_app_with(Default::default(), move |c| {
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = schedule;
    })
    .await
}

#[tokio::test]
async fn subscriptions_belong_to_their_partner_and_bad_bodies_name_the_field() {
    let app = sandbox_app(&[1000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let watch = app.partner_token("nordic-watch", None).await;

    let (s, v) = post_json(
        &app,
        "/v1/webhooks",
        &acme,
        json!({"url": "http://127.0.0.1:9/hook", "events": ["recruiting_request.status_changed", "recruiting_request.status_changed"]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let secret = v["secret"].as_str().expect("secret");
    let raw = STANDARD.decode(&secret[6..]).expect("base64");
    assert!(
        secret.starts_with("whsec_") && (24..=64).contains(&raw.len()),
        "{secret}"
    );
    assert_eq!(v["events"], json!(["recruiting_request.status_changed"]));
    assert_eq!(v["status"], "active");

    // Shown once: never in GET, list or anywhere else.
    let (s, one) = app
        .get_json(&format!("/v1/webhooks/{id}"), &acme, None)
        .await;
    assert_eq!(s, 200, "{one}");
    assert!(one.get("secret").is_none(), "{one}");
    let (s, list) = app.get_json("/v1/webhooks", &acme, None).await;
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    assert!(!list.to_string().contains(&secret[6..]));

    // Another partner sees none of it.
    let (_, theirs) = app.get_json("/v1/webhooks", &watch, None).await;
    assert_eq!(theirs["data"], json!([]));
    for path in [
        format!("/v1/webhooks/{id}"),
        format!("/v1/webhooks/{id}/deliveries"),
    ] {
        let (s, _) = app.get_json(&path, &watch, None).await;
        assert_eq!(s, 404, "{path}");
    }
    let resp = app
        .http
        .delete(format!("{}/v1/webhooks/{id}", app.url))
        .bearer_auth(&watch)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 404);

    // Bodies: every problem with its pointer.
    let (s, v) = post_json(
        &app,
        "/v1/webhooks",
        &acme,
        json!({"url": "ftp://x", "events": ["recruiting_request.moved", 7], "secret": "mine"}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let pointers: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert_eq!(
        pointers,
        ["/secret", "/url", "/events/0", "/events/1"],
        "{v}"
    );
    let (s, v) = post_json(
        &app,
        "/v1/webhooks",
        &acme,
        json!({"url": "http://127.0.0.1:9/"}),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(v["errors"][0]["pointer"], "/events", "{v}");

    // The scope.
    let hr = app.partner_token("nordic-hr", None).await;
    let (s, _) = app.get_json("/v1/webhooks", &hr, None).await;
    assert_eq!(s, 403);

    // Deleted: gone.
    let resp = app
        .http
        .delete(format!("{}/v1/webhooks/{id}", app.url))
        .bearer_auth(&acme)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    let (s, _) = app
        .get_json(&format!("/v1/webhooks/{id}"), &acme, None)
        .await;
    assert_eq!(s, 404);
}

/// A body sent as it is, with `content_type` if any: (status, the answer's media type, body).
pub async fn post_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String, Value) {
    let mut req = app
        .http
        .post(format!("{}{path}", app.url))
        .bearer_auth(token)
        .body(body.to_string());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("post");
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_member_repeated_in_a_subscription_body_is_422_at_its_pointer() {
    let app = sandbox_app(&[1000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let json_ct = Some("application/json");
    // Two `url`s: refused at the pointer (it used to subscribe the second).
    let (s, _, v) = post_raw(
        &app,
        "/v1/webhooks",
        &acme,
        json_ct,
        r#"{"url":"http://127.0.0.1:9/a","events":["recruiting_request.created"],"url":"http://127.0.0.1:9/b"}"#,
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["errors"][0]["pointer"], "/url", "{v}");
    // Nested past serde_json's recursion limit: still the 400 of a body that is not JSON.
    let deep = format!("{}{}", r#"{"url":"#, "[".repeat(100_000));
    let (s, _, v) = post_raw(&app, "/v1/webhooks", &acme, json_ct, &deep).await;
    assert_eq!(s, 400, "{v}");
    let (_, list) = app.get_json("/v1/webhooks", &acme, None).await;
    assert_eq!(list["data"], json!([]), "{list}");
}

#[tokio::test]
async fn a_subscription_body_not_sent_as_json_is_415() {
    let app = sandbox_app(&[1000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    // Each used to subscribe.
    let good = r#"{"url":"http://127.0.0.1:9/a","events":["recruiting_request.created"]}"#;
    for ct in [
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/json; charset=iso-8859-1"),
        None,
    ] {
        let (s, problem_ct, v) = post_raw(&app, "/v1/webhooks", &acme, ct, good).await;
        assert_eq!(s, 415, "{ct:?}: {v}");
        assert_eq!(problem_ct, "application/problem+json");
        assert!(
            v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("/problems/unsupported-media-type")),
            "{v}"
        );
        assert_eq!(v["status"], 415);
    }
    let (_, list) = app.get_json("/v1/webhooks", &acme, None).await;
    assert_eq!(list["data"], json!([]), "{list}");

    // JSON with parameters, or a `+json` type, is JSON.
    for ct in [
        "application/json; charset=UTF-8",
        "application/vnd.acme+json",
    ] {
        let (s, _, v) = post_raw(&app, "/v1/webhooks", &acme, Some(ct), good).await;
        assert_eq!(s, 201, "{ct}: {v}");
    }
}

#[tokio::test]
async fn what_a_subscription_stores_is_what_was_checked() {
    let app = sandbox_app(&[1000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let max = ats_gateway::webhooks::url_policy::MAX_URL_LEN;
    // 1,026 characters as sent, 3,026 stored (`{` is `%7B`): refused, not accepted to be blocked
    // at every delivery.
    for url in [
        format!("https://hooks.example.com/{}", "{".repeat(1000)),
        format!("http://127.0.0.1:9/{}", "{".repeat(1000)),
    ] {
        let (s, v) = post_json(
            &app,
            "/v1/webhooks",
            &acme,
            json!({"url": url, "events": ["recruiting_request.created"]}),
        )
        .await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["errors"][0]["pointer"], "/url", "{v}");
        assert!(
            v["errors"][0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&max.to_string())),
            "{v}"
        );
    }
    // Encoded within the limit: accepted, and read back as stored, within the limit.
    let host = "http://127.0.0.1:9/";
    let url = format!("{host}{}", "{".repeat((max - host.len()) / 3));
    let (s, v) = post_json(
        &app,
        "/v1/webhooks",
        &acme,
        json!({"url": url, "events": ["recruiting_request.created"]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().expect("id");
    let (_, got) = app
        .get_json(&format!("/v1/webhooks/{id}"), &acme, None)
        .await;
    let stored = got["url"].as_str().expect("url");
    assert!(
        stored.contains("%7B") && stored.len() <= max,
        "{}",
        stored.len()
    );

    // An `events` list past the cap: one problem for the list.
    let events = vec![json!("nope"); ats_gateway::webhooks::subscriptions::MAX_EVENTS + 1];
    let (s, v) = post_json(
        &app,
        "/v1/webhooks",
        &acme,
        json!({"url": "http://127.0.0.1:9/x", "events": events}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"], json!([v["errors"][0]]), "{v}");
    assert_eq!(v["errors"][0]["pointer"], "/events", "{v}");
}

#[tokio::test]
async fn private_and_plain_http_urls_are_refused_outside_the_sandbox() {
    let app = spawn_app_with(Default::default(), |_| {}).await;
    let acme = app.partner_token("acme-ats", None).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fe80::1]/hook",
        "https://user:pw@127.0.0.1/hook",
        // IPv6 forms carrying a loopback or private IPv4 address.
        "https://[::ffff:0:7f00:1]/",
        "https://[64:ff9b:1::7f00:1]/",
        "https://[64:ff9b::a00:1]/",
        "https://[2002:7f00:1::1]/",
        "https://[2001:0:7f00:1::1]/",
        "https://[2001:0:808:808::80ff:fefe]/",
    ] {
        let (s, v) = post_json(
            &app,
            "/v1/webhooks",
            &acme,
            json!({"url": url, "events": ["recruiting_request.created"]}),
        )
        .await;
        assert_eq!(s, 422, "{url}: {v}");
        assert_eq!(v["errors"][0]["pointer"], "/url", "{url}: {v}");
    }
    let (_, list) = app.get_json("/v1/webhooks", &acme, None).await;
    assert_eq!(list["data"], json!([]));

    // A name that does not resolve and one that resolves to loopback get the same answer (no DNS
    // oracle into the gateway's network).
    let mut details = Vec::new();
    for host in ["localhost", "no-such-host.invalid"] {
        let (s, v) = post_json(
            &app,
            "/v1/webhooks",
            &acme,
            json!({"url": format!("https://{host}/hook"), "events": ["recruiting_request.created"]}),
        )
        .await;
        assert_eq!(s, 422, "{host}: {v}");
        let detail = v["errors"][0]["detail"]
            .as_str()
            .expect("detail")
            .to_string();
        details.push(detail.replace(host, "HOST"));
    }
    assert_eq!(details[0], details[1]);
}

/// A partner naming hosts whose DNS never answers: each lookup made when subscribing gives up
/// after `LOOKUP_TIMEOUT` (a 422, not a request hanging to its deadline while a blocking thread
/// waits on the resolver), and a partner's lookups in flight are capped, so its stuck ones leave
/// other partners' subscriptions alone.
#[tokio::test]
async fn a_subscription_host_whose_dns_never_answers_is_refused_in_time_and_stays_the_partners_problem(
) {
    use ats_gateway::webhooks::url_policy::{LOOKUPS_PER_PARTNER, LOOKUP_TIMEOUT};
    let app = spawn_app_with(Default::default(), |_| {}).await;
    let (acme, watch) = (
        app.partner_token("acme-ats", None).await,
        app.partner_token("nordic-watch", None).await,
    );
    // `stuck.example` never answers (the lookup stays in flight); any other name is public.
    let (asked_tx, mut asked) = mpsc::unbounded_channel::<String>();
    app.gateway
        .state
        .webhooks
        .lookups
        .set_resolver(Arc::new(move |host: String, port: u16| {
            let _ = asked_tx.send(host.clone());
            Box::pin(async move {
                if host == "stuck.example" {
                    std::future::pending::<()>().await;
                }
                Ok(vec![std::net::SocketAddr::from(([8, 8, 8, 8], port))])
            })
        }));
    let create = |token: String, host: &'static str| {
        let app_url = app.url.clone();
        let http = app.http.clone();
        async move {
            let resp = http
                .post(format!("{app_url}/v1/webhooks"))
                .bearer_auth(token)
                .json(&json!({"url": format!("https://{host}/hook"), "events": ["recruiting_request.created"]}))
                .send()
                .await
                .expect("post");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let limit = LOOKUP_TIMEOUT + Duration::from_secs(10);
    let started = std::time::Instant::now();
    let stuck: Vec<_> = (0..LOOKUPS_PER_PARTNER)
        .map(|_| tokio::spawn(create(acme.clone(), "stuck.example")))
        .collect();
    for _ in 0..LOOKUPS_PER_PARTNER {
        let host = tokio::time::timeout(limit, asked.recv())
            .await
            .expect("every stuck lookup started")
            .expect("resolver");
        assert_eq!(host, "stuck.example");
    }
    // acme's lookups are all in flight: its next one waits for a free one, in vain; another
    // partner's goes through at once.
    let acme_more = tokio::spawn(create(acme.clone(), "hooks.example"));
    let (s, v) = tokio::time::timeout(limit, create(watch.clone(), "hooks.example"))
        .await
        .expect("another partner is not held up");
    assert_eq!(s, 201, "{v}");
    for answer in stuck.into_iter().chain([acme_more]) {
        let (s, v) = tokio::time::timeout(limit, answer)
            .await
            .expect("answered within the lookup timeout, not the request deadline")
            .expect("task");
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["errors"][0]["pointer"], "/url", "{v}");
        let detail = v["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("must resolve within"), "{detail}");
    }
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
    // Only the one that was let through asked the resolver: the fifth never got a lookup.
    assert_eq!(asked.try_recv().ok().as_deref(), Some("hooks.example"));
    assert!(asked.try_recv().is_err());
    let (_, list) = app.get_json("/v1/webhooks", &acme, None).await;
    assert_eq!(list["data"], json!([]));
}

/// Records one event through the feed's own API (as a scan would), for delivery mechanics that do
/// not need a scan; returns its id.
pub async fn record_event(app: &TestApp, company: &str, to: &str) -> String {
    use ats_gateway::changes::event::{Action, EventType, NewEvent, ResourceType};
    let id = uuid::Uuid::new_v4();
    let scan = ats_gateway::store::changes::ScanRecord {
        events: vec![NewEvent {
            event_type: EventType::new(ResourceType::RecruitingRequest, Action::StatusChanged),
            resource_id: id,
            company: company.into(),
            data: json!({"id": id, "company": company, "status": {"key": to}}),
            changed_fields: Some(vec!["/status".into()]),
            from: Some("draft".into()),
            to: Some(to.into()),
        }],
        ..Default::default()
    };
    let events = app
        .gateway
        .state
        .changes
        .record(scan)
        .await
        .expect("recorded");
    events[0].id.clone()
}

/// `GET /v1/webhooks/{id}/deliveries` (one event's, when given), newest first.
pub async fn attempts(app: &TestApp, token: &str, sub: &str, event: Option<&str>) -> Vec<Value> {
    let q = event.map(|e| format!("?event_id={e}")).unwrap_or_default();
    let (s, v) = app
        .get_json(&format!("/v1/webhooks/{sub}/deliveries{q}"), token, None)
        .await;
    assert_eq!(s, 200, "{v}");
    v["data"].as_array().cloned().unwrap_or_default()
}

/// Polls (bounded) until `sub` has `n` attempts logged for `event`.
pub async fn wait_attempts(
    app: &TestApp,
    token: &str,
    sub: &str,
    event: &str,
    n: usize,
) -> Vec<Value> {
    for _ in 0..200 {
        let a = attempts(app, token, sub, Some(event)).await;
        if a.len() >= n {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} attempts for {event} not logged in time");
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt() {
    let app = sandbox_app(&[50, 50, 50, 50, 50]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(3, 500).await;
    let (sub, secret) =
        subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    let event = record_event(&app, "usmf", "active").await;
    for n in 0..4 {
        let got = rx.next(20).await;
        verify(&secret, &got);
        assert_eq!(got.json()["id"], event, "attempt {n}");
        assert_eq!(got.json()["to"], "active");
    }
    let log = wait_attempts(&app, &acme, &sub, &event, 4).await;
    // Newest first: 4 delivered, then 3, 2, 1 failed with the receiver's 500.
    let numbers: Vec<i64> = log.iter().filter_map(|a| a["attempt"].as_i64()).collect();
    assert_eq!(numbers, [4, 3, 2, 1], "{log:?}");
    assert_eq!(log[0]["status"], "delivered");
    assert_eq!(log[0]["response_code"], 204);
    for a in &log[1..] {
        assert_eq!(a["status"], "failed", "{a}");
        assert_eq!(a["response_code"], 500, "{a}");
        assert!(
            a["error"].as_str().is_some_and(|e| e.contains("500")),
            "{a}"
        );
    }
    let (_, s) = app
        .get_json(&format!("/v1/webhooks/{sub}"), &acme, None)
        .await;
    assert_eq!(s["status"], "active");
    assert_eq!(
        rx.hits.load(Ordering::SeqCst),
        4,
        "nothing after the acknowledgement"
    );

    let metrics = app.scrape().await;
    for needle in [
        "webhook_deliveries_total{result=\"delivered\"}",
        "webhook_deliveries_total{result=\"http_error\"}",
        "webhook_delivery_duration_seconds_bucket",
        "webhook_delivery_lag_seconds_count",
        "# HELP webhook_outbox_pending",
    ] {
        assert!(metrics.contains(needle), "{needle} in /metrics");
    }
    assert!(!metrics.contains(&secret[6..]), "no secret in metrics");
}

#[tokio::test]
async fn a_receiver_that_never_answers_delays_no_one_else() {
    let app = spawn_app_with(Default::default(), |c| {
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![60_000];
        c.webhooks.timeout_ms = 3_000;
    })
    .await;
    let acme = app.partner_token("acme-ats", None).await;
    let watch = app.partner_token("nordic-watch", None).await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}/hook", silent.local_addr().expect("addr"));
    let hang = tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(std::future::pending::<StatusCode>),
        );
        let _ = axum::serve(silent, app).await;
    });
    let types = ["recruiting_request.status_changed"];
    let (slow_sub, _) = subscribe(&app, &acme, &silent_url, &types).await;
    let mut fast = receiver(0, 500).await;
    let (_, secret) = subscribe(&app, &watch, &fast.url, &types).await;
    let slow_event = record_event(&app, "usmf", "active").await;
    let started = std::time::Instant::now();
    let fast_event = record_event(&app, "nomf", "active").await;
    let got = fast.next(20).await;
    verify(&secret, &got);
    assert_eq!(got.json()["id"], fast_event);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "delivered in {:?}, not after the silent receiver's 3 s timeout",
        started.elapsed()
    );
    let log = wait_attempts(&app, &acme, &slow_sub, &slow_event, 1).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["response_code"], Value::Null);
    assert!(
        log[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no answer within 3 s")),
        "{log:?}"
    );
    hang.abort();
}

#[tokio::test]
async fn a_spent_schedule_marks_the_subscription_failing_until_re_enabled() {
    let app = sandbox_app(&[30, 30]).await;
    let acme = app.partner_token("acme-ats", None).await;
    // Fails 3 times (the first attempt and both retries), then would succeed.
    let mut rx = receiver(3, 503).await;
    let (sub, secret) =
        subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    let event = record_event(&app, "gbsi", "active").await;
    for _ in 0..3 {
        verify(&secret, &rx.next(20).await);
    }
    wait_attempts(&app, &acme, &sub, &event, 3).await;
    let mut status = Value::Null;
    for _ in 0..100 {
        let (_, s) = app
            .get_json(&format!("/v1/webhooks/{sub}"), &acme, None)
            .await;
        status = s;
        if status["status"] == "failing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], "failing", "{status}");
    assert!(status["failing_since"].is_string(), "{status}");
    // While failing, events keep being queued but nothing is sent.
    let later = record_event(&app, "usmf", "closed").await;
    let (s, v) = post_json(
        &app,
        &format!("/v1/webhooks/{sub}/deliveries/{event}/redeliver"),
        &acme,
        json!({}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.rx.recv())
            .await
            .is_err(),
        "a failing subscription is not attempted"
    );

    // Re-enabled: both undelivered events arrive, oldest first.
    let (s, v) = post_json(
        &app,
        &format!("/v1/webhooks/{sub}/enable"),
        &acme,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "active");
    let first = rx.next(20).await;
    verify(&secret, &first);
    assert_eq!(first.json()["id"], event);
    let second = rx.next(20).await;
    verify(&secret, &second);
    assert_eq!(second.json()["id"], later);

    // Redeliver: the same event, same id and body, signed anew.
    let (s, v) = post_json(
        &app,
        &format!("/v1/webhooks/{sub}/deliveries/{event}/redeliver"),
        &acme,
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let again = rx.next(20).await;
    verify(&secret, &again);
    assert_eq!(again.body, first.body);
    let log = wait_attempts(&app, &acme, &sub, &event, 5).await;
    assert_eq!(log[0]["attempt"], 5, "{log:?}");
    assert_eq!(log[0]["status"], "delivered");
    let (s, _) = post_json(
        &app,
        &format!("/v1/webhooks/{sub}/deliveries/evt_0000000000999999/redeliver"),
        &acme,
        json!({}),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_restarted_gateway_delivers_what_was_still_pending() {
    // The first attempt fails, the retry is due 1.5 s later: the gateway is stopped before it.
    let mut app = sandbox_app(&[1500]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(1, 503).await;
    let (sub, secret) =
        subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    let event = record_event(&app, "usmf", "active").await;
    verify(&secret, &rx.next(20).await);
    wait_attempts(&app, &acme, &sub, &event, 1).await;

    app.restart(|_| {}).await;
    let acme = app.partner_token("acme-ats", None).await;
    let got = rx.next(20).await;
    verify(&secret, &got);
    assert_eq!(got.json()["id"], event);
    let log = wait_attempts(&app, &acme, &sub, &event, 2).await;
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    assert_eq!(log[1]["status"], "failed", "{log:?}");
    assert_eq!(rx.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_partner_limited_to_one_company_never_receives_another_companys_events() {
    let app = sandbox_app(&[50]).await;
    let acme = app.partner_token("acme-ats", None).await; // usmf, gbsi
    let watch = app.partner_token("nordic-watch", None).await; // nomf
    let mut to_acme = receiver(0, 500).await;
    let mut to_watch = receiver(0, 500).await;
    let types = ["recruiting_request.status_changed"];
    let (_, acme_secret) = subscribe(&app, &acme, &to_acme.url, &types).await;
    let (_, watch_secret) = subscribe(&app, &watch, &to_watch.url, &types).await;

    let us = record_event(&app, "usmf", "active").await;
    let no = record_event(&app, "nomf", "active").await;
    let gb = record_event(&app, "gbsi", "active").await;
    let a1 = to_acme.next(20).await;
    let a2 = to_acme.next(20).await;
    verify(&acme_secret, &a1);
    verify(&acme_secret, &a2);
    assert_eq!(
        [a1.json()["id"].clone(), a2.json()["id"].clone()],
        [json!(us), json!(gb)]
    );
    let w = to_watch.next(20).await;
    verify(&watch_secret, &w);
    assert_eq!(w.json()["id"], no, "the Norwegian partner gets only nomf");
    // Each subscription's deliveries go oldest first, so anything else would have come before gbsi's
    // or nomf's event; and nothing is still queued for them.
    assert!(to_watch.rx.try_recv().is_err());
    assert!(to_acme.rx.try_recv().is_err());
}

#[tokio::test]
async fn events_before_the_subscription_and_of_other_types_are_not_sent() {
    let app = sandbox_app(&[50]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let old = record_event(&app, "usmf", "active").await;
    let mut rx = receiver(0, 500).await;
    let (sub, secret) =
        subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    let mut other = receiver(0, 500).await;
    subscribe(&app, &acme, &other.url, &["candidate.created"]).await;
    let new = record_event(&app, "usmf", "closed").await;
    let got = rx.next(20).await;
    verify(&secret, &got);
    assert_eq!(got.json()["id"], new);
    assert_ne!(old, new);
    let log = wait_attempts(&app, &acme, &sub, &new, 1).await;
    assert_eq!(log.len(), 1);
    assert!(attempts(&app, &acme, &sub, Some(&old)).await.is_empty());
    assert!(other.rx.try_recv().is_err());
}

/// The issue's end to end: HR activates, edits and closes a request through the emulator's Web API
/// (HR's own app registration); the scanner turns that into events, and the receiver gets them in
/// order, each signed; the Norwegian-only partner gets only its Norwegian request.
#[tokio::test]
async fn hr_activating_editing_and_closing_a_request_reaches_the_receiver_in_order() {
    use crate::changes::{a_request, baseline, codes, hr_token, patch, scan};
    const RR: &str = "mshr_hcmrecruitingrequestentities";
    let app = spawn_app_with(Default::default(), |c| {
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![100];
        // Scans only when the test asks, so each is one step.
        c.changes.scan_interval_ms = Some(3_600_000);
    })
    .await;
    let acme = app.partner_token("acme-ats", None).await;
    let watch = app.partner_token("nordic-watch", None).await;
    let types = [
        "recruiting_request.status_changed",
        "recruiting_request.updated",
    ];
    let mut to_acme = receiver(0, 500).await;
    let mut to_watch = receiver(0, 500).await;
    let (acme_sub, acme_secret) = subscribe(&app, &acme, &to_acme.url, &types).await;
    let (_, watch_secret) = subscribe(&app, &watch, &to_watch.url, &types).await;
    baseline(&app).await;
    let status = codes(&app, &acme, "recruiting-request-status").await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    let active = status["active"];
    let id = a_request(&app.emu, &integration, "usmf", active).await;

    let mut got = Vec::new();
    for body in [
        json!({"mshr_status": active}),
        json!({"mshr_description": "Senior welder (edited by HR)"}),
        json!({"mshr_status": status["closed"]}),
    ] {
        let (s, v) = patch(&app.emu, RR, &id, &hr, body).await;
        assert_eq!(s, 204, "HR's PATCH: {v}");
        let r = scan(&app).await;
        assert!(r.complete(), "{r:?}");
        let started = std::time::Instant::now();
        let delivery = to_acme.next(20).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "delivered {:?} after the scan",
            started.elapsed()
        );
        verify(&acme_secret, &delivery);
        got.push(delivery.json());
    }
    let kinds: Vec<&str> = got
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "recruiting_request.status_changed",
            "recruiting_request.updated",
            "recruiting_request.status_changed"
        ]
    );
    assert!(got.iter().all(|e| e["resource"]["id"] == id.as_str()));
    assert_eq!(got[0]["to"], "active");
    assert_eq!(got[0]["data"]["status"]["key"], "active");
    assert_eq!(got[1]["changed_fields"], json!(["/description"]));
    assert_eq!(got[2]["from"], "active");
    assert_eq!(got[2]["to"], "closed");
    // The feed shows the same events (same ids, same bodies).
    let ids: Vec<&str> = got.iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let log = attempts(&app, &acme, &acme_sub, None).await;
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log.iter().all(|a| a["status"] == "delivered"));

    // The Norwegian partner: its first delivery is its own request's, none of the three above.
    let no = a_request(&app.emu, &integration, "nomf", active).await;
    let (s, _) = patch(&app.emu, RR, &no, &hr, json!({"mshr_status": active})).await;
    assert_eq!(s, 204);
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");
    let first = to_watch.next(20).await;
    verify(&watch_secret, &first);
    assert_eq!(first.json()["resource"]["id"], no.as_str());
    assert_eq!(first.json()["to"], "active");
    assert!(to_watch.rx.try_recv().is_err());
}
