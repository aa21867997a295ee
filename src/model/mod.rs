//! Partner-facing DTOs and the mapping from Dataverse rows. Knows nothing about HTTP.
pub mod candidate;
mod json_out;
pub mod pii;
pub mod recruiting_request;
mod row;
#[cfg(test)]
mod test_rows;
