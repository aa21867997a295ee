//! The emulator over HTTPS and the documents Microsoft's client libraries read from it: OpenID Connect
//! discovery, signing keys, instance discovery, Dataverse's 401 challenge and the organization functions;
//! and the gateway reaching a TLS emulator through `[dataverse] ca_file`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ats_sandbox::config::SandboxConfig;
use ats_sandbox::server::{start_tls, EmulatorHandle};
use ats_sandbox::tls::TlsSource;
use serde_json::Value;

struct TlsEmu {
    handle: EmulatorHandle,
    /// Trusts only the emulator's CA: a pass proves the certificate chain, not a lenient client.
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for TlsEmu {
    fn drop(&mut self) {
        self.handle.task.abort();
    }
}

fn client_trusting(ca_file: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca_file).expect("ca file");
    let certs = reqwest::Certificate::from_pem_bundle(&pem).expect("pem");
    reqwest::Client::builder()
        .tls_certs_only(certs)
        .build()
        .expect("client")
}

async fn tls_emulator() -> TlsEmu {
    let dir = tempfile::tempdir().expect("dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let source = TlsSource::Generate {
        dir: dir.path().to_path_buf(),
    };
    let handle = start_tls(SandboxConfig::default(), listener, &source)
        .await
        .expect("emulator starts");
    let ca = handle.ca_file.clone().expect("ca_file");
    TlsEmu {
        http: client_trusting(&ca),
        handle,
        _dir: dir,
    }
}

impl TlsEmu {
    async fn get(
        &self,
        url: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("https request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// A token the way MSAL gets one: discovery first, then the token endpoint the document names.
    async fn token_via_discovery(&self, tenant: &str) -> String {
        let c = self.handle.config();
        let (s, _, doc) = self
            .get(
                &format!(
                    "{}/{tenant}/v2.0/.well-known/openid-configuration",
                    self.handle.url
                ),
                None,
            )
            .await;
        assert_eq!(s, 200, "{doc}");
        let token_endpoint = doc["token_endpoint"].as_str().expect("token_endpoint");
        let resp = self
            .http
            .post(token_endpoint)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client_id.to_string()),
                ("client_secret", &c.client_secret),
                ("scope", &format!("{}/.default", self.handle.url)),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.expect("json");
        v["access_token"].as_str().expect("token").to_string()
    }
}

fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let h = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .expect("b64");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn https_with_a_generated_ca_and_an_untrusting_client_is_refused() {
    let emu = tls_emulator().await;
    assert!(emu.handle.url.starts_with("https://127.0.0.1:"));
    let pem = std::fs::read_to_string(emu.handle.ca_file.as_ref().expect("ca")).expect("read");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    // The certificate names every loopback spelling.
    let port = emu.handle.addr.port();
    for host in ["127.0.0.1", "localhost"] {
        let (s, _, _) = emu
            .get(&format!("https://{host}:{port}/_sandbox/health"), None)
            .await;
        assert_eq!(s, 200, "{host}");
    }
    let stranger = reqwest::Client::builder()
        .tls_certs_only(Vec::new())
        .build()
        .expect("client");
    assert!(
        stranger.get(emu.handle.url.clone()).send().await.is_err(),
        "a client without the CA must not connect"
    );
}

#[tokio::test]
async fn openid_configuration_v2_and_v1_resolve_common_and_organizations_to_the_tenant() {
    let emu = tls_emulator().await;
    let url = &emu.handle.url;
    let tid = emu.handle.config().tenant_id.to_string();
    let domain = emu.handle.config().tenant_domain.clone();
    for tenant in ["common", "organizations", tid.as_str(), domain.as_str()] {
        let (s, h, v2) = emu
            .get(
                &format!("{url}/{tenant}/v2.0/.well-known/openid-configuration"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{tenant}: {v2}");
        assert!(h[reqwest::header::CONTENT_TYPE]
            .to_str()
            .expect("ct")
            .starts_with("application/json"));
        assert_eq!(v2["issuer"], format!("{url}/{tid}/v2.0"));
        assert_eq!(
            v2["token_endpoint"],
            format!("{url}/{tid}/oauth2/v2.0/token")
        );
        assert_eq!(
            v2["authorization_endpoint"],
            format!("{url}/{tid}/oauth2/v2.0/authorize")
        );
        assert_eq!(v2["jwks_uri"], format!("{url}/{tid}/discovery/v2.0/keys"));
        let (s, _, v1) = emu
            .get(
                &format!("{url}/{tenant}/.well-known/openid-configuration"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{tenant}: {v1}");
        assert_eq!(v1["issuer"], format!("https://sts.windows.net/{tid}/"));
        assert_eq!(
            v1["authorization_endpoint"],
            format!("{url}/{tid}/oauth2/authorize")
        );
    }
    let (s, _, err) = emu
        .get(
            &format!("{url}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"),
            None,
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(err["error_codes"][0], 90002, "{err}");
}

#[tokio::test]
async fn discovery_keys_hold_the_key_that_signs_the_access_tokens() {
    let emu = tls_emulator().await;
    let url = &emu.handle.url;
    let token = emu.token_via_discovery("organizations").await;
    let header = jwt_header(&token);
    let (s, _, doc) = emu
        .get(
            &format!("{url}/common/v2.0/.well-known/openid-configuration"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, keys) = emu.get(doc["jwks_uri"].as_str().expect("jwks"), None).await;
    assert_eq!(s, 200, "{keys}");
    let key = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("no key {} in {keys}", header["kid"]));
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["x5t"], header["x5t"]);
    // The JWK verifies the token: the same key, not just the same name.
    let dk = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().expect("n"),
        key["e"].as_str().expect("e"),
    )
    .expect("jwk");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[url.as_str()]);
    jsonwebtoken::decode::<Value>(&token, &dk, &v).expect("the published key verifies the token");
}

#[tokio::test]
async fn instance_discovery_answers_for_the_emulators_host_only() {
    let emu = tls_emulator().await;
    let url = &emu.handle.url;
    let host = url.trim_start_matches("https://");
    let tid = emu.handle.config().tenant_id;
    let q = format!(
        "{url}/common/discovery/instance?api-version=1.1&authorization_endpoint={url}/{tid}/oauth2/v2.0/authorize"
    );
    let (s, _, v) = emu.get(&q, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["tenant_discovery_endpoint"],
        format!("{url}/{tid}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(v["metadata"][0]["preferred_network"], host);
    assert_eq!(v["metadata"][0]["aliases"][0], host);
    let other = format!(
        "{url}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.example.com/{tid}/oauth2/v2.0/authorize"
    );
    let (s, _, v) = emu.get(&other, None).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"], "invalid_instance", "{v}");
}

#[tokio::test]
async fn unauthenticated_dataverse_request_gets_the_bearer_challenge() {
    let emu = tls_emulator().await;
    let url = &emu.handle.url;
    let tid = emu.handle.config().tenant_id;
    let (s, h, _) = emu
        .get(&format!("{url}/api/data/v9.2/WhoAmI()"), None)
        .await;
    assert_eq!(s, 401);
    assert_eq!(
        h["www-authenticate"].to_str().expect("header"),
        format!("Bearer authorization_uri={url}/{tid}/oauth2/authorize, resource_id={url}/")
    );
}

#[tokio::test]
async fn organization_functions_and_a_table_over_https() {
    let emu = tls_emulator().await;
    let url = &emu.handle.url;
    let api = format!("{url}/api/data/v9.2");
    let token = emu
        .token_via_discovery(&emu.handle.config().tenant_id.to_string())
        .await;
    let t = Some(token.as_str());

    let (s, _, who) = emu.get(&format!("{api}/WhoAmI()"), t).await;
    assert_eq!(s, 200, "{who}");
    let (s, _, ver) = emu.get(&format!("{api}/RetrieveVersion()"), t).await;
    assert_eq!(s, 200, "{ver}");
    assert!(ver["Version"]
        .as_str()
        .expect("version")
        .starts_with("9.2."));

    let literal = format!(
        "{api}/RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')"
    );
    let alias = format!(
        "{api}/RetrieveCurrentOrganization(AccessType=@p1)?@p1=Microsoft.Dynamics.CRM.EndpointAccessType'Internet'"
    );
    for q in [literal, alias] {
        let (s, _, org) = emu.get(&q, t).await;
        assert_eq!(s, 200, "{q}: {org}");
        let d = &org["Detail"];
        assert_eq!(
            org["@odata.context"],
            format!("{api}/$metadata#Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse")
        );
        assert_eq!(
            d["OrganizationId"], who["OrganizationId"],
            "one organization"
        );
        assert_eq!(d["TenantId"], emu.handle.config().tenant_id.to_string());
        assert_eq!(d["OrganizationVersion"], ver["Version"]);
        assert_eq!(d["State"], "Enabled");
        assert_eq!(d["Endpoints"]["Keys"][0], "WebApplication");
        assert_eq!(d["Endpoints"]["Values"][0], format!("{url}/"));
    }
    let (s, _, e) = emu
        .get(
            &format!("{api}/RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Nowhere')"),
            t,
        )
        .await;
    assert_eq!(s, 400, "{e}");
    let (s, _, e) = emu
        .get(
            &format!("{api}/RetrieveCurrentOrganization(AccessType=@p9)"),
            t,
        )
        .await;
    assert_eq!(s, 400, "{e}");

    let (s, _, rows) = emu
        .get(
            &format!("{api}/mshr_hcmrecruitingrequestentities?$top=2"),
            t,
        )
        .await;
    assert_eq!(s, 200, "{rows}");
    assert_eq!(rows["value"].as_array().expect("value").len(), 2);
}

/// The gateway's `[dataverse] ca_file`: with it a TLS emulator is an ordinary upstream; without it the
/// gateway does not trust the emulator (so the key, not some lenient default, makes the difference).
#[tokio::test]
async fn gateway_reaches_a_tls_emulator_through_ca_file() {
    let emu = tls_emulator().await;
    let ca = emu.handle.ca_file.clone().expect("ca");
    for (ca_file, ok) in [(Some(ca), true), (None, false)] {
        let (app, _state) = gateway_for(&emu.handle, ca_file).await;
        let token = partner_token(&app.url).await;
        let resp = reqwest::Client::new()
            .get(format!("{}/v1/recruiting-requests?page_size=2", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("gateway");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if ok {
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["data"].as_array().map(Vec::len), Some(2), "{body}");
        } else {
            assert!(
                status >= 500,
                "untrusted upstream must fail: {status} {body}"
            );
        }
        app.shutdown.cancel();
        app.task.abort();
    }
}

async fn gateway_for(
    emu: &EmulatorHandle,
    ca_file: Option<PathBuf>,
) -> (ats_gateway::app::GatewayHandle, tempfile::TempDir) {
    let c = emu.config();
    let mut config = ats_gateway::config::Config::default();
    config.dataverse = ats_gateway::config::DataverseConfig {
        org_url: emu.url.clone(),
        authority: emu.url.clone(),
        tenant_id: c.tenant_id.to_string(),
        client_id: c.client_id.to_string(),
        client_secret: ats_gateway::config::SecretString::new(c.client_secret.clone()),
        ca_file,
        max_retries: 0,
        ..Default::default()
    };
    config.auth.partners = ats_gateway::demo::partners()
        .into_iter()
        .map(|p| p.config)
        .collect();
    config.gateway.ops_listen = "127.0.0.1:0".parse().expect("addr");
    let state = tempfile::tempdir().expect("state");
    config.state.path = Some(state.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gw = ats_gateway::app::start(config, listener)
        .await
        .expect("gateway starts");
    (gw, state)
}

async fn partner_token(gw: &str) -> String {
    let p = ats_gateway::demo::partners()
        .into_iter()
        .next()
        .expect("a demo partner");
    let resp = reqwest::Client::new()
        .post(format!("{gw}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", p.config.id.as_str()),
            ("client_secret", p.secret),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn ready_line(args: &[&str]) -> (Kill, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read");
    let v = serde_json::from_str(line.trim()).expect("ready line");
    (Kill(child), v)
}

/// `sandbox --tls`: an https emulator, its CA in the ready line, and the gateway reading through it.
#[tokio::test]
async fn sandbox_tls_command_serves_the_gateway_over_a_tls_emulator() {
    let (_p, v) = ready_line(&[
        "sandbox",
        "--tls",
        "--listen",
        "127.0.0.1:0",
        "--emulator-listen",
        "127.0.0.1:0",
    ])
    .await;
    let emulator = v["emulator"].as_str().expect("emulator");
    assert!(emulator.starts_with("https://127.0.0.1:"), "{v}");
    assert_eq!(v["dataverse"]["org_url"], emulator);
    let ca = PathBuf::from(v["ca_file"].as_str().expect("ca_file"));
    let emu_http = client_trusting(&ca);
    let health = emu_http
        .get(format!("{emulator}/_sandbox/health"))
        .send()
        .await
        .expect("emulator over https");
    assert_eq!(health.status(), 200);
    let gw = v["gateway"].as_str().expect("gateway");
    let token = partner_token(gw).await;
    let resp = reqwest::Client::new()
        .get(format!("{gw}/v1/recruiting-requests?page_size=1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("gateway");
    assert_eq!(resp.status(), 200);
}

/// `emulator --tls-cert/--tls-key`: the caller's certificate is served, and the ready line names it.
#[tokio::test]
async fn emulator_serves_a_given_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.pem()).expect("write");
    std::fs::write(&key_file, key.serialize_pem()).expect("write");
    let (_p, v) = ready_line(&[
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert_file.to_str().expect("utf8"),
        "--tls-key",
        key_file.to_str().expect("utf8"),
    ])
    .await;
    assert_eq!(v["ca_file"], cert_file.to_str().expect("utf8"), "{v}");
    let emulator = v["emulator"].as_str().expect("emulator");
    let der = client_trusting(&cert_file)
        .get(format!("{emulator}/_sandbox/health"))
        .send()
        .await
        .expect("the given certificate is the one served");
    assert_eq!(der.status(), 200);
}

/// MSAL for Python writes the assertion's `exp` as a fractional NumericDate (`time.time() + 600`); Entra
/// takes it, and so must the emulator (it answered AADSTS50027 before).
#[tokio::test]
async fn certificate_assertion_with_fractional_dates_gets_a_token() {
    let emu = tls_emulator().await;
    let c = emu.handle.config();
    let client_id = c.cert_client_id.to_string();
    let token_url = emu.handle.token_url();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let claims = serde_json::json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "exp": now + 600.25,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let (cert, key) = ats_sandbox::entra::demo_certificate();
    let assertion =
        ats_sandbox::entra::sign_client_assertion(&claims, false, cert, key).expect("sign");
    let resp = emu
        .http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
            ("scope", &format!("{}/.default", emu.handle.url)),
        ])
        .send()
        .await
        .expect("token");
    let status = resp.status();
    let body: Value = resp.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
}

/// A `ca_file` that is missing or holds no certificate stops the start with the key named, rather than
/// a gateway that fails every upstream call later.
#[tokio::test]
async fn unusable_ca_file_is_a_start_error_naming_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").expect("write");
    for file in [dir.path().join("missing.pem"), not_pem] {
        let mut config = ats_gateway::config::Config::default();
        config.dataverse = ats_gateway::config::DataverseConfig {
            org_url: "https://127.0.0.1:1".into(),
            authority: "https://127.0.0.1:1".into(),
            tenant_id: uuid::Uuid::new_v4().to_string(),
            client_id: uuid::Uuid::new_v4().to_string(),
            client_secret: ats_gateway::config::SecretString::new("s".to_string()),
            ca_file: Some(file.clone()),
            ..Default::default()
        };
        config.gateway.ops_listen = "127.0.0.1:0".parse().expect("addr");
        config.state.path = Some(dir.path().join("state"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let err = match ats_gateway::app::start(config, listener).await {
            Ok(_) => panic!("{} must not be accepted", file.display()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("dataverse.ca_file"), "{err}");
    }
}
