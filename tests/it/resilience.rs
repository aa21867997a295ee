//! Resilience toward Dataverse, against the sandbox's fault knobs: a 429 storm pauses upstream
//! calls (reads still succeed inside their deadline, the concurrency cap holds), a burst of 5xx
//! opens then closes the circuit breaker, and a token endpoint outage is ridden out on the cached
//! token until it expires, with readiness following.

use std::time::{Duration, Instant};

use crate::common::{spawn_app_with, TestApp};
use ats_sandbox::config::SandboxConfig;
use serde_json::{json, Value};

const LIST: &str = "/v1/recruiting-requests?page_size=5";
const SET: &str = "mshr_hcmrecruitingrequestentities";

impl TestApp {
    async fn reset_emulator(&self) {
        let r = self
            .http
            .post(self.emu.url("/_sandbox/stats/reset"))
            .send()
            .await
            .expect("reset");
        assert_eq!(r.status(), 204);
    }

    async fn clear_faults(&self) {
        let r = self
            .http
            .delete(self.emu.url("/_sandbox/faults"))
            .send()
            .await
            .expect("clear");
        assert_eq!(r.status(), 204);
    }

    async fn readyz(&self) -> u16 {
        self.ops_get("/readyz").await.status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_storm_pauses_upstream_and_reads_succeed_within_their_deadline() {
    const CAP: u64 = 6;
    const PARTNER_LOOPS: usize = 16;
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.dataverse.max_concurrency = CAP as usize;
        c.dataverse.queue_timeout_ms = 8_000;
        c.gateway.request_timeout_ms = 8_000;
    })
    .await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, _) = app.get_json(LIST, &token, None).await;
    assert_eq!(status, 200, "warm-up");
    app.reset_emulator().await;

    // Every Dataverse request is throttled for 2 s, each 429 saying "retry after 1 s".
    let storm = Duration::from_millis(2000);
    app.emu
        .fault(
            json!({"kind": "throttle", "retry_after": 1, "duration_ms": storm.as_millis() as u64}),
        )
        .await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..PARTNER_LOOPS)
        .map(|_| {
            let (http, url, token) = (app.http.clone(), app.url.clone(), token.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..3 {
                    let t0 = Instant::now();
                    let resp = http
                        .get(format!("{url}{LIST}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("request");
                    out.push((resp.status().as_u16(), t0.elapsed()));
                }
                out
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await.expect("join"));
    }
    let stats = app.emu.stats().await;
    let sent = stats["requests"][SET].as_u64().unwrap_or(0);
    let max_in_flight = stats["max_in_flight"].as_u64().expect("max_in_flight");
    eprintln!(
        "429 storm of {storm:?}: {} partner reads in {:?}, {sent} upstream calls, max in flight {max_in_flight}",
        results.len(),
        started.elapsed()
    );
    for (status, took) in &results {
        assert_eq!(*status, 200, "every read succeeds: {results:?}");
        assert!(
            *took < Duration::from_secs(8),
            "inside the deadline: {took:?}"
        );
    }
    assert!(max_in_flight <= CAP, "cap {CAP}, saw {max_in_flight}");
    // Without the pause each of the 48 reads would have hammered Dataverse throughout the storm;
    // with it, calls go out only when a pause ends: the 48 successful ones plus a few 429s.
    assert!(
        sent < results.len() as u64 + 4 * CAP,
        "{sent} upstream calls for {} reads",
        results.len()
    );
}

#[tokio::test]
async fn a_burst_of_5xx_opens_the_breaker_and_a_probe_closes_it() {
    let app = spawn_app_with(SandboxConfig::default(), |c| {
        c.dataverse.breaker_failures = 3;
        // Long enough that the five fast failures below all fall inside the open period even on
        // a loaded machine (400 ms once let a half-open probe through between them).
        c.dataverse.breaker_open_ms = 1_500;
        // Every read must reach upstream (no cached page answers the repeats).
        c.cache.response_ttl_ms = 0;
    })
    .await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, _) = app.get_json(LIST, &token, None).await;
    assert_eq!(status, 200, "warm-up");
    app.emu
        .fault(json!({"kind": "server_error", "status": 503, "target": SET}))
        .await;
    // Reads fail (after their retries) until the breaker opens...
    let mut opened = false;
    for _ in 0..10 {
        let resp = app.get(LIST, &token, None).await;
        assert_eq!(resp.status(), 503);
        if app.gateway.state.reader.client.stack().breaker.state()
            == ats_gateway::upstream::BreakerState::Open
        {
            opened = true;
            break;
        }
    }
    assert!(opened, "the breaker opens after a burst of 503s");
    // ...then fail fast, without reaching Dataverse, with a problem saying it is unavailable.
    let before = app.emu.stats().await["requests"][SET].as_u64().unwrap_or(0);
    let t0 = Instant::now();
    for _ in 0..5 {
        let resp = app.get(LIST, &token, None).await;
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        let v: Value = resp.json().await.expect("problem");
        assert_eq!(
            v["type"],
            format!("{}/problems/upstream-unavailable", app.url).as_str()
        );
    }
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "fast: {:?}",
        t0.elapsed()
    );
    let after = app.emu.stats().await["requests"][SET].as_u64().unwrap_or(0);
    assert_eq!(after, before, "no upstream call while open");

    // Dataverse recovers: after the open period one probe goes through and closes the circuit.
    app.clear_faults().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = app.get_json(LIST, &token, None).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the breaker closes again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.gateway.state.reader.client.stack().breaker.state(),
        ats_gateway::upstream::BreakerState::Closed
    );
    let (status, _) = app.get_json(LIST, &token, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn token_endpoint_down_serves_on_the_cached_token_until_expiry_and_readiness_follows() {
    let sandbox = SandboxConfig {
        token_lifetime_secs: 5,
        ..SandboxConfig::default()
    };
    let app = spawn_app_with(sandbox, |_| {}).await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, _) = app.get_json(LIST, &token, None).await;
    assert_eq!(status, 200);
    let fetched = Instant::now();
    assert_eq!(app.readyz().await, 200);
    app.emu.fault(json!({"kind": "token_outage"})).await;
    app.reset_emulator().await;

    // The cached token (5 s, used until 4.5 s) keeps requests going through the outage...
    while fetched.elapsed() < Duration::from_millis(3500) {
        let (status, body) = app.get_json(LIST, &token, None).await;
        assert_eq!(status, 200, "served on the cached token: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...until it expires: then a 503 problem, and readiness turns false.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = app.get_json(LIST, &token, None).await;
        if status == 503 {
            assert_eq!(
                body["type"],
                format!("{}/problems/upstream-unavailable", app.url).as_str()
            );
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "the token expires");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(8);
    while app.readyz().await != 503 {
        assert!(Instant::now() < deadline, "readiness follows the token");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Refresh attempts back off instead of one token request per partner call.
    for _ in 0..20 {
        let (status, _) = app.get_json(LIST, &token, None).await;
        assert_eq!(status, 503);
    }
    let token_requests = app.emu.stats().await["token_requests"]
        .as_u64()
        .expect("token_requests");
    assert!(token_requests < 15, "{token_requests} token requests");

    app.clear_faults().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = app.get_json(LIST, &token, None).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "recovers once the endpoint is back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The recorder is installed at start: the first scrape already has the upstream calls made
/// before it, as histograms with buckets and `# HELP` (one process-wide recorder: checked by name,
/// type and labels, not by value).
#[tokio::test]
async fn the_first_scrape_has_upstream_histograms_with_help() {
    let app = spawn_app_with(SandboxConfig::default(), |_| {}).await;
    let token = app.partner_token("acme-ats", None).await;
    let (status, _) = app.get_json(LIST, &token, None).await;
    assert_eq!(status, 200);
    let text = app.scrape().await;
    for (name, kind) in [
        ("upstream_request_duration_seconds", "histogram"),
        ("upstream_requests_total", "counter"),
        ("upstream_token_requests_total", "counter"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name} as {kind}:\n{text}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "help for {name}");
    }
    assert!(
        text.lines().any(
            |l| l.starts_with("upstream_request_duration_seconds_bucket{")
                && l.contains(&format!("entity_set=\"{SET}\""))
                && l.contains("status=\"200\"")
                && l.contains("le=\"0.1\"")
        ),
        "buckets by entity set and status:\n{text}"
    );
    assert!(text.contains("upstream_token_requests_total{outcome=\"ok\"}"));
}
