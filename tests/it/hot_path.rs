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
    let app = app_without_rate_limits(|c| c.cache.response_ttl_ms = 0).await;
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

// ---------------------------------------------------------------- the response cache

const PAGE_SET: &str = "mshr_hcmrecruitingrequestentities";

/// Partners `p00`… with the given companies and PII right (secret = id), rate limits lifted.
fn extra_partners(
    c: &mut ats_gateway::config::Config,
    n: usize,
    prefix: &str,
    companies: &[&str],
    pii: bool,
) {
    use ats_gateway::auth::Scope;
    let template = c.auth.partners[0].clone();
    let mut scopes = vec![Scope::RecruitingRequestsRead, Scope::CandidatesRead];
    if pii {
        scopes.push(Scope::PiiRead);
    }
    for i in 0..n {
        let mut p = template.clone();
        p.id = format!("{prefix}{i:02}");
        p.client_id = p.id.clone();
        p.display_name = p.id.clone();
        p.client_secret_hashes = vec![ats_gateway::auth::secrets::hash_secret(&p.id)];
        p.scopes = scopes.clone();
        p.companies = companies.iter().map(|c| c.to_string()).collect();
        c.auth.partners.push(p);
    }
}

async fn token_of(app: &TestApp, id: &str) -> String {
    let resp = app
        .http
        .post(format!("{}/oauth2/token", app.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", id),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200, "token for {id}");
    let v: Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

fn calls_to(by_set: &BTreeMap<String, u64>, set: &str) -> u64 {
    by_set.get(set).copied().unwrap_or(0)
}

/// 1,000 identical requests within the TTL, from a cold gateway: one page read upstream; every
/// other call is a one-time reference load (an option set or a lookup table, each read once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_identical_requests_cost_one_upstream_read() {
    let app = app_without_rate_limits(|c| c.cache.response_ttl_ms = 60_000).await;
    let t = app.partner_token("acme-ats", None).await;
    let url = format!("{}/v1/recruiting-requests?page_size=50", app.url);
    let mut first: Option<Value> = None;
    for _ in 0..20 {
        let batch = (0..50).map(|_| app.http.get(&url).bearer_auth(&t).send());
        for r in futures::future::join_all(batch).await {
            let r = r.expect("response");
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.expect("json");
            match &first {
                Some(f) => assert_eq!(f["data"], v["data"]),
                None => first = Some(v),
            }
        }
    }
    let (_, by_set) = upstream_calls(&app).await;
    assert_eq!(calls_to(&by_set, PAGE_SET), 1, "{by_set:?}");
    for (set, n) in &by_set {
        assert!(*n <= 4, "{set} read {n} times: {by_set:?}");
    }
}

/// A read-mostly mix: 20 partners (two rights groups of 10) read 50 distinct pages each. After one
/// cold pass (each page once per group: the page reads, option sets and lookups), 2,000 requests
/// within the TTL cost at most 1 % of them upstream (the cold pass itself is ~110 calls for 100
/// requests: the 1 % holds once each page is asked about 100 times per TTL).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_mostly_mix_costs_at_most_one_percent_upstream() {
    let app = app_without_rate_limits(|c| {
        c.cache.response_ttl_ms = 120_000;
        extra_partners(c, 10, "us", &["usmf"], false);
        extra_partners(c, 10, "all", &["usmf", "gbsi", "nomf"], false);
    })
    .await;
    let mut tokens = Vec::new();
    for i in 0..10 {
        tokens.push(token_of(&app, &format!("us{i:02}")).await);
        tokens.push(token_of(&app, &format!("all{i:02}")).await);
    }
    let pages: Vec<String> = (0..50)
        .map(|i| {
            format!(
                "{}/v1/recruiting-requests?page_size={}&sort={}",
                app.url,
                1 + i % 10,
                SORTS[i / 10]
            )
        })
        .collect();
    let run = |from: usize, to: usize| {
        let (app, pages, tokens) = (&app, &pages, &tokens);
        async move {
            let mut sent = from;
            while sent < to {
                let end = (sent + 64).min(to);
                let batch = (sent..end).map(|n| {
                    // Partner n % 20 reads page n % 50 (then the next 50 of the cycle, ...).
                    let url = &pages[(n + n / 50) % pages.len()];
                    app.http
                        .get(url)
                        .bearer_auth(&tokens[n % tokens.len()])
                        .send()
                });
                for r in futures::future::join_all(batch).await {
                    assert_eq!(r.expect("response").status(), 200);
                }
                sent = end;
            }
        }
    };
    let (start, _) = upstream_calls(&app).await;
    run(0, 100).await; // the cold pass
    let (warm, _) = upstream_calls(&app).await;
    const REQUESTS: usize = 2_000;
    run(100, 100 + REQUESTS).await;
    let (after, by_set) = upstream_calls(&app).await;
    let calls = after - warm;
    eprintln!(
        "cold pass: {} upstream calls for 100 requests; then {calls} for {REQUESTS} {by_set:?}",
        warm - start
    );
    assert!(
        calls * 100 <= REQUESTS as u64,
        "{calls} upstream calls for {REQUESTS} requests: {by_set:?}"
    );
}

/// Partners with different rights never share an entry; partners with the same shaping do.
#[tokio::test]
async fn cached_answers_never_cross_partner_rights() {
    let app = app_without_rate_limits(|c| {
        c.cache.response_ttl_ms = 60_000;
        extra_partners(c, 2, "pii", &["usmf"], true);
        extra_partners(c, 2, "plain", &["usmf"], false);
        extra_partners(c, 1, "nor", &["nomf"], false);
    })
    .await;
    let (pii, plain0, plain1, nor) = (
        token_of(&app, "pii00").await,
        token_of(&app, "plain00").await,
        token_of(&app, "plain01").await,
        token_of(&app, "nor00").await,
    );
    let list = "/v1/candidates?page_size=20";
    let (s, with_pii) = app.get_json(list, &pii, None).await;
    assert_eq!(s, 200, "{with_pii}");
    let has_personal = |v: &Value| {
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|c| c["person"].get("birth_date").is_some())
    };
    assert!(has_personal(&with_pii), "{with_pii}");
    let (_, without) = app.get_json(list, &plain0, None).await;
    assert!(
        !has_personal(&without),
        "PII leaked into a plain partner's page"
    );
    let (_, norway) = app.get_json(list, &nor, None).await;
    assert!(norway["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|c| c["company"]["code"] != "usmf"));
    // Details too.
    let id = with_pii["data"][0]["id"].as_str().expect("id");
    let (_, one) = app
        .get_json(&format!("/v1/candidates/{id}"), &pii, None)
        .await;
    assert!(one["person"].get("birth_date").is_some(), "{one}");
    let (_, plain_one) = app
        .get_json(&format!("/v1/candidates/{id}"), &plain0, None)
        .await;
    assert!(
        plain_one["person"].get("birth_date").is_none(),
        "{plain_one}"
    );
    let (s, _) = app
        .get_json(&format!("/v1/candidates/{id}"), &nor, None)
        .await;
    assert_eq!(s, 404, "another company's candidate");
    // Same shaping: the second plain partner's page costs no upstream call.
    let (before, _) = upstream_calls(&app).await;
    let (_, again) = app.get_json(list, &plain1, None).await;
    assert_eq!(again["data"], without["data"]);
    assert_eq!(upstream_calls(&app).await.0, before);
}

/// A hire through the gateway drops the cached candidate lists: the next page shows it.
#[tokio::test]
async fn a_hire_invalidates_cached_candidate_lists() {
    let app = app_without_rate_limits(|c| c.cache.response_ttl_ms = 60_000).await;
    let acme = app.partner_token("acme-ats", None).await;
    let dv = app.emu.token().await;
    let (_, v) = app
        .emu
        .get_json(
            "mshr_hcmrecruitingrequestentities?$select=mshr_recruitingrequestid,mshr_hcmrecruitingrequestentityid&$top=1&$filter=mshr_dataareaid eq 'usmf' and mshr_status eq 200000005",
            &dv,
            None,
        )
        .await;
    let request = v["value"][0].clone();
    let (_, v) = app
        .emu
        .get_json(
            // A person acme-ats may name in an internal hire: a candidate of its company.
            "mshr_hcmcandidatetohireentities?$select=mshr_partynumber&$top=1&$filter=mshr_dataareaid eq 'usmf' and mshr_partynumber ne null",
            &dv,
            None,
        )
        .await;
    let party = v["value"][0]["mshr_partynumber"].clone();
    let list = format!(
        "/v1/candidates?page_size=200&recruiting_request={}",
        request["mshr_hcmrecruitingrequestentityid"]
            .as_str()
            .expect("id")
    );
    let (s, cached) = app.get_json(&list, &acme, None).await;
    assert_eq!(s, 200, "{cached}");
    let (_, again) = app.get_json(&list, &acme, None).await;
    assert_eq!(cached["data"], again["data"], "cached");
    let body = serde_json::json!({"recruiting_request": request["mshr_recruitingrequestid"], "status": "hired",
        "availability_date": "2027-03-01", "person": {"party_number": party}});
    let r = app
        .http
        .post(format!("{}/v1/candidates", app.url))
        .bearer_auth(&acme)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    let (_, after) = app.get_json(&list, &acme, None).await;
    let ids: Vec<&Value> = after["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert!(ids.contains(&&created["id"]), "the new candidate is listed");
}

/// Past the TTL an entry is served once more while one refresh runs: a slow upstream does not
/// slow that answer, and the refresh replaces the entry.
#[tokio::test]
async fn a_stale_entry_is_served_while_one_refresh_runs() {
    let app = app_without_rate_limits(|c| c.cache.response_ttl_ms = 300).await;
    let t = app.partner_token("acme-ats", None).await;
    let url = "/v1/recruiting-requests?page_size=5";
    let (s, first) = app.get_json(url, &t, None).await;
    assert_eq!(s, 200);
    let (_, by_set) = upstream_calls(&app).await;
    let reads = calls_to(&by_set, PAGE_SET);
    app.emu
        .fault(serde_json::json!({"kind": "latency", "ms": 1500, "target": PAGE_SET}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await; // past the TTL
    let started = std::time::Instant::now();
    let (s, stale) = app.get_json(url, &t, None).await;
    assert_eq!(s, 200);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1000),
        "the stale answer does not wait for upstream"
    );
    assert_eq!(stale["data"], first["data"]);
    // Exactly one refresh, however many stale answers meanwhile.
    for _ in 0..5 {
        assert_eq!(app.get_json(url, &t, None).await.0, 200);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, by_set) = upstream_calls(&app).await;
        let n = calls_to(&by_set, PAGE_SET);
        if n > reads {
            assert_eq!(n, reads + 1, "one refresh");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a refresh ran");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Issue 26 goal 4: requests that are never alike (page sizes 1-60, cache off). The first pass
/// reads each page plus, once, the lookups of rows no earlier page showed (that is where the
/// bench's "more than 1,000 calls per 1,000 requests" came from: its warm-up read one page size);
/// after it, every request costs exactly its own page read. Pages are sent as parts
/// (`api/parts_body.rs`) and still carry a `Content-Length`, and the same bytes as one buffer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_reads_cost_one_call_each_once_lookups_are_warm() {
    let app = app_without_rate_limits(|c| c.cache.response_ttl_ms = 0).await;
    let t = app.partner_token("acme-ats", None).await;
    let read = |size: u32| {
        let (app, t) = (&app, &t);
        async move {
            let url = format!("{}/v1/recruiting-requests?page_size={size}", app.url);
            let r = app
                .http
                .get(&url)
                .bearer_auth(t)
                .send()
                .await
                .expect("response");
            assert_eq!(r.status(), 200);
            let length = r
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            assert!(r.headers().get("transfer-encoding").is_none());
            let body = r.bytes().await.expect("body");
            assert_eq!(length, Some(body.len()), "page_size={size}");
            let v: Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(v["data"].as_array().map(Vec::len), Some(size as usize));
            assert_eq!(v["has_more"], true);
            assert!(v["next_cursor"].is_string());
        }
    };
    for size in 1..=60 {
        read(size).await;
    }
    let (_, before) = upstream_calls(&app).await;
    for size in 1..=60 {
        read(size).await;
    }
    let (_, after) = upstream_calls(&app).await;
    let added: BTreeMap<&String, u64> = after
        .iter()
        .map(|(set, n)| (set, n - before.get(set).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        added,
        BTreeMap::from([(&PAGE_SET.to_string(), 60)]),
        "second pass: {added:?}"
    );
}
