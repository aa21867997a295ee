//! `GET /v1/candidates` and `GET /v1/candidates/{id}`. Handlers parse and check; the query shapes
//! live in `candidate_query` / `children_query`, the mapping in `model::candidate`, and the PII rule
//! in `model::pii` (applied to the serialized body, and used to leave personal columns unselected).

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::listing;
use super::params::{Code, List, NoParams, PageSize, StrictQuery};
use super::recruiting_requests::company_limit;
use super::respond;
use crate::app::{App, AppState};
use crate::auth::Principal;
use crate::cache::{Cached, KeyBuilder, Resource, Scope};
use crate::model::candidate::{self as cand, Candidate, CandidateRow, Labels, PersonRow};
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::upstream::odata::{Expand, Filter, Literal, Order, Query};
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

const NOT_FOUND: &str = "no candidate with this id";

/// A candidate's id or its number (`mshr_candidateid`).
const NUMBERED: super::ids::Numbered = super::ids::Numbered {
    set: cand::SET,
    pk: cand::PK,
    number: "mshr_candidateid",
    not_found: NOT_FOUND,
};

/// The candidate with its person (names, plus personal columns only with `pii:read`) and request.
pub(crate) fn candidate_query(can_see_pii: bool) -> Query {
    Query::new(cand::SET)
        .select(&cand::candidate_select(can_see_pii))
        .expand(Expand::new(cand::NAV_PERSON).select(&cand::person_select(can_see_pii)))
        .expand(Expand::new(cand::NAV_REQUEST).select(cand::REQUEST_SELECT))
}

/// The person's child collections (second call: nested `$expand` is not available).
pub(crate) fn children_query(can_see_pii: bool) -> Query {
    cand::children_for(can_see_pii).fold(
        Query::new(cand::PERSON_SET).select(&[cand::PERSON_PK]),
        |q, c| q.expand(Expand::new(c.nav).select(c.select)),
    )
}

async fn list_query(
    st: &AppState,
    p: &ListParams,
    principal: &Principal,
) -> Result<Query, ApiError> {
    let mut filters = Vec::new();
    if let Some(keys) = &p.status {
        let set = st.options.get(cand::OS_RESULT).await?;
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
        filters.push(Filter::is_in("mshr_applicantintegrationresult", codes));
    }
    if let Some(Code(c)) = &p.company {
        super::recruiting_requests::check_company_param(principal, c)?;
        filters.push(Filter::eq(
            "mshr_dataareaid",
            Literal::Str(c.to_lowercase()),
        ));
    }
    if let Some(Code(r)) = &p.recruiting_request {
        filters.push(match Uuid::parse_str(r) {
            Ok(id) => Filter::eq("_mshr_fk_recruitingrequest_id_value", Literal::Guid(id)),
            Err(_) => Filter::eq("mshr_recruitingrequestid", Literal::Str(r.clone())),
        });
    }
    filters.extend(company_limit(principal));
    Ok(candidate_query(principal.pii)
        .filter_opt(Filter::all(filters))
        // The readable id is unique: a stable order for paging (docs/dataverse-web-api.md#query-options).
        .order_by("mshr_candidateid", Order::Asc))
}

/// Labels and lookups for a page, then the mapping (personal fields omitted unless
/// `can_see_pii`: the only way candidate bodies are shaped for partners). Steady state: no
/// upstream call (all cached).
pub async fn render(
    st: &AppState,
    rows: &[CandidateRow<'_>],
    detail: bool,
    can_see_pii: bool,
    lang: Lang,
) -> Result<Vec<Candidate>, ApiError> {
    let (
        result,
        noyes,
        gender,
        marital,
        credit_basis,
        blank_yes_no,
        contact_type,
        skill_level_type,
        completion,
    ) = tokio::try_join!(
        st.options.get(cand::OS_RESULT),
        st.options.get(cand::OS_NOYES),
        st.options.get(cand::OS_GENDER),
        st.options.get(cand::OS_MARITAL),
        st.options.get(cand::OS_CREDIT_BASIS),
        st.options.get(cand::OS_BLANK_YES_NO),
        st.options.get(cand::OS_CONTACT_TYPE),
        st.options.get(cand::OS_SKILL_LEVEL_TYPE),
        st.options.get(cand::OS_COMPLETION),
    )?;
    let resolved = st.lookups.resolve(cand::wanted_lookups(rows)).await?;
    let labels = Labels {
        result: &result,
        noyes: &noyes,
        gender: &gender,
        marital: &marital,
        credit_basis: &credit_basis,
        blank_yes_no: &blank_yes_no,
        contact_type: &contact_type,
        skill_level_type: &skill_level_type,
        completion: &completion,
        lang,
    };
    Ok(rows
        .iter()
        .filter_map(|r| cand::map_row(r, detail, can_see_pii, &labels, &resolved))
        .collect())
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
    let lang = respond::lang_of(&headers);
    let page_size = PageSize::or_default(p.page_size);
    let cursor = p.cursor.take();
    let req = listing::ListRequest {
        route: "/v1/candidates",
        resource: Resource::Candidates,
        principal: &principal,
        headers: &headers,
        raw_query: raw.as_deref().unwrap_or(""),
        cursor: cursor.as_deref(),
        lang,
    };
    let route = Listing {
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
    lang: Lang,
}

impl listing::ListRoute for Listing {
    async fn first_query(&self, st: &AppState) -> Result<Query, ApiError> {
        list_query(st, &self.params, &self.principal).await
    }

    async fn page(&self, st: &AppState, raw: RawPage) -> Result<Cached, ApiError> {
        let page = raw.parse::<CandidateRow>()?;
        let data = render(st, &page.rows, false, self.principal.pii, self.lang).await?;
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
    let id = super::ids::resolve(&st, &principal, &id, &NUMBERED).await?;
    let key = KeyBuilder::new("/v1/candidates/{id}")
        .field("id", &id.to_string())
        .rights(&principal)
        .lang(lang)
        .finish();
    let app = st.clone();
    let one = st
        .responses
        .get_or_compute(key, Scope::One(Resource::Candidates, id), move || {
            let (st, principal) = (app.clone(), principal.clone());
            async move {
                let one = load(&st, &principal, id, lang)
                    .await?
                    .ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))?;
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

/// The candidate as `GET /v1/candidates/{id}` shows it to `principal`; `None` when it does not
/// exist or belongs to a company the partner may not see.
pub async fn load(
    st: &AppState,
    principal: &Principal,
    id: Uuid,
    lang: Lang,
) -> Result<Option<Candidate>, ApiError> {
    let Some(raw) = st
        .client
        .get_by_id_within_raw(
            &candidate_query(principal.pii),
            cand::PK,
            id,
            company_limit(principal),
        )
        .await?
    else {
        return Ok(None);
    };
    let Some(mut row) = raw.parse::<CandidateRow>()? else {
        return Ok(None);
    };
    if !principal.may_see_company(&row.company_code()) {
        // Not reached (the read is filtered by company); kept as a second check.
        return Ok(None);
    }
    let kids_raw = match row.person_id() {
        Some(person) => {
            st.client
                .get_by_id_raw(&children_query(principal.pii), person)
                .await?
        }
        None => None,
    };
    if let Some(kids) = kids_raw
        .as_ref()
        .map(|k| k.parse::<PersonRow>())
        .transpose()?
        .flatten()
    {
        cand::attach_children(&mut row, &kids);
    }
    let data = render(st, std::slice::from_ref(&row), true, principal.pii, lang).await?;
    let one = data
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::UpstreamFailed("row without primary key".into()))?;
    Ok(Some(one))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_leave_personal_data_out_without_pii_read() {
        let without = candidate_query(false).to_query_string();
        let with = candidate_query(true).to_query_string();
        assert!(!without.contains("mshr_birthdate") && with.contains("mshr_birthdate"));
        assert!(!without.contains("mshr_primarycontactemail"));
        assert!(with.contains("mshr_primarycontactemail"));
        let kids = children_query(false).to_query_string();
        assert!(!kids.contains(cand::NAV_ADDRESSES) && kids.contains(cand::NAV_SKILLS));
        assert!(children_query(true)
            .to_query_string()
            .contains(cand::NAV_IDS));
    }
}
