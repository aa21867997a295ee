//! The cluster of issue 21 with real processes: one emulator, one Postgres (`PgServer`), one Redis
//! (`RedisServer`) and three `serve` processes (the binary, a config file in a temporary directory,
//! each ready line read), partner traffic across all three. Each scenario kills, stops and restarts
//! what it needs (kill -9 is `Child::kill`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::poll;
use crate::common::postgres::PgServer;
use crate::common::redis::RedisServer;
use crate::common::{emulator, Emu};

const RR: &str = "mshr_hcmrecruitingrequestentities";
const CANDIDATES: &str = "mshr_hcmcandidatetohireentities";
const PERSONS: &str = "mshr_dirpersonentities";

/// One `serve` process.
struct Node {
    child: Child,
    url: String,
    ops: String,
}

impl Node {
    async fn start(config: &Path, state: &Path) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
            .arg("--config")
            .arg(config)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--ops-listen",
                "127.0.0.1:0",
            ])
            .env("ATS_GATEWAY__STATE__PATH", state)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).map(|_| line)
            }),
        )
        .await
        .expect("a ready line within 60 s")
        .expect("join")
        .expect("read the ready line");
        let ready: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("one JSON ready line, got {line:?}: {e}"));
        Node {
            child,
            url: ready["gateway"].as_str().expect("gateway").into(),
            ops: ready["ops"].as_str().expect("ops").into(),
        }
    }

    /// kill -9: no drain, no cleanup.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Fields drop in this order: the replicas first, then what they depend on.
struct Cluster {
    nodes: Vec<Node>,
    redis: RedisServer,
    pg: PgServer,
    emu: Emu,
    dir: tempfile::TempDir,
    config: PathBuf,
    http: reqwest::Client,
}

/// A scan interval long enough that the scanner stays out of a scenario that is not about it.
const NO_SCANS_MS: u64 = 3_600_000;

impl Cluster {
    /// Emulator, Postgres and Redis, then `n` replicas started at once (they race for the migration lock),
    /// scanning every `scan_interval_ms`.
    async fn start(n: usize, scan_interval_ms: u64) -> Cluster {
        Self::start_with(n, scan_interval_ms, "").await
    }

    /// As `start`, with `gateway` (TOML lines) added to every replica's `[gateway]` table.
    async fn start_with(n: usize, scan_interval_ms: u64, gateway: &str) -> Cluster {
        let emu = emulator().await;
        let pg = tokio::task::spawn_blocking(PgServer::start)
            .await
            .expect("postgres");
        let redis = tokio::task::spawn_blocking(RedisServer::start_new)
            .await
            .expect("redis");
        let dir = tempfile::Builder::new()
            .prefix("ats-cluster-")
            .tempdir()
            .expect("tempdir");
        let key = dir.path().join("signing-key.pem");
        {
            use p256::elliptic_curve::Generate;
            use p256::pkcs8::{EncodePrivateKey, LineEnding};
            let pem = p256::SecretKey::generate()
                .to_pkcs8_pem(LineEnding::LF)
                .expect("pem");
            std::fs::write(&key, pem.as_bytes()).expect("key");
        }
        let partners = ats_gateway::auth::config::PartnersFile {
            partners: ats_gateway::demo::partners()
                .into_iter()
                .map(|p| p.config)
                .collect(),
        };
        let partners_file = dir.path().join("partners.toml");
        std::fs::write(
            &partners_file,
            toml::to_string(&partners).expect("partners toml"),
        )
        .expect("partners file");
        let c = emu.config().clone();
        let hex = |b: u8| format!("{b:02x}").repeat(32);
        let mut toml = format!(
            "[gateway]\ncursor_key = \"{}\"\nshutdown_grace_ms = 2000\n{gateway}\n\n\
             [dataverse]\norg_url = \"{url}\"\nauthority = \"{url}\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\n\
             [state]\nurl = \"{}\"\n\n\
             [changes]\nscan_interval_ms = {}\nmax_budget_share = 1.0\n\n\
             [webhooks]\nallow_private_urls = true\nretry_schedule_ms = [200, 500, 1000, 2000, 4000]\nsecret_key = \"{}\"\n\n\
             [auth]\nsigning_key_file = \"{}\"\npartners_file = \"{}\"\n",
            hex(0x11),
            c.tenant_id,
            c.client_id,
            c.client_secret,
            pg.url(),
            scan_interval_ms,
            hex(0x22),
            key.display(),
            partners_file.display(),
            url = emu.handle.url,
        );
        toml.push_str(&format!(
            "\n[cluster]\nredis_url = \"{}\"\nreplicas_hint = {n}\n",
            redis.url()
        ));
        let config = dir.path().join("gateway.toml");
        std::fs::write(&config, toml).expect("config");
        let mut cluster = Cluster {
            emu,
            pg,
            redis,
            dir,
            config,
            nodes: Vec::new(),
            http: reqwest::Client::new(),
        };
        let starts: Vec<_> = (0..n)
            .map(|i| {
                let (config, state) = (cluster.config.clone(), cluster.state_dir(i));
                tokio::spawn(async move { Node::start(&config, &state).await })
            })
            .collect();
        for s in starts {
            cluster.nodes.push(s.await.expect("replica starts"));
        }
        cluster
    }

    fn state_dir(&self, i: usize) -> PathBuf {
        let d = self.dir.path().join(format!("replica-{i}"));
        std::fs::create_dir_all(&d).expect("state dir");
        d
    }

    /// Replica `i` again (after a kill), on its state directory.
    async fn restart(&mut self, i: usize) {
        self.nodes[i].kill9();
        self.nodes[i] = Node::start(&self.config, &self.state_dir(i)).await;
    }

    async fn token(&self, i: usize, partner: &str) -> String {
        let secret = ats_gateway::demo::partners()
            .into_iter()
            .find(|p| p.config.id == partner)
            .expect("a demo partner")
            .secret;
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.nodes[i].url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", partner),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status(), 200, "token from replica {i}");
        resp.json::<Value>().await.expect("json")["access_token"]
            .as_str()
            .expect("access_token")
            .into()
    }

    async fn get(&self, i: usize, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.nodes[i].url))
            .bearer_auth(token)
            .send()
            .await
            .expect("get")
    }

    async fn hire(&self, i: usize, token: &str, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/candidates", self.nodes[i].url))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("hire")
    }

    /// Rows of `set` in HR (the emulator).
    async fn count(&self, set: &str) -> u64 {
        let dv = self.emu.token().await;
        let resp = self.emu.get(&format!("{set}/$count"), &dv, None).await;
        assert_eq!(resp.status(), 200, "{set}/$count");
        resp.text()
            .await
            .expect("count")
            .trim()
            .parse()
            .expect("a number")
    }

    /// The sum of a counter over its label sets on replica `i` (0 when it is not exported yet).
    async fn counter(&self, i: usize, name: &str) -> f64 {
        let Ok(resp) = self
            .http
            .get(format!("{}/metrics", self.nodes[i].ops))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        else {
            return 0.0;
        };
        let text = resp.text().await.unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// The README's hire, with its own last name.
fn hire_body(last_name: &str) -> Value {
    json!({"recruiting_request": "USMF-000001", "status": "hired", "availability_date": "2027-02-01",
        "person": {"first_name": "Evelyn", "last_name": last_name, "gender": "female",
            "contacts": [{"type": "email_address", "locator": "evelyn@example.com", "is_primary": true}],
            "skills": [{"skill": "CustFocus", "rating_level": "4", "years_of_experience": 3}],
            "education": [{"education_level": "Bachelor", "discipline": "Business Mgmt", "institution": "Cottonwood Univ"}]}})
}

fn replayed(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_serve_processes_start_together_on_one_postgres_and_share_partner_traffic() {
    let c = Cluster::start(3, NO_SCANS_MS).await;
    // One signing key: a token from any replica works on every replica.
    for issuer in 0..3 {
        let token = c.token(issuer, "acme-ats").await;
        for i in 0..3 {
            let resp = c
                .get(
                    i,
                    "/v1/recruiting-requests?status=active&page_size=2",
                    &token,
                )
                .await;
            assert_eq!(
                resp.status(),
                200,
                "token of replica {issuer} on replica {i}"
            );
        }
    }
    // One cursor key: a page cursor from one replica continues on another.
    let token = c.token(0, "acme-ats").await;
    let first: Value = c
        .get(0, "/v1/recruiting-requests?page_size=2", &token)
        .await
        .json()
        .await
        .expect("json");
    let cursor = first["next_cursor"].as_str().expect("a next cursor");
    let next = c
        .get(
            1,
            &format!("/v1/recruiting-requests?page_size=2&cursor={cursor}"),
            &token,
        )
        .await;
    assert_eq!(next.status(), 200);
    for (i, n) in c.nodes.iter().enumerate() {
        let ready = c
            .http
            .get(format!("{}/readyz", n.ops))
            .send()
            .await
            .expect("readyz");
        assert_eq!(ready.status(), 200, "replica {i} ready");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_idempotency_key_sent_to_three_replicas_at_once_hires_once() {
    let c = Cluster::start(3, NO_SCANS_MS).await;
    let token = c.token(0, "acme-ats").await;
    let before = c.count(CANDIDATES).await;
    // The deep insert is slow, so all three requests are in flight together.
    c.emu
        .fault(json!({"kind": "latency", "ms": 700, "target": CANDIDATES, "count": 1}))
        .await;
    let body = hire_body("Threeway");
    let answers = futures::future::join_all((0..3).map(|i| {
        let (c, token, body) = (&c, &token, &body);
        async move { (i, c.hire(i, token, "cluster-once-1", body).await) }
    }))
    .await;
    let mut fresh = Vec::new();
    for (i, resp) in &answers {
        let status = resp.status().as_u16();
        assert!(
            status == 201 || status == 409,
            "replica {i}: {status} (201 or 409 while the first runs)"
        );
        if status == 201 && !replayed(resp) {
            fresh.push(*i);
        }
    }
    assert!(
        fresh.len() <= 1,
        "more than one replica ran the hire: {fresh:?}"
    );
    assert_eq!(c.count(CANDIDATES).await, before + 1, "one candidate in HR");
    // A retry on every replica replays the one hire.
    let mut locations = Vec::new();
    for i in 0..3 {
        let resp = c.hire(i, &token, "cluster-once-1", &body).await;
        assert_eq!(resp.status(), 201, "retry on replica {i}");
        assert!(replayed(&resp), "retry on replica {i} replays");
        locations.push(location(&resp));
    }
    assert!(locations.windows(2).all(|w| w[0] == w[1]), "{locations:?}");
    assert_eq!(c.count(CANDIDATES).await, before + 1);
}

/// Every event of the feed from the start, read through replica `i` as `partner`.
async fn feed(c: &Cluster, i: usize, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut query = "start=oldest".to_string();
    for _ in 0..1000 {
        let resp = c.get(i, &format!("/v1/changes?{query}"), token).await;
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.expect("json");
        out.extend(v["data"].as_array().into_iter().flatten().cloned());
        if v["has_more"] != true {
            return out;
        }
        query = format!("cursor={}", v["next_cursor"].as_str().expect("cursor"));
    }
    panic!("the feed did not end");
}

/// The sequence number an event id carries (`evt_` + zero-padded seq).
fn seq(id: &str) -> i64 {
    id.trim_start_matches("evt_").parse().expect("evt_<seq>")
}

/// `n` recruiting requests of `company` (their ids).
async fn requests_of(emu: &Emu, company: &str, n: usize) -> Vec<String> {
    let dv = emu.token().await;
    let (s, v) = emu
        .get_json(
            &format!("{RR}?$select=mshr_hcmrecruitingrequestentityid&$filter=mshr_dataareaid eq '{company}'&$orderby=mshr_recruitingrequestid&$top={n}"),
            &dv,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["value"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| {
            r["mshr_hcmrecruitingrequestentityid"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

/// HR edits a request's description (one `recruiting_request.updated` event at the next scan).
async fn hr_edit(emu: &Emu, hr: &str, id: &str, text: &str) {
    let (s, v) = crate::changes::patch(emu, RR, id, hr, json!({"mshr_description": text})).await;
    assert_eq!(s, 204, "HR's PATCH: {v}");
}

async fn scans(c: &Cluster) -> Vec<f64> {
    let mut out = Vec::new();
    for i in 0..c.nodes.len() {
        out.push(c.counter(i, "changes_scans_total").await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn one_scanner_in_the_cluster_and_another_takes_over_within_two_intervals() {
    const INTERVAL_MS: u64 = 1_000;
    let mut c = Cluster::start(3, INTERVAL_MS).await;
    let hr = crate::changes::hr_token(&c.emu).await;
    let ids = requests_of(&c.emu, "usmf", 6).await;
    // The baseline scan is done once some replica has scanned.
    poll::holds_within(Duration::from_secs(30), "a first scan", || async {
        scans(&c).await.iter().sum::<f64>() >= 2.0
    })
    .await;
    // One scan per interval in the whole cluster: as many scans as one replica alone makes (a scan
    // every interval + its duration), not three replicas' worth.
    let before = scans(&c).await;
    let window = Duration::from_millis(8 * INTERVAL_MS);
    hr_edit(&c.emu, &hr, &ids[0], "edited before the kill").await;
    tokio::time::sleep(window).await;
    let after = scans(&c).await;
    let delta: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let total: f64 = delta.iter().sum();
    let (mut took, mut count) = (0.0, 0.0);
    for i in 0..3 {
        took += c.counter(i, "changes_scan_duration_seconds_sum").await;
        count += c.counter(i, "changes_scan_duration_seconds_count").await;
    }
    let one_scanner = window.as_secs_f64() / (INTERVAL_MS as f64 / 1000.0 + took / count.max(1.0));
    println!("scans per replica over {window:?}: {delta:?}; one scanner makes ~{one_scanner:.1}");
    assert!(total >= 1.0, "someone scans: {delta:?}");
    assert!(
        total <= one_scanner * 1.5 + 1.0,
        "one scanner makes ~{one_scanner:.1} scans in {window:?}, the cluster made {total}: {delta:?}"
    );
    let leader = delta
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .expect("a leader");

    // kill -9 the leader: another replica scans within two intervals.
    c.nodes[leader].kill9();
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let mut base = Vec::new();
    for i in &others {
        base.push(c.counter(*i, "changes_scans_total").await);
    }
    hr_edit(&c.emu, &hr, &ids[1], "edited after the kill").await;
    let took = poll::holds_within(
        Duration::from_secs(30),
        "a scan by another replica",
        || async {
            let mut grew = false;
            for (k, i) in others.iter().enumerate() {
                grew |= c.counter(*i, "changes_scans_total").await > base[k];
            }
            grew
        },
    )
    .await;
    println!("scanner failover after kill -9: {took:?}");
    assert!(
        took <= Duration::from_millis(2 * INTERVAL_MS + 1_000),
        "scans resumed after {took:?}, more than two intervals"
    );
    c.restart(leader).await;
    for (k, id) in ids[2..].iter().enumerate() {
        hr_edit(&c.emu, &hr, id, &format!("edited after the restart {k}")).await;
    }
    // Every edit is one event, each id once, the sequence without gaps (one company's edits only).
    let token = c.token(others[0], "acme-ats").await;
    poll::holds_within(
        Duration::from_secs(30),
        "six events in the feed",
        || async { feed(&c, others[0], &token).await.len() >= 6 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2 * INTERVAL_MS)).await;
    let events = feed(&c, others[1], &token).await;
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| seq(e["id"].as_str().expect("id")))
        .collect();
    let summary: Vec<String> = events
        .iter()
        .map(|e| format!("{} {} {}", e["id"], e["type"], e["resource"]["id"]))
        .collect();
    // One request event per edit (an edited request's candidates show it too: their events may follow).
    let mut edited: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "recruiting_request.updated")
        .filter_map(|e| e["resource"]["id"].as_str())
        .collect();
    edited.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(edited, want, "one event per edit: {summary:#?}");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "ids once, without gaps: {seqs:?}"
    );
}

/// A receiver counting `webhook-id`s (answers 204 to everything).
async fn counting_receiver() -> (String, Arc<Mutex<BTreeMap<String, usize>>>) {
    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let counts = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let counts = counts.clone();
            async move {
                if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                    if let Ok(mut m) = counts.lock() {
                        *m.entry(id.to_string()).or_default() += 1;
                    }
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_gets_100_events_once_while_a_replica_is_killed_and_restarted() {
    const INTERVAL_MS: u64 = 500;
    let mut c = Cluster::start(3, INTERVAL_MS).await;
    let (url, seen) = counting_receiver().await;
    let token = c.token(0, "acme-ats").await;
    let resp = c
        .http
        .post(format!("{}/v1/webhooks", c.nodes[0].url))
        .bearer_auth(&token)
        .json(&json!({"url": url, "events": ["recruiting_request.updated"]}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(resp.status(), 201);
    poll::holds_within(Duration::from_secs(30), "a first scan", || async {
        scans(&c).await.iter().sum::<f64>() >= 2.0
    })
    .await;
    let hr = crate::changes::hr_token(&c.emu).await;
    let ids = requests_of(&c.emu, "usmf", 100).await;
    assert_eq!(ids.len(), 100, "100 usmf requests to edit");
    for (k, id) in ids.iter().enumerate() {
        hr_edit(&c.emu, &hr, id, &format!("edit {k} of 100")).await;
        if k == 40 {
            // Some events are delivered, some are in flight: the replica the partner subscribed
            // through dies mid-run.
            c.nodes[0].kill9();
        }
        if k == 70 {
            // The other replicas deliver while it is away (the subscription is the cluster's).
            poll::holds_within(
                Duration::from_secs(30),
                "deliveries without replica 0",
                || async { seen.lock().map(|m| m.len()).unwrap_or(0) >= 71 },
            )
            .await;
            c.restart(0).await;
        }
        if k % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(INTERVAL_MS / 2)).await;
        }
    }
    poll::holds_within(
        Duration::from_secs(60),
        "100 distinct webhook-ids",
        || async { seen.lock().map(|m| m.len()).unwrap_or(0) >= 100 },
    )
    .await;
    // Late duplicates would arrive within a retry or a claim timeout.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let m = seen.lock().expect("counts").clone();
    let twice: Vec<(&String, &usize)> = m.iter().filter(|(_, n)| **n > 1).collect();
    println!("webhook-ids: {} distinct, sent twice: {twice:?}", m.len());
    assert_eq!(m.len(), 100, "one event per edit");
    // At least once across the kill: only a send that was in flight on the killed replica may repeat.
    assert!(
        twice.len() <= 1,
        "duplicates beyond the killed send: {twice:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_hire_is_recovered_by_another_and_a_retry_lands_once() {
    let mut c = Cluster::start(3, NO_SCANS_MS).await;
    let token = c.token(0, "acme-ats").await;
    let (cands, persons) = (c.count(CANDIDATES).await, c.count(PERSONS).await);
    // The deep insert lands; the read-back of the new candidate hangs: the plan is half-way.
    let seen = c.emu.stats().await["requests"][CANDIDATES]
        .as_u64()
        .unwrap_or(0);
    c.emu
        .fault(
            json!({"kind": "latency", "ms": 30000, "target": CANDIDATES, "count": 1, "after": 1}),
        )
        .await;
    let body = hire_body("Killed");
    let hire = {
        let (http, url, token, body) = (
            c.http.clone(),
            c.nodes[0].url.clone(),
            token.clone(),
            body.clone(),
        );
        tokio::spawn(async move {
            http.post(format!("{url}/v1/candidates"))
                .bearer_auth(token)
                .header("Idempotency-Key", "cluster-killed-1")
                .json(&body)
                .send()
                .await
        })
    };
    poll::holds_within(
        Duration::from_secs(20),
        "the plan reaches the candidate read-back",
        || async {
            c.emu.stats().await["requests"][CANDIDATES]
                .as_u64()
                .unwrap_or(0)
                > seen + 1
        },
    )
    .await;
    c.nodes[0].kill9();
    hire.abort();
    let cleared = c
        .emu
        .http
        .delete(c.emu.url("/_sandbox/faults"))
        .send()
        .await
        .expect("clear faults");
    assert!(cleared.status().is_success());
    // Another replica completes or undoes the plan; until then the key answers 409 (in flight).
    let took = poll::holds_within(
        Duration::from_secs(60),
        "the key answers 201 on another replica",
        || async { c.hire(1, &token, "cluster-killed-1", &body).await.status() == 201 },
    )
    .await;
    println!("hire of a killed replica settled by another after {took:?}");
    let resp = c.hire(2, &token, "cluster-killed-1", &body).await;
    assert_eq!(resp.status(), 201);
    assert!(replayed(&resp));
    assert_eq!(
        c.count(CANDIDATES).await,
        cands + 1,
        "exactly one candidate"
    );
    assert_eq!(c.count(PERSONS).await, persons + 1, "exactly one person");
}

/// nordic-hr (20/s, burst 40) sends `n` requests at once to `replicas` (round robin): how many pass.
async fn burst(c: &Cluster, token: &str, replicas: &[usize], n: usize) -> usize {
    let answers = futures::future::join_all((0..n).map(|k| {
        let i = replicas[k % replicas.len()];
        c.get(i, "/v1/option-sets", token)
    }))
    .await;
    answers.iter().filter(|r| r.status() == 200).count()
}

/// Waits until a limit of 20/s, burst 40 has refilled.
async fn refill() {
    tokio::time::sleep(Duration::from_millis(2_100)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_reads_and_writes_go_on_and_shared_limits_return_with_it() {
    let mut c = Cluster::start(3, NO_SCANS_MS).await;
    let nordic = c.token(0, "nordic-hr").await;
    // Shared: a burst of 40 for the cluster (three replicas alone would pass 120 of 120).
    let passed = burst(&c, &nordic, &[0, 1, 2], 120).await;
    assert!(
        (36..=52).contains(&passed),
        "shared limit: {passed} of 120 passed"
    );

    c.redis.stop();
    let acme = c.token(0, "acme-ats").await;
    for i in 0..3 {
        let resp = c.get(i, "/v1/recruiting-requests?page_size=2", &acme).await;
        assert_eq!(resp.status(), 200, "read on replica {i} without Redis");
    }
    let before = c.count(CANDIDATES).await;
    let body = hire_body("NoRedis");
    let first = c.hire(0, &acme, "cluster-no-redis-1", &body).await;
    assert_eq!(first.status(), 201);
    let again = c.hire(1, &acme, "cluster-no-redis-1", &body).await;
    assert_eq!(again.status(), 201);
    assert!(replayed(&again));
    assert_eq!(c.count(CANDIDATES).await, before + 1, "exactly once");

    // Without Redis a replica enforces its share (40 / replicas_hint), not the whole limit.
    refill().await;
    let alone = burst(&c, &nordic, &[0], 60).await;
    assert!(
        (5..=20).contains(&alone),
        "one replica's share: {alone} of 60 passed"
    );

    tokio::task::block_in_place(|| c.redis.start());
    let took = poll::holds_within(Duration::from_secs(30), "shared limits again", || async {
        // The whole cluster's burst is one replica's again.
        refill().await;
        burst(&c, &nordic, &[0], 60).await >= 36
    })
    .await;
    println!("shared limits back {took:?} after Redis restarted");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stopped_hires_503_reads_200_and_all_resumes_with_it() {
    let mut c = Cluster::start(3, NO_SCANS_MS).await;
    let acme = c.token(0, "acme-ats").await;
    let before = c.count(CANDIDATES).await;
    let body1 = hire_body("BeforeOutage");
    let first = c.hire(0, &acme, "cluster-pg-1", &body1).await;
    assert_eq!(first.status(), 201);

    tokio::task::block_in_place(|| c.pg.stop());
    let body2 = hire_body("DuringOutage");
    let resp = c.hire(1, &acme, "cluster-pg-2", &body2).await;
    assert_eq!(resp.status(), 503, "a hire without Postgres");
    assert!(
        resp.headers().contains_key("retry-after"),
        "503 says when to retry"
    );
    for i in 0..3 {
        let resp = c.get(i, "/v1/recruiting-requests?page_size=2", &acme).await;
        assert_eq!(resp.status(), 200, "read on replica {i} without Postgres");
    }
    assert_eq!(c.count(CANDIDATES).await, before + 1, "no half-write");

    tokio::task::block_in_place(|| c.pg.restart());
    let took = poll::holds_within(Duration::from_secs(30), "hires resume", || async {
        c.hire(1, &acme, "cluster-pg-2", &body2).await.status() == 201
    })
    .await;
    println!("hires resumed {took:?} after Postgres restarted");
    // Nothing lost: the hire before the outage still replays, on another replica.
    let resp = c.hire(2, &acme, "cluster-pg-1", &body1).await;
    assert_eq!(resp.status(), 201);
    assert!(replayed(&resp));
    assert_eq!(c.count(CANDIDATES).await, before + 2);
}

/// `scripts/cluster.sh` gives its replicas the demo partners through `partner-secret --stdin`.
#[test]
fn partner_secret_hashes_the_secret_given_on_stdin() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["partner-secret", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"acme-demo-secret\n")
        .expect("write");
    let out = child.wait_with_output().expect("run");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let hash = v["client_secret_hash"].as_str().expect("hash");
    assert!(ats_gateway::auth::secrets::verify_secret(
        "acme-demo-secret",
        hash
    ));
    assert!(!ats_gateway::auth::secrets::verify_secret(
        "acme-demo-secret\n",
        hash
    ));
    // An empty line is refused rather than hashed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ats-gateway"))
        .args(["partner-secret", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\n")
        .expect("write");
    assert!(!child.wait().expect("run").success());
}

/// A replica that refuses a call itself (another replica's 429 paused the cluster past the call's
/// deadline) answers the partner 429 with Retry-After, as for Dataverse's own 429, but that refusal
/// is no 429 from Dataverse: it is not counted as one, and the replica's pacing keeps its estimate
/// (after a real 429 it would let one call at a time through until an answer reports again).
#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_during_another_replicas_pause_is_not_counted_as_dataverses_429() {
    // Deadlines shorter than the 3 s pause: a paused call is refused, not held.
    let c = Cluster::start_with(2, NO_SCANS_MS, "request_timeout_ms = 1000").await;
    let (a, b) = (0, 1);
    let ta = c.token(a, "acme-ats").await;
    let tb = c.token(b, "acme-ats").await;
    // Distinct reads, never answered from the response cache.
    let mut n = 0;
    let mut read = || {
        n += 1;
        format!("/v1/recruiting-requests?page_size={}", n % 200 + 1)
    };
    assert_eq!(c.get(b, &read(), &tb).await.status(), 200, "warm-up");

    c.emu
        .fault(json!({"kind": "throttle", "retry_after": 3, "count": 1}))
        .await;
    let resp = c.get(a, &read(), &ta).await;
    assert_eq!(resp.status(), 429, "Dataverse's 429 to replica A");
    let paused_at = Instant::now();
    // A's pause reaches Redis a moment later: B sends until it sees it, then refuses by itself.
    let sent = loop {
        let sent = c.emu.stats().await["total_requests"]
            .as_u64()
            .expect("count");
        let resp = c.get(b, &read(), &tb).await;
        if resp.status() == 429 {
            assert!(resp.headers().contains_key("retry-after"), "Retry-After");
            break sent;
        }
        assert_eq!(resp.status(), 200);
        assert!(
            paused_at.elapsed() < Duration::from_secs(2),
            "B never saw A's pause"
        );
    };
    assert_eq!(
        c.emu.stats().await["total_requests"].as_u64(),
        Some(sent),
        "the refusal sent nothing"
    );
    assert_eq!(
        c.emu.stats().await["throttled"],
        1,
        "one 429 from Dataverse"
    );
    assert_eq!(
        c.counter(a, "upstream_throttled_total").await,
        1.0,
        "Dataverse's 429 counts"
    );

    // Once the pause is over, B's calls go at once: its pacing did not drop to one call at a time
    // (with 1 s deadlines, calls held behind a probe would be refused).
    poll::holds_within(
        Duration::from_secs(10),
        "A reads again after the pause",
        || async {
            c.get(a, "/v1/recruiting-requests?page_size=150", &ta)
                .await
                .status()
                == 200
        },
    )
    .await;
    // Slow answers: the four calls overlap (a probe would hold the other three).
    c.emu
        .fault(json!({"kind": "latency", "ms": 300, "target": RR}))
        .await;
    let paths: Vec<String> = (0..4).map(|_| read()).collect();
    let answers = futures::future::join_all(paths.iter().map(|p| c.get(b, p, &tb))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200; 4], "B's reads after the pause");
    // Scraped last: a scrape runs the readiness probe, a call that would end a probe early.
    assert_eq!(
        c.counter(b, "upstream_throttled_total").await,
        0.0,
        "B's own refusal is not Dataverse's 429"
    );
}
