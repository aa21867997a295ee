//! `GET /v1/recruiting-requests` and `GET /v1/recruiting-requests/{id}`: the parameters and the
//! handlers (extract → `resources::recruiting_requests` → respond).

use axum::extract::Path;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::detail;
use super::listing;
use super::params::{param_enum, Code, List, NoParams, PageSize, SearchText, StrictQuery};
use super::state::Call;
use crate::auth::Principal;
use crate::cache::{Cached, Resource};
use crate::model::recruiting_request::{Embed, RecruitingRequest, RequestRow};
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::resources::recruiting_requests as resource;
use crate::resources::Reader;
use crate::upstream::odata::{Order, Query};
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
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9._/-]([A-Za-z0-9 ._/-]{0,38}[A-Za-z0-9._/-])?$")]
    company: Option<Code>,
    /// Department id (GUID) or number, e.g. `000163`: requests with a position in it.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9._/-]([A-Za-z0-9 ._/-]{0,38}[A-Za-z0-9._/-])?$")]
    department: Option<Code>,
    /// Job id (GUID) or job code, e.g. `Assembler`.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9._/-]([A-Za-z0-9 ._/-]{0,38}[A-Za-z0-9._/-])?$")]
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
    call: Call,
    StrictQuery(p): StrictQuery<ListParams>,
) -> Result<Response, ApiError> {
    if p.modified_since.is_some() {
        return Err(ApiError::param(
            "modified_since",
            "is not supported: the recruiting request table (a virtual table over HR) has no modification timestamp and no change tracking; follow GET /v1/changes (scope changes:read) for what changed, from a cursor",
        ));
    }
    listing::handle(call, p).await
}

impl listing::ListRoute for ListParams {
    const PATH: &'static str = "/v1/recruiting-requests";
    const RESOURCE: Resource = Resource::RecruitingRequests;

    fn paging(&mut self) -> (Option<PageSize>, Option<String>) {
        (self.page_size, self.cursor.take())
    }

    async fn first_query(&self, rd: &Reader, principal: &Principal) -> Result<Query, ApiError> {
        let filter = resource::ListFilter {
            status: self.status.as_ref().map(|l| &l.0[..]),
            company: self.company.as_ref().map(|c| c.0.as_str()),
            department: self.department.as_ref().map(|c| c.0.as_str()),
            job: self.job.as_ref().map(|c| c.0.as_str()),
            q: self.q.as_ref().map(|q| q.0.as_str()),
            sort: self.sort.unwrap_or(Sort::Number).column(),
            embed: embed_of(self.expand.as_ref()),
        };
        resource::list_query(rd, filter, principal).await
    }

    async fn page(
        &self,
        rd: &Reader,
        raw: RawPage,
        _principal: &Principal,
        lang: Lang,
    ) -> Result<Cached, ApiError> {
        let page = raw.parse::<RequestRow>()?;
        let embed = embed_of(self.expand.as_ref());
        let mut data = listing::page_buffer(page.rows.len());
        resource::render_json(rd, &page.rows, embed, lang, &mut data).await?;
        Ok(listing::page_of_json(data, page.next_link))
    }
}

listing::list_page!(RecruitingRequestPage, RecruitingRequest);

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
    call: Call,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    const ROUTE: detail::DetailRoute = detail::DetailRoute {
        path: "/v1/recruiting-requests/{id}",
        resource: Resource::RecruitingRequests,
        numbered: &resource::NUMBERED,
    };
    detail::serve(call, &id, &ROUTE, |rd, principal, id, lang| async move {
        resource::load(&rd, &principal, id, lang).await
    })
    .await
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
