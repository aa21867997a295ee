//! The embedded backend: one SQLite file in the state directory (WAL, `synchronous=FULL`, so a
//! committed record survives a crash). Calls run on the blocking pool; one connection behind a
//! mutex is plenty for the write rate of hires.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::{Begin, BoxFuture, PlanRecord, PlanUpdate, StoreError, WriteStore};

pub mod partners;
pub mod webhooks;

pub const FILE_NAME: &str = crate::config::SQLITE_FILE;

/// `[state] lease_secs`' default.
const DEFAULT_LEASE: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS idempotency (
    partner     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    outcome     TEXT,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (partner, key)
);
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires_at);
CREATE TABLE IF NOT EXISTS plans (
    id         TEXT PRIMARY KEY,
    partner    TEXT NOT NULL,
    key        TEXT NOT NULL,
    open       INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_open ON plans (open, updated_at);
CREATE TABLE IF NOT EXISTS plan_steps (
    plan TEXT NOT NULL,
    idx  INTEGER NOT NULL,
    doc  TEXT NOT NULL,
    PRIMARY KEY (plan, idx)
);
";

/// One-time data steps for files older gateways made, in order, each applied once (in one
/// transaction with its number in `PRAGMA user_version`). Tables and columns need none:
/// `CREATE … IF NOT EXISTS` and `webhooks::upgrade` bring any file up to date at every open.
fn one_time_steps(conn: &mut Connection) -> Result<(), StoreError> {
    let steps: [(i64, String); 1] = [(1, webhooks::forget_revoked_partners_subscriptions())];
    for (version, sql) in steps {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let applied: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(backend)?;
        if applied >= version {
            continue;
        }
        tx.execute_batch(&sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    ttl: Duration,
    /// Leases of plans and in-flight keys. In memory: the directory lock makes this process the
    /// only one, so whatever has no lease here was left by a process that is gone.
    leases: Arc<Mutex<Leases>>,
    /// The state directory is this process's while the store is open.
    _lock: Arc<super::state_dir::DirLock>,
}

#[derive(Default)]
struct Leases {
    period: Duration,
    plans: HashMap<Uuid, Instant>,
    keys: HashMap<(String, String), Instant>,
}

impl Leases {
    fn key_live(&self, partner: &str, key: &str) -> bool {
        self.keys
            .get(&(partner.to_string(), key.to_string()))
            .is_some_and(|until| *until > Instant::now())
    }
    fn hold_key(&mut self, partner: &str, key: &str) {
        let until = Instant::now() + self.period;
        self.keys
            .insert((partner.to_string(), key.to_string()), until);
    }
    fn hold_plan(&mut self, id: Uuid) {
        let until = Instant::now() + self.period;
        self.plans.insert(id, until);
    }
}

pub(super) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl SqliteStore {
    /// Opens (creating the directory and the file if needed) `dir/ats-gateway.sqlite3`, after
    /// taking the directory's lock (another process holding it: an error naming it).
    pub fn open(dir: &Path, ttl: Duration) -> Result<Self, StoreError> {
        Self::open_file(dir, FILE_NAME, ttl)
    }

    /// `open`, with the database file's name in `dir` (`[state] url = "sqlite://DIR/FILE"`).
    pub fn open_file(dir: &Path, file_name: &str, ttl: Duration) -> Result<Self, StoreError> {
        let lock = super::state_dir::prepare(dir)?;
        let file = dir.join(file_name);
        super::state_dir::private_file(&file)?;
        for side in ["-wal", "-shm", "-journal"] {
            let mut name = file.clone().into_os_string();
            name.push(side);
            super::state_dir::narrow(Path::new(&name)).map_err(backend)?;
        }
        let mut conn = Connection::open(&file).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        conn.execute_batch(super::sqlite_changes::SCHEMA)
            .map_err(backend)?;
        conn.execute_batch(webhooks::SCHEMA).map_err(backend)?;
        webhooks::upgrade(&conn)?;
        conn.execute_batch(partners::SCHEMA).map_err(backend)?;
        one_time_steps(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            ttl,
            leases: Arc::new(Mutex::new(Leases {
                period: DEFAULT_LEASE,
                ..Leases::default()
            })),
            _lock: lock,
        })
    }

    /// The recovery period (`[state] lease_secs`).
    pub fn with_lease(self, period: Duration) -> Self {
        if let Ok(mut l) = self.leases.lock() {
            l.period = period;
        }
        self
    }

    fn leases(&self) -> Result<std::sync::MutexGuard<'_, Leases>, StoreError> {
        self.leases.lock().map_err(|_| backend("leases poisoned"))
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(super) fn run<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        let conn = self.conn.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut guard = conn.lock().map_err(|_| backend("connection poisoned"))?;
                f(&mut guard)
            })
            .await
            .map_err(backend)?
        })
    }
}

impl WriteStore for SqliteStore {
    fn begin<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
        fingerprint: &'a str,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        let (partner, key, fingerprint) = (
            partner.to_string(),
            key.to_string(),
            fingerprint.to_string(),
        );
        let ttl = self.ttl_secs();
        let leases = self.leases.clone();
        self.run(move |conn| {
            let mut leases = leases.lock().map_err(|_| backend("leases poisoned"))?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let t = now();
            let existing: Option<(String, String, Option<String>, i64)> = tx
                .query_row(
                    "SELECT fingerprint, state, outcome, expires_at FROM idempotency WHERE partner = ?1 AND key = ?2",
                    params![partner, key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(backend)?;
            // An expired record is free again, unless a plan of its key is still open (an undo
            // still pending keeps its key).
            let open = existing.is_some() && has_open_plan(&tx, &partner, &key)?;
            let live = match &existing {
                Some((.., expires)) => *expires > t || open,
                None => false,
            };
            let answer = match existing {
                Some((fp, state, outcome, _)) if live => {
                    if fp != fingerprint {
                        Begin::Mismatch
                    } else if state == "completed" {
                        let text = outcome.ok_or_else(|| StoreError::Corrupt("completed without outcome".into()))?;
                        Begin::Replay(serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?)
                    } else if leases.key_live(&partner, &key) || open {
                        Begin::InFlight
                    } else {
                        // Its request died before writing anything: the key is this request's.
                        leases.hold_key(&partner, &key);
                        Begin::Started
                    }
                }
                _ => {
                    tx.execute(
                        "INSERT OR REPLACE INTO idempotency (partner, key, fingerprint, state, outcome, expires_at) VALUES (?1, ?2, ?3, 'in_flight', NULL, ?4)",
                        params![partner, key, fingerprint, t.saturating_add(ttl)],
                    )
                    .map_err(backend)?;
                    leases.hold_key(&partner, &key);
                    Begin::Started
                }
            };
            tx.commit().map_err(backend)?;
            Ok(answer)
        })
    }

    fn release<'a>(
        &'a self,
        partner: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (partner, key) = (partner.to_string(), key.to_string());
        let leases = self.leases.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            // A plan of the key is open: whatever its caller saw, the plan may write (or have
            // written) HR's rows, so the key stays its plan's until recovery settles it.
            if has_open_plan(&tx, &partner, &key)? {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM idempotency WHERE partner = ?1 AND key = ?2 AND state = 'in_flight'",
                params![partner, key],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            if let Ok(mut l) = leases.lock() {
                l.keys.remove(&(partner, key));
            }
            Ok(true)
        })
    }

    fn save_plan<'a>(&'a self, plan: &'a PlanRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        let p = plan.clone();
        if let Ok(mut l) = self.leases() {
            l.hold_plan(p.id);
        }
        self.run(move |conn| {
            let doc = serde_json::to_string(&p.doc).map_err(backend)?;
            let id = p.id.to_string();
            let tx = conn.transaction().map_err(backend)?;
            tx.execute(
                "INSERT OR REPLACE INTO plans (id, partner, key, open, doc, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, p.partner, p.key, p.open, doc, now()],
            )
            .map_err(backend)?;
            tx.execute("DELETE FROM plan_steps WHERE plan = ?1", params![id])
                .map_err(backend)?;
            for (i, step) in p.steps.iter().enumerate() {
                put_step(&tx, &id, i, step)?;
            }
            tx.commit().map_err(backend)
        })
    }

    fn save_progress<'a>(
        &'a self,
        update: &'a PlanUpdate,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let u = update.clone();
        let outcome = u
            .outcome
            .as_ref()
            .map(|o| serde_json::to_string(o).map_err(backend));
        if let Ok(mut l) = self.leases() {
            match &u.plan {
                Some((false, _)) => {
                    l.plans.remove(&u.id);
                }
                _ => l.hold_plan(u.id),
            }
        }
        let leases = self.leases.clone();
        self.run(move |conn| {
            let id = u.id.to_string();
            let tx = conn.transaction().map_err(backend)?;
            let changed = match &u.plan {
                Some((open, doc)) => {
                    let doc = serde_json::to_string(doc).map_err(backend)?;
                    tx.execute(
                        "UPDATE plans SET open = ?2, doc = ?3, updated_at = ?4 WHERE id = ?1",
                        params![id, open, doc, now()],
                    )
                }
                None => tx.execute(
                    "UPDATE plans SET updated_at = ?2 WHERE id = ?1",
                    params![id, now()],
                ),
            }
            .map_err(backend)?;
            if changed == 0 {
                return Err(backend(format!("no plan {id} to update")));
            }
            if let Some((i, step)) = &u.step {
                put_step(&tx, &id, *i, step)?;
            }
            // Nothing reads a finished plan's steps, and a pending step's body holds personal
            // fields: a plan that closes keeps only its own record.
            if let Some((false, _)) = &u.plan {
                tx.execute("DELETE FROM plan_steps WHERE plan = ?1", params![id])
                    .map_err(backend)?;
            }
            // A plan closing completed records its key's outcome in the same transaction.
            let completed = match outcome {
                Some(text) => {
                    let (partner, key): (String, String) = tx
                        .query_row(
                            "SELECT partner, key FROM plans WHERE id = ?1",
                            params![id],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .map_err(backend)?;
                    tx.execute(
                        "UPDATE idempotency SET state = 'completed', outcome = ?3
                         WHERE partner = ?1 AND key = ?2 AND state = 'in_flight'",
                        params![partner, key, text?],
                    )
                    .map_err(backend)?;
                    Some((partner, key))
                }
                None => None,
            };
            tx.commit().map_err(backend)?;
            // Only once the row says completed: until then the lease keeps `release_orphans` off
            // the key.
            if let (Some(k), Ok(mut l)) = (completed, leases.lock()) {
                l.keys.remove(&k);
            }
            Ok(())
        })
    }

    fn open_plans(&self) -> BoxFuture<'_, Result<Vec<PlanRecord>, StoreError>> {
        self.run(|conn| {
            let mut stmt = conn
                .prepare("SELECT id, partner, key, doc FROM plans WHERE open = 1 ORDER BY updated_at, id")
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
                })
                .map_err(backend)?;
            let mut steps = conn
                .prepare("SELECT doc FROM plan_steps WHERE plan = ?1 ORDER BY idx")
                .map_err(backend)?;
            let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
            let mut out = Vec::new();
            for row in rows {
                let (id, partner, key, doc) = row.map_err(backend)?;
                let step_docs = steps
                    .query_map(params![id], |r| r.get::<_, String>(0))
                    .map_err(backend)?
                    .map(|d| serde_json::from_str(&d.map_err(backend)?).map_err(corrupt))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(PlanRecord {
                    id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    partner,
                    key,
                    open: true,
                    doc: serde_json::from_str(&doc).map_err(corrupt)?,
                    steps: step_docs,
                });
            }
            Ok(out)
        })
    }

    fn renew<'a>(
        &'a self,
        plans: &'a [Uuid],
        keys: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let renewed = self.leases().map(|mut l| {
            let until = Instant::now() + l.period;
            for id in plans {
                l.plans.insert(*id, until);
            }
            for k in keys {
                l.keys.insert(k.clone(), until);
            }
        });
        Box::pin(async move { renewed })
    }

    fn claim_expired<'a>(
        &'a self,
        key: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<Vec<PlanRecord>, StoreError>> {
        let key = key.map(|(p, k)| (p.to_string(), k.to_string()));
        Box::pin(async move {
            let open = self.open_plans().await?;
            let mut leases = self.leases()?;
            let mut claimed = Vec::new();
            for rec in open {
                if key
                    .as_ref()
                    .is_some_and(|(p, k)| *p != rec.partner || *k != rec.key)
                {
                    continue;
                }
                // One process: a plan is this process's or a gone one's, so every open plan
                // is returned (the caller skips the ones a live task runs).
                leases.hold_plan(rec.id);
                leases.hold_key(&rec.partner, &rec.key);
                claimed.push(rec);
            }
            Ok(claimed)
        })
    }

    fn release_orphans(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        let leases = self.leases.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let keys: Vec<(String, String)> = {
                let mut stmt = tx
                    .prepare(
                        "SELECT i.partner, i.key FROM idempotency i WHERE i.state = 'in_flight'
                         AND NOT EXISTS (SELECT 1 FROM plans p WHERE p.partner = i.partner AND p.key = i.key AND p.open = 1)",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(backend)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
            };
            let leases = leases.lock().map_err(|_| backend("leases poisoned"))?;
            let mut released = 0;
            for (partner, key) in keys {
                if leases.key_live(&partner, &key) {
                    continue;
                }
                released += tx
                    .execute(
                        "DELETE FROM idempotency WHERE partner = ?1 AND key = ?2 AND state = 'in_flight'",
                        params![partner, key],
                    )
                    .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(released as u64)
        })
    }

    fn purge_expired(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        let ttl = self.ttl_secs();
        self.run(move |conn| {
            let t = now();
            let keys = conn
                .execute(
                    "DELETE FROM idempotency WHERE expires_at <= ?1 AND state = 'completed'",
                    params![t],
                )
                .map_err(backend)?;
            let before = t.saturating_sub(ttl);
            conn.execute(
                "DELETE FROM plan_steps WHERE plan IN (SELECT id FROM plans WHERE open = 0 AND updated_at <= ?1)",
                params![before],
            )
            .map_err(backend)?;
            let plans = conn
                .execute(
                    "DELETE FROM plans WHERE open = 0 AND updated_at <= ?1",
                    params![before],
                )
                .map_err(backend)?;
            Ok((keys + plans) as u64)
        })
    }
}

fn has_open_plan(
    tx: &rusqlite::Transaction<'_>,
    partner: &str,
    key: &str,
) -> Result<bool, StoreError> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM plans WHERE partner = ?1 AND key = ?2 AND open = 1)",
        params![partner, key],
        |r| r.get(0),
    )
    .map_err(backend)
}

fn put_step(
    tx: &rusqlite::Transaction<'_>,
    plan: &str,
    i: usize,
    step: &serde_json::Value,
) -> Result<(), StoreError> {
    let doc = serde_json::to_string(step).map_err(backend)?;
    let idx = i64::try_from(i).map_err(backend)?;
    tx.execute(
        "INSERT OR REPLACE INTO plan_steps (plan, idx, doc) VALUES (?1, ?2, ?3)",
        params![plan, idx, doc],
    )
    .map_err(backend)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Outcome;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "atsgw-store-{name}-{}-{}",
            std::process::id(),
            Uuid::new_v4()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn outcome() -> Outcome {
        Outcome {
            status: 201,
            location: Some("/v1/candidates/x".into()),
            resource_id: None,
            body: None,
        }
    }

    fn plan(partner: &str, key: &str) -> PlanRecord {
        PlanRecord {
            id: Uuid::new_v4(),
            partner: partner.into(),
            key: key.into(),
            open: true,
            doc: serde_json::json!({"phase": "running"}),
            steps: vec![serde_json::json!({"n": 0})],
        }
    }

    /// A hire under `partner`/`key` whose plan closes completed with `outcome`.
    async fn hired(s: &SqliteStore, partner: &str, key: &str, outcome: Outcome) {
        let p = plan(partner, key);
        s.save_plan(&p).await.expect("save");
        s.save_progress(&PlanUpdate {
            id: p.id,
            plan: Some((false, serde_json::json!({"phase": "completed"}))),
            step: None,
            outcome: Some(outcome),
        })
        .await
        .expect("finish");
    }

    fn leased_keys(s: &SqliteStore) -> usize {
        s.leases().expect("leases").keys.len()
    }

    #[tokio::test]
    async fn keys_are_per_partner_and_replay_after_completion() {
        let s = SqliteStore::open(&dir("keys"), Duration::from_secs(60)).expect("open");
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
        hired(&s, "a", "k", outcome()).await;
        assert_eq!(
            s.begin("a", "k", "f1").await.expect("begin"),
            Begin::Replay(outcome())
        );
        assert!(s.release("b", "k").await.expect("release"));
        assert_eq!(
            s.begin("b", "k", "f3").await.expect("begin"),
            Begin::Started
        );
    }

    #[tokio::test]
    async fn records_and_plans_survive_reopening_and_expire() {
        let d = dir("reopen");
        {
            let s = SqliteStore::open(&d, Duration::from_secs(60)).expect("open");
            s.begin("a", "k", "f").await.expect("begin");
            let plan = PlanRecord {
                id: Uuid::new_v4(),
                partner: "a".into(),
                key: "k".into(),
                open: true,
                doc: serde_json::json!({"phase": "running"}),
                steps: vec![serde_json::json!({"n": 0}), serde_json::json!({"n": 1})],
            };
            s.save_plan(&plan).await.expect("save");
            s.save_progress(&PlanUpdate {
                id: plan.id,
                plan: None,
                step: Some((1, serde_json::json!({"n": 1, "done": true}))),
                outcome: None,
            })
            .await
            .expect("progress");
        }
        let s = SqliteStore::open(&d, Duration::from_secs(60)).expect("reopen");
        let open = s.open_plans().await.expect("plans");
        assert_eq!(open.len(), 1);
        assert_eq!(
            open[0].steps,
            vec![
                serde_json::json!({"n": 0}),
                serde_json::json!({"n": 1, "done": true})
            ],
            "one step rewritten, in place"
        );
        s.save_progress(&PlanUpdate {
            id: open[0].id,
            plan: Some((false, serde_json::json!({"phase": "undone"}))),
            step: None,
            outcome: None,
        })
        .await
        .expect("close");
        assert!(s.open_plans().await.expect("plans").is_empty());
        let left: i64 = s
            .run(|c| {
                c.query_row("SELECT COUNT(*) FROM plan_steps", [], |r| r.get(0))
                    .map_err(backend)
            })
            .await
            .expect("count");
        assert_eq!(left, 0, "a closed plan keeps no step (nor its body)");
        assert_eq!(
            s.release_orphans().await.expect("orphans"),
            1,
            "a key in flight without a plan, left by a process that is gone"
        );
        s.begin("a", "k", "f").await.expect("begin again");
        // A zero TTL: the record is expired at once, so the key is free again.
        let s = SqliteStore::open(&d, Duration::ZERO).expect("reopen");
        hired(&s, "a", "k", outcome()).await;
        assert_eq!(
            s.begin("a", "k", "other").await.expect("begin"),
            Begin::Mismatch,
            "not expired: written with the 60 s TTL"
        );
        assert!(
            s.release("a", "k")
                .await
                .expect("noop: completed records are not released"),
            "no plan open"
        );
        s.begin("z", "k", "f").await.expect("begin");
        assert_eq!(
            s.begin("z", "k", "g").await.expect("begin"),
            Begin::Started,
            "expired at once"
        );
    }

    /// A plan that closes completed records its key's outcome in the same transaction, and the
    /// key's lease (kept until then, against `release_orphans`) goes with it: one entry per hire
    /// would otherwise stay in the map for the life of the process.
    #[tokio::test]
    async fn a_plan_closing_completed_records_its_keys_outcome_and_drops_its_lease() {
        let s = SqliteStore::open(&dir("finish"), Duration::from_secs(60))
            .expect("open")
            .with_lease(Duration::ZERO);
        assert_eq!(s.begin("a", "k", "f").await.expect("begin"), Begin::Started);
        assert_eq!(leased_keys(&s), 1);
        hired(&s, "a", "k", outcome()).await;
        assert_eq!(leased_keys(&s), 0, "the completed key's lease is dropped");
        // A zero lease: an orphan pass now would free an in-flight key without an open plan.
        assert_eq!(s.release_orphans().await.expect("orphans"), 0);
        assert_eq!(
            s.begin("a", "k", "f").await.expect("begin"),
            Begin::Replay(outcome())
        );
        // A step's progress (no outcome) keeps the key's lease.
        assert_eq!(s.begin("a", "j", "f").await.expect("begin"), Begin::Started);
        let p = plan("a", "j");
        s.save_plan(&p).await.expect("save");
        s.save_progress(&PlanUpdate {
            id: p.id,
            plan: None,
            step: Some((0, serde_json::json!({"n": 0, "done": true}))),
            outcome: None,
        })
        .await
        .expect("progress");
        assert_eq!(leased_keys(&s), 1);
    }

    /// A save whose caller saw it fail may still have left its plan open: `release` then keeps
    /// the key (a retry must not start a second plan while the first may still write), and an
    /// expired record whose plan is open is not taken over.
    #[tokio::test]
    async fn a_key_whose_plan_is_open_is_neither_released_nor_taken_over_once_expired() {
        let s = SqliteStore::open(&dir("open-plan"), Duration::ZERO).expect("open");
        assert_eq!(s.begin("a", "k", "f").await.expect("begin"), Begin::Started);
        let p = plan("a", "k");
        s.save_plan(&p).await.expect("save");
        assert!(
            !s.release("a", "k").await.expect("release"),
            "kept: its plan is open"
        );
        assert_eq!(leased_keys(&s), 1, "the lease stays with the kept key");
        assert_eq!(
            s.begin("a", "k", "f").await.expect("begin"),
            Begin::InFlight,
            "expired at once (TTL 0), but its plan is open"
        );
        assert_eq!(
            s.begin("a", "k", "g").await.expect("begin"),
            Begin::Mismatch
        );
        assert_eq!(s.release_orphans().await.expect("orphans"), 0);
        // Undone: the plan closes, and the key is free again.
        s.save_progress(&PlanUpdate {
            id: p.id,
            plan: Some((false, serde_json::json!({"phase": "undone"}))),
            step: None,
            outcome: None,
        })
        .await
        .expect("close");
        assert!(s.release("a", "k").await.expect("release"));
        assert_eq!(leased_keys(&s), 0);
        assert_eq!(s.begin("a", "k", "g").await.expect("begin"), Begin::Started);
    }
}
