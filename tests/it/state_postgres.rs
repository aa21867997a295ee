//! `[state] url = "postgres://…"`: the shared backend opens, migrates once under its lock (two
//! replicas starting together), shares generated keys, and says what is wrong without the password;
//! while it is away or silent, every route that needs it answers 503 `state-unavailable`.

use crate::common::partner_token_at;
use crate::common::postgres::PgServer;
use crate::common::proxy::TcpProxy;
use crate::common::{emulator, spawn_replica};
use ats_gateway::config::SecretString;
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_start_together_on_one_fresh_database_and_migrate_once() {
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let url = pg.url();
    let emu = emulator().await;
    let (a, b) = tokio::join!(
        spawn_replica(&emu, |c| c.state.url = SecretString::new(url.as_str())),
        spawn_replica(&emu, |c| c.state.url = SecretString::new(url.as_str())),
    );
    for r in [&a, &b] {
        let ready = reqwest::get(format!("{}/readyz", r.ops_url))
            .await
            .expect("readyz");
        assert_eq!(ready.status(), 200);
        assert!(r.gateway.state.postgres.is_some());
    }
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version",
            &[],
        )
        .await
        .expect("migrations");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row.get::<_, i64>(1), 1, "a migration recorded twice");
    }
}

#[tokio::test]
async fn replicas_share_generated_keys() {
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let ttl = Duration::from_secs(60);
    let a = ats_gateway::store::postgres::PgStore::connect(&pg.url(), 2, ttl)
        .await
        .expect("a");
    let b = ats_gateway::store::postgres::PgStore::connect(&pg.url(), 2, ttl)
        .await
        .expect("b");
    let ka = a.shared_key("cursor.key").await.expect("key a");
    let kb = b.shared_key("cursor.key").await.expect("key b");
    assert_eq!(ka, kb);
    assert_ne!(ka, a.shared_key("other").await.expect("other"));
    assert_ne!(a.replica(), b.replica());
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_start_error_naming_the_key_without_the_password() {
    let emu = emulator().await;
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut config = crate::common::gateway_config(&emu);
    config.state.url = SecretString::new(format!("postgres://gw:s3cret-pw@127.0.0.1:{port}/db"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = ats_gateway::app::start(config, listener)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("state.url"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
}

#[test]
fn state_urls_are_checked_when_the_configuration_loads() {
    use ats_gateway::config::{StateConfig, StateLocation};
    let with = |url: &str| StateConfig {
        url: SecretString::new(url),
        ..StateConfig::default()
    };
    assert_eq!(
        with("sqlite://data/gw.db").location().expect("sqlite"),
        StateLocation::Sqlite {
            dir: Some("data".into()),
            file: "gw.db".into()
        }
    );
    assert!(matches!(
        with("postgres://u@h/db").location(),
        Ok(StateLocation::Postgres { .. })
    ));
    let err = with("mysql://u:pw@h/db").location().expect_err("refused");
    assert!(!err.to_string().contains("pw@"), "{err}");
}

/// A Postgres reached through a [`TcpProxy`] (to cut or black-hole), and the state URL through it.
async fn postgres_behind_a_proxy() -> (PgServer, TcpProxy, String) {
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let proxy = TcpProxy::start(pg.port).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port);
    (pg, proxy, url)
}

/// A 503's `Retry-After` is there and in whole seconds.
fn assert_retry_after(retry: &Option<String>, what: &str) {
    assert!(
        retry
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .is_some(),
        "{what}: Retry-After {retry:?}"
    );
}

/// A replica on the Postgres at `url` with a state bound of `timeout_ms`, its operator token, and
/// a client that outwaits the bound.
async fn operated_replica(
    emu: &crate::common::Emu,
    url: &str,
    timeout_ms: u64,
) -> (crate::common::Replica, String, reqwest::Client) {
    let (operator, hash) = ats_gateway::operator::guard::create_operator_token();
    let r = spawn_replica(emu, |c| {
        c.state.url = SecretString::new(url);
        c.state.timeout_ms = timeout_ms;
        c.operator.token_hashes = vec![hash];
    })
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("client");
    (r, operator, http)
}

/// One answer: status, `Retry-After`, `Content-Type`, body, and how long it took.
async fn ask(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> (u16, Option<String>, String, Value, Duration) {
    let asked = Instant::now();
    let resp = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let took = asked.elapsed();
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry = header("retry-after");
    let kind = header("content-type").unwrap_or_default();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, retry, kind, body, took)
}

/// A Postgres that stops answering (black-holed: no TCP timeout notices) or refuses (cut) is the
/// same 503 `state-unavailable` with `Retry-After` on the changes feed, webhook management and the
/// operator API as on a hire (they answered 500), each within `[state] timeout_ms` plus margin;
/// once it answers again they answer as before. The operator API's answer does not also wait for
/// its audit record (written in the background after the call found the store away): one bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_on_the_state_store_answer_503_state_unavailable_while_postgres_is_away() {
    let (_pg, proxy, url) = postgres_behind_a_proxy().await;
    let emu = emulator().await;
    let (operator, hash) = ats_gateway::operator::guard::create_operator_token();
    let bound = Duration::from_millis(1_000);
    let r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(url.as_str());
        c.state.timeout_ms = 1_000;
        c.operator.token_hashes = vec![hash];
        // No scans: the feed's answers are the test's only store calls besides the pollers'.
        c.changes.scan_interval_ms = Some(3_600_000);
    })
    .await;
    // Past the request deadline (30 s): a hang shows as the gateway's 504, not as this client's.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("client");
    let partner = partner_token_at(&http, &r.url, "acme-ats", None).await;
    // (what, URL, token, how many bounds it may take)
    let routes = [
        (
            "GET /v1/webhooks",
            format!("{}/v1/webhooks", r.url),
            &partner,
            1,
        ),
        (
            "GET /v1/changes",
            format!("{}/v1/changes", r.url),
            &partner,
            1,
        ),
        (
            "GET /operator/v1/partners",
            format!("{}/operator/v1/partners", r.ops_url),
            &operator,
            1,
        ),
    ];
    let answer_normally = || async {
        for (what, url, token, _) in &routes {
            let (status, _, _, body, _) = ask(&http, url, token).await;
            assert_eq!(status, 200, "{what}: {body}");
        }
    };
    answer_normally().await;

    for (outage, stage) in [
        ("silent", TcpProxy::black_hole as fn(&TcpProxy)),
        ("refusing", TcpProxy::cut as fn(&TcpProxy)),
    ] {
        stage(&proxy);
        for (what, url, token, bounds) in &routes {
            let (status, retry, kind, problem, took) = ask(&http, url, token).await;
            eprintln!("{what} against a {outage} Postgres answered {status} after {took:?}");
            assert_eq!(status, 503, "{what}, {outage}, after {took:?}: {problem}");
            assert!(
                took < bound * *bounds + Duration::from_secs(3),
                "{what}, {outage}: within {bounds} × {bound:?} plus margin, took {took:?}"
            );
            assert_retry_after(&retry, &format!("{what}, {outage}"));
            assert_eq!(kind, "application/problem+json", "{what}, {outage}");
            assert!(
                problem["type"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/problems/state-unavailable"),
                "{what}, {outage}: {problem}"
            );
            assert_eq!(problem["status"], 503, "{what}, {outage}: {problem}");
            // The store's own words (addresses, timings) stay in the log.
            let detail = problem["detail"].as_str().unwrap_or("");
            assert!(
                !detail.contains("Postgres") && !detail.contains("127.0.0.1"),
                "{what}, {outage}: {detail}"
            );
        }
        proxy.restore();
        answer_normally().await;
    }
}

/// An operator call whose own store call finds Postgres silent answers its 503 within one
/// `[state] timeout_ms`, not two: the guard writes the call's audit record in the background, not
/// waiting a second bound on the store the call just found away. A refused call,
/// which makes no store call of its own, waits for its record only briefly. Once Postgres answers
/// again, the next call's record is in the trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_call_finding_postgres_silent_answers_within_one_timeout_and_the_next_is_audited(
) {
    let (_pg, proxy, url) = postgres_behind_a_proxy().await;
    let emu = emulator().await;
    let (r, operator, http) = operated_replica(&emu, &url, 1_000).await;
    let audit = format!("{}/operator/v1/audit", r.ops_url);
    let partners = format!("{}/operator/v1/partners", r.ops_url);
    let (status, _, _, body, _) = ask(&http, &audit, &operator).await;
    assert_eq!(status, 200, "{body}");

    proxy.black_hole();
    let (status, retry, _, problem, took) = ask(&http, &audit, &operator).await;
    eprintln!("GET /operator/v1/audit against a silent Postgres answered {status} after {took:?}");
    assert_eq!(status, 503, "after {took:?}: {problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap_or("")
            .ends_with("/problems/state-unavailable"),
        "{problem}"
    );
    assert_retry_after(&retry, "GET /operator/v1/audit");
    assert!(
        took < Duration::from_millis(1_800),
        "one bound (1 s) and no second one for the audit record: took {took:?}"
    );
    let asked = Instant::now();
    let refused = http.get(&audit).send().await.expect("refused call");
    let took = asked.elapsed();
    eprintln!("a refused call against a silent Postgres answered after {took:?}");
    assert_eq!(refused.status(), 401);
    assert!(
        took < Duration::from_millis(800),
        "a refused call waits for its record only briefly, not a store bound: took {took:?}"
    );

    proxy.restore();
    let (status, _, _, body, _) = ask(&http, &partners, &operator).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _, trail, _) = ask(&http, &audit, &operator).await;
    assert_eq!(status, 200, "{trail}");
    let listed = trail["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|a| a["action"] == "GET /operator/v1/partners" && a["status"] == 200)
        .count();
    assert_eq!(
        listed, 1,
        "the call after the outage is in the trail: {trail}"
    );
}

/// A call that found the store away has its audit record written after it was answered; a
/// graceful stop that begins while that write waits on the store waits for it (one store bound at
/// most), so the record is in the trail once the process has stopped, not lost with it.
#[tokio::test]
async fn a_graceful_stop_waits_for_an_audit_record_still_being_written() {
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let emu = emulator().await;
    let (mut r, operator, http) = operated_replica(&emu, &pg.url(), 3_000).await;
    let audit = format!("{}/operator/v1/audit", r.ops_url);
    let (status, _, _, body, _) = ask(&http, &audit, &operator).await;
    assert_eq!(status, 200, "{body}");

    // Another session holds the trail's table: the next call's read waits past the bound (503),
    // then its record's write waits behind the same lock.
    let (mut locker, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let lock = locker.transaction().await.expect("begin");
    lock.batch_execute("LOCK TABLE operator_audit IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let (status, _, _, problem, _) = ask(&http, &audit, &operator).await;
    assert_eq!(status, 503, "{problem}");
    // No connection left to drain: without a wait for the record, the stop would end at once.
    drop(http);
    r.gateway.shutdown.cancel();
    let early = tokio::time::timeout(Duration::from_millis(500), &mut r.gateway.task).await;
    assert!(
        early.is_err(),
        "the stop waits for the audit record still being written"
    );
    lock.commit().await.expect("unlock");
    tokio::time::timeout(Duration::from_secs(20), &mut r.gateway.task)
        .await
        .expect("the stop ends once the record is stored")
        .expect("gateway task");
    // Read at once after the stop, no polling: the record is there.
    let statuses: Vec<i32> = locker
        .query(
            "SELECT status FROM operator_audit WHERE action = 'GET /operator/v1/audit' ORDER BY seq",
            &[],
        )
        .await
        .expect("trail")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(statuses, vec![200, 503], "both calls are in the trail");
}

/// Usage is flushed a last time after the listeners have drained: a request still being served
/// when a graceful stop begins is in the stored usage once the process has stopped.
#[tokio::test]
async fn a_graceful_stop_flushes_the_usage_of_requests_served_while_draining() {
    const RR: &str = "mshr_hcmrecruitingrequestentities";
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let emu = emulator().await;
    let mut r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(pg.url().as_str());
        // Only the stop flushes within this test.
        c.operator.usage_flush_ms = 600_000;
    })
    .await;
    let http = reqwest::Client::new();
    let token = partner_token_at(&http, &r.url, "acme-ats", None).await;
    let quick = http
        .get(format!("{}/v1/recruiting-requests?page_size=2", r.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("quick");
    assert_eq!(quick.status(), 200);

    // A page the emulator answers slowly: in flight when the stop begins.
    emu.fault(serde_json::json!({"kind": "latency", "ms": 1500, "target": RR, "count": 1}))
        .await;
    let slow = tokio::spawn({
        let (http, url, token) = (http.clone(), r.url.clone(), token.clone());
        async move {
            http.get(format!("{url}/v1/recruiting-requests?page_size=9"))
                .bearer_auth(&token)
                .send()
                .await
                .map(|resp| resp.status().as_u16())
        }
    });
    let metrics = format!("{}/metrics", r.ops_url);
    crate::common::poll::within(
        Duration::from_secs(20),
        "the slow page waits on Dataverse",
        || async {
            let text = http.get(&metrics).send().await.ok()?.text().await.ok()?;
            text.lines()
                .any(|l| l.starts_with("upstream_in_flight ") && !l.ends_with(" 0"))
                .then_some(())
        },
    )
    .await;
    r.gateway.shutdown.cancel();
    assert_eq!(
        slow.await
            .expect("join")
            .expect("the page in flight is answered"),
        200
    );
    drop(http);
    tokio::time::timeout(Duration::from_secs(20), &mut r.gateway.task)
        .await
        .expect("the stop ends")
        .expect("gateway task");

    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let stored: i64 = client
        .query_one(
            "SELECT COALESCE(SUM(requests), 0)::BIGINT FROM partner_usage WHERE partner = 'acme-ats'",
            &[],
        )
        .await
        .expect("usage")
        .get(0);
    assert_eq!(stored, 2, "the page served while draining is counted");
}
