//! Graceful shutdown: on SIGTERM the real binary turns readiness to `draining`, stops accepting,
//! finishes every request in flight with a full response and exits 0; in process, cancelling
//! `state.shutdown()` does the same for one gateway.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::spawn_app_with;
use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

const SET: &str = "mshr_hcmrecruitingrequestentities";
const LIST: &str = "/v1/recruiting-requests?page_size=20";

/// A request's outcome: status and whether the body was a complete JSON page.
async fn full_page(http: reqwest::Client, url: String, token: String) -> (u16, usize) {
    let resp = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("an accepted request gets a response");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("the whole body");
    let v: Value = serde_json::from_slice(&body).expect("a complete JSON body");
    let rows = v["data"].as_array().map_or(0, Vec::len);
    (status, rows)
}

/// Polls (bounded) until the emulator has received `n` calls to `SET` since the last reset.
async fn until_upstream_sees(http: &reqwest::Client, admin: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats: Value = http
            .get(format!("{admin}/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("json");
        if stats["requests"][SET].as_u64().unwrap_or(0) >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "requests reach upstream: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client that opens a new connection per request, so no request rides a connection the server
/// is closing.
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_completes_every_request_and_exits_0() {
    const IN_FLIGHT: usize = 40;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--emulator-listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let child = Child(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("ready line");
    let ready: Value = serde_json::from_str(line.trim()).expect("one JSON ready line");
    let (gw, ops, admin) = (
        ready["gateway"].as_str().expect("gateway").to_string(),
        ready["ops"].as_str().expect("ops").to_string(),
        ready["admin"].as_str().expect("admin").to_string(),
    );
    let http = fresh_connections();
    let token: Value = http
        .post(format!("{gw}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "acme-ats"),
            ("client_secret", "acme-demo-secret"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("token").to_string();
    // Warm the upstream token, labels and lookups: only the list call meets the latency below.
    let (status, _) = full_page(http.clone(), format!("{gw}{LIST}"), token.clone()).await;
    assert_eq!(status, 200);
    let ready_now = http
        .get(format!("{ops}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready_now.status(), 200);

    let r = http
        .post(format!("{admin}/stats/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(r.status(), 204);
    let r = http
        .post(format!("{admin}/faults"))
        .json(&json!({"kind": "latency", "ms": 1500, "target": SET}))
        .send()
        .await
        .expect("fault");
    assert_eq!(r.status(), 204);
    // Distinct pages (page sizes 21..60): identical reads would share one upstream call.
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            tokio::spawn(full_page(
                http.clone(),
                format!("{gw}/v1/recruiting-requests?page_size={}", 21 + i),
                token.clone(),
            ))
        })
        .collect();
    // Every request is accepted and waiting on Dataverse before the signal.
    until_upstream_sees(&http, &admin, IN_FLIGHT as u64).await;
    let pid = child.0.id().to_string();
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());

    // Draining: readiness says so (the ops listener outlives the partner drain)...
    // (Polled, bounded: the signal reaches the process a moment after `kill` returns.)
    let deadline = Instant::now() + Duration::from_secs(5);
    let draining = loop {
        let r = http
            .get(format!("{ops}/readyz"))
            .send()
            .await
            .expect("readyz");
        if r.status() == 503 || Instant::now() >= deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(draining.status(), 503);
    assert_eq!(
        draining.json::<Value>().await.expect("json"),
        json!({"status": "draining"})
    );
    // ...and the partner port soon accepts no new connection (its socket is closed).
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let r = http.get(format!("{gw}/.well-known/jwks.json")).send().await;
        if r.as_ref().is_err_and(reqwest::Error::is_connect) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new connections are refused: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut rows = 0;
    for r in requests {
        let (status, n) = r.await.expect("join");
        assert_eq!(status, 200, "every accepted request completes");
        rows += n;
    }
    assert_eq!(
        rows,
        (21..21 + IN_FLIGHT).sum::<usize>(),
        "every page whole"
    );
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the process exits after draining"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "SIGTERM with {IN_FLIGHT} requests in flight: all completed, exit {exit} {:?} after the signal",
        signalled.elapsed()
    );
    assert_eq!(exit.code(), Some(0), "exit status 0");
}

/// The grace period bounds the drain: a request slower than it does not hold the process.
#[tokio::test]
async fn the_drain_is_bounded_by_the_grace_period() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.gateway.shutdown_grace_ms = 300;
        c.gateway.request_timeout_ms = 20_000;
    })
    .await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, _) = app.get_json(LIST, &token, None).await;
    assert_eq!(status, 200, "warm-up");
    app.emu
        .fault(json!({"kind": "latency", "ms": 10_000, "target": SET}))
        .await;
    let slow = tokio::spawn(full_page(
        app.http.clone(),
        format!("{}/v1/recruiting-requests?page_size=21", app.url), // not the warm-up's page
        token.clone(),
    ));
    until_upstream_sees(&app.http, &app.emu.url("/_sandbox"), 2).await; // warm-up + this one
    let t0 = Instant::now();
    app.gateway.shutdown.cancel();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.gateway.task.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the drain ends after the grace period"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    slow.abort();
}
