//! Cold start: the first partner page waits only on what it renders, and the reference caches are
//! warmed in the background after start (option sets by name, the first page's lookups, reference
//! lists), one call at a time, before the boards' first read from Dataverse. Calls are told apart
//! by the emulator's request log: a partner request's calls carry its request id upstream.
//! Numbers (how long the first page takes at 100,000 requests) are measured by
//! scripts/bench/coldstart.py, not here.

use std::time::Duration;

use serde_json::Value;

use crate::common::{spawn_app_with, TestApp};
use ats_gateway::resources::reference::{LOOKUP_LISTS, OPTION_SETS};
use ats_sandbox::config::SandboxConfig;

const PARTNER: &str = "acme-ats";

async fn cold_app() -> TestApp {
    spawn_app_with(SandboxConfig::default(), |c| {
        // As `serve` runs it, with the demo boards (their first read is the largest at start).
        c.gateway.warm_up = true;
        c.boards = ats_gateway::boards::config::demo();
        c.changes.scan_interval_ms = Some(3_600_000);
    })
    .await
}

/// `GET path` as the partner; the status and the request id its upstream calls carry.
async fn get(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let resp = app.get(path, token, None).await;
    (resp.status().as_u16(), request_id(&resp))
}

/// The `X-Request-Id` a partner answer carries (its upstream calls carry it too).
fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string()
}

/// The targets (path and query, decoded) of the emulator's logged calls made for request `id`.
fn calls_of(log: &[Value], id: &str) -> Vec<String> {
    log.iter()
        .filter(|e| e["client_request_id"].as_str() == Some(id))
        .map(target)
        .collect()
}

fn target(e: &Value) -> String {
    percent_encoding::percent_decode_str(e["target"].as_str().unwrap_or(""))
        .decode_utf8_lossy()
        .into_owned()
}

fn is_option_set_load(t: &str) -> bool {
    t.contains("/GlobalOptionSetDefinitions")
}

/// A whole reference list: a lookup table read without a filter.
fn is_reference_list(t: &str) -> bool {
    LOOKUP_LISTS.iter().any(|(_, logical)| {
        ats_gateway::resolve::lookups::table(logical)
            .is_some_and(|table| t.contains(&format!("/{}?", table.set)) && !t.contains("$filter"))
    })
}

/// The boards' read: recruiting requests with every child collection expanded.
fn is_boards_read(t: &str) -> bool {
    t.contains("/mshr_hcmrecruitingrequestentities?") && t.contains("$expand")
}

#[tokio::test]
async fn the_first_page_waits_on_no_background_load_and_the_warm_up_follows() {
    let app = cold_app().await;
    let token = app.partner_token(PARTNER, None).await;

    // The first page, at once: its own calls are its list, its labels (by name) and lookups.
    let (status, first) = get(&app, &token, "/v1/recruiting-requests?page_size=50").await;
    assert_eq!(status, 200);

    let report = tokio::time::timeout(Duration::from_secs(60), app.gateway.warmup.clone().done())
        .await
        .expect("the warm-up ends");
    assert!(!report.stopped && report.failed == 0, "{report:?}");
    assert_eq!(report.option_sets, OPTION_SETS.len(), "{report:?}");
    assert!(report.lists > 0 && report.first_page_rows > 0, "{report:?}");
    // Bounded: each option set once, one page and its lookups, each list's pages.
    assert!(
        report.upstream_calls as usize <= OPTION_SETS.len() + 20 + 11 * LOOKUP_LISTS.len(),
        "{report:?}"
    );

    let log = app.emu.requests().await;
    let mine = calls_of(&log, &first);
    assert!(!mine.is_empty(), "the first page's calls carry its id");
    for t in &mine {
        assert!(
            !is_boards_read(t) && !is_reference_list(t),
            "the first page waited on {t}"
        );
        if is_option_set_load(t) {
            assert!(t.contains("(Name='"), "a full option-set load: {t}");
        }
    }
    // Every option set is loaded by name, never all at once.
    let loads: Vec<String> = log.iter().map(target).collect();
    for t in loads.iter().filter(|t| is_option_set_load(t)) {
        assert!(t.contains("(Name='"), "a full option-set load: {t}");
    }
    // The warm-up ran before the boards' first read from Dataverse: every option set was loaded
    // (by the warm-up, or the first page) before that read began.
    let last_option_set = loads
        .iter()
        .rposition(|t| is_option_set_load(t))
        .expect("option sets loaded");
    if let Some(boards) = loads.iter().position(|t| is_boards_read(t)) {
        assert!(
            boards > last_option_set,
            "the boards read before the warm-up was over"
        );
    }
    for (_, set) in OPTION_SETS {
        assert!(
            loads.iter().any(|t| t.contains(&format!("(Name='{set}')"))),
            "{set} warmed"
        );
    }

    // Later requests find the caches warm: a second distinct page costs its list call only (its
    // rows' labels and lookups came with the first page), an option set and a reference list none.
    let (status, second) = get(&app, &token, "/v1/recruiting-requests?page_size=20").await;
    assert_eq!(status, 200);
    let (status, gender) = get(&app, &token, "/v1/option-sets/gender").await;
    assert_eq!(status, 200);
    let (status, skills) = get(&app, &token, "/v1/reference/skills").await;
    assert_eq!(status, 200);
    let log = app.emu.requests().await;
    let second_calls = calls_of(&log, &second);
    assert_eq!(second_calls.len(), 1, "{second_calls:?}");
    assert!(
        second_calls[0].contains("/mshr_hcmrecruitingrequestentities?"),
        "{second_calls:?}"
    );
    assert_eq!(calls_of(&log, &gender), Vec::<String>::new());
    assert_eq!(calls_of(&log, &skills), Vec::<String>::new());
}

/// `serve` and `sandbox` start the gateway held (`app::start_held`) and release its background work
/// after their ready line: while held, the listeners answer and the only Dataverse calls are the
/// partner's own; once released, the warm-up runs in full.
#[tokio::test]
async fn a_held_gateway_answers_and_calls_nothing_of_its_own_until_released() {
    let emu = crate::common::emulator().await;
    let replica = crate::common::spawn_held_replica(&emu, |config| {
        config.gateway.warm_up = true;
        config.changes.scan_interval_ms = Some(3_600_000);
    })
    .await;
    let gw = &replica.gateway;

    let http = reqwest::Client::new();
    let token = crate::common::partner_token_at(&http, &gw.url, PARTNER, None).await;
    let resp = http
        .get(format!("{}/v1/recruiting-requests?page_size=5", gw.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list");
    assert_eq!(resp.status(), 200, "a held gateway serves partners");
    let id = request_id(&resp);
    let log = emu.requests().await;
    let others: Vec<String> = log
        .iter()
        .filter(|e| e["client_request_id"].as_str() != Some(id.as_str()))
        .map(target)
        .collect();
    assert!(others.is_empty(), "calls before the release: {others:?}");
    assert!(!log.is_empty(), "the partner's page called Dataverse");

    gw.release_background();
    gw.release_background(); // idempotent
    let report = tokio::time::timeout(Duration::from_secs(60), gw.warmup.clone().done())
        .await
        .expect("the warm-up ends");
    assert!(!report.stopped && report.failed == 0, "{report:?}");
    assert_eq!(report.option_sets, OPTION_SETS.len(), "{report:?}");
}
