//! Lookup targets the ATS tables reference but the docs do not describe
//! (docs/ats-data-model.md#lookup-targets). Columns are our choice: the readable id the ATS tables copy, a
//! display name, and the company where striped.
use super::ColType::{self, *};

pub(super) const REFERENCE_TABLES: &[(&str, &[(&str, ColType)])] = &[
    (
        "cdm_company",
        &[("cdm_companycode", String), ("cdm_name", String)],
    ),
    (
        "mshr_hcmworkerbaseentity",
        &[("mshr_personnelnumber", String), ("mshr_name", String)],
    ),
    (
        "mshr_hcmworkerentity",
        &[("mshr_personnelnumber", String), ("mshr_name", String)],
    ),
    (
        "mshr_hcmjobentity",
        &[("mshr_jobid", String), ("mshr_description", String)],
    ),
    ("mshr_hcmtitleentity", &[("mshr_titleid", String)]),
    (
        "mshr_hcmjobfunctionentity",
        &[("mshr_jobfunctionid", String), ("mshr_description", String)],
    ),
    (
        "mshr_hcmjobtypeentity",
        &[("mshr_jobtypeid", String), ("mshr_description", String)],
    ),
    (
        "mshr_hcmjobcompensationentity",
        &[
            ("mshr_jobid", String),
            ("mshr_compensationlevelid", String),
            ("mshr_dataareaid", String),
        ],
    ),
    (
        "mshr_hcmpositionv2entity",
        &[
            ("mshr_positionid", String),
            ("mshr_description", String),
            ("mshr_dataareaid", String),
            ("_mshr_dataareaid_id_value", Lookup("cdm_company")),
            ("_mshr_fk_job_id_value", Lookup("mshr_hcmjobentity")),
            (
                "_mshr_fk_department_id_value",
                Lookup("mshr_omdepartmententity"),
            ),
        ],
    ),
    (
        "mshr_hcmpositiontypeentity",
        &[
            ("mshr_positiontypeid", String),
            ("mshr_description", String),
        ],
    ),
    (
        "mshr_omdepartmententity",
        &[("mshr_operatingunitnumber", String), ("mshr_name", String)],
    ),
    (
        "mshr_hcmskillentity",
        &[("mshr_skillid", String), ("mshr_description", String)],
    ),
    (
        "mshr_hcmratingmodelentity",
        &[("mshr_ratingmodelid", String), ("mshr_description", String)],
    ),
    (
        "mshr_hcmeducationlevelentity",
        &[
            ("mshr_educationlevelid", String),
            ("mshr_description", String),
        ],
    ),
    (
        "mshr_hcmeducationdegreeentity",
        &[
            ("mshr_educationlevelid", String),
            ("mshr_description", String),
        ],
    ),
    (
        "mshr_hcmeducationdisciplineentity",
        &[
            ("mshr_educationdisciplineid", String),
            ("mshr_description", String),
        ],
    ),
    (
        "mshr_hcmeducationinstitutionentity",
        &[
            ("mshr_educationinstitutionid", String),
            ("mshr_name", String),
        ],
    ),
    (
        "mshr_logisticsaddresscountryregionentity",
        &[("mshr_countryregionid", String), ("mshr_shortname", String)],
    ),
    (
        "mshr_hcmveteranstatusentity",
        &[
            ("mshr_veteranstatusid", String),
            ("mshr_description", String),
        ],
    ),
    (
        "mshr_hcmreasoncodeentity",
        &[("mshr_reasoncodeid", String), ("mshr_description", String)],
    ),
    (
        "mshr_hcmidentificationtypeentity",
        &[
            ("mshr_identificationtypeid", String),
            ("mshr_description", String),
        ],
    ),
    (
        "mshr_hcmissuingagencyentity",
        &[
            ("mshr_issuingagencyid", String),
            ("mshr_description", String),
        ],
    ),
];
