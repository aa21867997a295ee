//! The boards' snapshot: every recruiting request of the boards' companies, reduced to its public
//! projection (`fields.rs`), held in memory so a page view costs no Dataverse call.
//!
//! Built once at start: from the change store's fingerprints when the scanner has a baseline (no
//! Dataverse call at all), else with one paged read through the partner read path, as background
//! work a little after the warm-up after start is over (`resources::warmup`). Then kept
//! current from the events the change scanner records (woken by the feed's watch): a request
//! activated, edited or closed shows within one scan. A snapshot read from Dataverse is replaced
//! by the store's view once the scanner's baseline exists, so nothing that changed between the
//! two reads is missed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

use super::fields::{project, PublicJob};
use crate::changes::event::{Action, Event, ResourceType};
use crate::changes::Changes;
use crate::model::recruiting_request::{Embed, RequestRow};
use crate::ops::call_scope::{self, CallScope};
use crate::resolve::lang::Lang;
use crate::resources::steps::Steps;
use crate::resources::{recruiting_requests, Reader};
use crate::upstream::odata::{Filter, Literal, Order};

/// One request as the boards see it: its public facts and when the gateway saw it go live.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub job: PublicJob,
    /// When the gateway first saw the request active (before the first scan: the snapshot's time).
    pub posted_at: DateTime<Utc>,
    /// The last change the gateway saw (else `posted_at`).
    pub updated_at: DateTime<Utc>,
}

/// What the snapshot holds at one moment (replaced whole, so a reader sees one consistent view).
#[derive(Debug, Default)]
pub struct Jobs {
    pub by_id: HashMap<Uuid, Arc<Entry>>,
    /// Bumped by every replacement: rendered answers are cached per version.
    pub version: u64,
}

/// Shared by the routes (reads) and the follower task (writes).
pub struct Snapshot {
    jobs: RwLock<Arc<Jobs>>,
    ready: watch::Sender<bool>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            jobs: RwLock::new(Arc::new(Jobs::default())),
            ready: watch::Sender::new(false),
        }
    }
}

impl Snapshot {
    /// The current view (a cheap clone of an `Arc`).
    pub fn jobs(&self) -> Arc<Jobs> {
        match self.jobs.read() {
            Ok(j) => j.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Whether the cold build has finished (before it, boards answer 503).
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    fn replace(&self, mut jobs: Jobs) {
        let mut current = match self.jobs.write() {
            Ok(j) => j,
            Err(p) => p.into_inner(),
        };
        jobs.version = current.version + 1;
        *current = Arc::new(jobs);
        drop(current);
        self.ready.send_replace(true);
    }
}

/// What the follower uses: the read path (cold read only), the feed, the companies of all boards.
pub struct SnapshotContext {
    pub reader: Reader,
    pub changes: Arc<Changes>,
    /// Lower-case company codes.
    pub companies: HashSet<String>,
    /// How often a snapshot read from Dataverse looks for the scanner's baseline.
    pub recheck: Duration,
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The warm-up after start: a read from Dataverse waits until it is over, so the boards'
    /// largest read never competes with the first partner pages.
    pub after: crate::resources::warmup::Warmup,
    /// Then this long more: the first partner pages after start come before the boards' read
    /// (at 100,000 requests its pages cost Dataverse far more than a partner's).
    pub settle: Duration,
}

type Built = (HashMap<Uuid, PublicJob>, bool);

/// The store's view (no Dataverse call), or `None` before the scanner's first complete scan of
/// the representation this release projects from.
async fn from_store(cx: &SnapshotContext) -> Result<Option<HashMap<Uuid, PublicJob>>, String> {
    let store = cx.changes.store();
    let rr = ResourceType::RecruitingRequest;
    if store.baseline(rr).await.map_err(|e| e.to_string())? != Some(rr.representation()) {
        return Ok(None);
    }
    let ids = store.known_ids(rr).await.map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    let mut steps = Steps::default();
    for chunk in ids.chunks(500) {
        for (_, k) in store.known(rr, chunk).await.map_err(|e| e.to_string())? {
            steps.row().await;
            if cx.companies.contains(&k.company.to_ascii_lowercase()) {
                if let Some(job) = project(&k.data, &k.company) {
                    out.insert(job.id, job);
                }
            }
        }
    }
    Ok(Some(out))
}

/// Rows per page of the read from Dataverse. Small: each page (every child collection expanded)
/// is one short call that a partner call arriving meanwhile waits behind, where a scan-sized page
/// of 5,000 such rows held Dataverse (and the gateway's parsing) for a third of a second.
const COLD_READ_PAGE: u32 = 500;

/// The longest a page waits for partner calls queued at the cap: the boards get built even under
/// a partner load that never lets go.
const MAX_YIELD: Duration = Duration::from_secs(30);

/// One paged read of the boards' companies through the partner read path.
async fn from_dataverse(cx: &SnapshotContext) -> Result<HashMap<Uuid, PublicJob>, String> {
    let rd = &cx.reader;
    let companies = cx
        .companies
        .iter()
        .map(|c| Literal::Str(c.clone()))
        .collect();
    let q = recruiting_requests::detail_query()
        .filter(Filter::is_in("mshr_dataareaid", companies))
        .order_by("mshr_recruitingrequestid", Order::Asc)
        // Numbers repeat across companies: the key makes the order unique, so paging is stable.
        .order_by(crate::model::recruiting_request::PK, Order::Asc);
    let limiter = &rd.client.stack().limiter;
    // Partner calls queued at the upstream cap go before each page.
    limiter.drained(MAX_YIELD).await;
    let mut raw = rd
        .client
        .get_page_raw(&q, COLD_READ_PAGE)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    loop {
        let page = raw.parse::<RequestRow>().map_err(|e| e.to_string())?;
        let dtos = recruiting_requests::render(rd, &page.rows, Embed::ALL, Lang::EnUs)
            .await
            .map_err(|e| e.to_string())?;
        // By id: `render` leaves out a row without one, so the rows and DTOs need not pair up.
        let companies: HashMap<Uuid, String> = page
            .rows
            .iter()
            .filter_map(|r| Some((r.id.uuid()?, r.company_code())))
            .collect();
        let mut steps = Steps::default();
        for dto in dtos {
            steps.row().await;
            let Some(company) = companies.get(&dto.id).cloned() else {
                continue;
            };
            let data = serde_json::to_value(dto).map_err(|e| e.to_string())?;
            if let Some(job) = project(&data, &company) {
                out.insert(job.id, job);
            }
        }
        let next = raw
            .parse::<IgnoredAny>()
            .map_err(|e| e.to_string())?
            .next_link;
        match next {
            Some(link) => {
                limiter.drained(MAX_YIELD).await;
                raw = rd
                    .client
                    .get_next_raw(&link, COLD_READ_PAGE)
                    .await
                    .map_err(|e| e.to_string())?
            }
            None => return Ok(out),
        }
    }
}

async fn cold(cx: &SnapshotContext) -> Result<Built, String> {
    if let Some(jobs) = from_store(cx).await? {
        return Ok((jobs, true));
    }
    let mut after = cx.after.clone();
    let settled = async {
        after.done().await;
        tokio::time::sleep(cx.settle).await;
    };
    tokio::select! {
        _ = cx.shutdown.cancelled() => return Err("shutting down".into()),
        () = settled => {}
    }
    let scope = CallScope {
        caller: Some(Arc::from("boards")),
        deadline: None,
    };
    // Background for the budget: partner reads go first when Dataverse's runs low.
    let jobs = call_scope::scope(
        scope,
        crate::upstream::pacing::background(from_dataverse(cx)),
    )
    .await?;
    Ok((jobs, false))
}

/// When each request went live and last changed, from the retained events (local reads only).
#[derive(Default)]
struct Times {
    posted: HashMap<Uuid, DateTime<Utc>>,
    updated: HashMap<Uuid, DateTime<Utc>>,
}

impl Times {
    fn see(&mut self, e: &Event) {
        let id = e.resource.id;
        let went_live = match e.event_type.action {
            Action::Created => {
                e.data.pointer("/status/key").and_then(Value::as_str) == Some("active")
            }
            Action::StatusChanged => e.to.as_deref() == Some("active"),
            _ => false,
        };
        if went_live {
            self.posted.insert(id, e.occurred_at);
        }
        self.updated.insert(id, e.occurred_at);
    }
}

fn entries(jobs: HashMap<Uuid, PublicJob>, times: &Times, now: DateTime<Utc>) -> Jobs {
    let by_id = jobs
        .into_iter()
        .map(|(id, job)| {
            let posted_at = times.posted.get(&id).copied().unwrap_or(now);
            let updated_at = times
                .updated
                .get(&id)
                .copied()
                .unwrap_or(posted_at)
                .max(posted_at);
            (
                id,
                Arc::new(Entry {
                    job,
                    posted_at,
                    updated_at,
                }),
            )
        })
        .collect();
    Jobs { by_id, version: 0 }
}

/// Whether `e` is about a recruiting request of the boards' companies.
fn concerns(e: &Event, companies: &HashSet<String>) -> bool {
    e.resource.kind == ResourceType::RecruitingRequest
        && companies.contains(&e.company.to_ascii_lowercase())
}

/// Whether `e` changes `jobs`: a request of the boards' companies, or one on the boards now that
/// moved to another company.
fn touches(e: &Event, companies: &HashSet<String>, jobs: &HashMap<Uuid, Arc<Entry>>) -> bool {
    concerns(e, companies)
        || (e.resource.kind == ResourceType::RecruitingRequest && jobs.contains_key(&e.resource.id))
}

/// Applies one event to `jobs` (events of other resources or companies are ignored, but a request
/// that moved to a company no board shows leaves the boards).
fn apply(jobs: &mut HashMap<Uuid, Arc<Entry>>, e: &Event, companies: &HashSet<String>) {
    if !concerns(e, companies) {
        if e.resource.kind == ResourceType::RecruitingRequest {
            jobs.remove(&e.resource.id);
        }
        return;
    }
    let id = e.resource.id;
    if e.event_type.action == Action::Deleted {
        jobs.remove(&id);
        return;
    }
    let Some(job) = project(&e.data, &e.company) else {
        return;
    };
    let was_active = jobs.get(&id).is_some_and(|x| x.job.is_active());
    let posted_at = match (jobs.get(&id), job.is_active() && !was_active) {
        (Some(x), false) => x.posted_at,
        _ => e.occurred_at,
    };
    jobs.insert(
        id,
        Arc::new(Entry {
            job,
            posted_at,
            updated_at: e.occurred_at.max(posted_at),
        }),
    );
}

const EVENTS_PER_READ: usize = 500;

/// Every event after `from` (local store reads), in order.
async fn events_after(
    cx: &SnapshotContext,
    mut from: i64,
    mut each: impl FnMut(&Event),
) -> Result<i64, String> {
    loop {
        let page = cx
            .changes
            .store()
            .events_after(from, EVENTS_PER_READ)
            .await
            .map_err(|e| e.to_string())?;
        for e in &page {
            each(e);
            from = e.seq;
        }
        if page.len() < EVENTS_PER_READ {
            return Ok(from);
        }
    }
}

/// Builds the snapshot (retrying with backoff while Dataverse is unavailable), then follows the
/// feed until shutdown.
pub fn spawn(snapshot: Arc<Snapshot>, cx: SnapshotContext) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if cx.companies.is_empty() {
            snapshot.replace(Jobs::default());
            return;
        }
        let mut wake = cx.changes.subscribe();
        let mut backoff = Duration::from_secs(1);
        // The cursor is taken before the read: an event recorded meanwhile is applied after it.
        let (built, mut cursor, mut from_store_view) = loop {
            let cursor = match cx.changes.store().feed_bounds().await {
                Ok(b) => b.last_seq,
                Err(e) => {
                    tracing::warn!(error = %e, "boards: change store unreadable");
                    0
                }
            };
            match cold(&cx).await {
                Ok((jobs, store_view)) => break (jobs, cursor, store_view),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "boards: snapshot read failed")
                }
            }
            tokio::select! {
                _ = cx.shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        };
        let now = Utc::now();
        let mut times = Times::default();
        if let Err(e) = events_after(&cx, 0, |e| times.see(e)).await {
            tracing::warn!(error = %e, "boards: event history unreadable; posting times start now");
        }
        let count = built.len();
        snapshot.replace(entries(built, &times, now));
        tracing::info!(
            jobs = count,
            from_store = from_store_view,
            "boards: snapshot built"
        );
        loop {
            tokio::select! {
                _ = cx.shutdown.cancelled() => return,
                changed = wake.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(cx.recheck), if !from_store_view => {
                    match from_store(&cx).await {
                        Ok(Some(jobs)) => {
                            let old = snapshot.jobs();
                            let mut fresh = entries(jobs, &times, now);
                            // Keep what the first view knew of when each request went live.
                            for (id, e) in fresh.by_id.iter_mut() {
                                if let Some(o) = old.by_id.get(id) {
                                    if o.job.is_active() == e.job.is_active() {
                                        let posted_at = o.posted_at;
                                        let updated_at = if o.job == e.job { o.updated_at } else { Utc::now() };
                                        *e = Arc::new(Entry { job: e.job.clone(), posted_at, updated_at });
                                    }
                                }
                            }
                            snapshot.replace(fresh);
                            from_store_view = true;
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "boards: change store unreadable"),
                    }
                }
            }
            // Copied (and the snapshot replaced, its rendered pages dropped) only when an event
            // concerns the boards: most are candidates' or other companies'.
            let mut jobs: Option<HashMap<Uuid, Arc<Entry>>> = None;
            match events_after(&cx, cursor, |e| {
                times.see(e);
                let touched = match &jobs {
                    Some(j) => touches(e, &cx.companies, j),
                    None => touches(e, &cx.companies, &snapshot.jobs().by_id),
                };
                if touched {
                    let jobs = jobs.get_or_insert_with(|| snapshot.jobs().by_id.clone());
                    apply(jobs, e, &cx.companies);
                }
            })
            .await
            {
                Ok(last) => cursor = last,
                Err(e) => {
                    tracing::warn!(error = %e, "boards: events unreadable; retried on the next wake-up")
                }
            }
            if let Some(by_id) = jobs {
                snapshot.replace(Jobs { by_id, version: 0 });
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::changes::event::{EventType, ResourceRef};

    fn event(seq: i64, action: Action, status: &str, to: Option<&str>) -> Event {
        Event {
            id: crate::changes::event::event_id(seq),
            event_type: EventType::new(ResourceType::RecruitingRequest, action),
            occurred_at: DateTime::from_timestamp(1_700_000_000 + seq, 0).unwrap_or_default(),
            resource: ResourceRef {
                kind: ResourceType::RecruitingRequest,
                id: Uuid::nil(),
            },
            data: json!({"id": Uuid::nil(), "status": {"key": status}, "company": {"code": "usmf"}}),
            changed_fields: None,
            from: None,
            to: to.map(str::to_string),
            seq,
            company: "usmf".into(),
        }
    }

    #[test]
    fn events_move_a_request_on_and_off_and_keep_its_posting_time() {
        let companies = HashSet::from(["usmf".to_string()]);
        let mut jobs = HashMap::new();
        apply(
            &mut jobs,
            &event(1, Action::Created, "draft", None),
            &companies,
        );
        assert!(!jobs[&Uuid::nil()].job.is_active());
        apply(
            &mut jobs,
            &event(2, Action::StatusChanged, "active", Some("active")),
            &companies,
        );
        let posted = jobs[&Uuid::nil()].posted_at;
        apply(
            &mut jobs,
            &event(3, Action::Updated, "active", None),
            &companies,
        );
        assert_eq!(jobs[&Uuid::nil()].posted_at, posted);
        assert!(jobs[&Uuid::nil()].updated_at > posted);
        let mut other = event(4, Action::Deleted, "active", None);
        other.company = "nomf".into();
        other.resource.id = Uuid::from_u128(7);
        assert!(!touches(&other, &companies, &jobs));
        apply(&mut jobs, &other, &companies);
        assert!(
            jobs.contains_key(&Uuid::nil()),
            "another company's event is ignored"
        );
        apply(
            &mut jobs,
            &event(5, Action::Deleted, "active", None),
            &companies,
        );
        assert!(jobs.is_empty());
    }

    #[test]
    fn a_request_moved_to_another_company_leaves_the_boards() {
        let companies = HashSet::from(["usmf".to_string()]);
        let mut jobs = HashMap::new();
        apply(
            &mut jobs,
            &event(1, Action::Created, "active", None),
            &companies,
        );
        assert!(jobs[&Uuid::nil()].job.is_active());
        let mut moved = event(2, Action::Updated, "active", None);
        moved.company = "nomf".into();
        assert!(
            touches(&moved, &companies, &jobs),
            "it is on the boards now"
        );
        apply(&mut jobs, &moved, &companies);
        assert!(jobs.is_empty(), "no longer a company the boards show");
    }
}
