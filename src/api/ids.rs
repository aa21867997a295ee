//! Path ids: a GUID, or the record's readable number (`USMF-000001`, a candidate number). A GUID
//! and a number cannot be confused (numbers are never GUIDs), so one path segment takes both; a
//! number is resolved to the GUID with one narrow read inside the partner's companies, so a
//! number of another company is as unknown as one that does not exist.

use uuid::Uuid;

use super::params::{Code, ParamValue};
use super::recruiting_requests::company_limit;
use crate::app::AppState;
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

/// The GUID `segment` names: itself, or the one record whose number it is.
pub async fn resolve(
    st: &AppState,
    principal: &Principal,
    segment: &str,
    what: &Numbered,
) -> Result<Uuid, ApiError> {
    if let Ok(id) = Uuid::parse_str(segment) {
        return Ok(id);
    }
    let Code(number) = Code::parse(segment)
        .map_err(|_| ApiError::param("id", "must be a GUID or a number such as USMF-000001"))?;
    let q = Query::new(what.set)
        .select(&[what.pk])
        .filter(Filter::eq(what.number, Literal::Str(number)))
        .filter_opt(company_limit(principal));
    let page = st.client.get_page(&q, 2).await?;
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
