//! Candidate rows as Dataverse sends them: one serde struct per table (columns as [`Cell`]s borrowing
//! from the body, each lookup with its FormattedValue annotation, expanded navigations), so a page
//! is read without building `Value` maps. Members not named here are skipped.

use serde::Deserialize;

use crate::model::row::{collection, Cell, Guid, LookupCells};

/// A candidate as Dataverse sends it (the columns `candidate_select` may pick, lookups' FormattedValue annotations, the expanded person and request), borrowing from the body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CandidateRow<'a> {
    #[serde(rename = "mshr_hcmcandidatetohireentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "mshr_candidateid", borrow)]
    pub(super) candidate_number: Cell<'a>,
    #[serde(rename = "_mshr_fk_person_id_value", borrow)]
    pub(super) person_id: Cell<'a>,
    #[serde(rename = "mshr_recruitingrequestid", borrow)]
    pub(super) request_number: Cell<'a>,
    #[serde(rename = "_mshr_fk_recruitingrequest_id_value", borrow)]
    pub(super) request_id: Cell<'a>,
    #[serde(rename = "mshr_availabilitydate", borrow)]
    pub(super) availability_date: Cell<'a>,
    #[serde(rename = "mshr_iswillingtorelocate", borrow)]
    pub(super) willing_to_relocate: Cell<'a>,
    #[serde(rename = "mshr_comments", borrow)]
    pub(super) comments: Cell<'a>,
    #[serde(rename = "mshr_applicantintegrationresult", borrow)]
    pub(super) status: Cell<'a>,
    #[serde(rename = "mshr_dataareaid", borrow)]
    pub(super) dataareaid: Cell<'a>,
    #[serde(rename = "mshr_gender", borrow)]
    pub(super) gender: Cell<'a>,
    #[serde(rename = "mshr_birthdate", borrow)]
    pub(super) birth_date: Cell<'a>,
    #[serde(rename = "mshr_citizenshipcountrycode", borrow)]
    pub(super) citizenship_country: Cell<'a>,
    #[serde(rename = "mshr_militaryservicestartdate", borrow)]
    pub(super) military_service_start_date: Cell<'a>,
    #[serde(rename = "mshr_militaryserviceenddate", borrow)]
    pub(super) military_service_end_date: Cell<'a>,
    #[serde(rename = "mshr_isdisabledveteran", borrow)]
    pub(super) disabled_veteran: Cell<'a>,
    #[serde(rename = "_mshr_dataareaid_id_value")]
    pub(super) company: Guid,
    #[serde(
        rename = "_mshr_dataareaid_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) company_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_position_id_value")]
    pub(super) position: Guid,
    #[serde(
        rename = "_mshr_fk_position_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) position_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_reasoncode_id_value")]
    pub(super) do_not_hire_reason: Guid,
    #[serde(
        rename = "_mshr_fk_reasoncode_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) do_not_hire_reason_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_veteranstatus_id_value")]
    pub(super) veteran_status: Guid,
    #[serde(
        rename = "_mshr_fk_veteranstatus_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) veteran_status_fv: Cell<'a>,
    #[serde(rename = "mshr_FK_Person_id", borrow)]
    pub(super) person: Option<PersonRow<'a>>,
    #[serde(rename = "mshr_FK_RecruitingRequest_id", borrow)]
    pub(super) request: Option<RequestRef<'a>>,
}

impl<'a> CandidateRow<'a> {
    /// (GUID, FormattedValue) of each lookup.
    pub(super) fn lookups(&self) -> [LookupCells<'_, 'a>; 4] {
        [
            (self.company.0, &self.company_fv),
            (self.position.0, &self.position_fv),
            (self.do_not_hire_reason.0, &self.do_not_hire_reason_fv),
            (self.veteran_status.0, &self.veteran_status_fv),
        ]
    }
}

/// The candidate's expanded recruiting request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RequestRef<'a> {
    #[serde(rename = "mshr_recruitingrequestid", borrow)]
    pub(super) number: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    pub(super) description: Cell<'a>,
}

/// The candidate's person; its child collections come from a second read (`attach_children`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PersonRow<'a> {
    #[serde(rename = "mshr_dirpersonentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "mshr_partynumber", borrow)]
    pub(super) party_number: Cell<'a>,
    #[serde(rename = "mshr_name", borrow)]
    pub(super) name: Cell<'a>,
    #[serde(rename = "mshr_firstname", borrow)]
    pub(super) first_name: Cell<'a>,
    #[serde(rename = "mshr_middlename", borrow)]
    pub(super) middle_name: Cell<'a>,
    #[serde(rename = "mshr_lastnameprefix", borrow)]
    pub(super) last_name_prefix: Cell<'a>,
    #[serde(rename = "mshr_lastname", borrow)]
    pub(super) last_name: Cell<'a>,
    #[serde(rename = "mshr_knownas", borrow)]
    pub(super) known_as: Cell<'a>,
    #[serde(rename = "mshr_languageid", borrow)]
    pub(super) language: Cell<'a>,
    #[serde(rename = "mshr_gender", borrow)]
    pub(super) gender: Cell<'a>,
    #[serde(rename = "mshr_maritalstatus", borrow)]
    pub(super) marital_status: Cell<'a>,
    #[serde(rename = "mshr_primarycontactemail", borrow)]
    pub(super) primary_email: Cell<'a>,
    #[serde(rename = "mshr_primarycontactphone", borrow)]
    pub(super) primary_phone: Cell<'a>,
    #[serde(
        rename = "mshr_FK_HcmPersonEducationEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) education: Vec<EducationRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmPersonProfessionalExperienceEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) experience: Vec<ExperienceRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmPersonAddressEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) addresses: Vec<AddressRow<'a>>,
    #[serde(
        rename = "mshr_FK_DirPartyContactEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) contacts: Vec<ContactRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmPersonSkillEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) skills: Vec<SkillRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmPersonCertificateEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) certificates: Vec<CertificateRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmPersonScreeningEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) screenings: Vec<ScreeningRow<'a>>,
    #[serde(
        rename = "mshr_FK_HcmPersonIdentificationNumberEntity_Person",
        deserialize_with = "collection",
        borrow
    )]
    pub(super) identification_numbers: Vec<IdentificationRow<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EducationRow<'a> {
    #[serde(rename = "mshr_hcmpersoneducationentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    pub(super) description: Cell<'a>,
    #[serde(rename = "_mshr_fk_educationlevel_id_value")]
    pub(super) education_level: Guid,
    #[serde(
        rename = "_mshr_fk_educationlevel_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) education_level_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_educationdiscipline_id_value")]
    pub(super) discipline: Guid,
    #[serde(
        rename = "_mshr_fk_educationdiscipline_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) discipline_fv: Cell<'a>,
    #[serde(rename = "_mshr_fk_educationinstitution_id_value")]
    pub(super) institution: Guid,
    #[serde(
        rename = "_mshr_fk_educationinstitution_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) institution_fv: Cell<'a>,
    #[serde(rename = "mshr_secondaryemphasis", borrow)]
    pub(super) secondary_emphasis: Cell<'a>,
    #[serde(rename = "mshr_creditbasis", borrow)]
    pub(super) credit_basis: Cell<'a>,
    #[serde(rename = "mshr_creditsearned", borrow)]
    pub(super) credits_earned: Cell<'a>,
    #[serde(rename = "mshr_startdate", borrow)]
    pub(super) start_date: Cell<'a>,
    #[serde(rename = "mshr_enddate", borrow)]
    pub(super) end_date: Cell<'a>,
    #[serde(rename = "mshr_gradepointaverage", borrow)]
    pub(super) grade_point_average: Cell<'a>,
    #[serde(rename = "mshr_gradescale", borrow)]
    pub(super) grade_scale: Cell<'a>,
    #[serde(rename = "mshr_notes", borrow)]
    pub(super) notes: Cell<'a>,
}

impl<'a> EducationRow<'a> {
    /// (GUID, FormattedValue) of each lookup.
    pub(super) fn lookups(&self) -> [LookupCells<'_, 'a>; 3] {
        [
            (self.education_level.0, &self.education_level_fv),
            (self.discipline.0, &self.discipline_fv),
            (self.institution.0, &self.institution_fv),
        ]
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ExperienceRow<'a> {
    #[serde(rename = "mshr_hcmpersonprofessionalexperienceentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "mshr_employername", borrow)]
    pub(super) employer: Cell<'a>,
    #[serde(rename = "mshr_employerposition", borrow)]
    pub(super) position: Cell<'a>,
    #[serde(rename = "mshr_employerlocation", borrow)]
    pub(super) location: Cell<'a>,
    #[serde(rename = "mshr_url", borrow)]
    pub(super) url: Cell<'a>,
    #[serde(rename = "mshr_startdate", borrow)]
    pub(super) start_date: Cell<'a>,
    #[serde(rename = "mshr_enddate", borrow)]
    pub(super) end_date: Cell<'a>,
    #[serde(rename = "mshr_allowcontactemployer", borrow)]
    pub(super) allow_contact_employer: Cell<'a>,
    #[serde(rename = "mshr_note", borrow)]
    pub(super) notes: Cell<'a>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AddressRow<'a> {
    #[serde(rename = "mshr_hcmpersonaddressentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "mshr_locationid", borrow)]
    pub(super) location_id: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    pub(super) description: Cell<'a>,
    #[serde(rename = "mshr_roles", borrow)]
    pub(super) roles: Cell<'a>,
    #[serde(rename = "mshr_street", borrow)]
    pub(super) street: Cell<'a>,
    #[serde(rename = "mshr_city", borrow)]
    pub(super) city: Cell<'a>,
    #[serde(rename = "mshr_state", borrow)]
    pub(super) state: Cell<'a>,
    #[serde(rename = "mshr_county", borrow)]
    pub(super) county: Cell<'a>,
    #[serde(rename = "mshr_zipcode", borrow)]
    pub(super) zip_code: Cell<'a>,
    #[serde(rename = "mshr_countryregionid", borrow)]
    pub(super) country_region: Cell<'a>,
    #[serde(rename = "mshr_isprimary", borrow)]
    pub(super) is_primary: Cell<'a>,
    #[serde(rename = "mshr_isprivate", borrow)]
    pub(super) is_private: Cell<'a>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ContactRow<'a> {
    #[serde(rename = "mshr_dirpartycontactentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "mshr_type", borrow)]
    pub(super) kind: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    pub(super) description: Cell<'a>,
    #[serde(rename = "mshr_locator", borrow)]
    pub(super) locator: Cell<'a>,
    #[serde(rename = "mshr_locatorextension", borrow)]
    pub(super) extension: Cell<'a>,
    #[serde(rename = "mshr_purpose", borrow)]
    pub(super) purpose: Cell<'a>,
    #[serde(rename = "mshr_isprimary", borrow)]
    pub(super) is_primary: Cell<'a>,
    #[serde(rename = "mshr_ismobilephone", borrow)]
    pub(super) is_mobile: Cell<'a>,
    #[serde(rename = "mshr_isprivate", borrow)]
    pub(super) is_private: Cell<'a>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SkillRow<'a> {
    #[serde(rename = "mshr_hcmpersonskillentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "_mshr_fk_skill_id_value")]
    pub(super) skill: Guid,
    #[serde(
        rename = "_mshr_fk_skill_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) skill_fv: Cell<'a>,
    #[serde(rename = "mshr_leveltype", borrow)]
    pub(super) level_type: Cell<'a>,
    #[serde(rename = "_mshr_fk_ratinglevel_id_value")]
    pub(super) rating_level: Guid,
    #[serde(
        rename = "_mshr_fk_ratinglevel_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) rating_level_fv: Cell<'a>,
    #[serde(rename = "mshr_yearsofexperience", borrow)]
    pub(super) years_of_experience: Cell<'a>,
    #[serde(rename = "mshr_leveldate", borrow)]
    pub(super) level_date: Cell<'a>,
    #[serde(rename = "mshr_verified", borrow)]
    pub(super) verified: Cell<'a>,
}

impl<'a> SkillRow<'a> {
    /// (GUID, FormattedValue) of each lookup.
    pub(super) fn lookups(&self) -> [LookupCells<'_, 'a>; 2] {
        [
            (self.skill.0, &self.skill_fv),
            (self.rating_level.0, &self.rating_level_fv),
        ]
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CertificateRow<'a> {
    #[serde(rename = "mshr_hcmpersoncertificateentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "_mshr_fk_certificatetype_id_value")]
    pub(super) certificate_type: Guid,
    #[serde(
        rename = "_mshr_fk_certificatetype_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) certificate_type_fv: Cell<'a>,
    #[serde(rename = "mshr_startdate", borrow)]
    pub(super) start_date: Cell<'a>,
    #[serde(rename = "mshr_enddate", borrow)]
    pub(super) end_date: Cell<'a>,
    #[serde(rename = "mshr_notes", borrow)]
    pub(super) notes: Cell<'a>,
}

impl<'a> CertificateRow<'a> {
    /// (GUID, FormattedValue) of each lookup.
    pub(super) fn lookups(&self) -> [LookupCells<'_, 'a>; 1] {
        [(self.certificate_type.0, &self.certificate_type_fv)]
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ScreeningRow<'a> {
    #[serde(rename = "mshr_hcmpersonscreeningentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "_mshr_fk_screeningtype_id_value")]
    pub(super) screening_type: Guid,
    #[serde(
        rename = "_mshr_fk_screeningtype_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) screening_type_fv: Cell<'a>,
    #[serde(rename = "mshr_status", borrow)]
    pub(super) status: Cell<'a>,
    #[serde(rename = "mshr_requiredby", borrow)]
    pub(super) required_by: Cell<'a>,
    #[serde(rename = "mshr_completeddate", borrow)]
    pub(super) completed_date: Cell<'a>,
    #[serde(rename = "mshr_note", borrow)]
    pub(super) notes: Cell<'a>,
}

impl<'a> ScreeningRow<'a> {
    /// (GUID, FormattedValue) of each lookup.
    pub(super) fn lookups(&self) -> [LookupCells<'_, 'a>; 1] {
        [(self.screening_type.0, &self.screening_type_fv)]
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IdentificationRow<'a> {
    #[serde(rename = "mshr_hcmpersonidentificationnumberentityid", borrow)]
    pub(super) id: Cell<'a>,
    #[serde(rename = "_mshr_fk_identificationtype_id_value")]
    pub(super) identification_type: Guid,
    #[serde(
        rename = "_mshr_fk_identificationtype_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) identification_type_fv: Cell<'a>,
    #[serde(rename = "mshr_identificationnumber", borrow)]
    pub(super) number: Cell<'a>,
    #[serde(rename = "_mshr_fk_issuingagency_id_value")]
    pub(super) issuing_agency: Guid,
    #[serde(
        rename = "_mshr_fk_issuingagency_id_value@OData.Community.Display.V1.FormattedValue",
        borrow
    )]
    pub(super) issuing_agency_fv: Cell<'a>,
    #[serde(rename = "mshr_issueddate", borrow)]
    pub(super) issue_date: Cell<'a>,
    #[serde(rename = "mshr_expirationdate", borrow)]
    pub(super) expiration_date: Cell<'a>,
    #[serde(rename = "mshr_isprimary", borrow)]
    pub(super) is_primary: Cell<'a>,
    #[serde(rename = "mshr_description", borrow)]
    pub(super) description: Cell<'a>,
}

impl<'a> IdentificationRow<'a> {
    /// (GUID, FormattedValue) of each lookup.
    pub(super) fn lookups(&self) -> [LookupCells<'_, 'a>; 2] {
        [
            (self.identification_type.0, &self.identification_type_fv),
            (self.issuing_agency.0, &self.issuing_agency_fv),
        ]
    }
}
