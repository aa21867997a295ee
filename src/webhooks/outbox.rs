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
//! subscription created during a pass misses none recorded after it.

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
        // The store reads the subscriptions inside its transaction, under the cursor's lock:
        // read before it, one created meanwhile would be missing here while the cursor moves
        // past events recorded after it was.
        let rows: FanOutRows = Box::new(move |subs| {
            events
                .iter()
                .flat_map(|e| rows_for(&reg, subs, e, now))
                .collect()
        });
        written += store.fan_out(last, rows).await?;
        if !more {
            return Ok(written);
        }
    }
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
