//! Hires with `[state] url = "postgres://…"`: idempotency and write plans shared by replicas. One
//! key sent to three replicas at once runs once; a plan whose replica died is finished by another
//! once its lease expired (the old holder can no longer journal); Postgres away → hires 503 with
//! `Retry-After`, reads 200, hires again after its restart; `import_sqlite` copies a single
//! replica's live records and open plans.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::poll;
use crate::common::postgres::PgServer;
use crate::common::proxy::TcpProxy;
use crate::common::{emulator, gateway_config, spawn_replica, Emu};
use ats_gateway::config::SecretString;
use ats_gateway::store::postgres::PgStore;
use ats_gateway::store::sqlite::SqliteStore;
use ats_gateway::store::{Begin, Outcome, PlanRecord, PlanUpdate, StoreError, WriteStore};
use serde_json::{json, Value};
use uuid::Uuid;

const CANDIDATES: &str = "mshr_hcmcandidatetohireentities";
const PERSONS: &str = "mshr_dirpersonentities";
const CONTACTS: &str = "mshr_dirpartycontactentities";

async fn pg_server() -> PgServer {
    tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg")
}

async fn store(pg: &PgServer, lease: Duration) -> PgStore {
    PgStore::connect(&pg.url(), 4, Duration::from_secs(3600))
        .await
        .expect("connect")
        .with_lease(lease)
}

async fn sql(pg: &PgServer) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

fn plan(key: &str) -> PlanRecord {
    PlanRecord {
        id: Uuid::new_v4(),
        partner: "p".into(),
        key: key.into(),
        open: true,
        doc: json!({"phase": "running"}),
        steps: vec![json!({"n": 0}), json!({"n": 1})],
    }
}

/// A hire under `partner`/`key` (begun by `s`) whose plan closes completed with `outcome`: the
/// one way a key's outcome is recorded.
async fn hired(s: &dyn WriteStore, partner: &str, key: &str, outcome: &Outcome) {
    let p = PlanRecord {
        partner: partner.into(),
        ..plan(key)
    };
    s.save_plan(&p).await.expect("save");
    s.save_progress(&PlanUpdate {
        id: p.id,
        plan: Some((false, json!({"phase": "completed"}))),
        step: None,
        outcome: Some(outcome.clone()),
    })
    .await
    .expect("finish");
}

fn step(id: Uuid, n: usize) -> PlanUpdate {
    PlanUpdate {
        id,
        plan: None,
        step: Some((n, json!({"n": n, "done": true}))),
        outcome: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_keeps_the_embedded_stores_semantics() {
    let pg = pg_server().await;
    let s = store(&pg, Duration::from_secs(30)).await;
    assert_eq!(
        s.begin("a", "k", "f1").await.expect("begin"),
        Begin::Started
    );
    assert_eq!(
        s.begin("a", "k", "f1").await.expect("begin"),
        Begin::InFlight
    );
    assert_eq!(
        s.begin("a", "k", "f2").await.expect("begin"),
        Begin::Mismatch
    );
    assert_eq!(
        s.begin("b", "k", "f2").await.expect("begin"),
        Begin::Started
    );
    let outcome = Outcome {
        status: 201,
        location: Some("/v1/candidates/x".into()),
        resource_id: Some(Uuid::new_v4()),
        body: None,
    };
    hired(&s, "a", "k", &outcome).await;
    assert_eq!(
        s.begin("a", "k", "f1").await.expect("begin"),
        Begin::Replay(outcome)
    );
    assert!(s.release("b", "k").await.expect("release"));
    assert_eq!(
        s.begin("b", "k", "f3").await.expect("begin"),
        Begin::Started
    );

    let p = plan("b-plan");
    s.begin("p", "b-plan", "f").await.expect("begin");
    s.save_plan(&p).await.expect("save");
    s.save_progress(&step(p.id, 1)).await.expect("progress");
    let open = s.open_plans().await.expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].steps,
        vec![json!({"n": 0}), json!({"n": 1, "done": true})],
        "one step rewritten, in place"
    );
    s.save_progress(&PlanUpdate {
        id: p.id,
        plan: Some((false, json!({"phase": "undone"}))),
        step: None,
        outcome: None,
    })
    .await
    .expect("close");
    assert!(s.open_plans().await.expect("open").is_empty());
    let left: i64 = sql(&pg)
        .await
        .query_one("SELECT count(*) FROM plan_steps", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(left, 0, "a closed plan keeps no step (nor its body)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_begun_on_three_replicas_at_once_starts_once() {
    let pg = pg_server().await;
    let stores = [
        store(&pg, Duration::from_secs(30)).await,
        store(&pg, Duration::from_secs(30)).await,
        store(&pg, Duration::from_secs(30)).await,
    ];
    for round in 0..30 {
        let key = format!("key-{round}");
        let (a, b, c) = tokio::join!(
            stores[0].begin("p", &key, "f"),
            stores[1].begin("p", &key, "f"),
            stores[2].begin("p", &key, "f"),
        );
        let started = [a, b, c]
            .into_iter()
            .map(|r| r.expect("begin"))
            .filter(|r| *r == Begin::Started)
            .count();
        assert_eq!(started, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_and_the_old_holder_can_no_longer_journal() {
    let pg = pg_server().await;
    let lease = Duration::from_secs(1);
    let (a, b) = (store(&pg, lease).await, store(&pg, lease).await);

    // A plan A runs and renews is not B's to take.
    let p = plan("k1");
    assert_eq!(
        a.begin("p", "k1", "f").await.expect("begin"),
        Begin::Started
    );
    a.save_plan(&p).await.expect("save");
    assert!(b.claim_expired(None).await.expect("claim").is_empty());
    a.renew(&[p.id], &[("p".into(), "k1".into())])
        .await
        .expect("renew");
    assert_eq!(
        b.begin("p", "k1", "f").await.expect("begin"),
        Begin::InFlight
    );

    // A stops renewing (it died): after the lease B claims the plan, with its steps, once.
    let bs = &b;
    let (claimed, took) = poll::within(
        Duration::from_secs(10),
        "B claims the plan",
        move || async move {
            let claimed = bs.claim_expired(None).await.expect("claim");
            (!claimed.is_empty()).then_some(claimed)
        },
    )
    .await;
    assert!(
        took >= Duration::from_millis(500),
        "not before the lease: {took:?}"
    );
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, p.id);
    assert_eq!(claimed[0].steps.len(), 2);
    assert!(
        a.claim_expired(None).await.expect("claim").is_empty(),
        "claimed once: B's now"
    );
    // A woke up: fenced, it can neither journal nor release the key B now holds.
    assert!(a.save_progress(&step(p.id, 0)).await.is_err());
    a.release("p", "k1").await.expect("release is a no-op");
    assert_eq!(
        b.begin("p", "k1", "f").await.expect("begin"),
        Begin::InFlight
    );
    b.save_progress(&step(p.id, 0)).await.expect("B journals");

    // A key whose request died before a plan: released once its lease expired…
    assert_eq!(
        a.begin("p", "k2", "f").await.expect("begin"),
        Begin::Started
    );
    assert_eq!(b.release_orphans().await.expect("orphans"), 0, "lease live");
    poll::within(
        Duration::from_secs(10),
        "the orphan key is released",
        move || async move { (bs.release_orphans().await.expect("orphans") == 1).then_some(()) },
    )
    .await;
    // …or taken over by a retry; its first holder then cannot save a plan under it.
    assert_eq!(
        a.begin("p", "k3", "f").await.expect("begin"),
        Begin::Started
    );
    poll::within(
        Duration::from_secs(10),
        "a retry takes the key over",
        move || async move {
            (bs.begin("p", "k3", "f").await.expect("begin") == Begin::Started).then_some(())
        },
    )
    .await;
    assert!(matches!(
        a.save_plan(&plan("k3")).await,
        Err(StoreError::Unavailable(_))
    ));
}

async fn token(http: &reqwest::Client, url: &str) -> String {
    let resp = http
        .post(format!("{url}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "acme-ats"),
            ("client_secret", "acme-demo-secret"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

async fn hire(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> (u16, Option<String>, Value) {
    let resp = http
        .post(format!("{url}/v1/candidates"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

async fn request_number(emu: &Emu, dv: &str) -> String {
    let (status, v) = emu
        .get_json(
            "mshr_hcmrecruitingrequestentities?$select=mshr_recruitingrequestid&$top=1&$filter=mshr_dataareaid eq 'usmf'",
            dv,
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v["value"][0]["mshr_recruitingrequestid"]
        .as_str()
        .expect("request")
        .to_string()
}

async fn counts(emu: &Emu, dv: &str) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for set in [CANDIDATES, PERSONS, CONTACTS] {
        let resp = emu.get(&format!("{set}/$count"), dv, None).await;
        assert_eq!(resp.status(), 200, "{set}/$count");
        let n = resp.text().await.expect("count").trim().parse().expect("n");
        out.insert(set, n);
    }
    out
}

async fn candidate_count(emu: &Emu, dv: &str) -> i64 {
    let resp = emu.get(&format!("{CANDIDATES}/$count"), dv, None).await;
    resp.text().await.expect("count").trim().parse().expect("n")
}

/// POSTs to the contacts set the emulator answered (its request log).
async fn contact_posts(emu: &Emu) -> usize {
    let log: Value = emu
        .http
        .get(emu.url("/_sandbox/requests"))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    log.as_array().map_or(0, |entries| {
        entries
            .iter()
            .filter(|e| {
                e["method"] == "POST" && e["target"].as_str().is_some_and(|t| t.contains(CONTACTS))
            })
            .count()
    })
}

fn diff(before: &BTreeMap<&'static str, i64>, after: &BTreeMap<&'static str, i64>) -> Vec<i64> {
    after
        .iter()
        .map(|(k, v)| v - before.get(k).copied().unwrap_or(0))
        .collect()
}

fn body(request: &str, email: &str) -> Value {
    json!({"recruiting_request": request, "status": "hired",
        "person": {"first_name": "Rita", "last_name": "Replica",
            "contacts": [{"type": "email_address", "locator": email, "is_primary": true}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_sent_to_three_replicas_at_once_hires_once() {
    let pg = pg_server().await;
    let url = pg.url();
    let emu = emulator().await;
    let dv = emu.token().await;
    let request = request_number(&emu, &dv).await;
    let on_pg = |c: &mut ats_gateway::config::Config| c.state.url = SecretString::new(url.as_str());
    let (a, b, c) = tokio::join!(
        spawn_replica(&emu, on_pg),
        spawn_replica(&emu, on_pg),
        spawn_replica(&emu, on_pg)
    );
    let http = reqwest::Client::new();
    let replicas = [a.url.clone(), b.url.clone(), c.url.clone()];
    let mut tokens = Vec::new();
    for r in &replicas {
        tokens.push(token(&http, r).await);
    }
    let before = counts(&emu, &dv).await;
    let key = Uuid::new_v4().to_string();
    let body = body(&request, "rita@three.example");
    let (ra, rb, rc) = tokio::join!(
        hire(&http, &replicas[0], &tokens[0], &key, &body),
        hire(&http, &replicas[1], &tokens[1], &key, &body),
        hire(&http, &replicas[2], &tokens[2], &key, &body),
    );
    let mut ids = Vec::new();
    for (status, _, v) in [&ra, &rb, &rc] {
        assert!(*status == 201 || *status == 409, "{status} {v}");
        if *status == 201 {
            ids.push(v["id"].as_str().expect("id").to_string());
        }
    }
    assert!(!ids.is_empty(), "one of them hired: {ra:?} {rb:?} {rc:?}");
    // Every replica replays the one outcome.
    for (r, t) in replicas.iter().zip(&tokens) {
        let (status, _, v) = hire(&http, r, t, &key, &body).await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["id"].as_str().expect("id").to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        diff(&before, &counts(&emu, &dv).await),
        vec![1, 1, 1],
        "one candidate, person and contact"
    );
}

/// A replica in a runtime of its own, so the test can kill it: shutting the runtime down drops
/// every task it runs (the hire, the lease renewal) at whatever point they are.
struct Doomed {
    runtime: Option<tokio::runtime::Runtime>,
    gateway: Option<ats_gateway::app::GatewayHandle>,
    _dir: tempfile::TempDir,
}

impl Doomed {
    fn start(mut config: ats_gateway::config::Config) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        config.state.path = Some(dir.path().to_path_buf());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let gateway = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            ats_gateway::app::start(config, listener)
                .await
                .expect("replica starts")
        });
        Self {
            runtime: Some(runtime),
            gateway: Some(gateway),
            _dir: dir,
        }
    }

    fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        self.gateway.take();
    }
}

impl Drop for Doomed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plan that closes completed records its key's outcome in the same statement: the key replays
/// at once, and no orphan pass can free it (a freed key would let a retry hire twice). A key
/// whose record expired is not taken over while a plan of it is still open.
#[tokio::test]
async fn a_closed_plan_replays_its_key_and_an_open_plan_keeps_its_expired_key() {
    let pg = pg_server().await;
    let s = store(&pg, Duration::ZERO).await;
    assert_eq!(
        s.begin("p", "done", "f").await.expect("begin"),
        Begin::Started
    );
    let p = plan("done");
    s.save_plan(&p).await.expect("save");
    let outcome = Outcome {
        status: 201,
        location: Some("/v1/candidates/x".into()),
        resource_id: Some(Uuid::new_v4()),
        body: None,
    };
    s.save_progress(&PlanUpdate {
        id: p.id,
        plan: Some((false, json!({"phase": "completed"}))),
        step: None,
        outcome: Some(outcome.clone()),
    })
    .await
    .expect("finish");
    // The lease is zero: an orphan pass now would free an in-flight key without an open plan.
    assert_eq!(s.release_orphans().await.expect("orphans"), 0);
    assert_eq!(
        s.begin("p", "done", "f").await.expect("begin"),
        Begin::Replay(outcome)
    );

    // Records that expire at once (TTL 0): one whose plan is still open stays its plan's.
    let z = PgStore::connect(&pg.url(), 2, Duration::ZERO)
        .await
        .expect("connect")
        .with_lease(Duration::from_secs(60));
    assert_eq!(
        z.begin("p", "open", "f").await.expect("begin"),
        Begin::Started
    );
    z.save_plan(&plan("open")).await.expect("save");
    assert_eq!(
        z.begin("p", "open", "f").await.expect("begin"),
        Begin::InFlight
    );
    assert_eq!(
        z.begin("p", "open", "g").await.expect("begin"),
        Begin::Mismatch
    );
    // Without an open plan an expired key is free again.
    assert_eq!(
        z.begin("p", "free", "f").await.expect("begin"),
        Begin::Started
    );
    assert_eq!(
        z.begin("p", "free", "g").await.expect("begin"),
        Begin::Started
    );
}

/// A save whose reply was lost (the connection died after the commit) leaves the plan open
/// although its caller saw it fail: `release` then keeps the key, so a retry cannot start a second
/// plan while recovery may still run the first. And a plan's close records its outcome only on
/// the key its replica holds.
#[tokio::test]
async fn a_key_whose_plan_is_open_is_not_released_and_its_outcome_needs_the_holder() {
    let pg = pg_server().await;
    let s = store(&pg, Duration::from_secs(60)).await;
    assert_eq!(
        s.begin("p", "lost", "f").await.expect("begin"),
        Begin::Started
    );
    let p = plan("lost");
    s.save_plan(&p).await.expect("save");
    assert!(
        !s.release("p", "lost").await.expect("release"),
        "kept: its plan is open"
    );
    assert_eq!(
        s.begin("p", "lost", "f").await.expect("begin"),
        Begin::InFlight
    );
    // Closed (undone): now the key is released.
    s.save_progress(&PlanUpdate {
        id: p.id,
        plan: Some((false, json!({"phase": "undone"}))),
        step: None,
        outcome: None,
    })
    .await
    .expect("close");
    assert!(s.release("p", "lost").await.expect("release"));
    assert_eq!(
        s.begin("p", "lost", "g").await.expect("begin"),
        Begin::Started
    );

    // The key held by another (as a retry's would be): the plan's close leaves it alone.
    assert_eq!(
        s.begin("p", "held", "f").await.expect("begin"),
        Begin::Started
    );
    let q = plan("held");
    s.save_plan(&q).await.expect("save");
    let db = sql(&pg).await;
    db.execute(
        "UPDATE idempotency SET holder = $1 WHERE key = 'held'",
        &[&Uuid::new_v4()],
    )
    .await
    .expect("another holder");
    s.save_progress(&PlanUpdate {
        id: q.id,
        plan: Some((false, json!({"phase": "completed"}))),
        step: None,
        outcome: Some(Outcome {
            status: 201,
            location: None,
            resource_id: Some(Uuid::new_v4()),
            body: None,
        }),
    })
    .await
    .expect("the plan is still this replica's");
    let state: String = db
        .query_one("SELECT state FROM idempotency WHERE key = 'held'", &[])
        .await
        .expect("row")
        .get(0);
    assert_eq!(state, "in_flight", "not completed with another's candidate");
}

/// Every step written, but the plan's close refused (a trigger, here): the partner is told the
/// candidate was written (503 `hire-outcome-pending` with `Retry-After`), never "nothing was
/// written"; so is a retry that settles the open plan inline and fails alike. Once the close goes
/// through, a retry answers the one candidate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hire_whose_close_fails_says_it_was_written_and_the_retry_gets_the_one_candidate() {
    let pg = pg_server().await;
    let url = pg.url();
    let emu = emulator().await;
    let dv = emu.token().await;
    let request = request_number(&emu, &dv).await;
    let r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(url.as_str());
        c.state.lease_secs = 3600;
    })
    .await;
    let http = reqwest::Client::new();
    let t = token(&http, &r.url).await;
    let db = sql(&pg).await;
    db.batch_execute(
        "CREATE FUNCTION refuse_close() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'closing a completed plan refused by the test'; END $$;
         CREATE TRIGGER refuse_close BEFORE UPDATE ON plans FOR EACH ROW
             WHEN (OLD.open AND NOT NEW.open AND NEW.doc->>'phase' = 'completed')
             EXECUTE FUNCTION refuse_close();",
    )
    .await
    .expect("trigger");
    let before = counts(&emu, &dv).await;
    let key = Uuid::new_v4().to_string();
    let body = body(&request, "rita@close.example");
    let pending = |(status, retry, problem): &(u16, Option<String>, Value)| {
        assert_eq!(*status, 503, "{problem}");
        assert!(retry.is_some(), "Retry-After: {problem}");
        assert!(
            problem["type"]
                .as_str()
                .unwrap_or("")
                .ends_with("/hire-outcome-pending"),
            "{problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("the candidate was written"),
            "{problem}"
        );
    };
    pending(&hire(&http, &r.url, &t, &key, &body).await);
    // Not while the recovery pass settles it (409): the retry's own settling.
    let retry = |what| {
        let (http, url, t, key, body) = (&http, &r.url, &t, &key, &body);
        poll::within(Duration::from_secs(20), what, move || async move {
            let answer = hire(http, url, t, key, body).await;
            (answer.0 != 409).then_some(answer)
        })
    };
    let (settled, _) = retry("the retry settles the plan").await;
    pending(&settled);
    assert_eq!(diff(&before, &counts(&emu, &dv).await), vec![1, 1, 1]);

    db.batch_execute("DROP TRIGGER refuse_close ON plans")
        .await
        .expect("drop");
    let ((status, _, v), _) = retry("the retry records the hire").await;
    assert_eq!(status, 201, "{v}");
    let (status, _, again) = hire(&http, &r.url, &t, &key, &body).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], v["id"]);
    assert_eq!(
        diff(&before, &counts(&emu, &dv).await),
        vec![1, 1, 1],
        "one candidate, person and contact"
    );
}

/// `old` purgeable rows in each purged table (feed events, completed keys, webhook attempts) and
/// one newer row that stays.
async fn purge_backlog(db: &tokio_postgres::Client, old: i64) {
    let all = old + 1;
    db.batch_execute(&format!(
        "INSERT INTO change_events (seq, type, resource_id, company, occurred_at, body)
             SELECT g, 'x', gen_random_uuid(), 'usmf', CASE WHEN g <= {old} THEN 0 ELSE 9000000000000000 END, '{{}}'
             FROM generate_series(1, {all}) g;
         UPDATE change_feed SET last_seq = {all} WHERE id = 1;
         INSERT INTO idempotency (partner, key, fingerprint, state, outcome, expires_at)
             SELECT 'p', 'k' || g, 'f', 'completed', '{{}}'::jsonb,
                    CASE WHEN g <= {old} THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END
             FROM generate_series(1, {all}) g;
         INSERT INTO webhook_attempts (subscription_id, event_id, attempt, at, status, duration_ms)
             SELECT 's', 'e' || g, 1, CASE WHEN g <= {old} THEN 0 ELSE 9000000000000000 END, 'failed', 1
             FROM generate_series(1, {all}) g;"
    ))
    .await
    .expect("backlog");
}

/// Purges delete a backlog larger than one batch whole (a statement per batch, each well under
/// the statement timeout), and the feed remembers how far its log is purged.
#[tokio::test]
async fn purges_delete_a_backlog_larger_than_a_batch() {
    use ats_gateway::store::changes::ChangeStore;
    use ats_gateway::store::webhooks::WebhookStore;
    let pg = pg_server().await;
    let s = store(&pg, Duration::from_secs(30)).await;
    let db = sql(&pg).await;
    purge_backlog(&db, 12_000).await;
    assert_eq!(s.purge_events_before(1).await.expect("events"), 12_000);
    let bounds = s.feed_bounds().await.expect("bounds");
    assert_eq!((bounds.purged_through, bounds.last_seq), (12_000, 12_001));
    assert_eq!(s.purge_expired().await.expect("keys"), 12_000);
    assert_eq!(s.purge_webhook_history(1).await.expect("history"), 12_000);
    for table in ["change_events", "idempotency", "webhook_attempts"] {
        let left: i64 = db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(left, 1, "{table}: the newer row stays");
    }
}

/// Each purge statement deletes at most a batch per table, and one call runs at most its cap of
/// statements: with batches of 10 and a cap of 3, a backlog of 35 rows is 30 after one call (the
/// feed remembering how far), and the rest after the next. One DELETE of the whole backlog (the
/// statement that outlived the statement timeout) would take all 35 at once.
#[tokio::test]
async fn purges_delete_a_batch_per_statement_and_a_capped_number_per_call() {
    use ats_gateway::store::changes::ChangeStore;
    use ats_gateway::store::webhooks::WebhookStore;
    let pg = pg_server().await;
    let s = store(&pg, Duration::from_secs(30))
        .await
        .with_purge_batches(10, 3);
    let db = sql(&pg).await;
    purge_backlog(&db, 35).await;
    assert_eq!(s.purge_events_before(1).await.expect("events"), 30);
    let bounds = s.feed_bounds().await.expect("bounds");
    assert_eq!(bounds.purged_through, 30, "oldest first, and remembered");
    assert_eq!(s.purge_events_before(1).await.expect("events"), 5);
    assert_eq!(s.feed_bounds().await.expect("bounds").purged_through, 35);
    assert_eq!(s.purge_expired().await.expect("keys"), 30);
    assert_eq!(s.purge_expired().await.expect("keys"), 5);
    assert_eq!(s.purge_webhook_history(1).await.expect("history"), 30);
    assert_eq!(s.purge_webhook_history(1).await.expect("history"), 5);
    for table in ["change_events", "idempotency", "webhook_attempts"] {
        let left: i64 = db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(left, 1, "{table}: the newer row stays");
    }
    // Nothing left to purge: one statement, nothing deleted.
    assert_eq!(s.purge_expired().await.expect("keys"), 0);
}

/// The gateway's `statement_timeout` is a default: one the URL's own `options` set wins.
#[tokio::test]
async fn a_statement_timeout_in_the_url_wins_over_the_gateways() {
    let pg = pg_server().await;
    let timeout = |s: PgStore| async move {
        let row = s
            .conn()
            .await
            .expect("conn")
            .query_one("SHOW statement_timeout", &[])
            .await
            .expect("show");
        row.get::<_, String>(0)
    };
    assert_eq!(
        timeout(store(&pg, Duration::from_secs(30)).await).await,
        "10s"
    );
    let own = PgStore::connect(
        &format!("{}?options=-c%20statement_timeout%3D42s", pg.url()),
        1,
        Duration::from_secs(3600),
    )
    .await
    .expect("connect");
    assert_eq!(timeout(own).await, "42s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_hire_is_finished_by_another_and_the_retry_lands_once() {
    let pg = pg_server().await;
    let url = pg.url();
    let emu = emulator().await;
    let dv = emu.token().await;
    let request = request_number(&emu, &dv).await;
    let mut config = gateway_config(&emu);
    config.state.url = SecretString::new(url.as_str());
    config.state.lease_secs = 1;
    let mut doomed = std::thread::spawn(move || Doomed::start(config))
        .join()
        .expect("replica A");
    let a_url = doomed.gateway.as_ref().expect("a").url.clone();
    let b = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(url.as_str());
        c.state.lease_secs = 1;
    })
    .await;
    let http = reqwest::Client::new();
    let (ta, tb) = (token(&http, &a_url).await, token(&http, &b.url).await);
    let before = counts(&emu, &dv).await;
    // The contact step (after the deep insert of candidate and person) hangs on HR. (Only A's
    // POST reaches the contacts set until the kill: the test counts candidates meanwhile.)
    emu.fault(json!({"kind": "latency", "ms": 4000, "target": CONTACTS, "count": 1}))
        .await;
    let key = Uuid::new_v4().to_string();
    let body = body(&request, "rita@killed.example");
    let first = {
        let (http, a_url, key, body) = (http.clone(), a_url.clone(), key.clone(), body.clone());
        // Its answer never comes: A dies with the request in flight.
        tokio::spawn(async move {
            http.post(format!("{a_url}/v1/candidates"))
                .bearer_auth(&ta)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
        })
    };
    let (emu_r, dv_r) = (&emu, &dv);
    let candidates_before = before[CANDIDATES];
    poll::within(
        Duration::from_secs(20),
        "A wrote the candidate",
        move || async move {
            (candidate_count(emu_r, dv_r).await == candidates_before + 1).then_some(())
        },
    )
    .await;
    doomed.kill();
    let killed = Instant::now();
    let _ = first.await;

    // B finishes A's plan once A's lease expired; the partner's retry (on B) then lands once.
    let (http_r, b_r, tb_r, key_r, body_r) = (&http, &b.url, &tb, &key, &body);
    let (last, _) = poll::within(
        Duration::from_secs(30),
        "the retry on B is answered 201",
        move || async move {
            let last = hire(http_r, b_r, tb_r, key_r, body_r).await;
            assert!(last.0 == 201 || last.0 == 409, "{last:?}");
            (last.0 == 201).then_some(last)
        },
    )
    .await;
    let recovered = killed.elapsed();
    println!(
        "replica killed mid-hire: plan settled and retry answered after {recovered:?} (lease 1 s)"
    );
    assert!(
        recovered >= Duration::from_millis(500),
        "not before A's lease expired (A did not finish the hire itself): {recovered:?}"
    );
    // A's contact call may still be served by HR after its 4 s delay (if the emulator did not
    // drop it with the connection): wait for it to end, then count. The row key the plan chose
    // makes HR refuse the second of the two writes.
    let emu_r = &emu;
    let _ = tokio::time::timeout(
        Duration::from_secs(8),
        poll::within(
            Duration::from_secs(60),
            "both contact calls ended",
            move || async move { (contact_posts(emu_r).await >= 2).then_some(()) },
        ),
    )
    .await;
    let id = last.2["id"].as_str().expect("id").to_string();
    let (status, _, again) = hire(&http, &b.url, &tb, &key, &body).await;
    assert_eq!(status, 201);
    assert_eq!(
        again["id"].as_str(),
        Some(id.as_str()),
        "a replay of the same"
    );
    assert_eq!(
        diff(&before, &counts(&emu, &dv).await),
        vec![1, 1, 1],
        "exactly one candidate, person and contact"
    );
    let open: i64 = sql(&pg)
        .await
        .query_one("SELECT count(*) FROM plans WHERE open", &[])
        .await
        .expect("plans")
        .get(0);
    assert_eq!(open, 0, "no plan left open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_away_hires_answer_503_with_retry_after_reads_200_and_hires_resume() {
    let mut pg = pg_server().await;
    let url = pg.url();
    let emu = emulator().await;
    let dv = emu.token().await;
    let request = request_number(&emu, &dv).await;
    let r = spawn_replica(&emu, |c| c.state.url = SecretString::new(url.as_str())).await;
    let http = reqwest::Client::new();
    let t = token(&http, &r.url).await;
    let before = counts(&emu, &dv).await;

    tokio::task::block_in_place(|| pg.stop());
    let key = Uuid::new_v4().to_string();
    let body = body(&request, "rita@outage.example");
    let (status, retry, problem) = hire(&http, &r.url, &t, &key, &body).await;
    assert_eq!(status, 503, "{problem}");
    assert!(retry.is_some(), "Retry-After");
    assert!(
        problem["type"]
            .as_str()
            .unwrap_or("")
            .ends_with("/state-unavailable"),
        "{problem}"
    );
    let read = http
        .get(format!("{}/v1/candidates?page_size=1", r.url))
        .bearer_auth(&t)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), 200, "reads do not need the state store");
    assert_eq!(
        diff(&before, &counts(&emu, &dv).await),
        vec![0, 0, 0],
        "nothing written"
    );

    tokio::task::block_in_place(|| pg.restart());
    let (status, _, v) = hire(&http, &r.url, &t, &key, &body).await;
    assert_eq!(status, 201, "{v}");
    let (status, _, again) = hire(&http, &r.url, &t, &key, &body).await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], v["id"]);
    assert_eq!(diff(&before, &counts(&emu, &dv).await), vec![1, 1, 1]);
}

/// A Postgres that takes packets but stops answering (a proxy whose server is gone, a stopped
/// server: no TCP timeout fires, and the server's `statement_timeout` cannot) fails a hire's key
/// reservation within `[state] timeout_ms` as 503 `state-unavailable` with `Retry-After`, not at
/// the request deadline as an HR timeout; readiness answers meanwhile (ready, the store named
/// unreachable). When Postgres answers again the retry with the same key hires once at once: the
/// connections that went silent are not used again (they stay silent here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_that_stops_answering_fails_a_hire_within_the_state_timeout() {
    let pg = pg_server().await;
    let proxy = TcpProxy::start(pg.port).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port);
    let emu = emulator().await;
    let dv = emu.token().await;
    let request = request_number(&emu, &dv).await;
    let bound = Duration::from_millis(1_000);
    let r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(url.as_str());
        c.state.timeout_ms = 1_000;
    })
    .await;
    // Past the request deadline (30 s): a hang shows as the gateway's 504, not as this client's.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("client");
    let t = token(&http, &r.url).await;
    let first = hire(
        &http,
        &r.url,
        &t,
        &Uuid::new_v4().to_string(),
        &body(&request, "rita@before.example"),
    )
    .await;
    assert_eq!(first.0, 201, "{}", first.2);
    let before = counts(&emu, &dv).await;

    proxy.black_hole();
    let key = Uuid::new_v4().to_string();
    let body = body(&request, "rita@silent.example");
    let started = Instant::now();
    let (status, retry, problem) = hire(&http, &r.url, &t, &key, &body).await;
    let took = started.elapsed();
    eprintln!("a hire against a silent Postgres answered {status} after {took:?}");
    assert_eq!(status, 503, "after {took:?}: {problem}");
    assert!(
        took < bound + Duration::from_secs(3),
        "answered within the {bound:?} bound plus margin, took {took:?}"
    );
    assert!(retry.is_some(), "Retry-After");
    assert!(
        problem["type"]
            .as_str()
            .unwrap_or("")
            .ends_with("/state-unavailable"),
        "{problem}"
    );
    // Readiness is not held by the silent store either: each answer within the bound.
    until_ready_with_store_unreachable(
        &http,
        &r.ops_url,
        Duration::from_secs(15),
        bound + Duration::from_secs(3),
    )
    .await;
    assert_eq!(
        diff(&before, &counts(&emu, &dv).await),
        vec![0, 0, 0],
        "nothing written"
    );

    proxy.restore();
    let (status, _, v) = hire(&http, &r.url, &t, &key, &body).await;
    assert_eq!(status, 201, "the retry once Postgres answers: {v}");
    let (status, _, again) = hire(&http, &r.url, &t, &key, &body).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], v["id"], "replayed");
    assert_eq!(diff(&before, &counts(&emu, &dv).await), vec![1, 1, 1]);
}

/// With the default `[state] timeout_ms` (15 s, longer than a readiness probe waits), a silent
/// Postgres still reads as unreachable within readiness' own 1 s bound: each `/readyz` answers
/// well inside a probe's timeout, ready (reads go on), the store named unreachable; before, every
/// probe waited the whole call timeout and every replica went unready together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_does_not_wait_out_the_state_timeout_on_a_silent_postgres() {
    let pg = pg_server().await;
    let proxy = TcpProxy::start(pg.port).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port);
    let emu = emulator().await;
    let r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(url.as_str());
    })
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    proxy.black_hole();
    until_ready_with_store_unreachable(
        &http,
        &r.ops_url,
        Duration::from_secs(20),
        Duration::from_millis(2_500),
    )
    .await;
    proxy.restore();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_queries_per_hire() {
    let pg = pg_server().await;
    let url = pg.url();
    let emu = emulator().await;
    let dv = emu.token().await;
    let request = request_number(&emu, &dv).await;
    // A long lease: no maintenance pass or renewal inside the measurement (passes every 15 s).
    let r = spawn_replica(&emu, |c| {
        c.state.url = SecretString::new(url.as_str());
        c.state.lease_secs = 3600;
    })
    .await;
    let http = reqwest::Client::new();
    let t = token(&http, &r.url).await;
    let before = queries(&http, &r.ops_url).await;
    let (status, _, v) = hire(
        &http,
        &r.url,
        &t,
        &Uuid::new_v4().to_string(),
        &body(&request, "rita@count.example"),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let after = queries(&http, &r.ops_url).await;
    // The recorder is process-wide: exact when this test runs alone.
    let per_op: BTreeMap<&String, f64> = after
        .iter()
        .map(|(op, n)| (op, n - before.get(op).copied().unwrap_or(0.0)))
        .filter(|(_, n)| *n > 0.0)
        .collect();
    let total: f64 = per_op.values().sum();
    println!("Postgres statements per hire (candidate + person + one contact): {total} {per_op:?}");
    assert!(
        per_op.get(&"begin".to_string()).is_some_and(|n| *n >= 1.0),
        "{per_op:?}"
    );
    assert!(per_op.contains_key(&"save_plan".to_string()), "{per_op:?}");
}

/// Polls `/readyz` until it names the state store unreachable, within `limit`: every answer ready
/// (reads go on) and each within `each`, however silent the store.
async fn until_ready_with_store_unreachable(
    http: &reqwest::Client,
    ops: &str,
    limit: Duration,
    each: Duration,
) {
    poll::holds_within(limit, "readyz names the store unreachable", || async move {
        let asked = Instant::now();
        let resp = http
            .get(format!("{ops}/readyz"))
            .send()
            .await
            .expect("readyz");
        assert!(asked.elapsed() < each, "readyz took {:?}", asked.elapsed());
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "still ready for reads: {v}");
        v["state_store"] == "unreachable"
    })
    .await;
}

/// `state_store_queries_total` by `op`, from the ops listener.
async fn queries(http: &reqwest::Client, ops: &str) -> BTreeMap<String, f64> {
    let text = crate::common::metrics_text(http, ops).await;
    text.lines()
        .filter(|l| l.starts_with("state_store_queries_total{"))
        .filter_map(|l| {
            let op = l.split("op=\"").nth(1)?.split('"').next()?.to_string();
            let n = l.rsplit(' ').next()?.parse().ok()?;
            Some((op, n))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_sqlite_copies_live_records_and_open_plans() {
    let dir = tempfile::tempdir().expect("dir");
    let ttl = Duration::from_secs(3600);
    let src = SqliteStore::open(dir.path(), ttl).expect("sqlite");
    let outcome = Outcome {
        status: 201,
        location: Some("/v1/candidates/c".into()),
        resource_id: Some(Uuid::new_v4()),
        body: None,
    };
    src.begin("p", "done", "f").await.expect("begin");
    hired(&src, "p", "done", &outcome).await;
    src.begin("p", "open", "f").await.expect("begin");
    let open = plan("open");
    let open = PlanRecord {
        partner: "p".into(),
        ..open
    };
    src.save_plan(&open).await.expect("plan");
    let file = dir.path().join(ats_gateway::store::sqlite::FILE_NAME);
    // Its record past the TTL: an open plan keeps its key all the same, and so must the copy.
    rusqlite::Connection::open(&file)
        .expect("open")
        .execute(
            "UPDATE idempotency SET expires_at = 0 WHERE key = 'open'",
            [],
        )
        .expect("expire");
    src.begin("p", "closed", "f").await.expect("begin");
    let closed = PlanRecord {
        partner: "p".into(),
        ..plan("closed")
    };
    src.save_plan(&closed).await.expect("plan");
    src.save_progress(&PlanUpdate {
        id: closed.id,
        plan: Some((false, json!({"phase": "undone"}))),
        step: None,
        outcome: None,
    })
    .await
    .expect("close");
    src.release("p", "closed").await.expect("release");

    let pg = pg_server().await;
    let target = store(&pg, Duration::from_secs(30)).await;
    let conn =
        rusqlite::Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("read-only");
    let copied = ats_gateway::store::postgres::writes::import_sqlite(&target, &conn)
        .await
        .expect("import");
    assert_eq!(
        copied,
        vec![("idempotency", 2), ("plans", 1), ("plan_steps", 2)],
        "live keys (completed and in flight), the open plan and its steps; not the closed one"
    );
    assert_eq!(
        target.begin("p", "done", "f").await.expect("begin"),
        Begin::Replay(outcome)
    );
    assert_eq!(
        target.begin("p", "open", "f").await.expect("begin"),
        Begin::InFlight,
        "the expired key of the open plan was copied, and stays its plan's"
    );
    // The copied plan is held by nobody: any replica recovers it at once.
    let claimed = target.claim_expired(None).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, open.id);
    assert_eq!(claimed[0].steps, open.steps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_migrate_copies_verifies_and_refuses_a_target_holding_state_without_force() {
    use ats_gateway::store::migrate_state::{migrate, render, MigrateError};
    let dir = tempfile::tempdir().expect("dir");
    // The old replica keeps running while its state is copied.
    let src = SqliteStore::open(dir.path(), Duration::from_secs(3600)).expect("sqlite");
    src.begin("p", "done", "f").await.expect("begin");
    let outcome = Outcome {
        status: 201,
        location: None,
        resource_id: Some(Uuid::new_v4()),
        body: None,
    };
    hired(&src, "p", "done", &outcome).await;
    src.begin("p", "open", "f").await.expect("begin");
    src.save_plan(&PlanRecord {
        partner: "p".into(),
        ..plan("open")
    })
    .await
    .expect("plan");
    let pg = pg_server().await;
    let from = format!("sqlite://{}", dir.path().display());
    let report = migrate(&from, &pg.url(), false).await.expect("migrate");
    let rows: Vec<(&str, u64, u64)> = report
        .iter()
        .map(|c| (c.table, c.copied, c.in_target))
        .collect();
    // The writes' tables first; every other concern's tables follow (empty here).
    assert_eq!(
        rows[..3],
        [("idempotency", 2, 2), ("plans", 1, 1), ("plan_steps", 2, 2)]
    );
    assert!(
        rows.iter().any(|r| r.0 == "change_events") && rows[3..].iter().all(|r| r.1 == 0),
        "{rows:?}"
    );
    let table = render(&report);
    assert!(
        table.contains("idempotency") && table.contains("in target"),
        "{table}"
    );
    assert!(matches!(
        migrate(&from, &pg.url(), false).await,
        Err(MigrateError::NotEmpty { .. })
    ));
    let again = migrate(&from, &pg.url(), true).await.expect("forced");
    assert_eq!(again.len(), report.len());
    let target = store(&pg, Duration::from_secs(30)).await;
    assert_eq!(
        target.begin("p", "done", "f").await.expect("begin"),
        Begin::Replay(outcome),
        "a retry on any replica replays what the single replica answered"
    );
    assert!(matches!(
        migrate("mysql://x", &pg.url(), false).await,
        Err(MigrateError::From(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_that_postgres_answers_and_its_schema_version() {
    use ats_gateway::config::StateConfig;
    use ats_gateway::doctor::state::check;
    let pg = pg_server().await;
    let with = |url: String| StateConfig {
        url: SecretString::new(url),
        ..StateConfig::default()
    };
    assert_eq!(
        check(&StateConfig::default()).await,
        None,
        "SQLite: nothing shared"
    );
    let fresh = check(&with(pg.url())).await.expect("check");
    assert!(
        fresh.ok && fresh.fix.is_some(),
        "fresh: migrated at start {fresh:?}"
    );
    store(&pg, Duration::from_secs(30)).await;
    let current = check(&with(pg.url())).await.expect("check");
    assert!(current.ok && current.fix.is_none(), "{current:?}");
    assert!(current.detail.contains("schema at version"), "{current:?}");
    sql(&pg)
        .await
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')",
            &[],
        )
        .await
        .expect("future");
    let newer = check(&with(pg.url())).await.expect("check");
    assert!(!newer.ok && newer.detail.contains("newer"), "{newer:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let away = check(&with(format!(
        "postgres://gw:pw-s3cret@127.0.0.1:{port}/db"
    )))
    .await
    .expect("check");
    assert!(!away.ok && away.name == "state", "{away:?}");
    assert!(!away.detail.contains("pw-s3cret"), "{away:?}");
}
