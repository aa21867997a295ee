//! Writes: create, update and delete with `Prefer: return=representation` and `If-Match`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::error::DvError;
use crate::schema::EntityDef;
use crate::store::Store;
use crate::{annotations, odata, writes};

use super::dataverse::{odata_json, Ctx};
use super::read::{parse_id, render_row};
use super::{EmulatorState, API_PREFIX};

pub(super) fn parse_body(def: &EntityDef, body: &[u8]) -> Result<Value, DvError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DvError::bad_payload(&def.set_name, format!("Invalid JSON. {e}")))?;
    if !v.is_object() {
        return Err(DvError::bad_payload(
            &def.set_name,
            "The request body must be a JSON object.",
        ));
    }
    Ok(v)
}

pub(super) fn entity_id_url(st: &EmulatorState, def: &EntityDef, id: &Uuid) -> String {
    format!("{}{API_PREFIX}/{}({id})", st.url, def.set_name)
}

pub(super) fn poisoned() -> DvError {
    DvError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "0x80040216",
        "store poisoned",
    )
}

/// The written row, for `Prefer: return=representation` (201 on create, 200 on update).
pub(super) fn representation(
    st: &EmulatorState,
    ctx: &Ctx,
    store: &Store,
    def: &EntityDef,
    id: &Uuid,
    status: StatusCode,
) -> Response {
    let row = store.table(def.logical_name).and_then(|t| t.get(id));
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}{API_PREFIX}/$metadata#{}/$entity",
            st.url, def.set_name
        )),
    );
    if let Some(row) = row {
        out.extend(render_row(
            st,
            ctx,
            store,
            def,
            row,
            &odata::ODataQuery::default(),
        ));
    }
    odata_json(
        status,
        Value::Object(out),
        &[("Preference-Applied", "return=representation".into())],
    )
}

pub(super) fn create(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    body: &[u8],
) -> Result<Response, DvError> {
    let v = parse_body(def, body)?;
    let mut store = st.store.write().map_err(|_| poisoned())?;
    let id = writes::create(&mut store, def, &v, st.config.option_base)?;
    if ctx.return_representation() {
        return Ok(representation(
            st,
            ctx,
            &store,
            def,
            &id,
            StatusCode::CREATED,
        ));
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    if let Ok(v) = HeaderValue::from_str(&entity_id_url(st, def, &id)) {
        h.insert("OData-EntityId", v);
    }
    Ok(resp)
}

pub(super) fn update(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    key: &str,
    body: &[u8],
) -> Result<Response, DvError> {
    let id = parse_id(def, key)?;
    let v = parse_body(def, body)?;
    let mut store = st.store.write().map_err(|_| poisoned())?;
    check_if_match(ctx, &store, def, &id)?;
    writes::update(&mut store, def, id, &v, st.config.option_base)?;
    if ctx.return_representation() {
        return Ok(representation(st, ctx, &store, def, &id, StatusCode::OK));
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    Ok(resp)
}

/// `If-Match: W/"<version>"` on PATCH/DELETE (optimistic concurrency, docs/dataverse-web-api.md#concurrency).
/// `If-Match: *` only guards against creating, which an update of a missing row never does here, so it
/// passes.
pub(super) fn check_if_match(
    ctx: &Ctx,
    store: &Store,
    def: &EntityDef,
    id: &Uuid,
) -> Result<(), DvError> {
    let Some(tag) = ctx.if_match.as_deref().filter(|t| *t != "*") else {
        return Ok(());
    };
    // Virtual tables have no row versions to compare (docs/dataverse-web-api.md#virtual-tables), so Dataverse
    // refuses the request outright.
    if def.is_virtual() {
        return Err(DvError::new(
            StatusCode::BAD_REQUEST,
            "0x8006088D",
            format!(
                "Optimistic concurrency is not enabled for entity type {}.",
                def.logical_name
            ),
        ));
    }
    let current = store
        .table(def.logical_name)
        .and_then(|t| t.version(id))
        .ok_or_else(|| DvError::record_not_found(def.logical_name, &id.to_string()))?;
    if tag != annotations::etag(current) {
        return Err(DvError::new(
            StatusCode::PRECONDITION_FAILED,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
        ));
    }
    Ok(())
}

pub(super) fn delete(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    key: &str,
) -> Result<Response, DvError> {
    let id = parse_id(def, key)?;
    let mut store = st.store.write().map_err(|_| poisoned())?;
    check_if_match(ctx, &store, def, &id)?;
    writes::delete(&mut store, def, id)?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert("OData-Version", HeaderValue::from_static("4.0"));
    Ok(resp)
}
