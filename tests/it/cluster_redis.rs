//! Issue 21, the Redis half: three gateways on one emulator sharing one `redis-server` behave as one
//! gateway for partner rate limits, the cap on Dataverse calls in flight, the 429 pause and
//! response-cache invalidation; with Redis stopped they serve on per-replica shares.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::proxy::TcpProxy;
use crate::common::redis::RedisServer;
use crate::common::{emulator, partner_token_at, spawn_replica, Emu, Replica};

/// A gateway on `emu` with `[cluster] redis_url` (empty: none), its config adjusted by `tweak`.
async fn replica(
    emu: &Emu,
    redis_url: &str,
    tweak: &dyn Fn(&mut ats_gateway::config::Config),
) -> Replica {
    spawn_replica(emu, |config| {
        config.cluster.redis_url = ats_gateway::config::SecretString::new(redis_url);
        config.cluster.replicas_hint = 3;
        tweak(config);
    })
    .await
}

async fn replicas(
    emu: &Emu,
    redis: &RedisServer,
    n: usize,
    tweak: &dyn Fn(&mut ats_gateway::config::Config),
) -> Vec<Replica> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(replica(emu, &redis.url(), tweak).await);
    }
    out
}

/// Partner limits high enough that only the property under test limits.
fn generous(c: &mut ats_gateway::config::Config) {
    for p in &mut c.auth.partners {
        p.rate_limit.per_second = 100_000;
        p.rate_limit.burst = 100_000;
    }
}

async fn token(http: &reqwest::Client, r: &Replica, partner: &str) -> String {
    partner_token_at(http, &r.url, partner, None).await
}

async fn status(http: &reqwest::Client, url: &str, token: &str) -> u16 {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn stat(emu: &Emu, name: &str) -> u64 {
    emu.stats().await[name].as_u64().expect("stat")
}

/// `n` requests to `url` at once: how many were admitted (200); every answer is 200 or 429.
async fn burst(http: &reqwest::Client, url: &str, token: &str, n: usize) -> usize {
    let all = futures::future::join_all((0..n).map(|_| status(http, url, token))).await;
    assert!(
        all.iter().all(|s| *s == 200 || *s == 429),
        "only 200 / 429: {all:?}"
    );
    all.iter().filter(|s| **s == 200).count()
}

async fn readyz(http: &reqwest::Client, r: &Replica) -> (u16, Value) {
    let resp = http
        .get(format!("{}/readyz", r.ops_url))
        .send()
        .await
        .expect("readyz");
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partner_limit_holds_for_three_gateways_together() {
    let redis = RedisServer::start_new();
    let emu = emulator().await;
    // nordic-hr: 20/s, burst 40.
    let gws = replicas(&emu, &redis, 3, &|_| {}).await;
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for g in &gws {
        tokens.push(token(&http, g, "nordic-hr").await);
    }
    let ok = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let run = Duration::from_secs(3);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (g, t) in gws.iter().zip(&tokens) {
        for _ in 0..2 {
            let (http, t, ok, limited) = (http.clone(), t.clone(), ok.clone(), limited.clone());
            let url = format!("{}/v1/option-sets", g.url);
            tasks.push(tokio::spawn(async move {
                while started.elapsed() < run {
                    match status(&http, &url, &t).await {
                        200 => ok.fetch_add(1, Ordering::SeqCst),
                        429 => limited.fetch_add(1, Ordering::SeqCst),
                        other => panic!("unexpected status {other}"),
                    };
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("load task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let admitted = ok.load(Ordering::SeqCst) as f64;
    let expected = 40.0 + 20.0 * elapsed;
    eprintln!(
        "admitted {admitted} of {} in {elapsed:.2} s (expected {expected:.0})",
        admitted as u64 + limited.load(Ordering::SeqCst)
    );
    assert!(
        limited.load(Ordering::SeqCst) > 0,
        "the load went past the limit"
    );
    assert!(
        (admitted - expected).abs() <= expected * 0.1,
        "three gateways admitted {admitted}, one gateway's quota is {expected:.0} ± 10 %"
    );
    // The headers come from the shared state: another gateway sees the same empty bucket.
    let resp = http
        .get(format!("{}/v1/option-sets", gws[2].url))
        .bearer_auth(&tokens[2])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.headers()["ratelimit-limit"], "40");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cap_on_dataverse_calls_in_flight_holds_for_the_cluster() {
    let redis = RedisServer::start_new();
    let emu = emulator().await;
    let gws = replicas(&emu, &redis, 3, &|c| {
        generous(c);
        c.dataverse.max_concurrency = 4;
        c.cache.response_ttl_ms = 0;
    })
    .await;
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for g in &gws {
        tokens.push(token(&http, g, "acme-ats").await);
    }
    // Calls overlap: each takes at least 40 ms.
    emu.fault(json!({"kind": "latency", "ms": 40})).await;
    emu.http
        .post(emu.url("/_sandbox/stats/reset"))
        .send()
        .await
        .expect("reset");
    let mut tasks = Vec::new();
    for (g, t) in gws.iter().zip(&tokens) {
        for task in 0..8 {
            let (http, t, base) = (http.clone(), t.clone(), g.url.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..5 {
                    // Distinct pages: no two calls share one upstream call.
                    let url = format!(
                        "{base}/v1/recruiting-requests?page_size={}",
                        task * 5 + i + 1
                    );
                    assert_eq!(status(&http, &url, &t).await, 200, "{url}");
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("load task");
    }
    let max = stat(&emu, "max_in_flight").await;
    eprintln!("max in flight at the emulator: {max} (cap 4, 3 gateways × 8 callers)");
    assert!(
        max <= 4,
        "the emulator saw {max} calls at once; the cluster cap is 4"
    );
    assert!(max >= 2, "the load overlapped calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_gateways_429_pauses_every_gateway() {
    let redis = RedisServer::start_new();
    let emu = emulator().await;
    let gws = replicas(&emu, &redis, 3, &|c| {
        generous(c);
        c.cache.response_ttl_ms = 0;
    })
    .await;
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for g in &gws {
        tokens.push(token(&http, g, "acme-ats").await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (n, (g, t)) in gws.iter().zip(&tokens).enumerate() {
        for task in 0..3 {
            let (http, t, base, stop) = (http.clone(), t.clone(), g.url.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let size = (n * 60 + task * 20 + i % 20) % 200 + 1;
                    let url = format!("{base}/v1/recruiting-requests?page_size={size}");
                    status(&http, &url, &t).await;
                }
            }));
        }
    }
    // Load on all three before the 429.
    let until = Instant::now() + Duration::from_secs(10);
    while stat(&emu, "total_requests").await < 30 {
        assert!(Instant::now() < until, "load reaches the emulator");
    }
    emu.fault(json!({"kind": "throttle", "retry_after": 3, "count": 1}))
        .await;
    let until = Instant::now() + Duration::from_secs(10);
    while stat(&emu, "throttled").await == 0 {
        assert!(Instant::now() < until, "one call is throttled");
    }
    let throttled_at = Instant::now();
    // Calls that already held a slot when the pause began may still arrive; none start after.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = stat(&emu, "total_requests").await;
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let during = stat(&emu, "total_requests").await;
    assert_eq!(
        during,
        before,
        "Dataverse was called during another gateway's 3 s pause ({} ms after the 429)",
        throttled_at.elapsed().as_millis()
    );
    let until = Instant::now() + Duration::from_secs(10);
    while stat(&emu, "total_requests").await <= during {
        assert!(Instant::now() < until, "calls resume after the pause");
    }
    eprintln!(
        "calls resumed {} ms after the 429",
        throttled_at.elapsed().as_millis()
    );
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("load task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_gateways_serve_on_their_share_and_share_again_when_it_returns() {
    let mut redis = RedisServer::start_new();
    let emu = emulator().await;
    let gws = replicas(&emu, &redis, 3, &|_| {}).await;
    let http = reqwest::Client::new();
    let mut nordic = Vec::new();
    let mut acme = Vec::new();
    for g in &gws {
        nordic.push(token(&http, g, "nordic-hr").await);
        acme.push(token(&http, g, "acme-ats").await);
    }
    let url = |g: &Replica| format!("{}/v1/option-sets", g.url);
    assert_eq!(status(&http, &url(&gws[0]), &acme[0]).await, 200);
    assert_eq!(readyz(&http, &gws[0]).await.1["cluster"], "shared");

    redis.stop();
    // Reads stay 200, within this replica's share: 40 / 3 = 13 at once.
    let admitted = burst(&http, &url(&gws[0]), &nordic[0], 30).await;
    eprintln!("without Redis one gateway admitted {admitted} of 30 at once");
    assert!(
        (13..=16).contains(&admitted),
        "per-replica share 13 (+ refill), got {admitted}"
    );
    let (code, body) = readyz(&http, &gws[0]).await;
    assert_eq!(code, 200, "still ready: {body}");
    assert_eq!(body["cluster"], "fallback");
    let metrics = http
        .get(format!("{}/metrics", gws[0].ops_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("cluster_fallback_total{concern=\"rate_limit\"}")),
        "fallback counted"
    );

    redis.start();
    // Recovers by itself: the next requests after the retry period use Redis again.
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let mut shared = true;
        for (g, t) in gws.iter().zip(&acme) {
            assert_eq!(status(&http, &url(g), t).await, 200);
            shared &= readyz(&http, g).await.1["cluster"] == "shared";
        }
        if shared {
            break;
        }
        assert!(Instant::now() < until, "shared limits return");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Shared again: one gateway gets the whole burst (not its 13), and then another gets none.
    let admitted = burst(&http, &url(&gws[1]), &nordic[1], 50).await;
    eprintln!("with Redis back one gateway admitted {admitted} of 50 at once");
    assert!(
        (36..=44).contains(&admitted),
        "the cluster's burst 40, got {admitted}"
    );
    let after = burst(&http, &url(&gws[2]), &nordic[2], 10).await;
    assert!(after <= 3, "the shared bucket is empty, got {after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hire_on_one_gateway_invalidates_another_gateways_cached_list_within_a_second() {
    let redis = RedisServer::start_new();
    let emu = emulator().await;
    let gws = replicas(&emu, &redis, 2, &|c| {
        // Without invalidation the stale list would be served for a minute.
        c.cache.response_ttl_ms = 60_000;
    })
    .await;
    let http = reqwest::Client::new();
    let (a, b) = (&gws[0], &gws[1]);
    let ta = token(&http, a, "acme-ats").await;
    let tb = token(&http, b, "acme-ats").await;
    let dv = emu.token().await;
    let first = |set: &'static str, col: &'static str, filter: &'static str| {
        let (emu, dv) = (&emu, &dv);
        async move {
            let (s, v) = emu
                .get_json(
                    &format!("{set}?$select={col}&$filter={filter}&$top=1"),
                    dv,
                    None,
                )
                .await;
            assert_eq!(s, 200, "{v}");
            v["value"][0][col].as_str().expect("code").to_string()
        }
    };
    let request = first(
        "mshr_hcmrecruitingrequestentities",
        "mshr_recruitingrequestid",
        "mshr_dataareaid eq 'usmf' and mshr_status eq 200000005",
    )
    .await;
    let position = first(
        "mshr_hcmpositionv2entities",
        "mshr_positionid",
        "mshr_dataareaid eq 'usmf'",
    )
    .await;
    let list = format!(
        "{}/v1/candidates?recruiting_request={request}&page_size=200",
        b.url
    );
    let get = |url: String, t: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).bearer_auth(t).send().await.expect("get");
            assert_eq!(r.status(), 200);
            r.text().await.expect("body")
        }
    };
    let cached = get(list.clone(), tb.clone()).await;
    assert_eq!(get(list.clone(), tb.clone()).await, cached);

    let body = json!({
        "recruiting_request": request, "position": position, "status": "hired",
        "person": {"first_name": "Ada", "last_name": "Cluster"}
    });
    let resp = http
        .post(format!("{}/v1/candidates", a.url))
        .bearer_auth(&ta)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .expect("hire");
    assert_eq!(resp.status(), 201, "hire on gateway A");
    let hired: Value = resp.json().await.expect("json");
    let id = hired["id"].as_str().expect("id").to_string();
    let posted = Instant::now();
    loop {
        if get(list.clone(), tb.clone()).await.contains(&id) {
            break;
        }
        assert!(
            posted.elapsed() < Duration::from_secs(1),
            "gateway B still serves its cached list 1 s after the hire on A"
        );
    }
    eprintln!(
        "gateway B's list shows the hire {} ms after A answered",
        posted.elapsed().as_millis()
    );
}

#[tokio::test]
async fn doctor_says_whether_redis_answers() {
    let mut redis = RedisServer::start_new();
    let emu = emulator().await;
    let c = emu.config();
    let q = |s: &str| Value::String(s.to_string()).to_string();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("gateway.toml");
    std::fs::write(
        &file,
        format!(
            "[dataverse]\norg_url = {}\nauthority = {}\ntenant_id = {}\nclient_id = {}\nclient_secret = {}\n[cluster]\nredis_url = {}\n",
            q(&emu.handle.url),
            q(&emu.handle.url),
            q(&c.tenant_id.to_string()),
            q(&c.client_id.to_string()),
            q(&c.client_secret),
            q(&redis.url())
        ),
    )
    .expect("write");
    let report = ats_gateway::doctor::run(Some(&file)).await;
    let line = report.check("cluster").expect("a cluster line");
    assert!(line.ok, "{line:?}");
    assert!(line.detail.contains("answers"), "{line:?}");
    redis.stop();
    let report = ats_gateway::doctor::run(Some(&file)).await;
    let line = report.check("cluster").expect("a cluster line");
    assert!(!line.ok, "{line:?}");
    assert!(line.detail.contains("replicas_hint"), "{line:?}");
    assert!(!report.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slots_a_dead_replica_held_expire() {
    let redis = RedisServer::start_new();
    let emu = emulator().await;
    let gws = replicas(&emu, &redis, 1, &|c| {
        generous(c);
        c.dataverse.max_concurrency = 2;
        c.dataverse.queue_timeout_ms = 10_000;
        c.cache.response_ttl_ms = 0;
    })
    .await;
    let http = reqwest::Client::new();
    let t = token(&http, &gws[0], "acme-ats").await;
    let url = format!("{}/v1/recruiting-requests?page_size=3", gws[0].url);
    assert_eq!(status(&http, &url, &t).await, 200);
    // A replica that died mid-call holds both slots, expiring in 1.5 s (Redis' clock).
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let (secs, micros): (u64, u64) = redis::cmd("TIME")
        .query_async(&mut conn)
        .await
        .expect("time");
    let expiry = secs * 1000 + micros / 1000 + 1_500;
    let _: i64 = redis::cmd("ZADD")
        .arg("ats-gateway:slots")
        .arg(expiry)
        .arg("dead:0")
        .arg(expiry)
        .arg("dead:1")
        .query_async(&mut conn)
        .await
        .expect("zadd");
    let started = Instant::now();
    assert_eq!(status(&http, &url.replace("=3", "=4"), &t).await, 200);
    let waited = started.elapsed();
    eprintln!(
        "a call waited {} ms for the dead replica's slots",
        waited.as_millis()
    );
    assert!(
        waited >= Duration::from_millis(1_000),
        "the cap counted the dead replica's slots ({waited:?})"
    );
    assert!(waited < Duration::from_secs(5), "they expired ({waited:?})");
}

/// The slots in Redis now (expired ones too, until a taker drops them).
async fn slots_in_redis(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    redis::cmd("ZCARD")
        .arg("ats-gateway:slots")
        .query_async(conn)
        .await
        .expect("zcard")
}

/// A call holding a cluster slot when Redis goes away (the replica's connection cut; Redis keeps
/// its data) completes, and calls meanwhile take the replica's local share and free it locally
/// (one at a time, none waits for a slot). The slot the call could not free while Redis was away
/// is freed once Redis answers again, so the cluster has its whole cap back at once, not only when
/// the slot expires (`timeout_ms` + 5 s, 20 s here): with a cap of 1 the next call would wait out
/// the queue timeout and fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slot_held_when_redis_goes_away_is_freed_when_it_returns() {
    let redis = RedisServer::start_new();
    let proxy = TcpProxy::start(redis.port).await;
    let emu = emulator().await;
    let via_proxy = format!("redis://127.0.0.1:{}/0", proxy.port);
    let gw = replica(&emu, &via_proxy, &|c| {
        generous(c);
        c.cluster.replicas_hint = 1;
        c.dataverse.max_concurrency = 1;
        c.cache.response_ttl_ms = 0;
    })
    .await;
    let client = redis::Client::open(redis.url()).expect("client");
    let mut direct = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let http = reqwest::Client::new();
    let t = token(&http, &gw, "acme-ats").await;
    let url = |size: usize| format!("{}/v1/recruiting-requests?page_size={size}", gw.url);
    // Labels and lookups cached: a page is one Dataverse call, so one slot.
    assert_eq!(status(&http, &url(3), &t).await, 200);
    crate::common::poll::holds_within(Duration::from_secs(5), "the warm-up's slot freed", || {
        let mut c = direct.clone();
        async move { slots_in_redis(&mut c).await == 0 }
    })
    .await;

    emu.fault(json!({"kind": "latency", "ms": 1500, "count": 1,
        "target": "mshr_hcmrecruitingrequestentities"}))
        .await;
    let held = {
        let (http, t, u) = (http.clone(), t.clone(), url(3));
        tokio::spawn(async move { status(&http, &u, &t).await })
    };
    crate::common::poll::holds_within(Duration::from_secs(5), "the call holds a slot", || {
        let mut c = direct.clone();
        async move { slots_in_redis(&mut c).await == 1 }
    })
    .await;
    proxy.cut();
    assert_eq!(held.await.expect("call"), 200, "the call holding the slot");
    let answered = Instant::now();

    // Redis away for longer than the replica keeps trying to free the slot (about 1.75 s): calls
    // go on, one local slot at a time, each freed for the next.
    let queue_timeout = Duration::from_millis(3_000);
    let mut n = 0;
    while answered.elapsed() < Duration::from_millis(2_500) {
        n += 1;
        let started = Instant::now();
        assert_eq!(
            status(&http, &url(3 + n), &t).await,
            200,
            "call {n} on the fallback"
        );
        assert!(
            started.elapsed() < queue_timeout / 2,
            "call {n} waited {:?} for a local slot",
            started.elapsed()
        );
    }
    assert_eq!(
        slots_in_redis(&mut direct).await,
        1,
        "Redis still counts the slot of the call that ended while it was away"
    );
    let (_, body) = readyz(&http, &gw).await;
    assert_eq!(body["cluster"], "fallback", "{body}");
    // The replica gave up freeing it (else a late retry after the restore could free it, and the
    // test would pass without the left-over path).
    crate::common::poll::holds_within(Duration::from_secs(10), "the free deferred", || {
        let (http, ops) = (http.clone(), gw.ops_url.clone());
        async move {
            let text = crate::common::metrics_text(&http, &ops).await;
            text.lines()
                .any(|l| l.starts_with("cluster_slot_frees_deferred_total ") && !l.ends_with(" 0"))
        }
    })
    .await;

    proxy.restore();
    let back = Instant::now();
    loop {
        n += 1;
        let started = Instant::now();
        let s = status(&http, &url(3 + n), &t).await;
        let took = started.elapsed();
        assert!(
            s == 200 && took < queue_timeout / 2,
            "call {n} after Redis returned: {s} after {took:?} (the slot left over from the outage still counted)"
        );
        if readyz(&http, &gw).await.1["cluster"] == "shared"
            && slots_in_redis(&mut direct).await == 0
        {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "shared again, the left-over slot gone"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{n} calls; shared again with no slot left over {} ms after Redis returned",
        back.elapsed().as_millis()
    );
}
