//! The webhook store's side of fan-out and revocation, the same for both backends (`pg_webhooks`
//! runs them on Postgres): where a new subscription starts in the feed, and the one-time cleanup of
//! subscriptions a revoked partner left behind.

use std::time::Duration;

use ats_gateway::changes::event::{Action, Event, EventType, NewEvent, ResourceType};
use ats_gateway::store::changes::{ChangeStore, ScanRecord};
use ats_gateway::store::sqlite::SqliteStore;
use ats_gateway::store::webhooks::{
    AttemptRow, NewSubscription, OutboxInsert, SubscriptionRow, WebhookStore,
};
use serde_json::json;

pub const EVENT: &str = "recruiting_request.status_changed";

pub fn new_sub(id: &str, partner: &str, created_at: i64) -> NewSubscription {
    NewSubscription {
        id: id.into(),
        partner: partner.into(),
        url: "https://x.example/h".into(),
        events: vec![EVENT.into()],
        secret: "sealed".into(),
        created_at,
    }
}

/// Records one event (as the scanner would) and answers it.
pub async fn record(s: &dyn ChangeStore) -> Event {
    let id = uuid::Uuid::new_v4();
    let scan = ScanRecord {
        events: vec![NewEvent {
            event_type: EventType::new(ResourceType::RecruitingRequest, Action::StatusChanged),
            resource_id: id,
            company: "nomf".into(),
            data: json!({"id": id, "company": "nomf"}),
            changed_fields: Some(vec!["/status".into()]),
            from: Some("draft".into()),
            to: Some("active".into()),
        }],
        ..Default::default()
    };
    s.record_scan(scan).await.expect("record").remove(0)
}

/// The rows `webhooks::outbox` builds, by its matching rule: the subscription lists the type and
/// the event is after its `from_seq`.
pub fn rows_for(subs: &[SubscriptionRow], events: &[Event]) -> Vec<OutboxInsert> {
    events
        .iter()
        .flat_map(|e| {
            subs.iter()
                .filter(|s| e.seq > s.from_seq && s.events.contains(&e.event_type.to_string()))
                .map(|s| OutboxInsert {
                    subscription_id: s.id.clone(),
                    event_id: e.id.clone(),
                    event_seq: e.seq,
                    event_type: e.event_type.to_string(),
                    body: "{}".into(),
                    recorded_at: 1,
                })
        })
        .collect()
}

/// One fan-out pass as `webhooks::outbox::fan_out` makes it: the events after the cursor, the
/// rows built from the subscriptions the store reads under the cursor's lock.
pub async fn fan_out_pass<S: WebhookStore + ChangeStore>(s: &S) -> usize {
    let cursor = s.fanout_cursor().await.expect("cursor");
    let events = s.events_after(cursor, 200).await.expect("events");
    let Some(last) = events.last().map(|e| e.seq) else {
        return 0;
    };
    s.fan_out(last, Box::new(move |subs| rows_for(subs, &events)))
        .await
        .expect("fan out")
}

/// The events queued for a subscription, of those given.
pub async fn queued(s: &dyn WebhookStore, sub: &SubscriptionRow, events: &[&Event]) -> Vec<i64> {
    let mut out = Vec::new();
    for e in events {
        let row = s
            .outbox_row(sub.partner.clone(), sub.id.clone(), e.id.clone())
            .await
            .expect("outbox row");
        if row.is_some() {
            out.push(e.seq);
        }
    }
    out
}

/// A subscription starts after the newest event recorded when it is created, read by the store
/// with the insert, and is queued every later one. The interleaving the review found: the
/// gateway read the feed's newest event (e1) before inserting, an event (e2) was recorded and
/// fanned out meanwhile, and the subscription, created with `from_seq` = e1, never got e2 though
/// it is after its `from_seq`.
pub async fn new_subscriptions_start_after_the_newest_event<S: WebhookStore + ChangeStore>(s: &S) {
    let e1 = record(s).await;
    // (The gateway used to read the newest event here, before the insert.)
    let e2 = record(s).await;
    assert_eq!(fan_out_pass(s).await, 0, "no subscription yet");
    assert_eq!(s.fanout_cursor().await.expect("cursor"), e2.seq);
    let late = s
        .create_subscription(new_sub("late", "acme-ats", 1), 5)
        .await
        .expect("create")
        .expect("created");
    assert_eq!(late.from_seq, e2.seq, "after the newest event, fanned out");
    assert_eq!(
        s.subscription(None, "late".into()).await.expect("read"),
        Some(late.clone())
    );

    // Recorded but not fanned out yet when the next one is created: before it, so not its.
    let e3 = record(s).await;
    let ahead = s
        .create_subscription(new_sub("ahead", "acme-ats", 2), 5)
        .await
        .expect("create")
        .expect("created");
    assert_eq!(
        ahead.from_seq, e3.seq,
        "after the newest event, not the cursor"
    );
    assert_eq!(fan_out_pass(s).await, 1, "e3 for `late` only");
    let e4 = record(s).await;
    assert_eq!(fan_out_pass(s).await, 2, "e4 for both");

    let all = [&e1, &e2, &e3, &e4];
    assert_eq!(queued(s, &late, &all).await, vec![e3.seq, e4.seq]);
    assert_eq!(queued(s, &ahead, &all).await, vec![e4.seq]);
}

#[tokio::test]
async fn new_subscriptions_start_after_the_newest_event_in_the_embedded_store() {
    let dir = tempfile::tempdir().expect("dir");
    let s = SqliteStore::open(dir.path(), Duration::from_secs(60)).expect("sqlite");
    new_subscriptions_start_after_the_newest_event(&s).await;
}

/// A failing subscription is sent nothing until enabled, and its queue used to be kept for ever:
/// event bodies with personal data. Now its queued events older than the purge's horizon go, and
/// an active subscription's rows of the same age stay (never dropped unsent: a gateway down that
/// long still delivers them).
pub async fn a_failing_subscriptions_old_queue_is_purged_and_an_active_ones_is_not<
    S: WebhookStore + ChangeStore,
>(
    s: &S,
) {
    use ats_gateway::store::webhooks::AfterAttempt;
    let failing = s
        .create_subscription(new_sub("old", "acme-ats", 1), 5)
        .await
        .expect("create")
        .expect("created");
    let live = s
        .create_subscription(new_sub("live", "acme-ats", 1), 5)
        .await
        .expect("create")
        .expect("created");
    let events = [record(s).await, record(s).await, record(s).await];
    assert_eq!(fan_out_pass(s).await, 6);
    let all: Vec<&Event> = events.iter().collect();
    let first = s
        .next_delivery("old".into(), Duration::from_secs(30))
        .await
        .expect("claim")
        .expect("due");
    let attempt = AttemptRow {
        event_id: first.event_id.clone(),
        attempt: first.attempts + 1,
        at: 10,
        delivered: false,
        response_code: Some(503),
        error: Some("the receiver answered 503".into()),
        duration_ms: 3,
    };
    assert!(s
        .record_attempt(&first, attempt, AfterAttempt::Exhausted)
        .await
        .expect("exhausted"));
    // (`rows_for` records every row at 1 ms; the attempt was at 10 ms.)
    assert_eq!(s.purge_webhook_history(1).await.expect("purge"), 0);
    assert_eq!(queued(s, &failing, &all).await.len(), 3);
    // A horizon after the events: the failing subscription's queue goes (its failed row and the
    // two pending), the active one's stays whole, and so does the newer attempt.
    assert_eq!(s.purge_webhook_history(5).await.expect("purge"), 3);
    assert!(queued(s, &failing, &all).await.is_empty());
    assert_eq!(
        queued(s, &live, &all).await,
        events.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_failing_subscriptions_old_queue_is_purged_and_an_active_ones_is_not_in_the_embedded_store(
) {
    let dir = tempfile::tempdir().expect("dir");
    let s = SqliteStore::open(dir.path(), Duration::from_secs(60)).expect("sqlite");
    a_failing_subscriptions_old_queue_is_purged_and_an_active_ones_is_not(&s).await;
}

/// When the partner `gone` was revoked (seconds): its subscriptions made before are left behind
/// by an older gateway's revocation; `reused` is a config partner given a revoked id later.
pub const REVOKED_AT: i64 = 1_000;

/// Webhook state as an older gateway's revocations left it, in a store of either kind: `gone`
/// revoked with a subscription (`g`) queued and logged; `reused` revoked too, its id given to a
/// config partner that subscribed afterwards (`r`); `acme-ats` live (`a`). The revocations
/// themselves are the caller's: [`tombstones`], as the operator API leaves them, written without
/// touching the subscriptions.
pub async fn left_by_old_revocations<S: WebhookStore + ChangeStore>(s: &S) -> Vec<Event> {
    let before = REVOKED_AT * 1000 - 1;
    let after = (REVOKED_AT + 1) * 1000;
    for (id, partner, created_at) in [
        ("g", "gone", before),
        ("r", "reused", after),
        ("a", "acme-ats", before),
    ] {
        s.create_subscription(new_sub(id, partner, created_at), 5)
            .await
            .expect("create")
            .expect("created");
    }
    let events = vec![record(s).await, record(s).await];
    assert_eq!(fan_out_pass(s).await, 6);
    for id in ["g", "r", "a"] {
        let attempt = AttemptRow {
            event_id: events[0].id.clone(),
            attempt: 1,
            at: 11,
            delivered: false,
            response_code: Some(503),
            error: None,
            duration_ms: 3,
        };
        s.log_attempt(id.into(), attempt).await.expect("log");
    }
    events
}

/// What is left of [`left_by_old_revocations`]'s state: per subscription id, (present, events
/// queued, attempts logged).
pub async fn webhook_state(
    s: &dyn WebhookStore,
    events: &[Event],
) -> Vec<(String, bool, usize, usize)> {
    let mut out = Vec::new();
    for (id, partner) in [("g", "gone"), ("r", "reused"), ("a", "acme-ats")] {
        let present = s
            .subscription(None, id.into())
            .await
            .expect("read")
            .is_some();
        let mut rows = 0;
        for e in events {
            if s.outbox_row(partner.into(), id.into(), e.id.clone())
                .await
                .expect("row")
                .is_some()
            {
                rows += 1;
            }
        }
        let logged = s
            .attempts(id.into(), None, None, 100)
            .await
            .expect("attempts")
            .len();
        out.push((id.to_string(), present, rows, logged));
    }
    out
}

/// After the cleanup: the revoked partner's subscription is gone with its rows and log; the
/// config partner's (made after the revocation of the id) and the live partner's stay.
pub fn cleaned() -> Vec<(String, bool, usize, usize)> {
    vec![
        ("g".into(), false, 0, 0),
        ("r".into(), true, 2, 1),
        ("a".into(), true, 2, 1),
    ]
}

/// The tombstones an older gateway's revocations left in the operator API's table (SQL for
/// either store).
pub fn tombstones() -> String {
    format!(
        "INSERT INTO partners (id, client_id, doc, revoked_at)
         VALUES ('gone', 'gone-client', '{{}}', {REVOKED_AT}), ('reused', 'reused-client', '{{}}', {REVOKED_AT})"
    )
}

#[tokio::test]
async fn a_revoked_partners_subscriptions_are_deleted_once_when_the_embedded_store_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let ttl = Duration::from_secs(60);
    let s = SqliteStore::open(dir.path(), ttl).expect("sqlite");
    let events = left_by_old_revocations(&s).await;
    drop(s);
    // The file as an older gateway left it: the revocations, and no one-time step applied.
    let file = dir.path().join(ats_gateway::config::SQLITE_FILE);
    let conn = rusqlite::Connection::open(&file).expect("open");
    conn.execute(&tombstones(), []).expect("tombstones");
    conn.pragma_update(None, "user_version", 0)
        .expect("user_version");
    drop(conn);
    let s = SqliteStore::open(dir.path(), ttl).expect("reopen");
    assert_eq!(webhook_state(&s, &events).await, cleaned());
    // Once: a subscription the step would match, made after it ran, stays at later opens.
    s.create_subscription(new_sub("later", "gone", 1), 5)
        .await
        .expect("create")
        .expect("created");
    drop(s);
    let s = SqliteStore::open(dir.path(), ttl).expect("reopen");
    assert!(s
        .subscription(None, "later".into())
        .await
        .expect("read")
        .is_some());
}
