//! Fan-out: events the changes feed recorded become outbox rows, one per matching subscription.
//! A subscription matches an event when it lists the event's type, was created before the event
//! was recorded (the event's seq is above its `from_seq`: the newest event when it was created,
//! read by the store in the insert's transaction, which waits for a fan-out pass in progress),
//! and the partner may see the event (`changes::visibility`, the feed's own rule: companies, and
//! personal fields only with `pii:read`), judged with the rights the registry grants it even
//! while it is disabled or lacks `webhooks:manage` (then the row is held until it is back; a
//! partner the registry does not have is queued the event's company only, held). The row keeps
//! the event as the partner could see it at fan-out, with its company; it is shaped again at
//! every send ([`shape_now`]), with the rights the partner has then, so a partner that lost a
//! company or `pii:read` (a registry reload) is never sent what it may no longer see, by a retry
//! or a redelivery. The subscriptions are read, and the rows and the fan-out cursor written, in
//! one transaction under the cursor's lock, so a restart neither loses nor repeats an event and a
//! subscription created during a pass misses none recorded after it. The rows are shaped before
//! that transaction, from the subscriptions read just before it; under the lock only a
//! subscription created or changed in between is shaped ([`reuse_or_shape`]).

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::DeliveryContext;
use crate::auth::registry::{Partner, Registry};
use crate::auth::{Principal, Scope};
use crate::changes::event::Event;
use crate::changes::visibility;
use crate::store::webhooks::{FanOutRows, OutboxInsert, OutboxRow, SubscriptionRow};
use crate::store::StoreError;

/// Events read per fan-out transaction.
const BATCH: usize = 200;

/// (Event, subscription) pairs shaped on the worker thread at most; a pass with more shapes off
/// it, so the partner requests queued on that worker do not wait for it.
const SHAPED_IN_PLACE: usize = 2_000;

/// The rights the registry grants a partner (as a token would carry them all), whether or not it
/// may receive deliveries now.
fn granted(p: &Partner) -> Principal {
    Principal::new(
        p.id.clone(),
        p.scopes.clone(),
        p.companies.clone(),
        p.id.clone(),
    )
}

/// The rights a partner has now, or `None` when it is gone, disabled, or no longer has
/// `webhooks:manage`: then its deliveries are held.
pub(crate) fn partner_rights(st: &DeliveryContext, partner: &str) -> Option<Principal> {
    let reg = st.auth.registry();
    let p = reg
        .partner(partner)
        .filter(|p| !p.disabled && p.scopes.contains(&Scope::WebhooksManage))?;
    Some(granted(p))
}

/// The outbox rows for one event.
fn rows_for(
    reg: &Registry,
    subs: &[SubscriptionRow],
    event: &Event,
    now: i64,
) -> Vec<OutboxInsert> {
    let type_name = event.event_type.to_string();
    subs.iter()
        .filter(|s| event.seq > s.from_seq && s.events.contains(&type_name))
        .filter_map(|s| {
            // Skipping an event loses it: the fan-out cursor moves past it. A disabled partner, or
            // one without `webhooks:manage` for now, is queued what its grant lets it see and held
            // until it is back. One this replica's registry does not have (removed from the config,
            // or created on another replica moments ago and not loaded here yet) is queued the
            // event's company only, held; the feed's copy is shaped at send time, while retained.
            // A revoked partner has no subscriptions left (`delete_partner`; those an earlier
            // release's revocation left, the stores' one-time cleanup).
            let body = match reg.partner(&s.partner) {
                // Kept as the partner may see it now (no personal field it may not see is stored
                // for it); shaped again when sent, so what goes out is within both its rights
                // then and now.
                Some(p) => stored_body(&visibility::shape_for(&granted(p), event)?)?,
                None => serde_json::to_string(&json!({"company": event.company})).ok()?,
            };
            Some(OutboxInsert {
                subscription_id: s.id.clone(),
                event_id: event.id.clone(),
                event_seq: event.seq,
                event_type: type_name.clone(),
                body,
                recorded_at: event.occurred_at.timestamp_millis().min(now),
            })
        })
        .collect()
}

/// Fans out every event after the cursor; returns how many outbox rows were written.
pub async fn fan_out(st: &DeliveryContext) -> Result<usize, StoreError> {
    let store = st.webhooks.store();
    let mut written = 0;
    loop {
        let cursor = store.fanout_cursor().await?;
        let events = st.changes.store().events_after(cursor, BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(written);
        };
        let more = events.len() == BATCH;
        let now = super::now_ms();
        let reg = st.auth.registry();
        // Shaped before the store's transaction, from the subscriptions as read now: shaping is
        // most of a pass's work, and under the cursor's lock it would hold back other replicas'
        // passes and every subscription being created for as long.
        let before = store.subscriptions(None).await?;
        let shape = || rows_for_all(&reg, &before, &events, now);
        let shaped = if events.len() * before.len() > SHAPED_IN_PLACE {
            crate::resources::steps::off_worker(shape)
        } else {
            shape()
        };
        // The store reads the subscriptions again inside its transaction, under the cursor's
        // lock: read only before it, one created meanwhile would be missing here while the cursor
        // moves past events recorded after it was. Only such a one is shaped under the lock.
        let rows: FanOutRows = Box::new(move |subs| {
            reuse_or_shape(&before, shaped, subs, |fresh| {
                rows_for_all(&reg, fresh, &events, now)
            })
        });
        written += store.fan_out(last, rows).await?;
        if !more {
            return Ok(written);
        }
    }
}

/// The outbox rows for `events`, event by event.
fn rows_for_all(
    reg: &Registry,
    subs: &[SubscriptionRow],
    events: &[Event],
    now: i64,
) -> Vec<OutboxInsert> {
    events
        .iter()
        .flat_map(|e| rows_for(reg, subs, e, now))
        .collect()
}

/// What a subscription's outbox rows depend on (not its URL, secret or failure state).
fn shaping_key(s: &SubscriptionRow) -> (&str, &str, &[String], i64) {
    (&s.id, &s.partner, &s.events, s.from_seq)
}

/// The rows for `now` (the subscriptions read under the cursor's lock): those `shaped` before the
/// lock are kept for each subscription read then with the same [`shaping_key`]; only the ones
/// created or changed since are shaped (`shape`), so the lock is held for little more than the
/// writes. A subscription's rows stay in event order either way.
fn reuse_or_shape(
    before: &[SubscriptionRow],
    shaped: Vec<OutboxInsert>,
    now: &[SubscriptionRow],
    shape: impl FnOnce(&[SubscriptionRow]) -> Vec<OutboxInsert>,
) -> Vec<OutboxInsert> {
    let before: HashMap<&str, &SubscriptionRow> =
        before.iter().map(|s| (s.id.as_str(), s)).collect();
    let (same, changed): (Vec<&SubscriptionRow>, Vec<&SubscriptionRow>) =
        now.iter().partition(|s| {
            before
                .get(s.id.as_str())
                .is_some_and(|b| shaping_key(b) == shaping_key(s))
        });
    let keep: HashSet<&str> = same.iter().map(|s| s.id.as_str()).collect();
    let mut rows: Vec<OutboxInsert> = shaped
        .into_iter()
        .filter(|r| keep.contains(r.subscription_id.as_str()))
        .collect();
    if !changed.is_empty() {
        let changed: Vec<SubscriptionRow> = changed.into_iter().cloned().collect();
        rows.extend(shape(&changed));
    }
    rows
}

/// An outbox row's body: the event (as shaped at fan-out), with the company that decides who may
/// see it.
fn stored_body(event: &Event) -> Option<String> {
    serde_json::to_string(&json!({"company": event.company, "event": event})).ok()
}

/// The event a row holds (`Ok(None)`: it holds none any more). A row queued by an earlier version
/// holds the body as shaped then without its company, or (for a disabled partner) only the
/// company: the feed's own copy is used while it is retained, else the row is dropped. A store
/// that fails to answer is an error, not "gone": the row waits for the next pass instead of being
/// dropped.
async fn stored_event(
    st: &DeliveryContext,
    row: &OutboxRow,
) -> Result<Option<Event>, crate::store::StoreError> {
    let Ok(v) = serde_json::from_str::<Value>(&row.body) else {
        return Ok(None);
    };
    if let (Some(company), Some(event)) = (v.get("company").and_then(Value::as_str), v.get("event"))
    {
        let Ok(mut e) = serde_json::from_value::<Event>(event.clone()) else {
            return Ok(None);
        };
        e.company = company.to_string();
        e.seq = row.event_seq;
        return Ok(Some(e));
    }
    st.changes.store().event(row.event_seq).await
}

/// What a queued delivery is for its partner now.
#[derive(Debug)]
pub(crate) enum Shaped {
    /// The body to send, shaped with the partner's current rights.
    Send(String),
    /// The partner is disabled, removed or lost `webhooks:manage`: nothing is sent until it is back;
    /// or the change feed's store did not answer: tried again after the hold.
    Hold,
    /// The partner may no longer see this event (company or `pii:read` gone): never sent again.
    Drop,
}

/// Shapes a queued delivery for `partner` with the rights it has at this moment.
pub(crate) async fn shape_now(st: &DeliveryContext, partner: &str, row: &OutboxRow) -> Shaped {
    let Some(principal) = partner_rights(st, partner) else {
        return Shaped::Hold;
    };
    let event = match stored_event(st, row).await {
        Ok(Some(event)) => event,
        Ok(None) => return Shaped::Drop,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: the change feed did not answer; the delivery waits");
            return Shaped::Hold;
        }
    };
    match visibility::shape_for(&principal, &event).and_then(|e| serde_json::to_string(&e).ok()) {
        Some(body) => Shaped::Send(body),
        None => Shaped::Drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, from_seq: i64) -> SubscriptionRow {
        SubscriptionRow {
            id: id.into(),
            partner: "acme".into(),
            url: "https://hooks.example/in".into(),
            events: vec!["recruiting_request.changed".into()],
            secret: "sealed".into(),
            failing: false,
            from_seq,
            created_at: 0,
            failing_since: None,
            previous_secret: None,
        }
    }

    fn row(sub: &str, seq: i64) -> OutboxInsert {
        OutboxInsert {
            subscription_id: sub.into(),
            event_id: format!("evt_{seq}"),
            event_seq: seq,
            event_type: "recruiting_request.changed".into(),
            body: format!("shaped before the lock for {sub}"),
            recorded_at: 0,
        }
    }

    fn shaped_under_the_lock(subs: &[SubscriptionRow]) -> Vec<OutboxInsert> {
        subs.iter()
            .map(|s| OutboxInsert {
                body: format!("shaped under the lock for {}", s.id),
                ..row(&s.id, 9)
            })
            .collect()
    }

    #[test]
    fn under_the_lock_only_subscriptions_created_or_changed_since_are_shaped() {
        let before = vec![sub("a", 0), sub("b", 0), sub("gone", 0)];
        let shaped = vec![row("a", 1), row("b", 1), row("gone", 1), row("a", 2)];
        // Read again unchanged, except for a failure mark (not part of what a row holds).
        let mut now = vec![sub("a", 0), sub("b", 0)];
        now[1].failing = true;
        let mut asked = None;
        let rows = reuse_or_shape(&before, shaped.clone(), &now, |fresh| {
            asked = Some(fresh.len());
            shaped_under_the_lock(fresh)
        });
        assert_eq!(asked, None, "nothing is shaped under the lock");
        assert_eq!(
            rows,
            vec![row("a", 1), row("b", 1), row("a", 2)],
            "the deleted one's rows go"
        );

        // One created meanwhile and one whose events changed: those two, and only they.
        let mut changed = sub("b", 0);
        changed.events.push("recruiting_request.closed".into());
        let now = vec![sub("a", 0), changed, sub("new", 5)];
        let mut asked = Vec::new();
        let rows = reuse_or_shape(&before, shaped, &now, |fresh| {
            asked = fresh.iter().map(|s| s.id.clone()).collect();
            shaped_under_the_lock(fresh)
        });
        assert_eq!(asked, vec!["b".to_string(), "new".to_string()]);
        let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
        assert_eq!(
            bodies,
            vec![
                "shaped before the lock for a",
                "shaped before the lock for a",
                "shaped under the lock for b",
                "shaped under the lock for new",
            ]
        );
    }
}
