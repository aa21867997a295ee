//! Rotating the Dataverse client secret without a restart: the gateway reads
//! `[dataverse] client_secret_file` again when it changes, tries the new secret for a token first
//! and keeps the old one until the new one works. The emulator holds two secrets at once, as Entra
//! does during a rotation (`/_sandbox/secrets`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

use crate::common::poll;
use crate::common::{self, spawn_app_with, TestApp};

const LIST: &str = "/v1/recruiting-requests?page_size=5";
const NEW_SECRET: &str = "rotated-secret~second-of-two-0123456789";

/// A gateway reading its Dataverse secret from a file (checked every 50 ms), responses uncached so
/// every partner read calls Dataverse.
async fn app_with_secret_file() -> (TestApp, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("dataverse-secret");
    std::fs::write(&file, SandboxConfig::default().client_secret).expect("write");
    let path = file.clone();
    let app = spawn_app_with(SandboxConfig::default(), move |c| {
        c.dataverse.client_secret = ats_gateway::config::SecretString::default();
        c.dataverse.client_secret_file = Some(path);
        c.auth.reload_poll_ms = 50;
        c.cache.response_ttl_ms = 0;
        // The load runs as fast as it can for as long as the rotation takes: the partner's own
        // rate limit (50/s) would answer 429 to most of it, and a 429 of the partner's budget is
        // not what this test is about.
        for p in &mut c.auth.partners {
            p.rate_limit.per_second = 1_000_000;
            p.rate_limit.burst = 1_000_000;
        }
    })
    .await;
    (app, dir, file)
}

/// Tokens issued so far with the gateway app's secret starting like `value`.
async fn issued_with(app: &TestApp, value: &str) -> u64 {
    let list: Vec<Value> = app
        .http
        .get(app.emu.url("/_sandbox/secrets"))
        .send()
        .await
        .expect("secrets")
        .json()
        .await
        .expect("json");
    let client_id = app.emu.config().client_id.to_string();
    let hint: String = value.chars().take(3).collect();
    list.iter()
        .filter(|s| s["client_id"] == client_id.as_str() && s["hint"] == hint.as_str())
        .map(|s| s["tokens_issued"].as_u64().unwrap_or(0))
        .sum()
}

async fn secrets(app: &TestApp, op: &str, value: &str) -> u16 {
    let path = match op {
        "add" => "/_sandbox/secrets",
        _ => "/_sandbox/secrets/remove",
    };
    app.http
        .post(app.emu.url(path))
        .json(&json!({ "value": value }))
        .send()
        .await
        .expect("secrets call")
        .status()
        .as_u16()
}

/// Partner reads in a loop until stopped: (answered 200, anything else).
fn load(
    app: &TestApp,
    token: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u64, u64)> {
    let http = reqwest::Client::new();
    let url = format!("{}{LIST}", app.url);
    let ok = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        let mut failed = 0;
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (http, url, token, stop, ok) = (
                http.clone(),
                url.clone(),
                token.clone(),
                stop.clone(),
                ok.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut failed = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    match http.get(&url).bearer_auth(&token).send().await {
                        Ok(r) if r.status() == 200 => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => failed += 1,
                    }
                }
                failed
            }));
        }
        for w in workers {
            failed += w.await.unwrap_or(1);
        }
        (ok.load(Ordering::SeqCst), failed)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_the_secret_file_under_load_fails_no_partner_request() {
    let (app, _dir, file) = app_with_secret_file().await;
    let old = app.emu.config().client_secret.clone();
    let token = app.partner_token("acme-ats", None).await;
    let stop = Arc::new(AtomicBool::new(false));
    let running = load(&app, token.clone(), stop.clone());
    assert!(
        poll::until(Duration::from_secs(10), || async {
            issued_with(&app, &old).await >= 1
        })
        .await
        .is_some(),
        "the old secret got no token"
    );

    // The operator adds a second secret in Entra, then points the gateway at it.
    assert_eq!(secrets(&app, "add", NEW_SECRET).await, 204);
    std::fs::write(&file, format!("{NEW_SECRET}\n")).expect("write");
    assert!(
        poll::until(Duration::from_secs(10), || async {
            issued_with(&app, NEW_SECRET).await >= 1
        })
        .await
        .is_some(),
        "the gateway never asked for a token with the new secret"
    );
    // The old secret is deleted; a token Dataverse refuses now is replaced with the new secret.
    // One refusal at a time (a request re-sent after a 401 must not meet a second one); a refusal
    // may hit a request still carrying the old token, which is re-sent with the current one
    // without a new token, so refuse again until one is fetched.
    assert_eq!(secrets(&app, "remove", &old).await, 204);
    let before = issued_with(&app, NEW_SECRET).await;
    let mut renewed = false;
    for _ in 0..20 {
        app.emu
            .fault(json!({"kind": "unauthorized", "count": 1}))
            .await;
        let consumed = poll::until(Duration::from_secs(10), || async {
            let faults: Vec<Value> = app
                .http
                .get(app.emu.url("/_sandbox/faults"))
                .send()
                .await
                .expect("faults")
                .json()
                .await
                .expect("json");
            faults.is_empty()
        })
        .await
        .is_some();
        assert!(consumed, "the refusal was never served");
        if poll::until(Duration::from_secs(2), || async {
            issued_with(&app, NEW_SECRET).await > before
        })
        .await
        .is_some()
        {
            renewed = true;
            break;
        }
    }
    assert!(renewed, "no new token with the new secret after refusals");
    stop.store(true, Ordering::SeqCst);
    let (ok, failed) = running.await.expect("load");
    assert!(ok > 0, "no partner request went through");
    assert_eq!(
        failed,
        0,
        "{failed} of {} partner requests failed",
        ok + failed
    );
    let (status, _) = app.get_json(LIST, &token, None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_new_secret_is_logged_and_the_old_one_keeps_serving() {
    common::logs::capture();
    let (app, _dir, file) = app_with_secret_file().await;
    let old = app.emu.config().client_secret.clone();
    let token = app.partner_token("acme-ats", None).await;
    assert_eq!(app.get_json(LIST, &token, None).await.0, 200);

    // A secret Entra does not know (not added to the app).
    let wrong = "wrong-secret~never-registered";
    std::fs::write(&file, wrong).expect("write");
    let refused = |text: &str| {
        text.lines()
            .any(|l| l.contains("the new one was refused") && l.contains("AADSTS7000215"))
    };
    assert!(
        poll::until(Duration::from_secs(10), || async {
            refused(&common::logs::text())
        })
        .await
        .is_some(),
        "no log line naming AADSTS7000215"
    );
    assert!(
        !common::logs::text().contains(wrong),
        "the secret reached the log"
    );
    // A token Dataverse refuses now is replaced with the old secret, still in force.
    let before = issued_with(&app, &old).await;
    app.emu
        .fault(json!({"kind": "unauthorized", "count": 1}))
        .await;
    for _ in 0..5 {
        assert_eq!(app.get_json(LIST, &token, None).await.0, 200);
    }
    assert!(
        issued_with(&app, &old).await > before,
        "the old secret was not used again"
    );
    // The credential-expiry metric and readiness still describe a working credential.
    assert_eq!(app.ops_get("/readyz").await.status(), 200);
}

/// `dataverse_credential_expires_in_seconds` as scraped, in days (rounded).
async fn expiry_days(ops_url: &str) -> Option<i64> {
    let text = reqwest::get(format!("{ops_url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let line = text.lines().find(|l| {
        l.starts_with("dataverse_credential_expires_in_seconds{kind=\"client_secret\"}")
    })?;
    let secs: f64 = line.rsplit(' ').next()?.parse().ok()?;
    Some((secs / 86_400.0).round() as i64)
}

async fn token_requests(emu: &common::Emu) -> u64 {
    emu.stats().await["token_requests"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_metric_follows_the_credential_in_force() {
    let emu = common::emulator().await;
    let c = emu.config().clone();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("dataverse-secret");
    std::fs::write(&file, &c.client_secret).expect("write");
    let days = |n: i64| chrono::Utc::now() + chrono::Duration::days(n);
    let mut config = ats_gateway::config::Config::default();
    config.dataverse = ats_gateway::config::DataverseConfig {
        org_url: emu.handle.url.clone(),
        authority: emu.handle.url.clone(),
        tenant_id: c.tenant_id.to_string(),
        client_id: c.client_id.to_string(),
        client_secret_file: Some(file.clone()),
        client_secret_expires_at: Some(days(100)),
        ca_file: emu.handle.ca_file.clone(),
        ..Default::default()
    };
    config.gateway.ops_listen = "127.0.0.1:0".parse().expect("addr");
    config.auth.reload_poll_ms = 50;
    config.state.path = Some(dir.path().join("state"));
    // What the config file would say now: the operator edits the expiry date with the secret.
    let expires = Arc::new(std::sync::Mutex::new(days(100)));
    let base = config.dataverse.clone();
    let said = expires.clone();
    let source = ats_gateway::upstream::rotation::CredentialSource {
        load: Box::new(move || {
            let mut d = base.clone();
            d.client_secret_expires_at = Some(*said.lock().map_err(|e| e.to_string())?);
            Ok(d)
        }),
        watch: Vec::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gw = ats_gateway::app::start_reloading(config, listener, None, Some(source))
        .await
        .expect("gateway starts");
    // Polled: the gauge is process-wide, and another test's scrape may set it for a moment.
    assert!(
        poll::until(Duration::from_secs(5), || async {
            expiry_days(&gw.ops_url).await == Some(100)
        })
        .await
        .is_some(),
        "the metric does not say the configured date"
    );

    // A refused secret with a later date: the metric keeps the date of the one in force.
    let before = token_requests(&emu).await;
    *expires.lock().expect("lock") = days(200);
    std::fs::write(&file, "wrong-secret~never-registered").expect("write");
    assert!(
        poll::until(Duration::from_secs(10), || async {
            token_requests(&emu).await > before
        })
        .await
        .is_some(),
        "the new secret was not tried"
    );
    // Polled: the gauge is process-wide, and another test's scrape may set it for a moment.
    assert!(
        poll::until(Duration::from_secs(5), || async {
            expiry_days(&gw.ops_url).await == Some(100)
        })
        .await
        .is_some(),
        "the metric does not say the configured date"
    );

    // A secret Entra knows: in force, and the metric says its date.
    emu.http
        .post(emu.url("/_sandbox/secrets"))
        .json(&json!({ "value": NEW_SECRET }))
        .send()
        .await
        .expect("add secret");
    *expires.lock().expect("lock") = days(300);
    std::fs::write(&file, NEW_SECRET).expect("write");
    assert!(
        poll::until(Duration::from_secs(10), || async {
            expiry_days(&gw.ops_url).await == Some(300)
        })
        .await
        .is_some(),
        "the metric did not follow the new secret"
    );
    gw.shutdown.cancel();
    gw.task.abort();
}
