//! The operator routes: partners (create, list, read, patch, revoke), secrets (rotate, revoke),
//! usage and the audit trail. Config partners are listed but never changed (409).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::body::{self, Issues};
use super::guard::AuditNote;
use super::{views, OperatorContext};
use crate::auth::secrets;
use crate::json_body::JsonBody;
use crate::problem::ApiError;
use crate::query::{NoParams, StrictQuery};
use crate::store::partners::{hour_of, Refused, SecretRecord, StoredPartner};

/// Default life of the previous secret after a rotation: 7 days.
pub const PREVIOUS_EXPIRES_IN: u64 = 604_800;
const MAX_PREVIOUS_EXPIRES_IN: u64 = 90 * 86_400;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The answer with what the audit trail should say about it.
fn noted(resp: impl IntoResponse, partner: &str, detail: Value) -> Response {
    let mut r = resp.into_response();
    r.extensions_mut().insert(AuditNote {
        partner: Some(partner.to_string()),
        detail,
    });
    r
}

async fn stored(ctx: &OperatorContext, id: &str) -> Result<Option<StoredPartner>, ApiError> {
    let (_, all) = ctx.store.partners().await?;
    Ok(all.into_iter().find(|p| p.doc.id == id))
}

/// The API partner `id`, or 404 / 409 (config).
async fn api_partner(ctx: &OperatorContext, id: &str) -> Result<StoredPartner, ApiError> {
    if let Some(p) = ctx.auth.registry().partner(id) {
        if views::is_config(p) {
            return Err(views::config_managed(id));
        }
    }
    stored(ctx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no partner `{id}`")))
}

/// A new secret: `(plaintext, record)`.
pub fn new_secret(now: i64) -> (String, SecretRecord) {
    let (plain, hash) = secrets::create_partner_secret();
    let record = SecretRecord {
        id: format!("sec_{}", uuid::Uuid::new_v4().simple()),
        hash,
        created_at: now,
        expires_at: None,
        last_used_at: None,
    };
    (plain, record)
}

/// Puts the change in force here; answers the stored partners it read.
async fn applied(ctx: &OperatorContext) -> Result<Vec<StoredPartner>, ApiError> {
    ctx.refresh()
        .await
        .map(|(_, partners)| partners)
        .map_err(ApiError::from)
}

/// Partner `id` as the API shows it; `all`: the stored partners if just read (else read here,
/// for an API partner only).
async fn one_view(
    ctx: &OperatorContext,
    id: &str,
    all: Option<&[StoredPartner]>,
) -> Result<Value, ApiError> {
    let reg = ctx.auth.registry();
    let live = reg
        .partner(id)
        .ok_or_else(|| ApiError::NotFound(format!("no partner `{id}`")))?;
    if views::is_config(live) {
        return Ok(views::partner(live, None));
    }
    let found = match all {
        Some(all) => all.iter().find(|p| p.doc.id == id).cloned(),
        None => stored(ctx, id).await?,
    };
    Ok(views::partner(live, found.as_ref()))
}

/// `POST /operator/v1/partners`: the partner, its `client_id` and a secret shown only here.
pub async fn create(
    State(ctx): State<OperatorContext>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    json: JsonBody,
) -> Result<Response, ApiError> {
    let obj = body::json_object(json)?;
    let mut issues = Issues::default();
    let now = now();
    let doc = body::new_partner(&obj, "", now, &mut issues);
    let doc = issues
        .into_result(doc)?
        .ok_or_else(|| ApiError::BadRequest("incomplete partner".into()))?;
    let reg = ctx.auth.registry();
    if reg.partner(&doc.id).is_some() || reg.by_client_id(&doc.client_id).is_some() {
        return Err(ApiError::Conflict(format!(
            "a partner with id `{}` or client id `{}` exists",
            doc.id, doc.client_id
        )));
    }
    let (plain, secret) = new_secret(now);
    match ctx.store.insert_partner(&doc, Some(&secret)).await? {
        Ok(()) => {}
        Err(_) => {
            return Err(ApiError::Conflict(format!(
            "a partner with id `{}` or client id `{}` exists or was revoked (ids are never reused)",
            doc.id, doc.client_id
        )))
        }
    }
    let all = applied(&ctx).await?;
    let mut view = one_view(&ctx, &doc.id, Some(&all)).await?;
    if let Some(o) = view.as_object_mut() {
        o.insert("client_secret".into(), json!(plain));
        o.insert("secret_id".into(), json!(secret.id));
    }
    let detail = json!({"scopes": doc.scopes, "companies": doc.companies});
    Ok(noted(
        (
            StatusCode::CREATED,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Json(view),
        ),
        &doc.id,
        detail,
    ))
}

/// `GET /operator/v1/partners`: config and API partners, by id.
pub async fn list(
    State(ctx): State<OperatorContext>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Json<Value>, ApiError> {
    let reg = ctx.auth.registry();
    let (_, stored) = ctx.store.partners().await?;
    let mut out: Vec<(String, Value)> = reg
        .partners()
        .map(|p| {
            let s = (!views::is_config(p))
                .then(|| stored.iter().find(|s| s.doc.id == p.id))
                .flatten();
            (p.id.clone(), views::partner(p, s))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Json(
        json!({"data": out.into_iter().map(|(_, v)| v).collect::<Vec<_>>()}),
    ))
}

pub async fn one(
    State(ctx): State<OperatorContext>,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let v = one_view(&ctx, &id, None).await?;
    Ok(noted(Json(v), &id, Value::Null))
}

/// `PATCH /operator/v1/partners/{id}`: in force for the partner's next request, on every replica
/// within a second, tokens already issued included.
pub async fn update(
    State(ctx): State<OperatorContext>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    Path(id): Path<String>,
    json: JsonBody,
) -> Result<Response, ApiError> {
    let obj = body::json_object(json)?;
    // Checked here for a 422 with pointers (and a 409 for a config partner); applied again by the
    // store to the profile as stored inside its transaction, where it cannot fail: what it
    // checks is the body alone.
    let mut p = api_partner(&ctx, &id).await?;
    body::patch(&obj, &mut p.doc)?;
    let patch = obj.clone();
    let edit = Box::new(move |doc: &mut crate::store::partners::PartnerDoc| {
        let _checked_above = body::patch(&patch, doc);
    });
    if let Err(Refused::NotFound) = ctx.store.update_partner(&id, edit).await? {
        return Err(ApiError::NotFound(format!("no partner `{id}`")));
    }
    let all = applied(&ctx).await?;
    let v = one_view(&ctx, &id, Some(&all)).await?;
    Ok(noted(Json(v), &id, Value::Object(obj)))
}

/// `DELETE /operator/v1/partners/{id}`: revoked now (its tokens get 401 on the next request).
pub async fn revoke(
    State(ctx): State<OperatorContext>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    api_partner(&ctx, &id).await?;
    if let Err(Refused::NotFound) = ctx.store.delete_partner(&id).await? {
        return Err(ApiError::NotFound(format!("no partner `{id}`")));
    }
    applied(&ctx).await?;
    Ok(noted(StatusCode::NO_CONTENT, &id, Value::Null))
}

/// `POST /operator/v1/partners/{id}/secrets`: a new secret (shown once); the current one expires
/// after `previous_expires_in` seconds (default 7 days, 0 = now), an older one at once.
pub async fn rotate(
    State(ctx): State<OperatorContext>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    Path(id): Path<String>,
    json: JsonBody,
) -> Result<Response, ApiError> {
    let obj = body::json_object(json)?;
    let mut issues = Issues::default();
    body::unknown_fields(&obj, &["previous_expires_in"], "", &mut issues);
    let keep = body::seconds(
        &obj,
        "previous_expires_in",
        PREVIOUS_EXPIRES_IN,
        (0, MAX_PREVIOUS_EXPIRES_IN),
        &mut issues,
    );
    issues.into_result(())?;
    let p = api_partner(&ctx, &id).await?;
    let now = now();
    let previous_expires_at = now + i64::try_from(keep).unwrap_or(0);
    let (plain, secret) = new_secret(now);
    if let Err(Refused::NotFound) = ctx
        .store
        .add_secret(&p.doc.id, &secret, previous_expires_at, now)
        .await?
    {
        return Err(ApiError::NotFound(format!("no partner `{id}`")));
    }
    applied(&ctx).await?;
    let body = json!({
        "partner": id,
        "client_id": p.doc.client_id,
        "secret_id": secret.id,
        "client_secret": plain,
        "created_at": views::time(Some(now)),
        "previous_expires_at": views::time(Some(previous_expires_at)),
    });
    let detail = json!({"secret_id": secret.id, "previous_expires_in": keep});
    Ok(noted(
        (
            StatusCode::CREATED,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Json(body),
        ),
        &id,
        detail,
    ))
}

/// `DELETE /operator/v1/partners/{id}/secrets/{secret_id}`: that secret stops now.
pub async fn revoke_secret(
    State(ctx): State<OperatorContext>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    Path((id, secret_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    api_partner(&ctx, &id).await?;
    if let Err(Refused::NotFound) = ctx.store.revoke_secret(&id, &secret_id, now()).await? {
        return Err(ApiError::NotFound(format!(
            "partner `{id}` has no secret `{secret_id}`"
        )));
    }
    applied(&ctx).await?;
    Ok(noted(
        StatusCode::NO_CONTENT,
        &id,
        json!({"secret_id": secret_id}),
    ))
}

/// `GET /operator/v1/partners/{id}/usage`: the last 7 days by hour, and last seen. This replica's
/// counts are flushed first, so the answer includes its latest requests.
pub async fn usage(
    State(ctx): State<OperatorContext>,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    if ctx.auth.registry().partner(&id).is_none() {
        return Err(ApiError::NotFound(format!("no partner `{id}`")));
    }
    super::sync::flush(&ctx).await;
    let from = hour_of(now()) - 167 * 3600;
    let (rows, seen) = ctx.store.usage(&id, from).await?;
    Ok(noted(
        Json(views::usage(&id, from, &rows, seen)),
        &id,
        Value::Null,
    ))
}

/// Query parameters of `GET /operator/v1/audit` (the partner API's rules: unknown, repeated or
/// empty ones are a 400).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this partner's records.
    partner: Option<String>,
    /// How many, newest first: 1..=1000, default 100.
    limit: Option<String>,
}

/// `GET /operator/v1/audit?partner=&limit=`: newest first (limit 1..=1000, default 100).
pub async fn audit(
    State(ctx): State<OperatorContext>,
    StrictQuery(q): StrictQuery<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = match q.limit {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::param("limit", "must be a whole number from 1 to 1000"))?,
    };
    let rows = ctx.store.audit(q.partner.as_deref(), limit).await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "seq": r.seq,
                "at": chrono::DateTime::from_timestamp_millis(r.at_ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                "actor": r.actor,
                "action": r.action,
                "partner": r.partner,
                "status": r.status,
                "detail": r.detail,
            })
        })
        .collect();
    Ok(Json(json!({"data": data})))
}
