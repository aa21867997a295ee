//! Recruiting request DTOs and the mapping from Dataverse rows (docs/ats-data-model.md#tables). Column names
//! are the documented ones; only the columns a response needs are selected (lookups are slow on
//! virtual tables, docs/dataverse-web-api.md#virtual-tables).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::resolve::lang::Lang;
use crate::resolve::lookups::{str_of, uuid_of, LookupRef, Resolved, Wanted};
use crate::resolve::options::{OptionSetInfo, OptionValue};

pub use super::row::Row;
use super::row::{add_lookups, children, date_of, lookup, num, option};

pub const SET: &str = "mshr_hcmrecruitingrequestentities";
pub const PK: &str = "mshr_hcmrecruitingrequestentityid";
pub const NAV_POSITIONS: &str = "mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest";
pub const NAV_SKILLS: &str = "mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest";
pub const NAV_EDUCATION: &str = "mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest";
pub const NAV_LOCATION: &str = "mshr_FK_RecruitingRequestLocation_id";
/// The entity sets behind the child navigations (read through `$expand`; the role needs them too).
pub const POSITIONS_SET: &str = "mshr_hcmrecruitingrequestpositionentities";
pub const SKILLS_SET: &str = "mshr_hcmrecruitingrequestskillentities";
pub const EDUCATION_SET: &str = "mshr_hcmrecruitingrequesteducationentities";

/// Option sets this resource uses (global option set names from the environment's metadata).
pub const OS_STATUS: &str = "mshr_hcmrecruitingrequeststatus";
pub const OS_POSITION_STATUS: &str = "mshr_hcmrecruitingrequestpositionstatus";
pub const OS_REGULATORY: &str = "mshr_hcmregulatoryjobcategory";
pub const OS_EXEMPT: &str = "cdm_jobexemptstatus";

pub const SELECT: &[&str] = &[
    PK,
    "mshr_recruitingrequestid",
    "mshr_dataareaid",
    "_mshr_dataareaid_id_value",
    "mshr_description",
    "mshr_externaldescription",
    "mshr_status",
    "_mshr_fk_hiringmanager_id_value",
    "_mshr_fk_recruiter_id_value",
    "_mshr_fk_job_id_value",
    "_mshr_fk_title_id_value",
    "_mshr_fk_jobtype_id_value",
    "mshr_jobfunctionid",
    "_mshr_fk_recruitingrequestlocation_id_value",
    "mshr_estimatedstartdate",
    "mshr_defaultfulltimeequivalency",
    "mshr_regulatoryjobcategory",
    "mshr_exemptstatus",
    "mshr_compensationlowthreshold",
    "mshr_compensationcontrolpoint",
    "mshr_compensationhighthreshold",
    "mshr_compensationlevelid",
    "mshr_comments",
];

// Children select only what the response maps: a lookup's code and name come from the resolver
// (its FormattedValue is the fallback), so the denormalised id/description copies are not read.
pub const POSITION_SELECT: &[&str] = &[
    "mshr_hcmrecruitingrequestpositionentityid",
    "_mshr_fk_position_id_value",
    "mshr_description",
    "mshr_status",
    "_mshr_fk_positiontype_id_value",
    "_mshr_fk_department_id_value",
    "_mshr_fk_reportstoposition_id_value",
    "_mshr_fk_reportstoworker_id_value",
];
pub const SKILL_SELECT: &[&str] = &[
    "mshr_hcmrecruitingrequestskillentityid",
    "_mshr_fk_skill_id_value",
    "_mshr_fk_ratinglevel_id_value",
    // The data model's JSON and example use this name (its property table says
    // `_mshr_fk_hcmratingmodel_id_value`: a documented conflict).
    "_mshr_fk_ratingmodel_id_value",
];
pub const EDUCATION_SELECT: &[&str] = &[
    "mshr_hcmrecruitingrequesteducationentityid",
    "_mshr_fk_educationlevel_id_value",
    "_mshr_fk_educationdiscipline_id_value",
];
pub const LOCATION_SELECT: &[&str] = &[
    "mshr_hcmrecruitingrequestlocationentityid",
    "mshr_recruitingrequestlocationid",
    "mshr_description",
    "mshr_street",
    "mshr_city",
    "mshr_state",
    "mshr_zipcode",
    "mshr_countryregionid",
    "mshr_email",
    "mshr_telephone",
];

/// (lookup property, target table) for each lookup a recruiting request shows.
const LOOKUPS: &[(&str, &str)] = &[
    ("_mshr_dataareaid_id_value", "cdm_company"),
    (
        "_mshr_fk_hiringmanager_id_value",
        "mshr_hcmworkerbaseentity",
    ),
    ("_mshr_fk_recruiter_id_value", "mshr_dirpersonentity"),
    ("_mshr_fk_job_id_value", "mshr_hcmjobentity"),
    ("_mshr_fk_title_id_value", "mshr_hcmtitleentity"),
    ("_mshr_fk_jobtype_id_value", "mshr_hcmjobtypeentity"),
    (
        "_mshr_fk_recruitingrequestlocation_id_value",
        "mshr_hcmrecruitingrequestlocationentity",
    ),
];
const POSITION_LOOKUPS: &[(&str, &str)] = &[
    ("_mshr_fk_position_id_value", "mshr_hcmpositionv2entity"),
    (
        "_mshr_fk_positiontype_id_value",
        "mshr_hcmpositiontypeentity",
    ),
    ("_mshr_fk_department_id_value", "mshr_omdepartmententity"),
    (
        "_mshr_fk_reportstoposition_id_value",
        "mshr_hcmpositionv2entity",
    ),
    (
        "_mshr_fk_reportstoworker_id_value",
        "mshr_hcmworkerbaseentity",
    ),
];
const SKILL_LOOKUPS: &[(&str, &str)] = &[
    ("_mshr_fk_skill_id_value", "mshr_hcmskillentity"),
    ("_mshr_fk_ratinglevel_id_value", "mshr_hcmratinglevelentity"),
    ("_mshr_fk_ratingmodel_id_value", "mshr_hcmratingmodelentity"),
];
const EDUCATION_LOOKUPS: &[(&str, &str)] = &[
    (
        "_mshr_fk_educationlevel_id_value",
        "mshr_hcmeducationlevelentity",
    ),
    (
        "_mshr_fk_educationdiscipline_id_value",
        "mshr_hcmeducationdisciplineentity",
    ),
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Compensation {
    pub low: Option<f64>,
    pub control_point: Option<f64>,
    pub high: Option<f64>,
    pub level: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Position {
    pub id: Uuid,
    pub position: Option<LookupRef>,
    pub description: Option<String>,
    pub status: Option<OptionValue>,
    pub position_type: Option<LookupRef>,
    pub department: Option<LookupRef>,
    pub reports_to_position: Option<LookupRef>,
    pub reports_to_worker: Option<LookupRef>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Skill {
    pub id: Uuid,
    pub skill: Option<LookupRef>,
    pub rating_level: Option<LookupRef>,
    pub rating_model: Option<LookupRef>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Education {
    pub id: Uuid,
    pub education_level: Option<LookupRef>,
    pub discipline: Option<LookupRef>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Location {
    pub id: Uuid,
    pub code: Option<String>,
    pub name: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country_region: Option<String>,
    pub email: Option<String>,
    pub telephone: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecruitingRequest {
    pub id: Uuid,
    /// Readable number, e.g. `USMF-000001`.
    pub number: Option<String>,
    pub company: Option<LookupRef>,
    pub description: Option<String>,
    pub external_description: Option<String>,
    pub status: Option<OptionValue>,
    pub hiring_manager: Option<LookupRef>,
    pub recruiter: Option<LookupRef>,
    pub job: Option<LookupRef>,
    pub title: Option<LookupRef>,
    pub job_type: Option<LookupRef>,
    pub job_function: Option<String>,
    pub location: Option<LookupRef>,
    /// `YYYY-MM-DD`.
    pub estimated_start_date: Option<String>,
    pub full_time_equivalent: Option<f64>,
    pub regulatory_job_category: Option<OptionValue>,
    pub exempt_status: Option<OptionValue>,
    pub compensation: Compensation,
    pub comments: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<Position>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<Skill>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub education: Option<Vec<Education>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_detail: Option<Option<Location>>,
}

/// Which children to embed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Embed {
    pub positions: bool,
    pub skills: bool,
    pub education: bool,
    pub location: bool,
}

impl Embed {
    pub const ALL: Embed = Embed {
        positions: true,
        skills: true,
        education: true,
        location: true,
    };
}

/// Option sets needed to render rows, fetched by the caller from the catalog.
pub struct Labels<'a> {
    pub status: &'a OptionSetInfo,
    pub position_status: &'a OptionSetInfo,
    pub regulatory: &'a OptionSetInfo,
    pub exempt: &'a OptionSetInfo,
    pub lang: Lang,
}

/// Every lookup the given rows (and their embedded children) reference.
pub fn wanted_lookups(rows: &[Row]) -> Wanted {
    let mut w = Wanted::default();
    for row in rows {
        add_lookups(&mut w, row, LOOKUPS);
        children(row, NAV_POSITIONS).for_each(|c| add_lookups(&mut w, c, POSITION_LOOKUPS));
        children(row, NAV_SKILLS).for_each(|c| add_lookups(&mut w, c, SKILL_LOOKUPS));
        children(row, NAV_EDUCATION).for_each(|c| add_lookups(&mut w, c, EDUCATION_LOOKUPS));
    }
    w
}

pub fn map_row(
    row: &Row,
    embed: Embed,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<RecruitingRequest> {
    let l = |prop: &str| lookup(row, prop, LOOKUPS, resolved);
    let lang = labels.lang;
    Some(RecruitingRequest {
        id: uuid_of(row, PK)?,
        number: str_of(row, "mshr_recruitingrequestid"),
        company: l("_mshr_dataareaid_id_value"),
        description: str_of(row, "mshr_description"),
        external_description: str_of(row, "mshr_externaldescription"),
        status: option(row, "mshr_status", labels.status, lang),
        hiring_manager: l("_mshr_fk_hiringmanager_id_value"),
        recruiter: l("_mshr_fk_recruiter_id_value"),
        job: l("_mshr_fk_job_id_value"),
        title: l("_mshr_fk_title_id_value"),
        job_type: l("_mshr_fk_jobtype_id_value"),
        job_function: str_of(row, "mshr_jobfunctionid"),
        location: l("_mshr_fk_recruitingrequestlocation_id_value"),
        estimated_start_date: date_of(row, "mshr_estimatedstartdate"),
        full_time_equivalent: num(row, "mshr_defaultfulltimeequivalency"),
        regulatory_job_category: option(row, "mshr_regulatoryjobcategory", labels.regulatory, lang),
        exempt_status: option(row, "mshr_exemptstatus", labels.exempt, lang),
        compensation: Compensation {
            low: num(row, "mshr_compensationlowthreshold"),
            control_point: num(row, "mshr_compensationcontrolpoint"),
            high: num(row, "mshr_compensationhighthreshold"),
            level: str_of(row, "mshr_compensationlevelid"),
        },
        comments: str_of(row, "mshr_comments"),
        positions: embed.positions.then(|| {
            children(row, NAV_POSITIONS)
                .filter_map(|c| {
                    let pl = |prop: &str| lookup(c, prop, POSITION_LOOKUPS, resolved);
                    Some(Position {
                        id: uuid_of(c, "mshr_hcmrecruitingrequestpositionentityid")?,
                        position: pl("_mshr_fk_position_id_value"),
                        description: str_of(c, "mshr_description"),
                        status: option(c, "mshr_status", labels.position_status, lang),
                        position_type: pl("_mshr_fk_positiontype_id_value"),
                        department: pl("_mshr_fk_department_id_value"),
                        reports_to_position: pl("_mshr_fk_reportstoposition_id_value"),
                        reports_to_worker: pl("_mshr_fk_reportstoworker_id_value"),
                    })
                })
                .collect()
        }),
        skills: embed.skills.then(|| {
            children(row, NAV_SKILLS)
                .filter_map(|c| {
                    let sl = |prop: &str| lookup(c, prop, SKILL_LOOKUPS, resolved);
                    Some(Skill {
                        id: uuid_of(c, "mshr_hcmrecruitingrequestskillentityid")?,
                        skill: sl("_mshr_fk_skill_id_value"),
                        rating_level: sl("_mshr_fk_ratinglevel_id_value"),
                        rating_model: sl("_mshr_fk_ratingmodel_id_value"),
                    })
                })
                .collect()
        }),
        education: embed.education.then(|| {
            children(row, NAV_EDUCATION)
                .filter_map(|c| {
                    let el = |prop: &str| lookup(c, prop, EDUCATION_LOOKUPS, resolved);
                    Some(Education {
                        id: uuid_of(c, "mshr_hcmrecruitingrequesteducationentityid")?,
                        education_level: el("_mshr_fk_educationlevel_id_value"),
                        discipline: el("_mshr_fk_educationdiscipline_id_value"),
                    })
                })
                .collect()
        }),
        location_detail: embed.location.then(|| {
            row.get(NAV_LOCATION)
                .and_then(Value::as_object)
                .and_then(map_location)
        }),
    })
}

fn map_location(r: &Row) -> Option<Location> {
    Some(Location {
        id: uuid_of(r, "mshr_hcmrecruitingrequestlocationentityid")?,
        code: str_of(r, "mshr_recruitingrequestlocationid"),
        name: str_of(r, "mshr_description"),
        street: str_of(r, "mshr_street"),
        city: str_of(r, "mshr_city"),
        state: str_of(r, "mshr_state"),
        zip_code: str_of(r, "mshr_zipcode"),
        country_region: str_of(r, "mshr_countryregionid"),
        email: str_of(r, "mshr_email"),
        telephone: str_of(r, "mshr_telephone"),
    })
}
