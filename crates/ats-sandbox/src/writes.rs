//! Create / update / delete against the store, with Dataverse's validation and HR's natural-key
//! lookups (data model §2.6, §4.2; wire reference §6, §8).
//!
//! Read-only columns: `_x_value` lookup properties are rejected with Dataverse's 0x0 "Use Navigation
//! properties instead" error, because a client sending them has a bug worth seeing. System-generated
//! columns (primary key on update, `mshr_primaryfield`, `mshr_candidateid`, person `mshr_partynumber`
//! and `mshr_name`, the request number) are silently ignored, as Dataverse ignores attributes that are
//! not valid for create/update. On create a client-chosen primary key is honoured, as in Dataverse.
//!
//! A create validates the whole deep-insert tree against the store first (`plan`), then inserts
//! (`insert`), which cannot fail: all or nothing.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::data::{self, reference};
use super::error::DvError;
use super::schema::{schema, ColType, Column, EntityDef, NavKind};
use super::store::{Row, Store};

/// A lookup that HR resolves from natural-key strings.
struct Rule {
    lookup: &'static str,
    target: &'static str,
    /// (own column, target column): the first triggers resolution, the others narrow it when set.
    keys: &'static [(&'static str, &'static str)],
    /// (own column, target column) filled from the target when the own column is empty.
    copies: &'static [(&'static str, &'static str)],
    /// F&O field label for messages.
    field: &'static str,
}

const fn rule(
    lookup: &'static str,
    target: &'static str,
    keys: &'static [(&'static str, &'static str)],
    field: &'static str,
) -> Rule {
    Rule {
        lookup,
        target,
        keys,
        copies: &[],
        field,
    }
}

const fn with_copies(mut r: Rule, copies: &'static [(&'static str, &'static str)]) -> Rule {
    r.copies = copies;
    r
}

const RR: &str = "mshr_hcmrecruitingrequestentity";
const PERSON: &str = "mshr_dirpersonentity";
const POSITION: &str = "mshr_hcmpositionv2entity";
const WORKER_BASE: &str = "mshr_hcmworkerbaseentity";
const WORKER: &str = "mshr_hcmworkerentity";
const COUNTRY: &str = "mshr_logisticsaddresscountryregionentity";

const RR_RULE: Rule = with_copies(
    rule(
        "_mshr_fk_recruitingrequest_id_value",
        RR,
        &[("mshr_recruitingrequestid", "mshr_recruitingrequestid")],
        "Recruiting request",
    ),
    &[("mshr_dataareaid", "mshr_dataareaid")],
);
const PERSON_RULE: Rule = rule(
    "_mshr_fk_person_id_value",
    PERSON,
    &[("mshr_partynumber", "mshr_partynumber")],
    "Party number",
);
const COUNTRY_RULE: Rule = rule(
    "_mshr_fk_countryregion_id_value",
    COUNTRY,
    &[("mshr_countryregionid", "mshr_countryregionid")],
    "Country/region",
);
const COMPANY_RULE: Rule = rule(
    "_mshr_dataareaid_id_value",
    "cdm_company",
    &[("mshr_dataareaid", "cdm_companycode")],
    "Company",
);

static RR_RULES: [Rule; 7] = [
    rule(
        "_mshr_fk_hiringmanager_id_value",
        WORKER_BASE,
        &[("mshr_hiringmanagerpersonnelnumber", "mshr_personnelnumber")],
        "Hiring manager",
    ),
    rule(
        "_mshr_fk_recruiter_id_value",
        PERSON,
        &[("mshr_recruiterpartynumber", "mshr_partynumber")],
        "Recruiter",
    ),
    rule(
        "_mshr_fk_recruitingrequestlocation_id_value",
        "mshr_hcmrecruitingrequestlocationentity",
        &[(
            "mshr_recruitingrequestlocationid",
            "mshr_recruitingrequestlocationid",
        )],
        "Recruiting request location",
    ),
    rule(
        "_mshr_fk_job_id_value",
        "mshr_hcmjobentity",
        &[("mshr_jobid", "mshr_jobid")],
        "Job",
    ),
    rule(
        "_mshr_fk_title_id_value",
        "mshr_hcmtitleentity",
        &[("mshr_titleid", "mshr_titleid")],
        "Title",
    ),
    rule(
        "_mshr_fk_jobtype_id_value",
        "mshr_hcmjobtypeentity",
        &[("mshr_jobtypeid", "mshr_jobtypeid")],
        "Job type",
    ),
    rule(
        "_mshr_fk_compensationlevel_id_value",
        "mshr_hcmjobcompensationentity",
        &[
            ("mshr_compensationlevelid", "mshr_compensationlevelid"),
            ("mshr_jobid", "mshr_jobid"),
            ("mshr_dataareaid", "mshr_dataareaid"),
        ],
        "Compensation level",
    ),
];

static RR_POSITION_RULES: [Rule; 6] = [
    RR_RULE,
    with_copies(
        rule(
            "_mshr_fk_position_id_value",
            POSITION,
            &[
                ("mshr_positionid", "mshr_positionid"),
                ("mshr_dataareaid", "mshr_dataareaid"),
            ],
            "Position",
        ),
        &[
            ("mshr_description", "mshr_description"),
            (
                "_mshr_fk_department_id_value",
                "_mshr_fk_department_id_value",
            ),
        ],
    ),
    rule(
        "_mshr_fk_positiontype_id_value",
        "mshr_hcmpositiontypeentity",
        &[("mshr_positiontypeid", "mshr_positiontypeid")],
        "Position type",
    ),
    rule(
        "_mshr_fk_department_id_value",
        "mshr_omdepartmententity",
        &[("mshr_departmentnumber", "mshr_operatingunitnumber")],
        "Department",
    ),
    rule(
        "_mshr_fk_reportstoposition_id_value",
        POSITION,
        &[("mshr_reportstopositionid", "mshr_positionid")],
        "Reports to position",
    ),
    rule(
        "_mshr_fk_reportstoworker_id_value",
        WORKER_BASE,
        &[("mshr_reportstopersonnelnumber", "mshr_personnelnumber")],
        "Reports to worker",
    ),
];

static RR_SKILL_RULES: [Rule; 4] = [
    RR_RULE,
    with_copies(
        rule(
            "_mshr_fk_skill_id_value",
            "mshr_hcmskillentity",
            &[("mshr_skillid", "mshr_skillid")],
            "Skill",
        ),
        &[("mshr_skilldescription", "mshr_description")],
    ),
    rule(
        "_mshr_fk_ratingmodel_id_value",
        "mshr_hcmratingmodelentity",
        &[("mshr_ratingmodelid", "mshr_ratingmodelid")],
        "Rating model",
    ),
    with_copies(
        rule(
            "_mshr_fk_ratinglevel_id_value",
            "mshr_hcmratinglevelentity",
            &[
                ("mshr_ratinglevelid", "mshr_ratinglevelid"),
                ("mshr_ratingmodelid", "mshr_ratingmodelid"),
            ],
            "Rating level",
        ),
        &[("mshr_ratingleveldescription", "mshr_description")],
    ),
];

static RR_EDUCATION_RULES: [Rule; 3] = [
    RR_RULE,
    with_copies(
        rule(
            "_mshr_fk_educationlevel_id_value",
            "mshr_hcmeducationlevelentity",
            &[("mshr_educationlevelid", "mshr_educationlevelid")],
            "Education level",
        ),
        &[("mshr_educationleveldescription", "mshr_description")],
    ),
    with_copies(
        rule(
            "_mshr_fk_educationdiscipline_id_value",
            "mshr_hcmeducationdisciplineentity",
            &[("mshr_educationdisciplineid", "mshr_educationdisciplineid")],
            "Education discipline",
        ),
        &[("mshr_educationdisciplinedescription", "mshr_description")],
    ),
];

static CANDIDATE_RULES: [Rule; 5] = [
    with_copies(
        PERSON_RULE,
        &[
            ("mshr_firstname", "mshr_firstname"),
            ("mshr_middlename", "mshr_middlename"),
            ("mshr_lastnameprefix", "mshr_lastnameprefix"),
            ("mshr_lastname", "mshr_lastname"),
            ("mshr_gender", "mshr_gender"),
        ],
    ),
    RR_RULE,
    rule(
        "_mshr_fk_position_id_value",
        POSITION,
        &[
            ("mshr_positionid", "mshr_positionid"),
            ("mshr_dataareaid", "mshr_dataareaid"),
        ],
        "Position",
    ),
    rule(
        "_mshr_fk_veteranstatus_id_value",
        "mshr_hcmveteranstatusentity",
        &[("mshr_veteranstatusid", "mshr_veteranstatusid")],
        "Veteran status",
    ),
    rule(
        "_mshr_fk_reasoncode_id_value",
        "mshr_hcmreasoncodeentity",
        &[("mshr_donothirereasoncodeid", "mshr_reasoncodeid")],
        "Do not hire reason code",
    ),
];

static PERSON_EDUCATION_RULES: [Rule; 4] = [
    PERSON_RULE,
    rule(
        "_mshr_fk_educationlevel_id_value",
        "mshr_hcmeducationdegreeentity",
        &[("mshr_educationlevelid", "mshr_educationlevelid")],
        "Education level",
    ),
    rule(
        "_mshr_fk_educationdiscipline_id_value",
        "mshr_hcmeducationdisciplineentity",
        &[("mshr_educationdisciplineid", "mshr_educationdisciplineid")],
        "Education discipline",
    ),
    rule(
        "_mshr_fk_educationinstitution_id_value",
        "mshr_hcmeducationinstitutionentity",
        &[("mshr_educationinstitutionid", "mshr_educationinstitutionid")],
        "Education institution",
    ),
];

static PERSON_SKILL_RULES: [Rule; 5] = [
    PERSON_RULE,
    rule(
        "_mshr_fk_certifier_id_value",
        WORKER,
        &[("mshr_certifier", "mshr_personnelnumber")],
        "Certifier",
    ),
    rule(
        "_mshr_fk_skill_id_value",
        "mshr_hcmskillentity",
        &[("mshr_skillid", "mshr_skillid")],
        "Skill",
    ),
    rule(
        "_mshr_fk_ratinglevel_id_value",
        "mshr_hcmratinglevelentity",
        &[
            ("mshr_levelid", "mshr_ratinglevelid"),
            ("mshr_ratingid", "mshr_ratingmodelid"),
        ],
        "Rating level",
    ),
    rule(
        "_mshr_fk_ratinglevelexaminer_id_value",
        WORKER,
        &[("mshr_ratinglevelexaminer", "mshr_personnelnumber")],
        "Rating level examiner",
    ),
];

static PERSON_ONLY_RULES: [Rule; 1] = [PERSON_RULE];
static ADDRESS_RULES: [Rule; 2] = [PERSON_RULE, COUNTRY_RULE];
static LOCATION_RULES: [Rule; 1] = [COUNTRY_RULE];
static CERTIFICATE_RULES: [Rule; 2] = [
    PERSON_RULE,
    rule(
        "_mshr_fk_certificatetype_id_value",
        "mshr_hcmcertificatetypeentity",
        &[("mshr_certificatetypeid", "mshr_certificatetype")],
        "Certificate type",
    ),
];
static SCREENING_RULES: [Rule; 2] = [
    PERSON_RULE,
    rule(
        "_mshr_fk_screeningtype_id_value",
        "mshr_hcmscreeningtypeentity",
        &[("mshr_screeningtypeid", "mshr_screeningtypeid")],
        "Screening type",
    ),
];
static IDENTIFICATION_RULES: [Rule; 3] = [
    PERSON_RULE,
    rule(
        "_mshr_fk_identificationtype_id_value",
        "mshr_hcmidentificationtypeentity",
        &[("mshr_identificationtypeid", "mshr_identificationtypeid")],
        "Identification type",
    ),
    rule(
        "_mshr_fk_issuingagency_id_value",
        "mshr_hcmissuingagencyentity",
        &[("mshr_issuingagencyid", "mshr_issuingagencyid")],
        "Issuing agency",
    ),
];
static RATING_LEVEL_RULES: [Rule; 1] = [rule(
    "_mshr_fk_ratingmodelentity_id_value",
    "mshr_hcmratingmodelentity",
    &[("mshr_ratingmodelid", "mshr_ratingmodelid")],
    "Rating model",
)];
static COMPANY_RULES: [Rule; 1] = [COMPANY_RULE];

/// Natural-key lookups of a table, in resolution order (rules that copy the company come first).
fn rules(logical: &str) -> &'static [Rule] {
    match logical {
        "mshr_hcmrecruitingrequestentity" => &RR_RULES,
        "mshr_hcmrecruitingrequestpositionentity" => &RR_POSITION_RULES,
        "mshr_hcmrecruitingrequestskillentity" => &RR_SKILL_RULES,
        "mshr_hcmrecruitingrequesteducationentity" => &RR_EDUCATION_RULES,
        "mshr_hcmrecruitingrequestlocationentity" => &LOCATION_RULES,
        "mshr_hcmcandidatetohireentity" => &CANDIDATE_RULES,
        "mshr_hcmpersoneducationentity" => &PERSON_EDUCATION_RULES,
        "mshr_hcmpersonskillentity" => &PERSON_SKILL_RULES,
        "mshr_hcmpersonprofessionalexperienceentity" | "mshr_dirpartycontactentity" => {
            &PERSON_ONLY_RULES
        }
        "mshr_hcmpersonaddressentity" => &ADDRESS_RULES,
        "mshr_hcmpersoncertificateentity" => &CERTIFICATE_RULES,
        "mshr_hcmpersonscreeningentity" => &SCREENING_RULES,
        "mshr_hcmpersonidentificationnumberentity" => &IDENTIFICATION_RULES,
        "mshr_hcmratinglevelentity" => &RATING_LEVEL_RULES,
        _ => &[],
    }
}

/// All rules of a table: its own, then the company lookup when the table has one.
fn all_rules(def: &EntityDef) -> impl Iterator<Item = &'static Rule> {
    let company = def
        .column(COMPANY_RULE.lookup)
        .map(|_| &COMPANY_RULES[..])
        .unwrap_or(&[]);
    rules(def.logical_name).iter().chain(company.iter())
}

fn rule_for(def: &EntityDef, lookup: &str) -> Option<&'static Rule> {
    all_rules(def).find(|r| r.lookup == lookup)
}

/// Columns the client must supply on create (beyond those a parent or a lookup provides).
fn required(def: &EntityDef) -> Vec<&'static str> {
    let list: &[&str] = match def.logical_name {
        "mshr_hcmrecruitingrequestentity" => {
            &["mshr_description", "mshr_jobid", "mshr_estimatedstartdate"]
        }
        "mshr_hcmrecruitingrequestpositionentity" => {
            &["mshr_recruitingrequestid", "mshr_positionid"]
        }
        "mshr_hcmrecruitingrequestskillentity" => &["mshr_recruitingrequestid", "mshr_skillid"],
        "mshr_hcmrecruitingrequesteducationentity" => &[
            "mshr_recruitingrequestid",
            "mshr_educationlevelid",
            "mshr_educationdisciplineid",
        ],
        "mshr_hcmrecruitingrequestlocationentity" => {
            &["mshr_recruitingrequestlocationid", "mshr_description"]
        }
        "mshr_hcmcandidatetohireentity" => &["mshr_partynumber"],
        "mshr_dirpersonentity" => &["mshr_firstname"],
        "mshr_hcmpersoneducationentity" => &["mshr_partynumber", "mshr_educationdisciplineid"],
        "mshr_hcmpersonprofessionalexperienceentity" => &[
            "mshr_partynumber",
            "mshr_employername",
            "mshr_employerposition",
            "mshr_startdate",
        ],
        "mshr_hcmpersonaddressentity" => &["mshr_partynumber", "mshr_description"],
        "mshr_dirpartycontactentity" => &["mshr_partynumber", "mshr_type", "mshr_locator"],
        "mshr_hcmpersonskillentity" => &["mshr_partynumber", "mshr_skillid", "mshr_levelid"],
        "mshr_hcmratinglevelentity" => &[
            "mshr_ratinglevelid",
            "mshr_ratingmodelid",
            "mshr_description",
        ],
        "mshr_hcmpersoncertificateentity" => &[
            "mshr_partynumber",
            "mshr_certificatetypeid",
            "mshr_startdate",
        ],
        "mshr_hcmcertificatetypeentity" => &["mshr_certificatetype", "mshr_description"],
        "mshr_hcmpersonscreeningentity" => &["mshr_partynumber", "mshr_screeningtypeid"],
        "mshr_hcmscreeningtypeentity" => &["mshr_screeningtypeid", "mshr_description"],
        "mshr_hcmpersonidentificationnumberentity" => &[
            "mshr_partynumber",
            "mshr_identificationtypeid",
            "mshr_identificationnumber",
        ],
        _ => {
            // Reference tables: their readable id.
            return def
                .columns
                .iter()
                .find(|c| c.name != def.primary_id)
                .map(|c| vec![c.name])
                .unwrap_or_default();
        }
    };
    list.to_vec()
}

/// (column, option set, en-US label) applied on create when the column is empty.
fn option_defaults(logical: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match logical {
        "mshr_hcmrecruitingrequestentity" => {
            &[("mshr_status", "mshr_hcmrecruitingrequeststatus", "Draft")]
        }
        "mshr_hcmrecruitingrequestpositionentity" => &[(
            "mshr_status",
            "mshr_hcmrecruitingrequestpositionstatus",
            "Open",
        )],
        "mshr_hcmcandidatetohireentity" => &[(
            "mshr_applicantintegrationresult",
            "mshr_hcmapplicantintegrationresult",
            "Not processed",
        )],
        "mshr_hcmpersonskillentity" => &[
            ("mshr_leveltype", "mshr_hrmskillleveltype", "Actual"),
            ("mshr_verified", "mshr_noyes", "No"),
        ],
        "mshr_hcmpersonscreeningentity" => {
            &[("mshr_status", "mshr_hcmcompletionstatus", "Not Complete")]
        }
        "mshr_hcmpersonaddressentity" => &[
            ("mshr_isprimary", "mshr_noyes", "No"),
            ("mshr_isprivate", "mshr_noyes", "No"),
        ],
        "mshr_dirpartycontactentity" => &[
            ("mshr_ismobilephone", "mshr_noyes", "No"),
            ("mshr_isinstantmessage", "mshr_noyes", "No"),
            ("mshr_isprimary", "mshr_noyes", "No"),
            ("mshr_isprivate", "mshr_noyes", "No"),
        ],
        _ => &[],
    }
}

/// (column, value) string defaults applied on create when the column is empty.
fn text_defaults(logical: &str) -> &'static [(&'static str, &'static str)] {
    match logical {
        "mshr_hcmrecruitingrequestskillentity" => &[("mshr_ratingmodelid", "Skills")],
        "mshr_hcmpersonskillentity" => &[("mshr_ratingid", "Skills")],
        "mshr_hcmcandidatetohireentity" => &[("mshr_partytype", "Person")],
        "mshr_dirpersonentity" => &[
            ("mshr_partytype", "Person"),
            ("mshr_namesequencedisplayas", "FirstMiddleLast"),
        ],
        _ => &[],
    }
}

/// Columns the system fills; client values are ignored (see the module comment).
fn system_generated(def: &EntityDef, col: &str) -> bool {
    col == "mshr_primaryfield"
        || matches!(
            (def.logical_name, col),
            (
                "mshr_hcmrecruitingrequestentity",
                "mshr_recruitingrequestid"
            ) | ("mshr_hcmcandidatetohireentity", "mshr_candidateid")
                | ("mshr_dirpersonentity", "mshr_partynumber")
                | ("mshr_dirpersonentity", "mshr_name")
        )
}

/// Columns of the candidate that describe the person created implicitly (data model §2.6).
const CANDIDATE_PERSON_FIELDS: &[&str] = &[
    "mshr_firstname",
    "mshr_middlename",
    "mshr_lastnameprefix",
    "mshr_lastname",
    "mshr_gender",
];

/// Company used when a striped row names none (HR uses the caller's default company).
const DEFAULT_COMPANY: &str = "usmf";

// ---------------------------------------------------------------------------------------------
// Errors

fn invalid_property(prop: &str, def: &EntityDef) -> DvError {
    let inner = format!(
        "Invalid property '{prop}' was found in entity 'Microsoft.Dynamics.CRM.{}'.",
        def.logical_name
    );
    DvError::new(
        StatusCode::BAD_REQUEST,
        "0x0",
        format!(
            "An error occurred while validating input parameters: Microsoft.Crm.CrmException: {inner} ---> Microsoft.Crm.CrmException: {inner}"
        ),
    )
}

fn lookup_property() -> DvError {
    DvError::new(
        StatusCode::BAD_REQUEST,
        "0x0",
        "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
    )
}

fn undeclared_property(def: &EntityDef, name: &str) -> DvError {
    DvError::bad_payload(
        &def.set_name,
        format!(
            "An undeclared property '{name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values."
        ),
    )
}

fn picklist_out_of_range() -> DvError {
    DvError::new(
        StatusCode::BAD_REQUEST,
        "0x8004431A",
        "The picklist value is out of the range.",
    )
}

/// An F&O-side failure, rethrown by Dataverse as a plug-in error (wire reference §8).
fn fno_error(def: &EntityDef, text: impl std::fmt::Display) -> DvError {
    DvError::new(
        StatusCode::BAD_REQUEST,
        "0x80040265",
        format!(
            "Write failed for table row of type '{}'. Infolog: Error: {text}",
            def.logical_name
        ),
    )
}

fn not_found_key(def: &EntityDef, r: &Rule, value: &str) -> DvError {
    fno_error(
        def,
        format!(
            "The value '{value}' in field '{}' is not found in the relating table '{}'.",
            r.field, r.target
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Value checks

fn edm_name(ty: ColType) -> &'static str {
    match ty {
        ColType::String => "Edm.String",
        ColType::Guid | ColType::Lookup(_) => "Edm.Guid",
        ColType::Int | ColType::OptionSet(_) => "Edm.Int32",
        ColType::Decimal => "Edm.Decimal",
        ColType::Date => "Edm.DateTimeOffset",
    }
}

fn type_error(def: &EntityDef, col: &Column, v: &Value) -> DvError {
    let literal = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    DvError::bad_payload(
        &def.set_name,
        format!(
            "Cannot convert the literal '{literal}' to the expected type '{}'.",
            edm_name(col.ty)
        ),
    )
}

/// `YYYY-MM-DD` or an RFC 3339 timestamp → the emulator's `YYYY-MM-DDT00:00:00Z`.
fn parse_date(s: &str) -> Option<String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(data::date_string(d));
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|dt| data::date_string(dt.date_naive()))
}

/// Checks and normalises one column value from a request body.
fn coerce(def: &EntityDef, col: &Column, v: &Value, base: i64) -> Result<Value, DvError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let bad = || type_error(def, col, v);
    match col.ty {
        ColType::String => v.as_str().map(|_| v.clone()).ok_or_else(bad),
        ColType::Guid => v
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(|u| Value::String(u.to_string()))
            .ok_or_else(bad),
        ColType::Int => v
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .map(Value::from)
            .ok_or_else(bad),
        ColType::Decimal => v.is_number().then(|| v.clone()).ok_or_else(bad),
        ColType::Date => v
            .as_str()
            .and_then(parse_date)
            .map(Value::String)
            .ok_or_else(bad),
        ColType::OptionSet(set) => {
            let n = v.as_i64().ok_or_else(bad)?;
            data::option_label(base, set, n).ok_or_else(picklist_out_of_range)?;
            Ok(Value::from(n))
        }
        ColType::Lookup(_) => Err(lookup_property()),
    }
}

fn nonempty<'a>(row: &'a Row, col: &str) -> Option<&'a str> {
    row.get(col)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn is_empty(row: &Row, col: &str) -> bool {
    match row.get(col) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

fn same_key(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn entity(logical: &str) -> Result<&'static EntityDef, DvError> {
    schema()
        .by_logical(logical)
        .ok_or_else(|| DvError::resource_not_found(logical))
}

fn row_id(def: &EntityDef, row: &Row) -> Option<Uuid> {
    row.get(&def.primary_id)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Finds the target row of `r` for the natural keys in `row` (F&O compares keys case-insensitively).
fn resolve<'s>(
    store: &'s Store,
    def: &EntityDef,
    r: &Rule,
    row: &Row,
) -> Result<Option<(Uuid, &'s Row)>, DvError> {
    let Some(key) = nonempty(row, r.keys[0].0) else {
        return Ok(None);
    };
    let target = entity(r.target)?;
    let filters: Vec<(&str, &str)> = r
        .keys
        .iter()
        .filter_map(|(own, theirs)| nonempty(row, own).map(|v| (*theirs, v)))
        .filter(|(theirs, _)| target.column(theirs).is_some())
        .collect();
    let found = store.table(r.target).and_then(|t| {
        t.rows.iter().find(|candidate| {
            filters
                .iter()
                .all(|(c, v)| nonempty(candidate, c).is_some_and(|x| same_key(x, v)))
        })
    });
    match found {
        Some(t) => Ok(row_id(target, t).map(|id| (id, t))),
        None => Err(not_found_key(def, r, key)),
    }
}

/// Points `row` at `target` through rule `r`: sets the lookup, the natural keys and the copies.
fn apply_link(row: &mut Row, r: &Rule, id: Uuid, target: &Row) {
    row.insert(r.lookup.to_string(), Value::String(id.to_string()));
    for (i, (own, theirs)) in r.keys.iter().enumerate() {
        if let Some(v) = target.get(*theirs).filter(|v| !v.is_null()) {
            if i == 0 || is_empty(row, own) {
                row.insert(own.to_string(), v.clone());
            }
        }
    }
    for (own, theirs) in r.copies {
        if is_empty(row, own) {
            if let Some(v) = target.get(*theirs).filter(|v| !v.is_null()) {
                row.insert(own.to_string(), v.clone());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Plan (validation, no mutation)

/// One row to create, with everything nested under it.
struct Node {
    def: &'static EntityDef,
    pk: Option<Uuid>,
    row: Row,
    /// Rows to create first; this row's lookup (`.0`) points at them.
    singles: Vec<(&'static str, Node)>,
    /// Rows to create after this one; their lookup (`.0`) points at it.
    children: Vec<(&'static str, Node)>,
    /// Existing rows to point at this one: (table, lookup, id).
    relinks: Vec<(&'static str, &'static str, Uuid)>,
}

/// A parent row under construction, seen by its nested children.
struct ParentLink<'a> {
    lookup: &'static str,
    row: &'a Row,
}

/// Parses an `@odata.bind` reference, `"/set(guid)"` (leading `/` and a URL prefix optional).
fn parse_ref(v: &Value) -> Option<(String, Uuid)> {
    let s = v.as_str()?;
    let last = s.rsplit('/').find(|p| !p.is_empty())?;
    let (set, rest) = last.split_once('(')?;
    let id = rest.strip_suffix(')')?;
    Some((
        set.to_string(),
        Uuid::parse_str(id.trim_matches('\'')).ok()?,
    ))
}

/// Resolves a bind reference to an existing row of `target`.
fn bind_target<'s>(
    store: &'s Store,
    def: &EntityDef,
    target: &str,
    v: &Value,
) -> Result<(Uuid, &'s Row), DvError> {
    let tdef = entity(target)?;
    let (set, id) = parse_ref(v).ok_or_else(|| {
        DvError::bad_payload(
            &def.set_name,
            format!("The reference '{v}' is not a valid entity reference."),
        )
    })?;
    if set != tdef.set_name {
        return Err(DvError::bad_payload(
            &def.set_name,
            format!(
                "The entity set '{set}' does not match the navigation property target '{}'.",
                tdef.set_name
            ),
        ));
    }
    store
        .table(target)
        .and_then(|t| t.get(&id))
        .map(|r| (id, r))
        .ok_or_else(|| DvError::record_not_found(target, &id.to_string()))
}

/// The column a `<name>@odata.bind` wrongly targets, if it names a column or lookup attribute.
fn is_column_name(def: &EntityDef, name: &str) -> bool {
    def.column(name).is_some() || def.column(&format!("_{name}_value")).is_some()
}

fn plan(
    store: &Store,
    def: &'static EntityDef,
    body: &Value,
    base: i64,
    parent: Option<ParentLink<'_>>,
) -> Result<Node, DvError> {
    let obj = body
        .as_object()
        .ok_or_else(|| DvError::bad_payload(&def.set_name, "The payload must be a JSON object."))?;
    let mut node = Node {
        def,
        pk: None,
        row: Map::new(),
        singles: Vec::new(),
        children: Vec::new(),
        relinks: Vec::new(),
    };
    let mut provided: HashSet<&'static str> = HashSet::new();
    let mut collections: Vec<(&'static str, &'static str, &Value)> = Vec::new();

    for (k, v) in obj {
        if let Some(name) = k.strip_suffix("@odata.bind") {
            plan_bind(store, def, name, v, &mut node, &mut provided)?;
        } else if k.contains('@') {
            // Other instance annotations (e.g. `@odata.type`) carry no data.
        } else if let Some(nav) = def.nav(k) {
            match (&nav.kind, v) {
                (NavKind::Single { target, lookup }, Value::Object(_)) => {
                    let child = plan(store, entity(target)?, v, base, None)?;
                    node.singles.push((lookup, child));
                    provided.insert(lookup);
                }
                (
                    NavKind::Collection {
                        child,
                        child_lookup,
                    },
                    Value::Array(_),
                ) => {
                    collections.push((child, child_lookup, v));
                }
                _ => {
                    return Err(DvError::bad_payload(
                        &def.set_name,
                        format!("The value of navigation property '{k}' has the wrong shape."),
                    ))
                }
            }
        } else if let Some(col) = def.column(k) {
            if col.name == def.primary_id {
                let id = coerce(def, col, v, base)?;
                node.pk = id.as_str().and_then(|s| Uuid::parse_str(s).ok());
                continue;
            }
            let value = coerce(def, col, v, base)?;
            if !system_generated(def, k) {
                node.row.insert(k.clone(), value);
            }
        } else {
            return Err(invalid_property(k, def));
        }
    }
    if let Some(id) = node.pk {
        if store
            .table(def.logical_name)
            .is_some_and(|t| t.get(&id).is_some())
        {
            return Err(DvError::new(
                StatusCode::PRECONDITION_FAILED,
                "0x80040237",
                "Cannot insert duplicate key.",
            ));
        }
    }

    apply_defaults(def, &mut node.row, base);
    if let Some(p) = &parent {
        provided.insert(p.lookup);
        if let Some(r) = rule_for(def, p.lookup) {
            for (own, theirs) in r.copies {
                if is_empty(&node.row, own) {
                    if let Some(v) = p.row.get(*theirs).filter(|v| !v.is_null()) {
                        node.row.insert(own.to_string(), v.clone());
                    }
                }
            }
        }
    }
    if def.logical_name == "mshr_hcmcandidatetohireentity" {
        plan_implicit_person(store, &mut node, base, &mut provided)?;
    }
    if def.logical_name == RR {
        fill_from_job(&mut node.row, base);
    }
    resolve_rules(store, def, &mut node.row, &provided)?;
    check_required(def, &node.row, &provided)?;

    for (child, child_lookup, v) in collections {
        let cdef = entity(child)?;
        for item in v.as_array().into_iter().flatten() {
            let link = ParentLink {
                lookup: child_lookup,
                row: &node.row,
            };
            let c = plan(store, cdef, item, base, Some(link))?;
            node.children.push((child_lookup, c));
        }
    }
    Ok(node)
}

fn plan_bind(
    store: &Store,
    def: &'static EntityDef,
    name: &str,
    v: &Value,
    node: &mut Node,
    provided: &mut HashSet<&'static str>,
) -> Result<(), DvError> {
    let Some(nav) = def.nav(name) else {
        if is_column_name(def, name) {
            return Err(undeclared_property(def, name));
        }
        return Err(invalid_property(name, def));
    };
    match &nav.kind {
        NavKind::Single { target, lookup } => {
            if v.is_null() {
                node.row.insert(lookup.to_string(), Value::Null);
                return Ok(());
            }
            let (id, trow) = bind_target(store, def, target, v)?;
            match rule_for(def, lookup) {
                Some(r) => apply_link(&mut node.row, r, id, trow),
                None => {
                    node.row
                        .insert(lookup.to_string(), Value::String(id.to_string()));
                }
            }
            provided.insert(lookup);
        }
        NavKind::Collection {
            child,
            child_lookup,
        } => {
            let items = v.as_array().ok_or_else(|| {
                DvError::bad_payload(
                    &def.set_name,
                    format!("The value of '{name}@odata.bind' must be an array."),
                )
            })?;
            for item in items {
                let (id, _) = bind_target(store, def, child, item)?;
                node.relinks.push((child, child_lookup, id));
            }
        }
    }
    Ok(())
}

fn apply_defaults(def: &EntityDef, row: &mut Row, base: i64) {
    for (col, set, label) in option_defaults(def.logical_name) {
        if is_empty(row, col) {
            if let Some(v) = data::option_value(base, set, label) {
                row.insert(col.to_string(), Value::from(v));
            }
        }
    }
    for (col, v) in text_defaults(def.logical_name) {
        if is_empty(row, col) {
            row.insert(col.to_string(), Value::String(v.to_string()));
        }
    }
}

/// Without a nested or bound person and without a party number, the candidate's own person fields
/// create the person (data model §2.6).
fn plan_implicit_person(
    store: &Store,
    node: &mut Node,
    base: i64,
    provided: &mut HashSet<&'static str>,
) -> Result<(), DvError> {
    let lookup = PERSON_RULE.lookup;
    if provided.contains(lookup) || nonempty(&node.row, "mshr_partynumber").is_some() {
        return Ok(());
    }
    let mut body = Map::new();
    for f in CANDIDATE_PERSON_FIELDS {
        if let Some(v) = node.row.get(*f).filter(|v| !v.is_null()) {
            body.insert(f.to_string(), v.clone());
        }
    }
    if let Some(d) = nonempty(&node.row, "mshr_birthdate").and_then(|s| s.get(..10)) {
        if let Ok(d) = NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            let (day, month, year) = data::birth_parts(d);
            body.insert("mshr_birthday".into(), Value::from(day));
            body.insert(
                "mshr_birthmonth".into(),
                Value::from(base + i64::from(month)),
            );
            body.insert("mshr_birthyear".into(), Value::from(year));
        }
    }
    let person = plan(store, entity(PERSON)?, &Value::Object(body), base, None)?;
    node.singles.push((lookup, person));
    provided.insert(lookup);
    Ok(())
}

/// HR copies title, function, type, FTE, category and exempt status from the job, and the
/// thresholds from the compensation level; fills what the client left empty.
fn fill_from_job(row: &mut Row, base: i64) {
    let Some(job) = nonempty(row, "mshr_jobid").and_then(reference::job_profile) else {
        return;
    };
    let text: [(&str, &str); 3] = [
        ("mshr_titleid", job.description),
        ("mshr_jobfunctionid", job.function),
        ("mshr_jobtypeid", job.job_type),
    ];
    for (col, v) in text {
        if is_empty(row, col) {
            row.insert(col.into(), Value::String(v.into()));
        }
    }
    let options = [
        (
            "mshr_regulatoryjobcategory",
            "mshr_hcmregulatoryjobcategory",
            job.category,
        ),
        ("mshr_exemptstatus", "cdm_jobexemptstatus", job.exempt),
    ];
    for (col, set, label) in options {
        if is_empty(row, col) {
            if let Some(v) = data::option_value(base, set, label) {
                row.insert(col.into(), Value::from(v));
            }
        }
    }
    if is_empty(row, "mshr_defaultfulltimeequivalency") {
        row.insert("mshr_defaultfulltimeequivalency".into(), Value::from(1.0));
    }
    let company = nonempty(row, "mshr_dataareaid")
        .unwrap_or(DEFAULT_COMPANY)
        .to_string();
    let band = nonempty(row, "mshr_compensationlevelid")
        .and_then(|level| reference::comp_band(level, &company));
    if let Some((low, mid, high)) = band {
        for (col, v) in [
            ("mshr_compensationlowthreshold", low),
            ("mshr_compensationcontrolpoint", mid),
            ("mshr_compensationhighthreshold", high),
        ] {
            if is_empty(row, col) {
                row.insert(col.into(), Value::from(v));
            }
        }
    }
}

/// Resolves every natural-key lookup not provided by a parent, nested row or bind; then fills
/// readable ids of lookups set through copies (e.g. department number from the position).
fn resolve_rules(
    store: &Store,
    def: &EntityDef,
    row: &mut Row,
    provided: &HashSet<&'static str>,
) -> Result<(), DvError> {
    for r in all_rules(def) {
        if r.lookup == COMPANY_RULE.lookup && is_empty(row, "mshr_dataareaid") && def.documented {
            row.insert("mshr_dataareaid".into(), Value::from(DEFAULT_COMPANY));
        }
        if provided.contains(r.lookup) {
            continue;
        }
        if let Some((id, target)) = resolve(store, def, r, row)? {
            let target = target.clone();
            apply_link(row, r, id, &target);
        } else if def.column(r.lookup).is_some() && !row.contains_key(r.lookup) {
            row.insert(r.lookup.to_string(), Value::Null);
        }
    }
    for r in all_rules(def) {
        let Some(id) = row
            .get(r.lookup)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        if !is_empty(row, r.keys[0].0) {
            continue;
        }
        if let Some(target) = store.table(r.target).and_then(|t| t.get(&id)).cloned() {
            apply_link(row, r, id, &target);
        }
    }
    Ok(())
}

fn check_required(
    def: &EntityDef,
    row: &Row,
    provided: &HashSet<&'static str>,
) -> Result<(), DvError> {
    for col in required(def) {
        let by_link = all_rules(def)
            .any(|r| provided.contains(r.lookup) && r.keys.iter().any(|(own, _)| *own == col));
        if is_empty(row, col) && !by_link {
            return Err(fno_error(def, format!("Field '{col}' must be filled in.")));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Insert (cannot fail once planned)

/// Next readable number `prefix` + zero-padded counter, one past the highest in `col`.
fn next_number(store: &Store, table: &str, col: &str, prefix: &str, width: usize) -> String {
    let max = store
        .table(table)
        .map(|t| {
            t.rows
                .iter()
                .filter_map(|r| r.get(col).and_then(Value::as_str))
                .filter_map(|s| {
                    s.get(..prefix.len())
                        .filter(|p| p.eq_ignore_ascii_case(prefix))
                        .and_then(|_| s[prefix.len()..].parse::<u64>().ok())
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    format!("{prefix}{:0width$}", max + 1)
}

fn generate(store: &Store, def: &EntityDef, row: &mut Row) {
    let logical = def.logical_name;
    let number = match logical {
        RR => {
            let company = nonempty(row, "mshr_dataareaid")
                .unwrap_or(DEFAULT_COMPANY)
                .to_uppercase();
            Some((
                "mshr_recruitingrequestid",
                next_number(
                    store,
                    logical,
                    "mshr_recruitingrequestid",
                    &format!("{company}-"),
                    6,
                ),
            ))
        }
        "mshr_hcmcandidatetohireentity" => Some((
            "mshr_candidateid",
            next_number(store, logical, "mshr_candidateid", "CAND-", 6),
        )),
        PERSON => Some((
            "mshr_partynumber",
            next_number(store, logical, "mshr_partynumber", "HR", 9),
        )),
        "mshr_hcmrecruitingrequestlocationentity"
        | "mshr_hcmpersonaddressentity"
        | "mshr_dirpartycontactentity"
            if is_empty(row, "mshr_locationid") =>
        {
            Some((
                "mshr_locationid",
                next_number(store, logical, "mshr_locationid", "", 9),
            ))
        }
        _ => None,
    };
    if let Some((col, v)) = number {
        row.insert(col.to_string(), Value::String(v));
    }
    if logical == PERSON {
        row.insert("mshr_name".into(), Value::String(data::person_name(row)));
    }
}

/// Sets `row`'s lookup to the stored row `id` and copies its natural keys.
fn link(store: &Store, def: &EntityDef, row: &mut Row, lookup: &str, id: Uuid) {
    let target = rule_for(def, lookup).and_then(|r| {
        store
            .table(r.target)
            .and_then(|t| t.get(&id))
            .map(|t| (r, t))
    });
    match target {
        Some((r, t)) => {
            let t = t.clone();
            apply_link(row, r, id, &t);
        }
        None => {
            row.insert(lookup.to_string(), Value::String(id.to_string()));
        }
    }
}

fn insert(store: &mut Store, node: Node, base: i64) -> Uuid {
    let Node {
        def,
        pk,
        mut row,
        singles,
        children,
        relinks,
    } = node;
    for (lookup, child) in singles {
        let cid = insert(store, child, base);
        link(store, def, &mut row, lookup, cid);
    }
    generate(store, def, &mut row);
    let id = pk.unwrap_or_else(|| data::next_guid(store, def));
    let mut full = data::blank_row(def);
    for (k, v) in row {
        full.insert(k, v);
    }
    full.insert(def.primary_id.clone(), Value::String(id.to_string()));
    if let Some(pf) = data::primary_field(def, &full, base) {
        full.insert("mshr_primaryfield".into(), Value::String(pf));
    }
    if let Some(t) = store.table_mut(def.logical_name) {
        t.insert(full);
    }
    for (lookup, mut child) in children {
        link(store, child.def, &mut child.row, lookup, id);
        insert(store, child, base);
    }
    for (table, lookup, child_id) in relinks {
        relink(store, table, lookup, child_id, id, base);
    }
    id
}

/// Points an existing row at a new parent (collection `@odata.bind`).
fn relink(store: &mut Store, table: &str, lookup: &str, child_id: Uuid, parent: Uuid, base: i64) {
    let Ok(cdef) = entity(table) else { return };
    let Some(mut row) = store.table(table).and_then(|t| t.get(&child_id)).cloned() else {
        return;
    };
    link(store, cdef, &mut row, lookup, parent);
    if let Some(pf) = data::primary_field(cdef, &row, base) {
        row.insert("mshr_primaryfield".into(), Value::String(pf));
    }
    if let Some(t) = store.table_mut(table) {
        t.update(&child_id, row);
    }
}

// ---------------------------------------------------------------------------------------------
// Public API

/// POST to an entity set: validates and inserts; deep insert of nested single-valued navs (object)
/// and collection navs (arrays), `<nav>@odata.bind` to existing rows. Returns the new row's id.
pub fn create(
    store: &mut Store,
    entity: &EntityDef,
    body: &Value,
    option_base: i64,
) -> Result<Uuid, DvError> {
    let def = self::entity(entity.logical_name)?;
    let node = plan(store, def, body, option_base, None)?;
    Ok(insert(store, node, option_base))
}

/// PATCH: validates and applies only the given columns; natural keys given re-resolve their lookups.
pub fn update(
    store: &mut Store,
    entity: &EntityDef,
    id: Uuid,
    body: &Value,
    option_base: i64,
) -> Result<(), DvError> {
    let def = self::entity(entity.logical_name)?;
    let existing = store
        .table(def.logical_name)
        .and_then(|t| t.get(&id))
        .cloned()
        .ok_or_else(|| DvError::record_not_found(def.logical_name, &id.to_string()))?;
    let obj = body
        .as_object()
        .ok_or_else(|| DvError::bad_payload(&def.set_name, "The payload must be a JSON object."))?;
    let mut patch = Map::new();
    let mut node = Node {
        def,
        pk: None,
        row: Map::new(),
        singles: Vec::new(),
        children: Vec::new(),
        relinks: Vec::new(),
    };
    let mut provided = HashSet::new();
    for (k, v) in obj {
        if let Some(name) = k.strip_suffix("@odata.bind") {
            plan_bind(store, def, name, v, &mut node, &mut provided)?;
        } else if k.contains('@') {
            continue;
        } else if def.nav(k).is_some() {
            return Err(DvError::bad_payload(
                &def.set_name,
                format!("Deep update of navigation property '{k}' is not supported."),
            ));
        } else if let Some(col) = def.column(k) {
            let value = coerce(def, col, v, option_base)?;
            if col.name != def.primary_id && !system_generated(def, k) {
                if value.is_null() && required(def).contains(&col.name) {
                    return Err(fno_error(def, format!("Field '{k}' must be filled in.")));
                }
                patch.insert(k.clone(), value);
            }
        } else {
            return Err(invalid_property(k, def));
        }
    }
    // Natural keys in the patch re-resolve their lookups against the merged row.
    let mut merged = existing.clone();
    for (k, v) in node.row.iter().chain(patch.iter()) {
        merged.insert(k.clone(), v.clone());
    }
    for r in all_rules(def) {
        if provided.contains(r.lookup) || !r.keys.iter().any(|(own, _)| patch.contains_key(*own)) {
            continue;
        }
        match resolve(store, def, r, &merged)? {
            Some((tid, target)) => {
                let target = target.clone();
                apply_link(&mut merged, r, tid, &target);
            }
            None => {
                merged.insert(r.lookup.to_string(), Value::Null);
            }
        }
    }
    if def.logical_name == PERSON {
        merged.insert(
            "mshr_name".into(),
            Value::String(data::person_name(&merged)),
        );
    }
    if let Some(pf) = data::primary_field(def, &merged, option_base) {
        merged.insert("mshr_primaryfield".into(), Value::String(pf));
    }
    let changed: Row = merged
        .into_iter()
        .filter(|(k, v)| existing.get(k) != Some(v))
        .collect();
    if let Some(t) = store.table_mut(def.logical_name) {
        t.update(&id, changed);
    }
    for (table, lookup, child_id) in node.relinks {
        relink(store, table, lookup, child_id, id, option_base);
    }
    Ok(())
}

/// DELETE: removes the row; 404 when it does not exist.
pub fn delete(store: &mut Store, entity: &EntityDef, id: Uuid) -> Result<(), DvError> {
    let deleted = store
        .table_mut(entity.logical_name)
        .is_some_and(|t| t.delete(&id));
    if deleted {
        Ok(())
    } else {
        Err(DvError::record_not_found(
            entity.logical_name,
            &id.to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::data::{seed, SeedOptions};

    const BASE: i64 = 200_000_000;

    fn store() -> Store {
        // Default scale: the documented example needs request USMF-000141.
        seed(&SeedOptions::default())
    }

    fn def(set: &str) -> &'static EntityDef {
        schema().by_set(set).expect("set")
    }

    fn count(store: &Store, logical: &str) -> usize {
        store.table(logical).map_or(0, |t| t.rows.len())
    }

    fn get<'a>(store: &'a Store, logical: &str, id: Uuid) -> &'a Row {
        store.table(logical).and_then(|t| t.get(&id)).expect("row")
    }

    fn s<'a>(row: &'a Row, col: &str) -> &'a str {
        row.get(col).and_then(Value::as_str).unwrap_or_default()
    }

    fn find_id(store: &Store, logical: &str, col: &str, v: &str) -> Uuid {
        let d = schema().by_logical(logical).expect("def");
        store
            .table(logical)
            .and_then(|t| t.rows.iter().find(|r| s(r, col) == v))
            .and_then(|r| row_id(d, r))
            .expect("row by key")
    }

    const CANDIDATES: &str = "mshr_hcmcandidatetohireentities";

    /// The documented 3-level deep insert (data model §4.2), verbatim.
    fn documented_example() -> Value {
        json!({ "mshr_dataareaid": "usmf", "mshr_recruitingrequestid": "USMF-000141", "mshr_positionid": "000601",
          "mshr_iswillingtorelocate": 200000000, "mshr_availabilitydate": "2021-03-18", "mshr_comments": "...",
          "mshr_FK_Person_id": {
            "mshr_firstname": "Evelyn", "mshr_lastname": "Chambers", "mshr_namesequencedisplayas": "FirstMiddleLast",
            "mshr_FK_HcmPersonSkillEntity_Person": [
              { "mshr_skillid": "CustFocus", "mshr_ratingid": "Skills", "mshr_levelid": "4", "mshr_ratinglevelexaminer": "",
                "mshr_leveltype": 200000000, "mshr_yearsofexperience": 0, "mshr_verified": 200000000,
                "mshr_leveldate": "2013-01-01T00:00:00Z" },
              { "mshr_skillid": "CashFlow", "mshr_ratingid": "Skills", "mshr_levelid": "4", "mshr_ratinglevelexaminer": "",
                "mshr_leveltype": 200000000, "mshr_yearsofexperience": 0, "mshr_verified": 200000000,
                "mshr_leveldate": "2013-01-01T00:00:00Z" } ],
            "mshr_FK_HcmPersonEducationEntity_Person": [
              { "mshr_creditbasis": 200000000, "mshr_enddate": "2021-02-22T00:00:00Z", "mshr_educationlevelid": "Bachelor",
                "mshr_creditsearned": 0, "mshr_startdate": "2017-02-21T00:00:00Z", "mshr_creditscompleted": 0,
                "mshr_educationinstitutionid": "Cottonwood Univ", "mshr_educationdisciplineid": "Business Mgmt",
                "mshr_durationunit": 200000000 } ] } })
    }

    const COUNTED: [&str; 4] = [
        "mshr_hcmcandidatetohireentity",
        "mshr_dirpersonentity",
        "mshr_hcmpersonskillentity",
        "mshr_hcmpersoneducationentity",
    ];

    fn counts(store: &Store) -> Vec<usize> {
        COUNTED.iter().map(|t| count(store, t)).collect()
    }

    #[test]
    fn documented_deep_insert_creates_the_tree() {
        let mut st = store();
        let before = counts(&st);
        let id = create(&mut st, def(CANDIDATES), &documented_example(), BASE).expect("create");
        let after = counts(&st);
        let added: Vec<usize> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        assert_eq!(added, vec![1, 1, 2, 1]);

        let cand = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
        assert_eq!(s(&cand, "mshr_firstname"), "Evelyn");
        assert_eq!(s(&cand, "mshr_availabilitydate"), "2021-03-18T00:00:00Z");
        assert!(s(&cand, "mshr_candidateid").starts_with("CAND-"));
        assert_eq!(cand["mshr_applicantintegrationresult"], json!(BASE));
        let rr = find_id(&st, RR, "mshr_recruitingrequestid", "USMF-000141");
        assert_eq!(
            s(&cand, "_mshr_fk_recruitingrequest_id_value"),
            rr.to_string()
        );
        let pos = find_id(&st, POSITION, "mshr_positionid", "000601");
        assert_eq!(s(&cand, "_mshr_fk_position_id_value"), pos.to_string());
        let company = find_id(&st, "cdm_company", "cdm_companycode", "usmf");
        assert_eq!(s(&cand, "_mshr_dataareaid_id_value"), company.to_string());

        let pid = Uuid::parse_str(s(&cand, "_mshr_fk_person_id_value")).expect("person id");
        let person = get(&st, PERSON, pid).clone();
        assert_eq!(s(&person, "mshr_name"), "Evelyn Chambers");
        assert_eq!(s(&cand, "mshr_partynumber"), s(&person, "mshr_partynumber"));
        assert!(s(&person, "mshr_partynumber").starts_with("HR"));
        let party = s(&person, "mshr_partynumber");

        let skills = st
            .table("mshr_hcmpersonskillentity")
            .expect("t")
            .children_of("_mshr_fk_person_id_value", &pid);
        assert_eq!(skills.len(), 2);
        for k in &skills {
            assert_eq!(s(k, "mshr_partynumber"), party);
            assert!(!s(k, "_mshr_fk_skill_id_value").is_empty());
            assert!(!s(k, "_mshr_fk_ratinglevel_id_value").is_empty());
            assert!(k["_mshr_fk_ratinglevelexaminer_id_value"].is_null());
            assert!(s(k, "mshr_primaryfield").starts_with(&format!("{party} | Actual | ")));
        }
        let edu = st
            .table("mshr_hcmpersoneducationentity")
            .expect("t")
            .children_of("_mshr_fk_person_id_value", &pid);
        assert_eq!(edu.len(), 1);
        let degree = find_id(
            &st,
            "mshr_hcmeducationdegreeentity",
            "mshr_educationlevelid",
            "Bachelor",
        );
        assert_eq!(
            s(edu[0], "_mshr_fk_educationlevel_id_value"),
            degree.to_string()
        );
        assert_eq!(
            s(edu[0], "mshr_primaryfield"),
            format!("{party} | Business Mgmt | Cottonwood Univ | Bachelor")
        );
    }

    fn assert_err(r: Result<impl std::fmt::Debug, DvError>, status: u16, code: &str, needle: &str) {
        let e = r.expect_err("should fail");
        assert_eq!(e.status.as_u16(), status, "{e}");
        assert_eq!(e.code, code, "{e}");
        assert!(e.message.contains(needle), "{e}");
    }

    #[test]
    fn unknown_natural_key_fails_and_inserts_nothing() {
        let mut st = store();
        let before = counts(&st);
        let mut body = documented_example();
        body["mshr_FK_Person_id"]["mshr_FK_HcmPersonSkillEntity_Person"][1]["mshr_skillid"] =
            json!("Juggling");
        assert_err(
            create(&mut st, def(CANDIDATES), &body, BASE),
            400,
            "0x80040265",
            "'Juggling'",
        );
        assert_eq!(counts(&st), before);
        let body = json!({"mshr_recruitingrequestid": "USMF-999999", "mshr_firstname": "A"});
        assert_err(
            create(&mut st, def(CANDIDATES), &body, BASE),
            400,
            "0x80040265",
            "USMF-999999",
        );
        assert_eq!(counts(&st), before);
    }

    #[test]
    fn validation_errors() {
        let mut st = store();
        let c = def(CANDIDATES);
        let base = json!({"mshr_firstname": "Ann"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        assert_err(create(&mut st, c, &with("mshr_nickname", json!("x")), BASE), 400, "0x0",
            "Invalid property 'mshr_nickname' was found in entity 'Microsoft.Dynamics.CRM.mshr_hcmcandidatetohireentity'");
        assert_err(
            create(
                &mut st,
                c,
                &with("_mshr_fk_person_id_value", json!(Uuid::nil())),
                BASE,
            ),
            400,
            "0x0",
            "Navigation properties",
        );
        assert_err(
            create(&mut st, c, &with("mshr_gender", json!("Female")), BASE),
            400,
            "0x80048d19",
            "Edm.Int32",
        );
        assert_err(
            create(
                &mut st,
                c,
                &with("mshr_birthdate", json!("not a date")),
                BASE,
            ),
            400,
            "0x80048d19",
            "not a date",
        );
        assert_err(
            create(&mut st, c, &with("mshr_firstname", json!(12)), BASE),
            400,
            "0x80048d19",
            "Edm.String",
        );
        assert_err(
            create(&mut st, c, &with("mshr_gender", json!(BASE + 4)), BASE),
            400,
            "0x8004431A",
            "picklist value is out of the range",
        );
        assert_err(
            create(&mut st, c, &with("mshr_gender", json!(1)), BASE),
            400,
            "0x8004431A",
            "out of the range",
        );
        assert_err(
            create(&mut st, c, &json!({"mshr_lastname": "Only"}), BASE),
            400,
            "0x80040265",
            "mshr_firstname",
        );
        assert_err(
            create(&mut st, c, &json!([1, 2]), BASE),
            400,
            "0x80048d19",
            "JSON object",
        );
        // A column name with @odata.bind.
        assert_err(
            create(
                &mut st,
                c,
                &with(
                    "mshr_partynumber@odata.bind",
                    json!("/mshr_dirpersonentities(00000000-0000-0000-0000-000000000001)"),
                ),
                BASE,
            ),
            400,
            "0x80048d19",
            "undeclared property 'mshr_partynumber'",
        );
        assert_err(
            create(
                &mut st,
                c,
                &with(
                    "mshr_fk_person_id@odata.bind",
                    json!("/mshr_dirpersonentities(00000000-0000-0000-0000-000000000001)"),
                ),
                BASE,
            ),
            400,
            "0x80048d19",
            "undeclared property",
        );
        assert_err(
            create(
                &mut st,
                c,
                &with(
                    "mshr_FK_Person_id@odata.bind",
                    json!("/mshr_dirpersonentities(00000000-0000-0000-0000-000000000001)"),
                ),
                BASE,
            ),
            404,
            "0x80040217",
            "Does Not Exist",
        );
        assert_err(
            create(
                &mut st,
                c,
                &with(
                    "mshr_FK_Person_id@odata.bind",
                    json!("/mshr_hcmskillentities(00000000-0000-0000-0000-000000000001)"),
                ),
                BASE,
            ),
            400,
            "0x80048d19",
            "entity set",
        );
        let rr = json!({"mshr_jobid": "Accountant", "mshr_estimatedstartdate": "2025-09-01"});
        assert_err(
            create(&mut st, def("mshr_hcmrecruitingrequestentities"), &rr, BASE),
            400,
            "0x80040265",
            "mshr_description",
        );
    }

    #[test]
    fn other_option_base() {
        let base = 1_000;
        let mut st = seed(&SeedOptions {
            scale: 20,
            option_base: base,
        });
        let c = def(CANDIDATES);
        assert_err(
            create(
                &mut st,
                c,
                &json!({"mshr_firstname": "A", "mshr_gender": 200000001}),
                base,
            ),
            400,
            "0x8004431A",
            "range",
        );
        let id = create(
            &mut st,
            c,
            &json!({"mshr_firstname": "A", "mshr_gender": base + 2}),
            base,
        )
        .expect("create");
        assert_eq!(
            get(&st, "mshr_hcmcandidatetohireentity", id)["mshr_applicantintegrationresult"],
            json!(base)
        );
    }

    #[test]
    fn implicit_person_and_internal_candidate() {
        let mut st = store();
        let c = def(CANDIDATES);
        let persons = count(&st, PERSON);
        let body = json!({"mshr_firstname": "Ingrid", "mshr_lastname": "Hansen", "mshr_birthdate": "1990-05-17",
                          "mshr_dataareaid": "NOMF", "mshr_gender": BASE + 2});
        let id = create(&mut st, c, &body, BASE).expect("implicit");
        assert_eq!(count(&st, PERSON), persons + 1);
        let cand = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
        assert_eq!(s(&cand, "mshr_dataareaid"), "nomf");
        let pid = Uuid::parse_str(s(&cand, "_mshr_fk_person_id_value")).expect("pid");
        let person = get(&st, PERSON, pid);
        assert_eq!(s(person, "mshr_name"), "Ingrid Hansen");
        assert_eq!(person["mshr_birthyear"], json!(1990));
        assert_eq!(person["mshr_birthmonth"], json!(BASE + 5));
        let party = s(person, "mshr_partynumber").to_string();

        // Internal candidate: the existing person's party number, no personal data.
        let id2 = create(&mut st, c, &json!({"mshr_partynumber": party}), BASE).expect("internal");
        assert_eq!(count(&st, PERSON), persons + 1);
        let cand2 = get(&st, "mshr_hcmcandidatetohireentity", id2);
        assert_eq!(s(cand2, "_mshr_fk_person_id_value"), pid.to_string());
        assert_eq!(s(cand2, "mshr_firstname"), "Ingrid");

        // Bind to an existing person (leading slash optional).
        let bind =
            json!({"mshr_FK_Person_id@odata.bind": format!("mshr_dirpersonentities({pid})")});
        let id3 = create(&mut st, c, &bind, BASE).expect("bind");
        assert_eq!(
            s(
                get(&st, "mshr_hcmcandidatetohireentity", id3),
                "mshr_partynumber"
            ),
            party
        );
        assert_eq!(count(&st, PERSON), persons + 1);
    }

    #[test]
    fn recruiting_request_with_children() {
        let mut st = store();
        let body = json!({
            "mshr_dataareaid": "usmf", "mshr_description": "Accountant", "mshr_jobid": "Accountant",
            "mshr_estimatedstartdate": "2025-09-01", "mshr_compensationlevelid": "G04",
            "mshr_hiringmanagerpersonnelnumber": "000301",
            "mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest": [{"mshr_skillid": "Excel", "mshr_ratinglevelid": "3"}],
            "mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest": [{"mshr_educationlevelid": "Bachelor", "mshr_educationdisciplineid": "Accounting"}]
        });
        let id = create(
            &mut st,
            def("mshr_hcmrecruitingrequestentities"),
            &body,
            BASE,
        )
        .expect("rr");
        let rr = get(&st, RR, id).clone();
        let number = s(&rr, "mshr_recruitingrequestid").to_string();
        assert!(number.starts_with("USMF-"));
        assert_eq!(s(&rr, "mshr_primaryfield"), number);
        assert_eq!(s(&rr, "mshr_titleid"), "Accountant");
        assert_eq!(rr["mshr_status"], json!(BASE));
        assert_eq!(rr["mshr_compensationlowthreshold"], json!(56000.0));
        for col in [
            "_mshr_fk_job_id_value",
            "_mshr_fk_title_id_value",
            "_mshr_fk_jobtype_id_value",
            "_mshr_fk_compensationlevel_id_value",
            "_mshr_fk_hiringmanager_id_value",
            "_mshr_dataareaid_id_value",
        ] {
            assert!(!s(&rr, col).is_empty(), "{col}");
        }
        let skills = st
            .table("mshr_hcmrecruitingrequestskillentity")
            .expect("t")
            .children_of("_mshr_fk_recruitingrequest_id_value", &id);
        assert_eq!(skills.len(), 1);
        assert_eq!(s(skills[0], "mshr_recruitingrequestid"), number);
        assert_eq!(s(skills[0], "mshr_dataareaid"), "usmf");
        assert_eq!(s(skills[0], "mshr_skilldescription"), "Microsoft Excel");
        assert_eq!(s(skills[0], "mshr_ratingleveldescription"), "Intermediate");
        assert_eq!(
            s(skills[0], "mshr_primaryfield"),
            format!("{number} | Excel")
        );

        // A position by natural keys: the request number resolves the lookup and the company.
        let pos = json!({"mshr_recruitingrequestid": number, "mshr_positionid": "000601"});
        let pid = create(
            &mut st,
            def("mshr_hcmrecruitingrequestpositionentities"),
            &pos,
            BASE,
        )
        .expect("pos");
        let p = get(&st, "mshr_hcmrecruitingrequestpositionentity", pid);
        assert_eq!(s(p, "_mshr_fk_recruitingrequest_id_value"), id.to_string());
        assert_eq!(s(p, "mshr_dataareaid"), "usmf");
        assert!(!s(p, "mshr_departmentnumber").is_empty());
        // Position 000601 belongs to usmf: from a gbsi request it is unknown.
        let gbsi = json!({"mshr_recruitingrequestid": "GBSI-000001", "mshr_positionid": "000601"});
        assert_err(
            create(
                &mut st,
                def("mshr_hcmrecruitingrequestpositionentities"),
                &gbsi,
                BASE,
            ),
            400,
            "0x80040265",
            "000601",
        );
    }

    #[test]
    fn update_and_delete() {
        let mut st = store();
        let c = def(CANDIDATES);
        let id = create(&mut st, c, &documented_example(), BASE).expect("create");
        let before = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
        update(
            &mut st,
            c,
            id,
            &json!({"mshr_applicantintegrationresult": BASE + 1, "mshr_comments": "hired"}),
            BASE,
        )
        .expect("patch");
        let after = get(&st, "mshr_hcmcandidatetohireentity", id).clone();
        assert_eq!(after["mshr_applicantintegrationresult"], json!(BASE + 1));
        assert_eq!(s(&after, "mshr_comments"), "hired");
        for (k, v) in &before {
            if k != "mshr_applicantintegrationresult" && k != "mshr_comments" {
                assert_eq!(&after[k], v, "{k} changed");
            }
        }
        // A natural key re-resolves its lookup; an unknown one fails without changes.
        update(
            &mut st,
            c,
            id,
            &json!({"mshr_donothirereasoncodeid": "Salary"}),
            BASE,
        )
        .expect("reason");
        let reason = find_id(
            &st,
            "mshr_hcmreasoncodeentity",
            "mshr_reasoncodeid",
            "Salary",
        );
        assert_eq!(
            s(
                get(&st, "mshr_hcmcandidatetohireentity", id),
                "_mshr_fk_reasoncode_id_value"
            ),
            reason.to_string()
        );
        assert_err(
            update(&mut st, c, id, &json!({"mshr_positionid": "999999"}), BASE),
            400,
            "0x80040265",
            "999999",
        );
        assert_err(
            update(&mut st, c, id, &json!({"mshr_gender": 7}), BASE),
            400,
            "0x8004431A",
            "range",
        );
        assert_err(
            update(&mut st, c, id, &json!({"bogus": 1}), BASE),
            400,
            "0x0",
            "Invalid property 'bogus'",
        );
        let missing = Uuid::from_u128(42);
        assert_err(
            update(&mut st, c, missing, &json!({"mshr_comments": "x"}), BASE),
            404,
            "0x80040217",
            "Does Not Exist",
        );

        delete(&mut st, c, id).expect("delete");
        assert!(st
            .table("mshr_hcmcandidatetohireentity")
            .and_then(|t| t.get(&id))
            .is_none());
        assert_err(delete(&mut st, c, id), 404, "0x80040217", "Does Not Exist");
    }

    #[test]
    fn person_update_renames() {
        let mut st = store();
        let p = def("mshr_dirpersonentities");
        let id = create(
            &mut st,
            p,
            &json!({"mshr_firstname": "Kari", "mshr_lastname": "Nilsen"}),
            BASE,
        )
        .expect("person");
        update(
            &mut st,
            p,
            id,
            &json!({"mshr_middlename": "Marie", "mshr_partynumber": "ignored"}),
            BASE,
        )
        .expect("patch");
        let row = get(&st, PERSON, id);
        assert_eq!(s(row, "mshr_name"), "Kari Marie Nilsen");
        assert!(s(row, "mshr_partynumber").starts_with("HR"));
        assert_err(
            update(&mut st, p, id, &json!({"mshr_firstname": null}), BASE),
            400,
            "0x80040265",
            "mshr_firstname",
        );
    }
}
