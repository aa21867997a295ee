//! The tables the gateway reads or writes, gathered from the constants the code itself queries
//! (no second hand-written list): the security role of the application user must read each one.

use crate::model::{candidate, recruiting_request as rr};
use crate::resolve::lookups::LOOKUP_TABLES;
use crate::writes::request::COLLECTIONS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub set: &'static str,
    /// Primary key column (the probe selects only it: virtual-table columns cost).
    pub pk: &'static str,
    /// What the gateway needs it for, for the operator.
    pub used_for: &'static str,
}

/// Every table the gateway uses, each once, in the order the checklist shows them.
pub fn integration_tables() -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    let mut add = |set: &'static str, pk: &'static str, used_for: &'static str| {
        if !out.iter().any(|t| t.set == set) {
            out.push(Table { set, pk, used_for });
        }
    };
    add(rr::SET, rr::PK, "recruiting requests");
    // A child's `$select` starts with its key.
    for (set, select) in [
        (rr::POSITIONS_SET, rr::POSITION_SELECT),
        (rr::SKILLS_SET, rr::SKILL_SELECT),
        (rr::EDUCATION_SET, rr::EDUCATION_SELECT),
    ] {
        add(set, select[0], "recruiting request details ($expand)");
    }
    add(candidate::SET, candidate::PK, "candidates and hires");
    add(
        candidate::PERSON_SET,
        candidate::PERSON_PK,
        "candidates and hires",
    );
    for c in COLLECTIONS {
        add(c.set, c.pk, "candidate details and hires");
    }
    for t in LOOKUP_TABLES {
        add(t.set, t.pk, "names of looked-up values and reference lists");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_once_with_its_key() {
        let t = integration_tables();
        assert_eq!(t[0].set, rr::SET);
        let mut sets: Vec<_> = t.iter().map(|t| t.set).collect();
        sets.sort_unstable();
        sets.dedup();
        assert_eq!(sets.len(), t.len(), "no duplicates");
        assert!(t.iter().any(|t| t.set == "mshr_hcmpersonskillentities"));
        assert!(t
            .iter()
            .any(|t| t.set == "cdm_companies" && t.pk == "cdm_companyid"));
        for t in &t {
            let logical = t.set.strip_suffix("ies").map(|s| format!("{s}y"));
            assert_eq!(
                Some(format!("{}id", logical.unwrap_or_default())),
                Some(t.pk.to_string()),
                "{}",
                t.set
            );
        }
    }
}
