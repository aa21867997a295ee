//! `/v1/webhooks`: a partner's subscriptions (scope `webhooks:manage`), their delivery log, and
//! the redeliver, re-enable, test and secret rotation actions. Handlers stay thin: body checks in
//! `webhooks::subscriptions`, state in the store, sending in `webhooks::delivery`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::params::{NoParams, PageSize, StrictQuery};
use super::state::App;
use crate::auth::Principal;
use crate::changes::event::EVENT_TYPE_NAMES;
use crate::json_body::JsonBody;
use crate::problem::{ApiError, FieldError};
use crate::store::webhooks::{NewSubscription, Redeliver, SubscriptionRow};
use crate::webhooks::signing::SigningKey;
use crate::webhooks::subscriptions::{
    self, rfc3339, CreatedSubscription, RotatedSubscription, Subscription, MAX_PER_PARTNER,
};
use crate::webhooks::{delivery, now_ms, outbox};

const NOT_FOUND: &str = "no such webhook subscription (or it belongs to another partner)";
const NO_SUCH_EVENT: &str = "this event was never queued for this subscription, or you may no longer see it (events recorded before it was created, of other types, or not visible to you are not sent)";

fn sub_id(raw: &str) -> Result<String, ApiError> {
    Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::param("id", "must be a GUID"))
}

async fn own(st: &App, p: &Principal, id: &str) -> Result<SubscriptionRow, ApiError> {
    st.webhooks
        .store()
        .subscription(Some(p.partner_id.clone()), id.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

/// Example of a subscription request.
#[derive(ToSchema)]
#[schema(example = json!({"url": "https://ats.example.com/hooks/hr", "events": ["recruiting_request.status_changed", "recruiting_request.updated"]}))]
#[allow(dead_code)]
// Only documents the body; the handler checks it field by field.
// Read by utoipa only (no `Deserialize` here): `additionalProperties: false`, as the handler refuses
// any other field.
#[serde(deny_unknown_fields)]
pub struct NewSubscriptionBody {
    /// Where deliveries are POSTed: `https`, on a host resolving to public addresses only (the
    /// sandbox also accepts `http://127.0.0.1`). At most 2048 characters, also once
    /// percent-encoded as it is stored and returned (`{` counts as `%7B`); no credentials.
    // utoipa takes literals only: `url_policy::MAX_URL_LEN` and `URL_PATTERN`, pinned by
    // `tests/it/openapi.rs`.
    #[schema(max_length = 2048, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://")]
    url: String,
    /// Event types to receive (at least one, at most 50 entries; a repeated one counts once).
    // `max_items`: `subscriptions::MAX_EVENTS`, pinned by `tests/it/openapi.rs`.
    #[schema(min_items = 1, max_items = 50, example = json!(["recruiting_request.status_changed"]))]
    events: Vec<crate::changes::event::EventType>,
}

/// A list of subscriptions (a partner holds at most 25: one page).
#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    data: Vec<Subscription>,
    /// Always null: every subscription fits one page.
    next_cursor: Option<String>,
    has_more: bool,
}

/// Subscribe to events
///
/// Creates a subscription: every event of the listed types that your partner may see (your
/// companies; candidates' personal fields only with `pii:read`) is POSTed to `url` as the changes
/// feed shows it, signed per Standard Webhooks (`webhook-id` = the event id, `webhook-timestamp`,
/// `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the
/// base64-decoded part of `secret`). A 2xx within 10 s acknowledges a delivery; otherwise it is
/// retried with exponential backoff for about a day, after which the subscription is `failing`
/// until re-enabled. Events recorded before the subscription are not sent. `secret` appears only in
/// this answer (`POST /v1/webhooks/{id}/rotate-secret` replaces it, both signing for a grace period).
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks",
    operation_id = "createWebhook",
    request_body(content = NewSubscriptionBody, description = "The receiver URL and the event types"),
    responses(
        (status = 201, description = "Created; `secret` is shown only here", body = CreatedSubscription,
            headers(("Location" = String, description = "/v1/webhooks/{id}"))),
        (status = 400, description = "The body is not JSON", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "You already have 25 subscriptions", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed (unknown event type, URL not https or not public, a member named twice), each field in `errors[]`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`): the subscription may or may not have been made, so check `GET /v1/webhooks` before making it again; wait `Retry-After` seconds", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn create(
    State(st): State<App>,
    principal: Principal,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let body = body.required()?;
    let new = subscriptions::parse(
        &body,
        &st.webhooks.policy,
        &st.webhooks.lookups,
        &principal.partner_id,
        &EVENT_TYPE_NAMES,
    )
    .await
    .map_err(|issues| {
        ApiError::Validation(
            issues
                .into_iter()
                .map(|i| FieldError {
                    pointer: i.pointer,
                    detail: i.detail,
                })
                .collect(),
        )
    })?;
    let id = Uuid::new_v4().to_string();
    let key = SigningKey::generate();
    let sealed = st
        .webhooks
        .sealer
        .seal(&id, &key)
        .map_err(ApiError::Internal)?;
    let new = NewSubscription {
        id: id.clone(),
        partner: principal.partner_id.clone(),
        url: new.url,
        events: new.events,
        secret: sealed,
        created_at: now_ms(),
    };
    // Where it starts in the feed is decided by the store, with the insert.
    let Some(row) = st
        .webhooks
        .store()
        .create_subscription(new, MAX_PER_PARTNER)
        .await?
    else {
        return Err(ApiError::Conflict(format!(
            "you already have {MAX_PER_PARTNER} webhook subscriptions; delete one first"
        )));
    };
    tracing::info!(partner = %principal.partner_id, subscription = %id, "webhook subscription created");
    let body = CreatedSubscription {
        subscription: Subscription::from(&row),
        secret: key.to_secret(),
    };
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/webhooks/{id}")) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// List your webhook subscriptions
///
/// Your subscriptions (never another partner's), oldest first, with their status: `failing` once a
/// delivery spent its retries.
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks",
    operation_id = "listWebhooks",
    responses(
        (status = 200, description = "Your subscriptions", body = SubscriptionList),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`), or the gateway is at its connection limit; wait `Retry-After` seconds", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn list(
    State(st): State<App>,
    principal: Principal,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Json<SubscriptionList>, ApiError> {
    let rows = st
        .webhooks
        .store()
        .subscriptions(Some(principal.partner_id.clone()))
        .await?;
    Ok(Json(SubscriptionList {
        data: rows.iter().map(Subscription::from).collect(),
        next_cursor: None,
        has_more: false,
    }))
}

/// Get a webhook subscription
///
/// One of your subscriptions with its status (`failing` once a delivery spent its retries). The
/// secret is not shown again.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}", tag = "webhooks",
    operation_id = "getWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`), or the gateway is at its connection limit; wait `Retry-After` seconds", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn get(
    State(st): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Json<Subscription>, ApiError> {
    let id = sub_id(&id)?;
    Ok(Json(Subscription::from(&own(&st, &principal, &id).await?)))
}

/// Delete a webhook subscription
///
/// Stops deliveries at once and forgets the subscription's queue and delivery log.
#[utoipa::path(
    delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    operation_id = "deleteWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`); wait `Retry-After` seconds and delete again (404 if it was deleted)", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn delete(
    State(st): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<StatusCode, ApiError> {
    let id = sub_id(&id)?;
    let gone = st
        .webhooks
        .store()
        .delete_subscription(principal.partner_id.clone(), id.clone())
        .await?;
    if !gone {
        return Err(ApiError::NotFound(NOT_FOUND.into()));
    }
    tracing::info!(partner = %principal.partner_id, subscription = %id, "webhook subscription deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate a subscription's signing secret
///
/// Replaces the subscription's secret with a new one, shown only in this answer. For the grace
/// period (a day unless the operator set `webhooks.secret_rotation_grace_ms`) every delivery is
/// signed with both: `webhook-signature: v1,<new> v1,<old>`, so a receiver verifying with either
/// secret accepts it; switch your receiver to the new secret within it, after which only the new
/// one signs (`previous_secret_expires_at` says when). Rotating again within the grace period
/// keeps the earlier secret signing until its own expiry, and the secret it replaces stops at
/// once: a retried rotation is a second rotation, so if this answer is lost, rotate again, and
/// deliveries keep verifying with the secret your receiver has meanwhile. A receiver already
/// switched to the replaced secret must switch to the new one (its deliveries fail and are
/// retried until then). Works on a `failing` subscription too.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotateWebhookSecret",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "Rotated; the new `secret` is shown only here", body = RotatedSubscription),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`): the secret may or may not have been replaced; wait `Retry-After` seconds and rotate again", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn rotate_secret(
    State(st): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let id = sub_id(&id)?;
    let key = SigningKey::generate();
    // Sealed like the creation's secret; the replaced one moves to `previous_secret` still sealed.
    let sealed = st
        .webhooks
        .sealer
        .seal(&id, &key)
        .map_err(ApiError::Internal)?;
    let now = now_ms();
    let until = st.webhooks.previous_secret_until(now);
    let row = st
        .webhooks
        .store()
        .rotate_secret(principal.partner_id.clone(), id.clone(), sealed, now, until)
        .await?
        .ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))?;
    // The previous secret in force now: a rotation within a grace keeps the older one and its end.
    let previous_until = row
        .previous_secret
        .as_ref()
        .map_or_else(|| "none".to_string(), |p| rfc3339(p.expires_at));
    tracing::info!(partner = %principal.partner_id, subscription = %id, previous_valid_until = %previous_until, "webhook secret rotated");
    let body = RotatedSubscription {
        subscription: Subscription::from(&row),
        secret: key.to_secret(),
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Re-enable a failing subscription
///
/// Makes a `failing` subscription `active` again: every event not yet delivered (the one that spent
/// its retries included) is sent now, with a fresh retry schedule. On an active subscription it
/// changes nothing.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/enable", tag = "webhooks",
    operation_id = "enableWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription, active", body = Subscription),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`); wait `Retry-After` seconds and enable it again", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn enable(
    State(st): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Json<Subscription>, ApiError> {
    let id = sub_id(&id)?;
    let found = st
        .webhooks
        .store()
        .enable_subscription(principal.partner_id.clone(), id.clone())
        .await?;
    if !found {
        return Err(ApiError::NotFound(NOT_FOUND.into()));
    }
    st.webhooks.poke();
    Ok(Json(Subscription::from(&own(&st, &principal, &id).await?)))
}

/// One attempt to deliver an event.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"event_id": "evt_0000000000000042", "attempt": 2, "at": "2026-11-29T10:00:05.120Z",
    "status": "failed", "response_code": 503, "error": "the receiver answered 503", "duration_ms": 37,
    "next_attempt_at": "2026-11-29T10:00:35.400Z"}))]
pub struct Delivery {
    pub event_id: String,
    /// 1 for the first attempt of this event, counting on across retries and redeliveries.
    pub attempt: i64,
    /// When the attempt started (RFC 3339 UTC).
    pub at: String,
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_code: Option<u16>,
    /// Why the attempt failed (null when delivered).
    pub error: Option<String>,
    pub duration_ms: i64,
    /// When the event is still pending after this attempt (its latest): when the next attempt is
    /// due (RFC 3339 UTC); null otherwise.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The receiver answered 2xx in time.
    Delivered,
    /// Anything else; the attempt is retried per the schedule.
    Failed,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    data: Vec<Delivery>,
    next_cursor: Option<String>,
    has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only the attempts for this event.
    #[param(example = "evt_0000000000000042")]
    event_id: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200, default = 50, example = 20)]
    page_size: Option<PageSize>,
    /// Opaque cursor from `next_cursor`; send the same `event_id` with it.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// List delivery attempts
///
/// The subscription's delivery attempts, newest first: the event, the attempt number, when, the
/// outcome, the receiver's status code and, for a failure, why.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "listWebhookDeliveries",
    params(("id" = Uuid, Path, description = "Subscription id"), DeliveryParams),
    responses(
        (status = 200, description = "Attempts, newest first", body = DeliveryList),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`), or the gateway is at its connection limit; wait `Retry-After` seconds", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn deliveries(
    State(st): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<DeliveryParams>,
) -> Result<Json<DeliveryList>, ApiError> {
    let id = sub_id(&id)?;
    own(&st, &principal, &id).await?;
    let fingerprint = super::cursor::fingerprint(&[
        ("webhook", id.clone()),
        ("event_id", q.event_id.clone().unwrap_or_default()),
    ]);
    let before = match &q.cursor {
        Some(c) => Some(
            st.cursors
                .open(c, &principal.partner_id, &fingerprint)?
                .parse::<i64>()
                .map_err(|_| ApiError::param("cursor", "is not a cursor this API issued"))?,
        ),
        None => None,
    };
    let size = PageSize::or_default(q.page_size) as usize;
    let mut rows = st
        .webhooks
        .store()
        .attempts(id, q.event_id, before, size + 1)
        .await?;
    let has_more = rows.len() > size;
    rows.truncate(size);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(st.cursors.seal(
            &principal.partner_id,
            &fingerprint,
            &last.position.to_string(),
        )?),
        _ => None,
    };
    Ok(Json(DeliveryList {
        data: rows
            .into_iter()
            .map(|l| (l.attempt, l.next_attempt_at))
            .map(|(a, next)| Delivery {
                event_id: a.event_id,
                attempt: a.attempt,
                at: rfc3339(a.at),
                status: if a.delivered {
                    DeliveryStatus::Delivered
                } else {
                    DeliveryStatus::Failed
                },
                response_code: a.response_code,
                error: a.error,
                duration_ms: a.duration_ms,
                next_attempt_at: next.map(rfc3339),
            })
            .collect(),
        next_cursor,
        has_more,
    }))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"event_id": "evt_0000000000000042", "status": "queued"}))]
pub struct Redelivery {
    event_id: String,
    /// Always `queued`: the event is sent again now, with a fresh retry schedule.
    status: String,
}

/// Redeliver an event
///
/// Sends one event again to this subscription (delivered before or not), now, with a fresh retry
/// schedule; the attempts appear in the delivery log. The event must have been queued for this
/// subscription, and it is shaped with your rights at the time it is sent: an event of a company
/// you no longer have answers 404, personal fields are left out without `pii:read`. A `failing`
/// subscription must be re-enabled first.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/deliveries/{event_id}/redeliver", tag = "webhooks",
    operation_id = "redeliverWebhookEvent",
    params(
        ("id" = Uuid, Path, description = "Subscription id"),
        ("event_id" = String, Path, description = "Event id (`evt_…`, the `webhook-id` of its deliveries)"),
    ),
    responses(
        (status = 202, description = "Queued", body = Redelivery),
        (status = 409, description = "The subscription is failing: re-enable it first", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`); wait `Retry-After` seconds and retry", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn redeliver(
    State(st): State<App>,
    principal: Principal,
    Path((id, event_id)): Path<(String, String)>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let id = sub_id(&id)?;
    let event_id: String = event_id.chars().take(64).collect();
    // The event as the partner may see it now: one of a company it lost (or, without `pii:read`,
    // a change of personal fields only) is not sent again, and answers as an unknown event does.
    let queued = st
        .webhooks
        .store()
        .outbox_row(principal.partner_id.clone(), id.clone(), event_id.clone())
        .await?;
    if let Some(row) = &queued {
        if !matches!(
            outbox::shape_now(&st.deliveries, &principal.partner_id, row).await,
            outbox::Shaped::Send(_)
        ) {
            return Err(ApiError::NotFound(NO_SUCH_EVENT.into()));
        }
    }
    let outcome = st
        .webhooks
        .store()
        .redeliver(principal.partner_id.clone(), id, event_id.clone())
        .await?;
    match outcome {
        Redeliver::Queued => {
            st.webhooks.poke();
            Ok((
                StatusCode::ACCEPTED,
                Json(Redelivery {
                    event_id,
                    status: "queued".into(),
                }),
            )
                .into_response())
        }
        Redeliver::NoSuchSubscription => Err(ApiError::NotFound(NOT_FOUND.into())),
        Redeliver::NoSuchEvent => Err(ApiError::NotFound(NO_SUCH_EVENT.into())),
        Redeliver::SubscriptionFailing => Err(ApiError::Conflict(
            "the subscription is failing; re-enable it (POST /v1/webhooks/{id}/enable), which also resends every undelivered event".into(),
        )),
    }
}

/// What a test delivery did.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"event_id": "evt_test_5f0c2b7e9a1d4c3e8b6a0f1e2d3c4b5a", "status": "delivered",
    "response_code": 204, "error": null, "duration_ms": 12}))]
pub struct TestDelivery {
    /// The test event's id (its `webhook-id`); the attempt is in the delivery log under it.
    pub event_id: String,
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_code: Option<u16>,
    /// Why the attempt failed (null when delivered).
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Send a test event
///
/// Sends a signed `webhook.test` event to the subscription's URL now, once, and answers with the
/// outcome: `delivered` (the receiver answered 2xx in time) or `failed` with the receiver's status
/// code or why. Check an endpoint (URL, TLS, signature verification) without waiting for HR. The
/// body is `{"id": "evt_test_…", "type": "webhook.test", "occurred_at", "data": {"subscription_id",
/// "message"}}`, signed like every delivery; the attempt appears in the delivery log and is not
/// retried. Works on a `failing` subscription too (test the receiver, then re-enable it).
///
/// A test takes a send slot as every delivery does (a receiver origin gets at most an eighth of
/// the gateway's concurrent sends, a partner a quarter). It is not queued: when none is free it
/// answers 429 `webhook-sends-busy` with `Retry-After`, and nothing is sent or logged.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/test", tag = "webhooks",
    operation_id = "testWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "Sent; the outcome of the one attempt", body = TestDelivery),
        (status = 429, description = "No send slot free for this receiver or partner (`webhook-sends-busy`), or your rate limit; nothing was sent", body = crate::problem::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying: the delivery timeout, rounded up")),
            example = json!({"type": "https://gateway.example.com/problems/webhook-sends-busy", "title": "Webhook send slots busy", "status": 429,
                "detail": "every send slot this receiver or your partner may use is taken by deliveries in flight, so the test was not sent; retry after 10 s",
                "instance": "/v1/webhooks/0b5f3b8e-3c1e-4a55-9d0c-2f7d1f0a9c11/test", "request_id": "6f1c2d4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`): the test may have been sent without its attempt being logged; wait `Retry-After` seconds and test again", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:manage"]), ("oauth2" = ["webhooks:manage"]))
)]
pub async fn test(
    State(st): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Json<TestDelivery>, ApiError> {
    let id = sub_id(&id)?;
    let sub = own(&st, &principal, &id).await?;
    let event_id = format!("evt_test_{}", Uuid::new_v4().simple());
    let at = now_ms();
    let body = serde_json::json!({
        "id": event_id,
        "type": "webhook.test",
        "occurred_at": rfc3339(at),
        "data": {
            "subscription_id": id,
            "message": "A test event sent on request (POST /v1/webhooks/{id}/test); no HR record changed.",
        },
    })
    .to_string();
    // Within the deliveries' limits, without waiting: a partner could otherwise exceed its
    // receiver's share with tests, or pile up requests behind a slow receiver.
    let slot = st
        .webhooks
        .sends
        .try_acquire(&sub.partner, &sub.url)
        .ok_or(ApiError::WebhookSendsBusy {
            retry_after: st.webhooks.send_slot_wait_secs(),
        })?;
    let started = std::time::Instant::now();
    let trace = crate::ops::trace_context::TraceContext::new_root();
    let (outcome, response_code, error) =
        delivery::send(&st.webhooks, &sub, &event_id, body, &trace).await;
    drop(slot);
    let duration_ms = started.elapsed().as_millis() as i64;
    let delivered = outcome == delivery::Outcome::Delivered;
    metrics::counter!("webhook_deliveries_total", "result" => outcome.label()).increment(1);
    let attempt = crate::store::webhooks::AttemptRow {
        event_id: event_id.clone(),
        attempt: 1,
        at,
        delivered,
        response_code,
        error: error.clone(),
        duration_ms,
    };
    st.webhooks.store().log_attempt(id, attempt).await?;
    Ok(Json(TestDelivery {
        event_id,
        status: if delivered {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Failed
        },
        response_code,
        error,
        duration_ms,
    }))
}
