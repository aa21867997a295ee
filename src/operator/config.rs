//! `[operator]`: who may call the operator API (on the ops listener) and how often replicas look
//! at the shared partner state.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorConfig {
    /// argon2 PHC strings of operator tokens (`ats-gateway operator-token`). Empty: the operator
    /// API answers 401 to everyone.
    pub token_hashes: Vec<String>,
    /// How often each replica reads the shared partner generation (a change is in force on
    /// every replica within this plus one reload).
    pub poll_ms: u64,
    /// How often usage counted in memory is added to the state store.
    pub usage_flush_ms: u64,
    /// An external issuer whose users with `role` in `role_claim` are operators.
    pub jwt: Option<OperatorJwtConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperatorJwtConfig {
    /// Exact `iss`.
    pub issuer: String,
    pub jwks_url: String,
    pub audience: String,
    /// E.g. `["RS256"]`; HS* and `none` are refused at start.
    pub algorithms: Vec<String>,
    /// The claim listing the user's roles (a string or an array).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// The role that makes a user an operator.
    #[serde(default = "default_role")]
    pub role: String,
    /// While refreshes fail, the last key set fetched still verifies tokens until it is this old
    /// (counted from that fetch); 0 = never.
    #[serde(default = "crate::auth::config::default_jwks_stale_max")]
    pub jwks_stale_max_secs: u64,
}

fn default_role_claim() -> String {
    "roles".into()
}

fn default_role() -> String {
    "ats-gateway.operator".into()
}

impl OperatorJwtConfig {
    /// As an external issuer (the partner fields are not used).
    pub fn issuer_config(&self) -> crate::auth::ExternalIssuerConfig {
        crate::auth::ExternalIssuerConfig {
            issuer: self.issuer.clone(),
            jwks_url: self.jwks_url.clone(),
            audience: self.audience.clone(),
            algorithms: self.algorithms.clone(),
            scope_claim: self.role_claim.clone(),
            partner_claim: self.role_claim.clone(),
            partner_map: Default::default(),
            jwks_ttl_secs: 3600,
            jwks_refresh_min_interval_secs: 60,
            jwks_stale_max_secs: self.jwks_stale_max_secs,
        }
    }
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            token_hashes: Vec::new(),
            poll_ms: 250,
            usage_flush_ms: 5_000,
            jwt: None,
        }
    }
}
