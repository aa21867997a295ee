//! The candidate DTOs partners see, and the option sets that render them.

use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::resolve::lang::Lang;
use crate::resolve::lookups::LookupRef;
use crate::resolve::options::{OptionSetInfo, OptionValue};

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

/// A personal field as a partner sees it: omitted (never `null`) without `pii:read`, so "hidden"
/// and "empty" differ (the rule: `pii::FIELDS`).
#[derive(Debug, Clone, PartialEq)]
pub enum Pii<T> {
    Hidden,
    Shown(Option<T>),
}

impl<T> Pii<T> {
    /// `value` when the field may be shown.
    pub fn new(value: Option<T>, shown: bool) -> Self {
        if shown {
            Pii::Shown(value)
        } else {
            Pii::Hidden
        }
    }

    pub fn is_hidden(&self) -> bool {
        matches!(self, Pii::Hidden)
    }
}

impl<T: Serialize> Serialize for Pii<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Skipped by `skip_serializing_if`; `null` only if serialized on its own.
            Pii::Hidden => s.serialize_none(),
            Pii::Shown(v) => v.serialize(s),
        }
    }
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
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<OptionValue>)]
    pub gender: Pii<OptionValue>,
    /// PII. `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub birth_date: Pii<String>,
    /// PII.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<OptionValue>)]
    pub marital_status: Pii<OptionValue>,
    /// PII. Country/region code.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub citizenship_country: Pii<String>,
    /// PII.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<LookupRef>)]
    pub veteran_status: Pii<LookupRef>,
    /// PII.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub military_service_start_date: Pii<String>,
    /// PII.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub military_service_end_date: Pii<String>,
    /// PII.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<bool>)]
    pub disabled_veteran: Pii<bool>,
    /// PII.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub primary_email: Pii<String>,
    /// PII.
    #[serde(skip_serializing_if = "Pii::is_hidden")]
    #[schema(value_type = Option<String>)]
    pub primary_phone: Pii<String>,
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
