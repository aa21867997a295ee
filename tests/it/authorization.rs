//! Per-route authorization on the real gateway routes: scopes (403 naming the scope), no
//! token (401), the partner's company limit, per-partner rate limits, and CORS preflight. The route
//! list comes from the generated OpenAPI document, so a new partner route is covered automatically.

use crate::common::{spawn_app, TestApp};
use ats_gateway::auth::Scope;
use serde_json::Value;

const LIST: &str = "/v1/recruiting-requests";

/// A sample value for a path parameter: a known name where the route has a fixed vocabulary,
/// otherwise a GUID (so typed `Path<Uuid>` extractors accept it).
fn sample(param: &str) -> &'static str {
    match param {
        "name" => "recruiting-request-status",
        "kind" => "skills",
        _ => "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    }
}

/// Every partner GET route in the OpenAPI document, with its path filled in and its scope.
fn partner_routes() -> Vec<(String, String)> {
    let doc: Value =
        serde_json::from_str(&ats_gateway::api::openapi::document_json()).expect("doc");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(op) = item.get("get") else { continue };
        let scope = op["security"][0]["bearer"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{path} has no bearer scope"))
            .to_string();
        let mut concrete = String::new();
        let mut rest = path.as_str();
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').expect("closing brace") + open;
            concrete.push_str(&rest[..open]);
            concrete.push_str(sample(&rest[open + 1..close]));
            rest = &rest[close + 1..];
        }
        concrete.push_str(rest);
        out.push((concrete, scope));
    }
    assert!(out.len() >= 5, "{out:?}");
    out
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn problem(r: reqwest::Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "{what}");
    assert_eq!(
        header(&r, "content-type"),
        "application/problem+json",
        "{what}"
    );
    r.json().await.expect("problem json")
}

/// acme-ats holds every scope: a token narrowed to all but `missing`.
async fn token_without(app: &TestApp, missing: &str) -> String {
    let rest: Vec<&str> = Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| *s != missing)
        .collect();
    app.partner_token("acme-ats", Some(&rest.join(" "))).await
}

#[tokio::test]
async fn every_route_refuses_a_token_without_its_scope() {
    let app = spawn_app().await;
    for (path, scope) in partner_routes() {
        let t = token_without(&app, &scope).await;
        let r = app.get(&path, &t, None).await;
        let www = header(&r, "www-authenticate").to_string();
        let p = problem(r, 403, &path).await;
        assert_eq!(
            p["type"],
            format!("{}/problems/missing-scope", app.url).as_str(),
            "{path}"
        );
        assert!(
            p["detail"].as_str().unwrap_or_default().contains(&scope),
            "{path}: {p}"
        );
        assert!(
            www.contains("insufficient_scope") && www.contains(&scope),
            "{path}: {www}"
        );
    }
    // The emulator was never asked anything on behalf of a refused request.
    assert_eq!(app.emu.stats().await["total_requests"], 0);
}

#[tokio::test]
async fn tiny_board_cannot_read_recruiting_requests() {
    let app = spawn_app().await;
    let t = app.partner_token("tiny-board", None).await;
    for path in [
        format!("{LIST}?page_size=1"),
        format!("{LIST}/3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
    ] {
        let p = problem(app.get(&path, &t, None).await, 403, &path).await;
        assert!(p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("recruiting-requests:read"));
    }
    // (Its own scope working is shown in `rate_limit_is_per_partner`: its burst of 2 is spent here.)
}

#[tokio::test]
async fn a_narrowed_token_cannot_read_reference_data() {
    let app = spawn_app().await;
    let t = app
        .partner_token("acme-ats", Some("recruiting-requests:read"))
        .await;
    for path in [
        "/v1/option-sets",
        "/v1/option-sets/gender",
        "/v1/reference/jobs",
    ] {
        let p = problem(app.get(path, &t, None).await, 403, path).await;
        assert!(
            p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("reference:read"),
            "{path}"
        );
    }
    let (s, _) = app.get_json(&format!("{LIST}?page_size=1"), &t, None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn every_route_needs_a_token() {
    let app = spawn_app().await;
    for (path, _) in partner_routes() {
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("send");
        assert!(
            header(&r, "www-authenticate").starts_with("Bearer"),
            "{path}"
        );
        let p = problem(r, 401, &path).await;
        assert_eq!(
            p["type"],
            format!("{}/problems/unauthorized", app.url).as_str(),
            "{path}"
        );
        let r = app.get(&path, "not-a-jwt", None).await;
        problem(r, 401, &path).await;
    }
}

#[tokio::test]
async fn the_list_is_limited_to_the_partners_companies() {
    let app = spawn_app().await;
    let t = app.partner_token("nordic-hr", None).await;
    let (s, v) = app
        .get_json(&format!("{LIST}?page_size=200"), &t, None)
        .await;
    assert_eq!(s, 200, "{v}");
    let items = v["data"].as_array().expect("data");
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["company"]["code"] == "nomf"), "{v}");
    // Another company's filter cannot widen the limit: 403 naming the parameter.
    let (s, v) = app
        .get_json(&format!("{LIST}?company=usmf"), &t, None)
        .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["errors"][0]["pointer"], "#/company", "{v}");
}

#[tokio::test]
async fn another_companys_request_is_not_found() {
    let app = spawn_app().await;
    let nordic = app.partner_token("nordic-hr", None).await;
    let (_, v) = app
        .get_json(&format!("{LIST}?page_size=1"), &nordic, None)
        .await;
    let id = v["data"][0]["id"]
        .as_str()
        .expect("a nomf request")
        .to_string();
    let (s, _) = app.get_json(&format!("{LIST}/{id}"), &nordic, None).await;
    assert_eq!(s, 200);
    let acme = app.partner_token("acme-ats", None).await;
    let path = format!("{LIST}/{id}");
    let p = problem(app.get(&path, &acme, None).await, 404, &path).await;
    // Indistinguishable from an id that does not exist.
    let unknown = format!("{LIST}/3f2504e0-4f89-11d3-9a0c-0305e82c3301");
    let q = problem(app.get(&unknown, &acme, None).await, 404, &unknown).await;
    assert_eq!(p["detail"], q["detail"]);
}

#[tokio::test]
async fn rate_limit_is_per_partner() {
    let app = spawn_app().await;
    let tiny = app.partner_token("tiny-board", None).await;
    let acme = app.partner_token("acme-ats", None).await;
    let path = "/v1/option-sets/recruiting-request-status";
    // Burst 2 at 1 request/s: the third immediate request is refused (bounded, no sleeps).
    let mut limited = None;
    for _ in 0..10 {
        let r = app.get(path, &tiny, None).await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "ratelimit-limit"), "2");
        // The current IETF draft's fields: quota 2 per 2 s window (1/s refill).
        assert_eq!(header(&r, "ratelimit-policy"), "\"partner\";q=2;w=2");
        assert!(
            header(&r, "ratelimit").starts_with("\"partner\";r="),
            "{}",
            header(&r, "ratelimit")
        );
    }
    let r = limited.expect("tiny-board is rate limited");
    let retry: u64 = header(&r, "retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(header(&r, "ratelimit-limit"), "2");
    assert_eq!(header(&r, "ratelimit-remaining"), "0");
    assert!(!header(&r, "ratelimit-reset").is_empty());
    assert_eq!(
        header(&r, "ratelimit"),
        format!("\"partner\";r=0;t={retry}")
    );
    let p = problem(r, 429, "tiny-board").await;
    assert_eq!(
        p["type"],
        format!("{}/problems/rate-limited", app.url).as_str()
    );
    // Another partner is unaffected.
    let r = app.get(path, &acme, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "ratelimit-limit"), "100");
}

/// Only a real preflight (`Origin` and `Access-Control-Request-Method`) is answered by CORS: a
/// plain `OPTIONS` is a method the partner routes do not serve, answered like any other (405 with
/// `Allow`, as a problem).
#[tokio::test]
async fn plain_options_is_not_a_preflight() {
    let app = spawn_app().await;
    let t = app.partner_token("acme-ats", None).await;
    for origin in [None, Some("http://localhost:3000")] {
        for token in [None, Some(t.clone())] {
            let mut rb = app
                .http
                .request(reqwest::Method::OPTIONS, format!("{}{LIST}", app.url));
            if let Some(o) = origin {
                rb = rb.header("Origin", o);
            }
            if let Some(t) = &token {
                rb = rb.bearer_auth(t);
            }
            let r = rb.send().await.expect("options");
            let case = format!("origin {origin:?}, token {}", token.is_some());
            assert_eq!(r.status(), 405, "{case}");
            assert!(
                header(&r, "allow").contains("GET"),
                "{case}: {:?}",
                r.headers()
            );
            assert_eq!(header(&r, "content-type"), "application/problem+json");
            assert!(
                r.headers().get("access-control-allow-methods").is_none(),
                "{case}: answered as a preflight: {:?}",
                r.headers()
            );
        }
    }
}

#[tokio::test]
async fn cors_preflight_is_answered_without_auth() {
    let app = spawn_app().await;
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}{LIST}", app.url))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .expect("preflight");
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    assert!(header(&r, "access-control-allow-methods").contains("GET"));
    assert!(header(&r, "access-control-allow-headers")
        .to_ascii_lowercase()
        .contains("authorization"));
    // A real request from that origin gets the CORS headers too.
    let t = app.partner_token("acme-ats", None).await;
    let r = app
        .http
        .get(format!("{}{LIST}?page_size=1", app.url))
        .bearer_auth(&t)
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "http://localhost:3000"
    );
}
