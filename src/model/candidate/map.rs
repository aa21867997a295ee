//! Mapping candidate rows (with the expanded person and request) to the DTOs.

use crate::model::pii;
use crate::model::row::{option_cell, resolve_all, want_all, Cell};
use crate::resolve::lookups::{LookupRef, Resolved, Wanted};
use crate::resolve::options::OptionSetInfo;

use super::rows::{
    AddressRow, CandidateRow, CertificateRow, ContactRow, EducationRow, ExperienceRow,
    IdentificationRow, PersonRow, ScreeningRow, SkillRow,
};
use super::{
    Candidate, Labels, Person, PersonAddress, PersonCertificate, PersonContact, PersonEducation,
    PersonExperience, PersonIdentification, PersonScreening, PersonSkill, Pii,
};

/// Lookup target tables, in the order of each row type's `lookups()`.
const CANDIDATE_TARGETS: [&str; 4] = [
    "cdm_company",
    "mshr_hcmpositionv2entity",
    "mshr_hcmreasoncodeentity",
    "mshr_hcmveteranstatusentity",
];
const EDUCATION_TARGETS: [&str; 3] = [
    "mshr_hcmeducationdegreeentity",
    "mshr_hcmeducationdisciplineentity",
    "mshr_hcmeducationinstitutionentity",
];
const SKILL_TARGETS: [&str; 2] = ["mshr_hcmskillentity", "mshr_hcmratinglevelentity"];
const CERTIFICATE_TARGETS: [&str; 1] = ["mshr_hcmcertificatetypeentity"];
const SCREENING_TARGETS: [&str; 1] = ["mshr_hcmscreeningtypeentity"];
const IDENTIFICATION_TARGETS: [&str; 2] = [
    "mshr_hcmidentificationtypeentity",
    "mshr_hcmissuingagencyentity",
];

/// Every lookup the given candidate rows (and their person's children) reference.
pub fn wanted_lookups(rows: &[CandidateRow<'_>]) -> Wanted {
    let mut w = Wanted::default();
    for row in rows {
        want_all(&mut w, row.lookups(), &CANDIDATE_TARGETS);
        if let Some(p) = &row.person {
            for r in &p.education {
                want_all(&mut w, r.lookups(), &EDUCATION_TARGETS);
            }
            for r in &p.skills {
                want_all(&mut w, r.lookups(), &SKILL_TARGETS);
            }
            for r in &p.certificates {
                want_all(&mut w, r.lookups(), &CERTIFICATE_TARGETS);
            }
            for r in &p.screenings {
                want_all(&mut w, r.lookups(), &SCREENING_TARGETS);
            }
            for r in &p.identification_numbers {
                want_all(&mut w, r.lookups(), &IDENTIFICATION_TARGETS);
            }
        }
    }
    w
}

/// A `mshr_noyes` column as a bool, by the option's stable key (codes differ per environment).
fn yes_no(cell: &Cell<'_>, noyes: &OptionSetInfo) -> Option<bool> {
    noyes.by_code(cell.as_i64()?).map(|o| o.key == "yes")
}

/// The request lookup from the expanded request (code and description), else from the row alone.
fn request_of(row: &CandidateRow<'_>) -> Option<LookupRef> {
    let id = row.request_id.uuid()?;
    let expanded = row.request.as_ref();
    Some(LookupRef {
        id,
        code: expanded
            .and_then(|r| r.number.text())
            .or_else(|| row.request_number.text())
            .map(Into::into),
        name: expanded.and_then(|r| r.description.text()).map(Into::into),
    })
}

/// One candidate; `detail` adds the person's child collections; personal fields are omitted
/// unless `can_see_pii`.
pub fn map_row(
    row: &CandidateRow<'_>,
    detail: bool,
    can_see_pii: bool,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<Candidate> {
    let [company, position, do_not_hire_reason, veteran_status] =
        resolve_all(row.lookups(), &CANDIDATE_TARGETS, resolved);
    Some(Candidate {
        id: row.id.uuid()?,
        candidate_number: row.candidate_number.text(),
        status: option_cell(&row.status, labels.result, labels.lang),
        company,
        recruiting_request: request_of(row),
        position,
        availability_date: row.availability_date.date(),
        willing_to_relocate: yes_no(&row.willing_to_relocate, labels.noyes),
        comments: row.comments.text(),
        do_not_hire_reason,
        person: row.person.as_ref().and_then(|p| {
            map_person(
                row,
                p,
                veteran_status,
                Shape {
                    detail,
                    can_see_pii,
                },
                labels,
                resolved,
            )
        }),
    })
}

/// What a person shows: child collections (`detail`), personal fields (`can_see_pii`).
#[derive(Clone, Copy)]
struct Shape {
    detail: bool,
    can_see_pii: bool,
}

impl Shape {
    /// Whether the person member `field` is shown.
    fn shows(self, field: &str) -> bool {
        self.can_see_pii || !pii::is_person_pii(field)
    }

    fn pii<T>(self, field: &str, value: Option<T>) -> Pii<T> {
        Pii::new(value, self.shows(field))
    }

    /// A child collection: only in the detail, and only if shown.
    fn collection<T>(self, field: &str, rows: impl FnOnce() -> Vec<T>) -> Option<Vec<T>> {
        (self.detail && self.shows(field)).then(rows)
    }
}

fn map_person(
    cand: &CandidateRow<'_>,
    p: &PersonRow<'_>,
    veteran_status: Option<LookupRef>,
    shape: Shape,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<Person> {
    let lang = labels.lang;
    Some(Person {
        id: p.id.uuid()?,
        party_number: p.party_number.text(),
        name: p.name.text(),
        first_name: p.first_name.text(),
        middle_name: p.middle_name.text(),
        last_name_prefix: p.last_name_prefix.text(),
        last_name: p.last_name.text(),
        known_as: p.known_as.text(),
        language: p.language.text(),
        gender: shape.pii(
            "gender",
            option_cell(&p.gender, labels.gender, lang)
                .or_else(|| option_cell(&cand.gender, labels.gender, lang)),
        ),
        birth_date: shape.pii("birth_date", cand.birth_date.date()),
        marital_status: shape.pii(
            "marital_status",
            option_cell(&p.marital_status, labels.marital, lang),
        ),
        citizenship_country: shape.pii("citizenship_country", cand.citizenship_country.text()),
        veteran_status: shape.pii("veteran_status", veteran_status),
        military_service_start_date: shape.pii(
            "military_service_start_date",
            cand.military_service_start_date.date(),
        ),
        military_service_end_date: shape.pii(
            "military_service_end_date",
            cand.military_service_end_date.date(),
        ),
        disabled_veteran: shape.pii(
            "disabled_veteran",
            yes_no(&cand.disabled_veteran, labels.noyes),
        ),
        primary_email: shape.pii("primary_email", p.primary_email.text()),
        primary_phone: shape.pii("primary_phone", p.primary_phone.text()),
        education: shape.collection("education", || {
            p.education
                .iter()
                .filter_map(|r| map_education(r, labels, resolved))
                .collect()
        }),
        experience: shape.collection("experience", || {
            p.experience
                .iter()
                .filter_map(|r| map_experience(r, labels))
                .collect()
        }),
        addresses: shape.collection("addresses", || {
            p.addresses
                .iter()
                .filter_map(|r| map_address(r, labels))
                .collect()
        }),
        contacts: shape.collection("contacts", || {
            p.contacts
                .iter()
                .filter_map(|r| map_contact(r, labels))
                .collect()
        }),
        skills: shape.collection("skills", || {
            p.skills
                .iter()
                .filter_map(|r| map_skill(r, labels, resolved))
                .collect()
        }),
        certificates: shape.collection("certificates", || {
            p.certificates
                .iter()
                .filter_map(|r| map_certificate(r, resolved))
                .collect()
        }),
        screenings: shape.collection("screenings", || {
            p.screenings
                .iter()
                .filter_map(|r| map_screening(r, labels, resolved))
                .collect()
        }),
        identification_numbers: shape.collection("identification_numbers", || {
            p.identification_numbers
                .iter()
                .filter_map(|r| map_identification(r, labels, resolved))
                .collect()
        }),
    })
}

fn map_education(
    r: &EducationRow<'_>,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<PersonEducation> {
    let [education_level, discipline, institution] =
        resolve_all(r.lookups(), &EDUCATION_TARGETS, resolved);
    Some(PersonEducation {
        id: r.id.uuid()?,
        description: r.description.text(),
        education_level,
        discipline,
        institution,
        secondary_emphasis: r.secondary_emphasis.text(),
        credit_basis: option_cell(&r.credit_basis, labels.credit_basis, labels.lang),
        credits_earned: r.credits_earned.as_f64(),
        start_date: r.start_date.date(),
        end_date: r.end_date.date(),
        grade_point_average: r.grade_point_average.as_f64(),
        grade_scale: r.grade_scale.text(),
        notes: r.notes.text(),
    })
}

fn map_experience(r: &ExperienceRow<'_>, labels: &Labels) -> Option<PersonExperience> {
    Some(PersonExperience {
        id: r.id.uuid()?,
        employer: r.employer.text(),
        position: r.position.text(),
        location: r.location.text(),
        url: r.url.text(),
        start_date: r.start_date.date(),
        end_date: r.end_date.date(),
        allow_contact_employer: option_cell(
            &r.allow_contact_employer,
            labels.blank_yes_no,
            labels.lang,
        ),
        notes: r.notes.text(),
    })
}

fn map_address(r: &AddressRow<'_>, labels: &Labels) -> Option<PersonAddress> {
    Some(PersonAddress {
        id: r.id.uuid()?,
        location_id: r.location_id.text(),
        description: r.description.text(),
        // Roles are `;`-separated (docs/ats-data-model.md#mshr_hcmpersonaddressentity).
        roles: r
            .roles
            .as_str()
            .map(|s| {
                s.split(';')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        street: r.street.text(),
        city: r.city.text(),
        state: r.state.text(),
        county: r.county.text(),
        zip_code: r.zip_code.text(),
        country_region: r.country_region.text(),
        is_primary: yes_no(&r.is_primary, labels.noyes),
        is_private: yes_no(&r.is_private, labels.noyes),
    })
}

fn map_contact(r: &ContactRow<'_>, labels: &Labels) -> Option<PersonContact> {
    Some(PersonContact {
        id: r.id.uuid()?,
        kind: option_cell(&r.kind, labels.contact_type, labels.lang),
        description: r.description.text(),
        locator: r.locator.text(),
        extension: r.extension.text(),
        purpose: r.purpose.text(),
        is_primary: yes_no(&r.is_primary, labels.noyes),
        is_mobile: yes_no(&r.is_mobile, labels.noyes),
        is_private: yes_no(&r.is_private, labels.noyes),
    })
}

fn map_skill(r: &SkillRow<'_>, labels: &Labels, resolved: &Resolved) -> Option<PersonSkill> {
    let [skill, rating_level] = resolve_all(r.lookups(), &SKILL_TARGETS, resolved);
    Some(PersonSkill {
        id: r.id.uuid()?,
        skill,
        level_type: option_cell(&r.level_type, labels.skill_level_type, labels.lang),
        rating_level,
        years_of_experience: r.years_of_experience.as_f64(),
        level_date: r.level_date.date(),
        verified: yes_no(&r.verified, labels.noyes),
    })
}

fn map_certificate(r: &CertificateRow<'_>, resolved: &Resolved) -> Option<PersonCertificate> {
    let [certificate_type] = resolve_all(r.lookups(), &CERTIFICATE_TARGETS, resolved);
    Some(PersonCertificate {
        id: r.id.uuid()?,
        certificate_type,
        start_date: r.start_date.date(),
        end_date: r.end_date.date(),
        notes: r.notes.text(),
    })
}

fn map_screening(
    r: &ScreeningRow<'_>,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<PersonScreening> {
    let [screening_type] = resolve_all(r.lookups(), &SCREENING_TARGETS, resolved);
    Some(PersonScreening {
        id: r.id.uuid()?,
        screening_type,
        status: option_cell(&r.status, labels.completion, labels.lang),
        required_by: r.required_by.date(),
        completed_date: r.completed_date.date(),
        notes: r.notes.text(),
    })
}

fn map_identification(
    r: &IdentificationRow<'_>,
    labels: &Labels,
    resolved: &Resolved,
) -> Option<PersonIdentification> {
    let [identification_type, issuing_agency] =
        resolve_all(r.lookups(), &IDENTIFICATION_TARGETS, resolved);
    Some(PersonIdentification {
        id: r.id.uuid()?,
        identification_type,
        number: r.number.text(),
        issuing_agency,
        issue_date: r.issue_date.date(),
        expiration_date: r.expiration_date.date(),
        is_primary: yes_no(&r.is_primary, labels.noyes),
        description: r.description.text(),
    })
}
