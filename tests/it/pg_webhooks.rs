//! Webhooks on Postgres: several in-process replicas on one database deliver every event exactly
//! once (each delivery claimed by one replica), a replica that dies mid-send loses its claim and
//! another sends the same `webhook-id`, and a Postgres outage pauses deliveries without losing
//! any. Receivers run in the test on 127.0.0.1:0 and count `webhook-id`s per subscription.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::common::postgres::PgServer;
use crate::common::{emulator, spawn_replica, Emu, Replica};
use ats_gateway::config::SecretString;
use ats_gateway::store::postgres::PgStore;
use ats_gateway::store::webhooks::{
    AfterAttempt, AttemptRow, FanOutRows, NewSubscription, OutboxInsert, OutboxRow, WebhookStore,
};

const EVENT: &str = "recruiting_request.status_changed";
const HOUR: Duration = Duration::from_secs(3600);
const HOUR_MS: i64 = 3_600_000;

/// A receiver counting `webhook-id`s per path (`/hook/{name}`). While `closed` it answers 503;
/// with `hang_first`, the first request it gets is never answered (its id goes to `hung_id`).
#[derive(Clone, Default)]
struct Counter {
    /// (path, webhook-id) → requests answered 2xx.
    acked: Arc<Mutex<HashMap<(String, String), usize>>>,
    /// Every request seen (answered or not), by webhook-id.
    seen: Arc<Mutex<HashMap<String, usize>>>,
    closed: Arc<AtomicBool>,
    hang_first: Arc<AtomicBool>,
    hung_id: Arc<Mutex<Option<String>>>,
    hung: Arc<tokio::sync::Notify>,
}

impl Counter {
    fn acked(&self) -> HashMap<(String, String), usize> {
        self.acked.lock().expect("lock").clone()
    }

    fn seen(&self, id: &str) -> usize {
        self.seen
            .lock()
            .expect("lock")
            .get(id)
            .copied()
            .unwrap_or(0)
    }
}

async fn receiver(counter: Counter) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/hook/{name}",
        axum::routing::post(move |Path(name): Path<String>, headers: HeaderMap| {
            let c = counter.clone();
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                *c.seen.lock().expect("lock").entry(id.clone()).or_default() += 1;
                if c.hang_first.swap(false, Ordering::SeqCst) {
                    *c.hung_id.lock().expect("lock") = Some(id.clone());
                    c.hung.notify_one();
                    std::future::pending::<()>().await;
                }
                if c.closed.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                *c.acked.lock().expect("lock").entry((name, id)).or_default() += 1;
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

/// A replica on `pg` whose webhooks may call 127.0.0.1, retrying quickly.
async fn replica(emu: &Emu, url: &str, timeout_ms: u64) -> Replica {
    let url = url.to_string();
    spawn_replica(emu, move |c| {
        c.state.url = SecretString::new(url);
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![300; 40];
        c.webhooks.timeout_ms = timeout_ms;
    })
    .await
}

async fn token(r: &Replica, partner: &str) -> String {
    let secret = ats_gateway::demo::partners()
        .into_iter()
        .find(|p| p.config.id == partner)
        .map(|p| p.secret)
        .expect("demo partner");
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth2/token", r.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", partner),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

async fn subscribe(r: &Replica, token: &str, url: &str) -> String {
    subscribe_with_secret(r, token, url).await.0
}

/// Subscribes on `r`; returns the subscription's id and `whsec_` secret.
async fn subscribe_with_secret(r: &Replica, token: &str, url: &str) -> (String, String) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/webhooks", r.url))
        .bearer_auth(token)
        .json(&json!({"url": url, "events": [EVENT]}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.expect("json");
    (
        v["id"].as_str().expect("id").to_string(),
        v["secret"].as_str().expect("secret").to_string(),
    )
}

/// Records `n` events (one scan, as the scanner would) on `r`; returns their ids.
async fn record(r: &Replica, n: usize) -> Vec<String> {
    use ats_gateway::changes::event::{Action, EventType, NewEvent, ResourceType};
    let events = (0..n)
        .map(|_| {
            let id = uuid::Uuid::new_v4();
            NewEvent {
                event_type: EventType::new(ResourceType::RecruitingRequest, Action::StatusChanged),
                resource_id: id,
                company: "usmf".into(),
                data: json!({"id": id, "company": "usmf", "status": {"key": "active"}}),
                changed_fields: Some(vec!["/status".into()]),
                from: Some("draft".into()),
                to: Some("active".into()),
            }
        })
        .collect();
    let scan = ats_gateway::store::changes::ScanRecord {
        events,
        ..Default::default()
    };
    r.gateway
        .state
        .changes
        .record(scan)
        .await
        .expect("recorded")
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Polls (bounded) until `done` holds.
async fn until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn client(pg: &PgServer) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// Round trips the webhook store made, from `state_store_queries_total{op="webhooks.…"}`.
async fn webhook_queries(r: &Replica) -> f64 {
    let text = reqwest::get(format!("{}/metrics", r.ops_url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|l| l.starts_with("state_store_queries_total{op=\"webhooks."))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn start_pg() -> PgServer {
    tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_deliver_every_event_exactly_once() {
    let pg = start_pg().await;
    let emu = emulator().await;
    let url = pg.url();
    let a = replica(&emu, &url, 5000).await;
    let b = replica(&emu, &url, 5000).await;
    let c = replica(&emu, &url, 5000).await;
    let counter = Counter::default();
    let hook = receiver(counter.clone()).await;
    let acme = token(&a, "acme-ats").await;
    // Three subscriptions, so the replicas have work to share.
    let mut subs = Vec::new();
    for name in ["one", "two", "three"] {
        subs.push((name, subscribe(&a, &acme, &format!("{hook}/{name}")).await));
    }
    let q0 = webhook_queries(&a).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.extend(record(&a, 20).await);
    }
    let expected = ids.len() * subs.len();
    until(120, "every delivery", || {
        counter.acked().values().sum::<usize>() >= expected
    })
    .await;
    let q1 = webhook_queries(&a).await;
    let acked = counter.acked();
    for (name, _) in &subs {
        for id in &ids {
            assert_eq!(
                acked.get(&(name.to_string(), id.clone())),
                Some(&1),
                "{name} {id}"
            );
        }
    }
    assert_eq!(acked.values().sum::<usize>(), expected, "nothing else sent");
    // Every delivery was claimed and then ended by its outcome: nothing is left to send again.
    drop((b, c));
    let db = client(&pg).await;
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'delivered'), count(*) FILTER (WHERE claimed_by IS NOT NULL) FROM webhook_outbox",
            &[],
        )
        .await
        .expect("outbox");
    assert_eq!(row.get::<_, i64>(0), expected as i64);
    assert_eq!(row.get::<_, i64>(1), 0);
    let failed: i64 = db
        .query_one(
            "SELECT count(*) FROM webhook_attempts WHERE status <> 'delivered'",
            &[],
        )
        .await
        .expect("log")
        .get(0);
    assert_eq!(
        failed, 0,
        "every replica could sign every subscription's deliveries"
    );
    eprintln!(
        "pg_webhooks: {expected} deliveries by 3 replicas: {:.2} webhook-store round trips to Postgres per delivery (fan-out and dispatcher passes included; the counter is process-wide: run this test alone for a clean figure)",
        (q1 - q0) / expected as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_send_loses_its_claim_and_another_sends_the_same_id() {
    let pg = start_pg().await;
    let emu = emulator().await;
    let url = pg.url();
    let a = replica(&emu, &url, 3000).await;
    let b = replica(&emu, &url, 3000).await;
    let counter = Counter::default();
    let hook = receiver(counter.clone()).await;
    let acme = token(&a, "acme-ats").await;
    subscribe(&a, &acme, &format!("{hook}/s")).await;
    // The first request hangs: whichever replica sends it is then killed.
    counter.hang_first.store(true, Ordering::SeqCst);
    let hung = counter.hung.clone();
    let notified = hung.notified();
    let ids = record(&a, 10).await;
    tokio::time::timeout(Duration::from_secs(30), notified)
        .await
        .expect("the first delivery reaches the receiver");
    let hung_id = counter.hung_id.lock().expect("lock").clone();
    assert_eq!(hung_id.as_deref(), Some(ids[0].as_str()), "oldest first");
    let db = client(&pg).await;
    let holder: uuid::Uuid = db
        .query_one(
            "SELECT claimed_by FROM webhook_outbox WHERE event_id = $1",
            &[&ids[0]],
        )
        .await
        .expect("claim")
        .get(0);
    let (dead, alive) = if a.gateway.state.postgres.as_ref().map(PgStore::replica) == Some(holder) {
        (a, b)
    } else {
        (b, a)
    };
    // A crash: the dispatcher and its workers are dropped mid-send, nothing is written.
    dead.gateway.deliveries.abort();
    dead.gateway.task.abort();
    let killed = Instant::now();
    until(60, "every event acknowledged", || {
        counter.acked().len() == ids.len()
    })
    .await;
    let waited = killed.elapsed();
    let acked = counter.acked();
    for id in &ids {
        assert_eq!(acked.get(&("s".to_string(), id.clone())), Some(&1), "{id}");
    }
    assert_eq!(
        counter.seen(&ids[0]),
        2,
        "sent again with the same webhook-id"
    );
    for id in &ids[1..] {
        assert_eq!(counter.seen(id), 1, "{id} sent once");
    }
    // Not before the dead replica's claim ended (lease: 2 × 3 s + 5 s from the claim).
    assert!(waited >= Duration::from_secs(5), "{waited:?}");
    eprintln!("pg_webhooks: the dead replica's claim was taken over {waited:?} after the kill");
    drop(alive);
    drop(dead);
}

/// A receiver that answers 503: the first request at once, the second once `release` fires (it
/// tells `arrived` when it gets it).
#[derive(Clone, Default)]
struct Held {
    requests: Arc<std::sync::atomic::AtomicUsize>,
    arrived: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

async fn held_receiver(held: Held) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/held",
        axum::routing::post(move || {
            let h = held.clone();
            async move {
                if h.requests.fetch_add(1, Ordering::SeqCst) == 1 {
                    h.arrived.notify_one();
                    h.release.notified().await;
                }
                StatusCode::SERVICE_UNAVAILABLE
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/held")
}

/// A worker whose claim was taken over while it sent (its lease ran out; here a zero lease, so
/// nothing waits for one to) is told so by `record_attempt` (`false`): its failed last attempt
/// is logged as an attempt but neither counted against the delivery nor marks the subscription
/// failing, and the worker neither logs nor counts a subscription marked failing. The new
/// claimant's delivery goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_whose_claim_was_taken_over_marks_nothing_failing() {
    crate::common::logs::capture();
    let pg = start_pg().await;
    let emu = emulator().await;
    let url = pg.url();
    let r = spawn_replica(&emu, {
        let url = url.clone();
        move |c| {
            c.state.url = SecretString::new(url);
            c.webhooks.allow_private_urls = true;
            // One retry: the second attempt is the schedule's last.
            c.webhooks.retry_schedule_ms = vec![1];
            c.webhooks.timeout_ms = 30_000;
        }
    })
    .await;
    r.gateway.state.webhooks.set_claim_lease(Duration::ZERO);
    // Another replica, as the store sees it.
    let other = PgStore::connect(&url, 2, Duration::from_secs(60))
        .await
        .expect("other");
    let held = Held::default();
    let hook = held_receiver(held.clone()).await;
    let acme = token(&r, "acme-ats").await;
    let sub = subscribe(&r, &acme, &hook).await;
    let arrived = held.arrived.notified();
    let ids = record(&r, 1).await;
    tokio::time::timeout(Duration::from_secs(30), arrived)
        .await
        .expect("the last attempt reaches the receiver");
    let taken = other
        .next_delivery(sub.clone(), Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("the claim the worker's send outlived is taken over");
    assert_eq!(taken.event_id, ids[0]);
    assert_eq!(taken.attempts, 1, "the first attempt counted");
    held.release.notify_one();

    let db = client(&pg).await;
    crate::common::poll::holds_within(
        Duration::from_secs(30),
        "the lost attempt logged",
        || async {
            db.query_one(
                "SELECT count(*) FROM webhook_attempts WHERE subscription_id = $1",
                &[&sub],
            )
            .await
            .expect("attempts")
            .get::<_, i64>(0)
                == 2
        },
    )
    .await;
    // The dispatcher stops once its workers have: whatever the worker did with the answer is done.
    r.gateway.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), r.gateway.state.webhooks.stopped())
        .await
        .expect("the dispatcher and its workers stop");

    let row = db
        .query_one(
            "SELECT attempts, state, claimed_by = $2 FROM webhook_outbox WHERE subscription_id = $1",
            &[&sub, &other.replica()],
        )
        .await
        .expect("outbox");
    assert_eq!(row.get::<_, i64>(0), 1, "the lost attempt is not counted");
    assert_eq!(row.get::<_, String>(1), "pending");
    assert!(row.get::<_, bool>(2), "still the new claimant's");
    let now = other
        .subscription(None, sub.clone())
        .await
        .expect("read")
        .expect("there");
    assert!(!now.failing, "not marked failing");
    let failing: Vec<String> = crate::common::logs::text()
        .lines()
        .filter(|l| l.contains(&sub) && l.contains("marked failing"))
        .map(str::to_string)
        .collect();
    assert!(failing.is_empty(), "{failing:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_pause_while_postgres_is_away_and_resume_with_nothing_lost() {
    let mut pg = start_pg().await;
    let emu = emulator().await;
    let url = pg.url();
    let a = replica(&emu, &url, 1000).await;
    let b = replica(&emu, &url, 1000).await;
    let counter = Counter::default();
    counter.closed.store(true, Ordering::SeqCst);
    let hook = receiver(counter.clone()).await;
    let acme = token(&a, "acme-ats").await;
    subscribe(&a, &acme, &format!("{hook}/s")).await;
    let ids = record(&a, 30).await;
    // Queued and tried (the receiver answers 503 for now): pending in Postgres.
    until(30, "a first attempt", || counter.seen(&ids[0]) > 0).await;
    tokio::task::block_in_place(|| pg.stop());
    // Readiness: still ready (reads are served), naming the state store as unreachable.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = reqwest::get(format!("{}/readyz", b.ops_url))
            .await
            .expect("readyz");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        if body["state_store"] == "unreachable" {
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["status"], "ready");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readyz never named the state store: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    counter.closed.store(false, Ordering::SeqCst);
    tokio::task::block_in_place(|| pg.restart());
    until(90, "every event acknowledged after the outage", || {
        counter.acked().len() == ids.len()
    })
    .await;
    let acked = counter.acked();
    let twice = ids
        .iter()
        .filter(|id| acked.get(&("s".to_string(), (*id).clone())).copied() > Some(1))
        .count();
    for id in &ids {
        assert!(
            acked.contains_key(&("s".to_string(), id.clone())),
            "{id} lost"
        );
    }
    eprintln!("pg_webhooks: after the outage every event arrived; {twice} of {} acknowledged twice (a send whose outcome could not be written)", ids.len());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = reqwest::get(format!("{}/readyz", b.ops_url))
            .await
            .expect("readyz")
            .json()
            .await
            .expect("json");
        if body == json!({"status": "ready"}) {
            break;
        }
        assert!(Instant::now() < deadline, "readyz still degraded: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_made_on_one_replica_is_signed_by_another() {
    let pg = start_pg().await;
    let emu = emulator().await;
    let url = pg.url();
    let a = replica(&emu, &url, 5000).await;
    let b = replica(&emu, &url, 5000).await;
    let mut rx = crate::webhooks::receiver(0, 500).await;
    let acme = token(&a, "acme-ats").await;
    let (_, secret) = subscribe_with_secret(&a, &acme, &rx.url).await;
    // A no longer delivers: what B sends it signs with the key both share (no key configured).
    a.gateway.deliveries.abort();
    let ids = record(&b, 1).await;
    let got = rx.next(30).await;
    crate::webhooks::verify(&secret, &got);
    assert_eq!(got.json()["id"], ids[0].as_str());
}

fn sub(id: &str) -> NewSubscription {
    NewSubscription {
        id: id.into(),
        partner: "acme-ats".into(),
        url: "https://x.example/h".into(),
        events: vec![EVENT.into()],
        secret: "sealed".into(),
        created_at: 1,
    }
}

/// Fan-out rows given as they are, whatever the subscriptions.
fn given(rows: Vec<OutboxInsert>) -> FanOutRows {
    Box::new(move |_| rows)
}

fn outbox(sub: &str, seq: i64) -> OutboxInsert {
    OutboxInsert {
        subscription_id: sub.into(),
        event_id: format!("evt_{seq}"),
        event_seq: seq,
        event_type: EVENT.into(),
        body: "{}".into(),
        recorded_at: 1,
    }
}

#[tokio::test]
async fn claims_give_one_sender_per_subscription_and_end_with_their_lease() {
    let pg = start_pg().await;
    let ttl = Duration::from_secs(60);
    let a = PgStore::connect(&pg.url(), 4, ttl).await.expect("a");
    let b = PgStore::connect(&pg.url(), 4, ttl).await.expect("b");
    assert!(a
        .create_subscription(sub("s"), 2)
        .await
        .expect("create")
        .is_some());
    let rows: Vec<_> = (1..=3).map(|n| outbox("s", n)).collect();
    // Two replicas fanning out the same events at once queue each once.
    let (ra, rb) = tokio::join!(a.fan_out(3, given(rows.clone())), b.fan_out(3, given(rows)));
    ra.expect("fan out a");
    rb.expect("fan out b");
    assert_eq!(a.outbox_summary().await.expect("summary").1, 3);
    assert_eq!(b.fanout_cursor().await.expect("cursor"), 3);

    let short = Duration::from_millis(300);
    let first = a
        .next_delivery("s".into(), short)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(first.event_id, "evt_1", "oldest first");
    // B may not send for this subscription while A's claim lives, nor see it as due.
    assert!(b
        .next_delivery("s".into(), short)
        .await
        .expect("claim")
        .is_none());
    assert!(b.due_subscriptions().await.expect("due").is_empty());
    // A dies: once the claim ends, B sends the same event.
    let deadline = Instant::now() + Duration::from_secs(10);
    let taken = loop {
        if let Some(row) = b.next_delivery("s".into(), ttl).await.expect("claim") {
            break row;
        }
        assert!(Instant::now() < deadline, "the claim never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken.event_id, "evt_1");
    let attempt = AttemptRow {
        event_id: taken.event_id.clone(),
        attempt: 1,
        at: 11,
        delivered: true,
        response_code: Some(204),
        error: None,
        duration_ms: 3,
    };
    assert!(b
        .record_attempt(&taken, attempt, AfterAttempt::Delivered)
        .await
        .expect("record"));
    // A was only slow, not dead: its late failure is logged but does not undo B's outcome (the
    // event would be sent again), nor mark the subscription failing, and A is told so (its
    // worker then neither logs nor counts a subscription marked failing).
    let late = AttemptRow {
        event_id: first.event_id.clone(),
        attempt: 1,
        at: 12,
        delivered: false,
        response_code: Some(500),
        error: None,
        duration_ms: 900,
    };
    assert!(!a
        .record_attempt(&first, late, AfterAttempt::Exhausted)
        .await
        .expect("record"));
    assert!(
        !a.subscription(None, "s".into())
            .await
            .expect("read")
            .expect("there")
            .failing,
        "a lost claim marks nothing"
    );
    let next = b
        .next_delivery("s".into(), ttl)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(next.event_id, "evt_2");
    // Given back (shutdown cut the send short): another replica may take it at once.
    b.release_delivery(&next).await.expect("release");
    let again = a
        .next_delivery("s".into(), ttl)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(again.event_id, "evt_2");
    let log = a.attempts("s".into(), None, None, 10).await.expect("log");
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log.iter().filter(|l| l.attempt.delivered).count(), 1);
}

fn failed_attempt(r: &OutboxRow, at: i64) -> AttemptRow {
    AttemptRow {
        event_id: r.event_id.clone(),
        attempt: r.attempts + 1,
        at,
        delivered: false,
        response_code: Some(503),
        error: Some("the receiver answered 503".into()),
        duration_ms: 3,
    }
}

/// As the embedded store's test of the same name: enable leaves an active subscription's retry
/// schedule alone, and makes a failing one's undelivered events due now.
#[tokio::test]
async fn enabling_an_active_subscription_keeps_its_retry_schedule() {
    let pg = start_pg().await;
    let ttl = Duration::from_secs(60);
    let s = PgStore::connect(&pg.url(), 2, ttl).await.expect("connect");
    let partner = "acme-ats".to_string();
    assert!(s
        .create_subscription(sub("a"), 2)
        .await
        .expect("create")
        .is_some());
    s.fan_out(2, given(vec![outbox("a", 1), outbox("a", 2)]))
        .await
        .expect("fan out");
    // evt_1 retries in an hour, evt_2 at once.
    for (event, retry_after) in [("evt_1", HOUR), ("evt_2", Duration::ZERO)] {
        let r = s
            .next_delivery("a".into(), ttl)
            .await
            .expect("claim")
            .expect("due");
        assert_eq!(r.event_id, event);
        s.record_attempt(
            &r,
            failed_attempt(&r, 11),
            AfterAttempt::RetryAfter(retry_after),
        )
        .await
        .expect("record");
    }
    assert!(s
        .enable_subscription(partner.clone(), "a".into())
        .await
        .expect("enable"));
    let first = s
        .next_delivery("a".into(), ttl)
        .await
        .expect("claim")
        .expect("due at its retry");
    assert_eq!(
        (
            first.event_id.as_str(),
            first.attempts,
            first.round_attempts
        ),
        ("evt_2", 1, 1),
        "evt_1 still waiting for its retry"
    );
    assert!(!s
        .enable_subscription(partner.clone(), "none".into())
        .await
        .expect("missing"));
    assert!(!s
        .enable_subscription("other".into(), "a".into())
        .await
        .expect("another partner's"));

    s.record_attempt(
        &first,
        failed_attempt(&first, 1_001),
        AfterAttempt::Exhausted,
    )
    .await
    .expect("record");
    assert!(
        s.subscription(None, "a".into())
            .await
            .expect("read")
            .expect("there")
            .failing
    );
    assert!(s
        .enable_subscription(partner.clone(), "a".into())
        .await
        .expect("enable"));
    let again = s
        .next_delivery("a".into(), ttl)
        .await
        .expect("claim")
        .expect("due now, not in an hour");
    assert_eq!(
        (again.event_id.as_str(), again.round_attempts),
        ("evt_1", 0)
    );
    let delivered = AttemptRow {
        delivered: true,
        response_code: Some(204),
        error: None,
        ..failed_attempt(&again, 1_501)
    };
    s.record_attempt(&again, delivered, AfterAttempt::Delivered)
        .await
        .expect("record");
    let second = s
        .next_delivery("a".into(), ttl)
        .await
        .expect("claim")
        .expect("due now");
    assert_eq!(
        (second.event_id.as_str(), second.round_attempts),
        ("evt_2", 0)
    );
    let a = s
        .subscription(None, "a".into())
        .await
        .expect("read")
        .expect("there");
    assert!(!a.failing && a.failing_since.is_none());
}

#[tokio::test]
async fn webhook_rotation_round_trips_through_postgres() {
    let pg = start_pg().await;
    let s = PgStore::connect(&pg.url(), 2, Duration::from_secs(60))
        .await
        .expect("connect");
    crate::webhook_rotation::rotation_round_trip(&s).await;
}

#[tokio::test]
async fn the_embedded_webhook_state_imports_into_postgres() {
    use ats_gateway::store::sqlite::SqliteStore;
    let pg = start_pg().await;
    let dir = tempfile::tempdir().expect("dir");
    let ttl = Duration::from_secs(60);
    let lite = SqliteStore::open(dir.path(), ttl).expect("sqlite");
    lite.create_subscription(sub("s"), 5).await.expect("create");
    lite.create_subscription(sub("t"), 5).await.expect("create");
    // A rotated secret comes along with its expiry.
    lite.rotate_secret("acme-ats".into(), "t".into(), "sealed-2".into(), 1, 9_000)
        .await
        .expect("rotate")
        .expect("found");
    lite.fan_out(3, given((1..=3).map(|n| outbox("s", n)).collect()))
        .await
        .expect("fan out");
    let first = lite
        .next_delivery("s".into(), ttl)
        .await
        .expect("read")
        .expect("due");
    let attempt = AttemptRow {
        event_id: first.event_id.clone(),
        attempt: 1,
        at: 11,
        delivered: true,
        response_code: Some(204),
        error: None,
        duration_ms: 2,
    };
    lite.record_attempt(&first, attempt, AfterAttempt::Delivered)
        .await
        .expect("record");
    drop(lite);

    let src = rusqlite::Connection::open(dir.path().join(ats_gateway::config::SQLITE_FILE))
        .expect("open sqlite");
    let store = PgStore::connect(&pg.url(), 2, ttl).await.expect("pg");
    let copied = ats_gateway::store::postgres::webhooks::import_sqlite(&store, &src)
        .await
        .expect("import");
    assert_eq!(
        copied,
        vec![
            ("webhook_subscriptions", 2),
            ("webhook_outbox", 2),
            ("webhook_attempts", 1)
        ],
        "the delivered row stays behind, its log line comes along"
    );
    assert_eq!(store.fanout_cursor().await.expect("cursor"), 3);
    let subs = store.subscriptions(None).await.expect("subs");
    assert_eq!(subs.len(), 2);
    let t = subs.iter().find(|s| s.id == "t").expect("t");
    assert_eq!(t.secret, "sealed-2");
    assert_eq!(
        t.previous_secret,
        Some(ats_gateway::store::webhooks::PreviousSecret {
            secret: "sealed".into(),
            expires_at: 9_000
        })
    );
    let next = store
        .next_delivery("s".into(), ttl)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(next.event_id, "evt_2");
    // Importing again copies nothing twice.
    let again = ats_gateway::store::postgres::webhooks::import_sqlite(&store, &src)
        .await
        .expect("import again");
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}

#[tokio::test]
async fn new_subscriptions_start_after_the_newest_event_on_postgres() {
    let pg = start_pg().await;
    let s = PgStore::connect(&pg.url(), 2, Duration::from_secs(60))
        .await
        .expect("connect");
    crate::webhook_store::new_subscriptions_start_after_the_newest_event(&s).await;
}

#[tokio::test]
async fn a_failing_subscriptions_old_queue_is_purged_and_an_active_ones_is_not_on_postgres() {
    let pg = start_pg().await;
    let s = PgStore::connect(&pg.url(), 2, Duration::from_secs(60))
        .await
        .expect("connect");
    crate::webhook_store::a_failing_subscriptions_old_queue_is_purged_and_an_active_ones_is_not(&s)
        .await;
}

async fn raw_client(pg: &PgServer) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// Waits until some session waits for a lock; fails when `task` finished first (it did not wait).
async fn waits_for_a_lock<T>(
    probe: &tokio_postgres::Client,
    task: &tokio::task::JoinHandle<T>,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: bool = probe
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)",
                &[],
            )
            .await
            .expect("pg_locks")
            .get(0);
        if waiting {
            return;
        }
        assert!(!task.is_finished(), "{what} did not wait");
        assert!(Instant::now() < deadline, "{what} never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A creation during a fan-out pass waits for it (the cursor row's lock): the pass has read the
/// subscriptions, so one inserted before the pass commits would not be queued the events the pass
/// covers after its `from_seq`. Once the pass is done it starts after the newest event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_created_during_a_fan_out_pass_waits_for_it() {
    use crate::webhook_store::{fan_out_pass, new_sub, queued, record, rows_for};
    let pg = start_pg().await;
    let s = Arc::new(
        PgStore::connect(&pg.url(), 4, Duration::from_secs(60))
            .await
            .expect("connect"),
    );
    let probe = raw_client(&pg).await;
    let e1 = record(&*s).await;
    let events = vec![e1.clone()];
    let (inside, reached) = tokio::sync::oneshot::channel::<()>();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let pass = tokio::spawn({
        let s = s.clone();
        async move {
            let rows = Box::new(move |subs: &[_]| {
                let _ = inside.send(());
                // The pass holds here, inside its transaction, until the test lets it go on.
                let _ = tokio::task::block_in_place(|| wait.recv());
                rows_for(subs, &events)
            });
            s.fan_out(e1.seq, rows).await
        }
    });
    reached.await.expect("the pass read the subscriptions");
    let e2 = record(&*s).await;
    let create = tokio::spawn({
        let s = s.clone();
        async move {
            s.create_subscription(new_sub("mid", "acme-ats", 1), 5)
                .await
        }
    });
    waits_for_a_lock(&probe, &create, "the creation").await;
    go.send(()).expect("go on");
    assert_eq!(pass.await.expect("join").expect("pass"), 0);
    let mid = create
        .await
        .expect("join")
        .expect("create")
        .expect("created");
    assert_eq!(mid.from_seq, e2.seq);
    let e3 = record(&*s).await;
    assert_eq!(fan_out_pass(&*s).await, 1);
    assert_eq!(queued(&*s, &mid, &[&e1, &e2, &e3]).await, vec![e3.seq]);
}

/// The interleaving the review found, with the creation paused before its commit: it read the
/// newest event (e1) under the cursor row's lock and inserted; e2 is recorded; a fan-out pass
/// reads e2 and waits for the lock. It reads the subscriptions after it has the lock, so it
/// queues e2 for the subscription committed meanwhile (read before the lock, it would move the
/// cursor past e2 without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fan_out_pass_queues_a_subscription_committed_while_it_waited() {
    use crate::webhook_store::{fan_out_pass, queued, record, EVENT};
    let pg = start_pg().await;
    let s = Arc::new(
        PgStore::connect(&pg.url(), 4, Duration::from_secs(60))
            .await
            .expect("connect"),
    );
    let probe = raw_client(&pg).await;
    let e1 = record(&*s).await;
    assert_eq!(fan_out_pass(&*s).await, 0);
    // `create_subscription`'s statements, up to its commit.
    let mut creating = raw_client(&pg).await;
    let tx = creating.transaction().await.expect("begin");
    tx.query_one("SELECT seq FROM webhook_fanout WHERE id = 1 FOR SHARE", &[])
        .await
        .expect("lock");
    let from_seq: i64 = tx
        .query_one("SELECT last_seq FROM change_feed WHERE id = 1", &[])
        .await
        .expect("feed")
        .get(0);
    assert_eq!(from_seq, e1.seq);
    let events = serde_json::to_string(&[EVENT]).expect("json");
    tx.execute(
        "INSERT INTO webhook_subscriptions (id, partner, url, events, secret, status, from_seq, created_at)
         VALUES ('mid', 'acme-ats', 'https://x.example/h', $1, 'sealed', 'active', $2, 1)",
        &[&events, &from_seq],
    )
    .await
    .expect("insert");
    let e2 = record(&*s).await;
    let pass = tokio::spawn({
        let s = s.clone();
        async move { fan_out_pass(&*s).await }
    });
    waits_for_a_lock(&probe, &pass, "the fan-out pass").await;
    tx.commit().await.expect("commit");
    assert_eq!(pass.await.expect("join"), 1, "e2 for the new subscription");
    let mid = s
        .subscription(None, "mid".into())
        .await
        .expect("read")
        .expect("created");
    assert_eq!(queued(&*s, &mid, &[&e1, &e2]).await, vec![e2.seq]);
}

/// Every start deletes the subscriptions partners revoked by an older gateway left behind, with
/// their outbox rows and log; a config partner's made after its id was revoked, and a live
/// partner's, stay. Not a migration: the schema's version is untouched, so a rollback still
/// starts.
#[tokio::test]
async fn connecting_deletes_the_subscriptions_revoked_partners_left() {
    use crate::webhook_store::{cleaned, left_by_old_revocations, tombstones, webhook_state};
    let pg = start_pg().await;
    let ttl = Duration::from_secs(60);
    let s = PgStore::connect(&pg.url(), 2, ttl).await.expect("connect");
    let events = left_by_old_revocations(&s).await;
    let client = raw_client(&pg).await;
    client.batch_execute(&tombstones()).await.expect("revoked");
    let before: Vec<i64> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(s);
    let s = PgStore::connect(&pg.url(), 2, ttl)
        .await
        .expect("reconnect");
    assert_eq!(webhook_state(&s, &events).await, cleaned());
    let after: Vec<i64> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(after, before, "the cleanup is no migration");
}

/// `state migrate` from a file an older gateway's revocations left the same way copies none of
/// what a start deletes (`REVOKED_LEFTOVERS`).
#[tokio::test]
async fn state_migrate_leaves_revoked_partners_subscriptions_behind() {
    use crate::webhook_store::{cleaned, left_by_old_revocations, tombstones, webhook_state};
    use ats_gateway::store::sqlite::SqliteStore;
    let pg = start_pg().await;
    let dir = tempfile::tempdir().expect("dir");
    let ttl = Duration::from_secs(60);
    let lite = SqliteStore::open(dir.path(), ttl).expect("sqlite");
    let events = left_by_old_revocations(&lite).await;
    drop(lite);
    let src = rusqlite::Connection::open(dir.path().join(ats_gateway::config::SQLITE_FILE))
        .expect("open sqlite");
    src.execute(&tombstones(), []).expect("revoked");
    let store = PgStore::connect(&pg.url(), 2, ttl).await.expect("pg");
    let copied = ats_gateway::store::postgres::webhooks::import_sqlite(&store, &src)
        .await
        .expect("import");
    assert_eq!(
        copied,
        vec![
            ("webhook_subscriptions", 2),
            ("webhook_outbox", 4),
            ("webhook_attempts", 2)
        ]
    );
    assert_eq!(webhook_state(&store, &events).await, cleaned());
}

/// Due times, holds and claims are the database clock's, and no replica passes its own: a replica
/// whose clock ran an hour ahead used to pass that as its `now` and claim a retry an hour early.
/// Another replica here neither takes over a claim whose lease runs, nor claims a retry or a hold
/// before they end, and each is stored as the database's now plus its wait.
#[tokio::test]
async fn due_times_and_claims_are_the_database_clocks() {
    let pg = start_pg().await;
    let ttl = Duration::from_secs(60);
    let a = PgStore::connect(&pg.url(), 2, ttl).await.expect("a");
    let b = PgStore::connect(&pg.url(), 2, ttl).await.expect("b");
    let db = client(&pg).await;
    // How far the row's due time is from the database's now, in ms.
    let due_in = || async {
        db.query_one(
            "SELECT next_attempt_at - floor(extract(epoch FROM now()) * 1000)::bigint FROM webhook_outbox",
            &[],
        )
        .await
        .expect("due")
        .get::<_, i64>(0)
    };
    a.create_subscription(sub("s"), 2).await.expect("create");
    a.fan_out(1, given(vec![outbox("s", 1)]))
        .await
        .expect("fan out");
    assert!(due_in().await <= 0, "queued due now");
    let claimed = a
        .next_delivery("s".into(), ttl)
        .await
        .expect("claim")
        .expect("due");
    assert!(
        b.next_delivery("s".into(), ttl)
            .await
            .expect("claim")
            .is_none(),
        "a live claim taken over"
    );
    assert!(b.due_subscriptions().await.expect("due").is_empty());

    let wait = Duration::from_secs(60);
    assert!(a
        .record_attempt(
            &claimed,
            failed_attempt(&claimed, 11),
            AfterAttempt::RetryAfter(wait)
        )
        .await
        .expect("record"));
    assert!((55_000..=60_000).contains(&due_in().await));
    assert!(b.due_subscriptions().await.expect("due").is_empty());
    assert!(
        b.next_delivery("s".into(), ttl)
            .await
            .expect("claim")
            .is_none(),
        "a retry claimed before it is due"
    );
    let (next, pending) = b.outbox_summary().await.expect("summary");
    assert_eq!(pending, 1);
    assert!(
        next.is_some_and(|n| n > wait - Duration::from_secs(5) && n <= wait),
        "{next:?}"
    );

    b.hold_subscription("s".into(), HOUR).await.expect("hold");
    assert!((HOUR_MS - 5_000..=HOUR_MS).contains(&due_in().await));
    assert!(a
        .next_delivery("s".into(), ttl)
        .await
        .expect("claim")
        .is_none());
}
