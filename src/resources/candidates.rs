//! Candidates: the candidate and person-children queries (personal columns selected only with
//! `pii:read`), the list query, the rendering and the one-candidate read the hire and `GET` share.

use uuid::Uuid;

use super::recruiting_requests::company_limit;
use super::Reader;
use crate::auth::Principal;
use crate::model::candidate::{self as cand, Candidate, CandidateRow, Labels, PersonRow};
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::upstream::odata::{Expand, Filter, Literal, Order, Query};

/// Its id or its number (`mshr_candidateid`).
pub const NUMBERED: super::numbers::Numbered = super::numbers::Numbered {
    set: cand::SET,
    pk: cand::PK,
    number: "mshr_candidateid",
    not_found: NOT_FOUND,
};

pub const NOT_FOUND: &str = "no candidate with this id";

/// What a list of candidates is narrowed by (already checked for form by the caller).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter<'a> {
    /// Applicant integration result keys (`/v1/option-sets/applicant-integration-result`).
    pub status: Option<&'a [String]>,
    pub company: Option<&'a str>,
    /// Recruiting request id (GUID) or number.
    pub recruiting_request: Option<&'a str>,
}

/// The candidate with its person (names, plus personal columns only with `pii:read`) and request.
pub fn candidate_query(can_see_pii: bool) -> Query {
    Query::new(cand::SET)
        .select(&cand::candidate_select(can_see_pii))
        .expand(Expand::new(cand::NAV_PERSON).select(&cand::person_select(can_see_pii)))
        .expand(Expand::new(cand::NAV_REQUEST).select(cand::REQUEST_SELECT))
}

/// The person's child collections (second call: nested `$expand` is not available).
pub fn children_query(can_see_pii: bool) -> Query {
    cand::children_for(can_see_pii).fold(
        Query::new(cand::PERSON_SET).select(&[cand::PERSON_PK]),
        |q, c| q.expand(Expand::new(c.nav).select(c.select)),
    )
}

/// The first page's query of a list: the filters, the partner's companies, a stable order.
pub async fn list_query(
    rd: &Reader,
    f: ListFilter<'_>,
    principal: &Principal,
) -> Result<Query, ApiError> {
    let status = f
        .status
        .map(|keys| (cand::OS_RESULT, "mshr_applicantintegrationresult", keys));
    let mut filters = super::shared_filters(rd, principal, status, f.company).await?;
    if let Some(r) = f.recruiting_request {
        filters.push(match Uuid::parse_str(r) {
            Ok(id) => Filter::eq("_mshr_fk_recruitingrequest_id_value", Literal::Guid(id)),
            Err(_) => Filter::eq("mshr_recruitingrequestid", Literal::Str(r.to_string())),
        });
    }
    filters.extend(company_limit(principal));
    Ok(candidate_query(principal.pii)
        .filter_opt(Filter::all(filters))
        // Readable ids repeat across companies: the key makes the order unique, so pages neither
        // skip nor repeat a row (docs/dataverse-web-api.md#query-options).
        .order_by("mshr_candidateid", Order::Asc)
        .order_by(cand::PK, Order::Asc))
}

/// Labels and lookups for a page, then the mapping (personal fields omitted unless
/// `can_see_pii`: the only way candidate bodies are shaped for partners). Steady state: no
/// upstream call (all cached).
pub async fn render(
    rd: &Reader,
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
        rd.options.get(cand::OS_RESULT),
        rd.options.get(cand::OS_NOYES),
        rd.options.get(cand::OS_GENDER),
        rd.options.get(cand::OS_MARITAL),
        rd.options.get(cand::OS_CREDIT_BASIS),
        rd.options.get(cand::OS_BLANK_YES_NO),
        rd.options.get(cand::OS_CONTACT_TYPE),
        rd.options.get(cand::OS_SKILL_LEVEL_TYPE),
        rd.options.get(cand::OS_COMPLETION),
    )?;
    let resolved = rd.lookups.resolve(cand::wanted_lookups(rows)).await?;
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
    Ok(super::steps::map(rows, |r| {
        cand::map_row(r, detail, can_see_pii, &labels, &resolved)
    })
    .await)
}

/// The candidate as `GET /v1/candidates/{id}` shows it to `principal`; `None` when it does not
/// exist or belongs to a company the partner may not see.
pub async fn load(
    rd: &Reader,
    principal: &Principal,
    id: Uuid,
    lang: Lang,
) -> Result<Option<Candidate>, ApiError> {
    let Some(raw) = rd
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
            rd.client
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
    let data = render(rd, std::slice::from_ref(&row), true, principal.pii, lang).await?;
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
