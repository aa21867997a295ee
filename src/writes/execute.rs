//! Runs a plan's steps in order, saving the plan before and after each upstream call, and undoes
//! them. Retry rules: a POST is retried only once its first attempt is known not to have written
//! anything (a 4xx/429 answer, or a 5xx/timeout after which a read finds no row); a DELETE is
//! idempotent and retried on transient failures. The same code resumes a plan after a restart.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::plan::{nested_person, Created, Phase, Plan, Step, StepState, CANDIDATE_STEP};
use crate::model::candidate as cand;
use crate::resolve::lookups::uuid_of;
use crate::store::{PlanRecord, StoreError, WriteStore};
use crate::upstream::odata::{Expand, Filter, Literal, Query};
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

const READ_ATTEMPTS: u32 = 3;
/// POST attempts when the first is known to have written nothing.
const POST_ATTEMPTS: u32 = 2;

pub async fn save(store: &dyn WriteStore, plan: &Plan) -> Result<(), StoreError> {
    let open = matches!(plan.phase, Phase::Running | Phase::Compensating);
    let doc = serde_json::to_value(plan).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .save_plan(&PlanRecord {
            id: plan.id,
            partner: plan.partner.clone(),
            key: plan.key.clone(),
            open,
            doc,
        })
        .await
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
                    save(store, plan).await.map_err(store_failure(i))?;
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
        save(store, plan).await.map_err(store_failure(i))?;
        let body = plan.steps[i].body.clone();
        match client.create(set, &body).await {
            Ok(id) => {
                record_created(plan, i, id);
                // Recorded before the read-back: the row exists whatever happens next.
                save(store, plan).await.map_err(store_failure(i))?;
                finish_step(client, plan, i).await?;
                save(store, plan).await.map_err(store_failure(i))?;
                return Ok(());
            }
            Err(e) if in_doubt(&e) => {
                match find_written(client, plan, i).await {
                    Ok(Some(id)) => {
                        record_created(plan, i, id);
                        finish_step(client, plan, i).await?;
                        save(store, plan).await.map_err(store_failure(i))?;
                        return Ok(());
                    }
                    Ok(None) if attempt < POST_ATTEMPTS => {
                        tracing::info!(plan = %plan.id, step = %plan.steps[i].kind, error = %e, "write failed before reaching HR; retrying once");
                        continue;
                    }
                    Ok(None) => {
                        plan.steps[i].state = StepState::Pending;
                        save(store, plan).await.map_err(store_failure(i))?;
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
                save(store, plan).await.map_err(store_failure(i))?;
                return Err(Failure {
                    step: i,
                    cause: Cause::Upstream(e),
                });
            }
        }
    }
}

fn record_created(plan: &mut Plan, i: usize, id: Uuid) {
    let set = plan.steps[i].set().to_string();
    if i == 0 {
        plan.candidate_id = Some(id);
    }
    if !plan.steps[i].created.iter().any(|c| c.id == id) {
        plan.steps[i].created.push(Created { set, id });
    }
}

/// After a step's row exists: step 0 reads back the person (and the rows the deep insert made).
async fn finish_step(client: &DataverseClient, plan: &mut Plan, i: usize) -> Result<(), Failure> {
    if i == 0 {
        readback(client, plan).await.map_err(|e| Failure {
            step: 0,
            cause: Cause::Upstream(e),
        })?;
    }
    plan.steps[i].state = StepState::Done;
    Ok(())
}

/// Learns the person (id, party number) of the new candidate and, for a new person, the ids of
/// every row the deep insert created, in creation order (person, skills, education, candidate).
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
    if !plan.new_person {
        return Ok(());
    }
    let Some(pid) = person else { return Ok(()) };
    let kids = [&super::request::SKILLS, &super::request::EDUCATION];
    let q = kids.iter().fold(
        Query::new(cand::PERSON_SET).select(&[cand::PERSON_PK]),
        |q, c| q.expand(Expand::new(c.deep_nav.unwrap_or_default()).select(&[c.pk])),
    );
    let prow = client.get_by_id(&q, pid).await?.unwrap_or_default();
    let mut created = vec![Created {
        set: cand::PERSON_SET.to_string(),
        id: pid,
    }];
    for c in kids {
        let items = prow
            .get(c.deep_nav.unwrap_or_default())
            .and_then(Value::as_array);
        for item in items.into_iter().flatten().filter_map(Value::as_object) {
            if let Some(id) = uuid_of(item, c.pk) {
                created.push(Created {
                    set: c.set.to_string(),
                    id,
                });
            }
        }
    }
    created.push(Created {
        set: cand::SET.to_string(),
        id: cid,
    });
    plan.steps[0].created = created;
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

/// Whether step `i`'s POST wrote its row after all: a read by the columns the step wrote (and the
/// person), leaving out rows other steps of this plan claimed.
async fn find_written_once(
    client: &DataverseClient,
    plan: &Plan,
    i: usize,
) -> Result<Option<Uuid>, UpstreamError> {
    let step = &plan.steps[i];
    let claimed = plan.claimed_ids(i);
    let (set, pk, filter) = if step.kind == CANDIDATE_STEP {
        (cand::SET, cand::PK, candidate_filter(step, plan))
    } else {
        let Some(c) = step.collection() else {
            return Ok(None);
        };
        let Some(person) = plan.person_id else {
            return Ok(None);
        };
        let mut f = Filter::eq("_mshr_fk_person_id_value", Literal::Guid(person));
        for col in c.match_columns {
            if let Some(v) = step.body.get(*col).and_then(Value::as_str) {
                f = f.and(Filter::eq(col, Literal::Str(v.to_string())));
            }
        }
        (c.set, c.pk, Some(f))
    };
    let Some(filter) = filter else {
        return Ok(None);
    };
    let q = Query::new(set).select(&[pk]).filter(filter);
    let page = client.get_page(&q, 50).await?;
    let ids: Vec<Uuid> = page
        .rows
        .iter()
        .filter_map(|r| uuid_of(r, pk))
        .filter(|id| !claimed.contains(id))
        .collect();
    if step.kind == CANDIDATE_STEP && ids.len() > 1 {
        // Several candidates look the same: this one cannot be told apart safely.
        return Err(UpstreamError::BadResponse(format!(
            "{} candidates match the unconfirmed create",
            ids.len()
        )));
    }
    Ok(ids.first().copied())
}

/// The candidate step's own columns: request plus the party number (internal) or names (external).
fn candidate_filter(step: &Step, plan: &Plan) -> Option<Filter> {
    let text = |o: Option<&serde_json::Map<String, Value>>, col: &str| {
        o.and_then(|o| o.get(col))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let body = step.body.as_object();
    let mut f = Filter::eq(
        "mshr_recruitingrequestid",
        Literal::Str(text(body, "mshr_recruitingrequestid")?),
    );
    match nested_person(&step.body) {
        Some(p) => {
            f = f.and(Filter::eq(
                "mshr_firstname",
                Literal::Str(text(Some(p), "mshr_firstname")?),
            ));
            if let Some(last) = text(Some(p), "mshr_lastname") {
                f = f.and(Filter::eq("mshr_lastname", Literal::Str(last)));
            }
        }
        None => {
            f = f.and(Filter::eq(
                "mshr_partynumber",
                Literal::Str(plan.party_number.clone()?),
            ));
        }
    }
    Some(f)
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
                    return save(store, plan).await.is_ok();
                }
                Err(e) => {
                    tracing::warn!(plan = %plan.id, step = %plan.steps[i].kind, error = %e, "cannot tell whether a write happened; will retry");
                    return false;
                }
            }
        }
        _ => {}
    }
    if i == 0 && plan.new_person && plan.steps[0].created.len() == 1 {
        // The candidate exists but the person's rows are not known yet.
        if let Err(e) = readback(client, plan).await {
            tracing::warn!(plan = %plan.id, error = %e, "cannot read back the new person; will retry");
            return false;
        }
    }
    let rows: Vec<Created> = plan.steps[i].created.iter().rev().cloned().collect();
    for row in rows {
        if let Err(e) = delete(client, &row).await {
            tracing::warn!(plan = %plan.id, set = %row.set, error = %e, "delete failed; will retry");
            let _ = save(store, plan).await;
            return false;
        }
        plan.steps[i].created.retain(|c| c.id != row.id);
    }
    plan.steps[i].state = StepState::Undone;
    save(store, plan).await.is_ok()
}

async fn delete(client: &DataverseClient, row: &Created) -> Result<(), UpstreamError> {
    // Deleting a known id is safe to repeat (a repeat finds it gone), so the client's retry layer
    // may re-send it with its backoff and budget; a row already gone counts as deleted.
    match client.idempotent_writes().delete(&row.set, row.id).await {
        Ok(()) | Err(UpstreamError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
