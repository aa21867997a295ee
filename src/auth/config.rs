//! `[auth]` configuration: the gateway as token issuer, the partner registry (inline and/or a
//! hot-reloadable `partners_file`) and external issuers whose users act as a partner profile.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::auth::scopes::Scope;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `iss` of the tokens the gateway issues.
    pub issuer: String,
    /// `aud` of the tokens the gateway issues (and requires).
    pub audience: String,
    /// Lifetime of issued access tokens.
    pub token_ttl_secs: u64,
    /// Clock-skew allowance for `exp`/`nbf`.
    pub leeway_secs: u64,
    /// PEM P-256 private key (PKCS#8 or SEC1); generated at start when absent (then tokens die
    /// with the process and replicas cannot verify each other's). Re-read on reload: a new key
    /// becomes current; the old one keeps verifying only if `previous_signing_key_files` lists it.
    pub signing_key_file: Option<PathBuf>,
    /// Verify-only keys, published in the JWKS: the previous `signing_key_file` after a rotation,
    /// so restarts and replicas keep accepting tokens it signed. Drop it once they have expired.
    pub previous_signing_key_files: Vec<PathBuf>,
    /// TOML file with `[[partners]]`; re-read on SIGHUP or when its modification time changes.
    /// The file is fixed for the process lifetime; its content is not.
    pub partners_file: Option<PathBuf>,
    /// How often the partners file's modification time is checked.
    pub reload_poll_ms: u64,
    pub partners: Vec<PartnerConfig>,
    pub external_issuers: Vec<ExternalIssuerConfig>,
    /// Token requests that may fail before further ones are refused (429) without a secret check.
    pub failed_attempts: FailedAttemptsConfig,
}

/// Failed client authentications allowed per `client_id` and per source address: a bucket of
/// `per_client` / `per_address` attempts, one regained every `regain_ms`. An attempt takes one
/// before the (costly) secret check and gives it back when the secret was right.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct FailedAttemptsConfig {
    pub per_client: u32,
    pub per_address: u32,
    pub regain_ms: u64,
}

impl Default for FailedAttemptsConfig {
    fn default() -> Self {
        Self {
            per_client: 10,
            per_address: 30,
            regain_ms: 6_000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "ats-gateway".into(),
            audience: "ats-gateway-api".into(),
            token_ttl_secs: 900,
            leeway_secs: 30,
            signing_key_file: None,
            previous_signing_key_files: Vec::new(),
            partners_file: None,
            reload_poll_ms: 2000,
            partners: Vec::new(),
            external_issuers: Vec::new(),
            failed_attempts: FailedAttemptsConfig::default(),
        }
    }
}

/// The shape of `partners_file`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartnersFile {
    pub partners: Vec<PartnerConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    pub client_id: String,
    /// argon2 PHC strings; two may be active during a rotation.
    #[serde(default)]
    pub client_secret_hashes: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Legal entities (`mshr_dataareaid`), e.g. `usmf`; `["*"]` for every company. Required, so a
    /// forgotten list never means "everything".
    #[serde(default)]
    pub companies: Vec<String>,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Browser origins allowed by CORS, e.g. `https://jobs.example.com`.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// A disabled partner keeps its profile but gets no new tokens (`unauthorized_client`).
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: 10,
            burst: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuerConfig {
    /// Exact `iss` value.
    pub issuer: String,
    pub jwks_url: String,
    pub audience: String,
    /// E.g. `["RS256"]`; HS* and `none` are refused at start.
    pub algorithms: Vec<String>,
    /// Claim carrying scopes/roles: a space-separated string or an array.
    #[serde(default = "default_scope_claim")]
    pub scope_claim: String,
    /// Claim whose value selects the partner profile...
    pub partner_claim: String,
    /// ...through this map: claim value → partner id.
    pub partner_map: BTreeMap<String, String>,
    #[serde(default = "default_jwks_ttl")]
    pub jwks_ttl_secs: u64,
    /// An unknown `kid` triggers at most one JWKS refetch per this interval.
    #[serde(default = "default_refresh_interval")]
    pub jwks_refresh_min_interval_secs: u64,
    /// While refreshes fail, the last key set fetched still verifies tokens until it is this old
    /// (counted from that fetch); 0 = never, a failed refresh refuses the issuer's tokens.
    #[serde(default = "default_jwks_stale_max")]
    pub jwks_stale_max_secs: u64,
}

/// The largest `jwks_stale_max_secs` (7 days): an IdP's removed key must not verify for longer.
pub const MAX_JWKS_STALE_SECS: u64 = 7 * 86_400;

/// The largest `auth.token_ttl_secs`: no own token, whichever replica issued it, lives longer.
pub const MAX_TOKEN_TTL_SECS: u64 = 86_400;

fn default_scope_claim() -> String {
    "scp".into()
}
fn default_jwks_ttl() -> u64 {
    3600
}
fn default_refresh_interval() -> u64 {
    60
}
pub(crate) fn default_jwks_stale_max() -> u64 {
    86_400
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("auth configuration key `{key}`: {problem}")]
    Invalid { key: String, problem: String },
}

impl AuthConfigError {
    pub fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl AuthConfig {
    pub fn validate(&self) -> Result<(), AuthConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(AuthConfigError::invalid("auth.issuer", "is required"));
        }
        if self.audience.trim().is_empty() {
            return Err(AuthConfigError::invalid("auth.audience", "is required"));
        }
        if self.token_ttl_secs == 0 || self.token_ttl_secs > MAX_TOKEN_TTL_SECS {
            return Err(AuthConfigError::invalid(
                "auth.token_ttl_secs",
                format!("must be between 1 and {MAX_TOKEN_TTL_SECS}"),
            ));
        }
        if self.leeway_secs > 300 {
            return Err(AuthConfigError::invalid(
                "auth.leeway_secs",
                "must be at most 300",
            ));
        }
        let f = &self.failed_attempts;
        if f.per_client == 0 || f.per_address == 0 || f.regain_ms == 0 {
            return Err(AuthConfigError::invalid(
                "auth.failed_attempts",
                "per_client, per_address and regain_ms must be > 0",
            ));
        }
        for (i, ext) in self.external_issuers.iter().enumerate() {
            if ext.issuer == self.issuer {
                return Err(AuthConfigError::invalid(
                    format!("auth.external_issuers[{i}].issuer"),
                    "must differ from auth.issuer",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_partner_from_toml() {
        let toml = r#"
            [[partners]]
            id = "acme"
            client_id = "acme-client"
            client_secret_hashes = ["$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"]
            scopes = ["reference:read", "pii:read"]
            companies = ["usmf"]
            rate_limit = { per_second = 5, burst = 10 }
        "#;
        let f: PartnersFile = toml::from_str(toml).expect("parse");
        assert_eq!(
            f.partners[0].scopes,
            vec![Scope::ReferenceRead, Scope::PiiRead]
        );
        assert_eq!(f.partners[0].rate_limit.burst, 10);
        let bad = toml.replace("pii:read", "pii:write");
        assert!(toml::from_str::<PartnersFile>(&bad).is_err());
    }

    #[test]
    fn validate_names_the_key() {
        let c = AuthConfig {
            token_ttl_secs: 0,
            ..AuthConfig::default()
        };
        let e = c.validate().expect_err("invalid");
        assert!(e.to_string().contains("auth.token_ttl_secs"));
        assert!(AuthConfig::default().validate().is_ok());
    }
}
