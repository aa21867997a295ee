//! The partner read API over real HTTP: a gateway in front of its own emulator, each test
//! with its own `spawn_app`. Filters, sorting, paging, detail, labels, cursors, injection attempts,
//! ETags, problem bodies, upstream trouble, the token cache and the steady-state upstream cost.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::{spawn_app, spawn_app_with, TestApp};
use ats_gateway::auth::RateLimitConfig;
use ats_sandbox::config::SandboxConfig;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

const LIST: &str = "/v1/recruiting-requests";
const ACME: &str = "acme-ats";

// ---------------------------------------------------------------- helpers

async fn acme(app: &TestApp) -> String {
    app.partner_token(ACME, None).await
}

/// `path?query` where `query` is built from properly encoded pairs.
fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect();
    format!("{path}?{}", q.join("&"))
}

fn data(v: &Value) -> &Vec<Value> {
    v["data"].as_array().expect("data array")
}

fn strs(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every page of a list, following `next_cursor` with the same parameters (bounded).
async fn all_pages(app: &TestApp, token: &str, pairs: &[(&str, &str)]) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 1..=500 {
        let mut p = pairs.to_vec();
        if let Some(c) = cursor.as_deref() {
            p.push(("cursor", c));
        }
        let (s, v) = app.get_json(&with_query(LIST, &p), token, None).await;
        assert_eq!(s, 200, "page {page}: {v}");
        items.extend(data(&v).iter().cloned());
        assert_eq!(v["has_more"], json!(v["next_cursor"].is_string()));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (items, page),
        }
    }
    panic!("more than 500 pages");
}

/// `@odata.count` the emulator gives for the same filter (the ground truth).
async fn emulator_count(app: &TestApp, filter: &str) -> u64 {
    let token = app.emu.token().await;
    let rest = format!(
        "mshr_hcmrecruitingrequestentities?$select=mshr_recruitingrequestid&$filter={}&$count=true",
        utf8_percent_encode(filter, NON_ALPHANUMERIC)
    );
    let (s, v) = app.emu.get_json(&rest, &token, None).await;
    assert_eq!(s, 200, "{v}");
    v["@odata.count"].as_u64().expect("@odata.count")
}

async fn status_code_of(app: &TestApp, token: &str, key: &str) -> i64 {
    let (_, v) = app
        .get_json("/v1/option-sets/recruiting-request-status", token, None)
        .await;
    v["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|o| o["key"] == key)
        .and_then(|o| o["code"].as_i64())
        .expect("status code")
}

async fn bad_requests(app: &TestApp) -> u64 {
    app.emu.stats().await["bad_requests"]
        .as_u64()
        .expect("bad_requests")
}

fn total_requests(stats: &Value) -> u64 {
    stats["requests"]
        .as_object()
        .expect("requests")
        .values()
        .filter_map(Value::as_u64)
        .sum()
}

/// A problem+json answer with every documented member; returns the body.
async fn assert_problem(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ct, "application/problem+json");
    let v: Value = resp.json().await.expect("problem json");
    for k in [
        "type",
        "title",
        "detail",
        "instance",
        "request_id",
        "trace_id",
    ] {
        assert!(v[k].is_string(), "problem member {k}: {v}");
    }
    assert_eq!(v["trace_id"].as_str().map(str::len), Some(32), "{v}");
    assert_eq!(v["status"], json!(status));
    v
}

fn pointer(v: &Value) -> &str {
    v["errors"][0]["pointer"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------- filters

#[tokio::test]
async fn status_filter_single_and_list() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, v) = app
        .get_json(&format!("{LIST}?status=active&page_size=200"), &t, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!data(&v).is_empty());
    assert!(data(&v).iter().all(|i| i["status"]["key"] == "active"));

    let (s, v) = app
        .get_json(
            &format!("{LIST}?status=active,%20closed&page_size=200"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let keys: BTreeSet<&str> = data(&v)
        .iter()
        .filter_map(|i| i["status"]["key"].as_str())
        .collect();
    assert_eq!(keys, BTreeSet::from(["active", "closed"]));

    let r = app.get(&format!("{LIST}?status=open"), &t, None).await;
    let p = assert_problem(r, 400).await;
    assert_eq!(pointer(&p), "#/status");
    assert!(p["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("in_review"));
    assert_eq!(bad_requests(&app).await, 0);
}

#[tokio::test]
async fn company_filter() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, v) = app
        .get_json(&format!("{LIST}?company=USMF&page_size=200"), &t, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!data(&v).is_empty());
    assert!(data(&v).iter().all(|i| i["company"]["code"] == "usmf"));
}

/// Issue 19: a company outside the partner's own was `200 {"data": []}`, read as "no data"; it is
/// a 403 naming the parameter and listing the partner's companies (no secret to it).
#[tokio::test]
async fn a_company_outside_the_partners_is_a_403_naming_the_parameter() {
    let app = spawn_app().await;
    let nordic = app.partner_token("nordic-hr", None).await;
    for path in [
        format!("{LIST}?company=usmf"),
        "/v1/candidates?company=usmf".to_string(),
    ] {
        let resp = app.get(&path, &nordic, None).await;
        let v = assert_problem(resp, 403).await;
        assert!(
            v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("/company-not-allowed")),
            "{v}"
        );
        assert_eq!(pointer(&v), "#/company", "{v}");
        let detail = v["detail"].as_str().expect("detail");
        assert!(
            detail.contains("usmf") && detail.contains("nomf"),
            "{detail}"
        );
    }
    // Its own company, in any case, still lists.
    let (s, v) = app
        .get_json(&format!("{LIST}?company=NOMF"), &nordic, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!data(&v).is_empty());
}

/// Departments are on positions: every request returned has a position in the department, and the
/// GUID and the number select the same requests.
#[tokio::test]
async fn department_filter_by_guid_and_number() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (_, deps) = app.get_json("/v1/reference/departments", &t, None).await;
    let dep = data(&deps)
        .iter()
        .find(|d| d["code"] == "029")
        .expect("department 029")
        .clone();
    let dep_id = dep["id"].as_str().expect("id");
    let q = |d: &str| {
        with_query(
            LIST,
            &[
                ("department", d),
                ("company", "usmf"),
                ("expand", "positions"),
                ("page_size", "200"),
            ],
        )
    };
    let (s, by_id) = app.get_json(&q(dep_id), &t, None).await;
    assert_eq!(s, 200, "{by_id}");
    assert!(!data(&by_id).is_empty());
    for item in data(&by_id) {
        let positions = item["positions"].as_array().expect("positions");
        assert!(
            positions.iter().any(|p| p["department"]["id"] == dep_id),
            "{item}"
        );
    }
    let (s, by_number) = app.get_json(&q("029"), &t, None).await;
    assert_eq!(s, 200);
    assert_eq!(strs(data(&by_id), "id"), strs(data(&by_number), "id"));

    let (s, none) = app
        .get_json(&q("00000000-0000-0000-0000-000000000001"), &t, None)
        .await;
    assert_eq!(s, 200);
    assert!(data(&none).is_empty());
    assert_eq!(bad_requests(&app).await, 0);
}

/// The department → requests answer is cached: a repeated department listing costs one upstream
/// call (the requests), not two (positions, then requests).
#[tokio::test]
async fn repeated_department_filter_costs_one_upstream_call() {
    // The response cache off: the page is read again, the department index is not.
    let app = spawn_app_with(SandboxConfig::default(), |c| c.cache.response_ttl_ms = 0).await;
    let t = acme(&app).await;
    let path = with_query(LIST, &[("department", "029"), ("page_size", "20")]);
    let positions = |stats: &Value| {
        stats["requests"]["mshr_hcmrecruitingrequestpositionentities"]
            .as_u64()
            .unwrap_or(0)
    };
    let (s, first) = app.get_json(&path, &t, None).await;
    assert_eq!(s, 200, "{first}");
    assert!(!data(&first).is_empty());
    let before = app.emu.stats().await;
    assert_eq!(positions(&before), 1, "{before}");
    let (s, again) = app.get_json(&path, &t, None).await;
    assert_eq!(s, 200);
    assert_eq!(strs(data(&first), "id"), strs(data(&again), "id"));
    let after = app.emu.stats().await;
    assert_eq!(positions(&after), 1, "{after}");
    assert_eq!(
        total_requests(&after) - total_requests(&before),
        1,
        "{after}"
    );
}

#[tokio::test]
async fn job_filter_by_guid_and_code() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (_, jobs) = app.get_json("/v1/reference/jobs", &t, None).await;
    let job = data(&jobs)
        .iter()
        .find(|j| j["code"] == "Production Supervisor")
        .expect("job")
        .clone();
    let job_id = job["id"].as_str().expect("id");
    let (s, by_id) = app
        .get_json(
            &with_query(LIST, &[("job", job_id), ("page_size", "200")]),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{by_id}");
    assert!(!data(&by_id).is_empty());
    assert!(data(&by_id).iter().all(|i| i["job"]["id"] == job_id));
    let (s, by_code) = app
        .get_json(
            &with_query(
                LIST,
                &[("job", "Production Supervisor"), ("page_size", "200")],
            ),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{by_code}");
    assert_eq!(strs(data(&by_id), "id"), strs(data(&by_code), "id"));
}

#[tokio::test]
async fn q_searches_the_description() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, v) = app
        .get_json(&format!("{LIST}?q=Supervisor&page_size=200"), &t, None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!data(&v).is_empty());
    for d in strs(data(&v), "description") {
        assert!(d.to_lowercase().contains("supervisor"), "{d}");
    }
}

/// Percent-decoding that is not UTF-8 is a bad request naming the parameter: read lossily, `q=%ff`
/// searched for U+FFFD and answered an empty 200.
#[tokio::test]
async fn a_search_that_is_not_utf8_is_400_naming_it() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    for (route, raw, name) in [
        (LIST, "q=%ff", "q"),
        (LIST, "q=caf%C3", "q"),
        (LIST, "page_size=5&q=a%ffb", "q"),
        ("/v1/candidates", "company=%ff", "company"),
    ] {
        let r = app.get(&format!("{route}?{raw}"), &t, None).await;
        let p = assert_problem(r, 400).await;
        assert_eq!(pointer(&p), format!("#/{name}"), "{route}?{raw}: {p}");
        assert!(
            p["detail"].as_str().is_some_and(|d| d.contains("UTF-8")),
            "{p}"
        );
    }
}

#[tokio::test]
async fn modified_since_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let r = app
        .get(
            &format!("{LIST}?modified_since=2025-01-01T00:00:00Z"),
            &t,
            None,
        )
        .await;
    let p = assert_problem(r, 400).await;
    assert_eq!(pointer(&p), "#/modified_since");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("not supported") && detail.contains("change tracking"),
        "{detail}"
    );
}

#[tokio::test]
async fn unknown_and_repeated_parameters_are_refused() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let p = assert_problem(app.get(&format!("{LIST}?pagesize=3"), &t, None).await, 400).await;
    assert_eq!(pointer(&p), "#/pagesize");
    let p = assert_problem(
        app.get(&format!("{LIST}?status=active&status=closed"), &t, None)
            .await,
        400,
    )
    .await;
    assert_eq!(pointer(&p), "#/status");
}

/// A list filter given without any value is refused naming it (it used to reach the query builder
/// as an empty `In` and come back as a 502).
#[tokio::test]
async fn empty_list_filters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    for route in [LIST, "/v1/candidates"] {
        for raw in [
            "status=",
            "status=,",
            "status=%20",
            "status=%2C%20%2C",
            "status=,&page_size=5",
        ] {
            let r = app.get(&format!("{route}?{raw}"), &t, None).await;
            let p = assert_problem(r, 400).await;
            assert_eq!(pointer(&p), "#/status", "{route}?{raw}: {p}");
        }
    }
    assert_eq!(bad_requests(&app).await, 0);
}

/// Every filter given but empty is refused naming it (not only lists): an empty
/// `recruiting_request=` used to list every candidate.
#[tokio::test]
async fn every_empty_filter_is_400_naming_it() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    for (route, names) in [
        (
            LIST,
            &[
                "company",
                "department",
                "job",
                "q",
                "sort",
                "page_size",
                "cursor",
                "expand",
            ][..],
        ),
        (
            "/v1/candidates",
            &["company", "recruiting_request", "page_size", "cursor"][..],
        ),
    ] {
        for name in names {
            let r = app.get(&format!("{route}?{name}="), &t, None).await;
            let p = assert_problem(r, 400).await;
            assert_eq!(pointer(&p), format!("#/{name}"), "{route}?{name}=: {p}");
        }
    }
    // Blank or padded codes match nothing HR holds: errors too, not an empty page.
    for (route, name, value) in [
        (LIST, "job", "%20"),
        (LIST, "department", "%20%20"),
        (LIST, "company", "usmf%20"),
        ("/v1/candidates", "recruiting_request", "%20"),
        ("/v1/candidates", "company", "%20usmf"),
    ] {
        let r = app.get(&format!("{route}?{name}={value}"), &t, None).await;
        let p = assert_problem(r, 400).await;
        assert_eq!(
            pointer(&p),
            format!("#/{name}"),
            "{route}?{name}={value}: {p}"
        );
    }
    assert_eq!(bad_requests(&app).await, 0);
}

/// Detail and reference routes take no query parameters: any is refused, as on lists.
#[tokio::test]
async fn detail_routes_refuse_unknown_parameters() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (_, page) = app.get_json(&format!("{LIST}?page_size=1"), &t, None).await;
    let id = page["data"][0]["id"].as_str().expect("id").to_string();
    for path in [
        format!("{LIST}/{id}?expand=positions"),
        "/v1/candidates/3fa85f64-5717-4562-b3fc-2c963f66afa6?x=1".to_string(),
        "/v1/option-sets?page_size=5".to_string(),
        "/v1/option-sets/gender?lang=nb".to_string(),
        "/v1/reference/skills?q=java".to_string(),
    ] {
        let p = assert_problem(app.get(&path, &t, None).await, 400).await;
        assert!(
            p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("not a parameter"),
            "{path}: {p}"
        );
    }
    let (status, _) = app.get_json(&format!("{LIST}/{id}"), &t, None).await;
    assert_eq!(status, 200);
}

/// A filter value repeated thousands of times counts once; more distinct values than the bound is a
/// 400 rather than an oversized upstream `$filter`.
#[tokio::test]
async fn repeated_list_values_are_deduplicated_and_bounded() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let many = vec!["active"; 3000].join(",");
    let (status, v) = app
        .get_json(&format!("{LIST}?status={many}&page_size=5"), &t, None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(data(&v).iter().all(|i| i["status"]["key"] == "active"));
    let distinct: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    let r = app
        .get(&format!("{LIST}?status={}", distinct.join(",")), &t, None)
        .await;
    let p = assert_problem(r, 400).await;
    assert_eq!(pointer(&p), "#/status");
    assert_eq!(bad_requests(&app).await, 0);
}

/// An `Accept` that rules JSON out is a 406 problem; the usual ones are served.
#[tokio::test]
async fn accept_without_json_is_406() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let r = app
        .http
        .get(format!("{}{LIST}?page_size=1", app.url))
        .bearer_auth(&t)
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    let p = assert_problem(r, 406).await;
    assert!(p["type"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/problems/not-acceptable"));
    for accept in [
        "application/json",
        "*/*",
        "application/json, text/plain;q=0.5",
    ] {
        let r = app
            .http
            .get(format!("{}{LIST}?page_size=1", app.url))
            .bearer_auth(&t)
            .header("accept", accept)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "{accept}");
    }
}

/// List pages carry a weak ETag (their body holds a fresh cursor) that still answers 304; detail
/// bodies too (compression shares the tag); bodies are compressed when the client asks.
#[tokio::test]
async fn weak_list_etags_and_compression() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let r = app.get(&format!("{LIST}?page_size=3"), &t, None).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let again = app
        .http
        .get(format!("{}{LIST}?page_size=3", app.url))
        .bearer_auth(&t)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), 304);
    let (_, page) = app.get_json(&format!("{LIST}?page_size=1"), &t, None).await;
    let id = page["data"][0]["id"].as_str().expect("id").to_string();
    let r = app.get(&format!("{LIST}/{id}"), &t, None).await;
    assert!(r.headers()["etag"]
        .to_str()
        .is_ok_and(|e| e.starts_with("W/\"")));
    for encoding in ["gzip", "br"] {
        let r = app
            .http
            .get(format!("{}{LIST}?page_size=20", app.url))
            .bearer_auth(&t)
            .header("accept-encoding", encoding)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], encoding);
    }
    // Under a kilobyte (a problem body) is sent as is: compressing it would cost more than it saves.
    let r = app
        .http
        .get(format!(
            "{}{LIST}/00000000-0000-0000-0000-000000000000",
            app.url
        ))
        .bearer_auth(&t)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("content-encoding").is_none());
    let body = r.bytes().await.expect("body");
    assert!(
        body.len() < 1024 && body.starts_with(b"{"),
        "{}",
        body.len()
    );
}

/// A compressed and an identity answer never share a strong validator (RFC 9110 §8.8.3): details,
/// reference data and list pages send one weak tag for every coding, and either tag gives a 304
/// whichever coding the revalidating request accepts.
#[tokio::test]
async fn compressed_and_identity_answers_share_only_a_weak_etag() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (_, page) = app.get_json(&format!("{LIST}?page_size=1"), &t, None).await;
    let id = page["data"][0]["id"].as_str().expect("id").to_string();
    let get = |path: String, encoding: Option<&'static str>, tag: Option<String>| {
        let mut req = app.http.get(format!("{}{path}", app.url)).bearer_auth(&t);
        if let Some(e) = encoding {
            req = req.header("accept-encoding", e);
        }
        if let Some(tag) = tag {
            req = req.header("if-none-match", tag);
        }
        async move { req.send().await.expect("get") }
    };
    let etag = |r: &reqwest::Response| {
        r.headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    for (path, compressible) in [
        (format!("{LIST}/{id}"), true),
        (format!("{LIST}?page_size=20"), true),
        (
            "/v1/option-sets/recruiting-request-status".to_string(),
            false,
        ),
    ] {
        let identity = get(path.clone(), None, None).await;
        let gzip = get(path.clone(), Some("gzip"), None).await;
        assert_eq!(
            (identity.status().as_u16(), gzip.status().as_u16()),
            (200, 200),
            "{path}"
        );
        assert!(identity.headers().get("content-encoding").is_none());
        if compressible {
            assert_eq!(gzip.headers()["content-encoding"], "gzip", "{path}");
        }
        let (a, b) = (etag(&identity), etag(&gzip));
        assert!(a.starts_with("W/\"") && a.ends_with('"'), "{path}: {a}");
        assert_eq!(a, b, "{path}: one weak tag for both codings");
        for (tag, encoding) in [(&a, Some("gzip")), (&b, None), (&a, None), (&b, Some("br"))] {
            let r = get(path.clone(), encoding, Some(tag.clone())).await;
            assert_eq!(r.status(), 304, "{path}: {tag} with {encoding:?}");
            assert_eq!(etag(&r), a, "{path}");
            assert!(r.headers().get("content-encoding").is_none());
        }
    }
}

// ---------------------------------------------------------------- sort, page size, expand

/// Order key of an item for a sort field; `None` sorts first ascending (Dataverse puts nulls first).
fn sort_key(item: &Value, field: &str) -> (Option<String>, Option<i64>) {
    match field {
        "status" => (None, item["status"]["code"].as_i64()),
        "description" => (item[field].as_str().map(str::to_lowercase), None),
        _ => (item[field].as_str().map(str::to_string), None),
    }
}

#[tokio::test]
async fn every_sort_in_both_directions() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    for field in ["number", "estimated_start_date", "description", "status"] {
        for desc in [false, true] {
            let sort = if desc {
                format!("-{field}")
            } else {
                field.to_string()
            };
            let (s, v) = app
                .get_json(
                    &format!("{LIST}?sort={sort}&company=usmf&page_size=200"),
                    &t,
                    None,
                )
                .await;
            assert_eq!(s, 200, "{sort}: {v}");
            let keys: Vec<_> = data(&v).iter().map(|i| sort_key(i, field)).collect();
            assert!(keys.len() > 10, "{sort}");
            let distinct: BTreeSet<_> = keys.iter().collect();
            assert!(
                distinct.len() > 1,
                "{sort}: the data must distinguish the order"
            );
            for w in keys.windows(2) {
                let ok = if desc { w[0] >= w[1] } else { w[0] <= w[1] };
                assert!(ok, "{sort}: {:?} then {:?}", w[0], w[1]);
            }
        }
    }
    let p = assert_problem(
        app.get(&format!("{LIST}?sort=mshr_status"), &t, None).await,
        400,
    )
    .await;
    assert_eq!(pointer(&p), "#/sort");
    assert_eq!(bad_requests(&app).await, 0);
}

#[tokio::test]
async fn page_size_bounds() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    for bad in ["0", "201", "-1", "abc", "1.5", "99999999999"] {
        let p = assert_problem(
            app.get(&format!("{LIST}?page_size={bad}"), &t, None).await,
            400,
        )
        .await;
        assert_eq!(pointer(&p), "#/page_size", "{bad}");
    }
    let (s, v) = app.get_json(&format!("{LIST}?page_size=1"), &t, None).await;
    assert_eq!((s, data(&v).len()), (200, 1));
    let (s, v) = app
        .get_json(&format!("{LIST}?page_size=200"), &t, None)
        .await;
    assert_eq!((s, data(&v).len()), (200, 200));
    let (s, v) = app.get_json(LIST, &t, None).await;
    assert_eq!((s, data(&v).len()), (200, 50));
}

#[tokio::test]
async fn expand_embeds_children_only_when_asked() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, v) = app.get_json(&format!("{LIST}?page_size=5"), &t, None).await;
    assert_eq!(s, 200);
    for item in data(&v) {
        for k in ["positions", "skills", "education", "location_detail"] {
            assert!(item.get(k).is_none(), "{k} without expand");
        }
    }
    let (s, v) = app
        .get_json(
            &format!("{LIST}?page_size=5&expand=positions,skills,education,location"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let items = data(&v);
    assert!(items.iter().all(|i| i["positions"].is_array()
        && i["skills"].is_array()
        && i["education"].is_array()
        && i.get("location_detail").is_some()));
    assert!(items
        .iter()
        .any(|i| !i["positions"].as_array().expect("arr").is_empty()));
    let (s, v) = app
        .get_json(&format!("{LIST}?page_size=5&expand=skills"), &t, None)
        .await;
    assert_eq!(s, 200);
    assert!(data(&v)
        .iter()
        .all(|i| i["skills"].is_array() && i.get("positions").is_none()));
    let p = assert_problem(
        app.get(&format!("{LIST}?expand=salary"), &t, None).await,
        400,
    )
    .await;
    assert_eq!(pointer(&p), "#/expand");
}

/// A list page is written straight from the upstream rows, the detail through the DTOs: with every
/// child expanded, each item of a page equals its detail answer, in both languages.
#[tokio::test]
async fn an_expanded_list_item_equals_its_detail() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    for lang in ["en-US", "nb-NO"] {
        let (s, v) = app
            .get_json(
                &format!("{LIST}?page_size=40&expand=positions,skills,education,location"),
                &t,
                Some(lang),
            )
            .await;
        assert_eq!(s, 200);
        let items = data(&v);
        assert_eq!(items.len(), 40);
        let mut with_children = 0;
        for item in items {
            let id = item["id"].as_str().expect("id");
            let (s, detail) = app.get_json(&format!("{LIST}/{id}"), &t, Some(lang)).await;
            assert_eq!(s, 200);
            assert_eq!(item, &detail, "{lang} {id}");
            with_children += usize::from(!item["positions"].as_array().expect("arr").is_empty());
        }
        assert!(with_children > 0, "some request has positions");
    }
}

// ---------------------------------------------------------------- paging

#[tokio::test]
async fn paging_through_a_filtered_list_misses_nothing() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let active = status_code_of(&app, &t, "active").await;
    let review = status_code_of(&app, &t, "in_review").await;
    let (items, pages) = all_pages(
        &app,
        &t,
        &[
            ("status", "active,in_review"),
            ("sort", "-estimated_start_date"),
            ("page_size", "7"),
        ],
    )
    .await;
    let expected = emulator_count(
        &app,
        &format!(
            "(mshr_status eq {active} or mshr_status eq {review}) and (mshr_dataareaid eq 'usmf' or mshr_dataareaid eq 'gbsi')"
        ),
    )
    .await;
    assert!(expected > 14, "the filter must span pages: {expected}");
    let ids: BTreeSet<String> = strs(&items, "id").into_iter().collect();
    assert_eq!(ids.len(), items.len(), "no duplicates");
    assert_eq!(items.len() as u64, expected, "none missed");
    assert_eq!(pages as u64, expected.div_ceil(7));
    assert!(items
        .iter()
        .all(|i| ["active", "in_review"].contains(&i["status"]["key"].as_str().unwrap_or(""))));
    assert_eq!(bad_requests(&app).await, 0);
}

#[tokio::test]
async fn paging_the_whole_company_list() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (items, _) = all_pages(&app, &t, &[("company", "gbsi"), ("page_size", "200")]).await;
    let expected = emulator_count(&app, "mshr_dataareaid eq 'gbsi'").await;
    let ids: BTreeSet<String> = strs(&items, "id").into_iter().collect();
    assert_eq!(ids.len() as u64, expected);
    assert_eq!(items.len() as u64, expected);
}

// ---------------------------------------------------------------- detail, labels

#[tokio::test]
async fn detail_has_children_and_unknown_ids_are_clean_errors() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (_, v) = app
        .get_json(&format!("{LIST}?page_size=20&expand=positions"), &t, None)
        .await;
    let with_positions = data(&v)
        .iter()
        .find(|i| !i["positions"].as_array().expect("arr").is_empty())
        .expect("a request with positions")
        .clone();
    let id = with_positions["id"].as_str().expect("id");
    let (s, d) = app.get_json(&format!("{LIST}/{id}"), &t, None).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["id"], id);
    assert_eq!(d["number"], with_positions["number"]);
    assert_eq!(d["positions"], with_positions["positions"]);
    for k in ["skills", "education"] {
        assert!(d[k].is_array(), "{k}");
    }
    assert!(d.get("location_detail").is_some());

    let r = app
        .get(
            &format!("{LIST}/3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            &t,
            None,
        )
        .await;
    assert_problem(r, 404).await;
    let r = app.get(&format!("{LIST}/USMF%27000001"), &t, None).await;
    let p = assert_problem(r, 400).await;
    assert_eq!(pointer(&p), "#/id");
    assert_eq!(bad_requests(&app).await, 0);
}

/// Every `{id, code, name}` object anywhere in a value (lookups), with its JSON path.
fn lookups_in(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("id")
                && m.contains_key("code")
                && m.contains_key("name")
                && m.len() == 3
            {
                out.push((path.clone(), v.clone()));
            }
            for (k, c) in m {
                lookups_in(c, format!("{path}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                lookups_in(c, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn labels_follow_accept_language_and_lookups_are_named() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let path = format!("{LIST}?status=active&page_size=5&expand=positions,skills,education");
    let en = app.get(&path, &t, Some("en-US")).await;
    assert_eq!(en.headers()["content-language"], "en-US");
    let en: Value = en.json().await.expect("json");
    let nb = app.get(&path, &t, Some("nb-NO, en;q=0.5")).await;
    assert_eq!(nb.headers()["content-language"], "nb-NO");
    let nb: Value = nb.json().await.expect("json");
    assert_eq!(data(&en)[0]["status"]["label"], "Active");
    assert_eq!(data(&nb)[0]["status"]["label"], "Aktive");
    // Keys and codes do not depend on the language.
    assert_eq!(data(&en)[0]["status"]["key"], data(&nb)[0]["status"]["key"]);
    assert_eq!(strs(data(&en), "id"), strs(data(&nb), "id"));

    let mut refs = Vec::new();
    lookups_in(&en, String::new(), &mut refs);
    assert!(refs.len() > 20, "lookups found: {}", refs.len());
    for (path, r) in &refs {
        assert!(r["id"].is_string(), "{path}: {r}");
        assert!(
            r["name"].as_str().is_some_and(|n| !n.is_empty()),
            "{path} has no name: {r}"
        );
    }
}

// ---------------------------------------------------------------- cursors

#[tokio::test]
async fn tampered_and_foreign_cursors_are_refused() {
    let app = spawn_app().await;
    let acme_t = acme(&app).await;
    let nordic_t = app.partner_token("nordic-hr", None).await;
    let (_, v) = app
        .get_json(&format!("{LIST}?page_size=2"), &acme_t, None)
        .await;
    let cursor = v["next_cursor"].as_str().expect("cursor").to_string();

    // Works as issued.
    let (s, next) = app
        .get_json(
            &format!("{LIST}?page_size=2&cursor={cursor}"),
            &acme_t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{next}");
    assert_ne!(strs(data(&v), "id"), strs(data(&next), "id"));

    let mut bytes = cursor.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).expect("utf8");
    for (who, token, path) in [
        (
            "tampered",
            &acme_t,
            format!("{LIST}?page_size=2&cursor={tampered}"),
        ),
        (
            "truncated",
            &acme_t,
            format!("{LIST}?page_size=2&cursor={}", &cursor[..40]),
        ),
        (
            "garbage",
            &acme_t,
            format!("{LIST}?page_size=2&cursor=%27%20or%201%20eq%201"),
        ),
        (
            "other partner",
            &nordic_t,
            format!("{LIST}?page_size=2&cursor={cursor}"),
        ),
        (
            "other filter",
            &acme_t,
            format!("{LIST}?page_size=2&status=active&cursor={cursor}"),
        ),
        (
            "other page size",
            &acme_t,
            format!("{LIST}?page_size=3&cursor={cursor}"),
        ),
    ] {
        let r = app.get(&path, token, None).await;
        let p = assert_problem(r, 400).await;
        assert_eq!(pointer(&p), "#/cursor", "{who}");
        assert!(
            p["detail"].as_str().unwrap_or_default().contains("cursor"),
            "{who}"
        );
    }
    // The cursor never shows the upstream URL.
    assert!(!cursor.contains("skiptoken") && !cursor.contains("127.0.0.1"));
    assert_eq!(bad_requests(&app).await, 0);
}

/// A cursor continues the query it was issued for, and that query carried the partner's companies:
/// once the partner's rights change, the cursor is refused rather than continued.
#[tokio::test]
async fn a_cursor_stops_working_when_the_partners_companies_change() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, first) = app.get_json(&format!("{LIST}?page_size=2"), &t, None).await;
    assert_eq!(s, 200, "{first}");
    let cursor = first["next_cursor"].as_str().expect("cursor").to_string();
    let next = format!("{LIST}?page_size=2&cursor={cursor}");
    let (s, _) = app.get_json(&next, &t, None).await;
    assert_eq!(s, 200, "the cursor works while the rights are unchanged");

    let partners: Vec<_> = ats_gateway::demo::partners()
        .into_iter()
        .map(|p| {
            let mut c = p.config;
            if c.id == ACME {
                c.companies = vec!["usmf".into()];
            }
            c
        })
        .collect();
    app.gateway
        .state
        .auth
        .reload_partners(&partners)
        .expect("reload");
    let p = assert_problem(app.get(&next, &t, None).await, 400).await;
    assert_eq!(pointer(&p), "#/cursor");
    // A fresh listing under the new rights works.
    let (s, v) = app.get_json(&format!("{LIST}?page_size=2"), &t, None).await;
    assert_eq!(s, 200, "{v}");
}

// ---------------------------------------------------------------- injection

/// Each attempt is a clean 400 problem, or a 200 whose data respects the intended filter; the
/// emulator never sees a malformed query.
#[tokio::test]
async fn injection_attempts_never_reach_the_upstream_malformed() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let big = "x".repeat(10 * 1024);
    let big_quote = "'".repeat(10 * 1024);
    let attempts: Vec<(&str, &str)> = vec![
        ("q", "' or 1 eq 1"),
        ("q", "') or (1 eq 1"),
        ("q", "'"),
        ("q", "''"),
        ("q", "%27"),
        ("q", "\\'"),
        ("q", "&$top=1"),
        ("q", "x) or contains(mshr_description,'"),
        ("q", "Ærø – 日本語 🚀"),
        ("q", "Supervisor'--"),
        ("q", "a\u{0}b"),
        ("q", &big),
        ("q", &big_quote),
        ("company", "usmf') or (1 eq 1"),
        ("company", "usmf' or '1' eq '1"),
        ("company", "usmf%27"),
        ("company", "ÜSMF"),
        ("company", &big),
        ("job", "x' or 'a'='a"),
        ("job", "Production Supervisor' or 1 eq 1 or mshr_jobid eq '"),
        ("job", "{00000000-0000-0000-0000-000000000000}"),
        ("job", &big),
        ("department", "029' or 1 eq 1"),
        (
            "department",
            "00000000-0000-0000-0000-000000000000) or (1 eq 1",
        ),
        ("department", &big),
        ("status", "active') or (1 eq 1"),
        ("status", "200000005"),
        ("status", &big),
        ("status", ","),
        ("status", " "),
        ("status", " , ,"),
        ("sort", "number,mshr_comments desc"),
        ("sort", "number;drop"),
        ("sort", &big),
        ("expand", "positions($select=*)"),
        ("expand", &big),
        ("page_size", "1&$top=1000"),
        ("page_size", &big),
        ("cursor", "' or 1 eq 1"),
        ("cursor", &big),
        ("$filter", "1 eq 1"),
        ("$top", "1"),
    ];
    for (name, value) in &attempts {
        let path = with_query(LIST, &[(name, value), ("page_size", "50")]);
        let path = if *name == "page_size" {
            with_query(LIST, &[(name, value)])
        } else {
            path
        };
        let r = app.get(&path, &t, None).await;
        let status = r.status().as_u16();
        let shown: String = value.chars().take(40).collect();
        match status {
            400 => {
                let p = assert_problem(r, 400).await;
                assert!(!pointer(&p).is_empty(), "{name}={shown}: {p}");
            }
            200 => {
                let v: Value = r.json().await.expect("json");
                assert_respects(name, value, data(&v));
            }
            other => panic!("{name}={shown}: unexpected {other}"),
        }
    }
    // Raw query strings (not re-encoded by the test).
    for raw in [
        "q=%27&page_size=50",
        "q=x&$top=1",
        "q=x%26%24top%3D1",
        "company=usmf%27)%20or%20(1%20eq%201",
        "q=%ZZ",
        "q=%C3%28",
        "status=active%2C%27",
    ] {
        let r = app.get(&format!("{LIST}?{raw}"), &t, None).await;
        let status = r.status().as_u16();
        assert!(status == 200 || status == 400, "{raw}: {status}");
        if status == 400 {
            assert_problem(r, 400).await;
        } else {
            let v: Value = r.json().await.expect("json");
            assert!(data(&v).len() <= 50, "{raw}");
        }
    }
    // The path id too.
    for id in [
        "x'%20or%201%20eq%201",
        "%27",
        "00000000-0000-0000-0000-000000000000)",
    ] {
        let r = app.get(&format!("{LIST}/{id}"), &t, None).await;
        let s = r.status().as_u16();
        assert!(s == 400 || s == 404, "{id}: {s}");
        assert_problem(r, s).await;
    }
    assert_eq!(
        bad_requests(&app).await,
        0,
        "the sandbox saw a malformed query"
    );
}

fn assert_respects(name: &str, value: &str, items: &[Value]) {
    let shown: String = value.chars().take(40).collect();
    match name {
        "q" => {
            for d in strs(items, "description") {
                assert!(
                    d.to_lowercase().contains(&value.to_lowercase()),
                    "q={shown} returned {d}"
                );
            }
        }
        "company" => {
            for i in items {
                assert_eq!(
                    i["company"]["code"].as_str().map(str::to_lowercase),
                    Some(value.to_lowercase()),
                    "company={shown}"
                );
            }
        }
        "job" => {
            for i in items {
                let j = &i["job"];
                assert!(j["code"] == value || j["id"] == value, "job={shown}: {j}");
            }
        }
        // A department that matches nothing, or a GUID in braces: at most the matching rows.
        "department" => assert!(items.is_empty(), "department={shown}"),
        other => panic!("{other}={shown} was accepted"),
    }
}

// ---------------------------------------------------------------- ETag, problems

#[tokio::test]
async fn etag_and_if_none_match() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    for path in [
        format!("{LIST}?page_size=3"),
        "/v1/option-sets/recruiting-request-status".to_string(),
    ] {
        let r = app.get(&path, &t, None).await;
        assert_eq!(r.status(), 200);
        let etag = r.headers()["etag"].to_str().expect("etag").to_string();
        // Weak everywhere: list pages carry a fresh cursor, and every body may be compressed.
        let opaque = etag.strip_prefix("W/").unwrap_or(&etag);
        assert!(etag.starts_with("W/"), "{etag}");
        assert!(opaque.starts_with('"') && opaque.ends_with('"'));
        let first: Value = r.json().await.expect("json");
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .bearer_auth(&t)
            .header("If-None-Match", &etag)
            .send()
            .await
            .expect("send");
        if r.status() != 304 {
            let second: Value = r.json().await.unwrap_or(Value::Null);
            panic!("{path}: no 304\nfirst:  {first}\nsecond: {second}");
        }
        assert_eq!(r.headers()["etag"].to_str().expect("etag"), etag);
        assert!(r.bytes().await.expect("body").is_empty());
        // Another language is another representation.
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .bearer_auth(&t)
            .header("If-None-Match", &etag)
            .header("Accept-Language", "nb-NO")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn problem_bodies_are_complete() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let r = app.get(&format!("{LIST}?page_size=0"), &t, None).await;
    let request_id = r.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let p = assert_problem(r, 400).await;
    assert_eq!(
        p["type"],
        format!("{}/problems/invalid-parameter", app.url).as_str()
    );
    assert_eq!(p["title"], "Invalid parameter");
    assert_eq!(p["instance"], LIST);
    assert_eq!(p["request_id"], request_id.as_str());
    assert_eq!(p["errors"][0]["pointer"], "#/page_size");
    assert!(p["errors"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("200"));
    // The type resolves to an explanation.
    let r = app
        .http
        .get(format!("{}/problems/invalid-parameter", app.url))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // 404 on an unknown route is a problem too.
    assert_problem(app.get("/v1/nope", &t, None).await, 404).await;
}

// ---------------------------------------------------------------- upstream trouble

/// No partner-facing body may show the emulator's address or an upstream body.
fn assert_no_leak(app: &TestApp, body: &Value) {
    let text = body.to_string();
    let host = app.emu.handle.url.trim_start_matches("http://");
    for needle in [
        host,
        "api/data",
        "0x8",
        "Number of requests",
        "mshr_",
        "AADSTS",
        "temporarily_unavailable",
    ] {
        assert!(!text.contains(needle), "leaks `{needle}`: {text}");
    }
}

#[tokio::test]
async fn upstream_throttle_becomes_429_with_retry_after() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    app.emu
        .fault(json!({"kind": "throttle", "retry_after": 30}))
        .await;
    let r = app.get(&format!("{LIST}?page_size=3"), &t, None).await;
    assert_eq!(r.headers()["retry-after"], "30");
    let p = assert_problem(r, 429).await;
    assert_eq!(
        p["type"],
        format!("{}/problems/upstream-throttled", app.url).as_str()
    );
    assert_no_leak(&app, &p);
}

#[tokio::test]
async fn upstream_503_becomes_503() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    app.emu
        .fault(json!({"kind": "server_error", "status": 503}))
        .await;
    let r = app.get(&format!("{LIST}?page_size=3"), &t, None).await;
    assert!(r.headers().contains_key("retry-after"));
    let p = assert_problem(r, 503).await;
    assert_eq!(
        p["type"],
        format!("{}/problems/upstream-unavailable", app.url).as_str()
    );
    assert_no_leak(&app, &p);
}

/// A Dataverse 500 is a failure of this request (502), not an outage (503 is for unavailability).
#[tokio::test]
async fn upstream_500_becomes_502() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    app.emu
        .fault(json!({"kind": "server_error", "status": 500}))
        .await;
    let r = app.get(&format!("{LIST}?page_size=3"), &t, None).await;
    assert!(!r.headers().contains_key("retry-after"));
    let p = assert_problem(r, 502).await;
    assert_eq!(
        p["type"],
        format!("{}/problems/upstream-failed", app.url).as_str()
    );
    assert_no_leak(&app, &p);
}

#[tokio::test]
async fn upstream_latency_beyond_the_timeout_becomes_504() {
    let app = spawn_app_with(SandboxConfig::default(), |c| c.dataverse.timeout_ms = 300).await;
    let t = acme(&app).await;
    app.emu
        .fault(
            json!({"kind": "latency", "ms": 3000, "target": "mshr_hcmrecruitingrequestentities"}),
        )
        .await;
    let started = Instant::now();
    let r = app.get(&format!("{LIST}?page_size=3"), &t, None).await;
    let p = assert_problem(r, 504).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        p["type"],
        format!("{}/problems/upstream-timeout", app.url).as_str()
    );
    assert_no_leak(&app, &p);
}

#[tokio::test]
async fn token_outage_on_a_cold_gateway_becomes_503() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    app.emu.fault(json!({"kind": "token_outage"})).await;
    let r = app.get(&format!("{LIST}?page_size=3"), &t, None).await;
    let p = assert_problem(r, 503).await;
    assert_eq!(
        p["type"],
        format!("{}/problems/upstream-unavailable", app.url).as_str()
    );
    assert_no_leak(&app, &p);
    // Recovers once Entra is back.
    let r = app
        .http
        .delete(app.emu.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear");
    assert!(r.status().is_success());
    // Token requests back off while the endpoint is down (250 ms first), so poll briefly.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (s, _) = app.get_json(&format!("{LIST}?page_size=3"), &t, None).await;
        if s == 200 {
            break;
        }
        assert_eq!(s, 503);
        assert!(Instant::now() < deadline, "recovers after the backoff");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------- the upstream token

fn unlimited(c: &mut ats_gateway::config::Config) {
    for p in c.auth.partners.iter_mut().filter(|p| p.id == ACME) {
        p.rate_limit = RateLimitConfig {
            per_second: 100_000,
            burst: 100_000,
        };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_cold_requests_fetch_one_token() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        unlimited(c);
        // 1,000 distinct reads queue behind the concurrency cap on a busy machine.
        c.dataverse.queue_timeout_ms = 30_000;
    })
    .await;
    let t = acme(&app).await;
    assert_eq!(app.emu.stats().await["token_requests"], 0, "cold");
    // Distinct unknown ids: identical reads in flight would share one upstream call.
    let calls = (0..1000u128).map(|i| {
        let url = format!(
            "{}{LIST}/{}",
            app.url,
            uuid::Uuid::from_u128(0x3f25_04e0 << 96 | i)
        );
        app.http.get(url).bearer_auth(&t).send()
    });
    let results = futures::future::join_all(calls).await;
    for r in results {
        let r = r.expect("response");
        // 404: the id is unknown, but each request needed the upstream (and its token).
        assert_eq!(r.status(), 404);
    }
    let stats = app.emu.stats().await;
    assert_eq!(stats["token_requests"], 1, "{stats}");
    assert!(
        stats["requests"]["mshr_hcmrecruitingrequestentities"]
            .as_u64()
            .unwrap_or(0)
            >= 1000,
        "{stats}"
    );
}

async fn tokens_issued(app: &TestApp) -> u64 {
    app.emu.stats().await["tokens_issued"]
        .as_u64()
        .expect("tokens_issued")
}

/// With a slow token endpoint, only a background refresh keeps partner requests fast across the
/// token's expiry: a caller that had to fetch the next token itself would wait the full latency.
/// The gateway refreshes at 80 % of the lifetime and treats the token as expired at 90 %, so with a
/// 30 s lifetime the refresh (24 s + 2 s latency) lands a second before the expiry (27 s).
#[tokio::test]
async fn token_is_refreshed_ahead_of_expiry() {
    const LIFETIME: Duration = Duration::from_secs(30);
    const LATENCY: Duration = Duration::from_secs(2);
    let app = spawn_app_with(
        SandboxConfig {
            token_lifetime_secs: LIFETIME.as_secs(),
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let t = acme(&app).await;
    let path = format!("{LIST}?page_size=1");
    // Warm up: the first (cold) token; its gateway-side expiry is at least `started` + 90 %.
    let started = Instant::now();
    let (s, v) = app.get_json(&path, &t, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(tokens_issued(&app).await, 1);
    let expiry = started + LIFETIME.mul_f64(0.9);
    app.emu
        .fault(json!({"kind": "latency", "ms": LATENCY.as_millis(), "target": "token"}))
        .await;
    let mut refreshed_at = None;
    let mut n = 0;
    while Instant::now() < expiry + Duration::from_secs(2) {
        let one = Instant::now();
        let (s, v) = app.get_json(&path, &t, None).await;
        assert_eq!(s, 200, "request {n}: {v}");
        assert!(
            one.elapsed() < LATENCY / 2,
            "request {n} at {:?} took {:?}: it waited for a token",
            started.elapsed(),
            one.elapsed()
        );
        if refreshed_at.is_none() && tokens_issued(&app).await >= 2 {
            refreshed_at = Some(Instant::now());
        }
        n += 1;
        // Paces the loop (not synchronisation): ~10 requests a second.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refreshed_at = refreshed_at.expect("no second token was issued");
    assert!(
        refreshed_at < expiry,
        "the second token came {:?} after the first expired",
        refreshed_at - expiry
    );
    assert_eq!(tokens_issued(&app).await, 2);
    assert!(n > 100, "{n} requests");
}

#[tokio::test]
async fn upstream_401_refreshes_the_token_and_retries_once() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, _) = app.get_json(&format!("{LIST}?page_size=3"), &t, None).await;
    assert_eq!(s, 200);
    let before = app.emu.stats().await["token_requests"].as_u64().expect("n");
    app.emu
        .fault(json!({"kind": "unauthorized", "count": 1}))
        .await;
    let (s, v) = app.get_json(&format!("{LIST}?page_size=4"), &t, None).await;
    assert_eq!(s, 200, "{v}");
    let after = app.emu.stats().await["token_requests"].as_u64().expect("n");
    assert_eq!(after, before + 1);
}

/// A token Dataverse refuses twice: one fresh token, one retry, then 502 (not a loop).
#[tokio::test]
async fn two_upstream_401s_are_502_after_exactly_one_fresh_token() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, _) = app.get_json(&format!("{LIST}?page_size=3"), &t, None).await;
    assert_eq!(s, 200);
    let before = app.emu.stats().await;
    app.emu
        .fault(json!({"kind": "unauthorized", "count": 2}))
        .await;
    let r = app.get(&format!("{LIST}?page_size=4"), &t, None).await;
    let p = assert_problem(r, 502).await;
    assert_eq!(
        p["type"],
        format!("{}/problems/upstream-misconfigured", app.url).as_str()
    );
    assert_no_leak(&app, &p);
    let after = app.emu.stats().await;
    assert_eq!(
        after["token_requests"].as_u64().expect("n"),
        before["token_requests"].as_u64().expect("n") + 1,
        "{after}"
    );
    assert_eq!(
        total_requests(&after) - total_requests(&before),
        2,
        "{after}"
    );
}

#[tokio::test]
async fn steady_state_list_page_costs_one_upstream_request() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let path = format!("{LIST}?page_size=50&expand=positions,skills,education,location");
    let (s, _) = app.get_json(&path, &t, None).await;
    assert_eq!(s, 200);
    let before = total_requests(&app.emu.stats().await);
    let (s, v) = app.get_json(&path, &t, Some("nb-NO")).await;
    assert_eq!((s, data(&v).len()), (200, 50));
    let after_stats = app.emu.stats().await;
    assert_eq!(total_requests(&after_stats) - before, 1, "{after_stats}");
}

// ---------------------------------------------------------------- snapshots

/// Cursors are sealed with a random nonce, the only non-deterministic member: redacted, after checking that
/// the page has one (three of many rows).
fn cursor_redaction() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, _path| {
        assert!(
            value.as_str().is_some_and(|c| !c.is_empty()),
            "next_cursor: {value:?}"
        );
        "[cursor]"
    })
}

#[tokio::test]
async fn snapshot_list_page_en_and_nb() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, en) = app
        .get_json(&format!("{LIST}?page_size=3"), &t, Some("en-US"))
        .await;
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("list_page_en_us", en, { ".next_cursor" => cursor_redaction() });
    let (s, nb) = app
        .get_json(&format!("{LIST}?page_size=3"), &t, Some("nb-NO"))
        .await;
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("list_page_nb_no", nb, { ".next_cursor" => cursor_redaction() });
}

#[tokio::test]
async fn snapshot_detail_en_and_nb() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (_, v) = app
        .get_json(&format!("{LIST}?company=usmf&page_size=1"), &t, None)
        .await;
    let id = data(&v)[0]["id"].as_str().expect("id").to_string();
    let (s, en) = app
        .get_json(&format!("{LIST}/{id}"), &t, Some("en-US"))
        .await;
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("detail_en_us", en);
    let (s, nb) = app
        .get_json(&format!("{LIST}/{id}"), &t, Some("nb-NO"))
        .await;
    assert_eq!(s, 200);
    insta::assert_json_snapshot!("detail_nb_no", nb);
}

// ---------------------------------------------------------------- request id upstream

/// The gateway pointed at a tiny upstream that records each Dataverse call's
/// `x-ms-client-request-id` (the emulator keeps no such record). Its answers need not make sense:
/// the test is about what the gateway sends.
#[tokio::test]
async fn the_partner_request_id_reaches_every_upstream_call() {
    use axum::extract::{Request, State};
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<String>>>;
    async fn upstream(State(seen): State<Seen>, req: Request) -> axum::response::Response {
        use axum::response::IntoResponse;
        if req.uri().path().ends_with("/oauth2/v2.0/token") {
            let body = json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "t"});
            return axum::Json(body).into_response();
        }
        let id = req
            .headers()
            .get("x-ms-client-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<missing>")
            .to_string();
        seen.lock().expect("lock").push(id);
        axum::Json(json!({"value": []})).into_response()
    }
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mock = format!("http://{}", listener.local_addr().expect("addr"));
    let router = axum::Router::new()
        .fallback(upstream)
        .with_state(Arc::clone(&seen));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.dataverse.org_url = mock.clone();
        c.dataverse.authority = mock.clone();
    })
    .await;
    let t = acme(&app).await;

    let sent = "partner-chosen-id-42";
    let r = app
        .http
        .get(format!("{}{LIST}", app.url))
        .bearer_auth(&t)
        .header("X-Request-Id", sent)
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-request-id"], sent);
    let first: Vec<String> = std::mem::take(&mut *seen.lock().expect("lock"));
    assert!(!first.is_empty(), "no upstream call");
    assert!(first.iter().all(|id| id == sent), "{first:?}");

    // Without one, the id the gateway made up (and answers with) is the one sent upstream.
    let r = app
        .get("/v1/option-sets/recruiting-request-status", &t, None)
        .await;
    let made = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let second: Vec<String> = std::mem::take(&mut *seen.lock().expect("lock"));
    assert!(!second.is_empty(), "no upstream call");
    assert!(second.iter().all(|id| *id == made), "{second:?} vs {made}");
    server.abort();
}

/// Issue 19: a hire names its request by number, but `GET /v1/recruiting-requests/USMF-000001`
/// was `400 id must be a GUID`. A path id is a GUID or the record's number, for requests and
/// candidates alike, and the candidates list's `recruiting_request` takes either.
#[tokio::test]
async fn ids_and_numbers_are_both_accepted() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let (s, by_id) = app
        .get_json(&format!("{LIST}/{}", "USMF-000001"), &t, None)
        .await;
    assert_eq!(s, 200, "{by_id}");
    assert_eq!(by_id["number"], "USMF-000001");
    let id = by_id["id"].as_str().expect("id");
    let (s, same) = app.get_json(&format!("{LIST}/{id}"), &t, None).await;
    assert_eq!(s, 200);
    assert_eq!(same, by_id, "the number and the GUID name the same request");
    // Another company's number is as unknown as a missing one.
    let nordic = app.partner_token("nordic-hr", None).await;
    let resp = app.get(&format!("{LIST}/USMF-000001"), &nordic, None).await;
    assert_problem(resp, 404).await;
    let resp = app.get(&format!("{LIST}/USMF-999999"), &t, None).await;
    assert_problem(resp, 404).await;
    let resp = app.get(&format!("{LIST}/usmf'x"), &t, None).await;
    let v = assert_problem(resp, 400).await;
    assert_eq!(pointer(&v), "#/id");

    // Candidates: by number, and the list filtered by the request's number or GUID.
    let (s, list) = app
        .get_json(&format!("/v1/candidates?recruiting_request={id}"), &t, None)
        .await;
    assert_eq!(s, 200, "{list}");
    let (s, by_number) = app
        .get_json("/v1/candidates?recruiting_request=USMF-000001", &t, None)
        .await;
    assert_eq!(s, 200, "{by_number}");
    assert_eq!(strs(data(&by_number), "id"), strs(data(&list), "id"));
    let (_, any) = app.get_json("/v1/candidates?page_size=1", &t, None).await;
    let cand = &data(&any)[0];
    let number = cand["candidate_number"].as_str().expect("candidate number");
    let (s, one) = app
        .get_json(&format!("/v1/candidates/{number}"), &t, None)
        .await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["id"], cand["id"]);
}

/// Issue 19: in Norwegian, `NonExempt` came out untranslated and Closed read "Forseglet" (sealed):
/// the sandbox serves corrected nb-NO labels (docs/ats-data-model.md, "Sandbox nb-NO labels").
#[tokio::test]
async fn norwegian_labels_are_translated() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let label = |v: &Value, key: &str| -> String {
        v["values"]
            .as_array()
            .expect("values")
            .iter()
            .find(|o| o["key"] == key)
            .and_then(|o| o["label"].as_str())
            .unwrap_or_else(|| panic!("no {key} in {v}"))
            .to_string()
    };
    let (s, status) = app
        .get_json(
            "/v1/option-sets/recruiting-request-status",
            &t,
            Some("nb-NO"),
        )
        .await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(label(&status, "closed"), "Lukket");
    let (_, exempt) = app
        .get_json("/v1/option-sets/job-exempt-status", &t, Some("nb-NO"))
        .await;
    assert_eq!(label(&exempt, "non_exempt"), "Ikke fritatt");
    assert_eq!(label(&exempt, "exempt"), "Fritatt");
    // No set shows an English placeholder or "Nr." (number) for No.
    let (s, sets) = app.get_json("/v1/option-sets", &t, Some("nb-NO")).await;
    assert_eq!(s, 200, "{sets}");
    assert!(data(&sets).len() > 10, "{sets}");
    for v in data(&sets) {
        let name = v["name"].as_str().unwrap_or_default();
        for o in v["values"].as_array().into_iter().flatten() {
            let l = o["label"].as_str().unwrap_or_default();
            assert!(
                !["None", "Nr.", "NonExempt", "Forseglet"].contains(&l),
                "{name}: {o}"
            );
        }
    }
}

/// The `$orderby` of each request for `set` the emulator saw after the first `from` (decoded).
async fn orders_sent(app: &TestApp, set: &str, from: usize) -> Vec<String> {
    app.emu
        .requests()
        .await
        .iter()
        .skip(from)
        .filter_map(|e| {
            let target = e["target"].as_str()?;
            if !target.contains(&format!("/{set}?")) {
                return None;
            }
            let url = reqwest::Url::parse(&format!("http://emulator{target}")).ok()?;
            let order = url
                .query_pairs()
                .find(|(k, _)| k == "$orderby")
                .map(|(_, v)| v.into_owned());
            order
        })
        .collect()
}

/// Readable numbers repeat across companies (each legal entity numbers its own), so a list's order
/// ends with the primary key: ordered by the number alone, Dataverse may page two rows with the
/// same number in either order, and a partner with both companies skips or repeats one at a page
/// boundary. The emulator always breaks ties by the key itself, so only the request shows it.
#[tokio::test]
async fn list_orders_end_with_the_primary_key() {
    let app = spawn_app().await;
    let t = acme(&app).await;
    let rr_key = ats_gateway::model::recruiting_request::PK;
    for sort in ["number", "-status"] {
        let from = app.emu.requests().await.len();
        let (s, v) = app
            .get_json(&format!("{LIST}?sort={sort}&page_size=3"), &t, None)
            .await;
        assert_eq!(s, 200, "{v}");
        let cursor = v["next_cursor"].as_str().expect("a second page");
        let (s, v) = app
            .get_json(
                &format!("{LIST}?sort={sort}&page_size=3&cursor={cursor}"),
                &t,
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let orders = orders_sent(&app, "mshr_hcmrecruitingrequestentities", from).await;
        assert!(!orders.is_empty(), "{sort}: no list request seen");
        for o in &orders {
            assert!(o.ends_with(&format!(",{rr_key} asc")), "{sort}: {o}");
        }
    }

    let cand_key = ats_gateway::model::candidate::PK;
    let from = app.emu.requests().await.len();
    let (s, v) = app.get_json("/v1/candidates?page_size=3", &t, None).await;
    assert_eq!(s, 200, "{v}");
    let cursor = v["next_cursor"].as_str().expect("a second page");
    let (s, v) = app
        .get_json(
            &format!("/v1/candidates?page_size=3&cursor={cursor}"),
            &t,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let orders = orders_sent(&app, "mshr_hcmcandidatetohireentities", from).await;
    assert!(!orders.is_empty(), "no candidate list request seen");
    for o in &orders {
        assert_eq!(o, &format!("mshr_candidateid asc,{cand_key} asc"));
    }
}
