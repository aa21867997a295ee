//! Delivery: one dispatcher per process fans recorded events out into the outbox and starts a
//! worker for each subscription with a delivery due; a worker sends that subscription's due
//! deliveries one at a time, oldest event first, so a slow or dead receiver only ever holds up its
//! own subscription (and, for at most the timeout, one of its origin's share of the
//! `max_concurrent_sends` slots: `slots.rs`).
//!
//! Each body is shaped just before it is sent, with the partner's rights at that moment
//! (`outbox::shape_now`): a disabled or removed partner's deliveries are held (no attempt counted)
//! and an event it may no longer see is dropped.
//!
//! An attempt is acknowledged by a 2xx within the timeout; anything else is retried after the next
//! wait of `retry_schedule_ms` (plus up to 20 % jitter, so receivers coming back are not hit by
//! every retry at once). When the schedule is spent the subscription becomes `failing` and its
//! deliveries wait until it is re-enabled. Every attempt and its consequence are written in one
//! transaction; a send cut short by shutdown writes nothing, so it is simply sent again later
//! (at least once).
//!
//! With replicas (Postgres), every replica runs a dispatcher: fan-out is idempotent, and a worker
//! claims each delivery before sending it (`store::webhooks::WebhookStore::next_delivery`), so one
//! replica at a time sends a subscription's deliveries. The claim is taken after the send slot
//! and lasts [`claim_lease`]; a replica that dies mid-send loses it then, and another sends the
//! same event again (same `webhook-id`: at least once). Due times and retries are waits the store
//! adds to its own clock (the database's), so replicas' clocks need not agree. While Postgres is
//! away every step fails and is retried by the next pass: deliveries pause and resume, nothing
//! recorded is lost.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::DeliveryContext;
use crate::store::webhooks::{AfterAttempt, AttemptRow, SubscriptionRow};

use super::outbox::{shape_now, Shaped};
use super::url_policy::BlockedAddress;
use super::{now_ms, Webhooks};

/// The dispatcher also looks at least this often (a backstop: every change wakes it anyway).
const IDLE_CHECK: Duration = Duration::from_secs(5);
/// Delivered events and attempts are kept this long for the delivery log (and redelivery); a
/// failing subscription's queue keeps the events of this long (their bodies hold personal data).
const HISTORY_MS: i64 = 30 * 24 * 3600 * 1000;
/// A partner that may not receive deliveries now is looked at again after this long.
const HOLD: Duration = Duration::from_secs(5);
/// How often old history is purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// How long a claimed delivery stays this replica's: the send (at most the timeout) and writing
/// its outcome, with room to spare, because a claim that ends before the outcome is written lets
/// another replica send the event a second time.
pub(crate) fn claim_lease(timeout: Duration) -> Duration {
    timeout * 2 + Duration::from_secs(5)
}

/// How one attempt ended, as a metric label (a closed set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    Delivered,
    HttpError,
    Timeout,
    ConnectError,
    BlockedAddress,
    Error,
}

impl Outcome {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::BlockedAddress => "blocked_address",
            Outcome::Error => "error",
        }
    }
}

/// Starts the dispatcher; it stops (at a safe point) when `stop` fires, then marks
/// `Webhooks::stopped`.
pub fn spawn(st: Arc<DeliveryContext>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        dispatch(&st, &stop).await;
        st.webhooks.stopped.send_replace(true);
    })
}

async fn dispatch(st: &Arc<DeliveryContext>, stop: &CancellationToken) {
    let wh = &st.webhooks;
    let mut recorded = st.changes.subscribe();
    let mut workers: JoinSet<String> = JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut ids: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut purged_at: Option<Instant> = None;
    loop {
        if purged_at.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            purged_at = Some(Instant::now());
            match wh.store.purge_webhook_history(now_ms() - HISTORY_MS).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "old webhook deliveries purged"),
                Err(e) => tracing::warn!(error = %e, "webhook history purge failed"),
            }
        }
        recorded.borrow_and_update();
        if let Err(e) = super::outbox::fan_out(st).await {
            tracing::warn!(error = %e, "webhook fan-out failed; retrying");
        }
        match wh.store.due_subscriptions().await {
            Ok(due) => {
                for sub in due {
                    if busy.insert(sub.clone()) {
                        let handle = workers.spawn(drain(st.clone(), sub.clone(), stop.clone()));
                        ids.insert(handle.id(), sub);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhook outbox unreadable; retrying"),
        }
        let mut wait = IDLE_CHECK;
        if let Ok((next, pending)) = wh.store.outbox_summary().await {
            metrics::gauge!("webhook_outbox_pending").set(pending as f64);
            if let Some(next) = next.filter(|next| !next.is_zero()) {
                wait = wait.min(next);
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = wh.wake.notified() => {}
            r = recorded.changed() => {
                if r.is_err() {
                    // The feed is gone (the process is stopping): keep serving retries.
                    tokio::time::sleep(wait).await;
                }
            }
            Some(done) = workers.join_next_with_id() => {
                let id = match done {
                    Ok((id, _)) => id,
                    Err(e) => e.id(),
                };
                if let Some(sub) = ids.remove(&id) {
                    busy.remove(&sub);
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Workers see the same token and stop after their current attempt is written (or abandon a
    // send in flight, which stays pending).
    while workers.join_next().await.is_some() {}
}

/// Sends the subscription's due deliveries until none is due, the subscription stops being active,
/// or shutdown.
async fn drain(st: Arc<DeliveryContext>, sub_id: String, stop: CancellationToken) -> String {
    let wh = &st.webhooks;
    // Read once here, then once per claimed delivery below: the slot for the next send is taken
    // for the partner and URL of the last read, at most one delivery old.
    let mut sub = match wh.store.subscription(None, sub_id.clone()).await {
        Ok(Some(s)) => s,
        _ => return sub_id,
    };
    loop {
        if stop.is_cancelled() {
            break;
        }
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = wh.sends.acquire(&sub.partner, &sub.url) => match p { Some(p) => p, None => break },
        };
        // Claimed once a slot is held, so the claim's lease is spent sending, not waiting.
        let lease = wh.claim_lease();
        let row = match wh.store.next_delivery(sub_id.clone(), lease).await {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "webhook outbox unreadable");
                break;
            }
        };
        // Read again once claimed: a secret rotated while this send waited for its slot must
        // sign it (after a leak, with no grace, the old one must not).
        sub = match wh.store.subscription(None, sub_id.clone()).await {
            Ok(Some(s)) => s,
            _ => {
                if let Err(e) = wh.store.release_delivery(&row).await {
                    tracing::warn!(error = %e, "webhook claim not given back; it ends by itself");
                }
                break;
            }
        };
        // Shaped now, after any wait for a slot: the rights in force at the moment of sending.
        let body = match shape_now(&st, &sub.partner, &row).await {
            Shaped::Send(body) => body,
            Shaped::Hold => {
                tracing::info!(subscription = %sub.id, partner = %sub.partner, "webhook deliveries held: the partner is disabled, removed or lacks webhooks:manage, or the change feed did not answer");
                if let Err(e) = wh.store.hold_subscription(sub.id.clone(), HOLD).await {
                    tracing::warn!(error = %e, "webhook hold not recorded");
                }
                break;
            }
            Shaped::Drop => {
                tracing::info!(subscription = %sub.id, event = %row.event_id, "webhook delivery dropped: the partner may no longer see the event");
                if let Err(e) = wh
                    .store
                    .drop_delivery(sub.id.clone(), row.event_id.clone())
                    .await
                {
                    tracing::warn!(error = %e, "webhook delivery not dropped");
                    break;
                }
                continue;
            }
        };
        let started = Instant::now();
        let at = now_ms();
        // Each attempt is a trace of its own, sent to the receiver as `traceparent`.
        let trace = crate::ops::trace_context::TraceContext::new_root();
        let span = tracing::info_span!("webhook_delivery", trace_id = %trace.trace_id(), subscription = %sub.id, event = %row.event_id);
        crate::ops::telemetry::start_root(&span, &trace);
        let (result, code, error) = tokio::select! {
            _ = stop.cancelled() => {
                // Given back, so another replica need not wait for the claim to end.
                if let Err(e) = wh.store.release_delivery(&row).await {
                    tracing::warn!(error = %e, "webhook claim not given back; it ends by itself");
                }
                break;
            }
            r = send(wh, &sub, &row.event_id, body, &trace).instrument(span) => r,
        };
        drop(permit);
        let elapsed = started.elapsed();
        metrics::counter!("webhook_deliveries_total", "result" => result.label()).increment(1);
        metrics::histogram!("webhook_delivery_duration_seconds", "result" => result.label())
            .record(elapsed.as_secs_f64());
        let delivered = result == Outcome::Delivered;
        let after = if delivered {
            metrics::histogram!("webhook_delivery_lag_seconds")
                .record((now_ms() - row.recorded_at).max(0) as f64 / 1000.0);
            AfterAttempt::Delivered
        } else {
            match wh
                .schedule
                .get(usize::try_from(row.round_attempts).unwrap_or(usize::MAX))
            {
                Some(wait) => AfterAttempt::RetryAfter(jittered(*wait)),
                None => AfterAttempt::Exhausted,
            }
        };
        let attempt = AttemptRow {
            event_id: row.event_id.clone(),
            attempt: row.attempts + 1,
            at,
            delivered,
            response_code: code,
            error,
            duration_ms: elapsed.as_millis() as i64,
        };
        match wh.store.record_attempt(&row, attempt, after).await {
            // Only when the outcome applied: a claim taken over meanwhile marked nothing.
            Ok(true) if after == AfterAttempt::Exhausted => {
                metrics::counter!("webhook_subscriptions_failing_total").increment(1);
                tracing::warn!(subscription = %sub.id, partner = %sub.partner, "webhook retries exhausted; subscription marked failing");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "webhook attempt not recorded");
                break;
            }
        }
    }
    sub_id
}

/// `wait` stretched by up to 20 %.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(1.0 + rand::random::<f64>() * 0.2)
}

/// One signed POST. The error text names what happened without the URL (which may carry the
/// partner's own token) or the body.
pub(crate) async fn send(
    wh: &Webhooks,
    sub: &SubscriptionRow,
    event_id: &str,
    body: String,
    trace: &crate::ops::trace_context::TraceContext,
) -> (Outcome, Option<u16>, Option<String>) {
    // Checked again at every attempt: the policy may have changed since the subscription was made,
    // and an IP-literal host never passes through the resolver.
    if let Err(why) = wh.policy.check_shape(&sub.url) {
        return (Outcome::BlockedAddress, None, Some(format!("url {why}")));
    }
    let key = match wh.sealer.open(&sub.id, &sub.secret) {
        Ok(k) => k,
        Err(why) => {
            tracing::error!(subscription = %sub.id, reason = %why, "webhook secret unusable");
            return (
                Outcome::Error,
                None,
                Some("the gateway cannot sign for this subscription".into()),
            );
        }
    };
    // A secret replaced by a rotation signs too until its grace period ends, so a receiver still
    // holding it keeps verifying; one that cannot be opened is left out, not the delivery.
    let previous = sub
        .previous_at(now_ms())
        .and_then(|p| match wh.sealer.open(&sub.id, &p.secret) {
            Ok(k) => Some(k),
            Err(why) => {
                tracing::error!(subscription = %sub.id, reason = %why, "previous webhook secret unusable; signing with the current one only");
                None
            }
        });
    let timestamp = chrono::Utc::now().timestamp();
    let keys: Vec<&super::signing::SigningKey> =
        std::iter::once(&key).chain(previous.as_ref()).collect();
    let signature = super::signing::signatures(&keys, event_id, timestamp, body.as_bytes());
    let resp = wh
        .http
        .post(&sub.url)
        .header("content-type", "application/json")
        .header("webhook-id", event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header(
            crate::ops::trace_context::TRACEPARENT,
            trace.traceresponse(),
        )
        .body(body)
        .send()
        .await;
    match resp {
        Ok(r) if r.status().is_success() => (Outcome::Delivered, Some(r.status().as_u16()), None),
        Ok(r) => {
            let code = r.status().as_u16();
            (
                Outcome::HttpError,
                Some(code),
                Some(format!("the receiver answered {code}")),
            )
        }
        Err(e) => {
            let secs = wh.timeout.as_secs_f64();
            if is_blocked(&e) {
                (
                    Outcome::BlockedAddress,
                    None,
                    Some(BlockedAddress.to_string()),
                )
            } else if e.is_timeout() {
                (
                    Outcome::Timeout,
                    None,
                    Some(format!("no answer within {secs} s")),
                )
            } else if e.is_connect() {
                (
                    Outcome::ConnectError,
                    None,
                    Some("could not connect to the receiver".into()),
                )
            } else {
                (
                    Outcome::Error,
                    None,
                    Some("the request to the receiver failed".into()),
                )
            }
        }
    }
}

fn is_blocked(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<BlockedAddress>() {
            return true;
        }
        source = s.source();
    }
    false
}
