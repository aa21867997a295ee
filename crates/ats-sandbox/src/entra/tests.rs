//! Unit tests calling `Entra::token` directly with built bodies.

use super::*;
use axum::http::HeaderValue;
use base64::Engine;
use chrono::{DateTime, Duration};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const DOMAIN: &str = "contoso.onmicrosoft.com";
const RESOURCE: &str = "http://127.0.0.1:8081";
const SECRET_APP: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const CERT_APP: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const DISABLED_APP: &str = "aaaaaaaa-0000-0000-0000-000000000003";
const EXPIRED_SECRET_APP: &str = "aaaaaaaa-0000-0000-0000-000000000004";
const SECRET: &str = "s3cr3t~value&with=odd+chars";
const TOKEN_URL: &str =
    "http://127.0.0.1:9000/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token";

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn app(
    id: &str,
    secrets: Vec<ClientSecret>,
    certs: Vec<String>,
    disabled: bool,
) -> AppRegistration {
    AppRegistration {
        client_id: uuid(id),
        object_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, id.as_bytes()),
        secrets,
        certificates_pem: certs,
        disabled,
    }
}

fn secret(value: &str, expires_in_days: i64) -> ClientSecret {
    ClientSecret {
        value: value.to_string(),
        expires_at: Utc::now() + Duration::days(expires_in_days),
    }
}

fn config(lifetime: Duration) -> EntraConfig {
    EntraConfig {
        tenant_id: uuid(TENANT),
        tenant_domain: DOMAIN.to_string(),
        resource: RESOURCE.to_string(),
        token_lifetime: lifetime,
        apps: vec![
            app(
                SECRET_APP,
                vec![secret("old", -1), secret(SECRET, 30)],
                vec![],
                false,
            ),
            app(
                CERT_APP,
                vec![],
                vec![demo_certificate().0.to_string()],
                false,
            ),
            app(DISABLED_APP, vec![secret(SECRET, 30)], vec![], true),
            app(EXPIRED_SECRET_APP, vec![secret(SECRET, -1)], vec![], false),
        ],
    }
}

fn entra() -> Entra {
    Entra::new(config(Duration::seconds(5)))
}

fn form_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    h
}

fn encode(params: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

fn scope() -> String {
    format!("{RESOURCE}/.default")
}

fn secret_body(client: &str, secret: &str) -> Vec<u8> {
    encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("scope", &scope()),
        ("client_secret", secret),
    ])
}

fn call(
    e: &Entra,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Value, HeaderMap) {
    let resp = e.token(tenant, TOKEN_URL, headers, body);
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes =
        futures::executor::block_on(axum::body::to_bytes(resp.into_body(), 1 << 20)).unwrap();
    (status, serde_json::from_slice(&bytes).unwrap(), headers)
}

/// Asserts the full Entra error shape and returns the body.
fn expect_error(
    (status, body, _): (StatusCode, Value, HeaderMap),
    want_status: u16,
    error: &str,
    code: u64,
) -> Value {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]));
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    let trace = body["trace_id"].as_str().unwrap();
    let corr = body["correlation_id"].as_str().unwrap();
    let ts = body["timestamp"].as_str().unwrap();
    assert!(desc.ends_with(&format!(
        "\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
    )));
    assert!(
        DateTime::parse_from_str(&format!("{ts} +0000"), "%Y-%m-%d %H:%M:%SZ %z").is_ok(),
        "{ts}"
    );
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    body
}

#[derive(serde::Serialize)]
struct Assertion {
    aud: String,
    iss: String,
    sub: String,
    jti: String,
    nbf: i64,
    exp: i64,
}

fn assertion_claims(client: &str) -> Assertion {
    let now = Utc::now().timestamp();
    Assertion {
        aud: format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"),
        iss: client.to_string(),
        sub: client.to_string(),
        jti: Uuid::new_v4().to_string(),
        nbf: now,
        exp: now + 300,
    }
}

/// Signs an assertion with `key_pem`; the header names `cert_pem` by SHA-1 (RS256) or SHA-256 (PS256).
fn sign(claims: &Assertion, alg: Algorithm, cert_pem: &str, key_pem: &str) -> String {
    sign_client_assertion(claims, alg == Algorithm::PS256, cert_pem, key_pem).unwrap()
}

fn demo_assertion(claims: &Assertion, alg: Algorithm) -> String {
    let (cert, key) = demo_certificate();
    sign(claims, alg, cert, key)
}

fn assertion_body(client: &str, jwt: &str) -> Vec<u8> {
    encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("scope", &scope()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt),
    ])
}

fn decode_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

// ---- success paths ----

#[test]
fn secret_in_body_issues_a_v1_token_with_no_cache_headers() {
    let e = entra();
    let (status, body, headers) = call(
        &e,
        TENANT,
        &form_headers(),
        &secret_body(SECRET_APP, SECRET),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 5);
    assert_eq!(body["ext_expires_in"], 5);
    assert_eq!(headers["cache-control"], "no-store, no-cache");
    assert_eq!(headers["pragma"], "no-cache");
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert!(header.kid.is_some() && header.x5t == header.kid);
    let p = decode_payload(token);
    let oid = Uuid::new_v5(&Uuid::NAMESPACE_OID, SECRET_APP.as_bytes()).to_string();
    assert_eq!(p["aud"], RESOURCE);
    assert_eq!(p["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(p["appid"], SECRET_APP);
    assert_eq!(p["azp"], SECRET_APP);
    assert_eq!(p["appidacr"], "1");
    assert_eq!(p["idtyp"], "app");
    assert_eq!(p["oid"], oid);
    assert_eq!(p["sub"], oid);
    assert_eq!(p["tid"], TENANT);
    assert_eq!(p["ver"], "1.0");
    assert!(p["uti"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(), 5);
    assert_eq!(p["nbf"], p["iat"]);
    let claims = e.verify_access_token(token).unwrap();
    assert_eq!(claims.appid, uuid(SECRET_APP));
    assert_eq!(claims.oid.to_string(), oid);
    assert_eq!(claims.tid, uuid(TENANT));
}

#[test]
fn secret_via_basic_auth_and_domain_tenant() {
    let e = entra();
    let mut h = form_headers();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        enc(SECRET_APP),
        enc(SECRET)
    ));
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
    );
    let body = encode(&[("grant_type", "client_credentials"), ("scope", &scope())]);
    let (status, json, _) = call(&e, DOMAIN, &h, &body);
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[test]
fn certificate_rs256_x5t_issues_token_with_appidacr_2() {
    let e = entra();
    let jwt = demo_assertion(&assertion_claims(CERT_APP), Algorithm::RS256);
    let (status, body, _) = call(&e, TENANT, &form_headers(), &assertion_body(CERT_APP, &jwt));
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(decode_payload(token)["appidacr"], "2");
    assert_eq!(e.verify_access_token(token).unwrap().appid, uuid(CERT_APP));
}

#[test]
fn certificate_ps256_x5t_s256_with_own_token_url_as_audience() {
    let e = entra();
    let mut claims = assertion_claims(CERT_APP);
    claims.aud = TOKEN_URL.to_string();
    let jwt = demo_assertion(&claims, Algorithm::PS256);
    let (status, body, _) = call(&e, TENANT, &form_headers(), &assertion_body(CERT_APP, &jwt));
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ---- tenant and protocol errors ----

#[test]
fn tenant_errors() {
    let e = entra();
    let body = secret_body(SECRET_APP, SECRET);
    let h = form_headers();
    let b = expect_error(
        call(&e, "99999999-2222-3333-4444-555555555555", &h, &body),
        400,
        "invalid_request",
        90002,
    );
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("'99999999-2222-3333-4444-555555555555'"));
    expect_error(
        call(&e, "fabrikam.onmicrosoft.com", &h, &body),
        400,
        "invalid_request",
        90002,
    );
    expect_error(
        call(&e, "not_a_tenant!", &h, &body),
        400,
        "invalid_request",
        900023,
    );
    expect_error(
        call(&e, "contoso", &h, &body),
        400,
        "invalid_request",
        900023,
    );
    expect_error(
        call(&e, "common", &h, &body),
        400,
        "invalid_request",
        9001023,
    );
    expect_error(
        call(&e, "Consumers", &h, &body),
        400,
        "invalid_request",
        9001023,
    );
    expect_error(
        call(&e, "organizations", &h, &body),
        400,
        "invalid_request",
        50059,
    );
}

#[test]
fn missing_parameters_are_named() {
    let e = entra();
    let h = form_headers();
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("client_id", SECRET_APP), ("client_secret", SECRET)],
            "grant_type",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", SECRET),
            ],
            "client_id",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", SECRET_APP),
                ("client_secret", SECRET),
            ],
            "scope",
        ),
    ];
    for (params, name) in cases {
        let b = expect_error(
            call(&e, TENANT, &h, &encode(params)),
            400,
            "invalid_request",
            900144,
        );
        assert!(b["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("parameter: '{name}'.")));
    }
    // A JSON body is not read: the first parameter is reported missing.
    let mut json_h = HeaderMap::new();
    json_h.insert("content-type", HeaderValue::from_static("application/json"));
    expect_error(
        call(&e, TENANT, &json_h, &secret_body(SECRET_APP, SECRET)),
        400,
        "invalid_request",
        900144,
    );
}

#[test]
fn unsupported_grant_and_duplicates() {
    let e = entra();
    let h = form_headers();
    let body = encode(&[
        ("grant_type", "password"),
        ("client_id", SECRET_APP),
        ("scope", &scope()),
    ]);
    expect_error(
        call(&e, TENANT, &h, &body),
        400,
        "unsupported_grant_type",
        70003,
    );
    let dup = encode(&[
        ("grant_type", "client_credentials"),
        ("grant_type", "client_credentials"),
    ]);
    expect_error(call(&e, TENANT, &h, &dup), 400, "invalid_request", 9000411);
}

// ---- client and secret errors ----

#[test]
fn unknown_and_disabled_clients() {
    let e = entra();
    let h = form_headers();
    let unknown = "bbbbbbbb-0000-0000-0000-000000000009";
    let b = expect_error(
        call(&e, TENANT, &h, &secret_body(unknown, SECRET)),
        400,
        "unauthorized_client",
        700016,
    );
    assert!(b["error_description"].as_str().unwrap().contains(unknown));
    expect_error(
        call(&e, TENANT, &h, &secret_body("not-a-guid", SECRET)),
        400,
        "unauthorized_client",
        700016,
    );
    expect_error(
        call(&e, TENANT, &h, &secret_body(DISABLED_APP, SECRET)),
        400,
        "unauthorized_client",
        7000112,
    );
}

#[test]
fn secret_errors_never_echo_the_secret() {
    let e = entra();
    let h = form_headers();
    let wrong = "wrong-secret-value-123";
    let b = expect_error(
        call(&e, TENANT, &h, &secret_body(SECRET_APP, wrong)),
        401,
        "invalid_client",
        7000215,
    );
    assert!(!b.to_string().contains(wrong));
    expect_error(
        call(&e, TENANT, &h, &secret_body(SECRET_APP, "old")),
        401,
        "invalid_client",
        7000222,
    );
    expect_error(
        call(&e, TENANT, &h, &secret_body(EXPIRED_SECRET_APP, SECRET)),
        401,
        "invalid_client",
        7000222,
    );
    let none = encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", SECRET_APP),
        ("scope", &scope()),
    ]);
    expect_error(call(&e, TENANT, &h, &none), 401, "invalid_client", 7000218);
}

// ---- scope errors ----

fn scope_body(scope: &str) -> Vec<u8> {
    encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", SECRET_APP),
        ("scope", scope),
        ("client_secret", SECRET),
    ])
}

#[test]
fn scope_errors() {
    let e = entra();
    let h = form_headers();
    expect_error(
        call(&e, TENANT, &h, &scope_body("nonsense")),
        400,
        "invalid_scope",
        70011,
    );
    let two = format!("{RESOURCE}/.default https://other.example/.default");
    expect_error(
        call(&e, TENANT, &h, &scope_body(&two)),
        400,
        "invalid_scope",
        70011,
    );
    expect_error(
        call(&e, TENANT, &h, &scope_body(RESOURCE)),
        400,
        "invalid_scope",
        1002012,
    );
    expect_error(
        call(
            &e,
            TENANT,
            &h,
            &scope_body(&format!("{RESOURCE}/user_impersonation")),
        ),
        400,
        "invalid_scope",
        1002012,
    );
    let double_encoded: String = form_urlencoded::byte_serialize(scope().as_bytes()).collect();
    expect_error(
        call(&e, TENANT, &h, &scope_body(&double_encoded)),
        400,
        "invalid_scope",
        1002012,
    );
    let b = expect_error(
        call(
            &e,
            TENANT,
            &h,
            &scope_body("https://other.crm.dynamics.com/.default"),
        ),
        400,
        "invalid_resource",
        500011,
    );
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("https://other.crm.dynamics.com"));
    // Case and a trailing slash on the resource are tolerated.
    let (status, _, _) = call(
        &e,
        TENANT,
        &h,
        &scope_body(&format!("{}//.default", RESOURCE.to_uppercase())),
    );
    assert_eq!(status, StatusCode::OK);
}

// ---- assertion errors ----

fn assertion_error(e: &Entra, jwt: &str, status: u16, error: &str, code: u64) -> Value {
    let b = expect_error(
        call(e, TENANT, &form_headers(), &assertion_body(CERT_APP, jwt)),
        status,
        error,
        code,
    );
    assert!(!b.to_string().contains(jwt), "assertion echoed");
    b
}

#[test]
fn wrong_certificate_is_unknown_thumbprint() {
    let e = entra();
    let (cert, key) = other_certificate();
    let jwt = sign(&assertion_claims(CERT_APP), Algorithm::RS256, cert, key);
    let b = assertion_error(&e, &jwt, 401, "invalid_client", 700027);
    let sha1 = certs::parse_certificate(cert).unwrap().sha1;
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains(&certs::hex_upper(&sha1)));
}

#[test]
fn registered_thumbprint_but_foreign_signature_fails_validation() {
    let e = entra();
    // Header names the demo certificate, signature made with the other key.
    let jwt = sign(
        &assertion_claims(CERT_APP),
        Algorithm::PS256,
        demo_certificate().0,
        other_certificate().1,
    );
    let b = assertion_error(&e, &jwt, 401, "invalid_client", 700027);
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("failed signature validation"));
}

#[test]
fn expired_and_not_yet_valid_assertions() {
    let e = entra();
    let mut c = assertion_claims(CERT_APP);
    c.nbf -= 3600;
    c.exp = Utc::now().timestamp() - 600;
    assertion_error(
        &e,
        &demo_assertion(&c, Algorithm::RS256),
        401,
        "invalid_client",
        700024,
    );
    let mut c = assertion_claims(CERT_APP);
    c.nbf += 3600;
    c.exp += 3600;
    assertion_error(
        &e,
        &demo_assertion(&c, Algorithm::RS256),
        401,
        "invalid_client",
        700024,
    );
}

#[test]
fn jti_replay_is_refused_but_a_fresh_jti_passes() {
    let e = entra();
    let claims = assertion_claims(CERT_APP);
    let jwt = demo_assertion(&claims, Algorithm::RS256);
    let (status, _, _) = call(&e, TENANT, &form_headers(), &assertion_body(CERT_APP, &jwt));
    assert_eq!(status, StatusCode::OK);
    assertion_error(&e, &jwt, 401, "invalid_client", 50012);
    let jwt2 = demo_assertion(&assertion_claims(CERT_APP), Algorithm::RS256);
    let (status, _, _) = call(
        &e,
        TENANT,
        &form_headers(),
        &assertion_body(CERT_APP, &jwt2),
    );
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn rejected_assertion_does_not_burn_its_jti() {
    let e = entra();
    let mut claims = assertion_claims(CERT_APP);
    claims.aud = "https://login.microsoftonline.com/someone-else/oauth2/v2.0/token".into();
    assertion_error(
        &e,
        &demo_assertion(&claims, Algorithm::RS256),
        401,
        "invalid_client",
        700023,
    );
    claims.aud = format!("https://login.microsoftonline.com/{DOMAIN}/oauth2/v2.0/token");
    let (status, _, _) = call(
        &e,
        TENANT,
        &form_headers(),
        &assertion_body(CERT_APP, &demo_assertion(&claims, Algorithm::RS256)),
    );
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn assertion_claim_errors() {
    let e = entra();
    let mut c = assertion_claims(CERT_APP);
    c.iss = SECRET_APP.into();
    assertion_error(
        &e,
        &demo_assertion(&c, Algorithm::RS256),
        401,
        "invalid_client",
        700021,
    );
    let mut c = assertion_claims(CERT_APP);
    c.jti = String::new();
    assertion_error(
        &e,
        &demo_assertion(&c, Algorithm::RS256),
        400,
        "invalid_request",
        50027,
    );
    assertion_error(&e, "not.a.jwt", 400, "invalid_request", 50027);
    // No thumbprint in the header.
    let (_, key) = demo_certificate();
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &assertion_claims(CERT_APP),
        &EncodingKey::from_rsa_pem(key.as_bytes()).unwrap(),
    )
    .unwrap();
    assertion_error(&e, &jwt, 400, "invalid_request", 50027);
}

#[test]
fn conflicting_credentials_and_bad_assertion_type() {
    let e = entra();
    let h = form_headers();
    let jwt = demo_assertion(&assertion_claims(CERT_APP), Algorithm::RS256);
    let both = encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", CERT_APP),
        ("scope", &scope()),
        ("client_secret", SECRET),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", &jwt),
    ]);
    expect_error(call(&e, TENANT, &h, &both), 400, "invalid_request", 90023);
    let bad_type = encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", CERT_APP),
        ("scope", &scope()),
        ("client_assertion_type", "urn:other"),
        ("client_assertion", &jwt),
    ]);
    expect_error(
        call(&e, TENANT, &h, &bad_type),
        400,
        "invalid_request",
        90023,
    );
}

// ---- access token verification ----

#[test]
fn expired_token_is_expired() {
    for lifetime in [Duration::zero(), Duration::seconds(-10)] {
        let e = Entra::new(config(lifetime));
        let (_, body, _) = call(
            &e,
            TENANT,
            &form_headers(),
            &secret_body(SECRET_APP, SECRET),
        );
        assert_eq!(body["expires_in"], 0);
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(e.verify_access_token(token), Err(BearerError::Expired));
    }
}

#[test]
fn token_signed_by_another_key_is_invalid() {
    let (cert, key) = other_certificate();
    let foreign = Entra::with_signing_key(
        config(Duration::seconds(60)),
        SigningKey::from_pem(key, cert).unwrap(),
    );
    let (_, body, _) = call(
        &foreign,
        TENANT,
        &form_headers(),
        &secret_body(SECRET_APP, SECRET),
    );
    let token = body["access_token"].as_str().unwrap();
    assert!(foreign.verify_access_token(token).is_ok());
    assert_eq!(
        entra().verify_access_token(token),
        Err(BearerError::Invalid)
    );
}

#[test]
fn garbage_and_wrong_audience_tokens_are_invalid() {
    let e = entra();
    assert_eq!(e.verify_access_token("abc"), Err(BearerError::Invalid));
    let mut other_cfg = config(Duration::seconds(60));
    other_cfg.resource = "http://127.0.0.1:1".into();
    let other = Entra::new(other_cfg);
    let body = scope_body("http://127.0.0.1:1/.default");
    let (_, json, _) = call(&other, TENANT, &form_headers(), &body);
    let token = json["access_token"].as_str().unwrap();
    assert_eq!(e.verify_access_token(token), Err(BearerError::Invalid));
}

#[test]
fn dns_name_rules() {
    assert!(is_dns_name("contoso.onmicrosoft.com"));
    assert!(!is_dns_name("contoso"));
    assert!(!is_dns_name("-bad.example.com"));
    assert!(!is_dns_name("a..b"));
}

#[test]
fn basic_auth_conflicts_are_refused() {
    let e = entra();
    let mut h = form_headers();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_APP}:x"));
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
    );
    // Body client_id differs from the header's.
    expect_error(
        call(&e, TENANT, &h, &secret_body(CERT_APP, SECRET)),
        400,
        "invalid_request",
        90023,
    );
    // Same client, but a secret in both places.
    expect_error(
        call(&e, TENANT, &h, &secret_body(SECRET_APP, SECRET)),
        400,
        "invalid_request",
        90023,
    );
    let mut bad = form_headers();
    bad.insert("authorization", HeaderValue::from_static("Basic !!!"));
    expect_error(
        call(&e, TENANT, &bad, &secret_body(SECRET_APP, SECRET)),
        400,
        "invalid_request",
        90023,
    );
}
