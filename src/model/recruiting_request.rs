//! Recruiting request DTOs and the mapping from Dataverse rows (docs/ats-data-model.md#tables). Column names
//! are the documented ones; only the columns a response needs are selected (lookups are slow on
//! virtual tables, docs/dataverse-web-api.md#virtual-tables).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::resolve::lang::Lang;
use crate::resolve::lookups::{LookupRef, Resolved, Wanted};
use crate::resolve::options::{OptionSetInfo, OptionValue};

use super::json_out;
use super::row::{collection, option_cell, resolve_all, want_all, Cell, Guid, LookupCells};

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

/// The lookup tables a recruiting request row points at, in [`RequestRow::lookups`] order.
const LOOKUP_TARGETS: [&str; 7] = [
    "cdm_company",
    "mshr_hcmworkerbaseentity",
    "mshr_dirpersonentity",
    "mshr_hcmjobentity",
    "mshr_hcmtitleentity",
    "mshr_hcmjobtypeentity",
    "mshr_hcmrecruitingrequestlocationentity",
];
const POSITION_TARGETS: [&str; 5] = [
    "mshr_hcmpositionv2entity",
    "mshr_hcmpositiontypeentity",
    "mshr_omdepartmententity",
    "mshr_hcmpositionv2entity",
    "mshr_hcmworkerbaseentity",
];
const SKILL_TARGETS: [&str; 3] = [
    "mshr_hcmskillentity",
    "mshr_hcmratinglevelentity",
    "mshr_hcmratingmodelentity",
];
const EDUCATION_TARGETS: [&str; 2] = [
    "mshr_hcmeducationlevelentity",
    "mshr_hcmeducationdisciplineentity",
];

/// A recruiting request as Dataverse sends it (the columns of [`SELECT`], their lookups'
/// FormattedValue annotations and the expanded children), borrowing from the response body.
/// Unknown members (other annotations, `@odata.etag`) are skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RequestRow<'a> {
    #[serde(rename = "mshr_hcmrecruitingrequestentityid", borrow)]
    pub id: Cell<'a>,
    #[serde(rename = "mshr_recruitingrequestid", borrow)]
    pub number: Cell<'a>,
    /// The company code (`usmf`).
    #[serde(rename = "mshr_dataareaid", borrow)]
    pub dataareaid: Cell<'a>,
    #[serde(rename = "_mshr_dataareaid_id_value")]
    company: Guid,
    #[serde(
        rename = "_mshr_dataareaid_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    company_fv: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    description: Cell<'a>,
    #[serde(rename = "mshr_externaldescription", borrow)]
    external_description: Cell<'a>,
    #[serde(rename = "mshr_status", borrow)]
    status: Cell<'a>,
    #[serde(rename = "_mshr_fk_hiringmanager_id_value")]
    hiring_manager: Guid,
    #[serde(
        rename = "_mshr_fk_hiringmanager_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    hiring_manager_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_recruiter_id_value")]
    recruiter: Guid,
    #[serde(
        rename = "_mshr_fk_recruiter_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    recruiter_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_job_id_value")]
    job: Guid,
    #[serde(
        rename = "_mshr_fk_job_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    job_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_title_id_value")]
    title: Guid,
    #[serde(
        rename = "_mshr_fk_title_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    title_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_jobtype_id_value")]
    job_type: Guid,
    #[serde(
        rename = "_mshr_fk_jobtype_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    job_type_fv: Cell<'a>,
    #[serde(rename = "mshr_jobfunctionid", borrow)]
    job_function: Cell<'a>,
    #[serde(rename = "_mshr_fk_recruitingrequestlocation_id_value")]
    location: Guid,
    #[serde(
        rename = "_mshr_fk_recruitingrequestlocation_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    location_fv: Cell<'a>,
    #[serde(rename = "mshr_estimatedstartdate", borrow)]
    estimated_start_date: Cell<'a>,
    #[serde(rename = "mshr_defaultfulltimeequivalency", borrow)]
    full_time_equivalent: Cell<'a>,
    #[serde(rename = "mshr_regulatoryjobcategory", borrow)]
    regulatory_job_category: Cell<'a>,
    #[serde(rename = "mshr_exemptstatus", borrow)]
    exempt_status: Cell<'a>,
    #[serde(rename = "mshr_compensationlowthreshold", borrow)]
    compensation_low: Cell<'a>,
    #[serde(rename = "mshr_compensationcontrolpoint", borrow)]
    compensation_control_point: Cell<'a>,
    #[serde(rename = "mshr_compensationhighthreshold", borrow)]
    compensation_high: Cell<'a>,
    #[serde(rename = "mshr_compensationlevelid", borrow)]
    compensation_level: Cell<'a>,
    #[serde(rename = "mshr_comments", borrow)]
    comments: Cell<'a>,
    #[serde(
        rename = "mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest",
        deserialize_with = "collection",
        borrow
    )]
    positions: Vec<PositionRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest",
        deserialize_with = "collection",
        borrow
    )]
    skills: Vec<SkillRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest",
        deserialize_with = "collection",
        borrow
    )]
    education: Vec<EducationRow<'a>>,
    #[serde(rename = "mshr_FK_RecruitingRequestLocation_id", borrow)]
    location_detail: Option<LocationRow<'a>>,
}

impl<'a> RequestRow<'a> {
    /// (GUID, FormattedValue) of each lookup, in [`LOOKUP_TARGETS`] order.
    fn lookups(&self) -> [LookupCells<'_, 'a>; 7] {
        [
            (self.company.0, &self.company_fv),
            (self.hiring_manager.0, &self.hiring_manager_fv),
            (self.recruiter.0, &self.recruiter_fv),
            (self.job.0, &self.job_fv),
            (self.title.0, &self.title_fv),
            (self.job_type.0, &self.job_type_fv),
            (self.location.0, &self.location_fv),
        ]
    }

    /// The company code, lower-case (`""` when absent).
    pub fn company_code(&self) -> String {
        self.dataareaid.as_str().unwrap_or("").to_ascii_lowercase()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PositionRow<'a> {
    #[serde(rename = "mshr_hcmrecruitingrequestpositionentityid", borrow)]
    id: Cell<'a>,
    #[serde(rename = "_mshr_fk_position_id_value")]
    position: Guid,
    #[serde(
        rename = "_mshr_fk_position_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    position_fv: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    description: Cell<'a>,
    #[serde(rename = "mshr_status", borrow)]
    status: Cell<'a>,
    #[serde(rename = "_mshr_fk_positiontype_id_value")]
    position_type: Guid,
    #[serde(
        rename = "_mshr_fk_positiontype_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    position_type_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_department_id_value")]
    department: Guid,
    #[serde(
        rename = "_mshr_fk_department_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    department_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_reportstoposition_id_value")]
    reports_to_position: Guid,
    #[serde(
        rename = "_mshr_fk_reportstoposition_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    reports_to_position_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_reportstoworker_id_value")]
    reports_to_worker: Guid,
    #[serde(
        rename = "_mshr_fk_reportstoworker_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    reports_to_worker_fv: Cell<'a>,
}

impl<'a> PositionRow<'a> {
    fn lookups(&self) -> [LookupCells<'_, 'a>; 5] {
        [
            (self.position.0, &self.position_fv),
            (self.position_type.0, &self.position_type_fv),
            (self.department.0, &self.department_fv),
            (self.reports_to_position.0, &self.reports_to_position_fv),
            (self.reports_to_worker.0, &self.reports_to_worker_fv),
        ]
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SkillRow<'a> {
    #[serde(rename = "mshr_hcmrecruitingrequestskillentityid", borrow)]
    id: Cell<'a>,
    #[serde(rename = "_mshr_fk_skill_id_value")]
    skill: Guid,
    #[serde(
        rename = "_mshr_fk_skill_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    skill_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_ratinglevel_id_value")]
    rating_level: Guid,
    #[serde(
        rename = "_mshr_fk_ratinglevel_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    rating_level_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_ratingmodel_id_value")]
    rating_model: Guid,
    #[serde(
        rename = "_mshr_fk_ratingmodel_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    rating_model_fv: Cell<'a>,
}

impl<'a> SkillRow<'a> {
    fn lookups(&self) -> [LookupCells<'_, 'a>; 3] {
        [
            (self.skill.0, &self.skill_fv),
            (self.rating_level.0, &self.rating_level_fv),
            (self.rating_model.0, &self.rating_model_fv),
        ]
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EducationRow<'a> {
    #[serde(rename = "mshr_hcmrecruitingrequesteducationentityid", borrow)]
    id: Cell<'a>,
    #[serde(rename = "_mshr_fk_educationlevel_id_value")]
    education_level: Guid,
    #[serde(
        rename = "_mshr_fk_educationlevel_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    education_level_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_educationdiscipline_id_value")]
    discipline: Guid,
    #[serde(
        rename = "_mshr_fk_educationdiscipline_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    discipline_fv: Cell<'a>,
}

impl<'a> EducationRow<'a> {
    fn lookups(&self) -> [LookupCells<'_, 'a>; 2] {
        [
            (self.education_level.0, &self.education_level_fv),
            (self.discipline.0, &self.discipline_fv),
        ]
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LocationRow<'a> {
    #[serde(rename = "mshr_hcmrecruitingrequestlocationentityid", borrow)]
    id: Cell<'a>,
    #[serde(rename = "mshr_recruitingrequestlocationid", borrow)]
    code: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    name: Cell<'a>,
    #[serde(rename = "mshr_street", borrow)]
    street: Cell<'a>,
    #[serde(rename = "mshr_city", borrow)]
    city: Cell<'a>,
    #[serde(rename = "mshr_state", borrow)]
    state: Cell<'a>,
    #[serde(rename = "mshr_zipcode", borrow)]
    zip_code: Cell<'a>,
    #[serde(rename = "mshr_countryregionid", borrow)]
    country_region: Cell<'a>,
    #[serde(rename = "mshr_email", borrow)]
    email: Cell<'a>,
    #[serde(rename = "mshr_telephone", borrow)]
    telephone: Cell<'a>,
}

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
pub fn wanted_lookups(rows: &[RequestRow<'_>]) -> Wanted {
    let mut w = Wanted::default();
    for row in rows {
        want_all(&mut w, row.lookups(), &LOOKUP_TARGETS);
        for c in &row.positions {
            want_all(&mut w, c.lookups(), &POSITION_TARGETS);
        }
        for c in &row.skills {
            want_all(&mut w, c.lookups(), &SKILL_TARGETS);
        }
        for c in &row.education {
            want_all(&mut w, c.lookups(), &EDUCATION_TARGETS);
        }
    }
    w
}

pub fn map_row(
    row: &RequestRow<'_>,
    embed: Embed,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<RecruitingRequest> {
    let lang = labels.lang;
    let [company, hiring_manager, recruiter, job, title, job_type, location] =
        resolve_all(row.lookups(), &LOOKUP_TARGETS, resolved);
    Some(RecruitingRequest {
        id: row.id.uuid()?,
        number: row.number.text(),
        company,
        description: row.description.text(),
        external_description: row.external_description.text(),
        status: option_cell(&row.status, labels.status, lang),
        hiring_manager,
        recruiter,
        job,
        title,
        job_type,
        job_function: row.job_function.text(),
        location,
        estimated_start_date: row.estimated_start_date.date(),
        full_time_equivalent: row.full_time_equivalent.as_f64(),
        regulatory_job_category: option_cell(&row.regulatory_job_category, labels.regulatory, lang),
        exempt_status: option_cell(&row.exempt_status, labels.exempt, lang),
        compensation: Compensation {
            low: row.compensation_low.as_f64(),
            control_point: row.compensation_control_point.as_f64(),
            high: row.compensation_high.as_f64(),
            level: row.compensation_level.text(),
        },
        comments: row.comments.text(),
        positions: embed.positions.then(|| {
            row.positions
                .iter()
                .filter_map(|c| {
                    let [position, position_type, department, reports_to_position, reports_to_worker] =
                        resolve_all(c.lookups(), &POSITION_TARGETS, resolved);
                    Some(Position {
                        id: c.id.uuid()?,
                        position,
                        description: c.description.text(),
                        status: option_cell(&c.status, labels.position_status, lang),
                        position_type,
                        department,
                        reports_to_position,
                        reports_to_worker,
                    })
                })
                .collect()
        }),
        skills: embed.skills.then(|| {
            row.skills
                .iter()
                .filter_map(|c| {
                    let [skill, rating_level, rating_model] =
                        resolve_all(c.lookups(), &SKILL_TARGETS, resolved);
                    Some(Skill {
                        id: c.id.uuid()?,
                        skill,
                        rating_level,
                        rating_model,
                    })
                })
                .collect()
        }),
        education: embed.education.then(|| {
            row.education
                .iter()
                .filter_map(|c| {
                    let [education_level, discipline] =
                        resolve_all(c.lookups(), &EDUCATION_TARGETS, resolved);
                    Some(Education {
                        id: c.id.uuid()?,
                        education_level,
                        discipline,
                    })
                })
                .collect()
        }),
        location_detail: embed
            .location
            .then(|| row.location_detail.as_ref().and_then(map_location)),
    })
}

/// A page's rows as the JSON array `serde_json` writes for their [`map_row`] DTOs, written
/// straight from the rows (`model::json_out`): the list route's page, without a DTO per row.
pub fn write_rows(
    rows: &[RequestRow<'_>],
    embed: Embed,
    labels: &Labels,
    resolved: &Resolved,
    out: &mut Vec<u8>,
) {
    json_out::keyed_array(
        out,
        rows,
        |r| r.id.uuid(),
        |out, row| write_row(row, embed, labels, resolved, out),
    );
}

/// A row's members after its `"id"`, in [`RecruitingRequest`]'s order.
fn write_row(
    row: &RequestRow<'_>,
    embed: Embed,
    labels: &Labels,
    resolved: &Resolved,
    out: &mut Vec<u8>,
) {
    use super::json_out::{date, keyed_array, lookup, number, option, text};
    let lang = labels.lang;
    let [company, hiring_manager, recruiter, job, title, job_type, location] = row.lookups();
    let [t_company, t_hiring_manager, t_recruiter, t_job, t_title, t_job_type, t_location] =
        LOOKUP_TARGETS;
    let key = |out: &mut Vec<u8>, k: &[u8]| out.extend_from_slice(k);
    key(out, b",\"number\":");
    text(out, &row.number);
    key(out, b",\"company\":");
    lookup(out, resolved, t_company, company);
    key(out, b",\"description\":");
    text(out, &row.description);
    key(out, b",\"external_description\":");
    text(out, &row.external_description);
    key(out, b",\"status\":");
    option(out, &row.status, labels.status, lang);
    key(out, b",\"hiring_manager\":");
    lookup(out, resolved, t_hiring_manager, hiring_manager);
    key(out, b",\"recruiter\":");
    lookup(out, resolved, t_recruiter, recruiter);
    key(out, b",\"job\":");
    lookup(out, resolved, t_job, job);
    key(out, b",\"title\":");
    lookup(out, resolved, t_title, title);
    key(out, b",\"job_type\":");
    lookup(out, resolved, t_job_type, job_type);
    key(out, b",\"job_function\":");
    text(out, &row.job_function);
    key(out, b",\"location\":");
    lookup(out, resolved, t_location, location);
    key(out, b",\"estimated_start_date\":");
    date(out, &row.estimated_start_date);
    key(out, b",\"full_time_equivalent\":");
    number(out, &row.full_time_equivalent);
    key(out, b",\"regulatory_job_category\":");
    option(out, &row.regulatory_job_category, labels.regulatory, lang);
    key(out, b",\"exempt_status\":");
    option(out, &row.exempt_status, labels.exempt, lang);
    key(out, b",\"compensation\":{\"low\":");
    number(out, &row.compensation_low);
    key(out, b",\"control_point\":");
    number(out, &row.compensation_control_point);
    key(out, b",\"high\":");
    number(out, &row.compensation_high);
    key(out, b",\"level\":");
    text(out, &row.compensation_level);
    key(out, b"},\"comments\":");
    text(out, &row.comments);
    if embed.positions {
        key(out, b",\"positions\":");
        keyed_array(
            out,
            &row.positions,
            |c| c.id.uuid(),
            |out, c| {
                let [position, position_type, department, to_position, to_worker] = c.lookups();
                let [t_position, t_type, t_department, t_to_position, t_to_worker] =
                    POSITION_TARGETS;
                key(out, b",\"position\":");
                lookup(out, resolved, t_position, position);
                key(out, b",\"description\":");
                text(out, &c.description);
                key(out, b",\"status\":");
                option(out, &c.status, labels.position_status, lang);
                key(out, b",\"position_type\":");
                lookup(out, resolved, t_type, position_type);
                key(out, b",\"department\":");
                lookup(out, resolved, t_department, department);
                key(out, b",\"reports_to_position\":");
                lookup(out, resolved, t_to_position, to_position);
                key(out, b",\"reports_to_worker\":");
                lookup(out, resolved, t_to_worker, to_worker);
            },
        );
    }
    if embed.skills {
        key(out, b",\"skills\":");
        keyed_array(
            out,
            &row.skills,
            |c| c.id.uuid(),
            |out, c| {
                let [skill, rating_level, rating_model] = c.lookups();
                let [t_skill, t_level, t_model] = SKILL_TARGETS;
                key(out, b",\"skill\":");
                lookup(out, resolved, t_skill, skill);
                key(out, b",\"rating_level\":");
                lookup(out, resolved, t_level, rating_level);
                key(out, b",\"rating_model\":");
                lookup(out, resolved, t_model, rating_model);
            },
        );
    }
    if embed.education {
        key(out, b",\"education\":");
        keyed_array(
            out,
            &row.education,
            |c| c.id.uuid(),
            |out, c| {
                let [level, discipline] = c.lookups();
                let [t_level, t_discipline] = EDUCATION_TARGETS;
                key(out, b",\"education_level\":");
                lookup(out, resolved, t_level, level);
                key(out, b",\"discipline\":");
                lookup(out, resolved, t_discipline, discipline);
            },
        );
    }
    if embed.location {
        key(out, b",\"location_detail\":");
        match row.location_detail.as_ref().and_then(map_location) {
            Some(l) => crate::resolve::shared::write_json(out, &l),
            None => out.extend_from_slice(b"null"),
        }
    }
}

fn map_location(r: &LocationRow<'_>) -> Option<Location> {
    Some(Location {
        id: r.id.uuid()?,
        code: r.code.text(),
        name: r.name.text(),
        street: r.street.text(),
        city: r.city.text(),
        state: r.state.text(),
        zip_code: r.zip_code.text(),
        country_region: r.country_region.text(),
        email: r.email.text(),
        telephone: r.telephone.text(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_rows::{full_row, nulls};
    use crate::resolve::lookups::LookupRef;
    use serde_json::{json, Value};

    /// A value for column `col`: GUIDs for keys and lookups, option codes, numbers, dates, text.
    fn value_for(col: &str, n: u128) -> Value {
        if col.ends_with("entityid") || col.starts_with('_') {
            json!(Uuid::from_u128(n).to_string())
        } else if [
            "mshr_status",
            "mshr_regulatoryjobcategory",
            "mshr_exemptstatus",
        ]
        .contains(&col)
        {
            json!(7)
        } else if col.contains("compensation") && !col.ends_with("levelid")
            || col == "mshr_defaultfulltimeequivalency"
        {
            json!(1.5)
        } else if col.ends_with("date") {
            json!("2026-01-04T00:00:00Z")
        } else {
            json!(format!("{col}-text"))
        }
    }

    /// A typo in a column or annotation name would leave a member `null`: every selected column
    /// and lookup annotation is read.
    #[test]
    fn every_selected_column_is_read() {
        let mut row = full_row(SELECT, 100, value_for);
        row.insert(
            NAV_POSITIONS.into(),
            json!([full_row(POSITION_SELECT, 200, value_for)]),
        );
        row.insert(
            NAV_SKILLS.into(),
            json!([full_row(SKILL_SELECT, 300, value_for)]),
        );
        row.insert(
            NAV_EDUCATION.into(),
            json!([full_row(EDUCATION_SELECT, 400, value_for)]),
        );
        row.insert(
            NAV_LOCATION.into(),
            json!(full_row(LOCATION_SELECT, 500, value_for)),
        );
        let body = serde_json::to_vec(&row).expect("json");
        let typed: RequestRow = serde_json::from_slice(&body).expect("row");
        let set = crate::resolve::options::parse_option_set(
            "x",
            &json!({"Options": [{"Value": 7, "Label": {"LocalizedLabels": [{"Label": "Seven", "LanguageCode": 1033}]}}]}),
        )
        .expect("set");
        let labels = Labels {
            status: &set,
            position_status: &set,
            regulatory: &set,
            exempt: &set,
            lang: Lang::EnUs,
        };
        let resolved = Resolved::default();
        let dto = map_row(&typed, Embed::ALL, &labels, &resolved).expect("mapped");
        let v = serde_json::to_value(&dto).expect("json");
        let mut missing = Vec::new();
        nulls(&v, "", &mut missing);
        // A lookup resolved by nobody shows its FormattedValue as code and no name.
        missing.retain(|p| !p.ends_with("/name") || p.starts_with("/location_detail"));
        assert!(missing.is_empty(), "not read: {missing:?}");
        assert_eq!(v["company"]["code"], "_mshr_dataareaid_id_value-code");
        assert_eq!(
            v["positions"][0]["department"]["code"],
            "_mshr_fk_department_id_value-code"
        );
        assert_eq!(v["status"]["label"], "Seven");
        assert_eq!(v["estimated_start_date"], "2026-01-04");
        assert_eq!(
            wanted_lookups(std::slice::from_ref(&typed)).count(),
            7 + 5 + 3 + 2
        );
    }

    /// The list page's JSON written straight from the rows is byte for byte what `serde_json`
    /// writes for the DTOs: every embed, both languages, resolved and unresolved lookups, known
    /// and unknown option codes, strings with escapes (owned) and without (borrowed), empty and
    /// short strings, mistyped values, a row without a key, children without keys.
    #[test]
    fn rows_written_directly_equal_the_serialised_dtos() {
        let mut rows = Vec::new();
        for n in 0..6u128 {
            let mut row = full_row(SELECT, 100 * n, value_for);
            row.insert(
                NAV_POSITIONS.into(),
                json!([full_row(POSITION_SELECT, 1000 + n, value_for), {"mshr_description": "no key"}]),
            );
            row.insert(
                NAV_SKILLS.into(),
                json!([full_row(SKILL_SELECT, 2000 + n, value_for)]),
            );
            row.insert(
                NAV_EDUCATION.into(),
                json!([full_row(EDUCATION_SELECT, 3000 + n, value_for)]),
            );
            if n.is_multiple_of(2) {
                row.insert(
                    NAV_LOCATION.into(),
                    json!(full_row(LOCATION_SELECT, 4000 + n, value_for)),
                );
            }
            match n {
                1 => {
                    row.insert(
                        "mshr_description".into(),
                        json!("Say \"hi\"\n\tto Åse – ünïcode \u{1F600} \\ / <b>"),
                    );
                    row.insert("mshr_comments".into(), json!(""));
                    row.insert("mshr_estimatedstartdate".into(), json!("2026"));
                    row.insert("mshr_status".into(), json!(999));
                    row.insert(
                        "_mshr_fk_job_id_value@OData.Community.Display.V1.FormattedValue".into(),
                        json!("Job \"x\""),
                    );
                }
                2 => {
                    row.insert("mshr_status".into(), json!("seven"));
                    row.insert("mshr_description".into(), json!(5));
                    row.insert("mshr_defaultfulltimeequivalency".into(), json!(2));
                    row.insert("mshr_compensationlowthreshold".into(), json!(0.1));
                    row.insert("mshr_compensationhighthreshold".into(), json!(-1e300));
                    row.insert("_mshr_fk_title_id_value".into(), json!("not a guid"));
                    row.insert("_mshr_fk_recruiter_id_value".into(), Value::Null);
                    row.insert(
                        "mshr_estimatedstartdate".into(),
                        json!("2026-01-04T00:00:00\\u0041Z"),
                    );
                }
                3 => {
                    row.insert(PK.into(), json!("no key"));
                }
                4 => {
                    row.insert(
                        "_mshr_fk_hiringmanager_id_value@OData.Community.Display.V1.FormattedValue"
                            .into(),
                        json!(""),
                    );
                    row.insert("mshr_estimatedstartdate".into(), json!("2026-01-0ø"));
                }
                _ => {}
            }
            rows.push(Value::Object(row));
        }
        let body = serde_json::to_vec(&rows).expect("json");
        let typed: Vec<RequestRow> = serde_json::from_slice(&body).expect("rows");
        let set = crate::resolve::options::parse_option_set(
            "x",
            &json!({"Options": [
                {"Value": 7, "Label": {"LocalizedLabels": [{"Label": "Seven \"7\"", "LanguageCode": 1033}, {"Label": "Sju", "LanguageCode": 1044}]}},
                {"Value": 8, "Label": {"LocalizedLabels": []}}
            ]}),
        )
        .expect("set");
        // Half of the lookups resolve (one with an escaped name), the others fall back.
        let mut resolved = Resolved::default();
        for (i, target) in LOOKUP_TARGETS
            .iter()
            .chain(&POSITION_TARGETS)
            .chain(&SKILL_TARGETS)
            .chain(&EDUCATION_TARGETS)
            .enumerate()
        {
            for base in [0u128, 200, 400, 1000, 2002] {
                let id = Uuid::from_u128(base + i as u128);
                if (base as usize + i).is_multiple_of(2) {
                    resolved.insert(
                        target,
                        LookupRef {
                            id,
                            code: Some(format!("C{i}").into()),
                            name: (i % 3 != 0).then(|| format!("Name \"{i}\" ø").into()),
                        },
                    );
                }
            }
        }
        for lang in Lang::ALL {
            let labels = Labels {
                status: &set,
                position_status: &set,
                regulatory: &set,
                exempt: &set,
                lang,
            };
            for embed in [
                Embed::default(),
                Embed::ALL,
                Embed {
                    positions: true,
                    ..Embed::default()
                },
                Embed {
                    location: true,
                    skills: true,
                    ..Embed::default()
                },
            ] {
                let dtos: Vec<_> = typed
                    .iter()
                    .filter_map(|r| map_row(r, embed, &labels, &resolved))
                    .collect();
                let expected = serde_json::to_string(&dtos).expect("json");
                let mut written = Vec::new();
                write_rows(&typed, embed, &labels, &resolved, &mut written);
                assert_eq!(
                    String::from_utf8(written).expect("utf-8"),
                    expected,
                    "{lang:?} {embed:?}"
                );
            }
        }
    }

    /// Values of another JSON type read as absent (as the `Value` readers did), and unknown
    /// members are skipped.
    #[test]
    fn mistyped_values_read_as_absent() {
        let body = json!({
            PK: Uuid::from_u128(1).to_string(),
            "mshr_status": "seven", "mshr_description": 5, "mshr_comments": {"a": [1]},
            "mshr_defaultfulltimeequivalency": 2, "mshr_estimatedstartdate": "2026",
            "other@odata.annotation": true
        });
        let body = serde_json::to_vec(&body).expect("json");
        let typed: RequestRow = serde_json::from_slice(&body).expect("row");
        assert_eq!(typed.id.uuid(), Some(Uuid::from_u128(1)));
        assert_eq!(typed.status.as_i64(), None);
        assert_eq!(typed.description.text(), None);
        assert_eq!(typed.comments, Cell::Absent);
        assert_eq!(typed.full_time_equivalent.as_f64(), Some(2.0));
        assert_eq!(typed.estimated_start_date.date(), None);
    }
}
