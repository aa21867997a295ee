//! Readable numbers (`USMF-000001`, a candidate number) → ids, with one narrow read inside the
//! partner's companies, so a number of another company is as unknown as one that does not exist.

use uuid::Uuid;

use super::recruiting_requests::company_limit;
use super::Reader;
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::upstream::odata::{Filter, Literal, Query};

/// Where a resource keeps its id and its number.
pub struct Numbered {
    pub set: &'static str,
    pub pk: &'static str,
    pub number: &'static str,
    /// The 404 detail.
    pub not_found: &'static str,
}

/// The id of the one record numbered `number` in the partner's companies.
pub async fn resolve(
    rd: &Reader,
    principal: &Principal,
    number: String,
    what: &Numbered,
) -> Result<Uuid, ApiError> {
    let q = Query::new(what.set)
        .select(&[what.pk])
        .filter(Filter::eq(what.number, Literal::Str(number)))
        .filter_opt(company_limit(principal));
    let page = rd.client.get_page(&q, 2).await?;
    let ids: Vec<Uuid> = page
        .rows
        .iter()
        .filter_map(|r| {
            r.get(what.pk)?
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
        })
        .collect();
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(ApiError::NotFound(what.not_found.into())),
        _ => Err(ApiError::param(
            "id",
            "this number is used in more than one of your companies; use the GUID",
        )),
    }
}
