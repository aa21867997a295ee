//! Reference data partners need to build a job or a candidate: option sets (stable keys + labels in the
//! caller's language) and lookup lists (`{id, code, name}`), cached in moka with a TTL.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{NoParams, StrictQuery};
use super::respond;
use super::state::App;
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::resolve::lookups::{self, LookupRef};
use crate::resolve::options::OptionValue;
use crate::resources::reference::{fetch_lookup_list, option_values, LOOKUP_LISTS, OPTION_SETS};

/// A path parameter whose OpenAPI `enum` is the names of a table (the table stays the one
/// declaration; the handler answers 404 for other names).
macro_rules! name_enum {
    ($(#[$m:meta])* $name:ident, $table:expr) => {
        $(#[$m])*
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($table.iter().map(|(n, _)| *n)))
                    .into()
            }
        }
        impl ToSchema for $name {}
    };
}

name_enum!(
    /// The name of an option set.
    OptionSetName,
    OPTION_SETS
);
name_enum!(
    /// The name of a reference list.
    ReferenceListName,
    LOOKUP_LISTS
);

/// An option set's values: stable `key`, numeric `code`, `label` in the caller's language.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptionSet {
    pub name: String,
    pub values: Vec<OptionValue>,
}

async fn option_set(
    st: &App,
    name: &str,
    set: &'static str,
    headers: &HeaderMap,
) -> Result<OptionSet, ApiError> {
    Ok(OptionSet {
        name: name.to_string(),
        values: option_values(&st.reader, set, respond::lang_of(headers)).await?,
    })
}

/// `{data: [...], next_cursor: null, has_more: false}`: every option set (one page).
#[derive(ToSchema, serde::Serialize)]
pub struct OptionSetPage {
    pub data: Vec<OptionSet>,
    /// Always null: one page holds all.
    pub next_cursor: Option<String>,
    /// Always false.
    pub has_more: bool,
}

/// `{data: [...], next_cursor: null, has_more: false}`: a whole reference list (one page).
#[derive(ToSchema, serde::Serialize)]
pub struct LookupPage {
    pub data: Vec<LookupRef>,
    /// Always null: one page holds all.
    pub next_cursor: Option<String>,
    /// Always false.
    pub has_more: bool,
}

/// List option sets
///
/// Every option set a partner needs to read or write recruiting requests and candidates, with
/// each value's stable `key`, numeric `code` and `label` in the language of `Accept-Language`.
#[utoipa::path(get, path = "/v1/option-sets", tag = "reference",
    operation_id = "listOptionSets",
    params(NoParams),
    responses((status = 200, description = "Every option set with its values (one page)", body = OptionSetPage)),
    security(("bearer" = ["reference:read"]), ("oauth2" = ["reference:read"])))]
pub async fn list_option_sets(
    State(st): State<App>,
    headers: HeaderMap,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let futs = OPTION_SETS
        .iter()
        .map(|(name, set)| option_set(&st, name, set, &headers));
    let all = futures::future::try_join_all(futs).await?;
    respond::json(
        &headers,
        &OptionSetPage {
            data: all,
            next_cursor: None,
            has_more: false,
        },
        respond::lang_of(&headers),
    )
}

/// Get an option set
///
/// One option set's values: stable `key`, numeric `code`, `label` in the caller's language.
#[utoipa::path(get, path = "/v1/option-sets/{name}", tag = "reference",
    operation_id = "getOptionSet",
    params(("name" = OptionSetName, Path, description = "Option set name, e.g. `recruiting-request-status`"), NoParams),
    responses((status = 200, description = "One option set", body = OptionSet)),
    security(("bearer" = ["reference:read"]), ("oauth2" = ["reference:read"])))]
pub async fn get_option_set(
    State(st): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let (name, set) = OPTION_SETS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no option set `{name}`; known: {}",
                OPTION_SETS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let body = option_set(&st, name, set, &headers).await?;
    respond::json(&headers, &body, respond::lang_of(&headers))
}

/// Get a reference list
///
/// A whole lookup table as `{id, code, name}` items (skills, jobs, departments, …), limited to
/// your companies where the table is per company. The ids are what lookups in other bodies carry.
#[utoipa::path(get, path = "/v1/reference/{kind}", tag = "reference",
    operation_id = "getReferenceList",
    params(("kind" = ReferenceListName, Path, description = "Which list"), NoParams),
    responses((status = 200, description = "The whole list (one page)", body = LookupPage)),
    security(("bearer" = ["reference:read"]), ("oauth2" = ["reference:read"])))]
pub async fn get_lookup_list(
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    Path(kind): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let logical = LOOKUP_LISTS
        .iter()
        .find(|(n, _)| *n == kind)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no reference list `{kind}`; known: {}",
                LOOKUP_LISTS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let table = lookups::table(logical)
        .ok_or_else(|| ApiError::Internal(format!("no lookup table for {logical}")))?;
    let companies: Vec<String> = principal.companies.iter().cloned().collect();
    let list = fetch_lookup_list(&st.reader, table, &companies).await?;
    respond::json(
        &headers,
        &LookupPage {
            data: list.to_vec(),
            next_cursor: None,
            has_more: false,
        },
        respond::lang_of(&headers),
    )
}
