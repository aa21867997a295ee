//! The hire body (`POST /v1/candidates`) as the OpenAPI document describes it: one schema per
//! nested object, with `required`, lengths, collection caps and an example, so a generated client
//! can build a hire. The body is checked by `writes::request` (its field specs are the contract);
//! a test below keeps these schemas equal to those specs. Option-set keys come from the
//! environment's metadata at run time (`/v1/option-sets/{name}`), so they are described, not
//! enumerated.

#![allow(dead_code)] // the types document the body; `writes::request` reads it

use serde::Deserialize;
use utoipa::ToSchema;

/// A hire: the recruiting request, the candidate's own fields and the person.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "recruiting_request": "USMF-000001", "position": "000520",
    "availability_date": "2027-02-01", "willing_to_relocate": true, "comments": "Accepted the offer on 2027-01-10",
    "status": "hired",
    "person": {
        "first_name": "Evelyn", "last_name": "Chambers", "gender": "female", "birth_date": "1990-04-02",
        "citizenship_country": "USA",
        "contacts": [{"type": "email_address", "locator": "evelyn@example.com", "is_primary": true}],
        "addresses": [{"street": "1 Main St", "city": "Seattle", "zip_code": "98052", "country_region": "USA", "roles": ["Home"], "is_primary": true}],
        "education": [{"education_level": "Bachelor", "discipline": "Business Mgmt", "institution": "Cottonwood Univ", "start_date": "2008-09-01", "end_date": "2012-06-01"}],
        "experience": [{"employer": "Fabrikam", "position": "Analyst", "start_date": "2012-07-01", "end_date": "2026-12-31"}],
        "skills": [{"skill": "CustFocus", "rating_level": "4", "years_of_experience": 3}],
        "certificates": [{"certificate_type": "ITIL", "start_date": "2020-05-01"}],
        "screenings": [{"screening_type": "Background", "status": "pass"}],
        "identification_numbers": [{"identification_type": "SSN", "number": "123-45-6789", "issuing_agency": "SSA"}]
    }
}))]
pub struct HireBody {
    /// Recruiting request number (`USMF-000001`) or id; the company follows from it and must be
    /// one of yours. The request must not be canceled, denied or closed.
    #[schema(max_length = 100, example = "USMF-000001")]
    recruiting_request: String,
    /// Position id in the request's company (`/v1/reference/positions`).
    #[schema(max_length = 100, example = "000520")]
    position: Option<String>,
    /// `YYYY-MM-DD`, 1900-01-01 to 2100-12-31.
    #[schema(format = Date, example = "2027-02-01")]
    availability_date: Option<String>,
    willing_to_relocate: Option<bool>,
    /// Free text (line breaks allowed).
    #[schema(max_length = 4000)]
    comments: Option<String>,
    /// Key of `/v1/option-sets/applicant-integration-result` (keys come from the environment's
    /// metadata, e.g. `hired`).
    #[schema(example = "hired")]
    status: Option<String>,
    person: HirePerson,
}

/// The person hired: a new person (external candidate) or an existing one (internal candidate).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum HirePerson {
    New(Box<NewPerson>),
    Existing(ExistingPerson),
}

/// An internal candidate: a person who is already a candidate in one of your companies, named by
/// party number and nothing else (a hire does not edit HR's people).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"party_number": "HR000001002"}))]
pub struct ExistingPerson {
    #[schema(max_length = 100, example = "HR000001002")]
    party_number: String,
}

/// An external candidate: the new person's data and collections. Text fields hold no control
/// characters (line breaks only in notes), bidirectional overrides or zero-width characters;
/// dates are `YYYY-MM-DD` from 1900-01-01 to 2100-12-31.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"first_name": "Evelyn", "last_name": "Chambers", "birth_date": "1990-04-02",
    "contacts": [{"type": "email_address", "locator": "evelyn@example.com", "is_primary": true}]}))]
pub struct NewPerson {
    #[schema(max_length = 255, example = "Evelyn")]
    first_name: String,
    #[schema(max_length = 255)]
    middle_name: Option<String>,
    #[schema(max_length = 255)]
    last_name_prefix: Option<String>,
    #[schema(max_length = 255, example = "Chambers")]
    last_name: String,
    #[schema(max_length = 255)]
    known_as: Option<String>,
    /// Key of `/v1/option-sets/gender` (from the environment's metadata, e.g. `female`).
    gender: Option<String>,
    /// Key of `/v1/option-sets/marital-status` (from the environment's metadata, e.g. `single`).
    marital_status: Option<String>,
    #[schema(format = Date, example = "1990-04-02")]
    birth_date: Option<String>,
    /// Code (or id) from `/v1/reference/country-regions`.
    #[schema(example = "USA")]
    citizenship_country: Option<String>,
    #[schema(max_items = 20)]
    contacts: Option<Vec<HireContact>>,
    #[schema(max_items = 10)]
    addresses: Option<Vec<HireAddress>>,
    #[schema(max_items = 20)]
    education: Option<Vec<HireEducation>>,
    #[schema(max_items = 30)]
    experience: Option<Vec<HireExperience>>,
    #[schema(max_items = 50)]
    skills: Option<Vec<HireSkill>>,
    #[schema(max_items = 30)]
    certificates: Option<Vec<HireCertificate>>,
    #[schema(max_items = 30)]
    screenings: Option<Vec<HireScreening>>,
    #[schema(max_items = 10)]
    identification_numbers: Option<Vec<HireIdentificationNumber>>,
}

/// A phone number, email address, URL or social profile. A primary contact becomes the
/// person's primary contact of its type (`primary_email`, `primary_phone`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "email_address", "locator": "evelyn@example.com", "is_primary": true}))]
pub struct HireContact {
    /// Key of `/v1/option-sets/contact-type` (from the environment's metadata, e.g.
    /// `email_address`, `phone`).
    #[serde(rename = "type")]
    #[schema(example = "email_address")]
    kind: String,
    /// The number or address (an email address for `email_address`).
    #[schema(max_length = 255, example = "evelyn@example.com")]
    locator: String,
    #[schema(max_length = 10)]
    extension: Option<String>,
    #[schema(max_length = 255)]
    description: Option<String>,
    #[schema(max_length = 255)]
    purpose: Option<String>,
    is_primary: Option<bool>,
    is_mobile: Option<bool>,
    is_private: Option<bool>,
}

/// A postal address.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"street": "1 Main St", "city": "Seattle", "zip_code": "98052", "country_region": "USA", "roles": ["Home"], "is_primary": true}))]
pub struct HireAddress {
    #[schema(max_length = 255)]
    description: Option<String>,
    /// Location role names (e.g. `Home`, `Business`), at least one.
    #[schema(min_items = 1, example = json!(["Home"]))]
    roles: Vec<String>,
    #[schema(max_length = 255)]
    street: Option<String>,
    #[schema(max_length = 255)]
    city: Option<String>,
    #[schema(max_length = 255)]
    state: Option<String>,
    #[schema(max_length = 255)]
    county: Option<String>,
    #[schema(max_length = 10)]
    zip_code: Option<String>,
    /// Code (or id) from `/v1/reference/country-regions`.
    country_region: Option<String>,
    is_primary: Option<bool>,
    is_private: Option<bool>,
}

/// An education.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"education_level": "Bachelor", "discipline": "Business Mgmt", "institution": "Cottonwood Univ", "start_date": "2008-09-01", "end_date": "2012-06-01"}))]
pub struct HireEducation {
    /// Code (or id) from `/v1/reference/education-degrees`.
    education_level: Option<String>,
    /// Code (or id) from `/v1/reference/education-disciplines`.
    discipline: String,
    /// Code (or id) from `/v1/reference/education-institutions`.
    institution: Option<String>,
    #[schema(max_length = 255)]
    description: Option<String>,
    #[schema(max_length = 255)]
    secondary_emphasis: Option<String>,
    /// Key of `/v1/option-sets/education-credit-basis` (from the environment's metadata).
    credit_basis: Option<String>,
    #[schema(minimum = 0)]
    credits_earned: Option<f64>,
    #[schema(format = Date)]
    start_date: Option<String>,
    #[schema(format = Date)]
    end_date: Option<String>,
    #[schema(minimum = 0)]
    grade_point_average: Option<f64>,
    #[schema(max_length = 255)]
    grade_scale: Option<String>,
    #[schema(max_length = 4000)]
    notes: Option<String>,
}

/// A former employment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"employer": "Fabrikam", "position": "Analyst", "start_date": "2012-07-01", "end_date": "2026-12-31"}))]
pub struct HireExperience {
    #[schema(max_length = 255)]
    employer: String,
    #[schema(max_length = 255)]
    position: String,
    #[schema(max_length = 60)]
    location: Option<String>,
    #[schema(max_length = 255)]
    url: Option<String>,
    #[schema(format = Date)]
    start_date: String,
    #[schema(format = Date)]
    end_date: Option<String>,
    /// Key of `/v1/option-sets/blank-yes-no` (from the environment's metadata).
    allow_contact_employer: Option<String>,
    #[schema(max_length = 4000)]
    notes: Option<String>,
}

/// A skill with its rating.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"skill": "CustFocus", "rating_level": "4", "years_of_experience": 3}))]
pub struct HireSkill {
    /// Code (or id) from `/v1/reference/skills`.
    skill: String,
    /// Code (or id) from `/v1/reference/rating-levels`.
    rating_level: String,
    #[schema(minimum = 0)]
    years_of_experience: Option<f64>,
    /// Key of `/v1/option-sets/skill-level-type` (from the environment's metadata).
    level_type: Option<String>,
    #[schema(format = Date)]
    level_date: Option<String>,
    verified: Option<bool>,
}

/// A certificate.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"certificate_type": "ITIL", "start_date": "2020-05-01"}))]
pub struct HireCertificate {
    /// Code (or id) from `/v1/reference/certificate-types`.
    certificate_type: String,
    #[schema(format = Date)]
    start_date: String,
    #[schema(format = Date)]
    end_date: Option<String>,
    #[schema(max_length = 4000)]
    notes: Option<String>,
}

/// A screening (background check, drug test…).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"screening_type": "Background", "status": "pass"}))]
pub struct HireScreening {
    /// Code (or id) from `/v1/reference/screening-types`.
    screening_type: String,
    /// Key of `/v1/option-sets/completion-status` (from the environment's metadata, e.g. `pass`).
    status: Option<String>,
    #[schema(format = Date)]
    required_by: Option<String>,
    #[schema(format = Date)]
    completed_date: Option<String>,
    #[schema(max_length = 4000)]
    notes: Option<String>,
}

/// An identification number (social security number, passport…).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"identification_type": "SSN", "number": "123-45-6789", "issuing_agency": "SSA"}))]
pub struct HireIdentificationNumber {
    /// Code (or id) from `/v1/reference/identification-types`.
    identification_type: String,
    #[schema(max_length = 255)]
    number: String,
    /// Code (or id) of an issuing agency.
    issuing_agency: Option<String>,
    #[schema(format = Date)]
    issue_date: Option<String>,
    #[schema(format = Date)]
    expiration_date: Option<String>,
    is_primary: Option<bool>,
    #[schema(max_length = 255)]
    description: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::writes::request::{Field, CANDIDATE_FIELDS, COLLECTIONS, PERSON_FIELDS};

    /// The schema's property names, required names and max items, from the served document.
    fn schema(doc: &Value, name: &str) -> (Vec<String>, Vec<String>) {
        let s = &doc["components"]["schemas"][name];
        let props = s["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has properties"))
            .keys()
            .cloned()
            .collect();
        let required = s["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        (props, required)
    }

    fn spec(fields: &[Field]) -> (Vec<String>, Vec<String>) {
        let names = fields.iter().map(|f| f.name.to_string()).collect();
        let required = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.to_string())
            .collect();
        (names, required)
    }

    fn sorted(mut v: (Vec<String>, Vec<String>)) -> (Vec<String>, Vec<String>) {
        v.0.sort();
        v.1.sort();
        v
    }

    #[test]
    fn the_schemas_are_the_checked_fields() {
        let doc: Value =
            serde_json::from_str(&crate::api::openapi::document_json()).expect("document");
        let items = [
            ("contacts", "HireContact"),
            ("addresses", "HireAddress"),
            ("education", "HireEducation"),
            ("experience", "HireExperience"),
            ("skills", "HireSkill"),
            ("certificates", "HireCertificate"),
            ("screenings", "HireScreening"),
            ("identification_numbers", "HireIdentificationNumber"),
        ];
        for c in COLLECTIONS {
            let (_, name) = items
                .iter()
                .find(|(n, _)| *n == c.name)
                .unwrap_or_else(|| panic!("a schema for {}", c.name));
            assert_eq!(sorted(schema(&doc, name)), sorted(spec(c.fields)), "{name}");
            let prop = &doc["components"]["schemas"]["NewPerson"]["properties"][c.name];
            let max = prop["maxItems"]
                .as_u64()
                .or_else(|| prop["oneOf"][1]["maxItems"].as_u64())
                .or_else(|| {
                    prop["anyOf"]
                        .as_array()
                        .and_then(|a| a.iter().find_map(|s| s["maxItems"].as_u64()))
                });
            assert_eq!(max, Some(c.max_items as u64), "{}: {prop}", c.name);
        }
        let (mut props, mut required) = spec(PERSON_FIELDS);
        props.extend(COLLECTIONS.iter().map(|c| c.name.to_string()));
        required.sort();
        let (got_props, got_required) = sorted(schema(&doc, "NewPerson"));
        props.sort();
        assert_eq!((got_props, got_required), (props, required), "NewPerson");
        let (mut props, _) = spec(CANDIDATE_FIELDS);
        props.extend(["recruiting_request", "position", "person"].map(String::from));
        props.sort();
        assert_eq!(sorted(schema(&doc, "HireBody")).0, props, "HireBody");
        assert_eq!(
            schema(&doc, "ExistingPerson"),
            (vec!["party_number".into()], vec!["party_number".into()])
        );
    }
}
