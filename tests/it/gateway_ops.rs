//! Cross-cutting behaviour of the whole gateway (the real router, on the sandbox): the request
//! deadline still yields problem+json, rate-limit headers and an audit line; 405 is a problem;
//! caller request ids are bounded; and no secret or token reaches the logs at TRACE level.

use crate::common;
use crate::common::{spawn_app, spawn_app_with};
use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

#[tokio::test]
async fn a_request_past_its_deadline_is_a_complete_problem() {
    common::logs::capture();
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.request_timeout_ms = 300;
    })
    .await;
    let token = app.partner_token("acme-ats", None).await;
    // Warm the token, labels and lookups so only the list call meets the latency.
    let (status, _) = app.get_json("/v1/option-sets", &token, None).await;
    assert_eq!(status, 200);
    app.emu
        .fault(
            json!({"kind": "latency", "ms": 3000, "target": "mshr_hcmrecruitingrequestentities"}),
        )
        .await;
    let resp = app
        .http
        .get(format!("{}/v1/recruiting-requests", app.url))
        .bearer_auth(&token)
        .header("x-request-id", "deadline-test-1")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 504);
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "a problem body, not an empty 504"
    );
    assert!(resp.headers().contains_key("ratelimit-remaining"));
    assert_eq!(resp.headers()["x-request-id"], "deadline-test-1");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(
        v["type"],
        format!("{}/problems/upstream-timeout", app.url).as_str()
    );
    assert_eq!(v["request_id"], "deadline-test-1");
    let text = common::logs::text();
    assert!(
        text.lines().any(|l| l.contains("partner request")
            && l.contains("deadline-test-1")
            && l.contains("status=504")
            && l.contains("partner=\"acme-ats\"")),
        "audit line for the timed-out request:\n{text}"
    );
}

#[tokio::test]
async fn wrong_method_is_a_405_problem() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    let resp = app
        .http
        .delete(format!("{}/v1/recruiting-requests", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(
        v["type"],
        format!("{}/problems/method-not-allowed", app.url).as_str()
    );
    assert_eq!(v["instance"], "/v1/recruiting-requests");
    // The token route and the ops listener's routes answer the same way.
    for url in [
        format!("{}/oauth2/token", app.url),
        format!("{}/healthz", app.ops_url),
    ] {
        let resp = app.http.put(&url).send().await.expect("request");
        assert_eq!(resp.status(), 405, "{url}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}

#[tokio::test]
async fn caller_request_ids_are_bounded() {
    let app = spawn_app().await;
    let long = "a".repeat(3000);
    for (sent, kept) in [
        ("ok-id_42", true),
        (long.as_str(), false),
        ("two words", false),
    ] {
        let resp = app
            .http
            .get(format!("{}/.well-known/jwks.json", app.url))
            .header("x-request-id", sent)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        let echoed = resp.headers()["x-request-id"].to_str().expect("ascii");
        assert_eq!(echoed == sent, kept, "{sent:.20}… echoed as {echoed}");
        assert!(!echoed.is_empty() && echoed.len() <= 128);
    }
}

#[tokio::test]
async fn no_secret_or_token_in_logs_of_the_whole_gateway() {
    common::logs::capture();
    let app = spawn_app().await;
    let dataverse_secret = app.emu.config().client_secret.clone();
    let token = app.partner_token("acme-ats", None).await;
    let (status, page) = app
        .get_json("/v1/recruiting-requests?page_size=2", &token, Some("nb-NO"))
        .await;
    assert_eq!(status, 200);
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
    let (status, _) = app
        .get_json(
            &format!("/v1/recruiting-requests?page_size=2&cursor={cursor}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    // client_secret_basic, a wrong secret and a tampered token: each logs its reason.
    let basic = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .basic_auth("acme-ats", Some("acme-demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(basic.status(), 200);
    let wrong = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "acme-ats"),
            ("client_secret", "wrong-secret-value"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(wrong.status(), 401);
    let (status, _) = app
        .get_json("/v1/option-sets", &format!("{token}x"), None)
        .await;
    assert_eq!(status, 401);

    let text = common::logs::text();
    assert!(text.contains("partner request"), "audit lines:\n{text}");
    for needle in [
        dataverse_secret.as_str(),
        "acme-demo-secret",
        "wrong-secret-value",
        token.as_str(),
        cursor.as_str(),
    ] {
        assert!(!text.contains(needle), "log leaks {needle:.24}…");
    }
    // No JWT at all (partner tokens, the upstream bearer, client assertions): "eyJ" starts every
    // base64url-encoded JSON header, followed by ".payload.". A bare "eyJ" inside other base64 (a
    // sealed cursor, a hash) is not a JWT, and matching it made this test fail by chance.
    let jwts: Vec<&str> = text.lines().filter(|l| contains_jwt(l)).collect();
    assert!(jwts.is_empty(), "a JWT in the logs: {} line(s)", jwts.len());
}

/// `eyJ<b64url>.<b64url>.`: the header and payload segments every compact JWS starts with.
fn contains_jwt(line: &str) -> bool {
    let b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    line.match_indices("eyJ").any(|(at, _)| {
        let mut parts = line[at..].split('.');
        let header = parts.next().unwrap_or("");
        let header_len = header.chars().take_while(|c| b64(*c)).count();
        let payload = parts.next().unwrap_or("");
        header_len == header.len()
            && header_len >= 10
            && !payload.is_empty()
            && payload.chars().all(b64)
            && parts.next().is_some()
    })
}

#[test]
fn contains_jwt_tells_a_token_from_base64_noise() {
    assert!(contains_jwt(
        "token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln rest"
    ));
    assert!(contains_jwt("eyJhbGciOiJFUzI1NiJ9.e30.sig"));
    assert!(!contains_jwt("cursor=AbCeyJxYz0123456789_-kLm&page_size=2"));
    assert!(!contains_jwt("no token here"));
}

/// RFC 6750 §3.1: a request without credentials (or with another scheme) gets a bare challenge;
/// a bad token gets `invalid_token`.
#[tokio::test]
async fn bearer_challenges_follow_rfc6750() {
    let app = spawn_app().await;
    let url = format!("{}/v1/option-sets", app.url);
    let none = app.http.get(&url).send().await.expect("request");
    let basic = app
        .http
        .get(&url)
        .basic_auth("acme-ats", Some("acme-demo-secret"))
        .send()
        .await
        .expect("request");
    for resp in [none, basic] {
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"ats-gateway\""
        );
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    let bad = app
        .http
        .get(&url)
        .bearer_auth("not.a.token")
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 401);
    let www = bad.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(
        www.starts_with("Bearer realm=\"ats-gateway\", error=\"invalid_token\""),
        "{www}"
    );
}

/// Problem `type`s are absolute: under the configured base when there is one, else under the
/// gateway's public URL, and the page they name explains the problem.
#[tokio::test]
async fn problem_types_are_absolute_under_the_configured_base() {
    let app = spawn_app().await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, p) = app
        .get_json("/v1/recruiting-requests?page_size=0", &token, None)
        .await;
    assert_eq!(status, 400);
    let kind = p["type"].as_str().expect("type");
    assert_eq!(kind, format!("{}/problems/invalid-parameter", app.url));
    assert_eq!(p["instance"], "/v1/recruiting-requests");
    assert!(p["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    let page = app.http.get(kind).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .expect("html")
        .contains("Invalid parameter"));

    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.public_url = "https://ats.example.com/".into();
    })
    .await;
    let (_, p) = app.get_json("/v1/candidates", "not-a-token", None).await;
    assert_eq!(p["type"], "https://ats.example.com/problems/unauthorized");

    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.public_url = "https://ats.example.com".into();
        c.gateway.problem_base_url = "https://developer.example.com/errors".into();
    })
    .await;
    let (_, p) = app.get_json("/v1/candidates", "not-a-token", None).await;
    assert_eq!(
        p["type"],
        "https://developer.example.com/errors/unauthorized"
    );
}

/// `/metrics`, `/healthz` and `/readyz` live on the ops listener only: the partner port answers
/// them like any unknown path, and the ops listener answers nothing else.
#[tokio::test]
async fn ops_routes_are_on_the_ops_listener_only() {
    let app = spawn_app().await;
    for path in ["/metrics", "/healthz", "/readyz"] {
        let resp = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 404, "partner port {path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    let health: Value = app.ops_get("/healthz").await.json().await.expect("json");
    assert_eq!(health, json!({"status": "ok"}));
    let ready = app.ops_get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.expect("json"),
        json!({"status": "ready"})
    );
    let metrics = app.ops_get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.expect("text").contains("# TYPE "));
    for path in ["/v1/option-sets", "/openapi.json", "/oauth2/token"] {
        let resp = app.ops_get(path).await;
        assert_eq!(resp.status(), 404, "ops port {path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}
