//! Candidate hires written back into HR: the body checked (`request`, `validate`) before any
//! upstream call, then a journal of steps (`plan`) run with compensation (`execute`), guarded by
//! an idempotency record, and recovery at start for plans a dead process left unfinished.

pub mod execute;
pub mod plan;
pub mod request;
pub mod validate;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Principal;
use crate::resources::Reader;
use crate::store::{Begin, Outcome, StoreError, WriteStore};
use crate::upstream::{DataverseClient, UpstreamError};
use execute::{Cause, Failure};
use plan::{Phase, Plan};

/// One failing field of a body: an RFC 6901 pointer into it and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub pointer: String,
    pub detail: String,
}

impl Issue {
    pub fn new(pointer: &str, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.to_string(),
            detail: detail.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("invalid body")]
    Invalid(Vec<Issue>),
    #[error("the idempotency key is in use by a request still running")]
    InFlight,
    #[error("the idempotency key was used with another body")]
    KeyReused,
    /// Recovery of unfinished writes has not completed since start.
    #[error("recovering unfinished writes")]
    Recovering,
    /// A step failed and everything written was deleted again.
    #[error("step {step} failed: {cause}")]
    Undone {
        step: String,
        pointer: String,
        cause: UpstreamError,
    },
    /// A step failed and the undo could not finish yet (recovery retries it).
    #[error("step {step} failed and undo is pending: {cause}")]
    UndoPending { step: String, cause: String },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A reference read failed (already a partner problem).
    #[error("reference read failed: {0}")]
    Read(crate::problem::ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// The write side's state: the store and which plans this process is running right now.
pub struct Hires {
    store: Arc<dyn WriteStore>,
    active: Mutex<HashSet<Uuid>>,
    recovered: AtomicBool,
}

/// What the hire, its recovery and its maintenance use, and nothing else: the durable store and the
/// plans running now, the Dataverse client, and the resource reader (the request, reference lists,
/// option sets and the hired candidate's read-back). Built once in `app.rs`.
pub struct HireContext {
    pub hires: Hires,
    pub client: Arc<DataverseClient>,
    pub reader: Reader,
}

/// A plan id marked as run by a live task until dropped.
struct Active<'a>(&'a Hires, Uuid);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        if let Ok(mut a) = self.0.active.lock() {
            a.remove(&self.1);
        }
    }
}

impl Hires {
    pub fn new(store: Arc<dyn WriteStore>) -> Self {
        Self {
            store,
            active: Mutex::new(HashSet::new()),
            recovered: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> &dyn WriteStore {
        self.store.as_ref()
    }

    /// Whether start-up recovery finished (writes are refused until then).
    pub fn ready(&self) -> bool {
        self.recovered.load(Ordering::SeqCst)
    }

    fn activate(&self, id: Uuid) -> Option<Active<'_>> {
        let mut a = self.active.lock().ok()?;
        a.insert(id).then(|| Active(self, id))
    }
}

/// The body's identity for the idempotency record: SHA-256 of its canonical JSON (keys sorted), so
/// key order and whitespace do not make "another body".
pub fn fingerprint(body: &Value) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    canonical(body, &mut s);
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What `begin` decided for a request.
pub enum Started {
    /// Run it: the key is recorded as in flight.
    Fresh,
    Replay(Outcome),
}

/// Claims `key` for this body (replay, conflict or go).
pub async fn begin(
    st: &HireContext,
    principal: &Principal,
    key: &str,
    body: &Value,
) -> Result<Started, WriteError> {
    if !st.hires.ready() {
        return Err(WriteError::Recovering);
    }
    let fp = fingerprint(body);
    let mut settled = false;
    loop {
        return match st
            .hires
            .store
            .begin(&principal.partner_id, key, &fp)
            .await?
        {
            Begin::Started => Ok(Started::Fresh),
            Begin::Replay(o) => Ok(Started::Replay(o)),
            // In flight, but perhaps only because an earlier attempt's undo could not finish: try
            // to settle that plan now rather than make the partner wait for the next pass.
            Begin::InFlight if !settled => {
                settled = true;
                if settle_key(st, &principal.partner_id, key).await? {
                    continue;
                }
                Err(WriteError::InFlight)
            }
            Begin::InFlight => Err(WriteError::InFlight),
            Begin::Mismatch => Err(WriteError::KeyReused),
        };
    }
}

/// Settles the open plan of `key` if no live task runs it; `true` if one was settled.
async fn settle_key(st: &HireContext, partner: &str, key: &str) -> Result<bool, WriteError> {
    let open = st.hires.store.open_plans().await?;
    for rec in open
        .into_iter()
        .filter(|r| r.partner == partner && r.key == key)
    {
        if settle(st, &rec).await? == Some(true) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Checks, plans and writes a hire whose key `begin` claimed. On success the candidate exists and
/// the key is still in flight (the caller completes it with the response); on failure nothing
/// is left in HR and the key is released, unless the undo is pending (then recovery finishes it).
pub async fn hire(
    st: &HireContext,
    principal: &Principal,
    key: &str,
    body: &Value,
) -> Result<Uuid, WriteError> {
    let result = check_and_run(st, principal, key, body).await;
    let keep_key = matches!(result, Ok(_) | Err(WriteError::UndoPending { .. }));
    if !keep_key {
        st.hires.store.release(&principal.partner_id, key).await?;
    }
    result
}

async fn check_and_run(
    st: &HireContext,
    principal: &Principal,
    key: &str,
    body: &Value,
) -> Result<Uuid, WriteError> {
    let (req, issues) = request::parse(body);
    let checked = validate::check(st, principal, req, issues).await?;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut plan = Plan::new(&principal.partner_id, key, checked, &today);
    let _active = st.hires.activate(plan.id);
    execute::save_new(st.hires.store(), &mut plan).await?;
    let started = std::time::Instant::now();
    match execute::run(&st.client, st.hires.store(), &mut plan).await {
        Ok(()) => {
            plan.phase = Phase::Completed;
            execute::save(st.hires.store(), &mut plan).await?;
            metrics::histogram!("hire_write_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            let id = plan
                .candidate_id
                .ok_or_else(|| WriteError::Internal("plan completed without a candidate".into()))?;
            tracing::info!(plan = %plan.id, candidate = %id, steps = plan.steps.len(), journal_writes = plan.journal.writes, journal_bytes = plan.journal.bytes, "hire written");
            Ok(id)
        }
        Err(failure) => Err(fail(st, &mut plan, failure).await),
    }
}

/// Undoes a failed plan and says what failed.
async fn fail(st: &HireContext, plan: &mut Plan, failure: Failure) -> WriteError {
    let step = plan
        .steps
        .get(failure.step)
        .map(|s| (s.kind.clone(), s.pointer.clone()))
        .unwrap_or_default();
    plan.failure = Some(format!(
        "step {} ({}): {}",
        failure.step, step.0, failure.cause
    ));
    tracing::warn!(plan = %plan.id, step = %step.0, cause = %failure.cause, "hire step failed; undoing");
    let undone = execute::compensate(&st.client, st.hires.store(), plan).await;
    metrics::counter!("hire_undone_total", "complete" => undone.to_string()).increment(1);
    match (undone, failure.cause) {
        (true, Cause::Upstream(cause)) | (true, Cause::InDoubt(cause)) => WriteError::Undone {
            step: step.0,
            pointer: step.1,
            cause,
        },
        (true, Cause::Store(e)) => WriteError::Store(StoreError::Backend(e)),
        (false, cause) => WriteError::UndoPending {
            step: step.0,
            cause: cause.to_string(),
        },
    }
}

/// Completes or undoes every open plan not run by a live task, then (at start, `release_orphans`)
/// frees keys left in flight by a dead process without a plan. Returns how many plans it settled.
pub async fn recover(st: &HireContext, release_orphans: bool) -> Result<usize, WriteError> {
    let store = st.hires.store();
    let records = store.open_plans().await?;
    let mut settled = 0;
    let mut open_keys = HashSet::new();
    for rec in records {
        match settle(st, &rec).await? {
            Some(true) => settled += 1,
            _ => {
                open_keys.insert((rec.partner.clone(), rec.key.clone()));
            }
        }
    }
    if release_orphans {
        for (partner, key) in store.in_flight_keys().await? {
            if !open_keys.contains(&(partner.clone(), key.clone())) {
                store.release(&partner, &key).await?;
            }
        }
    }
    Ok(settled)
}

/// Completes or undoes one open plan. `None` when a live task runs it (or it is unreadable),
/// `Some(settled)` otherwise.
async fn settle(
    st: &HireContext,
    rec: &crate::store::PlanRecord,
) -> Result<Option<bool>, WriteError> {
    let store = st.hires.store();
    let Some(_active) = st.hires.activate(rec.id) else {
        return Ok(None);
    };
    let mut plan: Plan = match execute::load(rec) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(plan = %rec.id, error = %e, "unreadable write plan; left for an operator");
            return Ok(None);
        }
    };
    let done = match plan.phase {
        Phase::Running => match execute::run(&st.client, store, &mut plan).await {
            Ok(()) => {
                plan.phase = Phase::Completed;
                execute::save(store, &mut plan).await?;
                let id = plan.candidate_id;
                let outcome = Outcome {
                    status: 201,
                    location: id.map(|id| format!("/v1/candidates/{id}")),
                    resource_id: id,
                    body: None,
                };
                store.complete(&plan.partner, &plan.key, &outcome).await?;
                tracing::info!(plan = %plan.id, candidate = ?id, "unfinished hire completed");
                true
            }
            Err(f) => {
                tracing::warn!(plan = %plan.id, cause = %f.cause, "unfinished hire cannot be completed: undoing");
                undo(st, &mut plan).await?
            }
        },
        Phase::Compensating => undo(st, &mut plan).await?,
        Phase::Completed | Phase::Undone => true,
    };
    Ok(Some(done))
}

async fn undo(st: &HireContext, plan: &mut Plan) -> Result<bool, WriteError> {
    if execute::compensate(&st.client, st.hires.store(), plan).await {
        st.hires.store.release(&plan.partner, &plan.key).await?;
        tracing::info!(plan = %plan.id, "unfinished hire undone");
        Ok(true)
    } else {
        Ok(false)
    }
}

/// Start-up recovery (before writes are served), then a periodic pass for plans whose undo could
/// not finish and for expired keys.
pub async fn recover_at_start(st: &HireContext) {
    match recover(st, true).await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(plans = n, "unfinished writes settled at start");
            }
            st.hires.recovered.store(true, Ordering::SeqCst);
        }
        Err(e) => {
            tracing::warn!(error = %e, "recovery of unfinished writes failed; writes wait for it")
        }
    }
}

pub fn spawn_maintenance(st: Arc<HireContext>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            tick.tick().await;
            if !st.hires.ready() {
                recover_at_start(&st).await;
                continue;
            }
            if let Err(e) = recover(&st, false).await {
                tracing::warn!(error = %e, "recovery pass failed");
            }
            if let Err(e) = st.hires.store.purge_expired().await {
                tracing::warn!(error = %e, "purging expired idempotency records failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a = fingerprint(&json!({"a": 1, "b": {"x": [1, 2], "y": "z"}}));
        let b = fingerprint(&json!({"b": {"y": "z", "x": [1, 2]}, "a": 1}));
        let c = fingerprint(&json!({"a": 1, "b": {"x": [2, 1], "y": "z"}}));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
