//! The partner registry: an immutable snapshot built from config and swapped whole on reload, so a
//! request always sees one consistent registry and reloads never block or drop requests.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::auth::config::{AuthConfigError, PartnerConfig, PartnersFile, RateLimitConfig};
use crate::auth::scopes::Scope;
use crate::auth::secrets;
use crate::store::partners::StoredPartner;

#[derive(Debug, Clone)]
pub struct Partner {
    pub id: String,
    pub display_name: String,
    pub client_id: String,
    /// argon2 PHC strings (never the secrets themselves), with their id and expiry.
    pub secrets: Vec<PartnerSecret>,
    pub scopes: BTreeSet<Scope>,
    /// Empty means every company (config said `["*"]`; an empty config list is refused).
    pub companies: BTreeSet<String>,
    pub rate_limit: RateLimitConfig,
    pub cors_origins: BTreeSet<String>,
    pub disabled: bool,
    /// Where the partner comes from: the config file (read-only to the operator API) or the API.
    pub managed_by: ManagedBy,
    pub contact: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagedBy {
    Config,
    Api,
}

impl ManagedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Config => "config",
            ManagedBy::Api => "api",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PartnerSecret {
    /// The store's id (`None` for a config hash: nothing records its use).
    pub id: Option<String>,
    pub hash: String,
    /// Unix seconds; the secret stops verifying then (a rotation's old secret).
    pub expires_at: Option<i64>,
}

impl Partner {
    /// The stored secret with id `sid` (what an access token names), if it is live at `now`
    /// (unix seconds). Config hashes have no id: the same secret hashed again, as the sandbox does
    /// at every reload, is another PHC string, so their tokens end with the partner or at their
    /// own expiry.
    pub fn live_secret(&self, sid: &str, now: i64) -> Option<&PartnerSecret> {
        self.secrets
            .iter()
            .find(|s| s.expires_at.is_none_or(|e| e > now) && s.id.as_deref() == Some(sid))
    }

    /// The matching live secret, if any. Every live hash is tried so timing does not reveal which.
    pub fn verify_secret(&self, plain: &str) -> Option<&PartnerSecret> {
        let now = chrono::Utc::now().timestamp();
        self.secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
            .fold(None, |found, s| {
                let ok = secrets::verify_secret(plain, &s.hash);
                found.or(ok.then_some(s))
            })
    }
}

#[derive(Debug, Default)]
pub struct Registry {
    by_id: HashMap<String, Arc<Partner>>,
    by_client_id: HashMap<String, Arc<Partner>>,
    /// Which reload this is (set by `SharedRegistry`): what the verified-token cache compares.
    generation: u64,
}

/// The `companies` entry that grants every legal entity.
pub const ALL_COMPANIES: &str = "*";

/// At most this many secrets at once: the old and the new one during a rotation.
const MAX_ACTIVE_SECRETS: usize = 2;

impl Registry {
    pub fn from_config(partners: &[PartnerConfig]) -> Result<Self, AuthConfigError> {
        let mut reg = Registry::default();
        for (i, p) in partners.iter().enumerate() {
            let partner = Arc::new(build_partner(i, p)?);
            if reg.by_id.contains_key(&partner.id) {
                return Err(AuthConfigError::invalid(
                    format!("partners[{i}].id"),
                    format!("duplicate partner id `{}`", partner.id),
                ));
            }
            if reg.by_client_id.contains_key(&partner.client_id) {
                return Err(AuthConfigError::invalid(
                    format!("partners[{i}].client_id"),
                    "duplicate client id",
                ));
            }
            reg.by_client_id
                .insert(partner.client_id.clone(), partner.clone());
            reg.by_id.insert(partner.id.clone(), partner);
        }
        Ok(reg)
    }

    /// This registry (config partners) with the operator API's partners added. A stored partner whose
    /// id or client id a config partner has is left out (config wins) and logged.
    pub fn with_stored(&self, stored: &[Arc<Partner>]) -> Self {
        let mut reg = Registry {
            by_id: self.by_id.clone(),
            by_client_id: self.by_client_id.clone(),
            generation: 0,
        };
        for p in stored {
            if reg.by_id.contains_key(&p.id) || reg.by_client_id.contains_key(&p.client_id) {
                tracing::warn!(partner = %p.id, "a stored partner has the id or client id of a config partner; the config one is in force");
                continue;
            }
            reg.by_client_id.insert(p.client_id.clone(), p.clone());
            reg.by_id.insert(p.id.clone(), p.clone());
        }
        reg
    }

    /// Reads a `partners_file` (TOML with `[[partners]]`).
    pub fn load_file(path: &Path) -> Result<Vec<PartnerConfig>, AuthConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            AuthConfigError::invalid(
                "auth.partners_file",
                format!("cannot read {} ({e})", path.display()),
            )
        })?;
        let file: PartnersFile = toml::from_str(&text).map_err(|e| {
            AuthConfigError::invalid(
                "auth.partners_file",
                format!("{}: {}", path.display(), e.message()),
            )
        })?;
        Ok(file.partners)
    }

    /// Starts at 0 and grows by one with each replacement.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn partner(&self, id: &str) -> Option<&Arc<Partner>> {
        self.by_id.get(id)
    }

    pub fn by_client_id(&self, client_id: &str) -> Option<&Arc<Partner>> {
        self.by_client_id.get(client_id)
    }

    pub fn partners(&self) -> impl Iterator<Item = &Arc<Partner>> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// True when some partner lists `origin` for browser access.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.by_id.values().any(|p| p.cors_origins.contains(origin))
    }
}

fn build_partner(i: usize, p: &PartnerConfig) -> Result<Partner, AuthConfigError> {
    let key = |k: &str| format!("partners[{i}].{k}");
    if p.id.trim().is_empty() {
        return Err(AuthConfigError::invalid(key("id"), "is required"));
    }
    if p.client_id.trim().is_empty() {
        return Err(AuthConfigError::invalid(key("client_id"), "is required"));
    }
    if p.client_secret_hashes.len() > MAX_ACTIVE_SECRETS {
        return Err(AuthConfigError::invalid(
            key("client_secret_hashes"),
            format!("at most {MAX_ACTIVE_SECRETS} secrets may be active"),
        ));
    }
    if let Some(j) = p
        .client_secret_hashes
        .iter()
        .position(|h| !secrets::is_valid_phc(h))
    {
        return Err(AuthConfigError::invalid(
            format!("partners[{i}].client_secret_hashes[{j}]"),
            "is not an argon2 PHC string (create one with `ats-gateway partner-secret`)",
        ));
    }
    let all_companies = p.companies.iter().any(|c| c == ALL_COMPANIES);
    if p.companies.is_empty() || (all_companies && p.companies.len() > 1) {
        return Err(AuthConfigError::invalid(
            key("companies"),
            "list the legal entities (mshr_dataareaid) this partner may see, or [\"*\"] alone for all",
        ));
    }
    if p.rate_limit.per_second == 0 || p.rate_limit.burst == 0 {
        return Err(AuthConfigError::invalid(
            key("rate_limit"),
            "per_second and burst must be at least 1",
        ));
    }
    if let Some(o) = p.cors_origins.iter().find(|o| !is_origin(o)) {
        return Err(AuthConfigError::invalid(
            key("cors_origins"),
            format!("`{o}` is not an origin like https://app.example.com"),
        ));
    }
    Ok(Partner {
        id: p.id.clone(),
        display_name: if p.display_name.is_empty() {
            p.id.clone()
        } else {
            p.display_name.clone()
        },
        client_id: p.client_id.clone(),
        secrets: p
            .client_secret_hashes
            .iter()
            .map(|h| PartnerSecret {
                id: None,
                hash: h.clone(),
                expires_at: None,
            })
            .collect(),
        scopes: p.scopes.iter().copied().collect(),
        companies: if all_companies {
            BTreeSet::new()
        } else {
            p.companies.iter().map(|c| c.to_ascii_lowercase()).collect()
        },
        rate_limit: p.rate_limit,
        cors_origins: p.cors_origins.iter().cloned().collect(),
        disabled: p.disabled,
        managed_by: ManagedBy::Config,
        contact: String::new(),
    })
}

/// A stored partner as the registry holds it, checked as a config one would be.
pub fn from_stored(p: &StoredPartner) -> Result<Partner, AuthConfigError> {
    let d = &p.doc;
    let scopes = d
        .scopes
        .iter()
        .map(|s| s.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AuthConfigError::invalid("scopes", e.to_string()))?;
    let cfg = PartnerConfig {
        id: d.id.clone(),
        display_name: d.name.clone(),
        client_id: d.client_id.clone(),
        client_secret_hashes: Vec::new(),
        scopes,
        companies: d.companies.clone(),
        rate_limit: RateLimitConfig {
            per_second: d.rate_limit.per_second,
            burst: d.rate_limit.burst,
        },
        cors_origins: d.cors_origins.clone(),
        disabled: d.disabled,
    };
    let mut partner = build_partner(0, &cfg)?;
    partner.secrets = p
        .secrets
        .iter()
        .map(|s| PartnerSecret {
            id: Some(s.id.clone()),
            hash: s.hash.clone(),
            expires_at: s.expires_at,
        })
        .collect();
    partner.managed_by = ManagedBy::Api;
    partner.contact = d.contact.clone();
    Ok(partner)
}

/// An origin is scheme://host[:port] with nothing after it (what browsers send in `Origin`).
fn is_origin(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.origin().ascii_serialization() == s
        }
        Err(_) => false,
    }
}

/// The live registry, swapped whole on reload. Readers clone the inner `Arc` under a short read
/// lock and never hold the lock across an await. The generation is mirrored in an atomic so a
/// cached principal can be checked against it without the lock.
#[derive(Debug, Default)]
pub struct SharedRegistry {
    current: RwLock<Arc<Registry>>,
    generation: AtomicU64,
}

impl SharedRegistry {
    pub fn new(mut reg: Registry) -> Self {
        reg.generation = 0;
        Self {
            current: RwLock::new(Arc::new(reg)),
            generation: AtomicU64::new(0),
        }
    }

    pub fn snapshot(&self) -> Arc<Registry> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The generation of the registry in force (that of the next `snapshot`).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn replace(&self, mut reg: Registry) {
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Under the write lock: generations follow the order of the swaps, and a reader that
        // sees the new number takes its snapshot after this swap.
        reg.generation = g.generation + 1;
        let generation = reg.generation;
        *g = Arc::new(reg);
        self.generation.store(generation, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(id: &str, client: &str) -> PartnerConfig {
        PartnerConfig {
            id: id.into(),
            display_name: String::new(),
            client_id: client.into(),
            client_secret_hashes: vec![],
            scopes: vec![Scope::ReferenceRead],
            companies: vec!["USMF".into()],
            rate_limit: RateLimitConfig::default(),
            cors_origins: vec!["https://jobs.example.com".into()],
            disabled: false,
        }
    }

    #[test]
    fn indexes_by_id_and_client_id() {
        let reg = Registry::from_config(&[partner("a", "ca"), partner("b", "cb")]).expect("ok");
        assert_eq!(reg.len(), 2);
        assert_eq!(reg.by_client_id("cb").map(|p| p.id.as_str()), Some("b"));
        let a = reg.partner("a").expect("a");
        assert!(a.companies.contains("usmf"), "companies are lower-cased");
        assert_eq!(a.display_name, "a");
        assert!(reg.origin_allowed("https://jobs.example.com"));
        assert!(!reg.origin_allowed("https://evil.example.com"));
    }

    #[test]
    fn refuses_duplicates_bad_hashes_and_bad_origins() {
        assert!(Registry::from_config(&[partner("a", "c"), partner("b", "c")]).is_err());
        assert!(Registry::from_config(&[partner("a", "c1"), partner("a", "c2")]).is_err());
        let mut p = partner("a", "c");
        p.client_secret_hashes = vec!["plaintext-oops".into()];
        let e = Registry::from_config(&[p]).expect_err("bad hash");
        assert!(e.to_string().contains("client_secret_hashes[0]"));
        let mut p = partner("a", "c");
        p.cors_origins = vec!["https://x.example.com/path".into()];
        assert!(Registry::from_config(&[p]).is_err());
        let mut p = partner("a", "c");
        p.client_secret_hashes = vec![secrets::hash_secret("1"); 3];
        assert!(Registry::from_config(&[p]).is_err());
        // A forgotten company list is refused rather than read as "every company".
        for companies in [vec![], vec!["*".to_string(), "usmf".to_string()]] {
            let mut p = partner("a", "c");
            p.companies = companies;
            let e = Registry::from_config(&[p]).expect_err("companies");
            assert!(e.to_string().contains("partners[0].companies"), "{e}");
        }
        let mut p = partner("a", "c");
        p.companies = vec!["*".into()];
        let reg = Registry::from_config(&[p]).expect("all companies");
        assert!(reg.partner("a").is_some_and(|p| p.companies.is_empty()));
    }

    #[test]
    fn both_rotation_secrets_verify() {
        let (s1, h1) = secrets::create_partner_secret();
        let (s2, h2) = secrets::create_partner_secret();
        let mut p = partner("a", "c");
        p.client_secret_hashes = vec![h1, h2];
        let reg = Registry::from_config(&[p]).expect("ok");
        let a = reg.partner("a").expect("a");
        assert!(a.verify_secret(&s1).is_some());
        assert!(a.verify_secret(&s2).is_some());
        assert!(a.verify_secret("nope").is_none());
    }
}
