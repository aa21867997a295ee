//! Partner identity and authorization over real HTTP: a small app made of `auth::router()` plus a
//! dummy `/v1/ping` route protected by `Principal` + `require(Scope::ReferenceRead)`.

use crate::common;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ats_gateway::auth::{
    self, AuthConfig, AuthService, ExternalIssuerConfig, PartnerConfig, Principal, RateLimitConfig,
    Scope,
};
use ats_gateway::problem::ApiError;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use p256::SecretKey;
use serde_json::{json, Value};

const ACME_ORIGIN: &str = "https://jobs.acme.example";

// ---------------------------------------------------------------- fixtures

struct Client {
    id: String,
    secret: String,
}

fn partner(id: &str, scopes: &[Scope], burst: u32) -> (PartnerConfig, Client) {
    let (secret, hash) = auth::create_partner_secret();
    let cfg = PartnerConfig {
        id: id.into(),
        display_name: format!("{id} Inc."),
        client_id: format!("{id}-client"),
        client_secret_hashes: vec![hash],
        scopes: scopes.to_vec(),
        companies: vec!["usmf".into()],
        rate_limit: RateLimitConfig {
            per_second: 1,
            burst,
        },
        cors_origins: vec![format!("https://jobs.{id}.example")],
        disabled: false,
    };
    let client = Client {
        id: cfg.client_id.clone(),
        secret,
    };
    (cfg, client)
}

struct App {
    url: String,
    auth: Arc<AuthService>,
    http: reqwest::Client,
    /// The gateway's signing key, so tests can forge correctly signed tokens with bad claims.
    key: EncodingKey,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "atsgw-auth-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).expect("tempdir");
        Self(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn ping(p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(Scope::ReferenceRead)?;
    ats_gateway::ops::upstream_calls::record();
    Ok(Json(json!({
        "partner": p.partner_id,
        "pii": p.pii,
        "scopes": p.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "companies": p.companies,
    })))
}

async fn start(mut cfg: AuthConfig) -> App {
    let dir = TempDir::new("app");
    let secret = SecretKey::generate();
    let pem = secret.to_pkcs8_pem(LineEnding::LF).expect("pem");
    let key_file = dir.0.join("signing.pem");
    std::fs::write(&key_file, pem.as_bytes()).expect("write key");
    cfg.signing_key_file = Some(key_file);
    let auth = AuthService::new(&cfg).expect("auth service");
    auth.spawn_reloader(None);
    let api = Router::new().route("/v1/ping", get(ping));
    let app = auth::protect(api, auth.clone())
        .merge(auth::router())
        .with_state(auth.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    App {
        url,
        auth,
        http: reqwest::Client::new(),
        key: EncodingKey::from_ec_pem(pem.as_bytes()).expect("encoding key"),
        _dir: dir,
    }
}

impl App {
    async fn token_raw(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth2/token", self.url))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    async fn token(&self, c: &Client, scope: Option<&str>) -> Value {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", c.id.as_str()),
            ("client_secret", c.secret.as_str()),
        ];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let r = self.token_raw(&form).await;
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    async fn access(&self, c: &Client) -> String {
        self.token(c, None).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    async fn ping(&self, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/v1/ping", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("ping")
    }

    /// A token with arbitrary claims, correctly signed by the gateway's current key.
    fn forge(&self, claims: Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.auth.current_kid());
        jsonwebtoken::encode(&h, &claims, &self.key).expect("encode")
    }

    fn claims(&self, sub: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": "ats-gateway", "aud": "ats-gateway-api", "sub": sub,
               "scope": "reference:read", "iat": now, "exp": now + 300, "jti": "t"})
    }
}

fn base_config(partners: Vec<PartnerConfig>) -> AuthConfig {
    AuthConfig {
        partners,
        reload_poll_ms: 100,
        ..AuthConfig::default()
    }
}

fn payload(token: &str) -> Value {
    let p = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("b64")).expect("json")
}

fn header_json(token: &str) -> Value {
    let p = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("b64")).expect("json")
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn assert_invalid_token(r: reqwest::Response) {
    assert_eq!(r.status(), 401);
    let www = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(www.starts_with("Bearer"), "{www}");
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = r.json().await.expect("json");
    assert!(body["type"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/problems/unauthorized"));
    // The same opaque detail whatever check failed.
    assert_eq!(body["detail"], "the access token is invalid or expired");
}

// ---------------------------------------------------------------- token endpoint

#[tokio::test]
async fn issues_es256_tokens_that_open_the_api() {
    let (acme, c) = partner("acme", &[Scope::ReferenceRead, Scope::CandidatesRead], 50);
    let app = start(base_config(vec![acme])).await;

    let r = app
        .token_raw(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
        ])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "candidates:read reference:read");
    let token = body["access_token"].as_str().expect("token");

    let h = header_json(token);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["kid"], app.auth.current_kid());
    let p = payload(token);
    assert_eq!(p["iss"], "ats-gateway");
    assert_eq!(p["aud"], "ats-gateway-api");
    assert_eq!(p["sub"], "acme");
    assert!(p["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(
        p["exp"].as_i64().expect("exp") - p["iat"].as_i64().expect("iat"),
        900
    );

    // The published JWKS verifies the token.
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", app.url))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let k = &jwks["keys"][0];
    assert_eq!(
        (&k["kty"], &k["crv"], &k["alg"], &k["use"]),
        (
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256"),
            &json!("sig")
        )
    );
    let jwk: Jwk = serde_json::from_value(k.clone()).expect("jwk");
    let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
    v.set_audience(&["ats-gateway-api"]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key"),
        &v,
    )
    .expect("JWKS verifies the token");

    let r = app.ping(token).await;
    assert_eq!(r.status(), 200);
    let who: Value = r.json().await.expect("json");
    assert_eq!(who["partner"], "acme");
    assert_eq!(who["pii"], false);
    assert_eq!(who["companies"], json!(["usmf"]));

    // A requested subset, and HTTP Basic client authentication.
    let r = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "reference:read"),
        ])
        .send()
        .await
        .expect("basic");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["scope"], "reference:read");
}

#[tokio::test]
async fn every_rfc6749_error() {
    let (acme, c) = partner("acme", &[Scope::ReferenceRead], 50);
    let (mut off, c_off) = partner("off", &[Scope::ReferenceRead], 50);
    off.disabled = true;
    let app = start(base_config(vec![acme, off])).await;
    let cc = "client_credentials";

    async fn expect(r: reqwest::Response, status: u16, code: &str) -> reqwest::header::HeaderMap {
        assert_eq!(r.status(), status, "{code}");
        let h = r.headers().clone();
        assert_eq!(
            h.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], code);
        assert!(body["error_description"].is_string());
        h
    }

    // invalid_request: no grant_type, wrong media type, repeated parameter, two auth methods.
    expect(
        app.token_raw(&[("client_id", &c.id), ("client_secret", &c.secret)])
            .await,
        400,
        "invalid_request",
    )
    .await;
    let r = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .json(&json!({"grant_type": cc}))
        .send()
        .await
        .expect("json body");
    expect(r, 400, "invalid_request").await;
    let r = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .expect("repeated");
    expect(r, 400, "invalid_request").await;
    let r = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", cc), ("client_secret", &c.secret)])
        .send()
        .await
        .expect("both");
    expect(r, 400, "invalid_request").await;

    // invalid_client: wrong secret, unknown client, no credentials; Basic gets a Basic challenge.
    let h = expect(
        app.token_raw(&[
            ("grant_type", cc),
            ("client_id", &c.id),
            ("client_secret", "wrong"),
        ])
        .await,
        401,
        "invalid_client",
    )
    .await;
    assert!(h.get("www-authenticate").is_none());
    expect(
        app.token_raw(&[
            ("grant_type", cc),
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ])
        .await,
        401,
        "invalid_client",
    )
    .await;
    expect(
        app.token_raw(&[("grant_type", cc)]).await,
        401,
        "invalid_client",
    )
    .await;
    let r = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .basic_auth(&c.id, Some("wrong"))
        .form(&[("grant_type", cc)])
        .send()
        .await
        .expect("basic");
    let h = expect(r, 401, "invalid_client").await;
    let www = h
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(www.starts_with("Basic"), "{www}");

    // unsupported_grant_type: only client credentials exist here, whatever else is named.
    for (grant, extra) in [
        ("refresh_token", ("refresh_token", "abc")),
        ("password", ("username", "u")),
        ("authorization_code", ("code", "c")),
    ] {
        expect(
            app.token_raw(&[
                ("grant_type", grant),
                extra,
                ("client_id", &c.id),
                ("client_secret", &c.secret),
            ])
            .await,
            400,
            "unsupported_grant_type",
        )
        .await;
    }

    // unauthorized_client: a disabled client.
    expect(
        app.token_raw(&[
            ("grant_type", cc),
            ("client_id", &c_off.id),
            ("client_secret", &c_off.secret),
        ])
        .await,
        400,
        "unauthorized_client",
    )
    .await;

    // unsupported_grant_type
    expect(
        app.token_raw(&[
            ("grant_type", "urn:example:magic"),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
        ])
        .await,
        400,
        "unsupported_grant_type",
    )
    .await;

    // invalid_scope: escalation beyond the allowed scopes, and an unknown scope.
    for scope in ["reference:read pii:read", "candidates:write", "admin"] {
        expect(
            app.token_raw(&[
                ("grant_type", cc),
                ("client_id", &c.id),
                ("client_secret", &c.secret),
                ("scope", scope),
            ])
            .await,
            400,
            "invalid_scope",
        )
        .await;
    }
}

// ---------------------------------------------------------------- verification

#[tokio::test]
async fn jwt_attacks_are_refused() {
    let (acme, c) = partner("acme", &[Scope::ReferenceRead], 500);
    let app = start(base_config(vec![acme])).await;
    let good = app.access(&c).await;
    assert_eq!(app.ping(&good).await.status(), 200);
    let now = chrono::Utc::now().timestamp();
    let kid = app.auth.current_kid();
    let parts: Vec<&str> = good.split('.').collect();

    // No bearer at all.
    let r = app
        .http
        .get(format!("{}/v1/ping", app.url))
        .send()
        .await
        .expect("no bearer");
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());

    // alg none, with and without a signature segment.
    let none_header = b64(&json!({"alg": "none", "typ": "JWT", "kid": kid}));
    for t in [
        format!("{none_header}.{}.", parts[1]),
        format!("{none_header}.{}.{}", parts[1], parts[2]),
    ] {
        assert_invalid_token(app.ping(&t).await).await;
    }

    // HS256 signed with the public key bytes (SEC1 point, and the JWKS x||y).
    let jwks = serde_json::to_value(app.auth.jwks()).expect("jwks");
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().expect("x"))
        .expect("x");
    let y = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["y"].as_str().expect("y"))
        .expect("y");
    let sec1: Vec<u8> = [vec![4u8], x.clone(), y.clone()].concat();
    for secret in [sec1, [x, y].concat(), jwks.to_string().into_bytes()] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        let t = jsonwebtoken::encode(
            &h,
            &app.claims("acme"),
            &EncodingKey::from_secret(&secret).expect("hmac key"),
        )
        .expect("hs256");
        assert_invalid_token(app.ping(&t).await).await;
    }

    // Unknown kid, and a right kid with an attacker's key.
    let attacker = SecretKey::generate();
    let attacker_key = EncodingKey::from_ec_der(attacker.to_pkcs8_der().expect("der").as_bytes());
    for k in ["unknown-kid".to_string(), kid.clone()] {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(k);
        let t = jsonwebtoken::encode(&h, &app.claims("acme"), &attacker_key).expect("es256");
        assert_invalid_token(app.ping(&t).await).await;
    }

    // Claims, correctly signed by the gateway key.
    let mut c = app.claims("acme");
    assert_eq!(
        app.ping(&app.forge(c.clone())).await.status(),
        200,
        "control"
    );
    c["exp"] = json!(now - 120);
    assert_invalid_token(app.ping(&app.forge(c.clone())).await).await; // expired
    c["exp"] = json!(now - 10);
    assert_eq!(
        app.ping(&app.forge(c.clone())).await.status(),
        200,
        "within leeway"
    );
    let mut c = app.claims("acme");
    c["nbf"] = json!(now + 120);
    assert_invalid_token(app.ping(&app.forge(c)).await).await; // not yet valid
    let mut c = app.claims("acme");
    c["iss"] = json!("https://evil.example");
    assert_invalid_token(app.ping(&app.forge(c)).await).await; // wrong iss
    let mut c = app.claims("acme");
    c["aud"] = json!("another-api");
    assert_invalid_token(app.ping(&app.forge(c)).await).await; // wrong aud
    let mut c = app.claims("acme");
    c.as_object_mut().expect("obj").remove("exp");
    assert_invalid_token(app.ping(&app.forge(c)).await).await; // missing exp
    let mut c = app.claims("acme");
    c.as_object_mut().expect("obj").remove("aud");
    assert_invalid_token(app.ping(&app.forge(c)).await).await; // missing aud
    let mut c = app.claims("ghost");
    c["sub"] = json!("ghost");
    assert_invalid_token(app.ping(&app.forge(c)).await).await; // unknown partner

    // Tampered payload: scope escalation with the original signature.
    let mut p = payload(&good);
    p["scope"] = json!("reference:read pii:read");
    let t = format!("{}.{}.{}", parts[0], b64(&p), parts[2]);
    assert_invalid_token(app.ping(&t).await).await;
    // Garbage.
    assert_invalid_token(app.ping("not-a-jwt").await).await;
}

#[tokio::test]
async fn missing_scope_is_403_naming_it() {
    let (cand, c) = partner("cand", &[Scope::CandidatesRead], 50);
    let app = start(base_config(vec![cand])).await;
    let t = app.access(&c).await;
    let r = app.ping(&t).await;
    assert_eq!(r.status(), 403);
    let www = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        www.contains("insufficient_scope") && www.contains("reference:read"),
        "{www}"
    );
    let body: Value = r.json().await.expect("json");
    assert!(body["type"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/problems/missing-scope"));
    assert!(body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("reference:read")));
}

#[tokio::test]
async fn signing_key_rotation_keeps_old_tokens_valid() {
    let (acme, c) = partner("acme", &[Scope::ReferenceRead], 500);
    let app = start(base_config(vec![acme])).await;
    let old = app.access(&c).await;
    let old_kid = app.auth.current_kid();
    let new_kid = app.auth.rotate_signing_key().expect("rotate");
    assert_ne!(old_kid, new_kid);
    let new = app.access(&c).await;
    assert_eq!(header_json(&new)["kid"], new_kid);
    assert_eq!(app.ping(&old).await.status(), 200);
    assert_eq!(app.ping(&new).await.status(), 200);
    assert_eq!(common::jwks_kids(&app.url).await, vec![new_kid, old_kid]);
}

/// A reload that replaces the signing key keeps the old one verifying only if
/// `previous_signing_key_files` lists it: a leaked key replaced by a reload is refused at once,
/// its cached tokens too.
#[tokio::test]
async fn a_signing_key_replaced_by_a_reload_verifies_only_if_listed() {
    let (acme, c) = partner("acme", &[Scope::ReferenceRead], 500);
    let app = start(base_config(vec![acme.clone()])).await;
    let key_file = |name: &str| {
        let path = app._dir.0.join(name);
        let pem = SecretKey::generate()
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem");
        std::fs::write(&path, pem.as_bytes()).expect("write key");
        path
    };
    let (b, c_key) = (key_file("b.pem"), key_file("c.pem"));
    let first = app.access(&c).await;
    assert_eq!(app.ping(&first).await.status(), 200, "and cached");
    let mut cfg = base_config(vec![acme]);
    cfg.signing_key_file = Some(b.clone());
    app.auth.reload(&cfg).expect("reload");
    assert_invalid_token(app.ping(&first).await).await;
    let second = app.access(&c).await;
    assert_eq!(app.ping(&second).await.status(), 200);

    cfg.signing_key_file = Some(c_key);
    cfg.previous_signing_key_files = vec![b];
    app.auth.reload(&cfg).expect("reload");
    assert_eq!(app.ping(&second).await.status(), 200, "listed: verifies");
    let third = app.access(&c).await;
    let kid = |t: &str| header_json(t)["kid"].as_str().expect("kid").to_string();
    assert_eq!(
        common::jwks_kids(&app.url).await,
        vec![kid(&third), kid(&second)]
    );
}

// ---------------------------------------------------------------- external issuer

#[derive(Clone)]
struct Idp {
    jwks: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

struct IdpKey {
    kid: String,
    key: EncodingKey,
    jwk: Value,
}

fn idp_key(kid: &str) -> IdpKey {
    let s = SecretKey::generate();
    let point = s.public_key().to_sec1_point(false);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
    });
    IdpKey {
        kid: kid.into(),
        key: EncodingKey::from_ec_der(s.to_pkcs8_der().expect("der").as_bytes()),
        jwk,
    }
}

async fn serve_jwks(idp: Idp) -> String {
    async fn jwks(State(idp): State<Idp>) -> Json<Value> {
        idp.hits.fetch_add(1, Ordering::SeqCst);
        let v = idp.jwks.lock().expect("lock").clone();
        Json(v)
    }
    let app = Router::new().route("/keys", get(jwks)).with_state(idp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/keys", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    url
}

/// The test IdP as an external issuer: tenant-1 users act as partner `acme`.
fn idp_issuer(jwks_url: String, refresh_interval_secs: u64) -> ExternalIssuerConfig {
    ExternalIssuerConfig {
        issuer: "https://idp.example/tenant".into(),
        jwks_url,
        audience: "ats-frontend".into(),
        algorithms: vec!["ES256".into()],
        scope_claim: "roles".into(),
        partner_claim: "tid".into(),
        partner_map: BTreeMap::from([("tenant-1".to_string(), "acme".to_string())]),
        jwks_ttl_secs: 3600,
        jwks_refresh_min_interval_secs: refresh_interval_secs,
        jwks_stale_max_secs: 86_400,
    }
}

fn user_token(k: &IdpKey, alg: Algorithm, extra: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": "https://idp.example/tenant", "aud": "ats-frontend", "sub": "user-42",
        "tid": "tenant-1", "roles": ["reference:read", "pii:read", "Admin"],
        "iat": now, "exp": now + 300,
    });
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        for (key, v) in e {
            c.insert(key.clone(), v.clone());
        }
    }
    let mut h = Header::new(alg);
    h.kid = Some(k.kid.clone());
    jsonwebtoken::encode(&h, &claims, &k.key).expect("encode")
}

#[tokio::test]
async fn external_issuer_with_jwks_rotation() {
    let k1 = idp_key("k1");
    let idp = Idp {
        jwks: Arc::new(Mutex::new(json!({"keys": [k1.jwk.clone()]}))),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let jwks_url = serve_jwks(idp.clone()).await;
    let (acme, _) = partner("acme", &[Scope::ReferenceRead, Scope::CandidatesRead], 500);
    let mut cfg = base_config(vec![acme]);
    cfg.external_issuers = vec![idp_issuer(jwks_url, 60)];
    let app = start(cfg).await;

    let t = user_token(&k1, Algorithm::ES256, json!({}));
    let r = app.ping(&t).await;
    assert_eq!(r.status(), 200);
    let who: Value = r.json().await.expect("json");
    assert_eq!(who["partner"], "acme");
    // Roles narrowed to what the partner may have: no pii:read, unknown roles ignored.
    assert_eq!(who["scopes"], json!(["reference:read"]));
    assert_eq!(who["pii"], false);
    assert_eq!(app.ping(&t).await.status(), 200);
    assert_eq!(idp.hits.load(Ordering::SeqCst), 1, "JWKS cached");

    // Scope claim as a space-separated string works too.
    let t = user_token(&k1, Algorithm::ES256, json!({"roles": "reference:read"}));
    assert_eq!(app.ping(&t).await.status(), 200);

    // Refused: wrong aud, expired, unmapped tenant, HS256 with the JWK as secret, alg not listed.
    for extra in [
        json!({"aud": "other"}),
        json!({"exp": chrono::Utc::now().timestamp() - 120}),
        json!({"tid": "tenant-9"}),
    ] {
        assert_invalid_token(app.ping(&user_token(&k1, Algorithm::ES256, extra)).await).await;
    }
    let hs = IdpKey {
        kid: "k1".into(),
        key: EncodingKey::from_secret(k1.jwk.to_string().as_bytes()).expect("hmac key"),
        jwk: json!({}),
    };
    assert_invalid_token(
        app.ping(&user_token(&hs, Algorithm::HS256, json!({})))
            .await,
    )
    .await;
    assert_eq!(idp.hits.load(Ordering::SeqCst), 1);

    // The IdP rotates: a new kid triggers exactly one refetch.
    let k2 = idp_key("k2");
    *idp.jwks.lock().expect("lock") = json!({"keys": [k1.jwk.clone(), k2.jwk.clone()]});
    let t2 = user_token(&k2, Algorithm::ES256, json!({}));
    assert_eq!(app.ping(&t2).await.status(), 200);
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        2,
        "one refetch for the new kid"
    );
    assert_eq!(app.ping(&t2).await.status(), 200);
    // An unknown kid within the refresh interval does not refetch.
    let k3 = idp_key("k3");
    assert_invalid_token(
        app.ping(&user_token(&k3, Algorithm::ES256, json!({})))
            .await,
    )
    .await;
    assert_invalid_token(
        app.ping(&user_token(&k3, Algorithm::ES256, json!({})))
            .await,
    )
    .await;
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        2,
        "refetch is rate-limited"
    );
}

/// An IdP's users mapped (`partner_map`) to a partner the operator API created act as it: an
/// IdP token has no `sid`, and the rule refusing a `sid`-less token for such a partner is about
/// the gateway's own tokens (another partner's under the same id).
#[tokio::test]
async fn an_idp_user_acts_as_a_partner_the_operator_api_created() {
    let k1 = idp_key("k1");
    let idp = Idp {
        jwks: Arc::new(Mutex::new(json!({"keys": [k1.jwk.clone()]}))),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let mut issuer = idp_issuer(serve_jwks(idp).await, 60);
    issuer.partner_map = BTreeMap::from([("tenant-1".to_string(), "idp-co".to_string())]);
    let (token, hash) = ats_gateway::operator::guard::create_operator_token();
    let app = common::spawn_app_with(ats_sandbox::config::SandboxConfig::default(), |c| {
        c.operator.token_hashes = vec![hash];
        c.auth.external_issuers = vec![issuer];
    })
    .await;
    let op = crate::operator::Operated { app, token };
    let created = op.create("idp-co", &["reference:read"]).await;
    assert_eq!(created["managed_by"], "api");
    let user = user_token(&k1, Algorithm::ES256, json!({}));
    let r = op.app.get("/v1/option-sets", &user, None).await;
    assert_eq!(r.status(), 200);
}

/// While the IdP's JWKS is broken, its users' tokens do not each cost a fetch: the failure is
/// remembered for the refresh interval (and retried after it).
#[tokio::test]
async fn a_failing_jwks_is_not_refetched_per_request() {
    for interval in [60, 0] {
        let k1 = idp_key("k1");
        let idp = Idp {
            jwks: Arc::new(Mutex::new(json!({"not": "a jwks"}))),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let jwks_url = serve_jwks(idp.clone()).await;
        let (acme, _) = partner("acme", &[Scope::ReferenceRead], 500);
        let mut cfg = base_config(vec![acme]);
        cfg.external_issuers = vec![idp_issuer(jwks_url, interval)];
        let app = start(cfg).await;
        let t = user_token(&k1, Algorithm::ES256, json!({}));
        for _ in 0..3 {
            assert_invalid_token(app.ping(&t).await).await;
        }
        let expected = if interval == 0 { 3 } else { 1 };
        assert_eq!(
            idp.hits.load(Ordering::SeqCst),
            expected,
            "interval {interval}"
        );
        if interval == 0 {
            // Past the interval, a repaired JWKS is picked up.
            *idp.jwks.lock().expect("lock") = json!({"keys": [k1.jwk.clone()]});
            assert_eq!(app.ping(&t).await.status(), 200);
        }
    }
}

/// The test IdP with a key set that expires after 1 s and refreshes that are never held back,
/// its key set fetched once by a first token; then its JWKS breaks. Tokens are sent until the
/// refresh at the expiry fails: the answer to the request that made it.
async fn jwks_outage_at_expiry(
    stale_max_secs: u64,
    refresh_interval_secs: u64,
) -> (App, Idp, IdpKey, reqwest::StatusCode) {
    let k1 = idp_key("k1");
    let idp = Idp {
        jwks: Arc::new(Mutex::new(json!({"keys": [k1.jwk.clone()]}))),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let jwks_url = serve_jwks(idp.clone()).await;
    let (acme, _) = partner("acme", &[Scope::ReferenceRead], 500);
    let mut cfg = base_config(vec![acme]);
    let mut issuer = idp_issuer(jwks_url, refresh_interval_secs);
    issuer.jwks_ttl_secs = 1;
    issuer.jwks_stale_max_secs = stale_max_secs;
    cfg.external_issuers = vec![issuer];
    let app = start(cfg).await;
    // An external token is verified on every request (only own tokens are cached by their text),
    // so each request reads the key set: the cached one, or a refresh once it expired.
    let t = user_token(&k1, Algorithm::ES256, json!({}));
    assert_eq!(app.ping(&t).await.status(), 200);
    assert_eq!(idp.hits.load(Ordering::SeqCst), 1);
    *idp.jwks.lock().expect("lock") = json!({"not": "a jwks"});
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = app.ping(&t).await.status();
        if idp.hits.load(Ordering::SeqCst) >= 2 {
            return (app, idp, k1, status);
        }
        assert_eq!(status, 200, "the cached key set");
        assert!(
            std::time::Instant::now() < deadline,
            "the key set never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An IdP whose JWKS breaks when the cached key set expires: the last key set fetched still
/// verifies its users' tokens (for a bounded time), rather than every one of them being refused;
/// the failed refresh is logged once, not once per request answered from the old key set.
#[tokio::test]
async fn an_idp_outage_at_the_jwks_expiry_keeps_its_known_keys() {
    common::logs::capture();
    const WARNING: &str = "JWKS refresh failed; the last key set fetched is used meanwhile";
    let before = common::logs::text().matches(WARNING).count();
    let (app, idp, k1, status) = jwks_outage_at_expiry(86_400, 60).await;
    assert_eq!(
        status, 200,
        "the failed refresh falls back to the last key set"
    );
    // The failure is remembered for the refresh interval: no fetch, no new warning.
    for n in 0..3 {
        let t = user_token(&k1, Algorithm::ES256, json!({"n": n}));
        assert_eq!(app.ping(&t).await.status(), 200);
    }
    assert_eq!(idp.hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        common::logs::text().matches(WARNING).count() - before,
        1,
        "one warning per failed refresh"
    );
}

/// `jwks_stale_max_secs = 0`: no stale keys, a failed refresh at the expiry refuses.
#[tokio::test]
async fn with_no_stale_keys_allowed_a_failed_refresh_refuses() {
    let (_app, _idp, _k1, status) = jwks_outage_at_expiry(0, 0).await;
    assert_eq!(status, 401);
}

// ---------------------------------------------------------------- rate limits, CORS

#[tokio::test]
async fn rate_limits_are_per_partner() {
    let (a, ca) = partner("alpha", &[Scope::ReferenceRead], 2);
    let (b, cb) = partner("beta", &[Scope::ReferenceRead], 2);
    let app = start(base_config(vec![a, b])).await;
    let ta = app.access(&ca).await;
    let tb = app.access(&cb).await;

    let header = |r: &reqwest::Response, n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let r1 = app.ping(&ta).await;
    assert_eq!(r1.status(), 200);
    assert_eq!(header(&r1, "ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(header(&r1, "ratelimit-remaining").as_deref(), Some("1"));
    assert!(header(&r1, "ratelimit-reset").is_some());
    let r2 = app.ping(&ta).await;
    assert_eq!(r2.status(), 200);
    assert_eq!(header(&r2, "ratelimit-remaining").as_deref(), Some("0"));
    let r3 = app.ping(&ta).await;
    assert_eq!(r3.status(), 429);
    assert!(header(&r3, "retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
    assert_eq!(header(&r3, "ratelimit-remaining").as_deref(), Some("0"));
    let body: Value = r3.json().await.expect("json");
    assert!(body["type"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/problems/rate-limited"));

    // Beta is untouched by alpha's burst.
    let rb = app.ping(&tb).await;
    assert_eq!(rb.status(), 200);
    assert_eq!(header(&rb, "ratelimit-remaining").as_deref(), Some("1"));
}

#[tokio::test]
async fn cors_preflight_and_origin_binding() {
    let (acme, ca) = partner("acme", &[Scope::ReferenceRead], 50);
    let (beta, cb) = partner("beta", &[Scope::ReferenceRead], 50);
    let app = start(base_config(vec![acme, beta])).await;

    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/v1/ping", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let r = preflight(ACME_ORIGIN).await.expect("preflight");
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(ACME_ORIGIN)
    );
    let r = preflight("https://evil.example").await.expect("preflight");
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // The real request from acme's origin: allowed for acme, refused for beta's token.
    let ta = app.access(&ca).await;
    let r = app
        .http
        .get(format!("{}/v1/ping", app.url))
        .bearer_auth(&ta)
        .header("origin", ACME_ORIGIN)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(ACME_ORIGIN)
    );
    let tb = app.access(&cb).await;
    let r = app
        .http
        .get(format!("{}/v1/ping", app.url))
        .bearer_auth(&tb)
        .header("origin", ACME_ORIGIN)
        .send()
        .await
        .expect("get");
    // The token is valid: the answer names the origin as the problem, without listing allowed ones.
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("www-authenticate").is_none());
    let body: Value = r.json().await.expect("problem");
    assert_eq!(body["title"], "Origin not allowed");
    assert_eq!(body["detail"], "this origin is not allowed for this client");
    assert!(!body.to_string().contains("jobs.beta"));
}

// ---------------------------------------------------------------- registry changes

#[tokio::test]
async fn two_active_secrets_during_rotation() {
    let (mut acme, old) = partner("acme", &[Scope::ReferenceRead], 50);
    let (new_secret, new_hash) = auth::create_partner_secret();
    acme.client_secret_hashes.push(new_hash.clone());
    let app = start(base_config(vec![acme.clone()])).await;
    let new = Client {
        id: old.id.clone(),
        secret: new_secret,
    };
    app.token(&old, None).await;
    app.token(&new, None).await;

    // Rotation finished: only the new secret remains.
    acme.client_secret_hashes = vec![new_hash];
    app.auth.reload_partners(&[acme]).expect("reload");
    let r = app
        .token_raw(&[
            ("grant_type", "client_credentials"),
            ("client_id", &old.id),
            ("client_secret", &old.secret),
        ])
        .await;
    assert_eq!(r.status(), 401);
    app.token(&new, None).await;
}

fn write_partners(path: &std::path::Path, partners: &[PartnerConfig]) {
    #[derive(serde::Serialize)]
    struct F<'a> {
        partners: &'a [PartnerConfig],
    }
    let text = toml::to_string(&F { partners }).expect("toml");
    // Write-then-rename so the watcher never reads a half-written file.
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).expect("create");
    f.write_all(text.as_bytes()).expect("write");
    f.sync_all().expect("sync");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test]
async fn hot_reload_from_the_partners_file() {
    let dir = TempDir::new("reload");
    let file = dir.0.join("partners.toml");
    let (mut filep, c) = partner("filep", &[Scope::ReferenceRead, Scope::CandidatesRead], 500);
    write_partners(&file, std::slice::from_ref(&filep));
    let mut cfg = base_config(vec![]);
    cfg.partners_file = Some(file.clone());
    let app = start(cfg).await;
    let token = app.access(&c).await;
    assert_eq!(app.ping(&token).await.status(), 200);

    // Remove reference:read: the very same token loses it on the next request.
    filep.scopes = vec![Scope::CandidatesRead];
    write_partners(&file, std::slice::from_ref(&filep));
    let mut status = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = app.ping(&token).await.status().as_u16();
        if status == 403 {
            break;
        }
    }
    assert_eq!(status, 403, "reload not seen");

    // A broken file keeps the previous registry.
    std::fs::write(&file, "[[partners]]\nid = 1\n").expect("write");
    assert!(app.auth.reload_now().is_err());
    assert_eq!(app.auth.registry().len(), 1);

    // A new partner appears without restart.
    let (newp, cn) = partner("newp", &[Scope::ReferenceRead], 500);
    write_partners(&file, &[filep, newp]);
    app.auth.reload_now().expect("reload");
    let tn = app.access(&cn).await;
    assert_eq!(app.ping(&tn).await.status(), 200);
}

/// Tokens seen before are answered from the verified-token cache with the principal built for
/// them; a reload (the path SIGHUP and file changes take) must still reach them on the very next
/// request: scopes, companies, disabling and removal.
#[tokio::test]
async fn a_reload_reaches_cached_tokens_on_the_next_request() {
    let (mut acme, c) = partner("acme", &[Scope::ReferenceRead, Scope::PiiRead], 500);
    let app = start(base_config(vec![acme.clone()])).await;
    let token = app.access(&c).await;
    for _ in 0..3 {
        let r = app.ping(&token).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["pii"], true);
        assert_eq!(body["companies"], json!(["usmf"]));
    }

    // pii:read removed, companies changed: the cached token gets the new rights at once.
    acme.scopes = vec![Scope::ReferenceRead];
    acme.companies = vec!["usrt".into(), "nomf".into()];
    app.auth
        .reload_partners(std::slice::from_ref(&acme))
        .expect("reload");
    let body: Value = app.ping(&token).await.json().await.expect("json");
    assert_eq!(body["pii"], false, "{body}");
    assert_eq!(body["scopes"], json!(["reference:read"]), "{body}");
    assert_eq!(body["companies"], json!(["nomf", "usrt"]), "{body}");

    // The scope the route needs removed: 403 on the next request.
    acme.scopes = vec![Scope::CandidatesRead];
    app.auth
        .reload_partners(std::slice::from_ref(&acme))
        .expect("reload");
    assert_eq!(app.ping(&token).await.status(), 403);

    // Disabled: refused; enabled again (the token is still unexpired): accepted.
    acme.scopes = vec![Scope::ReferenceRead];
    acme.disabled = true;
    app.auth
        .reload_partners(std::slice::from_ref(&acme))
        .expect("reload");
    assert_invalid_token(app.ping(&token).await).await;
    acme.disabled = false;
    app.auth
        .reload_partners(std::slice::from_ref(&acme))
        .expect("reload");
    assert_eq!(app.ping(&token).await.status(), 200);

    // Removed from the registry: refused.
    app.auth.reload_partners(&[]).expect("reload");
    assert_invalid_token(app.ping(&token).await).await;
}

// ---------------------------------------------------------------- logs

#[tokio::test]
async fn no_secret_or_token_in_logs() {
    common::logs::capture();
    let (acme, c) = partner("acme", &[Scope::ReferenceRead], 500);
    let app = start(base_config(vec![acme])).await;
    let token = app.access(&c).await;
    assert_eq!(app.ping(&token).await.status(), 200);
    // Failures log their reason: a wrong secret, a tampered token.
    let r = app
        .token_raw(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id),
            ("client_secret", "wrong-secret-value"),
        ])
        .await;
    assert_eq!(r.status(), 401);
    let tampered = format!("{}x", token);
    assert_eq!(app.ping(&tampered).await.status(), 401);

    let text = common::logs::text();
    assert!(
        text.contains("partner request"),
        "audit line missing:\n{text}"
    );
    assert!(text.contains("upstream_calls=1"), "{text}");
    assert!(text.contains("bearer token refused"), "{text}");
    assert!(text.contains("client authentication failed"), "{text}");
    let signature = token.rsplit('.').next().expect("sig");
    for needle in [
        c.secret.as_str(),
        "wrong-secret-value",
        token.as_str(),
        signature,
    ] {
        assert!(!text.contains(needle), "log leaks {needle}");
    }
    // The payload segment would reveal claims; the header segment is harmless but also absent.
    let payload_seg = token.split('.').nth(1).expect("payload");
    assert!(!text.contains(payload_seg));
}
