//! The scanner: a background task that reads every recruiting request (with positions, skills,
//! education and location) and every candidate (with person and the person's collections) through
//! the partner read path (the same queries, mapping and `DataverseClient`: concurrency cap,
//! Retry-After, breaker), fingerprints each representation and records what changed as events.
//!
//! One scan is one transaction in the store. A scan that fails part-way records the records it read
//! and emits no deletion for that resource (deletions only from a complete read). Until a resource
//! has had one complete scan (the baseline), its records are recorded without events. A release
//! whose representation version ([`ResourceType::representation`]) is newer than the baseline's
//! re-baselines: the stored representations are of another shape, so only creations and
//! deletions are events in that scan, not an `updated` for every record. A release older than the
//! baseline's does not scan that resource (a newer replica does).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;

use super::budget::ScanBudget;
use super::detect;
use super::event::{Event, ResourceType};
use super::lease::{Leadership, Role};
use crate::cache::Resource;
use crate::config::ChangesConfig;
use crate::model::candidate::{self as cand, CandidateRow, PersonRow};
use crate::model::recruiting_request::{Embed, RequestRow};
use crate::ops::call_scope::{self, CallScope};
use crate::ops::upstream_calls::Counter;
use crate::resolve::lang::Lang;
use crate::resources::steps::{self, Steps};
use crate::resources::Reader;
use crate::resources::{candidates, recruiting_requests};
use crate::store::changes::{Fingerprint, Known, ScanRecord};
use crate::upstream::odata::{Filter, Literal};
use crate::upstream::DataverseClient;
use crate::upstream::RawPage;

/// Persons whose collections one read asks for (about 40 characters of URL each).
const PERSONS_PER_READ: usize = 200;

/// Representations are rendered in one language (labels in `data` are en-US).
const LANG: Lang = Lang::EnUs;

/// What one scan did (also the answer to [`super::Changes::scan_now`]).
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Per resource: records read and whether the read was complete.
    pub resources: Vec<ResourceReport>,
    /// Dataverse calls the scan made (pages, children, lookups and option sets it had to load).
    pub upstream_calls: u32,
    pub duration: Duration,
    /// The events recorded, in feed order.
    pub events: Vec<Event>,
    /// Why the scan (or part of it) failed, for the log.
    pub error: Option<String>,
    /// Time the scan waited for partner calls queued at the upstream cap.
    pub yielded: Duration,
    /// The share of Dataverse's budget the scanner used in the window ending with this scan.
    pub budget_share: f64,
    /// Statements the scan sent to a shared state store (Postgres; 0 with the embedded one).
    pub store_queries: u32,
}

impl ScanReport {
    /// A scan that did not run, and why (another replica scans; the store does not answer).
    fn not_run(why: impl Into<String>) -> Self {
        Self {
            error: Some(why.into()),
            ..Self::default()
        }
    }

    pub fn complete(&self) -> bool {
        self.error.is_none() && self.resources.iter().all(|r| r.complete)
    }
}

#[derive(Debug, Clone)]
pub struct ResourceReport {
    pub resource: ResourceType,
    pub read: usize,
    pub complete: bool,
    /// This scan was (part of) the baseline: nothing emitted.
    pub baseline: bool,
}

/// A request for a scan now, answered with its report.
pub(super) type Trigger = oneshot::Sender<ScanReport>;

/// Paces a scan's calls: before each step, the budget share and partners queued first.
struct Pacer<'a> {
    budget: &'a ScanBudget,
    client: &'a DataverseClient,
    calls: Counter,
    /// Calls already counted in `budget`.
    counted: u32,
    yielded: Duration,
}

impl Pacer<'_> {
    /// Counts the calls made since the last step, then waits until the next may go.
    async fn step(&mut self) {
        self.settle();
        self.yielded += self.budget.pace(&self.client.stack().limiter).await;
    }

    fn settle(&mut self) {
        let now = self.calls.get();
        self.budget
            .record(Instant::now(), now.saturating_sub(self.counted));
        self.counted = now;
    }
}

/// Bodies above this are parsed off the worker thread ([`steps::off_worker`]): a page of 5,000
/// requests with their children is megabytes, tens of milliseconds of parsing.
const LARGE_BODY: usize = 256 * 1024;

/// `parse` applied to `raw`, off the worker thread when the body is large.
fn parse<'a, T>(raw: &'a RawPage, parse: impl FnOnce(&'a RawPage) -> T) -> T {
    if raw.len() > LARGE_BODY {
        steps::off_worker(|| parse(raw))
    } else {
        parse(raw)
    }
}

/// One mapped record.
struct Read {
    id: Uuid,
    company: String,
    data: Value,
}

fn failed(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The DTOs as stored records, in steps (each is serialised whole).
async fn records<T: serde::Serialize>(
    dtos: Vec<T>,
    companies: &HashMap<Uuid, String>,
) -> Result<Vec<Read>, String> {
    let mut out = Vec::with_capacity(dtos.len());
    let mut steps = Steps::default();
    for d in dtos {
        steps.row().await;
        let data = serde_json::to_value(d).map_err(failed)?;
        let id = data
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or("a representation without id")?;
        let company = companies.get(&id).cloned().unwrap_or_default();
        out.push(Read { id, company, data });
    }
    Ok(out)
}

async fn fetch(
    st: &ScanContext,
    resource: ResourceType,
    next: Option<&str>,
) -> Result<RawPage, String> {
    let size = st.settings.page_size;
    match next {
        Some(link) => st.client.get_next_raw(link, size).await.map_err(failed),
        None => {
            let q = match resource {
                ResourceType::RecruitingRequest => recruiting_requests::detail_query(),
                ResourceType::Candidate => candidates::candidate_query(true),
            };
            use crate::upstream::odata::Order::Asc;
            // A unique order, so pages neither skip nor repeat rows: numbers repeat across
            // companies, so the primary key breaks ties (a skipped row would read as deleted).
            let q = match resource {
                ResourceType::RecruitingRequest => q
                    .order_by("mshr_recruitingrequestid", Asc)
                    .order_by(crate::model::recruiting_request::PK, Asc),
                ResourceType::Candidate => q
                    .order_by("mshr_candidateid", Asc)
                    .order_by(crate::model::candidate::PK, Asc),
            };
            st.client.get_page_raw(&q, size).await.map_err(failed)
        }
    }
}

/// A page of `resource`, mapped exactly as `GET /v1/…/{id}` maps it (candidates with every personal
/// field: `visibility` removes them per partner).
async fn map_page(
    st: &ScanContext,
    resource: ResourceType,
    raw: &RawPage,
) -> Result<Vec<Read>, String> {
    match resource {
        ResourceType::RecruitingRequest => {
            let page = parse(raw, RawPage::parse::<RequestRow>).map_err(failed)?;
            let by_id = page
                .rows
                .iter()
                .filter_map(|r| Some((r.id.uuid()?, r.company_code())))
                .collect();
            let dtos = recruiting_requests::render(&st.reader, &page.rows, Embed::ALL, LANG)
                .await
                .map_err(failed)?;
            records(dtos, &by_id).await
        }
        ResourceType::Candidate => {
            let page = parse(raw, RawPage::parse::<CandidateRow>).map_err(failed)?;
            let kid_pages = person_children(st, &page.rows).await?;
            let mut rows = page.rows;
            attach_person_children(&mut rows, &kid_pages)?;
            let by_id = rows
                .iter()
                .filter_map(|r| Some((r.id()?, r.company_code())))
                .collect();
            let dtos = candidates::render(&st.reader, &rows, true, true, LANG)
                .await
                .map_err(failed)?;
            records(dtos, &by_id).await
        }
    }
}

/// The pages of person collections for a page of candidates: one read for the page's persons (the
/// detail route reads them per candidate), following its continuation if any.
async fn person_children(
    st: &ScanContext,
    rows: &[CandidateRow<'_>],
) -> Result<Vec<RawPage>, String> {
    let persons: Vec<Uuid> = rows
        .iter()
        .filter_map(CandidateRow::person_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if persons.is_empty() {
        return Ok(Vec::new());
    }
    let size = st.settings.page_size;
    let mut pages = Vec::new();
    // Ids per read: the filter is in the URL, and a page of 5,000 candidates as one `In` would
    // outgrow what a URL may hold.
    for chunk in persons.chunks(PERSONS_PER_READ) {
        let q = candidates::children_query(true).filter(Filter::is_in(
            cand::PERSON_PK,
            chunk.iter().copied().map(Literal::Guid).collect(),
        ));
        pages.push(st.client.get_page_raw(&q, size).await.map_err(failed)?);
        // Only the continuation is read here; the rows are read once, in `attach_person_children`.
        while let Some(link) = pages
            .last()
            .map(|p| parse(p, RawPage::parse::<IgnoredAny>).map(|p| p.next_link))
            .transpose()
            .map_err(failed)?
            .flatten()
        {
            pages.push(st.client.get_next_raw(&link, size).await.map_err(failed)?);
        }
    }
    Ok(pages)
}

/// Moves each person's collections (from `pages`) into the candidate rows pointing at them.
fn attach_person_children<'a>(
    rows: &mut [CandidateRow<'a>],
    pages: &'a [RawPage],
) -> Result<(), String> {
    let mut kids: HashMap<Uuid, PersonRow<'a>> = HashMap::new();
    for page in pages {
        for row in parse(page, RawPage::parse::<PersonRow>)
            .map_err(failed)?
            .rows
        {
            if let Some(id) = row.id() {
                kids.insert(id, row);
            }
        }
    }
    for row in rows.iter_mut() {
        if let Some(k) = row.person_id().and_then(|p| kids.get(&p)) {
            cand::attach_children(row, k);
        }
    }
    Ok(())
}

/// How a scan compares a resource's records with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Baseline {
    /// No complete scan yet: record, emit nothing.
    First,
    /// The stored representations are of an older version: record, emit creations and deletions
    /// only (a changed shape is not a change of the record).
    Representation,
    /// Same version: every event.
    Done,
}

/// Compares a mapped page with the store and adds what changed to `record`.
async fn absorb(
    st: &ScanContext,
    resource: ResourceType,
    baseline: Baseline,
    mapped: Vec<Read>,
    seen: &mut HashSet<Uuid>,
    report: &mut ResourceReport,
    record: &mut ScanRecord,
) -> Result<(), String> {
    let ids: Vec<Uuid> = mapped.iter().map(|r| r.id).collect();
    let known = st
        .changes
        .store()
        .known(resource, &ids)
        .await
        .map_err(failed)?;
    let mut steps = Steps::default();
    for r in mapped {
        steps.row().await;
        // A row listed twice (a page boundary moving under concurrent edits) counts once.
        if !seen.insert(r.id) {
            continue;
        }
        report.read += 1;
        let hash = detect::fingerprint(&r.data);
        let old = known.get(&r.id);
        if old.is_some_and(|k| k.hash == hash && k.company == r.company) {
            continue;
        }
        if baseline == Baseline::Done || (baseline == Baseline::Representation && old.is_none()) {
            record.events.extend(detect::events_for(
                resource,
                r.id,
                &r.company,
                old.map(|k| &k.data),
                &r.data,
            ));
        }
        record.upserts.push(Fingerprint {
            resource,
            id: r.id,
            known: Known {
                hash,
                company: r.company,
                data: r.data,
            },
        });
    }
    Ok(())
}

/// Reads all of `resource` and adds what changed to `record`.
async fn scan_resource(
    st: &ScanContext,
    resource: ResourceType,
    record: &mut ScanRecord,
    pacer: &mut Pacer<'_>,
) -> (ResourceReport, Option<String>) {
    let report = ResourceReport {
        resource,
        read: 0,
        complete: false,
        baseline: false,
    };
    let current = resource.representation();
    let baseline = match st.changes.store().baseline(resource).await {
        Ok(None) => Baseline::First,
        Ok(Some(v)) if v < current => Baseline::Representation,
        Ok(Some(v)) if v == current => Baseline::Done,
        Ok(Some(v)) => {
            let why = format!(
                "{}: the stored representations are version {v}, newer than this release's {current}; a replica of the newer release scans it",
                resource.as_str()
            );
            return (report, Some(why));
        }
        Err(e) => return (report, Some(failed(e))),
    };
    let kept = (record.upserts.len(), record.events.len());
    let (report, error) = read_resource(st, resource, baseline, report, record, pacer).await;
    if error.is_some() && baseline == Baseline::Representation {
        // All or nothing: representations of the new shape stored under the old version would
        // read as changes of every record to a replica of the older release, and edits to them
        // would go unreported until the re-baseline completes.
        record.upserts.truncate(kept.0);
        record.events.truncate(kept.1);
    }
    (report, error)
}

async fn read_resource(
    st: &ScanContext,
    resource: ResourceType,
    baseline: Baseline,
    mut report: ResourceReport,
    record: &mut ScanRecord,
    pacer: &mut Pacer<'_>,
) -> (ResourceReport, Option<String>) {
    let store = st.changes.store();
    let current = resource.representation();
    report.baseline = baseline != Baseline::Done;
    let mut seen: HashSet<Uuid> = HashSet::new();
    pacer.step().await;
    let mut raw = match fetch(st, resource, None).await {
        Ok(r) => r,
        Err(e) => return (report, Some(format!("{}: {e}", resource.as_str()))),
    };
    loop {
        let next = match parse(&raw, RawPage::parse::<IgnoredAny>) {
            Ok(p) => p.next_link,
            Err(e) => return (report, Some(format!("{}: {e}", resource.as_str()))),
        };
        // The next page is read while this one is mapped and compared, so Dataverse's time and
        // the gateway's overlap.
        let (done, prefetched) = tokio::join!(
            async {
                let mapped = map_page(st, resource, &raw)
                    .await
                    .map_err(|e| format!("{}: {e}", resource.as_str()))?;
                absorb(
                    st,
                    resource,
                    baseline,
                    mapped,
                    &mut seen,
                    &mut report,
                    record,
                )
                .await
            },
            async {
                match &next {
                    Some(link) => {
                        pacer.step().await;
                        Some(fetch(st, resource, Some(link)).await)
                    }
                    None => None,
                }
            }
        );
        if let Err(e) = done {
            return (report, Some(e));
        }
        match prefetched {
            Some(Ok(r)) => raw = r,
            Some(Err(e)) => return (report, Some(format!("{}: {e}", resource.as_str()))),
            None => break,
        }
    }
    // Complete: what the store knows and the read did not see was deleted.
    let gone: Vec<Uuid> = match store.known_ids(resource).await {
        Ok(ids) => ids.into_iter().filter(|id| !seen.contains(id)).collect(),
        Err(e) => return (report, Some(failed(e))),
    };
    for chunk in gone.chunks(500) {
        let last = match store.known(resource, chunk).await {
            Ok(k) => k,
            Err(e) => return (report, Some(failed(e))),
        };
        for id in chunk {
            match (last.get(id), baseline) {
                (Some(k), Baseline::Done) => {
                    record
                        .events
                        .push(detect::deleted(resource, *id, &k.company, &k.data));
                }
                // The last representation stored is of the older shape: the event says only
                // which record is gone.
                (Some(k), Baseline::Representation) => record.events.push(detect::deleted(
                    resource,
                    *id,
                    &k.company,
                    &serde_json::json!({ "id": id }),
                )),
                _ => {}
            }
            record.removals.push((resource, *id));
        }
    }
    if baseline != Baseline::Done {
        record.baselined.push((resource, current));
    }
    report.complete = true;
    (report, None)
}

/// One scan of every resource, recorded in one transaction under the scan lease's `fence`.
pub async fn scan(st: &ScanContext, budget: &ScanBudget, fence: Option<i64>) -> ScanReport {
    let started = Instant::now();
    let calls = Counter::default();
    let mut pacer = Pacer {
        budget,
        client: &st.client,
        calls: calls.clone(),
        counted: 0,
        yielded: Duration::ZERO,
    };
    // Its own fairness key: partner requests queue beside the scan, not behind it.
    let scope = CallScope {
        caller: Some(Arc::from("changes-scanner")),
        deadline: None,
    };
    // A trace of its own: every Dataverse call of the scan carries it, and so does the scan's line.
    let trace = crate::ops::trace_context::TraceContext::new_root();
    let span = tracing::info_span!("changes_scan", trace_id = %trace.trace_id());
    crate::ops::telemetry::start_root(&span, &trace);
    // Boxed: the scan's future is large, and each wrapper below would copy it on the stack.
    let work = Box::pin(async {
        let mut record = ScanRecord {
            fence,
            ..ScanRecord::default()
        };
        let mut report = ScanReport::default();
        for resource in ResourceType::ALL {
            let (r, error) = scan_resource(st, resource, &mut record, &mut pacer).await;
            report.resources.push(r);
            if let Some(e) = error {
                report.error.get_or_insert(e);
            }
        }
        pacer.settle();
        record.window_calls = budget.spent(Instant::now());
        match st.changes.record(record).await {
            Ok(events) => {
                // What changed in HR is no longer served from the response cache.
                for e in &events {
                    let resource = match e.resource.kind {
                        ResourceType::RecruitingRequest => Resource::RecruitingRequests,
                        ResourceType::Candidate => Resource::Candidates,
                    };
                    st.reader.responses.invalidate(resource, e.resource.id);
                }
                report.events = events
            }
            Err(e) => report.error = Some(failed(e)),
        }
        pacer.settle();
        report.yielded = pacer.yielded;
        report
    });
    let (mut report, store_queries) = crate::store::changes::counting(
        calls
            .scope(call_scope::scope(
                scope,
                // Background for the budget: partner reads wait last when Dataverse's runs low.
                crate::upstream::pacing::background(crate::ops::trace_context::scope(trace, work)),
            ))
            .instrument(span.clone()),
    )
    .await;
    report.store_queries = store_queries;
    report.upstream_calls = calls.get();
    report.duration = started.elapsed();
    report.budget_share = budget.share(Instant::now());
    span.in_scope(|| observe(&report));
    report
}

fn observe(report: &ScanReport) {
    let outcome = if report.complete() {
        "complete"
    } else {
        "partial"
    };
    metrics::histogram!("changes_scan_duration_seconds", "outcome" => outcome)
        .record(report.duration.as_secs_f64());
    metrics::counter!("changes_scans_total", "outcome" => outcome).increment(1);
    metrics::gauge!("changes_scan_upstream_calls").set(f64::from(report.upstream_calls));
    metrics::counter!("changes_scan_upstream_calls_total")
        .increment(u64::from(report.upstream_calls));
    metrics::gauge!("changes_scan_budget_share").set(report.budget_share);
    metrics::gauge!("changes_scan_store_queries").set(f64::from(report.store_queries));
    metrics::gauge!("changes_scan_yield_seconds").set(report.yielded.as_secs_f64());
    for e in &report.events {
        // The type is one of eight fixed names: a closed label set.
        metrics::counter!("changes_events_total", "type" => e.event_type.to_string()).increment(1);
    }
    let read: Vec<String> = report
        .resources
        .iter()
        .map(|r| {
            format!(
                "{}={}{}",
                r.resource.as_str(),
                r.read,
                if r.complete { "" } else { " (partial)" }
            )
        })
        .collect();
    match &report.error {
        None => tracing::info!(
            read = %read.join(", "),
            events = report.events.len(),
            upstream_calls = report.upstream_calls,
            store_queries = report.store_queries,
            budget_share = report.budget_share,
            yielded_ms = report.yielded.as_millis() as u64,
            duration_ms = report.duration.as_millis() as u64,
            "changes scan"
        ),
        Some(e) => tracing::warn!(
            read = %read.join(", "),
            events = report.events.len(),
            upstream_calls = report.upstream_calls,
            duration_ms = report.duration.as_millis() as u64,
            error = %e,
            "changes scan incomplete: no deletions for what it could not read"
        ),
    }
}

/// Removes events older than the retention.
async fn purge(st: &ScanContext) {
    let keep = chrono::Duration::days(i64::from(st.settings.retention_days));
    let before = (chrono::Utc::now() - keep).timestamp_millis();
    match st.changes.store().purge_events_before(before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "changes: events past retention removed"),
        Err(e) => tracing::warn!(error = %e, "changes: retention purge failed"),
    }
}

/// What the scanner uses, and nothing else: its settings, the Dataverse client, the resource reader
/// (the partner read path's queries and rendering; its response cache is invalidated by events),
/// the feed it records into and the process's shutdown token. Built once in `app.rs`.
pub struct ScanContext {
    pub settings: ChangesConfig,
    pub client: Arc<DataverseClient>,
    pub reader: Reader,
    pub changes: Arc<super::Changes>,
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl ScanContext {
    fn shutdown(&self) -> &tokio_util::sync::CancellationToken {
        &self.shutdown
    }
}

/// Runs scans every `[changes] scan_interval_ms` (the first one interval after start) and whenever
/// [`super::Changes::scan_now`] asks, until shutdown, while this replica holds the scan lease
/// ([`Leadership`]; a replica taking it over keeps the cluster's interval since the last scan).
/// A scan in progress at shutdown, or whose lease another replica took, is dropped before it
/// records anything (its one transaction either happened or not).
pub fn spawn(
    st: Arc<ScanContext>,
    mut triggers: mpsc::Receiver<Trigger>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let shutdown = st.shutdown().clone();
        let interval = Duration::from_millis(st.settings.interval_ms());
        let mut next = tokio::time::Instant::now() + interval;
        let budget = ScanBudget::new(st.settings.max_budget_share);
        let mut lead = Leadership::new(st.changes.clone(), interval);
        loop {
            let tick = tokio::time::Instant::now() + lead.tick();
            let wake = if lead.is_leader() {
                next.min(tick)
            } else {
                tick
            };
            let waiter = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => None,
                t = triggers.recv() => match t {
                    Some(t) => Some(t),
                    None => break,
                },
            };
            let token = match lead.refresh().await {
                Role::Leader {
                    token,
                    took_over,
                    since_scan,
                    window_calls,
                } => {
                    if let (true, Some(since)) = (took_over, since_scan) {
                        next = tokio::time::Instant::now() + interval.saturating_sub(since);
                        // The previous leader's spending counts against this one's window (as
                        // if made at its last scan: they leave the window no earlier than that).
                        let at = Instant::now()
                            .checked_sub(since)
                            .unwrap_or_else(Instant::now);
                        budget.record(
                            at,
                            window_calls.saturating_sub(budget.spent(Instant::now())),
                        );
                    }
                    token
                }
                Role::Follower => {
                    if let Some(w) = waiter {
                        let _ = w.send(ScanReport::not_run(
                            "another replica scans (it holds the scan lease)",
                        ));
                    }
                    continue;
                }
                Role::Unreachable => {
                    if let Some(w) = waiter {
                        let _ = w.send(ScanReport::not_run(
                            "the state store does not answer: scans are paused",
                        ));
                    }
                    continue;
                }
            };
            if waiter.is_none() && tokio::time::Instant::now() < next {
                continue;
            }
            let report = tokio::select! {
                _ = shutdown.cancelled() => None,
                r = scan(&st, &budget, Some(token)) => Some(r),
                () = lead.keep_alive(token) => Some(ScanReport::not_run(crate::store::postgres::changes::FENCED)),
            };
            let Some(report) = report else { break };
            purge(&st).await;
            if let Some(w) = waiter {
                let _ = w.send(report);
            }
            next = tokio::time::Instant::now() + interval;
        }
        lead.release().await;
    })
}
