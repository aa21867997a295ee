//! `GET /v1/candidates` and `GET /v1/candidates/{id}`: the parameters and the handlers (extract →
//! `resources::candidates` → respond). The PII rule is `model::pii`, applied by the resource.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::listing;
use super::params::{Code, List, NoParams, PageSize, StrictQuery};
use super::respond;
use super::state::App;
use crate::auth::Principal;
use crate::cache::{Cached, KeyBuilder, Resource, Scope};
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
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9 ._/-]{1,40}$")]
    company: Option<Code>,
    /// Recruiting request id (GUID) or number (`USMF-000001`): its candidates only.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9 ._/-]{1,40}$")]
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
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    StrictQuery(mut p): StrictQuery<ListParams>,
) -> Result<Response, ApiError> {
    let (page_size, cursor) = (p.page_size, p.cursor.take());
    listing::handle(
        &st,
        principal,
        &headers,
        raw,
        page_size,
        cursor,
        |principal, lang| Listing {
            params: p,
            principal,
            lang,
        },
    )
    .await
}

/// The list route's part of the shared list flow.
struct Listing {
    params: ListParams,
    principal: Principal,
    lang: Lang,
}

impl listing::ListRoute for Listing {
    const PATH: &'static str = "/v1/candidates";
    const RESOURCE: Resource = Resource::Candidates;

    async fn first_query(&self, rd: &Reader) -> Result<Query, ApiError> {
        let p = &self.params;
        let filter = resource::ListFilter {
            status: p.status.as_ref().map(|l| &l.0[..]),
            company: p.company.as_ref().map(|c| c.0.as_str()),
            recruiting_request: p.recruiting_request.as_ref().map(|c| c.0.as_str()),
        };
        resource::list_query(rd, filter, &self.principal).await
    }

    async fn page(&self, rd: &Reader, raw: RawPage) -> Result<Cached, ApiError> {
        let page = raw.parse::<CandidateRow>()?;
        let data = resource::render(rd, &page.rows, false, self.principal.pii, self.lang).await?;
        listing::page_of(&data, page.next_link)
    }
}

/// OpenAPI name for the list page of this resource.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the page `listing::serve` builds
pub struct CandidatePage {
    pub data: Vec<Candidate>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

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
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> Result<Response, ApiError> {
    let lang = respond::lang_of(&headers);
    let id = super::ids::resolve(&st.reader, &principal, &id, &resource::NUMBERED).await?;
    let key = KeyBuilder::new("/v1/candidates/{id}")
        .field("id", &id.to_string())
        .rights(&principal)
        .lang(lang)
        .finish();
    let app = st.clone();
    let one = st
        .reader
        .responses
        .get_or_compute(key, Scope::One(Resource::Candidates, id), move || {
            let (rd, principal) = (app.reader.clone(), principal.clone());
            async move {
                let one = resource::load(&rd, &principal, id, lang)
                    .await?
                    .ok_or_else(|| ApiError::NotFound(resource::NOT_FOUND.into()))?;
                respond::cached_json(&one)
            }
        })
        .await?;
    Ok(respond::tagged_bytes(
        &headers,
        one.body.clone(),
        &one.etag,
        lang,
        false,
    ))
}
