//! Dataverse and F&O errors a write can produce.

use axum::http::StatusCode;

use crate::error::DvError;
use crate::schema::EntityDef;

use super::rules::Rule;

pub(super) fn invalid_property(prop: &str, def: &EntityDef) -> DvError {
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

pub(super) fn lookup_property() -> DvError {
    DvError::new(
        StatusCode::BAD_REQUEST,
        "0x0",
        "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
    )
}

pub(super) fn undeclared_property(def: &EntityDef, name: &str) -> DvError {
    DvError::bad_payload(
        &def.set_name,
        format!(
            "An undeclared property '{name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values."
        ),
    )
}

pub(super) fn picklist_out_of_range() -> DvError {
    DvError::new(
        StatusCode::BAD_REQUEST,
        "0x8004431A",
        "The picklist value is out of the range.",
    )
}

/// An F&O-side failure, rethrown by Dataverse as a plug-in error (docs/dataverse-web-api.md#errors).
pub(super) fn fno_error(def: &EntityDef, text: impl std::fmt::Display) -> DvError {
    DvError::new(
        StatusCode::BAD_REQUEST,
        "0x80040265",
        format!(
            "Write failed for table row of type '{}'. Infolog: Error: {text}",
            def.logical_name
        ),
    )
}

pub(super) fn not_found_key(def: &EntityDef, r: &Rule, value: &str) -> DvError {
    fno_error(
        def,
        format!(
            "The value '{value}' in field '{}' is not found in the relating table '{}'.",
            r.field, r.target
        ),
    )
}
