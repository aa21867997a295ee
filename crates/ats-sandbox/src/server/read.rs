//! Reads: collections, single rows, row rendering with annotations, and metadata paths.

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::annotations::Annotator;
use crate::error::DvError;
use crate::schema::{schema, EntityDef, NavKind};
use crate::store::{Row, RowRef, Store};
use crate::{annotations, metadata, odata, paging};

use super::dataverse::{odata_json, Ctx};
use super::write::poisoned;
use super::{EmulatorState, API_PREFIX, MAX_PAGE};

pub(super) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

pub(super) fn parse_id(def: &EntityDef, key: &str) -> Result<Uuid, DvError> {
    let raw = key
        .strip_prefix(&format!("{}=", def.primary_id))
        .unwrap_or(key);
    Uuid::parse_str(raw).map_err(|_| {
        DvError::bad_query(format!(
            "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.{}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource '{}'.",
            def.logical_name, def.logical_name
        ))
    })
}

pub(super) fn context_url(
    st: &EmulatorState,
    def: &EntityDef,
    q: &odata::ODataQuery,
    single: bool,
) -> String {
    let mut s = format!("{}{API_PREFIX}/$metadata#{}", st.url, def.set_name);
    // Selected properties, then each expansion as `nav(its selected properties)`
    // (docs/dataverse-web-api.md#response-shapes).
    let mut items: Vec<String> = q.select.clone().unwrap_or_default();
    items.extend(q.expand.iter().map(|ex| {
        format!(
            "{}({})",
            ex.nav,
            ex.select
                .as_deref()
                .map(|s| s.join(","))
                .unwrap_or_default()
        )
    }));
    if !items.is_empty() {
        s.push('(');
        s.push_str(&items.join(","));
        s.push(')');
    }
    if single {
        s.push_str("/$entity");
    }
    s
}

/// The large tables' record-number columns (their natural keys, indexed in HR): a list ordered
/// by one reads one page of rows in Dataverse, cold or not.
const NUMBER_COLUMNS: &[(&str, &str)] = &[
    (
        "mshr_hcmrecruitingrequestentity",
        "mshr_recruitingrequestid",
    ),
    ("mshr_hcmcandidatetohireentity", "mshr_candidateid"),
];

/// Builds the stored orders by [`NUMBER_COLUMNS`] (ascending) once after seeding, as HR's indexes
/// exist before the first query: without it the first list read at 100,000 rows sorted the
/// table (a quarter of a second) and any read racing it sorted it again. A write drops the
/// orders (`Store::table_mut`); the next read builds them again.
pub(super) fn index_number_columns(store: &Store) {
    let names = |t: &str, id: &Uuid| lookup_name(store, t, id);
    for &(logical, column) in NUMBER_COLUMNS {
        let (Some(def), Some(table)) = (schema().by_logical(logical), store.table(logical)) else {
            continue;
        };
        let by = [odata::OrderBy {
            column: column.to_string(),
            descending: false,
        }];
        let _ = odata::page(def, store, table, None, &by, None, 0, &names);
    }
}

/// The related row's primary name: what a lookup sorts by (and shows as its FormattedValue).
pub(super) fn lookup_name(store: &Store, target: &str, id: &Uuid) -> Option<String> {
    let def = schema().by_logical(target)?;
    store
        .table(target)?
        .get(id)?
        .get_str(def.primary_name)
        .map(str::to_string)
}

/// Builds the response object for one row: projection, expansions, annotations.
pub(super) fn render_row(
    st: &EmulatorState,
    ctx: &Ctx,
    store: &Store,
    def: &EntityDef,
    row: RowRef<'_>,
    q: &odata::ODataQuery,
) -> Row {
    let annot = Annotator {
        filter: &ctx.annotations,
        lang: ctx.lang,
        option_base: st.config.option_base,
        store,
    };
    let id = row.id();
    // Every entity carries its weak ETag, first, whatever $select or Prefer say
    // (docs/dataverse-web-api.md#etags).
    let mut out = Row::new();
    if id.is_some() {
        out.insert(
            "@odata.etag".into(),
            Value::String(annotations::etag(row.version())),
        );
    }
    out.extend(annot.annotate(def, odata::project(def, &row, q.select.as_deref())));
    for ex in &q.expand {
        let Some(nav) = def.nav(&ex.nav) else {
            continue;
        };
        let sub = odata::ODataQuery {
            select: ex.select.clone(),
            ..Default::default()
        };
        match nav.kind {
            NavKind::Collection {
                child,
                child_lookup,
            } => {
                let (Some(child_def), Some(table), Some(id)) =
                    (schema().by_logical(child), store.table(child), id)
                else {
                    continue;
                };
                let mut rows: Vec<RowRef> = table
                    .children_of(child_lookup, &id)
                    .into_iter()
                    .filter(|r| ex.filter.as_ref().is_none_or(|f| odata::matches(f, r)))
                    .collect();
                odata::sort_rows(child_def, &mut rows, &ex.orderby, &|t, id| {
                    lookup_name(store, t, id)
                });
                let take = ex.top.unwrap_or(MAX_PAGE).min(MAX_PAGE);
                let items: Vec<Value> = rows
                    .into_iter()
                    .take(take)
                    .map(|r| Value::Object(render_row(st, ctx, store, child_def, r, &sub)))
                    .collect();
                out.insert(ex.nav.clone(), Value::Array(items));
            }
            NavKind::Single { target, lookup } => {
                let target_row = row
                    .get_str(lookup)
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .and_then(|tid| store.table(target).and_then(|t| t.get(&tid)));
                let value = match (schema().by_logical(target), target_row) {
                    (Some(tdef), Some(r)) if ex.ref_only => {
                        let tid = r.get_str(&tdef.primary_id).unwrap_or_default();
                        json!({"@odata.id": format!("{}{API_PREFIX}/{}({tid})", st.url, tdef.set_name)})
                    }
                    (Some(tdef), Some(r)) => {
                        Value::Object(render_row(st, ctx, store, tdef, r, &sub))
                    }
                    _ => Value::Null,
                };
                out.insert(ex.nav.clone(), value);
            }
        }
    }
    out
}

pub(super) fn get_collection(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    uri: &Uri,
    count_only: bool,
) -> Result<Response, DvError> {
    let params = query_pairs(uri);
    let q = odata::parse_query(def, &params)?;
    let skiptoken = params
        .iter()
        .find(|(k, _)| k == "$skiptoken")
        .map(|(_, v)| v.as_str());
    let page_pref = ctx.max_page_size()?;
    let store = st.store.read().map_err(|_| poisoned())?;
    let table = store
        .table(def.logical_name)
        .ok_or_else(|| DvError::resource_not_found(&def.set_name))?;
    // Counting reads every matching row: only when asked for.
    let total = if count_only || q.count {
        odata::count(table, q.filter.as_ref())
    } else {
        0
    };
    if count_only {
        let mut resp = (StatusCode::OK, total.min(MAX_PAGE).to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        resp.headers_mut()
            .insert("OData-Version", HeaderValue::from_static("4.0"));
        return Ok(resp);
    }
    let resume = skiptoken.map(paging::parse_skiptoken).transpose()?;
    let sort_cols: Vec<&str> = q.orderby.iter().map(|o| o.column.as_str()).collect();
    // Like Dataverse's, the cookie carries the last row's sort values and key, so the next page is
    // located from them alone: the anchor row may have been updated or deleted since.
    let anchor = resume
        .as_ref()
        .map(|r| {
            r.anchor(&def.primary_id, &sort_cols)
                .ok_or_else(|| DvError::bad_query("The $skiptoken value is not valid."))
        })
        .transpose()?;
    // `$top` is ignored when a page size is requested (docs/dataverse-web-api.md#query-options).
    let (page_size, applied) = match (&page_pref, q.top) {
        (Some((n, p)), _) => (*n, Some(p.clone())),
        (None, Some(top)) => (top.min(MAX_PAGE), None),
        (None, None) => (MAX_PAGE, None),
    };
    let names = |t: &str, id: &Uuid| lookup_name(&store, t, id);
    let (page, more) = odata::page(
        def,
        &store,
        table,
        q.filter.as_ref(),
        &q.orderby,
        anchor.as_ref(),
        page_size,
        &names,
    );
    let has_more = more && !(page_pref.is_none() && q.top.is_some());
    let next_page = resume.map_or(2, |r| r.page + 1);
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context_url(st, def, &q, false)),
    );
    if q.count {
        body.insert("@odata.count".into(), json!(total.min(MAX_PAGE)));
        if ctx
            .annotations
            .wants("Microsoft.Dynamics.CRM.totalrecordcount")
        {
            body.insert(
                "@Microsoft.Dynamics.CRM.totalrecordcount".into(),
                json!(total.min(MAX_PAGE)),
            );
            body.insert(
                "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded".into(),
                json!(total > MAX_PAGE),
            );
        }
    }
    let value: Vec<Value> = page
        .iter()
        .map(|r| Value::Object(render_row(st, ctx, &store, def, *r, &q)))
        .collect();
    body.insert("value".into(), Value::Array(value));
    if has_more {
        if let Some(last) = page.last() {
            let first = page.first().unwrap_or(last);
            let token = paging::skiptoken(&def.primary_id, &sort_cols, next_page, first, last);
            body.insert(
                "@odata.nextLink".into(),
                json!(paging::next_link(&st.url, &def.set_name, &params, &token)),
            );
        }
    }
    let mut applied_list: Vec<String> = applied.into_iter().collect();
    if let Some(a) = &ctx.annotations.applied {
        applied_list.push(a.clone());
    }
    let extra: Vec<(&'static str, String)> = if applied_list.is_empty() {
        vec![]
    } else {
        vec![("Preference-Applied", applied_list.join(","))]
    };
    Ok(odata_json(StatusCode::OK, Value::Object(body), &extra))
}

pub(super) fn get_entity(
    st: &EmulatorState,
    ctx: &Ctx,
    def: &EntityDef,
    key: &str,
    uri: &Uri,
) -> Result<Response, DvError> {
    let id = parse_id(def, key)?;
    let params = query_pairs(uri);
    let q = odata::parse_query(def, &params)?;
    let store = st.store.read().map_err(|_| poisoned())?;
    let row = store
        .table(def.logical_name)
        .and_then(|t| t.get(&id))
        .ok_or_else(|| DvError::record_not_found(def.logical_name, &id.to_string()))?;
    let version = row.version();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context_url(st, def, &q, true)),
    );
    body.extend(render_row(st, ctx, &store, def, row, &q));
    let mut extra: Vec<(&'static str, String)> = ctx
        .annotations
        .applied
        .iter()
        .map(|a| ("Preference-Applied", a.clone()))
        .collect();
    extra.push(("ETag", annotations::etag(version)));
    Ok(odata_json(StatusCode::OK, Value::Object(body), &extra))
}

/// Metadata paths for option sets: `GlobalOptionSetDefinitions[(Name='x')]` and
/// `EntityDefinitions(LogicalName='t')/Attributes[(LogicalName='c')]/Microsoft.Dynamics.CRM.PicklistAttributeMetadata`.
pub(super) fn get_metadata(
    st: &EmulatorState,
    ctx: &Ctx,
    path: &str,
    uri: &Uri,
) -> Result<Response, DvError> {
    let params = query_pairs(uri);
    let languages: Option<Vec<u32>> = params
        .iter()
        .find(|(k, _)| k == "LabelLanguages")
        .map(|(_, v)| v.split(',').filter_map(|s| s.trim().parse().ok()).collect());
    let langs = languages.as_deref();
    let base = st.config.option_base;
    let quoted = |s: &str, prefix: &str| -> Option<String> {
        s.strip_prefix(prefix)?
            .strip_suffix("')")
            .map(str::to_string)
    };
    let body = if path == "GlobalOptionSetDefinitions" {
        metadata::all_global_option_sets(&st.url, base, ctx.lang, langs)
    } else if let Some(name) = quoted(path, "GlobalOptionSetDefinitions(Name='") {
        metadata::global_option_set(&st.url, &name, base, ctx.lang, langs)?
    } else {
        let mut parts = path.split('/');
        let table = parts
            .next()
            .and_then(|p| quoted(p, "EntityDefinitions(LogicalName='"))
            .ok_or_else(|| DvError::resource_not_found(path))?;
        let def = schema().by_logical(&table).ok_or_else(|| {
            DvError::new(
                StatusCode::NOT_FOUND,
                "0x80040217",
                format!("Could not find entity with name {table}"),
            )
        })?;
        let attrs = parts
            .next()
            .ok_or_else(|| DvError::resource_not_found(path))?;
        let column = if attrs == "Attributes" {
            None
        } else {
            Some(
                quoted(attrs, "Attributes(LogicalName='")
                    .ok_or_else(|| DvError::resource_not_found(attrs))?,
            )
        };
        match parts.next() {
            Some("Microsoft.Dynamics.CRM.PicklistAttributeMetadata") => {}
            _ => return Err(DvError::resource_not_found(path)),
        }
        let expand = params.iter().any(|(k, v)| {
            k == "$expand" && (v.contains("OptionSet") || v.contains("GlobalOptionSet"))
        });
        metadata::picklist_attributes(
            &st.url,
            def,
            column.as_deref(),
            base,
            ctx.lang,
            langs,
            expand,
        )?
    };
    Ok(odata_json(StatusCode::OK, body, &[]))
}
