//! Reference data partners need to build a job or a candidate: option sets (stable keys + labels in the
//! caller's language) and lookup lists (`{id, code, name}`), cached in moka with a TTL.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{NoParams, StrictQuery};
use super::respond;
use crate::app::{App, AppState};
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::resolve::lookups::{self, str_of, uuid_of, LookupRef};
use crate::resolve::options::OptionValue;
use crate::upstream::odata::{Filter, Literal, Order, Query};

/// Partner-facing option-set names → the environment's global option sets
/// (docs/ats-data-model.md#option-sets).
pub const OPTION_SETS: &[(&str, &str)] = &[
    (
        "recruiting-request-status",
        "mshr_hcmrecruitingrequeststatus",
    ),
    (
        "recruiting-request-position-status",
        "mshr_hcmrecruitingrequestpositionstatus",
    ),
    ("regulatory-job-category", "mshr_hcmregulatoryjobcategory"),
    ("job-exempt-status", "cdm_jobexemptstatus"),
    (
        "applicant-integration-result",
        "mshr_hcmapplicantintegrationresult",
    ),
    ("blank-yes-no", "mshr_hrmblankyesno"),
    ("completion-status", "mshr_hcmcompletionstatus"),
    ("contact-type", "mshr_logisticselectronicaddressmethodtype"),
    ("education-credit-basis", "mshr_hcmeducationcreditbasis"),
    ("gender", "mshr_hcmpersongender"),
    ("marital-status", "mshr_dirpersonmaritalstatus"),
    ("months-of-year", "mshr_monthsofyear"),
    ("no-yes", "mshr_noyes"),
    ("period-unit", "mshr_periodunit"),
    ("screening-frequency", "mshr_hcmfrequencyunit"),
    (
        "screening-frequency-generate-from",
        "mshr_hcmfrequencygeneratefrom",
    ),
    ("skill-level-type", "mshr_hrmskillleveltype"),
];

/// Lookup lists: partner name → target table (code/name columns in `resolve::lookups`).
pub const LOOKUP_LISTS: &[(&str, &str)] = &[
    ("skills", "mshr_hcmskillentity"),
    ("rating-levels", "mshr_hcmratinglevelentity"),
    ("certificate-types", "mshr_hcmcertificatetypeentity"),
    ("screening-types", "mshr_hcmscreeningtypeentity"),
    ("education-degrees", "mshr_hcmeducationdegreeentity"),
    ("education-levels", "mshr_hcmeducationlevelentity"),
    ("education-disciplines", "mshr_hcmeducationdisciplineentity"),
    (
        "education-institutions",
        "mshr_hcmeducationinstitutionentity",
    ),
    ("departments", "mshr_omdepartmententity"),
    ("jobs", "mshr_hcmjobentity"),
    ("positions", "mshr_hcmpositionv2entity"),
    ("identification-types", "mshr_hcmidentificationtypeentity"),
    (
        "country-regions",
        "mshr_logisticsaddresscountryregionentity",
    ),
];

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
    st: &AppState,
    name: &str,
    set: &'static str,
    headers: &HeaderMap,
) -> Result<OptionSet, ApiError> {
    let lang = respond::lang_of(headers);
    let info = st.options.get(set).await?;
    Ok(OptionSet {
        name: name.to_string(),
        values: info.options.iter().map(|o| o.value(lang)).collect(),
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

/// Reads a whole lookup table (reference tables hold dozens to a few thousand rows), company-limited
/// where the table is company-striped.
pub async fn fetch_lookup_list(
    st: &AppState,
    table: &'static lookups::LookupTable,
    companies: &[String],
) -> Result<Arc<Vec<LookupRef>>, ApiError> {
    let striped = table.logical == "mshr_hcmpositionv2entity";
    let key = format!(
        "{}|{}",
        table.logical,
        if striped {
            companies.join(",")
        } else {
            String::new()
        }
    );
    let client = st.client.clone();
    let companies = companies.to_vec();
    st.reference
        .entry(key)
        .or_try_insert_with(async move {
            let mut select = vec![table.pk, table.code];
            if table.name != table.code {
                select.push(table.name);
            }
            let mut q = Query::new(table.set)
                .select(&select)
                .order_by(table.code, Order::Asc);
            if striped && !companies.is_empty() {
                q = q.filter(Filter::is_in(
                    "mshr_dataareaid",
                    companies.into_iter().map(Literal::Str).collect(),
                ));
            }
            let mut page = client.get_page(&q, 5000).await?;
            let mut rows = std::mem::take(&mut page.rows);
            // Bounded: reference tables are small; stop after 10 pages whatever happens.
            for _ in 0..10 {
                let Some(next) = page.next_link.take() else {
                    break;
                };
                page = client.get_next(&next, 5000).await?;
                rows.append(&mut page.rows);
            }
            let list = rows
                .iter()
                .filter_map(|r| {
                    Some(LookupRef {
                        id: uuid_of(r, table.pk)?,
                        code: str_of(r, table.code).map(Arc::from),
                        name: str_of(r, table.name).map(Arc::from),
                    })
                })
                .collect();
            Ok::<_, crate::upstream::error::UpstreamError>(Arc::new(list))
        })
        .await
        .map(|e| crate::ops::metrics::cached("reference", e))
        .map_err(|e| ApiError::from((*e).clone()))
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
    let list = fetch_lookup_list(&st, table, &companies).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_has_a_lookup_table() {
        for (name, logical) in LOOKUP_LISTS {
            assert!(lookups::table(logical).is_some(), "{name}");
        }
    }
}
