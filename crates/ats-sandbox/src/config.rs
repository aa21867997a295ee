//! Sandbox settings (`[sandbox]` in the config file). Defaults give a working demo environment:
//! one tenant, a secret-authenticated app, a certificate-authenticated app, an HR app that writes
//! every table, and a few apps that exist
//! only to show Entra's errors (expired secret, disabled).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Application user security role: which entity sets it can read / write (`"*"` = all).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleConfig {
    pub read: Vec<String>,
    pub write: Vec<String>,
}

impl Default for RoleConfig {
    fn default() -> Self {
        Self {
            read: vec!["*".into()],
            write: [
                "mshr_hcmcandidatetohireentities",
                "mshr_dirpersonentities",
                "mshr_hcmpersoneducationentities",
                "mshr_hcmpersonprofessionalexperienceentities",
                "mshr_hcmpersonaddressentities",
                "mshr_dirpartycontactentities",
                "mshr_hcmpersonskillentities",
                "mshr_hcmpersoncertificateentities",
                "mshr_hcmpersonscreeningentities",
                "mshr_hcmpersonidentificationnumberentities",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl RoleConfig {
    /// HR's own role: reads and writes every table (recruiting requests included).
    pub fn all() -> Self {
        Self {
            read: vec!["*".into()],
            write: vec!["*".into()],
        }
    }
    pub(crate) fn can_read(&self, set: &str) -> bool {
        self.read.iter().any(|s| s == "*" || s == set)
    }
    pub(crate) fn can_write(&self, set: &str) -> bool {
        self.write.iter().any(|s| s == "*" || s == set)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    pub tenant_id: Uuid,
    pub tenant_domain: String,
    /// The demo app registration (client secret).
    pub client_id: Uuid,
    pub client_secret: String,
    /// A second app that authenticates with the demo certificate.
    pub cert_client_id: Uuid,
    /// An app whose only secret has expired (AADSTS7000222) and a disabled app (AADSTS7000112).
    pub expired_client_id: Uuid,
    pub disabled_client_id: Uuid,
    /// Access token lifetime in seconds (Entra: ~3600; tests use a few seconds).
    pub token_lifetime_secs: u64,
    /// Number of recruiting requests to seed (500 by default; 100000 for benchmarks).
    pub scale: usize,
    /// First option-set integer. Real environments number option sets differently; tests change it.
    pub option_base: i64,
    /// The application user's UI language (1033 en-US or 1044 nb-NO): used for FormattedValue.
    pub language: u32,
    pub role: RoleConfig,
    /// A second app registration acting as HR (people editing requests in D365 HR), so tests and
    /// people can change data the integration app may not write.
    pub hr_client_id: Uuid,
    pub hr_client_secret: String,
    pub hr_role: RoleConfig,
    /// Entity sets whose virtual table was "not generated" in this environment (404).
    pub not_generated: Vec<String>,
    /// App registrations (client ids) Entra issues tokens to but that have no application user in
    /// this environment: Dataverse answers them 403 `0x80072560` ("not a member of the organization").
    pub without_application_user: Vec<Uuid>,
    /// Service protection (docs/dataverse-web-api.md#service-protection).
    pub max_requests_per_window: u64,
    pub window_secs: u64,
    pub max_concurrent: u64,
    /// The parallelism every answer suggests in `x-ms-dop-hint`.
    pub dop_hint: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            tenant_id: Uuid::from_u128(0x7e1d_0c4a_2b6f_4f0e_9a3c_5d8e_1f2a_3b4c),
            tenant_domain: "contoso.onmicrosoft.com".into(),
            client_id: Uuid::from_u128(0x535f_b089_9ff3_47b6_9bfb_4f12_6479_9865),
            // A demo secret for the emulator only; it protects nothing real.
            client_secret: "sandbox-demo-secret~not-for-production".into(),
            cert_client_id: Uuid::from_u128(0x2c6e_1a9b_7d34_4e8f_b1a2_93c4_d5e6_f708),
            expired_client_id: Uuid::from_u128(0x9a1b_2c3d_4e5f_4061_8273_9495_a6b7_c8d9),
            disabled_client_id: Uuid::from_u128(0x0d15_ab1e_0000_4000_8000_0000_0000_0001),
            token_lifetime_secs: 3599,
            scale: 500,
            option_base: 200_000_000,
            language: 1033,
            role: RoleConfig::default(),
            hr_client_id: Uuid::from_u128(0x4b7d_93e2_15a8_4c6f_a0d1_6e2f_8b9c_0a11),
            // Demo-only, like `client_secret`.
            hr_client_secret: "sandbox-hr-secret~not-for-production".into(),
            hr_role: RoleConfig::all(),
            not_generated: Vec::new(),
            without_application_user: Vec::new(),
            max_requests_per_window: 6000,
            window_secs: 300,
            max_concurrent: 52,
            // The concurrency limit itself: a client already under it keeps its own cap.
            dop_hint: 52,
        }
    }
}

impl SandboxConfig {
    /// Checks values a typo could make nonsense of; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if ![1033, 1044].contains(&self.language) {
            return Err(format!(
                "sandbox.language: {} is not provisioned; use 1033 (en-US) or 1044 (nb-NO)",
                self.language
            ));
        }
        if self.scale == 0 || self.scale > 1_000_000 {
            return Err(format!(
                "sandbox.scale: {} must be between 1 and 1000000",
                self.scale
            ));
        }
        if self.max_concurrent == 0 {
            return Err("sandbox.max_concurrent: must be at least 1".into());
        }
        if self.dop_hint == 0 {
            return Err("sandbox.dop_hint: must be at least 1".into());
        }
        if self.window_secs == 0 {
            return Err("sandbox.window_secs: must be at least 1".into());
        }
        if self.client_secret.is_empty() {
            return Err("sandbox.client_secret: must not be empty".into());
        }
        if self.hr_client_secret.is_empty() {
            return Err("sandbox.hr_client_secret: must not be empty".into());
        }
        if self.hr_client_id == self.client_id {
            return Err("sandbox.hr_client_id: must differ from sandbox.client_id".into());
        }
        Ok(())
    }
}
