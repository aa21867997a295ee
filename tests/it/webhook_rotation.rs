//! Webhook secret rotation (`POST /v1/webhooks/{id}/rotate-secret`) and test deliveries inside the
//! send-slot limits. Receivers run on 127.0.0.1:0; signatures are checked with the test's own HMAC
//! code (`webhooks::verify`), each secret on its own.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{mpsc, Notify};

use crate::common::{self, spawn_app_with, TestApp};
use crate::webhooks::{attempts, post_json, receiver, record_event, subscribe, verify, Received};
use ats_gateway::store::webhooks::{
    NewSubscription, PreviousSecret, SubscriptionRow, WebhookStore,
};

const EVENT: &str = "recruiting_request.status_changed";

/// A sandbox gateway whose replaced secrets sign for `grace_ms` (0: not at all).
async fn app_with_grace(grace_ms: u64) -> TestApp {
    spawn_app_with(Default::default(), move |c| {
        c.webhooks.allow_private_urls = true;
        c.webhooks.retry_schedule_ms = vec![50];
        c.webhooks.secret_rotation_grace_ms = grace_ms;
    })
    .await
}

/// The `v1,` signature `secret` gives this delivery (the test's own HMAC code).
fn signature_with(secret: &str, got: &Received) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let h = |n: &str| {
        got.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut mac = <Hmac<Sha256>>::new_from_slice(&key).expect("key");
    mac.update(format!("{}.{}.", h("webhook-id"), h("webhook-timestamp")).as_bytes());
    mac.update(&got.body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The entries of the delivery's `webhook-signature`, in order.
fn signatures(got: &Received) -> Vec<String> {
    got.headers
        .get("webhook-signature")
        .and_then(|v| v.to_str().ok())
        .expect("webhook-signature")
        .split(' ')
        .map(str::to_string)
        .collect()
}

async fn rotate(app: &TestApp, token: &str, sub: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = app
        .http
        .post(format!("{}/v1/webhooks/{sub}/rotate-secret", app.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("rotate");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn webhook_a_rotated_secret_signs_next_to_the_new_one_during_its_grace() {
    common::logs::capture();
    let app = app_with_grace(24 * 3600 * 1000).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(0, 500).await;
    let (sub, old) = subscribe(&app, &acme, &rx.url, &[EVENT]).await;

    let before = chrono::Utc::now();
    let (s, v, headers) = rotate(&app, &acme, &sub).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        headers.get("cache-control").and_then(|h| h.to_str().ok()),
        Some("no-store")
    );
    let new = v["secret"].as_str().expect("new secret").to_string();
    assert!(new.starts_with("whsec_") && new != old, "{v}");
    assert_eq!(
        (v["id"].as_str(), v["status"].as_str()),
        (Some(sub.as_str()), Some("active"))
    );
    assert!(
        !v.to_string().contains(&old[6..]),
        "the old secret is never shown again"
    );
    let until = v["previous_secret_expires_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("previous_secret_expires_at");
    let grace = until.signed_duration_since(before).num_seconds();
    assert!(
        (24 * 3600 - 60..=24 * 3600 + 60).contains(&grace),
        "{grace} s"
    );

    // A delivery: both signatures, the new secret's first; each secret alone verifies it.
    let event = record_event(&app, "usmf", "active").await;
    let got = rx.next(20).await;
    assert_eq!(got.json()["id"], event);
    assert_eq!(
        signatures(&got),
        [signature_with(&new, &got), signature_with(&old, &got)]
    );
    verify(&new, &got);
    verify(&old, &got);

    // A test event is signed the same way.
    let (s, t) = post_json(&app, &format!("/v1/webhooks/{sub}/test"), &acme, json!({})).await;
    assert_eq!((s, t["status"].as_str()), (200, Some("delivered")), "{t}");
    let test = rx.next(20).await;
    assert_eq!(signatures(&test).len(), 2);
    verify(&old, &test);

    // GET tells until when the old one signs, never a secret.
    let (_, one) = app
        .get_json(&format!("/v1/webhooks/{sub}"), &acme, None)
        .await;
    assert_eq!(
        one["previous_secret_expires_at"],
        v["previous_secret_expires_at"]
    );
    assert!(one.get("secret").is_none(), "{one}");

    // Rotating again within the grace (as after a lost answer): the original secret, which the
    // receiver still holds, keeps signing until its own expiry; the never-seen one is gone.
    let (s, v2, _) = rotate(&app, &acme, &sub).await;
    assert_eq!(s, 200, "{v2}");
    assert_eq!(
        v2["previous_secret_expires_at"], v["previous_secret_expires_at"],
        "{v2}"
    );
    let newer = v2["secret"].as_str().expect("secret").to_string();
    record_event(&app, "usmf", "closed").await;
    let got = rx.next(20).await;
    assert_eq!(
        signatures(&got),
        [signature_with(&newer, &got), signature_with(&old, &got)]
    );
    verify(&old, &got);
    assert!(!signatures(&got).contains(&signature_with(&new, &got)));

    // No secret in the log or the metrics.
    let logs = common::logs::text();
    let metrics = app.scrape().await;
    for secret in [&old, &new, &newer] {
        assert!(!logs.contains(&secret[6..]), "a secret in the log");
        assert!(!metrics.contains(&secret[6..]), "a secret in the metrics");
    }
}

#[tokio::test]
async fn webhook_after_the_grace_period_only_the_new_secret_signs() {
    // A grace of 0: the replaced secret's period is over as soon as it is replaced (no clock to
    // wait for).
    let app = app_with_grace(0).await;
    let acme = app.partner_token("acme-ats", None).await;
    let mut rx = receiver(0, 500).await;
    let (sub, old) = subscribe(&app, &acme, &rx.url, &[EVENT]).await;
    let (s, v, _) = rotate(&app, &acme, &sub).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["previous_secret_expires_at"], Value::Null, "{v}");
    let new = v["secret"].as_str().expect("secret").to_string();

    record_event(&app, "usmf", "active").await;
    let got = rx.next(20).await;
    assert_eq!(signatures(&got), [signature_with(&new, &got)]);
    verify(&new, &got);
    assert!(!signatures(&got).contains(&signature_with(&old, &got)));
    let (_, one) = app
        .get_json(&format!("/v1/webhooks/{sub}"), &acme, None)
        .await;
    assert_eq!(one["previous_secret_expires_at"], Value::Null, "{one}");
    // Not even stored (sealed) with an expiry of now.
    let stored = app
        .gateway
        .state
        .webhooks
        .store()
        .subscription(None, sub.clone())
        .await
        .expect("read")
        .expect("there");
    assert_eq!(stored.previous_secret, None);
}

#[tokio::test]
async fn webhook_rotating_an_unknown_deleted_or_foreign_subscription_is_a_404_problem() {
    let app = app_with_grace(24 * 3600 * 1000).await;
    let acme = app.partner_token("acme-ats", None).await;
    let watch = app.partner_token("nordic-watch", None).await;
    let (sub, _) = subscribe(&app, &acme, "http://127.0.0.1:9/hook", &[EVENT]).await;

    let expect_404 = |(s, v, h): (u16, Value, reqwest::header::HeaderMap)| {
        assert_eq!(s, 404, "{v}");
        assert_eq!(
            h.get("content-type").and_then(|c| c.to_str().ok()),
            Some("application/problem+json")
        );
        assert!(
            v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("/problems/not-found")),
            "{v}"
        );
        assert!(v.get("secret").is_none(), "{v}");
    };
    expect_404(rotate(&app, &acme, &uuid::Uuid::new_v4().to_string()).await);
    expect_404(rotate(&app, &watch, &sub).await);
    let resp = app
        .http
        .delete(format!("{}/v1/webhooks/{sub}", app.url))
        .bearer_auth(&acme)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    expect_404(rotate(&app, &acme, &sub).await);

    let (s, v, _) = rotate(&app, &acme, "not-a-guid").await;
    assert_eq!(s, 400, "{v}");
    let hr = app.partner_token("nordic-hr", None).await;
    let (s, v, _) = rotate(&app, &hr, &sub).await;
    assert_eq!(s, 403, "the route needs webhooks:manage: {v}");
}

/// The store's side of a rotation, the same for both backends (`pg_webhooks` runs it on
/// Postgres): the current secret becomes the previous one with its expiry, unless a previous one
/// still signs (it stays, with its own expiry); with no grace there is none; the history purge
/// forgets expired ones; another partner's or an unknown subscription is not touched.
pub async fn rotation_round_trip(s: &dyn WebhookStore) {
    let new = NewSubscription {
        id: "r".into(),
        partner: "acme-ats".into(),
        url: "https://x.example/h".into(),
        events: vec![EVENT.into()],
        secret: "sealed-1".into(),
        created_at: 1,
    };
    let row = s
        .create_subscription(new.clone(), 5)
        .await
        .expect("create")
        .expect("created");
    assert_eq!(
        row,
        SubscriptionRow {
            id: "r".into(),
            partner: "acme-ats".into(),
            url: "https://x.example/h".into(),
            events: vec![EVENT.into()],
            secret: "sealed-1".into(),
            failing: false,
            from_seq: 0,
            created_at: 1,
            failing_since: None,
            previous_secret: None,
        }
    );
    let read = |id: &str| s.subscription(None, id.to_string());
    assert_eq!(read("r").await.expect("read"), Some(row.clone()));

    let rotated = s
        .rotate_secret("acme-ats".into(), "r".into(), "sealed-2".into(), 500, 1_000)
        .await
        .expect("rotate")
        .expect("found");
    let want = SubscriptionRow {
        secret: "sealed-2".into(),
        previous_secret: Some(PreviousSecret {
            secret: "sealed-1".into(),
            expires_at: 1_000,
        }),
        ..row.clone()
    };
    assert_eq!(rotated, want);
    assert_eq!(read("r").await.expect("read"), Some(want.clone()));
    assert!(rotated.previous_at(999).is_some() && rotated.previous_at(1_000).is_none());
    let listed = s
        .subscriptions(Some("acme-ats".into()))
        .await
        .expect("list");
    assert_eq!(listed, std::slice::from_ref(&want));

    let rotate = |secret: &str, now: i64, until: i64| {
        s.rotate_secret("acme-ats".into(), "r".into(), secret.into(), now, until)
    };
    let previous = |secret: &str, expires_at: i64| {
        Some(PreviousSecret {
            secret: secret.into(),
            expires_at,
        })
    };
    // Again within the grace: the first secret still signs, so it stays the previous one, with
    // its own expiry (a receiver whose rotation answer was lost still holds it); sealed-2 is gone.
    let again = rotate("sealed-3", 600, 2_000)
        .await
        .expect("rotate")
        .expect("found");
    assert_eq!(again.secret, "sealed-3");
    assert_eq!(again.previous_secret, previous("sealed-1", 1_000));
    // Once it has expired, the secret being replaced becomes the previous one.
    let later = rotate("sealed-4", 1_000, 3_000)
        .await
        .expect("rotate")
        .expect("found");
    assert_eq!(later.previous_secret, previous("sealed-3", 3_000));
    // No grace: no previous secret at all, not one expiring now.
    let none = rotate("sealed-5", 5_000, 5_000)
        .await
        .expect("rotate")
        .expect("found");
    assert_eq!(
        (none.secret.as_str(), &none.previous_secret),
        ("sealed-5", &None)
    );

    for (partner, id) in [("nordic-watch", "r"), ("acme-ats", "none")] {
        assert_eq!(
            s.rotate_secret(partner.into(), id.into(), "x".into(), 5_000, 9_000)
                .await
                .expect("rotate"),
            None,
            "{partner}/{id}"
        );
    }
    assert_eq!(read("r").await.expect("read"), Some(none));

    // The history purge forgets a previous secret past its expiry (clock time) and keeps one
    // that still signs.
    let future = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let kept = rotate("sealed-6", 6_000, future)
        .await
        .expect("rotate")
        .expect("found");
    assert_eq!(kept.previous_secret, previous("sealed-5", future));
    let q = NewSubscription {
        id: "q".into(),
        ..new.clone()
    };
    assert!(s.create_subscription(q, 5).await.expect("create").is_some());
    let expired = s
        .rotate_secret("acme-ats".into(), "q".into(), "sealed-q".into(), 1, 2)
        .await
        .expect("rotate")
        .expect("found");
    assert_eq!(expired.previous_secret, previous("sealed-1", 2));
    s.purge_webhook_history(0).await.expect("purge");
    let q = read("q").await.expect("read").expect("q");
    assert_eq!(
        q.previous_secret, None,
        "an expired previous secret is dropped"
    );
    assert_eq!(read("r").await.expect("read"), Some(kept));
}

#[tokio::test]
async fn webhook_rotation_round_trips_through_the_embedded_store() {
    let dir = tempfile::tempdir().expect("dir");
    let s = ats_gateway::store::sqlite::SqliteStore::open(dir.path(), Duration::from_secs(60))
        .expect("sqlite");
    rotation_round_trip(&s).await;
}

/// A receiver that holds each request until `release` is notified, telling `arrived` first.
async fn holding_receiver() -> (String, mpsc::UnboundedReceiver<()>, Arc<Notify>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, arrived) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (tx, gate) = (tx.clone(), gate.clone());
            async move {
                let _ = tx.send(());
                gate.notified().await;
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, arrived, release)
}

#[tokio::test]
async fn webhook_test_deliveries_take_a_send_slot_and_are_refused_when_none_is_free() {
    // 8 sends in all: one receiver origin gets 1 of them.
    let app = spawn_app_with(Default::default(), |c| {
        c.webhooks.allow_private_urls = true;
        c.webhooks.max_concurrent_sends = 8;
        c.webhooks.timeout_ms = 7_500;
    })
    .await;
    let acme = app.partner_token("acme-ats", None).await;
    let (url, mut arrived, release) = holding_receiver().await;
    let (sub, _) = subscribe(&app, &acme, &url, &[EVENT]).await;
    let test_path = format!("/v1/webhooks/{sub}/test");

    // The first test holds the origin's only slot while the receiver has not answered.
    let first = {
        let (http, url, token) = (
            app.http.clone(),
            format!("{}{test_path}", app.url),
            acme.clone(),
        );
        tokio::spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("test");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        })
    };
    tokio::time::timeout(Duration::from_secs(20), arrived.recv())
        .await
        .expect("the first test reached the receiver")
        .expect("receiver open");

    // The second is refused at once, not queued behind it.
    let started = std::time::Instant::now();
    let resp = app
        .http
        .post(format!("{}{test_path}", app.url))
        .bearer_auth(&acme)
        .send()
        .await
        .expect("second test");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(resp.status(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("8"),
        "the delivery timeout, rounded up"
    );
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let problem: Value = resp.json().await.expect("problem");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/problems/webhook-sends-busy")),
        "{problem}"
    );
    assert!(arrived.try_recv().is_err(), "nothing was sent");

    release.notify_one();
    let (s, v) = first.await.expect("first test");
    assert_eq!((s, v["status"].as_str()), (200, Some("delivered")), "{v}");
    // Logged before the answer, once.
    let log = attempts(&app, &acme, &sub, v["event_id"].as_str()).await;
    assert_eq!(log.len(), 1, "{log:?}");

    // The slot is free again.
    let again = {
        let (http, url, token) = (
            app.http.clone(),
            format!("{}{test_path}", app.url),
            acme.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("test")
                .status()
        })
    };
    tokio::time::timeout(Duration::from_secs(20), arrived.recv())
        .await
        .expect("the third test reached the receiver")
        .expect("receiver open");
    release.notify_one();
    assert_eq!(again.await.expect("third test"), 200);
}
