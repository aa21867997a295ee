//! Natural-key lookup rules, required columns and defaults, per table.

use crate::schema::EntityDef;

/// A lookup that HR resolves from natural-key strings.
pub(super) struct Rule {
    pub(super) lookup: &'static str,
    pub(super) target: &'static str,
    /// (own column, target column): the first triggers resolution, the others narrow it when set.
    pub(super) keys: &'static [(&'static str, &'static str)],
    /// (own column, target column) filled from the target when the own column is empty.
    pub(super) copies: &'static [(&'static str, &'static str)],
    /// F&O field label for messages.
    pub(super) field: &'static str,
}

pub(super) const fn rule(
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

pub(super) const fn with_copies(
    mut r: Rule,
    copies: &'static [(&'static str, &'static str)],
) -> Rule {
    r.copies = copies;
    r
}

pub(super) const RR: &str = "mshr_hcmrecruitingrequestentity";
pub(super) const PERSON: &str = "mshr_dirpersonentity";
pub(super) const POSITION: &str = "mshr_hcmpositionv2entity";
pub(super) const WORKER_BASE: &str = "mshr_hcmworkerbaseentity";
pub(super) const WORKER: &str = "mshr_hcmworkerentity";
pub(super) const COUNTRY: &str = "mshr_logisticsaddresscountryregionentity";

pub(super) const RR_RULE: Rule = with_copies(
    rule(
        "_mshr_fk_recruitingrequest_id_value",
        RR,
        &[("mshr_recruitingrequestid", "mshr_recruitingrequestid")],
        "Recruiting request",
    ),
    &[("mshr_dataareaid", "mshr_dataareaid")],
);
pub(super) const PERSON_RULE: Rule = rule(
    "_mshr_fk_person_id_value",
    PERSON,
    &[("mshr_partynumber", "mshr_partynumber")],
    "Party number",
);
pub(super) const COUNTRY_RULE: Rule = rule(
    "_mshr_fk_countryregion_id_value",
    COUNTRY,
    &[("mshr_countryregionid", "mshr_countryregionid")],
    "Country/region",
);
pub(super) const COMPANY_RULE: Rule = rule(
    "_mshr_dataareaid_id_value",
    "cdm_company",
    &[("mshr_dataareaid", "cdm_companycode")],
    "Company",
);

pub(super) static RR_RULES: [Rule; 7] = [
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

pub(super) static RR_POSITION_RULES: [Rule; 6] = [
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

pub(super) static RR_SKILL_RULES: [Rule; 4] = [
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

pub(super) static RR_EDUCATION_RULES: [Rule; 3] = [
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

pub(super) static CANDIDATE_RULES: [Rule; 5] = [
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

pub(super) static PERSON_EDUCATION_RULES: [Rule; 4] = [
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

pub(super) static PERSON_SKILL_RULES: [Rule; 5] = [
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

pub(super) static PERSON_ONLY_RULES: [Rule; 1] = [PERSON_RULE];
pub(super) static ADDRESS_RULES: [Rule; 2] = [PERSON_RULE, COUNTRY_RULE];
pub(super) static LOCATION_RULES: [Rule; 1] = [COUNTRY_RULE];
pub(super) static CERTIFICATE_RULES: [Rule; 2] = [
    PERSON_RULE,
    rule(
        "_mshr_fk_certificatetype_id_value",
        "mshr_hcmcertificatetypeentity",
        &[("mshr_certificatetypeid", "mshr_certificatetype")],
        "Certificate type",
    ),
];
pub(super) static SCREENING_RULES: [Rule; 2] = [
    PERSON_RULE,
    rule(
        "_mshr_fk_screeningtype_id_value",
        "mshr_hcmscreeningtypeentity",
        &[("mshr_screeningtypeid", "mshr_screeningtypeid")],
        "Screening type",
    ),
];
pub(super) static IDENTIFICATION_RULES: [Rule; 3] = [
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
pub(super) static RATING_LEVEL_RULES: [Rule; 1] = [rule(
    "_mshr_fk_ratingmodelentity_id_value",
    "mshr_hcmratingmodelentity",
    &[("mshr_ratingmodelid", "mshr_ratingmodelid")],
    "Rating model",
)];
pub(super) static COMPANY_RULES: [Rule; 1] = [COMPANY_RULE];

/// Natural-key lookups of a table, in resolution order (rules that copy the company come first).
pub(super) fn rules(logical: &str) -> &'static [Rule] {
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
pub(super) fn all_rules(def: &EntityDef) -> impl Iterator<Item = &'static Rule> {
    let company = def
        .column(COMPANY_RULE.lookup)
        .map(|_| &COMPANY_RULES[..])
        .unwrap_or(&[]);
    rules(def.logical_name).iter().chain(company.iter())
}

pub(super) fn rule_for(def: &EntityDef, lookup: &str) -> Option<&'static Rule> {
    all_rules(def).find(|r| r.lookup == lookup)
}

/// Columns the client must supply on create (beyond those a parent or a lookup provides).
pub(super) fn required(def: &EntityDef) -> Vec<&'static str> {
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
pub(super) fn option_defaults(
    logical: &str,
) -> &'static [(&'static str, &'static str, &'static str)] {
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
pub(super) fn text_defaults(logical: &str) -> &'static [(&'static str, &'static str)] {
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
pub(super) fn system_generated(def: &EntityDef, col: &str) -> bool {
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

/// Columns of the candidate that describe the person created implicitly
/// (docs/ats-data-model.md#mshr_hcmcandidatetohireentity).
pub(super) const CANDIDATE_PERSON_FIELDS: &[&str] = &[
    "mshr_firstname",
    "mshr_middlename",
    "mshr_lastnameprefix",
    "mshr_lastname",
    "mshr_gender",
];

/// Company used when a striped row names none (HR uses the caller's default company).
pub(super) const DEFAULT_COMPANY: &str = "usmf";
