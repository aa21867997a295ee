//! Shared test harness: start the emulator (and the gateway) on 127.0.0.1:0 and talk HTTP to them.
#![allow(dead_code)]

use ats_gateway::sandbox::config::SandboxConfig;
use ats_gateway::sandbox::server::{start, EmulatorHandle};
use serde_json::Value;

pub const ANNOTATIONS: &str = "odata.include-annotations=\"*\"";

pub struct Emu {
    pub handle: EmulatorHandle,
    pub http: reqwest::Client,
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
    let handle = start(config, listener).await.expect("emulator starts");
    Emu {
        handle,
        http: reqwest::Client::new(),
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
        &self.handle.state.config
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
