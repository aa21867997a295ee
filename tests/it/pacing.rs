//! Pacing by the budget Dataverse reports: the emulator's answers carry
//! `x-ms-ratelimit-burst-remaining-xrm-requests` and `x-ms-dop-hint`; the gateway holds calls
//! before the budget runs out and caps its concurrency at the hint.

use std::time::{Duration, Instant};

use ats_sandbox::config::SandboxConfig;
use serde_json::json;

use crate::common::{spawn_app_with, TestApp};

/// A distinct read per `n` (page sizes differ), never served from the response cache.
fn read(n: usize) -> String {
    format!("/v1/recruiting-requests?page_size={}", 1 + n % 50)
}

async fn stats(app: &TestApp) -> serde_json::Value {
    app.emu.stats().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_never_sends_while_the_reported_budget_is_spent() {
    let app = spawn_app_with(
        SandboxConfig {
            max_requests_per_window: 60,
            window_secs: 3,
            ..Default::default()
        },
        |c| {
            c.dataverse.budget_window_secs = 3;
            c.cache.response_ttl_ms = 0;
            // Shorter than the window: a held partner read answers 429 instead of waiting.
            c.gateway.request_timeout_ms = 500;
        },
    )
    .await;
    let token = app.partner_token("acme-ats", None).await;
    let mut answered = 0;
    let (retry_after, refused_at) = loop {
        let resp = app.get(&read(answered), &token, None).await;
        match resp.status().as_u16() {
            200 => answered += 1,
            429 => {
                let secs: u64 = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .expect("Retry-After in seconds");
                break (secs, Instant::now());
            }
            s => panic!("partner got {s}"),
        }
        assert!(answered < 100, "never held back");
    };
    let s = stats(&app).await;
    assert_eq!(s["throttled"], 0, "Dataverse had to refuse: {s}");
    assert!(answered >= 5, "held back too early: {answered} reads; {s}");
    assert!((1..=3).contains(&retry_after), "Retry-After {retry_after}");
    // Held reads are answered without a call: Dataverse sees nothing more while the budget is spent.
    let sent = s["total_requests"].as_u64().expect("count");
    let mut after = None;
    while refused_at.elapsed() < Duration::from_secs(6) {
        let resp = app.get(&read(0), &token, None).await;
        if resp.status() == 200 {
            after = Some(refused_at.elapsed());
            break;
        }
        assert_eq!(resp.status(), 429);
        assert_eq!(
            stats(&app).await["total_requests"].as_u64(),
            Some(sent),
            "a held read was sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The Retry-After was right: served again within a second of it, not sooner than a second
    // before it.
    let after = after.expect("served again once the window moved on");
    assert!(
        after <= Duration::from_secs(retry_after + 1)
            && after + Duration::from_secs(1) >= Duration::from_secs(retry_after),
        "served after {after:?}, Retry-After said {retry_after} s"
    );
    assert_eq!(stats(&app).await["throttled"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dop_hint_lowers_the_concurrency_cap() {
    let app = spawn_app_with(
        SandboxConfig {
            dop_hint: 2,
            ..Default::default()
        },
        |c| {
            c.cache.response_ttl_ms = 0;
            c.dataverse.max_concurrency = 48;
        },
    )
    .await;
    let token = app.partner_token("acme-ats", None).await;
    // One answer tells the hint.
    assert_eq!(app.get(&read(0), &token, None).await.status(), 200);
    app.http
        .post(app.emu.url("/_sandbox/stats/reset"))
        .send()
        .await
        .expect("reset");
    app.emu
        .fault(json!({"kind": "latency", "ms": 100, "target": "mshr_hcmrecruitingrequestentities"}))
        .await;
    let reads = (1..=10).map(|n| {
        let url = read(n);
        let token = token.clone();
        let app = &app;
        async move { app.get(&url, &token, None).await.status() }
    });
    for status in futures::future::join_all(reads).await {
        assert_eq!(status, 200);
    }
    let s = stats(&app).await;
    let peak = s["max_in_flight"].as_u64().expect("peak");
    assert!(
        peak <= 2,
        "{peak} calls in flight with x-ms-dop-hint 2: {s}"
    );
}
