//! `GET /v1/recruiting-requests` and `GET /v1/recruiting-requests/{id}`. Handlers parse and check;
//! the query shape lives in `list_query`, the mapping in `model::recruiting_request`.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::listing;
use super::params::{param_enum, Code, List, NoParams, PageSize, SearchText, StrictQuery};
use super::respond;
use crate::app::{App, AppState};
use crate::auth::Principal;
use crate::cache::{Cached, KeyBuilder, Resource, Scope};
use crate::model::recruiting_request::{self as rr, Embed, Labels, RecruitingRequest, RequestRow};
use crate::problem::ApiError;
use crate::resolve::departments::Department;
use crate::resolve::lang::Lang;
use crate::upstream::odata::{Expand, Filter, Literal, Order, Query};
use crate::upstream::RawPage;

/// Query parameters of `GET /v1/recruiting-requests`: parsed by `StrictQuery`, documented from
/// the same declaration.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Comma-separated status keys, e.g. `active,in_review` (labels: /v1/option-sets/recruiting-request-status).
    /// Repeated keys count once; at most 20 distinct.
    #[param(value_type = Option<Vec<RecruitingRequestStatusKey>>, style = Form, explode = false, min_items = 1)]
    status: Option<List<String>>,
    // No `example` on filters: Swagger UI's "Try it out" pre-fills examples, and filters that
    // together match nothing made the first call an empty list. Examples are in the text.
    /// Legal entity code, e.g. `usmf`.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9 ._/-]{1,40}$")]
    company: Option<Code>,
    /// Department id (GUID) or number, e.g. `000163`: requests with a position in it.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9 ._/-]{1,40}$")]
    department: Option<Code>,
    /// Job id (GUID) or job code, e.g. `Assembler`.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9 ._/-]{1,40}$")]
    job: Option<Code>,
    /// Text contained in the description (at most 100 characters), e.g. `engineer`.
    #[param(value_type = Option<String>, max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$")]
    q: Option<SearchText>,
    /// Not supported: always 400, because the recruiting request table (a virtual table over HR)
    /// has no modification timestamp and no change tracking; follow GET /v1/changes instead.
    #[param(value_type = Option<String>, format = DateTime)]
    modified_since: Option<String>,
    /// Sort field; prefix `-` for descending. Default `number`.
    #[param(value_type = Option<Sort>)]
    sort: Option<Sort>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200, default = 50, example = 20)]
    page_size: Option<PageSize>,
    /// Opaque cursor from `next_cursor`; send the same filters with it.
    #[param(min_length = 1)]
    cursor: Option<String>,
    /// Child collections to include, comma-separated.
    #[param(value_type = Option<Vec<ExpandItem>>, style = Form, explode = false, min_items = 1)]
    expand: Option<List<ExpandItem>>,
}

/// Recruiting request status keys (the `key` of /v1/option-sets/recruiting-request-status).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecruitingRequestStatusKey {
    Draft,
    InReview,
    Pending,
    Canceled,
    Denied,
    Active,
    Closed,
}

param_enum!(
    Sort,
    "Sort order of a recruiting request list: a field, prefixed `-` for descending.",
    |_| "must be one of number, estimated_start_date, description, status (prefix - for descending)".to_string(),
    {
        Number = "number",
        NumberDesc = "-number",
        EstimatedStartDate = "estimated_start_date",
        EstimatedStartDateDesc = "-estimated_start_date",
        Description = "description",
        DescriptionDesc = "-description",
        Status = "status",
        StatusDesc = "-status",
    }
);

impl Sort {
    fn column(self) -> (&'static str, Order) {
        use Sort::*;
        match self {
            Number => ("mshr_recruitingrequestid", Order::Asc),
            NumberDesc => ("mshr_recruitingrequestid", Order::Desc),
            EstimatedStartDate => ("mshr_estimatedstartdate", Order::Asc),
            EstimatedStartDateDesc => ("mshr_estimatedstartdate", Order::Desc),
            Description => ("mshr_description", Order::Asc),
            DescriptionDesc => ("mshr_description", Order::Desc),
            Status => ("mshr_status", Order::Asc),
            StatusDesc => ("mshr_status", Order::Desc),
        }
    }
}

param_enum!(
    ExpandItem,
    "A child collection `expand` can include.",
    |v: &str| format!("`{v}` is not expandable (positions, skills, education, location)"),
    {
        Positions = "positions",
        Skills = "skills",
        Education = "education",
        Location = "location",
    }
);

/// Requests matched by a department filter are looked up first (positions carry the department);
/// beyond this many, the filter is too broad to pass on as one `In`.
const MAX_DEPARTMENT_MATCHES: usize = 300;

fn embed_of(items: Option<&List<ExpandItem>>) -> Embed {
    let mut e = Embed::default();
    for item in items.map_or(&[][..], |l| &l.0[..]) {
        match item {
            ExpandItem::Positions => e.positions = true,
            ExpandItem::Skills => e.skills = true,
            ExpandItem::Education => e.education = true,
            ExpandItem::Location => e.location = true,
        }
    }
    e
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

/// A `company` parameter outside the partner's companies: 403 naming it, rather than an empty
/// list the partner would take for "no data" (its own companies are no secret to it).
pub fn check_company_param(principal: &Principal, company: &str) -> Result<(), ApiError> {
    if principal.may_see_company(company) {
        return Ok(());
    }
    Err(ApiError::CompanyNotAllowed {
        parameter: "company",
        company: company.to_string(),
        yours: principal.companies.iter().cloned().collect(),
    })
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
    p: &ListParams,
    principal: &Principal,
    embed: Embed,
) -> Result<Query, ApiError> {
    let mut filters = Vec::new();
    if p.modified_since.is_some() {
        return Err(ApiError::param(
            "modified_since",
            "is not supported: the recruiting request table (a virtual table over HR) has no modification timestamp and no change tracking; follow GET /v1/changes (scope changes:read) for what changed, from a cursor",
        ));
    }
    if let Some(keys) = &p.status {
        let set = st.options.get(rr::OS_STATUS).await?;
        let mut codes = Vec::new();
        for k in &keys.0 {
            let opt = set.by_key(k).ok_or_else(|| {
                ApiError::param(
                    "status",
                    format!("`{k}` is not a status (one of: {})", set.keys().join(", ")),
                )
            })?;
            codes.push(Literal::Int(opt.code));
        }
        filters.push(Filter::is_in("mshr_status", codes));
    }
    if let Some(Code(c)) = &p.company {
        check_company_param(principal, c)?;
        filters.push(Filter::eq(
            "mshr_dataareaid",
            Literal::Str(c.to_lowercase()),
        ));
    }
    if let Some(Code(j)) = &p.job {
        filters.push(match Uuid::parse_str(j) {
            Ok(id) => Filter::eq("_mshr_fk_job_id_value", Literal::Guid(id)),
            Err(_) => Filter::eq("mshr_jobid", Literal::Str(j.clone())),
        });
    }
    if let Some(Code(d)) = &p.department {
        filters.push(department_filter(st, d, principal).await?);
    }
    if let Some(SearchText(q)) = &p.q {
        filters.push(Filter::contains("mshr_description", q.clone()));
    }
    filters.extend(company_limit(principal));
    let (col, order) = p.sort.unwrap_or(Sort::Number).column();
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

/// Positions carry the department: the requests with a position in it in the partner's companies
/// (cached), then filter by id.
async fn department_filter(
    st: &AppState,
    d: &str,
    principal: &Principal,
) -> Result<Filter, ApiError> {
    let dep = match Uuid::parse_str(d) {
        Ok(id) => Department::Id(id),
        Err(_) => Department::Number(d.to_string()),
    };
    let found = st
        .lookups
        .departments
        .requests(dep, &principal.companies)
        .await?;
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

/// One request with every child collection, as `GET /v1/recruiting-requests/{id}` (and the changes
/// scanner) read it.
pub(crate) fn detail_query() -> Query {
    with_children(Query::new(rr::SET).select(rr::SELECT), Embed::ALL)
}

/// Labels and lookups for a page, then the mapping. Steady state: no upstream call (all cached).
pub async fn render(
    st: &AppState,
    rows: &[RequestRow<'_>],
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

/// List recruiting requests
///
/// A page of the recruiting requests of your companies, newest filters first applied upstream.
/// Labels follow `Accept-Language`; `expand` adds child collections. Page with `next_cursor`.
#[utoipa::path(
    get, path = "/v1/recruiting-requests", tag = "recruiting-requests",
    operation_id = "listRecruitingRequests",
    params(ListParams),
    responses(
        (status = 200, description = "A page of recruiting requests", body = RecruitingRequestPage),
    ),
    security(("bearer" = ["recruiting-requests:read"]), ("oauth2" = ["recruiting-requests:read"]))
)]
pub async fn list(
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    StrictQuery(mut p): StrictQuery<ListParams>,
) -> Result<Response, ApiError> {
    let lang = respond::lang_of(&headers);
    let page_size = PageSize::or_default(p.page_size);
    let cursor = p.cursor.take();
    let req = listing::ListRequest {
        route: "/v1/recruiting-requests",
        resource: Resource::RecruitingRequests,
        principal: &principal,
        headers: &headers,
        raw_query: raw.as_deref().unwrap_or(""),
        cursor: cursor.as_deref(),
        lang,
    };
    let route = Listing {
        embed: embed_of(p.expand.as_ref()),
        params: p,
        principal: principal.clone(),
        lang,
    };
    listing::serve_route(&st, req, page_size, route).await
}

/// The list route's part of the shared list flow.
struct Listing {
    params: ListParams,
    principal: Principal,
    embed: Embed,
    lang: Lang,
}

impl listing::ListRoute for Listing {
    async fn first_query(&self, st: &AppState) -> Result<Query, ApiError> {
        list_query(st, &self.params, &self.principal, self.embed).await
    }

    async fn page(&self, st: &AppState, raw: RawPage) -> Result<Cached, ApiError> {
        let page = raw.parse::<RequestRow>()?;
        let data = render(st, &page.rows, self.embed, self.lang).await?;
        listing::page_of(&data, page.next_link)
    }
}

/// OpenAPI name for the list page of this resource.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the page `listing::serve` builds
pub struct RecruitingRequestPage {
    pub data: Vec<RecruitingRequest>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// Get a recruiting request
///
/// One recruiting request with all its child collections (positions, skills, education, location),
/// by id or by number (`USMF-000001`). 404 when it does not exist or belongs to a company you may
/// not see.
#[utoipa::path(
    get, path = "/v1/recruiting-requests/{id}", tag = "recruiting-requests",
    operation_id = "getRecruitingRequest",
    params(("id" = String, Path, description = "Recruiting request id (GUID) or number, e.g. `USMF-000001`", example = "USMF-000001")),
    responses(
        (status = 200, description = "The request with positions, skills, education and location", body = RecruitingRequest),
    ),
    security(("bearer" = ["recruiting-requests:read"]), ("oauth2" = ["recruiting-requests:read"]))
)]
pub async fn get(
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let lang = respond::lang_of(&headers);
    let id = super::ids::resolve(&st, &principal, &id, &NUMBERED).await?;
    let key = KeyBuilder::new("/v1/recruiting-requests/{id}")
        .field("id", &id.to_string())
        .rights(&principal)
        .lang(lang)
        .finish();
    let app = st.clone();
    let one = st
        .responses
        .get_or_compute(
            key,
            Scope::One(Resource::RecruitingRequests, id),
            move || detail(app.clone(), principal.clone(), id, lang),
        )
        .await?;
    Ok(respond::tagged_bytes(
        &headers,
        one.body.clone(),
        &one.etag,
        lang,
        false,
    ))
}

/// A recruiting request's id or its number (`mshr_recruitingrequestid`).
const NUMBERED: super::ids::Numbered = super::ids::Numbered {
    set: rr::SET,
    pk: rr::PK,
    number: "mshr_recruitingrequestid",
    not_found: "no recruiting request with this id",
};

/// The request as `principal` may see it, mapped and serialized.
async fn detail(st: App, principal: Principal, id: Uuid, lang: Lang) -> Result<Cached, ApiError> {
    let q = detail_query();
    let raw = st
        .client
        .get_by_id_within_raw(&q, rr::PK, id, company_limit(&principal))
        .await?;
    let row = raw
        .as_ref()
        .map(|r| r.parse::<RequestRow>())
        .transpose()?
        .flatten()
        .ok_or_else(|| ApiError::NotFound("no recruiting request with this id".into()))?;
    let company = row.dataareaid.as_str().unwrap_or("");
    if !principal.may_see_company(company) {
        // Not reached (the read is filtered by company); kept as a second check.
        return Err(ApiError::NotFound(
            "no recruiting request with this id".into(),
        ));
    }
    let mut data = render(&st, std::slice::from_ref(&row), Embed::ALL, lang).await?;
    let one = data
        .pop()
        .ok_or_else(|| ApiError::UpstreamFailed("row without primary key".into()))?;
    respond::cached_json(&one)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_and_sort_parsing() {
        let p: ListParams =
            crate::api::params::parse("expand=positions,%20skills&sort=-number").expect("parse");
        assert_eq!(
            embed_of(p.expand.as_ref()),
            Embed {
                positions: true,
                skills: true,
                ..Default::default()
            }
        );
        assert!(matches!(
            p.sort.map(Sort::column),
            Some(("mshr_recruitingrequestid", Order::Desc))
        ));
        assert!(crate::api::params::parse::<ListParams>("expand=salary").is_err());
        assert!(crate::api::params::parse::<ListParams>("sort=mshr_status").is_err());
    }
}
