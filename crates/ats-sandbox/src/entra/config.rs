//! Configuration of the emulated tenant: its identifiers, the Dataverse resource it issues tokens for, and the
//! app registrations (client secrets and certificates) allowed to use the client-credentials grant.

use chrono::{DateTime, Duration, Utc};
use std::fmt;
use uuid::Uuid;

/// A client secret as registered on an app. `Debug` hides the value so it cannot leak into logs.
#[derive(Clone)]
pub(crate) struct ClientSecret {
    pub value: String,
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecret")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An app registration plus its service principal (`object_id` becomes the token's `oid`/`sub`).
#[derive(Debug, Clone)]
pub(crate) struct AppRegistration {
    pub client_id: Uuid,
    pub object_id: Uuid,
    pub secrets: Vec<ClientSecret>,
    /// PEM certificates (public part only) accepted for client assertions.
    pub certificates_pem: Vec<String>,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct EntraConfig {
    pub tenant_id: Uuid,
    /// Verified domain, e.g. `contoso.onmicrosoft.com`; accepted in the path like the tenant GUID.
    pub tenant_domain: String,
    /// Dataverse org URL without trailing slash, e.g. `http://127.0.0.1:8081`; the only resource known.
    pub resource: String,
    /// Access-token lifetime; may be zero or negative in tests to produce already-expired tokens.
    pub token_lifetime: Duration,
    pub apps: Vec<AppRegistration>,
}

impl EntraConfig {
    pub(crate) fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        let id = Uuid::parse_str(client_id).ok()?;
        self.apps.iter().find(|a| a.client_id == id)
    }

    /// Whether `tenant` (from the URL path) names this tenant, by GUID or domain.
    pub(crate) fn is_this_tenant(&self, tenant: &str) -> bool {
        Uuid::parse_str(tenant).is_ok_and(|t| t == self.tenant_id)
            || tenant.eq_ignore_ascii_case(&self.tenant_domain)
    }
}
