//! Job boards over HTTP against the sandbox: only active requests of a board's companies (counted
//! against the partner API), no personal data anywhere, compensation only with pay transparency,
//! 404s, HR's changes within one scan, 0 Dataverse calls for 10,000 views, JSON-LD, the sanitiser
//! against injections written by HR, and the public routes' headers (cache, ETag, CORS, no token).

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use ats_gateway::boards::config::{demo, BoardConfig};
use ats_sandbox::config::SandboxConfig;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::changes::{baseline, codes, hr_token, patch, scan};
use crate::common::{spawn_app_with, TestApp, ANNOTATIONS};

const US: &str = "contoso-careers";
const NO: &str = "contoso-norge";
const RR: &str = "mshr_hcmrecruitingrequestentities";
const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The demo boards (limits out of the way) plus `extra`; scans only when a test asks.
pub(crate) async fn board_app(extra: Vec<BoardConfig>) -> TestApp {
    board_app_with(extra, |_| {}).await
}

/// [`board_app`], with `tweak` applied to the gateway's config last.
async fn board_app_with(
    extra: Vec<BoardConfig>,
    tweak: impl FnOnce(&mut ats_gateway::config::Config) + Send + 'static,
) -> TestApp {
    let app = spawn_app_with(SandboxConfig::default(), move |c| {
        c.boards = demo();
        for b in &mut c.boards {
            b.rate_limit_per_minute = 1_000_000;
        }
        c.boards.extend(extra);
        c.changes.scan_interval_ms = Some(3_600_000);
        c.changes.max_budget_share = 1.0;
        // The 10,000-request test times the partner API's cached read beside the boards.
        for p in &mut c.auth.partners {
            p.rate_limit.per_second = 1_000_000;
            p.rate_limit.burst = 1_000_000;
        }
        tweak(c);
    })
    .await;
    // The cold build runs in the background: bounded wait for the first answer.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let r = get(&app, &format!("/boards/{US}/jobs"), &[]).await;
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503, "before the snapshot: 503");
        assert!(
            Instant::now() < until,
            "the board was not ready within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.http.get(format!("{}{path}", app.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request")
}

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let r = get(app, path, &[]).await;
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn get_text(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let r = get(app, path, headers).await;
    let s = r.status().as_u16();
    (s, r.text().await.unwrap_or_default())
}

fn ids(list: &Value) -> BTreeSet<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|j| j["id"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Every active request of `company` as a partner sees it (all pages of the partner API).
async fn partner_active(app: &TestApp, partner: &str, company: &str) -> BTreeSet<String> {
    let token = app.partner_token(partner, None).await;
    let mut out = BTreeSet::new();
    let mut cursor = String::new();
    for _ in 0..200 {
        let (s, v) = app
            .get_json(
                &format!(
                    "/v1/recruiting-requests?status=active&company={company}&page_size=200{cursor}"
                ),
                &token,
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        out.extend(ids(&v));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
    panic!("more than 200 pages");
}

/// Every row of an emulator query (following `@odata.nextLink`), as the integration app.
async fn emu_rows(app: &TestApp, rest: &str) -> Vec<Value> {
    let token = app.emu.token().await;
    let mut url = app.emu.api(rest);
    let mut out = Vec::new();
    for _ in 0..1000 {
        let v: Value = app
            .http
            .get(&url)
            .bearer_auth(&token)
            .header("Prefer", format!("{ANNOTATIONS},odata.maxpagesize=5000"))
            .send()
            .await
            .expect("emulator")
            .json()
            .await
            .expect("json");
        out.extend(v["value"].as_array().cloned().unwrap_or_default());
        match v["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => return out,
        }
    }
    panic!("more than 1000 pages");
}

#[tokio::test]
async fn a_board_lists_the_active_requests_of_its_companies_as_the_partner_api_counts_them() {
    let app = board_app(Vec::new()).await;
    let (s, us) = get_json(&app, &format!("/boards/{US}/jobs")).await;
    assert_eq!(s, 200, "{us}");
    let expected = partner_active(&app, "acme-ats", "usmf").await;
    assert!(!expected.is_empty(), "the seed has active usmf requests");
    assert_eq!(ids(&us), expected, "exactly the active usmf requests");
    assert_eq!(us["total"], json!(expected.len()));
    let (_, no) = get_json(&app, &format!("/boards/{NO}/jobs")).await;
    assert_eq!(ids(&no), partner_active(&app, "nordic-hr", "nomf").await);
    assert!(ids(&no).is_disjoint(&ids(&us)), "never another company");
    let job = &us["data"][0];
    for key in [
        "id",
        "number",
        "title",
        "job",
        "department",
        "location",
        "employment_type",
        "openings",
        "estimated_start",
        "posted_at",
        "updated_at",
        "apply_url",
        "url",
    ] {
        assert!(job.get(key).is_some(), "{key} in {job}");
    }
    assert!(job.get("content").is_none(), "content only on request");
    let number = job["number"].as_str().expect("number");
    assert_eq!(
        job["apply_url"],
        format!("https://ats.example.com/apply?request={number}")
    );
    assert!(job["url"].as_str().is_some_and(|u| u.starts_with("http://")
        && u.ends_with(&format!(
            "/boards/{US}/jobs/{}",
            job["id"].as_str().unwrap_or("")
        ))));
    // A job by its number is the same job.
    let (s, by_number) = get_json(&app, &format!("/boards/{US}/jobs/{number}")).await;
    assert_eq!(s, 200, "{by_number}");
    assert_eq!(by_number["id"], job["id"]);
    // content=true: description, skills, education.
    let (_, full) = get_json(&app, &format!("/boards/{US}/jobs?content=true")).await;
    assert!(
        full["data"][0]["content"].is_string(),
        "{}",
        full["data"][0]
    );
    assert!(full["data"][0]["skills"].is_array());
    assert!(full["data"][0]["education"].is_array());
    // Filters: department, location and text narrow the list to matching jobs.
    let dep = job["department"].as_str().expect("department").to_string();
    let (_, by_dep) = get_json(
        &app,
        &format!("/boards/{US}/jobs?department={}", urlencode(&dep)),
    )
    .await;
    assert!(!ids(&by_dep).is_empty() && ids(&by_dep).is_subset(&ids(&us)));
    assert!(by_dep["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|j| j["department"] == dep.as_str()));
    let title = job["title"].as_str().expect("title").to_string();
    let (_, by_q) = get_json(
        &app,
        &format!("/boards/{US}/jobs?q={}", urlencode(&title.to_lowercase())),
    )
    .await;
    assert!(ids(&by_q).contains(job["id"].as_str().unwrap_or("")));
    let (s, v) = get_json(&app, &format!("/boards/{US}/jobs?content=maybe")).await;
    assert_eq!(s, 400, "{v}");
    // A search whose percent-decoding is not UTF-8 is refused naming it, not an empty list.
    for raw in ["q=%ff", "department=caf%C3", "utm_source=x&location=%ff"] {
        let (s, v) = get_json(&app, &format!("/boards/{US}/jobs?{raw}")).await;
        assert_eq!(s, 400, "{raw}: {v}");
        assert!(
            v["detail"].as_str().is_some_and(|d| d.contains("UTF-8")),
            "{v}"
        );
    }
    let (s, _) = get_json(&app, &format!("/boards/{US}/jobs?utm_source=%ff")).await;
    assert_eq!(s, 200, "a campaign tag is still ignored");
    // The HTML list shows the same jobs, each linking to its page; the GET form filters.
    let (s, page) = get_text(&app, &format!("/boards/{US}"), &[("Accept", HTML)]).await;
    assert_eq!(s, 200);
    for id in &expected {
        assert!(
            page.contains(&format!("/boards/{US}/jobs/{id}")),
            "{id} linked"
        );
    }
    let (_, filtered) = get_text(
        &app,
        &format!("/boards/{US}?department={}", urlencode(&dep)),
        &[],
    )
    .await;
    assert_eq!(filtered.matches("<li><h2>").count(), ids(&by_dep).len());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every string inside a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out)
        }),
        _ => {}
    }
}

#[tokio::test]
async fn no_personal_or_internal_text_in_any_board_response() {
    let app = board_app(Vec::new()).await;
    // The names in the seed (every person: workers, candidates, contacts), HR's internal
    // comments and descriptions, and the locations' contact details.
    let mut needles: HashSet<String> = HashSet::new();
    for p in emu_rows(
        &app,
        "mshr_dirpersonentities?$select=mshr_firstname,mshr_lastname",
    )
    .await
    {
        let (f, l) = (
            p["mshr_firstname"].as_str().unwrap_or(""),
            p["mshr_lastname"].as_str().unwrap_or(""),
        );
        if !f.is_empty() && !l.is_empty() {
            needles.insert(format!("{f} {l}"));
            needles.insert(format!("{l}, {f}"));
        }
    }
    assert!(needles.len() > 20, "the seed has persons");
    for r in emu_rows(&app, &format!("{RR}?$select=mshr_comments")).await {
        if let Some(c) = r["mshr_comments"].as_str().filter(|c| !c.is_empty()) {
            needles.insert(c.to_string());
        }
    }
    for l in emu_rows(
        &app,
        "mshr_hcmrecruitingrequestlocationentities?$select=mshr_email,mshr_telephone",
    )
    .await
    {
        for k in ["mshr_email", "mshr_telephone"] {
            if let Some(v) = l[k].as_str().filter(|v| v.len() > 3) {
                needles.insert(v.to_string());
            }
        }
    }
    let mut bodies: Vec<(String, Vec<String>)> = Vec::new();
    for board in [US, NO] {
        let (_, list) = get_json(&app, &format!("/boards/{board}/jobs?content=true")).await;
        let mut s = Vec::new();
        strings(&list, &mut s);
        bodies.push((format!("{board} list"), s));
        for id in ids(&list) {
            let (_, detail) = get_json(&app, &format!("/boards/{board}/jobs/{id}")).await;
            let mut s = Vec::new();
            strings(&detail, &mut s);
            bodies.push((format!("{board} job {id}"), s));
            let (_, page) = get_text(
                &app,
                &format!("/boards/{board}/jobs/{id}"),
                &[("Accept", HTML)],
            )
            .await;
            bodies.push((format!("{board} page {id}"), vec![page]));
        }
        for (path, lang) in [
            ("", "en"),
            ("", "nb"),
            ("/sitemap.xml", "en"),
            ("/feed.json", "en"),
        ] {
            let (_, text) = get_text(
                &app,
                &format!("/boards/{board}{path}"),
                &[("Accept-Language", lang)],
            )
            .await;
            bodies.push((format!("{board}{path}"), vec![text]));
        }
    }
    assert!(bodies.len() > 10);
    for (what, texts) in &bodies {
        for t in texts {
            for n in &needles {
                assert!(!t.contains(n.as_str()), "{what} shows `{n}`");
            }
            for key in [
                "hiring_manager",
                "recruiter",
                "reports_to",
                "comments",
                "candidate",
            ] {
                assert!(!t.contains(key), "{what} names `{key}`");
            }
        }
    }
}

#[tokio::test]
async fn compensation_only_with_pay_transparency_and_labels_in_the_boards_languages() {
    let app = board_app(Vec::new()).await;
    let (_, us) = get_json(&app, &format!("/boards/{US}/jobs")).await;
    let with_pay = us["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|j| j["compensation"]["min"].is_number())
        .count();
    assert!(with_pay > 0, "the pay-transparent board shows ranges: {us}");
    assert!(us["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|j| j["compensation"].is_object() || j["compensation"].is_null()));
    let (_, no) = get_json(&app, &format!("/boards/{NO}/jobs?content=true")).await;
    for j in no["data"].as_array().expect("data") {
        assert!(j.get("compensation").is_none(), "{j}");
        let (_, page) = get_text(
            &app,
            &format!("/boards/{NO}/jobs/{}", j["id"].as_str().unwrap_or("")),
            &[("Accept", HTML)],
        )
        .await;
        assert!(
            !page.contains("baseSalary") && !page.contains("Lønn"),
            "no pay on the page"
        );
    }
    // The Norwegian board speaks Norwegian by default, English when asked.
    let r = get(&app, &format!("/boards/{NO}"), &[]).await;
    assert_eq!(r.headers()["content-language"], "nb-NO");
    let page = r.text().await.expect("text");
    assert!(
        page.contains("<html lang=\"nb\"") && page.contains("ledige stillinger"),
        "{page}"
    );
    let r = get(
        &app,
        &format!("/boards/{NO}/jobs"),
        &[("Accept-Language", "en-GB, nb;q=0.5")],
    )
    .await;
    assert_eq!(r.headers()["content-language"], "en-US");
    let v: Value = r.json().await.expect("json");
    let labels: HashSet<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|j| j["employment_type_label"].as_str())
        .collect();
    assert!(
        labels
            .iter()
            .all(|l| ["Full-time", "Part-time"].contains(l)),
        "{labels:?}"
    );
    let (_, v) = get_json(&app, &format!("/boards/{NO}/jobs")).await;
    let labels: HashSet<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|j| j["employment_type_label"].as_str())
        .collect();
    assert!(
        labels.iter().all(|l| ["Heltid", "Deltid"].contains(l)),
        "{labels:?}"
    );
}

#[tokio::test]
async fn unknown_boards_and_closed_jobs_are_404() {
    let app = board_app(Vec::new()).await;
    let r = get(&app, "/boards/no-such-board/jobs", &[]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let (s, page) = get_text(&app, "/boards/no-such-board", &[("Accept", HTML)]).await;
    assert_eq!(s, 404);
    assert!(page.contains("<html"), "{page}");
    let closed = emu_rows(&app, &format!("{RR}?$select=mshr_hcmrecruitingrequestentityid,mshr_status&$filter=mshr_dataareaid eq 'usmf'")).await;
    let token = app.partner_token("acme-ats", None).await;
    let status = codes(&app, &token, "recruiting-request-status").await;
    let id = closed
        .iter()
        .find(|r| r["mshr_status"].as_i64() == status.get("closed").copied())
        .and_then(|r| r["mshr_hcmrecruitingrequestentityid"].as_str())
        .expect("a closed usmf request");
    let r = get(&app, &format!("/boards/{US}/jobs/{id}"), &[]).await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.expect("problem");
    assert_eq!(v["status"], 404, "{v}");
    let r = get(
        &app,
        &format!("/boards/{US}/jobs/{id}"),
        &[("Accept", HTML)],
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/html"));
    // Another board's job is not found on this one.
    let (_, no) = get_json(&app, &format!("/boards/{NO}/jobs")).await;
    let other = ids(&no).into_iter().next().expect("a nomf job");
    assert_eq!(
        get(&app, &format!("/boards/{US}/jobs/{other}"), &[])
            .await
            .status(),
        404
    );
}

/// The first usmf request with status `status` (by number).
async fn request_in(app: &TestApp, status: i64) -> String {
    let rows = emu_rows(app, &format!("{RR}?$select=mshr_hcmrecruitingrequestentityid&$filter=mshr_dataareaid eq 'usmf' and mshr_status eq {status}&$orderby=mshr_recruitingrequestid")).await;
    rows[0]["mshr_hcmrecruitingrequestentityid"]
        .as_str()
        .expect("a request")
        .to_string()
}

/// Polls `path` until its status is `want` (bounded: the follower applies events right after a scan).
async fn until_status(app: &TestApp, path: &str, want: u16) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let s = get(app, path, &[]).await.status().as_u16();
        if s == want {
            return;
        }
        assert!(Instant::now() < until, "{path} stayed {s}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn hr_activating_and_closing_a_request_shows_within_one_scan() {
    let app = board_app(Vec::new()).await;
    baseline(&app).await;
    let token = app.partner_token("acme-ats", None).await;
    let status = codes(&app, &token, "recruiting-request-status").await;
    let hr = hr_token(&app.emu).await;
    let id = request_in(&app, status["draft"]).await;
    let path = format!("/boards/{US}/jobs/{id}");
    assert_eq!(
        get(&app, &path, &[]).await.status(),
        404,
        "a draft is not on the board"
    );

    let (s, v) = patch(
        &app.emu,
        RR,
        &id,
        &hr,
        json!({"mshr_status": status["active"], "mshr_externaldescription": "<p>Now hiring</p>"}),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let r = scan(&app).await;
    assert!(r.complete(), "{r:?}");
    until_status(&app, &path, 200).await;
    let (_, job) = get_json(&app, &path).await;
    assert_eq!(job["content"], "<p>Now hiring</p>");
    let (_, list) = get_json(&app, &format!("/boards/{US}/jobs")).await;
    assert!(ids(&list).contains(&id));

    let (s, _) = patch(
        &app.emu,
        RR,
        &id,
        &hr,
        json!({"mshr_status": status["closed"]}),
    )
    .await;
    assert_eq!(s, 204);
    scan(&app).await;
    until_status(&app, &path, 404).await;
    let (_, list) = get_json(&app, &format!("/boards/{US}/jobs")).await;
    assert!(!ids(&list).contains(&id));
    // The feed partners read is unchanged by the boards: both changes are there.
    let (s, v) = app
        .get_json("/v1/changes?page_size=100", &token, None)
        .await;
    assert_eq!(s, 200, "{v}");
    let types: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|e| e["resource"]["id"] == id.as_str())
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types
            .iter()
            .filter(|t| **t == "recruiting_request.status_changed")
            .count()
            >= 2,
        "{types:?}"
    );
}

#[tokio::test]
async fn hr_injections_in_the_external_description_are_sanitised() {
    let app = board_app(Vec::new()).await;
    baseline(&app).await;
    let token = app.partner_token("acme-ats", None).await;
    let status = codes(&app, &token, "recruiting-request-status").await;
    let hr = hr_token(&app.emu).await;
    let id = request_in(&app, status["active"]).await;
    let corpus = concat!(
        "<h2>Role</h2><p onclick=\"steal()\" style=\"x\">Build <b>things</b></p>",
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
        "<a href=\"javascript:alert(3)\">js</a><a href=\"https://contoso.com/about\" target=\"_blank\">about</a>",
        "<a href=\"data:text/html,hi\">data</a><a href=\"//evil.example\">rel</a>",
        "<iframe src=\"https://evil.example\"></iframe><svg onload=alert(4)></svg>",
        "<style>*{}</style><form action=\"https://evil.example\"><input name=q></form>",
        "</script><script>alert(5)</script>\"'><!-- c -->end"
    );
    let (s, v) = patch(
        &app.emu,
        RR,
        &id,
        &hr,
        json!({"mshr_externaldescription": corpus}),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    scan(&app).await;
    let path = format!("/boards/{US}/jobs/{id}");
    let until = Instant::now() + Duration::from_secs(20);
    let content = loop {
        let (_, job) = get_json(&app, &path).await;
        if let Some(c) = job["content"].as_str().filter(|c| c.contains("Role")) {
            break c.to_string();
        }
        assert!(Instant::now() < until, "the edit did not reach the board");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for bad in [
        "<script",
        "onclick",
        "onerror",
        "onload",
        "style",
        "javascript:",
        "data:",
        "<img",
        "<iframe",
        "<svg",
        "<form",
        "<input",
        "target",
        "evil.example",
        "<!--",
        "alert",
    ] {
        assert!(!content.contains(bad), "`{bad}` in {content}");
    }
    assert!(
        content.contains("<a href=\"https://contoso.com/about\">about</a>"),
        "{content}"
    );
    assert!(
        content.contains("<b>things</b>") && content.contains("<h2>Role</h2>"),
        "{content}"
    );
    let (_, page) = get_text(&app, &path, &[("Accept", HTML)]).await;
    for bad in [
        "onclick",
        "onerror",
        "onload",
        "javascript:",
        "evil.example",
        "alert(",
    ] {
        assert!(!page.contains(bad), "`{bad}` on the page");
    }
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the JSON-LD script"
    );
}

/// The JSON-LD of a job page, parsed from its `<script type="application/ld+json">`.
pub(crate) fn json_ld(page: &str) -> Value {
    let start = page
        .find("<script type=\"application/ld+json\">")
        .expect("JSON-LD")
        + "<script type=\"application/ld+json\">".len();
    let end = start + page[start..].find("</script>").expect("end");
    serde_json::from_str(&page[start..end]).expect("JSON-LD parses")
}

#[tokio::test]
async fn every_job_page_carries_a_job_posting_with_googles_required_properties() {
    let app = board_app(Vec::new()).await;
    for (board, pay) in [(US, true), (NO, false)] {
        let (_, list) = get_json(&app, &format!("/boards/{board}/jobs")).await;
        assert!(!ids(&list).is_empty());
        for id in ids(&list) {
            let (s, page) = get_text(
                &app,
                &format!("/boards/{board}/jobs/{id}"),
                &[("Accept", HTML)],
            )
            .await;
            assert_eq!(s, 200);
            let ld = json_ld(&page);
            assert_eq!(ld["@context"], "https://schema.org/");
            assert_eq!(ld["@type"], "JobPosting");
            assert!(ld["title"].as_str().is_some_and(|t| !t.is_empty()), "{ld}");
            assert!(
                ld["description"].as_str().is_some_and(|t| !t.is_empty()),
                "{ld}"
            );
            let posted = ld["datePosted"].as_str().expect("datePosted");
            assert!(
                chrono::DateTime::parse_from_rfc3339(posted).is_ok(),
                "{posted}"
            );
            assert_eq!(ld["hiringOrganization"]["@type"], "Organization");
            assert!(ld["hiringOrganization"]["name"].is_string());
            assert_eq!(ld["jobLocation"]["@type"], "Place");
            assert_eq!(ld["jobLocation"]["address"]["@type"], "PostalAddress");
            assert!(
                ld["jobLocation"]["address"]["addressLocality"].is_string()
                    || ld["jobLocation"]["address"]["addressCountry"].is_string(),
                "{ld}"
            );
            assert!(
                [
                    "FULL_TIME",
                    "PART_TIME",
                    "TEMPORARY",
                    "CONTRACTOR",
                    "INTERN"
                ]
                .contains(&ld["employmentType"].as_str().unwrap_or("")),
                "{ld}"
            );
            assert_eq!(ld["identifier"]["@type"], "PropertyValue");
            assert_eq!(ld["directApply"], false);
            if pay {
                if ld.get("baseSalary").is_some() {
                    assert_eq!(ld["baseSalary"]["@type"], "MonetaryAmount");
                    assert_eq!(ld["baseSalary"]["currency"], "USD");
                    assert!(ld["baseSalary"]["value"]["minValue"].is_number());
                }
            } else {
                assert!(ld.get("baseSalary").is_none());
            }
            assert!(
                page.contains("<main")
                    && page.contains("<header")
                    && page.contains("name=\"viewport\"")
            );
        }
    }
}

#[tokio::test]
async fn public_routes_cache_validate_allow_any_origin_and_take_no_token() {
    let mut listed = demo().remove(0);
    listed.id = "listed-origins".into();
    listed.cors_origins = vec!["https://careers.contoso.com".into()];
    let mut tiny = demo().remove(0);
    tiny.id = "tiny".into();
    tiny.rate_limit_per_minute = 3;
    let app = board_app(vec![listed, tiny]).await;
    let path = format!("/boards/{US}/jobs");
    let r = get(&app, &path, &[("Origin", "https://anywhere.example")]).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(
        h["cache-control"],
        "public, max-age=60, stale-while-revalidate=300"
    );
    let etag = h["etag"].to_str().expect("etag").to_string();
    // Weak: the compression layer sends this tag on identity, gzip and br bodies alike.
    assert!(
        etag.starts_with("W/\"") && etag.ends_with('"'),
        "weak: {etag}"
    );
    assert!(h["vary"].to_str().unwrap_or("").contains("Accept-Language"));
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    assert!(h.get("set-cookie").is_none());
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.get("content-security-policy").is_none(), "JSON");
    let page = get(&app, &format!("/boards/{US}"), &[("Accept", "text/html")]).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let r = get(&app, &path, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    // If-None-Match compares weakly (RFC 9110 §13.1.2): the opaque tag without `W/` matches too,
    // and one of several listed tags is enough.
    let opaque = etag.trim_start_matches("W/");
    assert_eq!(
        get(&app, &path, &[("If-None-Match", opaque)])
            .await
            .status(),
        304
    );
    let weak = format!("\"other\", {etag}");
    assert_eq!(
        get(&app, &path, &[("If-None-Match", &weak)]).await.status(),
        304
    );
    assert_eq!(
        get(&app, &path, &[("If-None-Match", "W/\"other\"")])
            .await
            .status(),
        200
    );
    for p in [
        format!("/boards/{US}"),
        format!("/boards/{US}/sitemap.xml"),
        format!("/boards/{US}/feed.json"),
    ] {
        let r = get(&app, &p, &[]).await;
        assert_eq!(r.status(), 200, "{p}");
        let etag = r.headers()["etag"].clone();
        assert_eq!(
            get(&app, &p, &[("If-None-Match", etag.to_str().unwrap_or(""))])
                .await
                .status(),
            304,
            "{p}"
        );
    }
    // Bad input is a problem, never a 500: an over-long filter, a write.
    let long = "x".repeat(201);
    let r = get(&app, &format!("{path}?q={long}"), &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = app
        .http
        .post(format!("{}{path}", app.url))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 405);
    // A token is refused, not ignored.
    let r = get(&app, &path, &[("Authorization", "Bearer abc")]).await;
    assert_eq!(r.status(), 400);
    // Listed origins only, and Vary: Origin.
    let r = get(
        &app,
        "/boards/listed-origins/jobs",
        &[("Origin", "https://careers.contoso.com")],
    )
    .await;
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://careers.contoso.com"
    );
    assert!(r
        .headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap_or("").contains("Origin")));
    let r = get(
        &app,
        "/boards/listed-origins/jobs",
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/boards/{US}/jobs", app.url),
        )
        .header("Origin", "https://anywhere.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .expect("preflight");
    assert_eq!(r.status(), 204);
    assert!(r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap_or("")
        .contains("GET"));
    // Its own per-address bucket: the fourth request in a minute waits.
    for _ in 0..3 {
        assert_eq!(get(&app, "/boards/tiny/jobs", &[]).await.status(), 200);
    }
    let r = get(&app, "/boards/tiny/jobs", &[]).await;
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap_or("0")
            .parse::<u64>()
            .unwrap_or(0)
            >= 1
    );
    assert_eq!(
        get(&app, &path, &[]).await.status(),
        200,
        "other boards unaffected"
    );
}

/// Without `gateway.public_url` a board's absolute links come from the request's `Host`, and its
/// answers are `Cache-Control: public`: they say `Vary: Host`, so a shared cache keying on the
/// path cannot keep one caller's links (`Host: evil.example`) and hand them to everyone. With
/// `public_url` set the links are fixed and `Host` is not named.
#[tokio::test]
async fn board_answers_vary_on_host_only_when_their_links_follow_it() {
    let varies_on_host = |r: &reqwest::Response| {
        r.headers()
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("host"))
    };
    let paths = [
        format!("/boards/{US}"),
        format!("/boards/{US}/jobs"),
        format!("/boards/{US}/sitemap.xml"),
        format!("/boards/{US}/feed.json"),
    ];
    let from_host = board_app(vec![]).await;
    for path in &paths {
        let r = get(&from_host, path, &[("Host", "evil.example:1234")]).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(varies_on_host(&r), "{path}: {:?}", r.headers());
        assert!(
            r.text()
                .await
                .unwrap_or_default()
                .contains("evil.example:1234"),
            "{path}: the links follow Host"
        );
    }
    let configured = board_app_with(vec![], |c| {
        c.gateway.public_url = "https://careers-api.example.com".into();
    })
    .await;
    for path in &paths {
        let r = get(&configured, path, &[("Host", "evil.example:1234")]).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(!varies_on_host(&r), "{path}: {:?}", r.headers());
        assert!(
            !r.text().await.unwrap_or_default().contains("evil.example"),
            "{path}: the configured links"
        );
    }
}

/// A 404 is the page for browsers and a problem for the rest, so it says `Vary: Accept,
/// Accept-Language` (caches such as Varnish and Fastly keep 404s by default and must not hand
/// the JSON to a browser or the page to a script), `nosniff`, and the page carries the boards' CSP.
/// It is `no-store`: caches used their own default (an hour on Fastly), so a job that opened
/// stayed "not found", and a problem `type` taken from a caller's `Host` could be kept for all.
#[tokio::test]
async fn a_404_varies_on_accept_and_carries_the_page_headers() {
    let app = board_app(Vec::new()).await;
    for path in [
        format!("/boards/{US}/jobs/USMF-999999"),
        "/boards/no-such-board/jobs".to_string(),
    ] {
        for (accept, html) in [(HTML, true), ("application/json", false)] {
            let r = get(&app, &path, &[("Accept", accept)]).await;
            assert_eq!(r.status(), 404, "{path}");
            let h = r.headers();
            let vary: HashSet<String> = h
                .get_all("vary")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|v| v.trim().to_ascii_lowercase())
                .collect();
            assert!(
                vary.contains("accept") && vary.contains("accept-language"),
                "{path} {accept}: {vary:?}"
            );
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["cache-control"], "no-store", "{path} {accept}");
            let ct = h["content-type"].to_str().unwrap_or("");
            assert_eq!(ct.starts_with("text/html"), html, "{path} {accept}: {ct}");
            let csp = h
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok());
            assert_eq!(
                csp.is_some_and(|c| c.starts_with("default-src 'none'")),
                html,
                "{path} {accept}: {csp:?}"
            );
        }
    }
}

fn etag_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A gzip and an identity body under one tag may not share a strong validator (RFC 9110 §8.8.3):
/// every board answer's tag is weak, the same for both codings, and either gives a 304 on either.
#[tokio::test]
async fn compressed_and_identity_answers_share_only_a_weak_etag() {
    let app = board_app(Vec::new()).await;
    let (_, list) = get_json(&app, &format!("/boards/{US}/jobs")).await;
    let id = list["data"][0]["id"].as_str().expect("a job").to_string();
    let job = format!("/boards/{US}/jobs/{id}");
    let mut compressed = Vec::new();
    for (path, accept) in [
        (format!("/boards/{US}/jobs"), "application/json"),
        (
            format!("/boards/{US}/jobs?content=true"),
            "application/json",
        ),
        (format!("/boards/{US}"), HTML),
        (job.clone(), "application/json"),
        (job.clone(), HTML),
        (format!("/boards/{US}/feed.json"), "*/*"),
        (format!("/boards/{US}/sitemap.xml"), "*/*"),
    ] {
        let identity = get(&app, &path, &[("Accept", accept)]).await;
        let gzip = get(
            &app,
            &path,
            &[("Accept", accept), ("Accept-Encoding", "gzip")],
        )
        .await;
        assert_eq!(
            (identity.status().as_u16(), gzip.status().as_u16()),
            (200, 200),
            "{path}"
        );
        assert!(identity.headers().get("content-encoding").is_none());
        if gzip
            .headers()
            .get("content-encoding")
            .is_some_and(|e| e == "gzip")
        {
            compressed.push(path.clone());
        }
        let (a, b) = (etag_of(&identity), etag_of(&gzip));
        assert!(a.starts_with("W/\"") && a.ends_with('"'), "{path}: {a}");
        assert_eq!(a, b, "{path}: one weak tag for both codings");
        for (tag, encoding) in [
            (&a, "gzip"),
            (&b, "identity"),
            (&a, "identity"),
            (&b, "gzip"),
        ] {
            let r = get(
                &app,
                &path,
                &[
                    ("Accept", accept),
                    ("Accept-Encoding", encoding),
                    ("If-None-Match", tag.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status(), 304, "{path}: {tag} with {encoding}");
            assert_eq!(etag_of(&r), a, "{path}");
            assert!(r.headers().get("content-encoding").is_none());
        }
    }
    // The check above means something only where a body was compressed.
    for path in [format!("/boards/{US}/jobs"), format!("/boards/{US}")] {
        assert!(
            compressed.contains(&path),
            "{path} not compressed: {compressed:?}"
        );
    }
}

/// The description's text (search, meta description) decodes HR's character references and keeps
/// blocks apart; escaped `<script>` text stays text on the page.
#[tokio::test]
async fn the_description_text_is_decoded_for_search_and_escaped_on_the_page() {
    let app = board_app(Vec::new()).await;
    baseline(&app).await;
    let token = app.partner_token("acme-ats", None).await;
    let status = codes(&app, &token, "recruiting-request-status").await;
    let hr = hr_token(&app.emu).await;
    let id = request_in(&app, status["active"]).await;
    let description = concat!(
        "<p>Qx7&amp;Zy9 lab &lt;/title&gt;&lt;script&gt;alert(7)&lt;/script&gt;</p>",
        "<div>Plover</div><div>Quagga</div><p>caf&eacute;&nbsp;&#8217;</p>"
    );
    let (s, v) = patch(
        &app.emu,
        RR,
        &id,
        &hr,
        json!({"mshr_externaldescription": description}),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    scan(&app).await;
    let search = |q: &'static str| {
        let app = &app;
        async move {
            let (s, list) = get_json(app, &format!("/boards/{US}/jobs?q={}", urlencode(q))).await;
            assert_eq!(s, 200);
            ids(&list)
        }
    };
    crate::common::poll::holds_within(Duration::from_secs(20), "the edit on the board", || async {
        search("Qx7&Zy9").await.contains(&id)
    })
    .await;
    assert!(search("Plover Quagga").await.contains(&id), "blocks apart");
    assert!(!search("PloverQuagga").await.contains(&id));
    assert!(search("café ’").await.contains(&id));
    assert!(!search("&amp;").await.contains(&id));
    let (s, page) = get_text(
        &app,
        &format!("/boards/{US}/jobs/{id}"),
        &[("Accept", HTML)],
    )
    .await;
    assert_eq!(s, 200);
    let meta = "<meta name=\"description\" content=\"Qx7&amp;Zy9 lab &lt;/title&gt;&lt;script&gt;alert(7)&lt;/script&gt; Plover Quagga caf\u{e9} \u{2019}\">";
    assert!(page.contains(meta), "{page}");
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the JSON-LD script"
    );
    assert_eq!(page.matches("</title>").count(), 1);
    assert!(!page.contains("&amp;amp;") && !page.contains("alert(7)</script>"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance() {
    let mut tiny = demo().remove(0);
    tiny.id = "tiny".into();
    tiny.rate_limit_per_minute = 2;
    // The test's requests come from 127.0.0.1: here, a proxy the operator named.
    let app = board_app_with(vec![tiny], |c| {
        c.gateway.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let from = |client: &'static str| [("X-Forwarded-For", client)];
    for _ in 0..2 {
        let r = get(&app, "/boards/tiny/jobs", &from("198.51.100.7")).await;
        assert_eq!(r.status(), 200);
    }
    let r = get(&app, "/boards/tiny/jobs", &from("198.51.100.7")).await;
    assert_eq!(r.status(), 429, "the first client used its allowance");
    let r = get(&app, "/boards/tiny/jobs", &from("203.0.113.9")).await;
    assert_eq!(
        r.status(),
        200,
        "another client behind the same proxy has its own"
    );
    // A client's own claim left of the proxy's hop is not believed.
    let r = get(
        &app,
        "/boards/tiny/jobs",
        &[("X-Forwarded-For", "203.0.113.10, 198.51.100.7")],
    )
    .await;
    assert_eq!(
        r.status(),
        429,
        "counted as the right-most hop, 198.51.100.7"
    );
}

#[tokio::test]
async fn ten_thousand_board_requests_cost_no_dataverse_call() {
    let app = board_app(Vec::new()).await;
    let (_, list) = get_json(&app, &format!("/boards/{US}/jobs")).await;
    let id = ids(&list).into_iter().next().expect("a job");
    let paths = [
        (format!("/boards/{US}/jobs"), None),
        (format!("/boards/{US}/jobs/{id}"), None),
        (format!("/boards/{US}/jobs/{id}"), Some(HTML)),
        (format!("/boards/{US}"), Some(HTML)),
        (format!("/boards/{US}/sitemap.xml"), None),
    ];
    // Warm-up, then the emulator's counters before and after.
    for (p, accept) in &paths {
        let r = get(
            &app,
            p,
            &accept.map(|a| vec![("Accept", a)]).unwrap_or_default(),
        )
        .await;
        assert_eq!(r.status(), 200, "{p}");
    }
    let before = app.emu.stats().await;
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..10_000usize)
        .map(|i| {
            let (p, accept) = &paths[i % paths.len()];
            let mut req = app.http.get(format!("{}{p}", app.url));
            if let Some(a) = accept {
                req = req.header("Accept", *a);
            }
            async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{:?}",
        statuses
            .iter()
            .filter(|s| **s != 200)
            .take(5)
            .collect::<Vec<_>>()
    );
    let after = app.emu.stats().await;
    assert_eq!(
        after["total_requests"], before["total_requests"],
        "no Dataverse call: {before} → {after}"
    );
    assert_eq!(after["requests"], before["requests"]);
    assert_eq!(after["token_requests"], before["token_requests"]);
    // Beside it, the partner API's cached read (one list page, warm response cache), same client.
    let token = app.partner_token("acme-ats", None).await;
    let partner = format!(
        "{}/v1/recruiting-requests?status=active&page_size=50",
        app.url
    );
    let warm = app
        .http
        .get(&partner)
        .bearer_auth(&token)
        .send()
        .await
        .expect("warm");
    assert_eq!(warm.status(), 200);
    let started = Instant::now();
    let n = 2_000usize;
    let ok = futures::stream::iter(0..n)
        .map(|_| {
            let req = app.http.get(&partner).bearer_auth(&token);
            async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        })
        .buffer_unordered(32)
        .filter(|s| futures::future::ready(*s == 200))
        .count()
        .await;
    let partner_elapsed = started.elapsed();
    eprintln!(
        "boards: 10,000 requests in {:.2} s ({:.0} req/s), 0 Dataverse calls; partner cached read: {ok}/{n} in {:.2} s ({:.0} req/s)",
        elapsed.as_secs_f64(),
        10_000.0 / elapsed.as_secs_f64(),
        partner_elapsed.as_secs_f64(),
        n as f64 / partner_elapsed.as_secs_f64()
    );
}

#[tokio::test]
async fn a_restart_builds_the_board_from_the_change_store_without_reading_requests_and_keeps_posting_times(
) {
    let mut app = board_app(Vec::new()).await;
    baseline(&app).await;
    let token = app.partner_token("acme-ats", None).await;
    let status = codes(&app, &token, "recruiting-request-status").await;
    let hr = hr_token(&app.emu).await;
    let id = request_in(&app, status["draft"]).await;
    let (s, _) = patch(
        &app.emu,
        RR,
        &id,
        &hr,
        json!({"mshr_status": status["active"]}),
    )
    .await;
    assert_eq!(s, 204);
    scan(&app).await;
    let path = format!("/boards/{US}/jobs/{id}");
    until_status(&app, &path, 200).await;
    let (_, before) = get_json(&app, &path).await;
    let (_, list_before) = get_json(&app, &format!("/boards/{US}/jobs")).await;

    let reads = |stats: &Value| stats["requests"][RR].as_u64().unwrap_or(0);
    let read_before = reads(&app.emu.stats().await);
    assert!(
        read_before > 0,
        "the counter names the requests' entity set"
    );
    app.restart(|_| {}).await;
    until_status(&app, &format!("/boards/{US}/jobs"), 200).await;
    assert_eq!(
        reads(&app.emu.stats().await),
        read_before,
        "the snapshot came from the change store, not from Dataverse"
    );
    let (_, after) = get_json(&app, &path).await;
    assert_eq!(
        after["posted_at"], before["posted_at"],
        "the activation event dates it"
    );
    let (_, list_after) = get_json(&app, &format!("/boards/{US}/jobs")).await;
    assert_eq!(ids(&list_after), ids(&list_before));
}

/// Without a change store baseline the boards read their companies' requests from Dataverse in
/// short pages (every child collection expanded): each page is a short call that a partner call
/// arriving meanwhile waits behind at most, not a scan-sized one.
#[tokio::test]
async fn the_first_read_from_dataverse_goes_in_short_pages() {
    let app = spawn_app_with(
        SandboxConfig {
            scale: 3_000,
            ..Default::default()
        },
        |c| {
            c.boards = demo();
            c.changes.scan_interval_ms = Some(3_600_000);
        },
    )
    .await;
    until_status(&app, &format!("/boards/{US}/jobs"), 200).await;
    let mut rows = 0;
    for company in ["usmf", "nomf"] {
        rows += emu_rows(
            &app,
            &format!("{RR}?$select=mshr_hcmrecruitingrequestentityid&$filter=mshr_dataareaid eq '{company}'"),
        )
        .await
        .len();
    }
    let pages = app
        .emu
        .requests()
        .await
        .iter()
        .filter(|e| {
            let t = e["target"].as_str().unwrap_or("");
            t.contains(&format!("/{RR}?")) && t.contains("$expand")
        })
        .count();
    assert!(rows > 1_000, "the boards' companies hold {rows} requests");
    assert!(
        pages >= rows.div_ceil(500),
        "{rows} requests read in {pages} pages"
    );
}
