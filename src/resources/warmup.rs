//! The warm-up after start: the reference caches filled in the background once the gateway is
//! ready, so no partner request waits on a load it does not need and later ones find them warm.
//!
//! One call at a time, as background work (`pacing::background`, the upstream stack's background
//! queue, no partner's deadline): every option set partners may read, by name; the first page of
//! recruiting requests with its labels and lookups; the whole reference lists that are not per
//! company. Bounded (a fixed list; each whole list stops after its page limit) and stopped between
//! steps on shutdown. A failed step is counted and skipped: the cache fills on first use instead.
//! The boards' first read from Dataverse waits for it (`boards::snapshot`).

use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::reference::{fetch_lookup_list, per_company, LOOKUP_LISTS, OPTION_SETS};
use super::{recruiting_requests, Reader};
use crate::model::recruiting_request::{self as rr, Embed, RequestRow};
use crate::ops::upstream_calls::Counter;
use crate::resolve::lang::Lang;
use crate::resolve::lookups;
use crate::upstream::odata::{Order, Query};

/// The page size the warmed first page is read with (a partner's default-sized first page).
const FIRST_PAGE: u32 = 50;

/// What one warm-up did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WarmupReport {
    /// Dataverse calls it made (cache hits cost none).
    pub upstream_calls: u32,
    /// Option sets loaded (each by name).
    pub option_sets: usize,
    /// Whole reference lists loaded.
    pub lists: usize,
    /// Rows of the first page whose lookups were resolved.
    pub first_page_rows: usize,
    /// Steps that failed (their caches fill on first use).
    pub failed: usize,
    /// Stopped by shutdown before the last step.
    pub stopped: bool,
    pub duration: Duration,
}

/// The warm-up's outcome as others wait for it: `None` until it has finished (or stopped).
#[derive(Debug, Clone)]
pub struct Warmup(watch::Receiver<Option<WarmupReport>>);

impl Warmup {
    /// Waits until the warm-up has finished (or stopped); its report.
    pub async fn done(&mut self) -> WarmupReport {
        // An error: the task is gone (a skipped warm-up's report is already there; a panicked
        // one left none). Either way nothing more to wait for.
        let _ = self.0.wait_for(Option::is_some).await;
        self.0.borrow().clone().unwrap_or(WarmupReport {
            stopped: true,
            ..WarmupReport::default()
        })
    }
}

/// A warm-up that is already over (`[gateway] warm_up = false`): nothing waits for it.
pub fn skipped() -> Warmup {
    let (_, rx) = watch::channel(Some(WarmupReport::default()));
    Warmup(rx)
}

/// Starts the warm-up in the background once `go` fires (or its sender is dropped): a gateway
/// started by `serve` or `sandbox` releases it after its ready line, so no call of the warm-up
/// goes out before that line. `Warmup` tells when it is over.
pub fn spawn(rd: Reader, shutdown: CancellationToken, go: oneshot::Receiver<()>) -> Warmup {
    let (tx, rx) = watch::channel(None);
    metrics::gauge!("gateway_warmup_done").set(0.0);
    tokio::spawn(async move {
        tokio::select! {
            _ = go => {}
            // Stopped before it was released: `warm` sees the token and reports `stopped`.
            () = shutdown.cancelled() => {}
        }
        let calls = Counter::default();
        let started = Instant::now();
        let mut report = calls
            .scope(crate::upstream::pacing::background(warm(&rd, &shutdown)))
            .await;
        report.upstream_calls = calls.get();
        report.duration = started.elapsed();
        metrics::gauge!("gateway_warmup_upstream_calls").set(f64::from(report.upstream_calls));
        metrics::gauge!("gateway_warmup_done").set(1.0);
        tracing::info!(
            upstream_calls = report.upstream_calls,
            option_sets = report.option_sets,
            lists = report.lists,
            first_page_rows = report.first_page_rows,
            failed = report.failed,
            stopped = report.stopped,
            duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
            "warm-up done"
        );
        tx.send_replace(Some(report));
    });
    Warmup(rx)
}

/// The steps, one call at a time; checks `shutdown` between them.
async fn warm(rd: &Reader, shutdown: &CancellationToken) -> WarmupReport {
    let mut report = WarmupReport::default();
    for &(_, set) in OPTION_SETS {
        if shutdown.is_cancelled() {
            report.stopped = true;
            return report;
        }
        match rd.options.get(set).await {
            Ok(_) => report.option_sets += 1,
            Err(e) => {
                tracing::debug!(set, error = %e, "warm-up: option set not loaded");
                report.failed += 1;
            }
        }
    }
    if shutdown.is_cancelled() {
        report.stopped = true;
        return report;
    }
    match first_page(rd).await {
        Ok(rows) => report.first_page_rows = rows,
        Err(e) => {
            tracing::debug!(error = %e, "warm-up: first page not read");
            report.failed += 1;
        }
    }
    for &(_, logical) in LOOKUP_LISTS {
        if shutdown.is_cancelled() {
            report.stopped = true;
            return report;
        }
        // Per-company lists (positions) are large and keyed by the partner's companies.
        let Some(table) = lookups::table(logical).filter(|t| !per_company(t)) else {
            continue;
        };
        match fetch_lookup_list(rd, table, &[]).await {
            Ok(_) => report.lists += 1,
            Err(e) => {
                tracing::debug!(table = logical, error = %e, "warm-up: reference list not loaded");
                report.failed += 1;
            }
        }
    }
    report
}

/// The first page of recruiting requests in the default order, rendered (its labels and lookups
/// cached); the number of rows.
async fn first_page(rd: &Reader) -> Result<usize, crate::problem::ApiError> {
    let q = Query::new(rr::SET)
        .select(rr::SELECT)
        .order_by("mshr_recruitingrequestid", Order::Asc);
    let raw = rd.client.get_page_raw(&q, FIRST_PAGE).await?;
    let page = raw.parse::<RequestRow>()?;
    let rendered =
        recruiting_requests::render(rd, &page.rows, Embed::default(), Lang::EnUs).await?;
    Ok(rendered.len())
}
