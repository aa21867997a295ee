//! The resources partners read, one home each: how a recruiting request, a candidate or a reference
//! list is queried (through `upstream::odata`), mapped (through `model/`), limited to the partner's
//! companies and personal-data right, and cached. The HTTP handlers in `api/`, the change scanner
//! and the hire all call these functions; none of them builds these queries itself.

pub mod candidates;
pub mod numbers;
pub mod recruiting_requests;
pub mod reference;
pub mod steps;
pub mod warmup;

use std::sync::Arc;

use crate::auth::Principal;
use crate::cache::ResponseCache;
use crate::problem::ApiError;
use crate::resolve::lookups::{LookupRef, LookupResolver};
use crate::resolve::options::OptionCatalog;
use crate::upstream::odata::{Filter, Literal};
use crate::upstream::DataverseClient;

/// What reading a resource needs, and nothing else: the Dataverse client, the label and lookup
/// resolvers, the reference-list cache and the partner response cache. Cheap to clone (shared
/// handles), so every subsystem that reads gets its own copy at start.
#[derive(Clone)]
pub struct Reader {
    pub client: Arc<DataverseClient>,
    pub options: Arc<OptionCatalog>,
    pub lookups: Arc<LookupResolver>,
    /// Whole reference lists by table (and companies, where the table is per company).
    pub reference: moka::future::Cache<String, Arc<Vec<LookupRef>>>,
    /// Mapped partner responses by shaping (`[cache]`).
    pub responses: ResponseCache,
}

/// Option keys of `set` → their codes in this environment, as an `In` list; an unknown key is a
/// 400 naming `param` and the keys there are.
pub(crate) async fn option_codes(
    rd: &Reader,
    set: &'static str,
    keys: &[String],
    param: &'static str,
) -> Result<Vec<Literal>, ApiError> {
    let set = rd.options.get(set).await?;
    keys.iter()
        .map(|k| {
            set.by_key(k).map(|o| Literal::Int(o.code)).ok_or_else(|| {
                ApiError::param(
                    param,
                    format!("`{k}` is not a status (one of: {})", set.keys().join(", ")),
                )
            })
        })
        .collect()
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

/// The first filters every list shares: status keys (of option set `set`, on `column`) and the
/// `company` parameter (403 outside the partner's companies). The caller adds its own, then the
/// partner's company limit.
pub(crate) async fn shared_filters(
    rd: &Reader,
    principal: &Principal,
    status: Option<(&'static str, &'static str, &[String])>,
    company: Option<&str>,
) -> Result<Vec<Filter>, ApiError> {
    let mut filters = Vec::new();
    if let Some((set, column, keys)) = status {
        let codes = option_codes(rd, set, keys, "status").await?;
        filters.push(Filter::is_in(column, codes));
    }
    if let Some(c) = company {
        check_company_param(principal, c)?;
        filters.push(Filter::eq(
            "mshr_dataareaid",
            Literal::Str(c.to_lowercase()),
        ));
    }
    Ok(filters)
}
