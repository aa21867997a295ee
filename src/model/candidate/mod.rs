//! Candidate-to-hire DTOs and the mapping from Dataverse rows (docs/ats-data-model.md#tables). The candidate
//! row carries its person (`mshr_FK_Person_id`) and request (`mshr_FK_RecruitingRequest_id`) as
//! single-valued expands; the detail route adds the person's eight child collections from a second
//! call (the emulator, like Dataverse for virtual tables, refuses nested `$expand`).
//! Personal columns are selected only for partners with `pii:read` (`pii_sources`, driven by `pii::FIELDS`).

mod dto;
mod map;

use serde_json::Value;
use uuid::Uuid;

use crate::resolve::lookups::{str_of, uuid_of, Wanted};

use super::pii;

pub use super::row::Row;
use super::row::{add_lookups, children, object};
pub use dto::{
    Candidate, Labels, Person, PersonAddress, PersonCertificate, PersonContact, PersonEducation,
    PersonExperience, PersonIdentification, PersonScreening, PersonSkill,
};
pub use map::map_row;

pub const SET: &str = "mshr_hcmcandidatetohireentities";
pub const PK: &str = "mshr_hcmcandidatetohireentityid";
pub const PERSON_SET: &str = "mshr_dirpersonentities";
pub const PERSON_PK: &str = "mshr_dirpersonentityid";
pub const NAV_PERSON: &str = "mshr_FK_Person_id";
pub const NAV_REQUEST: &str = "mshr_FK_RecruitingRequest_id";
pub const REQUEST_SELECT: &[&str] = &[
    "mshr_hcmrecruitingrequestentityid",
    "mshr_recruitingrequestid",
    "mshr_description",
];

pub const NAV_EDUCATION: &str = "mshr_FK_HcmPersonEducationEntity_Person";
pub const NAV_EXPERIENCE: &str = "mshr_FK_HcmPersonProfessionalExperienceEntity_Person";
pub const NAV_ADDRESSES: &str = "mshr_FK_HcmPersonAddressEntity_Person";
pub const NAV_CONTACTS: &str = "mshr_FK_DirPartyContactEntity_Person";
pub const NAV_SKILLS: &str = "mshr_FK_HcmPersonSkillEntity_Person";
pub const NAV_CERTIFICATES: &str = "mshr_FK_HcmPersonCertificateEntity_Person";
pub const NAV_SCREENINGS: &str = "mshr_FK_HcmPersonScreeningEntity_Person";
pub const NAV_IDS: &str = "mshr_FK_HcmPersonIdentificationNumberEntity_Person";

pub const OS_RESULT: &str = "mshr_hcmapplicantintegrationresult";
pub const OS_NOYES: &str = "mshr_noyes";
pub const OS_GENDER: &str = "mshr_hcmpersongender";
pub const OS_MARITAL: &str = "mshr_dirpersonmaritalstatus";
pub const OS_CREDIT_BASIS: &str = "mshr_hcmeducationcreditbasis";
pub const OS_BLANK_YES_NO: &str = "mshr_hrmblankyesno";
pub const OS_CONTACT_TYPE: &str = "mshr_logisticselectronicaddressmethodtype";
pub const OS_SKILL_LEVEL_TYPE: &str = "mshr_hrmskillleveltype";
pub const OS_COMPLETION: &str = "mshr_hcmcompletionstatus";

/// Candidate columns every partner gets.
const CANDIDATE_SELECT: &[&str] = &[
    PK,
    "mshr_candidateid",
    "mshr_partynumber",
    "_mshr_fk_person_id_value",
    "mshr_recruitingrequestid",
    "_mshr_fk_recruitingrequest_id_value",
    "mshr_positionid",
    "_mshr_fk_position_id_value",
    "mshr_availabilitydate",
    "mshr_iswillingtorelocate",
    "mshr_comments",
    "mshr_applicantintegrationresult",
    "mshr_donothirereasoncodeid",
    "_mshr_fk_reasoncode_id_value",
    "mshr_dataareaid",
    "_mshr_dataareaid_id_value",
];

/// Person columns every partner gets.
const PERSON_SELECT: &[&str] = &[
    PERSON_PK,
    "mshr_partynumber",
    "mshr_name",
    "mshr_firstname",
    "mshr_middlename",
    "mshr_lastnameprefix",
    "mshr_lastname",
    "mshr_knownas",
    "mshr_languageid",
];

/// Where a PII field is read from upstream: candidate columns, person columns, or a person child collection.
pub struct PiiSource {
    pub path: &'static str,
    pub candidate: &'static [&'static str],
    pub person: &'static [&'static str],
    pub nav: Option<&'static str>,
}

const fn src(
    path: &'static str,
    candidate: &'static [&'static str],
    person: &'static [&'static str],
) -> PiiSource {
    PiiSource {
        path,
        candidate,
        person,
        nav: None,
    }
}

/// One entry per `pii::FIELDS` path (a unit test keeps the two in step).
pub const PII_SOURCES: &[PiiSource] = &[
    src("person.gender", &["mshr_gender"], &["mshr_gender"]),
    src("person.birth_date", &["mshr_birthdate"], &[]),
    src("person.marital_status", &[], &["mshr_maritalstatus"]),
    src(
        "person.citizenship_country",
        &["mshr_citizenshipcountrycode"],
        &[],
    ),
    src(
        "person.veteran_status",
        &["mshr_veteranstatusid", "_mshr_fk_veteranstatus_id_value"],
        &[],
    ),
    src(
        "person.military_service_start_date",
        &["mshr_militaryservicestartdate"],
        &[],
    ),
    src(
        "person.military_service_end_date",
        &["mshr_militaryserviceenddate"],
        &[],
    ),
    src("person.disabled_veteran", &["mshr_isdisabledveteran"], &[]),
    src("person.primary_email", &[], &["mshr_primarycontactemail"]),
    src("person.primary_phone", &[], &["mshr_primarycontactphone"]),
    PiiSource {
        path: "person.addresses",
        candidate: &[],
        person: &[],
        nav: Some(NAV_ADDRESSES),
    },
    PiiSource {
        path: "person.contacts",
        candidate: &[],
        person: &[],
        nav: Some(NAV_CONTACTS),
    },
    PiiSource {
        path: "person.identification_numbers",
        candidate: &[],
        person: &[],
        nav: Some(NAV_IDS),
    },
];

/// PII sources for the fields `pii::FIELDS` names (none when the partner may not see them).
fn pii_sources(can_see_pii: bool) -> impl Iterator<Item = &'static PiiSource> {
    PII_SOURCES
        .iter()
        .filter(move |s| can_see_pii && pii::is_pii(s.path))
}

/// Candidate `$select`: personal columns only for partners with `pii:read`.
pub fn candidate_select(can_see_pii: bool) -> Vec<&'static str> {
    let mut cols = CANDIDATE_SELECT.to_vec();
    cols.extend(pii_sources(can_see_pii).flat_map(|s| s.candidate.iter().copied()));
    cols
}

/// Person `$select` inside the candidate's `mshr_FK_Person_id` expand.
pub fn person_select(can_see_pii: bool) -> Vec<&'static str> {
    let mut cols = PERSON_SELECT.to_vec();
    cols.extend(pii_sources(can_see_pii).flat_map(|s| s.person.iter().copied()));
    cols
}

/// A person child collection: navigation property, `$select`, lookups.
pub struct ChildDef {
    pub nav: &'static str,
    pub select: &'static [&'static str],
    lookups: &'static [(&'static str, &'static str)],
}

const EDUCATION: ChildDef = ChildDef {
    nav: NAV_EDUCATION,
    select: &[
        "mshr_hcmpersoneducationentityid",
        "mshr_description",
        "_mshr_fk_educationlevel_id_value",
        "_mshr_fk_educationdiscipline_id_value",
        "_mshr_fk_educationinstitution_id_value",
        "mshr_secondaryemphasis",
        "mshr_creditbasis",
        "mshr_creditsearned",
        "mshr_startdate",
        "mshr_enddate",
        "mshr_gradepointaverage",
        "mshr_gradescale",
        "mshr_notes",
    ],
    lookups: &[
        (
            "_mshr_fk_educationlevel_id_value",
            "mshr_hcmeducationdegreeentity",
        ),
        (
            "_mshr_fk_educationdiscipline_id_value",
            "mshr_hcmeducationdisciplineentity",
        ),
        (
            "_mshr_fk_educationinstitution_id_value",
            "mshr_hcmeducationinstitutionentity",
        ),
    ],
};
const EXPERIENCE: ChildDef = ChildDef {
    nav: NAV_EXPERIENCE,
    select: &[
        "mshr_hcmpersonprofessionalexperienceentityid",
        "mshr_employername",
        "mshr_employerposition",
        "mshr_employerlocation",
        "mshr_url",
        "mshr_startdate",
        "mshr_enddate",
        "mshr_allowcontactemployer",
        "mshr_note",
    ],
    lookups: &[],
};
const ADDRESSES: ChildDef = ChildDef {
    nav: NAV_ADDRESSES,
    select: &[
        "mshr_hcmpersonaddressentityid",
        "mshr_locationid",
        "mshr_description",
        "mshr_roles",
        "mshr_street",
        "mshr_city",
        "mshr_state",
        "mshr_county",
        "mshr_zipcode",
        "mshr_countryregionid",
        "mshr_isprimary",
        "mshr_isprivate",
    ],
    lookups: &[],
};
const CONTACTS: ChildDef = ChildDef {
    nav: NAV_CONTACTS,
    select: &[
        "mshr_dirpartycontactentityid",
        "mshr_type",
        "mshr_description",
        "mshr_locator",
        "mshr_locatorextension",
        "mshr_purpose",
        "mshr_isprimary",
        "mshr_ismobilephone",
        "mshr_isprivate",
    ],
    lookups: &[],
};
const SKILLS: ChildDef = ChildDef {
    nav: NAV_SKILLS,
    select: &[
        "mshr_hcmpersonskillentityid",
        "_mshr_fk_skill_id_value",
        "mshr_leveltype",
        "_mshr_fk_ratinglevel_id_value",
        "mshr_yearsofexperience",
        "mshr_leveldate",
        "mshr_verified",
    ],
    lookups: &[
        ("_mshr_fk_skill_id_value", "mshr_hcmskillentity"),
        ("_mshr_fk_ratinglevel_id_value", "mshr_hcmratinglevelentity"),
    ],
};
const CERTIFICATES: ChildDef = ChildDef {
    nav: NAV_CERTIFICATES,
    select: &[
        "mshr_hcmpersoncertificateentityid",
        "_mshr_fk_certificatetype_id_value",
        "mshr_startdate",
        "mshr_enddate",
        "mshr_notes",
    ],
    lookups: &[(
        "_mshr_fk_certificatetype_id_value",
        "mshr_hcmcertificatetypeentity",
    )],
};
const SCREENINGS: ChildDef = ChildDef {
    nav: NAV_SCREENINGS,
    select: &[
        "mshr_hcmpersonscreeningentityid",
        "_mshr_fk_screeningtype_id_value",
        "mshr_status",
        "mshr_requiredby",
        "mshr_completeddate",
        "mshr_note",
    ],
    lookups: &[(
        "_mshr_fk_screeningtype_id_value",
        "mshr_hcmscreeningtypeentity",
    )],
};
const IDS: ChildDef = ChildDef {
    nav: NAV_IDS,
    select: &[
        "mshr_hcmpersonidentificationnumberentityid",
        "_mshr_fk_identificationtype_id_value",
        "mshr_identificationnumber",
        "_mshr_fk_issuingagency_id_value",
        "mshr_issueddate",
        "mshr_expirationdate",
        "mshr_isprimary",
        "mshr_description",
    ],
    lookups: &[
        (
            "_mshr_fk_identificationtype_id_value",
            "mshr_hcmidentificationtypeentity",
        ),
        (
            "_mshr_fk_issuingagency_id_value",
            "mshr_hcmissuingagencyentity",
        ),
    ],
};

pub const CHILDREN: &[ChildDef] = &[
    EDUCATION,
    EXPERIENCE,
    ADDRESSES,
    CONTACTS,
    SKILLS,
    CERTIFICATES,
    SCREENINGS,
    IDS,
];

/// The person collections to expand: the PII ones only for partners with `pii:read`.
pub fn children_for(can_see_pii: bool) -> impl Iterator<Item = &'static ChildDef> {
    CHILDREN.iter().filter(move |c| {
        can_see_pii
            || !PII_SOURCES
                .iter()
                .any(|s| s.nav == Some(c.nav) && pii::is_pii(s.path))
    })
}

/// (lookup property, target table) on the candidate row.
const LOOKUPS: &[(&str, &str)] = &[
    ("_mshr_dataareaid_id_value", "cdm_company"),
    ("_mshr_fk_position_id_value", "mshr_hcmpositionv2entity"),
    ("_mshr_fk_reasoncode_id_value", "mshr_hcmreasoncodeentity"),
    (
        "_mshr_fk_veteranstatus_id_value",
        "mshr_hcmveteranstatusentity",
    ),
];

/// Moves the person's child collections (from the second, person-keyed call) into the candidate
/// row's expanded person, so one mapping handles both shapes.
pub fn attach_children(candidate: &mut Row, person_children: Row) {
    let Some(person) = candidate.get_mut(NAV_PERSON).and_then(Value::as_object_mut) else {
        return;
    };
    for c in CHILDREN {
        if let Some(v) = person_children.get(c.nav) {
            person.insert(c.nav.to_string(), v.clone());
        }
    }
}

/// The person id a candidate row points at.
pub fn person_id(row: &Row) -> Option<Uuid> {
    uuid_of(row, "_mshr_fk_person_id_value")
}

/// The company code (`mshr_dataareaid`) of a row, lower-case.
pub fn company_of(row: &Row) -> String {
    str_of(row, "mshr_dataareaid")
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Every lookup the given candidate rows (and their person's children) reference.
pub fn wanted_lookups(rows: &[Row]) -> Wanted {
    let mut w = Wanted::default();
    for row in rows {
        add_lookups(&mut w, row, LOOKUPS);
        if let Some(person) = object(row, NAV_PERSON) {
            for c in CHILDREN {
                children(person, c.nav).for_each(|r| add_lookups(&mut w, r, c.lookups));
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_pii_field_has_exactly_one_upstream_source() {
        let fields: BTreeSet<&str> = pii::FIELDS.iter().copied().collect();
        let sources: BTreeSet<&str> = PII_SOURCES.iter().map(|s| s.path).collect();
        assert_eq!(fields, sources);
        assert_eq!(PII_SOURCES.len(), sources.len(), "duplicate source");
    }

    #[test]
    fn no_personal_column_or_collection_is_requested_without_pii_read() {
        let cand = candidate_select(false);
        let person = person_select(false);
        for s in PII_SOURCES {
            for c in s.candidate {
                assert!(!cand.contains(c), "{c} selected without pii");
                assert!(candidate_select(true).contains(c));
            }
            for c in s.person {
                assert!(!person.contains(c), "{c} selected without pii");
                assert!(person_select(true).contains(c));
            }
        }
        let navs: Vec<&str> = children_for(false).map(|c| c.nav).collect();
        assert_eq!(navs.len(), 5);
        assert!(
            !navs.contains(&NAV_ADDRESSES)
                && !navs.contains(&NAV_CONTACTS)
                && !navs.contains(&NAV_IDS)
        );
        assert_eq!(children_for(true).count(), 8);
    }

    #[test]
    fn attach_children_moves_collections_into_the_person() {
        let mut cand: Row = serde_json::from_value(serde_json::json!({
            NAV_PERSON: {"mshr_dirpersonentityid": "x"}
        }))
        .unwrap_or_default();
        let kids: Row = serde_json::from_value(serde_json::json!({
            NAV_SKILLS: [{"a": 1}], "other": 2
        }))
        .unwrap_or_default();
        attach_children(&mut cand, kids);
        assert_eq!(cand[NAV_PERSON][NAV_SKILLS][0]["a"], 1);
        assert!(cand[NAV_PERSON].get("other").is_none());
    }
}
