//! Reference data: the option sets and lookup lists partners may read, and the whole-list read
//! (cached) that the reference routes and the hire's code checks share.

use std::sync::Arc;

use super::Reader;
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::resolve::lookups::{self, str_of, uuid_of, LookupRef};
use crate::resolve::options::OptionValue;
use crate::upstream::odata::{Filter, Literal, Order, Query};

/// Partner-facing option-set names → the environment's global option sets
/// (docs/ats-data-model.md#option-sets).
pub const OPTION_SETS: &[(&str, &str)] = &[
    (
        "recruiting-request-status",
        "mshr_hcmrecruitingrequeststatus",
    ),
    (
        "recruiting-request-position-status",
        "mshr_hcmrecruitingrequestpositionstatus",
    ),
    ("regulatory-job-category", "mshr_hcmregulatoryjobcategory"),
    ("job-exempt-status", "cdm_jobexemptstatus"),
    (
        "applicant-integration-result",
        "mshr_hcmapplicantintegrationresult",
    ),
    ("blank-yes-no", "mshr_hrmblankyesno"),
    ("completion-status", "mshr_hcmcompletionstatus"),
    ("contact-type", "mshr_logisticselectronicaddressmethodtype"),
    ("education-credit-basis", "mshr_hcmeducationcreditbasis"),
    ("gender", "mshr_hcmpersongender"),
    ("marital-status", "mshr_dirpersonmaritalstatus"),
    ("months-of-year", "mshr_monthsofyear"),
    ("no-yes", "mshr_noyes"),
    ("period-unit", "mshr_periodunit"),
    ("screening-frequency", "mshr_hcmfrequencyunit"),
    (
        "screening-frequency-generate-from",
        "mshr_hcmfrequencygeneratefrom",
    ),
    ("skill-level-type", "mshr_hrmskillleveltype"),
];

/// Lookup lists: partner name → target table (code/name columns in `resolve::lookups`).
pub const LOOKUP_LISTS: &[(&str, &str)] = &[
    ("skills", "mshr_hcmskillentity"),
    ("rating-levels", "mshr_hcmratinglevelentity"),
    ("certificate-types", "mshr_hcmcertificatetypeentity"),
    ("screening-types", "mshr_hcmscreeningtypeentity"),
    ("education-degrees", "mshr_hcmeducationdegreeentity"),
    ("education-levels", "mshr_hcmeducationlevelentity"),
    ("education-disciplines", "mshr_hcmeducationdisciplineentity"),
    (
        "education-institutions",
        "mshr_hcmeducationinstitutionentity",
    ),
    ("departments", "mshr_omdepartmententity"),
    ("jobs", "mshr_hcmjobentity"),
    ("positions", "mshr_hcmpositionv2entity"),
    ("identification-types", "mshr_hcmidentificationtypeentity"),
    (
        "country-regions",
        "mshr_logisticsaddresscountryregionentity",
    ),
];

/// An option set's values in `lang`: stable `key`, numeric `code`, `label`.
pub async fn option_values(
    rd: &Reader,
    set: &'static str,
    lang: Lang,
) -> Result<Vec<OptionValue>, ApiError> {
    let info = rd.options.get(set).await?;
    Ok(info.options.iter().map(|o| o.value(lang)).collect())
}

/// Whether `table`'s list is read per partner companies (it is company-striped and large).
pub fn per_company(table: &lookups::LookupTable) -> bool {
    table.logical == "mshr_hcmpositionv2entity"
}

/// Reads a whole lookup table (reference tables hold dozens to a few thousand rows), company-limited
/// where the table is company-striped.
pub async fn fetch_lookup_list(
    rd: &Reader,
    table: &'static lookups::LookupTable,
    companies: &[String],
) -> Result<Arc<Vec<LookupRef>>, ApiError> {
    let striped = per_company(table);
    let key = format!(
        "{}|{}",
        table.logical,
        if striped {
            companies.join(",")
        } else {
            String::new()
        }
    );
    let client = rd.client.clone();
    let companies = companies.to_vec();
    rd.reference
        .entry(key)
        .or_try_insert_with(async move {
            let mut select = vec![table.pk, table.code];
            if table.name != table.code {
                select.push(table.name);
            }
            let mut q = Query::new(table.set)
                .select(&select)
                .order_by(table.code, Order::Asc);
            if striped && !companies.is_empty() {
                q = q.filter(Filter::is_in(
                    "mshr_dataareaid",
                    companies.into_iter().map(Literal::Str).collect(),
                ));
            }
            let mut page = client.get_page(&q, 5000).await?;
            let mut rows = std::mem::take(&mut page.rows);
            // Bounded: reference tables are small; stop after 10 pages whatever happens.
            for _ in 0..10 {
                let Some(next) = page.next_link.take() else {
                    break;
                };
                page = client.get_next(&next, 5000).await?;
                rows.append(&mut page.rows);
            }
            let list = rows
                .iter()
                .filter_map(|r| {
                    Some(LookupRef {
                        id: uuid_of(r, table.pk)?,
                        code: str_of(r, table.code).map(Arc::from),
                        name: str_of(r, table.name).map(Arc::from),
                    })
                })
                .collect();
            Ok::<_, crate::upstream::error::UpstreamError>(Arc::new(list))
        })
        .await
        .map(|e| crate::ops::metrics::cached("reference", e))
        .map_err(|e| ApiError::from((*e).clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_has_a_lookup_table() {
        for (name, logical) in LOOKUP_LISTS {
            assert!(lookups::table(logical).is_some(), "{name}");
        }
    }
}
