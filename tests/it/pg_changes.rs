//! The changes feed on Postgres: replicas on one database and one emulator scan one at a time under
//! a lease with a fencing token, a dead leader's scans resume on another replica within two
//! intervals, the sequence stays gap-free and unique across the takeover, a stale leader cannot
//! record, and an outage pauses the scanner without losing anything.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ats_gateway::changes::event::{Action, Event, EventType, NewEvent, ResourceType};
use ats_gateway::config::SecretString;
use ats_gateway::store::changes::{ChangeStore, Fingerprint, Known, ScanRecord};
use ats_gateway::store::postgres::PgStore;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::changes::{a_request, hr_token, patch};
use crate::common::postgres::PgServer;
use crate::common::{emulator, spawn_replica, Emu, Replica};

const RR: &str = "mshr_hcmrecruitingrequestentities";
const STATUS_ACTIVE: i64 = 200_000_005;

async fn pg_server() -> PgServer {
    tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg")
}

async fn store(pg: &PgServer) -> PgStore {
    PgStore::connect(&pg.url(), 4, Duration::from_secs(60))
        .await
        .expect("connect")
}

/// A plain client on the test database, for what the test checks behind the gateway's back.
async fn sql(pg: &PgServer) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

fn ev(company: &str, action: Action) -> NewEvent {
    let id = Uuid::new_v4();
    NewEvent {
        event_type: EventType::new(ResourceType::RecruitingRequest, action),
        resource_id: id,
        company: company.into(),
        data: json!({"id": id, "company": company, "b": 1, "a": 2}),
        changed_fields: (action == Action::Updated).then(|| vec!["/description".into()]),
        from: None,
        to: None,
    }
}

fn fp(id: Uuid, hash: &str) -> Fingerprint {
    Fingerprint {
        resource: ResourceType::Candidate,
        id,
        known: Known {
            hash: hash.into(),
            company: "usmf".into(),
            data: json!({"id": id, "z": hash, "a": [1, 2]}),
        },
    }
}

fn seqs(v: &[Event]) -> Vec<i64> {
    v.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn the_postgres_feed_records_reads_filters_and_purges_as_the_embedded_one() {
    let pg = pg_server().await;
    let s = store(&pg).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(
        s.baseline(ResourceType::Candidate).await.expect("baseline"),
        None
    );
    let first = ScanRecord {
        upserts: vec![fp(a, "1"), fp(b, "1"), fp(a, "0")],
        baselined: vec![(ResourceType::Candidate, 1)],
        ..Default::default()
    };
    assert!(s.record_scan(first).await.expect("record").is_empty());
    assert_eq!(
        s.baseline(ResourceType::Candidate).await.expect("baseline"),
        Some(1)
    );
    assert_eq!(
        s.baseline(ResourceType::RecruitingRequest)
            .await
            .expect("baseline"),
        None
    );

    // A newer representation's baseline replaces the version; an older one never lowers it.
    for (recorded, after) in [(3, 3), (2, 3)] {
        s.record_scan(ScanRecord {
            baselined: vec![(ResourceType::RecruitingRequest, recorded)],
            ..Default::default()
        })
        .await
        .expect("record");
        assert_eq!(
            s.baseline(ResourceType::RecruitingRequest)
                .await
                .expect("baseline"),
            Some(after)
        );
    }
    let known = s
        .known(ResourceType::Candidate, &[a, b, Uuid::new_v4()])
        .await
        .expect("known");
    assert_eq!(known.len(), 2);
    assert_eq!(known[&a].hash, "0", "the last upsert of an id wins");
    assert_eq!(known[&a].data, fp(a, "0").known.data);
    assert_eq!(
        serde_json::to_string(&known[&a].data).expect("json"),
        serde_json::to_string(&fp(a, "0").known.data).expect("json"),
        "the representation keeps its key order"
    );

    let second = ScanRecord {
        removals: vec![(ResourceType::Candidate, b)],
        events: ["usmf", "NOMF", "gbsi", "nomf"]
            .into_iter()
            .map(|c| ev(c, Action::Updated))
            .collect(),
        ..Default::default()
    };
    let recorded = s.record_scan(second.clone()).await.expect("record");
    assert_eq!(seqs(&recorded), [1, 2, 3, 4]);
    assert_eq!(
        s.known_ids(ResourceType::Candidate).await.expect("ids"),
        vec![a]
    );
    let read = s.events_after(0, 10).await.expect("events");
    assert_eq!(read, recorded, "read back exactly as recorded");
    assert_eq!(
        serde_json::to_string(&read[0]).expect("json"),
        serde_json::to_string(&recorded[0]).expect("json")
    );
    assert_eq!(s.events_after(2, 1).await.expect("events"), recorded[2..3]);
    assert_eq!(
        s.event(3).await.expect("event").as_ref(),
        Some(&recorded[2])
    );
    let nomf = vec!["nomf".to_string()];
    assert_eq!(
        seqs(&s.events_of(0, i64::MAX, &nomf, 10).await.expect("read")),
        [2, 4],
        "case does not matter"
    );
    assert_eq!(
        seqs(&s.events_of(0, 3, &nomf, 10).await.expect("read")),
        [2]
    );
    let two = vec!["GBSI".to_string(), "usmf".to_string()];
    assert_eq!(
        seqs(&s.events_of(0, i64::MAX, &two, 1).await.expect("read")),
        [1]
    );
    assert_eq!(
        seqs(&s.events_of(1, i64::MAX, &two, 10).await.expect("read")),
        [3]
    );
    assert_eq!(s.events_of(0, 4, &[], 10).await.expect("read").len(), 4);

    // The company page reads the `(lower(company), seq)` index.
    let db = sql(&pg).await;
    db.batch_execute("SET enable_seqscan = off")
        .await
        .expect("set");
    let plan: Vec<String> = db
        .query(
            "EXPLAIN SELECT seq FROM unnest(ARRAY['nomf']) AS wanted (name),
             LATERAL (SELECT seq FROM change_events e WHERE lower(e.company) = wanted.name
                      AND e.seq > 0 AND e.seq <= 10 ORDER BY lower(e.company), e.seq LIMIT 5) p",
            &[],
        )
        .await
        .expect("explain")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("change_events_company")),
        "{plan:#?}"
    );

    let past = chrono::Utc::now().timestamp_millis() - 3_600_000;
    assert_eq!(s.purge_events_before(past).await.expect("purge"), 0);
    let future = chrono::Utc::now().timestamp_millis() + 60_000;
    assert_eq!(s.purge_events_before(future).await.expect("purge"), 4);
    let bounds = s.feed_bounds().await.expect("bounds");
    assert_eq!((bounds.purged_through, bounds.last_seq), (4, 4));
    let later = s.record_scan(second).await.expect("record");
    assert_eq!(seqs(&later), [5, 6, 7, 8], "never reused, no gap");
}

#[tokio::test]
async fn a_stale_leader_cannot_record_and_its_refusal_leaves_no_gap() {
    let pg = pg_server().await;
    let (a, b) = (store(&pg).await, store(&pg).await);
    let ttl = Duration::from_millis(300);
    let la = a.scan_lease(ttl).await.expect("lease a");
    let ta = la.token.expect("a free lease is taken");
    assert_eq!(b.scan_lease(ttl).await.expect("lease b").token, None);
    assert_eq!(
        a.scan_lease(ttl).await.expect("renew").token,
        Some(ta),
        "renewed, same token"
    );
    let scan = |fence| ScanRecord {
        events: vec![ev("usmf", Action::Created)],
        upserts: vec![fp(Uuid::new_v4(), "1")],
        fence: Some(fence),
        ..Default::default()
    };
    assert_eq!(
        seqs(&a.record_scan(scan(ta)).await.expect("a records")),
        [1]
    );
    // `a` stalls (no renewal): `b` takes the lease once it expired, with the next token.
    let started = Instant::now();
    let tb = loop {
        if let Some(t) = b.scan_lease(ttl).await.expect("lease b").token {
            break t;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(tb > ta, "{tb} after {ta}");
    // The stale leader wakes up: its scan is refused, whole.
    let stale = scan(ta);
    let err = a.record_scan(stale.clone()).await.expect_err("refused");
    assert!(err.to_string().contains("lease"), "{err}");
    assert!(a
        .known(ResourceType::Candidate, &[stale.upserts[0].id])
        .await
        .expect("known")
        .is_empty());
    assert_eq!(a.scan_lease(ttl).await.expect("lease a").token, None);
    // The scanner's spending travels with the lease: the next leader's window starts from it.
    assert_eq!(
        seqs(
            &b.record_scan(ScanRecord {
                window_calls: 37,
                ..scan(tb)
            })
            .await
            .expect("b records")
        ),
        [2]
    );
    assert_eq!(seqs(&a.events_after(0, 10).await.expect("events")), [1, 2]);
    // Released at shutdown: the other replica takes it at once.
    b.release_scan_lease(tb).await.expect("release");
    let tc = a
        .scan_lease(ttl)
        .await
        .expect("lease a")
        .token
        .expect("taken");
    assert!(tc > tb);
    let lease = a.scan_lease(ttl).await.expect("lease a");
    assert!(lease
        .since_scan
        .is_some_and(|d| d < Duration::from_secs(60)));
    assert_eq!(lease.last_seq, 2);
    assert_eq!(
        lease.window_calls, 37,
        "the previous leader's calls in its window"
    );
}

#[tokio::test]
async fn the_embedded_feed_copies_into_postgres_with_its_sequence() {
    let dir = tempfile::tempdir().expect("dir");
    let sq = ats_gateway::store::sqlite::SqliteStore::open(dir.path(), Duration::from_secs(60))
        .expect("sqlite");
    let a = Uuid::new_v4();
    sq.record_scan(ScanRecord {
        upserts: vec![fp(a, "1"), fp(Uuid::new_v4(), "2")],
        events: vec![ev("usmf", Action::Created), ev("nomf", Action::Created)],
        baselined: vec![(ResourceType::Candidate, 1)],
        ..Default::default()
    })
    .await
    .expect("record");
    // Retention removed the first two: the copy keeps the bounds, and seq 3 stays seq 3.
    let future = chrono::Utc::now().timestamp_millis() + 60_000;
    assert_eq!(sq.purge_events_before(future).await.expect("purge"), 2);
    let kept = sq
        .record_scan(ScanRecord {
            events: vec![ev("usmf", Action::Updated)],
            ..Default::default()
        })
        .await
        .expect("record");
    let (events, bounds) = (
        sq.events_after(0, 10).await.expect("events"),
        sq.feed_bounds().await.expect("bounds"),
    );
    assert_eq!(seqs(&kept), [3]);
    drop(sq);
    let pg = pg_server().await;
    let s = store(&pg).await;
    let copied = {
        let src =
            rusqlite::Connection::open(dir.path().join(ats_gateway::store::sqlite::FILE_NAME))
                .expect("open");
        ats_gateway::store::postgres::changes::import_sqlite(&s, &src)
            .await
            .expect("import")
    };
    assert_eq!(
        copied,
        [
            ("change_fingerprints", 2),
            ("change_events", 1),
            ("change_baselines", 1)
        ]
    );
    assert_eq!(s.events_after(0, 10).await.expect("events"), events);
    assert_eq!(s.feed_bounds().await.expect("bounds"), bounds);
    assert_eq!(
        s.baseline(ResourceType::Candidate).await.expect("baseline"),
        Some(1)
    );
    assert_eq!(
        s.known(ResourceType::Candidate, &[a]).await.expect("known")[&a],
        fp(a, "1").known
    );
    let next = s
        .record_scan(ScanRecord {
            events: vec![ev("usmf", Action::Updated)],
            ..Default::default()
        })
        .await
        .expect("record");
    assert_eq!(seqs(&next), [4], "the sequence continues");
    let src = rusqlite::Connection::open(dir.path().join(ats_gateway::store::sqlite::FILE_NAME))
        .expect("open");
    let again = ats_gateway::store::postgres::changes::import_sqlite(&s, &src).await;
    assert!(again.is_err(), "never into a feed that has events");
}

// ------------------------------------------------------------------ replicas

const INTERVAL: Duration = Duration::from_millis(1_500);

async fn cluster(emu: &Emu, url: &str, n: usize) -> Vec<Replica> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            spawn_replica(emu, |c| {
                c.state.url = SecretString::new(url);
                c.changes.scan_interval_ms = Some(INTERVAL.as_millis() as u64);
                c.changes.max_budget_share = 1.0;
            })
            .await,
        );
    }
    out
}

/// Polls `check` every 20 ms until it answers, for at most `limit`.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The lease row: holder, token, and whether the last recorded scan is newer than `after`.
async fn lease(db: &tokio_postgres::Client) -> (Option<Uuid>, i64, Option<f64>) {
    let r = db
        .query_one(
            "SELECT holder, token, extract(epoch FROM scanned_at)::float8 FROM change_scan_lease",
            &[],
        )
        .await
        .expect("lease");
    (r.get(0), r.get(1), r.get(2))
}

/// The Dataverse calls of scans among `log`, per scan: a scan has a trace of its own and starts
/// with the first page of recruiting requests in id order (other calls have traces of their own).
fn scan_traces(log: &[Value]) -> HashMap<String, usize> {
    let trace = |e: &Value| {
        e["traceparent"]
            .as_str()
            .and_then(|t| t.split('-').nth(1))
            .map(str::to_string)
    };
    let scans: HashSet<String> = log
        .iter()
        .filter(|e| {
            let target = e["target"].as_str().unwrap_or("").to_lowercase();
            target.contains(RR)
                && target.contains("mshr_recruitingrequestid")
                && !target.contains("skiptoken")
        })
        .filter_map(trace)
        .collect();
    let mut out = HashMap::new();
    for t in log.iter().filter_map(trace).filter(|t| scans.contains(t)) {
        *out.entry(t).or_insert(0) += 1;
    }
    out
}

/// Entries of `now` after the last one of `before` (the log is bounded: matched by the
/// emulator's unique request id, not by position).
fn since(before: &[Value], now: Vec<Value>) -> Vec<Value> {
    let Some(last) = before.last().map(|e| e["service_request_id"].clone()) else {
        return now;
    };
    match now.iter().position(|e| e["service_request_id"] == last) {
        Some(i) => now[i + 1..].to_vec(),
        None => now,
    }
}

/// Events recorded for `id`.
async fn events_for(db: &tokio_postgres::Client, id: Uuid) -> i64 {
    db.query_one(
        "SELECT count(*) FROM change_events WHERE resource_id = $1",
        &[&id],
    )
    .await
    .expect("count")
    .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_scan_once_per_interval_and_a_dead_leaders_scans_resume_within_two_intervals() {
    let pg = pg_server().await;
    let emu = emulator().await;
    let client = sql(&pg).await;
    let (db, emu) = (&client, &emu);
    let replicas = cluster(emu, &pg.url(), 3).await;
    let ids: Vec<Uuid> = replicas
        .iter()
        .map(|r| {
            r.gateway
                .state
                .postgres
                .as_ref()
                .expect("postgres")
                .replica()
        })
        .collect();
    // The baseline (one replica's first scan, an interval after start).
    until(Duration::from_secs(30), "baseline", move || async move {
        let n: i64 = db
            .query_one("SELECT count(*) FROM change_baselines", &[])
            .await
            .expect("count")
            .get(0);
        (n == 2).then_some(())
    })
    .await;

    // Steady state: four scans in the cluster take at least three intervals (three replicas
    // scanning each would take one).
    let before = emu.requests().await;
    let before = &before;
    let started = Instant::now();
    let traces = until(Duration::from_secs(30), "four scans", move || async move {
        let t = scan_traces(&since(before, emu.requests().await));
        (t.len() >= 4).then_some(t)
    })
    .await;
    let took = started.elapsed();
    assert!(
        took >= INTERVAL * 3 - INTERVAL / 5,
        "4 scans in {took:?}: more than one replica scans"
    );
    let (holder, token, _) = lease(db).await;
    let leader = ids
        .iter()
        .position(|id| Some(*id) == holder)
        .expect("a replica holds the lease");
    let per_interval = traces.len() as f64 / (took.as_secs_f64() / INTERVAL.as_secs_f64());
    println!(
        "steady state: {} scans in {took:?} ({per_interval:.2} per interval), Dataverse calls per scan {:?}, lease token {token}",
        traces.len(),
        traces.values().collect::<Vec<_>>()
    );

    // The cost of one scan, on the leader: no scan in the cluster called more than it.
    let report = replicas[leader]
        .gateway
        .state
        .changes
        .scan_now()
        .await
        .expect("scanner runs");
    assert!(report.complete(), "{report:?}");
    println!(
        "one scan without changes: {} Postgres statements, {} Dataverse calls",
        report.store_queries, report.upstream_calls
    );
    assert!(
        report.store_queries > 0 && report.store_queries <= 12,
        "{report:?}"
    );
    assert!(
        traces
            .values()
            .all(|n| *n <= report.upstream_calls as usize),
        "a scan called more than one replica's scan: {traces:?} vs {}",
        report.upstream_calls
    );
    // A follower asked to scan says who does.
    let follower = (leader + 1) % replicas.len();
    let r = replicas[follower]
        .gateway
        .state
        .changes
        .scan_now()
        .await
        .expect("scanner runs");
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("another replica")),
        "{r:?}"
    );

    // HR edits a request; the leader records it.
    let hr = hr_token(emu).await;
    let integration = emu.token().await;
    let id = a_request(emu, &integration, "usmf", STATUS_ACTIVE).await;
    let uuid: Uuid = id.parse().expect("uuid");
    let edit = |n: u32| {
        let (hr, id) = (&hr, &id);
        async move {
            let body = json!({"mshr_description": format!("edit {n}")});
            let (s, v) = patch(emu, RR, id, hr, body).await;
            assert_eq!(s, 204, "{v}");
        }
    };
    edit(1).await;
    until(
        Duration::from_secs(30),
        "the first edit's event",
        move || async move { (events_for(db, uuid).await == 1).then_some(()) },
    )
    .await;

    // The leader dies (its scanner aborted: no release); HR edits again.
    let killed_at: f64 = db
        .query_one("SELECT extract(epoch FROM now())::float8", &[])
        .await
        .expect("now")
        .get(0);
    let killed = Instant::now();
    replicas[leader]
        .gateway
        .scanner
        .as_ref()
        .expect("scanner")
        .abort();
    edit(2).await;
    let new_token = until(Duration::from_secs(30), "a takeover", move || async move {
        let (h, t, _) = lease(db).await;
        (h.is_some() && h != holder).then_some(t)
    })
    .await;
    let takeover = killed.elapsed();
    assert!(new_token > token);
    until(
        Duration::from_secs(30),
        "a scan by the new leader",
        move || async move {
            let (_, _, at) = lease(db).await;
            at.is_some_and(|at| at > killed_at).then_some(())
        },
    )
    .await;
    let resumed = killed.elapsed();
    println!(
        "failover: lease taken {takeover:?}, first scan recorded {resumed:?} after the leader died (interval {INTERVAL:?})"
    );
    assert!(resumed <= INTERVAL * 2, "scans resumed after {resumed:?}");
    until(
        Duration::from_secs(30),
        "the second edit's event",
        move || async move { (events_for(db, uuid).await == 2).then_some(()) },
    )
    .await;

    // One more scan on the new leader: nothing is recorded twice.
    let seen = lease(db).await.2;
    until(
        Duration::from_secs(30),
        "another scan",
        move || async move { (lease(db).await.2 > seen).then_some(()) },
    )
    .await;
    assert_eq!(events_for(db, uuid).await, 2, "each edit is one event");
    let all: Vec<i64> = db
        .query("SELECT seq FROM change_events ORDER BY seq", &[])
        .await
        .expect("events")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i64> = (1..=all.len() as i64).collect();
    assert_eq!(all, expected, "one sequence, no gap, no repeat");
    let feed: Vec<String> = replicas[follower]
        .gateway
        .state
        .changes
        .store()
        .events_after(0, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    let unique: HashSet<&String> = feed.iter().collect();
    assert_eq!(unique.len(), feed.len(), "no event id twice: {feed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_postgres_the_scanner_pauses_and_resumes_losing_nothing() {
    let mut pg = pg_server().await;
    let emu = emulator().await;
    let url = pg.url();
    let r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(url.as_str());
        // Scans only when asked.
        c.changes.scan_interval_ms = Some(3_600_000);
        c.changes.max_budget_share = 1.0;
    })
    .await;
    let changes = r.gateway.state.changes.clone();
    let scan = || {
        let changes = changes.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(60), changes.scan_now())
                .await
                .expect("scan answers")
                .expect("scanner runs")
        }
    };
    assert!(scan().await.complete(), "baseline");
    let hr = hr_token(&emu).await;
    let integration = emu.token().await;
    let id = a_request(&emu, &integration, "usmf", STATUS_ACTIVE).await;
    let (s, v) = patch(&emu, RR, &id, &hr, json!({"mshr_description": "before"})).await;
    assert_eq!(s, 204, "{v}");
    let before = scan().await;
    assert_eq!(before.events.len(), 1, "{before:?}");

    pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .expect("stop");
    let (s, v) = patch(&emu, RR, &id, &hr, json!({"mshr_description": "during"})).await;
    assert_eq!(s, 204, "{v}");
    let paused = scan().await;
    assert!(
        paused
            .error
            .as_deref()
            .is_some_and(|e| e.contains("does not answer")),
        "{paused:?}"
    );
    let metrics = reqwest::get(format!("{}/metrics", r.ops_url))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("changes_scan_paused 1"), "{metrics}");

    let _pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .expect("restart");
    let after = until(Duration::from_secs(30), "a scan after the outage", || {
        let scan = scan();
        async move {
            let r = scan.await;
            r.complete().then_some(r)
        }
    })
    .await;
    assert_eq!(
        after.events.len(),
        1,
        "the edit made during the outage: {after:?}"
    );
    let all = changes.store().events_after(0, 10).await.expect("events");
    assert_eq!(seqs(&all), [before.events[0].seq, after.events[0].seq]);
    assert_eq!(
        all[0], before.events[0],
        "what was recorded before the outage is kept"
    );
    assert_eq!(after.events[0].seq, before.events[0].seq + 1);
}

/// A graceful stop waits for the scanner to release its lease (even while the lease row is
/// busy), so another replica can take scanning over at once rather than when the lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_releases_the_scan_lease_before_it_ends() {
    let pg = pg_server().await;
    let emu = emulator().await;
    let client = sql(&pg).await;
    let db = &client;
    let mut r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(pg.url().as_str());
        c.state.timeout_ms = 5_000;
        c.changes.scan_interval_ms = Some(INTERVAL.as_millis() as u64);
    })
    .await;
    let me = r
        .gateway
        .state
        .postgres
        .as_ref()
        .expect("postgres")
        .replica();
    until(
        Duration::from_secs(30),
        "the lease held",
        move || async move { (lease(db).await.0 == Some(me)).then_some(()) },
    )
    .await;

    // Another session holds the lease row: the release waits behind it.
    let (mut locker, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let lock = locker.transaction().await.expect("begin");
    lock.batch_execute("SELECT * FROM change_scan_lease WHERE id = 1 FOR UPDATE")
        .await
        .expect("lock");
    r.gateway.shutdown.cancel();
    let early = tokio::time::timeout(Duration::from_millis(500), &mut r.gateway.task).await;
    assert!(early.is_err(), "the stop waits for the lease's release");
    lock.commit().await.expect("unlock");
    tokio::time::timeout(Duration::from_secs(20), &mut r.gateway.task)
        .await
        .expect("the stop ends once the lease is released")
        .expect("gateway task");
    // Read at once after the stop: the lease has expired (released), held by no one alive.
    let expired: bool = db
        .query_one(
            "SELECT expires_at <= now() FROM change_scan_lease WHERE id = 1",
            &[],
        )
        .await
        .expect("lease")
        .get(0);
    assert!(expired, "released by the stop");
}
