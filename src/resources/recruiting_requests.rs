//! Recruiting requests: the list and detail queries, the company limit, the department filter and
//! the row → DTO rendering (labels and lookups, cached).

use std::sync::Arc;

use uuid::Uuid;

use super::Reader;
use crate::auth::Principal;
use crate::model::recruiting_request::{self as rr, Embed, Labels, RecruitingRequest, RequestRow};
use crate::problem::ApiError;
use crate::resolve::departments::Department;
use crate::resolve::lang::Lang;
use crate::resolve::lookups::Resolved;
use crate::resolve::options::OptionSetInfo;
use crate::upstream::odata::{Expand, Filter, Literal, Order, Query};

/// Requests matched by a department filter are looked up first (positions carry the department);
/// beyond this many, the filter is too broad to pass on as one `In`.
const MAX_DEPARTMENT_MATCHES: usize = 300;

/// Its id or its number (`mshr_recruitingrequestid`).
pub const NUMBERED: super::numbers::Numbered = super::numbers::Numbered {
    set: rr::SET,
    pk: rr::PK,
    number: "mshr_recruitingrequestid",
    not_found: NOT_FOUND,
};

pub const NOT_FOUND: &str = "no recruiting request with this id";

/// What a list of recruiting requests is narrowed by (already checked for form by the caller).
#[derive(Debug, Clone, Copy)]
pub struct ListFilter<'a> {
    /// Status keys (`/v1/option-sets/recruiting-request-status`).
    pub status: Option<&'a [String]>,
    pub company: Option<&'a str>,
    /// Department id (GUID) or number.
    pub department: Option<&'a str>,
    /// Job id (GUID) or code.
    pub job: Option<&'a str>,
    /// Text contained in the description.
    pub q: Option<&'a str>,
    pub sort: (&'static str, Order),
    pub embed: Embed,
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

/// The first page's query of a list: the filters, the partner's companies, a stable order.
pub async fn list_query(
    rd: &Reader,
    f: ListFilter<'_>,
    principal: &Principal,
) -> Result<Query, ApiError> {
    let status = f.status.map(|keys| (rr::OS_STATUS, "mshr_status", keys));
    let mut filters = super::shared_filters(rd, principal, status, f.company).await?;
    if let Some(j) = f.job {
        filters.push(match Uuid::parse_str(j) {
            Ok(id) => Filter::eq("_mshr_fk_job_id_value", Literal::Guid(id)),
            Err(_) => Filter::eq("mshr_jobid", Literal::Str(j.to_string())),
        });
    }
    if let Some(d) = f.department {
        filters.push(department_filter(rd, d, principal).await?);
    }
    if let Some(q) = f.q {
        filters.push(Filter::contains("mshr_description", q.to_string()));
    }
    filters.extend(company_limit(principal));
    let (col, order) = f.sort;
    let mut query = Query::new(rr::SET)
        .select(rr::SELECT)
        .filter_opt(Filter::all(filters))
        .order_by(col, order);
    if col != "mshr_recruitingrequestid" {
        query = query.order_by("mshr_recruitingrequestid", Order::Asc);
    }
    // Numbers repeat across companies: the key makes the order unique, so pages neither skip nor
    // repeat a row (docs/dataverse-web-api.md#query-options).
    query = query.order_by(rr::PK, Order::Asc);
    Ok(with_children(query, f.embed))
}

/// Positions carry the department: the requests with a position in it in the partner's companies
/// (cached), then filter by id.
async fn department_filter(
    rd: &Reader,
    d: &str,
    principal: &Principal,
) -> Result<Filter, ApiError> {
    let dep = match Uuid::parse_str(d) {
        Ok(id) => Department::Id(id),
        Err(_) => Department::Number(d.to_string()),
    };
    let found = rd
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
pub fn detail_query() -> Query {
    with_children(Query::new(rr::SET).select(rr::SELECT), Embed::ALL)
}

/// Labels and lookups for a page, then the mapping. Steady state: no upstream call (all cached).
pub async fn render(
    rd: &Reader,
    rows: &[RequestRow<'_>],
    embed: Embed,
    lang: Lang,
) -> Result<Vec<RecruitingRequest>, ApiError> {
    let (sets, resolved) = prepare(rd, rows).await?;
    let labels = sets.labels(lang);
    Ok(super::steps::map(rows, |r| rr::map_row(r, embed, &labels, &resolved)).await)
}

/// [`render`] as the JSON array of the rows, written straight from them (`rr::write_rows`): the
/// list route's page.
pub async fn render_json(
    rd: &Reader,
    rows: &[RequestRow<'_>],
    embed: Embed,
    lang: Lang,
    out: &mut Vec<u8>,
) -> Result<(), ApiError> {
    let (sets, resolved) = prepare(rd, rows).await?;
    rr::write_rows(rows, embed, &sets.labels(lang), &resolved, out);
    Ok(())
}

/// The option sets a request shows.
struct Sets {
    status: Arc<OptionSetInfo>,
    position_status: Arc<OptionSetInfo>,
    regulatory: Arc<OptionSetInfo>,
    exempt: Arc<OptionSetInfo>,
}

impl Sets {
    fn labels(&self, lang: Lang) -> Labels<'_> {
        Labels {
            status: &self.status,
            position_status: &self.position_status,
            regulatory: &self.regulatory,
            exempt: &self.exempt,
            lang,
        }
    }
}

/// The option sets and the page's lookups (cached; misses read in one call per table).
async fn prepare(rd: &Reader, rows: &[RequestRow<'_>]) -> Result<(Sets, Resolved), ApiError> {
    let (status, position_status, regulatory, exempt) = tokio::try_join!(
        rd.options.get(rr::OS_STATUS),
        rd.options.get(rr::OS_POSITION_STATUS),
        rd.options.get(rr::OS_REGULATORY),
        rd.options.get(rr::OS_EXEMPT),
    )?;
    let resolved = rd.lookups.resolve(rr::wanted_lookups(rows)).await?;
    Ok((
        Sets {
            status,
            position_status,
            regulatory,
            exempt,
        },
        resolved,
    ))
}

/// The request as `principal` may see it (`None`: no such request in the partner's companies).
pub async fn load(
    rd: &Reader,
    principal: &Principal,
    id: Uuid,
    lang: Lang,
) -> Result<Option<RecruitingRequest>, ApiError> {
    let raw = rd
        .client
        .get_by_id_within_raw(&detail_query(), rr::PK, id, company_limit(principal))
        .await?;
    let Some(row) = raw
        .as_ref()
        .map(|r| r.parse::<RequestRow>())
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    if !principal.may_see_company(row.dataareaid.as_str().unwrap_or("")) {
        // Not reached (the read is filtered by company); kept as a second check.
        return Ok(None);
    }
    let mut data = render(rd, std::slice::from_ref(&row), Embed::ALL, lang).await?;
    data.pop()
        .map(Some)
        .ok_or_else(|| ApiError::UpstreamFailed("row without primary key".into()))
}
