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
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            token_hashes: Vec::new(),
            poll_ms: 250,
            usage_flush_ms: 5_000,
        }
    }
}
