//! Candidate-to-hire DTOs and the mapping from Dataverse rows (docs/ats-data-model.md#tables). The candidate
//! row carries its person (`mshr_FK_Person_id`) and request (`mshr_FK_RecruitingRequest_id`) as
//! single-valued expands; the detail route adds the person's eight child collections from a second
//! call (the emulator, like Dataverse for virtual tables, refuses nested `$expand`).
//! Personal columns are selected only for partners with `pii:read` (`pii_sources`, driven by `pii::FIELDS`).

mod dto;
mod map;
mod rows;

use uuid::Uuid;

use super::pii;

pub use dto::{
    Candidate, Labels, Person, PersonAddress, PersonCertificate, PersonContact, PersonEducation,
    PersonExperience, PersonIdentification, PersonScreening, PersonSkill, Pii,
};
pub use map::{map_row, wanted_lookups};
pub use rows::{CandidateRow, PersonRow};

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

/// A person child collection: navigation property and `$select` (the row type is in `rows`).
pub struct ChildDef {
    pub nav: &'static str,
    pub select: &'static [&'static str],
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

impl CandidateRow<'_> {
    pub fn id(&self) -> Option<Uuid> {
        self.id.uuid()
    }

    /// The person id the row points at.
    pub fn person_id(&self) -> Option<Uuid> {
        self.person_id.uuid()
    }

    /// The company code (`mshr_dataareaid`), lower-case.
    pub fn company_code(&self) -> String {
        self.dataareaid.as_str().unwrap_or("").to_ascii_lowercase()
    }
}

impl<'a> PersonRow<'a> {
    /// The person id (a children read is keyed by it).
    pub fn id(&self) -> Option<Uuid> {
        self.id.uuid()
    }
}

/// Copies the person's child collections (from the second, person-keyed read) into the candidate
/// row's expanded person, so one mapping handles both shapes (cheap: cells borrow from the body).
pub fn attach_children<'a>(candidate: &mut CandidateRow<'a>, kids: &PersonRow<'a>) {
    let Some(person) = candidate.person.as_mut() else {
        return;
    };
    person.education.clone_from(&kids.education);
    person.experience.clone_from(&kids.experience);
    person.addresses.clone_from(&kids.addresses);
    person.contacts.clone_from(&kids.contacts);
    person.skills.clone_from(&kids.skills);
    person.certificates.clone_from(&kids.certificates);
    person.screenings.clone_from(&kids.screenings);
    person
        .identification_numbers
        .clone_from(&kids.identification_numbers);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_rows::{full_row, nulls};
    use serde_json::{json, Map, Value};
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
        let cand =
            serde_json::to_vec(&json!({PK: "c", NAV_PERSON: {PERSON_PK: "p"}})).expect("json");
        let kids = serde_json::to_vec(&json!({
            PERSON_PK: "p", NAV_SKILLS: [{"mshr_hcmpersonskillentityid": "s"}], "other": 2
        }))
        .expect("json");
        let mut cand: CandidateRow = serde_json::from_slice(&cand).expect("row");
        let kids: PersonRow = serde_json::from_slice(&kids).expect("row");
        attach_children(&mut cand, &kids);
        let person = cand.person.as_ref().expect("person");
        assert_eq!(person.skills.len(), 1);
        assert_eq!(person.skills[0].id.as_str(), Some("s"));
        assert_eq!(
            kids.skills.len(),
            1,
            "copied: a person may have several candidates"
        );
    }

    /// A value for `col` (GUIDs for keys and lookups, the option code 1 for option columns, a
    /// number, a date, or text).
    fn value_for(col: &str, n: u128) -> Value {
        const OPTIONS: &[&str] = &[
            "mshr_applicantintegrationresult",
            "mshr_iswillingtorelocate",
            "mshr_gender",
            "mshr_isdisabledveteran",
            "mshr_maritalstatus",
            "mshr_creditbasis",
            "mshr_allowcontactemployer",
            "mshr_isprimary",
            "mshr_isprivate",
            "mshr_type",
            "mshr_ismobilephone",
            "mshr_leveltype",
            "mshr_verified",
            "mshr_status",
        ];
        const NUMBERS: &[&str] = &[
            "mshr_creditsearned",
            "mshr_gradepointaverage",
            "mshr_yearsofexperience",
        ];
        if col.ends_with("entityid") || col.starts_with('_') {
            json!(Uuid::from_u128(n).to_string())
        } else if OPTIONS.contains(&col) {
            json!(1)
        } else if NUMBERS.contains(&col) {
            json!(2.5)
        } else if col.ends_with("date") {
            json!("2026-01-04T00:00:00Z")
        } else {
            json!(format!("{col}-text"))
        }
    }

    /// The candidate page body with every column a `pii:read` partner's reads select, and the
    /// person's children from the second read.
    fn full_candidate() -> (Vec<u8>, Vec<u8>) {
        let mut cand = full_row(&candidate_select(true), 100, value_for);
        let mut person = full_row(&person_select(true), 200, value_for);
        person.insert(PERSON_PK.into(), json!(Uuid::from_u128(42).to_string()));
        cand.insert(
            "_mshr_fk_person_id_value".into(),
            json!(Uuid::from_u128(42).to_string()),
        );
        cand.insert(NAV_PERSON.into(), Value::Object(person));
        cand.insert(
            NAV_REQUEST.into(),
            Value::Object(full_row(REQUEST_SELECT, 300, value_for)),
        );
        let mut kids = Map::new();
        kids.insert(PERSON_PK.into(), json!(Uuid::from_u128(42).to_string()));
        for (i, c) in CHILDREN.iter().enumerate() {
            kids.insert(
                c.nav.into(),
                json!([full_row(c.select, 1000 + 100 * i as u128, value_for)]),
            );
        }
        let body = |v: Map<String, Value>| serde_json::to_vec(&v).expect("json");
        (body(cand), body(kids))
    }

    fn labels_with(set: &crate::resolve::options::OptionSetInfo) -> Labels<'_> {
        Labels {
            result: set,
            noyes: set,
            gender: set,
            marital: set,
            credit_basis: set,
            blank_yes_no: set,
            contact_type: set,
            skill_level_type: set,
            completion: set,
            lang: crate::resolve::lang::Lang::EnUs,
        }
    }

    fn yes() -> crate::resolve::options::OptionSetInfo {
        crate::resolve::options::parse_option_set(
            "x",
            &json!({"Options": [{"Value": 1, "ExternalValue": "Yes", "Label": {"LocalizedLabels": [{"Label": "Yes", "LanguageCode": 1033}]}}]}),
        )
        .expect("set")
    }

    /// A typo in a column or annotation name would leave a member `null`: everything selected is read.
    #[test]
    fn every_selected_column_is_read() {
        let (cand, kids) = full_candidate();
        let mut row: CandidateRow = serde_json::from_slice(&cand).expect("row");
        let kids: PersonRow = serde_json::from_slice(&kids).expect("row");
        attach_children(&mut row, &kids);
        let set = yes();
        let resolved = crate::resolve::lookups::Resolved::default();
        let dto = map_row(&row, true, true, &labels_with(&set), &resolved).expect("mapped");
        let v = serde_json::to_value(&dto).expect("json");
        let mut missing = Vec::new();
        nulls(&v, "", &mut missing);
        // Lookups no resolver answered show their FormattedValue as code and no name.
        missing.retain(|p| !p.ends_with("/name") || p == "/person/name");
        assert!(missing.is_empty(), "not read: {missing:?}");
        assert_eq!(v["company"]["code"], "_mshr_dataareaid_id_value-code");
        assert_eq!(v["recruiting_request"]["name"], "mshr_description-text");
        assert_eq!(
            v["person"]["skills"][0]["skill"]["code"],
            "_mshr_fk_skill_id_value-code"
        );
        assert_eq!(v["person"]["addresses"][0]["is_primary"], true);
        assert_eq!(v["person"]["birth_date"], "2026-01-04");
        let want = wanted_lookups(std::slice::from_ref(&row));
        assert_eq!(want.count(), 4 + 3 + 2 + 1 + 1 + 2);
    }

    /// Personal fields are left out of the typed output exactly as `pii::redact` removes them.
    #[test]
    fn hidden_personal_fields_match_the_redaction_rule() {
        let (cand, kids) = full_candidate();
        let mut row: CandidateRow = serde_json::from_slice(&cand).expect("row");
        let kids: PersonRow = serde_json::from_slice(&kids).expect("row");
        attach_children(&mut row, &kids);
        let set = yes();
        let resolved = crate::resolve::lookups::Resolved::default();
        for detail in [false, true] {
            let map =
                |pii| map_row(&row, detail, pii, &labels_with(&set), &resolved).expect("mapped");
            let mut redacted = serde_json::to_value(map(true)).expect("json");
            pii::redact(&mut redacted, false);
            let hidden = serde_json::to_value(map(false)).expect("json");
            assert_eq!(hidden, redacted);
            assert!(hidden["person"].get("birth_date").is_none());
            assert!(
                serde_json::to_value(map(true)).expect("json")["person"]["birth_date"].is_string()
            );
        }
    }
}
