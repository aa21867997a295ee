//! Shared test harness: start the emulator (and the gateway) on 127.0.0.1:0 and talk HTTP to them.
// Not every test module uses every harness helper.
#![allow(dead_code)]

pub mod logs;
pub mod poll;
pub mod postgres;
pub mod proxy;
pub mod redis;

use ats_sandbox::config::SandboxConfig;
use ats_sandbox::server::{start, EmulatorHandle};
use serde_json::Value;

pub const ANNOTATIONS: &str = "odata.include-annotations=\"*\"";

pub struct Emu {
    pub handle: EmulatorHandle,
    pub http: reqwest::Client,
    /// With `ATS_TEST_EMULATOR_TLS`: where the emulator's CA lives while it runs.
    _tls_dir: Option<tempfile::TempDir>,
}

impl Drop for Emu {
    fn drop(&mut self) {
        self.handle.task.abort();
    }
}

pub async fn emulator() -> Emu {
    emulator_with(SandboxConfig::default()).await
}

pub async fn emulator_with(config: SandboxConfig) -> Emu {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // `ATS_TEST_EMULATOR_TLS=1 cargo test --test it read_api::` runs a suite against an HTTPS emulator
    // (the gateway trusting it through `[dataverse] ca_file`), as `sandbox --tls` runs.
    if std::env::var_os("ATS_TEST_EMULATOR_TLS").is_some() {
        let dir = tempfile::tempdir().expect("tls dir");
        let source = ats_sandbox::tls::TlsSource::Generate {
            dir: dir.path().to_path_buf(),
        };
        let handle = ats_sandbox::server::start_tls(config, listener, &source)
            .await
            .expect("emulator starts");
        let pem = std::fs::read(handle.ca_file.as_ref().expect("ca_file")).expect("ca");
        let http = reqwest::Client::builder()
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).expect("pem"))
            .build()
            .expect("client");
        return Emu {
            handle,
            http,
            _tls_dir: Some(dir),
        };
    }
    let handle = start(config, listener).await.expect("emulator starts");
    Emu {
        handle,
        http: reqwest::Client::new(),
        _tls_dir: None,
    }
}

impl Emu {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.url, path)
    }
    pub fn api(&self, rest: &str) -> String {
        format!("{}/api/data/v9.2/{}", self.handle.url, rest)
    }
    pub fn config(&self) -> &SandboxConfig {
        self.handle.config()
    }

    /// Client-credentials form with the demo secret.
    pub async fn token_response(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.handle.token_url())
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    pub async fn token(&self) -> String {
        let c = self.config();
        let scope = format!("{}/.default", self.handle.url);
        let resp = self
            .token_response(&[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client_id.to_string()),
                ("client_secret", &c.client_secret),
                ("scope", &scope),
            ])
            .await;
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.expect("json");
        v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn get(&self, rest: &str, token: &str, prefer: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.api(rest))
            .bearer_auth(token)
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0");
        if let Some(p) = prefer {
            req = req.header("Prefer", p);
        }
        req.send().await.expect("request")
    }

    pub async fn get_json(&self, rest: &str, token: &str, prefer: Option<&str>) -> (u16, Value) {
        let resp = self.get(rest, token, prefer).await;
        let status = resp.status().as_u16();
        let v = resp.json().await.unwrap_or(Value::Null);
        (status, v)
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(self.url("/_sandbox/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("json")
    }

    /// The Dataverse requests the emulator saw (`/_sandbox/requests`), oldest first.
    pub async fn requests(&self) -> Vec<Value> {
        self.http
            .get(self.url("/_sandbox/requests"))
            .send()
            .await
            .expect("requests")
            .json()
            .await
            .expect("json")
    }

    pub async fn fault(&self, spec: Value) {
        let r = self
            .http
            .post(self.url("/_sandbox/faults"))
            .json(&spec)
            .send()
            .await
            .expect("fault");
        assert_eq!(r.status(), 204, "fault accepted");
    }
}

/// A gateway pointed at its own emulator, with the demo partners (secrets known to tests).
pub struct TestApp {
    pub emu: Emu,
    pub gateway: ats_gateway::app::GatewayHandle,
    /// The partner listener.
    pub url: String,
    /// The ops listener (`/metrics`, `/healthz`, `/readyz`).
    pub ops_url: String,
    pub http: reqwest::Client,
    /// The app's state directory, removed when the test ends (the gateway may outlive the test's
    /// runtime briefly, so the test owns the directory rather than the gateway).
    pub state_dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Background workers watching `state.shutdown()` stop too.
        self.gateway.shutdown.cancel();
        self.gateway.task.abort();
    }
}

/// A demo partner's token from the token endpoint of the gateway at `url` (`scope` = None: all
/// allowed scopes).
pub async fn partner_token_at(
    http: &reqwest::Client,
    url: &str,
    partner: &str,
    scope: Option<&str>,
) -> String {
    let secret = ats_gateway::demo::partners()
        .into_iter()
        .find(|p| p.config.id == partner)
        .map(|p| p.secret)
        .expect("demo partner");
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", partner),
        ("client_secret", secret),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let resp = http
        .post(format!("{url}/oauth2/token"))
        .form(&form)
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200, "partner token for {partner}");
    let v: Value = resp.json().await.expect("json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SandboxConfig::default(), |_| {}).await
}

/// Starts the emulator with `sandbox`, then the gateway with its config adjusted by `tweak`.
pub async fn spawn_app_with(
    sandbox: SandboxConfig,
    tweak: impl FnOnce(&mut ats_gateway::config::Config),
) -> TestApp {
    let emu = emulator_with(sandbox).await;
    let (gateway, state_dir) = start_gateway(&emu, tweak).await;
    // The emulator's client: it also trusts the emulator's CA when that runs with TLS.
    let http = emu.http.clone();
    TestApp {
        emu,
        url: gateway.url.clone(),
        ops_url: gateway.ops_url.clone(),
        gateway,
        http,
        state_dir,
    }
}

/// One more gateway (a replica) on `emu`: its own ports and state directory, the demo partners.
pub struct Replica {
    pub gateway: ats_gateway::app::GatewayHandle,
    pub url: String,
    pub ops_url: String,
    pub state_dir: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.gateway.shutdown.cancel();
        self.gateway.task.abort();
    }
}

/// The gateway configuration the harness uses for `emu` (before a test's tweak).
pub fn gateway_config(emu: &Emu) -> ats_gateway::config::Config {
    let c = emu.config().clone();
    let mut config = ats_gateway::config::Config::default();
    config.dataverse = ats_gateway::config::DataverseConfig {
        org_url: emu.handle.url.clone(),
        authority: emu.handle.url.clone(),
        tenant_id: c.tenant_id.to_string(),
        client_id: c.client_id.to_string(),
        client_secret: ats_gateway::config::SecretString::new(c.client_secret.clone()),
        ca_file: emu.handle.ca_file.clone(),
        ..Default::default()
    };
    config.auth.partners = ats_gateway::demo::partners()
        .into_iter()
        .map(|p| p.config)
        .collect();
    // A free port per app: tests run many gateways at once.
    config.gateway.ops_listen = "127.0.0.1:0".parse().expect("addr");
    // Upstream calls counted by a test are its own: caches fill on first use (tests/it/cold_start.rs
    // turns the warm-up on).
    config.gateway.warm_up = false;
    config
}

/// Starts a gateway on `emu` with its config adjusted by `tweak` (several make a cluster when the
/// tweak points them at one shared `[state] url`).
pub async fn spawn_replica(
    emu: &Emu,
    tweak: impl FnOnce(&mut ats_gateway::config::Config),
) -> Replica {
    spawn_replica_as(emu, tweak, false).await
}

/// [`spawn_replica`] started held (`app::start_held`, as `serve` and `sandbox` start it): its
/// background work waits for `GatewayHandle::release_background`.
pub async fn spawn_held_replica(
    emu: &Emu,
    tweak: impl FnOnce(&mut ats_gateway::config::Config),
) -> Replica {
    spawn_replica_as(emu, tweak, true).await
}

async fn spawn_replica_as(
    emu: &Emu,
    tweak: impl FnOnce(&mut ats_gateway::config::Config),
    held: bool,
) -> Replica {
    let (gateway, state_dir) = start_gateway_as(emu, tweak, held).await;
    Replica {
        url: gateway.url.clone(),
        ops_url: gateway.ops_url.clone(),
        gateway,
        state_dir,
    }
}

async fn start_gateway(
    emu: &Emu,
    tweak: impl FnOnce(&mut ats_gateway::config::Config),
) -> (ats_gateway::app::GatewayHandle, tempfile::TempDir) {
    start_gateway_as(emu, tweak, false).await
}

async fn start_gateway_as(
    emu: &Emu,
    tweak: impl FnOnce(&mut ats_gateway::config::Config),
    held: bool,
) -> (ats_gateway::app::GatewayHandle, tempfile::TempDir) {
    let mut config = gateway_config(emu);
    let state_dir = tempfile::Builder::new()
        .prefix("ats-gateway-test-")
        .tempdir()
        .expect("state dir");
    config.state.path = Some(state_dir.path().to_path_buf());
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gateway = if held {
        ats_gateway::app::start_held(config, listener, None, None).await
    } else {
        ats_gateway::app::start(config, listener).await
    }
    .expect("gateway starts");
    (gateway, state_dir)
}

impl TestApp {
    /// Stops this gateway as a shutdown would (webhook workers included) and starts another on the
    /// same emulator and state directory, its config adjusted by `tweak`.
    pub async fn restart(&mut self, tweak: impl FnOnce(&mut ats_gateway::config::Config)) {
        let state = self.gateway.state.clone();
        self.gateway.shutdown.cancel();
        self.gateway.task.abort();
        tokio::time::timeout(std::time::Duration::from_secs(20), state.webhooks.stopped())
            .await
            .expect("webhook workers stop");
        let mut config = state.config.clone();
        config.state.path = Some(state.state_dir.clone());
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        self.gateway = ats_gateway::app::start(config, listener)
            .await
            .expect("gateway restarts");
        self.url = self.gateway.url.clone();
        self.ops_url = self.gateway.ops_url.clone();
    }

    /// A partner token from the gateway's token endpoint (`scope` = None: all allowed scopes).
    pub async fn partner_token(&self, partner: &str, scope: Option<&str>) -> String {
        partner_token_at(&self.http, &self.url, partner, scope).await
    }

    pub async fn get(&self, path: &str, token: &str, lang: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}{}", self.url, path))
            .bearer_auth(token);
        if let Some(l) = lang {
            req = req.header("Accept-Language", l);
        }
        req.send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str, token: &str, lang: Option<&str>) -> (u16, Value) {
        let resp = self.get(path, token, lang).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `GET` on the ops listener (`/metrics`, `/healthz`, `/readyz`).
    pub async fn ops_get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.ops_url))
            .send()
            .await
            .expect("ops request")
    }

    /// The Prometheus text of the ops listener's `/metrics`.
    pub async fn scrape(&self) -> String {
        let resp = self.ops_get("/metrics").await;
        assert_eq!(resp.status(), 200, "scrape");
        resp.text().await.expect("metrics text")
    }
}

/// The kids a gateway publishes at `/.well-known/jwks.json`, in order.
pub async fn jwks_kids(gateway: &str) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{gateway}/.well-known/jwks.json"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_string))
        .collect()
}

/// The ops listener's `/metrics` text.
pub async fn metrics_text(http: &reqwest::Client, ops: &str) -> String {
    http.get(format!("{ops}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}
