//! The client secrets each app registration holds now. Entra lets an app carry several secrets at
//! once, which is how an operator rotates one (add the new secret, switch the client, delete the old
//! one); `/_sandbox/secrets` adds and deletes them here so tests can do the same.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::config::{AppRegistration, ClientSecret};

/// A secret and how many tokens it got. The value never leaves this module but as its hint.
struct Live {
    secret: ClientSecret,
    issued: Arc<AtomicU64>,
}

/// What `/_sandbox/secrets` shows of a secret: its first three characters (as the portal's "hint").
#[derive(Debug, Serialize)]
pub(crate) struct SecretView {
    pub client_id: Uuid,
    pub hint: String,
    pub expires_at: DateTime<Utc>,
    pub tokens_issued: u64,
}

/// Why a secret check failed.
pub(crate) enum SecretRefusal {
    /// Only expired secrets matched (AADSTS7000222).
    Expired,
    /// None matched (AADSTS7000215).
    Invalid,
}

#[derive(Default)]
pub(crate) struct Secrets {
    by_app: RwLock<HashMap<Uuid, Vec<Live>>>,
}

impl Secrets {
    pub(crate) fn seeded(apps: &[AppRegistration]) -> Self {
        let s = Self::default();
        for app in apps {
            for secret in &app.secrets {
                s.add(app.client_id, secret.clone());
            }
        }
        s
    }

    pub(crate) fn add(&self, client_id: Uuid, secret: ClientSecret) {
        if let Ok(mut m) = self.by_app.write() {
            m.entry(client_id).or_default().push(Live {
                secret,
                issued: Arc::default(),
            });
        }
    }

    /// Deletes the app's secrets equal to `value`; how many were deleted.
    pub(crate) fn remove(&self, client_id: Uuid, value: &str) -> usize {
        let Ok(mut m) = self.by_app.write() else {
            return 0;
        };
        let Some(list) = m.get_mut(&client_id) else {
            return 0;
        };
        let before = list.len();
        list.retain(|l| l.secret.value != value);
        before - list.len()
    }

    pub(crate) fn list(&self) -> Vec<SecretView> {
        let Ok(m) = self.by_app.read() else {
            return Vec::new();
        };
        let mut out: Vec<SecretView> = m
            .iter()
            .flat_map(|(id, list)| {
                list.iter().map(|l| SecretView {
                    client_id: *id,
                    hint: l.secret.value.chars().take(3).collect(),
                    expires_at: l.secret.expires_at,
                    tokens_issued: l.issued.load(Ordering::SeqCst),
                })
            })
            .collect();
        out.sort_by_key(|v| v.client_id);
        out
    }

    /// A matching unexpired secret wins (and is counted); a match only among expired secrets is
    /// `Expired`; otherwise `Invalid`.
    pub(crate) fn check(&self, client_id: Uuid, presented: &str) -> Result<(), SecretRefusal> {
        let now = Utc::now();
        let mut matched_expired = false;
        let Ok(m) = self.by_app.read() else {
            return Err(SecretRefusal::Invalid);
        };
        for l in m.get(&client_id).map(Vec::as_slice).unwrap_or(&[]) {
            if constant_time_eq(l.secret.value.as_bytes(), presented.as_bytes()) {
                if l.secret.expires_at > now {
                    l.issued.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                matched_expired = true;
            }
        }
        Err(if matched_expired {
            SecretRefusal::Expired
        } else {
            SecretRefusal::Invalid
        })
    }
}

/// Compares without an early exit on the first differing byte (length is not hidden; secrets are random).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
