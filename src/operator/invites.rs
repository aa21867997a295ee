//! `POST /operator/v1/invites`: a single-use link to the onboarding page on the partner listener.
//! The token is random and stored only as its SHA-256; the link expires (default 72 h).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

use super::body::{self, Issues};
use super::guard::{Actor, AuditNote};
use super::{views, OperatorContext};
use crate::json_body::JsonBody;
use crate::problem::ApiError;
use crate::query::{NoParams, StrictQuery};
use crate::store::partners::{InviteGrant, InviteRecord};

pub const DEFAULT_EXPIRES_IN: u64 = 259_200;
const MAX_EXPIRES_IN: u64 = 30 * 86_400;

/// The stored form of an invite token.
pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn create(
    State(ctx): State<OperatorContext>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    actor: Option<axum::Extension<Actor>>,
    json: JsonBody,
) -> Result<Response, ApiError> {
    let obj = body::json_object(json)?;
    let mut issues = Issues::default();
    body::unknown_fields(
        &obj,
        &["partner", "partner_id", "expires_in"],
        "",
        &mut issues,
    );
    let expires_in = body::seconds(
        &obj,
        "expires_in",
        DEFAULT_EXPIRES_IN,
        // An invite that expires as it is made is no invite.
        (1, MAX_EXPIRES_IN),
        &mut issues,
    );
    let now = chrono::Utc::now().timestamp();
    let grant = match (obj.get("partner"), obj.get("partner_id")) {
        (Some(Value::Object(p)), None) => {
            body::new_partner(p, "/partner", now, &mut issues).map(InviteGrant::NewPartner)
        }
        (Some(_), None) => {
            issues.add(
                "/partner",
                "must be an object with the new partner's attributes",
            );
            None
        }
        (None, Some(Value::String(id))) => Some(InviteGrant::Partner(id.clone())),
        (None, Some(_)) => {
            issues.add("/partner_id", "must be a string");
            None
        }
        _ => {
            issues.add("", "give either `partner` (a new partner's attributes) or `partner_id` (an existing partner)");
            None
        }
    };
    let grant = issues
        .into_result(grant)?
        .ok_or_else(|| ApiError::BadRequest("incomplete invite".into()))?;
    let reg = ctx.auth.registry();
    let partner_id = match &grant {
        InviteGrant::NewPartner(doc) => {
            if reg.partner(&doc.id).is_some() || reg.by_client_id(&doc.client_id).is_some() {
                return Err(ApiError::Conflict(format!(
                    "a partner with id `{}` or client id `{}` exists",
                    doc.id, doc.client_id
                )));
            }
            // A revoked partner's ids are never given out again: an invite for one could only
            // ever end in 409, after spending the link.
            if ctx.store.id_taken(&doc.id, &doc.client_id).await? {
                return Err(ApiError::Conflict(format!(
                    "id `{}` or client id `{}` belonged to a revoked partner and is not given out again",
                    doc.id, doc.client_id
                )));
            }
            doc.id.clone()
        }
        InviteGrant::Partner(id) => match reg.partner(id) {
            None => return Err(ApiError::NotFound(format!("no partner `{id}`"))),
            Some(p) if views::is_config(p) => return Err(views::config_managed(id)),
            Some(_) => id.clone(),
        },
    };
    let raw: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(raw);
    let expires_at = now + i64::try_from(expires_in).unwrap_or(0);
    let record = InviteRecord {
        token_hash: token_hash(&token),
        grant,
        created_at: now,
        expires_at,
        consumed_at: None,
        created_by: actor.map(|a| a.0 .0.clone()).unwrap_or_default(),
    };
    ctx.store.insert_invite(&record).await?;
    let url = format!("{}/onboarding/{token}", ctx.partner_url);
    let mut resp = (
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(json!({"url": url, "partner_id": partner_id, "expires_at": views::time(Some(expires_at))})),
    )
        .into_response();
    resp.extensions_mut().insert(AuditNote {
        partner: Some(partner_id),
        detail: json!({"expires_in": expires_in}),
    });
    Ok(resp)
}
