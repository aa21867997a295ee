//! Mapping candidate rows (with the expanded person and request) to the DTOs.

use crate::model::row::{children, date_of, lookup, num, object, option, yes_no, Row};
use crate::resolve::lookups::{str_of, uuid_of, LookupRef, Resolved};

use super::{
    Candidate, ChildDef, Labels, Person, PersonAddress, PersonCertificate, PersonContact,
    PersonEducation, PersonExperience, PersonIdentification, PersonScreening, PersonSkill,
    ADDRESSES, CERTIFICATES, CONTACTS, EDUCATION, EXPERIENCE, IDS, LOOKUPS, NAV_PERSON,
    NAV_REQUEST, PERSON_PK, PK, SCREENINGS, SKILLS,
};

/// The request lookup from the expanded request (code and description), else from the row alone.
fn request_of(row: &Row) -> Option<LookupRef> {
    let id = uuid_of(row, "_mshr_fk_recruitingrequest_id_value")?;
    let expanded = object(row, NAV_REQUEST);
    Some(LookupRef {
        id,
        code: expanded
            .and_then(|r| str_of(r, "mshr_recruitingrequestid"))
            .or_else(|| str_of(row, "mshr_recruitingrequestid"))
            .map(Into::into),
        name: expanded
            .and_then(|r| str_of(r, "mshr_description"))
            .map(Into::into),
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
        // Roles are `;`-separated (docs/ats-data-model.md#mshr_hcmpersonaddressentity).
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
