//! Fewer Dataverse calls than partners make: single flight for identical reads and shared lookup
//! batches on a cold gateway.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{spawn_app_with, TestApp};

/// Demo partners with rate limits out of the way (these tests count upstream calls, not 429s).
async fn app_without_rate_limits(tweak: impl FnOnce(&mut ats_gateway::config::Config)) -> TestApp {
    spawn_app_with(Default::default(), |c| {
        for p in &mut c.auth.partners {
            p.rate_limit.per_second = 10_000;
            p.rate_limit.burst = 10_000;
        }
        tweak(c);
    })
    .await
}

/// Dataverse requests per entity set since the emulator started (tokens not included).
async fn upstream_calls(app: &TestApp) -> (u64, BTreeMap<String, u64>) {
    let s = app.emu.stats().await;
    let by_set = s["requests"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    (s["total_requests"].as_u64().unwrap_or(0), by_set)
}

const SORTS: [&str; 5] = [
    "number",
    "-number",
    "status",
    "description",
    "estimated_start_date",
];

/// 70 concurrent first pages right after start: 2 partners (different companies) × 5 sort orders
/// = 10 distinct lists, 7 requests each. Each distinct list is one upstream read; its rows need 7
/// lookup tables, so shared lookup batches cost at most one call per table per distinct page
/// (fewer where pages share ids); the 4 option sets are read once each. Bound: 10 + 4 + 10 × 7 = 84
/// (without sharing this burst cost several hundred calls).
#[tokio::test]
async fn cold_burst_of_first_pages_costs_one_call_per_distinct_read() {
    let app = app_without_rate_limits(|_| {}).await;
    let acme = app.partner_token("acme-ats", None).await;
    let nordic = app.partner_token("nordic-hr", None).await;
    let (before, _) = upstream_calls(&app).await;
    let requests = (0..70).map(|i| {
        let token = if i % 2 == 0 { &acme } else { &nordic };
        let path = format!(
            "/v1/recruiting-requests?page_size=50&sort={}",
            SORTS[(i / 2) % SORTS.len()]
        );
        let app = &app;
        async move { app.get_json(&path, token, None).await }
    });
    let answers = futures::future::join_all(requests).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert!(!body["data"].as_array().expect("data").is_empty());
    }
    let (after, by_set) = upstream_calls(&app).await;
    let calls = after - before;
    eprintln!("70 concurrent first pages: {calls} upstream calls {by_set:?}");
    assert!(
        by_set["mshr_hcmrecruitingrequestentities"] <= 10,
        "one read per distinct list: {by_set:?}"
    );
    assert!(calls <= 84, "{calls} upstream calls: {by_set:?}");
    // The same pages answered alike whoever led the shared call.
    for (i, (_, b)) in answers.iter().enumerate() {
        let same: &Value = &answers[i % 10].1;
        assert_eq!(b["data"], same["data"], "request {i}");
    }
}
