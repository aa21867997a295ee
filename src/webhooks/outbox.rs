//! Fan-out: events the changes feed recorded become outbox rows, one per matching subscription.
//! A subscription matches an event when it lists the event's type, was created before the event
//! was recorded, and its partner may see the event (`changes::visibility`, the feed's own rule:
//! companies, and personal fields only with `pii:read`); the row's body is the event as that
//! partner sees it in the feed. Rows and the fan-out cursor are written in one transaction, so a
//! restart neither loses nor repeats an event.

use super::DeliveryContext;
use crate::auth::{Principal, Scope};
use crate::changes::event::Event;
use crate::changes::visibility;
use crate::store::sqlite::webhooks::{OutboxInsert, SubscriptionRow};
use crate::store::StoreError;

/// Events read per fan-out transaction.
const BATCH: usize = 200;

/// The rights a partner has now (from the registry, as a token would carry them all), or `None`
/// when it is gone, disabled, or no longer has `webhooks:manage`: then nothing is queued for it.
fn partner_rights(st: &DeliveryContext, partner: &str) -> Option<Principal> {
    let reg = st.auth.registry();
    let p = reg.partner(partner).filter(|p| !p.disabled)?;
    if !p.scopes.contains(&Scope::WebhooksManage) {
        return None;
    }
    Some(Principal::new(
        p.id.clone(),
        p.scopes.clone(),
        p.companies.clone(),
        p.id.clone(),
    ))
}

/// The outbox rows for one event.
fn rows_for(
    st: &DeliveryContext,
    subs: &[SubscriptionRow],
    event: &Event,
    now: i64,
) -> Vec<OutboxInsert> {
    let type_name = event.event_type.to_string();
    subs.iter()
        .filter(|s| event.seq > s.from_seq && s.events.contains(&type_name))
        .filter_map(|s| {
            let principal = partner_rights(st, &s.partner)?;
            let shown = visibility::shape_for(&principal, event)?;
            let body = serde_json::to_string(&shown).ok()?;
            Some(OutboxInsert {
                subscription_id: s.id.clone(),
                event_id: shown.id.clone(),
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
        let subs = store.subscriptions(None).await?;
        let now = super::now_ms();
        let rows: Vec<OutboxInsert> = events
            .iter()
            .flat_map(|e| rows_for(st, &subs, e, now))
            .collect();
        written += rows.len();
        store.fan_out(last, rows, now).await?;
        if events.len() < BATCH {
            return Ok(written);
        }
    }
}

/// The sequence number a new subscription starts after: the newest recorded event.
pub async fn current_seq(changes: &crate::changes::Changes) -> Result<i64, StoreError> {
    Ok(changes.store().feed_bounds().await?.last_seq)
}
