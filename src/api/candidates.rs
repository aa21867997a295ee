//! `GET /v1/candidates` and `GET /v1/candidates/{id}`: the parameters and the handlers (extract →
//! `resources::candidates` → respond). The PII rule is `model::pii`, applied by the resource.

use axum::extract::Path;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::detail;
use super::listing;
use super::params::{Code, List, NoParams, PageSize, StrictQuery};
use super::state::Call;
use crate::auth::Principal;
use crate::cache::{Cached, Resource};
use crate::model::candidate::{Candidate, CandidateRow};
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::resources::candidates as resource;
use crate::resources::Reader;
use crate::upstream::odata::Query;
use crate::upstream::RawPage;

/// Query parameters of `GET /v1/candidates`: parsed by `StrictQuery`, documented from the same
/// declaration.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Comma-separated applicant integration result keys, e.g. `not_processed,hired`
    /// (labels: /v1/option-sets/applicant-integration-result). Repeated keys count once; at most 20
    /// distinct.
    #[param(value_type = Option<Vec<CandidateStatusKey>>, style = Form, explode = false, min_items = 1)]
    status: Option<List<String>>,
    /// Legal entity code, e.g. `usmf`.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9._/-]([A-Za-z0-9 ._/-]{0,38}[A-Za-z0-9._/-])?$")]
    company: Option<Code>,
    /// Recruiting request id (GUID) or number (`USMF-000001`): its candidates only.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9._/-]([A-Za-z0-9 ._/-]{0,38}[A-Za-z0-9._/-])?$")]
    recruiting_request: Option<Code>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200, default = 50, example = 20)]
    page_size: Option<PageSize>,
    /// Opaque cursor from `next_cursor`; send the same filters with it.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// Candidate status keys (the `key` of /v1/option-sets/applicant-integration-result).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStatusKey {
    NotProcessed,
    Hired,
    NotHired,
    Dismissed,
}

/// List candidates
///
/// A page of candidates of your companies with their person's name (no child collections).
/// Personal fields are omitted (not null) without the `pii:read` scope.
#[utoipa::path(
    get, path = "/v1/candidates", tag = "candidates",
    operation_id = "listCandidates",
    params(ListParams),
    responses(
        (status = 200, description = "A page of candidates. Personal fields are omitted without `pii:read`.", body = CandidatePage),
    ),
    security(("bearer" = ["candidates:read"]), ("oauth2" = ["candidates:read"]))
)]
pub async fn list(
    call: Call,
    StrictQuery(p): StrictQuery<ListParams>,
) -> Result<Response, ApiError> {
    listing::handle(call, p).await
}

impl listing::ListRoute for ListParams {
    const PATH: &'static str = "/v1/candidates";
    const RESOURCE: Resource = Resource::Candidates;

    fn paging(&mut self) -> (Option<PageSize>, Option<String>) {
        (self.page_size, self.cursor.take())
    }

    async fn first_query(&self, rd: &Reader, principal: &Principal) -> Result<Query, ApiError> {
        let filter = resource::ListFilter {
            status: self.status.as_ref().map(|l| &l.0[..]),
            company: self.company.as_ref().map(|c| c.0.as_str()),
            recruiting_request: self.recruiting_request.as_ref().map(|c| c.0.as_str()),
        };
        resource::list_query(rd, filter, principal).await
    }

    async fn page(
        &self,
        rd: &Reader,
        raw: RawPage,
        principal: &Principal,
        lang: Lang,
    ) -> Result<Cached, ApiError> {
        let page = raw.parse::<CandidateRow>()?;
        let data = resource::render(rd, &page.rows, false, principal.pii, lang).await?;
        listing::page_of(&data, page.next_link)
    }
}

listing::list_page!(CandidatePage, Candidate);

/// Get a candidate
///
/// One candidate with the person and the person's education, experience, addresses, contacts,
/// skills, certificates, screenings and identification numbers. Personal fields are omitted without
/// `pii:read`. 404 when it does not exist or belongs to a company you may not see.
#[utoipa::path(
    get, path = "/v1/candidates/{id}", tag = "candidates",
    operation_id = "getCandidate",
    params(("id" = String, Path, description = "Candidate id (GUID) or candidate number, e.g. `CAND-000001`")),
    responses(
        (status = 200, description = "The candidate with the person and the person's child collections. Personal fields are omitted without `pii:read`.", body = Candidate),
    ),
    security(("bearer" = ["candidates:read"]), ("oauth2" = ["candidates:read"]))
)]
pub async fn get(
    call: Call,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    const ROUTE: detail::DetailRoute = detail::DetailRoute {
        path: "/v1/candidates/{id}",
        resource: Resource::Candidates,
        numbered: &resource::NUMBERED,
    };
    detail::serve(call, &id, &ROUTE, |rd, principal, id, lang| async move {
        resource::load(&rd, &principal, id, lang).await
    })
    .await
}
