//! Partner-facing DTOs and the mapping from Dataverse rows. Knows nothing about HTTP.
pub mod recruiting_request;
