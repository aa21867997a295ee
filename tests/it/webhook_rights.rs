//! Webhooks under changing rights and load: bodies shaped with the partner's rights at send time
//! (redeliver, retries after a registry reload), fair send slots, the test event, and the delivery
//! log's `next_attempt_at`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ats_gateway::auth::config::PartnerConfig;
use ats_gateway::auth::scopes::Scope;
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{self, spawn_app_with, TestApp};
use crate::operator::{access_token, Operated};
use crate::webhooks::{
    post_json, receiver, record_event, sandbox_app, subscribe, verify, wait_attempts,
};

/// The demo partners with `acme-ats` changed by `edit`, swapped in as a registry reload would.
fn reload_acme(app: &TestApp, edit: impl FnOnce(&mut PartnerConfig)) {
    let mut partners: Vec<PartnerConfig> = ats_gateway::demo::partners()
        .into_iter()
        .map(|p| p.config)
        .collect();
    if let Some(acme) = partners.iter_mut().find(|p| p.id == "acme-ats") {
        edit(acme);
    }
    app.gateway
        .state
        .auth
        .reload_partners(&partners)
        .expect("reload");
}

/// Records a `candidate.updated` event of `company` whose person carries personal fields.
async fn record_candidate_event(app: &TestApp, company: &str) -> String {
    use ats_gateway::changes::event::{Action, EventType, NewEvent, ResourceType};
    let id = uuid::Uuid::new_v4();
    let scan = ats_gateway::store::changes::ScanRecord {
        events: vec![NewEvent {
            event_type: EventType::new(ResourceType::Candidate, Action::Updated),
            resource_id: id,
            company: company.into(),
            data: json!({"id": id, "comments": "moved on", "person": {"first_name": "Ada", "birth_date": "1990-01-02"}}),
            changed_fields: Some(vec!["/comments".into(), "/person/birth_date".into()]),
            from: None,
            to: None,
        }],
        ..Default::default()
    };
    let events = app
        .gateway
        .state
        .changes
        .record(scan)
        .await
        .expect("recorded");
    events[0].id.clone()
}

async fn redeliver(app: &TestApp, token: &str, sub: &str, event: &str) -> (u16, Value) {
    post_json(
        app,
        &format!("/v1/webhooks/{sub}/deliveries/{event}/redeliver"),
        token,
        json!({}),
    )
    .await
}

#[tokio::test]
async fn a_redelivery_is_shaped_with_the_partners_current_rights() {
    let app = sandbox_app(&[60_000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(0, 500).await;
    let (sub, secret) = subscribe(
        &app,
        &acme,
        &rx.url,
        &["recruiting_request.status_changed", "candidate.updated"],
    )
    .await;
    let request = record_event(&app, "usmf", "active").await;
    let candidate = record_candidate_event(&app, "gbsi").await;
    for _ in 0..2 {
        let got = rx.next(20).await;
        verify(&secret, &got);
        if got.json()["id"] == candidate.as_str() {
            assert_eq!(got.json()["data"]["person"]["birth_date"], "1990-01-02");
        }
    }

    // acme loses usmf and pii:read.
    reload_acme(&app, |p| {
        p.companies = vec!["gbsi".into()];
        p.scopes.retain(|s| *s != Scope::PiiRead);
    });
    let acme = app.partner_token("acme-ats", None).await;
    let (s, v) = redeliver(&app, &acme, &sub, &request).await;
    assert_eq!(s, 404, "an event of a company no longer yours: {v}");
    let (s, v) = redeliver(&app, &acme, &sub, &candidate).await;
    assert_eq!(s, 202, "{v}");
    let got = rx.next(20).await;
    verify(&secret, &got);
    let body = got.json();
    assert_eq!(body["id"], candidate.as_str());
    assert!(
        body["data"]["person"].get("birth_date").is_none(),
        "no personal field without pii:read: {body}"
    );
    assert_eq!(body["changed_fields"], json!(["/comments"]), "{body}");
    assert_eq!(
        rx.hits.load(Ordering::SeqCst),
        3,
        "the usmf event was not sent"
    );
}

#[tokio::test]
async fn a_disabled_partners_pending_retry_is_held_until_it_is_enabled() {
    common::logs::capture();
    let app = sandbox_app(&[1_000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(1, 503).await;
    let (sub, secret) =
        subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    let event = record_event(&app, "usmf", "active").await;
    let first = rx.next(20).await;
    assert_eq!(first.json()["id"], event.as_str());

    reload_acme(&app, |p| p.disabled = true);
    // The retry falls due a second after the failure: held, not sent.
    let held = format!("subscription={sub}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !common::logs::text()
        .lines()
        .any(|l| l.contains("webhook deliveries held") && l.contains(&held))
    {
        assert!(Instant::now() < deadline, "the retry was not held");
        assert!(
            rx.rx.try_recv().is_err(),
            "a disabled partner's retry was delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rx.rx.try_recv().is_err(), "nothing sent while disabled");
    assert_eq!(rx.hits.load(Ordering::SeqCst), 1);

    // Enabled again: the held retry goes out (no attempt was spent while held).
    reload_acme(&app, |_| {});
    let got = rx.next(20).await;
    verify(&secret, &got);
    assert_eq!(got.json()["id"], event.as_str());
    let log = wait_attempts(&app, &acme_again(&app).await, &sub, &event, 2).await;
    let numbers: Vec<i64> = log.iter().filter_map(|a| a["attempt"].as_i64()).collect();
    assert_eq!(numbers, [2, 1], "{log:?}");
}

/// An event recorded while the partner is disabled is queued and held, not skipped: the fan-out
/// cursor moves past it, so a skipped event would never be sent. Only events of its companies are
/// queued (acme has usmf and gbsi, not nomf).
#[tokio::test]
async fn an_event_recorded_while_the_partner_is_disabled_is_sent_once_it_is_back() {
    common::logs::capture();
    let app = sandbox_app(&[1_000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(0, 500).await;
    let (sub, secret) =
        subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    reload_acme(&app, |p| p.disabled = true);
    let elsewhere = record_event(&app, "nomf", "active").await;
    let event = record_event(&app, "usmf", "active").await;
    let held = format!("subscription={sub}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !common::logs::text()
        .lines()
        .any(|l| l.contains("webhook deliveries held") && l.contains(&held))
    {
        assert!(
            Instant::now() < deadline,
            "the event was not queued and held"
        );
        assert!(rx.rx.try_recv().is_err(), "sent while disabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.hits.load(Ordering::SeqCst), 0);
    // Fanned out in order: the usmf event's row is held, so the nomf one was passed, unqueued.
    let store = app.gateway.state.webhooks.store();
    let queued = |event: &str| store.outbox_row("acme-ats".into(), sub.clone(), event.into());
    assert!(queued(&event).await.expect("read").is_some());
    assert!(
        queued(&elsewhere).await.expect("read").is_none(),
        "an event of a company the disabled partner lacks was queued"
    );

    reload_acme(&app, |_| {});
    let got = rx.next(20).await;
    verify(&secret, &got);
    assert_eq!(got.json()["id"], event.as_str());
    assert_eq!(got.json()["data"]["company"], "usmf", "{}", got.json());
}

/// Waits until fan-out has passed every event recorded so far.
async fn fanned_out(app: &TestApp) {
    let state = &app.gateway.state;
    let last = state
        .changes
        .store()
        .feed_bounds()
        .await
        .expect("bounds")
        .last_seq;
    let passed = common::poll::poll(Duration::from_secs(20), || async {
        let cursor = state.webhooks.store().fanout_cursor().await.ok()?;
        (cursor >= last).then_some(())
    })
    .await;
    assert!(passed.is_some(), "fan-out did not reach event {last}");
}

/// A partner the registry does not have (here removed from the config) is queued its events,
/// held: skipping them would lose them if it is back (or was only not loaded here yet).
#[tokio::test]
async fn a_partner_the_registry_does_not_have_is_queued_its_events_held() {
    let app = sandbox_app(&[1_000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let (sub, _) = subscribe(
        &app,
        &acme,
        "http://127.0.0.1:9/hook",
        &["recruiting_request.status_changed"],
    )
    .await;
    let partners: Vec<PartnerConfig> = ats_gateway::demo::partners()
        .into_iter()
        .map(|p| p.config)
        .filter(|p| p.id != "acme-ats")
        .collect();
    app.gateway
        .state
        .auth
        .reload_partners(&partners)
        .expect("reload");
    let event = record_event(&app, "usmf", "active").await;
    fanned_out(&app).await;
    let row = app
        .gateway
        .state
        .webhooks
        .store()
        .outbox_row("acme-ats".into(), sub, event)
        .await
        .expect("read");
    // Held, not lost: the partner may be back (re-added to the config, or loaded by a replica
    // whose registry was behind another's).
    assert!(
        row.is_some(),
        "an event lost for a partner not in the registry"
    );
}

/// Revoking a partner through the operator API deletes its subscriptions with their queued
/// deliveries: its id never comes back, so they would wait forever.
#[tokio::test]
async fn a_revoked_partners_subscriptions_and_deliveries_go_with_it() {
    let (token, hash) = ats_gateway::operator::guard::create_operator_token();
    let app = spawn_app_with(Default::default(), |c| {
        c.operator.token_hashes = vec![hash];
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![60_000];
    })
    .await;
    a_revoked_partners_subscriptions_and_deliveries_go_with_it_on(&Operated { app, token }, None)
        .await;
}

#[tokio::test]
async fn a_revoked_partners_subscriptions_and_deliveries_go_with_it_on_postgres() {
    let pg = tokio::task::spawn_blocking(common::postgres::PgServer::start)
        .await
        .expect("pg");
    let (token, hash) = ats_gateway::operator::guard::create_operator_token();
    let url = pg.url();
    let app = spawn_app_with(Default::default(), |c| {
        c.operator.token_hashes = vec![hash];
        c.state.url = ats_gateway::config::SecretString::new(url.as_str());
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![60_000];
    })
    .await;
    a_revoked_partners_subscriptions_and_deliveries_go_with_it_on(
        &Operated { app, token },
        Some(url),
    )
    .await;
}

/// The subscription's outbox rows, counted in the store's own table (the store's readers join the
/// subscription, so they see none once it is gone, rows left or not).
async fn outbox_rows(app: &TestApp, postgres: Option<&str>, subscription: &str) -> i64 {
    const SQL: &str = "SELECT count(*) FROM webhook_outbox WHERE subscription_id = $1";
    match postgres {
        Some(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client
                .query_one(SQL, &[&subscription])
                .await
                .expect("count")
                .get(0)
        }
        None => {
            rusqlite::Connection::open(app.state_dir.path().join(ats_gateway::config::SQLITE_FILE))
                .expect("the state file")
                .query_row(&SQL.replace("$1", "?1"), [subscription], |r| r.get(0))
                .expect("count")
        }
    }
}

async fn a_revoked_partners_subscriptions_and_deliveries_go_with_it_on(
    op: &Operated,
    postgres: Option<String>,
) {
    let app = &op.app;
    let created = op.create("leaving-co", &["webhooks:manage"]).await;
    let secret = created["client_secret"].as_str().expect("secret");
    let token = access_token(app, "leaving-co", secret).await;
    let (sub, _) = subscribe(
        app,
        &token,
        "http://127.0.0.1:9/hook",
        &["recruiting_request.status_changed"],
    )
    .await;
    let event = record_event(app, "usmf", "active").await;
    fanned_out(app).await;
    let store = app.gateway.state.webhooks.store();
    let queued = || store.outbox_row("leaving-co".into(), sub.clone(), event.clone());
    assert!(queued().await.expect("read").is_some(), "queued first");
    assert_eq!(outbox_rows(app, postgres.as_deref(), &sub).await, 1);

    let (s, v) = op
        .call(
            reqwest::Method::DELETE,
            "/operator/v1/partners/leaving-co",
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let left = store
        .subscriptions(Some("leaving-co".into()))
        .await
        .expect("read");
    assert!(left.is_empty(), "subscriptions kept: {left:?}");
    assert_eq!(
        outbox_rows(app, postgres.as_deref(), &sub).await,
        0,
        "delivery kept"
    );
}

async fn acme_again(app: &TestApp) -> String {
    app.partner_token("acme-ats", None).await
}

#[tokio::test]
async fn many_subscriptions_at_a_silent_receiver_do_not_delay_a_healthy_one() {
    let app = spawn_app_with(Default::default(), |c| {
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![60_000];
        c.webhooks.timeout_ms = 30_000;
        c.webhooks.max_concurrent_sends = 4;
    })
    .await;
    let acme = app.partner_token("acme-ats", None).await;
    // Accepts requests and never answers; counts them.
    let tarpit = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tarpit_url = format!("http://{}/hook", tarpit.local_addr().expect("addr"));
    let stuck = Arc::new(AtomicUsize::new(0));
    let counter = stuck.clone();
    let hang = tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<StatusCode>()
            }),
        );
        let _ = axum::serve(tarpit, app).await;
    });
    let types = ["recruiting_request.status_changed"];
    for _ in 0..12 {
        subscribe(&app, &acme, &tarpit_url, &types).await;
    }
    record_event(&app, "usmf", "active").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while stuck.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the tarpit got no request");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The same partner's healthy receiver, subscribed while the tarpit holds its sends.
    let mut fast = receiver(0, 500).await;
    let (_, secret) = subscribe(&app, &acme, &fast.url, &types).await;
    let started = Instant::now();
    let event = record_event(&app, "usmf", "active").await;
    let got = fast.next(25).await;
    verify(&secret, &got);
    assert_eq!(got.json()["id"], event.as_str());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "delivered after {:?}, behind the silent receiver's 30 s timeouts",
        started.elapsed()
    );
    assert!(
        stuck.load(Ordering::SeqCst) <= 2,
        "the silent receiver holds only its origin's share of the slots"
    );
    hang.abort();
}

#[tokio::test]
async fn the_test_action_sends_a_signed_test_event_at_once() {
    let app = sandbox_app(&[60_000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(0, 500).await;
    let (sub, secret) =
        subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    let (s, v) = post_json(&app, &format!("/v1/webhooks/{sub}/test"), &acme, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "delivered", "{v}");
    assert_eq!(v["response_code"], 204, "{v}");
    let got = rx.next(5).await;
    verify(&secret, &got);
    let body = got.json();
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["id"], v["event_id"]);
    assert_eq!(body["data"]["subscription_id"], sub.as_str());
    let log = wait_attempts(&app, &acme, &sub, v["event_id"].as_str().expect("id"), 1).await;
    assert_eq!(log[0]["status"], "delivered");

    // A receiver that refuses: the answer says so; nothing is retried.
    let mut refusing = receiver(usize::MAX, 500).await;
    let (other, _) = subscribe(
        &app,
        &acme,
        &refusing.url,
        &["recruiting_request.status_changed"],
    )
    .await;
    let (s, v) = post_json(
        &app,
        &format!("/v1/webhooks/{other}/test"),
        &acme,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["response_code"], 500, "{v}");
    refusing.next(5).await;

    // Another partner's subscription is not found.
    let watch = app.partner_token("nordic-watch", None).await;
    let (s, _) = post_json(&app, &format!("/v1/webhooks/{sub}/test"), &watch, json!({})).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_delivery_log_shows_when_a_pending_event_is_tried_next() {
    let app = sandbox_app(&[60_000]).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(1, 503).await;
    let (sub, _) = subscribe(&app, &acme, &rx.url, &["recruiting_request.status_changed"]).await;
    let event = record_event(&app, "usmf", "active").await;
    rx.next(20).await;
    let log = wait_attempts(&app, &acme, &sub, &event, 1).await;
    let next = log[0]["next_attempt_at"]
        .as_str()
        .unwrap_or_else(|| panic!("next_attempt_at on a pending delivery: {log:?}"));
    let next = chrono::DateTime::parse_from_rfc3339(next).expect("RFC 3339");
    let ahead = next.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    assert!(
        (50_000..=75_000).contains(&ahead),
        "the retry is due 60 s (+ jitter) after the failure: {ahead} ms"
    );

    // Delivered (after a redelivery): no next attempt.
    let (s, v) = redeliver(&app, &acme, &sub, &event).await;
    assert_eq!(s, 202, "{v}");
    rx.next(20).await;
    let log = wait_attempts(&app, &acme, &sub, &event, 2).await;
    assert_eq!(log[0]["status"], "delivered");
    assert_eq!(log[0]["next_attempt_at"], Value::Null, "{log:?}");
    assert_eq!(log[1]["next_attempt_at"], Value::Null, "{log:?}");
}
