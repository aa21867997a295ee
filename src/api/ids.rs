//! Path ids: a GUID, or the record's readable number (`USMF-000001`, a candidate number). A GUID
//! and a number cannot be confused (numbers are never GUIDs), so one path segment takes both; the
//! number is resolved by the resource (`resources::numbers`), inside the partner's companies.

use uuid::Uuid;

use super::params::{Code, ParamValue};
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::resources::numbers::{self, Numbered};
use crate::resources::Reader;

/// The GUID `segment` names: itself, or the one record whose number it is.
pub async fn resolve(
    rd: &Reader,
    principal: &Principal,
    segment: &str,
    what: &Numbered,
) -> Result<Uuid, ApiError> {
    if let Ok(id) = Uuid::parse_str(segment) {
        return Ok(id);
    }
    let Code(number) = Code::parse(segment)
        .map_err(|_| ApiError::param("id", "must be a GUID or a number such as USMF-000001"))?;
    numbers::resolve(rd, principal, number, what).await
}
