//! Candidate-to-hire DTOs and the mapping from Dataverse rows (data model §2.6–§2.18). The candidate
//! row carries its person (`mshr_FK_Person_id`) and request (`mshr_FK_RecruitingRequest_id`) as
//! single-valued expands; the detail route adds the person's eight child collections from a second
//! call (the emulator, like Dataverse for virtual tables, refuses nested `$expand`).
//! Personal columns are selected only for partners with `pii:read` (`pii_sources`, driven by `pii::FIELDS`).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::pii;
use super::recruiting_request::date_of;
use crate::resolve::lang::Lang;
use crate::resolve::lookups::{str_of, uuid_of, LookupRef, Resolved, Wanted};
use crate::resolve::options::{OptionSetInfo, OptionValue};

pub type Row = Map<String, Value>;

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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonEducation {
    pub id: Uuid,
    pub description: Option<String>,
    pub education_level: Option<LookupRef>,
    pub discipline: Option<LookupRef>,
    pub institution: Option<LookupRef>,
    pub secondary_emphasis: Option<String>,
    pub credit_basis: Option<OptionValue>,
    pub credits_earned: Option<f64>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub grade_point_average: Option<f64>,
    pub grade_scale: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonExperience {
    pub id: Uuid,
    pub employer: Option<String>,
    pub position: Option<String>,
    pub location: Option<String>,
    pub url: Option<String>,
    pub start_date: Option<String>,
    /// `null` while still employed there.
    pub end_date: Option<String>,
    pub allow_contact_employer: Option<OptionValue>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonAddress {
    pub id: Uuid,
    pub location_id: Option<String>,
    pub description: Option<String>,
    pub roles: Vec<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub county: Option<String>,
    pub zip_code: Option<String>,
    pub country_region: Option<String>,
    pub is_primary: Option<bool>,
    pub is_private: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonContact {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: Option<OptionValue>,
    pub description: Option<String>,
    pub locator: Option<String>,
    pub extension: Option<String>,
    pub purpose: Option<String>,
    pub is_primary: Option<bool>,
    pub is_mobile: Option<bool>,
    pub is_private: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonSkill {
    pub id: Uuid,
    pub skill: Option<LookupRef>,
    pub level_type: Option<OptionValue>,
    pub rating_level: Option<LookupRef>,
    pub years_of_experience: Option<f64>,
    pub level_date: Option<String>,
    pub verified: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonCertificate {
    pub id: Uuid,
    pub certificate_type: Option<LookupRef>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonScreening {
    pub id: Uuid,
    pub screening_type: Option<LookupRef>,
    pub status: Option<OptionValue>,
    pub required_by: Option<String>,
    pub completed_date: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonIdentification {
    pub id: Uuid,
    pub identification_type: Option<LookupRef>,
    pub number: Option<String>,
    pub issuing_agency: Option<LookupRef>,
    pub issue_date: Option<String>,
    pub expiration_date: Option<String>,
    pub is_primary: Option<bool>,
    pub description: Option<String>,
}

/// The candidate's person. Fields listed in `pii::FIELDS` are omitted for partners without `pii:read`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    pub id: Uuid,
    pub party_number: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name_prefix: Option<String>,
    pub last_name: Option<String>,
    pub known_as: Option<String>,
    /// ISO 639-1.
    pub language: Option<String>,
    /// PII.
    pub gender: Option<OptionValue>,
    /// PII. `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// PII.
    pub marital_status: Option<OptionValue>,
    /// PII. Country/region code.
    pub citizenship_country: Option<String>,
    /// PII.
    pub veteran_status: Option<LookupRef>,
    /// PII.
    pub military_service_start_date: Option<String>,
    /// PII.
    pub military_service_end_date: Option<String>,
    /// PII.
    pub disabled_veteran: Option<bool>,
    /// PII.
    pub primary_email: Option<String>,
    /// PII.
    pub primary_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub education: Option<Vec<PersonEducation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experience: Option<Vec<PersonExperience>>,
    /// PII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<PersonAddress>>,
    /// PII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<PersonContact>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<PersonSkill>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Vec<PersonCertificate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenings: Option<Vec<PersonScreening>>,
    /// PII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identification_numbers: Option<Vec<PersonIdentification>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    pub id: Uuid,
    /// Readable id, e.g. `CAND-000001`.
    pub candidate_number: Option<String>,
    /// Applicant integration result (`not_processed`, `hired`, `not_hired`, `dismissed`).
    pub status: Option<OptionValue>,
    pub company: Option<LookupRef>,
    pub recruiting_request: Option<LookupRef>,
    pub position: Option<LookupRef>,
    /// `YYYY-MM-DD`: earliest start.
    pub availability_date: Option<String>,
    pub willing_to_relocate: Option<bool>,
    pub comments: Option<String>,
    pub do_not_hire_reason: Option<LookupRef>,
    pub person: Option<Person>,
}

/// Option sets needed to render candidates, fetched by the caller from the catalog.
pub struct Labels<'a> {
    pub result: &'a OptionSetInfo,
    pub noyes: &'a OptionSetInfo,
    pub gender: &'a OptionSetInfo,
    pub marital: &'a OptionSetInfo,
    pub credit_basis: &'a OptionSetInfo,
    pub blank_yes_no: &'a OptionSetInfo,
    pub contact_type: &'a OptionSetInfo,
    pub skill_level_type: &'a OptionSetInfo,
    pub completion: &'a OptionSetInfo,
    pub lang: Lang,
}

fn object<'a>(row: &'a Row, nav: &str) -> Option<&'a Row> {
    row.get(nav).and_then(Value::as_object)
}

fn children<'a>(row: &'a Row, nav: &str) -> impl Iterator<Item = &'a Row> {
    row.get(nav)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

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

fn add_lookups(wanted: &mut Wanted, row: &Row, lookups: &[(&str, &'static str)]) {
    for (prop, target) in lookups {
        wanted.add(target, uuid_of(row, prop));
    }
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

const FORMATTED: &str = "@OData.Community.Display.V1.FormattedValue";

fn lookup(
    row: &Row,
    prop: &str,
    lookups: &[(&str, &'static str)],
    resolved: &Resolved,
) -> Option<LookupRef> {
    let target = lookups
        .iter()
        .find(|(p, _)| *p == prop)
        .map_or("", |(_, t)| t);
    let formatted = row
        .get(&format!("{prop}{FORMATTED}"))
        .and_then(Value::as_str);
    resolved.get(target, uuid_of(row, prop), formatted)
}

fn option(row: &Row, col: &str, set: &OptionSetInfo, lang: Lang) -> Option<OptionValue> {
    row.get(col)
        .and_then(Value::as_i64)
        .map(|code| set.value(code, lang))
}

/// A `mshr_noyes` column as a bool, by the option's stable key (codes differ per environment).
fn yes_no(row: &Row, col: &str, noyes: &OptionSetInfo) -> Option<bool> {
    let code = row.get(col).and_then(Value::as_i64)?;
    noyes.by_code(code).map(|o| o.key == "yes")
}

fn num(row: &Row, col: &str) -> Option<f64> {
    row.get(col).and_then(Value::as_f64)
}

/// The request lookup from the expanded request (code and description), else from the row alone.
fn request_of(row: &Row) -> Option<LookupRef> {
    let id = uuid_of(row, "_mshr_fk_recruitingrequest_id_value")?;
    let expanded = object(row, NAV_REQUEST);
    Some(LookupRef {
        id,
        code: expanded
            .and_then(|r| str_of(r, "mshr_recruitingrequestid"))
            .or_else(|| str_of(row, "mshr_recruitingrequestid")),
        name: expanded.and_then(|r| str_of(r, "mshr_description")),
    })
}

/// One candidate; `detail` adds the person's child collections.
pub fn map_row(row: &Row, detail: bool, labels: &Labels, resolved: &Resolved) -> Option<Candidate> {
    let l = |prop: &str| lookup(row, prop, LOOKUPS, resolved);
    Some(Candidate {
        id: uuid_of(row, PK)?,
        candidate_number: str_of(row, "mshr_candidateid"),
        status: option(
            row,
            "mshr_applicantintegrationresult",
            labels.result,
            labels.lang,
        ),
        company: l("_mshr_dataareaid_id_value"),
        recruiting_request: request_of(row),
        position: l("_mshr_fk_position_id_value"),
        availability_date: date_of(row, "mshr_availabilitydate"),
        willing_to_relocate: yes_no(row, "mshr_iswillingtorelocate", labels.noyes),
        comments: str_of(row, "mshr_comments"),
        do_not_hire_reason: l("_mshr_fk_reasoncode_id_value"),
        person: object(row, NAV_PERSON).and_then(|p| map_person(row, p, detail, labels, resolved)),
    })
}

fn map_person(
    cand: &Row,
    p: &Row,
    detail: bool,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<Person> {
    let lang = labels.lang;
    let kids = |def: &ChildDef| -> Vec<&Row> { children(p, def.nav).collect() };
    Some(Person {
        id: uuid_of(p, PERSON_PK)?,
        party_number: str_of(p, "mshr_partynumber"),
        name: str_of(p, "mshr_name"),
        first_name: str_of(p, "mshr_firstname"),
        middle_name: str_of(p, "mshr_middlename"),
        last_name_prefix: str_of(p, "mshr_lastnameprefix"),
        last_name: str_of(p, "mshr_lastname"),
        known_as: str_of(p, "mshr_knownas"),
        language: str_of(p, "mshr_languageid"),
        gender: option(p, "mshr_gender", labels.gender, lang)
            .or_else(|| option(cand, "mshr_gender", labels.gender, lang)),
        birth_date: date_of(cand, "mshr_birthdate"),
        marital_status: option(p, "mshr_maritalstatus", labels.marital, lang),
        citizenship_country: str_of(cand, "mshr_citizenshipcountrycode"),
        veteran_status: lookup(cand, "_mshr_fk_veteranstatus_id_value", LOOKUPS, resolved),
        military_service_start_date: date_of(cand, "mshr_militaryservicestartdate"),
        military_service_end_date: date_of(cand, "mshr_militaryserviceenddate"),
        disabled_veteran: yes_no(cand, "mshr_isdisabledveteran", labels.noyes),
        primary_email: str_of(p, "mshr_primarycontactemail"),
        primary_phone: str_of(p, "mshr_primarycontactphone"),
        education: detail.then(|| {
            kids(&EDUCATION)
                .into_iter()
                .filter_map(|r| map_education(r, labels, resolved))
                .collect()
        }),
        experience: detail.then(|| {
            kids(&EXPERIENCE)
                .into_iter()
                .filter_map(|r| map_experience(r, labels))
                .collect()
        }),
        addresses: detail.then(|| {
            kids(&ADDRESSES)
                .into_iter()
                .filter_map(|r| map_address(r, labels))
                .collect()
        }),
        contacts: detail.then(|| {
            kids(&CONTACTS)
                .into_iter()
                .filter_map(|r| map_contact(r, labels))
                .collect()
        }),
        skills: detail.then(|| {
            kids(&SKILLS)
                .into_iter()
                .filter_map(|r| map_skill(r, labels, resolved))
                .collect()
        }),
        certificates: detail.then(|| {
            kids(&CERTIFICATES)
                .into_iter()
                .filter_map(|r| map_certificate(r, resolved))
                .collect()
        }),
        screenings: detail.then(|| {
            kids(&SCREENINGS)
                .into_iter()
                .filter_map(|r| map_screening(r, labels, resolved))
                .collect()
        }),
        identification_numbers: detail.then(|| {
            kids(&IDS)
                .into_iter()
                .filter_map(|r| map_identification(r, labels, resolved))
                .collect()
        }),
    })
}

fn map_education(r: &Row, labels: &Labels, resolved: &Resolved) -> Option<PersonEducation> {
    let l = |prop: &str| lookup(r, prop, EDUCATION.lookups, resolved);
    Some(PersonEducation {
        id: uuid_of(r, "mshr_hcmpersoneducationentityid")?,
        description: str_of(r, "mshr_description"),
        education_level: l("_mshr_fk_educationlevel_id_value"),
        discipline: l("_mshr_fk_educationdiscipline_id_value"),
        institution: l("_mshr_fk_educationinstitution_id_value"),
        secondary_emphasis: str_of(r, "mshr_secondaryemphasis"),
        credit_basis: option(r, "mshr_creditbasis", labels.credit_basis, labels.lang),
        credits_earned: num(r, "mshr_creditsearned"),
        start_date: date_of(r, "mshr_startdate"),
        end_date: date_of(r, "mshr_enddate"),
        grade_point_average: num(r, "mshr_gradepointaverage"),
        grade_scale: str_of(r, "mshr_gradescale"),
        notes: str_of(r, "mshr_notes"),
    })
}

fn map_experience(r: &Row, labels: &Labels) -> Option<PersonExperience> {
    Some(PersonExperience {
        id: uuid_of(r, "mshr_hcmpersonprofessionalexperienceentityid")?,
        employer: str_of(r, "mshr_employername"),
        position: str_of(r, "mshr_employerposition"),
        location: str_of(r, "mshr_employerlocation"),
        url: str_of(r, "mshr_url"),
        start_date: date_of(r, "mshr_startdate"),
        end_date: date_of(r, "mshr_enddate"),
        allow_contact_employer: option(
            r,
            "mshr_allowcontactemployer",
            labels.blank_yes_no,
            labels.lang,
        ),
        notes: str_of(r, "mshr_note"),
    })
}

fn map_address(r: &Row, labels: &Labels) -> Option<PersonAddress> {
    Some(PersonAddress {
        id: uuid_of(r, "mshr_hcmpersonaddressentityid")?,
        location_id: str_of(r, "mshr_locationid"),
        description: str_of(r, "mshr_description"),
        // Roles are `;`-separated (data model §2.10).
        roles: str_of(r, "mshr_roles")
            .map(|s| {
                s.split(';')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        street: str_of(r, "mshr_street"),
        city: str_of(r, "mshr_city"),
        state: str_of(r, "mshr_state"),
        county: str_of(r, "mshr_county"),
        zip_code: str_of(r, "mshr_zipcode"),
        country_region: str_of(r, "mshr_countryregionid"),
        is_primary: yes_no(r, "mshr_isprimary", labels.noyes),
        is_private: yes_no(r, "mshr_isprivate", labels.noyes),
    })
}

fn map_contact(r: &Row, labels: &Labels) -> Option<PersonContact> {
    Some(PersonContact {
        id: uuid_of(r, "mshr_dirpartycontactentityid")?,
        kind: option(r, "mshr_type", labels.contact_type, labels.lang),
        description: str_of(r, "mshr_description"),
        locator: str_of(r, "mshr_locator"),
        extension: str_of(r, "mshr_locatorextension"),
        purpose: str_of(r, "mshr_purpose"),
        is_primary: yes_no(r, "mshr_isprimary", labels.noyes),
        is_mobile: yes_no(r, "mshr_ismobilephone", labels.noyes),
        is_private: yes_no(r, "mshr_isprivate", labels.noyes),
    })
}

fn map_skill(r: &Row, labels: &Labels, resolved: &Resolved) -> Option<PersonSkill> {
    let l = |prop: &str| lookup(r, prop, SKILLS.lookups, resolved);
    Some(PersonSkill {
        id: uuid_of(r, "mshr_hcmpersonskillentityid")?,
        skill: l("_mshr_fk_skill_id_value"),
        level_type: option(r, "mshr_leveltype", labels.skill_level_type, labels.lang),
        rating_level: l("_mshr_fk_ratinglevel_id_value"),
        years_of_experience: num(r, "mshr_yearsofexperience"),
        level_date: date_of(r, "mshr_leveldate"),
        verified: yes_no(r, "mshr_verified", labels.noyes),
    })
}

fn map_certificate(r: &Row, resolved: &Resolved) -> Option<PersonCertificate> {
    Some(PersonCertificate {
        id: uuid_of(r, "mshr_hcmpersoncertificateentityid")?,
        certificate_type: lookup(
            r,
            "_mshr_fk_certificatetype_id_value",
            CERTIFICATES.lookups,
            resolved,
        ),
        start_date: date_of(r, "mshr_startdate"),
        end_date: date_of(r, "mshr_enddate"),
        notes: str_of(r, "mshr_notes"),
    })
}

fn map_screening(r: &Row, labels: &Labels, resolved: &Resolved) -> Option<PersonScreening> {
    Some(PersonScreening {
        id: uuid_of(r, "mshr_hcmpersonscreeningentityid")?,
        screening_type: lookup(
            r,
            "_mshr_fk_screeningtype_id_value",
            SCREENINGS.lookups,
            resolved,
        ),
        status: option(r, "mshr_status", labels.completion, labels.lang),
        required_by: date_of(r, "mshr_requiredby"),
        completed_date: date_of(r, "mshr_completeddate"),
        notes: str_of(r, "mshr_note"),
    })
}

fn map_identification(
    r: &Row,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<PersonIdentification> {
    let l = |prop: &str| lookup(r, prop, IDS.lookups, resolved);
    Some(PersonIdentification {
        id: uuid_of(r, "mshr_hcmpersonidentificationnumberentityid")?,
        identification_type: l("_mshr_fk_identificationtype_id_value"),
        number: str_of(r, "mshr_identificationnumber"),
        issuing_agency: l("_mshr_fk_issuingagency_id_value"),
        issue_date: date_of(r, "mshr_issueddate"),
        expiration_date: date_of(r, "mshr_expirationdate"),
        is_primary: yes_no(r, "mshr_isprimary", labels.noyes),
        description: str_of(r, "mshr_description"),
    })
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
