//! What a changes scan costs Dataverse: its calls at the default scale, and that it waits behind
//! partner calls queued at the upstream concurrency cap.

use std::time::Duration;

use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

use crate::changes::{baseline, scan};
use crate::common::{spawn_app_with, TestApp};

const RR: &str = "mshr_hcmrecruitingrequestentities";

/// A gateway whose scanner runs only when asked, with its default page size and budget share.
async fn app(max_concurrency: usize) -> TestApp {
    spawn_app_with(SandboxConfig::default(), move |c| {
        c.changes.scan_interval_ms = Some(3_600_000);
        c.dataverse.max_concurrency = max_concurrency;
    })
    .await
}

#[tokio::test]
async fn a_scan_at_the_default_scale_stays_within_ten_calls() {
    let app = app(48).await;
    baseline(&app).await;
    let before = app.emu.requests().await.len();
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");
    assert!(r.events.is_empty());
    let sent = app.emu.requests().await.len() - before;
    // The emulator's own count agrees with the scan's.
    assert_eq!(sent, r.upstream_calls as usize);
    assert!(r.upstream_calls <= 10, "{} calls", r.upstream_calls);
    // Its share of the budget: the two scans' calls out of 6,000, within the default 10 %.
    assert!(
        r.budget_share > 0.0 && r.budget_share <= 0.10,
        "{}",
        r.budget_share
    );
    assert_eq!(r.yielded, Duration::ZERO, "no partner load, no waiting");
    let metrics = app.scrape().await;
    assert!(
        metrics.contains("changes_scan_budget_share"),
        "the share is a metric"
    );
}

#[tokio::test]
async fn the_scanner_yields_to_queued_partner_calls() {
    // One call at a time upstream, each slowed: partner calls queue behind each other.
    let app = app(1).await;
    baseline(&app).await;
    let acme = app.partner_token("acme-ats", None).await;
    let (status, page) = app
        .get_json("/v1/recruiting-requests?page_size=6", &acme, None)
        .await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<String> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 6, "{page}");
    app.emu
        .fault(json!({"kind": "latency", "ms": 150, "target": RR}))
        .await;
    let before = app.emu.requests().await.len();
    let partners: Vec<_> = ids
        .iter()
        .map(|id| {
            let (http, url, token) = (
                app.http.clone(),
                format!("{}/v1/recruiting-requests/{id}", app.url),
                acme.clone(),
            );
            tokio::spawn(async move {
                http.get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    // The scan starts while partner calls wait for the one slot.
    let limiter = app.gateway.state.reader.client.stack().limiter.clone();
    let mut queued = false;
    for _ in 0..500 {
        if limiter.load().1 > 0 {
            queued = true;
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(queued, "partner calls queue at the cap");
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");
    assert!(r.yielded > Duration::ZERO, "{r:?}");
    for p in partners {
        assert_eq!(p.await.expect("task").expect("sent"), 200);
    }
    // Every partner call reached Dataverse before the scan's first call.
    let log: Vec<Value> = app.emu.requests().await.split_off(before);
    let target = |e: &Value| e["target"].as_str().unwrap_or_default().to_lowercase();
    let is_partner = |e: &Value| ids.iter().any(|id| target(e).contains(id.as_str()));
    let last_partner = log.iter().rposition(is_partner).expect("partner calls");
    let first_scan = log.iter().position(|e| !is_partner(e)).expect("scan calls");
    assert!(
        last_partner < first_scan,
        "the scan went first: {:?}",
        log.iter()
            .map(|e| target(e).chars().take(120).collect::<String>())
            .collect::<Vec<_>>()
    );
}
