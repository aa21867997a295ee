//! The edge under attack (issue "Hardening the edge"): each test reproduces one probe over real
//! HTTP against the sandbox and shows the defence. Connection tests use few sockets, short
//! timeouts and bounded waits; everything stays on loopback (127.0.0.0/8 source addresses stand
//! for different callers).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, spawn_app, spawn_app_with, TestApp};

fn addr_of(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_string()
}

/// Reads until EOF (or an error), at most `within`; what was read and whether the peer closed.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

/// A client whose connections come from `ip` (a loopback address).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(ip)))
        .build()
        .expect("client")
}

async fn token_attempt(
    http: &reqwest::Client,
    app: &TestApp,
    client_id: &str,
    secret: &str,
) -> reqwest::Response {
    http.post(format!("{}/oauth2/token", app.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect("token request")
}

// ---- metric labels ----------------------------------------------------------------------------

#[tokio::test]
async fn made_up_methods_and_paths_never_become_metric_labels() {
    let app = spawn_app().await;
    for i in 0..40 {
        let method = reqwest::Method::from_bytes(format!("X{i:05}PROBEMETHOD").as_bytes())
            .expect("method token");
        let resp = app
            .http
            .request(method, format!("{}/.well-known/jwks.json", app.url))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 405, "an unknown method is refused");
        app.http
            .get(format!("{}/probe-path-{i}", app.url))
            .send()
            .await
            .expect("request");
    }
    let body = app.scrape().await;
    assert!(
        !body.contains("PROBEMETHOD"),
        "method names leaked into labels"
    );
    assert!(
        !body.contains("probe-path-"),
        "raw paths leaked into labels"
    );
    assert!(
        body.lines().any(
            |l| l.starts_with("http_server_request_duration_seconds_count{")
                && l.contains("http_request_method=\"_OTHER\"")
                && l.contains("http_route=\"/.well-known/jwks.json\"")
        ),
        "unknown methods are counted as _OTHER:\n{body}"
    );
}

// ---- HEAD -------------------------------------------------------------------------------------

#[tokio::test]
async fn head_on_partner_routes_is_get_without_a_body() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    for path in ["/v1/recruiting-requests?page_size=1", "/v1/option-sets"] {
        let resp = app
            .http
            .head(format!("{}{path}", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("head");
        assert_eq!(resp.status(), 200, "HEAD {path}");
        assert!(
            resp.headers().contains_key("etag"),
            "HEAD {path} has GET's headers"
        );
        assert!(resp.bytes().await.expect("body").is_empty());
    }
    // The scope rule is GET's: a partner without candidates:read is refused.
    let tiny = app.partner_token("tiny-board", None).await;
    let resp = app
        .http
        .head(format!("{}/v1/candidates", app.url))
        .bearer_auth(&tiny)
        .send()
        .await
        .expect("head");
    assert_eq!(resp.status(), 403);
    let anon = app
        .http
        .head(format!("{}/v1/candidates", app.url))
        .send()
        .await
        .expect("head");
    assert_eq!(anon.status(), 401);
}

// ---- slow clients -----------------------------------------------------------------------------

#[tokio::test]
async fn silent_dribbling_and_idle_connections_are_closed() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.header_read_timeout_ms = 400;
    })
    .await;
    let addr = addr_of(&app);
    let bound = Duration::from_secs(5);

    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut silent, bound).await;
    assert!(closed, "a silent connection is closed");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Headers dribbled one line every 100 ms: the head timer is not reset by progress.
    let mut dribble = TcpStream::connect(&addr).await.expect("connect");
    dribble
        .write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let mut cut = false;
    for i in 0..50 {
        // The attack's pace, not synchronisation.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if dribble
            .write_all(format!("X-Slow-{i}: a\r\n").as_bytes())
            .await
            .is_err()
        {
            cut = true;
            break;
        }
        let mut b = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), dribble.read(&mut b)).await
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "a dribbling client is cut off");
    assert!(started.elapsed() < Duration::from_secs(4));

    // An idle keep-alive connection after a complete exchange.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let (answer, closed) = read_until_closed(&mut idle, bound).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "the request is served");
    assert!(closed, "then the idle keep-alive connection is closed");
}

#[tokio::test]
async fn an_oversized_head_is_refused_with_431() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.max_header_bytes = 16 * 1024;
    })
    .await;
    let mut s = TcpStream::connect(addr_of(&app)).await.expect("connect");
    s.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let line = format!("X-Pad: {}\r\n", "a".repeat(1000));
    // 40 KB of header, never finished; the gateway stops reading at 16 KiB.
    for _ in 0..40 {
        if s.write_all(line.as_bytes()).await.is_err() {
            break;
        }
    }
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(closed);
    assert_problem_answer(&answer, 431, "headers-too-large");
}

/// hyper checks `max_header_bytes` only against a head still incomplete in its buffer: a head
/// that arrived in one write was served up to about half as large again. Now the limit is the
/// configured number whichever way the head arrives (a 414 when the request line alone is over
/// it, as when it arrives in pieces); a head at the limit is served.
#[tokio::test]
async fn a_head_over_the_limit_sent_in_one_write_is_refused_too() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.max_header_bytes = 32 * 1024;
    })
    .await;
    let padded_header = |total: usize| {
        let start =
            "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ";
        let end = "\r\n\r\n";
        format!(
            "{start}{}{end}",
            "a".repeat(total - start.len() - end.len())
        )
    };
    let long_line = |total: usize| {
        let start = "GET /.well-known/jwks.json?pad=";
        let end = " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        format!(
            "{start}{}{end}",
            "a".repeat(total - start.len() - end.len())
        )
    };
    for (head, status, slug) in [
        (padded_header(32 * 1024), 200, ""),
        (padded_header(32 * 1024 + 1), 431, "headers-too-large"),
        (padded_header(40_000), 431, "headers-too-large"),
        (padded_header(48_000), 431, "headers-too-large"),
        (long_line(40_000), 414, "uri-too-long"),
    ] {
        let mut s = TcpStream::connect(addr_of(&app)).await.expect("connect");
        s.write_all(head.as_bytes()).await.expect("write");
        let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
        let text = String::from_utf8_lossy(&answer);
        let size = head.len();
        assert!(
            answer.starts_with(format!("HTTP/1.1 {status}").as_bytes()),
            "{size}: {text}"
        );
        if status != 200 {
            assert_problem_answer(&answer, status, slug);
        }
    }
}

/// The body of a raw answer, parsed as a problem with `status` and a `type` ending in `slug`.
fn assert_problem_answer(answer: &[u8], status: u16, slug: &str) {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["status"], status, "{v}");
    assert!(v["type"].as_str().is_some_and(|t| t.ends_with(slug)), "{v}");
    assert!(v["title"].is_string() && v["detail"].is_string(), "{v}");
}

/// Issue 19: a 60,000-character query was a 431 with an empty body; a request line too long to
/// read is a 414, and every such answer is problem+json.
#[tokio::test]
async fn a_request_line_too_long_is_a_414_problem() {
    let app = spawn_app().await;
    let mut s = TcpStream::connect(addr_of(&app)).await.expect("connect");
    let request = format!(
        "GET /v1/recruiting-requests?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(60_000)
    );
    // The gateway stops reading at max_header_bytes; the rest may not be taken.
    let _ = s.write_all(request.as_bytes()).await;
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 414"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_problem_answer(&answer, 414, "uri-too-long");

    // The same through an ordinary client.
    let resp = app
        .http
        .get(format!(
            "{}/v1/recruiting-requests?q={}",
            app.url,
            "a".repeat(60_000)
        ))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 414);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    // A head hyper cannot parse at all is a problem too.
    let mut s = TcpStream::connect(addr_of(&app)).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        .await
        .expect("write");
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_problem_answer(&answer, 400, "bad-request");
}

/// Sends `head` (which promises a longer body by its `Content-Length`) and `partial`, then
/// nothing; the answer, whether the gateway then closed the connection, and how long it took.
async fn stall_body(addr: &str, head: &str, partial: &[u8]) -> (Vec<u8>, bool, Duration) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let started = Instant::now();
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(partial).await.expect("partial body");
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    (answer, closed, started.elapsed())
}

fn head_of(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    text.split_once("\r\n\r\n")
        .map_or(text.to_string(), |(h, _)| h.to_string())
        .to_ascii_lowercase()
}

/// With the body deadline small and the request deadline at its 30 s default.
async fn spawn_with_body_deadline(operator_hash: Option<String>) -> TestApp {
    spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.body_read_timeout_ms = Some(300);
        if let Some(hash) = operator_hash {
            c.operator.token_hashes = vec![hash];
        }
    })
    .await
}

/// Probe: a valid token, `Content-Length: 78` and 5 bytes of body. It was answered only at the
/// 30 s request deadline, as 504 `upstream-timeout` (logged at ERROR, a 5xx in the metrics) with
/// HR never called. The body has its own, shorter deadline: a 408 `request-timeout` problem, the
/// connection closed, nothing logged as an error.
#[tokio::test]
async fn a_stalled_body_on_a_partner_route_is_a_408_not_an_upstream_timeout() {
    common::logs::capture();
    let app = spawn_with_body_deadline(None).await;
    let token = app.partner_token("acme-ats", None).await;
    for (path, extra) in [
        ("/v1/webhooks", ""),
        ("/v1/candidates", "Idempotency-Key: stalled-body-1\r\n"),
    ] {
        let request_id = format!("stalled-body-{}", path.trim_start_matches("/v1/"));
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nX-Request-Id: {request_id}\r\n{extra}\
             Content-Length: 78\r\n\r\n"
        );
        let (answer, closed, took) = stall_body(&addr_of(&app), &head, b"{\"url").await;
        assert!(
            answer.starts_with(b"HTTP/1.1 408"),
            "{path}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert_problem_answer(&answer, 408, "request-timeout");
        assert!(head_of(&answer).contains("connection: close"), "{path}");
        assert!(closed, "{path}: the connection is closed after the answer");
        // The body's deadline, far inside the request's 30 s.
        assert!(took < Duration::from_secs(5), "{path}: {took:?}");
        let logs = common::logs::text();
        let ours: Vec<&str> = logs.lines().filter(|l| l.contains(&request_id)).collect();
        assert!(
            ours.iter()
                .any(|l| l.contains("request body not received in time")),
            "{path}: {ours:#?}"
        );
        assert!(
            !ours.iter().any(|l| l.contains("ERROR")),
            "{path}: {ours:#?}"
        );
    }
    // Counted as the client's 408 on its route, not as a 5xx.
    let scrape = app.scrape().await;
    assert!(
        scrape.lines().any(
            |l| l.starts_with("http_server_request_duration_seconds_count")
                && l.contains("http_route=\"/v1/webhooks\"")
                && l.contains("http_response_status_code=\"408\"")
        ),
        "{scrape}"
    );
}

/// The token endpoint's stalled body: 408 in its own RFC 6749 shape (as its 413), not a 504
/// `temporarily_unavailable` at the backstop timeout.
#[tokio::test]
async fn a_stalled_token_request_body_is_a_408_oauth_error() {
    let app = spawn_with_body_deadline(None).await;
    let head = "POST /oauth2/token HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 78\r\n\r\n";
    let (answer, closed, took) = stall_body(&addr_of(&app), head, b"grant").await;
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let text = String::from_utf8_lossy(&answer);
    let (_, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["error"], "invalid_request", "{v}");
    assert_eq!(
        v["error_description"],
        "the request body did not arrive in time"
    );
    let head = head_of(&answer);
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(closed);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// Probe on the ops listener: an operator call with a valid token and a stalled body was never
/// cut off (no answer after 50 s, connection open). The same deadline holds there.
#[tokio::test]
async fn a_stalled_operator_body_on_the_ops_listener_is_a_408() {
    let (token, hash) = ats_gateway::operator::guard::create_operator_token();
    let app = spawn_with_body_deadline(Some(hash)).await;
    let ops = app.ops_url.trim_start_matches("http://").to_string();
    let head = format!(
        "POST /operator/v1/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    let (answer, closed, took) = stall_body(&ops, &head, b"{\"id\":").await;
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_problem_answer(&answer, 408, "request-timeout");
    assert!(head_of(&answer).contains("connection: close"));
    assert!(closed);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_until_one_closes() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.max_connections = 3;
    })
    .await;
    let addr = addr_of(&app);
    // Three keep-alive connections, each proven accepted by a served request.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    let mut extra = TcpStream::connect(&addr).await.expect("connect");
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(closed, "the fourth connection is closed at once");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after"), "{text}");
    assert_problem_answer(&answer, 503, "too-many-connections");
    // A problem like every other: an id to quote, in the body and the header.
    let body: Value =
        serde_json::from_str(text.split_once("\r\n\r\n").expect("body").1).expect("json");
    let id = body["request_id"].as_str().expect("request_id");
    assert!(text.contains(&format!("x-request-id: {id}")), "{text}");

    drop(held.pop());
    // The slot comes back once the server sees the close: poll, bounded.
    let mut served = false;
    for _ in 0..50 {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
        if answer.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a freed slot serves a new connection");
}

// ---- wrong-secret floods ----------------------------------------------------------------------

fn limited(c: &mut ats_gateway::config::Config, per_client: u32, per_address: u32) {
    c.auth.failed_attempts.per_client = per_client;
    c.auth.failed_attempts.per_address = per_address;
    c.auth.failed_attempts.regain_ms = 60_000;
}

#[tokio::test]
async fn wrong_secrets_for_one_client_are_refused_before_the_hash() {
    let app = spawn_app_with(SandboxConfig::default(), |c| limited(c, 3, 1000)).await;
    let attacker = client_from([127, 0, 0, 2]);
    let before = app.gateway.state.auth.secret_checks_done();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let resp = token_attempt(&attacker, &app, "nordic-hr", "wrong").await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            let retry: u64 = resp.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&retry));
            let body: Value = resp.json().await.expect("RFC 6749 JSON");
            assert_eq!(body["error"], "invalid_client");
        }
    }
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        app.gateway.state.auth.secret_checks_done() - before,
        3,
        "refused attempts ran no secret check"
    );
    // Another client, from another address, is unaffected.
    let ok = token_attempt(&app.http, &app, "acme-ats", "acme-demo-secret").await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn failed_attempts_are_limited_per_source_address() {
    let app = spawn_app_with(SandboxConfig::default(), |c| limited(c, 1000, 3)).await;
    let attacker = client_from([127, 0, 0, 3]);
    let mut statuses = Vec::new();
    for i in 0..6 {
        let resp = token_attempt(&attacker, &app, &format!("made-up-{i}"), "wrong").await;
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);
    // Correct secrets give their attempt back: a busy partner never runs out.
    let partner = client_from([127, 0, 0, 5]);
    for _ in 0..5 {
        let ok = token_attempt(&partner, &app, "acme-ats", "acme-demo-secret").await;
        assert_eq!(ok.status(), 200);
    }
}

/// Issue 18: anyone could keep a known client id at 429 by failing for it now and then; the lock
/// holds only for the addresses that fail.
#[tokio::test]
async fn failures_for_a_client_id_do_not_lock_out_the_partner_at_its_own_address() {
    let app = spawn_app_with(SandboxConfig::default(), |c| limited(c, 3, 1000)).await;
    let attacker = client_from([127, 0, 0, 6]);
    for _ in 0..5 {
        token_attempt(&attacker, &app, "acme-ats", "wrong").await;
    }
    let refused = token_attempt(&attacker, &app, "acme-ats", "wrong").await;
    assert_eq!(refused.status(), 429, "the failing address is locked");
    let partner = client_from([127, 0, 0, 7]);
    for _ in 0..3 {
        let ok = token_attempt(&partner, &app, "acme-ats", "acme-demo-secret").await;
        assert_eq!(
            ok.status(),
            200,
            "the partner at its own address is not locked out"
        );
    }
    let still = token_attempt(&attacker, &app, "acme-ats", "acme-demo-secret").await;
    assert_eq!(
        still.status(),
        429,
        "the failing address stays locked, right secret or not"
    );
}

#[tokio::test]
async fn a_flood_against_one_client_does_not_delay_another() {
    let app = spawn_app_with(SandboxConfig::default(), |c| limited(c, 5, 1000)).await;
    let before = app.gateway.state.auth.secret_checks_done();
    let attacker = client_from([127, 0, 0, 4]);
    let flood = futures::future::join_all((0..80).map(|_| {
        let attacker = attacker.clone();
        let app = &app;
        async move {
            token_attempt(&attacker, app, "nordic-hr", "wrong")
                .await
                .status()
                .as_u16()
        }
    }));
    let legit = async {
        let started = Instant::now();
        let resp = token_attempt(&app.http, &app, "acme-ats", "acme-demo-secret").await;
        (resp.status().as_u16(), started.elapsed())
    };
    let (statuses, (legit_status, legit_took)) = tokio::join!(flood, legit);
    assert_eq!(legit_status, 200, "the other partner gets its token");
    assert!(legit_took < Duration::from_secs(5), "{legit_took:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 75);
    let checks = app.gateway.state.auth.secret_checks_done() - before;
    assert_eq!(
        checks, 6,
        "five failures and the legitimate check, nothing more"
    );
    // The checks ran on the fixed pool: its threads are all there is (Linux names them).
    #[cfg(target_os = "linux")]
    {
        let pool_threads = std::fs::read_dir("/proc/self/task")
            .expect("tasks")
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(ats_gateway::auth::secrets::CHECK_THREAD))
            .count();
        assert!(
            (1..=ats_gateway::auth::secrets::pool_size()).contains(&pool_threads),
            "{pool_threads} secret-check threads"
        );
    }
}

#[tokio::test]
async fn unknown_client_ids_are_never_logged_verbatim() {
    common::logs::capture();
    let app = spawn_app().await;
    // A partner that swapped id and secret, and one sending a huge id.
    let swapped = "acme-demo-secret-swapped-7f3a";
    let resp = token_attempt(&app.http, &app, swapped, "acme-ats").await;
    assert_eq!(resp.status(), 401);
    let huge = format!("huge-id-{}", "z".repeat(200_000));
    let resp = token_attempt(&app.http, &app, &huge, "x").await;
    assert_eq!(resp.status(), 401);
    let logs = common::logs::text();
    assert!(
        !logs.contains(swapped),
        "the unknown id was logged verbatim"
    );
    assert!(!logs.contains("zzzzzzzzzzzzzzzz"), "the huge id was logged");
    assert!(
        logs.contains("unknown(len=200008"),
        "the unknown id is logged as length and hash"
    );
    assert!(
        logs.lines()
            .filter(|l| l.contains("client authentication failed"))
            .all(|l| l.len() < 4 * 1024),
        "a log line is bounded"
    );
}

// ---- partner data isolation -------------------------------------------------------------------

/// Department number → (requests outside `nomf`, requests in `nomf`), read from the emulator.
async fn department_spread(app: &TestApp) -> Vec<(String, usize, usize)> {
    use std::collections::{BTreeMap, BTreeSet};
    let token = app.emu.token().await;
    let mut rest = "mshr_hcmrecruitingrequestpositionentities?$select=mshr_departmentnumber,mshr_dataareaid,_mshr_fk_recruitingrequest_id_value".to_string();
    let mut by: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for _ in 0..100 {
        let (status, page) = app
            .emu
            .get_json(&rest, &token, Some("odata.maxpagesize=5000"))
            .await;
        assert_eq!(status, 200);
        for row in page["value"].as_array().expect("rows") {
            let (Some(dep), Some(company), Some(rr)) = (
                row["mshr_departmentnumber"].as_str(),
                row["mshr_dataareaid"].as_str(),
                row["_mshr_fk_recruitingrequest_id_value"].as_str(),
            ) else {
                continue;
            };
            let e = by.entry(dep.to_string()).or_default();
            if company == "nomf" {
                e.1.insert(rr.to_string());
            } else {
                e.0.insert(rr.to_string());
            }
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                rest = next
                    .split_once("/api/data/v9.2/")
                    .map(|(_, r)| r.to_string())
                    .expect("relative")
            }
            None => break,
        }
    }
    by.into_iter()
        .map(|(d, (other, nomf))| (d, other.len(), nomf.len()))
        .collect()
}

#[tokio::test]
async fn the_department_filter_counts_only_the_partners_companies() {
    let sandbox = SandboxConfig {
        scale: 3000,
        ..SandboxConfig::default()
    };
    let app = spawn_app_with(sandbox, |_| {}).await;
    let spread = department_spread(&app).await;
    let (dep, others, _) = spread
        .iter()
        .filter(|(_, others, nomf)| *others > 300 && *nomf == 0)
        .max_by_key(|(_, others, _)| *others)
        .expect("a department with over 300 requests outside Norway");
    let path = format!("/v1/recruiting-requests?department={dep}");
    // Nordic HR sees Norway only: there it has no request, so the filter is not "too broad".
    let nordic = app.partner_token("nordic-hr", None).await;
    let (status, body) = app.get_json(&path, &nordic, None).await;
    assert_eq!(status, 200, "{others} foreign requests counted: {body}");
    assert_eq!(body["data"], json!([]));
    // A partner that sees them still gets the bound.
    let acme = app.partner_token("acme-ats", None).await;
    let (status, body) = app.get_json(&path, &acme, None).await;
    assert_eq!(status, 400, "{body}");
}

/// An id of a row in `usmf` and one in `nomf` from the emulator's `set`.
async fn ids_by_company(emu: &common::Emu, set: &str, pk: &str) -> (String, String) {
    let token = emu.token().await;
    let mut found = Vec::new();
    for company in ["usmf", "nomf"] {
        let (status, page) = emu
            .get_json(
                &format!("{set}?$select={pk}&$filter=mshr_dataareaid eq '{company}'&$top=1"),
                &token,
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        found.push(page["value"][0][pk].as_str().expect("id").to_string());
    }
    (found[0].clone(), found[1].clone())
}

fn without_request_specifics(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("instance");
        o.remove("request_id");
        o.remove("trace_id");
    }
    v
}

/// What the gateway asked Dataverse: (method, path and query, status), through a recording proxy.
type Exchanges = std::sync::Arc<std::sync::Mutex<Vec<(String, String, u16)>>>;

/// A loopback proxy in front of the emulator (Entra and Dataverse) that records each exchange.
/// Token requests name the proxy as the resource; it names the emulator instead, so the token's
/// audience is the emulator's.
async fn recording_proxy(target: String) -> (String, Exchanges) {
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;
    let seen: Exchanges = Default::default();
    let http = reqwest::Client::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let enc = |u: &str| form_urlencoded::byte_serialize(u.as_bytes()).collect::<String>();
    let (from, to) = (enc(&url), enc(&target));
    let app = axum::Router::new()
        .fallback(
            |State((http, target, seen)): State<(reqwest::Client, String, Exchanges)>,
             req: Request| async move {
                let pq = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                let method = req.method().clone();
                let mut out = http.request(method.clone(), format!("{target}{pq}"));
                for (k, v) in req.headers() {
                    if k != "host" {
                        out = out.header(k, v);
                    }
                }
                let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                let body = String::from_utf8_lossy(&body).replace(&from, &to);
                let resp = out.body(body).send().await.expect("emulator answers");
                let status = resp.status();
                seen.lock()
                    .expect("lock")
                    .push((method.to_string(), pq, status.as_u16()));
                let headers = resp.headers().clone();
                let bytes = resp.bytes().await.unwrap_or_default();
                let mut answer = (status, bytes).into_response();
                for (k, v) in &headers {
                    if k != "content-length" && k != "transfer-encoding" {
                        answer.headers_mut().insert(k, v.clone());
                    }
                }
                answer
            },
        )
        .with_state((http, target, seen.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_foreign_id_and_a_missing_id_do_the_same_work_upstream() {
    let emu = common::emulator().await;
    let (proxy, seen) = recording_proxy(emu.handle.url.clone()).await;
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.dataverse.org_url = proxy.clone();
        c.dataverse.authority = proxy.clone();
    })
    .await;
    let nordic = app.partner_token("nordic-hr", None).await;
    for (route, set, pk) in [
        (
            "/v1/candidates",
            "mshr_hcmcandidatetohireentities",
            "mshr_hcmcandidatetohireentityid",
        ),
        (
            "/v1/recruiting-requests",
            "mshr_hcmrecruitingrequestentities",
            "mshr_hcmrecruitingrequestentityid",
        ),
    ] {
        let (foreign, own) = ids_by_company(&emu, set, pk).await;
        let (status, _) = app.get_json(&format!("{route}/{own}"), &nordic, None).await;
        assert_eq!(status, 200, "the partner's own row");
        let mut runs = Vec::new();
        for id in [foreign, uuid::Uuid::new_v4().to_string()] {
            seen.lock().expect("lock").clear();
            let (status, body) = app.get_json(&format!("{route}/{id}"), &nordic, None).await;
            assert_eq!(status, 404);
            let calls: Vec<_> = seen
                .lock()
                .expect("lock")
                .iter()
                .map(|(m, pq, s)| (m.clone(), pq.replace(&id, "{id}"), *s))
                .collect();
            runs.push((without_request_specifics(body), calls));
        }
        assert_eq!(runs[0], runs[1], "{route}: foreign vs missing id");
        assert!(!runs[0].1.is_empty(), "the read went through the proxy");
    }
}

#[tokio::test]
async fn a_cursor_works_only_on_the_route_that_issued_it() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, page) = app
        .get_json("/v1/recruiting-requests?page_size=1", &token, None)
        .await;
    assert_eq!(status, 200);
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (status, body) = app
        .get_json(
            &format!("/v1/candidates?page_size=1&cursor={cursor}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "#/cursor");
    let (status, _) = app
        .get_json(
            &format!("/v1/recruiting-requests?page_size=1&cursor={cursor}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "the cursor still works where it came from");
}

#[tokio::test]
async fn readyz_tells_anyone_only_a_status_word() {
    let app = spawn_app().await;
    app.emu
        .fault(json!({"kind": "server_error", "status": 503, "target": "WhoAmI"}))
        .await;
    let resp = app.ops_get("/readyz").await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"status": "not_ready"}));
}

// ---- error shapes -----------------------------------------------------------------------------

async fn problem_of(resp: reqwest::Response) -> (u16, Value, usize) {
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    let bytes = resp.bytes().await.expect("body");
    let v: Value = serde_json::from_slice(&bytes).expect("problem json");
    assert_eq!(v["status"], status);
    assert!(
        v["type"].as_str().is_some_and(|t| t.contains("/problems/")),
        "{v}"
    );
    (status, v, bytes.len())
}

#[tokio::test]
async fn every_error_is_a_bounded_problem() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.max_header_bytes = 512 * 1024;
    })
    .await;
    let token = app.partner_token("acme-ats", None).await;

    // A path that is not UTF-8 (a rejection from the path extractor).
    let (status, v, _) = problem_of(app.get("/v1/candidates/%ff", &token, None).await).await;
    assert_eq!(status, 400, "{v}");

    // Problems that would quote 60 KB of input (twice: detail and instance).
    let long = "q".repeat(60_000);
    let (status, _, len) =
        problem_of(app.get(&format!("/problems/{long}"), &token, None).await).await;
    assert_eq!(status, 404);
    assert!(len < 8 * 1024, "{len} bytes");
    let (status, v, len) = problem_of(
        app.get(&format!("/v1/candidates?status={long}"), &token, None)
            .await,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(len < 8 * 1024, "{len} bytes");

    // A body over the limit on a partner route is a problem too.
    let resp = app
        .http
        .post(format!("{}/v1/candidates", app.url))
        .bearer_auth(&token)
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .expect("post");
    let (status, _, _) = problem_of(resp).await;
    assert!(status == 405 || status == 413, "{status}");
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc6749_json() {
    let app = spawn_app().await;
    // A body over the limit.
    let resp = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&pad={}",
            "a".repeat(2 * 1024 * 1024)
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "invalid_request");

    // Two Basic credentials: refused as on the API routes, without a secret check.
    use base64::Engine;
    let basic = |id: &str, s: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{s}"))
        )
    };
    let before = app.gateway.state.auth.secret_checks_done();
    let resp = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .header("authorization", basic("acme-ats", "acme-demo-secret"))
        .header("authorization", basic("nordic-hr", "nordic-demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(app.gateway.state.auth.secret_checks_done(), before);
}

/// A head hyper cannot parse gets a problem that says so (it used to get the `bad-request`
/// page text about tampered cursors), with an absolute `type` like every other problem and a
/// request id; too many headers (hyper's cap of 100) is a 431 that blames no byte limit.
#[tokio::test]
async fn malformed_heads_get_their_own_detail() {
    let app = spawn_app().await;
    let heads: [&[u8]; 4] = [
        b"garbage\r\n\r\n",
        b"GET /v1/option-sets HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01\x7f\xffb\r\n\r\n",
        b"GET /v1/\xffoption-sets HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/option-sets\r\n\r\n",
    ];
    for head in heads {
        let mut s = TcpStream::connect(addr_of(&app)).await.expect("connect");
        s.write_all(head).await.expect("write");
        let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with(b"HTTP/1.1 400"), "{text}");
        assert_problem_answer(&answer, 400, "bad-request");
        let v: Value =
            serde_json::from_str(text.split_once("\r\n\r\n").expect("body").1).expect("json");
        let detail = v["detail"].as_str().unwrap_or_default();
        assert!(
            !detail.contains("cursor") && detail.contains("request head"),
            "{v}"
        );
        assert_eq!(
            v["type"],
            format!("{}/problems/bad-request", app.url),
            "{v}"
        );
        assert!(
            v["request_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{v}"
        );
    }

    let mut s = TcpStream::connect(addr_of(&app)).await.expect("connect");
    let mut head = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..120 {
        head.extend_from_slice(format!("X-{i}: a\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    assert!(head.len() < 8 * 1024, "far below any byte limit");
    s.write_all(&head).await.expect("write");
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with(b"HTTP/1.1 431"), "{text}");
    assert_problem_answer(&answer, 431, "headers-too-large");
    let v: Value =
        serde_json::from_str(text.split_once("\r\n\r\n").expect("body").1).expect("json");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("too many headers") && !detail.contains("max_header_bytes"),
        "{v}"
    );
}
