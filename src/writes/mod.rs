//! Candidate hires written back into HR: the body checked (`request`, `validate`) before any
//! upstream call, then a journal of steps (`plan`) run with compensation (`execute`), guarded by
//! an idempotency record, and recovery for plans a dead process (this one before a restart, or
//! another replica) left unfinished: plans and in-flight keys are leased (`[state] lease_secs`),
//! renewed while a live task runs them, and taken over by any replica once the lease expired.

pub mod execute;
pub mod plan;
pub mod request;
pub mod validate;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Every step was written but closing the plan with its outcome failed: the key stays in
    /// flight with the plan open, and recovery closes it (the key then replays).
    #[error("the hire was written; recording it is pending: {0}")]
    FinishPending(StoreError),
    /// The request failed, but a plan of its key is open (its save reached the store although
    /// the reply was lost): the hire may still be written, so the key stays in flight and
    /// recovery completes or undoes the plan. The text is the request's own failure.
    #[error("the hire's outcome is not known yet: {0}")]
    OutcomeUnknown(String),
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

/// The write side's state: the store and which plans and keys this process is running right now
/// (their leases are renewed while they run).
pub struct Hires {
    store: Arc<dyn WriteStore>,
    active: Mutex<HashSet<Uuid>>,
    keys: Arc<Mutex<HashSet<(String, String)>>>,
    /// The recovery period: how long a lease lasts without renewal.
    lease: Duration,
    recovered: AtomicBool,
}

/// An idempotency key this process runs a request under: its lease is renewed until dropped (after
/// the outcome is recorded or the key released).
pub struct KeyHold {
    keys: Arc<Mutex<HashSet<(String, String)>>>,
    key: (String, String),
}

impl Drop for KeyHold {
    fn drop(&mut self) {
        if let Ok(mut k) = self.keys.lock() {
            k.remove(&self.key);
        }
    }
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
    /// `lease`: the recovery period the store leases plans and keys for (`[state] lease_secs`).
    pub fn new(store: Arc<dyn WriteStore>, lease: Duration) -> Self {
        Self {
            store,
            active: Mutex::new(HashSet::new()),
            keys: Arc::new(Mutex::new(HashSet::new())),
            lease,
            recovered: AtomicBool::new(false),
        }
    }

    fn hold_key(&self, partner: &str, key: &str) -> KeyHold {
        let key = (partner.to_string(), key.to_string());
        if let Ok(mut k) = self.keys.lock() {
            k.insert(key.clone());
        }
        KeyHold {
            keys: self.keys.clone(),
            key,
        }
    }

    /// Renews the leases of everything a live task here runs.
    pub async fn renew(&self) -> Result<(), StoreError> {
        let plans: Vec<Uuid> = self
            .active
            .lock()
            .map(|a| a.iter().copied().collect())
            .unwrap_or_default();
        let keys: Vec<(String, String)> = self
            .keys
            .lock()
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default();
        if plans.is_empty() && keys.is_empty() {
            return Ok(());
        }
        self.store.renew(&plans, &keys).await
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
    /// Run it: the key is recorded as in flight, leased to this process while the hold lives.
    Fresh(KeyHold),
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
            Begin::Started => Ok(Started::Fresh(
                st.hires.hold_key(&principal.partner_id, key),
            )),
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

/// Settles the open plan of `key` if its lease expired (no live task runs it); `true` if one was
/// settled.
async fn settle_key(st: &HireContext, partner: &str, key: &str) -> Result<bool, WriteError> {
    let claimed = st.hires.store.claim_expired(Some((partner, key))).await?;
    for rec in claimed {
        if settle(st, &rec).await? == Some(true) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Checks, plans and writes a hire whose key `begin` claimed. On success the candidate exists and
/// the key already replays it (recorded with the plan's close); on failure nothing is left in HR
/// and the key is released, unless the undo or the outcome is pending (then recovery settles it).
pub async fn hire(
    st: &HireContext,
    principal: &Principal,
    key: &str,
    body: &Value,
) -> Result<Uuid, WriteError> {
    match check_and_run(st, principal, key, body).await {
        Err(e)
            if !matches!(
                e,
                WriteError::UndoPending { .. } | WriteError::FinishPending(_)
            ) =>
        {
            match st.hires.store.release(&principal.partner_id, key).await {
                Ok(true) => Err(e),
                // Its plan is open although this request saw the save fail (the reply was lost):
                // the plan may run yet, so the partner must not be told that nothing was written.
                Ok(false) => {
                    tracing::error!(partner = %principal.partner_id, error = %e, "hire failed after its plan was saved; its key is kept until recovery completes or undoes the plan");
                    Err(WriteError::OutcomeUnknown(e.to_string()))
                }
                // The store did not answer: whether a plan was saved is not known either (the
                // same outage may have lost a save's reply), and the key stays in flight until
                // recovery settles it or its lease ends.
                Err(release) => {
                    tracing::error!(partner = %principal.partner_id, error = %e, release = %release, "hire failed and its key could not be released; recovery settles it");
                    Err(WriteError::OutcomeUnknown(e.to_string()))
                }
            }
        }
        other => other,
    }
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
            // HR holds the hire from here on: never release the key, whatever fails.
            let id = plan.candidate_id.ok_or_else(|| {
                finish_pending(
                    &plan,
                    StoreError::Corrupt("plan completed without a candidate".into()),
                )
            })?;
            execute::finish(st.hires.store(), &mut plan, outcome_of(id))
                .await
                .map_err(|e| finish_pending(&plan, e))?;
            metrics::histogram!("hire_write_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            tracing::info!(plan = %plan.id, candidate = %id, steps = plan.steps.len(), journal_writes = plan.journal.writes, journal_bytes = plan.journal.bytes, "hire written");
            Ok(id)
        }
        Err(failure) => Err(fail(st, &mut plan, failure).await),
    }
}

/// What a hire's key replays: the created candidate (its body is rendered again at each replay,
/// through the partner's rights then).
pub fn outcome_of(candidate: Uuid) -> Outcome {
    Outcome {
        status: 201,
        location: Some(format!("/v1/candidates/{candidate}")),
        resource_id: Some(candidate),
        body: None,
    }
}

/// A plan whose every step ran could not be closed with its outcome: the candidate is in HR, the
/// key stays in flight with the plan open, and recovery records it. Logged here, once.
fn finish_pending(plan: &Plan, e: StoreError) -> WriteError {
    tracing::error!(plan = %plan.id, candidate = ?plan.candidate_id, error = %e, "hire written to HR, but recording its outcome failed; recovery records it");
    WriteError::FinishPending(e)
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

/// Claims every open plan whose lease expired (its replica died, or its undo could not finish)
/// and completes or undoes it, then frees keys left in flight without a plan by a request that
/// died. Returns how many plans it settled.
pub async fn recover(st: &HireContext) -> Result<usize, WriteError> {
    let store = st.hires.store();
    let mut settled = 0;
    for rec in store.claim_expired(None).await? {
        if settle(st, &rec).await? == Some(true) {
            settled += 1;
        }
    }
    let freed = store.release_orphans().await?;
    if freed > 0 {
        tracing::info!(
            keys = freed,
            "idempotency keys of requests that died released"
        );
    }
    Ok(settled)
}

/// Completes or undoes one open plan, or closes one that can be neither as failed. `None` when a
/// live task runs it (or it is unreadable), `Some(settled)` otherwise.
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
                let Some(id) = plan.candidate_id else {
                    // Left open, it would be claimed and run again by every pass, for ever.
                    close_corrupt(st, &mut plan).await?;
                    return Ok(Some(true));
                };
                // Every step ran: a failure to record it is the live path's FinishPending (a
                // retry settling it inline must not be told that nothing was written).
                execute::finish(store, &mut plan, outcome_of(id))
                    .await
                    .map_err(|e| finish_pending(&plan, e))?;
                tracing::info!(plan = %plan.id, candidate = %id, "unfinished hire completed");
                true
            }
            Err(f) => {
                tracing::warn!(plan = %plan.id, cause = %f.cause, "unfinished hire cannot be completed: undoing");
                undo(st, &mut plan).await?
            }
        },
        Phase::Compensating => undo(st, &mut plan).await?,
        Phase::Completed | Phase::Undone | Phase::Failed => true,
    };
    Ok(Some(done))
}

/// What the key of a plan closed as failed answers from then on: no resource, and the status of
/// the `hire-needs-operator` problem the replay gives.
pub fn failed_outcome() -> Outcome {
    Outcome {
        status: 409,
        location: None,
        resource_id: None,
        body: None,
    }
}

/// A plan whose every step ran but that names no candidate (only a corrupt journal reads so):
/// it cannot be completed (there is no candidate to answer with) nor undone with confidence (its
/// record of what it wrote is what is in doubt). Closed once, as failed, with its key's failed
/// outcome, and logged once with the rows its steps recorded (ids only), for an operator to check
/// in HR.
async fn close_corrupt(st: &HireContext, plan: &mut Plan) -> Result<(), WriteError> {
    let rows: Vec<String> = plan
        .steps
        .iter()
        .flat_map(|s| &s.created)
        .map(|c| format!("{}({})", c.set, c.id))
        .collect();
    let rows = if rows.is_empty() {
        "none".to_string()
    } else {
        rows.join(", ")
    };
    let why = format!("every step ran, but the journal names no candidate; rows its steps recorded as written: {rows}");
    execute::close_failed(st.hires.store(), plan, why, failed_outcome()).await?;
    tracing::error!(plan = %plan.id, partner = %plan.partner, rows = %rows, "write plan closed as failed: every step ran, but its journal names no candidate, so it can be neither completed nor undone; its key now answers hire-needs-operator. Check HR for the rows listed");
    Ok(())
}

async fn undo(st: &HireContext, plan: &mut Plan) -> Result<bool, WriteError> {
    if execute::compensate(&st.client, st.hires.store(), plan).await {
        // The plan is closed now: its key is freed (unless another plan of it is open).
        st.hires.store.release(&plan.partner, &plan.key).await?;
        tracing::info!(plan = %plan.id, "unfinished hire undone");
        Ok(true)
    } else {
        Ok(false)
    }
}

/// Start-up recovery (before writes are served), then a periodic pass for plans whose lease
/// expired and for expired keys.
pub async fn recover_at_start(st: &HireContext) {
    match recover(st).await {
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

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often leases are renewed and expired ones looked for: a third of the recovery period (a
/// renewal may fail twice before the lease lapses), at most every 15 s.
fn pass_interval(lease: Duration) -> Duration {
    (lease / 3).clamp(Duration::from_millis(100), Duration::from_secs(15))
}

/// The write side's background work: lease renewal (its own task, so a long recovery never delays
/// it) and the recovery pass. Both end with the runtime (a killed process renews nothing, so its
/// leases lapse and another replica takes over).
pub fn spawn_maintenance(st: Arc<HireContext>) -> tokio::task::JoinHandle<()> {
    let every = pass_interval(st.hires.lease);
    let renewer = st.clone();
    let renewer = AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = renewer.hires.renew().await {
                tracing::warn!(error = %e, "renewing write leases failed");
            }
        }
    }));
    tokio::spawn(async move {
        // Aborting the maintenance task stops the renewal too.
        let _renewer = renewer;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !st.hires.ready() {
                recover_at_start(&st).await;
                continue;
            }
            if let Err(e) = recover(&st).await {
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
