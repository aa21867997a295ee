//! The organization functions a Dataverse client calls on connect (docs/dataverse-web-api.md#organization-functions):
//! `RetrieveVersion()` and `RetrieveCurrentOrganization(AccessType=…)`.

use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use crate::error::DvError;

use super::dataverse::odata_json;
use super::{EmulatorState, API_PREFIX};

/// The version the emulator reports: one a current online environment answers.
pub(super) const VERSION: &str = "9.2.25093.00168";

const ACCESS_TYPES: [&str; 3] = ["Default", "Internet", "Intranet"];
const ENUM_PREFIX: &str = "Microsoft.Dynamics.CRM.EndpointAccessType";

pub(super) fn retrieve_version(st: &EmulatorState) -> Response {
    odata_json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{}{API_PREFIX}/$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse", st.url),
            "Version": VERSION,
        }),
        &[],
    )
}

/// `arg` is what stands after `AccessType=` in the path: the enum literal
/// (`Microsoft.Dynamics.CRM.EndpointAccessType'Default'`) or a parameter alias (`@p`) given in the query.
pub(super) fn retrieve_current_organization(
    st: &EmulatorState,
    arg: &str,
    uri: &Uri,
) -> Result<Response, DvError> {
    let literal = match arg.strip_prefix('@') {
        Some(alias) => form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k.strip_prefix('@') == Some(alias))
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| {
                DvError::bad_query(format!(
                    "The parameter alias '@{alias}' has no value in the query."
                ))
            })?,
        None => arg.to_string(),
    };
    let access = access_type(&literal).ok_or_else(|| {
        DvError::bad_query(format!(
            "The value '{literal}' is not a valid {ENUM_PREFIX} (Default, Internet, Intranet)."
        ))
    })?;
    tracing::debug!(access, "sandbox dataverse: RetrieveCurrentOrganization");
    let ns = st.config.tenant_id;
    // Online environments answer the same endpoints for every access type.
    let url = st.url.trim_end_matches('/');
    let host = url.split_once("://").map_or(url, |(_, h)| h);
    Ok(odata_json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{url}{API_PREFIX}/$metadata#Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse"),
            "Detail": {
                "OrganizationId": Uuid::new_v5(&ns, b"organization").to_string(),
                "FriendlyName": "ATS Sandbox",
                "OrganizationVersion": VERSION,
                "EnvironmentId": Uuid::new_v5(&ns, b"environment").to_string(),
                "DatacenterId": Uuid::new_v5(&ns, b"datacenter").to_string(),
                "Geo": "NA",
                "TenantId": ns.to_string(),
                "UrlName": host,
                "UniqueName": "atssandbox",
                "Endpoints": {
                    "Count": 3,
                    "IsReadOnly": false,
                    "Keys": ["WebApplication", "OrganizationService", "OrganizationDataService"],
                    "Values": [
                        format!("{url}/"),
                        format!("{url}/XRMServices/2011/Organization.svc"),
                        format!("{url}/XRMServices/2011/OrganizationData.svc"),
                    ],
                },
                "State": "Enabled",
                "SchemaType": "Standard",
                "OrganizationType": "Customer",
            },
        }),
        &[],
    ))
}

/// `Microsoft.Dynamics.CRM.EndpointAccessType'Default'`, `'Default'` or the member's number.
fn access_type(literal: &str) -> Option<&'static str> {
    let v = literal.trim();
    let v = v.strip_prefix(ENUM_PREFIX).unwrap_or(v);
    let v = v
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(v);
    if let Ok(n) = v.parse::<usize>() {
        return ACCESS_TYPES.get(n).copied();
    }
    ACCESS_TYPES
        .iter()
        .find(|a| a.eq_ignore_ascii_case(v))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::access_type;

    #[test]
    fn access_type_literals() {
        assert_eq!(
            access_type("Microsoft.Dynamics.CRM.EndpointAccessType'Default'"),
            Some("Default")
        );
        assert_eq!(access_type("'Internet'"), Some("Internet"));
        assert_eq!(access_type("2"), Some("Intranet"));
        assert_eq!(
            access_type("Microsoft.Dynamics.CRM.EndpointAccessType'Other'"),
            None
        );
        assert_eq!(access_type("7"), None);
    }
}
