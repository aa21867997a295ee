//! Runs a plan's steps in order, saving the plan before and after each upstream call, and undoes
//! them. Retry rules: a POST is retried only once its first attempt is known not to have written
//! anything (a 4xx/429 answer, or a 5xx/timeout after which a read finds no row); a DELETE is
//! idempotent and retried on transient failures. The same code resumes a plan after a restart.
//!
//! A create whose answer was lost is resolved only by the key the plan chose for its row (a read
//! of that key; a re-sent POST that HR refuses as a duplicate key), and compensation deletes only
//! rows proven that way: never a row found by its business fields. The journal is written per
//! step (the step's own record, its body dropped once it is done), never the whole plan again.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::plan::{Created, Phase, Plan, StepState};
use crate::model::candidate as cand;
use crate::store::{Outcome, PlanRecord, PlanUpdate, StoreError, WriteStore};
use crate::upstream::odata::Query;
use crate::upstream::{DataverseClient, UpstreamError};

/// Why a step (or the journal) failed.
#[derive(Debug, Clone)]
pub enum Cause {
    Upstream(UpstreamError),
    Store(String),
    /// A call's outcome stayed unknown (it failed, and the read that would tell failed too).
    InDoubt(UpstreamError),
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Upstream(e) => write!(f, "{e}"),
            Cause::Store(e) => write!(f, "{e}"),
            Cause::InDoubt(e) => write!(f, "outcome unknown: {e}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub step: usize,
    pub cause: Cause,
}

/// Whether HR keeps the keys the gateway sends, as this process has seen it: [`KEYS_UNKNOWN`]
/// until a create answers. The reference describes virtual tables' keys as made from HR's record
/// id, so an environment may ignore them; then no row under a plan's key proves nothing, and an
/// unknown outcome stays unknown (no retry, no adoption) for an operator. Until a create (of this
/// process, or journaled in the plan: `Plan::keys_kept`) showed the key kept, it is unknown too:
/// a process that just started must not re-send a write it cannot prove undone.
static KEYS: AtomicU8 = AtomicU8::new(KEYS_UNKNOWN);
const KEYS_UNKNOWN: u8 = 0;
const KEYS_KEPT: u8 = 1;
const KEYS_IGNORED: u8 = 2;

/// A create (this process's, or journaled in a plan) showed HR keeping the key sent. Never over
/// an observed `IGNORED`: one environment cannot do both.
fn keys_seen_kept() {
    let _ = KEYS.compare_exchange(
        KEYS_UNKNOWN,
        KEYS_KEPT,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
}

const READ_ATTEMPTS: u32 = 3;
/// POST attempts when the first is known to have written nothing.
const POST_ATTEMPTS: u32 = 2;

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn open(plan: &Plan) -> bool {
    matches!(plan.phase, Phase::Running | Phase::Compensating)
}

/// Journals a new plan with every step (once, before the first upstream call).
pub async fn save_new(store: &dyn WriteStore, plan: &mut Plan) -> Result<(), StoreError> {
    let doc = serde_json::to_value(&*plan).map_err(corrupt)?;
    let steps = plan
        .steps
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt)?;
    plan.journal.add(std::iter::once(&doc).chain(steps.iter()));
    store
        .save_plan(&PlanRecord {
            id: plan.id,
            partner: plan.partner.clone(),
            key: plan.key.clone(),
            open: open(plan),
            doc,
            steps,
        })
        .await
}

/// Journals the plan's own record (phase, ids, failure), not its steps.
pub async fn save(store: &dyn WriteStore, plan: &mut Plan) -> Result<(), StoreError> {
    save_update(store, plan, true, None, None).await
}

/// Closes a plan whose steps all ran as completed, and records its key's `outcome` in the same
/// write: once the plan is closed the key replays, whatever happens to this process next.
pub async fn finish(
    store: &dyn WriteStore,
    plan: &mut Plan,
    outcome: Outcome,
) -> Result<(), StoreError> {
    plan.phase = Phase::Completed;
    save_update(store, plan, true, None, Some(outcome)).await
}

/// Closes a plan recovery can neither complete nor undo as failed (`why`), recording its key's
/// failed `outcome` in the same write: no pass claims the plan again, and the key answers the
/// failure rather than being freed (HR may hold what the steps wrote).
pub async fn close_failed(
    store: &dyn WriteStore,
    plan: &mut Plan,
    why: String,
    outcome: Outcome,
) -> Result<(), StoreError> {
    plan.phase = Phase::Failed;
    plan.failure = Some(why);
    save_update(store, plan, true, None, Some(outcome)).await
}

/// Journals step `i` (with the plan's own record for step 0, which learns the candidate's ids).
async fn save_step(store: &dyn WriteStore, plan: &mut Plan, i: usize) -> Result<(), StoreError> {
    save_update(store, plan, i == 0, Some(i), None).await
}

async fn save_update(
    store: &dyn WriteStore,
    plan: &mut Plan,
    with_plan: bool,
    step: Option<usize>,
    outcome: Option<Outcome>,
) -> Result<(), StoreError> {
    let doc = if with_plan {
        Some((open(plan), serde_json::to_value(&*plan).map_err(corrupt)?))
    } else {
        None
    };
    let step = match step.and_then(|i| plan.steps.get(i).map(|s| (i, s))) {
        Some((i, s)) => Some((i, serde_json::to_value(s).map_err(corrupt)?)),
        None => None,
    };
    plan.journal.add(
        doc.iter()
            .map(|(_, d)| d)
            .chain(step.iter().map(|(_, s)| s)),
    );
    store
        .save_progress(&PlanUpdate {
            id: plan.id,
            plan: doc,
            step,
            outcome,
        })
        .await
}

/// A plan as journaled (its steps in their own records; a plan journaled whole by an older version
/// keeps the steps inside its own document).
pub fn load(rec: &PlanRecord) -> Result<Plan, serde_json::Error> {
    let mut plan: Plan = serde_json::from_value(rec.doc.clone())?;
    if plan.keys_kept {
        // A recovered plan tells this process what its own creates have not shown yet.
        keys_seen_kept();
    }
    if !rec.steps.is_empty() {
        plan.steps = rec
            .steps
            .iter()
            .map(|s| serde_json::from_value(s.clone()))
            .collect::<Result<_, _>>()?;
    }
    Ok(plan)
}

fn store_failure(step: usize) -> impl Fn(StoreError) -> Failure {
    move |e| Failure {
        step,
        cause: Cause::Store(e.to_string()),
    }
}

/// Whether a failed POST may have written the row anyway.
fn in_doubt(e: &UpstreamError) -> bool {
    matches!(
        e,
        UpstreamError::Unavailable { .. }
            | UpstreamError::ServerError { .. }
            | UpstreamError::Timeout
            | UpstreamError::Network(_)
            | UpstreamError::BadResponse(_)
    )
}

/// Dataverse's answer to a create whose primary key is taken (`412`; judged by the code, whatever
/// the status): with a key only this plan knows, the row is the one an earlier attempt wrote.
fn duplicate_key(e: &UpstreamError) -> bool {
    matches!(e, UpstreamError::Rejected { code, .. } | UpstreamError::BadRequest { code, .. }
        if code.eq_ignore_ascii_case("0x80040237"))
}

/// Runs every step not yet done. On `Err`, the plan is saved as it stands (for `compensate`).
pub async fn run(
    client: &DataverseClient,
    store: &dyn WriteStore,
    plan: &mut Plan,
) -> Result<(), Failure> {
    for i in 0..plan.steps.len() {
        match plan.steps[i].state {
            StepState::Done | StepState::Undone => {
                if i == 0 && plan.party_number.is_none() {
                    readback(client, plan).await.map_err(|e| Failure {
                        step: 0,
                        cause: Cause::Upstream(e),
                    })?;
                }
                continue;
            }
            StepState::Started => {
                // Left in doubt by a crash: find out whether the call wrote the row.
                if plan.steps[i].created.is_empty() {
                    let found = find_written(client, plan, i).await.map_err(|e| Failure {
                        step: i,
                        cause: Cause::InDoubt(e),
                    })?;
                    if let Some(id) = found {
                        record_created(plan, i, id);
                    }
                }
                if plan.steps[i].created.is_empty() {
                    plan.steps[i].state = StepState::Pending;
                } else {
                    finish_step(client, plan, i).await?;
                    save_step(store, plan, i).await.map_err(store_failure(i))?;
                    continue;
                }
            }
            StepState::Pending => {}
        }
        run_step(client, store, plan, i).await?;
    }
    Ok(())
}

async fn run_step(
    client: &DataverseClient,
    store: &dyn WriteStore,
    plan: &mut Plan,
    i: usize,
) -> Result<(), Failure> {
    if i > 0 {
        let party = plan.party_number.clone().ok_or_else(|| Failure {
            step: i,
            cause: Cause::Upstream(UpstreamError::BadResponse(
                "the person's party number is unknown".into(),
            )),
        })?;
        if let Some(body) = plan.steps[i].body.as_object_mut() {
            body.insert("mshr_partynumber".into(), Value::String(party));
        }
    }
    let set = plan.steps[i].set();
    let mut attempt = 0;
    loop {
        attempt += 1;
        plan.steps[i].state = StepState::Started;
        // The only write before the call: a crash after it leaves the step Started, and the
        // plan's key for the row tells afterwards whether the call wrote it.
        save_step(store, plan, i).await.map_err(store_failure(i))?;
        let written = match client.create(set, &plan.steps[i].body).await {
            Ok(id) => Ok(id),
            Err(e) if duplicate_key(&e) => match plan.steps[i].key() {
                Some(key) => Ok(key),
                None => Err(e),
            },
            Err(e) => Err(e),
        };
        match written {
            Ok(id) => {
                record_created(plan, i, id);
                finish_step(client, plan, i).await?;
                save_step(store, plan, i).await.map_err(store_failure(i))?;
                return Ok(());
            }
            Err(e) if in_doubt(&e) => {
                match find_written(client, plan, i).await {
                    Ok(Some(id)) => {
                        record_created(plan, i, id);
                        finish_step(client, plan, i).await?;
                        save_step(store, plan, i).await.map_err(store_failure(i))?;
                        return Ok(());
                    }
                    Ok(None) if attempt < POST_ATTEMPTS => {
                        tracing::info!(plan = %plan.id, step = %plan.steps[i].kind, error = %e, "write failed before reaching HR; retrying once");
                        continue;
                    }
                    Ok(None) => {
                        plan.steps[i].state = StepState::Pending;
                        save_step(store, plan, i).await.map_err(store_failure(i))?;
                        return Err(Failure {
                            step: i,
                            cause: Cause::Upstream(e),
                        });
                    }
                    // Still Started: compensation (or recovery) asks again.
                    Err(_) => {
                        return Err(Failure {
                            step: i,
                            cause: Cause::InDoubt(e),
                        })
                    }
                }
            }
            Err(e) => {
                // Refused (4xx, 429): nothing was written.
                plan.steps[i].state = StepState::Pending;
                save_step(store, plan, i).await.map_err(store_failure(i))?;
                return Err(Failure {
                    step: i,
                    cause: Cause::Upstream(e),
                });
            }
        }
    }
}

/// The step's POST wrote row `id`. With the plan's own key, every row the step sends exists (a
/// deep insert is one transaction); a key HR chose itself proves only that row.
fn record_created(plan: &mut Plan, i: usize, id: Uuid) {
    if i == 0 {
        plan.candidate_id = Some(id);
    }
    let step = &mut plan.steps[i];
    if step.key() == Some(id) {
        step.created = step.rows.clone();
        plan.keys_kept = true;
        keys_seen_kept();
        return;
    }
    KEYS.store(KEYS_IGNORED, Ordering::Relaxed);
    tracing::error!(plan = %plan.id, step = %step.kind, "HR answered with another key than the one sent; rows of this step other than its own, and creates whose answer is lost, cannot be proven");
    if !step.created.iter().any(|c| c.id == id) {
        let set = step.set().to_string();
        step.created.push(Created { set, id });
    }
}

/// After a step's row exists: step 0 reads back the person; the body is no longer needed.
async fn finish_step(client: &DataverseClient, plan: &mut Plan, i: usize) -> Result<(), Failure> {
    if i == 0 {
        readback(client, plan).await.map_err(|e| Failure {
            step: 0,
            cause: Cause::Upstream(e),
        })?;
    }
    plan.steps[i].state = StepState::Done;
    plan.steps[i].body = Value::Null;
    Ok(())
}

/// Learns the person (id, party number: HR numbers a new person) of the new candidate: one row.
async fn readback(client: &DataverseClient, plan: &mut Plan) -> Result<(), UpstreamError> {
    let Some(cid) = plan.candidate_id else {
        return Ok(());
    };
    let q =
        Query::new(cand::SET).select(&[cand::PK, "_mshr_fk_person_id_value", "mshr_partynumber"]);
    let row = client.get_by_id(&q, cid).await?.ok_or_else(|| {
        UpstreamError::BadResponse("the new candidate cannot be read back".into())
    })?;
    let (person, party) = super::validate::person_of(&row);
    plan.person_id = person;
    if plan.party_number.is_none() {
        plan.party_number = party;
    }
    // The person this plan's candidate was created with is this plan's (proven by the candidate).
    if let (true, Some(pid)) = (plan.new_person, person) {
        let created = &mut plan.steps[0].created;
        if !created.iter().any(|c| c.id == pid) {
            created.insert(
                0,
                Created {
                    set: cand::PERSON_SET.to_string(),
                    id: pid,
                },
            );
        }
    }
    Ok(())
}

/// `find_written`, retried on transient failures (a read is always safe to repeat).
async fn find_written(
    client: &DataverseClient,
    plan: &Plan,
    i: usize,
) -> Result<Option<Uuid>, UpstreamError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match find_written_once(client, plan, i).await {
            Err(e) if e.is_transient() && attempt < READ_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            other => return other,
        }
    }
}

/// Whether step `i`'s POST wrote its row after all: a read of the key the plan chose for it.
async fn find_written_once(
    client: &DataverseClient,
    plan: &Plan,
    i: usize,
) -> Result<Option<Uuid>, UpstreamError> {
    let step = &plan.steps[i];
    let Some(key) = step.key() else {
        // Journaled before plans chose keys: nothing proves which row would be this plan's.
        return Err(UpstreamError::BadResponse(
            "the step has no key of its own: its outcome cannot be proven".into(),
        ));
    };
    let q = Query::new(step.set()).select(&[step.pk()]);
    match client.get_by_id(&q, key).await? {
        Some(_) => Ok(Some(key)),
        None => not_found_proves(plan),
    }
}

/// HR found no row under a step's key: `Ok(None)` (nothing written) only where HR is known to
/// keep the keys sent, else the error saying why it proves nothing (HR answered; it was reached).
fn not_found_proves(plan: &Plan) -> Result<Option<Uuid>, UpstreamError> {
    match KEYS.load(Ordering::Relaxed) {
        KEYS_IGNORED => Err(UpstreamError::BadResponse(
            "HR does not keep the keys the gateway sends: whether the write happened cannot be proven"
                .into(),
        )),
        KEYS_KEPT => Ok(None),
        _ if plan.keys_kept => {
            keys_seen_kept();
            Ok(None)
        }
        _ => Err(UpstreamError::BadResponse(
            "no create has shown yet that HR keeps the keys the gateway sends: whether the write happened cannot be proven yet"
                .into(),
        )),
    }
}

/// Deletes what the plan created, newest first, saving after each step. A step whose outcome cannot
/// be learnt (or whose rows cannot be deleted) yet is skipped, the others are still undone. `true`
/// when everything is undone; `false` leaves the plan open (phase `Compensating`) for recovery.
pub async fn compensate(client: &DataverseClient, store: &dyn WriteStore, plan: &mut Plan) -> bool {
    plan.phase = Phase::Compensating;
    if let Err(e) = save(store, plan).await {
        tracing::error!(plan = %plan.id, error = %e, "cannot journal compensation");
        return false;
    }
    let mut complete = true;
    for i in (0..plan.steps.len()).rev() {
        if !undo_step(client, store, plan, i).await {
            complete = false;
        }
    }
    if !complete {
        return false;
    }
    plan.phase = Phase::Undone;
    save(store, plan).await.is_ok()
}

/// Undoes one step; `false` when it must be tried again later.
async fn undo_step(
    client: &DataverseClient,
    store: &dyn WriteStore,
    plan: &mut Plan,
    i: usize,
) -> bool {
    match plan.steps[i].state {
        StepState::Pending | StepState::Undone => return true,
        StepState::Started if plan.steps[i].created.is_empty() => {
            match find_written(client, plan, i).await {
                Ok(Some(id)) => record_created(plan, i, id),
                Ok(None) => {
                    plan.steps[i].state = StepState::Undone;
                    plan.steps[i].body = Value::Null;
                    return save_step(store, plan, i).await.is_ok();
                }
                Err(e) => {
                    tracing::warn!(plan = %plan.id, step = %plan.steps[i].kind, error = %e, "cannot tell whether a write happened; will retry");
                    return false;
                }
            }
        }
        _ => {}
    }
    let person_known = plan.steps[0]
        .created
        .iter()
        .any(|c| c.set == cand::PERSON_SET);
    if i == 0 && plan.new_person && !person_known {
        // The candidate exists but its person is not known yet.
        if let Err(e) = readback(client, plan).await {
            tracing::warn!(plan = %plan.id, error = %e, "cannot read back the new person; will retry");
            return false;
        }
    }
    let rows: Vec<Created> = plan.steps[i].created.iter().rev().cloned().collect();
    for row in rows {
        if let Err(e) = delete(client, &row).await {
            tracing::warn!(plan = %plan.id, set = %row.set, error = %e, "delete failed; will retry");
            let _ = save_step(store, plan, i).await;
            return false;
        }
        plan.steps[i].created.retain(|c| c.id != row.id);
    }
    plan.steps[i].state = StepState::Undone;
    plan.steps[i].body = Value::Null;
    save_step(store, plan, i).await.is_ok()
}

async fn delete(client: &DataverseClient, row: &Created) -> Result<(), UpstreamError> {
    // Deleting a known id is safe to repeat (a repeat finds it gone), so the client's retry layer
    // may re-send it with its backoff and budget; a row already gone counts as deleted.
    match client.idempotent_writes().delete(&row.set, row.id).await {
        Ok(()) | Err(UpstreamError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `KEYS` is process-wide: the tests that set it run one at a time, each from a state it sets.
    static KEYS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn keys_state(state: u8) -> std::sync::MutexGuard<'static, ()> {
        let guard = KEYS_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        KEYS.store(state, Ordering::Relaxed);
        guard
    }

    fn plan(keys_kept: bool) -> Plan {
        serde_json::from_value(serde_json::json!({
            "id": Uuid::new_v4(), "partner": "p", "key": "k", "company": "usmf",
            "phase": "running", "candidate_id": null, "person_id": null, "party_number": null,
            "new_person": true, "failure": null, "keys_kept": keys_kept,
        }))
        .expect("plan")
    }

    fn record(plan: &Plan) -> PlanRecord {
        PlanRecord {
            id: plan.id,
            partner: plan.partner.clone(),
            key: plan.key.clone(),
            open: true,
            doc: serde_json::to_value(plan).expect("doc"),
            steps: Vec::new(),
        }
    }

    /// Until a create showed HR keeping the keys sent, no row found proves nothing: the write
    /// stays in doubt (never retried, never called undone), and the reason says HR answered.
    #[test]
    fn a_missing_row_proves_nothing_while_keys_are_unknown() {
        let _keys = keys_state(KEYS_UNKNOWN);
        let err = not_found_proves(&plan(false)).expect_err("in doubt");
        assert!(err.to_string().contains("cannot be proven yet"), "{err}");
        assert_eq!(KEYS.load(Ordering::Relaxed), KEYS_UNKNOWN);
        KEYS.store(KEYS_IGNORED, Ordering::Relaxed);
        assert!(not_found_proves(&plan(true)).is_err(), "ignored wins");
        KEYS.store(KEYS_KEPT, Ordering::Relaxed);
        assert_eq!(not_found_proves(&plan(false)).expect("proven"), None);
    }

    /// A plan journaled with `keys_kept` proves a missing row unwritten, and tells the process:
    /// its next plan (a fresh one, without the flag) need not wait for a create of its own.
    #[test]
    fn a_plan_that_saw_keys_kept_teaches_the_process() {
        let _keys = keys_state(KEYS_UNKNOWN);
        assert_eq!(not_found_proves(&plan(true)).expect("proven"), None);
        assert_eq!(KEYS.load(Ordering::Relaxed), KEYS_KEPT);

        KEYS.store(KEYS_UNKNOWN, Ordering::Relaxed);
        let recovered = load(&record(&plan(true))).expect("load");
        assert!(recovered.keys_kept);
        assert_eq!(
            KEYS.load(Ordering::Relaxed),
            KEYS_KEPT,
            "learnt at recovery"
        );
        assert_eq!(not_found_proves(&plan(false)).expect("proven"), None);

        KEYS.store(KEYS_IGNORED, Ordering::Relaxed);
        load(&record(&plan(true))).expect("load");
        assert_eq!(
            KEYS.load(Ordering::Relaxed),
            KEYS_IGNORED,
            "never over an observed IGNORED"
        );
    }
}
