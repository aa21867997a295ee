//! Check `token`: a token from Entra for Dataverse, with each AADSTS code explained as a cause and
//! a fix (docs/entra-client-credentials.md#token-errors, "What doctor says").

use super::Check;
use crate::config::DataverseConfig;
use crate::upstream::error::TokenEndpointError;
use crate::upstream::{DataverseClient, UpstreamError};

const NAME: &str = "token";

pub(super) async fn check(client: &DataverseClient, d: &DataverseConfig) -> Check {
    let endpoint = format!(
        "{}/{}/oauth2/v2.0/token",
        d.authority.trim_end_matches('/'),
        d.tenant_id
    );
    let scope = format!("{}/.default", d.org_url.trim_end_matches('/'));
    match client.tokens().token().await {
        Ok(_) => {
            let minutes = client
                .tokens()
                .expires_in()
                .await
                .map(|left| format!(", usable for {} min", left.as_secs() / 60))
                .unwrap_or_default();
            Check::pass(
                NAME,
                format!("Entra issued a token for {scope} to app {}{minutes}", d.client_id),
            )
        }
        Err(UpstreamError::TokenEndpoint(e)) => {
            let (cause, fix) = explain(&e, d);
            Check::fail(NAME, format!("{cause} [{}]", summary(&e)), fix)
        }
        Err(e @ (UpstreamError::Network(_) | UpstreamError::Timeout)) => Check::fail(
            NAME,
            format!("cannot reach the token endpoint {endpoint}: {e}"),
            "Check dataverse.authority (https://login.microsoftonline.com for the public cloud) and that this machine reaches it (DNS, firewall, HTTPS proxy).",
        ),
        Err(e) => Check::fail(
            NAME,
            format!("no token from {endpoint}: {e}"),
            "Check dataverse.authority: it must be the Entra authority host, not a proxy that answers something else.",
        ),
    }
}

/// What Entra said, without trace or correlation ids (kept short; never contains a secret).
fn summary(e: &TokenEndpointError) -> String {
    let mut s = format!("HTTP {} {}", e.status, e.error);
    if !e.summary.is_empty() {
        s.push_str(": ");
        s.push_str(&e.summary);
    }
    s
}

/// A client id as doctor may print it: a GUID (what Entra issues) as is; anything else may be the
/// secret pasted into the wrong key, so it is not shown.
pub(super) fn shown_client_id(id: &str) -> String {
    match uuid::Uuid::parse_str(id) {
        Ok(_) => id.to_string(),
        Err(_) => "(dataverse.client_id, not shown: it is not a GUID; is it the secret?)".into(),
    }
}

/// The cause and the fix for one token-endpoint refusal, in the operator's words.
pub(super) fn explain(e: &TokenEndpointError, d: &DataverseConfig) -> (String, String) {
    let app = &shown_client_id(&d.client_id);
    let tenant = &d.tenant_id;
    let secret_page = "Entra admin center > App registrations > the app > Certificates & secrets";
    let (cause, fix) = match e.aadsts {
        Some(7000215) => (
            format!("Entra refused the client secret of app {app}: it is not a current secret of this app (AADSTS7000215)"),
            format!("Copy the secret's Value (not its Secret ID) from {secret_page} into dataverse.client_secret (or client_secret_file); if the value is lost, create a new secret."),
        ),
        Some(7000222) => (
            format!("the client secret of app {app} has expired (AADSTS7000222)"),
            format!("Create a new client secret ({secret_page} > New client secret), put its Value in dataverse.client_secret and its expiry in dataverse.client_secret_expires_at, then delete the expired one."),
        ),
        Some(7000218) => (
            "no credential was sent (AADSTS7000218)".to_string(),
            "Set dataverse.client_secret (or client_secret_file) or dataverse.certificate_file + private_key_file.".to_string(),
        ),
        Some(700016) => (
            format!("tenant {tenant} has no application with client id {app} (AADSTS700016): a wrong client id, or the app is registered in another tenant"),
            "Copy the Application (client) ID from the app's Overview page into dataverse.client_id, and its Directory (tenant) ID into dataverse.tenant_id.".to_string(),
        ),
        Some(90002) => (
            format!("Entra has no tenant {tenant} (AADSTS90002)"),
            "Set dataverse.tenant_id to the Directory (tenant) ID of the tenant that holds the app and the Dataverse environment (a GUID, or its .onmicrosoft.com domain); check dataverse.authority is the right cloud.".to_string(),
        ),
        Some(900023) => (
            format!("dataverse.tenant_id {tenant:?} is neither a tenant GUID nor a domain (AADSTS900023)"),
            "Set dataverse.tenant_id to the Directory (tenant) ID GUID from the app's Overview page.".to_string(),
        ),
        Some(70011) | Some(1002012) => (
            format!("Entra refused the scope {}/.default (AADSTS{})", d.org_url.trim_end_matches('/'), e.aadsts.unwrap_or_default()),
            "Set dataverse.org_url to the environment URL alone (https://<org>.crm<N>.dynamics.com, no path): the gateway asks for <org_url>/.default.".to_string(),
        ),
        Some(500011) => (
            format!("tenant {tenant} does not know the resource {} (AADSTS500011): the Dataverse environment is in another tenant, or the URL is wrong", d.org_url),
            "Check dataverse.org_url against the environment URL in the Power Platform admin center, and that dataverse.tenant_id is that environment's tenant.".to_string(),
        ),
        Some(7000112) => (
            format!("app {app} is disabled in tenant {tenant} (AADSTS7000112)"),
            "A tenant administrator enables it again: Entra admin center > Enterprise applications > the app > Properties > \"Enabled for users to sign in?\" = Yes (or use another app registration).".to_string(),
        ),
        Some(700027) => (
            format!("Entra refused the certificate assertion of app {app} (AADSTS700027): the certificate is not registered on the app, has expired there, or the key does not match it"),
            format!("Upload the certificate in dataverse.certificate_file ({secret_page} > Certificates > Upload) and check that dataverse.private_key_file is its key; compare the thumbprint in the credential check with the one listed."),
        ),
        Some(700024) => (
            "the client assertion is outside its validity window (AADSTS700024): this machine's clock is off".to_string(),
            "Synchronise the clock (NTP); assertions are valid for five minutes from now.".to_string(),
        ),
        Some(700023) => (
            "the client assertion's audience is not this tenant's token endpoint (AADSTS700023)".to_string(),
            "Check dataverse.authority and dataverse.tenant_id: the assertion is addressed to <authority>/<tenant_id>/oauth2/v2.0/token.".to_string(),
        ),
        // Transient: not the operator's to fix.
        Some(90033) => (
            "the token endpoint is temporarily unavailable (AADSTS90033)".to_string(),
            "A transient Entra outage: run doctor again in a few minutes; the gateway keeps serving with its cached token meanwhile.".to_string(),
        ),
        Some(code) => (
            format!("Entra refused the token request (AADSTS{code}, {})", e.error),
            format!("Look the code up on Microsoft Learn's \"Microsoft Entra authentication and authorization error codes\" page or at https://login.microsoftonline.com/error?code={code}."),
        ),
        None if e.status >= 500 || e.error == "temporarily_unavailable" => (
            format!("the token endpoint is unavailable (HTTP {})", e.status),
            "A transient Entra outage: run doctor again in a few minutes; the gateway keeps serving with its cached token meanwhile.".to_string(),
        ),
        None => (
            format!("the token endpoint answered HTTP {} without an Entra error body", e.status),
            "Check dataverse.authority: it must be the Entra authority host (https://login.microsoftonline.com), not a proxy or another service.".to_string(),
        ),
    };
    (cause, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: Option<u32>, status: u16) -> TokenEndpointError {
        TokenEndpointError {
            status,
            error: "invalid_client".into(),
            aadsts: code,
            summary: String::new(),
        }
    }

    #[test]
    fn every_code_names_itself_and_has_a_fix() {
        let d = DataverseConfig {
            client_id: "app-1".into(),
            tenant_id: "t-1".into(),
            org_url: "https://contoso.crm4.dynamics.com".into(),
            ..Default::default()
        };
        for code in [
            7000215, 7000222, 7000218, 700016, 90002, 900023, 70011, 1002012, 500011, 7000112,
            700027, 700024, 700023, 90033, 12345,
        ] {
            let (cause, fix) = explain(&err(Some(code), 400), &d);
            assert!(cause.contains(&format!("AADSTS{code}")), "{code}: {cause}");
            assert!(!fix.is_empty());
        }
        let (cause, _) = explain(&err(None, 503), &d);
        assert!(cause.contains("unavailable"), "{cause}");
    }
}
