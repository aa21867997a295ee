//! The sandbox's Entra token endpoint over real HTTP: every error a misconfigured service principal
//! meets, in Entra's JSON shape, and success with a client secret and with a certificate — the latter
//! through the gateway's own token provider and Dataverse client, as in production.

use crate::common;
use crate::common::emulator;
use ats_gateway::upstream::{
    CertificateCredential, ClientCredential, DataverseClient, DataverseConfig, Secret, TokenConfig,
    TokenProvider, UpstreamError,
};
use ats_sandbox::entra::{demo_certificate, other_certificate, sign_client_assertion};
use serde_json::Value;

async fn token_error(emu: &common::Emu, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = emu.http.post(url).form(form).send().await.expect("send");
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["cache-control"], "no-store, no-cache");
    (status, resp.json().await.expect("json"))
}

fn assert_entra_error(v: &Value, error: &str, code: u64) {
    assert_eq!(v["error"], error, "{v}");
    assert_eq!(v["error_codes"][0], code, "{v}");
    let desc = v["error_description"].as_str().expect("description");
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(
        desc.contains("\r\nTrace ID: ")
            && desc.contains("\r\nCorrelation ID: ")
            && desc.contains("\r\nTimestamp: "),
        "{desc}"
    );
    assert_eq!(
        v["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    let ts = v["timestamp"].as_str().expect("timestamp");
    assert_eq!(ts.len(), "2023-05-06 06:03:00Z".len());
    assert_eq!(&ts[10..11], " ");
}

/// (form overrides, token URL, HTTP status, OAuth error, AADSTS code)
type Case = (Vec<(&'static str, String)>, String, u16, &'static str, u64);

#[tokio::test]
async fn every_token_error_in_entras_shape() {
    let emu = emulator().await;
    let c = emu.config().clone();
    let url = emu.handle.token_url();
    let scope = format!("{}/.default", emu.handle.url);
    let cid = c.client_id.to_string();
    let good_secret = c.client_secret.clone();
    let cases: Vec<Case> = vec![
        (
            vec![("client_secret", "wrong".into())],
            url.clone(),
            401,
            "invalid_client",
            7000215,
        ),
        (
            vec![("client_id", c.expired_client_id.to_string())],
            url.clone(),
            401,
            "invalid_client",
            7000222,
        ),
        (
            vec![("client_id", "11111111-2222-3333-4444-555555555555".into())],
            url.clone(),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            vec![("client_id", c.disabled_client_id.to_string())],
            url.clone(),
            400,
            "unauthorized_client",
            7000112,
        ),
        (
            vec![],
            format!(
                "{}/99999999-9999-9999-9999-999999999999/oauth2/v2.0/token",
                emu.handle.url
            ),
            400,
            "invalid_request",
            90002,
        ),
        (
            vec![("scope", emu.handle.url.clone())],
            url.clone(),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            vec![("scope", "https://other.crm.dynamics.com/.default".into())],
            url.clone(),
            400,
            "invalid_resource",
            500011,
        ),
        (
            vec![("grant_type", "password".into())],
            url.clone(),
            400,
            "unsupported_grant_type",
            70003,
        ),
    ];
    for (overrides, target, status, error, code) in cases {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", cid.clone()),
            ("client_secret", good_secret.clone()),
            ("scope", scope.clone()),
        ];
        for (k, v) in overrides {
            form.retain(|(fk, _)| *fk != k);
            form.push((k, v));
        }
        let borrowed: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, v) = token_error(&emu, &target, &borrowed).await;
        assert_eq!(s, status, "{error} {code}: {v}");
        assert_entra_error(&v, error, code);
        assert!(
            !v.to_string().contains(&good_secret),
            "no secret in the body"
        );
    }
    // No credential at all.
    let (s, v) = token_error(
        &emu,
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(s, 401);
    assert_entra_error(&v, "invalid_client", 7000218);
    // Missing grant_type.
    let (s, v) = token_error(
        &emu,
        &url,
        &[
            ("client_id", &cid),
            ("client_secret", &good_secret),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(s, 400);
    assert_entra_error(&v, "invalid_request", 900144);
}

#[tokio::test]
async fn secret_success_returns_a_dataverse_token() {
    let emu = emulator().await;
    let c = emu.config().clone();
    let scope = format!("{}/.default", emu.handle.url);
    let resp = emu
        .token_response(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client_id.to_string()),
            ("client_secret", &c.client_secret),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store, no-cache");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].is_u64() && v["ext_expires_in"].is_u64());
    let token = v["access_token"].as_str().expect("token");
    let payload = token.split('.').nth(1).expect("payload");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["aud"], emu.handle.url);
    assert_eq!(claims["appid"], c.client_id.to_string());
    assert_eq!(claims["azp"], c.client_id.to_string());
    assert_eq!(claims["tid"], c.tenant_id.to_string());
    assert_eq!(claims["appidacr"], "1");
    assert!(claims["oid"].is_string() && claims["exp"].is_i64());
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{}/", c.tenant_id)
    );
}

fn provider(emu: &common::Emu, client_id: &str, credential: ClientCredential) -> TokenProvider {
    let c = emu.config();
    TokenProvider::new(TokenConfig::for_dataverse(
        &emu.handle.url,
        &c.tenant_id.to_string(),
        client_id,
        &emu.handle.url,
        credential,
    ))
    .expect("provider")
}

#[tokio::test]
async fn certificate_assertion_success_and_wrong_certificate() {
    let emu = emulator().await;
    let cert_client = emu.config().cert_client_id.to_string();
    let (cert, key) = demo_certificate();
    let good = CertificateCredential::from_pem(cert, &Secret::new(key)).expect("demo cert");
    let tokens = provider(&emu, &cert_client, ClientCredential::Certificate(good));
    let client =
        DataverseClient::new(DataverseConfig::new(&emu.handle.url), tokens).expect("client");
    let who = client
        .get_json("WhoAmI()")
        .await
        .expect("WhoAmI with a certificate-based token");
    assert!(who["UserId"].is_string());

    let (cert, key) = other_certificate();
    let wrong = CertificateCredential::from_pem(cert, &Secret::new(key)).expect("other cert");
    let tokens = provider(&emu, &cert_client, ClientCredential::Certificate(wrong));
    match tokens.token().await {
        Err(UpstreamError::TokenEndpoint(e)) => {
            assert_eq!(e.status, 401);
            assert_eq!(e.error, "invalid_client");
            assert_eq!(e.aadsts, Some(700027));
        }
        other => panic!("expected AADSTS700027, got {other:?}"),
    }
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Well-formed assertion claims for `client` addressed to `aud`, valid from now for five minutes.
fn assertion_claims(client: &str, aud: &str) -> serde_json::Map<String, Value> {
    let now = chrono::Utc::now().timestamp();
    let v = serde_json::json!({
        "aud": aud, "iss": client, "sub": client,
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + 300,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

async fn assertion_request(
    emu: &common::Emu,
    client: &str,
    assertion: &str,
    scope: &str,
) -> (u16, Value) {
    token_error(
        emu,
        &emu.handle.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("scope", scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

#[tokio::test]
async fn every_bad_assertion_error_over_http() {
    let emu = emulator().await;
    let cid = emu.config().cert_client_id.to_string();
    let aud = emu.handle.token_url();
    let scope = format!("{}/.default", emu.handle.url);
    let (cert, key) = demo_certificate();
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: &serde_json::Map<String, Value>, ps256: bool| {
        sign_client_assertion(claims, ps256, cert, key).expect("sign with the demo certificate")
    };
    let with = |k: &str, v: Value| {
        let mut c = assertion_claims(&cid, &aud);
        c.insert(k.to_string(), v);
        c
    };
    // (claims, http status, error, AADSTS code) — both header variants are exercised.
    let cases: Vec<(serde_json::Map<String, Value>, u16, &str, u64)> = vec![
        (
            with("exp", (now - 3600).into()),
            401,
            "invalid_client",
            700024,
        ),
        (
            with("nbf", (now + 3600).into()),
            401,
            "invalid_client",
            700024,
        ),
        (
            with(
                "aud",
                "https://login.microsoftonline.com/other/oauth2/v2.0/token".into(),
            ),
            401,
            "invalid_client",
            700023,
        ),
        (
            with("iss", "11111111-2222-3333-4444-555555555555".into()),
            401,
            "invalid_client",
            700021,
        ),
        (
            with("sub", "11111111-2222-3333-4444-555555555555".into()),
            401,
            "invalid_client",
            700021,
        ),
        (with("jti", "".into()), 400, "invalid_request", 50027),
    ];
    for (i, (claims, status, error, code)) in cases.into_iter().enumerate() {
        let (s, v) = assertion_request(&emu, &cid, &sign(&claims, i % 2 == 0), &scope).await;
        assert_eq!(s, status, "{code}: {v}");
        assert_entra_error(&v, error, code);
    }

    // Not a JWT at all.
    let (s, v) = assertion_request(&emu, &cid, "not-a-jwt", &scope).await;
    assert_eq!(s, 400, "{v}");
    assert_entra_error(&v, "invalid_request", 50027);

    // The same assertion twice: accepted once, then a replay (jti).
    let once = sign(&assertion_claims(&cid, &aud), true);
    let first = emu
        .token_response(&[
            ("grant_type", "client_credentials"),
            ("client_id", &cid),
            ("scope", &scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &once),
        ])
        .await;
    assert_eq!(first.status(), 200, "a fresh assertion is accepted");
    let (s, v) = assertion_request(&emu, &cid, &once, &scope).await;
    assert_eq!(s, 401, "{v}");
    assert_entra_error(&v, "invalid_client", 50012);

    // A valid assertion but a scope that is not a resource at all: 70011.
    let fresh = sign(&assertion_claims(&cid, &aud), false);
    let (s, v) = assertion_request(&emu, &cid, &fresh, "openid").await;
    assert_eq!(s, 400, "{v}");
    assert_entra_error(&v, "invalid_scope", 70011);
}
