//! The operator API on the ops listener, over HTTP: operator auth (401 for none, a partner's token
//! or a wrong one), partners created with a secret shown once, scopes enforced at once on cached
//! tokens after a PATCH, rotation (both secrets, then the old one stops), revocation, config
//! partners read-only (409), 422 pointers, usage and audit, a change written by "another replica"
//! in force within a second, invites (GET reveals nothing, POST once), and the CLI.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::poll;
use crate::common::{spawn_app_with, TestApp};
use ats_sandbox::config::SandboxConfig;

pub struct Operated {
    pub app: TestApp,
    pub token: String,
}

/// The same, its state on a Postgres (`pg` must outlive it).
pub async fn spawn_operated_on(pg: &crate::common::postgres::PgServer) -> Operated {
    let (token, hash) = ats_gateway::operator::guard::create_operator_token();
    let url = pg.url();
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.operator.token_hashes = vec![hash];
        c.state.url = ats_gateway::config::SecretString::new(url.as_str());
    })
    .await;
    Operated { app, token }
}

pub async fn spawn_operated() -> Operated {
    let (token, hash) = ats_gateway::operator::guard::create_operator_token();
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.operator.token_hashes = vec![hash];
    })
    .await;
    Operated { app, token }
}

impl Operated {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .app
            .http
            .request(method, format!("{}{path}", self.app.ops_url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("operator call");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn create(&self, id: &str, scopes: &[&str]) -> Value {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/operator/v1/partners",
                Some(json!({"id": id, "name": format!("{id} Ltd"), "contact": "ops@example.com", "scopes": scopes, "companies": ["usmf"]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v
    }
}

pub async fn token_for(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/oauth2/token", app.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect("token request")
}

pub async fn access_token(app: &TestApp, client_id: &str, secret: &str) -> String {
    let r = token_for(app, client_id, secret).await;
    assert_eq!(r.status(), 200, "token for {client_id}");
    let v: Value = r.json().await.expect("json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[tokio::test]
async fn operator_calls_need_an_operator_token() {
    let op = spawn_operated().await;
    let url = format!("{}/operator/v1/partners", op.app.ops_url);
    let none = op.app.http.get(&url).send().await.expect("call");
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["content-type"],
        "application/problem+json",
        "a problem"
    );
    let partner = op.app.partner_token("acme-ats", None).await;
    let with_partner = op
        .app
        .http
        .get(&url)
        .bearer_auth(&partner)
        .send()
        .await
        .expect("call");
    assert_eq!(
        with_partner.status(),
        401,
        "a partner's token is no operator token"
    );
    let (wrong, _) = ats_gateway::operator::guard::create_operator_token();
    let with_wrong = op
        .app
        .http
        .get(&url)
        .bearer_auth(&wrong)
        .send()
        .await
        .expect("call");
    assert_eq!(with_wrong.status(), 401);
    // The right token twice (two Authorization headers) is ambiguous, as on partner routes.
    let doubled = op
        .app
        .http
        .get(&url)
        .header("authorization", format!("Bearer {}", op.token))
        .header("authorization", format!("Bearer {}", op.token))
        .send()
        .await
        .expect("call");
    assert_eq!(doubled.status(), 401, "two Authorization headers");
    // Refused calls are in the audit trail too (anonymous, 401). A refused call waits at most
    // 0.25 s for its record, so a slow disk may store it just after the answer.
    let refused = || async {
        let (_, trail) = op
            .call(reqwest::Method::GET, "/operator/v1/audit", None)
            .await;
        let n = trail["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter(|r| r["actor"] == "anonymous" && r["status"] == 401)
            .count();
        (n, trail)
    };
    crate::common::poll::holds_within(
        Duration::from_secs(10),
        "4 refused calls audited",
        || async { refused().await.0 >= 4 },
    )
    .await;
    let (n, trail) = refused().await;
    assert_eq!(n, 4, "{trail}");
    let (ok, list) = op
        .call(reqwest::Method::GET, "/operator/v1/partners", None)
        .await;
    assert_eq!(ok, 200);
    assert!(list["data"].as_array().is_some_and(|a| !a.is_empty()));
    // Never on the partner port.
    let on_partner = op
        .app
        .http
        .get(format!("{}/operator/v1/partners", op.app.url))
        .bearer_auth(&op.token)
        .send()
        .await
        .expect("call");
    assert_eq!(on_partner.status(), 404);
}

#[tokio::test]
async fn create_then_patch_rotate_and_revoke_take_effect_on_the_next_request() {
    create_then_patch_rotate_and_revoke_take_effect_on_the_next_request_on(&spawn_operated().await)
        .await;
}

async fn create_then_patch_rotate_and_revoke_take_effect_on_the_next_request_on(op: &Operated) {
    let created = op
        .create("newco", &["recruiting-requests:read", "reference:read"])
        .await;
    let secret = created["client_secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    assert!(secret.starts_with("atsgw_"));
    assert_eq!(created["client_id"], "newco");
    assert_eq!(created["managed_by"], "api");
    assert_eq!(created["secrets"].as_array().map(Vec::len), Some(1));
    let (_, again) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/newco", None)
        .await;
    assert!(again.get("client_secret").is_none(), "never shown again");
    assert!(!again.to_string().contains("argon2"), "no hashes either");

    let token = access_token(&op.app, "newco", &secret).await;
    assert_eq!(
        op.app.get("/v1/option-sets", &token, None).await.status(),
        200
    );
    // A scope taken away applies to the token already issued (and cached), on its next request.
    let (s, patched) = op
        .call(
            reqwest::Method::PATCH,
            "/operator/v1/partners/newco",
            Some(json!({"scopes": ["recruiting-requests:read"]})),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(
        op.app.get("/v1/option-sets", &token, None).await.status(),
        403
    );
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status(),
        200
    );

    // Rotate: both secrets work until the old one's expiry, then only the new one.
    let (s, rotated) = op
        .call(
            reqwest::Method::POST,
            "/operator/v1/partners/newco/secrets",
            Some(json!({"previous_expires_in": 2})),
        )
        .await;
    assert_eq!(s, 201, "{rotated}");
    let new_secret = rotated["client_secret"]
        .as_str()
        .expect("new secret")
        .to_string();
    assert_eq!(
        token_for(&op.app, "newco", &secret).await.status(),
        200,
        "old still works"
    );
    assert_eq!(
        token_for(&op.app, "newco", &new_secret).await.status(),
        200,
        "new works"
    );
    let (_, view) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/newco", None)
        .await;
    let secrets = view["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 2);
    assert!(
        secrets[0]["expires_at"].is_string(),
        "the old one expires: {view}"
    );
    assert!(secrets[1]["expires_at"].is_null());
    let stopped = poll::until(Duration::from_secs(6), || async {
        token_for(&op.app, "newco", &secret).await.status() == 401
    })
    .await;
    assert!(stopped.is_some(), "the old secret stops at its expiry");
    assert_eq!(token_for(&op.app, "newco", &new_secret).await.status(), 200);
    // Last use is counted in memory and flushed: the usage call flushes, the list then shows it.
    let (_, _) = op
        .call(
            reqwest::Method::GET,
            "/operator/v1/partners/newco/usage",
            None,
        )
        .await;
    let (_, view) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/newco", None)
        .await;
    assert!(view["secrets"][1]["last_used_at"].is_string(), "{view}");

    // Revoke one secret at once, then the partner: its token gets 401 on the next request.
    let old_id = view["secrets"][0]["id"].as_str().expect("id").to_string();
    let (s, _) = op
        .call(
            reqwest::Method::DELETE,
            &format!("/operator/v1/partners/newco/secrets/{old_id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status(),
        401,
        "the revoked secret's token ends with it"
    );
    let new_token = access_token(&op.app, "newco", &new_secret).await;
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &new_token, None)
            .await
            .status(),
        200,
        "the other secret's tokens stay"
    );
    let (s, _) = op
        .call(reqwest::Method::DELETE, "/operator/v1/partners/newco", None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status(),
        401
    );
    assert_eq!(token_for(&op.app, "newco", &new_secret).await.status(), 401);
    let (s, _) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/newco", None)
        .await;
    assert_eq!(s, 404);
    // A revoked id is never given out again: a token issued to it cannot open a new partner.
    let (s, v) = op
        .call(
            reqwest::Method::POST,
            "/operator/v1/partners",
            Some(json!({"id": "newco", "name": "Again", "scopes": ["recruiting-requests:read"], "companies": ["usmf"]})),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn rotation_with_zero_expiry_ends_the_old_secret_at_once() {
    let op = spawn_operated().await;
    let created = op.create("swift", &["reference:read"]).await;
    let old = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    // A token minted with the old secret before the rotation: it carries that secret's id.
    let old_token = access_token(&op.app, "swift", &old).await;
    assert_eq!(
        op.app
            .get("/v1/option-sets", &old_token, None)
            .await
            .status(),
        200
    );
    let (s, rotated) = op
        .call(
            reqwest::Method::POST,
            "/operator/v1/partners/swift/secrets",
            Some(json!({"previous_expires_in": 0})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(token_for(&op.app, "swift", &old).await.status(), 401);
    assert_eq!(
        op.app
            .get("/v1/option-sets", &old_token, None)
            .await
            .status(),
        401,
        "a token of the ended secret ends with it, not at its own expiry"
    );
    let new = rotated["client_secret"].as_str().expect("secret");
    assert_eq!(token_for(&op.app, "swift", new).await.status(), 200);
    let new_token = access_token(&op.app, "swift", new).await;
    assert_eq!(
        op.app
            .get("/v1/option-sets", &new_token, None)
            .await
            .status(),
        200
    );
    // A default rotation keeps at most two secrets live.
    for _ in 0..2 {
        let (s, _) = op
            .call(
                reqwest::Method::POST,
                "/operator/v1/partners/swift/secrets",
                None,
            )
            .await;
        assert_eq!(s, 201);
    }
    let (_, view) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/swift", None)
        .await;
    let live = view["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .filter(|s| s["live"] == true)
        .count();
    assert_eq!(live, 2, "{view}");
}

#[tokio::test]
async fn config_partners_are_listed_and_refuse_changes() {
    let op = spawn_operated().await;
    let (_, list) = op
        .call(reqwest::Method::GET, "/operator/v1/partners", None)
        .await;
    let acme = list["data"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] == "acme-ats"))
        .expect("config partner listed");
    assert_eq!(acme["managed_by"], "config");
    for (method, path, body) in [
        (
            reqwest::Method::PATCH,
            "/operator/v1/partners/acme-ats",
            Some(json!({"disabled": true})),
        ),
        (
            reqwest::Method::DELETE,
            "/operator/v1/partners/acme-ats",
            None,
        ),
        (
            reqwest::Method::POST,
            "/operator/v1/partners/acme-ats/secrets",
            None,
        ),
    ] {
        let (s, v) = op.call(method, path, body).await;
        assert_eq!(s, 409, "{v}");
        assert!(
            v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("configuration")),
            "{v}"
        );
    }
    // Creating one with a config partner's id is refused too.
    let (s, _) = op
        .call(reqwest::Method::POST, "/operator/v1/partners", Some(json!({"id": "acme-ats", "name": "x", "scopes": ["reference:read"], "companies": ["*"]})))
        .await;
    assert_eq!(s, 409);
    let token = op.app.partner_token("acme-ats", None).await;
    assert_eq!(
        op.app.get("/v1/option-sets", &token, None).await.status(),
        200,
        "still served"
    );
}

#[tokio::test]
async fn bad_bodies_are_422_with_pointers() {
    let op = spawn_operated().await;
    let (s, v) = op
        .call(
            reqwest::Method::POST,
            "/operator/v1/partners",
            Some(json!({"id": "Bad Id", "name": "x", "scopes": ["pii:write"], "companies": [], "colour": "red", "rate_limit": {"per_second": 0, "burst": 5}})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let pointers: Vec<&str> = v["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    for p in [
        "/id",
        "/scopes/0",
        "/companies",
        "/colour",
        "/rate_limit/per_second",
    ] {
        assert!(pointers.contains(&p), "{p} in {pointers:?}");
    }
    op.create("ok-co", &["reference:read"]).await;
    let (s, v) = op
        .call(
            reqwest::Method::PATCH,
            "/operator/v1/partners/ok-co",
            Some(json!({"client_id": "other", "disabled": "yes"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, _) = op
        .call(
            reqwest::Method::POST,
            "/operator/v1/partners/ok-co/secrets",
            Some(json!({"previous_expires_in": -1})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = op
        .call(reqwest::Method::GET, "/operator/v1/audit?limit=0", None)
        .await;
    assert_eq!(s, 400);
}

impl Operated {
    /// A body sent as it is, with `content_type` if any.
    pub async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> (u16, Option<String>, Value) {
        let mut req = self
            .app
            .http
            .request(method, format!("{}{path}", self.app.ops_url))
            .bearer_auth(&self.token)
            .body(body.to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.expect("operator call");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, ct, resp.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_member_repeated_in_an_operator_body_is_422_at_its_pointer() {
    let op = spawn_operated().await;
    let post = reqwest::Method::POST;
    let json_ct = Some("application/json");
    // Two `id`s: refused at the pointer (it used to create the last one, p5).
    let (s, _, v) = op
        .call_raw(
            post.clone(),
            "/operator/v1/partners",
            json_ct,
            r#"{"id":"p4","id":"p5","name":"P","scopes":["reference:read"],"companies":["usmf"]}"#,
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["errors"][0]["pointer"], "/id", "{v}");
    // Nested, and inside an invite's partner.
    let (s, _, v) = op
        .call_raw(
            post.clone(),
            "/operator/v1/partners",
            json_ct,
            r#"{"id":"p6","name":"P","scopes":["reference:read"],"companies":["usmf"],"rate_limit":{"per_second":1,"burst":2,"burst":3}}"#,
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["pointer"], "/rate_limit/burst", "{v}");
    let (s, _, v) = op
        .call_raw(
            post.clone(),
            "/operator/v1/invites",
            json_ct,
            r#"{"partner":{"id":"p7","id":"p8","name":"P","scopes":["reference:read"],"companies":["usmf"]}}"#,
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["pointer"], "/partner/id", "{v}");

    let (_, list) = op
        .call(reqwest::Method::GET, "/operator/v1/partners", None)
        .await;
    for id in ["p4", "p5", "p6"] {
        assert!(
            !list["data"]
                .as_array()
                .expect("data")
                .iter()
                .any(|p| p["id"] == id),
            "{id} created: {list}"
        );
    }
}

#[tokio::test]
async fn an_operator_body_not_sent_as_json_is_415() {
    let op = spawn_operated().await;
    let post = reqwest::Method::POST;
    // Not JSON by its media type, or without one: 415 (each used to create p9).
    let good = r#"{"id":"p9","name":"P","scopes":["reference:read"],"companies":["usmf"]}"#;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (s, problem_ct, v) = op
            .call_raw(post.clone(), "/operator/v1/partners", ct, good)
            .await;
        assert_eq!(s, 415, "{ct:?}: {v}");
        assert_eq!(problem_ct.as_deref(), Some("application/problem+json"));
        assert!(
            v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("/problems/unsupported-media-type")),
            "{v}"
        );
    }
    let (s, _, v) = op
        .call_raw(
            reqwest::Method::PATCH,
            "/operator/v1/partners/acme-ats",
            Some("text/plain"),
            r#"{"disabled":true}"#,
        )
        .await;
    assert_eq!(s, 415, "{v}");
    let (_, list) = op
        .call(reqwest::Method::GET, "/operator/v1/partners", None)
        .await;
    assert!(
        !list["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|p| p["id"] == "p9"),
        "p9 created: {list}"
    );

    // JSON with parameters is JSON; no body at all is still `{}` where every field is optional.
    let (s, _, v) = op
        .call_raw(
            post.clone(),
            "/operator/v1/partners",
            Some("application/json; charset=utf-8"),
            good,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, _, v) = op
        .call_raw(post, "/operator/v1/partners/p9/secrets", None, "")
        .await;
    assert_eq!(s, 201, "{v}");
}

#[tokio::test]
async fn usage_counts_requests_errors_and_upstream_calls_and_the_audit_trail_names_who_did_what() {
    usage_counts_requests_errors_and_upstream_calls_and_the_audit_trail_names_who_did_what_on(
        &spawn_operated().await,
    )
    .await;
}

async fn usage_counts_requests_errors_and_upstream_calls_and_the_audit_trail_names_who_did_what_on(
    op: &Operated,
) {
    let created = op.create("meter", &["recruiting-requests:read"]).await;
    let token = access_token(
        &op.app,
        "meter",
        created["client_secret"].as_str().expect("secret"),
    )
    .await;
    // A page size no other flow asks for: the first call reaches Dataverse (not the cache).
    for _ in 0..3 {
        assert_eq!(
            op.app
                .get("/v1/recruiting-requests?page_size=3", &token, None)
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        op.app.get("/v1/option-sets", &token, None).await.status(),
        403
    );
    let (s, u) = op
        .call(
            reqwest::Method::GET,
            "/operator/v1/partners/meter/usage",
            None,
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["totals"]["requests"], 4, "{u}");
    assert_eq!(u["totals"]["errors"], 1);
    assert!(
        u["totals"]["upstream_calls"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{u}"
    );
    assert_eq!(u["hours"][0]["errors_by_status"]["403"], 1);
    assert!(u["last_seen"].is_string());

    op.call(
        reqwest::Method::PATCH,
        "/operator/v1/partners/meter",
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status(),
        401,
        "disabled at once"
    );
    let (s, a) = op
        .call(
            reqwest::Method::GET,
            "/operator/v1/audit?partner=meter",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let actions: Vec<&str> = a["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "PATCH /operator/v1/partners/{id}",
            "GET /operator/v1/partners/{id}/usage",
            "POST /operator/v1/partners"
        ],
        "newest first"
    );
    let first = &a["data"][0];
    assert!(first["actor"]
        .as_str()
        .is_some_and(|s| s.starts_with("operator-token:")));
    assert_eq!(first["detail"]["disabled"], true);
    assert!(
        !a.to_string().contains("atsgw_"),
        "no secret in the audit trail"
    );
}

/// A change written to the shared state by another replica (here: straight into the store, as a
/// second gateway would) is in force here within a second, for a token already verified.
#[tokio::test]
async fn a_change_from_another_replica_is_in_force_within_a_second() {
    let op = spawn_operated().await;
    let created = op.create("elsewhere", &["recruiting-requests:read"]).await;
    let token = access_token(
        &op.app,
        "elsewhere",
        created["client_secret"].as_str().expect("secret"),
    )
    .await;
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status(),
        200
    );
    let store = op.app.gateway.state.operator.store.clone();
    let deleted = store.delete_partner("elsewhere").await.expect("store");
    assert!(deleted.is_ok());
    let took = poll::until(Duration::from_secs(3), || async {
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status()
            == 401
    })
    .await
    .expect("revoked by the other replica's write");
    eprintln!("store change in force after {took:?}");
    assert!(took < Duration::from_secs(1), "in force after {took:?}");
}

fn secret_in(html: &str) -> Option<String> {
    let start = html.find("atsgw_")?;
    let rest = &html[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

pub async fn invite(op: &Operated, body: Value) -> String {
    let (s, v) = op
        .call(reqwest::Method::POST, "/operator/v1/invites", Some(body))
        .await;
    assert_eq!(s, 201, "{v}");
    v["url"].as_str().expect("url").to_string()
}

#[tokio::test]
async fn no_invite_is_made_for_a_revoked_partners_id() {
    let op = spawn_operated().await;
    op.create("gone", &["reference:read"]).await;
    let (s, _) = op
        .call(reqwest::Method::DELETE, "/operator/v1/partners/gone", None)
        .await;
    assert_eq!(s, 204);
    // The id is a tombstone: an invite for it could only end in 409 after spending the link.
    let (s, v) = op
        .call(
            reqwest::Method::POST,
            "/operator/v1/invites",
            Some(json!({"partner": {"id": "gone", "name": "Gone again", "scopes": ["reference:read"], "companies": ["usmf"]}})),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("revoked"),
        "{v}"
    );
}

#[tokio::test]
async fn an_invite_link_reveals_nothing_on_get_and_the_credentials_once_on_post() {
    an_invite_link_reveals_nothing_on_get_and_the_credentials_once_on_post_on(
        &spawn_operated().await,
    )
    .await;
}

async fn an_invite_link_reveals_nothing_on_get_and_the_credentials_once_on_post_on(op: &Operated) {
    let url = invite(
        op,
        json!({"partner": {"id": "invited", "name": "Invited AS", "scopes": ["recruiting-requests:read", "reference:read"], "companies": ["usmf"]}}),
    )
    .await;
    assert!(
        url.starts_with(&op.app.url),
        "on the partner listener: {url}"
    );
    for _ in 0..2 {
        let page = op.app.http.get(&url).send().await.expect("get");
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.expect("html");
        assert!(html.contains("Invited AS"));
        assert!(html.contains("Read recruiting requests"), "scopes in words");
        assert!(secret_in(&html).is_none(), "a GET reveals nothing");
    }
    let nb = op
        .app
        .http
        .get(&url)
        .header("Accept-Language", "nb-NO")
        .send()
        .await
        .expect("get");
    assert!(nb
        .text()
        .await
        .expect("html")
        .contains("Lag påloggingsopplysningene mine"));
    let (s, _) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/invited", None)
        .await;
    assert_eq!(s, 404, "nothing created before the reveal");

    let revealed = op.app.http.post(&url).send().await.expect("post");
    assert_eq!(revealed.status(), 200);
    let html = revealed.text().await.expect("html");
    let secret = secret_in(&html).expect("the secret, once");
    assert!(html.contains("only time you will see the secret"));
    let token = access_token(&op.app, "invited", &secret).await;
    assert_eq!(
        op.app
            .get("/v1/recruiting-requests?page_size=1", &token, None)
            .await
            .status(),
        200
    );

    let again = op.app.http.post(&url).send().await.expect("post");
    assert_eq!(again.status(), 410);
    assert!(secret_in(&again.text().await.expect("html")).is_none());
    let reload = op.app.http.get(&url).send().await.expect("get");
    assert_eq!(reload.status(), 410);

    // An invite for an existing partner gives it a new secret; the old one keeps working.
    let url = invite(op, json!({"partner_id": "invited"})).await;
    let html = op
        .app
        .http
        .post(&url)
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("html");
    let second = secret_in(&html).expect("new secret");
    assert_ne!(second, secret);
    assert_eq!(token_for(&op.app, "invited", &second).await.status(), 200);
    assert_eq!(token_for(&op.app, "invited", &secret).await.status(), 200);

    // Config partners get no invites; unknown links say so.
    let (s, _) = op
        .call(
            reqwest::Method::POST,
            "/operator/v1/invites",
            Some(json!({"partner_id": "acme-ats"})),
        )
        .await;
    assert_eq!(s, 409);
    let unknown = op
        .app
        .http
        .get(format!("{}/onboarding/nope", op.app.url))
        .send()
        .await
        .expect("get");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn an_expired_invite_reveals_nothing() {
    let op = spawn_operated().await;
    let url = invite(
        &op,
        json!({"partner": {"id": "late", "name": "Late AS", "scopes": ["reference:read"], "companies": ["*"]}, "expires_in": 1}),
    )
    .await;
    let expired = poll::until(Duration::from_secs(4), || async {
        op.app.http.get(&url).send().await.expect("get").status() == 410
    })
    .await;
    assert!(expired.is_some(), "the link expires");
    let post = op.app.http.post(&url).send().await.expect("post");
    assert_eq!(post.status(), 410);
    assert!(secret_in(&post.text().await.expect("html")).is_none());
}

/// A gateway with an operator, and an invite link for a new partner `id` (`reference:read`).
async fn operated_with_an_invite(id: &str) -> (Operated, String) {
    let op = spawn_operated().await;
    let url = invite(
        &op,
        json!({"partner": {"id": id, "name": format!("{id} AS"), "scopes": ["reference:read"], "companies": ["usmf"]}}),
    )
    .await;
    (op, url)
}

/// The invite page runs only its own inline style and script, allowed by hash (no
/// `'unsafe-inline'`: escaped text that ever slipped could not run script beside a secret).
#[tokio::test]
async fn the_invite_page_runs_only_its_own_inline_style_and_script() {
    use base64::Engine;
    use sha2::Digest;
    let (op, url) = operated_with_an_invite("hashed").await;
    let hash = |text: &str| {
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()))
        )
    };
    for page in [
        op.app.http.get(&url).send().await.expect("get"),
        op.app
            .http
            .get(format!("{}/onboarding/nope", op.app.url))
            .send()
            .await
            .expect("get"),
    ] {
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_string();
        let html = page.text().await.expect("html");
        let inline = |open: &str, close: &str| {
            let start = html.find(open).expect(open) + open.len();
            let end = start + html[start..].find(close).expect(close);
            html[start..end].to_string()
        };
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(
            csp.contains(&format!(
                "script-src {};",
                hash(&inline("<script>", "</script>"))
            )),
            "{csp}"
        );
        assert!(
            csp.contains(&format!(
                "style-src {};",
                hash(&inline("<style>", "</style>"))
            )),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
}

/// No answer on an invite's path writes its token out: a problem's `instance` (a 405 here; a 503
/// while the state store is away) names the route template, as the log does.
#[tokio::test]
async fn no_problem_on_an_invite_path_names_the_token() {
    let (op, url) = operated_with_an_invite("quiet").await;
    let token = url.rsplit('/').next().expect("token").to_string();
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let r = op
            .app
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 405, "{method}");
        let body = r.text().await.expect("body");
        assert!(!body.contains(&token), "{method}: {body}");
        assert!(
            body.contains("\"instance\":\"/onboarding/{token}\""),
            "{method}: {body}"
        );
    }
    // Still the live invite it was.
    assert_eq!(
        op.app.http.get(&url).send().await.expect("get").status(),
        200
    );
}

#[tokio::test]
async fn the_cli_adds_lists_and_revokes_through_the_api() {
    let op = spawn_operated().await;
    let run = |args: Vec<String>| {
        let token = op.token.clone();
        let ops = op.app.ops_url.clone();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
                .arg("partners")
                .args(&args)
                .env("ATS_GATEWAY_OPERATOR_TOKEN", token)
                .env("ATS_GATEWAY_OPS_URL", ops)
                .output()
                .await
                .expect("cli runs");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let (ok, out, err) = run(args(
        "add --id clico --name Cli --scope reference:read --company usmf --json",
    ))
    .await;
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    let secret = v["client_secret"].as_str().expect("secret");
    assert_eq!(token_for(&op.app, "clico", secret).await.status(), 200);
    let (ok, table, _) = run(args("list")).await;
    assert!(ok);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("clico") && l.contains("api")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("acme-ats") && l.contains("config")),
        "{table}"
    );
    let (ok, out, _) = run(args("invite --partner-id clico")).await;
    assert!(ok);
    assert!(out.contains("/onboarding/"), "{out}");
    let (ok, out, err) = run(args("rotate clico --previous-expires-in 0")).await;
    assert!(ok, "{err}");
    let rotated = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret:"))
        .map(str::trim)
        .expect("the new secret, once")
        .to_string();
    assert_eq!(
        token_for(&op.app, "clico", secret).await.status(),
        401,
        "old one ended"
    );
    assert_eq!(token_for(&op.app, "clico", &rotated).await.status(), 200);
    let (ok, out, err) = run(args(
        "update clico --scope reference:read --scope recruiting-requests:read",
    ))
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("recruiting-requests:read"), "{out}");
    let (ok, _, err) = run(args("update acme-ats --disable")).await;
    assert!(!ok);
    assert!(err.contains("409"), "{err}");
    let (ok, out, _) = run(args("revoke clico")).await;
    assert!(ok, "{out}");
    assert_eq!(token_for(&op.app, "clico", &rotated).await.status(), 401);
}

/// Two gateways on one Postgres: a partner created on one can get a token on the other, and a
/// revoke on the first is in force on the second (its cached token included) within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_on_one_replica_is_in_force_on_the_other_within_a_second() {
    use crate::common::postgres::PgServer;
    use crate::common::{emulator, spawn_replica};
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let url = pg.url();
    let emu = emulator().await;
    let (token, hash) = ats_gateway::operator::guard::create_operator_token();
    let shared = |c: &mut ats_gateway::config::Config| {
        c.state.url = ats_gateway::config::SecretString::new(url.as_str());
        c.operator.token_hashes = vec![hash.clone()];
    };
    let a = spawn_replica(&emu, shared).await;
    let b = spawn_replica(&emu, shared).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/operator/v1/partners", a.ops_url))
        .bearer_auth(&token)
        .json(&json!({"id": "shared", "name": "Shared AS", "scopes": ["recruiting-requests:read"], "companies": ["usmf"]}))
        .send()
        .await
        .expect("create on a")
        .json()
        .await
        .expect("json");
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "shared"),
        ("client_secret", secret.as_str()),
    ];
    // Polled (bounded) until b knows the partner created on a.
    let start = Instant::now();
    let mut access = None;
    while access.is_none() && start.elapsed() < Duration::from_secs(3) {
        let r = http
            .post(format!("{}/oauth2/token", b.url))
            .form(&form)
            .send()
            .await
            .expect("token on b");
        if r.status() == 200 {
            let v: Value = r.json().await.expect("json");
            access = v["access_token"].as_str().map(str::to_string);
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let seen = start.elapsed();
    assert!(seen < Duration::from_secs(1), "known to b after {seen:?}");
    let access = access.expect("token");
    let list = format!("{}/v1/recruiting-requests?page_size=1", b.url);
    let ok = http
        .get(&list)
        .bearer_auth(&access)
        .send()
        .await
        .expect("call b");
    assert_eq!(ok.status(), 200);
    let revoked = http
        .delete(format!("{}/operator/v1/partners/shared", a.ops_url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("revoke on a");
    assert_eq!(revoked.status(), 204);
    let took = poll::until(Duration::from_secs(3), || {
        let req = http.get(&list).bearer_auth(&access).send();
        async move { req.await.expect("call b").status() == 401 }
    })
    .await
    .expect("revoked on b");
    eprintln!("partner known to b after {seen:?}; revoke in force on b after {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "in force on b after {took:?}"
    );
    // Both replicas list the same partners, and the audit trail is shared.
    let audit: Value = http
        .get(format!("{}/operator/v1/audit?partner=shared", b.ops_url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("audit on b")
        .json()
        .await
        .expect("json");
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "DELETE /operator/v1/partners/{id}",
            "POST /operator/v1/partners"
        ]
    );
}

/// An external issuer's users with the operator role are operators (audited by their `sub`); the
/// same issuer's token without the role, or an expired one, is a 401.
#[tokio::test]
async fn an_external_issuers_user_with_the_operator_role_is_an_operator() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use p256::elliptic_curve::sec1::ToSec1Point;
    use p256::elliptic_curve::Generate;
    use p256::pkcs8::EncodePrivateKey;

    let secret = p256::SecretKey::generate();
    let point = secret.public_key().to_sec1_point(false);
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "ops-1",
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
    }]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let jwks_url = format!("http://{}/keys", listener.local_addr().expect("addr"));
    let idp = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, idp).await;
    });
    let key = EncodingKey::from_ec_der(secret.to_pkcs8_der().expect("der").as_bytes());
    let token = |roles: Value, exp_in: i64| {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": "https://idp.example/ops", "aud": "ats-gateway-ops", "sub": "kari@example.com",
            "roles": roles, "iat": now, "exp": now + exp_in});
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("ops-1".into());
        jsonwebtoken::encode(&h, &claims, &key).expect("encode")
    };
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.operator.jwt = Some(ats_gateway::operator::config::OperatorJwtConfig {
            issuer: "https://idp.example/ops".into(),
            jwks_url,
            audience: "ats-gateway-ops".into(),
            algorithms: vec!["ES256".into()],
            role_claim: "roles".into(),
            role: "ats-gateway.operator".into(),
            jwks_stale_max_secs: 86_400,
        });
    })
    .await;
    let url = format!("{}/operator/v1/partners", app.ops_url);
    let call = |t: String| app.http.get(&url).bearer_auth(t).send();
    let ok = call(token(json!(["Reader", "ats-gateway.operator"]), 300))
        .await
        .expect("call");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        call(token(json!(["Reader"]), 300))
            .await
            .expect("call")
            .status(),
        401,
        "no role"
    );
    assert_eq!(
        call(token(json!(["ats-gateway.operator"]), -120))
            .await
            .expect("call")
            .status(),
        401,
        "expired"
    );
    let audit: Value = call(token(json!("ats-gateway.operator"), 300))
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    assert!(audit["data"].is_array());
    let trail: Value = app
        .http
        .get(format!("{}/operator/v1/audit", app.ops_url))
        .bearer_auth(token(json!(["ats-gateway.operator"]), 300))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    assert_eq!(trail["data"][0]["actor"], "jwt:kari@example.com", "{trail}");
}

/// Credentials never reach the log: not the operator token, not an invite link's token, not the
/// secret the page reveals (request spans name the route template `/onboarding/{token}`).
#[tokio::test]
async fn no_token_or_secret_is_logged() {
    crate::common::logs::capture();
    let (op, url) = operated_with_an_invite("quiet").await;
    let token = url.rsplit('/').next().expect("token").to_string();
    assert_eq!(
        op.app.http.get(&url).send().await.expect("get").status(),
        200
    );
    let html = op
        .app
        .http
        .post(&url)
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("html");
    let secret = secret_in(&html).expect("secret");
    let created = op.create("quiet-2", &["reference:read"]).await;
    let other = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let logs = crate::common::logs::text();
    assert!(
        logs.contains("/onboarding/{token}"),
        "the request was logged"
    );
    for (what, s) in [
        ("invite token", &token),
        ("revealed secret", &secret),
        ("created secret", &other),
        ("operator token", &op.token),
    ] {
        assert!(!logs.contains(s.as_str()), "{what} in the log");
    }
}

/// A mistyped operator token hash stops the start, naming the key (not a silent lock-out).
#[tokio::test]
async fn a_bad_operator_token_hash_is_a_start_error_naming_the_key() {
    let emu = crate::common::emulator().await;
    let mut config = crate::common::gateway_config(&emu);
    let (_, good) = ats_gateway::operator::guard::create_operator_token();
    config.operator.token_hashes = vec![good, "not-a-hash".into()];
    let state = tempfile::tempdir().expect("dir");
    config.state.path = Some(state.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = ats_gateway::app::start(config, listener)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("operator.token_hashes[1]"), "{err}");
}

/// The partner lifecycle, usage and audit, and invites again with the state on Postgres.
#[tokio::test]
async fn the_same_flows_on_postgres() {
    let pg = tokio::task::spawn_blocking(crate::common::postgres::PgServer::start)
        .await
        .expect("pg");
    let op = spawn_operated_on(&pg).await;
    assert!(op.app.gateway.state.postgres.is_some());
    create_then_patch_rotate_and_revoke_take_effect_on_the_next_request_on(&op).await;
    usage_counts_requests_errors_and_upstream_calls_and_the_audit_trail_names_who_did_what_on(&op)
        .await;
    an_invite_link_reveals_nothing_on_get_and_the_credentials_once_on_post_on(&op).await;
}

/// `state migrate` carries partners made through the operator API (and their secret hashes) from
/// a running single replica's SQLite into Postgres: a replica on Postgres issues tokens for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_migrate_carries_operator_made_partners_to_postgres() {
    use ats_gateway::store::migrate_state::migrate;
    let op = spawn_operated().await;
    let created = op.create("moving-co", &["reference:read"]).await;
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let pg = tokio::task::spawn_blocking(crate::common::postgres::PgServer::start)
        .await
        .expect("pg");
    let from = format!("sqlite://{}", op.app.state_dir.path().display());
    let report = migrate(&from, &pg.url(), false).await.expect("migrate");
    let copied = |t: &str| report.iter().find(|c| c.table == t).map(|c| c.copied);
    assert_eq!(copied("partners"), Some(1), "{report:?}");
    assert_eq!(copied("partner_secrets"), Some(1), "{report:?}");
    assert!(copied("operator_audit").unwrap_or(0) >= 1, "{report:?}");

    let url = pg.url();
    let replica = crate::common::spawn_replica(&op.app.emu, |c| {
        c.state.url = ats_gateway::config::SecretString::new(url.as_str());
    })
    .await;
    let resp = op
        .app
        .http
        .post(format!("{}/oauth2/token", replica.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "moving-co"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200, "the migrated partner's secret works");
    let wrong = op
        .app
        .http
        .post(format!("{}/oauth2/token", replica.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "moving-co"),
            ("client_secret", "atsgw_not-the-secret"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(wrong.status(), 401);
}

/// The operator API's GET routes follow the partner API's query rules (one parser): an empty,
/// repeated, unknown or non-UTF-8 parameter is a 400 `invalid-parameter` naming it. `partner=`
/// used to list nothing, a repeated `limit` took the last value, and unknown parameters were
/// ignored everywhere but `/audit`.
#[tokio::test]
async fn operator_query_parameters_follow_the_partner_apis_rules() {
    let op = spawn_operated().await;
    for (path, name, says) in [
        (
            "/operator/v1/audit?partner=",
            "partner",
            "must not be empty",
        ),
        ("/operator/v1/audit?limit=", "limit", "must not be empty"),
        (
            "/operator/v1/audit?partner=acme-ats&partner=tiny-board",
            "partner",
            "is given more than once",
        ),
        (
            "/operator/v1/audit?limit=5&limit=7",
            "limit",
            "is given more than once",
        ),
        (
            "/operator/v1/audit?bogus=1",
            "bogus",
            "is not a parameter of this route (allowed: partner, limit)",
        ),
        ("/operator/v1/audit?partner=%ff", "partner", "UTF-8"),
        (
            "/operator/v1/partners?bogus=1",
            "bogus",
            "is not a parameter of this route",
        ),
        (
            "/operator/v1/partners/acme-ats?bogus=1",
            "bogus",
            "is not a parameter of this route",
        ),
        (
            "/operator/v1/partners/acme-ats/usage?bogus=",
            "bogus",
            "is not a parameter of this route",
        ),
    ] {
        let (s, v) = op.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 400, "{path}: {v}");
        assert!(
            v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("/invalid-parameter")),
            "{path}: {v}"
        );
        assert_eq!(
            v["errors"][0]["pointer"],
            format!("#/{name}"),
            "{path}: {v}"
        );
        let detail = v["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(name) && detail.contains(says),
            "{path}: {v}"
        );
    }
    let (s, v) = op
        .call(
            reqwest::Method::GET,
            "/operator/v1/audit?partner=acme-ats&limit=5",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

/// The operator API's writes take no query parameters: one is a 400 naming it and nothing
/// changes. They used to be ignored, so `?dry_run=true` created the partner, `?force=1` revoked it.
#[tokio::test]
async fn operator_writes_refuse_query_parameters_and_change_nothing() {
    let op = spawn_operated().await;
    op.create("keep", &["reference:read"]).await;
    let (_, before) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/keep", None)
        .await;
    let secret_id = before["secrets"][0]["id"].as_str().expect("secret id");
    let new_partner = json!({"id": "fresh", "name": "Fresh Ltd", "contact": "ops@example.com", "scopes": ["reference:read"], "companies": ["usmf"]});
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/operator/v1/partners?dry_run=true".to_string(),
            Some(new_partner.clone()),
        ),
        (
            reqwest::Method::PATCH,
            "/operator/v1/partners/keep?dry_run=true".to_string(),
            Some(json!({"name": "Changed"})),
        ),
        (
            reqwest::Method::DELETE,
            "/operator/v1/partners/keep?dry_run=true".to_string(),
            None,
        ),
        (
            reqwest::Method::POST,
            "/operator/v1/partners/keep/secrets?dry_run=true".to_string(),
            Some(json!({})),
        ),
        (
            reqwest::Method::DELETE,
            format!("/operator/v1/partners/keep/secrets/{secret_id}?dry_run=true"),
            None,
        ),
        (
            reqwest::Method::POST,
            "/operator/v1/invites?dry_run=true".to_string(),
            Some(json!({"partner": new_partner.clone()})),
        ),
    ] {
        let (s, v) = op.call(method.clone(), &path, body).await;
        assert_eq!(s, 400, "{method} {path}: {v}");
        assert_eq!(
            v["errors"][0]["pointer"], "#/dry_run",
            "{method} {path}: {v}"
        );
    }
    let (_, after) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/keep", None)
        .await;
    assert_eq!(after, before, "the partner is unchanged");
    let (s, _) = op
        .call(reqwest::Method::GET, "/operator/v1/partners/fresh", None)
        .await;
    assert_eq!(s, 404, "no partner was created");
}

/// Ops problems carry a request id and a trace id (the caller's acceptable id, else a new one),
/// as partner problems do; both used to be `""` without `X-Request-Id`.
#[tokio::test]
async fn ops_problems_carry_a_request_id_and_a_trace_id() {
    let op = spawn_operated().await;
    let r = op
        .app
        .http
        .get(format!("{}/operator/v1/partners/nobody", op.app.ops_url))
        .bearer_auth(&op.token)
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), 404);
    let header = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let v: Value = r.json().await.expect("problem");
    assert!(!header.is_empty(), "{v}");
    assert_eq!(v["request_id"], header.as_str(), "{v}");
    assert_eq!(v["trace_id"].as_str().map(str::len), Some(32), "{v}");
    let r = op
        .app
        .http
        .get(format!("{}/nowhere", op.app.ops_url))
        .header("x-request-id", "ops-req-1")
        .send()
        .await
        .expect("call");
    assert_eq!(r.headers()["x-request-id"], "ops-req-1");
    let v: Value = r.json().await.expect("problem");
    assert_eq!(v["request_id"], "ops-req-1", "{v}");
}

/// RFC 6750 §3.1: a request that carried no authentication gets a challenge without an error
/// code, on both listeners; a bad token gets `error="invalid_token"`.
#[tokio::test]
async fn a_challenge_names_an_error_only_when_a_token_was_sent() {
    let op = spawn_operated().await;
    let challenge = |r: &reqwest::Response| {
        r.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let ops = format!("{}/operator/v1/partners", op.app.ops_url);
    let partner = format!("{}/v1/option-sets", op.app.url);
    for url in [&ops, &partner] {
        let none = op.app.http.get(url).send().await.expect("call");
        assert_eq!(none.status(), 401);
        assert_eq!(challenge(&none), "Bearer realm=\"ats-gateway\"", "{url}");
        let basic = op
            .app
            .http
            .get(url)
            .basic_auth("a", Some("b"))
            .send()
            .await
            .expect("call");
        assert_eq!(challenge(&basic), "Bearer realm=\"ats-gateway\"", "{url}");
        let bad = op
            .app
            .http
            .get(url)
            .bearer_auth("not-a-token")
            .send()
            .await
            .expect("call");
        assert_eq!(bad.status(), 401);
        assert!(
            challenge(&bad).contains("error=\"invalid_token\""),
            "{url}: {}",
            challenge(&bad)
        );
    }
}

/// Body messages say what the rule is: the range an invite's `expires_in` takes, "must be" for
/// a rate limit given wrong (not "is required"), and a PATCH's allowed list without the fields
/// it refuses to change.
#[tokio::test]
async fn body_messages_state_the_rule_that_applies() {
    let op = spawn_operated().await;
    op.create("msg-co", &["reference:read"]).await;
    let message = |v: &Value, pointer: &str| {
        v["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["pointer"] == pointer || e["pointer"] == format!("#{pointer}"))
            .and_then(|e| e["detail"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let mut seen = Vec::new();
    for n in [json!(0), json!(-1), json!(1.5)] {
        let (s, v) = op
            .call(
                reqwest::Method::POST,
                "/operator/v1/invites",
                Some(json!({"partner_id": "msg-co", "expires_in": n})),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        seen.push(message(&v, "/expires_in"));
    }
    assert!(seen[0].contains("from 1 to "), "{seen:?}");
    assert!(seen.iter().all(|m| *m == seen[0]), "{seen:?}");
    for n in [json!(-5), json!(1.5), json!("10")] {
        let (s, v) = op
            .call(
                reqwest::Method::PATCH,
                "/operator/v1/partners/msg-co",
                Some(json!({"rate_limit": {"per_second": n, "burst": 5}})),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(
            message(&v, "/rate_limit/per_second"),
            "must be a whole number from 1 to 10000",
            "{n}: {v}"
        );
    }
    let (_, v) = op
        .call(
            reqwest::Method::PATCH,
            "/operator/v1/partners/msg-co",
            Some(json!({"rate_limit": {"burst": 5}})),
        )
        .await;
    assert!(
        message(&v, "/rate_limit/per_second").starts_with("is required"),
        "{v}"
    );
    let (s, v) = op
        .call(
            reqwest::Method::PATCH,
            "/operator/v1/partners/msg-co",
            Some(json!({"client_id": "other", "colour": "red"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        message(&v, "/client_id").contains("cannot be changed"),
        "{v}"
    );
    let colour = message(&v, "/colour");
    assert!(
        colour.contains("allowed: ") && colour.contains("name"),
        "{v}"
    );
    assert!(
        !colour.contains("client_id") && !colour.contains(" id,"),
        "{colour}"
    );
}
