//! `GET /v1/recruiting-requests` and `GET /v1/recruiting-requests/{id}`. Handlers parse and check;
//! the query shape lives in `list_query`, the mapping in `model::recruiting_request`.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use uuid::Uuid;

use super::listing;
use super::params::{code, text, Params};
use super::respond;
use crate::app::{App, AppState};
use crate::auth::Principal;
use crate::model::recruiting_request::{self as rr, Embed, Labels, RecruitingRequest, Row};
use crate::problem::ApiError;
use crate::resolve::departments::Department;
use crate::resolve::lang::Lang;
use crate::upstream::odata::{Expand, Filter, Literal, Order, Query};

const LIST_PARAMS: &[&str] = &[
    "status",
    "company",
    "department",
    "job",
    "modified_since",
    "q",
    "sort",
    "page_size",
    "cursor",
    "expand",
];

/// Requests matched by a department filter are looked up first (positions carry the department);
/// beyond this many, the filter is too broad to pass on as one `In`.
const MAX_DEPARTMENT_MATCHES: usize = 300;

fn parse_embed(v: Option<&str>) -> Result<Embed, ApiError> {
    let mut e = Embed::default();
    for item in v
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match item {
            "positions" => e.positions = true,
            "skills" => e.skills = true,
            "education" => e.education = true,
            "location" => e.location = true,
            other => {
                return Err(ApiError::param(
                    "expand",
                    format!("`{other}` is not expandable (positions, skills, education, location)"),
                ))
            }
        }
    }
    Ok(e)
}

fn sort_of(v: Option<&str>) -> Result<(&'static str, Order), ApiError> {
    let v = v.unwrap_or("number");
    let (field, order) = v
        .strip_prefix('-')
        .map_or((v, Order::Asc), |f| (f, Order::Desc));
    let col = match field {
        "number" => "mshr_recruitingrequestid",
        "estimated_start_date" => "mshr_estimatedstartdate",
        "description" => "mshr_description",
        "status" => "mshr_status",
        _ => return Err(ApiError::param("sort", "must be one of number, estimated_start_date, description, status (prefix - for descending)")),
    };
    Ok((col, order))
}

fn with_children(mut q: Query, embed: Embed) -> Query {
    if embed.positions {
        q = q.expand(Expand::new(rr::NAV_POSITIONS).select(rr::POSITION_SELECT));
    }
    if embed.skills {
        q = q.expand(Expand::new(rr::NAV_SKILLS).select(rr::SKILL_SELECT));
    }
    if embed.education {
        q = q.expand(Expand::new(rr::NAV_EDUCATION).select(rr::EDUCATION_SELECT));
    }
    if embed.location {
        q = q.expand(Expand::new(rr::NAV_LOCATION).select(rr::LOCATION_SELECT));
    }
    q
}

/// The partner's company limit as a filter (pushed upstream, so no page can hold another company's rows).
pub fn company_limit(principal: &Principal) -> Option<Filter> {
    (!principal.companies.is_empty()).then(|| {
        Filter::is_in(
            "mshr_dataareaid",
            principal
                .companies
                .iter()
                .map(|c| Literal::Str(c.clone()))
                .collect(),
        )
    })
}

async fn list_query(
    st: &AppState,
    p: &Params,
    principal: &Principal,
    embed: Embed,
) -> Result<Query, ApiError> {
    let mut filters = Vec::new();
    if p.get("modified_since").is_some() {
        return Err(ApiError::param(
            "modified_since",
            "is not supported: the recruiting request table (a virtual table over HR) has no modification timestamp and no change tracking; use GET /v1/changes when available, or filter by status",
        ));
    }
    if let Some(keys) = p.list("status")? {
        let set = st.options.get(rr::OS_STATUS).await?;
        let mut codes = Vec::new();
        for k in keys {
            let opt = set.by_key(&k).ok_or_else(|| {
                ApiError::param(
                    "status",
                    format!("`{k}` is not a status (one of: {})", set.keys().join(", ")),
                )
            })?;
            codes.push(Literal::Int(opt.code));
        }
        filters.push(Filter::is_in("mshr_status", codes));
    }
    if let Some(c) = p.get("company") {
        filters.push(Filter::eq(
            "mshr_dataareaid",
            Literal::Str(code("company", c)?.to_lowercase()),
        ));
    }
    if let Some(j) = p.get("job") {
        filters.push(match Uuid::parse_str(j) {
            Ok(id) => Filter::eq("_mshr_fk_job_id_value", Literal::Guid(id)),
            Err(_) => Filter::eq("mshr_jobid", Literal::Str(code("job", j)?)),
        });
    }
    if let Some(d) = p.get("department") {
        filters.push(department_filter(st, d).await?);
    }
    if let Some(q) = p.get("q") {
        filters.push(Filter::contains("mshr_description", text("q", q, 100)?));
    }
    filters.extend(company_limit(principal));
    let (col, order) = sort_of(p.get("sort"))?;
    let mut query = Query::new(rr::SET)
        .select(rr::SELECT)
        .filter_opt(Filter::all(filters))
        .order_by(col, order);
    if col != "mshr_recruitingrequestid" {
        // A unique tiebreaker keeps paging stable (docs/dataverse-web-api.md#query-options).
        query = query.order_by("mshr_recruitingrequestid", Order::Asc);
    }
    Ok(with_children(query, embed))
}

/// Positions carry the department: the requests with a position in it (cached), then filter by id.
async fn department_filter(st: &AppState, d: &str) -> Result<Filter, ApiError> {
    let dep = match Uuid::parse_str(d) {
        Ok(id) => Department::Id(id),
        Err(_) => Department::Number(code("department", d)?),
    };
    let found = st.lookups.departments.requests(dep).await?;
    if found.ids.len() > MAX_DEPARTMENT_MATCHES || found.truncated {
        return Err(ApiError::param("department", format!("matches more than {MAX_DEPARTMENT_MATCHES} requests; combine it with status or company")));
    }
    if found.ids.is_empty() {
        // No request has a position there: a filter that matches nothing.
        return Ok(Filter::eq(rr::PK, Literal::Guid(Uuid::nil())));
    }
    Ok(Filter::is_in(
        rr::PK,
        found.ids.iter().copied().map(Literal::Guid).collect(),
    ))
}

/// Labels and lookups for a page, then the mapping. Steady state: no upstream call (all cached).
pub async fn render(
    st: &AppState,
    rows: &[Row],
    embed: Embed,
    lang: Lang,
) -> Result<Vec<RecruitingRequest>, ApiError> {
    let (status, position_status, regulatory, exempt) = tokio::try_join!(
        st.options.get(rr::OS_STATUS),
        st.options.get(rr::OS_POSITION_STATUS),
        st.options.get(rr::OS_REGULATORY),
        st.options.get(rr::OS_EXEMPT),
    )?;
    let resolved = st.lookups.resolve(rr::wanted_lookups(rows)).await?;
    let labels = Labels {
        status: &status,
        position_status: &position_status,
        regulatory: &regulatory,
        exempt: &exempt,
        lang,
    };
    Ok(rows
        .iter()
        .filter_map(|r| rr::map_row(r, embed, &labels, &resolved))
        .collect())
}

#[utoipa::path(
    get, path = "/v1/recruiting-requests", tag = "recruiting-requests",
    params(
        ("status" = Option<String>, Query, description = "Comma-separated status keys, e.g. `active,in_review` (see /v1/option-sets/recruiting-request-status)"),
        ("company" = Option<String>, Query, description = "Legal entity code, e.g. `usmf`"),
        ("department" = Option<String>, Query, description = "Department id (GUID) or number: requests with a position in it"),
        ("job" = Option<String>, Query, description = "Job id (GUID) or job code"),
        ("q" = Option<String>, Query, description = "Text contained in the description"),
        ("modified_since" = Option<String>, Query, description = "Not supported: always 400, because the recruiting request table (a virtual table over HR) has no modification timestamp and no change tracking; filter by status instead"),
        ("sort" = Option<String>, Query, description = "number | estimated_start_date | description | status; prefix `-` for descending"),
        ("page_size" = Option<u32>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from `next_cursor`"),
        ("expand" = Option<String>, Query, description = "positions,skills,education,location"),
        ("Accept-Language" = Option<String>, Header, description = "en-US (default) or nb-NO"),
    ),
    responses(
        (status = 200, description = "A page of recruiting requests", body = RecruitingRequestPage),
        (status = 400, description = "Invalid parameter", content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", content_type = "application/problem+json"),
        (status = 403, description = "Missing scope", content_type = "application/problem+json"),
    ),
    security(("bearer" = ["recruiting-requests:read"]))
)]
pub async fn list(
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let lang = respond::lang_of(&headers);
    let p = Params::parse(raw.as_deref(), LIST_PARAMS)?;
    let page_size = p.page_size(50, 200)?;
    let embed = parse_embed(p.get("expand"))?;
    let (page, key) = listing::fetch_page(&st, &principal, &p, page_size, || {
        list_query(&st, &p, &principal, embed)
    })
    .await?;
    let data = render(&st, &page.rows, embed, lang).await?;
    listing::respond_page(&st, &headers, &key, data, page.next_link.as_deref(), lang)
}

/// OpenAPI name for the list page of this resource.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RecruitingRequestPage {
    pub data: Vec<RecruitingRequest>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

#[utoipa::path(
    get, path = "/v1/recruiting-requests/{id}", tag = "recruiting-requests",
    params(("id" = Uuid, Path, description = "Recruiting request id"), ("Accept-Language" = Option<String>, Header, description = "en-US (default) or nb-NO")),
    responses(
        (status = 200, description = "The request with positions, skills, education and location", body = RecruitingRequest),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such request visible to this partner", content_type = "application/problem+json"),
    ),
    security(("bearer" = ["recruiting-requests:read"]))
)]
pub async fn get(
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let lang = respond::lang_of(&headers);
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::param("id", "must be a GUID"))?;
    let q = with_children(Query::new(rr::SET).select(rr::SELECT), Embed::ALL);
    let row = st
        .client
        .get_by_id(&q, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no recruiting request with this id".into()))?;
    let company = row
        .get("mshr_dataareaid")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if !principal.companies.is_empty()
        && !principal
            .companies
            .iter()
            .any(|c| c.eq_ignore_ascii_case(company))
    {
        // Another company's record does not exist as far as this partner can tell.
        return Err(ApiError::NotFound(
            "no recruiting request with this id".into(),
        ));
    }
    let mut data = render(&st, std::slice::from_ref(&row), Embed::ALL, lang).await?;
    let one = data
        .pop()
        .ok_or_else(|| ApiError::UpstreamFailed("row without primary key".into()))?;
    respond::json(&headers, &one, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_and_sort_parsing() {
        assert_eq!(
            parse_embed(Some("positions, skills")).ok(),
            Some(Embed {
                positions: true,
                skills: true,
                ..Default::default()
            })
        );
        assert!(parse_embed(Some("salary")).is_err());
        assert!(matches!(
            sort_of(Some("-number")),
            Ok(("mshr_recruitingrequestid", Order::Desc))
        ));
        assert!(sort_of(Some("mshr_status")).is_err());
    }
}
