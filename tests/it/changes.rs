//! Changes feed: HR edits recruiting requests through the emulator's Web API (HR's own app
//! registration), the gateway's scanner turns them into events.

use std::collections::HashMap;
use std::time::Duration;

use ats_gateway::changes::scanner::ScanReport;
use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

use crate::common::{emulator, spawn_app_with, Emu, TestApp, ANNOTATIONS};

const RR: &str = "mshr_hcmrecruitingrequestentities";
const CAND: &str = "mshr_hcmcandidatetohireentities";
const STATUS_ACTIVE: i64 = 200_000_005;

/// A Dataverse token for HR's app registration (the one whose role writes every table).
pub async fn hr_token(emu: &Emu) -> String {
    let c = emu.config();
    let scope = format!("{}/.default", emu.handle.url);
    let resp = emu
        .token_response(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.hr_client_id.to_string()),
            ("client_secret", &c.hr_client_secret),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(resp.status(), 200, "HR app token");
    let v: Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("access_token").into()
}

/// PATCH `set(id)` with `body` as `token`'s app; answers the status and the body (if any).
pub async fn patch(emu: &Emu, set: &str, id: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = emu
        .http
        .patch(emu.api(&format!("{set}({id})")))
        .bearer_auth(token)
        .header("OData-MaxVersion", "4.0")
        .header("OData-Version", "4.0")
        .json(&body)
        .send()
        .await
        .expect("patch");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The first request of `company` (by number) that is not in `status`.
pub async fn a_request(emu: &Emu, token: &str, company: &str, not_status: i64) -> String {
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select=mshr_hcmrecruitingrequestentityid&$filter=mshr_dataareaid eq '{company}' and mshr_status ne {not_status}&$orderby=mshr_recruitingrequestid&$top=1"),
            token,
            Some(ANNOTATIONS),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["value"][0]["mshr_hcmrecruitingrequestentityid"]
        .as_str()
        .expect("a request")
        .into()
}

#[tokio::test]
async fn hr_app_writes_recruiting_requests_the_integration_app_may_not() {
    let emu = emulator().await;
    let integration = emu.token().await;
    let hr = hr_token(&emu).await;
    let id = a_request(&emu, &integration, "usmf", STATUS_ACTIVE).await;

    let (s, v) = patch(
        &emu,
        RR,
        &id,
        &integration,
        json!({"mshr_status": STATUS_ACTIVE}),
    )
    .await;
    assert_eq!(s, 403, "integration app may not write requests: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("prvWrite")),
        "{v}"
    );

    let (s, v) = patch(&emu, RR, &id, &hr, json!({"mshr_status": STATUS_ACTIVE})).await;
    assert_eq!(s, 204, "HR app writes requests: {v}");
    let (s, v) = emu
        .get_json(
            &format!("{RR}({id})?$select=mshr_status"),
            &integration,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["mshr_status"], STATUS_ACTIVE, "{v}");
}

// ------------------------------------------------------------------ the feed

/// A gateway whose scanner runs only when a test asks (`scan`), so every scan is deterministic.
async fn feed_app(page_size: u32) -> TestApp {
    spawn_app_with(SandboxConfig::default(), move |c| {
        c.changes.scan_interval_ms = Some(3_600_000);
        c.changes.page_size = page_size;
        // Small pages cost many calls: the whole budget, so tests' scans are never paced.
        c.changes.max_budget_share = 1.0;
    })
    .await
}

pub(crate) async fn scan(app: &TestApp) -> ScanReport {
    tokio::time::timeout(
        Duration::from_secs(120),
        app.gateway.state.changes.scan_now(),
    )
    .await
    .expect("scan finishes")
    .expect("the scanner runs")
}

/// The detail of a 410 `changes-cursor-expired` problem.
async fn cursor_expired_detail(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 410);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let p: Value = r.json().await.expect("problem");
    assert!(
        p["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/changes-cursor-expired")),
        "{p}"
    );
    p["detail"].as_str().unwrap_or("").to_string()
}

/// Clears the emulator's faults, then scans until a scan is complete (bounded): the failures may
/// have opened the breaker.
async fn complete_scan_without_faults(app: &TestApp) -> ScanReport {
    let clear = app
        .emu
        .http
        .delete(app.emu.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear");
    assert_eq!(clear.status(), 204);
    for _ in 0..30 {
        let r = scan(app).await;
        if r.complete() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no complete scan once the table answers");
}

/// The baseline: a complete first scan that records every record and emits nothing.
pub(crate) async fn baseline(app: &TestApp) {
    let r = scan(app).await;
    assert!(r.complete(), "{r:?}");
    assert!(
        r.events.is_empty(),
        "a baseline emits nothing: {:?}",
        r.events
    );
    assert!(
        r.resources.iter().all(|x| x.baseline && x.read > 0),
        "{r:?}"
    );
    assert!(r.upstream_calls > 0);
}

/// `(status, body)` of `GET /v1/changes?{query}`.
async fn changes(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    app.get_json(&format!("/v1/changes?{query}"), token, None)
        .await
}

/// A cursor after the newest event (what a partner takes before re-reading the lists).
async fn latest(app: &TestApp, token: &str) -> String {
    let (s, v) = changes(app, token, "start=latest").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"], json!([]), "{v}");
    assert_eq!(v["has_more"], false);
    v["next_cursor"].as_str().expect("cursor").into()
}

/// Every event after `cursor` (all pages), and the cursor after them.
async fn events_after(app: &TestApp, token: &str, cursor: &str) -> (Vec<Value>, String) {
    let mut cursor = cursor.to_string();
    let mut out = Vec::new();
    for _ in 0..100 {
        let (s, v) = changes(app, token, &format!("page_size=2&cursor={cursor}")).await;
        assert_eq!(s, 200, "{v}");
        out.extend(v["data"].as_array().expect("data").iter().cloned());
        cursor = v["next_cursor"].as_str().expect("next_cursor").into();
        if v["has_more"] == false {
            return (out, cursor);
        }
    }
    panic!("the feed did not end within 100 pages");
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect()
}

/// key → code of a gateway option set (`/v1/option-sets/{name}`).
pub(crate) async fn codes(app: &TestApp, token: &str, name: &str) -> HashMap<String, i64> {
    let (s, v) = app
        .get_json(&format!("/v1/option-sets/{name}"), token, None)
        .await;
    assert_eq!(s, 200, "{v}");
    v["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap_or("").to_string(),
                o["code"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

/// The id of the first (or last) candidate of `company` by candidate number.
async fn a_candidate(emu: &Emu, token: &str, company: &str, last: bool) -> String {
    let order = if last { "desc" } else { "asc" };
    let (s, v) = emu
        .get_json(
            &format!("{CAND}?$select=mshr_hcmcandidatetohireentityid&$filter=mshr_dataareaid eq '{company}'&$orderby=mshr_candidateid {order}&$top=1"),
            token,
            Some(ANNOTATIONS),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["value"][0]["mshr_hcmcandidatetohireentityid"]
        .as_str()
        .expect("a candidate")
        .into()
}

async fn delete(emu: &Emu, set: &str, id: &str, token: &str) -> u16 {
    emu.http
        .delete(emu.api(&format!("{set}({id})")))
        .bearer_auth(token)
        .header("OData-MaxVersion", "4.0")
        .header("OData-Version", "4.0")
        .send()
        .await
        .expect("delete")
        .status()
        .as_u16()
}

async fn hr_patch(app: &TestApp, hr: &str, set: &str, id: &str, body: Value) {
    let (s, v) = patch(&app.emu, set, id, hr, body).await;
    assert_eq!(s, 204, "HR's PATCH: {v}");
}

#[tokio::test]
async fn a_request_activated_edited_and_closed_is_three_events_in_order() {
    let app = feed_app(200).await;
    let acme = app.partner_token("acme-ats", None).await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    baseline(&app).await;
    let status = codes(&app, &acme, "recruiting-request-status").await;
    let id = a_request(&app.emu, &integration, "usmf", STATUS_ACTIVE).await;
    let (s, before) = app
        .get_json(&format!("/v1/recruiting-requests/{id}"), &acme, None)
        .await;
    assert_eq!(s, 200, "{before}");
    let from = before["status"]["key"]
        .as_str()
        .expect("status")
        .to_string();
    let cursor = latest(&app, &acme).await;

    hr_patch(&app, &hr, RR, &id, json!({"mshr_status": status["active"]})).await;
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");
    hr_patch(
        &app,
        &hr,
        RR,
        &id,
        json!({"mshr_description": "Senior welder (edited by HR)"}),
    )
    .await;
    scan(&app).await;
    hr_patch(&app, &hr, RR, &id, json!({"mshr_status": status["closed"]})).await;
    scan(&app).await;

    let (events, _) = events_after(&app, &acme, &cursor).await;
    assert_eq!(
        types(&events),
        [
            "recruiting_request.status_changed",
            "recruiting_request.updated",
            "recruiting_request.status_changed"
        ],
        "{events:#?}"
    );
    for e in &events {
        assert_eq!(
            e["resource"],
            json!({"type": "recruiting_request", "id": id})
        );
        assert!(
            e["id"].as_str().is_some_and(|i| i.starts_with("evt_")),
            "{e}"
        );
        assert!(e["occurred_at"].as_str().is_some(), "{e}");
    }
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap_or(""))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids sort in feed order: {ids:?}"
    );
    assert_eq!(events[0]["from"], from.as_str());
    assert_eq!(events[0]["to"], "active");
    assert_eq!(events[0]["data"]["status"]["key"], "active");
    assert_eq!(events[1]["changed_fields"], json!(["/description"]));
    assert!(events[1].get("from").is_none());
    assert_eq!(
        events[1]["data"]["description"],
        "Senior welder (edited by HR)"
    );
    assert_eq!(events[2]["from"], "active");
    assert_eq!(events[2]["to"], "closed");
    // `data` is the representation `GET` shows.
    let (s, now) = app
        .get_json(&format!("/v1/recruiting-requests/{id}"), &acme, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(events[2]["data"], now);

    // Nothing changed: a scan emits nothing, and the feed ends where it was.
    let r = scan(&app).await;
    assert!(r.complete() && r.events.is_empty(), "{r:?}");
    let metrics = app
        .http
        .get(format!("{}/metrics", app.gateway.ops_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // The recorder is the test process's: other tests' scans count too, so at least this test's 2.
    let status_changed = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("changes_events_total{type=\"recruiting_request.status_changed\"} ")
        })
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(status_changed >= 2.0, "status_changed {status_changed}");
    for m in [
        "changes_scan_upstream_calls ",
        "changes_scan_duration_seconds_bucket",
        "# HELP changes_events_total",
    ] {
        assert!(metrics.contains(m), "{m} in /metrics");
    }
}

#[tokio::test]
async fn candidate_changes_and_deletions_reach_the_feed() {
    let app = feed_app(200).await;
    let acme = app.partner_token("acme-ats", None).await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    baseline(&app).await;
    let result = codes(&app, &acme, "applicant-integration-result").await;
    let id = a_candidate(&app.emu, &integration, "usmf", false).await;
    let gone = a_candidate(&app.emu, &integration, "usmf", true).await;
    let (s, before) = app
        .get_json(&format!("/v1/candidates/{gone}"), &acme, None)
        .await;
    assert_eq!(s, 200, "{before}");
    let cursor = latest(&app, &acme).await;

    let (s, current) = app
        .get_json(&format!("/v1/candidates/{id}"), &acme, None)
        .await;
    assert_eq!(s, 200);
    let to = if current["status"]["key"] == "hired" {
        "not_hired"
    } else {
        "hired"
    };
    hr_patch(
        &app,
        &hr,
        CAND,
        &id,
        json!({"mshr_applicantintegrationresult": result[to], "mshr_comments": "Interviewed twice"}),
    )
    .await;
    assert_eq!(delete(&app.emu, CAND, &gone, &hr).await, 204);
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");

    let (events, _) = events_after(&app, &acme, &cursor).await;
    assert_eq!(
        types(&events),
        [
            "candidate.status_changed",
            "candidate.updated",
            "candidate.deleted"
        ],
        "{events:#?}"
    );
    assert_eq!(events[0]["resource"]["id"], id.as_str());
    assert_eq!(events[0]["from"], current["status"]["key"]);
    assert_eq!(events[0]["to"], to);
    assert_eq!(events[1]["changed_fields"], json!(["/comments"]));
    let (_, now) = app
        .get_json(&format!("/v1/candidates/{id}"), &acme, None)
        .await;
    assert_eq!(
        events[1]["data"], now,
        "the representation GET shows (pii:read)"
    );
    assert_eq!(
        events[2]["resource"],
        json!({"type": "candidate", "id": gone})
    );
    assert_eq!(
        events[2]["data"], before,
        "a deletion shows the record as last seen"
    );
}

#[tokio::test]
async fn partners_see_only_their_companies_and_personal_data_only_with_pii_read() {
    let app = feed_app(200).await;
    let acme = app.partner_token("acme-ats", None).await;
    let acme_no_pii = app
        .partner_token("acme-ats", Some("changes:read candidates:read"))
        .await;
    let watch = app.partner_token("nordic-watch", None).await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    baseline(&app).await;
    let (acme_from, watch_from, no_pii_from) = (
        latest(&app, &acme).await,
        latest(&app, &watch).await,
        latest(&app, &acme_no_pii).await,
    );
    let us_request = a_request(&app.emu, &integration, "usmf", STATUS_ACTIVE).await;
    let no_request = a_request(&app.emu, &integration, "nomf", STATUS_ACTIVE).await;
    let us_candidate = a_candidate(&app.emu, &integration, "usmf", false).await;
    let no_candidate = a_candidate(&app.emu, &integration, "nomf", false).await;
    for (set, id) in [(RR, &us_request), (RR, &no_request)] {
        hr_patch(
            &app,
            &hr,
            set,
            id,
            json!({"mshr_comments": "Budget approved"}),
        )
        .await;
    }
    for id in [&us_candidate, &no_candidate] {
        hr_patch(&app, &hr, CAND, id, json!({"mshr_comments": "Call back"})).await;
    }
    // A change of personal data only (the person's e-mail, a PII field).
    let (s, person) = app
        .emu
        .get_json(
            &format!("{CAND}({us_candidate})?$select=_mshr_fk_person_id_value"),
            &integration,
            None,
        )
        .await;
    assert_eq!(s, 200, "{person}");
    let person = person["_mshr_fk_person_id_value"]
        .as_str()
        .expect("person")
        .to_string();
    hr_patch(
        &app,
        &hr,
        "mshr_dirpersonentities",
        &person,
        json!({"mshr_primarycontactemail": "new.address@example.com"}),
    )
    .await;
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");

    let ids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["resource"]["id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (watch_events, _) = events_after(&app, &watch, &watch_from).await;
    assert_eq!(
        ids(&watch_events),
        [no_request.clone(), no_candidate.clone()],
        "{watch_events:#?}"
    );
    for e in &watch_events {
        assert_eq!(e["data"]["company"]["code"], "nomf", "{e}");
        assert_eq!(e["changed_fields"], json!(["/comments"]));
    }
    // nordic-watch has no pii:read: the candidate's personal fields are omitted, as the read API does.
    let person_shown = &watch_events[1]["data"]["person"];
    assert!(
        person_shown["first_name"].is_string() || person_shown["last_name"].is_string(),
        "{person_shown}"
    );
    for field in [
        "birth_date",
        "primary_email",
        "addresses",
        "identification_numbers",
    ] {
        assert!(
            person_shown.get(field).is_none(),
            "{field} hidden: {person_shown}"
        );
    }

    let (acme_events, _) = events_after(&app, &acme, &acme_from).await;
    assert_eq!(
        ids(&acme_events),
        [us_request.clone(), us_candidate.clone()],
        "{acme_events:#?}"
    );
    let changed = acme_events[1]["changed_fields"].as_array().expect("fields");
    assert!(
        changed.contains(&json!("/comments")) && changed.contains(&json!("/person/primary_email")),
        "{changed:?}"
    );
    assert_eq!(
        acme_events[1]["data"]["person"]["primary_email"],
        "new.address@example.com"
    );

    let (no_pii, _) = events_after(&app, &acme_no_pii, &no_pii_from).await;
    assert_eq!(ids(&no_pii), [us_request, us_candidate], "{no_pii:#?}");
    assert_eq!(
        no_pii[1]["changed_fields"],
        json!(["/comments"]),
        "personal pointers are hidden too"
    );
    assert!(no_pii[1]["data"]["person"].get("primary_email").is_none());
}

#[tokio::test]
async fn a_scan_failing_part_way_emits_no_false_deletes() {
    let app = feed_app(5).await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    baseline(&app).await;
    // Candidates are read by number: the first is on page 1, the last on a later page.
    let (s, v) = app
        .emu
        .get_json(
            &format!("{CAND}?$select=mshr_hcmcandidatetohireentityid&$orderby=mshr_candidateid asc&$top=1"),
            &integration,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let first = v["value"][0]["mshr_hcmcandidatetohireentityid"]
        .as_str()
        .expect("id")
        .to_string();
    let (_, v) = app
        .emu
        .get_json(
            &format!("{CAND}?$select=mshr_hcmcandidatetohireentityid&$orderby=mshr_candidateid desc&$top=1"),
            &integration,
            None,
        )
        .await;
    let last = v["value"][0]["mshr_hcmcandidatetohireentityid"]
        .as_str()
        .expect("id")
        .to_string();
    hr_patch(
        &app,
        &hr,
        CAND,
        &first,
        json!({"mshr_comments": "Read before the failure"}),
    )
    .await;
    assert_eq!(delete(&app.emu, CAND, &last, &hr).await, 204);

    // Page 1 of the candidates is served, every later request to the table fails.
    app.emu
        .fault(json!({"kind": "server_error", "status": 500, "target": CAND, "after": 1}))
        .await;
    let r = scan(&app).await;
    assert!(!r.complete(), "{r:?}");
    let cands = r
        .resources
        .iter()
        .find(|x| x.resource.as_str() == "candidate")
        .expect("candidates");
    assert!(!cands.complete && cands.read == 5, "{cands:?}");
    // Checked on the scan's own events: the first and last candidates may be of any company.
    let names = |r: &ScanReport| -> Vec<(String, String)> {
        r.events
            .iter()
            .map(|e| (e.event_type.to_string(), e.resource.id.to_string()))
            .collect()
    };
    assert_eq!(
        names(&r),
        [("candidate.updated".to_string(), first.clone())],
        "what was read is emitted, no deletion"
    );

    let r = complete_scan_without_faults(&app).await;
    assert_eq!(names(&r), [("candidate.deleted".to_string(), last)]);
}

/// A cursor past the newest event (the state store was restored or made anew, the cursor key
/// kept) is 410: reading on from it would skip the new log's events up to it.
#[tokio::test]
async fn a_cursor_ahead_of_the_log_is_410() {
    let key = "ab".repeat(32);
    let app_with_key = |key: String| {
        spawn_app_with(SandboxConfig::default(), move |c| {
            c.changes.scan_interval_ms = Some(3_600_000);
            c.gateway.cursor_key = ats_gateway::config::SecretString::new(key);
        })
    };
    let first = app_with_key(key.clone()).await;
    let acme = first.partner_token("acme-ats", None).await;
    crate::webhooks::record_event(&first, "usmf", "active").await;
    let ahead = latest(&first, &acme).await;
    let (s, v) = changes(&first, &acme, &format!("cursor={ahead}")).await;
    assert_eq!(s, 200, "{v}");

    // A new state store under the same cursor key: its log starts again at 1.
    let second = app_with_key(key).await;
    let acme = second.partner_token("acme-ats", None).await;
    let r = second
        .get(&format!("/v1/changes?cursor={ahead}"), &acme, None)
        .await;
    // Said as it is: not retention, a store restored or replaced.
    let detail = cursor_expired_detail(r).await;
    assert!(
        detail.contains("ahead of the feed")
            && detail.contains("restored or replaced")
            && detail.contains("start=latest")
            && !detail.contains("retention"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_cursor_past_retention_is_410_with_what_to_do() {
    let app = feed_app(200).await;
    let acme = app.partner_token("acme-ats", None).await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    baseline(&app).await;
    let old = latest(&app, &acme).await;
    let id = a_request(&app.emu, &integration, "usmf", STATUS_ACTIVE).await;
    hr_patch(
        &app,
        &hr,
        RR,
        &id,
        json!({"mshr_comments": "Soon past retention"}),
    )
    .await;
    assert_eq!(scan(&app).await.events.len(), 1);
    let (s, v) = changes(&app, &acme, &format!("cursor={old}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1));

    // Retention removes the event the old cursor has not seen yet.
    let store = app.gateway.state.changes.store();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert_eq!(
        store.purge_events_before(now + 1_000).await.expect("purge"),
        1
    );
    let r = app
        .get(&format!("/v1/changes?cursor={old}"), &acme, None)
        .await;
    let detail = cursor_expired_detail(r).await;
    assert!(
        detail.contains("start=latest") && detail.contains("re-read the lists"),
        "{detail}"
    );
    // Without a cursor the feed starts at the oldest retained event (none now).
    let (s, v) = changes(&app, &acme, "").await;
    assert_eq!((s, &v["data"]), (200, &json!([])), "{v}");
    assert!(latest(&app, &acme).await.len() > 10);

    // A cursor is the partner's own and this route's.
    let (s, v) = changes(
        &app,
        &app.partner_token("nordic-watch", None).await,
        &format!("cursor={old}"),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = changes(&app, &acme, "cursor=not-a-cursor").await;
    assert_eq!(s, 400);
    let (s, _) = changes(&app, &acme, &format!("cursor={old}&start=latest")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn the_feed_needs_changes_read() {
    let app = feed_app(200).await;
    let nordic_hr = app.partner_token("nordic-hr", None).await;
    let (s, v) = changes(&app, &nordic_hr, "").await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = app
        .get_json(
            "/v1/recruiting-requests?modified_since=2025-01-01T00:00:00Z",
            &nordic_hr,
            None,
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["detail"]
            .as_str()
            .is_some_and(|d| d.contains("GET /v1/changes")),
        "{v}"
    );
}

/// A change the scanner detects drops the cached representation: within the cache's TTL a partner
/// sees the cached page until the scan, and HR's edit right after it.
#[tokio::test]
async fn a_detected_change_invalidates_the_cached_representation() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.changes.scan_interval_ms = Some(3_600_000);
        c.changes.page_size = 200;
        c.cache.response_ttl_ms = 600_000;
    })
    .await;
    let acme = app.partner_token("acme-ats", None).await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    baseline(&app).await;
    let id = a_request(&app.emu, &integration, "usmf", STATUS_ACTIVE).await;
    let path = format!("/v1/recruiting-requests/{id}");
    let (s, before) = app.get_json(&path, &acme, None).await;
    assert_eq!(s, 200, "{before}");

    hr_patch(
        &app,
        &hr,
        RR,
        &id,
        json!({"mshr_description": "Edited by HR"}),
    )
    .await;
    let (_, cached) = app.get_json(&path, &acme, None).await;
    assert_eq!(
        cached["description"], before["description"],
        "within the TTL and before a scan the cache answers"
    );
    let r = scan(&app).await;
    assert!(
        r.events.iter().any(|e| e.resource.id.to_string() == id),
        "{r:?}"
    );
    let (_, after) = app.get_json(&path, &acme, None).await;
    assert_eq!(after["description"], "Edited by HR");
}

/// Records `n` `recruiting_request.updated` events of `company` in one scan record; their ids.
async fn record_many(app: &TestApp, company: &str, n: usize) -> Vec<String> {
    use ats_gateway::changes::event::{Action, EventType, NewEvent, ResourceType};
    let events = (0..n)
        .map(|i| {
            let id = uuid::Uuid::new_v4();
            NewEvent {
                event_type: EventType::new(ResourceType::RecruitingRequest, Action::Updated),
                resource_id: id,
                company: company.into(),
                data: json!({"id": id, "company": company, "description": format!("edit {i}")}),
                changed_fields: Some(vec!["/description".into()]),
                from: None,
                to: None,
            }
        })
        .collect();
    let scan = ats_gateway::store::changes::ScanRecord {
        events,
        ..Default::default()
    };
    let recorded = app
        .gateway
        .state
        .changes
        .record(scan)
        .await
        .expect("recorded");
    recorded.into_iter().map(|e| e.id).collect()
}

/// This process's CPU time (user + system) in milliseconds, from /proc (Linux).
fn cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10)
}

#[tokio::test]
async fn a_one_company_partner_reaches_the_end_past_other_companies_events_in_one_request() {
    let app = feed_app(50).await;
    let watch = app.partner_token("nordic-watch", None).await;
    record_many(&app, "usmf", 1_520).await;
    // What one request costs with 1,520 events retained, none of them nomf (printed for the record).
    const ROUNDS: u64 = 20;
    let (cpu0, t0) = (cpu_ms(), std::time::Instant::now());
    for _ in 0..ROUNDS {
        let (s, v) = changes(&app, &watch, "start=oldest").await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["data"], json!([]));
    }
    eprintln!(
        "GET /v1/changes?start=oldest, one-company partner, 1,520 events, 0 visible: {:.1} ms wall, {:?} ms CPU per request",
        t0.elapsed().as_secs_f64() * 1000.0 / ROUNDS as f64,
        cpu_ms().zip(cpu0).map(|(b, a)| (b - a) / ROUNDS)
    );

    // 6,000 invisible events, more than one request used to examine, then one nomf event.
    record_many(&app, "usmf", 4_480).await;
    let mine = record_many(&app, "nomf", 1).await;
    let (s, v) = changes(&app, &watch, "start=oldest").await;
    assert_eq!(s, 200, "{v}");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(ids, [mine[0].as_str()], "{v}");
    assert_eq!(v["has_more"], false, "{v}");
    // The cursor stands at the end of the log: nothing more, and later events follow it.
    let cursor = v["next_cursor"].as_str().expect("cursor").to_string();
    let later = record_many(&app, "nomf", 1).await;
    let (s, v) = changes(&app, &watch, &format!("cursor={cursor}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"][0]["id"], later[0].as_str(), "{v}");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
}

/// What a release's first scan does with the fingerprints an older release stored: the stored
/// representations are of another shape (here: a member the new one lacks, under version 0), so
/// it re-baselines without an `updated` per record; later edits are events again; and a store
/// holding a newer release's representations is not recorded over.
#[tokio::test]
async fn a_release_with_another_representation_rebaselines_instead_of_updating_every_record() {
    let app = feed_app(200).await;
    let acme = app.partner_token("acme-ats", None).await;
    let hr = hr_token(&app.emu).await;
    let integration = app.emu.token().await;
    baseline(&app).await;
    let cursor = latest(&app, &acme).await;
    let rr = ats_gateway::changes::event::ResourceType::RecruitingRequest;
    let store = app.gateway.state.changes.store();
    assert_eq!(store.baseline(rr).await.expect("baseline"), Some(1));

    let db =
        rusqlite::Connection::open(app.state_dir.path().join(ats_gateway::config::SQLITE_FILE))
            .expect("the state file");
    db.busy_timeout(Duration::from_secs(10)).expect("timeout");
    let older = |version: i64| {
        db.execute(
            "UPDATE change_meta SET value = ?1 WHERE key = 'baseline:recruiting_request'",
            [version],
        )
        .expect("baseline version")
    };
    let reshaped = db
        .execute(
            "UPDATE fingerprints SET hash = 'older', data = json_set(data, '$.older_member', 1) WHERE resource = 'recruiting_request'",
            [],
        )
        .expect("older representations");
    assert!(reshaped > 0);
    older(0);

    // A re-baseline that fails part-way records nothing for requests: new-shape rows under the
    // old version would read as a change of every record to a replica of the older release.
    app.emu
        .fault(json!({"kind": "server_error", "status": 500, "target": RR, "after": 1}))
        .await;
    let r = scan(&app).await;
    assert!(!r.complete(), "{r:?}");
    assert!(
        r.events.iter().all(|e| e.resource.kind != rr),
        "{:?}",
        r.events
    );
    let still_older: i64 = db
        .query_row(
            "SELECT count(*) FROM fingerprints WHERE resource = 'recruiting_request' AND hash = 'older'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(usize::try_from(still_older).ok(), Some(reshaped));
    assert_eq!(store.baseline(rr).await.expect("baseline"), Some(0));
    let r = complete_scan_without_faults(&app).await;
    assert!(r.complete(), "{r:?}");
    assert!(
        r.events.is_empty(),
        "a changed representation is not a change of every record: {:?}",
        r.events
    );
    let rr_report = r
        .resources
        .iter()
        .find(|x| x.resource == rr)
        .expect("requests scanned");
    assert!(rr_report.baseline && rr_report.read > 0, "{r:?}");
    assert_eq!(store.baseline(rr).await.expect("baseline"), Some(1));

    // Re-baselined: the next edit is one event, of the new shape.
    let id = a_request(&app.emu, &integration, "usmf", STATUS_ACTIVE).await;
    hr_patch(
        &app,
        &hr,
        RR,
        &id,
        json!({"mshr_description": "Re-baselined"}),
    )
    .await;
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");
    let (events, _) = events_after(&app, &acme, &cursor).await;
    assert_eq!(
        types(&events),
        ["recruiting_request.updated"],
        "{events:#?}"
    );
    assert_eq!(events[0]["changed_fields"], json!(["/description"]));
    assert!(events[0]["data"].get("older_member").is_none());

    // A newer release's representations: this one neither records nor emits for requests.
    older(2);
    hr_patch(
        &app,
        &hr,
        RR,
        &id,
        json!({"mshr_description": "Seen by the newer release"}),
    )
    .await;
    let r = scan(&app).await;
    assert!(!r.complete(), "{r:?}");
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("newer")),
        "{r:?}"
    );
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(store.baseline(rr).await.expect("baseline"), Some(2));
}
